package server_test

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratadb/strata/conf"
	"github.com/stratadb/strata/server"
	"github.com/stratadb/strata/server/servertest"
)

// monitorPrefix is the part of a MONITOR line that differs between two servers: the time and
// the client's address ("lua" is kept).
var monitorPrefix = regexp.MustCompile(`^\+\d+\.\d{6} \[(\d+) ([^\]]*)\] `)

// maskMonitor makes a MONITOR line comparable across servers.
func maskMonitor(t *testing.T, line string) string {
	t.Helper()
	m := monitorPrefix.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("not a monitor line: %q", line)
	}
	who := "client"
	if m[2] == "lua" {
		who = "lua"
	}
	return "+T [" + m[1] + " " + who + "] " + line[len(m[0]):]
}

// monitorTranscript runs cmds on a client while another connection monitors, and returns the
// client's replies and the monitor's lines (masked), up to the line of the final ECHO.
func monitorTranscript(t *testing.T, mon, cli *servertest.Conn, cmds [][]string) (replies, lines []string) {
	t.Helper()
	if got := mon.Do("MONITOR"); got != "+OK\r\n" {
		t.Fatalf("MONITOR: %q", got)
	}
	for _, c := range cmds {
		replies = append(replies, cli.Do(c...))
	}
	cli.Do("ECHO", "the end")
	for {
		line := maskMonitor(t, mon.Read())
		lines = append(lines, line)
		if strings.HasSuffix(line, `"ECHO" "the end"`+"\r\n") {
			return replies, lines
		}
	}
}

// TestMonitorMatchesRedis compares what a monitor sees with what it sees on the real Redis
// for the same commands: escaping, redaction, databases, MULTI/EXEC order, commands that are
// not shown (admin, refused, unknown), a command that blocks.
func TestMonitorMatchesRedis(t *testing.T) {
	r := servertest.StartRedis(t)
	s := servertest.StartStrata(t, nil)
	cmds := [][]string{
		{"SET", "k", "plain"},
		{"SET", "k", "a\"b\\c\n\r\t\a\b\x01\xff é"},
		{"GET", "nokey"},
		{"AUTH", "secret"},
		{"AUTH", "user", "secret"},
		{"AUTH", "a", "b", "c"},
		{"HELLO", "2", "AUTH", "default", "pw", "SETNAME", "me"},
		{"HELLO", "2", "SETNAME", "me2", "AUTH", "default", "pw"},
		{"MULTI"},
		{"SET", "q", "1"},
		{"INCR", "q"},
		{"EXEC"},
		{"SELECT", "3"},
		{"SET", "in3", "x"},
		{"SELECT", "0"},
		{"PING"},
		{"GET"},
		{"NOSUCH", "a"},
		{"CONFIG", "GET", "maxmemory"},
		{"CLIENT", "SETNAME", "named"},
		{"CLIENT", "LIST"},
		{"SLOWLOG", "LEN"},
		{"BLPOP", "empty", "0.01"},
		{"RPUSH", "l", "1", "2"},
		{"ECHO", ""},
		{"EVAL", "redis.call('set', KEYS[1], ARGV[1]); return redis.call('get', KEYS[1])", "1", "sk", "sv"},
		{"EVAL", "return redis.call('incr', 'undeclared')", "0"},
		{"FUNCTION", "LOAD", "#!lua name=mon\nredis.register_function('mf', function(k) return redis.call('get', k[1]) end)"},
		{"FCALL", "mf", "1", "sk"},
	}
	_, want := monitorTranscript(t, r.Dial(t), r.Dial(t), cmds)
	_, got := monitorTranscript(t, s.Dial(t), s.Dial(t), cmds)
	if strings.Join(got, "") != strings.Join(want, "") {
		t.Fatalf("monitor lines differ\nredis:\n%s\nstrata:\n%s", strings.Join(want, ""), strings.Join(got, ""))
	}
}

