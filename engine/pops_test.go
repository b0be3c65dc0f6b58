package engine

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"
)

// popModel is a sorted set in memory, members kept in Redis's order.
type popModel struct{ live []ScoredMember }

// insert adds a member that is not in the set.
func (m *popModel) insert(sm ScoredMember) {
	i := sort.Search(len(m.live), func(i int) bool { return !lessScored(m.live[i], sm) })
	m.live = slices.Insert(m.live, i, sm)
}

// pop removes up to n members from the low end (or the high end, highest first).
func (m *popModel) pop(n int, max bool) []ScoredMember {
	n = min(n, len(m.live))
	var out []ScoredMember
	if max {
		for i := 0; i < n; i++ {
			out = append(out, m.live[len(m.live)-1-i])
		}
		m.live = m.live[:len(m.live)-n]
	} else {
		out = append(out, m.live[:n]...)
		m.live = m.live[n:]
	}
	return out
}

// move gives member sm.Member the score sm.Score.
func (m *popModel) move(sm ScoredMember) {
	m.live = slices.DeleteFunc(m.live, func(x ScoredMember) bool { return string(x.Member) == string(sm.Member) })
	m.insert(sm)
}

func (m *popModel) first() ScoredMember { return m.live[0] }
func (m *popModel) last() ScoredMember  { return m.live[len(m.live)-1] }

// popStepBound is the most internal iterator steps one command of TestZPopRun may take: a
// pop reads a few members, moves its hint over its own tombstones, and may split or merge a
// rank bucket (a walk of up to a bucket). Walking the earlier pops' tombstones (thousands by
// the end of the run) is what it must never do.
const popStepBound = 3*rankFan + 32

// zsetOps is a Txn with the sorted-set operations the pop tests use, panicking on errors
// (runCmd turns that into a failed test).
type zsetOps struct {
	tx  *Txn
	key []byte
}

func (o zsetOps) add(sm ScoredMember) {
	if _, err := o.tx.ZAdd(o.key, ZAddFlags{}, []float64{sm.Score}, [][]byte{sm.Member}); err != nil {
		panic(err)
	}
}

func (o zsetOps) pop(n int, max bool) []ScoredMember {
	pop := o.tx.ZPopMin
	if max {
		pop = o.tx.ZPopMax
	}
	out, err := pop(o.key, int64(n))
	if err != nil {
		panic(err)
	}
	return out
}

// errAbortTest makes runCmd abort the Txn instead of committing it.
var errAbortTest = errors.New("test: abort")

