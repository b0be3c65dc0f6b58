package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// strataBin is the strata binary built from this tree by TestMain, once for every test here.
var strataBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "strata-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	strataBin = filepath.Join(dir, "strata")
	build := exec.Command(goTool(), "build", "-o", strataBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building strata:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// bound is how long a test waits for something that should take milliseconds: a deadline
// against hanging, not a sleep.
const bound = 60 * time.Second

// proc is a strata server process started by a test, with its notification socket (systemd's
// NOTIFY_SOCKET protocol) and its stderr.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	dir    string
	addr   string // host:port it listens on, from its READY=1 notification
	sock   string // the notification socket
	notes  chan string
	stderr *lockedBuffer
	exited chan struct{}
	err    error // cmd.Wait's result, once exited is closed
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// launch starts `strata server` on 127.0.0.1 with an ephemeral port, data in dir, and the
// extra arguments; it does not wait for readiness.
func launch(t *testing.T, dir string, args ...string) *proc {
	t.Helper()
	sockDir, err := os.MkdirTemp("", "sn-") // short: unix socket paths are limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	sock := filepath.Join(sockDir, "notify")
	nc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	p := &proc{t: t, dir: dir, sock: sock, notes: make(chan string, 16), stderr: &lockedBuffer{}, exited: make(chan struct{})}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, _, err := nc.ReadFromUnix(buf)
			if err != nil {
				close(p.notes)
				return
			}
			p.notes <- string(buf[:n])
		}
	}()
	all := append([]string{"server", "--bind", "127.0.0.1", "--port", "0", "--dir", dir}, args...)
	p.cmd = exec.Command(strataBin, all...)
	p.cmd.Env = append(cleanEnv(), "NOTIFY_SOCKET="+sock)
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("strata stderr:\n%s", p.stderr)
		}
	})
	return p
}

// cleanEnv is the test's environment without what would change the server under test.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "STRATA_") || strings.HasPrefix(kv, "NOTIFY_SOCKET=") ||
			strings.HasPrefix(kv, "JOURNAL_STREAM=") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// startStrata launches a server and waits for READY=1; right after it, a connection must be
// accepted and answered (readiness means the listener accepts).
func startStrata(t *testing.T, dir string, args ...string) *proc {
	t.Helper()
	p := launch(t, dir, args...)
	ready := p.waitNote("READY=1")
	_, status, ok := strings.Cut(ready, "STATUS=Ready to accept connections on ")
	if !ok {
		t.Fatalf("READY=1 without the address: %q", ready)
	}
	p.addr = strings.TrimSpace(strings.SplitN(status, "\n", 2)[0])
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatalf("READY=1 sent, but %s refuses connections: %v", p.addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(bound))
	c.Write([]byte("PING\r\n"))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "+PONG\r\n" {
		t.Fatalf("PING right after READY=1: %q %v", line, err)
	}
	return p
}

// waitNote waits for a notification datagram containing want and returns it.
func (p *proc) waitNote(want string) string {
	p.t.Helper()
	deadline := time.After(bound)
	for {
		select {
		case n, ok := <-p.notes:
			if !ok {
				p.t.Fatalf("notify socket closed before %q", want)
			}
			if strings.Contains(n, want) {
				return n
			}
		case <-p.exited:
			p.t.Fatalf("strata exited (%v) before notifying %q; stderr:\n%s", p.err, want, p.stderr)
		case <-deadline:
			p.t.Fatalf("no %q notification; stderr:\n%s", want, p.stderr)
		}
	}
}

// notesSoFar returns the notifications received until now. The test sends itself a last
// datagram and reads up to it, so every datagram that arrived before the call is included.
func (p *proc) notesSoFar() []string {
	p.t.Helper()
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: p.sock, Net: "unixgram"})
	if err != nil {
		p.t.Fatal(err)
	}
	defer c.Close()
	const end = "TEST_END=1"
	if _, err := c.Write([]byte(end)); err != nil {
		p.t.Fatal(err)
	}
	var out []string
	for {
		select {
		case n := <-p.notes:
			if n == end {
				return out
			}
			out = append(out, n)
		case <-time.After(bound):
			p.t.Fatal("the notification socket stopped delivering")
		}
	}
}

// waitExit waits for the process to end and returns its exit status.
func (p *proc) waitExit() int {
	p.t.Helper()
	select {
	case <-p.exited:
	case <-time.After(bound):
		p.t.Fatalf("strata did not exit; stderr:\n%s", p.stderr)
	}
	var ee *exec.ExitError
	switch {
	case p.err == nil:
		return 0
	case errors.As(p.err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return -int(ws.Signal())
		}
		return ee.ExitCode()
	}
	p.t.Fatalf("wait: %v", p.err)
	return -1
}

func (p *proc) signal(sig os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal %v: %v", sig, err)
	}
}

// client is a go-redis client that never retries (a retried write could be applied twice
// or acknowledged for the wrong attempt).
func (p *proc) client(pool int) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: p.addr, Protocol: 2, DisableIdentity: true,
		MaxRetries: -1, PoolSize: pool, ReadTimeout: bound, WriteTimeout: bound})
	p.t.Cleanup(func() { c.Close() })
	return c
}
