package engine

import (
	"bytes"

	"github.com/cockroachdb/pebble/v2"

	"github.com/stratadb/strata/encoding"
)

// Lists.
//
// A list's elements live at subkeys keyed by a uint64 index (encoding.AppendIndexSubKey); the
// metadata's type fields hold Head and Tail, and the elements are exactly the indexes
// [Head, Tail): contiguous, so Count = Tail - Head and the element at position i is at index
// Head+i. The first push onto an empty list starts at encoding.ListStart, the middle of the
// range. So:
//
//   - LPUSH, RPUSH, LPOP, RPOP, LINDEX and LSET are point operations (plus the metadata);
//   - LRANGE and LPOS are one bounded scan; LTRIM deletes only the trimmed ranges;
//   - LINSERT and LREM keep the indexes contiguous by shifting the elements of the shorter
//     side of the change: LINSERT moves min(i, n-i) elements; LREM moves the kept elements
//     between the first (or last) removed one and the nearer end, whichever is fewer. Redis's
//     LINSERT and LREM are O(N) as well; renumbering instead would make LINDEX a scan.
//
// A list whose last element goes away is deleted, so that TYPE says none.

// listHandle is a list being worked on by one command: its metadata as lookup found it and
// its current bounds. Changes to the elements go straight to the Txn's batch; the metadata is
// written once, by saveList.
type listHandle struct {
	key   []byte
	ks    keyState // as lookup found it; putMeta and deleteKey keep it current
	f     encoding.ListFields
	ver   uint64 // the version the elements live under; 0 until a new list gets one
	found bool   // the list exists (its metadata is written)
	dirty bool   // f changed since the metadata was written
}

func (h *listHandle) len() int64 { return int64(h.f.Tail - h.f.Head) }

// openList looks up key as a list. A missing (or expired) key opens as an empty list that
// saveList creates if elements are pushed; another type is ErrWrongType.
func (t *Txn) openList(key []byte) (*listHandle, error) {
	ks, err := t.lookup(key)
	if err != nil {
		return nil, err
	}
	h := &listHandle{key: key, ks: ks}
	if !ks.live {
		h.f = encoding.ListFields{Head: encoding.ListStart, Tail: encoding.ListStart}
		return h, nil
	}
	if ks.meta.Type != encoding.TypeList {
		return nil, ErrWrongType
	}
	f, err := encoding.DecodeListFields(ks.meta.Rest)
	if err != nil || f.Tail < f.Head || f.Tail-f.Head != ks.meta.Count || f.Head == f.Tail {
		return nil, corruptf("list fields of key %q", key)
	}
	h.f, h.found, h.ver = f, true, ks.meta.Version
	return h, nil
}

// saveList writes the list's metadata, creating the key, updating it, or deleting it when it
// has no elements left.
func (t *Txn) saveList(h *listHandle) {
	if !h.dirty {
		return
	}
	h.dirty = false
	if h.f.Head == h.f.Tail {
		if h.found {
			// Every element was deleted one by one: nothing is left for the sweeper.
			h.ks.meta.Count = 0
			t.deleteKey(h.key, &h.ks)
		}
		h.found, h.ver = false, 0
		h.f = encoding.ListFields{Head: encoding.ListStart, Tail: encoding.ListStart}
		return
	}
	var m encoding.Meta
	if h.found {
		m = h.ks.meta
	} else {
		m = encoding.Meta{Type: encoding.TypeList, Version: h.ver}
	}
	var rest [16]byte
	m.Count = h.f.Tail - h.f.Head
	m.Rest = encoding.AppendListFields(rest[:0], h.f)
	t.putMeta(h.key, &h.ks, &m)
	h.found = true
}

// elemKey is the Pebble key of index i of the list; it lives in t.kbuf until the next call.
func (t *Txn) elemKey(h *listHandle, i uint64) []byte {
	t.kbuf = encoding.AppendIndexSubKey(t.kbuf[:0], t.db, h.key, h.ver, i)
	return t.kbuf
}

