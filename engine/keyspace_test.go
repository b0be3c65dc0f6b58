package engine

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/stratadb/strata/encoding"
)

// ---- helpers ----

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

// run runs fn as one command on logical database db holding the global latch, and commits.
func run(tb testing.TB, e *Engine, db int, fn func(tx *Txn) error) {
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
}

func set(tb testing.TB, e *Engine, db int, key string, value []byte, expireAt int64) {
	tb.Helper()
	run(tb, e, db, func(tx *Txn) error {
		_, err := tx.Set([]byte(key), value, SetArgs{ExpireAt: expireAt})
		return err
	})
}

func get(tb testing.TB, e *Engine, db int, key string) ([]byte, bool) {
	tb.Helper()
	var v []byte
	var ok bool
	run(tb, e, db, func(tx *Txn) error {
		var err error
		v, ok, err = tx.Get([]byte(key))
		v = append([]byte(nil), v...)
		return err
	})
	return v, ok
}

func dbSize(tb testing.TB, e *Engine, db int) int64 {
	tb.Helper()
	var n int64
	run(tb, e, db, func(tx *Txn) error { n = tx.DBSize(); return nil })
	return n
}

func metaOf(tb testing.TB, e *Engine, db int, key string) keyState {
	tb.Helper()
	var ks keyState
	run(tb, e, db, func(tx *Txn) error {
		var err error
		ks, err = tx.lookup([]byte(key))
		ks.meta.Rest = append([]byte(nil), ks.meta.Rest...)
		return err
	})
	return ks
}

// rangeLen counts the Pebble keys under prefix.
func rangeLen(tb testing.TB, e *Engine, prefix []byte) int {
	tb.Helper()
	it, err := e.pdb.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: encoding.PrefixEnd(nil, prefix)})
	if err != nil {
		tb.Fatal(err)
	}
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		n++
	}
	if err := it.Close(); err != nil {
		tb.Fatal(err)
	}
	return n
}

// elementsLen counts the subkeys and score keys of (db, key, version).
func elementsLen(tb testing.TB, e *Engine, physDB uint16, key string, version uint64) int {
	return rangeLen(tb, e, encoding.AppendSubPrefix(nil, physDB, []byte(key), version)) +
		rangeLen(tb, e, encoding.AppendScorePrefix(nil, physDB, []byte(key), version))
}

// waitFor polls cond until it holds, failing the test after a generous deadline.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// bigValue is a deterministic value of n bytes.
func bigValue(n int) []byte {
	v := make([]byte, n)
	for i := range v {
		v[i] = byte(i*7 + i/4096)
	}
	return v
}

// writeCollection stores key as a collection of type typ with n elements written straight as
// subkeys (member i -> value i), plus score keys for a sorted set: the layout the type
// engineers use, without depending on their commands.
func writeCollection(tb testing.TB, e *Engine, db int, key string, typ encoding.Type, n int,
	elem func(i int) (member, value []byte), expireAt int64) {
	tb.Helper()
	run(tb, e, db, func(tx *Txn) error {
		ks, err := tx.lookup([]byte(key))
		if err != nil {
			return err
		}
		m := tx.newMeta(typ)
		m.Count = uint64(n)
		m.ExpireAt = expireAt
		for i := 0; i < n; i++ {
			member, value := elem(i)
			tx.set(encoding.AppendSubKey(nil, tx.db, []byte(key), m.Version, member), value)
			if typ == encoding.TypeZSet {
				tx.set(encoding.AppendScoreKey(nil, tx.db, []byte(key), m.Version, float64(i), member), nil)
			}
		}
		tx.putMeta([]byte(key), &ks, &m)
		return nil
	})
}

