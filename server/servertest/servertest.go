// Package servertest starts servers for tests: Strata in-process on 127.0.0.1:0 with a
// temporary data directory, and a real redis-server (Debian's package) on a unix socket,
// so that the same commands can run against both and their replies be compared byte for byte.
package servertest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stratadb/strata/conf"
	"github.com/stratadb/strata/server"
)

// Strata is an in-process Strata server.
type Strata struct {
	*server.Server
	Addr   string
	Dir    string
	Config *conf.Config
}

// StartStrata starts a server on 127.0.0.1:0 with a fresh data directory (or cfg.Dir when
// mutate sets one); it shuts down when the test ends.
func StartStrata(t testing.TB, mutate func(*conf.Config)) *Strata {
	t.Helper()
	table := conf.NewTable()
	cfg := table.Default()
	cfg.Bind = []string{"127.0.0.1"}
	cfg.Port = 0
	cfg.Dir = t.TempDir()
	if mutate != nil {
		mutate(cfg)
	}
	srv, err := server.New(server.Options{Config: cfg, Table: table, Logger: TestLogger(t)})
	if err != nil {
		t.Fatalf("start strata: %v", err)
	}
	if err := srv.Start(); err != nil {
		srv.Shutdown(context.Background())
		t.Fatalf("start strata: %v", err)
	}
	s := &Strata{Server: srv, Addr: srv.Addr().String(), Dir: cfg.Dir, Config: cfg}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return s
}

// TestLogger logs only warnings and errors, through t.Log, so a failing test shows them.
func TestLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Redis is a real redis-server started for a test.
type Redis struct {
	Socket string
	Dir    string
	cmd    *exec.Cmd
}

// RedisServerPath finds redis-server. When it is missing the test is skipped, unless
// STRATA_REQUIRE_REDIS is set (CI sets it), in which case it fails.
func RedisServerPath(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("STRATA_REQUIRE_REDIS") != "" {
			t.Fatal("redis-server is not installed (apt-get install redis-server redis-tools)")
		}
		t.Skip("redis-server is not installed; `make test` installs it")
	}
	return p
}

// StartRedis starts redis-server on a unix socket in a temporary directory with persistence
// off, plus any extra "--directive value" arguments; it stops when the test ends.
func StartRedis(t testing.TB, extra ...string) *Redis {
	t.Helper()
	bin := RedisServerPath(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "redis.sock")
	args := []string{"--port", "0", "--unixsocket", sock, "--unixsocketperm", "700", "--dir", dir,
		"--save", "", "--appendonly", "no", "--logfile", filepath.Join(dir, "redis.log")}
	args = append(args, extra...)
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	r := &Redis{Socket: sock, Dir: dir, cmd: cmd}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
			return r
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
			t.Fatalf("redis-server did not start: %v\n%s", err, log)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Dial opens a raw RESP connection to the real Redis.
func (r *Redis) Dial(t testing.TB) *Conn { return Dial(t, "unix", r.Socket) }

// Dial opens a raw RESP connection to the Strata server.
func (s *Strata) Dial(t testing.TB) *Conn { return Dial(t, "tcp", s.Addr) }

// Conn is a raw RESP client: it sends commands and returns each reply's exact bytes.
type Conn struct {
	t  testing.TB
	nc net.Conn
	rd *Reader
}

// Dial connects to addr; the connection closes when the test ends.
func Dial(t testing.TB, network, addr string) *Conn {
	t.Helper()
	nc, err := net.Dial(network, addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	return &Conn{t: t, nc: nc, rd: NewReader(nc)}
}

// Net is the underlying connection (for writing hostile bytes).
func (c *Conn) Net() net.Conn { return c.nc }

// Send writes one command as a RESP array.
func (c *Conn) Send(args ...string) {
	c.t.Helper()
	if _, err := c.nc.Write(EncodeCommand(args...)); err != nil {
		c.t.Fatalf("send %q: %v", args, err)
	}
}

// Do sends a command and returns the raw bytes of its reply.
func (c *Conn) Do(args ...string) string {
	c.t.Helper()
	c.Send(args...)
	return c.Read()
}

// Read returns the raw bytes of the next reply.
func (c *Conn) Read() string {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	b, err := c.rd.ReadReply()
	if err != nil {
		c.t.Fatalf("read reply: %v", err)
	}
	return string(b)
}

// ReadErr returns the next reply or the read error (for tests that expect a close).
func (c *Conn) ReadErr(timeout time.Duration) (string, error) {
	c.nc.SetReadDeadline(time.Now().Add(timeout))
	b, err := c.rd.ReadReply()
	return string(b), err
}

// EncodeCommand encodes args as a RESP array of bulk strings.
func EncodeCommand(args ...string) []byte {
	b := fmt.Appendf(nil, "*%d\r\n", len(args))
	for _, a := range args {
		b = fmt.Appendf(b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b
}

// Reader reads whole RESP2/RESP3 replies and returns their raw bytes.
type Reader struct {
	r   io.Reader
	buf []byte
	pos int
}

// NewReader reads replies from r.
func NewReader(r io.Reader) *Reader { return &Reader{r: r} }

// ReadReply returns the raw bytes of one complete reply (aggregates included).
func (r *Reader) ReadReply() ([]byte, error) {
	start := r.pos
	if err := r.skipValue(); err != nil {
		return nil, err
	}
	out := append([]byte(nil), r.buf[start:r.pos]...)
	r.buf = append(r.buf[:0], r.buf[r.pos:]...)
	r.pos = 0
	return out, nil
}

func (r *Reader) line() ([]byte, error) {
	for {
		if i := bytes.Index(r.buf[r.pos:], []byte{'\r', '\n'}); i >= 0 {
			l := r.buf[r.pos : r.pos+i]
			r.pos += i + 2
			return l, nil
		}
		if err := r.more(); err != nil {
			return nil, err
		}
	}
}

func (r *Reader) more() error {
	tmp := make([]byte, 64<<10)
	n, err := r.r.Read(tmp)
	r.buf = append(r.buf, tmp[:n]...)
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

func (r *Reader) skipValue() error {
	l, err := r.line()
	if err != nil {
		return err
	}
	if len(l) == 0 {
		return fmt.Errorf("empty reply line")
	}
	var n int
	switch l[0] {
	case '+', '-', ':', ',', '#', '_', '(':
		return nil
	case '$', '=', '!':
		fmt.Sscan(string(l[1:]), &n)
		if n < 0 {
			return nil
		}
		for len(r.buf)-r.pos < n+2 {
			if err := r.more(); err != nil {
				return err
			}
		}
		r.pos += n + 2
		return nil
	case '*', '~', '>', '%', '|':
		fmt.Sscan(string(l[1:]), &n)
		if l[0] == '%' || l[0] == '|' {
			n *= 2
		}
		for i := 0; i < n; i++ {
			if err := r.skipValue(); err != nil {
				return err
			}
		}
		if l[0] == '|' { // an attribute precedes the real reply
			return r.skipValue()
		}
		return nil
	}
	return fmt.Errorf("unknown reply type %q", l[0])
}
