package engine

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"
)

// TestCommittedHook: the hook sees each successful commit with its owner, the keys written
// and deleted in order with "created" for keys that had no live value, and the keys found
// expired; an aborted Txn is not reported.
func TestCommittedHook(t *testing.T) {
	var seen []string
	e, err := Open(Options{Dir: t.TempDir(), ActiveExpireInterval: time.Hour,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Hooks: Hooks{Committed: func(tx *Txn) {
			tx.EachExpired(func(db int, key []byte) { seen = append(seen, fmt.Sprintf("expired %d %s", db, key)) })
			tx.EachTouched(func(db int, key []byte, created bool) {
				seen = append(seen, fmt.Sprintf("touched %d %s %v owner=%v", db, key, created, tx.Owner()))
			})
		}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	run := func(fn func(tx *Txn) error) {
		tx := e.NewTxn()
		tx.SetOwner("c1")
		tx.Begin(0, LockGlobal)
		if err := tx.Lock(); err != nil {
			t.Fatal(err)
		}
		if err := fn(tx); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	run(func(tx *Txn) error {
		_, err := tx.Set([]byte("a"), []byte("1"), SetArgs{})
		if err == nil {
			_, err = tx.Set([]byte("a"), []byte("2"), SetArgs{})
		}
		return err
	})
	run(func(tx *Txn) error {
		_, err := tx.Set([]byte("x"), []byte("1"), SetArgs{ExpireAt: 1}) // already past
		return err
	})
	run(func(tx *Txn) error {
		_, err := tx.Set([]byte("x"), []byte("2"), SetArgs{})
		if err == nil {
			_, err = tx.Delete([]byte("a"))
		}
		return err
	})
	tx := e.NewTxn()
	tx.Begin(0, LockGlobal)
	tx.Lock()
	tx.Set([]byte("never"), []byte("1"), SetArgs{})
	tx.Abort()
	want := []string{
		"touched 0 a true owner=c1", "touched 0 a false owner=c1",
		"touched 0 x true owner=c1",
		"expired 0 x", "touched 0 x true owner=c1", "touched 0 a false owner=c1",
	}
	if !slices.Equal(seen, want) {
		t.Fatalf("hook saw\n  %q\nwant\n  %q", seen, want)
	}
}
