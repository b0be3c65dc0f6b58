package engine

import "math/bits"

// hotIndex is a hot-tier shard's index: a key's 64-bit hash to the ring offset of its entry.
//
// Why not a Go map: a lookup in a map[uint64]uint64 of a million entries touches two cache
// lines that are not in cache, the group's control word and then the slot, before the entry
// itself (a third). In GET -P 16's CPU profile the map probe was 13% of the server's time and
// the entry's first touch 10%: the hot tier's lookup is cache misses. Here the hash and the
// offset sit side by side in one 16-byte slot of an open-addressing table with linear
// probing, so a probe usually touches one line (the next slots are on it too), and the only
// other miss is the entry. Like the map it holds no pointers, so the collector never scans it.
//
// Slots store the offset plus one: a zero slot is empty. A deletion shifts the following
// slots of the probe run back (no tombstones), so lookups never walk deleted slots.
type hotIndex struct {
	slots []hotSlot // a power of two long, never more than three quarters full
	n     int
	shift uint // 64 - log2(len(slots)): home keeps the top bits
}

type hotSlot struct {
	hash uint64
	off  uint64 // ring offset + 1; 0 marks an empty slot
}

const hotIndexMinSlots = 16

func newHotIndex() hotIndex {
	var x hotIndex
	x.allocate(hotIndexMinSlots)
	return x
}

// allocate gives the index n empty slots (a power of two).
func (x *hotIndex) allocate(n int) {
	x.slots = make([]hotSlot, n)
	x.shift = uint(64 - bits.TrailingZeros(uint(n)))
}

// home is the slot where hash's probe run starts. The shard was chosen by the hash's low bits,
// so the position mixes all of them (Fibonacci hashing) rather than reuse those.
func (x *hotIndex) home(hash uint64) uint64 { return (hash * 0x9e3779b97f4a7c15) >> x.shift }

func (x *hotIndex) mask() uint64 { return uint64(len(x.slots) - 1) }

// get returns the offset stored for hash.
func (x *hotIndex) get(hash uint64) (uint64, bool) {
	m := x.mask()
	for i := x.home(hash); ; i = (i + 1) & m {
		s := &x.slots[i]
		if s.off == 0 {
			return 0, false
		}
		if s.hash == hash {
			return s.off - 1, true
		}
	}
}

// set stores off for hash, replacing the offset stored for it before.
func (x *hotIndex) set(hash, off uint64) {
	if (x.n+1)*4 > len(x.slots)*3 {
		x.resize(len(x.slots) * 2)
	}
	m := x.mask()
	for i := x.home(hash); ; i = (i + 1) & m {
		s := &x.slots[i]
		if s.off == 0 {
			s.hash, s.off = hash, off+1
			x.n++
			return
		}
		if s.hash == hash {
			s.off = off + 1
			return
		}
	}
}

// del removes hash's slot, if any, and closes the gap: each later slot of the probe run
// whose home is not between the gap and itself moves back into the gap.
func (x *hotIndex) del(hash uint64) {
	m := x.mask()
	i := x.home(hash)
	for {
		s := &x.slots[i]
		if s.off == 0 {
			return
		}
		if s.hash == hash {
			break
		}
		i = (i + 1) & m
	}
	for j := (i + 1) & m; ; j = (j + 1) & m {
		s := x.slots[j]
		if s.off == 0 {
			break
		}
		k := x.home(s.hash)
		// s may stay at j when its home lies cyclically in (i, j].
		if (i < j && i < k && k <= j) || (i > j && (i < k || k <= j)) {
			continue
		}
		x.slots[i] = s
		i = j
	}
	x.slots[i] = hotSlot{}
	x.n--
}

func (x *hotIndex) len() int { return x.n }

// clear empties the index and gives back its memory.
func (x *hotIndex) clear() { *x = newHotIndex() }

// each calls fn for every stored hash and offset. fn must not change the index.
func (x *hotIndex) each(fn func(hash, off uint64)) {
	for _, s := range x.slots {
		if s.off != 0 {
			fn(s.hash, s.off-1)
		}
	}
}

func (x *hotIndex) resize(n int) {
	old := x.slots
	x.allocate(n)
	m := x.mask()
	for _, s := range old {
		if s.off == 0 {
			continue
		}
		i := x.home(s.hash)
		for x.slots[i].off != 0 {
			i = (i + 1) & m
		}
		x.slots[i] = s
	}
}
