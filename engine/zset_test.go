package engine

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
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
	i := 0
	x.each(func(b []byte, c uint64) {
		if i >= len(bounds) || !bytes.Equal(b, bounds[i]) || c != counts[i] {
			t.Fatalf("%q: index bucket %d (%x: %d) disagrees with the disk", key, i, b, c)
		}
		if x.before(x.find(b)) != sumCounts(counts[:i]) {
			t.Fatalf("%q: index counts %d before bucket %d, the disk %d", key, x.before(x.find(b)), i, sumCounts(counts[:i]))
		}
		i++
	})
	if i != len(bounds) {
		t.Fatalf("%q: index has %d buckets, disk %d", key, i, len(bounds))
	}
}

func sumCounts(cs []uint64) uint64 {
	var s uint64
	for _, c := range cs {
		s += c
	}
	return s
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

// fillZSet adds n members m0..m<n-1> with scores i%7 (ties) in one command.
func fillZSet(t testing.TB, e *Engine, key string, n int) zmodel {
	m := zmodel{}
	inTxn(t, e, func(tx *Txn) {
		scores := make([]float64, n)
		members := make([][]byte, n)
		for i := range scores {
			scores[i] = float64(i % 7)
			members[i] = []byte(fmt.Sprintf("m%d", i))
			m[string(members[i])] = scores[i]
		}
		if _, err := tx.ZAdd([]byte(key), ZAddFlags{}, scores, members); err != nil {
			t.Fatal(err)
		}
	})
	return m
}

// TestZSetRankIndexStale checks that a command that dies after changing the cached index does
// not leave it in use: the next reader rebuilds it from the buckets on disk.
func TestZSetRankIndexStale(t *testing.T) {
	e := openTestEngine(t)
	key := []byte("z")
	m := fillZSet(t, e, "z", 500)
	rng := rand.New(rand.NewPCG(1, 2))
	checkAgainstModel(t, e, key, m, rng) // loads the index into the cache
	tx := e.NewTxn()
	tx.Begin(0, LockWrite)
	if err := tx.Lock(); err != nil {
		t.Fatal(err)
	}
	var members [][]byte
	var scores []float64
	for i := 0; i < 300; i++ {
		members = append(members, []byte(fmt.Sprintf("x%d", i)))
		scores = append(scores, -1)
	}
	if _, err := tx.ZAdd(key, ZAddFlags{}, scores, members); err != nil {
		t.Fatal(err)
	}
	tx.Abort()
	checkAgainstModel(t, e, key, m, rng)
}

// TestZSetRankAfterReopen checks ranks after a restart (no cached index) and on a renamed copy.
func TestZSetRankAfterReopen(t *testing.T) {
	dir := t.TempDir()
	e, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	m := fillZSet(t, e, "z", 1000)
	inTxn(t, e, func(tx *Txn) {
		if _, err := tx.Rename([]byte("z"), []byte("moved"), false); err != nil {
			t.Fatal(err)
		}
	})
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e, err = Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	rng := rand.New(rand.NewPCG(3, 4))
	checkAgainstModel(t, e, []byte("moved"), m, rng)
	checkAgainstModel(t, e, []byte("z"), zmodel{}, rng)
}

// TestZSetNegativeZero checks that -0 is kept where Redis's skiplist keeps it and stored as 0
// where its listpack would hold the set.
func TestZSetNegativeZero(t *testing.T) {
	e := openTestEngine(t)
	negZero := math.Copysign(0, -1)
	long := bytes.Repeat([]byte("x"), 65)
	inTxn(t, e, func(tx *Txn) {
		tx.ZAdd([]byte("small"), ZAddFlags{}, []float64{negZero}, [][]byte{[]byte("a")})
		tx.ZAdd([]byte("big"), ZAddFlags{}, []float64{1, negZero}, [][]byte{long, []byte("a")})
	})
	inTxn(t, e, func(tx *Txn) {
		f, _, _ := tx.ZScore([]byte("small"), []byte("a"))
		if math.Signbit(f) {
			t.Error("a listpack-sized set kept -0")
		}
		f, _, _ = tx.ZScore([]byte("big"), []byte("a"))
		if !math.Signbit(f) {
			t.Error("a skiplist set lost -0 in its subkey")
		}
		ms, _ := tx.ZRange([]byte("big"), ZRangeSpec{By: ZByScore, Score: ScoreRange{Min: 0, Max: 0}, Limit: -1})
		if len(ms) != 1 || !math.Signbit(ms[0].Score) {
			t.Errorf("a range over a skiplist set lost -0: %v", ms)
		}
		// A store that fits a listpack folds -0.
		n, err := tx.ZStore([]byte("dst"), []ScoredMember{{Member: []byte("a"), Score: negZero}})
		if err != nil || n != 1 {
			t.Fatal(n, err)
		}
		if f, _, _ := tx.ZScore([]byte("dst"), []byte("a")); math.Signbit(f) {
			t.Error("a stored listpack-sized result kept -0")
		}
	})
}

func TestParseFloat(t *testing.T) {
	for _, c := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"1", 1, true}, {"-1.5", -1.5, true}, {"+2", 2, true}, {".5", 0.5, true}, {"5.", 5, true},
		{"1e3", 1000, true}, {"1E+2", 100, true}, {"1e", 0, false}, {"inf", math.Inf(1), true},
		{"-Infinity", math.Inf(-1), true}, {"INF", math.Inf(1), true}, {"nan", 0, false},
		{"0x10", 16, true}, {"0x1p3", 8, true}, {"0x", 0, false}, {"0x.8", 0.5, true},
		{"", 0, false}, {" 1", 0, false}, {"1 ", 0, false}, {"1e400", 0, false}, {"1e-400", 0, false},
		{"4e-320", 4e-320, true}, {"0e-400", 0, true}, {"1_0", 0, false}, {"1\x00", 0, false},
		{"--1", 0, false}, {"1.5.5", 0, false}, {"nan(123)", 0, false},
	} {
		got, ok := ParseFloat([]byte(c.in))
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("ParseFloat(%q) = %v %v, want %v %v", c.in, got, ok, c.want, c.ok)
		}
	}
	// Range bounds: strtod up to a NUL, leading spaces, overflow accepted, empty is 0.
	for _, c := range []struct {
		in      string
		want    float64
		ex, bad bool
	}{
		{"(1", 1, true, false}, {"", 0, false, false}, {"(", 0, true, false}, {" 2", 2, false, false},
		{"1e400", math.Inf(1), false, false}, {"3\x00junk", 3, false, false}, {"nan", 0, false, true},
		{"1 ", 0, false, true}, {"[1", 0, false, true},
	} {
		f, ex, ok := parseScoreBound([]byte(c.in))
		if ok == c.bad || (ok && (f != c.want || ex != c.ex)) {
			t.Errorf("parseScoreBound(%q) = %v %v %v", c.in, f, ex, ok)
		}
	}
}