func (t *Txn) getElem(h *listHandle, i uint64) ([]byte, error) {
	v, ok, err := t.get(t.elemKey(h, i))
	if err == nil && !ok {
		err = corruptf("list %q lacks element %d", h.key, i)
	}
	return v, err
}

// push adds v at the head (left) or the tail.
func (t *Txn) push(h *listHandle, v []byte, left bool) {
	if h.ver == 0 {
		// A new list (perhaps replacing an expired key) gets a version of its own.
		h.ver = t.e.newVersion()
	}
	var i uint64
	if left {
		h.f.Head--
		i = h.f.Head
	} else {
		i = h.f.Tail
		h.f.Tail++
	}
	t.set(t.elemKey(h, i), v)
	h.dirty = true
}

// pop removes and returns up to n elements from the head (left) or the tail, in pop order.
func (t *Txn) pop(h *listHandle, left bool, n int64) ([][]byte, error) {
	n = min(n, h.len())
	if n <= 0 {
		return nil, nil
	}
	out := make([][]byte, 0, n)
	var lo, hi uint64
	if left {
		lo, hi = h.f.Head, h.f.Head+uint64(n)
	} else {
		lo, hi = h.f.Tail-uint64(n), h.f.Tail
	}
	if n == 1 {
		v, err := t.getElem(h, lo)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	} else {
		err := t.scanList(h, lo, hi, !left, func(_ uint64, v []byte) bool {
			out = append(out, t.keep(v))
			return true
		})
		if err != nil {
			return nil, err
		}
		if int64(len(out)) != n {
			return nil, corruptf("list %q lacks elements in [%d, %d)", h.key, lo, hi)
		}
	}
	t.deleteElems(h, lo, hi)
	if left {
		h.f.Head = hi
	} else {
		h.f.Tail = lo
	}
	h.dirty = true
	return out, nil
}

// deleteElems deletes the elements at indexes [lo, hi): point deletes for a few, one range
// deletion for many (the sweeper's trade-off, see sweepPointLimit).
func (t *Txn) deleteElems(h *listHandle, lo, hi uint64) {
	if hi <= lo {
		return
	}
	if hi-lo > sweepPointLimit {
		from := encoding.AppendIndexSubKey(nil, t.db, h.key, h.ver, lo)
		to := encoding.AppendIndexSubKey(nil, t.db, h.key, h.ver, hi)
		t.ensureBatch().DeleteRange(from, to, nil)
		return
	}
	for i := lo; i < hi; i++ {
		t.del(t.elemKey(h, i))
	}
}

// scanList calls fn with the index and value of each element in [lo, hi), ascending or (rev)
// descending, until fn returns false. The value is valid only during the call. The scan sees
// the list as it was when it began, so fn may write elements.
func (t *Txn) scanList(h *listHandle, lo, hi uint64, rev bool, fn func(i uint64, v []byte) bool) error {
	if hi <= lo {
		return nil
	}
	lower := encoding.AppendIndexSubKey(nil, t.db, h.key, h.ver, lo)
	upper := encoding.AppendIndexSubKey(nil, t.db, h.key, h.ver, hi)
	it, err := t.iter(lower, upper)
	if err != nil {
		return err
	}
	prefix := encoding.ElemPrefixLen(len(h.key))
	var ok bool
	if rev {
		ok = it.Last()
	} else {
		ok = it.First()
	}
	for ; ok; ok = step(it, rev) {
		k := it.Key()
		if len(k) != prefix+8 {
			it.Close()
			return corruptf("list element key of %q", h.key)
		}
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return err
		}
		if !fn(beUint64(k[prefix:]), v) {
			break
		}
	}
	return it.Close()
}

func step(it *pebble.Iterator, rev bool) bool {
	if rev {
		return it.Prev()
	}
	return it.Next()
}