// elements returns a collection's subkeys and score keys, relative to their prefixes.
func elements(tb testing.TB, e *Engine, db int, key string) []string {
	tb.Helper()
	ks := metaOf(tb, e, db, key)
	if !ks.live {
		tb.Fatalf("%s does not exist", key)
	}
	p := e.dbmap[db]
	var out []string
	for _, prefix := range [][]byte{
		encoding.AppendSubPrefix(nil, p, []byte(key), ks.meta.Version),
		encoding.AppendScorePrefix(nil, p, []byte(key), ks.meta.Version),
	} {
		it, err := e.pdb.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: encoding.PrefixEnd(nil, prefix)})
		if err != nil {
			tb.Fatal(err)
		}
		for ok := it.First(); ok; ok = it.Next() {
			out = append(out, fmt.Sprintf("%d|%x=%x", prefix[0], it.Key()[len(prefix):], it.Value()))
		}
		it.Close()
	}
	return out
}

func sweepQueueLen(tb testing.TB, e *Engine) int {
	return rangeLen(tb, e, encoding.AppendInternalKey(nil, recSweep))
}

// ---- lazy expiry ----

// TestExpiredKeyIsInvisible: a key whose time has come but that active expiry has not
// removed yet is absent to every read and replaced as a fresh key by writes.
func TestExpiredKeyIsInvisible(t *testing.T) {
	e := openEngine(t, t.TempDir(), 0)
	past := time.Now().UnixMilli() - 1000
	for _, k := range []string{"a", "b", "c"} {
		set(t, e, 0, k, []byte("v"), past)
	}
	writeCollection(t, e, 0, "h", encoding.TypeHash, 3, func(i int) ([]byte, []byte) {
		return []byte{byte('a' + i)}, []byte("v")
	}, past)
	if n := dbSize(t, e, 0); n != 4 {
		t.Fatalf("DBSIZE counts keys not yet removed, as Redis does: got %d, want 4", n)
	}
	run(t, e, 0, func(tx *Txn) error {
		for _, k := range []string{"a", "h"} {
			key := []byte(k)
			if ok, _ := tx.Exists(key); ok {
				t.Errorf("EXISTS %s", k)
			}
			if typ, _ := tx.TypeOf(key); typ != encoding.TypeNone {
				t.Errorf("TYPE %s = %v", k, typ)
			}
			if at, _ := tx.ExpireTime(key); at != -2 {
				t.Errorf("EXPIRETIME %s = %d", k, at)
			}
			if _, ok, _ := tx.Object(key); ok {
				t.Errorf("OBJECT %s found", k)
			}
			if ok, _ := tx.Expire(key, time.Now().UnixMilli()+10000, 0); ok {
				t.Errorf("EXPIRE %s set a time on an expired key", k)
			}
			if ok, _ := tx.Persist(key); ok {
				t.Errorf("PERSIST %s", k)
			}
			if _, err := tx.Rename(key, []byte("x"), false); err != ErrNoSuchKey {
				t.Errorf("RENAME %s: %v", k, err)
			}
			if ok, _ := tx.Copy(key, 0, []byte("x"), true); ok {
				t.Errorf("COPY %s", k)
			}
			if ok, _ := tx.Move(key, 1); ok {
				t.Errorf("MOVE %s", k)
			}
		}
		if _, ok, _ := tx.Get([]byte("a")); ok {
			t.Error("GET a")
		}
		var keys []string
		tx.Keys([]byte("*"), func(k []byte) { keys = append(keys, string(k)) })
		if len(keys) != 0 {
			t.Errorf("KEYS * = %q", keys)
		}
		cur, err := tx.Scan(0, ScanArgs{Count: 1000}, func(k []byte) { keys = append(keys, string(k)) })
		if err != nil || cur != 0 || len(keys) != 0 {
			t.Errorf("SCAN = %d %q %v", cur, keys, err)
		}
		if k, ok, _ := tx.RandomKey(); ok {
			t.Errorf("RANDOMKEY = %q on a database of expired keys", k)
		}
		// DEL removes an expired key but does not count it.
		if ok, _ := tx.Delete([]byte("b")); ok {
			t.Error("DEL of an expired key counted it")
		}
		// A write treats the expired key as absent.
		r, err := tx.Set([]byte("c"), []byte("new"), SetArgs{NX: true})
		if err != nil || !r.Done {
			t.Errorf("SET NX over an expired key: %+v %v", r, err)
		}
		return nil
	})
	if n := dbSize(t, e, 0); n != 3 {
		t.Fatalf("DBSIZE = %d after deleting one and replacing one, want 3", n)
	}
	if ks := metaOf(t, e, 0, "c"); !ks.live || ks.meta.ExpireAt != 0 {
		t.Fatalf("c was not replaced as a fresh key: %+v", ks)
	}
	if got := e.KeyspaceStats(0); got.Expires != 2 {
		t.Fatalf("expires = %d, want 2 (a and h)", got.Expires)
	}
}

