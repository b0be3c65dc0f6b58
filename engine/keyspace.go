package engine

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"time"

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
// false when dst exists. ErrNoSuchKey when src does not exist. Renaming a key to itself does
// nothing and says !nx, as Redis answers OK to RENAME and 0 to RENAMENX.
//
// Elements live under their key's name, so a collection's elements are copied to dst under a
// new version (and src's version is queued for the sweeper): O(N) where Redis is O(1).
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
	m, err := t.cloneValue(t.cur(), src, &s, t.cur(), dst)
	if err != nil {
		return false, err
	}
	t.putMeta(dst, &d, &m)
	t.deleteKey(src, &s)
	return true, nil
}

// Copy copies src's value (and TTL) to dst in logical database dstDB. Without replace it does
// nothing when dst exists. ErrSameObject when src and dst name the same key.
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
	m, err := t.cloneValue(t.cur(), src, &s, to, dst)
	if err != nil {
		return false, err
	}
	t.putMetaIn(to, dst, &d, &m)
	return true, nil
}

// Move moves key to logical database dstDB unless it exists there. ErrSameObject when dstDB is
// the current database.
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
	m, err := t.cloneValue(t.cur(), key, &s, to, key)
	if err != nil {
		return false, err
	}
	t.putMetaIn(to, key, &d, &m)
	t.deleteKey(key, &s)
	return true, nil
}

