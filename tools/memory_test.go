package tools

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stratadb/strata/rdb"
	"github.com/stratadb/strata/server/servertest"
)

func TestJemallocSize(t *testing.T) {
	for _, c := range []struct{ in, want int64 }{
		{1, 8}, {8, 8}, {9, 16}, {17, 32}, {33, 48}, {128, 128}, {129, 160}, {256, 256},
		{257, 320}, {640, 640}, {641, 768}, {4096, 4096}, {4097, 5120}, {14337, 16384},
		{16385, 20480}, {1 << 20, 1 << 20}, {1<<20 + 1, 1<<20 + 1<<18},
	} {
		if got := jemallocSize(c.in); got != c.want {
			t.Errorf("jemallocSize(%d) = %d, want %d", c.in, got, c.want)
		}
	}
}

func TestRaxCounter(t *testing.T) {
	key := func(ms, seq uint64) [16]byte { return streamIDKey(rdb.StreamID{Ms: ms, Seq: seq}) }
	var r raxCounter
	if r.count() != 1 {
		t.Fatalf("empty tree: %d nodes, want 1", r.count())
	}
	r.add(key(1, 0))
	if r.count() != 2 { // a compressed head holding all 16 bytes, and the key's leaf
		t.Fatalf("one key: %d nodes, want 2", r.count())
	}
	r.add(key(1, 1))
	// head compressed over 15 bytes, a branching node, two leaves: but the head is the
	// chain up to the branch, so head + branch node + 2 leaves = 4.
	if r.count() != 4 {
		t.Fatalf("two keys: %d nodes, want 4", r.count())
	}
	r.add(key(1, 1)) // a duplicate changes nothing
	if r.count() != 4 || r.n != 2 {
		t.Fatalf("duplicate: %d nodes, %d keys", r.count(), r.n)
	}
	r.add(key(2, 0))
	// head "0..0" (7 bytes) -> branch {1,2}; "1" -> chain of 7 zero bytes -> branch {0,1} -> 2
	// leaves; "2" -> chain -> leaf.
	if got := r.count(); got != 8 {
		t.Fatalf("three keys: %d nodes, want 8", got)
	}
}

// TestMemoryEstimateAgainstRedis fills a real Redis 7.0 with keys of every type and size
// class, has it save and reload them (DEBUG RELOAD), and compares the estimate for each key
// of the dump with MEMORY USAGE key SAMPLES 0.
func TestMemoryEstimateAgainstRedis(t *testing.T) {
	r := servertest.StartRedis(t, "--enable-debug-command", "yes")
	c := r.Dial(t)
	keys := fillMemoryCases(t, c)
	if reply := c.Do("DEBUG", "RELOAD"); reply != "+OK\r\n" {
		t.Fatalf("DEBUG RELOAD: %q", reply)
	}
	real := map[string]int64{}
	for _, k := range keys {
		reply := c.Do("MEMORY", "USAGE", k, "SAMPLES", "0")
		n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimPrefix(reply, ":")), 10, 64)
		if err != nil {
			t.Fatalf("MEMORY USAGE %s: %q", k, reply)
		}
		real[k] = n
	}
	est := estimateFile(t, filepath.Join(r.Dir, "dump.rdb"))
	// DEBUG RELOAD keeps everything in database 0.
	var worst float64
	var lines []string
	for _, k := range keys {
		e, ok := est[dbKey{0, k}]
		if !ok {
			t.Fatalf("key %q is not in the dump", k)
		}
		ratio := float64(e.memory) / float64(real[k])
		dev := math.Abs(ratio - 1)
		worst = max(worst, dev)
		lines = append(lines, fmt.Sprintf("%-28s %-10s real %10d  estimate %10d  %+6.1f%%", k, e.encoding, real[k], e.memory, (ratio-1)*100))
		if dev > 0.20 {
			t.Errorf("%s: estimate %d, MEMORY USAGE %d (%+.1f%%)", k, e.memory, real[k], (ratio-1)*100)
		}
	}
	sort.Strings(lines)
	t.Logf("estimate vs MEMORY USAGE SAMPLES 0 after DEBUG RELOAD, worst deviation %.1f%%:\n%s",
		worst*100, strings.Join(lines, "\n"))
}

type keyEstimate struct {
	memory   int64
	encoding string
}

