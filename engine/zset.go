package engine

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"

	"github.com/cockroachdb/pebble/v2"

	"github.com/stratadb/strata/encoding"
)

// Sorted sets. Each member lives twice, written in one batch: the subkey member -> score (8
// bytes, the IEEE-754 bits big-endian) answers ZSCORE with one point read, and the score key
// score | member -> "" keeps members in Redis's order (score, then member bytes) so that a range
// by score or by lex is one bounded scan. Sets past a few dozen members also keep rank buckets
// (zrank.go) so that ZRANK and ZRANGE by index do not scan from the start.
//
// A "position" below is what follows the version in a score key: score (8, order-preserving,
// -0 and 0 alike) | member.
//
// Redis keeps a small set in a listpack, which stores -0 as 0, and a big one (past 128 members,
// or with a member longer than 64 bytes) in a skiplist, which keeps -0; it converts once and
// never back. The metadata records that conversion (ZSetFields.Skiplist) and the set follows
// the same rules: in "skiplist" sets a -0 score stays -0 (the subkey holds its bits, its score
// key the value NegZeroMark). Replies that echo a computed score (ZINCRBY, ZUNION without
// STORE) print the computed value, as Redis does.
//
// Removals leave tombstones in the score range until a compaction drops them, and a run of
// ZPOPMINs would leave each pop's seek from the start of the range to walk every earlier pop's
// tombstone (a quadratic run). So the set keeps a floor and a ceiling in its metadata
// (encoding/doc.go, "Scores"): no member below the floor, none at or above the ceiling. The
// score iterator's bounds are the hints, so every scan from either end starts at the live
// members. A command that adds a member outside them widens them as it writes the member,
// keeping the old hint as a mark and counting the members past it, so that once those are
// gone again the hint returns to the mark instead of walking back over the tombstones between;
// one that removes a member whose hint is the floor (ceiling), or removes from a set without
// hints, moves them to the new first (last) member when it finishes, in the same batch as the
// removal. A hint is thus never tighter than the set, whatever commits or aborts.
//
// What the hints cannot skip are tombstones among the members: of members removed from the
// middle, or pushed past an edge and popped while an older member stayed past the mark (a
// stack that grows and shrinks). Walks that meet many ask for a compaction (tombstones.go).

// ScoredMember is a member with its score. Members returned by the engine live in the Txn's
// arena until the command ends.
type ScoredMember struct {
	Member []byte
	Score  float64
}

// zset is one sorted set opened by a command: its metadata, prefixes, and one iterator over its
// score range (members, then rank buckets) that is refreshed after the command's own writes.
type zset struct {
	t    *Txn
	key  []byte
	ks   keyState
	meta encoding.Meta
	rank encoding.ZSetFields

	sub   []byte             // subkey prefix: sub + member -> score
	sc    []byte             // score prefix: sc + position -> ""
	rkp   []byte             // rank prefix: sc + ff ff; also the end of the member positions
	iopts pebble.IterOptions // over the members: from the floor to the ceiling (or rkp)
	it    *pebble.Iterator
	stale bool // the Txn wrote since the iterator was refreshed
	dirty bool // the metadata must be written

	// lowEdge (highEdge): a removal may have taken the first (last) member, or the set has no
	// floor (ceiling) yet: finish sets it from the members.
	lowEdge, highEdge bool

	idx       *rankIndex // the rank index, once loaded
	rankDirty bool       // the buckets changed: finish gives them a new generation

	kbuf, vbuf, pbuf []byte
}

// openZSet looks up key for a sorted-set command. found is false when the key does not exist
// (or has expired); ErrWrongType when it holds another type. With create, a missing key opens
// as a new empty set (written only if members are added).
func (t *Txn) openZSet(key []byte, create bool) (*zset, bool, error) {
	ks, err := t.lookup(key)
	if err != nil {
		return nil, false, err
	}
	if ks.live && ks.meta.Type != encoding.TypeZSet {
		return nil, false, ErrWrongType
	}
	if !ks.live && !create {
		return nil, false, nil
	}
	z := &zset{t: t, key: t.keep(key), ks: ks}
	if ks.live {
		z.meta = ks.meta
		if z.rank, err = encoding.DecodeZSetFields(ks.meta.Rest); err != nil {
			return nil, false, corruptf("sorted set fields of %q", key)
		}
	} else {
		z.meta = t.newMeta(encoding.TypeZSet)
	}
	z.prefixes(key)
	return z, ks.live, nil
}

// prefixes sets the set's key prefixes for its version, and the iterator's bounds.
func (z *zset) prefixes(key []byte) {
	db, v := z.t.db, z.meta.Version
	z.sub = encoding.AppendSubPrefix(nil, db, key, v)
	z.sc = encoding.AppendScorePrefix(nil, db, key, v)
	z.rkp = encoding.AppendRankPrefix(nil, db, key, v)
	z.bound()
}

