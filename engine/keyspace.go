package engine

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"

	"github.com/cockroachdb/pebble/v2"

	"github.com/stratadb/strata/encoding"
)

// dbRef names a database both ways: the logical number clients use and the physical id in keys.
type dbRef struct {
	l int
	p uint16
}

func (t *Txn) cur() dbRef { return dbRef{t.ldb, t.db} }

func (t *Txn) ref(l int) dbRef { return dbRef{l, t.e.dbmap[l]} }

// Exists says whether key holds a live value.
func (t *Txn) Exists(key []byte) (bool, error) {
	ks, err := t.lookup(key)
	return ks.live, err
}

// TypeOf is the type of key, TypeNone when it does not exist.
func (t *Txn) TypeOf(key []byte) (encoding.Type, error) {
	ks, err := t.lookup(key)
	if err != nil || !ks.live {
		return encoding.TypeNone, err
	}
	return ks.meta.Type, nil
}

// Delete removes key and says whether it held a live value. An expired key is removed too
// (as Redis's lazy expiry would) but does not count.
func (t *Txn) Delete(key []byte) (bool, error) {
	ks, err := t.lookup(key)
	if err != nil || !ks.exists {
		return false, err
	}
	live := ks.live
	t.deleteKey(key, &ks)
	return live, nil
}

// Rename moves src's value (and TTL) to dst, replacing dst. With nx it does nothing and says
// false when dst exists. ErrNoSuchKey when src does not exist.
func (t *Txn) Rename(src, dst []byte, nx bool) (bool, error) {
	s, err := t.lookup(src)
	if err != nil {
		return false, err
	}
	if !s.live {
		return false, ErrNoSuchKey
	}
	if bytes.Equal(src, dst) {
		return !nx, nil
	}
	d, err := t.lookup(dst)
	if err != nil {
		return false, err
	}
	if nx && d.live {
		return false, nil
	}
	m := s.meta
	if hasElements(&m) {
		m.Version = t.e.newVersion()
		if err := t.copyElements(t.cur(), src, s.meta.Version, t.cur(), dst, m.Version, elementCount(&s.meta)); err != nil {
			return false, err
		}
	}
	t.putMeta(dst, &d, &m)
	t.deleteKey(src, &s)
	return true, nil
}

// Copy copies src's value (and TTL) to dst in logical database dstDB. Without replace it does
// nothing when dst exists.
func (t *Txn) Copy(src []byte, dstDB int, dst []byte, replace bool) (bool, error) {
	if dstDB == t.ldb && bytes.Equal(src, dst) {
		return false, ErrSameObject
	}
	s, err := t.lookup(src)
	if err != nil || !s.live {
		return false, err
	}
	to := t.ref(dstDB)
	d, err := t.lookupIn(to.p, dst)
	if err != nil {
		return false, err
	}
	if d.live && !replace {
		return false, nil
	}
	m := s.meta
	if hasElements(&m) {
		m.Version = t.e.newVersion()
		if err := t.copyElements(t.cur(), src, s.meta.Version, to, dst, m.Version, elementCount(&s.meta)); err != nil {
			return false, err
		}
	}
	t.putMetaIn(to, dst, &d, &m)
	return true, nil
}

// Move moves key to logical database dstDB unless it exists there.
func (t *Txn) Move(key []byte, dstDB int) (bool, error) {
	if dstDB == t.ldb {
		return false, ErrSameObject
	}
	s, err := t.lookup(key)
	if err != nil || !s.live {
		return false, err
	}
	to := t.ref(dstDB)
	d, err := t.lookupIn(to.p, key)
	if err != nil || d.live {
		return false, err
	}
	m := s.meta
	if hasElements(&m) {
		m.Version = t.e.newVersion()
		if err := t.copyElements(t.cur(), key, s.meta.Version, to, key, m.Version, elementCount(&s.meta)); err != nil {
			return false, err
		}
	}
	t.putMetaIn(to, key, &d, &m)
	t.deleteKey(key, &s)
	return true, nil
}

// elementCount is the number of subkeys a metadata owns (chunks for a chunked string).
func elementCount(m *encoding.Meta) uint64 {
	if m.Type == encoding.TypeString {
		return (m.Count + encoding.ChunkSize - 1) / encoding.ChunkSize
	}
	return m.Count
}

// copyInlineLimit is the number of elements up to which a copy rides in the Txn's own batch.
const copyInlineLimit = 8192

