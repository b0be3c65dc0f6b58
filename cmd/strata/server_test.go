package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// load is a write load on a server: writers that SET fresh keys and INCR their own counter,
// recording what was sent and what was acknowledged.
type load struct {
	prefix  string
	writers []*writer
	acked   atomic.Int64
	enough  chan struct{} // closed once threshold writes are acknowledged
	once    sync.Once
	wg      sync.WaitGroup
}

type writer struct {
	sent, acked []string // SET keys, in order
	incrSent    int64
	incrAcked   int64 // the highest INCR reply
}

func setValue(key string) string { return key + ":" + strings.Repeat("v", 40) }

// startLoad runs n writers against c until their connections fail; their keys start with
// prefix. withIncr adds an INCR of the writer's counter after every SET.
func startLoad(c *redis.Client, prefix string, n int, threshold int64, withIncr bool) *load {
	l := &load{prefix: prefix, enough: make(chan struct{})}
	for w := range n {
		wr := &writer{}
		l.writers = append(l.writers, wr)
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			ctx := context.Background()
			for i := 0; ; i++ {
				key := fmt.Sprintf("%s:w%d:%d", prefix, w, i)
				wr.sent = append(wr.sent, key)
				if err := c.Set(ctx, key, setValue(key), 0).Err(); err != nil {
					return
				}
				wr.acked = append(wr.acked, key)
				if withIncr {
					wr.incrSent++
					v, err := c.Incr(ctx, fmt.Sprintf("%s:ctr:%d", prefix, w)).Result()
					if err != nil {
						return
					}
					wr.incrAcked = v
				}
				if l.acked.Add(1) >= threshold {
					l.once.Do(func() { close(l.enough) })
				}
			}
		}()
	}
	return l
}

// waitEnough waits until the load reached its threshold (or every writer stopped).
func (l *load) waitEnough(t *testing.T) {
	t.Helper()
	stopped := make(chan struct{})
	go func() { l.wg.Wait(); close(stopped) }()
	select {
	case <-l.enough:
	case <-stopped:
		t.Fatalf("the writers stopped after %d acknowledged writes", l.acked.Load())
	case <-time.After(bound):
		t.Fatalf("only %d writes acknowledged", l.acked.Load())
	}
}

// verify checks, on a restarted server, that every acknowledged write is there. With exact,
// a write that was not acknowledged must not be there either (a clean shutdown answers every
// command it runs); otherwise it may be (a crash can lose the reply of an applied write).
func (l *load) verify(t *testing.T, c *redis.Client, exact bool) {
	t.Helper()
	ctx := context.Background()
	present, absent := 0, 0
	for w, wr := range l.writers {
		isAcked := make(map[string]bool, len(wr.acked))
		for _, k := range wr.acked {
			isAcked[k] = true
		}
		pipe := c.Pipeline()
		gets := make([]*redis.StringCmd, len(wr.sent))
		for i, k := range wr.sent {
			gets[i] = pipe.Get(ctx, k)
		}
		pipe.Exec(ctx)
		for i, k := range wr.sent {
			v, err := gets[i].Result()
			switch {
			case err == nil && v == setValue(k):
				present++
				if exact && !isAcked[k] {
					t.Fatalf("%s was never acknowledged but is there", k)
				}
			case errors.Is(err, redis.Nil):
				absent++
				if isAcked[k] {
					t.Fatalf("acknowledged SET %s is lost", k)
				}
			default:
				t.Fatalf("GET %s: %q %v", k, v, err)
			}
		}
		if wr.incrSent == 0 {
			continue
		}
		n, err := c.Get(ctx, fmt.Sprintf("%s:ctr:%d", l.prefix, w)).Int64()
		if err != nil && !errors.Is(err, redis.Nil) {
			t.Fatal(err)
		}
		if n < wr.incrAcked || n > wr.incrSent || exact && n != wr.incrAcked {
			t.Fatalf("counter %d is %d after restart: %d INCRs acknowledged (last reply %d), %d sent",
				w, n, wr.incrAcked, wr.incrAcked, wr.incrSent)
		}
	}
	t.Logf("%s: %d sent writes present (all acknowledged ones among them), %d absent", l.prefix, present, absent)
}