// bound sets the iterator's bounds to the members between the hints. The bounds are fresh
// slices: Pebble keeps the old ones to compare until SetOptions.
func (z *zset) bound() {
	lo := append(append([]byte(nil), z.sc...), z.rank.Floor...)
	hi := z.rkp
	if len(z.rank.Ceiling) > 0 {
		hi = append(append([]byte(nil), z.sc...), z.rank.Ceiling...)
	}
	z.iopts = pebble.IterOptions{LowerBound: lo, UpperBound: hi}
	z.stale = true
}

// writable prepares the set for changes: the Txn's batch must exist before the iterator opens,
// or the iterator would never see the command's own writes.
func (z *zset) writable() { z.t.ensureBatch() }

// close releases the iterator.
func (z *zset) close() {
	if z.it != nil {
		z.t.closeIter(z.it, z.iopts.LowerBound, z.iopts.UpperBound)
		z.it = nil
	}
}

// iter returns the score-range iterator, refreshed to see the Txn's writes. It must be
// repositioned after every call.
func (z *zset) iter() (*pebble.Iterator, error) {
	if z.it == nil {
		it, err := z.t.iter(z.iopts.LowerBound, z.iopts.UpperBound)
		if err != nil {
			return nil, err
		}
		z.it = it
		z.stale = false
		return it, nil
	}
	if z.stale {
		z.it.SetOptions(&z.iopts)
		z.stale = false
	}
	return z.it, nil
}

func (z *zset) set(k, v []byte) { z.t.set(k, v); z.stale = true }
func (z *zset) del(k []byte)    { z.t.del(k); z.stale = true }

// count is the number of members.
func (z *zset) count() int64 { return int64(z.meta.Count) }

// position appends the position of (score, member) to dst.
func position(dst []byte, score float64, member []byte) []byte {
	return append(encoding.AppendScore(dst, score), member...)
}

// decodePosition splits a position into its score and member (aliasing pos). The score of a
// -0 member reads 0 here; posScore tells them apart.
func decodePosition(pos []byte) (float64, []byte, error) {
	if len(pos) < 8 {
		return 0, nil, corruptf("sorted set position %x", pos)
	}
	f, _ := encoding.DecodeScore(pos)
	return f, pos[8:], nil
}

// posScore decodes the position the iterator is on, with its exact score (-0 included).
func (z *zset) posScore(pos []byte) (float64, []byte, error) {
	f, m, err := decodePosition(pos)
	if err == nil && f == 0 && z.it != nil && string(z.it.Value()) == encoding.NegZeroMark {
		f = math.Copysign(0, -1)
	}
	return f, m, err
}

// score reads member's score: one point read of its subkey.
func (z *zset) score(member []byte) (float64, bool, error) {
	z.kbuf = append(append(z.kbuf[:0], z.sub...), member...)
	v, ok, err := z.t.get(z.kbuf)
	if err != nil || !ok {
		return 0, false, err
	}
	if len(v) != 8 {
		return 0, false, corruptf("score of a member of %q", z.key)
	}
	return math.Float64frombits(beUint64(v)), true, nil
}

// Redis's listpack limits: past them it holds a set in a skiplist.
const (
	listpackEntries  = 128
	listpackValueLen = 64
)

// insert adds a member that is not in the set. added says it is new to the set, not moved
// (Redis converts a listpack before adding a member that does not fit, not when moving one).
func (z *zset) insert(member []byte, score float64, added bool) error {
	if err := z.indexed(); err != nil {
		return err
	}
	if added && !z.rank.Skiplist && (z.meta.Count+1 > listpackEntries || len(member) > listpackValueLen) {
		z.rank.Skiplist = true
	}
	z.writeMember(member, score)
	z.meta.Count++
	z.dirty = true
	if z.rank.Ranked {
		return z.rankInsert(z.pbuf)
	}
	if z.meta.Count > rankBuildAt {
		return z.rankBuild()
	}
	return nil
}

// writeMember writes a member's subkey and score key.
func (z *zset) writeMember(member []byte, score float64) {
	var mark []byte
	if score == 0 && math.Signbit(score) {
		if z.rank.Skiplist {
			mark = []byte(encoding.NegZeroMark)
		} else {
			score = 0 // a listpack stores -0 as 0
		}
	}
	z.pbuf = position(z.pbuf[:0], score, member)
	z.widen(z.pbuf)
	z.kbuf = append(append(z.kbuf[:0], z.sub...), member...)
	z.vbuf = binary.BigEndian.AppendUint64(z.vbuf[:0], math.Float64bits(score))
	z.set(z.kbuf, z.vbuf)
	z.kbuf = append(append(z.kbuf[:0], z.sc...), z.pbuf...)
	z.set(z.kbuf, mark)
}

