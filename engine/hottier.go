package engine

import (
	"encoding/binary"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// The hot tier keeps recently used metadata values (which carry small strings inline) in memory,
// in front of Pebble, within one byte budget (maxmemory).
//
// Layout, chosen so that ten million cached keys cost the garbage collector nothing: each shard
// stores its entries in a ring of byte segments (no pointers) and indexes them with a table
// from the key's 64-bit hash to the entry's position (hotindex.go: pointer-free, so not scanned
// by the collector, and one cache line per probe). A hash collision can only make two keys
// share an index slot; the entry holds its full key, so a lookup never returns another key's
// value, it misses.
//
//	entry:  klen (2) | vlen (4) | bits (1) | freq (1) | access (4) | 0 (4) | key | value | pad to 16
//	pad:    0 (2)    | length-16 (4) | ...   (fills the end of a segment)
//
// access is the last access in seconds since the tier started (OBJECT IDLETIME); freq the LFU
// counter (OBJECT FREQ).
//
// An entry with no value (vlen 0; a metadata value is never shorter than its header) records
// that the key does not exist: a lookup of a key just deleted, or just looked up in vain, is
// answered without asking Pebble. That matters beyond the saved read: Pebble's memtable keeps
// every version of a key until a flush, and a point read that meets a deletion steps over all
// the key's older versions. A list or sorted set written thousands of times and then emptied
// (a drained queue, redis-benchmark's ZPOPMIN) made every read of the missing key walk them
// all. Absent entries are not keys: they are not counted in Keys, and every policy drops one
// that reaches the head of the ring, without counting an eviction or a loss; noeviction,
// which drops no key, moves the keys in front of them to the tail to reach them, so they never
// make it refuse a write that a tier without them would take.
//
// Entries never straddle a 64 KiB segment, so every access is a plain slice of one segment.
//
// The ring gives an exact memory bound with no fragmentation: new entries are appended at the
// tail; when the ring is full, the oldest entries at the head are examined in turn and either
// evicted or given a second chance (moved to the tail), according to the policy:
//
//	allkeys-lru / volatile-lru   second chance if accessed since the last pass (CLOCK)
//	allkeys-lfu / volatile-lfu   second chance while the logarithmic frequency counter, halved
//	                             at each pass, stays above zero (Redis's LFU counter)
//	allkeys-random / -random     no second chance (FIFO)
//	volatile-ttl                 evicts volatile entries in FIFO order
//	volatile-*                   entries without an expiry are always given a second chance
//	noeviction                   nothing is dropped; a write that needs room is refused
//
// The approximation is the same kind Redis makes (it samples); the policies keep Redis's names.
// Eviction drops only the cached copy: Pebble keeps the data.
type hotTier struct {
	seed     maphash.Seed
	started  time.Time
	now      atomic.Uint32 // seconds since started, advanced by tick (a coarse clock, as Redis's LRU clock)
	shards   []hotShard
	policy   atomic.Int32
	refusing atomic.Bool  // the last put was refused for want of room (OutOfMemory)
	budget   atomic.Int64 // the budget last asked for

	// Completeness: once a warm-up has put every key of the keyspace in the tier, a miss means
	// the key does not exist and Pebble need not be asked. Any loss (an eviction, a refused
	// put, a partial clear) bumps lost; the tier is complete while lost still equals the
	// value completeAt recorded when the warm-up began.
	lost       atomic.Int64
	completeAt atomic.Int64
	hits       atomic.Int64
	misses     atomic.Int64
	evicted    atomic.Int64
	segBytes   int
}

// EvictionPolicy is a maxmemory-policy.
type EvictionPolicy int32

const (
	PolicyAllKeysLRU EvictionPolicy = iota
	PolicyVolatileLRU
	PolicyAllKeysLFU
	PolicyVolatileLFU
	PolicyAllKeysRandom
	PolicyVolatileRandom
	PolicyVolatileTTL
	PolicyNoEviction
)

var policyNames = [...]string{"allkeys-lru", "volatile-lru", "allkeys-lfu", "volatile-lfu",
	"allkeys-random", "volatile-random", "volatile-ttl", "noeviction"}

func (p EvictionPolicy) String() string { return policyNames[p] }

// ParseEvictionPolicy parses a maxmemory-policy name.
func ParseEvictionPolicy(s string) (EvictionPolicy, bool) {
	for i, n := range policyNames {
		if n == s {
			return EvictionPolicy(i), true
		}
	}
	return 0, false
}

func (p EvictionPolicy) volatileOnly() bool {
	return p == PolicyVolatileLRU || p == PolicyVolatileLFU || p == PolicyVolatileRandom || p == PolicyVolatileTTL
}

func (p EvictionPolicy) lfu() bool { return p == PolicyAllKeysLFU || p == PolicyVolatileLFU }

const (
	hotShardCount  = 64
	hotEntryHeader = 16
	bitAccessed    = 1 << 0
	bitVolatile    = 1 << 1
	hotSegment     = 64 << 10
	lfuInitVal     = 5 // Redis's LFU_INIT_VAL: new keys start warm
)

type hotShard struct {
	mu     sync.Mutex
	index  hotIndex // key hash -> absolute ring offset (hotindex.go)
	segs   [][]byte // the ring, allocated one segment at a time up to size
	size   uint64   // ring capacity in bytes
	head   uint64   // absolute offset of the oldest byte
	tail   uint64   // absolute offset where the next entry goes
	live   uint64   // bytes of entries the index points at
	count  int      // entries the index points at, absent ones excluded
	absent int      // absent entries (keys known not to exist) the index points at
	_      [32]byte
}

func newHotTier(budget int64, policy EvictionPolicy) *hotTier {
	h := &hotTier{seed: maphash.MakeSeed(), shards: make([]hotShard, hotShardCount), started: time.Now()}
	h.completeAt.Store(-1)
	h.policy.Store(int32(policy))
	h.resize(budget)
	return h
}

// resize sets the budget. Shrinking drops everything (rare: CONFIG SET maxmemory).
func (h *hotTier) resize(budget int64) {
	h.budget.Store(budget)
	h.loss()
	per := uint64(max(budget, 0)) / hotShardCount &^ (hotEntryHeader - 1)
	for i := range h.shards {
		s := &h.shards[i]
		s.mu.Lock()
		if per < s.size || s.index.slots == nil {
			s.index = newHotIndex()
			s.segs = nil
			s.head, s.tail, s.live, s.count, s.absent = 0, 0, 0, 0, 0
		}
		s.size = per
		s.mu.Unlock()
	}
}

func (h *hotTier) setPolicy(p EvictionPolicy) { h.policy.Store(int32(p)) }

// complete says whether every existing key is in the tier (see completeAt).
func (h *hotTier) complete() bool { return h.completeAt.Load() == h.lost.Load() }

// loss records that an entry of an existing key left the tier, or never got in.
func (h *hotTier) loss() { h.lost.Add(1) }

// clear drops every cached entry (FLUSHALL: every keyspace is then empty, so a complete tier
// stays complete).
func (h *hotTier) clear() {
	for i := range h.shards {
		s := &h.shards[i]
		s.mu.Lock()
		s.index.clear()
		s.head, s.live, s.count, s.absent = s.tail, 0, 0, 0
		s.mu.Unlock()
	}
}

// clearDB drops the entries of physical database db (FLUSHDB); the others stay, and so does
// completeness. It walks the index: O(entries), as FLUSHDB is O(keys) in Redis.
func (h *hotTier) clearDB(db uint16) {
	for i := range h.shards {
		s := &h.shards[i]
		s.mu.Lock()
		var drop []hotSlot // the index cannot change while each walks it
		s.index.each(func(hash, off uint64) {
			e := s.bytesAt(off, hotEntryHeader)
			klen := int(binary.BigEndian.Uint16(e))
			if k := s.bytesAt(off+hotEntryHeader, klen); klen >= 3 && uint16(k[1])<<8|uint16(k[2]) == db {
				drop = append(drop, hotSlot{hash, off})
			}
		})
		for _, d := range drop {
			s.forget(d.hash, d.off)
		}
		s.mu.Unlock()
	}
}

func (h *hotTier) shardOf(hash uint64) *hotShard { return &h.shards[hash%hotShardCount] }

// get appends the cached value of metaKey to dst and records the access (LRU bit, LFU
// counter, access clock) unless peek is set.
// An absent entry answers true with nothing appended to dst.
func (h *hotTier) get(metaKey, dst []byte) ([]byte, bool) { return h.lookup(metaKey, dst, false) }

// peek is get without recording the access (Redis's LOOKUP_NOTOUCH).
func (h *hotTier) peek(metaKey, dst []byte) ([]byte, bool) { return h.lookup(metaKey, dst, true) }

func (h *hotTier) lookup(metaKey, dst []byte, peek bool) ([]byte, bool) {
	hash := maphash.Bytes(h.seed, metaKey)
	s := h.shardOf(hash)
	s.mu.Lock()
	off, ok := s.index.get(hash)
	if ok {
		e := s.bytesAt(off, hotEntryHeader)
		klen := int(binary.BigEndian.Uint16(e))
		vlen := int(binary.BigEndian.Uint32(e[2:]))
		k := s.bytesAt(off+hotEntryHeader, klen)
		if string(k) == string(metaKey) {
			if !peek {
				e[6] |= bitAccessed
				binary.BigEndian.PutUint32(e[8:], h.clock())
				if e[7] < 255 && lfuShouldIncr(e[7], hash^uint64(s.tail)) {
					e[7]++
				}
			}
			dst = append(dst, s.bytesAt(off+hotEntryHeader+uint64(klen), vlen)...)
			s.mu.Unlock()
			h.hits.Add(1)
			return dst, true
		}
	}
	s.mu.Unlock()
	h.misses.Add(1)
	return dst, false
}

// lfuShouldIncr is Redis's LFULogIncr decision: the counter grows with probability
// 1/((counter-LFU_INIT_VAL)*lfu-log-factor+1), factor 10; r supplies the randomness.
func lfuShouldIncr(counter byte, r uint64) bool {
	base := float64(int(counter) - lfuInitVal)
	if base < 0 {
		base = 0
	}
	p := 1.0 / (base*10 + 1)
	r ^= r >> 33
	r *= 0xff51afd7ed558ccd
	r ^= r >> 33
	return float64(r>>11)/(1<<53) < p
}

// putAbsent records that metaKey does not exist (replacing any older copy). It fails quietly:
// an absent entry that finds no room is no loss, and refuses no write.
func (h *hotTier) putAbsent(metaKey []byte) {
	hash := maphash.Bytes(h.seed, metaKey)
	s := h.shardOf(hash)
	need := entrySize(len(metaKey), 0)
	s.mu.Lock()
	defer s.mu.Unlock()
	if off, ok := s.index.get(hash); ok {
		s.forget(hash, off)
	}
	// A complete tier answers every miss already; there an absent entry would only take room
	// from keys.
	if h.complete() || need > s.size/4 || !h.makeRoom(s, need) {
		return
	}
	off := s.alloc(need)
	e := s.bytesAt(off, int(need))
	binary.BigEndian.PutUint16(e, uint16(len(metaKey)))
	binary.BigEndian.PutUint32(e[2:], 0)
	e[6], e[7] = 0, 0
	binary.BigEndian.PutUint32(e[8:], 0)
	binary.BigEndian.PutUint32(e[12:], 0)
	copy(e[hotEntryHeader:], metaKey)
	s.index.set(hash, off)
	s.live += need
	s.absent++
}

// put caches value (never empty: see putAbsent) for metaKey, replacing any older copy. It
// reports false when the entry could not be stored: too big, or the policy forbids making room.
func (h *hotTier) put(metaKey, value []byte, volatile bool) bool {
	hash := maphash.Bytes(h.seed, metaKey)
	s := h.shardOf(hash)
	need := entrySize(len(metaKey), len(value))
	s.mu.Lock()
	defer s.mu.Unlock()
	if off, ok := s.index.get(hash); ok {
		s.forget(hash, off)
	}
	if need > hotSegment || need > s.size/4 {
		h.loss()
		return false
	}
	if !h.makeRoom(s, need) {
		h.refusing.Store(true)
		h.loss()
		return false
	}
	if h.refusing.Load() {
		h.refusing.Store(false)
	}
	off := s.alloc(need)
	e := s.bytesAt(off, int(need))
	binary.BigEndian.PutUint16(e, uint16(len(metaKey)))
	binary.BigEndian.PutUint32(e[2:], uint32(len(value)))
	e[6] = 0
	if volatile {
		e[6] = bitVolatile
	}
	e[7] = lfuInitVal
	binary.BigEndian.PutUint32(e[8:], h.clock())
	binary.BigEndian.PutUint32(e[12:], 0)
	copy(e[hotEntryHeader:], metaKey)
	copy(e[hotEntryHeader+len(metaKey):], value)
	s.index.set(hash, off)
	s.live += need
	s.count++
	return true
}

// entrySize is an entry's size in the ring, rounded up to the header size so that the space
// left in a segment is always 0 or enough for a pad header.
func entrySize(klen, vlen int) uint64 {
	return (uint64(hotEntryHeader+klen+vlen) + hotEntryHeader - 1) &^ (hotEntryHeader - 1)
}

func (h *hotTier) clock() uint32 { return h.now.Load() }

// tick advances the coarse clock; the engine calls it from a background loop.
func (h *hotTier) tick() { h.now.Store(uint32(time.Since(h.started) / time.Second)) }

// access reports how long ago metaKey was last read or written and its LFU counter; false when
// it is not cached.
func (h *hotTier) access(metaKey []byte) (idle time.Duration, freq byte, ok bool) {
	hash := maphash.Bytes(h.seed, metaKey)
	s := h.shardOf(hash)
	s.mu.Lock()
	defer s.mu.Unlock()
	off, ok := s.index.get(hash)
	if !ok {
		return 0, 0, false
	}
	e := s.bytesAt(off, hotEntryHeader)
	klen := int(binary.BigEndian.Uint16(e))
	if string(s.bytesAt(off+hotEntryHeader, klen)) != string(metaKey) || binary.BigEndian.Uint32(e[2:]) == 0 {
		return 0, 0, false // not cached, or cached as absent
	}
	secs := h.clock() - binary.BigEndian.Uint32(e[8:])
	return time.Duration(secs) * time.Second, e[7], true
}

// remove drops metaKey's cached copy.
func (h *hotTier) remove(metaKey []byte) {
	hash := maphash.Bytes(h.seed, metaKey)
	s := h.shardOf(hash)
	s.mu.Lock()
	if off, ok := s.index.get(hash); ok {
		s.forget(hash, off)
	}
	s.mu.Unlock()
}

func (s *hotShard) forget(hash, off uint64) {
	e := s.bytesAt(off, hotEntryHeader)
	s.index.del(hash)
	vlen := int(binary.BigEndian.Uint32(e[2:]))
	s.live -= entrySize(int(binary.BigEndian.Uint16(e)), vlen)
	if vlen == 0 {
		s.absent--
	} else {
		s.count--
	}
}

// padBefore is the padding needed at the tail so that n bytes do not straddle a segment.
func (s *hotShard) padBefore(n uint64) uint64 {
	pos := s.tail % s.size
	left := s.segLen(int(pos/hotSegment)) - pos%hotSegment
	if n > left {
		return left
	}
	return 0
}

func (s *hotShard) segLen(seg int) uint64 {
	return min(hotSegment, s.size-uint64(seg)*hotSegment)
}

// makeRoom advances the head until need bytes (and any padding) fit, evicting or re-queueing
// entries by policy.
func (h *hotTier) makeRoom(s *hotShard, need uint64) bool {
	policy := EvictionPolicy(h.policy.Load())
	// A second chance moves an entry to the tail; bound the work so that a ring full of hot
	// entries still makes progress: after about one lap, evict regardless.
	budget := s.size
	for s.tail+s.padBefore(need)+need-s.head > s.size {
		if s.head == s.tail {
			return false
		}
		off := s.head
		e := s.bytesAt(off, hotEntryHeader)
		klen := int(binary.BigEndian.Uint16(e))
		n := entrySize(klen, int(binary.BigEndian.Uint32(e[2:])))
		var hash uint64
		isLive := false
		if klen > 0 {
			hash = maphash.Bytes(h.seed, s.bytesAt(off+hotEntryHeader, klen))
			cur, ok := s.index.get(hash)
			isLive = ok && cur == off
		}
		if !isLive {
			s.head += n // a pad, or an overwritten or removed entry
			continue
		}
		if binary.BigEndian.Uint32(e[2:]) == 0 {
			// An absent entry: dropped under any policy, and no key is lost.
			s.index.del(hash)
			s.live -= n
			s.absent--
			s.head += n
			continue
		}
		volatile := e[6]&bitVolatile != 0
		keep := false
		switch {
		case policy == PolicyNoEviction:
			// No key is dropped. One is moved to the tail only to reach the absent entries
			// behind it, which make room.
			if s.absent == 0 || budget < n || s.tail+s.padBefore(n)-s.head > s.size {
				return false
			}
			keep = true
		case policy.volatileOnly() && !volatile:
			if budget < n {
				return false // nothing volatile left to evict: Redis refuses the write
			}
			keep = true
		case budget < n:
		case policy.lfu():
			e[7] /= 2
			keep = e[7] > 0
		case policy == PolicyAllKeysLRU || policy == PolicyVolatileLRU:
			keep = e[6]&bitAccessed != 0
			e[6] &^= bitAccessed
		}
		if keep {
			budget -= n
			s.head += n
			if s.tail+s.padBefore(n)+n-s.head > s.size {
				// The entry's own space is needed to move it: the ring is too full of pads.
				s.index.del(hash)
				s.live -= n
				s.count--
				h.evicted.Add(1)
				h.loss()
				continue
			}
			newOff := s.alloc(n)
			copy(s.bytesAt(newOff, int(n)), s.bytesAt(off, int(n)))
			s.index.set(hash, newOff)
			continue
		}
		s.index.del(hash)
		s.live -= n
		s.count--
		s.head += n
		h.evicted.Add(1)
		h.loss()
	}
	return true
}

// alloc reserves n contiguous bytes at the tail (writing a pad record over the end of a
// segment that cannot hold them) and returns their absolute offset. The caller made room.
func (s *hotShard) alloc(n uint64) uint64 {
	if pad := s.padBefore(n); pad > 0 {
		p := s.bytesAt(s.tail, int(pad))
		binary.BigEndian.PutUint16(p, 0)
		binary.BigEndian.PutUint32(p[2:], uint32(pad-hotEntryHeader))
		s.tail += pad
	}
	off := s.tail
	s.tail += n
	return off
}

// bytesAt returns the n bytes at absolute offset off, which never straddle a segment.
func (s *hotShard) bytesAt(off uint64, n int) []byte {
	pos := off % s.size
	seg, in := int(pos/hotSegment), int(pos%hotSegment)
	for len(s.segs) <= seg {
		s.segs = append(s.segs, nil)
	}
	if s.segs[seg] == nil {
		s.segs[seg] = make([]byte, s.segLen(seg))
	}
	return s.segs[seg][in : in+n : in+n]
}

// HotStats are the hot tier's counters for INFO.
type HotStats struct {
	Keys     int64
	Bytes    int64 // bytes of live entries
	Capacity int64 // the budget
	Hits     int64
	Misses   int64
	Evicted  int64
}

func (h *hotTier) stats() HotStats {
	var st HotStats
	for i := range h.shards {
		s := &h.shards[i]
		s.mu.Lock()
		st.Keys += int64(s.count)
		st.Bytes += int64(s.live)
		st.Capacity += int64(s.size)
		s.mu.Unlock()
	}
	st.Hits, st.Misses, st.Evicted = h.hits.Load(), h.misses.Load(), h.evicted.Load()
	return st
}