// clipRange clips Redis's start/stop (negative counts from the end) to a list or sorted set of
// n elements: the positions [from, to] inclusive, or ok false when the range is empty.
func clipRange(start, stop, n int64) (from, to int64, ok bool) {
	if start < 0 {
		start += n
	}
	if stop < 0 {
		stop += n
	}
	if start < 0 {
		start = 0
	}
	if start > stop || start >= n {
		return 0, 0, false
	}
	if stop >= n {
		stop = n - 1
	}
	return start, stop, true
}

// ---- the commands ----

// ListPush pushes vals one by one at the head (left) or tail and returns the new length. With
// onlyIfExists (LPUSHX, RPUSHX) a missing key stays missing and the result is 0.
func (t *Txn) ListPush(key []byte, vals [][]byte, left, onlyIfExists bool) (int64, error) {
	h, err := t.openList(key)
	if err != nil {
		return 0, err
	}
	if !h.found && onlyIfExists {
		return 0, nil
	}
	for _, v := range vals {
		t.push(h, v, left)
	}
	t.saveList(h)
	return h.len(), nil
}

// ListPop pops up to n elements from the head (left) or tail. found is false when the key
// does not exist.
func (t *Txn) ListPop(key []byte, left bool, n int64) (vals [][]byte, found bool, err error) {
	h, err := t.openList(key)
	if err != nil || !h.found {
		return nil, false, err
	}
	vals, err = t.pop(h, left, n)
	if err != nil {
		return nil, true, err
	}
	t.saveList(h)
	return vals, true, nil
}

// ListLen is LLEN.
func (t *Txn) ListLen(key []byte) (int64, error) {
	h, err := t.openList(key)
	if err != nil {
		return 0, err
	}
	return h.len(), nil
}

// ListIndex is LINDEX: the element at position i (negative counts from the end).
func (t *Txn) ListIndex(key []byte, i int64) ([]byte, bool, error) {
	h, err := t.openList(key)
	if err != nil || !h.found {
		return nil, false, err
	}
	n := h.len()
	if i < 0 {
		i += n
	}
	if i < 0 || i >= n {
		return nil, false, nil
	}
	v, err := t.getElem(h, h.f.Head+uint64(i))
	return v, err == nil, err
}

// ListSet is LSET: ErrNoSuchKey for a missing key, ErrIndexRange outside the list.
func (t *Txn) ListSet(key []byte, i int64, v []byte) error {
	h, err := t.openList(key)
	if err != nil {
		return err
	}
	if !h.found {
		return ErrNoSuchKey
	}
	n := h.len()
	if i < 0 {
		i += n
	}
	if i < 0 || i >= n {
		return ErrIndexRange
	}
	t.set(t.elemKey(h, h.f.Head+uint64(i)), v)
	// The metadata does not change, but writing it is what tells WATCH and the hot tier.
	h.dirty = true
	t.saveList(h)
	return nil
}

// ListRange is LRANGE.
func (t *Txn) ListRange(key []byte, start, stop int64) ([][]byte, error) {
	h, err := t.openList(key)
	if err != nil || !h.found {
		return nil, err
	}
	from, to, ok := clipRange(start, stop, h.len())
	if !ok {
		return nil, nil
	}
	out := make([][]byte, 0, to-from+1)
	err = t.scanList(h, h.f.Head+uint64(from), h.f.Head+uint64(to)+1, false, func(_ uint64, v []byte) bool {
		out = append(out, t.keep(v))
		return true
	})
	if err == nil && int64(len(out)) != to-from+1 {
		err = corruptf("list %q lacks elements", key)
	}
	return out, err
}

// ListEach calls fn with each element of the list at key, head to tail, until fn returns
// false: one scan, nothing held in memory (for dumps and rewrites of big lists). The value is
// valid only during the call.
func (t *Txn) ListEach(key []byte, fn func(v []byte) bool) error {
	h, err := t.openList(key)
	if err != nil || !h.found {
		return err
	}
	return t.scanList(h, h.f.Head, h.f.Tail, false, func(_ uint64, v []byte) bool { return fn(v) })
}

