package engine

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/stratadb/strata/encoding"
)

func openTestEngine(t testing.TB) *Engine {
	t.Helper()
	e, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// inTxn runs fn as one write command on db 0 and commits it.
func inTxn(t testing.TB, e *Engine, fn func(tx *Txn)) {
	t.Helper()
	tx := e.NewTxn()
	tx.Begin(0, LockWrite)
	if err := tx.Lock(); err != nil {
		t.Fatal(err)
	}
	fn(tx)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// zmodel is the in-memory model a sorted set is checked against.
type zmodel map[string]float64

func (m zmodel) sorted() []ScoredMember {
	out := make([]ScoredMember, 0, len(m))
	for k, v := range m {
		out = append(out, ScoredMember{Member: []byte(k), Score: v})
	}
	sort.Slice(out, func(i, j int) bool { return lessScored(out[i], out[j]) })
	return out
}

func lessScored(a, b ScoredMember) bool {
	if a.Score != b.Score {
		return a.Score < b.Score
	}
	return bytes.Compare(a.Member, b.Member) < 0
}

// checkRankStructure reads the buckets of key and checks them against its members: each
// bucket counts the members between its boundary and the next, none is over full, and the
// index in memory (cached or rebuilt) agrees.
func checkRankStructure(t *testing.T, tx *Txn, key []byte) {
	t.Helper()
	z, found, err := tx.openZSet(key, false)
	if err != nil || !found {
		t.Fatalf("open %q: found=%v err=%v", key, found, err)
	}
	defer z.close()
	var positions [][]byte
	it, _ := z.seekPos(encoding.ScoreMin, true)
	z.walk(it, true, func(pos []byte) (bool, error) {
		positions = append(positions, append([]byte(nil), pos...))
		return true, nil
	})
	if uint64(len(positions)) != z.meta.Count {
		t.Fatalf("%q: %d members in the score range, metadata says %d", key, len(positions), z.meta.Count)
	}
	if !z.rank.Ranked {
		if z.meta.Count > rankBuildAt {
			t.Fatalf("%q: %d members and no rank buckets", key, z.meta.Count)
		}
		return
	}
	var bounds [][]byte
	var counts []uint64
	it, _ = z.iter()
	for it.SeekGE(z.rkp); it.Valid(); it.Next() {
		n, err := encoding.DecodeRankValue(it.Value())
		if err != nil {
			t.Fatal(err)
		}
		bounds = append(bounds, append([]byte(nil), it.Key()[len(z.rkp):]...))
		counts = append(counts, n)
	}
	if len(bounds) == 0 || len(bounds[0]) != 0 {
		t.Fatalf("%q: buckets do not start with the empty boundary", key)
	}
	p := 0
	for i, b := range bounds {
		var n uint64
		for p < len(positions) && (i+1 == len(bounds) || bytes.Compare(positions[p], bounds[i+1]) < 0) {
			if bytes.Compare(positions[p], b) < 0 {
				t.Fatalf("%q: member before its bucket", key)
			}
			n++
			p++
		}
		if n != counts[i] {
			t.Fatalf("%q: bucket %d (%x) counts %d, holds %d", key, i, b, counts[i], n)
		}
		if n > rankFan {
			t.Fatalf("%q: bucket %d holds %d > %d", key, i, n, rankFan)
		}
	}
	x, err := z.index()
	if err != nil {
		t.Fatal(err)
	}
	if len(x.bounds) != len(bounds) {
		t.Fatalf("%q: index has %d buckets, disk %d", key, len(x.bounds), len(bounds))
	}
	for i := range bounds {
		if !bytes.Equal(x.bounds[i], bounds[i]) || x.counts[i] != counts[i] || x.before(i+1)-x.before(i) != counts[i] {
			t.Fatalf("%q: index bucket %d disagrees with the disk", key, i)
		}
	}
}

// checkAgainstModel compares cardinality, ranks, rank ranges and scores with the model.
func checkAgainstModel(t *testing.T, e *Engine, key []byte, m zmodel, rng *rand.Rand) {
	t.Helper()
	inTxn(t, e, func(tx *Txn) {
		want := m.sorted()
		n, err := tx.ZCard(key)
		if err != nil || n != int64(len(want)) {
			t.Fatalf("ZCard = %d, %v; want %d", n, err, len(want))
		}
		typ, _ := tx.TypeOf(key)
		if len(want) == 0 {
			if typ != encoding.TypeNone {
				t.Fatalf("empty set still exists as %v", typ)
			}
			return
		}
		checkRankStructure(t, tx, key)
		// Ranks of a sample of members, both directions.
		for i := 0; i < 200; i++ {
			j := rng.IntN(len(want))
			r, ok, err := tx.ZRank(key, want[j].Member, false)
			if err != nil || !ok || r != int64(j) {
				t.Fatalf("ZRank(%q) = %d %v %v, want %d", want[j].Member, r, ok, err, j)
			}
			r, _, _ = tx.ZRank(key, want[j].Member, true)
			if r != int64(len(want)-1-j) {
				t.Fatalf("ZRevRank(%q) = %d, want %d", want[j].Member, r, len(want)-1-j)
			}
		}
		// Range by index at random places.
		for i := 0; i < 20; i++ {
			a := rng.IntN(len(want))
			b := min(len(want)-1, a+rng.IntN(30))
			got, err := tx.ZRange(key, ZRangeSpec{By: ZByRank, Start: int64(a), Stop: int64(b)})
			if err != nil {
				t.Fatal(err)
			}
			if !sameMembers(got, want[a:b+1]) {
				t.Fatalf("ZRANGE %d %d = %s, want %s", a, b, fmtMembers(got), fmtMembers(want[a:b+1]))
			}
		}
		// Counts by score against a scan of the model.
		for i := 0; i < 20; i++ {
			lo, hi := want[rng.IntN(len(want))].Score, want[rng.IntN(len(want))].Score
			r := ScoreRange{Min: lo, Max: hi, MinEx: rng.IntN(2) == 0, MaxEx: rng.IntN(2) == 0}
			var wantN int64
			for _, w := range want {
				if r.gteMin(w.Score) && r.lteMax(w.Score) {
					wantN++
				}
			}
			if r.Empty() {
				wantN = 0
			}
			got, err := tx.ZCount(key, r)
			if err != nil || got != wantN {
				t.Fatalf("ZCOUNT %+v = %d %v, want %d", r, got, err, wantN)
			}
		}
	})
}

func sameMembers(a, b []ScoredMember) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i].Member, b[i].Member) || a[i].Score != b[i].Score {
			return false
		}
	}
	return true
}

