package engine

import (
	"bytes"
	"container/heap"
	"slices"

	"github.com/cockroachdb/pebble/v2"

	"github.com/stratadb/strata/encoding"
)

// Sets: one subkey per member with an empty value (see members.go).

func (t *Txn) openSet(key []byte, c *coll) error { return t.openColl(key, encoding.TypeSet, c) }

// SAdd adds members and returns how many were new.
func (t *Txn) SAdd(key []byte, members [][]byte) (int64, error) {
	var c coll
	if err := t.openSet(key, &c); err != nil {
		return 0, err
	}
	c.create(encoding.TypeSet)
	var added int64
	for _, m := range members {
		exists, err := c.has(m)
		if err != nil {
			return 0, err
		}
		if !exists {
			c.put(m, nil)
			c.m.Count++
			added++
		}
	}
	if added > 0 {
		c.save()
	}
	return added, nil
}

// SRem removes members and returns how many were there; the key goes with its last member.
func (t *Txn) SRem(key []byte, members [][]byte) (int64, error) {
	var c coll
	if err := t.openSet(key, &c); err != nil {
		return 0, err
	}
	return c.removeAll(members)
}

// SIsMember says whether member is in the set: one point read.
func (t *Txn) SIsMember(key, member []byte) (bool, error) {
	var c coll
	if err := t.openSet(key, &c); err != nil {
		return false, err
	}
	return c.has(member)
}

// SMIsMember calls fn with the membership of each member in order; a type error comes first.
func (t *Txn) SMIsMember(key []byte, members [][]byte, fn func(bool)) error {
	var c coll
	if err := t.openSet(key, &c); err != nil {
		return err
	}
	for _, m := range members {
		ok, err := c.has(m)
		if err != nil {
			return err
		}
		fn(ok)
	}
	return nil
}

// SCard is the number of members (0 for a missing key): the metadata alone.
func (t *Txn) SCard(key []byte) (int64, error) {
	var c coll
	err := t.openSet(key, &c)
	return int64(c.m.Count), err
}

// SMembers calls start with the number of members, then fn with each in order.
func (t *Txn) SMembers(key []byte, start func(n int), fn func(member []byte)) error {
	var c coll
	if err := t.openSet(key, &c); err != nil {
		return err
	}
	start(int(c.m.Count))
	return c.eachCounted(func(m, _ []byte) { fn(m) })
}

// SRandMember returns a random member; false when the key does not exist.
func (t *Txn) SRandMember(key []byte) ([]byte, bool, error) {
	var c coll
	if err := t.openSet(key, &c); err != nil || !c.found {
		return nil, false, err
	}
	p, err := c.randomOne()
	return p.member, err == nil, err
}

// SRandMemberCount is SRANDMEMBER with a count (see randomCount).
func (t *Txn) SRandMemberCount(key []byte, count int64, start func(n int), fn func(member []byte)) error {
	var c coll
	if err := t.openSet(key, &c); err != nil {
		return err
	}
	return c.randomCount(count, start, func(m, _ []byte) { fn(m) })
}

// SPop removes and returns a random member; false when the key does not exist.
func (t *Txn) SPop(key []byte) ([]byte, bool, error) {
	var c coll
	if err := t.openSet(key, &c); err != nil || !c.found {
		return nil, false, err
	}
	p, err := c.randomOne()
	if err != nil {
		return nil, false, err
	}
	c.remove(p.member)
	c.m.Count--
	c.save()
	return p.member, true, nil
}

// SPopCount removes up to count random members: start is called with how many, then fn with
// each.
func (t *Txn) SPopCount(key []byte, count uint64, start func(n int), fn func(member []byte)) error {
	var c coll
	if err := t.openSet(key, &c); err != nil {
		return err
	}
	if !c.found || count == 0 {
		start(0)
		return nil
	}
	if count >= c.m.Count {
		start(int(c.m.Count))
		if err := c.eachCounted(func(m, _ []byte) { fn(m) }); err != nil {
			return err
		}
		c.m.Count = 0
		c.save() // the sweeper removes the members with the key's version
		return nil
	}
	var picked [][]byte
	err := c.randomPicks(count, true, func(m, _ []byte) { picked = append(picked, m) })
	if err != nil {
		return err
	}
	start(len(picked))
	for _, m := range picked {
		c.remove(m)
		fn(m)
	}
	c.m.Count -= uint64(len(picked))
	c.save()
	return nil
}

