package engine

import (
	"bytes"
	"container/list"
	"slices"
	"sort"
	"sync"

	"github.com/cockroachdb/pebble/v2"

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
	// rankCacheBudget bounds the memory of the cached indexes (about 1.6 bytes per member of
	// a ranked set: 64 MiB serves sets of 40 million members); an index bigger than the whole
	// budget is built for each command instead of cached.
	rankCacheBudget = 64 << 20
)

// rankIndex is the in-memory index over one set's buckets: the buckets in order, kept in
// blocks of at most rankBlockMax, and a Fenwick tree over the blocks' member counts. The number
// of members before a bucket is a Fenwick prefix over the blocks plus a sum inside one block; a
// bucket split or merge edits one block, and only a block that splits or empties rebuilds the
// (small) tree over blocks, so a write costs O(rankBlockMax + log blocks) on any size of set.
type rankIndex struct {
	db      uint16
	key     []byte
	version uint64
	gen     uint64 // 0 while a writer is changing it

	blocks []rankBlock
	tree   []uint64 // Fenwick tree over the blocks' sums, 1-based
	size   int      // bytes, for the cache budget
}

// rankBlock is a run of consecutive buckets.
type rankBlock struct {
	bounds [][]byte // the first bound of the first block is empty
	counts []uint64
	sum    uint64
}

// bucketRef names a bucket: block b, j-th bucket in it.
type bucketRef struct{ b, j int }

const rankBlockMax = 256

// appendBucket adds a bucket after all others (building an index in order), filling blocks
// to half so that later splits have room.
func (x *rankIndex) appendBucket(bound []byte, count uint64) {
	if n := len(x.blocks); n == 0 || len(x.blocks[n-1].bounds) >= rankBlockMax/2 {
		x.blocks = append(x.blocks, rankBlock{})
	}
	blk := &x.blocks[len(x.blocks)-1]
	blk.bounds = append(blk.bounds, bound)
	blk.counts = append(blk.counts, count)
	blk.sum += count
}

// rebuild recomputes the tree over the blocks and the size.
func (x *rankIndex) rebuild() {
	n := len(x.blocks)
	x.tree = append(x.tree[:0], make([]uint64, n+1)...)
	x.size = 96 + 48*n
	for i := range x.blocks {
		j := i + 1
		x.tree[j] += x.blocks[i].sum
		if p := j + j&-j; p <= n {
			x.tree[p] += x.tree[j]
		}
		for _, b := range x.blocks[i].bounds {
			x.size += 40 + len(b)
		}
	}
}

func (x *rankIndex) treeAdd(b int, d int64) {
	for j := b + 1; j < len(x.tree); j += j & -j {
		x.tree[j] = uint64(int64(x.tree[j]) + d)
	}
}

// blocksBefore is the number of members in blocks [0, b).
func (x *rankIndex) blocksBefore(b int) uint64 {
	var s uint64
	for j := b; j > 0; j -= j & -j {
		s += x.tree[j]
	}
	return s
}

func (x *rankIndex) bound(r bucketRef) []byte { return x.blocks[r.b].bounds[r.j] }
func (x *rankIndex) count(r bucketRef) uint64 { return x.blocks[r.b].counts[r.j] }

// find returns the bucket holding pos: the last boundary <= pos.
func (x *rankIndex) find(pos []byte) bucketRef {
	b := sort.Search(len(x.blocks), func(i int) bool { return bytes.Compare(x.blocks[i].bounds[0], pos) > 0 }) - 1
	bounds := x.blocks[b].bounds
	j := sort.Search(len(bounds), func(i int) bool { return bytes.Compare(bounds[i], pos) > 0 }) - 1
	return bucketRef{b, j}
}

// before is the number of members in the buckets before r.
func (x *rankIndex) before(r bucketRef) uint64 {
	s := x.blocksBefore(r.b)
	for _, c := range x.blocks[r.b].counts[:r.j] {
		s += c
	}
	return s
}

// add changes the count of bucket r by d.
func (x *rankIndex) add(r bucketRef, d int64) {
	blk := &x.blocks[r.b]
	blk.counts[r.j] = uint64(int64(blk.counts[r.j]) + d)
	blk.sum = uint64(int64(blk.sum) + d)
	x.treeAdd(r.b, d)
}

