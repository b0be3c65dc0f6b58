package engine

import (
	"bytes"
	"math"
	"strconv"
)

// Sorted-set arguments are read the way Redis 7.0 reads them: scores with getDoubleFromObject
// (C's strtod on the whole argument, no leading space, no NaN, no overflow or underflow to
// zero), range bounds with zslParseRange (strtod up to the first NUL, leading spaces allowed,
// overflow to inf accepted, no NaN) and lex bounds with zslParseLexRangeItem.

// cstrtod reads b as glibc's strtod reads a C string: it stops at the first NUL byte and
// returns the value, how many bytes it consumed (0 when nothing converts) and whether the
// conversion overflowed or underflowed to zero (ERANGE with HUGE_VAL or 0).
func cstrtod(b []byte) (v float64, n int, erange bool) {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	i := 0
	for i < len(b) && isCSpace(b[i]) {
		i++
	}
	start := i
	neg := false
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		neg = b[i] == '-'
		i++
	}
	rest := b[i:]
	switch {
	case hasFoldPrefix(rest, "infinity"):
		return signed(math.Inf(1), neg), i + 8, false
	case hasFoldPrefix(rest, "inf"):
		return signed(math.Inf(1), neg), i + 3, false
	case hasFoldPrefix(rest, "nan"):
		j := i + 3
		if j < len(b) && b[j] == '(' {
			k := j + 1
			for k < len(b) && (isAlnum(b[k]) || b[k] == '_') {
				k++
			}
			if k < len(b) && b[k] == ')' {
				j = k + 1
			}
		}
		return math.NaN(), j, false
	}
	if len(rest) >= 2 && rest[0] == '0' && (rest[1] == 'x' || rest[1] == 'X') {
		if f, m, er, ok := hexStrtod(b[i+2:], neg); ok {
			return f, i + 2 + m, er
		}
		// "0x" without hex digits converts the "0" alone.
		return signed(0, neg), i + 1, false
	}
	j, digits, nonzero := mantissa(b, i, isDigit)
	if digits == 0 {
		return 0, 0, false
	}
	j = exponentEnd(b, j, 'e')
	f, err := strconv.ParseFloat(string(b[start:j]), 64)
	if err != nil && !math.IsInf(f, 0) {
		return 0, 0, false
	}
	return f, j, math.IsInf(f, 0) || (f == 0 && nonzero)
}

// exponentEnd returns where an exponent starting at b[j] ends: the marker (mark, either case),
// an optional sign and at least one decimal digit; j itself when there is no such exponent.
func exponentEnd(b []byte, j int, mark byte) int {
	if j >= len(b) || b[j]|0x20 != mark {
		return j
	}
	k := j + 1
	if k < len(b) && (b[k] == '+' || b[k] == '-') {
		k++
	}
	if k >= len(b) || !isDigit(b[k]) {
		return j
	}
	for k < len(b) && isDigit(b[k]) {
		k++
	}
	return k
}

