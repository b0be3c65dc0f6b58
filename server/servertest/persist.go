package servertest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Helpers for the tests of RDB files, DUMP and RESTORE against the real redis-server.

// PersistDBs are the databases FillAllTypes writes to.
var PersistDBs = []string{"0", "5"}

// FillAllTypes writes the same keys of every type and encoding to each connection: strings
// (int, raw, compressible, chunked, binary, empty), HyperLogLogs, lists (listpack and
// quicklist, a long element), sets (intset, small, big, big intset), hashes (listpack and
// hashtable), sorted sets (listpack, skiplist, -0 and infinite scores), expiries, and a
// second database.
func FillAllTypes(t *testing.T, conns ...*Conn) {
	t.Helper()
	future := strconv.FormatInt(time.Now().Add(2*time.Hour).UnixMilli(), 10)
	seq := func(prefix string, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = prefix + strconv.Itoa(i)
		}
		return out
	}
	pairs := func(n, valueLen int) []string {
		var out []string
		for i := range n {
			out = append(out, "f"+strconv.Itoa(i), strings.Repeat(string(rune('a'+i%26)), valueLen)+strconv.Itoa(i))
		}
		return out
	}
	zpairs := func(n int) []string {
		var out []string
		for i := range n {
			out = append(out, strconv.FormatFloat(float64(i%113)/7-5, 'g', -1, 64), "z"+strconv.Itoa(i))
		}
		return out
	}
	big := make([]byte, 50000)
	for i := range big {
		big[i] = byte(i*7 + i/100)
	}
	cmds := [][]string{
		{"SET", "s", "hello"},
		{"SET", "n", "12345"},
		{"SET", "neg", "-9223372036854775808"},
		{"SET", "long", strings.Repeat("abc", 100)},
		{"SET", "big", string(big)},
		{"SET", "bigzip", strings.Repeat("0123456789", 3000)},
		{"SET", "bin", "a\x00b\r\n\xff"},
		{"SET", "empty", ""},
		{"SET", "ttl", "v", "PXAT", future},
		{"PFADD", "hll", "a", "b", "c", "d"},
		append([]string{"PFADD", "hlldense"}, seq("e", 3000)...),
		{"RPUSH", "l", "a", "b", "1", "2", "-3"},
		append([]string{"RPUSH", "lbig"}, seq("item", 2000)...),
		{"RPUSH", "llong", strings.Repeat("x", 100), "y", strings.Repeat("z", 10000)},
		{"SADD", "ints", "1", "2", "3", "-100", "70000", "5000000000"},
		{"SADD", "strs", "a", "b", "c"},
		append([]string{"SADD", "sbig"}, seq("m", 1000)...),
		append([]string{"SADD", "ibig"}, seq("", 700)...),
		{"HSET", "h", "f1", "v1", "f2", "2"},
		append([]string{"HSET", "hbig"}, pairs(300, 5)...),
		append([]string{"HSET", "hlong"}, pairs(3, 100)...),
		{"PEXPIREAT", "hbig", future},
		{"ZADD", "z", "1", "a", "2.5", "b", "-inf", "c", "-0", "nz"},
		append([]string{"ZADD", "zbig"}, zpairs(1500)...),
		{"ZADD", "zlong", "-0", strings.Repeat("L", 100), "1e300", "s"},
		{"ZADD", "zbig", "-0", "negzero"},
		append([]string{"XADD", "st", "1-1"}, pairs(3, 4)...),
		{"XADD", "st", "1-2", "a", "b"},
		{"XADD", "st", "5-0", "f0", "other"},
		{"XDEL", "st", "1-2"},
		{"XGROUP", "CREATE", "st", "g1", "0"},
		{"XREADGROUP", "GROUP", "g1", "alice", "COUNT", "2", "STREAMS", "st", ">"},
		{"XREADGROUP", "GROUP", "g1", "bob", "COUNT", "1", "STREAMS", "st", ">"},
		{"XACK", "st", "g1", "1-1"},
		{"XGROUP", "CREATE", "st", "g2", "$"},
		{"XGROUP", "CREATECONSUMER", "st", "g2", "carol"},
		{"XADD", "sempty", "MAXLEN", "0", "7-7", "f", "v"},
		{"SELECT", "5"},
		{"SET", "s", "db5"},
		append([]string{"SADD", "set5"}, seq("x", 10)...),
		{"SELECT", "0"},
	}
	for i := 1; i <= 300; i++ { // a stream of several nodes, one field set changing
		cmds = append(cmds, []string{"XADD", "slong", strconv.Itoa(i) + "-0", "n", strconv.Itoa(i), "k" + strconv.Itoa(i%3), "v"})
	}
	for _, c := range conns {
		for _, cmd := range cmds {
			if r := c.Do(cmd...); strings.HasPrefix(r, "-") {
				t.Fatalf("%s: %q", cmd[0], r)
			}
		}
	}
}

// DumpAll describes every database FillAllTypes writes to.
func DumpAll(t *testing.T, c *Conn) string {
	t.Helper()
	var b strings.Builder
	for _, db := range PersistDBs {
		c.Do("SELECT", db)
		b.WriteString("db" + db + "\n" + Dump(t, c))
		// Streams: groups, pending entries and consumers too.
		keys, _ := topElements(c.Do("KEYS", "*"))
		sort.Strings(keys)
		for _, k := range keys {
			if k = bulkText(k); c.Do("TYPE", k) == "+stream\r\n" {
				b.WriteString(k + " " + c.Do("XINFO", "STREAM", k, "FULL") + "\n")
			}
		}
	}
	c.Do("SELECT", "0")
	return b.String()
}

// CheckRDB runs redis-check-rdb on path.
func CheckRDB(t *testing.T, path string) {
	t.Helper()
	out, err := exec.Command("redis-check-rdb", path).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("RDB looks OK")) {
		t.Fatalf("redis-check-rdb %s: %v\n%s", path, err, out)
	}
}

// LoadIntoRedis makes r load the RDB file at path (DEBUG RELOAD NOSAVE) and returns its
// DEBUG DIGEST.
func LoadIntoRedis(t *testing.T, r *Redis, path string) string {
	t.Helper()
	CopyFile(t, path, filepath.Join(r.Dir, "dump.rdb"))
	c := r.Dial(t)
	if got := c.Do("DEBUG", "RELOAD", "NOSAVE"); got != "+OK\r\n" {
		t.Fatalf("redis could not load %s: %q", path, got)
	}
	return c.Do("DEBUG", "DIGEST")
}

func CopyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// StartDebugRedis starts a redis-server that accepts DEBUG.
func StartDebugRedis(t *testing.T) *Redis {
	return StartRedis(t, "--enable-debug-command", "yes")
}

// WaitFor polls cond (a condition, not a delay) until it holds or a deadline passes.
func WaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// InfoField returns the value of an INFO persistence field.
func InfoField(t *testing.T, c *Conn, name string) string {
	t.Helper()
	raw := c.Do("INFO", "persistence")
	for _, line := range strings.Split(raw, "\r\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return v
		}
	}
	return ""
}
