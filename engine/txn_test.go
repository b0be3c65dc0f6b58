package engine

import (
	"errors"
	"testing"
)

// TestUndeclaredKeyRefused: a Txn may touch only the keys it locked, unless it holds the
// global latch.
func TestUndeclaredKeyRefused(t *testing.T) {
	e := openTestEngine(t)
	tx := e.NewTxn()
	tx.Begin(0, LockWrite)
	tx.AddKey([]byte("declared"))
	if err := tx.Lock(); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Set([]byte("declared"), []byte("v"), SetArgs{}); err != nil {
		t.Fatalf("declared key: %v", err)
	}
	// Find a key on another stripe (most keys are).
	other := []byte("x")
	for i := 0; tx.holds(other); i++ {
		other = append(other, 'x')
	}
	if _, _, err := tx.Get(other); !errors.Is(err, ErrUndeclaredKey) {
		t.Fatalf("undeclared key: got %v, want ErrUndeclaredKey", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	inTxn(t, e, 0, func(tx *Txn) error { // the global latch may touch anything
		_, _, err := tx.Get(other)
		return err
	})
}
