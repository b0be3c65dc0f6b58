package engine

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/stratadb/strata/encoding"
)

// Sorted sets are written here through the engine's internals, in the layout the design notes
// give them (members in the score index), so that SORT can be tested before their commands
// exist. The expectations are what redis-server 7.0 answers for the same data.

func writeZSet(tx *Txn, key string, pairs ...any) {
	m := tx.newMeta(encoding.TypeZSet)
	for i := 0; i < len(pairs); i += 2 {
		score, mem := pairs[i].(float64), []byte(pairs[i+1].(string))
		tx.set(encoding.AppendScoreKey(nil, tx.db, []byte(key), m.Version, score, mem), nil)
		tx.set(encoding.AppendSubKey(nil, tx.db, []byte(key), m.Version, mem), binary.BigEndian.AppendUint64(nil, 0))
	}
	// A rank bucket of the sorted-set layout sits after every real score: not a member.
	bucket := append(encoding.AppendScorePrefix(nil, tx.db, []byte(key), m.Version), 0xFF, 0xFF, 'b')
	tx.set(bucket, []byte{0, 0, 0, 5})
	m.Count = uint64(len(pairs) / 2)
	ks, _ := tx.lookup([]byte(key))
	tx.putMeta([]byte(key), &ks, &m)
}

// sortText runs SORT and renders the result as Redis would list it ("nil" for a null).
func sortText(t *testing.T, tx *Txn, key string, a SortArgs) string {
	t.Helper()
	vals, n, err := tx.Sort([]byte(key), a)
	if err != nil {
		return "error: " + err.Error()
	}
	if a.Store != nil {
		return fmt.Sprint(n)
	}
	var parts []string
	for _, v := range vals {
		if v.OK {
			parts = append(parts, string(v.V))
		} else {
			parts = append(parts, "nil")
		}
	}
	return strings.Join(parts, " ")
}

func TestSortSetsZSetsHashes(t *testing.T) {
	e := openTestEngine(t)
	inTxn(t, e, 0, func(tx *Txn) error {
		if _, err := tx.SAdd([]byte("s"), toBytes([]string{"10", "9", "100", "-1"})); err != nil {
			return err
		}
		writeZSet(tx, "z", 3.0, "a", 1.0, "b", 2.0, "c", 2.0, "bb", 5.0, "d")
		for k, fv := range map[string][]string{"h_a": {"f", "3", "g", "x"}, "h_b": {"f", "1", "e", ""}, "h_c": {"f", "2", "g", "y"}} {
			if _, err := tx.HSet([]byte(k), toBytes(fv)); err != nil {
				return err
			}
		}
		_, err := tx.Set([]byte("h_d"), []byte("notahash"), SetArgs{})
		return err
	})
	g := func(pats ...string) [][]byte { return toBytes(pats) }
	cases := []struct {
		key  string
		a    SortArgs
		want string
	}{
		{"s", SortArgs{Count: -1}, "-1 9 10 100"},
		{"s", SortArgs{Count: -1, Alpha: true}, "-1 10 100 9"},
		{"s", SortArgs{Count: -1, Desc: true}, "100 10 9 -1"},
		{"z", SortArgs{Count: -1, NoSort: true, By: []byte("nosort")}, "b bb c a d"},
		{"z", SortArgs{Count: -1, NoSort: true, By: []byte("nosort"), Desc: true}, "d a c bb b"},
		{"z", SortArgs{Offset: 1, Count: 2, NoSort: true, By: []byte("nosort")}, "bb c"},
		{"z", SortArgs{Offset: 1, Count: 2, NoSort: true, By: []byte("nosort"), Desc: true}, "a c"},
		{"z", SortArgs{Offset: 4, Count: 5, NoSort: true, By: []byte("nosort")}, "d"},
		{"z", SortArgs{Offset: 9, Count: 5, NoSort: true, By: []byte("nosort")}, ""},
		{"z", SortArgs{Count: -1, Alpha: true}, "a b bb c d"},
		{"z", SortArgs{Count: -1}, "error: " + ErrSortScores.Error()},
		{"z", SortArgs{Count: -1, By: []byte("h_*->f"), Gets: g("#", "h_*->g")}, "bb nil d nil b nil c y a x"},
		{"z", SortArgs{Count: -1, By: []byte("h_*->g"), Alpha: true, Gets: g("h_*->g")}, "nil nil nil x y"},
		{"z", SortArgs{Count: -1, Alpha: true, Gets: g("h_*->e", "h_*", "h_*->")}, "nil nil nil  nil nil nil nil nil nil nil nil nil notahash nil"},
	}
	for _, c := range cases {
		inTxn(t, e, 0, func(tx *Txn) error {
			if got := sortText(t, tx, c.key, c.a); got != c.want {
				t.Errorf("SORT %s %+v = %q, want %q", c.key, c.a, got, c.want)
			}
			return nil
		})
	}

	// STORE of a set without sorting sorts it by ALPHA, so that the stored order does not
	// depend on the layout.
	inTxn(t, e, 0, func(tx *Txn) error {
		got := sortText(t, tx, "s", SortArgs{Count: -1, NoSort: true, By: []byte("nosort"), Store: []byte("d")})
		if got != "4" {
			t.Errorf("SORT s BY nosort STORE d = %s, want 4", got)
		}
		return nil
	})
	checkList(t, e, "d", listModel{"-1", "10", "100", "9"}, "stored set")
}

func TestParseSortScore(t *testing.T) {
	for in, want := range map[string]any{
		"": 0.0, "3": 3.0, " 7": 7.0, "-2.5e3": -2500.0, "0x10": 16.0, "inf": "inf", "1e-300": 1e-300,
		"1\x00junk": 1.0, "   ": false, "2 ": false, "nan": false, "1e400": false, "1e-310": false,
		"1e-400": false, "0e-400": 0.0, "abc": false, "1_0": false, "0x": false,
	} {
		f, ok := parseSortScore([]byte(in))
		switch w := want.(type) {
		case bool:
			if ok {
				t.Errorf("parseSortScore(%q) = %v, want an error", in, f)
			}
		case string:
			if !ok || fmt.Sprint(f) != "+Inf" {
				t.Errorf("parseSortScore(%q) = %v %v, want +Inf", in, f, ok)
			}
		case float64:
			if !ok || f != w {
				t.Errorf("parseSortScore(%q) = %v %v, want %v", in, f, ok, w)
			}
		}
	}
}
