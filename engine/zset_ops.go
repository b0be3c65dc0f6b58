package engine

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/stratadb/strata/encoding"
)

// Sorted-set commands over whole sets: random members, ZSCAN, and the ZUNION/ZINTER/ZDIFF
// family (whose inputs may also be plain sets, each member scoring 1).

// ZSetEach calls fn with every member of the sorted set at key in order (score, then member),
// and says whether the key holds one. It is the way for other parts of Strata (DUMP, RDB and
// AOF writers) to read a set without knowing its layout.
func (t *Txn) ZSetEach(key []byte, fn func(member []byte, score float64) error) (bool, error) {
	z, found, err := t.openZSet(key, false)
	if err != nil || !found {
		return false, err
	}
	defer z.close()
	it, err := z.seekPos(encoding.ScoreMin, true)
	if err != nil {
		return true, err
	}
	return true, z.walk(it, true, func(pos []byte) (bool, error) {
		f, m, err := z.posScore(pos)
		if err != nil {
			return false, err
		}
		return true, fn(m, f)
	})
}

// ZSetExists says whether key holds a sorted set (false when missing, ErrWrongType when it holds
// another type): the first step of the GEO searches.
func (t *Txn) ZSetExists(key []byte) (bool, error) {
	_, found, err := t.openZSet(key, false)
	return found, err
}

// ZRandMember returns a random member; false when the key is missing.
func (t *Txn) ZRandMember(key []byte) (ScoredMember, bool, error) {
	z, found, err := t.openZSet(key, false)
	if err != nil || !found {
		return ScoredMember{}, false, err
	}
	defer z.close()
	m, err := z.memberAt(rand.Int64N(z.count()))
	return m, err == nil, err
}

// memberAt returns the member of rank k.
func (z *zset) memberAt(k int64) (ScoredMember, error) {
	it, err := z.seekRank(k)
	if err != nil {
		return ScoredMember{}, err
	}
	pos, ok := z.current(it)
	if !ok {
		return ScoredMember{}, corruptf("rank %d of %q has no member", k, z.key)
	}
	return z.keepMember(pos)
}

// all returns every member in order.
func (z *zset) all() ([]ScoredMember, error) {
	it, err := z.seekPos(encoding.ScoreMin, true)
	if err != nil {
		return nil, err
	}
	out := make([]ScoredMember, 0, min(z.count(), 1<<16))
	err = z.walk(it, true, func(pos []byte) (bool, error) {
		m, err := z.keepMember(pos)
		out = append(out, m)
		return err == nil, err
	})
	return out, err
}