// runCmd runs fn as one command (or MULTI block) on db 0 under the global latch and commits
// it, or aborts it when fn returns errAbortTest. It returns the Txn, whose counters tell what
// fn did.
func runCmd(t *testing.T, e *Engine, fn func(tx *Txn) error) *Txn {
	t.Helper()
	tx := e.NewTxn()
	tx.Begin(0, LockGlobal)
	if err := tx.Lock(); err != nil {
		t.Fatal(err)
	}
	// fn fails by panicking: a Fatal while the Txn holds the latch would hang the cleanup.
	defer func() {
		if r := recover(); r != nil {
			tx.Abort()
			t.Fatal(r)
		}
	}()
	switch err := fn(tx); {
	case errors.Is(err, errAbortTest):
		tx.Abort()
	case err != nil:
		tx.Abort()
		t.Fatal(err)
	default:
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	return tx
}

// TestZPopRun pops a 20000-member set empty, mostly one ZPOPMIN at a time, with ZPOPMAX, ZADDs
// below the floor and above the ceiling, rescores and removals of the edge members, ranges
// from both ends, and multi-command Txns that commit or abort interleaved, and checks every
// reply against a model, the hints against every member now and then, and that no command
// steps over the tombstones of earlier ones.
func TestZPopRun(t *testing.T) {
	e := openTestEngine(t)
	key := []byte("run")
	rng := rand.New(rand.NewPCG(5, 6))
	var m popModel
	next := 0
	member := func(score float64) ScoredMember {
		next++
		return ScoredMember{Member: fmt.Appendf(nil, "m%06d", next), Score: score}
	}
	const n = 20000
	inTxn(t, e, 0, func(tx *Txn) error {
		scores := make([]float64, n)
		members := make([][]byte, n)
		for i := range members {
			sm := member(float64(rng.IntN(5000)))
			scores[i], members[i] = sm.Score, sm.Member
			m.live = append(m.live, sm)
		}
		sort.Slice(m.live, func(i, j int) bool { return lessScored(m.live[i], m.live[j]) })
		_, err := tx.ZAdd(key, ZAddFlags{}, scores, members)
		return err
	})
	same := func(what string, got, want []ScoredMember) {
		if !sameMembers(got, want) {
			panic(fmt.Sprintf("%s: got %s, want %s", what, fmtMembers(got), fmtMembers(want)))
		}
	}
	maxSteps, cmds := 0, 0
	for len(m.live) > 0 {
		op := rng.IntN(100)
		tx := runCmd(t, e, func(tx *Txn) error {
			o := zsetOps{tx, key}
			switch {
			case op < 70:
				same("ZPOPMIN", o.pop(1, false), m.pop(1, false))
			case op < 76:
				k := 1 + rng.IntN(3)
				same("ZPOPMAX", o.pop(k, true), m.pop(k, true))
			case op < 80:
				sm := member(m.first().Score - float64(rng.IntN(3)))
				o.add(sm)
				m.insert(sm)
			case op < 83:
				sm := member(m.last().Score + float64(rng.IntN(3)))
				o.add(sm)
				m.insert(sm)
			case op < 85: // the first member moves to the top, the last to the bottom
				lo, hi := m.first(), m.last()
				up := ScoredMember{Member: lo.Member, Score: hi.Score + 1}
				down := ScoredMember{Member: hi.Member, Score: lo.Score - 1}
				o.add(up)
				m.move(up)
				if string(lo.Member) != string(hi.Member) {
					o.add(down)
					m.move(down)
				}
			case op < 87: // ZRANGE 0 0 and ZREM, as queues did before ZPOPMIN
				first, err := tx.ZRange(key, ZRangeSpec{By: ZByRank, Start: 0, Stop: 0})
				if err != nil {
					return err
				}
				same("ZRANGE 0 0", first, m.live[:1])
				if _, err := tx.ZRem(key, [][]byte{first[0].Member}); err != nil {
					return err
				}
				m.pop(1, false)
			case op < 89: // a sliding window: ZREMRANGEBYSCORE -inf first+1
				cut := m.first().Score + 1
				if _, err := tx.ZRemRange(key, ZRangeSpec{By: ZByScore, Score: ScoreRange{Min: -1e300, Max: cut, MaxEx: true}}); err != nil {
					return err
				}
				for len(m.live) > 0 && m.first().Score < cut {
					m.pop(1, false)
				}
			case op < 93: // ranges from both ends
				k := min(len(m.live), 5)
				got, err := tx.ZRange(key, ZRangeSpec{By: ZByRank, Start: 0, Stop: int64(k - 1)})
				if err != nil {
					return err
				}
				same("ZRANGE 0", got, m.live[:k])
				got, err = tx.ZRange(key, ZRangeSpec{By: ZByScore, Score: ScoreRange{Min: -1e300, Max: 1e300}, Rev: true, Limit: int64(k)})
				if err != nil {
					return err
				}
				same("ZREVRANGEBYSCORE +inf -inf LIMIT 0", got, m.pop(k, true))
				for _, sm := range got {
					m.insert(sm) // put back what the model's pop took
				}
			case op < 97: // a MULTI that commits: pops and adds in one Txn
				same("ZPOPMIN in MULTI", o.pop(2, false), m.pop(2, false))
				if len(m.live) > 0 {
					sm := member(m.first().Score - 1)
					o.add(sm)
					m.insert(sm)
					same("ZPOPMAX in MULTI", o.pop(1, true), m.pop(1, true))
				}
			default: // a MULTI that aborts after moving the hints out and back in
				if len(m.live) < 2 {
					break
				}
				same("ZPOPMIN in an aborted MULTI", o.pop(2, false), m.live[:2])
				if len(m.live) > 2 {
					low := ScoredMember{Member: []byte("ghost-low"), Score: m.live[2].Score - 1}
					high := ScoredMember{Member: []byte("ghost-high"), Score: m.last().Score + 1}
					o.add(low)
					o.add(high)
					same("ZPOPMAX of an added member in an aborted MULTI", o.pop(1, true), []ScoredMember{high})
					same("ZPOPMIN of an added member in an aborted MULTI", o.pop(1, false), []ScoredMember{low})
				}
				return errAbortTest
			}
			return nil
		})
		if tx.steps > maxSteps {
			maxSteps = tx.steps
		}
		if tx.steps > popStepBound {
			t.Fatalf("command %d (op %d, %d members left) took %d internal steps, more than %d", cmds, op, len(m.live), tx.steps, popStepBound)
		}
		cmds++
		if cmds%500 == 0 && len(m.live) > 0 {
			inTxn(t, e, 0, func(tx *Txn) error { checkRankStructure(t, tx, key); return nil })
		}
	}
	t.Logf("%d commands, at most %d internal steps in one", cmds, maxSteps)
	inTxn(t, e, 0, func(tx *Txn) error {
		if n, err := tx.ZCard(key); err != nil || n != 0 {
			t.Fatalf("ZCARD after the run: %d %v", n, err)
		}
		return nil
	})
}

// TestZPopPatterns runs queue patterns on sets that have already left many tombstones at the
// end they work at, and checks that no command walks them: an urgent member added far below the floor
// and popped (the floor goes back to its mark), a member pushed far above the ceiling and
// popped (a stack one deep), a small FIFO queue, a sliding window trimmed by score, and the
// ZRANGEBYSCORE LIMIT 0 1 + ZREM of schedulers.
func TestZPopPatterns(t *testing.T) {
	e := openTestEngine(t)
	seq := 0
	scored := func(score float64) ScoredMember {
		seq++
		return ScoredMember{Member: fmt.Appendf(nil, "p%07d", seq), Score: score}
	}
	type step func(o zsetOps, m *popModel) error
	patterns := []struct {
		name string
		size int  // members to start with; then half of them are popped from one end
		top  bool // from the top (else the bottom)
		run  step // one command, run 2000 times
	}{
		{"urgent below the floor", 3000, false, func(o zsetOps, m *popModel) error {
			sm := scored(-1e9)
			o.add(sm)
			if got := o.pop(1, false); !sameMembers(got, []ScoredMember{sm}) {
				return fmt.Errorf("ZPOPMIN %s, want %s", fmtMembers(got), sm.Member)
			}
			return nil
		}},
		{"stack above the ceiling", 3000, true, func(o zsetOps, m *popModel) error {
			sm := scored(1e9)
			o.add(sm)
			if got := o.pop(1, true); !sameMembers(got, []ScoredMember{sm}) {
				return fmt.Errorf("ZPOPMAX %s, want %s", fmtMembers(got), sm.Member)
			}
			return nil
		}},
		{"small FIFO", 30, false, func(o zsetOps, m *popModel) error {
			sm := scored(float64(seq))
			o.add(sm)
			m.insert(sm)
			if got, want := o.pop(1, false), m.pop(1, false); !sameMembers(got, want) {
				return fmt.Errorf("ZPOPMIN %s, want %s", fmtMembers(got), fmtMembers(want))
			}
			return nil
		}},
		{"sliding window", 300, false, func(o zsetOps, m *popModel) error {
			sm := scored(float64(seq))
			o.add(sm)
			m.insert(sm)
			cut := m.first().Score + 1
			n, err := o.tx.ZRemRange(o.key, ZRangeSpec{By: ZByScore, Score: ScoreRange{Min: math.Inf(-1), Max: cut, MaxEx: true}})
			if want := len(m.live) - len(m.live[1:]); err != nil || n != int64(want) {
				return fmt.Errorf("ZREMRANGEBYSCORE: %d %v, want %d", n, err, want)
			}
			m.pop(1, false)
			return nil
		}},
		{"scheduler", 300, false, func(o zsetOps, m *popModel) error {
			sm := scored(float64(seq))
			o.add(sm)
			m.insert(sm)
			due, err := o.tx.ZRange(o.key, ZRangeSpec{By: ZByScore, Score: ScoreRange{Min: math.Inf(-1), Max: m.first().Score}, Limit: 1})
			if err != nil || !sameMembers(due, m.live[:1]) {
				return fmt.Errorf("ZRANGEBYSCORE -inf first LIMIT 0 1: %s %v", fmtMembers(due), err)
			}
			if n, err := o.tx.ZRem(o.key, [][]byte{due[0].Member}); err != nil || n != 1 {
				return fmt.Errorf("ZREM: %d %v", n, err)
			}
			m.pop(1, false)
			return nil
		}},
	}
	for _, p := range patterns {
		t.Run(p.name, func(t *testing.T) {
			key := []byte(p.name)
			m := &popModel{}
			runCmd(t, e, func(tx *Txn) error {
				o := zsetOps{tx, key}
				for i := 0; i < p.size; i++ {
					sm := scored(float64(i))
					o.add(sm)
					m.insert(sm)
				}
				return nil
			})
			for i := 0; i < p.size/2; i++ {
				runCmd(t, e, func(tx *Txn) error {
					zsetOps{tx, key}.pop(1, p.top)
					m.pop(1, p.top)
					return nil
				})
			}
			most := 0
			for i := 0; i < 2000; i++ {
				tx := runCmd(t, e, func(tx *Txn) error { return p.run(zsetOps{tx, key}, m) })
				most = max(most, tx.steps)
			}
			if most > popStepBound {
				t.Fatalf("a command took %d internal steps, more than %d", most, popStepBound)
			}
			runCmd(t, e, func(tx *Txn) error { checkRankStructure(t, tx, key); return nil })
			t.Logf("at most %d internal steps in a command", most)
		})
	}
}

// TestSPopDrain pops a 3000-member set empty one SPOP at a time (the walk, then the small-set
// picks): every member comes out once and nothing else does, and the key goes with the last.
func TestSPopDrain(t *testing.T) {
	e := openTestEngine(t)
	key := []byte("s")
	rng := rand.New(rand.NewPCG(9, 10))
	members := map[string]bool{}
	runCmd(t, e, func(tx *Txn) error {
		var ms [][]byte
		for len(members) < 3000 {
			m := fmt.Sprintf("element:%d", rng.IntN(1e9))
			if !members[m] {
				members[m] = true
				ms = append(ms, []byte(m))
			}
		}
		_, err := tx.SAdd(key, ms)
		return err
	})
	steps := 0
	for left := len(members); left > 0; left-- {
		tx := runCmd(t, e, func(tx *Txn) error {
			m, ok, err := tx.SPop(key)
			if err != nil || !ok || !members[string(m)] {
				return fmt.Errorf("SPOP with %d left: %q %v %v", left, m, ok, err)
			}
			delete(members, string(m))
			return nil
		})
		steps += tx.steps
	}
	runCmd(t, e, func(tx *Txn) error {
		if _, ok, err := tx.SPop(key); ok || err != nil {
			return fmt.Errorf("SPOP of the emptied set: %v %v", ok, err)
		}
		return nil
	})
	t.Logf("%.0f internal steps per pop", float64(steps)/3000)
}

// TestSPopCompactsTombstones drains a set with SPOP twice, with and without the compaction
// of ranges full of tombstones: with it, walks that skip many tombstones get their range
// compacted and the drain steps over far fewer; a plain scan of a set without tombstones asks
// for nothing.
func TestSPopCompactsTombstones(t *testing.T) {
	const n = 5000
	drain := func(every time.Duration) (steps int, compactions int64) {
		compacted := make(chan struct{}, 1)
		e, err := Open(Options{Dir: t.TempDir(), CompactTombstonesEvery: every,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		e.compacted = func() {
			select {
			case compacted <- struct{}{}:
			default:
			}
		}
		key := []byte("s")
		rng := rand.New(rand.NewPCG(11, 12))
		runCmd(t, e, func(tx *Txn) error { fillSetRandom(tx, key, n, rng); return nil })
		scan := runCmd(t, e, func(tx *Txn) error {
			return tx.SMembers(key, func(int) {}, func([]byte) {})
		})
		if e.tombstoneCompactions.Load() != 0 || len(e.compactWake) != 0 || scan.steps < n-1 {
			t.Fatalf("a scan of %d members without tombstones (%d steps) asked for a compaction", n, scan.steps)
		}
		for {
			var ok bool
			tx := runCmd(t, e, func(tx *Txn) error {
				var err error
				_, ok, err = tx.SPop(key)
				return err
			})
			if !ok {
				break
			}
			steps += tx.steps
			if every > 0 && len(e.compactWake) > 0 { // it asked: wait for the compaction
				select {
				case <-compacted:
				case <-time.After(time.Minute):
					t.Fatal("no compaction after a walk over many tombstones")
				}
			}
		}
		return steps, e.tombstoneCompactions.Load()
	}
	without, none := drain(-1)
	with, compactions := drain(time.Nanosecond)
	t.Logf("internal steps per pop: %d without compactions, %d with %d", without/n, with/n, compactions)
	if none != 0 || compactions == 0 || with*2 > without {
		t.Fatalf("internal steps: %d without compactions (%d ran), %d with %d", without, none, with, compactions)
	}
}
