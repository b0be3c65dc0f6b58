package server_test

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratadb/strata/conf"
	"github.com/stratadb/strata/server/servertest"
)

// doErr runs a command from any goroutine: it returns errors instead of failing the test.
func doErr(c *servertest.Conn, args ...string) (string, error) {
	if _, err := c.Net().Write(servertest.EncodeCommand(args...)); err != nil {
		return "", err
	}
	return c.ReadErr(30 * time.Second)
}

func bulk(s string) string { return "$" + strconv.Itoa(len(s)) + "\r\n" + s + "\r\n" }

// withThreshold starts a server whose scripts become busy after ms milliseconds (0: never).
func withThreshold(t *testing.T, ms int64) *servertest.Strata {
	return servertest.StartStrata(t, func(c *conf.Config) { c.BusyReplyThreshold = ms })
}

// TestScriptDeclaredKeysDoNotBlockOthers: a script that declares its keys holds only those,
// so a client writing another key is served while the script runs. The script spins until
// it sees, through INFO (which reads no key), the key the other client writes in database
// 9: were that client blocked behind the script, neither would ever finish.
func TestScriptDeclaredKeysDoNotBlockOthers(t *testing.T) {
	s := withThreshold(t, 0)
	a, b := s.Dial(t), s.Dial(t)
	a.Send("EVAL", `redis.call('set', KEYS[1], 'held')
while not string.find(redis.call('info', 'keyspace'), 'db9:keys=1', 1, true) do end
return redis.call('get', KEYS[1])`, "1", "k1")
	if got := b.Do("SELECT", "9"); got != "+OK\r\n" {
		t.Fatalf("SELECT: %q", got)
	}
	if got := b.Do("SET", "k2", "free"); got != "+OK\r\n" {
		t.Fatalf("SET k2 while the script runs: %q", got)
	}
	if got := a.Read(); got != bulk("held") {
		t.Fatalf("script: %q", got)
	}
	// Until the script committed, its write was invisible; now it is there.
	if got := b.Do("SELECT", "0"); got != "+OK\r\n" {
		t.Fatalf("SELECT: %q", got)
	}
	if got := b.Do("GET", "k1"); got != bulk("held") {
		t.Fatalf("GET k1 after the script: %q", got)
	}
}

// TestScriptUndeclaredKeysRunsAgainGlobally: a script that touches keys it did not declare
// still works (it runs again under the global latch), its effects happen once, and
// math.random gives the numbers it would have given in one run.
func TestScriptUndeclaredKeysRunsAgainGlobally(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	r := servertest.StartRedis(t)
	cs, cr := s.Dial(t), r.Dial(t)
	script := `local n = math.random(1000)
redis.call('incr', KEYS[1])
redis.call('incr', 'undeclared')
redis.call('hincrby', 'log', n, 1)
return {n, redis.call('get', 'undeclared'), redis.call('dbsize')}`
	for i := 0; i < 3; i++ {
		if got, want := cs.Do("EVAL", script, "1", "declared"), cr.Do("EVAL", script, "1", "declared"); got != want {
			t.Fatalf("run %d: strata %q, redis %q", i, got, want)
		}
	}
	if got, want := cs.Do("MGET", "declared", "undeclared"), cr.Do("MGET", "declared", "undeclared"); got != want {
		t.Fatalf("MGET: strata %q, redis %q", got, want)
	}
}