// ListTrim is LTRIM: it deletes only the trimmed ends, or the whole key when nothing is left.
func (t *Txn) ListTrim(key []byte, start, stop int64) error {
	h, err := t.openList(key)
	if err != nil || !h.found {
		return err
	}
	n := h.len()
	from, to, ok := clipRange(start, stop, n)
	if !ok {
		// Nothing is kept: drop the key and let the sweeper take the elements.
		t.deleteKey(key, &h.ks)
		return nil
	}
	if from == 0 && to == n-1 {
		return nil
	}
	lo, hi := h.f.Head+uint64(from), h.f.Head+uint64(to)+1
	t.deleteElems(h, h.f.Head, lo)
	t.deleteElems(h, hi, h.f.Tail)
	h.f.Head, h.f.Tail = lo, hi
	h.dirty = true
	t.saveList(h)
	return nil
}

// ListRem is LREM: it removes up to |count| elements equal to v, from the head when count > 0,
// from the tail when count < 0, all of them when count is 0, and returns how many went.
func (t *Txn) ListRem(key []byte, count int64, v []byte) (int64, error) {
	h, err := t.openList(key)
	if err != nil || !h.found {
		return 0, err
	}
	limit := count
	if limit < 0 {
		limit = -limit
		if limit < 0 { // -MinInt64
			limit = 0
		}
	}
	var removed []uint64 // ascending once collected
	err = t.scanList(h, h.f.Head, h.f.Tail, count < 0, func(i uint64, e []byte) bool {
		if bytes.Equal(e, v) {
			removed = append(removed, i)
			if limit > 0 && int64(len(removed)) >= limit {
				return false
			}
		}
		return true
	})
	if err != nil || len(removed) == 0 {
		return 0, err
	}
	if count < 0 {
		for i, j := 0, len(removed)-1; i < j; i, j = i+1, j-1 {
			removed[i], removed[j] = removed[j], removed[i]
		}
	}
	m := int64(len(removed))
	if m == h.len() {
		t.deleteKey(key, &h.ks) // every element matched; the sweeper takes them
		return m, nil
	}
	first, last := removed[0], removed[len(removed)-1]
	if last-h.f.Head+1 <= h.f.Tail-first {
		err = t.compactTowardTail(h, removed)
	} else {
		err = t.compactTowardHead(h, removed)
	}
	if err != nil {
		return 0, err
	}
	h.dirty = true
	t.saveList(h)
	return m, nil
}

// compactTowardHead closes the gaps left by removed (ascending indexes) by moving the elements
// after the first gap toward the head.
func (t *Txn) compactTowardHead(h *listHandle, removed []uint64) error {
	w, j := removed[0], 0
	err := t.scanList(h, removed[0], h.f.Tail, false, func(i uint64, v []byte) bool {
		if j < len(removed) && i == removed[j] {
			j++
			return true
		}
		t.set(t.elemKey(h, w), v)
		w++
		return true
	})
	if err != nil {
		return err
	}
	t.deleteElems(h, w, h.f.Tail)
	h.f.Tail = w
	return nil
}

// compactTowardTail closes the gaps left by removed (ascending indexes) by moving the elements
// before the last gap toward the tail.
func (t *Txn) compactTowardTail(h *listHandle, removed []uint64) error {
	last := removed[len(removed)-1]
	w, j := last, len(removed)-1
	err := t.scanList(h, h.f.Head, last+1, true, func(i uint64, v []byte) bool {
		if j >= 0 && i == removed[j] {
			j--
			return true
		}
		t.set(t.elemKey(h, w), v)
		w--
		return true
	})
	if err != nil {
		return err
	}
	t.deleteElems(h, h.f.Head, w+1)
	h.f.Head = w + 1
	return nil
}

