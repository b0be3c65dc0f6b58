package engine

import (
	"bytes"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/stratadb/strata/encoding"
)

func set(tb testing.TB, e *Engine, db int, key string, value []byte, expireAt int64) {
	tb.Helper()
	inTxn(tb, e, db, func(tx *Txn) error {
		_, err := tx.Set([]byte(key), value, SetArgs{ExpireAt: expireAt})
		return err
	})
}

func get(tb testing.TB, e *Engine, db int, key string) ([]byte, bool) {
	tb.Helper()
	var v []byte
	var ok bool
	inTxn(tb, e, db, func(tx *Txn) error {
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
	inTxn(tb, e, db, func(tx *Txn) error { n = tx.DBSize(); return nil })
	return n
}

func metaOf(tb testing.TB, e *Engine, db int, key string) keyState {
	tb.Helper()
	var ks keyState
	inTxn(tb, e, db, func(tx *Txn) error {
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
	inTxn(tb, e, db, func(tx *Txn) error {
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

// ---- lazy expiry and EXPIRE ----

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
	inTxn(t, e, 0, func(tx *Txn) error {
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
		inTxn(t, e, 0, func(tx *Txn) error {
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
	inTxn(t, e, 0, func(tx *Txn) error {
		if ok, _ := tx.Persist([]byte("p")); !ok {
			t.Error("PERSIST p")
		}
		return nil
	})
	if n := rangeLen(t, e, []byte{encoding.TagExpiry}); n != 0 {
		t.Fatalf("%d expiry-index entries left after PERSIST", n)
	}
}

// ---- flush and swap ----

// TestActiveExpiryDeletesUntouchedKeys: keys with a short TTL leave DBSIZE, the counters and
// the expiry index, and their elements leave the disk, without any command touching them.
// TestActiveExpiryDropsStaleEntries: an index entry whose key was flushed or re-expired is
// dropped, and the key's current entry stays right.
// TestDeleteAndOverwriteOfBigValueAreO1: DEL (UNLINK is the same operation) and overwrite of
// a multi-megabyte chunked string write O(1) records, and the sweeper empties the old range.
// TestRenameCopyMoveOfBigCollections: keys owning more than copyInlineLimit elements go
// through the guarded direct copy; the results are equal and nothing is left behind.
// mustDo runs an operation that must succeed and say it did something.
// TestDirectCopyGuardHoldsUntilCommit: the sweeper may run between a direct copy and the
// commit of its Txn; the copy must survive it, and an aborted copy must be collected.
// batchMeta reads key's metadata as the Txn sees it (its own writes included).
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
	inTxn(t, e, 1, func(tx *Txn) error { tx.FlushDB(); return nil })
	want := []KeyspaceStats{{11, 10}, {0, 0}, {11, 10}}
	checkStats(t, e, want)
	if n := rangeLen(t, e, encoding.DBPrefix(nil, encoding.TagSub, e.dbmap[1])); n != 0 {
		t.Fatalf("FLUSHDB left %d subkeys", n)
	}

	// Inside one Txn (MULTI): a write before the flush is dropped, one after it counts.
	inTxn(t, e, 0, func(tx *Txn) error {
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
	inTxn(t, e, 0, func(tx *Txn) error {
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
	inTxn(t, e, 0, func(tx *Txn) error { tx.SwapDB(1, 0); tx.SwapDB(3, 3); return nil })
	if v, _ := get(t, e, 0, "both"); string(v) != "from0" {
		t.Fatalf("after swapping back, db 0 both = %q", v)
	}
}

// ---- KEYS, SCAN filters, RANDOMKEY ----

func keysOf(tb testing.TB, e *Engine, db int, pattern string) []string {
	tb.Helper()
	var out []string
	inTxn(tb, e, db, func(tx *Txn) error {
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
// TestScanSurvivesLostCursors: with a cursor table of one entry and two iterations
// interleaved, every resume position is evicted before it is used; both iterations still
// return every key and end. Keys that share a slot (hash tags) are the hard case.
// TestScanForgedCursors: made-up cursors (unknown tokens, tokens of other slots) never fail,
// never loop, and a full iteration from any cursor returns every key of its slot and after.
// TestScanKeepsKeysPresentThroughout: keys added and deleted during an iteration do not make
// it skip a key present from start to end.
func TestRandomKey(t *testing.T) {
	e := openEngine(t, t.TempDir(), 0)
	randomKey := func() (string, bool) {
		var k []byte
		var ok bool
		inTxn(t, e, 0, func(tx *Txn) error {
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
	inTxn(t, e, 0, func(tx *Txn) error {
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
