package engine

import (
	"io"
	"log/slog"
	"testing"
	"time"
)

// openTestEngine opens an engine with default options on a fresh directory.
func openTestEngine(tb testing.TB) *Engine {
	tb.Helper()
	e, err := Open(Options{Dir: tb.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { e.Close() })
	return e
}

// openEngine opens an engine on dir. Active expiry is slowed to once an hour unless the test
// asks for it (interval > 0), so that expired keys stay on disk for the lazy-expiry tests.
func openEngine(tb testing.TB, dir string, interval time.Duration) *Engine {
	tb.Helper()
	if interval <= 0 {
		interval = time.Hour
	}
	e, err := Open(Options{Dir: dir, ActiveExpireInterval: interval,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { e.Close() })
	return e
}

// inTxn runs fn as one command on logical database db holding the global latch (so it needs
// no key list) and commits. It returns the Txn, whose read counter tells what fn read. A
// failing fn aborts the Txn and fails the test.
func inTxn(tb testing.TB, e *Engine, db int, fn func(tx *Txn) error) *Txn {
	tb.Helper()
	tx := e.NewTxn()
	tx.Begin(db, LockGlobal)
	if err := tx.Lock(); err != nil {
		tb.Fatal(err)
	}
	if err := fn(tx); err != nil {
		tx.Abort()
		tb.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
	return tx
}
