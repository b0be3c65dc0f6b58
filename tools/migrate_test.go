package tools

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratadb/strata/conf"
	"github.com/stratadb/strata/server/servertest"
)

// mixedWriter writes to the Redis at sock until stop is closed: every type, both databases
// FillAllTypes uses, transactions, scripts (replicated as their effects in MULTI/EXEC), and
// commands that Redis rewrites for its replicas (SPOP as SREM, INCRBYFLOAT as SET KEEPTTL,
// EXPIRE as PEXPIREAT, blocking pops as their plain forms). Expiries are far away, so that
// no key expires during a test on one side and not yet on the other.
func mixedWriter(t *testing.T, sock string, seed uint64, stop <-chan struct{}) (done <-chan int64) {
	t.Helper()
	nc, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan int64, 1)
	go func() {
		defer nc.Close()
		rd := servertest.NewReader(nc)
		r := rand.New(rand.NewPCG(seed, 7))
		var n int64
		for {
			select {
			case <-stop:
				out <- n
				return
			default:
			}
			var batch []byte
			cmds := 0
			for range 16 {
				for _, cmd := range mixedCommand(r) {
					batch = append(batch, servertest.EncodeCommand(cmd...)...)
					cmds++
				}
			}
			if _, err := nc.Write(batch); err != nil {
				out <- -1
				return
			}
			for range cmds {
				if _, err := rd.ReadReply(); err != nil {
					out <- -1
					return
				}
			}
			n += int64(cmds)
		}
	}()
	return out
}

// mixedCommand returns one or a few commands (a transaction, or a SELECT around a write).
func mixedCommand(r *rand.Rand) [][]string {
	k := func(prefix string) string { return prefix + strconv.Itoa(r.IntN(40)) }
	v := func() string { return strings.Repeat(string(rune('a'+r.IntN(26))), 1+r.IntN(20)) }
	num := func() string { return strconv.Itoa(r.IntN(1000) - 500) }
	far := strconv.FormatInt(time.Now().Add(3*time.Hour).UnixMilli(), 10)
	switch r.IntN(24) {
	case 0:
		return [][]string{{"SET", k("s"), v()}}
	case 1:
		return [][]string{{"INCRBY", k("n"), num()}}
	case 2:
		return [][]string{{"INCRBYFLOAT", k("f"), "1.5"}}
	case 3:
		return [][]string{{"APPEND", k("s"), v()}}
	case 4:
		return [][]string{{"RPUSH", k("l"), v(), v()}}
	case 5:
		return [][]string{{"LPOP", k("l")}}
	case 6:
		return [][]string{{"LMOVE", k("l"), k("l"), "LEFT", "RIGHT"}}
	case 7:
		return [][]string{{"HSET", k("h"), v(), v()}}
	case 8:
		return [][]string{{"HINCRBY", k("h"), "counter", num()}}
	case 9:
		return [][]string{{"SADD", k("set"), v(), num()}}
	case 10:
		return [][]string{{"SPOP", k("set")}}
	case 11:
		return [][]string{{"ZADD", k("z"), num(), v()}}
	case 12:
		return [][]string{{"ZINCRBY", k("z"), "2.5", v()}}
	case 13:
		return [][]string{{"ZPOPMIN", k("z")}}
	case 14:
		return [][]string{{"XADD", k("x"), "*", "f", v()}}
	case 15:
		return [][]string{{"EXPIRE", k("s"), "9000"}}
	case 16:
		return [][]string{{"PEXPIREAT", k("h"), far}}
	case 17:
		return [][]string{{"DEL", k("s"), k("l")}}
	case 18:
		return [][]string{{"MULTI"}, {"INCR", k("n")}, {"RPUSH", k("l"), v()}, {"HSET", k("h"), "t", v()}, {"EXEC"}}
	case 19:
		return [][]string{{"EVAL", "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('INCR', KEYS[2])", "2", "{e}" + k("s"), "{e}" + k("n"), v()}}
	case 20:
		return [][]string{{"SELECT", "5"}, {"SADD", "set5", v()}, {"SET", k("s5"), v()}, {"SELECT", "0"}}
	case 21:
		return [][]string{{"SETRANGE", k("s"), strconv.Itoa(r.IntN(30)), v()}}
	case 22:
		return [][]string{{"BLPOP", k("l"), "0.01"}}
	default:
		return [][]string{{"XTRIM", k("x"), "MAXLEN", "5"}}
	}
}

// masterOffset is the source's master_repl_offset.
func masterOffset(t *testing.T, c *servertest.Conn) int64 {
	t.Helper()
	info := c.Do("INFO", "replication")
	n, err := strconv.ParseInt(infoField(info, "master_repl_offset"), 10, 64)
	if err != nil {
		t.Fatalf("no master_repl_offset in %q", info)
	}
	return n
}