// widen moves the hints out to take in a member written at pos, keeping where they were as
// marks (when not already marked) and counting the members past the marks.
func (z *zset) widen(pos []byte) {
	r := &z.rank
	moved := false
	if len(r.Floor) > 0 {
		if bytes.Compare(pos, r.Floor) < 0 {
			if len(r.LowMark) == 0 {
				r.LowMark, r.LowCount = r.Floor, 0
			}
			r.Floor, moved = encoding.FloorHint(nil, pos), true
		}
		if len(r.LowMark) > 0 && bytes.Compare(pos, r.LowMark) < 0 {
			r.LowCount++
		}
	}
	if len(r.Ceiling) > 0 {
		if bytes.Compare(pos, r.Ceiling) >= 0 {
			if len(r.HighMark) == 0 {
				r.HighMark, r.HighCount = r.Ceiling, 0
			}
			r.Ceiling, moved = encoding.CeilingHint(nil, pos), true
		}
		if len(r.HighMark) > 0 && bytes.Compare(pos, r.HighMark) >= 0 {
			r.HighCount++
		}
	}
	if moved {
		z.bound()
	}
}

// removed notes that the member at pos went. Past a mark it uncounts it; the last one past
// the mark gone, the hint goes back to the mark, and finish makes it exact. And if the floor
// (ceiling) is pos's own, pos may have been the first (last) member: finish moves the hint.
func (z *zset) removed(pos []byte) {
	z.uncount(pos)
	if f := z.rank.Floor; !z.lowEdge {
		z.lowEdge = len(f) == 0 || bytes.Equal(pos[:min(len(pos), encoding.ZSetHintMax)], f)
	}
	if c := z.rank.Ceiling; !z.highEdge {
		z.vbuf = encoding.CeilingHint(z.vbuf[:0], pos)
		z.highEdge = len(c) == 0 || bytes.Equal(z.vbuf, c)
	}
}

// uncount takes a member removed at pos off the count of its mark.
func (z *zset) uncount(pos []byte) {
	r := &z.rank
	if len(r.LowMark) > 0 && bytes.Compare(pos, r.LowMark) < 0 {
		if r.LowCount--; r.LowCount == 0 {
			r.Floor, r.LowMark = r.LowMark, nil
			z.lowEdge = true
			z.bound()
		}
	}
	if len(r.HighMark) > 0 && bytes.Compare(pos, r.HighMark) >= 0 {
		if r.HighCount--; r.HighCount == 0 {
			r.Ceiling, r.HighMark = r.HighMark, nil
			z.highEdge = true
			z.bound()
		}
	}
}

// moveHints sets the floor to the first member and the ceiling just after the last, as finish
// needs after removals at the edges. A failed read leaves no hint (nor mark), which is always
// true. A mark the new hint reaches counts members that are not there: it goes.
func (z *zset) moveHints() {
	r := &z.rank
	if z.lowEdge {
		pos, ok, err := z.edge(true)
		r.Floor = nil
		if err == nil && ok {
			r.Floor = encoding.FloorHint(nil, pos)
		}
		if len(r.Floor) == 0 || bytes.Compare(r.Floor, r.LowMark) >= 0 {
			r.LowMark = nil
		}
	}
	if z.highEdge {
		pos, ok, err := z.edge(false)
		r.Ceiling = nil
		if err == nil && ok {
			r.Ceiling = encoding.CeilingHint(nil, pos)
		}
		if len(r.Ceiling) == 0 || bytes.Compare(r.Ceiling, r.HighMark) <= 0 {
			r.HighMark = nil
		}
	}
}

// remove deletes a member whose score is score.
func (z *zset) remove(member []byte, score float64) error {
	if err := z.indexed(); err != nil {
		return err
	}
	z.pbuf = position(z.pbuf[:0], score, member)
	z.kbuf = append(append(z.kbuf[:0], z.sub...), member...)
	z.del(z.kbuf)
	z.kbuf = append(append(z.kbuf[:0], z.sc...), z.pbuf...)
	z.del(z.kbuf)
	z.removed(z.pbuf)
	z.meta.Count--
	z.dirty = true
	if z.rank.Ranked && z.meta.Count > 0 {
		return z.rankDelete(z.pbuf)
	}
	return nil
}

// rescore moves a member from score old to score new.
func (z *zset) rescore(member []byte, old, new float64) error {
	if err := z.remove(member, old); err != nil {
		return err
	}
	return z.insert(member, new, false)
}

// finish writes the metadata after changes: a set whose last member went away is deleted.
func (z *zset) finish() {
	if z.dirty && z.meta.Count > 0 && (z.lowEdge || z.highEdge) {
		z.moveHints()
	}
	z.close()
	if !z.dirty {
		return
	}
	if z.meta.Count == 0 {
		z.t.deleteKey(z.key, &z.ks)
		return
	}
	z.rankFinish()
	z.meta.Rest = encoding.AppendZSetFields(nil, z.rank)
	z.t.putMeta(z.key, &z.ks, &z.meta)
}

// ---- reading members in order ----