// copyElements copies every subkey and score key of (from, src, srcVer) to (to, dst, dstVer).
//
// A small copy goes into the Txn's batch. A big one would make that batch as big as the
// collection, so it is written straight to Pebble in bounded batches instead: nothing can see
// those elements until the Txn commits metadata pointing at dstVer, and a guard record in the
// sweep queue (removed by the Txn's own batch) makes the sweeper collect a partial copy if the
// process dies first. The sweeper leaves guards of copies still running alone.
func (t *Txn) copyElements(from dbRef, src []byte, srcVer uint64, to dbRef, dst []byte, dstVer uint64, count uint64) error {
	direct := count > copyInlineLimit
	var guard []byte
	var b *pebble.Batch
	if direct {
		seq := t.e.newVersion()
		guard = binary.BigEndian.AppendUint64(encoding.AppendInternalKey(nil, recSweep), seq)
		t.e.guardStart(seq)
		defer t.e.guardEnd(seq)
		v := binary.BigEndian.AppendUint16(nil, to.p)
		v = binary.BigEndian.AppendUint64(v, dstVer)
		v = binary.BigEndian.AppendUint64(v, count)
		v = append(v, dst...)
		if err := t.e.pdb.Set(guard, v, pebble.NoSync); err != nil {
			return err
		}
		b = t.e.pdb.NewBatch()
		defer func() { b.Close() }()
	}
	for _, fam := range []func([]byte, uint16, []byte, uint64) []byte{encoding.AppendSubPrefix, encoding.AppendScorePrefix} {
		srcPrefix := fam(nil, from.p, src, srcVer)
		dstPrefix := fam(nil, to.p, dst, dstVer)
		it, err := t.iter(srcPrefix, encoding.PrefixEnd(nil, srcPrefix))
		if err != nil {
			return err
		}
		for ok := it.First(); ok; ok = it.Next() {
			k := append(t.kbuf[:0], dstPrefix...)
			k = append(k, it.Key()[len(srcPrefix):]...)
			t.kbuf = k
			v, err := it.ValueAndErr()
			if err != nil {
				it.Close()
				return err
			}
			if !direct {
				t.set(k, v)
				continue
			}
			b.Set(k, v, nil)
			if b.Len() > 4<<20 {
				if err := b.Commit(pebble.NoSync); err != nil {
					it.Close()
					return err
				}
				b.Reset()
			}
		}
		if err := it.Close(); err != nil {
			return err
		}
	}
	if direct {
		if err := b.Commit(pebble.NoSync); err != nil {
			return err
		}
		t.del(guard)
	}
	return nil
}

// ExpireFlags are EXPIRE's conditions.
type ExpireFlags uint8

const (
	ExpireNX ExpireFlags = 1 << iota // only when the key has no expiry
	ExpireXX                         // only when it has one
	ExpireGT                         // only when the new time is later (no expiry = never)
	ExpireLT                         // only when the new time is earlier (no expiry = never)
)

// Expire sets key to expire at unix ms at, under the conditions of flags, and says whether it
// did. A time not in the future deletes the key (and still answers true).
func (t *Txn) Expire(key []byte, at int64, flags ExpireFlags) (bool, error) {
	ks, err := t.lookup(key)
	if err != nil || !ks.live {
		return false, err
	}
	cur := ks.meta.ExpireAt
	switch {
	case flags&ExpireNX != 0 && cur != 0,
		flags&ExpireXX != 0 && cur == 0,
		flags&ExpireGT != 0 && (cur == 0 || at <= cur),
		flags&ExpireLT != 0 && cur != 0 && at >= cur:
		return false, nil
	}
	if at <= t.now {
		t.deleteKey(key, &ks)
		return true, nil
	}
	m := ks.meta
	m.ExpireAt = at
	t.putMeta(key, &ks, &m)
	return true, nil
}

// Persist removes key's expiry and says whether it had one.
func (t *Txn) Persist(key []byte) (bool, error) {
	ks, err := t.lookup(key)
	if err != nil || !ks.live || ks.meta.ExpireAt == 0 {
		return false, err
	}
	m := ks.meta
	m.ExpireAt = 0
	t.putMeta(key, &ks, &m)
	return true, nil
}

// ExpireTime is key's expiry in unix ms: -2 when the key does not exist, -1 when it has none.
func (t *Txn) ExpireTime(key []byte) (int64, error) {
	ks, err := t.lookup(key)
	switch {
	case err != nil:
		return 0, err
	case !ks.live:
		return -2, nil
	case ks.meta.ExpireAt == 0:
		return -1, nil
	}
	return ks.meta.ExpireAt, nil
}

// ObjectInfo is what OBJECT reports of a key.
type ObjectInfo struct {
	Type     encoding.Type
	Encoding string
}

