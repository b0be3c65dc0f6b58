package engine

import (
	"bytes"
	"math/rand/v2"
	"slices"

	"github.com/cockroachdb/pebble/v2"

	"github.com/stratadb/strata/encoding"
)

// Hashes and sets keep one subkey per element under their key's version:
//
//	subkey(db, key, version, member) -> a hash field's value; empty for a set member
//
// so one element is one point read (HGET, SISMEMBER), all of them one bounded prefix scan in
// member order (HGETALL, SMEMBERS), and the metadata's Count is the exact number of elements
// (HLEN, SCARD read nothing else). A collection whose last element goes is deleted, and a new
// one (also over an expired key) starts at a fresh version, so old elements are never seen.

// coll is a hash or set opened by a command: the metadata lookup found and the working copy
// the command changes.
type coll struct {
	t      *Txn
	key    []byte
	ks     keyState      // as lookup found it
	m      encoding.Meta // working copy; Count follows the command's changes
	found  bool          // the key holds a live collection of the asked type (or was created)
	prefix []byte        // subkey prefix of m.Version
	buf    []byte        // scratch subkey
}

// openColl opens key as a collection of type typ: ErrWrongType when it holds another type;
// c.found is false when it does not exist.
func (t *Txn) openColl(key []byte, typ encoding.Type, c *coll) error {
	ks, err := t.lookup(key)
	*c = coll{t: t, key: key, ks: ks}
	if err != nil || !ks.live {
		return err
	}
	if ks.meta.Type != typ {
		return ErrWrongType
	}
	c.found = true
	c.m = ks.meta
	c.prefix = encoding.AppendSubPrefix(nil, t.db, key, c.m.Version)
	return nil
}

// create makes the collection exist, empty and at a fresh version, when it does not.
func (c *coll) create(typ encoding.Type) {
	if c.found {
		return
	}
	c.m = c.t.newMeta(typ)
	c.prefix = encoding.AppendSubPrefix(nil, c.t.db, c.key, c.m.Version)
	c.found = true
}

func (c *coll) sub(member []byte) []byte {
	c.buf = append(append(c.buf[:0], c.prefix...), member...)
	return c.buf
}

// get reads one element (the value lives in the Txn's arena).
func (c *coll) get(member []byte) ([]byte, bool, error) {
	if !c.found {
		return nil, false, nil
	}
	return c.t.get(c.sub(member))
}

// has says whether member is an element.
func (c *coll) has(member []byte) (bool, error) {
	_, ok, err := c.get(member)
	return ok, err
}

func (c *coll) put(member, value []byte) { c.t.set(c.sub(member), value) }

func (c *coll) remove(member []byte) { c.t.del(c.sub(member)) }

// removeAll removes the members that exist (HDEL, SREM), saves the collection when it changed
// (deleting it when emptied) and returns how many it removed.
func (c *coll) removeAll(members [][]byte) (int64, error) {
	if !c.found {
		return 0, nil
	}
	var n int64
	for _, m := range members {
		exists, err := c.has(m)
		if err != nil {
			return 0, err
		}
		if exists {
			c.remove(m)
			c.m.Count--
			n++
		}
	}
	if n > 0 {
		c.save()
	}
	return n, nil
}

// save writes the changed metadata, or deletes the key when no element is left.
func (c *coll) save() {
	if c.m.Count == 0 {
		c.t.deleteKey(c.key, &c.ks)
		return
	}
	c.t.putMeta(c.key, &c.ks, &c.m)
}

// iter opens an iterator over the collection's elements.
func (c *coll) iter() (*pebble.Iterator, error) {
	return c.t.iter(c.prefix, encoding.PrefixEnd(nil, c.prefix))
}

// each calls fn with every element in member order until fn returns false. The slices are
// valid only during the call.
func (c *coll) each(fn func(member, value []byte) bool) error {
	if !c.found {
		return nil
	}
	it, err := c.iter()
	if err != nil {
		return err
	}
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return err
		}
		if !fn(it.Key()[len(c.prefix):], v) {
			break
		}
	}
	return c.t.closeIter(it, c.prefix, encoding.PrefixEnd(nil, c.prefix))
}

