package engine

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/stratadb/strata/encoding"
)

// LockMode says what a command holds while it runs.
type LockMode uint8

const (
	// LockRead: the shared latch and read locks on the command's key stripes.
	LockRead LockMode = iota
	// LockWrite: the shared latch and write locks on the command's key stripes.
	LockWrite
	// LockGlobal: the latch exclusively; nothing else runs (FLUSHALL, SWAPDB ...).
	LockGlobal
)

// Txn is the context of one command, one MULTI/EXEC block or one script: the locks it holds,
// the time it runs at, and the Pebble batch its writes gather in. A connection owns one Txn
// and reuses it, so the hot path allocates nothing per command.
//
// Every read of a key goes through lookup and every change through putMeta/deleteKey: the one
// read path and the one write path, where the hot tier sits. Writes gather in an indexed batch
// so that a later read in the same Txn sees them (HSET h f 1 f 2, MULTI blocks), and are
// committed as one batch: the change is atomic on disk as it is to other clients.
type Txn struct {
	e       *Engine
	ldb     int       // logical database
	db      uint16    // its physical id
	now     int64     // unix ms, fixed for the whole Txn as Redis fixes it per command
	clock   time.Time // when Lock took the keys (now is its unix ms)
	mode    LockMode
	locked  bool
	stripes []uint32
	batch   *pebble.Batch

	arena    []byte // values read by this Txn; reset when it ends
	kbuf     []byte // scratch for one Pebble key
	vbuf     []byte // scratch for one Pebble value
	cbuf     []byte // scratch for a value's compressed form
	chunkBuf []byte // scratch for a chunk decompressed
	deltas   []countDelta
	touched  []dbKey
	expired  []dbKey

	// The hot tier follows the batch: metadata changes are applied to it after the batch
	// commits, in order (cacheOps), and a flush in the Txn clears it at commit (clearCache).
	// Until then the Txn reads its own changes through the batch, never the tier.
	noTouch    bool // look keys up without recording an access (Redis's LOOKUP_NOTOUCH)
	cacheOps   []cacheOp
	changed    map[string]struct{} // the keys of cacheOps, once there are many
	clearCache bool
	clearAll   bool     // FLUSHALL ran in the Txn
	clearDBs   []uint16 // the physical databases FLUSHDB emptied
	guards     []uint64 // sweep-queue guards of direct copies, released when the Txn ends
	reads      int      // Pebble point reads and iterators opened since Begin (tests count them)
	steps      int      // internal steps (tombstones too) of the iterators closeIter closed since Begin (tests count them)
	owner      any      // what the layer above attached (SetOwner)

	// snap, when set, makes this a read-only Txn over a Pebble snapshot (export.go): reads go
	// to the snapshot and bypass the hot tier.
	snap *pebble.Snapshot

	// With deferred durability (DeferDurability), Commit returns once the batch is applied and
	// visible; its log write (and fsync under appendfsync always) is awaited by WaitDurable,
	// which a connection calls once before it writes the replies of a pipelined burst. The
	// batches wait in unsynced until then.
	deferDurable bool
	unsynced     []*pebble.Batch
}

// maxUnsynced bounds the batches a Txn keeps awaiting their log write: a longer pipeline
// waits every maxUnsynced commands (by then the first of them are long written).
const maxUnsynced = 64

// cacheOp is a metadata change for the hot tier: a new value, or a removal (val == nil).
type cacheOp struct {
	key      []byte // the metadata key, in the Txn's arena
	val      []byte
	volatile bool
}

type countDelta struct {
	db            uint16
	keys, expires int64
}

type dbKey struct {
	db      int
	key     []byte
	created bool // the key had no live value before this write
}

// NewTxn returns a Txn for one connection (or background task) to reuse.
func (e *Engine) NewTxn() *Txn { return &Txn{e: e} }

// Begin prepares the Txn for a command on logical database db. Name its keys with AddKey,
// then call Lock.
func (t *Txn) Begin(db int, mode LockMode) {
	t.ldb = db
	t.mode = mode
	t.stripes = t.stripes[:0]
	t.reads = 0
	t.steps = 0
}

