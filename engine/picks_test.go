package engine

import (
	"fmt"
	"strconv"
	"testing"
)

// fillSet adds n members named by shape (a fmt verb for an int) to key, returning them.
func fillSet(t *testing.T, e *Engine, key []byte, n int, shape string) [][]byte {
	t.Helper()
	ms := make([][]byte, 0, n)
	for i := 1; i <= n; i++ {
		ms = append(ms, []byte(fmt.Sprintf(shape, i*7919%100003)))
	}
	inTxn(t, e, 0, func(tx *Txn) error {
		_, err := tx.SAdd(key, ms)
		return err
	})
	return ms
}

// TestRandomPickDistribution draws single members of sets too big to be read whole (the walk)
// and of small ones (exact ranks), and checks the draws look uniform: every draw a member,
// nearly every member drawn, and a chi-square per degree of freedom near 1. Measured with
// 2000 members and 20000 draws: member:%07d 1.04, %d 0.96, user-%d-x 1.07; shapes whose
// branches are lopsided fare worse: %08x of the same numbers (one digit splits them 65/35
// between two branches) 3.6, %x (whose first digit splits 4- and 5-digit ids unevenly) 7.4.
func TestRandomPickDistribution(t *testing.T) {
	e := openTestEngine(t)
	for _, c := range []struct {
		shape    string
		n, draws int
	}{
		{"member:%07d", 1000, 10000}, // walks
		{"%d", 1000, 10000},          // walks over ids of several lengths
		{"m%d", 100, 5000},           // small: exact ranks
	} {
		key := []byte("set:" + c.shape)
		ms := fillSet(t, e, key, c.n, c.shape)
		counts := map[string]int{}
		readTxn(t, e, key, func(tx *Txn) error {
			for i := 0; i < c.draws; i++ {
				m, ok, err := tx.SRandMember(key)
				if err != nil || !ok {
					return fmt.Errorf("SRANDMEMBER: %v %v", ok, err)
				}
				counts[string(m)]++
			}
			return nil
		})
		expected := float64(c.draws) / float64(c.n)
		chi := 0.0
		for _, m := range ms {
			d := float64(counts[string(m)]) - expected
			chi += d * d / expected
		}
		chi /= float64(c.n)
		if len(counts) > c.n {
			t.Errorf("%s: drew %d distinct values from %d members", c.shape, len(counts), c.n)
		}
		if len(counts) < c.n*95/100 || chi > 2 {
			t.Errorf("%s: drew %d of %d members, chi2/df %.2f", c.shape, len(counts), c.n, chi)
		}
	}
}

// TestRandomCounts checks HRANDFIELD/SRANDMEMBER with counts on both paths (ranks and walks):
// distinct members for a positive count, repeats allowed for a negative one, the whole
// collection for a count at least its size, and values that belong to their fields.
func TestRandomCounts(t *testing.T) {
	e := openTestEngine(t)
	key := []byte("s")
	ms := fillSet(t, e, key, 3000, "member:%07d")
	members := map[string]bool{}
	for _, m := range ms {
		members[string(m)] = true
	}
	for _, count := range []int64{1, 2, 5, 11, 200, 999, 2999, 3000, 5000, -1, -7, -5000} {
		var announced int
		var got []string
		readTxn(t, e, key, func(tx *Txn) error {
			return tx.SRandMemberCount(key, count, func(n int) { announced = n }, func(m []byte) {
				got = append(got, string(m))
			})
		})
		want := int(count)
		if count < 0 {
			want = int(-count)
		} else if want > len(ms) {
			want = len(ms)
		}
		if announced != want || len(got) != want {
			t.Errorf("count %d: announced %d, got %d, want %d", count, announced, len(got), want)
		}
		seen := map[string]bool{}
		for _, m := range got {
			if !members[m] {
				t.Errorf("count %d: %q is not a member", count, m)
			}
			if count > 0 && seen[m] {
				t.Errorf("count %d: %q returned twice", count, m)
			}
			seen[m] = true
		}
	}
	h := []byte("h")
	inTxn(t, e, 0, func(tx *Txn) error {
		var pairs [][]byte
		for i := 0; i < 500; i++ {
			f := strconv.Itoa(i)
			pairs = append(pairs, []byte(f), []byte("v"+f))
		}
		_, err := tx.HSet(h, pairs)
		return err
	})
	for _, count := range []int64{1, 3, 100, 499, 500, 600, -3, -700} {
		n := 0
		readTxn(t, e, h, func(tx *Txn) error {
			return tx.HRandFieldCount(h, count, func(int) {}, func(f, v []byte) {
				n++
				if string(v) != "v"+string(f) {
					t.Errorf("count %d: field %q came with value %q", count, f, v)
				}
			})
		})
		if want := min(max(count, -count), 500); count > 0 && int64(n) != want || count < 0 && int64(n) != -count {
			t.Errorf("count %d: %d fields", count, n)
		}
	}
}