// ListInsert is LINSERT: it inserts v before (or after) the first element equal to pivot and
// returns the new length; -1 when pivot is not found, 0 when the key does not exist.
func (t *Txn) ListInsert(key []byte, before bool, pivot, v []byte) (int64, error) {
	h, err := t.openList(key)
	if err != nil || !h.found {
		return 0, err
	}
	at, found := uint64(0), false
	err = t.scanList(h, h.f.Head, h.f.Tail, false, func(i uint64, e []byte) bool {
		if bytes.Equal(e, pivot) {
			at, found = i, true
			return false
		}
		return true
	})
	if err != nil || !found {
		return -1, err
	}
	if !before {
		at++
	}
	// The new element takes index at; the elements of the shorter side move one step outward.
	if at-h.f.Head <= h.f.Tail-at {
		err = t.scanList(h, h.f.Head, at, false, func(i uint64, e []byte) bool {
			t.set(t.elemKey(h, i-1), e)
			return true
		})
		h.f.Head--
		at--
	} else {
		err = t.scanList(h, at, h.f.Tail, true, func(i uint64, e []byte) bool {
			t.set(t.elemKey(h, i+1), e)
			return true
		})
		h.f.Tail++
	}
	if err != nil {
		return 0, err
	}
	t.set(t.elemKey(h, at), v)
	h.dirty = true
	t.saveList(h)
	return h.len(), nil
}

// ListPosArgs are LPOS's options: Rank (never 0; negative searches from the tail), Count (0 =
// all matches) and MaxLen (0 = the whole list).
type ListPosArgs struct {
	Rank, Count, MaxLen int64
}

// ListPos is LPOS: the positions of the elements equal to v, as the options select; at most
// one when count is 1.
func (t *Txn) ListPos(key, v []byte, a ListPosArgs) ([]int64, error) {
	h, err := t.openList(key)
	if err != nil || !h.found {
		return nil, err
	}
	rank, rev := a.Rank, false
	if rank < 0 {
		rank, rev = -rank, true
		if rank < 0 { // -MinInt64 overflows as it does in Redis: any match qualifies
			rank = 1
		}
	}
	var out []int64
	var seen, matches int64
	err = t.scanList(h, h.f.Head, h.f.Tail, rev, func(i uint64, e []byte) bool {
		if a.MaxLen != 0 && seen >= a.MaxLen {
			return false
		}
		seen++
		if !bytes.Equal(e, v) {
			return true
		}
		matches++
		if matches < rank {
			return true
		}
		out = append(out, int64(i-h.f.Head))
		return a.Count == 0 || int64(len(out)) < a.Count
	})
	return out, err
}

// ListMove is LMOVE: it pops from src's head (srcLeft) or tail and pushes onto dst's head
// (dstLeft) or tail, returning the element; found is false when src does not exist. A wrong
// type at either key is ErrWrongType and changes nothing. src and dst may be the same list.
func (t *Txn) ListMove(src, dst []byte, srcLeft, dstLeft bool) ([]byte, bool, error) {
	s, err := t.openList(src)
	if err != nil || !s.found {
		return nil, false, err
	}
	d := s
	if !bytes.Equal(src, dst) {
		if d, err = t.openList(dst); err != nil {
			return nil, false, err
		}
	}
	vals, err := t.pop(s, srcLeft, 1)
	if err != nil {
		return nil, false, err
	}
	t.push(d, vals[0], dstLeft)
	t.saveList(s)
	t.saveList(d)
	return vals[0], true, nil
}

// ListMPop is LMPOP: it pops up to n elements from the first of keys that holds a list, and
// says which key. A key of another type met before that is ErrWrongType.
func (t *Txn) ListMPop(keys [][]byte, left bool, n int64) (key []byte, vals [][]byte, err error) {
	for _, k := range keys {
		vals, found, err := t.ListPop(k, left, n)
		if err != nil {
			return nil, nil, err
		}
		if found {
			return k, vals, nil
		}
	}
	return nil, nil, nil
}