// AddKey adds a key the command will touch, in any database.
func (t *Txn) AddKey(key []byte) {
	t.stripes = addStripe(t.stripes, t.e.locks.stripeOf(key))
}

// Lock takes the latch and the key stripes, then reads the clock: the Txn's time (Now, Clock)
// is when it holds its keys, so a wait for a lock never makes it stale. It fails only with
// ErrClosed, once the engine has closed.
func (t *Txn) Lock() error {
	if t.mode == LockGlobal {
		t.e.latch.Lock()
	} else {
		t.e.latch.RLock()
	}
	if t.e.closed {
		if t.mode == LockGlobal {
			t.e.latch.Unlock()
		} else {
			t.e.latch.RUnlock()
		}
		return ErrClosed
	}
	if t.mode != LockGlobal {
		t.e.locks.lock(t.stripes, t.mode == LockWrite)
	}
	t.locked = true
	t.db = t.e.dbmap[t.ldb]
	t.clock = time.Now()
	t.now = t.clock.UnixMilli()
	return nil
}

// Clock is the time Lock read. The server starts a command's duration from it: one clock
// read per command serves both (a GET -P 16 spent 5% of its CPU reading the clock).
func (t *Txn) Clock() time.Time { return t.clock }

// holds reports whether the Txn holds key's stripe. Every key a command touches must be locked
// first; a key outside the lock plan is a wrong key spec in a single command, or an undeclared
// key in a script, which then runs again under the global latch.
func (t *Txn) holds(key []byte) bool {
	s := t.e.locks.stripeOf(key)
	lo, hi := 0, len(t.stripes)
	for lo < hi {
		m := (lo + hi) / 2
		switch {
		case t.stripes[m] == s:
			return true
		case t.stripes[m] < s:
			lo = m + 1
		default:
			hi = m
		}
	}
	return false
}

// NoTouch makes the rest of the command's lookups leave keys' access records alone, as Redis's
// LOOKUP_NOTOUCH does for TYPE, EXISTS, OBJECT and the TTL family.
func (t *Txn) NoTouch() { t.noTouch = true }

// SelectDB switches the logical database of the following operations (SELECT inside MULTI).
func (t *Txn) SelectDB(db int) {
	t.ldb = db
	t.db = t.e.dbmap[db]
}

// DB is the logical database the Txn works on.
func (t *Txn) DB() int { return t.ldb }

// Now is the Txn's time in unix milliseconds.
func (t *Txn) Now() int64 { return t.now }

// Commit writes the Txn's batch (waiting for the durability appendfsync asks for), tells the
// hooks what changed, and releases the locks. A Txn that wrote nothing commits nothing.
func (t *Txn) Commit() error {
	var err error
	if t.batch != nil {
		if !t.batch.Empty() {
			for _, d := range t.deltas {
				if d.keys != 0 {
					t.batch.Merge(countKey(t.kbuf[:0], d.db, countKeys), encodeCount(d.keys), nil)
				}
				if d.expires != 0 {
					t.batch.Merge(countKey(t.kbuf[:0], d.db, countExpires), encodeCount(d.expires), nil)
				}
			}
			if t.deferDurable {
				err = t.e.pdb.ApplyNoSyncWait(t.batch, pebble.Sync)
			} else {
				err = t.batch.Commit(pebble.Sync)
			}
			if err == nil {
				t.e.fs.noteCommit()
				t.applyCache()
				t.publish()
				if t.deferDurable {
					t.unsynced = append(t.unsynced, t.batch)
					t.batch = nil
				}
			} else {
				t.dropCache()
			}
		}
		if t.batch != nil {
			t.batch.Close()
			t.batch = nil
		}
	}
	if h := t.e.opts.Hooks.Committed; h != nil && err == nil {
		h(t)
	}
	t.release()
	if len(t.unsynced) >= maxUnsynced {
		err = errors.Join(err, t.WaitDurable())
	}
	return err
}

