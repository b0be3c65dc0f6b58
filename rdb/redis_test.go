package rdb

import (
	"fmt"
	"math"
	"math/rand"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// These tests check the package against the real Redis installed here (7.0, RDB 10):
// Redis writes a dump of every type and encoding, the Reader reads it, the Writer writes
// it again, redis-check-rdb accepts that and a fresh Redis loads it to the same digest.

const farFuture = 4102444800123 // 2100-01-01, in ms

// expected is what a test put into Redis, as the model text of each key (see modelFrom).
type expected map[string]string

func (e expected) set(db int, key, typ string, expire int64, lines []string) {
	if typ == "set" || typ == "hash" || typ == "zset" {
		lines = append([]string(nil), lines...)
		sort.Strings(lines)
	}
	e[fmt.Sprintf("%d/%s", db, key)] = fmt.Sprintf("%s expire=%d\n%s", typ, expire, strings.Join(lines, "\n"))
}

func q(s string) string { return strconv.Quote(s) }

// fillRedis puts every type, small and large, into s and returns what it put.
func fillRedis(t *testing.T, s *redisServer) expected {
	rng := rand.New(rand.NewSource(7))
	exp := expected{}
	str := func(key, val string, expire int64) {
		s.must("SET", key, val)
		if expire != 0 {
			s.must("PEXPIREAT", key, expire)
		}
		exp.set(0, key, "string", expire, []string{q(val)})
	}
	random := make([]byte, 5000)
	rng.Read(random)
	str("str:small", "hello", 0)
	str("str:int", "12345", 0)
	str("str:int8", "-7", 0)
	str("str:int32", "-2000000000", 0)
	str("str:bigint", "12345678901234567", 0)
	str("str:notint", "0123", 0)
	str("str:empty", "", 0)
	str("str:compressible", strings.Repeat("abc", 400), 0)
	str("str:random", string(random), 0)
	str("str:expire", "x", farFuture)

	list := func(key string, items []string) {
		for i := 0; i < len(items); i += 100 {
			args := []any{"RPUSH", key}
			for _, it := range items[i:min(i+100, len(items))] {
				args = append(args, it)
			}
			s.must(args...)
		}
		lines := make([]string, len(items))
		for i, it := range items {
			lines[i] = q(it)
		}
		exp.set(0, key, "list", 0, lines)
	}
	list("list:small", []string{"a", "1", "-5", "300", "hello world", "", "9223372036854775807", "-9223372036854775808"})
	var big []string
	for i := 0; i < 5000; i++ {
		switch {
		case i%50 == 0:
			big = append(big, strings.Repeat(string(rune('a'+i%26)), 100+i%300))
		case i%3 == 0:
			big = append(big, strconv.Itoa(i*i-2500))
		default:
			big = append(big, fmt.Sprintf("item-%d", i))
		}
	}
	list("list:big", big)

	set := func(key string, members []string) {
		args := []any{"SADD", key}
		lines := make([]string, len(members))
		for i, m := range members {
			args = append(args, m)
			lines[i] = q(m)
		}
		s.must(args...)
		exp.set(0, key, "set", 0, lines)
	}
	set("set:small", []string{"a", "b", "c"})
	var ints, bigSet []string
	for i := 0; i < 100; i++ {
		ints = append(ints, strconv.Itoa(i*37-1000))
	}
	for i := 0; i < 1000; i++ {
		bigSet = append(bigSet, fmt.Sprintf("member:%d", i))
	}
	set("set:ints", ints)
	set("set:int64", []string{"-1", "1099511627776", "-4611686018427387904", "70000"})
	set("set:big", bigSet)

	zset := func(key string, scores map[string]float64, expire int64) {
		args := []any{"ZADD", key}
		var lines []string
		for m, sc := range scores {
			args = append(args, strconv.FormatFloat(sc, 'g', -1, 64), m)
			lines = append(lines, q(m)+" "+strconv.FormatFloat(sc, 'g', -1, 64))
		}
		s.must(args...)
		if expire != 0 {
			s.must("PEXPIREAT", key, expire)
		}
		exp.set(0, key, "zset", expire, lines)
	}
	zset("zset:small", map[string]float64{"a": 1, "b": 2.5, "c": -3, "d": math.Inf(1), "e": math.Inf(-1),
		"f": 1e300, "g": 0, "h": 0.1, "12": 12}, 0)
	bigZ := map[string]float64{}
	for i := 0; i < 300; i++ {
		bigZ[fmt.Sprintf("m%d", i)] = float64(i%17) / 7
	}
	zset("zset:big", bigZ, farFuture)

	hash := func(key string, fields map[string]string, expire int64) {
		args := []any{"HSET", key}
		var lines []string
		for f, v := range fields {
			args = append(args, f, v)
			lines = append(lines, fmt.Sprintf("  field %s=%s", quote([]byte(f)), quote([]byte(v))))
		}
		s.must(args...)
		if expire != 0 {
			s.must("PEXPIREAT", key, expire)
		}
		exp.set(0, key, "hash", expire, lines)
	}
	small := map[string]string{}
	for i := 0; i < 10; i++ {
		small[fmt.Sprintf("f%d", i)] = strconv.Itoa(i * 1000)
	}
	hash("hash:small", small, farFuture)
	bigH := map[string]string{}
	for i := 0; i < 300; i++ {
		bigH[fmt.Sprintf("field:%d", i)] = fmt.Sprintf("value:%d", i*i)
	}
	hash("hash:big", bigH, 0)
	hash("hash:longval", map[string]string{"a": strings.Repeat("x", 100), "b": "short"}, 0)

	s.must("SELECT", 3)
	s.must("SET", "db3:key", "in db 3")
	exp.set(3, "db3:key", "string", 0, []string{q("in db 3")})
	s.must("SELECT", 0)

	// Streams: Redis's own view is compared later.
	s.must("XADD", "stream:small", "1-1", "a", "1")
	s.must("XADD", "stream:small", "2-1", "a", "2", "b", "3")
	s.must("XADD", "stream:small", "2-2", "12", "-5")
	for i := 0; i < 1000; i++ {
		s.must("XADD", "stream:big", fmt.Sprintf("%d-%d", 1000+i/3, i%3), "f1", strconv.Itoa(i), "f2", fmt.Sprintf("value %d", i))
	}
	s.must("XADD", "stream:big", "5000-0", "other", "fields")
	for i := 0; i < 1000; i += 7 {
		s.must("XDEL", "stream:big", fmt.Sprintf("%d-%d", 1000+i/3, i%3))
	}
	s.must("XGROUP", "CREATE", "stream:big", "g1", "0")
	s.must("XREADGROUP", "GROUP", "g1", "alice", "COUNT", "10", "STREAMS", "stream:big", ">")
	s.must("XREADGROUP", "GROUP", "g1", "bob", "COUNT", "5", "STREAMS", "stream:big", ">")
	s.must("XACK", "stream:big", "g1", "1000-1", "1000-2")
	s.must("XGROUP", "CREATE", "stream:big", "g2", "$")
	s.must("XGROUP", "CREATECONSUMER", "stream:big", "g2", "carol")
	s.must("XGROUP", "CREATE", "stream:big", "g3", "1100-0", "ENTRIESREAD", "250")
	s.must("XGROUP", "CREATE", "stream:empty", "g", "$", "MKSTREAM")
	s.must("XSETID", "stream:small", "9-9", "ENTRIESADDED", "10", "MAXDELETEDID", "1-0")

	// Functions.
	s.must("FUNCTION", "LOAD", "#!lua name=mylib\nredis.register_function('myfunc', function(keys, args) return 1 end)")

	// Lists with plain quicklist nodes: elements over the packed threshold get their own.
	s.must("DEBUG", "QUICKLIST-PACKED-THRESHOLD", "1000")
	list("list:plain", []string{"small", strings.Repeat("P", 3000), "small2", strings.Repeat("Q", 1001)})
	return exp
}

var testStreams = []string{"stream:small", "stream:big", "stream:empty"}

// readerStreams renders what the Reader sees of each stream, in the words of
// redisStreams.
func readerStreams(t *testing.T, data []byte) map[string]string {
	views := map[string][]string{}
	var key, group string
	eachEvent(t, mustReader(t, data), func(ev *Event) error {
		add := func(line string) { views[key] = append(views[key], line) }
		switch ev.Kind {
		case KindKey:
			key = string(ev.Key)
		case KindStreamEntry:
			parts := []string{fmtID(ev.StreamID)}
			for _, f := range ev.Fields {
				parts = append(parts, string(f))
			}
			add(strings.Join(parts, " "))
		case KindStreamMeta:
			m := ev.Stream
			add(fmt.Sprintf("meta length=%d last=%s maxdel=%s added=%d first=%s", m.Length, fmtID(m.LastID),
				fmtID(m.MaxDeletedID), m.EntriesAdded, fmtID(m.FirstID)))
		case KindStreamGroup:
			group = string(ev.Group.Name)
			add(fmt.Sprintf("group %s last=%s read=%d", group, fmtID(ev.Group.LastID), ev.Group.EntriesRead))
		case KindStreamPending:
			add(fmt.Sprintf("pending %s %s count=%d", group, fmtID(ev.Pending.ID), ev.Pending.DeliveryCount))
		case KindStreamConsumer:
			add(fmt.Sprintf("consumer %s %s pending=%d", group, ev.Consumer.Name, len(ev.Consumer.Pending)))
		}
		return nil
	})
	out := map[string]string{}
	for _, k := range testStreams {
		out[k] = strings.Join(views[k], "\n")
	}
	return out
}

// redisStreams renders Redis's view of each stream: XRANGE, XINFO STREAM, GROUPS and
// CONSUMERS, XPENDING. (DEBUG DIGEST-VALUE ignores consumer groups, hence this.)
func redisStreams(t *testing.T, s *redisServer) map[string]string {
	out := map[string]string{}
	s.must("SELECT", 0)
	for _, key := range testStreams {
		out[key] = redisStreamView(s, key)
	}
	return out
}

func redisStreamView(s *redisServer, key string) string {
	var lines []string
	for _, e := range s.must("XRANGE", key, "-", "+").([]any) {
		e := e.([]any)
		parts := []string{string(e[0].([]byte))}
		for _, f := range e[1].([]any) {
			parts = append(parts, string(f.([]byte)))
		}
		lines = append(lines, strings.Join(parts, " "))
	}
	info := replyMap(s.must("XINFO", "STREAM", key))
	lines = append(lines, fmt.Sprintf("meta length=%s last=%s maxdel=%s added=%s first=%s", info["length"],
		info["last-generated-id"], info["max-deleted-entry-id"], info["entries-added"], info["recorded-first-entry-id"]))
	for _, g := range s.must("XINFO", "GROUPS", key).([]any) {
		gm := replyMap(g)
		name := gm["name"]
		read := gm["entries-read"]
		if read == "(nil)" {
			read = "-1"
		}
		lines = append(lines, fmt.Sprintf("group %s last=%s read=%s", name, gm["last-delivered-id"], read))
		for _, p := range s.must("XPENDING", key, name, "-", "+", "1000").([]any) {
			p := p.([]any)
			lines = append(lines, fmt.Sprintf("pending %s %s count=%d", name, p[0], p[3]))
		}
		for _, c := range s.must("XINFO", "CONSUMERS", key, name).([]any) {
			cm := replyMap(c)
			lines = append(lines, fmt.Sprintf("consumer %s %s pending=%s", name, cm["name"], cm["pending"]))
		}
	}
	return strings.Join(lines, "\n")
}

func compareStreams(t *testing.T, what string, want, got map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%s: stream %s differs:\n--- want\n%s\n--- got\n%s", what, k, v, got[k])
		}
	}
}