// TestMonitorClientRules: what a monitor may still run, in RESP2 and RESP3, as Redis decides.
func TestMonitorClientRules(t *testing.T) {
	r := servertest.StartRedis(t)
	s := servertest.StartStrata(t, nil)
	steps := [][]string{
		{"MONITOR"},
		{"GET", "k"},
		{"SET", "k", "v"},
		{"PFCOUNT", "h"},
		{"MULTI"},
		{"PING"},
		{"EXEC"},
		{"PING"},
		{"CLIENT", "SETNAME", "mon"},
		{"ECHO", "hi"},
		{"HELLO", "3"},
		{"GET", "k"},
		{"PING"},
	}
	// The transcript is every reply and line the monitor receives, in order: a command it
	// runs is answered, then shown to itself.
	run := func(c *servertest.Conn) []string {
		var out []string
		mask := func(reply string) string {
			switch {
			case strings.HasPrefix(reply, "%") || strings.HasPrefix(reply, "*14\r\n$6\r\nserver"):
				return "(hello)" // HELLO's map carries the client id
			case monitorPrefix.MatchString(reply):
				return maskMonitor(t, reply)
			}
			return reply
		}
		for _, st := range steps {
			out = append(out, mask(c.Do(st...)))
		}
		c.Do("ECHO", "the end")
		for last := ""; !strings.HasSuffix(last, `"ECHO" "the end"`+"\r\n"); {
			last = mask(c.Read())
			out = append(out, last)
		}
		// RESET ends monitoring: the keyspace is open again.
		return append(out, c.Do("RESET"), c.Do("GET", "k"))
	}
	want, got := run(r.Dial(t)), run(s.Dial(t))
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("redis:\n%q\nstrata:\n%q", want, got)
	}
	// A second MONITOR is ignored without a reply; MONITOR inside EXEC is refused.
	for _, srv := range []func(testing.TB) *servertest.Conn{r.Dial, s.Dial} {
		c := srv(t)
		c.Do("MONITOR")
		c.Send("MONITOR")
		if got := c.Do("ECHO", "x"); got != "$1\r\nx\r\n" {
			t.Fatalf("ECHO after a second MONITOR: %q", got)
		}
		d := srv(t)
		d.Do("MULTI")
		d.Do("MONITOR")
		if got := d.Do("EXEC"); got != "*1\r\n-ERR MONITOR isn't allowed for DENY BLOCKING client\r\n" {
			t.Fatalf("MONITOR in EXEC: %q", got)
		}
	}
}

// TestMonitorExecutionOrder: lines of commands on one key come in the order the commands ran,
// whichever connection ran them.
func TestMonitorExecutionOrder(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	mon := s.Dial(t)
	mon.Do("MONITOR")
	const writers, each = 4, 50
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		c := s.Dial(t)
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				c.Do("append", "k", fmt.Sprintf("%d.%d,", w, i))
			}
		}(w)
	}
	wg.Wait()
	final := parseValue(t, s.Dial(t).Do("GET", "k")).(string)
	var seen []string
	for len(seen) < writers*each {
		line := mon.Read()
		if i := strings.Index(line, `"append" "k" "`); i >= 0 {
			seen = append(seen, strings.TrimSuffix(line[i+len(`"append" "k" "`):], "\"\r\n"))
		}
	}
	if got := strings.Join(seen, ""); got != final {
		t.Fatalf("monitor order differs from execution order:\nmonitor %s\nvalue   %s", got, final)
	}
}

// TestMonitorBoundedByOutputLimit: a monitor that does not read is closed once its pending
// output passes the replica class's hard limit, and the server goes on.
func TestMonitorBoundedByOutputLimit(t *testing.T) {
	s := servertest.StartStrata(t, func(c *conf.Config) {
		c.ClientOutputBufferLim = "normal 0 0 0 replica 1mb 0 0 pubsub 32mb 8mb 60"
	})
	mon := s.Dial(t)
	mon.Do("MONITOR")
	cli := s.Dial(t)
	big := strings.Repeat("x", 64<<10)
	deadline := time.Now().Add(20 * time.Second)
	for monitors(t, cli) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the monitor that does not read was never closed")
		}
		for i := 0; i < 64; i++ {
			cli.Do("SET", "k", big)
		}
	}
	if got := cli.Do("PING"); got != "+PONG\r\n" {
		t.Fatalf("PING: %q", got)
	}
}

func monitors(t *testing.T, c *servertest.Conn) int {
	n := 0
	for _, cl := range clientList(t, c) {
		if strings.Contains(cl["flags"], "O") {
			n++
		}
	}
	return n
}