// statusLog keeps the last status a migration reported.
type statusLog struct {
	mu   sync.Mutex
	last MigrateStatus
}

func (s *statusLog) set(st MigrateStatus) {
	s.mu.Lock()
	s.last = st
	s.mu.Unlock()
}

func (s *statusLog) get() MigrateStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

func startDebugStrata(t *testing.T) *servertest.Strata {
	return servertest.StartStrata(t, func(c *conf.Config) { c.EnableDebugCommand = "yes" })
}

// runMigrate starts Migrate in the background; the returned function stops it and returns
// its report.
func runMigrate(t *testing.T, o MigrateOptions, log *statusLog) func() *MigrateReport {
	t.Helper()
	o.Tick = 20 * time.Millisecond
	o.Status = log.set
	o.Logger = servertest.TestLogger(t)
	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		rep *MigrateReport
		err error
	}
	done := make(chan result, 1)
	go func() {
		rep, err := Migrate(ctx, o)
		done <- result{rep, err}
	}()
	var once sync.Once
	var res result
	stop := func() *MigrateReport {
		once.Do(func() {
			cancel()
			select {
			case res = <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("Migrate did not stop")
			}
		})
		if res.err != nil {
			t.Fatalf("Migrate: %v", res.err)
		}
		return res.rep
	}
	t.Cleanup(func() { cancel() })
	return stop
}

// TestMigrateLive: a Redis with every type, a writer doing mixed writes during the whole
// migration, the replication link killed twice mid-stream (PSYNC continues), then the writer
// stops: once the migration has caught up, Strata's DEBUG DIGEST is the source's. Both
// snapshot formats: diskless ($EOF:<mark>) and disk-based ($<len>).
func TestMigrateLive(t *testing.T) {
	for _, diskless := range []string{"yes", "no"} {
		t.Run("diskless="+diskless, func(t *testing.T) {
			r := servertest.StartRedis(t, "--enable-debug-command", "yes", "--repl-diskless-sync", diskless,
				"--repl-diskless-sync-delay", "0")
			c := r.Dial(t)
			servertest.FillAllTypes(t, c)
			c.Do("FUNCTION", "LOAD", "#!lua name=mylib\nredis.register_function('f1', function() return 1 end)")
			s := startDebugStrata(t)
			stopWriter := make(chan struct{})
			written := mixedWriter(t, r.Socket, 1, stopWriter)
			var log statusLog
			stop := runMigrate(t, MigrateOptions{From: ServerTarget{Addr: r.Socket}, To: ServerTarget{Addr: s.Addr}}, &log)
			for kill := 1; kill <= 2; kill++ {
				servertest.WaitFor(t, "stream applied", func() bool {
					st := log.get()
					return st.Phase == PhaseStreaming && st.Commands > int64(1000*kill) && st.PartialSyncs == int64(kill-1)
				})
				if got := c.Do("CLIENT", "KILL", "TYPE", "replica"); got != ":1\r\n" {
					t.Fatalf("CLIENT KILL: %q", got)
				}
				servertest.WaitFor(t, "partial resync", func() bool { return log.get().PartialSyncs == int64(kill) })
			}
			close(stopWriter)
			n := <-written
			if n <= 0 {
				t.Fatalf("the writer failed after %d commands", n)
			}
			want := masterOffset(t, c)
			servertest.WaitFor(t, "caught up", func() bool { return log.get().Offset >= want })
			rep := stop()
			t.Logf("%d commands written, %d applied, offset %d", n, rep.Commands, rep.Offset)
			if rep.FullSyncs != 1 || rep.PartialSyncs != 2 || rep.Reconnects != 2 || rep.Refused != 0 || rep.Offset < want {
				t.Fatalf("report %+v (master offset %d)", rep, want)
			}
			sc := s.Dial(t)
			if got, want := sc.Do("DEBUG", "DIGEST"), c.Do("DEBUG", "DIGEST"); got != want {
				t.Fatalf("Strata's digest %q, the source's %q", got, want)
			}
			if got := sc.Do("FCALL", "f1", "0"); got != ":1\r\n" {
				t.Fatalf("the function library did not come: %q", got)
			}
		})
	}
}