func TestExpireConditionsAndPastTimes(t *testing.T) {
	e := openEngine(t, t.TempDir(), 0)
	now := time.Now().UnixMilli()
	k := []byte("k")
	set(t, e, 0, "k", []byte("v"), 0)
	steps := []struct {
		at    int64
		flags ExpireFlags
		want  bool
		ttl   int64 // expected expire-at afterwards (-1 none, -2 gone)
	}{
		{now + 100000, ExpireXX, false, -1},
		{now + 100000, ExpireGT, false, -1},          // no expiry counts as infinite
		{now + 100000, ExpireLT, true, now + 100000}, // ... so LT sets one
		{now + 50000, ExpireNX, false, now + 100000},
		{now + 200000, ExpireGT, true, now + 200000},
		{now + 200000, ExpireGT, false, now + 200000}, // equal is not greater
		{now + 200000, ExpireLT, false, now + 200000},
		{now + 150000, ExpireLT | ExpireXX, true, now + 150000},
		{now - 1, ExpireGT, false, now + 150000},
		{now - 1, ExpireLT, true, -2}, // a past time deletes and answers 1
	}
	for i, s := range steps {
		run(t, e, 0, func(tx *Txn) error {
			got, err := tx.Expire(k, s.at, s.flags)
			if err != nil || got != s.want {
				t.Errorf("step %d: Expire = %v %v, want %v", i, got, err, s.want)
			}
			at, _ := tx.ExpireTime(k)
			if at != s.ttl {
				t.Errorf("step %d: expire time %d, want %d", i, at, s.ttl)
			}
			return nil
		})
	}
	if n := dbSize(t, e, 0); n != 0 {
		t.Fatalf("DBSIZE = %d after EXPIRE in the past", n)
	}
	if st := e.KeyspaceStats(0); st.Expires != 0 {
		t.Fatalf("expires = %d", st.Expires)
	}
	if n := rangeLen(t, e, []byte{encoding.TagExpiry}); n != 0 {
		t.Fatalf("%d expiry-index entries left", n)
	}
	// PERSIST removes the entry too.
	set(t, e, 0, "p", []byte("v"), now+100000)
	run(t, e, 0, func(tx *Txn) error {
		if ok, _ := tx.Persist([]byte("p")); !ok {
			t.Error("PERSIST p")
		}
		return nil
	})
	if n := rangeLen(t, e, []byte{encoding.TagExpiry}); n != 0 {
		t.Fatalf("%d expiry-index entries left after PERSIST", n)
	}
}

// ---- active expiry ----

// TestActiveExpiryDeletesUntouchedKeys: keys with a short TTL leave DBSIZE, the counters and
// the expiry index, and their elements leave the disk, without any command touching them.
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

// TestActiveExpiryDropsStaleEntries: an index entry whose key was flushed or re-expired is
// dropped, and the key's current entry stays right.
func TestActiveExpiryDropsStaleEntries(t *testing.T) {
	e := openEngine(t, t.TempDir(), 10*time.Millisecond)
	now := time.Now().UnixMilli()
	set(t, e, 0, "flushed", []byte("v"), now+30)
	set(t, e, 1, "kept", []byte("v"), now+60_000)
	run(t, e, 0, func(tx *Txn) error { tx.FlushDB(); return nil })
	waitFor(t, "the stale entry to go", func() bool { return rangeLen(t, e, []byte{encoding.TagExpiry}) == 1 })
	if n := dbSize(t, e, 1); n != 1 {
		t.Fatalf("db 1 has %d keys", n)
	}
}