// TestCrashLosesNoAcknowledgedWrite kills strata with SIGKILL under a concurrent write load,
// twice (the second time after recovering from the first), and checks, after a restart on the
// same directory, that every acknowledged write is there: in "everysec" (a process crash loses
// nothing) and in "always".
func TestCrashLosesNoAcknowledgedWrite(t *testing.T) {
	for _, mode := range []string{"everysec", "always"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			var loads []*load
			for round := range 2 {
				p := startStrata(t, dir, "--appendfsync", mode)
				c := p.client(8)
				l := startLoad(c, fmt.Sprintf("r%d", round), 8, 2000, true)
				l.waitEnough(t)
				p.signal(syscall.SIGKILL) // while the writers are still writing
				if code := p.waitExit(); code != -int(syscall.SIGKILL) {
					t.Fatalf("exit status %d, want killed", code)
				}
				l.wg.Wait()
				loads = append(loads, l)
			}
			p := startStrata(t, dir, "--appendfsync", mode)
			for _, l := range loads {
				l.verify(t, p.client(1), false)
			}
		})
	}
}

// TestSigtermShutsDownCleanly sends SIGTERM under a write load: STOPPING=1 is notified, the
// process exits with status 0, and after a restart exactly the acknowledged writes are there.
func TestSigtermShutsDownCleanly(t *testing.T) {
	dir := t.TempDir()
	p := startStrata(t, dir)
	c := p.client(4)
	l := startLoad(c, "term", 4, 500, true)
	l.waitEnough(t)
	p.signal(syscall.SIGTERM)
	p.waitNote("STOPPING=1")
	if code := p.waitExit(); code != 0 {
		t.Fatalf("exit status %d after SIGTERM; stderr:\n%s", code, p.stderr)
	}
	l.wg.Wait()
	for _, want := range []string{"received signal, shutting down", "shutdown complete"} {
		if !strings.Contains(p.stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, p.stderr)
		}
	}

	p2 := startStrata(t, dir)
	l.verify(t, p2.client(1), true)
}

// TestShutdownCommandExits: SHUTDOWN gets no reply, the connection closes, the process exits
// with status 0, and the data is there after a restart.
func TestShutdownCommandExits(t *testing.T) {
	dir := t.TempDir()
	p := startStrata(t, dir)
	c := p.client(4)
	l := startLoad(c, "shutdown", 4, 300, false)
	l.waitEnough(t)

	nc, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(bound))
	nc.Write([]byte("*1\r\n$8\r\nSHUTDOWN\r\n"))
	if reply, err := io.ReadAll(nc); err != nil || len(reply) != 0 {
		t.Fatalf("SHUTDOWN replied %q (%v); want the connection closed without a reply", reply, err)
	}
	p.waitNote("STOPPING=1")
	if code := p.waitExit(); code != 0 {
		t.Fatalf("exit status %d after SHUTDOWN; stderr:\n%s", code, p.stderr)
	}
	l.wg.Wait()

	p2 := startStrata(t, dir)
	l.verify(t, p2.client(1), true)
}

// TestSystemdNotifyAndLogs: READY=1 comes once the listener accepts (startStrata connects
// right after it), STOPPING=1 at SIGTERM; the log lines go to stderr.
func TestSystemdNotifyAndLogs(t *testing.T) {
	p := startStrata(t, t.TempDir())
	for _, want := range []string{"msg=\"strata starting\"", "msg=\"ready to accept connections\"", "appendfsync=everysec"} {
		if !strings.Contains(p.stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, p.stderr)
		}
	}
	p.signal(syscall.SIGTERM)
	p.waitNote("STOPPING=1")
	if code := p.waitExit(); code != 0 {
		t.Fatalf("exit status %d", code)
	}
}

// TestStartupFailureNotReady: a server that cannot open its data directory never says
// READY=1 and exits with status 1, saying why on stderr.
func TestStartupFailureNotReady(t *testing.T) {
	file := t.TempDir() + "/not-a-directory"
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := launch(t, file)
	if code := p.waitExit(); code != 1 {
		t.Fatalf("exit status %d, want 1", code)
	}
	for _, n := range p.notesSoFar() {
		if strings.Contains(n, "READY=1") {
			t.Fatalf("READY=1 from a server that failed to start")
		}
	}
	if !strings.Contains(p.stderr.String(), "strata:") {
		t.Fatalf("no error on stderr:\n%s", p.stderr)
	}
}