// member decodes the iterator's current member position; ok is false past the members.
func (z *zset) current(it *pebble.Iterator) (pos []byte, ok bool) {
	if !it.Valid() {
		return nil, false
	}
	k := it.Key()
	if len(k) < len(z.sc)+8 || bytes.Compare(k, z.rkp) >= 0 {
		return nil, false
	}
	return k[len(z.sc):], true
}

// seekPos positions the iterator at the first member at or after position pos (forward) or
// the last member before pos (backward; nil pos = the end).
func (z *zset) seekPos(pos []byte, forward bool) (*pebble.Iterator, error) {
	it, err := z.iter()
	if err != nil {
		return nil, err
	}
	if pos == nil && !forward {
		it.SeekLT(z.rkp)
		return it, nil
	}
	z.kbuf = append(append(z.kbuf[:0], z.sc...), pos...)
	if forward {
		it.SeekGE(z.kbuf)
	} else {
		it.SeekLT(z.kbuf)
	}
	return it, nil
}

// keepMember returns the member at pos (where the iterator is), its bytes kept in the Txn's
// arena.
func (z *zset) keepMember(pos []byte) (ScoredMember, error) {
	f, m, err := z.posScore(pos)
	if err != nil {
		return ScoredMember{}, err
	}
	return ScoredMember{Member: z.t.keep(m), Score: f}, nil
}

// walk calls fn with the members from the iterator's position on, forward or backward, until
// fn returns false or the members end.
func (z *zset) walk(it *pebble.Iterator, forward bool, fn func(pos []byte) (bool, error)) error {
	for {
		pos, ok := z.current(it)
		if !ok {
			return it.Error()
		}
		more, err := fn(pos)
		if err != nil || !more {
			return err
		}
		if forward {
			it.Next()
		} else {
			it.Prev()
		}
	}
}

// first returns the position of the first (or last) member, copied.
func (z *zset) edge(forward bool) ([]byte, bool, error) {
	var it *pebble.Iterator
	var err error
	if forward {
		it, err = z.seekPos(encoding.ScoreMin, true)
	} else {
		it, err = z.seekPos(nil, false)
	}
	if err != nil {
		return nil, false, err
	}
	pos, ok := z.current(it)
	if !ok {
		return nil, false, it.Error()
	}
	return append([]byte(nil), pos...), true, nil
}

// ---- bounds ----

// nextScore is the encoded score just above s (s is never the largest encoding: +inf is
// 0xfff0..., far below the rank marker).
func nextScore(dst []byte, f float64) []byte {
	u := beUint64(encoding.AppendScore(nil, f)) + 1
	return append(dst, byte(u>>56), byte(u>>48), byte(u>>40), byte(u>>32), byte(u>>24), byte(u>>16), byte(u>>8), byte(u))
}

// scoreSpan returns the positions [lo, hi) of the members whose scores are in r.
func scoreSpan(r ScoreRange) (lo, hi []byte) {
	if r.MinEx {
		lo = nextScore(nil, r.Min)
	} else {
		lo = encoding.AppendScore(nil, r.Min)
	}
	if r.MaxEx {
		hi = encoding.AppendScore(nil, r.Max)
	} else {
		hi = nextScore(nil, r.Max)
	}
	return lo, hi
}

// lexSpan returns the positions [lo, hi) of the members of score s (encoded) that are in r.
// ok is false when no position can be in r.
func lexSpan(s []byte, r LexRange) (lo, hi []byte, ok bool) {
	switch r.Min.kind {
	case lexMinusInf:
		lo = append([]byte(nil), s...)
	case lexPlusInf:
		return nil, nil, false
	default:
		lo = append(append([]byte(nil), s...), r.Min.Value...)
		if r.Min.Ex {
			lo = append(lo, 0)
		}
	}
	switch r.Max.kind {
	case lexPlusInf:
		hi = append([]byte(nil), s...)
		u := beUint64(hi) + 1
		hi = append(hi[:0], byte(u>>56), byte(u>>48), byte(u>>40), byte(u>>32), byte(u>>24), byte(u>>16), byte(u>>8), byte(u))
	case lexMinusInf:
		return nil, nil, false
	default:
		hi = append(append([]byte(nil), s...), r.Max.Value...)
		if !r.Max.Ex {
			hi = append(hi, 0)
		}
	}
	return lo, hi, true
}

// sameScore reports whether every member has the same score (the first and last do), and
// returns that score encoded. ZRANGEBYLEX is only meaningful then; otherwise Redis's listpack
// walk is reproduced.
func (z *zset) sameScore() ([]byte, bool, error) {
	first, ok, err := z.edge(true)
	if err != nil || !ok {
		return nil, false, err
	}
	last, _, err := z.edge(false)
	if err != nil {
		return nil, false, err
	}
	if !bytes.Equal(first[:8], last[:8]) {
		return nil, false, nil
	}
	return first[:8], true, nil
}

// span is a set of consecutive members: those with positions in [lo, hi), or (for a lex
// range over members of different scores) the list Redis's listpack walk finds.
type span struct {
	lo, hi []byte
	list   []ScoredMember // the members, in walk order, when not nil
	empty  bool
}

