package rdb

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A real redis-server, started by a test on a unix socket in a temporary directory.

type redisServer struct {
	t    testing.TB
	dir  string
	sock string
	cmd  *exec.Cmd
	conn net.Conn
	br   *bufio.Reader
}

func requireRedis(t testing.TB) {
	t.Helper()
	for _, bin := range []string{"redis-server", "redis-check-rdb"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s is not on PATH: the round trips against a real Redis are skipped", bin)
		}
	}
}

// startRedis starts redis-server in dir (which may hold a dump.rdb to load) and waits
// until it says it accepts connections.
func startRedis(t testing.TB, dir string, extra ...string) *redisServer {
	t.Helper()
	requireRedis(t)
	s := &redisServer{t: t, dir: dir, sock: filepath.Join(dir, "redis.sock")}
	args := append([]string{"--port", "0", "--unixsocket", s.sock, "--dir", dir, "--save", "",
		"--appendonly", "no", "--dbfilename", "dump.rdb", "--enable-debug-command", "yes",
		"--daemonize", "no", "--loglevel", "notice", "--logfile", ""}, extra...)
	s.cmd = exec.Command("redis-server", args...)
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stderr = s.cmd.Stdout
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		var log []string
		for sc.Scan() {
			log = append(log, sc.Text())
			if strings.Contains(sc.Text(), "ready to accept connections") {
				ready <- nil
				_, _ = io.Copy(io.Discard, out)
				return
			}
		}
		ready <- fmt.Errorf("redis-server exited before it was ready:\n%s", strings.Join(log, "\n"))
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("redis-server did not become ready")
	}
	conn, err := net.Dial("unix", s.sock)
	if err != nil {
		t.Fatal(err)
	}
	s.conn, s.br = conn, bufio.NewReader(conn)
	return s
}

func (s *redisServer) stop() {
	if s.conn != nil {
		s.conn.Close()
	}
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		s.cmd = nil
	}
}

type redisError string

func (e redisError) Error() string { return string(e) }

// do sends one command and reads its reply: string ([]byte), int64, nil, []any or
// redisError.
func (s *redisServer) do(args ...any) (any, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		var v []byte
		switch x := a.(type) {
		case []byte:
			v = x
		case string:
			v = []byte(x)
		default:
			v = []byte(fmt.Sprint(x))
		}
		fmt.Fprintf(&b, "$%d\r\n", len(v))
		b.Write(v)
		b.WriteString("\r\n")
	}
	if _, err := s.conn.Write(b.Bytes()); err != nil {
		return nil, err
	}
	return readReply(s.br)
}

// must runs a command that must succeed.
func (s *redisServer) must(args ...any) any {
	s.t.Helper()
	v, err := s.do(args...)
	if err != nil {
		s.t.Fatalf("%v: %v", args, err)
	}
	if e, ok := v.(redisError); ok {
		s.t.Fatalf("%v: %s", args, e)
	}
	return v
}

func readReply(br *bufio.Reader) (any, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return nil, errors.New("empty reply line")
	}
	switch line[0] {
	case '+':
		return []byte(line[1:]), nil
	case '-':
		return redisError(line[1:]), nil
	case ':':
		return strconv.ParseInt(line[1:], 10, 64)
	case '$':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return nil, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(br, buf); err != nil {
			return nil, err
		}
		return buf[:n], nil
	case '*':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return nil, nil
		}
		arr := make([]any, n)
		for i := range arr {
			if arr[i], err = readReply(br); err != nil {
				return nil, err
			}
		}
		return arr, nil
	}
	return nil, fmt.Errorf("unknown reply %q", line)
}

// str renders a reply as text, for comparisons.
func str(v any) string {
	switch x := v.(type) {
	case []byte:
		return string(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = str(e)
		}
		return "[" + strings.Join(parts, " ") + "]"
	case nil:
		return "(nil)"
	}
	return fmt.Sprint(v)
}

// checkRDB runs redis-check-rdb on a file.
func checkRDB(t testing.TB, path string) {
	t.Helper()
	out, err := exec.Command("redis-check-rdb", path).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("RDB looks OK")) {
		t.Fatalf("redis-check-rdb %s: %v\n%s", path, err, out)
	}
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
