package aof

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The tests in this file run the real redis-server and redis-check-aof (Debian's 7.0.15).

type redisServer struct {
	t      *testing.T
	cmd    *exec.Cmd
	client *redis.Client
	log    *strings.Builder
	dir    string
}

// startRedis starts redis-server in dir with extra config arguments, and waits until it says it
// is ready.
func startRedis(t *testing.T, dir string, extra ...string) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not on PATH; install Debian's redis-server package to run this test")
	}
	sock := filepath.Join(t.TempDir(), "r.sock")
	args := append([]string{"--port", "0", "--unixsocket", sock, "--dir", dir, "--save", "",
		"--enable-debug-command", "yes", "--appendfsync", "always"}, extra...)
	cmd := exec.Command(bin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &redisServer{t: t, cmd: cmd, log: &strings.Builder{}, dir: dir}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		said := false
		for sc.Scan() {
			s.log.WriteString(sc.Text() + "\n")
			if !said && strings.Contains(sc.Text(), "ready to accept connections") {
				said = true
				ready <- true
			}
		}
		if !said {
			ready <- false
		}
	}()
	select {
	case ok := <-ready:
		if !ok {
			cmd.Wait()
			t.Fatalf("redis-server did not start:\n%s", s.log)
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("redis-server not ready after 20s")
	}
	s.client = redis.NewClient(&redis.Options{Network: "unix", Addr: sock, Protocol: 2,
		DisableIdentity: true, PoolSize: 1, MaxRetries: -1})
	t.Cleanup(func() { s.stop() })
	return s
}

func (s *redisServer) do(args ...any) any {
	s.t.Helper()
	v, err := s.client.Do(context.Background(), args...).Result()
	if err != nil && err != redis.Nil {
		s.t.Fatalf("%v: %v", args, err)
	}
	return v
}

// stop shuts the server down (SHUTDOWN fsyncs the AOF) and waits for it to exit.
func (s *redisServer) stop() {
	if s.cmd == nil {
		return
	}
	s.client.Do(context.Background(), "SHUTDOWN", "NOSAVE")
	s.client.Close()
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
	s.cmd = nil
}

