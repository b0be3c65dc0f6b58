package tools

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stratadb/strata/rdb"
	"github.com/stratadb/strata/server/servertest"
)

// redisVerdict is what redis-check-rdb says about a file.
type redisVerdict struct {
	ok     bool
	keys   int64
	key    string // the key being read at the error, if it says
	offset int64  // the offset of its error line
}

var (
	reKeysRead   = regexp.MustCompile(`\[info\] (\d+) keys read`)
	reReadingKey = regexp.MustCompile(`\[additional info\] Reading key '(.*)'`)
	reErrOffset  = regexp.MustCompile(`--- RDB ERROR DETECTED ---\n\[offset (\d+)\]`)
)

func redisCheckRDB(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("redis-check-rdb")
	if err != nil {
		if os.Getenv("STRATA_REQUIRE_REDIS") != "" {
			t.Fatal("redis-check-rdb is not installed (apt-get install redis-tools)")
		}
		t.Skip("redis-check-rdb is not installed")
	}
	return p
}

func runRedisCheck(t *testing.T, bin, path string) redisVerdict {
	t.Helper()
	out, err := exec.Command(bin, path).CombinedOutput()
	var v redisVerdict
	var exit *exec.ExitError
	switch {
	case err == nil:
		v.ok = true
	case errors.As(err, &exit):
	default:
		t.Fatalf("redis-check-rdb: %v", err)
	}
	if m := reKeysRead.FindSubmatch(out); m != nil {
		v.keys, _ = strconv.ParseInt(string(m[1]), 10, 64)
	}
	if m := reReadingKey.FindSubmatch(out); m != nil {
		v.key = string(m[1])
	}
	if m := reErrOffset.FindSubmatch(out); m != nil {
		v.offset, _ = strconv.ParseInt(string(m[1]), 10, 64)
	}
	return v
}

// TestCheckVerdictsOnFixtures compares check with redis-check-rdb on every fixture: the
// same verdict, the same number of keys when the file is sound, and on a corrupt file the
// same key, at an offset no later than where redis-check-rdb stopped (check names where
// the broken structure starts, redis-check-rdb where its reading stopped).
func TestCheckVerdictsOnFixtures(t *testing.T) {
	bin := redisCheckRDB(t)
	for _, path := range fixturePaths(t) {
		want := runRedisCheck(t, bin, path)
		got := Check(path, CheckOptions{})
		name := filepath.Base(path)
		if got.OK() != want.ok {
			t.Errorf("%s: check says ok=%v (%v), redis-check-rdb ok=%v", name, got.OK(), got.Err, want.ok)
			continue
		}
		if want.ok {
			if got.Keys() != want.keys {
				t.Errorf("%s: %d keys, redis-check-rdb read %d", name, got.Keys(), want.keys)
			}
			continue
		}
		if string(got.ErrKey) != want.key || got.ErrOffset > want.offset {
			t.Errorf("%s: problem at offset %d in key %q; redis-check-rdb: offset %d, key %q",
				name, got.ErrOffset, got.ErrKey, want.offset, want.key)
		}
	}
}

// TestCheckCorruptFixtureOffsets pins where check finds the problems of Redis's two
// deliberately corrupt files.
func TestCheckCorruptFixtureOffsets(t *testing.T) {
	for _, c := range []struct {
		file   string
		offset int64
		key    string
		is     error
	}{
		{"corrupt_ziplist.rdb", 489, "key:000000000091", rdb.ErrCorrupt},
		{"corrupt_empty_keys.rdb", 94, "set", rdb.ErrCorrupt},
	} {
		rep := Check(filepath.Join("..", "rdb", "testdata", "redis-assets", c.file), CheckOptions{})
		if rep.OK() || rep.ErrOffset != c.offset || string(rep.ErrKey) != c.key || !rep.ErrInKey || !errors.Is(rep.Err, c.is) {
			t.Errorf("%s: offset %d key %q (in key %v): %v; want offset %d key %q", c.file, rep.ErrOffset,
				rep.ErrKey, rep.ErrInKey, rep.Err, c.offset, c.key)
		}
		var out bytes.Buffer
		if err := rep.Write(&out); err != nil || !strings.Contains(out.String(), fmt.Sprintf("offset       %d\n", c.offset)) {
			t.Errorf("%s: report does not show the offset:\n%s", c.file, out.String())
		}
	}
}