// TestScriptCountersExact: many clients run scripts that increment counters, through declared
// keys, undeclared keys (the global path) and plain commands at once; every increment counts
// once and the scripts' two writes are always seen together.
func TestScriptCountersExact(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	setup := s.Dial(t)
	sha := setup.Do("SCRIPT", "LOAD", "redis.call('incr', KEYS[1]) return redis.call('incr', KEYS[2])")
	sha = strings.TrimSuffix(strings.SplitN(sha, "\r\n", 2)[1], "\r\n")
	const clients, rounds = 8, 150
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := 0; i < clients; i++ {
		c := s.Dial(t)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < rounds; j++ {
				var err error
				var got string
				switch (i + j) % 4 {
				case 0: // declared keys
					got, err = doErr(c, "EVALSHA", sha, "2", "a", "b")
				case 1: // the same writes without declaring them
					got, err = doErr(c, "EVAL", "redis.call('incr', 'a') return redis.call('incr', 'b')", "0")
				case 2: // plain commands on other keys
					got, err = doErr(c, "INCR", "c")
				case 3: // a reader that must see a and b move together
					got, err = doErr(c, "EVAL", "local a, b = redis.call('get', KEYS[1]), redis.call('get', KEYS[2]) if a ~= b then return redis.error_reply('torn ' .. tostring(a) .. ' ' .. tostring(b)) end return 1", "2", "a", "b")
				}
				if err == nil && strings.HasPrefix(got, "-") {
					err = errors.New(got)
				}
				if err != nil {
					errs <- fmt.Errorf("client %d round %d: %v", i, j, err)
					return
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Rounds where (i+j)%4 is 0 or 1 increment a and b; 2 increments c.
	var ab, c int
	for i := 0; i < clients; i++ {
		for j := 0; j < rounds; j++ {
			switch (i + j) % 4 {
			case 0, 1:
				ab++
			case 2:
				c++
			}
		}
	}
	want := fmt.Sprintf("*3\r\n%s%s%s", bulk(strconv.Itoa(ab)), bulk(strconv.Itoa(ab)), bulk(strconv.Itoa(c)))
	if got := setup.Do("MGET", "a", "b", "c"); got != want {
		t.Fatalf("MGET a b c: %q, want %q", got, want)
	}
}

// waitBusy waits until the server answers PING with -BUSY (the script passed the threshold).
func waitBusy(t *testing.T, c *servertest.Conn, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := c.Do("PING")
		if got == want {
			return
		}
		if got != "+PONG\r\n" || time.Now().After(deadline) {
			t.Fatalf("PING while a script runs: %q, want %q", got, want)
		}
	}
}

const (
	busyEval     = "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n"
	busyFunction = "-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n"
)

func TestScriptKill(t *testing.T) {
	s := withThreshold(t, 20)
	a, b := s.Dial(t), s.Dial(t)
	if got := b.Do("SCRIPT", "KILL"); got != "-NOTBUSY No scripts in execution right now.\r\n" {
		t.Fatalf("SCRIPT KILL with nothing running: %q", got)
	}
	a.Send("EVAL", "local i = 0 while true do i = i + 1 end", "0")
	waitBusy(t, b, busyEval)
	// allow_busy commands still run; others get -BUSY.
	if got := b.Do("GET", "x"); got != busyEval {
		t.Fatalf("GET while busy: %q", got)
	}
	if got := b.Do("FUNCTION", "KILL"); got != busyEval {
		t.Fatalf("FUNCTION KILL on an EVAL script: %q", got)
	}
	if got := b.Do("FUNCTION", "STATS"); got != busyEval {
		t.Fatalf("FUNCTION STATS while an EVAL script is busy: %q", got)
	}
	if got := b.Do("SHUTDOWN"); got != busyEval {
		t.Fatalf("SHUTDOWN (without NOSAVE) while busy: %q", got)
	}
	if got := b.Do("SCRIPT", "KILL"); got != "+OK\r\n" {
		t.Fatalf("SCRIPT KILL: %q", got)
	}
	if got := a.Read(); !strings.HasPrefix(got, "-ERR Script killed by user with SCRIPT KILL... script: ") {
		t.Fatalf("the killed script's reply: %q", got)
	}
	if got := b.Do("PING"); got != "+PONG\r\n" {
		t.Fatalf("PING after the kill: %q", got)
	}
	// pcall cannot catch the kill.
	a.Send("EVAL", "while true do pcall(function() while true do end end) end", "0")
	waitBusy(t, b, busyEval)
	if got := b.Do("SCRIPT", "KILL"); got != "+OK\r\n" {
		t.Fatalf("SCRIPT KILL of a script inside pcall: %q", got)
	}
	if got := a.Read(); !strings.HasPrefix(got, "-ERR Script killed by user with SCRIPT KILL...") {
		t.Fatalf("the killed script's reply: %q", got)
	}
	if got := a.Do("PING"); got != "+PONG\r\n" {
		t.Fatalf("the killed script's connection: %q", got)
	}
	// Nor can a coroutine hide the loop.
	a.Send("EVAL", "while true do coroutine.resume(coroutine.create(function() while true do end end)) end", "0")
	waitBusy(t, b, busyEval)
	if got := b.Do("SCRIPT", "KILL"); got != "+OK\r\n" {
		t.Fatalf("SCRIPT KILL of a script inside a coroutine: %q", got)
	}
	if got := a.Read(); !strings.HasPrefix(got, "-ERR Script killed by user with SCRIPT KILL...") {
		t.Fatalf("the killed script's reply: %q", got)
	}
}

func TestFunctionKill(t *testing.T) {
	s := withThreshold(t, 20)
	a, b := s.Dial(t), s.Dial(t)
	if got := b.Do("FUNCTION", "LOAD", "#!lua name=spin\nredis.register_function('spin', function() while true do end end)"); got != bulk("spin") {
		t.Fatalf("FUNCTION LOAD: %q", got)
	}
	a.Send("FCALL", "spin", "0")
	waitBusy(t, b, busyFunction)
	got := b.Do("FUNCTION", "STATS")
	if !strings.HasPrefix(got, "*4\r\n$14\r\nrunning_script\r\n*6\r\n$4\r\nname\r\n$4\r\nspin\r\n$7\r\ncommand\r\n*3\r\n$5\r\nFCALL\r\n$4\r\nspin\r\n$1\r\n0\r\n$11\r\nduration_ms\r\n:") {
		t.Fatalf("FUNCTION STATS while busy: %q", got)
	}
	if got := b.Do("SCRIPT", "KILL"); got != busyFunction {
		t.Fatalf("SCRIPT KILL on a function: %q", got)
	}
	if got := b.Do("FUNCTION", "KILL"); got != "+OK\r\n" {
		t.Fatalf("FUNCTION KILL: %q", got)
	}
	if got := a.Read(); !strings.HasPrefix(got, "-ERR Script killed by user with SCRIPT KILL... script: spin, on @user_function:") {
		t.Fatalf("the killed function's reply: %q", got)
	}
}

// TestScriptUnkillableShutdownNosave: a busy script that wrote cannot be killed; SHUTDOWN
// NOSAVE stops the server anyway, and the script's writes, never committed, are not there
// after a restart.
func TestScriptUnkillableShutdownNosave(t *testing.T) {
	s := withThreshold(t, 20)
	a, b := s.Dial(t), s.Dial(t)
	a.Send("EVAL", "redis.call('set', KEYS[1], 'partial') while true do end", "1", "w")
	waitBusy(t, b, busyEval)
	const unkillable = "-UNKILLABLE Sorry the script already executed write commands against the dataset. " +
		"You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.\r\n"
	if got := b.Do("SCRIPT", "KILL"); got != unkillable {
		t.Fatalf("SCRIPT KILL of a script that wrote: %q", got)
	}
	b.Send("SHUTDOWN", "NOSAVE")
	if _, err := b.ReadErr(30 * time.Second); !errors.Is(err, io.EOF) {
		t.Fatalf("SHUTDOWN NOSAVE: %v, want the connection closed", err)
	}
	waitDone(t, s)
	s2 := reopen(t, s.Dir)
	if got := s2.Dial(t).Do("EXISTS", "w"); got != ":0\r\n" {
		t.Fatalf("the killed script's write after a restart: %q", got)
	}
}

// TestScriptBusyThresholdZero: with busy-reply-threshold 0 a long script never makes the
// server busy, and SCRIPT KILL waits for it as Redis would (it could only be read after).
func TestScriptBusyThresholdZero(t *testing.T) {
	s := withThreshold(t, 0)
	a, b := s.Dial(t), s.Dial(t)
	a.Send("EVAL", "local t = redis.call('time')[1] local n = 0 while n < 200000 do n = n + 1 end return n", "0")
	if got := b.Do("SCRIPT", "KILL"); got != "-NOTBUSY No scripts in execution right now.\r\n" {
		t.Fatalf("SCRIPT KILL: %q", got)
	}
	if got := a.Read(); got != ":200000\r\n" {
		t.Fatalf("script: %q", got)
	}
}

// TestFunctionsPersist: libraries survive a restart; DELETE and FLUSH too.
func TestFunctionsPersist(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	c := s.Dial(t)
	for _, lib := range []string{"one", "two"} {
		code := "#!lua name=" + lib + "\nredis.register_function{function_name='f_" + lib +
			"', callback=function(k, a) return '" + lib + "' .. #k end, flags={'no-writes'}, description='d'}"
		if got := c.Do("FUNCTION", "LOAD", code); got != bulk(lib) {
			t.Fatalf("FUNCTION LOAD %s: %q", lib, got)
		}
	}
	list := c.Do("FUNCTION", "LIST", "WITHCODE")
	s.Shutdown(t.Context())
	s2 := reopen(t, s.Dir)
	c2 := s2.Dial(t)
	if got := c2.Do("FUNCTION", "LIST", "WITHCODE"); got != list {
		t.Fatalf("FUNCTION LIST after a restart:\n%q\nwant\n%q", got, list)
	}
	if got := c2.Do("FCALL_RO", "f_two", "1", "k"); got != bulk("two1") {
		t.Fatalf("FCALL_RO after a restart: %q", got)
	}
	if got := c2.Do("FUNCTION", "DELETE", "one"); got != "+OK\r\n" {
		t.Fatalf("FUNCTION DELETE: %q", got)
	}
	s2.Shutdown(t.Context())
	s3 := reopen(t, s.Dir)
	c3 := s3.Dial(t)
	if got := c3.Do("FCALL", "f_one", "0"); got != "-ERR Function not found\r\n" {
		t.Fatalf("a deleted function after a restart: %q", got)
	}
	if got := c3.Do("FCALL", "f_two", "0"); got != bulk("two0") {
		t.Fatalf("a kept function after a restart: %q", got)
	}
	if got := c3.Do("FUNCTION", "FLUSH"); got != "+OK\r\n" {
		t.Fatalf("FUNCTION FLUSH: %q", got)
	}
	s3.Shutdown(t.Context())
	if got := reopen(t, s.Dir).Dial(t).Do("FUNCTION", "LIST"); got != "*0\r\n" {
		t.Fatalf("FUNCTION LIST after FLUSH and a restart: %q", got)
	}
}

// TestFunctionDumpToRedis: a payload Strata dumps restores into Redis 7.0 and gives the same
// library back (the other direction is in testdata/diff/function_dump.txt).
func TestFunctionDumpToRedis(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	r := servertest.StartRedis(t)
	cs, cr := s.Dial(t), r.Dial(t)
	for _, code := range []string{
		"#!lua name=short\nredis.register_function('sf', function() return 'short' end)",
		"#!lua name=long\n" + strings.Repeat("-- a comment that compresses well\n", 20) +
			"redis.register_function{function_name='lf', callback=function(k) return #k end, flags={'no-writes', 'allow-oom'}}",
	} {
		if got := cs.Do("FUNCTION", "LOAD", code); !strings.HasPrefix(got, "$") {
			t.Fatalf("FUNCTION LOAD: %q", got)
		}
	}
	dump := cs.Do("FUNCTION", "DUMP")
	payload := strings.TrimSuffix(strings.SplitN(dump, "\r\n", 2)[1], "\r\n")
	if got := cr.Do("FUNCTION", "RESTORE", payload); got != "+OK\r\n" {
		t.Fatalf("Redis FUNCTION RESTORE of Strata's dump: %q", got)
	}
	for _, c := range [][]string{{"FCALL", "sf", "0"}, {"FCALL_RO", "lf", "2", "a", "b"},
		{"FUNCTION", "LIST", "LIBRARYNAME", "long", "WITHCODE"}} {
		if got, want := cs.Do(c...), cr.Do(c...); got != want {
			t.Fatalf("%v: strata %q, redis %q", c, got, want)
		}
	}
	// And back: Redis's dump of the same libraries restores into an empty Strata.
	rdump := cr.Do("FUNCTION", "DUMP")
	rpayload := strings.TrimSuffix(strings.SplitN(rdump, "\r\n", 2)[1], "\r\n")
	if got := cs.Do("FUNCTION", "RESTORE", rpayload, "FLUSH"); got != "+OK\r\n" {
		t.Fatalf("Strata FUNCTION RESTORE of Redis's dump: %q", got)
	}
	if got := cs.Do("FCALL", "sf", "0"); got != bulk("short") {
		t.Fatalf("FCALL after the round trip: %q", got)
	}
}

// TestScriptingConcurrentAdmin runs scripts and functions while other clients flush the
// script cache, reload libraries and ask to kill: every reply is one Redis could give.
func TestScriptingConcurrentAdmin(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	lib := "#!lua name=lib\nredis.register_function('f', function(k) return redis.call('incr', k[1]) end)"
	if got := s.Dial(t).Do("FUNCTION", "LOAD", lib); got != bulk("lib") {
		t.Fatalf("FUNCTION LOAD: %q", got)
	}
	const rounds = 100
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	worker := func(fn func(c *servertest.Conn, i int) error) {
		c := s.Dial(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				if err := fn(c, i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	expect := func(got string, err error, ok ...string) error {
		if err != nil {
			return err
		}
		for _, o := range ok {
			if strings.HasPrefix(got, o) {
				return nil
			}
		}
		return fmt.Errorf("unexpected reply %q", got)
	}
	worker(func(c *servertest.Conn, i int) error {
		got, err := doErr(c, "EVAL", "return redis.call('incr', KEYS[1]) .. ':' .. math.random(10)", "1", "e")
		return expect(got, err, "$")
	})
	worker(func(c *servertest.Conn, i int) error {
		got, err := doErr(c, "FCALL", "f", "1", "g")
		return expect(got, err, ":", "-ERR Function not found")
	})
	worker(func(c *servertest.Conn, i int) error {
		got, err := doErr(c, "SCRIPT", "FLUSH")
		return expect(got, err, "+OK")
	})
	worker(func(c *servertest.Conn, i int) error {
		got, err := doErr(c, "FUNCTION", "LOAD", "REPLACE", lib)
		return expect(got, err, bulk("lib"))
	})
	worker(func(c *servertest.Conn, i int) error {
		got, err := doErr(c, "SCRIPT", "KILL")
		return expect(got, err, "-NOTBUSY")
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := s.Dial(t).Do("GET", "e"); got != bulk(strconv.Itoa(rounds)) {
		t.Fatalf("GET e: %q", got)
	}
}
