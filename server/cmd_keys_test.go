package server_test

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stratadb/strata/conf"
	"github.com/stratadb/strata/server/servertest"
)

// parseScanReply splits a RESP2 SCAN reply: *2, the cursor, then an array of bulk keys.
func parseScanReply(t *testing.T, reply string) (string, []string) {
	t.Helper()
	rd := bufio.NewReader(strings.NewReader(reply))
	line := func() string {
		l, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("short SCAN reply %q", reply)
		}
		return strings.TrimSuffix(l, "\r\n")
	}
	bulk := func() string {
		h := line()
		n, err := strconv.Atoi(strings.TrimPrefix(h, "$"))
		if err != nil || h[0] != '$' {
			t.Fatalf("not a bulk string in %q", reply)
		}
		b := make([]byte, n+2)
		if _, err := io.ReadFull(rd, b); err != nil {
			t.Fatalf("short bulk in %q", reply)
		}
		return string(b[:n])
	}
	if line() != "*2" {
		t.Fatalf("SCAN reply %q", reply)
	}
	cursor := bulk()
	h := line()
	n, err := strconv.Atoi(strings.TrimPrefix(h, "*"))
	if err != nil || h[0] != '*' {
		t.Fatalf("SCAN reply %q", reply)
	}
	keys := make([]string, n)
	for i := range keys {
		keys[i] = bulk()
	}
	return cursor, keys
}

// scanAll runs a whole SCAN iteration with the given options and returns the distinct keys
// returned, sorted, and how many times a key came back more than once.
func scanAll(t *testing.T, c *servertest.Conn, opts ...string) ([]string, int) {
	t.Helper()
	seen := map[string]bool{}
	repeats := 0
	cursor := "0"
	for calls := 0; ; calls++ {
		if calls > 100_000 {
			t.Fatal("SCAN does not end")
		}
		var keys []string
		cursor, keys = parseScanReply(t, c.Do(append([]string{"SCAN", cursor}, opts...)...))
		for _, k := range keys {
			if seen[k] {
				repeats++
			}
			seen[k] = true
		}
		if cursor == "0" {
			break
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, repeats
}

// TestScanFullIteration compares whole SCAN iterations with Redis's as sets of keys: the
// cursors differ by design, the keys may not.
func TestScanFullIteration(t *testing.T) {
	s := servertest.StartStrata(t, nil).Dial(t)
	r := servertest.StartRedis(t).Dial(t)
	for _, c := range []*servertest.Conn{s, r} {
		for i := 0; i < 700; i++ {
			c.Do("SET", fmt.Sprintf("user:%d", i), "v")
		}
		for i := 0; i < 50; i++ {
			c.Do("SET", fmt.Sprintf("{tag}%d", i), "v")
		}
		c.Do("SET", "", "empty")
		c.Do("SET", "gone", "v", "PX", "1")
		c.Do("SET", "later", "v", "EX", "1000")
	}
	for _, c := range []*servertest.Conn{s, r} {
		waitReply(t, c, ":0\r\n", "EXISTS", "gone")
	}
	for _, opts := range [][]string{
		nil,
		{"COUNT", "1"},
		{"COUNT", "3"},
		{"COUNT", "1000"},
		{"MATCH", "user:1*", "COUNT", "20"},
		{"MATCH", "{tag}*"},
		{"MATCH", "*5", "COUNT", "7", "TYPE", "string"},
		{"TYPE", "hash", "COUNT", "100"},
		{"TYPE", "STRING", "COUNT", "50"},
		{"MATCH", ""},
	} {
		got, repeats := scanAll(t, s, opts...)
		want, _ := scanAll(t, r, opts...)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("SCAN %q: strata returned %d keys, redis %d", opts, len(got), len(want))
		}
		if repeats != 0 {
			t.Errorf("SCAN %q: strata repeated %d keys with an intact cursor table", opts, repeats)
		}
	}
}

// TestObjectUnderMemoryPolicies runs OBJECT against Redis started with the same maxmemory
// settings: FREQ and IDLETIME swap their errors under an LFU policy, and small integers stop
// being shared when an LRU or LFU policy has a budget. IDLETIME is compared by type only:
// Redis's clock ticks in seconds, so it may already answer 1.
func TestObjectUnderMemoryPolicies(t *testing.T) {
	cases := []struct {
		policy    string
		maxmemory int64
		script    string
	}{
		{"allkeys-lfu", 0, `
SET k v
OBJECT FREQ k
OBJECT FREQ nokey
OBJECT IDLETIME k
OBJECT IDLETIME nokey
SET n 5
OBJECT REFCOUNT n
OBJECT ENCODING n`},
		{"volatile-lfu", 100 << 20, `
SET k v
OBJECT FREQ k
OBJECT IDLETIME k
SET n 5
OBJECT REFCOUNT n`},
		{"allkeys-lru", 100 << 20, `
SET k v
OBJECT FREQ k
@type OBJECT IDLETIME k
SET n 5
OBJECT REFCOUNT n`},
		{"allkeys-random", 100 << 20, `
SET n 5
OBJECT REFCOUNT n
OBJECT FREQ n`},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s-%d", c.policy, c.maxmemory), func(t *testing.T) {
			s := servertest.StartStrata(t, func(cfg *conf.Config) {
				cfg.MaxMemoryPolicy = c.policy
				cfg.MaxMemory = c.maxmemory
			})
			r := servertest.StartRedis(t, "--maxmemory-policy", c.policy, "--maxmemory", strconv.FormatInt(c.maxmemory, 10))
			servertest.RunDiff(t, c.policy, c.script, s.Dial(t), r.Dial(t))
		})
	}
}