// ---- big values: O(1) delete, the sweeper, copies ----

// TestDeleteAndOverwriteOfBigValueAreO1: DEL (UNLINK is the same operation) and overwrite of
// a multi-megabyte chunked string write O(1) records, and the sweeper empties the old range.
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
			run(t, e, 0, func(tx *Txn) error { tx.FlushAll(); return nil })
		})
	}
}

// TestRenameCopyMoveOfBigCollections: keys owning more than copyInlineLimit elements go
// through the guarded direct copy; the results are equal and nothing is left behind.
func TestRenameCopyMoveOfBigCollections(t *testing.T) {
	e := openEngine(t, t.TempDir(), 0)
	n := copyInlineLimit + 500
	elem := func(i int) ([]byte, []byte) {
		return []byte(fmt.Sprintf("member-%06d", i)), []byte(fmt.Sprintf("value-%d", i))
	}
	future := time.Now().UnixMilli() + 3_600_000
	for _, typ := range []encoding.Type{encoding.TypeHash, encoding.TypeZSet} {
		t.Run(typ.String(), func(t *testing.T) {
			run(t, e, 0, func(tx *Txn) error { tx.FlushAll(); return nil })
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

// mustDo runs an operation that must succeed and say it did something.
func mustDo(tb testing.TB, e *Engine, db int, what string, op func(tx *Txn) (bool, error)) {
	tb.Helper()
	run(tb, e, db, func(tx *Txn) error {
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

// TestDirectCopyGuardHoldsUntilCommit: the sweeper may run between a direct copy and the
// commit of its Txn; the copy must survive it, and an aborted copy must be collected.
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

// batchMeta reads key's metadata as the Txn sees it (its own writes included).
func (tx *Txn) batchMeta(tb testing.TB, key string) encoding.Meta {
	tb.Helper()
	ks, err := tx.lookup([]byte(key))
	if err != nil || !ks.exists {
		tb.Fatalf("%s: %v %v", key, ks.exists, err)
	}
	return ks.meta
}

// ---- flush and swap ----

func TestFlushResetsCounts(t *testing.T) {
	dir := t.TempDir()
	e := openEngine(t, dir, 0)
	future := time.Now().UnixMilli() + 3_600_000
	for db := 0; db < 3; db++ {
		for i := 0; i < 10; i++ {
			set(t, e, db, fmt.Sprintf("k%d", i), []byte("v"), future)
		}
		set(t, e, db, "big", bigValue(50_000), 0)
	}
	run(t, e, 1, func(tx *Txn) error { tx.FlushDB(); return nil })
	want := []KeyspaceStats{{11, 10}, {0, 0}, {11, 10}}
	checkStats(t, e, want)
	if n := rangeLen(t, e, encoding.DBPrefix(nil, encoding.TagSub, e.dbmap[1])); n != 0 {
		t.Fatalf("FLUSHDB left %d subkeys", n)
	}

	// Inside one Txn (MULTI): a write before the flush is dropped, one after it counts.
	run(t, e, 0, func(tx *Txn) error {
		if _, err := tx.Set([]byte("before"), []byte("v"), SetArgs{ExpireAt: future}); err != nil {
			return err
		}
		tx.FlushAll()
		if n := tx.DBSize(); n != 0 {
			t.Errorf("DBSIZE inside the Txn after FLUSHALL = %d", n)
		}
		if ok, _ := tx.Exists([]byte("k1")); ok {
			t.Error("a flushed key is visible inside the Txn")
		}
		_, err := tx.Set([]byte("after"), []byte("v"), SetArgs{})
		return err
	})
	want = []KeyspaceStats{{1, 0}, {0, 0}, {0, 0}}
	checkStats(t, e, want)
	if n := rangeLen(t, e, []byte{encoding.TagExpiry}); n != 0 {
		t.Fatalf("FLUSHALL left %d expiry-index entries", n)
	}
	if _, ok := get(t, e, 0, "before"); ok {
		t.Fatal("a write before FLUSHALL in the same Txn survived it")
	}
	if _, ok := get(t, e, 0, "after"); !ok {
		t.Fatal("a write after FLUSHALL in the same Txn was lost")
	}
	// The counters are on disk.
	e.Close()
	e = openEngine(t, dir, 0)
	checkStats(t, e, want)
}

func checkStats(tb testing.TB, e *Engine, want []KeyspaceStats) {
	tb.Helper()
	for db, w := range want {
		if got := e.KeyspaceStats(db); got != w {
			tb.Fatalf("db %d: %+v, want %+v", db, got, w)
		}
	}
}

func TestSwapDBIsO1AndDurable(t *testing.T) {
	dir := t.TempDir()
	e := openEngine(t, dir, 0)
	for i := 0; i < 200; i++ {
		set(t, e, 0, fmt.Sprintf("zero%d", i), []byte("0"), 0)
	}
	set(t, e, 0, "both", []byte("from0"), 0)
	set(t, e, 1, "both", []byte("from1"), 0)
	set(t, e, 1, "big", bigValue(20_000), 0)
	run(t, e, 0, func(tx *Txn) error {
		tx.SwapDB(0, 1)
		if n := tx.batch.Count(); n != 1 {
			t.Errorf("SWAPDB wrote %d records, want 1 (the database map)", n)
		}
		// The Txn now works on the swapped database.
		if v, _, _ := tx.Get([]byte("both")); string(v) != "from1" {
			t.Errorf("inside the Txn, GET both = %q", v)
		}
		return nil
	})
	check := func(e *Engine) {
		t.Helper()
		if v, _ := get(t, e, 0, "both"); string(v) != "from1" {
			t.Fatalf("db 0 both = %q", v)
		}
		if v, _ := get(t, e, 1, "both"); string(v) != "from0" {
			t.Fatalf("db 1 both = %q", v)
		}
		if v, _ := get(t, e, 0, "big"); !bytes.Equal(v, bigValue(20_000)) {
			t.Fatal("db 0 big is wrong")
		}
		if n := dbSize(t, e, 0); n != 2 {
			t.Fatalf("db 0 has %d keys", n)
		}
		if n := dbSize(t, e, 1); n != 201 {
			t.Fatalf("db 1 has %d keys", n)
		}
	}
	check(e)
	e.Close()
	e = openEngine(t, dir, 0)
	check(e)
	// Swapping back and swapping a database with itself.
	run(t, e, 0, func(tx *Txn) error { tx.SwapDB(1, 0); tx.SwapDB(3, 3); return nil })
	if v, _ := get(t, e, 0, "both"); string(v) != "from0" {
		t.Fatalf("after swapping back, db 0 both = %q", v)
	}
}

// ---- KEYS, SCAN, RANDOMKEY ----

func keysOf(tb testing.TB, e *Engine, db int, pattern string) []string {
	tb.Helper()
	var out []string
	run(tb, e, db, func(tx *Txn) error {
		return tx.Keys([]byte(pattern), func(k []byte) { out = append(out, string(k)) })
	})
	sort.Strings(out)
	return out
}

func TestKeysAndScanSkipExpired(t *testing.T) {
	e := openEngine(t, t.TempDir(), 0)
	now := time.Now().UnixMilli()
	set(t, e, 0, "live1", []byte("v"), 0)
	set(t, e, 0, "live2", []byte("v"), now+3_600_000)
	set(t, e, 0, "dead1", []byte("v"), now-1)
	set(t, e, 0, "dead2", []byte("v"), 1)
	writeCollection(t, e, 0, "hash", encoding.TypeHash, 1, func(int) ([]byte, []byte) { return []byte("f"), []byte("v") }, 0)
	if got := keysOf(t, e, 0, "*"); fmt.Sprint(got) != "[hash live1 live2]" {
		t.Fatalf("KEYS * = %q", got)
	}
	if got := keysOf(t, e, 0, "*1"); fmt.Sprint(got) != "[live1]" {
		t.Fatalf("KEYS *1 = %q", got)
	}
	got := scanAll(t, e, 0, ScanArgs{Count: 1})
	if fmt.Sprint(got) != "[hash live1 live2]" {
		t.Fatalf("SCAN = %q", got)
	}
	if got := scanAll(t, e, 0, ScanArgs{Count: 2, Type: []byte("HASH")}); fmt.Sprint(got) != "[hash]" {
		t.Fatalf("SCAN TYPE HASH = %q", got)
	}
	if got := scanAll(t, e, 0, ScanArgs{Count: 2, Type: []byte("nosuch")}); len(got) != 0 {
		t.Fatalf("SCAN TYPE nosuch = %q", got)
	}
	if got := scanAll(t, e, 0, ScanArgs{Count: 2, Pattern: []byte("l*2")}); fmt.Sprint(got) != "[live2]" {
		t.Fatalf("SCAN MATCH = %q", got)
	}
}

// scanAll runs a full SCAN iteration and returns the distinct keys, sorted.
func scanAll(tb testing.TB, e *Engine, db int, a ScanArgs) []string {
	tb.Helper()
	seen := map[string]bool{}
	var cursor uint64
	for calls := 0; ; calls++ {
		if calls > 100_000 {
			tb.Fatal("SCAN does not end")
		}
		run(tb, e, db, func(tx *Txn) error {
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

// TestScanSurvivesLostCursors: with a cursor table of one entry and two iterations
// interleaved, every resume position is evicted before it is used; both iterations still
// return every key and end. Keys that share a slot (hash tags) are the hard case.
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
	run(t, e, 0, func(tx *Txn) error {
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
			run(t, e, 0, func(tx *Txn) error {
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
		run(t, e, 0, func(tx *Txn) error {
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

// TestScanForgedCursors: made-up cursors (unknown tokens, tokens of other slots) never fail,
// never loop, and a full iteration from any cursor returns every key of its slot and after.
func TestScanForgedCursors(t *testing.T) {
	e := openEngine(t, t.TempDir(), 0)
	var keys [][]byte
	run(t, e, 0, func(tx *Txn) error {
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
	run(t, e, 0, func(tx *Txn) error {
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
			run(t, e, 0, func(tx *Txn) error {
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

// TestScanKeepsKeysPresentThroughout: keys added and deleted during an iteration do not make
// it skip a key present from start to end.
func TestScanKeepsKeysPresentThroughout(t *testing.T) {
	e := openEngine(t, t.TempDir(), 0)
	for i := 0; i < 500; i++ {
		set(t, e, 0, fmt.Sprintf("stable%d", i), []byte("v"), 0)
		set(t, e, 0, fmt.Sprintf("churn%d", i), []byte("v"), 0)
	}
	seen := map[string]bool{}
	var cursor uint64
	for step := 0; ; step++ {
		run(t, e, 0, func(tx *Txn) error {
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

func TestRandomKey(t *testing.T) {
	e := openEngine(t, t.TempDir(), 0)
	randomKey := func() (string, bool) {
		var k []byte
		var ok bool
		run(t, e, 0, func(tx *Txn) error {
			var err error
			k, ok, err = tx.RandomKey()
			return err
		})
		return string(k), ok
	}
	if k, ok := randomKey(); ok {
		t.Fatalf("RANDOMKEY on an empty database = %q", k)
	}
	now := time.Now().UnixMilli()
	for i := 0; i < 50; i++ {
		set(t, e, 0, fmt.Sprintf("dead%d", i), []byte("v"), now-1)
	}
	if k, ok := randomKey(); ok {
		t.Fatalf("RANDOMKEY with only expired keys = %q", k)
	}
	set(t, e, 0, "a", []byte("v"), 0)
	set(t, e, 0, "b", []byte("v"), 0)
	set(t, e, 0, "c", []byte("v"), now+3_600_000)
	got := map[string]int{}
	for i := 0; i < 300; i++ {
		k, ok := randomKey()
		if !ok {
			t.Fatal("RANDOMKEY found nothing")
		}
		got[k]++
	}
	for k := range got {
		if k != "a" && k != "b" && k != "c" {
			t.Fatalf("RANDOMKEY returned %q, not a live key", k)
		}
	}
	if len(got) != 3 {
		t.Fatalf("RANDOMKEY over 300 calls returned only %v", got)
	}
}

// ---- OBJECT ----

func TestObjectEncodings(t *testing.T) {
	e := openEngine(t, t.TempDir(), 0)
	str := func(key string, v string) { set(t, e, 0, key, []byte(v), 0) }
	str("int", "-123")
	str("notint", "0123")
	str("emb", string(bytes.Repeat([]byte("a"), 44)))
	str("raw", string(bytes.Repeat([]byte("a"), 45)))
	str("chunked", string(bigValue(40_000)))
	n := func(i int) []byte { return []byte(fmt.Sprint(i)) }
	coll := func(key string, typ encoding.Type, count int, elem func(i int) ([]byte, []byte)) {
		writeCollection(t, e, 0, key, typ, count, elem, 0)
	}
	coll("intset", encoding.TypeSet, 512, func(i int) ([]byte, []byte) { return n(i - 100), nil })
	coll("bigintset", encoding.TypeSet, 513, func(i int) ([]byte, []byte) { return n(i), nil })
	coll("strset", encoding.TypeSet, 3, func(i int) ([]byte, []byte) { return []byte{'a' + byte(i)}, nil })
	coll("lpz", encoding.TypeZSet, 128, func(i int) ([]byte, []byte) { return bytes.Repeat([]byte{'m'}, 64), n(i) })
	coll("longz", encoding.TypeZSet, 2, func(i int) ([]byte, []byte) { return bytes.Repeat([]byte{'m'}, 64+i), n(i) })
	coll("bigz", encoding.TypeZSet, 129, func(i int) ([]byte, []byte) { return n(i), n(i) })
	coll("lph", encoding.TypeHash, 128, func(i int) ([]byte, []byte) { return n(i), bytes.Repeat([]byte{'v'}, 64) })
	coll("longv", encoding.TypeHash, 2, func(i int) ([]byte, []byte) { return n(i), bytes.Repeat([]byte{'v'}, 64+i) })
	coll("bigh", encoding.TypeHash, 129, func(i int) ([]byte, []byte) { return n(i), n(i) })
	coll("list", encoding.TypeList, 3, func(i int) ([]byte, []byte) { return n(i), n(i) })
	want := map[string]string{
		"int": "int", "notint": "embstr", "emb": "embstr", "raw": "raw", "chunked": "raw",
		"intset": "intset", "bigintset": "hashtable", "strset": "hashtable",
		"lpz": "listpack", "longz": "skiplist", "bigz": "skiplist",
		"lph": "listpack", "longv": "hashtable", "bigh": "hashtable",
		"list": "quicklist",
	}
	run(t, e, 0, func(tx *Txn) error {
		for k, w := range want {
			info, ok, err := tx.Object([]byte(k))
			if err != nil || !ok || info.Encoding != w {
				t.Errorf("OBJECT ENCODING %s = %q %v %v, want %q", k, info.Encoding, ok, err, w)
			}
		}
		if info, _, _ := tx.Object([]byte("int")); info.Int != -123 {
			t.Errorf("int value %d", info.Int)
		}
		return nil
	})
}