// waitFlag waits until the client named name shows flag in CLIENT LIST (asked on c).
func waitFlag(t *testing.T, c *servertest.Conn, name string, flag string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, cl := range clientList(t, c) {
			if cl["name"] == name && strings.Contains(cl["flags"], flag) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("client %s never showed flag %s", name, flag)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestClientPause: WRITE pauses what may write (and MULTI's writes, and EXEC of writes) but
// not reads; UNPAUSE releases the paused clients, which then run their commands.
func TestClientPause(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	admin, w := s.Dial(t), s.Dial(t)
	w.Do("CLIENT", "SETNAME", "writer")
	w.Do("SET", "k", "v0")
	expect(t, admin, "+OK\r\n", "CLIENT", "PAUSE", "100000", "WRITE")
	expect(t, w, "$2\r\nv0\r\n", "GET", "k")
	for _, cmd := range [][]string{{"SET", "k", "v1"}, {"PFCOUNT", "k"}} {
		before := admin.Do("GET", "k")
		w.Send(cmd...)
		waitFlag(t, admin, "writer", "b")
		expect(t, admin, before, "GET", "k") // the write waits; reads go on
		expect(t, admin, "+OK\r\n", "CLIENT", "UNPAUSE")
		w.Read()
		expect(t, admin, "+OK\r\n", "CLIENT", "PAUSE", "100000", "WRITE")
	}
	expect(t, admin, "$2\r\nv1\r\n", "GET", "k")

	// In MULTI a write is paused before it is queued; EXEC of reads only runs.
	expect(t, w, "+OK\r\n", "MULTI")
	expect(t, w, "+QUEUED\r\n", "GET", "k")
	expect(t, w, "*1\r\n$2\r\nv1\r\n", "EXEC")
	expect(t, w, "+OK\r\n", "MULTI")
	w.Send("SET", "k", "v2")
	waitFlag(t, admin, "writer", "b")
	expect(t, admin, "+OK\r\n", "CLIENT", "UNPAUSE")
	if got := w.Read(); got != "+QUEUED\r\n" {
		t.Fatalf("SET in MULTI after the pause: %q", got)
	}
	expect(t, w, "*1\r\n+OK\r\n", "EXEC")

	// A stronger pause: ALL stops everything but monitors, which can watch the others wait.
	mon := s.Dial(t)
	mon.Do("MONITOR")
	expect(t, admin, "+OK\r\n", "CLIENT", "PAUSE", "300", "ALL")
	w.Send("PING")
	waitFlag(t, mon, "writer", "b")
	if got := w.Read(); got != "+PONG\r\n" { // once the pause ends by itself
		t.Fatalf("PING after the pause: %q", got)
	}

	// A paused client that goes away leaves nothing behind; the pause goes on for the others.
	expect(t, admin, "+OK\r\n", "CLIENT", "PAUSE", "100000", "WRITE")
	gone := s.Dial(t)
	gone.Do("CLIENT", "SETNAME", "gone")
	gone.Send("SET", "x", "1")
	waitFlag(t, admin, "gone", "b")
	gone.Net().Close()
	deadline := time.Now().Add(10 * time.Second)
	for len(clientList(t, admin)) != 3 { // admin, writer, monitor
		if time.Now().After(deadline) {
			t.Fatal("the paused client that disconnected is still listed")
		}
		time.Sleep(time.Millisecond)
	}
	expect(t, admin, "+OK\r\n", "CLIENT", "UNPAUSE")
	expect(t, admin, "$-1\r\n", "GET", "x")
}

// TestClientPauseShutdown: a paused client does not hold up shutdown.
func TestClientPauseShutdown(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	admin, w := s.Dial(t), s.Dial(t)
	w.Do("CLIENT", "SETNAME", "writer")
	expect(t, admin, "+OK\r\n", "CLIENT", "PAUSE", "100000", "WRITE")
	w.Send("SET", "k", "v")
	waitFlag(t, admin, "writer", "b")
	admin.Send("SHUTDOWN", "NOSAVE")
	select {
	case <-s.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("shutdown waited for the paused client")
	}
	if _, err := w.ReadErr(5 * time.Second); err == nil {
		t.Fatal("the paused client got a reply after shutdown")
	}
}

// TestClientReplyAndNoEvict: CLIENT LIST shows the e flag; RESET clears it and REPLY OFF.
func TestClientReplyAndNoEvict(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	c := s.Dial(t)
	c.Do("CLIENT", "SETNAME", "me")
	expect(t, c, "+OK\r\n", "CLIENT", "NO-EVICT", "ON")
	if fl := clientList(t, c)[0]["flags"]; fl != "e" {
		t.Fatalf("flags %q, want e", fl)
	}
	c.Send("CLIENT", "REPLY", "OFF")
	c.Send("SET", "a", "1")
	expect(t, c, "+RESET\r\n", "RESET")
	expect(t, c, "$1\r\n1\r\n", "GET", "a")
	if fl := clientList(t, c)[0]["flags"]; fl != "N" {
		t.Fatalf("flags %q after RESET, want N", fl)
	}
}

// slowlogEntry is a SLOWLOG GET entry without what differs between two servers: the time,
// the duration and the client's address.
type slowlogEntry struct {
	id   string
	args []string
	name string
}

func slowlogEntries(t *testing.T, raw string) []slowlogEntry {
	t.Helper()
	r, err := servertest.ParseReply(raw)
	if err != nil {
		t.Fatal(err)
	}
	var out []slowlogEntry
	for _, e := range r.Elems {
		if len(e.Elems) != 6 || e.Elems[1].Kind != ':' || e.Elems[2].Kind != ':' {
			t.Fatalf("malformed entry %+v", e)
		}
		var args []string
		for _, a := range e.Elems[3].Elems {
			args = append(args, a.Text)
		}
		out = append(out, slowlogEntry{id: e.Elems[0].Text, args: args, name: e.Elems[5].Text})
	}
	return out
}

// TestSlowlogEntries compares the slow log's entries with Redis's: ids, trimmed and redacted
// arguments, client names, newest first, the length limit.
func TestSlowlogEntries(t *testing.T) {
	r := servertest.StartRedis(t)
	s := servertest.StartStrata(t, nil)
	long := strings.Repeat("v", 200)
	many := []string{"RPUSH", "list"}
	for i := 0; i < 40; i++ {
		many = append(many, fmt.Sprint(i))
	}
	script := [][]string{
		{"CONFIG", "SET", "slowlog-log-slower-than", "0"},
		{"SLOWLOG", "RESET"},
		{"SET", "k", long},
		many,
		{"CLIENT", "SETNAME", "named"},
		{"AUTH", "secret"},
		{"HELLO", "2", "AUTH", "default", "pw"},
		{"MULTI"},
		{"INCR", "n"},
		{"EXEC"},
		{"GET", string([]byte{0, 1, 2})},
	}
	run := func(c *servertest.Conn) []slowlogEntry {
		for _, cmd := range script {
			c.Do(cmd...)
		}
		return slowlogEntries(t, c.Do("SLOWLOG", "GET", "-1"))
	}
	want, got := run(r.Dial(t)), run(s.Dial(t))
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("slow log differs\nredis:  %q\nstrata: %q", want, got)
	}
	for _, srv := range []*servertest.Conn{r.Dial(t), s.Dial(t)} {
		srv.Do("CONFIG", "SET", "slowlog-max-len", "2")
		srv.Do("PING")
		if e := slowlogEntries(t, srv.Do("SLOWLOG", "GET")); len(e) != 2 || e[0].args[0] != "PING" {
			t.Fatalf("after slowlog-max-len 2: %q", e)
		}
	}
}

// TestDebugObjectMatchesRedis compares DEBUG OBJECT's fields that do not depend on memory
// addresses or time: refcount, encoding, serialized length and the quicklist figures.
func TestDebugObjectMatchesRedis(t *testing.T) {
	r := servertest.StartRedis(t, "--enable-debug-command", "yes")
	s := servertest.StartStrata(t, func(c *conf.Config) { c.EnableDebugCommand = "yes" })
	setup := [][]string{
		{"SET", "int", "12345"},
		{"SET", "small", "42"},
		{"SET", "str", "hello world"},
		{"SET", "long", strings.Repeat("abc", 100)},
		{"SET", "repeat", strings.Repeat("a", 5000)},
		{"RPUSH", "list", "a", "b", "c", "1", "2", "300000"},
		{"SADD", "intset", "1", "2", "3"},
		{"SADD", "set", "a", "b", "c"},
		{"HSET", "hash", "f", "v", "n", "1"},
	}
	var bigList []string
	for i := 0; i < 3000; i++ {
		bigList = append(bigList, fmt.Sprintf("element-%d", i))
	}
	setup = append(setup, append([]string{"RPUSH", "biglist"}, bigList...))
	fields := func(c *servertest.Conn, key string) map[string]string {
		reply := c.Do("DEBUG", "OBJECT", key)
		if !strings.HasPrefix(reply, "+Value at:") {
			t.Fatalf("DEBUG OBJECT %s: %q", key, reply)
		}
		m := map[string]string{}
		for _, kv := range strings.Fields(strings.TrimSuffix(reply[1:], "\r\n")) {
			k, v, _ := strings.Cut(kv, ":")
			m[k] = v
		}
		delete(m, "Value at")
		delete(m, "Value")
		delete(m, "at")
		delete(m, "lru")
		delete(m, "lru_seconds_idle")
		return m
	}
	rc, sc := r.Dial(t), s.Dial(t)
	for _, cmd := range setup {
		rc.Do(cmd...)
		sc.Do(cmd...)
	}
	for _, key := range []string{"int", "small", "str", "long", "repeat", "list", "biglist", "intset", "set", "hash"} {
		want, got := fields(rc, key), fields(sc, key)
		switch key {
		case "long", "repeat", "biglist":
			// Strata's RDB writer compresses and packs list nodes a little differently.
			delete(want, "serializedlength")
			delete(got, "serializedlength")
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("DEBUG OBJECT %s\nredis:  %v\nstrata: %v", key, want, got)
		}
	}
}

// TestDigestOfSortedSetsAndStreams checks the digest rules for the types Strata's DEBUG
// cannot walk yet against the real Redis, so that wiring them in is only a matter of
// reading their elements.
func TestDigestOfSortedSetsAndStreams(t *testing.T) {
	r := servertest.StartRedis(t, "--enable-debug-command", "yes")
	c := r.Dial(t)
	c.Do("ZADD", "z", "0.1", "a", "1.5", "b", "3", "c", "-inf", "d", "1e300", "e", "-0", "f")
	c.Do("XADD", "x", "1-1", "f", "v")
	c.Do("XADD", "x", "2-5", "a", "b", "c", "d")
	c.Do("SET", "s", "v")
	c.Do("EXPIRE", "s", "1000")
	zset := []server.DigestZMember{{"a", 0.1}, {"b", 1.5}, {"c", 3}, {"d", server.NegInf()}, {"e", 1e300}, {"f", 0}}
	stream := []server.DigestStreamEntry{{1, 1, []string{"f", "v"}}, {2, 5, []string{"a", "b", "c", "d"}}}
	want := parseValue(t, c.Do("DEBUG", "DIGEST-VALUE", "z", "x")).([]any)
	if got := server.ZSetDigestForTest(zset); got != want[0] {
		t.Errorf("sorted set digest %s, Redis %s", got, want[0])
	}
	if got := server.StreamDigestForTest(stream); got != want[1] {
		t.Errorf("stream digest %s, Redis %s", got, want[1])
	}
	if got, want := server.DatasetDigestForTest(zset, stream), parseValue(t, c.Do("DEBUG", "DIGEST")); got != want {
		t.Errorf("data set digest %s, Redis %s", got, want)
	}
}

// TestDebugProtocolPush: in RESP3 a push, then the reply, exactly as Redis sends them.
func TestDebugProtocolPush(t *testing.T) {
	r := servertest.StartRedis(t, "--enable-debug-command", "yes")
	s := servertest.StartStrata(t, func(c *conf.Config) { c.EnableDebugCommand = "yes" })
	var replies [2]string
	for i, c := range []*servertest.Conn{r.Dial(t), s.Dial(t)} {
		c.Do("HELLO", "3")
		replies[i] = c.Do("DEBUG", "PROTOCOL", "push") + c.Read()
	}
	if replies[0] != replies[1] {
		t.Fatalf("redis %q\nstrata %q", replies[0], replies[1])
	}
}

// TestDebugLocalOnly: enable-debug-command local admits loopback clients.
func TestDebugLocalOnly(t *testing.T) {
	s := servertest.StartStrata(t, func(c *conf.Config) { c.EnableDebugCommand = "local" })
	expect(t, s.Dial(t), "$11\r\nHello World\r\n", "DEBUG", "PROTOCOL", "string")
}

// TestLatencyMonitorAndHistograms: events above the threshold are recorded, one sample a
// second, and every command has a histogram INFO reports percentiles of.
func TestLatencyMonitorAndHistograms(t *testing.T) {
	s := servertest.StartStrata(t, func(c *conf.Config) { c.EnableDebugCommand = "yes" })
	c := s.Dial(t)
	expect(t, c, "+OK\r\n", "CONFIG", "SET", "latency-monitor-threshold", "5")
	expect(t, c, "+OK\r\n", "DEBUG", "SLEEP", "0.02")
	latest := parseValue(t, c.Do("LATENCY", "LATEST")).([]any)
	if len(latest) != 1 {
		t.Fatalf("LATENCY LATEST: %v", latest)
	}
	ev := latest[0].([]any)
	if ev[0] != "command" || ev[2].(int64) < 20 || ev[3].(int64) < 20 {
		t.Fatalf("LATENCY LATEST: %v", ev)
	}
	if h := parseValue(t, c.Do("LATENCY", "HISTORY", "command")).([]any); len(h) != 1 {
		t.Fatalf("LATENCY HISTORY: %v", h)
	}
	graph := parseValue(t, c.Do("LATENCY", "GRAPH", "command")).(string)
	if !strings.HasPrefix(graph, "command - high ") || !strings.Contains(graph, strings.Repeat("-", 80)+"\n") {
		t.Fatalf("LATENCY GRAPH: %q", graph)
	}
	doctor := parseValue(t, c.Do("LATENCY", "DOCTOR")).(string)
	if !strings.Contains(doctor, "1. command: 1 latency spikes") {
		t.Fatalf("LATENCY DOCTOR: %q", doctor)
	}
	expect(t, c, ":1\r\n", "LATENCY", "RESET", "COMMAND")
	expect(t, c, "*0\r\n", "LATENCY", "LATEST")

	c.Do("SET", "k", "v")
	c.Do("SET", "k", "v")
	hist := parseValue(t, c.Do("LATENCY", "HISTOGRAM", "set", "config")).([]any)
	if hist[0] != "set" || hist[1].([]any)[1] != int64(2) {
		t.Fatalf("LATENCY HISTOGRAM: %v", hist)
	}
	if hist[2] != "config|set" {
		t.Fatalf("LATENCY HISTOGRAM's subcommands: %v", hist)
	}
	line := regexp.MustCompile(`latency_percentiles_usec_set:p50=\d+\.\d{3},p99=\d+\.\d{3},p99\.9=\d+\.\d{3}\r\n`)
	if text := info(t, c, "latencystats"); !line.MatchString(text) {
		t.Fatalf("INFO latencystats: %q", text)
	}
	expect(t, c, "+OK\r\n", "CONFIG", "SET", "latency-tracking-info-percentiles", "0 100")
	if text := info(t, c, "latencystats"); !strings.Contains(text, "latency_percentiles_usec_set:p0=") ||
		!strings.Contains(text, ",p100=") {
		t.Fatalf("INFO latencystats with 0 100: %q", text)
	}
	expect(t, c, "+OK\r\n", "CONFIG", "RESETSTAT")
	if text := info(t, c, "latencystats"); strings.Contains(text, "usec_set:") {
		t.Fatalf("INFO latencystats after RESETSTAT: %q", text)
	}
}

// TestMemoryUsage: the footprint grows with the value, counts the TTL, and samples.
func TestMemoryUsage(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	c := s.Dial(t)
	usage := func(args ...string) int64 {
		t.Helper()
		v, ok := parseValue(t, c.Do(append([]string{"MEMORY", "USAGE"}, args...)...)).(int64)
		if !ok {
			t.Fatalf("MEMORY USAGE %v is not a number", args)
		}
		return v
	}
	c.Do("SET", "small", "v")
	c.Do("SET", "big", strings.Repeat("x", 100000))
	small, big := usage("small"), usage("big")
	if small <= 0 || big < 100000 {
		t.Fatalf("small %d, big %d", small, big)
	}
	c.Do("EXPIRE", "small", "100")
	if u := usage("small"); u <= small {
		t.Fatalf("a TTL costs an expiry-index entry: %d then %d", small, u)
	}
	for i := 0; i < 100; i++ {
		c.Do("RPUSH", "l", fmt.Sprintf("%03d", i))
	}
	exact, sampled := usage("l", "SAMPLES", "0"), usage("l")
	if exact != sampled { // all elements have the same size: the estimate is exact
		t.Fatalf("exact %d, sampled %d", exact, sampled)
	}
	c.Do("RPUSH", "l", strings.Repeat("y", 10000))
	if usage("l", "SAMPLES", "0") < exact+10000 || usage("l") >= exact+10000 {
		t.Fatal("SAMPLES 0 must see the big last element, 5 samples must not")
	}
}