// redisMadeDump fills a real Redis with every type, several databases, expiries and a
// function library, and returns its SAVEd dump.
func redisMadeDump(t *testing.T) (dump []byte, dbsize map[int]int64) {
	t.Helper()
	r := servertest.StartRedis(t)
	c := r.Dial(t)
	rng := rand.New(rand.NewPCG(3, 5))
	pending := 0
	send := func(args ...string) {
		c.Send(args...)
		if pending++; pending == 256 {
			flush(t, c, &pending)
		}
	}
	for db := 0; db < 3; db++ {
		send("SELECT", strconv.Itoa(db))
		for i := 0; i < 150; i++ {
			k := fmt.Sprintf("k:%d:%d", db, i)
			switch i % 7 {
			case 0:
				send("SET", k, noise(rng.IntN(300), i))
			case 1:
				send("SET", k, strconv.Itoa(i), "PX", strconv.Itoa(1000000+i))
			case 2:
				for j := 0; j < 1+rng.IntN(300); j++ {
					send("RPUSH", k, noise(1+rng.IntN(40), j))
				}
			case 3:
				for j := 0; j < 1+rng.IntN(200); j++ {
					send("SADD", k, strconv.Itoa(rng.IntN(100000)))
				}
				if i%2 == 1 {
					send("SADD", k, "text")
				}
			case 4:
				for j := 0; j < 1+rng.IntN(200); j++ {
					send("ZADD", k, strconv.FormatFloat(rng.Float64()*100, 'g', -1, 64), noise(5+rng.IntN(80), j))
				}
			case 5:
				for j := 0; j < 1+rng.IntN(200); j++ {
					send("HSET", k, fmt.Sprintf("f%d", j), noise(rng.IntN(100), j))
				}
			case 6:
				for j := 0; j < 1+rng.IntN(300); j++ {
					send("XADD", k, "*", "a", strconv.Itoa(j), "b", noise(10, j))
				}
				send("XGROUP", "CREATE", k, "g", "0")
				send("XREADGROUP", "GROUP", "g", "c1", "COUNT", "20", "STREAMS", k, ">")
			}
		}
	}
	send("FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function('f', function() return 1 end)")
	flush(t, c, &pending)
	dbsize = map[int]int64{}
	for db := 0; db < 3; db++ {
		c.Do("SELECT", strconv.Itoa(db))
		n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimPrefix(c.Do("DBSIZE"), ":")), 10, 64)
		dbsize[db] = n
	}
	if reply := c.Do("SAVE"); reply != "+OK\r\n" {
		t.Fatalf("SAVE: %q", reply)
	}
	dump, err := os.ReadFile(filepath.Join(r.Dir, "dump.rdb"))
	if err != nil {
		t.Fatal(err)
	}
	return dump, dbsize
}

func checkBytes(data []byte) *CheckReport {
	rep := &CheckReport{Path: "(memory)", Size: int64(len(data)), ModuleKeys: map[string]int64{}}
	checkRDB(rep, bytes.NewReader(data), CheckOptions{})
	return rep
}