// replyMap turns a flat [name value ...] reply into a map of strings.
func replyMap(v any) map[string]string {
	arr := v.([]any)
	m := map[string]string{}
	for i := 0; i+1 < len(arr); i += 2 {
		m[str(arr[i])] = str(arr[i+1])
	}
	return m
}

// digests returns DEBUG DIGEST, and per key DEBUG DIGEST-VALUE and PEXPIRETIME, of every
// database the test uses, plus the function libraries.
func digests(t *testing.T, s *redisServer) map[string]string {
	out := map[string]string{"*": str(s.must("DEBUG", "DIGEST")), "functions": str(s.must("FUNCTION", "LIST", "WITHCODE"))}
	for _, db := range []int{0, 3} {
		s.must("SELECT", db)
		for _, k := range s.must("KEYS", "*").([]any) {
			key := string(k.([]byte))
			d := s.must("DEBUG", "DIGEST-VALUE", key).([]any)
			out[fmt.Sprintf("%d/%s", db, key)] = fmt.Sprintf("%s ttl=%s", d[0], str(s.must("PEXPIRETIME", key)))
		}
	}
	s.must("SELECT", 0)
	return out
}

func compareDigests(t *testing.T, what string, want, got map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s: want %s, got %s", what, k, v, got[k])
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: extra key %s", what, k)
		}
	}
}