// eachCounted is each for replies whose length was announced from Count: it fails (as
// corruption) when the elements found do not match the count.
func (c *coll) eachCounted(fn func(member, value []byte)) error {
	n := uint64(0)
	err := c.each(func(m, v []byte) bool {
		if n == c.m.Count {
			n++
			return false
		}
		n++
		fn(m, v)
		return true
	})
	if err == nil && n != c.m.Count {
		err = corruptf("key %q holds %d elements, its metadata says %d", c.key, n, c.m.Count)
	}
	return err
}

// ---- random picks ----
//
// A uniform pick needs an element's rank, and a sorted keyspace has no ranks: finding the
// k-th element means walking k elements. So picks are made in one of two ways, whichever
// costs less:
//
//   - by rank: draw the ranks first, sort them, and take the elements in one scan of the
//     collection. Exactly uniform; costs a scan. Used for small collections and for counts
//     that are a good part of the collection.
//   - by walk: descend the member space as a trie, one byte at a time. At each level the
//     first and last members below the current prefix bound the next byte; a byte is drawn
//     uniformly between them and kept if some member has it there (a few redraws skip the
//     holes), so each existing branch is equally likely. Once the subtree holds at most
//     walkLeaf elements, one of them is drawn uniformly. Costs a few seeks per level.
//
// The walk is not exactly uniform: an element's chance is the product of 1/branches along its
// path, divided by its leaf's size. Members of one shape with evenly used characters (ids,
// "user:<n>", names with a counter) come out close to uniform (a chi-square per degree of
// freedom near 1 in TestRandomPickDistribution); in a lopsided member space a member alone in
// a sparse branch is favoured over one in a crowded branch (with {a1..a1000, b}, b is drawn
// about half the time; hex ids whose first digit splits them 65/35 give 3.6). A walk costs a
// few microseconds (two seeks and up to walkLeaf steps per level).

const (
	walkLeaf       = 32           // a subtree this small is picked from directly
	walkCountBelow = 4 * walkLeaf // a subtree estimated this small is counted (it may be a leaf)
	walkCost       = 64           // rough cost of one walk in elements scanned (about 25 steps and 7 seeks)
	pickLoadAll    = 128          // collections this small are read whole for repeated picks
	pickChunk      = 1 << 16      // repeated picks are drawn this many at a time
	walkRedraws    = 8
	uniqueBudget   = 4 // walks per wanted element before falling back to a rank scan
)

// pickedElem is a randomly picked element, copied into the Txn's arena.
type pickedElem struct{ member, value []byte }

// randomPicks calls fn with n random elements of the collection (which must exist): distinct
// ones when unique (n < Count; the caller handles n >= Count), else drawn with repetition, in
// random order.
func (c *coll) randomPicks(n uint64, unique bool, fn func(member, value []byte)) error {
	size := c.m.Count
	if unique {
		var picks []pickedElem
		var err error
		if size <= pickLoadAll || n*walkCost >= size {
			picks, err = c.picksByRank(n, true)
		} else {
			picks, err = c.picksByWalk(n)
		}
		if err != nil {
			return err
		}
		emitShuffled(picks, fn)
		return nil
	}
	if size <= pickLoadAll && n > 1 {
		all, err := c.picksByRank(size, true)
		if err != nil {
			return err
		}
		for ; n > 0; n-- {
			p := all[rand.IntN(len(all))]
			fn(p.member, p.value)
		}
		return nil
	}
	for n > 0 {
		b := min(n, pickChunk)
		n -= b
		var picks []pickedElem
		var err error
		if b*walkCost >= size {
			picks, err = c.picksByRank(b, false)
		} else {
			picks = make([]pickedElem, 0, b)
			it, ierr := c.iter()
			if ierr != nil {
				return ierr
			}
			for i := uint64(0); i < b && err == nil; i++ {
				var p pickedElem
				p, err = c.walk(it)
				picks = append(picks, p)
			}
			if cerr := c.t.closeIter(it, c.prefix, encoding.PrefixEnd(nil, c.prefix)); err == nil {
				err = cerr
			}
		}
		if err != nil {
			return err
		}
		emitShuffled(picks, fn)
	}
	return nil
}