// TestScanCursor checks SSCAN's cursors: a full iteration returns every member once; members
// present for the whole iteration are returned even while others come and go; an unknown
// cursor, or one from another key, starts over.
func TestScanCursor(t *testing.T) {
	e := openTestEngine(t)
	key := []byte("s")
	ms := fillSet(t, e, key, 2000, "m%06d")
	scanAll := func(key []byte, between func(call int)) (map[string]int, int) {
		seen := map[string]int{}
		cursor, calls := uint64(0), 0
		for {
			readTxn(t, e, key, func(tx *Txn) error {
				var err error
				cursor, err = tx.SScan(key, cursor, nil, 100, func(m []byte) { seen[string(m)]++ })
				return err
			})
			calls++
			if cursor == 0 {
				return seen, calls
			}
			if between != nil {
				between(calls)
			}
		}
	}
	seen, calls := scanAll(key, nil)
	if len(seen) != len(ms) || calls != 20 {
		t.Errorf("full scan: %d members in %d calls", len(seen), calls)
	}
	for m, n := range seen {
		if n != 1 {
			t.Errorf("member %q returned %d times", m, n)
		}
	}
	// Churn during the scan: remove and add members that are not part of the original set.
	seen, _ = scanAll(key, func(call int) {
		inTxn(t, e, 0, func(tx *Txn) error {
			if _, err := tx.SAdd(key, bs(fmt.Sprintf("a%03d", call), fmt.Sprintf("z%03d", call))); err != nil {
				return err
			}
			_, err := tx.SRem(key, bs(fmt.Sprintf("z%03d", call-1)))
			return err
		})
	})
	for _, m := range ms {
		if seen[string(m)] == 0 {
			t.Errorf("member %q was skipped during churn", m)
		}
	}
	// Unknown cursors restart.
	readTxn(t, e, key, func(tx *Txn) error {
		n := 0
		var first []byte
		_, err := tx.SScan(key, 987654321, nil, 5, func(m []byte) {
			if n == 0 {
				first = append([]byte(nil), m...)
			}
			n++
		})
		if err == nil && (n != 5 || string(first) != "a001") {
			err = fmt.Errorf("unknown cursor: %d members from %q", n, first)
		}
		return err
	})
	other := []byte("other")
	fillSet(t, e, other, 1000, "o%06d")
	var cur uint64
	readTxn(t, e, key, func(tx *Txn) error {
		var err error
		cur, err = tx.SScan(key, 0, nil, 1500, func([]byte) {})
		return err
	})
	readTxn(t, e, other, func(tx *Txn) error {
		n := 0
		_, err := tx.SScan(other, cur, nil, 2000, func([]byte) { n++ })
		if err == nil && n != 1000 {
			err = fmt.Errorf("another key's cursor returned %d of 1000 members", n)
		}
		return err
	})
	// MATCH filters what the visited elements return.
	readTxn(t, e, key, func(tx *Txn) error {
		n := 0
		next, err := tx.SScan(key, 0, []byte("m0000*"), 100, func([]byte) { n++ })
		if err == nil && (n == 0 || next == 0) {
			err = fmt.Errorf("MATCH: %d members, next cursor %d", n, next)
		}
		return err
	})
}