// locate returns the bucket holding the member of rank k and k's offset inside it; false when
// k is past the last member.
func (x *rankIndex) locate(k uint64) (bucketRef, uint64, bool) {
	n := len(x.blocks)
	step := 1
	for step*2 <= n {
		step *= 2
	}
	b := 0
	for ; step > 0; step /= 2 {
		if j := b + step; j <= n && x.tree[j] <= k {
			k -= x.tree[j]
			b = j
		}
	}
	if b == n {
		return bucketRef{}, 0, false
	}
	for j, c := range x.blocks[b].counts {
		if k < c {
			return bucketRef{b, j}, k, true
		}
		k -= c
	}
	return bucketRef{}, 0, false
}

// next and prev return the neighbouring buckets.
func (x *rankIndex) next(r bucketRef) (bucketRef, bool) {
	switch {
	case r.j+1 < len(x.blocks[r.b].counts):
		return bucketRef{r.b, r.j + 1}, true
	case r.b+1 < len(x.blocks):
		return bucketRef{r.b + 1, 0}, true
	}
	return bucketRef{}, false
}

func (x *rankIndex) prev(r bucketRef) (bucketRef, bool) {
	switch {
	case r.j > 0:
		return bucketRef{r.b, r.j - 1}, true
	case r.b > 0:
		return bucketRef{r.b - 1, len(x.blocks[r.b-1].counts) - 1}, true
	}
	return bucketRef{}, false
}

// insertAfter adds a bucket right after r (never first in its block, so block boundaries
// stay) and returns it; a block that overflows splits in two.
func (x *rankIndex) insertAfter(r bucketRef, bound []byte, count uint64) bucketRef {
	blk := &x.blocks[r.b]
	j := r.j + 1
	blk.bounds = slices.Insert(blk.bounds, j, bound)
	blk.counts = slices.Insert(blk.counts, j, count)
	blk.sum += count
	x.treeAdd(r.b, int64(count))
	x.size += 40 + len(bound)
	if len(blk.bounds) <= rankBlockMax {
		return bucketRef{r.b, j}
	}
	half := len(blk.bounds) / 2
	right := rankBlock{
		bounds: append([][]byte(nil), blk.bounds[half:]...),
		counts: append([]uint64(nil), blk.counts[half:]...),
	}
	for _, c := range right.counts {
		right.sum += c
	}
	blk.bounds, blk.counts, blk.sum = blk.bounds[:half:half], blk.counts[:half:half], blk.sum-right.sum
	x.blocks = slices.Insert(x.blocks, r.b+1, right)
	x.rebuild()
	if j >= half {
		return bucketRef{r.b + 1, j - half}
	}
	return bucketRef{r.b, j}
}

// remove drops bucket r (never the very first one); an emptied block goes.
func (x *rankIndex) remove(r bucketRef) {
	blk := &x.blocks[r.b]
	c := blk.counts[r.j]
	x.size -= 40 + len(blk.bounds[r.j])
	blk.bounds = slices.Delete(blk.bounds, r.j, r.j+1)
	blk.counts = slices.Delete(blk.counts, r.j, r.j+1)
	blk.sum -= c
	x.treeAdd(r.b, -int64(c))
	if len(blk.bounds) == 0 {
		x.blocks = slices.Delete(x.blocks, r.b, r.b+1)
		x.rebuild()
	}
}

// each calls fn with every bucket in order.
func (x *rankIndex) each(fn func(bound []byte, count uint64)) {
	for _, blk := range x.blocks {
		for j, b := range blk.bounds {
			fn(b, blk.counts[j])
		}
	}
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
	if x.size > rankCacheBudget {
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
	it, err := z.t.iter(z.rkp, encoding.PrefixEnd(nil, z.sc)) // the member iterator ends at rkp
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var total uint64
	for it.First(); it.Valid(); it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, err
		}
		n, err := encoding.DecodeRankValue(v)
		if err != nil {
			return nil, corruptf("rank bucket of %q", z.key)
		}
		x.appendBucket(append([]byte(nil), it.Key()[len(z.rkp):]...), n)
		total += n
	}
	if err := it.Error(); err != nil {
		return nil, err
	}
	// The buckets on disk hold the members the set had when the command opened it: an index is
	// built before the command's first rank change, but the member that change is for may
	// already be counted in z.meta (insert and remove count first).
	if len(x.blocks) == 0 || len(x.blocks[0].bounds[0]) != 0 || total != z.ks.meta.Count {
		return nil, corruptf("rank buckets of %q count %d members, the metadata %d", z.key, total, z.ks.meta.Count)
	}
	x.rebuild()
	c.put(x)
	z.idx = x
	return x, nil
}