// TestMigrateFullResyncFallback: when the master refuses to continue (its replication ID
// changed while the link was down), the migration loads a new snapshot into an emptied
// target; keys deleted meanwhile are gone from the target too.
func TestMigrateFullResyncFallback(t *testing.T) {
	r := servertest.StartRedis(t, "--enable-debug-command", "yes", "--repl-diskless-sync-delay", "0")
	c := r.Dial(t)
	servertest.FillAllTypes(t, c)
	s := startDebugStrata(t)
	var log statusLog
	stop := runMigrate(t, MigrateOptions{From: ServerTarget{Addr: r.Socket}, To: ServerTarget{Addr: s.Addr}}, &log)
	servertest.WaitFor(t, "synced", func() bool { return log.get().Synced })
	c.Do("DEBUG", "CHANGE-REPL-ID")
	c.Do("DEL", "s", "h")
	c.Do("CLIENT", "KILL", "TYPE", "replica")
	servertest.WaitFor(t, "second full sync", func() bool { st := log.get(); return st.FullSyncs == 2 && st.Synced })
	rep := stop()
	if rep.PartialSyncs != 0 || rep.Refused != 0 {
		t.Fatalf("report %+v", rep)
	}
	if got, want := s.Dial(t).Do("DEBUG", "DIGEST"), c.Do("DEBUG", "DIGEST"); got != want {
		t.Fatalf("Strata's digest %q, the source's %q", got, want)
	}
}

// TestMigrateAcks: the source's WAIT counts the migration once it has applied the write, which
// takes REPLCONF GETACK answered with the right offset (and the ACKs of every tick).
func TestMigrateAcks(t *testing.T) {
	r := servertest.StartRedis(t, "--repl-diskless-sync-delay", "0")
	c := r.Dial(t)
	servertest.FillAllTypes(t, c)
	s := startDebugStrata(t)
	var log statusLog
	stop := runMigrate(t, MigrateOptions{From: ServerTarget{Addr: r.Socket}, To: ServerTarget{Addr: s.Addr}}, &log)
	servertest.WaitFor(t, "synced", func() bool { return log.get().Synced })
	for i := range 20 {
		c.Do("SET", "w", strconv.Itoa(i))
		if got := c.Do("WAIT", "1", "10000"); got != ":1\r\n" {
			t.Fatalf("WAIT after write %d: %q", i, got)
		}
		if got := s.Dial(t).Do("GET", "w"); got != fmt.Sprintf("$%d\r\n%d\r\n", len(strconv.Itoa(i)), i) {
			t.Fatalf("after WAIT, Strata has %q", got)
		}
	}
	// (The master pings every 10 seconds, which moves its offset.)
	servertest.WaitFor(t, "the last offset", func() bool { return log.get().Offset == masterOffset(t, c) })
	stop()
}

// TestMigrateUntilSynced: Migrate returns by itself once caught up; a target with keys is
// refused unless FlushTarget; AUTH with a user.
func TestMigrateUntilSynced(t *testing.T) {
	r := servertest.StartRedis(t, "--enable-debug-command", "yes", "--repl-diskless-sync-delay", "0")
	c := r.Dial(t)
	c.Do("ACL", "SETUSER", "mig", "on", ">secret", "+@all", "~*")
	servertest.FillAllTypes(t, c)
	s := startDebugStrata(t)
	sc := s.Dial(t)
	sc.Do("SET", "stale", "x")
	o := MigrateOptions{From: ServerTarget{Addr: r.Socket, Username: "mig", Password: "secret"},
		To: ServerTarget{Addr: s.Addr}, UntilSynced: true, Tick: 20 * time.Millisecond}
	if _, err := Migrate(context.Background(), o); err == nil || !strings.Contains(err.Error(), "holds 1 keys") {
		t.Fatalf("a target with keys: %v", err)
	}
	o.FlushTarget = true
	rep, err := Migrate(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Synced || rep.SnapshotKeys != 29 || rep.Phase != PhaseStopped {
		t.Fatalf("report %+v", rep)
	}
	if got, want := sc.Do("DEBUG", "DIGEST"), c.Do("DEBUG", "DIGEST"); got != want {
		t.Fatalf("Strata's digest %q, the source's %q", got, want)
	}
	o.From.Password = "wrong"
	if _, err := Migrate(context.Background(), o); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Fatalf("wrong password: %v", err)
	}
}

// TestCommandLen: the replication offset of a command as Redis counts it.
func TestCommandLen(t *testing.T) {
	for _, args := range [][]string{{"PING"}, {"SET", "k", strings.Repeat("v", 10)}, {"X", ""}, make([]string, 12)} {
		b := make([][]byte, len(args))
		for i, a := range args {
			b[i] = []byte(a)
		}
		if got, want := commandLen(b), int64(len(servertest.EncodeCommand(args...))); got != want {
			t.Errorf("%q: %d, want %d", args, got, want)
		}
	}
}