// DeferDurability makes Commit return as soon as the batch is applied (and visible to other
// commands), without waiting for the write-ahead log: the caller must call WaitDurable before
// it acknowledges the writes. A connection defers the durability of every command of a
// pipelined burst and waits once, before the burst's replies go out: sixteen pipelined SETs
// then share one log write (one fsync under appendfsync always) instead of waiting for one
// each, and acknowledge exactly what they did before.
//
// What other commands see is unchanged: Pebble makes a batch visible before its log write
// completes whether or not the committer waits for it.
func (t *Txn) DeferDurability(on bool) {
	if !on && len(t.unsynced) > 0 {
		t.WaitDurable()
	}
	t.deferDurable = on
}

// WaitDurable waits until every batch committed with deferred durability is in the
// write-ahead log as appendfsync asks (written; fsynced under always). An error means the log
// failed: the writes must not be acknowledged.
func (t *Txn) WaitDurable() error {
	var first error
	for i, b := range t.unsynced {
		if err := b.SyncWait(); err != nil && first == nil {
			first = err
		}
		b.Close()
		t.unsynced[i] = nil
	}
	t.unsynced = t.unsynced[:0]
	return first
}

// Unsynced reports whether commits are waiting for WaitDurable.
func (t *Txn) Unsynced() bool { return len(t.unsynced) > 0 }

// SetOwner attaches o to the Txn for the Committed hook (the server's client that owns it).
func (t *Txn) SetOwner(o any) { t.owner = o }

// Owner is what SetOwner attached; nil for the engine's own Txns (active expiry).
func (t *Txn) Owner() any { return t.owner }

// EachTouched calls fn for every key the Txn wrote or deleted, in order (a key written twice
// comes twice), with created true when the write gave a key that had no live value one. It
// is only recorded when Hooks.Touched or Hooks.Committed is set; use it from Committed.
func (t *Txn) EachTouched(fn func(db int, key []byte, created bool)) {
	for _, k := range t.touched {
		fn(k.db, k.key, k.created)
	}
}

// EachExpired calls fn for every key the Txn removed because its time had come (active
// expiry, or a write that found the key expired). Use it from Committed.
func (t *Txn) EachExpired(fn func(db int, key []byte)) {
	for _, k := range t.expired {
		fn(k.db, k.key)
	}
}

// Abort drops the Txn's writes and releases its locks.
func (t *Txn) Abort() {
	if t.batch != nil {
		t.batch.Close()
		t.batch = nil
	}
	t.release()
}

func (t *Txn) publish() {
	for _, d := range t.deltas {
		s := &t.e.stats[d.db]
		s.keys.Add(d.keys)
		s.expires.Add(d.expires)
	}
	h := &t.e.opts.Hooks
	if h.Expired != nil {
		for _, k := range t.expired {
			h.Expired(k.db, k.key)
		}
	}
	if h.Touched != nil {
		for _, k := range t.touched {
			h.Touched(k.db, k.key)
		}
	}
}

func (t *Txn) release() {
	if t.locked {
		if t.mode == LockGlobal {
			t.e.latch.Unlock()
		} else {
			t.e.locks.unlock(t.stripes, t.mode == LockWrite)
			t.e.latch.RUnlock()
		}
		t.locked = false
	}
	for _, g := range t.guards {
		t.e.guardEnd(g)
	}
	t.guards = t.guards[:0]
	t.deltas = t.deltas[:0]
	t.touched = t.touched[:0]
	t.expired = t.expired[:0]
	t.cacheOps = t.cacheOps[:0]
	t.changed = nil
	t.clearCache = false
	t.clearAll = false
	t.clearDBs = t.clearDBs[:0]
	t.noTouch = false
	if cap(t.arena) > 1<<20 {
		t.arena = nil // do not pin a huge value read once
	}
	t.arena = t.arena[:0]
}

// keep copies b into the Txn's arena; the copy lives until the Txn ends.
func (t *Txn) keep(b []byte) []byte {
	n := len(t.arena)
	t.arena = append(t.arena, b...)
	return t.arena[n:len(t.arena):len(t.arena)]
}

// ---- the read path ----