func fmtMembers(ms []ScoredMember) string {
	var b bytes.Buffer
	for _, m := range ms {
		fmt.Fprintf(&b, "%s=%v ", m.Member, m.Score)
	}
	return b.String()
}

// TestZSetRankRandom drives one set through random adds, updates and removals around the sizes
// where rank levels appear, split, merge, grow and shrink, and checks everything against a model.
func TestZSetRankRandom(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			e := openTestEngine(t)
			rng := rand.New(rand.NewPCG(seed, 7))
			key := []byte("z")
			m := zmodel{}
			// Grow to several thousand (two or three levels), then shrink to nothing.
			target := 3000 + rng.IntN(2000)
			phase := 0
			for step := 0; step < 400; step++ {
				if phase == 0 && len(m) >= target {
					phase = 1
				}
				inTxn(t, e, func(tx *Txn) {
					batch := 1 + rng.IntN(60)
					if phase == 0 || rng.IntN(4) == 0 {
						var scores []float64
						var members [][]byte
						for i := 0; i < batch; i++ {
							mem := fmt.Sprintf("m%d", rng.IntN(target*2))
							sc := float64(rng.IntN(500))
							if rng.IntN(10) == 0 {
								sc = math.Inf(rng.IntN(2)*2 - 1)
							}
							scores = append(scores, sc)
							members = append(members, []byte(mem))
							m[mem] = sc
						}
						if _, err := tx.ZAdd(key, ZAddFlags{}, scores, members); err != nil {
							t.Fatal(err)
						}
						return
					}
					switch rng.IntN(3) {
					case 0:
						var members [][]byte
						for i := 0; i < batch*3; i++ {
							mem := fmt.Sprintf("m%d", rng.IntN(target*2))
							members = append(members, []byte(mem))
							delete(m, mem)
						}
						if _, err := tx.ZRem(key, members); err != nil {
							t.Fatal(err)
						}
					case 1:
						n := int64(batch * 2)
						got, err := tx.ZPopMin(key, n)
						if err != nil {
							t.Fatal(err)
						}
						want := m.sorted()
						if int64(len(want)) > n {
							want = want[:n]
						}
						if !sameMembers(got, want) {
							t.Fatalf("ZPOPMIN %d = %s, want %s", n, fmtMembers(got), fmtMembers(want))
						}
						for _, w := range want {
							delete(m, string(w.Member))
						}
					case 2:
						want := m.sorted()
						if len(want) == 0 {
							return
						}
						a := rng.IntN(len(want))
						b := min(len(want)-1, a+rng.IntN(batch*4))
						n, err := tx.ZRemRange(key, ZRangeSpec{By: ZByRank, Start: int64(a), Stop: int64(b)})
						if err != nil || n != int64(b-a+1) {
							t.Fatalf("ZREMRANGEBYRANK %d %d = %d %v", a, b, n, err)
						}
						for _, w := range want[a : b+1] {
							delete(m, string(w.Member))
						}
					}
				})
				if step%40 == 0 || len(m) == 0 {
					checkAgainstModel(t, e, key, m, rng)
				}
				if phase == 1 && len(m) == 0 {
					break
				}
			}
			checkAgainstModel(t, e, key, m, rng)
		})
	}
}