// ZRandMembers answers ZRANDMEMBER key count: with count > 0, distinct members (the whole set
// highest first when count reaches its size); with count < 0, -count members that may repeat. A
// missing key gives none.
func (t *Txn) ZRandMembers(key []byte, count int64) ([]ScoredMember, error) {
	z, found, err := t.openZSet(key, false)
	if err != nil || !found || count == 0 {
		return nil, err
	}
	defer z.close()
	size := z.count()
	if count < 0 || count == 1 {
		n := count
		if n < 0 {
			n = -n
		}
		var all []ScoredMember
		if size <= rankBuildAt {
			if all, err = z.all(); err != nil {
				return nil, err
			}
		}
		out := make([]ScoredMember, 0, min(n, 1<<16))
		for i := int64(0); i < n; i++ {
			k := rand.Int64N(size)
			if all != nil {
				out = append(out, all[k])
				continue
			}
			m, err := z.memberAt(k)
			if err != nil {
				return nil, err
			}
			out = append(out, m)
		}
		return out, nil
	}
	if count >= size {
		// The whole set, as Redis's set-operation iterator walks it: from the highest score down.
		all, err := z.all()
		for i, j := 0, len(all)-1; i < j; i, j = i+1, j-1 {
			all[i], all[j] = all[j], all[i]
		}
		return all, err
	}
	if count*3 > size || size <= rankBuildAt {
		// Most of the set: read it and drop random members until count remain.
		all, err := z.all()
		if err != nil {
			return nil, err
		}
		rand.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		return all[:count], nil
	}
	picked := make(map[int64]struct{}, count)
	out := make([]ScoredMember, 0, count)
	for int64(len(out)) < count {
		k := rand.Int64N(size)
		if _, dup := picked[k]; dup {
			continue
		}
		picked[k] = struct{}{}
		m, err := z.memberAt(k)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// ZScan continues a ZSCAN from cursor. A set Redis would keep in a listpack comes whole, with
// cursor 0 and compact true (scores print as the listpack stores them); a bigger one comes about
// count members at a time, the cursor naming where to resume (an unknown cursor restarts).
func (t *Txn) ZScan(key []byte, cursor uint64, count int) (next uint64, out []ScoredMember, compact bool, err error) {
	z, found, err := t.openZSet(key, false)
	if err != nil || !found {
		return 0, nil, false, err
	}
	defer z.close()
	if !z.rank.Skiplist {
		out, err = z.all()
		return 0, out, true, err
	}
	start := encoding.ScoreMin
	if cursor != 0 {
		if p, ok := t.e.cursors.load(cursor); ok && len(p) >= 8 {
			start = p
		}
	}
	count = max(count, 1)
	it, err := z.seekPos(start, true)
	if err != nil {
		return 0, nil, false, err
	}
	err = z.walk(it, true, func(pos []byte) (bool, error) {
		if len(out) == count {
			next = t.e.cursors.save(pos)
			return false, nil
		}
		m, err := z.keepMember(pos)
		out = append(out, m)
		return err == nil, err
	})
	return next, out, false, err
}

// ---- ZUNION, ZINTER, ZDIFF ----

// ZSource is one input of a set operation: a sorted set, a set, or nothing.
type ZSource struct {
	key  []byte
	typ  encoding.Type // TypeZSet, TypeSet, or TypeNone for a missing key
	size int64
	z    *zset
	sub  []byte // a set's subkey prefix
}

// ZSources looks up the inputs of a set operation in order; ErrWrongType at the first key that
// is neither a sorted set nor a set.
func (t *Txn) ZSources(keys [][]byte) ([]ZSource, error) {
	out := make([]ZSource, len(keys))
	for i, k := range keys {
		ks, err := t.lookup(k)
		if err != nil {
			return nil, err
		}
		out[i].key = t.keep(k)
		if !ks.live {
			continue
		}
		switch ks.meta.Type {
		case encoding.TypeZSet:
			z, _, err := t.openZSet(k, false)
			if err != nil {
				return nil, err
			}
			out[i].typ, out[i].size, out[i].z = encoding.TypeZSet, z.count(), z
		case encoding.TypeSet:
			out[i].typ, out[i].size = encoding.TypeSet, int64(ks.meta.Count)
			out[i].sub = encoding.AppendSubPrefix(nil, t.db, k, ks.meta.Version)
		default:
			closeSources(out)
			return nil, ErrWrongType
		}
	}
	return out, nil
}

func closeSources(srcs []ZSource) {
	for _, s := range srcs {
		if s.z != nil {
			s.z.close()
		}
	}
}

// each calls fn with every member of the source and its score (1 for a set's members).
// A set keeps one subkey per member, the member being the subkey's suffix.
func (s *ZSource) each(t *Txn, fn func(member []byte, score float64) error) error {
	switch s.typ {
	case encoding.TypeZSet:
		it, err := s.z.seekPos(encoding.ScoreMin, true)
		if err != nil {
			return err
		}
		return s.z.walk(it, true, func(pos []byte) (bool, error) {
			f, m, err := s.z.posScore(pos)
			if err != nil {
				return false, err
			}
			return true, fn(m, f)
		})
	case encoding.TypeSet:
		it, err := t.iter(s.sub, encoding.PrefixEnd(nil, s.sub))
		if err != nil {
			return err
		}
		for it.First(); it.Valid(); it.Next() {
			if err := fn(it.Key()[len(s.sub):], 1); err != nil {
				it.Close()
				return err
			}
		}
		return it.Close()
	}
	return nil
}

// find reads member's score in the source.
func (s *ZSource) find(t *Txn, member []byte) (float64, bool, error) {
	switch s.typ {
	case encoding.TypeZSet:
		return s.z.score(member)
	case encoding.TypeSet:
		_, ok, err := t.get(append(append([]byte(nil), s.sub...), member...))
		return 1, ok, err
	}
	return 0, false, nil
}

// ZAggregate is how ZUNION and ZINTER combine the scores of a member.
type ZAggregate uint8

const (
	ZAggSum ZAggregate = iota
	ZAggMin
	ZAggMax
)

func (a ZAggregate) apply(target *float64, v float64) {
	switch a {
	case ZAggSum:
		*target += v
		// inf + -inf is NaN; Redis makes it 0.
		if math.IsNaN(*target) {
			*target = 0
		}
	case ZAggMin:
		if v < *target {
			*target = v
		}
	case ZAggMax:
		if v > *target {
			*target = v
		}
	}
}

// ZSetOp names the operation.
type ZSetOp uint8

const (
	ZUnion ZSetOp = iota
	ZInter
	ZDiff
)

// bySize orders sources by size, stably, as Redis's qsort (glibc's merge sort) leaves them;
// weights travel with their sources. The order decides in which order scores are summed.
func bySize(srcs []ZSource, weights []float64) ([]ZSource, []float64) {
	idx := make([]int, len(srcs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return srcs[idx[a]].size < srcs[idx[b]].size })
	s2 := make([]ZSource, len(srcs))
	w2 := make([]float64, len(srcs))
	for i, j := range idx {
		s2[i], w2[i] = srcs[j], weights[j]
	}
	return s2, w2
}

// weighted is weight * score, with Redis's NaN (0 * inf) made 0.
func weighted(w, f float64) float64 {
	v := w * f
	if math.IsNaN(v) {
		return 0
	}
	return v
}

// ZCombine computes a union, intersection or difference of sources (opened by ZSources, which
// it closes), sorted by score then member. weights has one entry per source (nil: all 1).
func (t *Txn) ZCombine(op ZSetOp, srcs []ZSource, weights []float64, agg ZAggregate) ([]ScoredMember, error) {
	defer closeSources(srcs)
	if weights == nil {
		weights = make([]float64, len(srcs))
		for i := range weights {
			weights[i] = 1
		}
	}
	var out []ScoredMember
	var err error
	switch op {
	case ZInter:
		srcs, weights = bySize(srcs, weights)
		err = t.zinter(srcs, weights, agg, func(m []byte, f float64) bool {
			out = append(out, ScoredMember{Member: t.keep(m), Score: f})
			return true
		})
	case ZUnion:
		srcs, weights = bySize(srcs, weights)
		acc := map[string]int{}
		for i := range srcs {
			err = srcs[i].each(t, func(m []byte, f float64) error {
				v := weighted(weights[i], f)
				if j, ok := acc[string(m)]; ok {
					agg.apply(&out[j].Score, v)
					return nil
				}
				acc[string(m)] = len(out)
				out = append(out, ScoredMember{Member: t.keep(m), Score: v})
				return nil
			})
			if err != nil {
				break
			}
		}
	case ZDiff:
		err = srcs[0].each(t, func(m []byte, f float64) error {
			for j := 1; j < len(srcs); j++ {
				_, ok, err := srcs[j].find(t, m)
				if err != nil || ok {
					return err
				}
			}
			out = append(out, ScoredMember{Member: t.keep(m), Score: f})
			return nil
		})
	}
	if err != nil {
		return nil, err
	}
	sortScored(out)
	return out, nil
}

// zinter calls emit with each member of every source and its combined score, until emit
// returns false. srcs are ordered smallest first.
func (t *Txn) zinter(srcs []ZSource, weights []float64, agg ZAggregate, emit func([]byte, float64) bool) error {
	if len(srcs) == 0 || srcs[0].size == 0 {
		return nil
	}
	stop := errStopWalk
	err := srcs[0].each(t, func(m []byte, f float64) error {
		score := weighted(weights[0], f)
		for j := 1; j < len(srcs); j++ {
			v, ok, err := srcs[j].find(t, m)
			if err != nil {
				return err
			}
			if !ok {
				return nil
			}
			agg.apply(&score, weights[j]*v)
		}
		if !emit(m, score) {
			return stop
		}
		return nil
	})
	if err == stop {
		return nil
	}
	return err
}

// errStopWalk ends a walk early without an error.
var errStopWalk = errors.New("engine: stop walk")

// ZInterCard counts the members of every source, stopping at limit (0: no limit).
func (t *Txn) ZInterCard(srcs []ZSource, limit int64) (int64, error) {
	defer closeSources(srcs)
	weights := make([]float64, len(srcs))
	for i := range weights {
		weights[i] = 1
	}
	srcs, weights = bySize(srcs, weights)
	var n int64
	err := t.zinter(srcs, weights, ZAggSum, func([]byte, float64) bool {
		n++
		return limit == 0 || n < limit
	})
	return n, err
}

// ZStore replaces dst with members (any order, no duplicates), deleting it when there are
// none, and returns how many were stored.
func (t *Txn) ZStore(dst []byte, members []ScoredMember) (int64, error) {
	sortScored(members)
	// A member listed twice (a search whose cells overlap) is stored once.
	kept := members[:0]
	for i, m := range members {
		if i > 0 && bytes.Equal(m.Member, kept[len(kept)-1].Member) {
			continue
		}
		kept = append(kept, m)
	}
	return t.zstoreSorted(dst, kept)
}

func sortScored(ms []ScoredMember) {
	sort.Slice(ms, func(i, j int) bool {
		if ms[i].Score != ms[j].Score {
			return ms[i].Score < ms[j].Score
		}
		return bytes.Compare(ms[i].Member, ms[j].Member) < 0
	})
}
