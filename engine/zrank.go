package engine

import (
	"bytes"
	"container/list"
	"sort"
	"sync"

	"github.com/stratadb/strata/encoding"
)

// Ranks. A sorted set past rankBuildAt members cuts its positions into buckets of at most
// rankFan members and keeps each bucket's count on disk, in its score range after the members
// (see encoding/rank.go). A ZADD or ZREM changes one bucket, in its own batch: one small write.
// A bucket that grows past rankFan splits at its middle member; one that shrinks below
// rankMinFan merges with a neighbour (and splits again if the two are too many). So a bucket
// key is rewritten a bounded number of times between splits, which matters on an LSM: Pebble
// keeps every version of a key in the memtable until it flushes, and reading a key that every
// write rewrites gets slower and slower (a counted tree with a root updated by every ZADD was
// tried first and measured exactly that).
//
// The sums over buckets come from a rankIndex in memory: the bucket boundaries in order and a
// Fenwick tree over their counts. It is built from one scan of the buckets (about count/48
// keys) and cached in the engine, keyed by the set's version and checked against the
// generation the set's metadata carries, which every change to the buckets renews. A writer
// holds the key's write lock, updates the cached index in place with its writes, and records
// the new generation in the metadata it writes; if the command dies or its batch fails, the
// index's generation no longer matches the disk and the next reader rebuilds it.
//
// ZRANK is then a binary search over the boundaries, a Fenwick prefix sum and a scan of at
// most rankFan members; ZRANGE by index the reverse (a Fenwick descent, then a skip inside
// one bucket); ZCOUNT and LIMIT offsets use the same two steps.

const (
	rankFan     = 64              // most members of a bucket
	rankMinFan  = rankFan / 4     // a bucket with fewer merges with a neighbour
	rankFill    = rankFan * 3 / 4 // buckets built in bulk hold about this many
	rankBuildAt = rankFan         // a set gets buckets when it grows past this many members
	// rankSkipScan is the LIMIT offset past which ranges jump with the buckets.
	rankSkipScan = 2 * rankFan
	// rankCacheBudget bounds the memory of the cached indexes; an index bigger than a quarter
	// of it is built for each command instead of cached.
	rankCacheBudget = 64 << 20
)

// rankIndex is the in-memory index over one set's buckets.
type rankIndex struct {
	db      uint16
	key     []byte
	version uint64
	gen     uint64 // 0 while a writer is changing it

	bounds [][]byte // bucket boundaries in order; bounds[0] is empty
	counts []uint64
	tree   []uint64 // Fenwick tree over counts, 1-based
	size   int      // bytes, for the cache budget
}

func (x *rankIndex) rebuildTree() {
	n := len(x.counts)
	if cap(x.tree) < n+1 {
		x.tree = make([]uint64, n+1, n+n/4+1)
	}
	x.tree = x.tree[:n+1]
	clear(x.tree)
	for i, c := range x.counts {
		j := i + 1
		x.tree[j] += c
		if p := j + j&-j; p <= n {
			x.tree[p] += x.tree[j]
		}
	}
	x.size = 64 + 48*len(x.counts)
	for _, b := range x.bounds {
		x.size += len(b)
	}
}

// add changes the count of bucket i by d.
func (x *rankIndex) add(i int, d int64) {
	x.counts[i] = uint64(int64(x.counts[i]) + d)
	for j := i + 1; j < len(x.tree); j += j & -j {
		x.tree[j] = uint64(int64(x.tree[j]) + d)
	}
}

// before is the number of members in buckets [0, i).
func (x *rankIndex) before(i int) uint64 {
	var s uint64
	for j := i; j > 0; j -= j & -j {
		s += x.tree[j]
	}
	return s
}

// find returns the bucket holding pos: the last boundary <= pos.
func (x *rankIndex) find(pos []byte) int {
	return sort.Search(len(x.bounds), func(i int) bool { return bytes.Compare(x.bounds[i], pos) > 0 }) - 1
}

// locate returns the bucket holding the member of rank k and k's offset inside it.
func (x *rankIndex) locate(k uint64) (int, uint64) {
	n := len(x.counts)
	step := 1
	for step*2 <= n {
		step *= 2
	}
	i := 0
	for ; step > 0; step /= 2 {
		if j := i + step; j <= n && x.tree[j] <= k {
			k -= x.tree[j]
			i = j
		}
	}
	return i, k
}

func (x *rankIndex) insertBucket(i int, boundary []byte, count uint64) {
	x.bounds = append(x.bounds, nil)
	copy(x.bounds[i+1:], x.bounds[i:])
	x.bounds[i] = boundary
	x.counts = append(x.counts, 0)
	copy(x.counts[i+1:], x.counts[i:])
	x.counts[i] = count
	x.rebuildTree()
}