func TestGeoEncoding(t *testing.T) {
	// Redis's own values for Palermo (GEOADD Sicily 13.361389 38.115556 Palermo).
	s := GeoScore(13.361389, 38.115556)
	if s != 3479099956230698 {
		t.Fatalf("score %v", s)
	}
	lon, lat := GeoDecode(s)
	if got := strconv.FormatFloat(lon, 'f', 17, 64); got != "13.36138933897018433" {
		t.Errorf("lon %s", got)
	}
	if got := strconv.FormatFloat(lat, 'f', 17, 64); got != "38.11555639549629859" {
		t.Errorf("lat %s", got)
	}
	if h := GeoHashString(s); h != "sqc8b49rny0" {
		t.Errorf("geohash %s", h)
	}
	d := GeoDistance(13.361389338970184, 38.115556395496299, 15.087267458438873, 37.50266842333162)
	if got := strconv.FormatFloat(d, 'f', 4, 64); got != "166274.1516" {
		t.Errorf("distance %s", got)
	}
}

// TestGeoSortPartial checks that the partial sort puts the n closest first, in order, whatever
// the ties, and leaves the same points in the array.
func TestGeoSortPartial(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for trial := 0; trial < 200; trial++ {
		n := 1 + rng.IntN(120)
		pts := make([]GeoPoint, n)
		for i := range pts {
			pts[i] = GeoPoint{Member: []byte(strconv.Itoa(i)), Dist: float64(rng.IntN(20))}
		}
		k := 1 + rng.IntN(n)
		desc := rng.IntN(2) == 0
		sorted := append([]GeoPoint(nil), pts...)
		sort.SliceStable(sorted, func(i, j int) bool {
			if desc {
				return sorted[i].Dist > sorted[j].Dist
			}
			return sorted[i].Dist < sorted[j].Dist
		})
		GeoSort(pts, desc, k)
		for i := 0; i < k; i++ {
			if pts[i].Dist != sorted[i].Dist {
				t.Fatalf("n=%d k=%d: position %d has %v, want %v", n, k, i, pts[i].Dist, sorted[i].Dist)
			}
		}
		seen := map[string]bool{}
		for _, p := range pts {
			seen[string(p.Member)] = true
		}
		if len(seen) != n {
			t.Fatalf("the partial sort lost points")
		}
	}
}

