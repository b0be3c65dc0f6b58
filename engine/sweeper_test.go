package engine

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/stratadb/strata/encoding"
)

// Big values: O(1) delete and overwrite, the sweeper, and guarded direct copies.

func sweepQueueLen(tb testing.TB, e *Engine) int {
	return rangeLen(tb, e, encoding.AppendInternalKey(nil, recSweep))
}

func TestDeleteAndOverwriteOfBigValueAreO1(t *testing.T) {
	e := openEngine(t, t.TempDir(), 0)
	const size = 4 << 20 // 1024 chunks
	phys := e.dbmap[0]
	cases := []struct {
		name string
		op   func(tx *Txn) error
	}{
		{"del", func(tx *Txn) error { _, err := tx.Delete([]byte("s")); return err }},
		{"overwrite-small", func(tx *Txn) error {
			_, err := tx.Set([]byte("s"), []byte("small"), SetArgs{})
			return err
		}},
		{"overwrite-big", func(tx *Txn) error {
			_, err := tx.Set([]byte("s"), bigValue(size/2), SetArgs{})
			return err
		}},
		{"expire-past", func(tx *Txn) error { _, err := tx.Expire([]byte("s"), 1, 0); return err }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			set(t, e, 0, "s", bigValue(size), 0)
			old := metaOf(t, e, 0, "s")
			if n := elementsLen(t, e, phys, "s", old.meta.Version); n != size/encoding.ChunkSize {
				t.Fatalf("%d chunks, want %d", n, size/encoding.ChunkSize)
			}
			tx := e.NewTxn()
			tx.Begin(0, LockWrite)
			tx.AddKey([]byte("s"))
			if err := tx.Lock(); err != nil {
				t.Fatal(err)
			}
			defer tx.Abort() // releases the locks if the test fails early; a no-op once ended
			if err := c.op(tx); err != nil {
				t.Fatal(err)
			}
			// The metadata change and one sweep record; an overwrite with a big value adds
			// its own new chunks, never the old ones.
			written := int(tx.batch.Count())
			if c.name == "overwrite-big" {
				written -= size / 2 / encoding.ChunkSize
			}
			if written > 3 {
				t.Fatalf("the command wrote %d records besides new data: it touched the old elements", written)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the sweeper to empty the old range", func() bool {
				return elementsLen(t, e, phys, "s", old.meta.Version) == 0
			})
			switch c.name {
			case "overwrite-small":
				if v, _ := get(t, e, 0, "s"); string(v) != "small" {
					t.Fatalf("GET = %q", v)
				}
			case "overwrite-big":
				if v, _ := get(t, e, 0, "s"); !bytes.Equal(v, bigValue(size/2)) {
					t.Fatal("the new big value was damaged by the sweep of the old one")
				}
			default:
				if _, ok := get(t, e, 0, "s"); ok {
					t.Fatal("s still exists")
				}
			}
			waitFor(t, "the sweep queue to drain", func() bool { return sweepQueueLen(t, e) == 0 })
			inTxn(t, e, 0, func(tx *Txn) error { tx.FlushAll(); return nil })
		})
	}
}

func TestRenameCopyMoveOfBigCollections(t *testing.T) {
	e := openEngine(t, t.TempDir(), 0)
	n := copyInlineLimit + 500
	elem := func(i int) ([]byte, []byte) {
		return []byte(fmt.Sprintf("member-%06d", i)), []byte(fmt.Sprintf("value-%d", i))
	}
	future := time.Now().UnixMilli() + 3_600_000
	for _, typ := range []encoding.Type{encoding.TypeHash, encoding.TypeZSet} {
		t.Run(typ.String(), func(t *testing.T) {
			inTxn(t, e, 0, func(tx *Txn) error { tx.FlushAll(); return nil })
			writeCollection(t, e, 0, "src", typ, n, elem, future)
			want := elements(t, e, 0, "src")
			if len(want) < n {
				t.Fatalf("%d elements written", len(want))
			}
			srcVer := metaOf(t, e, 0, "src").meta.Version

			mustDo(t, e, 0, "RENAME", func(tx *Txn) (bool, error) { return tx.Rename([]byte("src"), []byte("renamed"), false) })
			checkSame(t, e, 0, "renamed", want, future)
			mustDo(t, e, 0, "COPY", func(tx *Txn) (bool, error) { return tx.Copy([]byte("renamed"), 0, []byte("copy"), false) })
			checkSame(t, e, 0, "copy", want, future)
			checkSame(t, e, 0, "renamed", want, future)
			mustDo(t, e, 0, "COPY DB", func(tx *Txn) (bool, error) { return tx.Copy([]byte("copy"), 5, []byte("copy5"), false) })
			checkSame(t, e, 5, "copy5", want, future)
			mustDo(t, e, 0, "MOVE", func(tx *Txn) (bool, error) { return tx.Move([]byte("copy"), 7) })
			checkSame(t, e, 7, "copy", want, future)
			if ks := metaOf(t, e, 0, "copy"); ks.exists {
				t.Fatal("MOVE left the source")
			}
			// COPY REPLACE over an existing big key.
			mustDo(t, e, 0, "COPY REPLACE", func(tx *Txn) (bool, error) { return tx.Copy([]byte("renamed"), 5, []byte("copy5"), true) })
			checkSame(t, e, 5, "copy5", want, future)

			if n := dbSize(t, e, 0); n != 1 {
				t.Fatalf("db 0 has %d keys, want 1 (renamed)", n)
			}
			if st := e.KeyspaceStats(0); st.Expires != 1 {
				t.Fatalf("db 0 counts %d expiries", st.Expires)
			}
			// No garbage: the sweeper leaves exactly the live versions' elements.
			waitFor(t, "the sweep queue to drain", func() bool { return sweepQueueLen(t, e) == 0 })
			if got := elementsLen(t, e, e.dbmap[0], "src", srcVer); got != 0 {
				t.Fatalf("%d elements of the renamed source left", got)
			}
			live := 0
			for _, db := range []int{0, 5, 7} {
				live += int(e.KeyspaceStats(db).Keys)
			}
			total := rangeLen(t, e, []byte{encoding.TagSub}) + rangeLen(t, e, []byte{encoding.TagScore})
			if total != live*len(want) {
				t.Fatalf("%d element records on disk for %d live keys of %d: garbage left", total, live, len(want))
			}
		})
	}
}