// keyState is what lookup found for a key.
type keyState struct {
	meta   encoding.Meta
	exists bool // a record exists, perhaps expired
	live   bool // it exists and its time has not come
}

// lookup reads key's metadata in the current database.
func (t *Txn) lookup(key []byte) (keyState, error) {
	return t.lookupIn(t.db, key)
}

func (t *Txn) lookupIn(db uint16, key []byte) (keyState, error) {
	var ks keyState
	if t.mode != LockGlobal && !t.holds(key) {
		return ks, ErrUndeclaredKey
	}
	t.kbuf = encoding.AppendMetaKey(t.kbuf[:0], db, key)
	v, ok, err := t.readMeta(t.kbuf)
	if err != nil || !ok {
		if err == nil && t.mode == LockRead {
			t.e.keyMisses.Add(1)
		}
		return ks, err
	}
	if err := encoding.DecodeMeta(v, &ks.meta); err != nil {
		return ks, corruptf("metadata of key %q: %v", key, err)
	}
	ks.exists = true
	ks.live = ks.meta.ExpireAt == 0 || ks.meta.ExpireAt > t.now
	if t.mode == LockRead {
		if ks.live {
			t.e.keyHits.Add(1)
		} else {
			t.e.keyMisses.Add(1)
		}
	}
	return ks, nil
}

// readMeta reads a metadata value: from the hot tier when the Txn has not changed the key,
// else from Pebble (through the batch), filling the tier with what it read. Filling under a
// read lock is safe: no writer of that key can run until the lock is released, so what Pebble
// returned is what the tier must hold.
func (t *Txn) readMeta(mk []byte) ([]byte, bool, error) {
	h := t.e.hot
	if t.clearCache || t.snap != nil || t.changedInTxn(mk) {
		return t.getMeta(mk)
	}
	n := len(t.arena)
	get := h.get
	if t.noTouch {
		get = h.peek
	}
	if arena, ok := get(mk, t.arena); ok {
		if len(arena) == n {
			return nil, false, nil // cached as absent
		}
		t.arena = arena
		return t.arena[n:len(t.arena):len(t.arena)], true, nil
	}
	// Read completeness after the miss: had this key been evicted, the loss is already counted.
	// (No writer of the key can run meanwhile: the Txn holds its stripe.)
	if h.complete() {
		return nil, false, nil // every existing key is in the tier: this one does not exist
	}
	v, ok, err := t.getMeta(mk)
	switch {
	case err != nil:
	case !ok:
		h.putAbsent(mk)
	case len(v) >= encoding.MetaHeaderLen:
		volatile := v[3]|v[4]|v[5]|v[6]|v[7]|v[8]|v[9]|v[10] != 0 // the expire-at field
		h.put(mk, v, volatile)
	}
	return v, ok, err
}

// getMeta reads a metadata value through the Txn's batch and returns its plain form (an
// inline string stored compressed is decompressed into the arena; see compress.go).
func (t *Txn) getMeta(mk []byte) ([]byte, bool, error) {
	v, ok, err := t.get(mk)
	if err != nil || !ok {
		return v, ok, err
	}
	var plain []byte
	if t.arena, plain, err = t.e.values.plainMeta(t.arena, v); err != nil {
		return nil, false, corruptf("metadata %q: %v", mk, err)
	}
	return plain, true, nil
}

// changedInTxn says whether the Txn changed metadata key mk (its value is then in the batch).
func (t *Txn) changedInTxn(mk []byte) bool {
	if t.changed != nil {
		_, ok := t.changed[string(mk)]
		return ok
	}
	for i := range t.cacheOps {
		if string(t.cacheOps[i].key) == string(mk) {
			return true
		}
	}
	return false
}

// recordCache notes a metadata change to apply to the hot tier once the batch commits.
func (t *Txn) recordCache(mk, val []byte, volatile bool) {
	op := cacheOp{key: t.keep(mk), volatile: volatile}
	if val != nil {
		op.val = t.keep(val)
	}
	t.cacheOps = append(t.cacheOps, op)
	switch {
	case t.changed != nil:
		t.changed[string(op.key)] = struct{}{}
	case len(t.cacheOps) > 32: // a big MULTI or script: stop scanning the list
		t.changed = make(map[string]struct{}, 2*len(t.cacheOps))
		for _, o := range t.cacheOps {
			t.changed[string(o.key)] = struct{}{}
		}
	}
}