// loadInto starts a fresh Redis on a file and returns it.
func loadInto(t *testing.T, data []byte) *redisServer {
	dir := t.TempDir()
	path := filepath.Join(dir, "dump.rdb")
	writeFile(t, path, data)
	checkRDB(t, path)
	return startRedis(t, dir)
}

func TestRedisRoundTrip(t *testing.T) {
	requireRedis(t)
	src := startRedis(t, t.TempDir())
	exp := fillRedis(t, src)
	src.must("SAVE")
	dump := readFile(t, filepath.Join(src.dir, "dump.rdb"))

	// 1. The Reader reads what Redis wrote.
	model := modelOf(t, dump)
	for k, want := range exp {
		if got := model.keys[k]; got != want {
			t.Fatalf("key %s:\n--- put\n%s\n--- read\n%s", k, want, got)
		}
	}
	srcStreams := redisStreams(t, src)
	compareStreams(t, "reader", srcStreams, readerStreams(t, dump))
	if len(model.functions) != 1 || !strings.Contains(model.functions[0], "name=mylib") {
		t.Fatalf("functions: %q", model.functions)
	}
	want := digests(t, src)

	// 2. The Writer's file, at each version Redis 7.0 loads, loads to the same data.
	// Small limits give plain quicklist nodes, count-limited nodes, tiny stream nodes.
	small := DefaultLimits()
	small.ListPackedThreshold, small.ListMaxListpackSize = 1000, 5
	small.StreamNodeMaxEntries, small.HashMaxListpackEntries, small.ZSetMaxListpackValue = 3, 4, 2
	for i, opts := range []WriterOptions{
		{Version: 10},
		{Version: 10, DisableCompression: true, DisableChecksum: true},
		{Version: 10, SpillThreshold: 512},
		{Version: 10, Limits: &small},
		{Version: 9, AllowLoss: true},
	} {
		t.Run(fmt.Sprintf("%d-v%d", i, opts.Version), func(t *testing.T) {
			opts.TempDir = t.TempDir()
			data, err := copyDump(t, dump, &opts)
			if err != nil {
				t.Fatal(err)
			}
			dst := loadInto(t, data)
			got := digests(t, dst)
			if opts.Version != 9 {
				compareStreams(t, "rewritten dump", srcStreams, redisStreams(t, dst))
			}
			if opts.Version == 9 {
				// RDB 9 has no functions and no stream deletion history.
				delete(want, "functions")
				delete(got, "functions")
				for _, k := range []string{"*", "0/stream:small", "0/stream:big", "0/stream:empty"} {
					delete(want, k)
					delete(got, k)
				}
			}
			compareDigests(t, "rewritten dump", want, got)
		})
	}
	want = digests(t, src)

	// 3. DUMP payloads: Redis's decode to what the file holds; ours restore to the same
	// digest.
	checkDumpPayloads(t, src, model, want)
}