// emitShuffled calls fn with the picks in random order.
func emitShuffled(picks []pickedElem, fn func(member, value []byte)) {
	rand.Shuffle(len(picks), func(i, j int) { picks[i], picks[j] = picks[j], picks[i] })
	for _, p := range picks {
		fn(p.member, p.value)
	}
}

// randomOne picks one element of the collection (which must exist).
func (c *coll) randomOne() (pickedElem, error) {
	var out pickedElem
	err := c.randomPicks(1, false, func(m, v []byte) { out = pickedElem{m, v} })
	return out, err
}

// picksByRank draws n ranks (distinct when unique) and takes their elements in one scan, in
// member order.
func (c *coll) picksByRank(n uint64, unique bool) ([]pickedElem, error) {
	size := c.m.Count
	ranks := make([]uint64, 0, n)
	switch {
	case unique && n >= size:
		for i := uint64(0); i < size; i++ {
			ranks = append(ranks, i)
		}
	case unique:
		// Floyd's algorithm: n distinct ranks in n steps.
		chosen := make(map[uint64]struct{}, n)
		for j := size - n; j < size; j++ {
			r := rand.Uint64N(j + 1)
			if _, dup := chosen[r]; dup {
				r = j
			}
			chosen[r] = struct{}{}
			ranks = append(ranks, r)
		}
		slices.Sort(ranks)
	default:
		for i := uint64(0); i < n; i++ {
			ranks = append(ranks, rand.Uint64N(size))
		}
		slices.Sort(ranks)
	}
	picks := make([]pickedElem, 0, len(ranks))
	rank, next := uint64(0), 0
	err := c.each(func(m, v []byte) bool {
		for next < len(ranks) && ranks[next] == rank {
			picks = append(picks, pickedElem{c.t.keep(m), c.t.keep(v)})
			next++
		}
		rank++
		return next < len(ranks)
	})
	if err == nil && next < len(ranks) {
		err = corruptf("key %q has fewer elements than its count %d", c.key, size)
	}
	return picks, err
}

// picksByWalk draws n distinct elements by walks, falling back to a rank scan when the walks
// keep finding the same elements.
func (c *coll) picksByWalk(n uint64) ([]pickedElem, error) {
	it, err := c.iter()
	if err != nil {
		return nil, err
	}
	defer c.t.closeIter(it, c.prefix, encoding.PrefixEnd(nil, c.prefix))
	seen := make(map[string]struct{}, n)
	picks := make([]pickedElem, 0, n)
	for tries := uint64(0); uint64(len(picks)) < n; tries++ {
		if tries > uniqueBudget*n+64 {
			return c.picksByRank(n, true)
		}
		p, err := c.walk(it)
		if err != nil {
			return nil, err
		}
		if _, dup := seen[string(p.member)]; dup {
			continue
		}
		seen[string(p.member)] = struct{}{}
		picks = append(picks, p)
	}
	return picks, nil
}