// fillMemoryCases writes the keys the estimate is checked on and returns their names.
func fillMemoryCases(t *testing.T, c *servertest.Conn) []string {
	rng := rand.New(rand.NewPCG(7, 11))
	text := func(n int) string {
		const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	var keys []string
	var pending int
	send := func(args ...string) {
		c.Send(args...)
		pending++
		if pending == 512 {
			flush(t, c, &pending)
		}
	}
	add := func(k string) { keys = append(keys, k) }

	// strings
	for _, v := range []string{"7", "-12345", "9223372036854775807", "hello", text(44), text(45),
		text(100), strings.Repeat("ab", 500), text(40000), text(1 << 20)} {
		k := fmt.Sprintf("str:%d", len(v))
		send("SET", k, v)
		add(k)
	}
	// lists
	for _, lc := range []struct {
		name  string
		n     int
		elem  func(i int) string
		front bool
	}{
		{"small", 5, func(i int) string { return text(8) }, false},
		{"ints", 2000, func(i int) string { return strconv.Itoa(i * 1000) }, false},
		{"medium", 20000, func(i int) string { return text(50) }, false},
		{"lpush", 5000, func(i int) string { return text(30) }, true},
		{"bigelems", 100, func(i int) string { return text(5000) }, false},
		{"huge", 8, func(i int) string { return text(100000) }, false},
	} {
		k := "list:" + lc.name
		cmd := "RPUSH"
		if lc.front {
			cmd = "LPUSH"
		}
		for i := 0; i < lc.n; i++ {
			send(cmd, k, lc.elem(i))
		}
		add(k)
	}
	// sets
	for _, sc := range []struct {
		name string
		n    int
		elem func(i int) string
	}{
		{"int16", 100, func(i int) string { return strconv.Itoa(i - 50) }},
		{"int32", 300, func(i int) string { return strconv.Itoa(i * 100000) }},
		{"int64", 400, func(i int) string { return strconv.Itoa(i * 10000000000) }},
		{"manyints", 1000, func(i int) string { return strconv.Itoa(i) }},
		{"small", 20, func(i int) string { return text(10) }},
		{"large", 20000, func(i int) string { return text(12) }},
		{"longmembers", 500, func(i int) string { return text(100) }},
		{"mixed", 300, func(i int) string {
			if i%50 == 49 {
				return text(8)
			}
			return strconv.Itoa(i)
		}},
	} {
		k := "set:" + sc.name
		for i := 0; i < sc.n; i++ {
			send("SADD", k, sc.elem(i))
		}
		add(k)
	}
	// sorted sets
	for _, zc := range []struct {
		name  string
		n     int
		elem  func(i int) string
		score func(i int) string
	}{
		{"small", 10, func(i int) string { return text(6) }, func(i int) string { return strconv.Itoa(i) }},
		{"fractions", 100, func(i int) string { return text(10) }, func(i int) string { return strconv.FormatFloat(rng.Float64()*1000, 'g', -1, 64) }},
		{"large", 20000, func(i int) string { return text(16) }, func(i int) string { return strconv.Itoa(rng.IntN(1000000)) }},
		{"longmember", 50, func(i int) string { return text(80) }, func(i int) string { return strconv.Itoa(i) }},
	} {
		k := "zset:" + zc.name
		for i := 0; i < zc.n; i++ {
			send("ZADD", k, zc.score(i), zc.elem(i))
		}
		add(k)
	}
	// hashes
	for _, hc := range []struct {
		name      string
		n         int
		fld, valu func(i int) string
	}{
		{"small", 10, func(i int) string { return "f" + strconv.Itoa(i) }, func(i int) string { return text(10) }},
		{"intvalues", 100, func(i int) string { return "field:" + strconv.Itoa(i) }, func(i int) string { return strconv.Itoa(rng.IntN(100000)) }},
		{"longvalue", 5, func(i int) string { return "f" + strconv.Itoa(i) }, func(i int) string { return text(100) }},
		{"large", 20000, func(i int) string { return "field:" + strconv.Itoa(i) }, func(i int) string { return text(20) }},
		{"bigvalues", 300, func(i int) string { return text(40) }, func(i int) string { return text(300) }},
		{"onelong", 60, func(i int) string { return "f" + strconv.Itoa(i) }, func(i int) string {
			if i == 30 {
				return text(70)
			}
			return text(5)
		}},
		{"fewlong", 7, func(i int) string { return "f" + strconv.Itoa(i) }, func(i int) string { return text(65 + i) }},
	} {
		k := "hash:" + hc.name
		for i := 0; i < hc.n; i++ {
			send("HSET", k, hc.fld(i), hc.valu(i))
		}
		add(k)
	}
	// streams
	for i := 0; i < 10; i++ {
		send("XADD", "stream:small", "*", "temp", strconv.Itoa(20+i), "city", "paris")
	}
	add("stream:small")
	for i := 0; i < 5000; i++ {
		send("XADD", "stream:large", fmt.Sprintf("%d-%d", 1700000000000+int64(i/3), i%3), "user", strconv.Itoa(rng.IntN(10000)), "event", text(20))
	}
	add("stream:large")
	for i := 0; i < 2000; i++ {
		fields := []string{"XADD", "stream:mixed", "*", "a", text(5)}
		if i%3 == 0 {
			fields = append(fields, "b", text(30))
		}
		send(fields...)
	}
	add("stream:mixed")
	for i := 0; i < 3000; i++ {
		send("XADD", "stream:groups", "*", "n", strconv.Itoa(i))
	}
	send("XGROUP", "CREATE", "stream:groups", "g1", "0")
	send("XGROUP", "CREATE", "stream:groups", "g2", "0")
	send("XREADGROUP", "GROUP", "g1", "alice", "COUNT", "1000", "STREAMS", "stream:groups", ">")
	send("XREADGROUP", "GROUP", "g1", "bob", "COUNT", "500", "STREAMS", "stream:groups", ">")
	send("XREADGROUP", "GROUP", "g2", "carol", "COUNT", "10", "STREAMS", "stream:groups", ">")
	send("XGROUP", "CREATECONSUMER", "stream:groups", "g2", "dave")
	add("stream:groups")
	flush(t, c, &pending)
	return keys
}

func flush(t *testing.T, c *servertest.Conn, pending *int) {
	for ; *pending > 0; *pending-- {
		if reply := c.Read(); strings.HasPrefix(reply, "-") {
			t.Fatalf("redis: %s", reply)
		}
	}
}

// TestMemoryEstimateOnFixtures loads each fixture dump into a real Redis 7.0 and compares
// the estimate for each of its keys with MEMORY USAGE: old encodings (zipmap, ziplist,
// linked lists, intsets) are converted as Redis converts them when it loads them.
func TestMemoryEstimateOnFixtures(t *testing.T) {
	servertest.RedisServerPath(t)
	var lines []string
	var worst float64
	for _, path := range loadableFixtures(t) {
		dir := t.TempDir()
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "dump.rdb"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		r := servertest.StartRedis(t, "--dir", dir, "--dbfilename", "dump.rdb")
		c := r.Dial(t)
		est := estimateFile(t, path)
		for dbKey, e := range est {
			c.Do("SELECT", strconv.Itoa(dbKey.db))
			reply := c.Do("MEMORY", "USAGE", dbKey.key, "SAMPLES", "0")
			real, err := strconv.ParseInt(strings.TrimSpace(strings.TrimPrefix(reply, ":")), 10, 64)
			if err != nil {
				continue // expired on load
			}
			ratio := float64(e.memory) / float64(real)
			worst = max(worst, math.Abs(ratio-1))
			if math.Abs(ratio-1) > 0.20 {
				t.Errorf("%s db %d key %q: estimate %d, MEMORY USAGE %d", filepath.Base(path), dbKey.db, dbKey.key, e.memory, real)
			}
			if math.Abs(ratio-1) > 0.01 {
				lines = append(lines, fmt.Sprintf("%s %q %s: real %d estimate %d (%+.1f%%)", filepath.Base(path), dbKey.key, e.encoding, real, e.memory, (ratio-1)*100))
			}
		}
	}
	sort.Strings(lines)
	t.Logf("worst deviation %.1f%%; keys off by more than 1%%:\n%s", worst*100, strings.Join(lines, "\n"))
}

type dbKey struct {
	db  int
	key string
}

// estimateFile runs the estimator over every key of an RDB file.
func estimateFile(t *testing.T, path string) map[dbKey]keyEstimate {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd, err := rdb.NewReader(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[dbKey]keyEstimate{}
	var m memEstimator
	for {
		ev, err := rd.Next()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		switch ev.Kind {
		case rdb.KindKey:
			m.begin(&ev.Header, len(ev.Key))
		case rdb.KindEndKey:
			out[dbKey{ev.DB, string(ev.Key)}] = keyEstimate{memory: m.total(), encoding: m.encoding()}
		case rdb.KindEOF:
			return out
		default:
			m.add(&ev)
		}
	}
}

// loadableFixtures are the fixture dumps that Redis 7.0 loads without a module.
func loadableFixtures(t *testing.T) []string {
	var out []string
	for _, p := range fixturePaths(t) {
		base := filepath.Base(p)
		if strings.HasPrefix(base, "corrupt_") || strings.Contains(base, "module") {
			continue
		}
		out = append(out, p)
	}
	return out
}

// fixturePaths lists the RDB fixtures of the rdb package.
func fixturePaths(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, dir := range []string{"redis-assets", "rdb-tools"} {
		m, err := filepath.Glob(filepath.Join("..", "rdb", "testdata", dir, "*.rdb"))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m...)
	}
	if len(out) == 0 {
		t.Fatal("no fixtures under ../rdb/testdata")
	}
	sort.Strings(out)
	return out
}