// TestCheckRedisMadeFiles checks a dump of the real Redis, then damaged copies of it
// (truncated, a byte changed), and compares every verdict with redis-check-rdb's.
func TestCheckRedisMadeFiles(t *testing.T) {
	bin := redisCheckRDB(t)
	dump, dbsize := redisMadeDump(t)
	rep := checkBytes(dump)
	if !rep.OK() || rep.Functions != 1 || len(rep.DBs) != 3 {
		t.Fatalf("check of Redis's own dump: %v, %d functions, %d databases", rep.Err, rep.Functions, len(rep.DBs))
	}
	for _, d := range rep.DBs {
		if d.Keys != dbsize[d.DB] || d.HintKeys != d.Keys || d.HintExpires != d.Expires {
			t.Fatalf("db %d: %+v, DBSIZE %d", d.DB, d, dbsize[d.DB])
		}
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(8, 13))
	var variants [][]byte
	for i := 0; i < 40; i++ {
		variants = append(variants, dump[:rng.IntN(len(dump))])
	}
	for i := 0; i < 60; i++ {
		v := bytes.Clone(dump)
		v[rng.IntN(len(v))] ^= byte(1 + rng.IntN(255))
		variants = append(variants, v)
	}
	agreeKey, namedKey := 0, 0
	for i, v := range variants {
		path := filepath.Join(dir, fmt.Sprintf("v%d.rdb", i))
		if err := os.WriteFile(path, v, 0o644); err != nil {
			t.Fatal(err)
		}
		want := runRedisCheck(t, bin, path)
		got := Check(path, CheckOptions{})
		if got.OK() != want.ok {
			t.Errorf("variant %d (%d bytes): check ok=%v (%v), redis-check-rdb ok=%v", i, len(v), got.OK(), got.Err, want.ok)
		}
		if want.key != "" {
			namedKey++
			if want.key == string(got.ErrKey) {
				agreeKey++
			} else {
				t.Logf("variant %d: redis-check-rdb: key %q at %d; check: %v", i, want.key, want.offset, got.Err)
			}
		}
	}
	t.Logf("%d damaged files: same verdicts; redis-check-rdb named a key for %d, check named the same key for %d",
		len(variants), namedKey, agreeKey)
}

// TestTruncatedInputs cuts every fixture and a dump of the real Redis at many points: no
// panic anywhere, and check and inspect both call every cut file broken.
func TestTruncatedInputs(t *testing.T) {
	inputs := map[string][]byte{}
	for _, p := range fixturePaths(t) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		inputs[filepath.Base(p)] = b
	}
	if _, err := exec.LookPath("redis-server"); err == nil {
		inputs["redis-made"], _ = redisMadeDump(t)
	}
	for name, data := range inputs {
		end := len(data)
		if rep := checkBytes(data); rep.OK() {
			end = int(rep.Read) // bytes after the RDB's end do not count
		}
		for _, cut := range cutPoints(end) {
			part := data[:cut]
			if rep := checkBytes(part); rep.OK() {
				t.Fatalf("%s cut at %d: check says OK", name, cut)
			}
			rd, err := rdb.NewReader(bytes.NewReader(part), &rdb.ReaderOptions{SkipEmptyKeys: true})
			if err != nil {
				continue // shorter than the header: refused at once
			}
			rep, err := Inspect(rd, InspectOptions{PrefixDepth: 2})
			if err == nil || rep.Complete {
				t.Fatalf("%s cut at %d: inspect ran to the end", name, cut)
			}
			if err := WriteReport(io.Discard, rep, FormatTable); err != nil {
				t.Fatal(err)
			}
			rd, _ = rdb.NewReader(bytes.NewReader(part), nil)
			if err := DumpKeys(io.Discard, rd, DumpOptions{}); err == nil {
				t.Fatalf("%s cut at %d: the key dump ran to the end", name, cut)
			}
		}
	}
}