func (x *rankIndex) removeBucket(i int) {
	x.bounds = append(x.bounds[:i], x.bounds[i+1:]...)
	x.counts = append(x.counts[:i], x.counts[i+1:]...)
	x.rebuildTree()
}

// rankCache holds the indexes of recently used sets, least recently used first out.
type rankCache struct {
	mu    sync.Mutex
	byVer map[uint64]*list.Element
	lru   list.List
	bytes int
}

func (c *rankCache) get(db uint16, key []byte, version uint64) *rankIndex {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byVer[version]
	if !ok {
		return nil
	}
	x := el.Value.(*rankIndex)
	if x.db != db || !bytes.Equal(x.key, key) {
		return nil
	}
	c.lru.MoveToFront(el)
	return x
}

// put caches x (again, after a change of its size), evicting the least recently used.
func (c *rankCache) put(x *rankIndex) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byVer == nil {
		c.byVer = make(map[uint64]*list.Element)
	}
	if el, ok := c.byVer[x.version]; ok {
		c.bytes -= el.Value.(*rankIndex).size
		c.lru.Remove(el)
		delete(c.byVer, x.version)
	}
	if x.size > rankCacheBudget/4 {
		return
	}
	c.byVer[x.version] = c.lru.PushFront(x)
	c.bytes += x.size
	for c.bytes > rankCacheBudget {
		el := c.lru.Back()
		old := el.Value.(*rankIndex)
		c.lru.Remove(el)
		delete(c.byVer, old.version)
		c.bytes -= old.size
	}
}

// ---- the set's side ----

func (z *zset) bucketKey(dst, boundary []byte) []byte {
	return append(append(dst, z.rkp...), boundary...)
}

func (z *zset) putBucket(boundary []byte, count uint64) {
	z.kbuf = z.bucketKey(z.kbuf[:0], boundary)
	z.vbuf = encoding.AppendRankValue(z.vbuf[:0], count)
	z.set(z.kbuf, z.vbuf)
}

// index returns the set's current rank index, from the cache or built from its buckets.
func (z *zset) index() (*rankIndex, error) {
	if z.idx != nil {
		return z.idx, nil
	}
	c := &z.t.e.ranks
	if x := c.get(z.t.db, z.key, z.meta.Version); x != nil && x.gen == z.rank.Gen {
		z.idx = x
		return x, nil
	}
	x := &rankIndex{db: z.t.db, key: append([]byte(nil), z.key...), version: z.meta.Version, gen: z.rank.Gen}
	it, err := z.iter()
	if err != nil {
		return nil, err
	}
	var total uint64
	for it.SeekGE(z.rkp); it.Valid(); it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, err
		}
		n, err := encoding.DecodeRankValue(v)
		if err != nil {
			return nil, corruptf("rank bucket of %q", z.key)
		}
		x.bounds = append(x.bounds, append([]byte(nil), it.Key()[len(z.rkp):]...))
		x.counts = append(x.counts, n)
		total += n
	}
	if err := it.Error(); err != nil {
		return nil, err
	}
	if len(x.bounds) == 0 || len(x.bounds[0]) != 0 || total != z.meta.Count {
		return nil, corruptf("rank buckets of %q count %d members in %d buckets, the metadata %d",
			z.key, total, len(x.bounds), z.meta.Count)
	}
	x.rebuildTree()
	c.put(x)
	z.idx = x
	return x, nil
}

// changing returns the index for a change: until the command records the new generation in
// finish, the index matches no generation, so a command that dies halfway leaves it unused.
func (z *zset) changing() (*rankIndex, error) {
	x, err := z.index()
	if err == nil {
		x.gen = 0
		z.rankDirty = true
	}
	return x, err
}

// rankFinish gives the buckets a new generation, recorded in the metadata finish writes and in
// the index.
func (z *zset) rankFinish() {
	if !z.rankDirty {
		return
	}
	z.rank.Gen = z.t.e.newVersion()
	z.idx.gen = z.rank.Gen
	z.t.e.ranks.put(z.idx)
}

// rankInsert counts a new member at pos (already in the score range).
func (z *zset) rankInsert(pos []byte) error {
	x, err := z.changing()
	if err != nil {
		return err
	}
	i := x.find(pos)
	x.add(i, 1)
	if x.counts[i] <= rankFan {
		z.putBucket(x.bounds[i], x.counts[i])
		return nil
	}
	return z.split(x, i)
}