func checkDumpPayloads(t *testing.T, s *redisServer, model dumpModel, want map[string]string) {
	enc, err := NewDumpEncoder(&WriterOptions{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for name := range model.keys {
		db, key, _ := strings.Cut(name, "/")
		s.must("SELECT", db)
		payload := s.must("DUMP", key).([]byte)
		r, err := NewDumpReader([]byte(key), payload, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		one, err := modelFrom(r)
		if err != nil {
			t.Fatalf("%s: decode DUMP payload: %v", name, err)
		}
		fileView := model.keys[name]
		// The payload carries no TTL.
		fileView = strings.Replace(fileView, fmt.Sprintf("expire=%d", int64(farFuture)), "expire=0", 1)
		got := one.keys[fmt.Sprintf("0/%s", key)]
		if got != fileView {
			t.Fatalf("%s: DUMP payload decodes to\n%s\nthe file holds\n%s", name, got, fileView)
		}

		// Encode the same events and RESTORE them under another name.
		r, _ = NewDumpReader([]byte(key), payload, nil)
		if err := eachEvent(t, r, enc.Write); err != nil {
			t.Fatalf("%s: encode: %v", name, err)
		}
		ours, err := enc.AppendPayload(nil)
		if err != nil {
			t.Fatal(err)
		}
		if v, err := CheckDumpPayload(ours); err != nil || v > 10 {
			t.Fatalf("%s: our payload: version %d, %v", name, v, err)
		}
		copyName := key + ":restored"
		// The digest counts whether a key expires, so the copy gets the same expiry.
		if at := s.must("PEXPIRETIME", key).(int64); at > 0 {
			s.must("RESTORE", copyName, at, ours, "ABSTTL")
		} else {
			s.must("RESTORE", copyName, 0, ours)
		}
		d1 := str(s.must("DEBUG", "DIGEST-VALUE", key))
		d2 := str(s.must("DEBUG", "DIGEST-VALUE", copyName))
		if strings.HasPrefix(fileView, "stream") {
			if v1, v2 := redisStreamView(s, key), redisStreamView(s, copyName); v1 != v2 {
				t.Fatalf("%s: restored stream differs:\n%s\n---\n%s", name, v1, v2)
			}
		}
		if d1 != d2 {
			r2, err := NewDumpReader([]byte(key), ours, nil)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			back, err := modelFrom(r2)
			t.Fatalf("%s: restored copy digest %s, original %s; our payload reads back as (%v)\n%s\nfile: %s\npayload %x", name, d2, d1, err,
				back.keys["0/"+key], model.keys[name], ours)
		}
		s.must("DEL", copyName)
	}
	s.must("SELECT", 0)
	// A damaged payload gets Redis's error, and ours agrees.
	payload := s.must("DUMP", "str:small").([]byte)
	payload[len(payload)-1] ^= 1
	if _, err := CheckDumpPayload(payload); err != ErrDumpPayload {
		t.Fatalf("damaged payload: %v", err)
	}
	if v, _ := s.do("RESTORE", "x", 0, payload); str(v) != RestoreErrorText {
		t.Fatalf("Redis says %q, RestoreErrorText is %q", str(v), RestoreErrorText)
	}
}