// indexed loads the rank index of a ranked set before a change to its members: an index
// built from the buckets must be checked against the count they were written with, not one
// the command has already moved (a ZREM or ZADD that is the first command on the set after a
// restart, an eviction or an aborted Txn would read as corrupt).
func (z *zset) indexed() error {
	if !z.rank.Ranked {
		return nil
	}
	_, err := z.index()
	return err
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
	r := x.find(pos)
	x.add(r, 1)
	if x.count(r) <= rankFan {
		z.putBucket(x.bound(r), x.count(r))
		return nil
	}
	return z.split(x, r)
}

// split cuts bucket r at its middle member.
func (z *zset) split(x *rankIndex, r bucketRef) error {
	half := x.count(r) / 2
	it, err := z.seekPos(x.bound(r), true)
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
	right := x.count(r) - half
	boundary := append([]byte(nil), pos...)
	x.add(r, -int64(right))
	z.putBucket(x.bound(r), half)
	x.insertAfter(r, boundary, right)
	z.putBucket(boundary, right)
	return nil
}

// rankDelete uncounts the member at pos (already gone from the score range).
func (z *zset) rankDelete(pos []byte) error {
	x, err := z.changing()
	if err != nil {
		return err
	}
	r := x.find(pos)
	x.add(r, -1)
	return z.settleBucket(x, r)
}

// settleBucket writes bucket r after its count went down, merging it with a neighbour when it
// got too small (and splitting the result again when that is too big).
func (z *zset) settleBucket(x *rankIndex, r bucketRef) error {
	if x.count(r) >= rankMinFan {
		z.putBucket(x.bound(r), x.count(r))
		return nil
	}
	// Merge with the next bucket, or the previous one for the last.
	keep, gone := r, r
	if n, ok := x.next(r); ok {
		gone = n
	} else if p, ok := x.prev(r); ok {
		keep = p
	} else {
		z.putBucket(x.bound(r), x.count(r)) // the only bucket
		return nil
	}
	moved := x.count(gone)
	z.kbuf = z.bucketKey(z.kbuf[:0], x.bound(gone))
	z.del(z.kbuf)
	x.add(keep, int64(moved))
	x.add(gone, -int64(moved))
	x.remove(gone) // keep precedes gone: its reference stays valid
	z.putBucket(x.bound(keep), x.count(keep))
	if x.count(keep) > rankFan {
		return z.split(x, keep)
	}
	return nil
}

// rankDeleteRun uncounts n consecutive members, the first at rank k (all already gone from
// the score range): every bucket they fill entirely goes, the two at the edges shrink.
func (z *zset) rankDeleteRun(first []byte, k, n uint64) error {
	x, err := z.changing()
	if err != nil {
		return err
	}
	r := x.find(first)
	start := x.before(r)
	end := k + n
	for start < end {
		c := x.count(r)
		lo, hi := max(k, start), min(end, start+c)
		take := hi - lo
		next, more := x.next(r)
		var nextBound []byte
		if more {
			nextBound = x.bound(next)
		}
		if take == c && c > 0 && len(x.bound(r)) > 0 {
			z.kbuf = z.bucketKey(z.kbuf[:0], x.bound(r))
			z.del(z.kbuf)
			x.add(r, -int64(c))
			x.remove(r)
		} else {
			x.add(r, -int64(take))
			z.putBucket(x.bound(r), x.count(r))
		}
		start += c
		if !more {
			break
		}
		r = x.find(nextBound)
	}
	// At most the buckets on both sides of the hole are too small now.
	for i := 0; i < 3; i++ {
		r := x.find(first)
		if x.count(r) < rankMinFan {
			if err := z.settleBucket(x, r); err != nil {
				return err
			}
		}
		if n, ok := x.next(x.find(first)); ok && x.count(n) < rankMinFan {
			if err := z.settleBucket(x, n); err != nil {
				return err
			}
		}
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
		r := x.find(pos)
		acc = x.before(r)
		if b := x.bound(r); len(b) > 0 {
			lo = b
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
func (z *zset) seekRank(k int64) (*pebble.Iterator, error) {
	lo := encoding.ScoreMin
	rem := uint64(k)
	if z.rank.Ranked {
		x, err := z.index()
		if err != nil {
			return nil, err
		}
		r, off, ok := x.locate(rem)
		if !ok {
			return nil, corruptf("rank %d is past the buckets of %q", k, z.key)
		}
		rem = off
		if b := x.bound(r); len(b) > 0 {
			lo = b
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
		x.appendBucket(boundary, uint64(c))
		z.putBucket(boundary, uint64(c))
		at += c
	}
	x.rebuild()
	z.idx = x
	z.rank.Ranked = true
	z.rankDirty = true
}
