package engine

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/stratadb/strata/encoding"
)

// SCAN: full iterations, lost and forged cursors.

func scanAll(tb testing.TB, e *Engine, db int, a ScanArgs) []string {
	tb.Helper()
	seen := map[string]bool{}
	var cursor uint64
	for calls := 0; ; calls++ {
		if calls > 100_000 {
			tb.Fatal("SCAN does not end")
		}
		inTxn(tb, e, db, func(tx *Txn) error {
			var err error
			cursor, err = tx.Scan(cursor, a, func(k []byte) { seen[string(k)] = true })
			return err
		})
		if cursor == 0 {
			break
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestScanSurvivesLostCursors(t *testing.T) {
	e := openEngine(t, t.TempDir(), 0)
	e.cursors = newCursorTableSize(1)
	var all []string
	for i := 0; i < 1500; i++ {
		all = append(all, fmt.Sprintf("key:%d", i))
	}
	for i := 0; i < 300; i++ {
		all = append(all, fmt.Sprintf("{tag}:%d", i)) // one slot
	}
	inTxn(t, e, 0, func(tx *Txn) error {
		for _, k := range all {
			if _, err := tx.Set([]byte(k), []byte("v"), SetArgs{}); err != nil {
				return err
			}
		}
		return nil
	})
	sort.Strings(all)

	seen := [2]map[string]int{{}, {}}
	cursors := [2]uint64{}
	done := [2]bool{}
	calls := 0
	for !done[0] || !done[1] {
		for i := range cursors {
			if done[i] {
				continue
			}
			calls++
			if calls > 50_000 {
				t.Fatal("SCAN with lost cursors does not end")
			}
			inTxn(t, e, 0, func(tx *Txn) error {
				var err error
				cursors[i], err = tx.Scan(cursors[i], ScanArgs{Count: 7}, func(k []byte) { seen[i][string(k)]++ })
				return err
			})
			done[i] = cursors[i] == 0
		}
	}
	for i := range seen {
		if len(seen[i]) != len(all) {
			t.Fatalf("iteration %d returned %d distinct keys of %d", i, len(seen[i]), len(all))
		}
	}
	// The same with the table intact repeats nothing.
	e.cursors = newCursorTable()
	got := map[string]int{}
	var cursor uint64
	for {
		inTxn(t, e, 0, func(tx *Txn) error {
			var err error
			cursor, err = tx.Scan(cursor, ScanArgs{Count: 7}, func(k []byte) { got[string(k)]++ })
			return err
		})
		if cursor == 0 {
			break
		}
	}
	for k, n := range got {
		if n != 1 {
			t.Fatalf("%s returned %d times with an intact cursor table", k, n)
		}
	}
	if len(got) != len(all) {
		t.Fatalf("%d keys of %d", len(got), len(all))
	}
}

func TestScanForgedCursors(t *testing.T) {
	e := openEngine(t, t.TempDir(), 0)
	var keys [][]byte
	inTxn(t, e, 0, func(tx *Txn) error {
		for i := 0; i < 400; i++ {
			k := []byte(fmt.Sprintf("f%d", i))
			keys = append(keys, k)
			if _, err := tx.Set(k, []byte("v"), SetArgs{}); err != nil {
				return err
			}
		}
		return nil
	})
	// A real token from a mid-iteration stop, to forge cursors naming other slots.
	var realTok uint64
	inTxn(t, e, 0, func(tx *Txn) error {
		c, err := tx.Scan(0, ScanArgs{Count: 150}, func([]byte) {})
		realTok = c >> 14
		return err
	})
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200; i++ {
		slot := uint64(rng.IntN(encoding.SlotCount))
		tok := rng.Uint64() >> 14
		switch i % 3 {
		case 0:
			tok = 0
		case 1:
			tok = realTok
		}
		cursor := tok<<14 | slot
		seen := map[string]bool{}
		for calls := 0; ; calls++ {
			if calls > 10_000 {
				t.Fatalf("SCAN from forged cursor %d does not end", tok<<14|slot)
			}
			inTxn(t, e, 0, func(tx *Txn) error {
				var err error
				cursor, err = tx.Scan(cursor, ScanArgs{Count: 3}, func(k []byte) { seen[string(k)] = true })
				return err
			})
			if cursor == 0 {
				break
			}
		}
		for _, k := range keys {
			if uint64(encoding.Slot(k)) >= slot && !seen[string(k)] {
				t.Fatalf("SCAN from forged cursor (token %d, slot %d) skipped %s (slot %d)", tok, slot, k, encoding.Slot(k))
			}
		}
	}
}

func TestScanKeepsKeysPresentThroughout(t *testing.T) {
	e := openEngine(t, t.TempDir(), 0)
	for i := 0; i < 500; i++ {
		set(t, e, 0, fmt.Sprintf("stable%d", i), []byte("v"), 0)
		set(t, e, 0, fmt.Sprintf("churn%d", i), []byte("v"), 0)
	}
	seen := map[string]bool{}
	var cursor uint64
	for step := 0; ; step++ {
		inTxn(t, e, 0, func(tx *Txn) error {
			var err error
			cursor, err = tx.Scan(cursor, ScanArgs{Count: 5}, func(k []byte) { seen[string(k)] = true })
			if err != nil {
				return err
			}
			_, err = tx.Delete([]byte(fmt.Sprintf("churn%d", step)))
			if err != nil {
				return err
			}
			_, err = tx.Set([]byte(fmt.Sprintf("new%d", step)), []byte("v"), SetArgs{})
			return err
		})
		if cursor == 0 {
			break
		}
	}
	for i := 0; i < 500; i++ {
		if !seen[fmt.Sprintf("stable%d", i)] {
			t.Fatalf("stable%d skipped", i)
		}
	}
}