// applyCache brings the hot tier up to date with a committed batch.
func (t *Txn) applyCache() {
	h := t.e.hot
	if t.clearCache {
		if t.clearAll {
			h.clear()
		} else {
			for _, db := range t.clearDBs {
				h.clearDB(db)
			}
		}
	}
	for _, op := range t.cacheOps {
		if op.val == nil {
			h.putAbsent(op.key)
		} else if !h.put(op.key, op.val, op.volatile) {
			h.remove(op.key)
		}
	}
}

// dropCache forgets every key the Txn changed, when its batch could not be committed.
func (t *Txn) dropCache() {
	for _, op := range t.cacheOps {
		t.e.hot.remove(op.key)
	}
}

// get reads one Pebble key through the Txn's batch (so the Txn sees its own writes); the value
// is copied into the arena.
func (t *Txn) get(k []byte) ([]byte, bool, error) {
	var (
		v      []byte
		closer interface{ Close() error }
		err    error
	)
	t.reads++
	switch {
	case t.batch != nil:
		v, closer, err = t.batch.Get(k)
	case t.snap != nil:
		v, closer, err = t.snap.Get(k)
	default:
		v, closer, err = t.e.pdb.Get(k)
	}
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	out := t.keep(v)
	closer.Close()
	return out, true, nil
}

// iter opens an iterator over [lower, upper) that sees the Txn's own writes.
func (t *Txn) iter(lower, upper []byte) (*pebble.Iterator, error) {
	t.reads++
	o := &pebble.IterOptions{LowerBound: lower, UpperBound: upper}
	if t.batch != nil {
		return t.batch.NewIter(o)
	}
	if t.snap != nil {
		return t.snap.NewIter(o)
	}
	return t.e.pdb.NewIter(o)
}

// ---- the write path ----

func (t *Txn) ensureBatch() *pebble.Batch {
	if t.batch == nil {
		if t.mode == LockRead {
			panic("engine: write inside a read-locked command")
		}
		t.batch = t.e.pdb.NewIndexedBatch()
	}
	return t.batch
}

func (t *Txn) set(k, v []byte) { t.ensureBatch().Set(k, v, nil) }
func (t *Txn) del(k []byte)    { t.ensureBatch().Delete(k, nil) }

func (t *Txn) delta(db uint16, keys, expires int64) {
	for i := range t.deltas {
		if t.deltas[i].db == db {
			t.deltas[i].keys += keys
			t.deltas[i].expires += expires
			return
		}
	}
	t.deltas = append(t.deltas, countDelta{db: db, keys: keys, expires: expires})
}

// touch records a changed key for the Touched and Committed hooks (when one is set).
func (t *Txn) touch(db int, key []byte, created bool) {
	if h := &t.e.opts.Hooks; h.Touched != nil || h.Committed != nil {
		t.touched = append(t.touched, dbKey{db: db, key: t.keep(key), created: created})
	}
}

// hasElements says whether a key's metadata owns subkeys that must be swept with it.
func hasElements(m *encoding.Meta) bool {
	if m.Type == encoding.TypeString {
		return m.Flags&encoding.FlagChunked != 0
	}
	return m.Count > 0
}

// putMeta writes key's metadata m in the current database, given what lookup found before
// (old). It keeps the expiry index and the key counts right, and queues the old version's
// elements for the sweeper when m replaces them with a new version.
func (t *Txn) putMeta(key []byte, old *keyState, m *encoding.Meta) {
	t.putMetaIn(t.cur(), key, old, m)
}