// SMove moves member from src to dst and says whether it was in src. As in Redis, a missing
// src answers false before the types are checked.
func (t *Txn) SMove(src, dst, member []byte) (bool, error) {
	var s, d coll
	err := t.openSet(src, &s)
	if err == nil && !s.found {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := t.openSet(dst, &d); err != nil {
		return false, err
	}
	if bytes.Equal(src, dst) {
		return s.has(member)
	}
	exists, err := s.has(member)
	if err != nil || !exists {
		return false, err
	}
	s.remove(member)
	s.m.Count--
	s.save()
	d.create(encoding.TypeSet)
	inDst, err := d.has(member)
	if err != nil {
		return false, err
	}
	if !inDst {
		d.put(member, nil)
		d.m.Count++
		d.save()
	}
	return true, nil
}

// SScan continues an SSCAN (see coll.scan).
func (t *Txn) SScan(key []byte, cursor uint64, pattern []byte, count int, fn func(member []byte)) (uint64, error) {
	var c coll
	if err := t.openSet(key, &c); err != nil {
		return 0, err
	}
	return c.scan(cursor, pattern, count, func(m, _ []byte) { fn(m) })
}

// ---- SINTER, SUNION, SDIFF and their STORE and CARD forms ----

// SetOp names a set operation.
type SetOp uint8

const (
	SetInter SetOp = iota
	SetUnion
	SetDiff
)

// SetAlgebra computes op over the sets at keys (a missing key is an empty set; every key is
// type-checked first): start is called with the size of the result, then fn with each member
// in member order.
func (t *Txn) SetAlgebra(op SetOp, keys [][]byte, start func(n int), fn func(member []byte)) error {
	var out [][]byte
	err := t.setAlgebra(op, keys, 0, func(m []byte) { out = append(out, t.keep(m)) })
	if err != nil {
		return err
	}
	start(len(out))
	for _, m := range out {
		fn(m)
	}
	return nil
}

// SInterCard is the size of the intersection of the sets at keys, counting at most limit
// members (0 = no limit).
func (t *Txn) SInterCard(keys [][]byte, limit int64) (int64, error) {
	var n int64
	err := t.setAlgebra(SetInter, keys, limit, func([]byte) { n++ })
	return n, err
}

// SetAlgebraStore stores the result of op over keys in dst (replacing whatever dst held, its
// expiry too; an empty result deletes dst) and returns its size.
func (t *Txn) SetAlgebraStore(op SetOp, dst []byte, keys [][]byte) (int64, error) {
	var out [][]byte
	err := t.setAlgebra(op, keys, 0, func(m []byte) { out = append(out, t.keep(m)) })
	if err != nil {
		return 0, err
	}
	ks, err := t.lookup(dst)
	if err != nil {
		return 0, err
	}
	if len(out) == 0 {
		t.deleteKey(dst, &ks)
		return 0, nil
	}
	m := t.newMeta(encoding.TypeSet)
	m.Count = uint64(len(out))
	k := encoding.AppendSubPrefix(nil, t.db, dst, m.Version)
	pl := len(k)
	for _, member := range out {
		k = append(k[:pl], member...)
		t.set(k, nil)
	}
	t.putMeta(dst, &ks, &m)
	return int64(len(out)), nil
}

// setAlgebra runs op, calling fn with each member of the result in member order. The
// intersection iterates its smallest set and probes the others, as Redis does; the difference
// iterates the first set and probes the others; the union merges all sets in member order.
func (t *Txn) setAlgebra(op SetOp, keys [][]byte, limit int64, fn func(member []byte)) error {
	sets := make([]coll, len(keys))
	for i, k := range keys {
		if err := t.openSet(k, &sets[i]); err != nil {
			return err
		}
	}
	switch op {
	case SetUnion:
		return t.mergeSets(sets, fn)
	case SetInter:
		order := make([]int, len(sets))
		for i := range sets {
			if !sets[i].found {
				return nil // intersection with an empty set
			}
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int {
			return cmpUint64(sets[a].m.Count, sets[b].m.Count)
		})
		base := order[0]
		var others []int
		for _, j := range order[1:] {
			if !bytes.Equal(keys[j], keys[base]) {
				others = append(others, j)
			}
		}
		var n int64
		return t.probeSets(&sets[base], sets, others, true, func(m []byte, inAll bool) bool {
			if inAll {
				fn(m)
				n++
			}
			return limit == 0 || n < limit
		})
	default: // SetDiff
		if !sets[0].found {
			return nil
		}
		var others []int
		for j := 1; j < len(sets); j++ {
			if bytes.Equal(keys[j], keys[0]) {
				return nil // a set minus itself
			}
			if sets[j].found {
				others = append(others, j)
			}
		}
		return t.probeSets(&sets[0], sets, others, false, func(m []byte, inAny bool) bool {
			if !inAny {
				fn(m)
			}
			return true
		})
	}
}

func cmpUint64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// probeSets iterates base and asks, for each member, whether the sets named by others hold
// it: all of them (needAll, an intersection) or any of them (a difference), stopping at the
// first answer. visit gets the member and the answer and returns false to stop. The probes
// seek forward in member order, so each is a short step of one iterator per set.
func (t *Txn) probeSets(base *coll, sets []coll, others []int, needAll bool, visit func(member []byte, in bool) bool) error {
	its := make([]*pebble.Iterator, 0, len(others))
	defer func() {
		for _, it := range its {
			it.Close()
		}
	}()
	for _, j := range others {
		it, err := sets[j].iter()
		if err != nil {
			return err
		}
		its = append(its, it)
	}
	var buf []byte
	return base.each(func(m, _ []byte) bool {
		in := needAll
		for i, j := range others {
			buf = append(append(buf[:0], sets[j].prefix...), m...)
			has := its[i].SeekGE(buf) && bytes.Equal(its[i].Key(), buf)
			if has != needAll {
				in = has
				break
			}
		}
		return visit(m, in)
	})
}

// mergeSets calls fn with every member of the union of sets in member order, once each.
func (t *Txn) mergeSets(sets []coll, fn func(member []byte)) error {
	h := &memberHeap{}
	defer func() {
		for _, c := range h.items {
			c.it.Close()
		}
	}()
	for i := range sets {
		if !sets[i].found {
			continue
		}
		it, err := sets[i].iter()
		if err != nil {
			return err
		}
		if !it.First() {
			if err := it.Close(); err != nil {
				return err
			}
			continue
		}
		h.items = append(h.items, setCursor{it: it, pl: len(sets[i].prefix)})
	}
	heap.Init(h)
	var last []byte
	emitted := false
	for h.Len() > 0 {
		top := &h.items[0]
		m := top.member()
		if !emitted || !bytes.Equal(m, last) {
			fn(m)
			last = append(last[:0], m...)
			emitted = true
		}
		if top.it.Next() {
			heap.Fix(h, 0)
			continue
		}
		done := heap.Pop(h).(setCursor)
		if err := done.it.Close(); err != nil {
			return err
		}
	}
	return nil
}

// setCursor is one set's iterator in a union merge.
type setCursor struct {
	it *pebble.Iterator
	pl int
}

func (c *setCursor) member() []byte { return c.it.Key()[c.pl:] }

type memberHeap struct{ items []setCursor }

func (h *memberHeap) Len() int { return len(h.items) }
func (h *memberHeap) Less(i, j int) bool {
	return bytes.Compare(h.items[i].member(), h.items[j].member()) < 0
}
func (h *memberHeap) Swap(i, j int) { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *memberHeap) Push(x any)    { h.items = append(h.items, x.(setCursor)) }
func (h *memberHeap) Pop() any {
	x := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return x
}