// Object describes key for OBJECT ENCODING, false when it does not exist. The encoding names
// are the ones Redis 7.0 would report for a value of this shape, so that clients that branch
// on them keep working.
func (t *Txn) Object(key []byte) (ObjectInfo, bool, error) {
	ks, err := t.lookup(key)
	if err != nil || !ks.live {
		return ObjectInfo{}, false, err
	}
	info := ObjectInfo{Type: ks.meta.Type}
	switch ks.meta.Type {
	case encoding.TypeString:
		info.Encoding = "raw"
		if ks.meta.Flags&encoding.FlagChunked == 0 {
			v := ks.meta.Rest
			if _, ok := parseStrictInt(v); ok && len(v) <= 20 {
				info.Encoding = "int"
			} else if len(v) <= 44 {
				info.Encoding = "embstr"
			}
		}
	case encoding.TypeList:
		info.Encoding = "quicklist"
		if ks.meta.Count <= 128 {
			info.Encoding = "listpack"
		}
	case encoding.TypeSet:
		info.Encoding = "hashtable"
		if ks.meta.Count <= 128 {
			info.Encoding = "listpack"
		}
	case encoding.TypeZSet:
		info.Encoding = "skiplist"
		if ks.meta.Count <= 128 {
			info.Encoding = "listpack"
		}
	case encoding.TypeHash:
		info.Encoding = "hashtable"
		if ks.meta.Count <= 128 {
			info.Encoding = "listpack"
		}
	case encoding.TypeStream:
		info.Encoding = "stream"
	}
	return info, true, nil
}

// ---- whole-keyspace operations ----

// DBSize is the number of keys in the current database (expired keys not yet removed by
// active expiry count, as in Redis).
func (t *Txn) DBSize() int64 { return t.e.stats[t.db].keys.Load() }

// KeyspaceStats is a database's key and expiry counts, for INFO keyspace.
type KeyspaceStats struct {
	Keys, Expires int64
}

// KeyspaceStats returns the counts of logical database db; callers hold any lock or none.
func (e *Engine) KeyspaceStats(db int) KeyspaceStats {
	e.latch.RLock()
	defer e.latch.RUnlock()
	s := &e.stats[e.dbmap[db]]
	return KeyspaceStats{Keys: s.keys.Load(), Expires: s.expires.Load()}
}

func matchAll(p []byte) bool { return len(p) == 1 && p[0] == '*' }

// Keys calls fn with every live key of the current database that matches pattern, from one
// consistent snapshot. fn's key is valid only during the call.
func (t *Txn) Keys(pattern []byte, fn func(key []byte)) error {
	lower := encoding.DBPrefix(nil, encoding.TagMeta, t.db)
	it, err := t.e.pdb.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: encoding.DBPrefixEnd(nil, encoding.TagMeta, t.db)})
	if err != nil {
		return err
	}
	all := matchAll(pattern)
	var m encoding.Meta
	for ok := it.First(); ok; ok = it.Next() {
		_, _, key, err := encoding.DecodeMetaKey(it.Key())
		if err != nil {
			continue
		}
		if !all && !GlobMatch(pattern, key, false) {
			continue
		}
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return err
		}
		if encoding.DecodeMeta(v, &m) != nil || (m.ExpireAt != 0 && m.ExpireAt <= t.now) {
			continue
		}
		fn(key)
	}
	return it.Close()
}

// Scan continues a SCAN from cursor: it visits about count metadata records (at least one
// slot's worth when a slot is bigger) and calls fn with the live ones that match pattern and
// typ (TypeNone = any), then returns the cursor to continue from, 0 when done.
//
// The cursor is token<<14 | slot: the slot where the scan stopped and a token in the cursor
// table naming the exact key. Keys are sorted by slot, so an unknown token (evicted, or a
// cursor the client made up) restarts at the beginning of its slot: keys may repeat, none is
// skipped.
func (t *Txn) Scan(cursor uint64, pattern []byte, count int, typ encoding.Type, fn func(key []byte)) (uint64, error) {
	if count < 1 {
		count = 10
	}
	slot := uint16(cursor & (encoding.SlotCount - 1))
	start := encoding.MetaSlotPrefix(nil, t.db, slot)
	if tok := cursor >> 14; tok != 0 {
		if k, ok := t.e.cursors.load(tok); ok && bytes.HasPrefix(k, start[:3]) {
			start = k
		}
	}
	it, err := t.e.pdb.NewIter(&pebble.IterOptions{LowerBound: start, UpperBound: encoding.DBPrefixEnd(nil, encoding.TagMeta, t.db)})
	if err != nil {
		return 0, err
	}
	all := matchAll(pattern)
	var m encoding.Meta
	seen := 0
	for ok := it.First(); ok; ok = it.Next() {
		if seen >= count {
			// Resume at this key, which was not visited.
			_, slot, _, _ := encoding.DecodeMetaKey(it.Key())
			next := t.e.cursors.save(it.Key())<<14 | uint64(slot)
			return next, it.Close()
		}
		seen++
		_, _, key, err := encoding.DecodeMetaKey(it.Key())
		if err != nil || (!all && !GlobMatch(pattern, key, false)) {
			continue
		}
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return 0, err
		}
		if encoding.DecodeMeta(v, &m) != nil || (m.ExpireAt != 0 && m.ExpireAt <= t.now) {
			continue
		}
		if typ != encoding.TypeNone && m.Type != typ {
			continue
		}
		fn(key)
	}
	return 0, it.Close()
}