// cloneValue returns the metadata of a copy of s (key src in from) stored as dst in to: the
// same value, type and expiry; a value with elements gets them copied under a fresh version.
func (t *Txn) cloneValue(from dbRef, src []byte, s *keyState, to dbRef, dst []byte) (encoding.Meta, error) {
	m := s.meta
	if !hasElements(&m) {
		return m, nil
	}
	m.Version = t.e.newVersion()
	err := t.copyElements(from, src, s.meta.Version, to, dst, m.Version, elementCount(&s.meta))
	return m, err
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
// process dies first. The sweeper leaves guards alone while their Txn runs: the guard is
// released only when the Txn commits (its batch deletes the record with the metadata that
// makes the copy visible) or aborts (the record stays and the sweeper collects the copy).
// Releasing it any earlier would let the sweeper delete the copy under the metadata about
// to point at it.
func (t *Txn) copyElements(from dbRef, src []byte, srcVer uint64, to dbRef, dst []byte, dstVer uint64, count uint64) error {
	direct := count > copyInlineLimit
	var guard []byte
	var b *pebble.Batch
	if direct {
		seq := t.e.newVersion()
		guard = binary.BigEndian.AppendUint64(encoding.AppendInternalKey(nil, recSweep), seq)
		t.e.guardStart(seq)
		t.guards = append(t.guards, seq)
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

// Access reports how long ago key was last read or written and its LFU counter, from the hot
// tier. A key the tier does not hold answers the time since the tier started and counter 0,
// and ok false.
func (t *Txn) Access(key []byte) (idle time.Duration, freq byte, ok bool) {
	mk := encoding.AppendMetaKey(nil, t.db, key)
	if idle, freq, ok = t.e.hot.access(mk); ok {
		return idle, freq, true
	}
	return time.Duration(t.e.hot.clock()) * time.Second, 0, false
}

// ObjectInfo is what OBJECT reports of a key.
type ObjectInfo struct {
	Type     encoding.Type
	Encoding string
	// Int is the value of a string Redis would store as an integer (Encoding "int").
	Int int64
}

// Redis 7.0's default conversion thresholds between the compact and the big encodings
// (set-max-intset-entries, zset-max-listpack-*, hash-max-listpack-*).
const (
	setMaxIntsetEntries    = 512
	zsetMaxListpackEntries = 128
	zsetMaxListpackValue   = 64
	hashMaxListpackEntries = 128
	hashMaxListpackValue   = 64
	embstrSizeLimit        = 44
)

// Object describes key for OBJECT ENCODING, false when it does not exist. Strata stores every
// type one way, so the encoding is the name Redis 7.0 would report for a value of this shape
// with the default thresholds, so that clients that branch on it keep working:
//
//	string  "int" (an integer string2l accepts), "embstr" (up to 44 bytes), "raw"
//	list    "quicklist" (7.0 has no listpack lists)
//	set     "intset" (at most 512 members, all integers), "hashtable"
//	zset    "listpack" (at most 128 members, none longer than 64 bytes), "skiplist"
//	hash    "listpack" (at most 128 fields, no field or value longer than 64 bytes), "hashtable"
//	stream  "stream"
//
// Redis never converts a big encoding back to the compact one when elements shrink or go, and
// reports "raw" for strings changed in place (APPEND, SETRANGE); Strata knows only the current
// shape, so it answers the compact name in those cases. Deciding a small set, zset or hash
// reads its elements, at most the threshold's number of them.
func (t *Txn) Object(key []byte) (ObjectInfo, bool, error) {
	ks, err := t.lookup(key)
	if err != nil || !ks.live {
		return ObjectInfo{}, false, err
	}
	m := &ks.meta
	info := ObjectInfo{Type: m.Type}
	switch m.Type {
	case encoding.TypeString:
		info.Encoding = "raw"
		if m.Flags&encoding.FlagChunked == 0 {
			v := m.Rest
			if n, ok := parseStrictInt(v); ok {
				info.Encoding, info.Int = "int", n
			} else if len(v) <= embstrSizeLimit {
				info.Encoding = "embstr"
			}
		}
	case encoding.TypeList:
		info.Encoding = "quicklist"
	case encoding.TypeSet:
		info.Encoding = "hashtable"
		if m.Count <= setMaxIntsetEntries {
			small, err := t.allElements(key, m, func(member, _ []byte) bool {
				_, ok := parseStrictInt(member)
				return ok
			})
			if err != nil {
				return info, false, err
			}
			if small {
				info.Encoding = "intset"
			}
		}
	case encoding.TypeZSet:
		info.Encoding = "skiplist"
		if m.Count <= zsetMaxListpackEntries {
			small, err := t.allElements(key, m, func(member, _ []byte) bool {
				return len(member) <= zsetMaxListpackValue
			})
			if err != nil {
				return info, false, err
			}
			if small {
				info.Encoding = "listpack"
			}
		}
	case encoding.TypeHash:
		info.Encoding = "hashtable"
		if m.Count <= hashMaxListpackEntries {
			small, err := t.allElements(key, m, func(field, value []byte) bool {
				return len(field) <= hashMaxListpackValue && len(value) <= hashMaxListpackValue
			})
			if err != nil {
				return info, false, err
			}
			if small {
				info.Encoding = "listpack"
			}
		}
	case encoding.TypeStream:
		info.Encoding = "stream"
	}
	return info, true, nil
}

// allElements reports whether ok holds for every (member, value) subkey of key's version.
func (t *Txn) allElements(key []byte, m *encoding.Meta, ok func(member, value []byte) bool) (bool, error) {
	prefix := encoding.AppendSubPrefix(nil, t.db, key, m.Version)
	it, err := t.iter(prefix, encoding.PrefixEnd(nil, prefix))
	if err != nil {
		return false, err
	}
	for valid := it.First(); valid; valid = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return false, err
		}
		if !ok(it.Key()[len(prefix):], v) {
			return false, it.Close()
		}
	}
	return true, it.Close()
}

// Touch says whether key holds a live value. It is where TOUCH will refresh a key's access
// time once the hot tier tracks access; until then it only looks the key up.
func (t *Txn) Touch(key []byte) (bool, error) { return t.Exists(key) }

// ---- whole-keyspace operations ----

// DBSize is the number of keys in the current database, this Txn's own changes included.
// Expired keys that active expiry has not removed yet count, as in Redis.
func (t *Txn) DBSize() int64 {
	n := t.e.stats[t.db].keys.Load()
	for _, d := range t.deltas {
		if d.db == t.db {
			n += d.keys
		}
	}
	return n
}

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

// metaIter opens an iterator over the current database's metadata from lower (nil: the
// start), seeing this Txn's own writes.
func (t *Txn) metaIter(lower []byte) (*pebble.Iterator, error) {
	if lower == nil {
		lower = encoding.DBPrefix(nil, encoding.TagMeta, t.db)
	}
	return t.iter(lower, encoding.DBPrefixEnd(nil, encoding.TagMeta, t.db))
}

// liveMeta decodes the metadata under it and says whether it is a live key's.
func (t *Txn) liveMeta(it *pebble.Iterator, m *encoding.Meta) (bool, error) {
	v, err := it.ValueAndErr()
	if err != nil {
		return false, err
	}
	if encoding.DecodeMeta(v, m) != nil {
		return false, nil // corrupt: invisible, as lookup would refuse it
	}
	return m.ExpireAt == 0 || m.ExpireAt > t.now, nil
}

// Keys calls fn with every live key of the current database that matches pattern, from one
// consistent snapshot. fn's key is valid only during the call.
func (t *Txn) Keys(pattern []byte, fn func(key []byte)) error {
	it, err := t.metaIter(nil)
	if err != nil {
		return err
	}
	all := matchAll(pattern)
	var m encoding.Meta
	for ok := it.First(); ok; ok = it.Next() {
		_, _, key, err := encoding.DecodeMetaKey(it.Key())
		if err != nil || (!all && !GlobMatch(pattern, key, false)) {
			continue
		}
		live, err := t.liveMeta(it, &m)
		if err != nil {
			it.Close()
			return err
		}
		if live {
			fn(key)
		}
	}
	return it.Close()
}

// ScanArgs are SCAN's options.
type ScanArgs struct {
	Pattern []byte // nil or "*": every key
	Count   int    // metadata records to visit (not keys to return); < 1 means 10
	Type    []byte // nil: any type; else the type name, compared without case as Redis does
}

// Scan continues a SCAN from cursor: it visits about a.Count metadata records of the current
// database in key order and calls fn with the live ones that match, then returns the cursor
// to continue from, 0 when the iteration is done. fn's key is valid only during the call.
//
// A cursor is token<<14 | slot. Metadata keys sort by slot first, so the slot alone is a
// resume position: "the start of this slot". A stop inside a slot saves the exact key to
// resume at in the engine's cursor table and puts its token in the cursor; a stop at a slot
// boundary needs no token. A token the table no longer holds (evicted by newer iterations),
// or one that names another database or slot (a made-up cursor), resumes at the start of
// the cursor's slot, and that call then visits the whole slot whatever the count: keys of the
// slot may be returned twice, none is skipped, and every call still moves past at least one
// slot, so an iteration always ends.
func (t *Txn) Scan(cursor uint64, a ScanArgs, fn func(key []byte)) (uint64, error) {
	count := a.Count
	if count < 1 {
		count = 10
	}
	slot := uint16(cursor & (encoding.SlotCount - 1))
	start := encoding.MetaSlotPrefix(nil, t.db, slot)
	finishSlot := false
	if tok := cursor >> 14; tok != 0 {
		if k, ok := t.e.cursors.load(tok); ok && bytes.HasPrefix(k, start) {
			start = k
		} else {
			finishSlot = true
		}
	}
	it, err := t.metaIter(start)
	if err != nil {
		return 0, err
	}
	all := a.Pattern == nil || matchAll(a.Pattern)
	var m encoding.Meta
	seen := 0
	prevSlot := -1
	for ok := it.First(); ok; ok = it.Next() {
		_, kslot, key, err := encoding.DecodeMetaKey(it.Key())
		if err != nil {
			continue
		}
		if seen >= count && !(finishSlot && kslot == slot) {
			// Resume at this key, which was not visited.
			next := uint64(kslot)
			if int(kslot) == prevSlot {
				next |= t.e.cursors.save(it.Key()) << 14
			}
			return next, it.Close()
		}
		seen++
		prevSlot = int(kslot)
		if !all && !GlobMatch(a.Pattern, key, false) {
			continue
		}
		live, err := t.liveMeta(it, &m)
		if err != nil {
			it.Close()
			return 0, err
		}
		if !live || (a.Type != nil && !bytes.EqualFold(a.Type, []byte(m.Type.String()))) {
			continue
		}
		fn(key)
	}
	return 0, it.Close()
}

// randomKeyTries bounds how many expired keys RandomKey steps over before it gives up.
const randomKeyTries = 1 << 20

// RandomKey returns a random live key of the current database, false when it has none (also
// when every key in it has expired). It seeks to a random slot and takes the first live key
// from there, wrapping around once.
func (t *Txn) RandomKey() ([]byte, bool, error) {
	if t.DBSize() == 0 {
		return nil, false, nil
	}
	it, err := t.metaIter(nil)
	if err != nil {
		return nil, false, err
	}
	defer it.Close()
	var m encoding.Meta
	startKey := encoding.MetaSlotPrefix(nil, t.db, uint16(rand.IntN(encoding.SlotCount)))
	ok := it.SeekGE(startKey)
	wrapped := false
	for tries := 0; tries < randomKeyTries; tries++ {
		if !ok {
			if wrapped {
				return nil, false, nil
			}
			wrapped = true
			ok = it.First()
			continue
		}
		if wrapped && bytes.Compare(it.Key(), startKey) >= 0 {
			return nil, false, nil // went all the way round
		}
		live, err := t.liveMeta(it, &m)
		if err != nil {
			return nil, false, err
		}
		if live {
			_, _, key, err := encoding.DecodeMetaKey(it.Key())
			if err == nil {
				return t.keep(key), true, nil
			}
		}
		ok = it.Next()
	}
	return nil, false, nil
}

// FlushDB empties the current database. The Txn must hold LockGlobal.
func (t *Txn) FlushDB() {
	t.flush(false)
	if h := t.e.opts.Hooks.Flushed; h != nil {
		h(t.ldb)
	}
}

// FlushAll empties every database. The Txn must hold LockGlobal.
func (t *Txn) FlushAll() {
	t.flush(true)
	if h := t.e.opts.Hooks.Flushed; h != nil {
		h(-1)
	}
}

// flush drops the current database (or all of them) with range deletions in the Txn's batch:
// O(1) now, the space returns with compaction; commands later in the same Txn (MULTI) see the
// empty database and may write again. The counters are brought to zero by deltas, so that
// changes earlier in the Txn are cancelled and later ones count.
//
// FLUSHALL drops the expiry index with everything else. FLUSHDB cannot (the index is ordered
// by time, not database): its entries stay until their time, when active expiry drops an
// entry whose key is gone. Queued sweeps of flushed keys find nothing left to delete.
func (t *Txn) flush(all bool) {
	if t.mode != LockGlobal {
		panic("engine: flush without the global latch")
	}
	b := t.ensureBatch()
	// Changes made earlier in the Txn are gone with the flush; the tier is cleared at commit.
	t.cacheOps = t.cacheOps[:0]
	t.changed = nil
	t.clearCache = true
	t.clearAll = t.clearAll || all
	if !all {
		t.clearDBs = append(t.clearDBs, t.db)
	}
	dbs := []uint16{t.db}
	if all {
		dbs = t.e.dbmap
		// Every family of user data: metadata, subkeys, scores and the expiry index.
		b.DeleteRange([]byte{encoding.TagMeta}, []byte{encoding.TagExpiry + 1}, nil)
	} else {
		for _, tag := range []byte{encoding.TagMeta, encoding.TagSub, encoding.TagScore} {
			b.DeleteRange(encoding.DBPrefix(nil, tag, t.db), encoding.DBPrefixEnd(nil, tag, t.db), nil)
		}
	}
	for _, p := range dbs {
		// The global latch stops every other writer, so the counts cannot move under us.
		keys, expires := t.e.stats[p].keys.Load(), t.e.stats[p].expires.Load()
		for _, d := range t.deltas {
			if d.db == p {
				keys += d.keys
				expires += d.expires
			}
		}
		if keys != 0 || expires != 0 {
			t.delta(p, -keys, -expires)
		}
	}
}

// SwapDB exchanges logical databases a and b: only the database map changes, in memory now
// and on disk with the Txn's batch. The Txn must hold LockGlobal.
func (t *Txn) SwapDB(a, b int) {
	if t.mode != LockGlobal {
		panic("engine: swapdb without the global latch")
	}
	m := t.e.dbmap
	m[a], m[b] = m[b], m[a]
	t.set(encoding.AppendInternalKey(nil, recDBMap), t.e.encodeDBMap())
	t.db = m[t.ldb]
	if h := t.e.opts.Hooks.Swapped; h != nil {
		h(a, b)
	}
}