// walk draws one element by descending the member space (see above). it iterates the
// collection's elements. Each level costs two seeks (the subtree's last member, then the
// chosen branch, which leaves the iterator on that branch's first member) and, once the
// subtree may be a leaf, at most walkLeaf+1 steps to count it, during which a reservoir
// sample keeps the element to return should it be one.
//
// Steps are what a walk costs most where removals left tombstones (SPOP): Pebble steps over
// every tombstone between two members. So a subtree is counted only when it may be a leaf:
// its size is estimated as its parent's divided by the number of branch bytes the parent's
// range allows, and a subtree estimated past walkCountBelow is descended without counting.
// An estimate that is wrong costs a count that finds no leaf, or a level more.
func (c *coll) walk(it *pebble.Iterator) (pickedElem, error) {
	pl := len(c.prefix)
	buf := append(make([]byte, 0, pl+32), c.prefix...)
	var sub, first, last, hi []byte
	var pick pickedElem
	est := c.m.Count // the subtree's size: exact at the root, estimated below it
	root := true
	if !it.SeekGE(c.prefix) {
		return pickedElem{}, corruptf("random walk of key %q found no element", c.key)
	}
	for {
		// The iterator is on the first element of the subtree of members starting with sub.
		first = append(first[:0], it.Key()[pl:]...)
		hi = encoding.PrefixEnd(hi[:0], append(buf[:pl], sub...)) // nil: the collection's end
		if !root && est <= walkCountBelow {
			var seen uint64
			for ok := true; ok && seen <= walkLeaf && (hi == nil || bytes.Compare(it.Key(), hi) < 0); ok = it.Next() {
				seen++
				if rand.Uint64N(seen) == 0 {
					v, err := it.ValueAndErr()
					if err != nil {
						return pickedElem{}, err
					}
					pick.member = append(pick.member[:0], it.Key()[pl:]...)
					pick.value = append(pick.value[:0], v...)
				}
			}
			if seen <= walkLeaf {
				return pickedElem{c.t.keep(pick.member), c.t.keep(pick.value)}, nil
			}
			est = max(est, seen)
		}
		root = false
		if hi == nil {
			it.Last()
		} else {
			it.SeekLT(hi)
		}
		last = append(last[:0], it.Key()[pl:]...)
		// Every member of the subtree shares first's and last's common prefix.
		n := len(sub)
		for n < len(first) && n < len(last) && first[n] == last[n] {
			n++
		}
		if n >= len(last) {
			// first is last (a sorted subtree cannot end with a prefix of its first member): a
			// subtree of one, descended into without counting.
			return c.current(it)
		}
		sub = append(sub[:0], first[:n]...)
		loV, hiV := -1, int(last[n])
		if n < len(first) {
			loV = int(first[n])
		}
		est = max(1, est/uint64(hiV-loV+1))
		for try := 0; ; try++ {
			v := loV + rand.IntN(hiV-loV+1)
			if v < 0 {
				// The member equal to the common prefix, which sorts first.
				it.SeekGE(append(buf[:pl], sub...))
				return c.current(it)
			}
			if !it.SeekGE(append(append(buf[:pl], sub...), byte(v))) {
				return pickedElem{}, corruptf("random walk of key %q lost its branch", c.key)
			}
			if k := it.Key()[pl:]; k[n] == byte(v) || try == walkRedraws {
				// An existing branch (after a few holes, the one after the hole).
				sub = append(sub, k[n])
				break
			}
		}
	}
}

// current copies the iterator's element into the arena.
func (c *coll) current(it *pebble.Iterator) (pickedElem, error) {
	v, err := it.ValueAndErr()
	if err != nil {
		return pickedElem{}, err
	}
	return pickedElem{c.t.keep(it.Key()[len(c.prefix):]), c.t.keep(v)}, nil
}

// ---- SCAN cursors ----

// scanAllBelow is the size up to which HSCAN and SSCAN return the whole collection in one
// call with cursor 0, as Redis does for its compact encodings (COUNT is a hint).
const scanAllBelow = 512

// scan continues an HSCAN/SSCAN of the collection from cursor: it visits count elements (all
// of a small collection), calls fn with those matching pattern (nil = all), and returns the
// cursor to continue from, 0 when done. The cursor names an entry of the engine's cursor
// table holding the database, the key and the next member to visit, so it stays valid while
// the collection changes; a cursor the table does not know (evicted, made up, or another
// key's) restarts from the first element, which may repeat elements but never skips one.
func (c *coll) scan(cursor uint64, pattern []byte, count int, fn func(member, value []byte)) (uint64, error) {
	if !c.found {
		return 0, nil
	}
	anchor := encoding.AppendSubPrefix(nil, c.t.db, c.key, 0)
	start := c.prefix
	if cursor != 0 {
		if pos, ok := c.t.e.cursors.load(cursor); ok && bytes.HasPrefix(pos, anchor) {
			start = append(slices.Clip(c.prefix), pos[len(anchor):]...)
		}
	}
	if c.m.Count <= scanAllBelow {
		count = int(c.m.Count) + 1
	}
	it, err := c.t.iter(start, encoding.PrefixEnd(nil, c.prefix))
	if err != nil {
		return 0, err
	}
	all := pattern == nil || matchAll(pattern)
	seen := 0
	for ok := it.First(); ok; ok = it.Next() {
		m := it.Key()[len(c.prefix):]
		if seen >= count {
			next := c.t.e.cursors.save(append(anchor, m...))
			return next, it.Close()
		}
		seen++
		if !all && !GlobMatch(pattern, m, false) {
			continue
		}
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return 0, err
		}
		fn(m, v)
	}
	return 0, it.Close()
}