// split cuts bucket i at its middle member.
func (z *zset) split(x *rankIndex, i int) error {
	half := x.counts[i] / 2
	it, err := z.seekPos(x.bounds[i], true)
	if err != nil {
		return err
	}
	for k := uint64(0); k < half; k++ {
		it.Next()
	}
	pos, ok := z.current(it)
	if !ok {
		return corruptf("rank bucket of %q holds fewer members than counted", z.key)
	}
	right := x.counts[i] - half
	boundary := append([]byte(nil), pos...)
	x.add(i, -int64(right))
	x.insertBucket(i+1, boundary, right)
	z.putBucket(x.bounds[i], half)
	z.putBucket(boundary, right)
	return nil
}

// rankDelete uncounts the member at pos (already gone from the score range).
func (z *zset) rankDelete(pos []byte) error {
	x, err := z.changing()
	if err != nil {
		return err
	}
	i := x.find(pos)
	x.add(i, -1)
	if x.counts[i] >= rankMinFan || len(x.counts) == 1 {
		z.putBucket(x.bounds[i], x.counts[i])
		return nil
	}
	// Merge with the next bucket, or the previous one for the last.
	j := i + 1
	if j == len(x.counts) {
		i, j = i-1, i
	}
	total := x.counts[i] + x.counts[j]
	z.kbuf = z.bucketKey(z.kbuf[:0], x.bounds[j])
	z.del(z.kbuf)
	x.add(i, int64(x.counts[j]))
	x.removeBucket(j)
	z.putBucket(x.bounds[i], total)
	if total > rankFan {
		return z.split(x, i)
	}
	return nil
}

// rankBefore is the number of members whose position is below pos.
func (z *zset) rankBefore(pos []byte) (uint64, error) {
	lo := encoding.ScoreMin
	var acc uint64
	if z.rank.Ranked {
		x, err := z.index()
		if err != nil {
			return 0, err
		}
		i := x.find(pos)
		acc = x.before(i)
		if i > 0 {
			lo = x.bounds[i]
		}
	}
	it, err := z.seekPos(lo, true)
	if err != nil {
		return 0, err
	}
	err = z.walk(it, true, func(p []byte) (bool, error) {
		if bytes.Compare(p, pos) >= 0 {
			return false, nil
		}
		acc++
		return true, nil
	})
	return acc, err
}

// seekRank positions the iterator at the member of rank k (0 <= k < count).
func (z *zset) seekRank(k int64) (*pebbleIter, error) {
	lo := encoding.ScoreMin
	rem := uint64(k)
	if z.rank.Ranked {
		x, err := z.index()
		if err != nil {
			return nil, err
		}
		var i int
		i, rem = x.locate(rem)
		if i >= len(x.bounds) {
			return nil, corruptf("rank %d is past the buckets of %q", k, z.key)
		}
		if i > 0 {
			lo = x.bounds[i]
		}
	}
	it, err := z.seekPos(lo, true)
	if err != nil {
		return nil, err
	}
	for ; rem > 0; rem-- {
		it.Next()
	}
	return it, nil
}

// rankBuild gives a set that outgrew rankBuildAt its buckets, from one scan of its members.
func (z *zset) rankBuild() error {
	it, err := z.seekPos(encoding.ScoreMin, true)
	if err != nil {
		return err
	}
	var positions [][]byte
	err = z.walk(it, true, func(pos []byte) (bool, error) {
		positions = append(positions, append([]byte(nil), pos...))
		return true, nil
	})
	if err != nil {
		return err
	}
	if uint64(len(positions)) != z.meta.Count {
		return corruptf("sorted set %q holds %d members, its metadata says %d", z.key, len(positions), z.meta.Count)
	}
	z.rankWrite(len(positions), func(i int) []byte { return positions[i] })
	return nil
}

// rankWrite cuts n members in order (posAt gives the position of the i-th) into buckets of
// about rankFill, as even as possible, and writes them and their index.
func (z *zset) rankWrite(n int, posAt func(i int) []byte) {
	k := max(1, (n+rankFill-1)/rankFill)
	x := &rankIndex{db: z.t.db, key: append([]byte(nil), z.key...), version: z.meta.Version}
	at := 0
	for b := 0; b < k; b++ {
		c := n / k
		if b < n%k {
			c++
		}
		var boundary []byte
		if b > 0 {
			boundary = append([]byte(nil), posAt(at)...)
		}
		x.bounds = append(x.bounds, boundary)
		x.counts = append(x.counts, uint64(c))
		z.putBucket(boundary, uint64(c))
		at += c
	}
	x.rebuildTree()
	z.idx = x
	z.rank.Ranked = true
	z.rankDirty = true
}
