package engine

import (
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

// TestBloomBitsPerKey checks that the tables Pebble writes carry the filter the option asks
// for: the default one, or none when it is negative.
func TestBloomBitsPerKey(t *testing.T) {
	for _, c := range []struct {
		bits   int
		policy string
	}{
		{0, "rocksdb.BuiltinBloomFilter"},
		{16, "rocksdb.BuiltinBloomFilter"},
		{-1, ""},
	} {
		t.Run(fmt.Sprint(c.bits), func(t *testing.T) {
			e, err := Open(Options{Dir: t.TempDir(), BloomBitsPerKey: c.bits,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			inTxn(t, e, 0, func(tx *Txn) error {
				for i := range 100 {
					if _, err := tx.Set(fmt.Appendf(nil, "k%d", i), []byte("v"), SetArgs{}); err != nil {
						return err
					}
				}
				return nil
			})
			if err := e.pdb.Flush(); err != nil {
				t.Fatal(err)
			}
			levels, err := e.pdb.SSTables(pebble.WithProperties())
			if err != nil {
				t.Fatal(err)
			}
			tables := 0
			for _, level := range levels {
				for _, table := range level {
					tables++
					if got := table.Properties.FilterPolicyName; got != c.policy {
						t.Errorf("table %v: filter policy %q, want %q", table.FileNum, got, c.policy)
					}
				}
			}
			if tables == 0 {
				t.Fatal("the flush wrote no table")
			}
		})
	}
}