func mustDo(tb testing.TB, e *Engine, db int, what string, op func(tx *Txn) (bool, error)) {
	tb.Helper()
	inTxn(tb, e, db, func(tx *Txn) error {
		done, err := op(tx)
		if err == nil && !done {
			tb.Errorf("%s did nothing", what)
		}
		return err
	})
}

func checkSame(tb testing.TB, e *Engine, db int, key string, want []string, expireAt int64) {
	tb.Helper()
	got := elements(tb, e, db, key)
	if len(got) != len(want) {
		tb.Fatalf("%s: %d elements, want %d", key, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			tb.Fatalf("%s: element %d is %s, want %s", key, i, got[i], want[i])
		}
	}
	if ks := metaOf(tb, e, db, key); ks.meta.ExpireAt != expireAt {
		tb.Fatalf("%s: expire-at %d, want %d", key, ks.meta.ExpireAt, expireAt)
	}
}

func TestDirectCopyGuardHoldsUntilCommit(t *testing.T) {
	e := openEngine(t, t.TempDir(), 0)
	n := copyInlineLimit + 10
	writeCollection(t, e, 0, "src", encoding.TypeHash, n, func(i int) ([]byte, []byte) {
		return []byte(fmt.Sprintf("m%06d", i)), []byte("v")
	}, 0)
	want := elements(t, e, 0, "src")

	for _, commit := range []bool{true, false} {
		tx := e.NewTxn()
		tx.Begin(0, LockWrite)
		tx.AddKey([]byte("src"))
		tx.AddKey([]byte("dst"))
		if err := tx.Lock(); err != nil {
			t.Fatal(err)
		}
		defer tx.Abort() // releases the locks if the test fails early; a no-op once ended
		if _, err := tx.Copy([]byte("src"), 0, []byte("dst"), true); err != nil {
			t.Fatal(err)
		}
		dstVer := tx.batchMeta(t, "dst").Version
		if err := e.sweep(); err != nil { // the race, made certain
			t.Fatal(err)
		}
		if got := elementsLen(t, e, e.dbmap[0], "dst", dstVer); got != n {
			t.Fatalf("the sweeper deleted a copy in progress: %d of %d elements left", got, n)
		}
		if commit {
			// A sweep that opened its view of the queue before the commit (guard record
			// present) and reaches the record after it (guard released).
			queue, err := e.sweepQueue()
			if err != nil {
				t.Fatal(err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			if _, err := e.sweepBatch(queue); err != nil {
				t.Fatal(err)
			}
			checkSame(t, e, 0, "dst", want, 0)
			if err := e.sweep(); err != nil {
				t.Fatal(err)
			}
			checkSame(t, e, 0, "dst", want, 0)
			continue
		}
		tx.Abort()
		if err := e.sweep(); err != nil {
			t.Fatal(err)
		}
		if got := elementsLen(t, e, e.dbmap[0], "dst", dstVer); got != 0 {
			t.Fatalf("an aborted copy left %d elements", got)
		}
		checkSame(t, e, 0, "dst", want, 0) // the committed one is untouched
	}
	waitFor(t, "the sweep queue to drain", func() bool { return sweepQueueLen(t, e) == 0 })
}

func (tx *Txn) batchMeta(tb testing.TB, key string) encoding.Meta {
	tb.Helper()
	ks, err := tx.lookup([]byte(key))
	if err != nil || !ks.exists {
		tb.Fatalf("%s: %v %v", key, ks.exists, err)
	}
	return ks.meta
}
