package engine

import (
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/stratadb/strata/encoding"
)

// rawPebble opens dir as a bare Pebble store with the engine's merger, to tamper with it.
func rawPebble(t *testing.T, dir string) *pebble.DB {
	t.Helper()
	db, err := pebble.Open(dir, &pebble.Options{Merger: newCounterMerger(), FormatMajorVersion: pebble.FormatNewest})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// TestFormatTooNewRefused: a data directory written by a newer format is refused when it
// opens, with a message that names both versions, never misread.
func TestFormatTooNewRefused(t *testing.T) {
	dir := t.TempDir()
	e := openEngine(t, dir, 0)
	set(t, e, 0, "k", []byte("v"), 0)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	db := rawPebble(t, dir)
	next := binary.BigEndian.AppendUint32(nil, encoding.FormatVersion+1)
	if err := db.Set(encoding.AppendInternalKey(nil, recFormat), next, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err := Open(Options{Dir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if !errors.Is(err, ErrFormatTooNew) {
		t.Fatalf("Open of a newer format: %v, want ErrFormatTooNew", err)
	}
	if want := "upgrade Strata"; !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not say %q", err, want)
	}
}

// TestForeignPebbleRefused: a Pebble store with data but no Strata format record is not a
// Strata data directory.
func TestForeignPebbleRefused(t *testing.T) {
	dir := t.TempDir()
	db := rawPebble(t, dir)
	if err := db.Set([]byte("someone else's key"), []byte("v"), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err := Open(Options{Dir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if !errors.Is(err, ErrNotStrata) {
		t.Fatalf("Open of a foreign store: %v, want ErrNotStrata", err)
	}
}