// hexStrtod converts the hexadecimal float after "0x": digits, an optional fraction and an
// optional binary exponent. ok is false when no hex digit follows.
func hexStrtod(b []byte, neg bool) (f float64, n int, erange, ok bool) {
	j, digits, nonzero := mantissa(b, 0, isHexDigit)
	if digits == 0 {
		return 0, 0, false, false
	}
	mant := string(b[:j])
	exp := "p0"
	if k := exponentEnd(b, j, 'p'); k > j {
		exp = string(b[j:k])
		j = k
	}
	s := "0x" + mant + exp
	if neg {
		s = "-" + s
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !math.IsInf(f, 0) {
		// An exponent too long for Go is beyond any double either way.
		f = signed(math.Inf(1), neg)
		if exp[1] == '-' {
			f = signed(0, neg)
		}
	}
	return f, j, math.IsInf(f, 0) || (f == 0 && nonzero), true
}

// mantissa reads digits (as digit says), an optional '.' and more digits from b[i:], as
// strtod does: it returns where they end, how many digits there were and whether one is not 0.
// A '.' without any digit around it is not part of the number.
func mantissa(b []byte, i int, digit func(byte) bool) (end, digits int, nonzero bool) {
	j := i
	for ; j < len(b) && digit(b[j]); j++ {
		nonzero = nonzero || b[j] != '0'
		digits++
	}
	if j < len(b) && b[j] == '.' {
		k := j + 1
		for ; k < len(b) && digit(b[k]); k++ {
			nonzero = nonzero || b[k] != '0'
			digits++
		}
		if digits > 0 {
			j = k
		}
	}
	return j, digits, nonzero
}

func signed(f float64, neg bool) float64 {
	if neg {
		return -f
	}
	return f
}

func isCSpace(c byte) bool { return c == ' ' || (c >= '\t' && c <= '\r') }

func hasFoldPrefix(b []byte, p string) bool {
	if len(b) < len(p) {
		return false
	}
	for i := 0; i < len(p); i++ {
		if b[i]|0x20 != p[i] {
			return false
		}
	}
	return true
}

// ParseFloat reads b as Redis's getDoubleFromObject does (scores, increments, weights,
// coordinates): the whole argument must convert, without leading space, NaN, or a value that
// overflows or underflows to zero.
func ParseFloat(b []byte) (float64, bool) {
	if len(b) == 0 || isCSpace(b[0]) {
		return 0, false
	}
	f, n, erange := cstrtod(b)
	if n != len(b) || erange || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// ScoreRange is a ZRANGEBYSCORE-style interval.
type ScoreRange struct {
	Min, Max     float64
	MinEx, MaxEx bool
}

// Empty says whether no score can be in r (zslIsInRange's first test).
func (r ScoreRange) Empty() bool {
	return r.Min > r.Max || (r.Min == r.Max && (r.MinEx || r.MaxEx))
}

func (r ScoreRange) gteMin(v float64) bool {
	if r.MinEx {
		return v > r.Min
	}
	return v >= r.Min
}

func (r ScoreRange) lteMax(v float64) bool {
	if r.MaxEx {
		return v < r.Max
	}
	return v <= r.Max
}

// ParseScoreRange reads min and max as zslParseRange does; ErrMinMaxFloat when either is bad.
func ParseScoreRange(min, max []byte) (ScoreRange, error) {
	var r ScoreRange
	var ok bool
	if r.Min, r.MinEx, ok = parseScoreBound(min); !ok {
		return r, ErrMinMaxFloat
	}
	if r.Max, r.MaxEx, ok = parseScoreBound(max); !ok {
		return r, ErrMinMaxFloat
	}
	return r, nil
}

// parseScoreBound is strtod on the argument (after an optional '('), which must stop at the
// end of the argument or at a NUL byte. An empty bound reads as 0, as strtod leaves it.
func parseScoreBound(b []byte) (f float64, ex, ok bool) {
	if len(b) > 0 && b[0] == '(' {
		b = b[1:]
		ex = true
	}
	f, n, _ := cstrtod(b)
	if n < len(b) && b[n] != 0 {
		return 0, false, false
	}
	if math.IsNaN(f) {
		return 0, false, false
	}
	return f, ex, true
}

// Lex bound kinds: '-' and '+' are below and above every member.
const (
	lexValue = iota
	lexMinusInf
	lexPlusInf
)

// LexBound is one end of a ZRANGEBYLEX interval.
type LexBound struct {
	kind  uint8
	Ex    bool
	Value []byte
}

// LexRange is a ZRANGEBYLEX-style interval.
type LexRange struct{ Min, Max LexBound }

// cmpLex compares a member with a bound as Redis's sdscmplex does.
func cmpLex(v []byte, b LexBound) int {
	switch b.kind {
	case lexMinusInf:
		return 1
	case lexPlusInf:
		return -1
	}
	return bytes.Compare(v, b.Value)
}

func (r LexRange) gteMin(v []byte) bool {
	c := cmpLex(v, r.Min)
	return c > 0 || (c == 0 && !r.Min.Ex)
}

func (r LexRange) lteMax(v []byte) bool {
	c := cmpLex(v, r.Max)
	return c < 0 || (c == 0 && !r.Max.Ex)
}

// Empty says whether no member can be in r.
func (r LexRange) Empty() bool {
	var c int
	switch {
	case r.Min.kind == r.Max.kind && r.Min.kind != lexValue:
		c = 0
	case r.Min.kind == lexMinusInf || r.Max.kind == lexPlusInf:
		c = -1
	case r.Min.kind == lexPlusInf || r.Max.kind == lexMinusInf:
		c = 1
	default:
		c = bytes.Compare(r.Min.Value, r.Max.Value)
	}
	return c > 0 || (c == 0 && (r.Min.Ex || r.Max.Ex))
}

// ParseLexRange reads min and max as zslParseLexRange does; ErrMinMaxLex when either is bad.
func ParseLexRange(min, max []byte) (LexRange, error) {
	var r LexRange
	var ok bool
	if r.Min, ok = parseLexBound(min); !ok {
		return r, ErrMinMaxLex
	}
	if r.Max, ok = parseLexBound(max); !ok {
		return r, ErrMinMaxLex
	}
	return r, nil
}

func parseLexBound(b []byte) (LexBound, bool) {
	if len(b) == 0 {
		return LexBound{}, false
	}
	switch b[0] {
	case '+', '-':
		// Redis tests the byte after the sign against the C string's terminator.
		if len(b) > 1 && b[1] != 0 {
			return LexBound{}, false
		}
		if b[0] == '+' {
			return LexBound{kind: lexPlusInf, Ex: true}, true
		}
		return LexBound{kind: lexMinusInf, Ex: true}, true
	case '(':
		return LexBound{Ex: true, Value: b[1:]}, true
	case '[':
		return LexBound{Value: b[1:]}, true
	}
	return LexBound{}, false
}