// waitRewrite waits until the manifest names the base file of seq 2 and no rewrite runs.
func (s *redisServer) waitRewrite() {
	deadline := time.Now().Add(20 * time.Second)
	manifest := filepath.Join(s.dir, DefaultDirname, ManifestName(DefaultFilename))
	for time.Now().Before(deadline) {
		info := s.do("INFO", "persistence").(string)
		m, _ := os.ReadFile(manifest)
		if strings.Contains(info, "aof_rewrite_in_progress:0") && strings.Contains(info, "aof_rewrite_scheduled:0") &&
			strings.Contains(string(m), "seq 2 type b") {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.t.Fatal("AOF rewrite did not finish")
}

type readCmd struct {
	file string
	off  int64
	end  int64 // offset after the command
	db   int
	args string
}

// readDir reads an AOF with Open, preambles consumed with scanRDB.
func readDir(t *testing.T, path string) (cmds []readCmd, warnings []*Event, timestamps []int64) {
	t.Helper()
	r, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for {
		ev, err := r.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		switch ev.Kind {
		case KindPreamble:
			if err := scanRDB(ev.Preamble); err != nil {
				t.Fatalf("%s: %v", ev.File, err)
			}
		case KindCommand:
			end := ev.Offset + int64(len(AppendCommand(nil, ev.Args...)))
			cmds = append(cmds, readCmd{ev.File, ev.Offset, end, ev.DB, words(ev.Args)})
		case KindTimestamp:
			timestamps = append(timestamps, ev.Timestamp)
		case KindWarning:
			e := *ev
			warnings = append(warnings, &e)
		}
	}
}

// TestRedisWritesWeRead has Redis write a multi-part AOF (a base after BGREWRITEAOF, an RDB
// or, with aof-use-rdb-preamble no, commands with a forced #TS; then an incr file with a
// transaction and two databases), reads it back, then cuts it the ways a crash would and
// checks that Redis truncates the file exactly after the last command the reader keeps.
func TestRedisWritesWeRead(t *testing.T) {
	for _, preamble := range []string{"yes", "no"} {
		t.Run("preamble="+preamble, func(t *testing.T) { testRedisWritesWeRead(t, preamble) })
	}
}

func testRedisWritesWeRead(t *testing.T, preamble string) {
	dir := t.TempDir()
	s := startRedis(t, dir, "--appendonly", "yes", "--aof-use-rdb-preamble", preamble,
		"--aof-timestamp-enabled", "yes")
	s.do("SET", "s1", "v1")
	s.do("SET", "n1", "42")
	s.do("BGREWRITEAOF")
	s.waitRewrite()
	ctx := context.Background()
	conn := s.client.Conn()
	must := func(args ...any) {
		if err := conn.Do(ctx, args...).Err(); err != nil && err != redis.Nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	must("SET", "k1", "v1")
	must("RPUSH", "l", "a", "b", "c")
	must("SADD", "s", "x")
	must("HSET", "h", "f", "v")
	must("ZADD", "z", "1.5", "m")
	must("XADD", "st", "1-1", "f", "v")
	must("DEL", "k1")
	must("MULTI")
	must("INCR", "cnt")
	must("SET", "k2", "bin\r\n\x00")
	must("EXEC")
	must("SELECT", "2")
	must("SET", "other", "1")
	conn.Close()
	s.stop()

	aofDir := filepath.Join(dir, DefaultDirname)
	cmds, warnings, timestamps := readDir(t, aofDir)
	if len(warnings) > 0 {
		t.Fatalf("warnings: %v", warnings[0].Err)
	}
	var got, base []string
	for _, c := range cmds {
		if strings.Contains(c.file, ".base.") {
			base = append(base, fmt.Sprintf("db%d %s", c.db, c.args))
			continue
		}
		got = append(got, fmt.Sprintf("db%d %s", c.db, c.args))
	}
	sort.Strings(base)
	if wantBase := map[string]string{"yes": "", "no": "db0 SELECT 0|db0 SET n1 42|db0 SET s1 v1"}[preamble]; strings.Join(base, "|") != wantBase {
		t.Fatalf("base commands %q, want %q", base, wantBase)
	}
	want := []string{
		`db0 SELECT 0`, `db0 SET k1 v1`, `db0 RPUSH l a b c`, `db0 SADD s x`, `db0 HSET h f v`,
		`db0 ZADD z 1.5 m`, `db0 XADD st 1-1 f v`, `db0 DEL k1`, `db0 MULTI`, `db0 INCR cnt`,
		`db0 SET k2 "bin\r\n\x00"`, `db0 EXEC`, `db0 SELECT 2`, `db2 SET other 1`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("commands:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// A rewrite to an AOF base starts with a forced #TS; elsewhere Redis writes one only when
	// the second changed since the last.
	now := time.Now().Unix()
	if preamble == "no" && len(timestamps) == 0 {
		t.Fatalf("no timestamp in the AOF base")
	}
	for _, ts := range timestamps {
		if ts < now-3600 || ts > now+60 {
			t.Fatalf("timestamps %v, now %d", timestamps, now)
		}
	}
	m, err := os.ReadFile(filepath.Join(aofDir, ManifestName(DefaultFilename)))
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := ParseManifest(m)
	if err != nil {
		t.Fatal(err)
	}
	if string(manifest.AppendTo(nil)) != string(m) {
		t.Fatalf("manifest written back differently:\n%s\nRedis wrote:\n%s", manifest.AppendTo(nil), m)
	}
	if preamble == "no" {
		return
	}
	incr := filepath.Join(aofDir, cmds[0].file)
	orig, err := os.ReadFile(incr)
	if err != nil {
		t.Fatal(err)
	}
	find := func(args string) readCmd {
		for _, c := range cmds {
			if c.args == args {
				return c
			}
		}
		t.Fatalf("no %s", args)
		return readCmd{}
	}

	// Redis truncates the file after the last command it keeps (an annotation after it goes
	// too); the reader's warning points at the first thing it drops.
	for _, tc := range []struct {
		name      string
		cut       int64 // the incr file is cut to this length
		warnAt    int64 // where the reader's first warning points
		warnings  int
		redisSize int64 // what Redis truncates the file to
	}{
		{"inside the last command", int64(len(orig)) - 3, find("SET other 1").off, 1, find("SELECT 2").end},
		{"transaction without EXEC", find("EXEC").off, find("MULTI").off, 1, find("DEL k1").end},
		{"inside a transaction", find("EXEC").off + 5, find("MULTI").off, 2, find(`SET k2 "bin\r\n\x00"`).end},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(incr, orig[:tc.cut], 0o644); err != nil {
				t.Fatal(err)
			}
			_, warnings, _ := readDir(t, aofDir)
			if len(warnings) != tc.warnings || warnings[0].Offset != tc.warnAt {
				t.Fatalf("warnings %v, want %d at offset %d", warnings, tc.warnings, tc.warnAt)
			}
			for _, w := range warnings {
				t.Logf("reader: %v", w.Err)
			}
			s := startRedis(t, dir, "--appendonly", "yes")
			s.stop()
			fi, err := os.Stat(incr)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Size() != tc.redisSize {
				t.Fatalf("Redis truncated %s to %d bytes, want %d\n%s",
					filepath.Base(incr), fi.Size(), tc.redisSize, s.log)
			}
		})
	}
}

// rewriteScript is every kind of value, for the rewrite emitter. Redis's state for the same data
// is built by commands in buildRewriteData.
const rewriteScript = `
aux redis-ver 7.0.15
function "#!lua name=mylib\nredis.register_function('myfunc', function(keys, args) return 1 end)"
key string str db=0
string hello world
end
key string num expire=4102444800000
string 12345
end
key list biglist
items list 150
end
key set set
set a b c 1 2 3
end
key zset zset
zset 1.5 one -2 two 0.1 three inf big -inf small 1e20 huge 3.141592653589793 pi
end
key hash hash expire=4102444800001
hash f1 v1 f2 v2
end
key hash bighash
items hash 70
end
key stream s
entry 1-1 f v
entry 3-0 a 1 b 2
meta len=2 last=3-0 first=1-1 maxdel=2-0 added=3
group g1 last=3-0 read=2
pending 1-1 time=1700000000123 count=3
pending 3-0 time=1700000000456 count=1
consumer alice pel=1-1
consumer bob pel=3-0
consumer carol
group g2 last=3-0 read=-1
end
key stream e expire=4102444800002
meta len=0 last=0-0 maxdel=0-0 added=0
group g last=0-0 read=-1
consumer c
end
key string other db=3
string x
end
key set ints
set 1 2 3
end
module somemodule
eof
`

// buildRewriteData writes rewriteScript's data into s with plain commands.
func buildRewriteData(s *redisServer) {
	s.do("FUNCTION", "LOAD", "#!lua name=mylib\nredis.register_function('myfunc', function(keys, args) return 1 end)")
	s.do("SET", "str", "hello world")
	s.do("SET", "num", "12345")
	s.do("PEXPIREAT", "num", "4102444800000")
	args := []any{"RPUSH", "biglist"}
	for i := 0; i < 150; i++ {
		args = append(args, fmt.Sprintf("e%d", i))
	}
	s.do(args...)
	s.do("SADD", "set", "a", "b", "c", "1", "2", "3")
	s.do("ZADD", "zset", "1.5", "one", "-2", "two", "0.1", "three", "inf", "big", "-inf", "small",
		"1e20", "huge", "3.141592653589793", "pi")
	s.do("HSET", "hash", "f1", "v1", "f2", "v2")
	s.do("PEXPIREAT", "hash", "4102444800001")
	args = []any{"HSET", "bighash"}
	for i := 0; i < 70; i++ {
		args = append(args, fmt.Sprintf("f%d", i), fmt.Sprintf("v%d", i))
	}
	s.do(args...)
	s.do("XADD", "s", "1-1", "f", "v")
	s.do("XADD", "s", "2-0", "x", "y")
	s.do("XADD", "s", "3-0", "a", "1", "b", "2")
	s.do("XGROUP", "CREATE", "s", "g1", "0")
	s.do("XREADGROUP", "GROUP", "g1", "alice", "COUNT", "1", "STREAMS", "s", ">")
	s.do("XDEL", "s", "2-0")
	s.do("XREADGROUP", "GROUP", "g1", "bob", "COUNT", "1", "STREAMS", "s", ">")
	s.do("XCLAIM", "s", "g1", "alice", "0", "1-1", "TIME", "1700000000123", "RETRYCOUNT", "3", "JUSTID")
	s.do("XCLAIM", "s", "g1", "bob", "0", "3-0", "TIME", "1700000000456", "RETRYCOUNT", "1", "JUSTID")
	s.do("XGROUP", "CREATECONSUMER", "s", "g1", "carol")
	s.do("XGROUP", "CREATE", "s", "g2", "$")
	s.do("XGROUP", "CREATE", "e", "g", "$", "MKSTREAM")
	s.do("XGROUP", "CREATECONSUMER", "e", "g", "c")
	s.do("PEXPIREAT", "e", "4102444800002")
	s.do("SELECT", "3")
	s.do("SET", "other", "x")
	s.do("SADD", "ints", "1", "2", "3")
	s.do("SELECT", "0")
}

// incrScript is what the tests append to the incr file (and run on the reference server).
var incrScript = []struct {
	db   int
	args []string
}{
	{5, []string{"SET", "incr-key", "v"}},
	{0, []string{"RPUSH", "biglist", "tail"}},
	{0, []string{"XADD", "s", "4-0", "f", "v"}},
}

// state is what two servers must agree on: digests, expiries, stream internals, functions.
func state(t *testing.T, s *redisServer) map[string]any {
	st := map[string]any{"digest": s.do("DEBUG", "DIGEST"), "functions": s.do("FUNCTION", "LIST", "WITHCODE")}
	for db := 0; db < 16; db++ {
		s.do("SELECT", db)
		for _, k := range s.do("KEYS", "*").([]any) {
			key := fmt.Sprintf("%d/%s", db, k)
			st[key+" digest"] = s.do("DEBUG", "DIGEST-VALUE", k)
			st[key+" pexpiretime"] = s.do("PEXPIRETIME", k)
			st[key+" type"] = s.do("TYPE", k)
			if st[key+" type"] == "stream" {
				st[key+" xinfo"] = maskSeenTime(s.do("XINFO", "STREAM", k, "FULL"))
			}
		}
	}
	s.do("SELECT", 0)
	return st
}

// maskSeenTime zeroes consumers' seen-time, which is when the commands ran.
func maskSeenTime(v any) any {
	a, ok := v.([]any)
	if !ok {
		return v
	}
	out := make([]any, len(a))
	for i := range a {
		out[i] = maskSeenTime(a[i])
		if i > 0 && a[i-1] == "seen-time" {
			out[i] = int64(0)
		}
	}
	return out
}

func checkAOF(t *testing.T, manifest string) {
	t.Helper()
	bin, err := exec.LookPath("redis-check-aof")
	if err != nil {
		t.Skip("redis-check-aof is not on PATH")
	}
	out, err := exec.Command(bin, manifest).CombinedOutput()
	t.Logf("redis-check-aof: %s", out)
	if err != nil || !strings.Contains(string(out), "is valid") {
		t.Fatalf("redis-check-aof %s: %v\n%s", manifest, err, out)
	}
}

func compareStates(t *testing.T, want, got map[string]any) {
	t.Helper()
	for k, w := range want {
		if g := got[k]; !reflect.DeepEqual(w, g) {
			t.Errorf("%s:\n  Redis from commands: %v\n  Redis from our AOF:  %v", k, w, g)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: only in the server that loaded our AOF: %v", k, g)
		}
	}
}

// TestRewriteLoadsInRedis writes a multi-part AOF with the rewrite emitter (an AOF base) and
// the Writer (the incr file), checks it with redis-check-aof, loads it in a fresh redis-server
// and compares everything with a server that got the same data as plain commands. It does the
// same with an RDB base (Redis's own dump of the reference server, as package rdb's writer is
// not there yet), to check the RDB layout and manifest.
func TestRewriteLoadsInRedis(t *testing.T) {
	ref := startRedis(t, t.TempDir(), "--appendonly", "no")
	buildRewriteData(ref)

	evs, err := parseEvents(rewriteScript)
	if err != nil {
		t.Fatal(err)
	}
	base, err := rewriteEvents(evs, RewriteOptions{Timestamp: time.Now().Unix()})
	if err != nil {
		t.Fatal(err)
	}
	ref.do("SAVE")
	dump, err := os.ReadFile(filepath.Join(ref.dir, "dump.rdb"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range incrScript {
		ref.do("SELECT", c.db)
		args := make([]any, len(c.args))
		for i, a := range c.args {
			args[i] = a
		}
		ref.do(args...)
	}
	want := state(t, ref)

	for _, tc := range []struct {
		name     string
		opts     DirOptions
		base     []byte
		filename string
	}{
		{"aof base", DirOptions{BaseAOF: true}, base, DefaultFilename},
		{"rdb base", DirOptions{Filename: "my file.aof"}, dump, "my file.aof"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			d, err := CreateDir(filepath.Join(dir, DefaultDirname), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Base().Append(tc.base); err != nil {
				t.Fatal(err)
			}
			incr, err := d.Incr()
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range incrScript {
				args := make([][]byte, len(c.args))
				for i, a := range c.args {
					args[i] = []byte(a)
				}
				if err := incr.Command(c.db, args...); err != nil {
					t.Fatal(err)
				}
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			checkAOF(t, filepath.Join(dir, DefaultDirname, ManifestName(tc.filename)))
			s := startRedis(t, dir, "--appendonly", "yes", "--appendfilename", tc.filename)
			compareStates(t, want, state(t, s))
			if t.Failed() {
				t.Logf("redis log:\n%s", s.log)
			}
		})
	}
}
