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

// zTxn runs fn as one command on db 0 under the global latch (no key list needed) and commits.
func zTxn(t testing.TB, e *Engine, fn func(tx *Txn)) {
	t.Helper()
	tx := e.NewTxn()
	tx.Begin(0, LockGlobal)
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
	checkHints(t, tx, z)
	if !z.rank.Ranked {
		if z.meta.Count > rankBuildAt {
			t.Fatalf("%q: %d members and no rank buckets", key, z.meta.Count)
		}
		return
	}
	var bounds [][]byte
	var counts []uint64
	it, _ = tx.iter(z.rkp, encoding.PrefixEnd(nil, z.sc))
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
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

// checkHints reads every member position of z, past its iterator's bounds, and checks that
// none is below the floor or at or above the ceiling.
func checkHints(t *testing.T, tx *Txn, z *zset) {
	t.Helper()
	it, err := tx.iter(z.sc, z.rkp)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	n := uint64(0)
	for it.First(); it.Valid(); it.Next() {
		pos := it.Key()[len(z.sc):]
		if f := z.rank.Floor; len(f) > 0 && bytes.Compare(pos, f) < 0 {
			t.Fatalf("%q: member at %x is below the floor %x", z.key, pos, f)
		}
		if c := z.rank.Ceiling; len(c) > 0 && bytes.Compare(pos, c) >= 0 {
			t.Fatalf("%q: member at %x is not below the ceiling %x", z.key, pos, c)
		}
		n++
	}
	if n != z.meta.Count {
		t.Fatalf("%q: %d member positions, metadata says %d", z.key, n, z.meta.Count)
	}
}

func sumCounts(cs []uint64) uint64 {
	var s uint64
	for _, c := range cs {
		s += c
	}
	return s
}

// checkZSetModel compares cardinality, ranks, rank ranges and scores with the model.
func checkZSetModel(t *testing.T, e *Engine, key []byte, m zmodel, rng *rand.Rand) {
	t.Helper()
	zTxn(t, e, func(tx *Txn) {
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
		for i := 0; i < 100; i++ {
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
	for _, seed := range []uint64{1, 2} {
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
					checkZSetModel(t, e, key, m, rng)
				}
				zTxn(t, e, func(tx *Txn) {
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
				if step%80 == 0 || len(m) == 0 {
					checkZSetModel(t, e, key, m, rng)
				}
				if phase == 1 && len(m) == 0 {
					break
				}
			}
			if phase == 0 {
				t.Fatalf("the set never grew to %d members (%d)", target, len(m))
			}
			checkZSetModel(t, e, key, m, rng)
		})
	}
}

// fillZSet adds n members m0..m<n-1> with scores i%7 (ties) in one command.
func fillZSet(t testing.TB, e *Engine, key string, n int) zmodel {
	m := zmodel{}
	zTxn(t, e, func(tx *Txn) {
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
	checkZSetModel(t, e, key, m, rng) // loads the index into the cache
	tx := e.NewTxn()
	tx.Begin(0, LockWrite)
	tx.AddKey(key)
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
	checkZSetModel(t, e, key, m, rng)
}

// TestZSetRankAfterReopen checks ranks after a restart (no cached index) and on a renamed copy.
func TestZSetRankAfterReopen(t *testing.T) {
	dir := t.TempDir()
	e, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	m := fillZSet(t, e, "z", 1000)
	zTxn(t, e, func(tx *Txn) {
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
	checkZSetModel(t, e, []byte("moved"), m, rng)
	checkZSetModel(t, e, []byte("z"), zmodel{}, rng)
}

// TestZSetNegativeZero checks that -0 is kept where Redis's skiplist keeps it and stored as 0
// where its listpack would hold the set.
func TestZSetNegativeZero(t *testing.T) {
	e := openTestEngine(t)
	negZero := math.Copysign(0, -1)
	long := bytes.Repeat([]byte("x"), 65)
	zTxn(t, e, func(tx *Txn) {
		tx.ZAdd([]byte("small"), ZAddFlags{}, []float64{negZero}, [][]byte{[]byte("a")})
		tx.ZAdd([]byte("big"), ZAddFlags{}, []float64{1, negZero}, [][]byte{long, []byte("a")})
	})
	zTxn(t, e, func(tx *Txn) {
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
	zTxn(t, e, func(tx *Txn) {
		ks, _ := tx.lookup([]byte("set"))
		m := tx.newMeta(encoding.TypeSet)
		for _, member := range []string{"z", "w", "q"} {
			tx.set(encoding.AppendSubKey(nil, tx.db, []byte("set"), m.Version, []byte(member)), nil)
			m.Count++
		}
		tx.putMeta([]byte("set"), &ks, &m)
		tx.ZAdd([]byte("a"), ZAddFlags{}, []float64{1, 2, 3}, [][]byte{[]byte("x"), []byte("y"), []byte("z")})
	})
	zTxn(t, e, func(tx *Txn) {
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
	zTxn(t, e, func(tx *Txn) {
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
	for trial := 0; trial < 6; trial++ {
		e := openTestEngine(t)
		key := []byte("z")
		m := fillZSet(t, e, "z", 1500+rng.IntN(1500))
		for step := 0; step < 6 && len(m) > 0; step++ {
			want := m.sorted()
			n := len(want)
			zTxn(t, e, func(tx *Txn) {
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
			checkZSetModel(t, e, key, m, rng)
		}
	}
}

// TestExactTrig checks the double-double sin, cos and asin against correctly rounded values
// (computed with 300-bit arithmetic), the ones glibc returns for almost every argument.
func TestExactTrig(t *testing.T) {
	for _, c := range []struct {
		fn   string
		x, y uint64
	}{
		{"sin", 0x3f494a8481c7493c, 0x3f494a8457a682e3},
		{"sin", 0x3ffda93a89b64672, 0x3feeba184e5da0ca},
		{"sin", 0x4001195def344091, 0x3feaffe340726ab8},
		{"sin", 0x3fedf01bee6c2c74, 0x3fe9c1ffecf980fb},
		{"sin", 0xbe904d1ac3553166, 0xbe904d1ac3553139},
		{"sin", 0x3e8f0e48f7994758, 0x3e8f0e48f799470a},
		{"sin", 0x3fd1969f0f0b0ec0, 0x3fd15e287f0338a0},
		{"sin", 0xc008760d79a5ee3b, 0xbfb577458fb16d7a},
		{"sin", 0xbfe2753d20d1c464, 0xbfe1738a35aa7429},
		{"sin", 0x3e918beec33ac0d3, 0x3e918beec33ac09b},
		{"sin", 0xc00119fae1371158, 0xbfeafe9234b0761a},
		{"sin", 0xbe8e72a56cd8a951, 0xbe8e72a56cd8a907},
		{"sin", 0xc002c12f77d97aa2, 0xbfe6e4f152906fbc},
		{"sin", 0x4007baf00dd51997, 0x3fc653528de7b3d4},
		{"sin", 0xbffd319e5d156af4, 0xbfeef989167c4c28},
		{"sin", 0x40071de5a7cf423d, 0x3fcfea3d5a398f1e},
		{"sin", 0x3f6328a726ac0151, 0x3f6328a601a78534},
		{"sin", 0xbff2b96c6ae2431d, 0xbfed77a6523bf083},
		{"sin", 0x3fcf8786505a38e0, 0x3fcf3625fabca5e0},
		{"sin", 0xbffffc660d38a9d7, 0xbfed1bf583091c2d},
		{"sin", 0x3e93a9be21818ee5, 0x3e93a9be21818e96},
		{"sin", 0xbf54b3f24fec18fa, 0xbf54b3f1f37d7429},
		{"sin", 0xbfe119b05b30f170, 0xbfe04c49f58814b4},
		{"sin", 0xbf584d3f658fecf7, 0xbf584d3ed00feabf},
		{"sin", 0xbff3f59db317ec7b, 0xbfee578227dd4c98},
		{"sin", 0x3f43c03710898c94, 0x3f43c036fc791220},
		{"sin", 0xbf665388b705e7bf, 0xbf665386e75224ea},
		{"sin", 0x3e8ad8f4c70a1aec, 0x3e8ad8f4c70a1aba},
		{"sin", 0x3ff3bc7baf2a96a6, 0x3fee3272db3ee21c},
		{"sin", 0xbfbe31e009ffaa80, 0xbfbe1ff6fce06242},
		{"sin", 0xc006419b2082dc93, 0xbfd684e3f7824ade},
		{"sin", 0x3f671c48fef6e5a9, 0x3f671c46fcaa430f},
		{"sin", 0x400153aa34a8b20d, 0x3fea7fefda5541c7},
		{"sin", 0x3e608af6a02220c9, 0x3e608af6a02220c8},
		{"sin", 0xbfeae43dc877382c, 0xbfe7d617b63f6714},
		{"sin", 0xbfd2f630a7409f48, 0xbfd2af7c0ee3edb7},
		{"sin", 0x3fe8dc82cab6d07c, 0x3fe66f49a97a918d},
		{"sin", 0xc00323f1ba224c36, 0xbfe5ca3d0972e0ec},
		{"sin", 0x3e921b887b58a2ab, 0x3e921b887b58a26d},
		{"sin", 0xbf500304c97c40c5, 0xbf5003049eb96b62},
		{"cos", 0x3ff2d9a24725f126, 0x3fd87d57078dfb14},
		{"cos", 0xbfe7ea07b6b158f9, 0x3fe778f2fbc4d00f},
		{"cos", 0xbfbc8808d5a07e20, 0x3fefcd2cd66c576b},
		{"cos", 0x3fd13c0c99f62858, 0x3feed8c2a5a99b4d},
		{"cos", 0x3feaf98a49911490, 0x3fe549c42ec7b69d},
		{"cos", 0xbfd97a9b735e09c0, 0x3fed7f5a4cea87fe},
		{"cos", 0xbfe398d9df8f77c3, 0x3fea2f3bdafc3f69},
		{"cos", 0xbfc9bca8f29a01f0, 0x3fef5af5a03ac41f},
		{"cos", 0x3ff6f5dc388c0d62, 0x3fc15350e5a06201},
		{"cos", 0xbfebfc4fe7e93ebe, 0x3fe485e057137715},
		{"cos", 0x3fa3c8a4b5476520, 0x3feff9e29b0aa29d},
		{"cos", 0xbfda603b69f745b8, 0x3fed521a455efa64},
		{"cos", 0xbff0e2f8d7f5d27a, 0x3fdf8b27a0fa52f4},
		{"cos", 0xbfe588fa34e8dd6c, 0x3fe905ecf496a0f5},
		{"cos", 0x3fe373435a8aaeb8, 0x3fea44c52e5d2020},
		{"cos", 0xbff3949a4c201384, 0x3fd5c417b1e4daac},
		{"cos", 0x3fe1da4bd7cd35a4, 0x3feb25d8f7fc2dcc},
		{"cos", 0xbfe29b8a31dec9cf, 0x3feabd9e9f8d0e95},
		{"cos", 0x3fecaea910f03804, 0x3fe3fbcdb18dc5c7},
		{"cos", 0x3fd858c1d392a530, 0x3fedb65a1db3231e},
		{"cos", 0x3fe53a9d604524f0, 0x3fe93679e3e065a8},
		{"cos", 0xbfe24e8e200a0e24, 0x3feae79a12875998},
		{"cos", 0xbfa8e48c20fc8120, 0x3feff651e3ba43ad},
		{"cos", 0x3fe521e2c89526f8, 0x3fe945acc176c8fa},
		{"cos", 0xbff41d2f6c146e20, 0x3fd3bf5374360f99},
		{"cos", 0x3fd3531c2cce0348, 0x3fee8d62fb2a9f98},
		{"cos", 0x3ff45547d26f71aa, 0x3fd2e96cee8a59b3},
		{"cos", 0xbff678ea8a937374, 0x3fc52f73ed07de61},
		{"cos", 0x3fe717f72f20a550, 0x3fe805bbc47dd656},
		{"cos", 0xbfddfbecdc2b3d88, 0x3fec8d478b624dda},
		{"cos", 0xbfe7faddfa883263, 0x3fe76d7e294ea886},
		{"cos", 0x3fdcfc4d6a1f46d8, 0x3fecc619c8ca0ecc},
		{"cos", 0xbff10282b7aa6f08, 0x3fdf1d263074af09},
		{"cos", 0x3ff6fe92f37f1520, 0x3fc10e3cbb393925},
		{"cos", 0x3fda8eeb68c90a00, 0x3fed48b8c043cad7},
		{"cos", 0x3fecf5b47dec3aac, 0x3fe3c41f9ce1a7a5},
		{"cos", 0xbfdfd61fdbe0b0c8, 0x3fec1f2bc3f3e7df},
		{"cos", 0xbfec1f4bce6ee226, 0x3fe46afca36ea86f},
		{"cos", 0x3ff71a386a63d628, 0x3fc032f0ddf481cf},
		{"cos", 0x3fc89822ed971fe8, 0x3fef693eb6d9db1f},
		{"asin", 0x3feffffffff15845, 0x3ff921ec042db60a},
		{"asin", 0x3fdbcfc092fbe62e, 0x3fdcc5559ed566cb},
		{"asin", 0x3fae172eb6101ec0, 0x3fae1b9fb29aa043},
		{"asin", 0x3fd2de3709212eba, 0x3fd3271250a81daf},
		{"asin", 0x3f4e36531a9f028b, 0x3f4e3653626fb1fa},
		{"asin", 0x3fefffffffc1aa7b, 0x3ff921dbbf96e619},
		{"asin", 0x3f3ffdf2ef1d6ea2, 0x3f3ffdf3046eaa3f},
		{"asin", 0x3fd4553bd3d51434, 0x3fd4b1084e2e0781},
		{"asin", 0x3fd2a01d53c2b9bc, 0x3fd2e61f4af18146},
		{"asin", 0x3fecdc0a7c9605c3, 0x3ff1fc22e4198f13},
		{"asin", 0x3fefffffff7c157b, 0x3ff921cd632451fe},
		{"asin", 0x3fe41018d7bfa2ce, 0x3fe5af51af13ee7c},
		{"asin", 0x3febc502455a9a2d, 0x3ff0cfe51632e219},
		{"asin", 0x3fb6d1b5afbd5568, 0x3fb6d9792e992951},
		{"asin", 0x3f40e1a2345aeb17, 0x3f40e1a240e22aef},
		{"asin", 0x3feffffffff7538f, 0x3ff921ef8c7c89f8},
		{"asin", 0x3fe971e227197ee2, 0x3fed6a8f69070f2f},
		{"asin", 0x3f46c2b329517e73, 0x3f46c2b348061d88},
		{"asin", 0x3fa19232f09debc0, 0x3fa19315197ccddc},
		{"asin", 0x3f37d15f89b3afea, 0x3f37d15f927fa114},
		{"asin", 0x3fefffffffdb991f, 0x3ff921e332118a5d},
		{"asin", 0x3f50126e264767d8, 0x3f50126e51862f07},
		{"asin", 0x3fd2ce78cfa7b38a, 0x3fd316994a025f59},
		{"asin", 0x3f454a034450d4da, 0x3f454a035d715b43},
		{"asin", 0x3feb4220340bdbcc, 0x3ff04faeb737a71e},
		{"asin", 0x3fefffffffd3353d, 0x3ff921e08ef4da47},
		{"asin", 0x3fd1840e8bb4195a, 0x3fd1be02cddf0a72},
		{"asin", 0x3f4ac2ce3b64b7d4, 0x3f4ac2ce6d4d46f2},
		{"asin", 0x3fe58e719330c4db, 0x3fe7a6dff586745a},
		{"asin", 0x3f36cc8895b31848, 0x3f36cc889d6a3767},
		{"asin", 0x3fefffffffcfe3e2, 0x3ff921df95ac927a},
		{"asin", 0x3f4b9e9621797585, 0x3f4b9e9658578b4a},
		{"asin", 0x3fdcc9431fcf1926, 0x3fdddb85a0d58725},
		{"asin", 0x3f4f57d77e4c25eb, 0x3f4f57d7ce7ba64a},
		{"asin", 0x3fc22868e8782d4c, 0x3fc23824ad4a000b},
		{"asin", 0x3fefffffff7f2ad0, 0x3ff921cded67405c},
		{"asin", 0x3f3f46bd9beacbf0, 0x3f3f46bdafd5ed84},
		{"asin", 0x3f14aaa4b33b0e3e, 0x3f14aaa4b3970080},
		{"asin", 0x3fe75f0e25aaa1f0, 0x3fea33ee4c715e44},
		{"asin", 0x3f4435edeeb76622, 0x3f4435ee04370b47},
	} {
		x := math.Float64frombits(c.x)
		var got float64
		switch c.fn {
		case "sin":
			got = exactSin(x)
		case "cos":
			got = exactCos(x)
		case "asin":
			got = exactAsin(x)
		}
		if math.Float64bits(got) != c.y {
			t.Errorf("%s(%v) = %v, want %v", c.fn, x, got, math.Float64frombits(c.y))
		}
	}
}

// FuzzZSetArgs feeds arbitrary bytes to the sorted-set and GEO argument parsers and to the
// geohash decoding of whatever score they yield: none may panic, and a score is never NaN.
func FuzzZSetArgs(f *testing.F) {
	for _, s := range []string{"1", "-inf", "(1.5", "0x1p3", "1e400", "[a", "+", "-", "(", "nan(1)", " 2", "1\x00x", "0x.8p-2"} {
		f.Add([]byte(s), []byte("[b"))
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		if v, ok := ParseFloat(a); ok {
			if math.IsNaN(v) {
				t.Fatalf("ParseFloat(%q) accepted NaN", a)
			}
			GeoDecode(v)
			GeoHashString(v)
		}
		if r, err := ParseScoreRange(a, b); err == nil {
			if math.IsNaN(r.Min) || math.IsNaN(r.Max) {
				t.Fatalf("a NaN bound from %q %q", a, b)
			}
			scoreSpan(r)
		}
		if r, err := ParseLexRange(a, b); err == nil {
			r.Empty()
			lexSpan(encoding.AppendScore(nil, 0), r)
		}
	})
}

// TestZSetRankWriteWithoutCachedIndex changes a ranked set whose index is in no cache (after a
// restart, as when an index is too big to cache): the first change of a command builds the
// index from the buckets on disk, which must be checked against the count the set had when the
// command opened it, not the count the command has already changed.
func TestZSetRankWriteWithoutCachedIndex(t *testing.T) {
	dir := t.TempDir()
	e := openEngine(t, dir, 0)
	m := fillZSet(t, e, "z", 1000)
	key := []byte("z")
	rng := rand.New(rand.NewPCG(5, 6))
	steps := []func(tx *Txn) error{
		func(tx *Txn) error { // a new member
			m["new"] = 3.5
			_, err := tx.ZAdd(key, ZAddFlags{}, []float64{3.5}, [][]byte{[]byte("new")})
			return err
		},
		func(tx *Txn) error { // a new score for a member: remove, then insert
			m["new"] = -2
			_, err := tx.ZAdd(key, ZAddFlags{}, []float64{-2}, [][]byte{[]byte("new")})
			return err
		},
		func(tx *Txn) error { // a removal
			delete(m, "new")
			_, err := tx.ZRem(key, [][]byte{[]byte("new")})
			return err
		},
	}
	for i, step := range steps {
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		e = openEngine(t, dir, 0)
		var err error
		zTxn(t, e, func(tx *Txn) { err = step(tx) }) // (a Fatal holding the Txn's locks would hang Close)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		checkZSetModel(t, e, key, m, rng)
	}
}