// spanOf resolves a score or lex range (By must be ZByScore or ZByLex) into a span. rev
// matters only for the listpack walk of a lex range over mixed scores.
func (z *zset) spanOf(by ZRangeBy, sr ScoreRange, lr LexRange, rev bool) (span, error) {
	if by == ZByScore {
		if sr.Empty() {
			return span{empty: true}, nil
		}
		lo, hi := scoreSpan(sr)
		return span{lo: lo, hi: hi}, nil
	}
	if lr.Empty() || z.meta.Count == 0 {
		return span{empty: true}, nil
	}
	s, same, err := z.sameScore()
	if err != nil {
		return span{}, err
	}
	if same {
		lo, hi, ok := lexSpan(s, lr)
		if !ok || bytes.Compare(lo, hi) >= 0 {
			return span{empty: true}, nil
		}
		return span{lo: lo, hi: hi}, nil
	}
	list, err := z.lexWalk(lr, rev)
	return span{list: list, empty: len(list) == 0}, err
}

// lexWalk reproduces Redis's listpack lex range over members of different scores: check that
// the last member is >= min and the first <= max, walk from the start to the first member >=
// min (from the end to the first <= max when reversed), which must be <= max (>= min), then
// take members while they stay <= max (>= min).
func (z *zset) lexWalk(r LexRange, rev bool) ([]ScoredMember, error) {
	first, _, err := z.edge(true)
	if err != nil {
		return nil, err
	}
	last, _, err := z.edge(false)
	if err != nil {
		return nil, err
	}
	if !r.gteMin(last[8:]) || !r.lteMax(first[8:]) {
		return nil, nil
	}
	var it *pebble.Iterator
	if rev {
		it, err = z.seekPos(nil, false)
	} else {
		it, err = z.seekPos(encoding.ScoreMin, true)
	}
	if err != nil {
		return nil, err
	}
	out := []ScoredMember{}
	started := false
	err = z.walk(it, !rev, func(pos []byte) (bool, error) {
		m := pos[8:]
		if !started {
			found := r.gteMin(m)
			if rev {
				found = r.lteMax(m)
			}
			if !found {
				return true, nil
			}
			started = true
		}
		in := r.lteMax(m)
		if rev {
			in = r.gteMin(m)
		}
		if !in {
			return false, nil
		}
		sm, err := z.keepMember(pos)
		out = append(out, sm)
		return err == nil, err
	})
	return out, err
}

// spanCount is the number of members in a span.
func (z *zset) spanCount(s span) (int64, error) {
	switch {
	case s.empty:
		return 0, nil
	case s.list != nil:
		return int64(len(s.list)), nil
	}
	if z.rank.Ranked {
		a, err := z.rankBefore(s.lo)
		if err != nil {
			return 0, err
		}
		b, err := z.rankBefore(s.hi)
		return int64(b - a), err
	}
	it, err := z.seekPos(s.lo, true)
	if err != nil {
		return 0, err
	}
	var n int64
	err = z.walk(it, true, func(pos []byte) (bool, error) {
		if bytes.Compare(pos, s.hi) >= 0 {
			return false, nil
		}
		n++
		return true, nil
	})
	return n, err
}

// spanMembers returns up to limit members of a span (limit < 0: all) after skipping offset,
// in order (rev: from the end).
func (z *zset) spanMembers(s span, rev bool, offset, limit int64) ([]ScoredMember, error) {
	if s.empty || limit == 0 || offset < 0 {
		return nil, nil
	}
	var out []ScoredMember
	if s.list != nil {
		for i := offset; i < int64(len(s.list)) && (limit < 0 || int64(len(out)) < limit); i++ {
			out = append(out, s.list[i])
		}
		return out, nil
	}
	var it *pebble.Iterator
	var err error
	if offset > rankSkipScan && z.rank.Ranked {
		// Jump over the offset with the rank entries instead of stepping through it.
		lo, err := z.rankBefore(s.lo)
		if err != nil {
			return nil, err
		}
		hi, err := z.rankBefore(s.hi)
		if err != nil {
			return nil, err
		}
		if offset >= int64(hi-lo) {
			return nil, nil
		}
		k := int64(lo) + offset
		if rev {
			k = int64(hi) - 1 - offset
		}
		if it, err = z.seekRank(k); err != nil {
			return nil, err
		}
		offset = 0
	} else if rev {
		it, err = z.seekPos(s.hi, false)
	} else {
		it, err = z.seekPos(s.lo, true)
	}
	if err != nil {
		return nil, err
	}
	err = z.walk(it, !rev, func(pos []byte) (bool, error) {
		if (!rev && bytes.Compare(pos, s.hi) >= 0) || (rev && bytes.Compare(pos, s.lo) < 0) {
			return false, nil
		}
		if offset > 0 {
			offset--
			return true, nil
		}
		sm, err := z.keepMember(pos)
		if err != nil {
			return false, err
		}
		out = append(out, sm)
		return limit < 0 || int64(len(out)) < limit, nil
	})
	return out, err
}

