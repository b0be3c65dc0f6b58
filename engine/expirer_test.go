package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/stratadb/strata/encoding"
)

// Active expiry: keys whose time has come leave the disk without being touched.

func TestActiveExpiryDeletesUntouchedKeys(t *testing.T) {
	e := openEngine(t, t.TempDir(), 10*time.Millisecond)
	at := time.Now().UnixMilli() + 50
	for i := 0; i < 300; i++ { // more than one expiry round's batch
		set(t, e, 3, fmt.Sprintf("k%d", i), []byte("v"), at)
	}
	set(t, e, 3, "big", bigValue(100_000), at)
	set(t, e, 3, "stays", []byte("v"), 0)
	big := metaOf(t, e, 3, "big")
	if big.meta.Flags&encoding.FlagChunked == 0 {
		t.Fatal("big is not chunked")
	}
	phys := e.dbmap[3]
	waitFor(t, "active expiry to empty the database", func() bool { return e.KeyspaceStats(3).Keys == 1 })
	if st := e.KeyspaceStats(3); st.Expires != 0 {
		t.Fatalf("expires = %d, want 0", st.Expires)
	}
	if n := rangeLen(t, e, []byte{encoding.TagExpiry}); n != 0 {
		t.Fatalf("%d expiry-index entries left", n)
	}
	if n := rangeLen(t, e, encoding.DBPrefix(nil, encoding.TagMeta, phys)); n != 1 {
		t.Fatalf("%d metadata records left, want 1", n)
	}
	waitFor(t, "the sweeper to drop big's chunks", func() bool {
		return elementsLen(t, e, phys, "big", big.meta.Version) == 0
	})
}

func TestActiveExpiryDropsStaleEntries(t *testing.T) {
	e := openEngine(t, t.TempDir(), 10*time.Millisecond)
	now := time.Now().UnixMilli()
	set(t, e, 0, "flushed", []byte("v"), now+30)
	set(t, e, 1, "kept", []byte("v"), now+60_000)
	inTxn(t, e, 0, func(tx *Txn) error { tx.FlushDB(); return nil })
	waitFor(t, "the stale entry to go", func() bool { return rangeLen(t, e, []byte{encoding.TagExpiry}) == 1 })
	if n := dbSize(t, e, 1); n != 1 {
		t.Fatalf("db 1 has %d keys", n)
	}
}