// TestZCombineReadsSets builds a plain set the way the design lays sets out (one subkey per
// member) and uses it as an input of the set operations, where every member scores 1.
func TestZCombineReadsSets(t *testing.T) {
	e := openTestEngine(t)
	inTxn(t, e, func(tx *Txn) {
		ks, _ := tx.lookup([]byte("set"))
		m := tx.newMeta(encoding.TypeSet)
		for _, member := range []string{"z", "w", "q"} {
			tx.set(encoding.AppendSubKey(nil, tx.db, []byte("set"), m.Version, []byte(member)), nil)
			m.Count++
		}
		tx.putMeta([]byte("set"), &ks, &m)
		tx.ZAdd([]byte("a"), ZAddFlags{}, []float64{1, 2, 3}, [][]byte{[]byte("x"), []byte("y"), []byte("z")})
	})
	inTxn(t, e, func(tx *Txn) {
		srcs, err := tx.ZSources([][]byte{[]byte("a"), []byte("set")})
		if err != nil {
			t.Fatal(err)
		}
		got, err := tx.ZCombine(ZUnion, srcs, []float64{1, 5}, ZAggSum)
		if err != nil {
			t.Fatal(err)
		}
		if s := fmtMembers(got); s != "x=1 y=2 q=5 w=5 z=8 " {
			t.Fatalf("union = %s", s)
		}
		srcs, _ = tx.ZSources([][]byte{[]byte("set"), []byte("a")})
		got, _ = tx.ZCombine(ZInter, srcs, nil, ZAggSum)
		if s := fmtMembers(got); s != "z=4 " {
			t.Fatalf("inter = %s", s)
		}
		srcs, _ = tx.ZSources([][]byte{[]byte("set"), []byte("a")})
		got, _ = tx.ZCombine(ZDiff, srcs, nil, ZAggSum)
		if s := fmtMembers(got); s != "q=1 w=1 " {
			t.Fatalf("diff = %s", s)
		}
	})
}

// TestZSetRankConcurrent runs writers and readers of two ranked sets at once (the race detector
// watches the shared index cache) and checks the sets afterwards.
func TestZSetRankConcurrent(t *testing.T) {
	e := openTestEngine(t)
	keys := [][]byte{[]byte("c1"), []byte("c2")}
	for _, k := range keys {
		fillZSet(t, e, string(k), 300)
	}
	done := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func(g int) {
			rng := rand.New(rand.NewPCG(uint64(g), 9))
			for i := 0; i < 150; i++ {
				key := keys[rng.IntN(len(keys))]
				tx := e.NewTxn()
				mode := LockRead
				if g%2 == 0 {
					mode = LockWrite
				}
				tx.Begin(0, mode)
				tx.AddKey(key)
				if err := tx.Lock(); err != nil {
					done <- err
					return
				}
				m := []byte(fmt.Sprintf("m%d", rng.IntN(400)))
				var err error
				switch {
				case mode == LockRead:
					_, _, err = tx.ZRank(key, m, false)
				case rng.IntN(2) == 0:
					_, err = tx.ZAdd(key, ZAddFlags{}, []float64{float64(rng.IntN(9))}, [][]byte{m})
				default:
					_, err = tx.ZRem(key, [][]byte{m})
				}
				if err != nil {
					tx.Abort()
					done <- err
					return
				}
				if err := tx.Commit(); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}(g)
	}
	for g := 0; g < 8; g++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	inTxn(t, e, func(tx *Txn) {
		for _, k := range keys {
			checkRankStructure(t, tx, k)
		}
	})
}