// RandomKey returns a random live key of the current database.
func (t *Txn) RandomKey() ([]byte, bool, error) {
	if t.DBSize() == 0 {
		return nil, false, nil
	}
	lower := encoding.DBPrefix(nil, encoding.TagMeta, t.db)
	upper := encoding.DBPrefixEnd(nil, encoding.TagMeta, t.db)
	it, err := t.e.pdb.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, false, err
	}
	defer it.Close()
	var m encoding.Meta
	// Seek to a random slot, then a random step within it; wrap around once.
	startSlot := uint16(rand.IntN(encoding.SlotCount))
	ok := it.SeekGE(encoding.MetaSlotPrefix(nil, t.db, startSlot))
	wrapped := false
	for tries := 0; tries < 1_000_000; tries++ {
		if !ok {
			if wrapped {
				return nil, false, nil
			}
			wrapped = true
			ok = it.First()
			continue
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, false, err
		}
		if encoding.DecodeMeta(v, &m) == nil && (m.ExpireAt == 0 || m.ExpireAt > t.now) {
			_, _, key, _ := encoding.DecodeMetaKey(it.Key())
			return t.keep(key), true, nil
		}
		ok = it.Next()
		if wrapped && ok && bytes.Compare(it.Key(), encoding.MetaSlotPrefix(nil, t.db, startSlot)) >= 0 {
			return nil, false, nil
		}
	}
	return nil, false, nil
}

// FlushDB empties the current database. The Txn must hold LockGlobal.
func (t *Txn) FlushDB() error {
	if err := t.flush([]uint16{t.db}); err != nil {
		return err
	}
	if h := t.e.opts.Hooks.Flushed; h != nil {
		h(t.ldb)
	}
	return nil
}

// FlushAll empties every database. The Txn must hold LockGlobal.
func (t *Txn) FlushAll() error {
	if err := t.flush(t.e.dbmap); err != nil {
		return err
	}
	if h := t.e.opts.Hooks.Flushed; h != nil {
		h(-1)
	}
	return nil
}

// flush drops physical databases' three families with range deletions (O(1) now; the space
// returns with compaction) and zeroes their counters, in one durable batch. Expiry-index
// entries are left for active expiry, which drops entries whose key is gone.
func (t *Txn) flush(dbs []uint16) error {
	if t.mode != LockGlobal {
		panic("engine: flush without the global latch")
	}
	b := t.e.pdb.NewBatch()
	defer b.Close()
	for _, p := range dbs {
		for _, tag := range []byte{encoding.TagMeta, encoding.TagSub, encoding.TagScore} {
			b.DeleteRange(encoding.DBPrefix(nil, tag, p), encoding.DBPrefixEnd(nil, tag, p), nil)
		}
		b.Set(countKey(nil, p, countKeys), encodeCount(0), nil)
		b.Set(countKey(nil, p, countExpires), encodeCount(0), nil)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return err
	}
	for _, p := range dbs {
		t.e.stats[p].keys.Store(0)
		t.e.stats[p].expires.Store(0)
	}
	return nil
}

// SwapDB exchanges logical databases a and b: only the database map changes. The Txn must
// hold LockGlobal.
func (t *Txn) SwapDB(a, b int) error {
	m := t.e.dbmap
	m[a], m[b] = m[b], m[a]
	if err := t.e.pdb.Set(encoding.AppendInternalKey(nil, recDBMap), t.e.encodeDBMap(), pebble.Sync); err != nil {
		m[a], m[b] = m[b], m[a]
		return err
	}
	t.db = m[t.ldb]
	if h := t.e.opts.Hooks.Swapped; h != nil {
		h(a, b)
	}
	return nil
}