func (t *Txn) putMetaIn(d dbRef, key []byte, old *keyState, m *encoding.Meta) {
	db := d.p
	created := !old.live
	t.retire(d, key, old, m)
	if m.Type == encoding.TypeString && m.Flags&encoding.FlagChunked == 0 {
		m.Flags &^= encoding.FlagCodecMask // the value in m is plain; storedMeta decides
	}
	t.vbuf = encoding.AppendMeta(t.vbuf[:0], m)
	t.kbuf = encoding.AppendMetaKey(t.kbuf[:0], db, key)
	// Pebble gets the stored form (an inline string may be compressed), the tier the plain.
	t.set(t.kbuf, t.e.values.storedMeta(t.vbuf, &t.cbuf))
	t.recordCache(t.kbuf, t.vbuf, m.ExpireAt != 0)
	if m.ExpireAt != 0 && (!old.exists || old.meta.ExpireAt != m.ExpireAt) {
		t.kbuf = encoding.AppendExpiryKey(t.kbuf[:0], m.ExpireAt, db, key)
		t.set(t.kbuf, nil)
	}
	var dk, de int64
	if !old.exists {
		dk = 1
	}
	if m.ExpireAt != 0 && (!old.exists || old.meta.ExpireAt == 0) {
		de = 1
	} else if m.ExpireAt == 0 && old.exists && old.meta.ExpireAt != 0 {
		de = -1
	}
	if dk != 0 || de != 0 {
		t.delta(db, dk, de)
	}
	t.touch(d.l, key, created)
	*old = keyState{meta: *m, exists: true, live: m.ExpireAt == 0 || m.ExpireAt > t.now}
}

// deleteKey removes key (as lookup found it) from the current database.
func (t *Txn) deleteKey(key []byte, old *keyState) {
	t.deleteKeyIn(t.cur(), key, old)
}

func (t *Txn) deleteKeyIn(d dbRef, key []byte, old *keyState) {
	if !old.exists {
		return
	}
	db := d.p
	t.retire(d, key, old, nil)
	t.kbuf = encoding.AppendMetaKey(t.kbuf[:0], db, key)
	t.del(t.kbuf)
	t.recordCache(t.kbuf, nil, false)
	var de int64
	if old.meta.ExpireAt != 0 {
		de = -1
	}
	t.delta(db, -1, de)
	t.touch(d.l, key, false)
	*old = keyState{}
}

// retire undoes what the old metadata owned and the new one (nil for a delete) does not: its
// expiry-index entry and, when the version changes, its elements.
func (t *Txn) retire(d dbRef, key []byte, old *keyState, m *encoding.Meta) {
	if !old.exists {
		return
	}
	db := d.p
	if h := &t.e.opts.Hooks; !old.live && (h.Expired != nil || h.Committed != nil) {
		t.expired = append(t.expired, dbKey{db: d.l, key: t.keep(key)})
	}
	if old.meta.ExpireAt != 0 && (m == nil || m.ExpireAt != old.meta.ExpireAt) {
		t.kbuf = encoding.AppendExpiryKey(t.kbuf[:0], old.meta.ExpireAt, db, key)
		t.del(t.kbuf)
	}
	if hasElements(&old.meta) && (m == nil || m.Version != old.meta.Version) {
		t.queueSweep(db, key, old.meta.Version, elementCount(&old.meta))
	}
}

// queueSweep records, in the Txn's batch, that the elements of (db, key, version) are garbage.
// The sweeper removes them in the background, so DEL of a huge collection costs O(1) here.
func (t *Txn) queueSweep(db uint16, key []byte, version, count uint64) {
	k := encoding.AppendInternalKey(nil, recSweep)
	k = binary.BigEndian.AppendUint64(k, t.e.newVersion())
	v := binary.BigEndian.AppendUint16(nil, db)
	v = binary.BigEndian.AppendUint64(v, version)
	v = binary.BigEndian.AppendUint64(v, count)
	v = append(v, key...)
	t.set(k, v)
	select {
	case t.e.sweepWake <- struct{}{}:
	default:
	}
}

// newMeta returns fresh metadata for a key of type typ with a version no key has used.
func (t *Txn) newMeta(typ encoding.Type) encoding.Meta {
	return encoding.Meta{Type: typ, Version: t.e.newVersion()}
}