// rankSpan returns the members of ranks [start, stop] (already clipped to the set), from the
// start or, with rev, counting from the end.
func (z *zset) rankMembers(start, stop int64, rev bool) ([]ScoredMember, error) {
	n := stop - start + 1
	first := start
	if rev {
		first = z.count() - 1 - start
	}
	var it *pebble.Iterator
	var err error
	switch {
	case start == 0 && rev: // from the last member (ZPOPMAX): one seek from the ceiling
		it, err = z.seekPos(nil, false)
	case start == 0: // from the first (ZPOPMIN): one seek from the floor
		it, err = z.seekPos(encoding.ScoreMin, true)
	default:
		it, err = z.seekRank(first)
	}
	if err != nil {
		return nil, err
	}
	out := make([]ScoredMember, 0, min(n, 1<<16))
	err = z.walk(it, !rev, func(pos []byte) (bool, error) {
		sm, err := z.keepMember(pos)
		if err != nil {
			return false, err
		}
		out = append(out, sm)
		return int64(len(out)) < n, nil
	})
	return out, err
}

// ---- commands ----

// ZAddFlags are ZADD's options.
type ZAddFlags struct {
	NX, XX, GT, LT, Incr bool
}

// ZAddResult is what ZADD did.
type ZAddResult struct {
	Added, Updated, Processed int64
	Score                     float64 // the new score of the last processed member (INCR)
}

// ZAdd adds or updates members with scores under the conditions of f, as zsetAdd does for
// each pair in turn. ErrScoreNaN when an increment makes NaN.
func (t *Txn) ZAdd(key []byte, f ZAddFlags, scores []float64, members [][]byte) (ZAddResult, error) {
	var r ZAddResult
	z, found, err := t.openZSet(key, true)
	if err != nil || (!found && f.XX) {
		return r, err
	}
	z.writable()
	defer z.finish()
	// Redis 7.0 creates a skiplist when the first member is long; otherwise a set converts
	// when an added member does not fit (insert).
	if !found && len(members) > 0 && len(members[0]) > listpackValueLen {
		z.rank.Skiplist = true
	}
	for i, member := range members {
		score := scores[i]
		cur, exists, err := z.score(member)
		if err != nil {
			return r, err
		}
		if exists {
			if f.NX {
				continue
			}
			if f.Incr {
				score += cur
				if math.IsNaN(score) {
					return r, ErrScoreNaN
				}
			}
			if (f.LT && score >= cur) || (f.GT && score <= cur) {
				continue
			}
			r.Processed++
			r.Score = score
			if score != cur {
				if err := z.rescore(member, cur, score); err != nil {
					return r, err
				}
				r.Updated++
			}
			continue
		}
		if f.XX {
			continue
		}
		if err := z.insert(member, score, true); err != nil {
			return r, err
		}
		r.Added++
		r.Processed++
		r.Score = score
	}
	return r, nil
}