// TestRankIndexBlocks drives the in-memory index alone through many bucket inserts, removals
// and count changes (far more buckets than a block holds) against a plain slice.
func TestRankIndexBlocks(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	type bucket struct {
		bound []byte
		count uint64
	}
	model := []bucket{{nil, 5}}
	x := &rankIndex{}
	x.appendBucket(nil, 5)
	x.rebuild()
	boundAt := func(i int) []byte { return []byte(fmt.Sprintf("%08d", i)) }
	next := 1
	for step := 0; step < 20000; step++ {
		i := rng.IntN(len(model))
		r := x.find(append(append([]byte(nil), model[i].bound...), 0))
		if !bytes.Equal(x.bound(r), model[i].bound) {
			t.Fatalf("step %d: find(%q) = %q", step, model[i].bound, x.bound(r))
		}
		switch op := rng.IntN(10); {
		case op < 5 || len(model) < 3: // a new bucket after i, between i and i+1 in order
			lo := model[i].bound
			var b []byte
			if i+1 < len(model) {
				b = append(append([]byte(nil), lo...), 'a'+byte(rng.IntN(26)))
				if bytes.Compare(b, model[i+1].bound) >= 0 {
					continue
				}
			} else {
				b = boundAt(next)
				next++
				if bytes.Compare(b, lo) <= 0 {
					continue
				}
			}
			c := uint64(rng.IntN(50))
			x.insertAfter(r, b, c)
			model = slices.Insert(model, i+1, bucket{b, c})
		case op < 7 && i > 0:
			x.remove(r)
			model = slices.Delete(model, i, i+1)
		default:
			d := int64(rng.IntN(20)) - int64(min(model[i].count, 10))
			x.add(r, d)
			model[i].count = uint64(int64(model[i].count) + d)
		}
		if step%500 == 0 || step == 19999 {
			var total uint64
			for k, m := range model {
				r := x.find(m.bound)
				if x.before(r) != total || x.count(r) != m.count {
					t.Fatalf("step %d: bucket %d: before %d count %d, want %d %d", step, k, x.before(r), x.count(r), total, m.count)
				}
				for off := uint64(0); off < m.count; off += max(1, m.count/3) {
					lr, lo, ok := x.locate(total + off)
					if !ok || !bytes.Equal(x.bound(lr), m.bound) || lo != off {
						t.Fatalf("step %d: locate(%d) = %q+%d %v, want %q+%d", step, total+off, x.bound(lr), lo, ok, m.bound, off)
					}
				}
				total += m.count
			}
			if _, _, ok := x.locate(total); ok {
				t.Fatalf("step %d: locate past the end found a bucket", step)
			}
		}
	}
	if len(x.blocks) < 3 {
		t.Fatalf("only %d blocks: the test did not reach block splits", len(x.blocks))
	}
}

// TestZSetBulkRemoval removes long runs (by rank, by score, by pops at both ends) from ranked
// sets, the path that deletes score keys with one range deletion and whole buckets at once.
func TestZSetBulkRemoval(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for trial := 0; trial < 12; trial++ {
		e := openTestEngine(t)
		key := []byte("z")
		m := fillZSet(t, e, "z", 2000+rng.IntN(3000))
		for step := 0; step < 6 && len(m) > 0; step++ {
			want := m.sorted()
			n := len(want)
			inTxn(t, e, func(tx *Txn) {
				switch rng.IntN(4) {
				case 0:
					a := rng.IntN(n)
					b := min(n-1, a+rng.IntN(1500))
					if _, err := tx.ZRemRange(key, ZRangeSpec{By: ZByRank, Start: int64(a), Stop: int64(b)}); err != nil {
						t.Fatal(err)
					}
					for _, w := range want[a : b+1] {
						delete(m, string(w.Member))
					}
				case 1:
					lo, hi := float64(rng.IntN(7)), float64(rng.IntN(7))
					r := ScoreRange{Min: lo, Max: hi, MaxEx: rng.IntN(2) == 0}
					if _, err := tx.ZRemRange(key, ZRangeSpec{By: ZByScore, Score: r}); err != nil {
						t.Fatal(err)
					}
					for _, w := range want {
						if !r.Empty() && r.gteMin(w.Score) && r.lteMax(w.Score) {
							delete(m, string(w.Member))
						}
					}
				case 2:
					c := int64(1 + rng.IntN(1500))
					got, err := tx.ZPopMax(key, c)
					if err != nil {
						t.Fatal(err)
					}
					for i, g := range got {
						if w := want[n-1-i]; !bytes.Equal(g.Member, w.Member) {
							t.Fatalf("ZPOPMAX %d: %d-th is %s, want %s", c, i, g.Member, w.Member)
						}
						delete(m, string(g.Member))
					}
				default:
					c := int64(1 + rng.IntN(1500))
					got, err := tx.ZPopMin(key, c)
					if err != nil {
						t.Fatal(err)
					}
					if !sameMembers(got, want[:min(n, int(c))]) {
						t.Fatalf("ZPOPMIN %d disagrees with the model", c)
					}
					for _, g := range got {
						delete(m, string(g.Member))
					}
				}
			})
			checkAgainstModel(t, e, key, m, rng)
		}
	}
}
