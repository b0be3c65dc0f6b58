package engine

import (
	"testing"
)

// TestHIncrByFloatLikeRedis runs HINCRBYFLOAT from a starting value ("" = no field) and checks
// the result or error against what redis-server 7.0.15 answered for the same input.
func TestHIncrByFloatLikeRedis(t *testing.T) {
	e := openTestEngine(t)
	for i, c := range []struct{ start, incr, want, err string }{
		{"", "1.5", "1.5", ""},
		{"0.1", "0.2", "0.3", ""},
		{"", "3.0e3", "3000", ""},
		{"10.50", "-10.5", "0", ""},
		{"", "0x10", "16", ""},
		{"", "0x1.8p1", "3", ""},
		{"", "1e400", "10000000000000000000281880683947586514586453433629052038625910693539685534008629862039363994848324160522094053927317616200295822777259255734023828976593340661017797447434546173917862448116674971723778943824391593338047470675026246684401359237513603830343735485505244955964979021825038280091068414947402456898653040951017512658092615827588920183472511643316591362664138176309734806343732497430221946880", ""},
		{"1e4932", "1e4932", "", "ERR increment would produce NaN or Infinity"},
		{"", "1e4933", "", "ERR value is not a valid float"},
		{"", "1e-5000", "", "ERR value is not a valid float"},
		{"16", "1e-4940", "16", ""},
		{"", "1e-4940", "0", ""},
		{"", "0e99999", "0", ""},
		{"", "-1e-20", "0", ""},
		{"", "0.000003814697265625", "0.00000381469726562", ""},
		{"", "1.7976931348623157e308", "179769313486231569995921046774104434048386446944329178485314420765176628523124396354701868608387085564428793419425520689308708363451136055357897278026477617073498977686288394835618163294045594434929537447290627480669417384648879122776218333598953852832103282504751611691208117720159985926376802466863339536384", ""},
		{"", "123456789012345678901234567890", "123456789012345678899921813504", ""},
		{"", ".5", "0.5", ""},
		{"", "5.", "5", ""},
		{"", "-0", "0", ""},
		{"", "+7", "7", ""},
		{"", "nan", "", "ERR value is not a valid float"},
		{"", "abc", "", "ERR value is not a valid float"},
		{"", " 1", "", "ERR value is not a valid float"},
		{"", "1 ", "", "ERR value is not a valid float"},
		{"", "1e", "", "ERR value is not a valid float"},
		{"", "0x", "", "ERR value is not a valid float"},
		{"", "1_000", "", "ERR value is not a valid float"},
		{"", "0b101", "", "ERR value is not a valid float"},
		{"", "1\x00", "", "ERR value is not a valid float"},
		{"9223372036854775807", "1", "9223372036854775808", ""},
		{"notanumber", "1", "", "ERR hash value is not a float"},
		{"inf", "1", "", "ERR increment would produce NaN or Infinity"},
		{"nan", "1", "", "ERR hash value is not a float"},
		{"0x20", "1", "33", ""},
		{" 2", "1", "", "ERR hash value is not a float"},
		{"42", "0.5", "42.5", ""},
		{"0.1", "0.7", "0.8", ""},
		{"1", "1e-17", "1.00000000000000001", ""},
		{"1", "1e-18", "1", ""},
		{"-5", "2.25", "-2.75", ""},
		{"3.14159265358979323846", "0", "3.14159265358979324", ""},
		{"1e20", "1", "100000000000000000000", ""},
		{"", "0X1P3", "8", ""},
		{"", "INFINITY", "", "ERR value is NaN or Infinity"},
		{"", "1e-4951", "", "ERR value is not a valid float"},
		{"", "-3.6e-4951", "0", ""},
		{"2.5", "-2.5", "0", ""},
		{"", "0.1e1", "1", ""},
		{"", "1E5", "100000", ""},
	} {
		key := []byte("k" + string(rune('a'+i)))
		var got, gotErr string
		inTxn(t, e, 0, func(tx *Txn) error {
			if c.start != "" {
				if _, err := tx.HSet(key, bs("f", c.start)); err != nil {
					return err
				}
			}
			// As the HINCRBYFLOAT handler checks its argument before the key.
			incr, ok := ParseLongDouble([]byte(c.incr))
			switch {
			case !ok:
				gotErr = ErrNotFloat.Error()
			case incr.IsInf():
				gotErr = ErrNaNOrInfArg.Error()
			default:
				v, err := tx.HIncrByFloat(key, []byte("f"), incr)
				if err != nil {
					gotErr = err.Error()
				}
				got = string(v)
			}
			return nil
		})
		if got != c.want || gotErr != c.err {
			t.Errorf("%q + %q: got %q %q, want %q %q", c.start, c.incr, got, gotErr, c.want, c.err)
		}
	}
}