// ZRem removes members and says how many were there.
func (t *Txn) ZRem(key []byte, members [][]byte) (int64, error) {
	z, found, err := t.openZSet(key, false)
	if err != nil || !found {
		return 0, err
	}
	z.writable()
	defer z.finish()
	var n int64
	for _, m := range members {
		f, ok, err := z.score(m)
		if err != nil {
			return n, err
		}
		if !ok {
			continue
		}
		if err := z.remove(m, f); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// ZCard is the number of members: the metadata alone.
func (t *Txn) ZCard(key []byte) (int64, error) {
	z, found, err := t.openZSet(key, false)
	if err != nil || !found {
		return 0, err
	}
	return z.count(), nil
}

// ZScore reads member's score; false when the key or member is missing.
func (t *Txn) ZScore(key, member []byte) (float64, bool, error) {
	z, found, err := t.openZSet(key, false)
	if err != nil || !found {
		return 0, false, err
	}
	return z.score(member)
}

// ZMScore reads the scores of members; ok[i] is false for a missing one.
func (t *Txn) ZMScore(key []byte, members [][]byte) (scores []float64, ok []bool, err error) {
	scores = make([]float64, len(members))
	ok = make([]bool, len(members))
	z, found, err := t.openZSet(key, false)
	if err != nil || !found {
		return scores, ok, err
	}
	for i, m := range members {
		if scores[i], ok[i], err = z.score(m); err != nil {
			return scores, ok, err
		}
	}
	return scores, ok, nil
}

// ZRank is member's 0-based rank (from the highest score with rev); false when missing.
func (t *Txn) ZRank(key, member []byte, rev bool) (int64, bool, error) {
	z, found, err := t.openZSet(key, false)
	if err != nil || !found {
		return 0, false, err
	}
	defer z.close()
	f, ok, err := z.score(member)
	if err != nil || !ok {
		return 0, false, err
	}
	r, err := z.rankBefore(position(nil, f, member))
	if err != nil {
		return 0, false, err
	}
	if rev {
		return z.count() - 1 - int64(r), true, nil
	}
	return int64(r), true, nil
}

// ZCount is the number of members with scores in r.
func (t *Txn) ZCount(key []byte, r ScoreRange) (int64, error) {
	return t.zcount(key, ZByScore, r, LexRange{})
}

// ZLexCount is the number of members in the lex range r.
func (t *Txn) ZLexCount(key []byte, r LexRange) (int64, error) {
	return t.zcount(key, ZByLex, ScoreRange{}, r)
}

func (t *Txn) zcount(key []byte, by ZRangeBy, sr ScoreRange, lr LexRange) (int64, error) {
	z, found, err := t.openZSet(key, false)
	if err != nil || !found {
		return 0, err
	}
	defer z.close()
	s, err := z.spanOf(by, sr, lr, false)
	if err != nil {
		return 0, err
	}
	return z.spanCount(s)
}

// ZRangeBy says how a range is given.
type ZRangeBy uint8

const (
	ZByRank ZRangeBy = iota
	ZByScore
	ZByLex
)

// ZRangeSpec is a ZRANGE request: by rank [Start, Stop], by score or by lex, forward or
// reversed, with LIMIT Offset Limit for score and lex ranges (Limit < 0: no limit).
type ZRangeSpec struct {
	By          ZRangeBy
	Start, Stop int64
	Score       ScoreRange
	Lex         LexRange
	Rev         bool
	Offset      int64
	Limit       int64
}

// zrange returns the members a spec selects, in reply order.
func (z *zset) zrange(spec ZRangeSpec) ([]ScoredMember, error) {
	if spec.By == ZByRank {
		start, stop, ok := clipRange(spec.Start, spec.Stop, z.count())
		if !ok {
			return nil, nil
		}
		return z.rankMembers(start, stop, spec.Rev)
	}
	if spec.By == ZByScore && spec.Offset > 0 && spec.Offset >= z.count() {
		return nil, nil
	}
	s, err := z.spanOf(spec.By, spec.Score, spec.Lex, spec.Rev)
	if err != nil {
		return nil, err
	}
	return z.spanMembers(s, spec.Rev, spec.Offset, spec.Limit)
}

// ZRange returns the members spec selects from key, in reply order (nil for a missing key).
func (t *Txn) ZRange(key []byte, spec ZRangeSpec) ([]ScoredMember, error) {
	z, found, err := t.openZSet(key, false)
	if err != nil || !found {
		return nil, err
	}
	defer z.close()
	return z.zrange(spec)
}

// ZRangeStore stores the members spec selects from src in dst (replacing it; deleting it when
// nothing is selected) and returns how many. A src of another type is ErrWrongType and dst is
// left alone.
func (t *Txn) ZRangeStore(dst, src []byte, spec ZRangeSpec) (int64, error) {
	z, found, err := t.openZSet(src, false)
	if err != nil {
		return 0, err
	}
	var out []ScoredMember
	if found {
		out, err = z.zrange(spec)
		z.close()
		if err != nil {
			return 0, err
		}
	}
	if spec.Rev {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return t.zstoreSorted(dst, out)
}

// ZRemRange removes the members spec selects (no Rev, no limit) and says how many.
func (t *Txn) ZRemRange(key []byte, spec ZRangeSpec) (int64, error) {
	z, found, err := t.openZSet(key, false)
	if err != nil || !found {
		return 0, err
	}
	z.writable()
	defer z.finish()
	var victims []ScoredMember
	if spec.By == ZByRank {
		start, stop, ok := clipRange(spec.Start, spec.Stop, z.count())
		if !ok {
			return 0, nil
		}
		if start == 0 && stop == z.count()-1 {
			return z.removeAll()
		}
		victims, err = z.rankMembers(start, stop, false)
	} else {
		var s span
		if s, err = z.spanOf(spec.By, spec.Score, spec.Lex, false); err == nil {
			victims, err = z.spanMembers(s, false, 0, -1)
		}
	}
	if err != nil {
		return 0, err
	}
	if int64(len(victims)) == z.count() {
		return z.removeAll()
	}
	return int64(len(victims)), z.removeRun(victims)
}

// removeRun removes members that are consecutive in the set's order, given in that order. A
// long run goes in bulk: its score keys with one range deletion and its buckets adjusted once
// each (ZREMRANGEBYRANK trimming a million-member leaderboard must not cost a million bucket
// updates).
func (z *zset) removeRun(run []ScoredMember) error {
	if len(run) < 2*rankFan {
		for _, m := range run {
			if err := z.remove(m.Member, m.Score); err != nil {
				return err
			}
		}
		return nil
	}
	first := position(nil, run[0].Score, run[0].Member)
	last := position(nil, run[len(run)-1].Score, run[len(run)-1].Member)
	var k uint64
	if z.rank.Ranked {
		var err error
		if k, err = z.rankBefore(first); err != nil {
			return err
		}
	}
	for _, m := range run {
		z.kbuf = append(append(z.kbuf[:0], z.sub...), m.Member...)
		z.del(z.kbuf)
	}
	lo := append(append([]byte(nil), z.sc...), first...)
	hi := append(append(append([]byte(nil), z.sc...), last...), 0)
	z.t.ensureBatch().DeleteRange(lo, hi, nil)
	z.stale = true
	if len(z.rank.LowMark) > 0 || len(z.rank.HighMark) > 0 {
		for _, m := range run[1 : len(run)-1] {
			z.uncount(position(z.pbuf[:0], m.Score, m.Member))
		}
	}
	z.removed(first) // the lowest of the run: only it can have been the first member
	z.removed(last)  // and only the highest the last
	z.meta.Count -= uint64(len(run))
	z.dirty = true
	if z.rank.Ranked && z.meta.Count > 0 {
		return z.rankDeleteRun(first, k, uint64(len(run)))
	}
	return nil
}

// removeAll empties the set: the key goes, and its elements with its version (the sweeper).
func (z *zset) removeAll() (int64, error) {
	n := z.count()
	z.meta.Count = 0
	z.dirty = true
	return n, nil
}

// ZPopMin removes and returns up to count members with the lowest scores (nil when the key
// is missing). Blocking pops call it once the key has members.
func (t *Txn) ZPopMin(key []byte, count int64) ([]ScoredMember, error) {
	return t.zpop(key, false, count)
}

// ZPopMax removes and returns up to count members with the highest scores, highest first.
func (t *Txn) ZPopMax(key []byte, count int64) ([]ScoredMember, error) {
	return t.zpop(key, true, count)
}

func (t *Txn) zpop(key []byte, max bool, count int64) ([]ScoredMember, error) {
	z, found, err := t.openZSet(key, false)
	if err != nil || !found || count <= 0 {
		return nil, err
	}
	z.writable()
	defer z.finish()
	z.lowEdge, z.highEdge = z.lowEdge || !max, z.highEdge || max
	n := min(count, z.count())
	out, err := z.rankMembers(0, n-1, max)
	if err != nil {
		return nil, err
	}
	if n == z.count() {
		_, err = z.removeAll()
		return out, err
	}
	if max {
		slices.Reverse(out)
		err = z.removeRun(out)
		slices.Reverse(out)
		return out, err
	}
	return out, z.removeRun(out)
}

// ZMPop pops up to count members from the first key holding a sorted set, as ZMPOP does:
// missing keys are skipped, a key of another type before it is ErrWrongType. found is false
// when no key holds a set.
func (t *Txn) ZMPop(keys [][]byte, max bool, count int64) (key []byte, out []ScoredMember, found bool, err error) {
	for _, k := range keys {
		ks, err := t.lookup(k)
		if err != nil {
			return nil, nil, false, err
		}
		if !ks.live {
			continue
		}
		if ks.meta.Type != encoding.TypeZSet {
			return nil, nil, false, ErrWrongType
		}
		out, err := t.zpop(k, max, count)
		return k, out, true, err
	}
	return nil, nil, false, nil
}

// zstoreSorted replaces dst with the members (sorted by score then member, no duplicates),
// or deletes it when there are none, and returns how many were stored.
func (t *Txn) zstoreSorted(dst []byte, members []ScoredMember) (int64, error) {
	ks, err := t.lookup(dst)
	if err != nil {
		return 0, err
	}
	if len(members) == 0 {
		t.deleteKey(dst, &ks)
		return 0, nil
	}
	t.ensureBatch()
	z := &zset{t: t, key: t.keep(dst), ks: ks, meta: t.newMeta(encoding.TypeZSet)}
	z.prefixes(dst)
	// Redis builds a result as a skiplist and turns it into a listpack when it fits.
	z.rank.Skiplist = len(members) > listpackEntries
	for _, m := range members {
		z.rank.Skiplist = z.rank.Skiplist || len(m.Member) > listpackValueLen
	}
	for _, m := range members {
		z.writeMember(m.Member, m.Score)
	}
	z.meta.Count = uint64(len(members))
	if len(members) > rankBuildAt {
		z.rankWrite(len(members), func(i int) []byte {
			return position(z.pbuf[:0], members[i].Score, members[i].Member)
		})
	}
	z.dirty = true
	z.finish()
	return int64(len(members)), nil
}

// ZSetEncoding is what OBJECT ENCODING answers for a sorted set whose metadata is m. Redis's
// answer depends on the set's history (it turns a listpack into a skiplist once and never
// back), which the metadata records; the shape of the set alone cannot tell.
func ZSetEncoding(m *encoding.Meta) string {
	if f, err := encoding.DecodeZSetFields(m.Rest); err == nil && f.Skiplist {
		return "skiplist"
	}
	return "listpack"
}