// cutPoints is every length below n for small inputs, and for a big one the first and
// last 32 and about 100 spread between them.
func cutPoints(n int) []int {
	if n <= 4096 {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	var out []int
	for i := 0; i < 32; i++ {
		out = append(out, i, n-1-i)
	}
	for i := 32; i < n-32; i += n / 100 {
		out = append(out, i)
	}
	return out
}

func TestStreamGroupCheck(t *testing.T) {
	id := func(ms uint64) rdb.StreamID { return rdb.StreamID{Ms: ms} }
	group := func(name string) rdb.Event {
		return rdb.Event{Kind: rdb.KindStreamGroup, Group: rdb.StreamGroup{Name: []byte(name)}}
	}
	pending := func(ms uint64) rdb.Event {
		return rdb.Event{Kind: rdb.KindStreamPending, Pending: rdb.StreamPending{ID: id(ms)}}
	}
	consumer := func(name string, ids ...uint64) rdb.Event {
		c := rdb.Event{Kind: rdb.KindStreamConsumer, Consumer: rdb.StreamConsumer{Name: []byte(name)}}
		for _, ms := range ids {
			c.Consumer.Pending = append(c.Consumer.Pending, id(ms))
		}
		return c
	}
	for _, c := range []struct {
		name string
		evs  []rdb.Event
		want string
	}{
		{"sound", []rdb.Event{group("g"), pending(1), pending(2), consumer("a", 1), consumer("b", 2), group("h"), consumer("a")}, ""},
		{"group twice", []rdb.Event{group("g"), group("g")}, "duplicated consumer group"},
		{"pending twice", []rdb.Event{group("g"), pending(1), pending(1)}, "twice"},
		{"consumer twice", []rdb.Event{group("g"), consumer("a"), consumer("a")}, "consumer \"a\" twice"},
		{"not pending", []rdb.Event{group("g"), pending(1), consumer("a", 2)}, "not among"},
		{"owned twice", []rdb.Event{group("g"), pending(1), consumer("a", 1, 1)}, "owns 1-0 twice"},
		{"pending of the other group", []rdb.Event{group("g"), pending(1), group("h"), consumer("a", 1)}, "not among"},
	} {
		var g streamGroupCheck
		got := ""
		for i := range c.evs {
			if got = g.add(&c.evs[i]); got != "" {
				break
			}
		}
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// TestCheckDuplicates finds a member or field twice in one key, as Redis does when it
// loads the key (and redis-check-rdb with it).
func TestCheckDuplicates(t *testing.T) {
	for _, c := range []struct {
		name string
		key  func(d *dumpBuilder)
		want string
	}{
		{"set", func(d *dumpBuilder) { d.key(0, "s", rdb.TypeSet, 0, items(rdb.KindSetMember, "a", "b", "a")...) }, `member "a" comes twice`},
		{"big set", func(d *dumpBuilder) {
			var m []string
			for i := 0; i < 600; i++ {
				m = append(m, strconv.Itoa(i))
			}
			d.key(0, "s", rdb.TypeSet, 0, items(rdb.KindSetMember, append(m, "17")...)...)
		}, `member "17" comes twice`},
		{"hash", func(d *dumpBuilder) { d.key(0, "h", rdb.TypeHash, 0, hashFields("f", "1", "g", "2", "f", "3")...) }, `field "f" comes twice`},
		{"zset", func(d *dumpBuilder) { d.key(0, "z", rdb.TypeZSet, 0, zsetMembers("m", 1.0, "m", 2.0)...) }, `member "m" comes twice`},
		{"list may repeat", func(d *dumpBuilder) { d.key(0, "l", rdb.TypeList, 0, items(rdb.KindListItem, "a", "a")...) }, ""},
	} {
		d := newDump(t)
		d.str(0, "before", "x", 0)
		c.key(d)
		path := d.file()
		rep := Check(path, CheckOptions{})
		if c.want == "" {
			if !rep.OK() {
				t.Errorf("%s: %v", c.name, rep.Err)
			}
			continue
		}
		if rep.OK() || !strings.Contains(rep.Err.Error(), c.want) || !rep.ErrInKey || rep.Keys() != 2 {
			t.Errorf("%s: %v (key %q, %d keys)", c.name, rep.Err, rep.ErrKey, rep.Keys())
		}
		if bin, err := exec.LookPath("redis-check-rdb"); err == nil {
			if v := runRedisCheck(t, bin, path); v.ok {
				t.Errorf("%s: redis-check-rdb finds no problem", c.name)
			}
		}
	}
}