// waitReply polls a command until it answers want, failing after a generous deadline.
func waitReply(t *testing.T, c *servertest.Conn, want string, args ...string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := c.Do(args...)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%q still answers %q, want %q", args, got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestActiveExpiryEmptiesDBSIZE: keys with a short TTL leave DBSIZE without any command
// touching them.
func TestActiveExpiryEmptiesDBSIZE(t *testing.T) {
	s := servertest.StartStrata(t, func(cfg *conf.Config) { cfg.Hz = 100 })
	c := s.Dial(t)
	// The keys get their 1 ms expiry together, after DBSIZE has counted them, so a slow
	// machine cannot expire some before the count.
	for i := 0; i < 20; i++ {
		c.Do("SET", fmt.Sprintf("k%d", i), "v")
	}
	c.Do("SET", "stays", "v")
	if got := c.Do("DBSIZE"); got != ":21\r\n" {
		t.Fatalf("DBSIZE = %q", got)
	}
	c.Do("MULTI")
	for i := 0; i < 20; i++ {
		c.Do("PEXPIRE", fmt.Sprintf("k%d", i), "1")
	}
	c.Do("EXEC")
	waitReply(t, c, ":1\r\n", "DBSIZE")
	if st := s.Engine().KeyspaceStats(0); st.Keys != 1 || st.Expires != 0 {
		t.Fatalf("keyspace stats %+v", st)
	}
}

// TestScanCursorsLikeRedis compares how the four SCAN commands read odd cursors: Redis's
// strtoul stops at a NUL byte (the end of the C string), takes one sign, and refuses spaces.
func TestScanCursorsLikeRedis(t *testing.T) {
	r := servertest.StartRedis(t).Dial(t)
	s := servertest.StartStrata(t, nil).Dial(t)
	for _, c := range [][]string{{"SADD", "s", "a"}, {"HSET", "h", "f", "v"}, {"ZADD", "z", "1", "m"}} {
		r.Do(c...)
		s.Do(c...)
	}
	for _, cursor := range []string{"0\x00x", "\x000", "", "-", "+0", "-0", " 0", "0 ", "++0", "18446744073709551616"} {
		for _, cmd := range [][]string{{"SCAN", cursor, "MATCH", "s"}, {"SSCAN", "s", cursor}, {"HSCAN", "h", cursor}, {"ZSCAN", "z", cursor}} {
			if got, want := s.Do(cmd...), r.Do(cmd...); got != want {
				t.Errorf("%q: strata %q, redis %q", cmd, got, want)
			}
		}
	}
}
