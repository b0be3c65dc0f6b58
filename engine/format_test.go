package engine

import (
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
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

// TestFormatOneUpgrades: a directory at format 1 (sorted sets without hints) opens, reads
// right, and has its format record moved to the current format, so that a format-1 binary
// refuses it from then on; its sets get hints once they pop.
func TestFormatOneUpgrades(t *testing.T) {
	dir := t.TempDir()
	e := openEngine(t, dir, 0)
	m := fillZSet(t, e, "z", 500) // ZADD alone writes no hints: the metadata of format 1
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	db := rawPebble(t, dir)
	rec := encoding.AppendInternalKey(nil, recFormat)
	if err := db.Set(rec, binary.BigEndian.AppendUint32(nil, 1), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	db.Close()
	ro, err := OpenReadOnly(dir)
	if err != nil {
		t.Fatalf("read-only open of format 1: %v", err)
	}
	ro.Close()

	e = openEngine(t, dir, 0)
	rng := rand.New(rand.NewPCG(7, 8))
	checkZSetModel(t, e, []byte("z"), m, rng)
	inTxn(t, e, 0, func(tx *Txn) error {
		z, _, err := tx.openZSet([]byte("z"), false)
		if err == nil && (len(z.rank.Floor) > 0 || len(z.rank.Ceiling) > 0) {
			t.Fatalf("a format-1 set reads with hints %x %x", z.rank.Floor, z.rank.Ceiling)
		}
		return err
	})
	inTxn(t, e, 0, func(tx *Txn) error {
		out, err := tx.ZPopMin([]byte("z"), 3)
		for _, sm := range out {
			delete(m, string(sm.Member))
		}
		return err
	})
	inTxn(t, e, 0, func(tx *Txn) error {
		z, _, err := tx.openZSet([]byte("z"), false)
		if err == nil && (len(z.rank.Floor) == 0 || len(z.rank.Ceiling) == 0) {
			t.Fatalf("a popped set has no hints: %x %x", z.rank.Floor, z.rank.Ceiling)
		}
		checkRankStructure(t, tx, []byte("z"))
		return err
	})
	checkZSetModel(t, e, []byte("z"), m, rng)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	db = rawPebble(t, dir)
	v, closer, err := db.Get(rec)
	if err != nil {
		t.Fatal(err)
	}
	if got := binary.BigEndian.Uint32(v); got != encoding.FormatVersion {
		t.Fatalf("format record %d after opening a format-1 directory, want %d", got, encoding.FormatVersion)
	}
	closer.Close()
	db.Close()
}
