package server_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stratadb/strata/conf"
	"github.com/stratadb/strata/server/servertest"
)

// TestHostileHeaders sends headers that claim huge sizes or are malformed: each gets Redis's
// error and the connection is closed, memory does not grow with the claim, and other clients
// keep being served.
func TestHostileHeaders(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	bystander := s.Dial(t)
	for _, tc := range []struct {
		name, send, want string
	}{
		{"huge bulk", "*1\r\n$99999999999\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
		{"overflowing bulk", "*1\r\n$9223372036854775806\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
		{"negative bulk", "*1\r\n$-5\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
		{"bulk not a number", "*1\r\n$abc\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
		{"huge multibulk", "*2147483648\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
		{"multibulk not a number", "*x\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
		{"missing dollar", "*1\r\nfoo\r\n", "-ERR Protocol error: expected '$', got 'f'\r\n"},
		{"previous command answered first", "*1\r\n$4\r\nPING\r\n*1\r\n$-1\r\n", "+PONG\r\n-ERR Protocol error: invalid bulk length\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := s.Dial(t)
			c.Net().Write([]byte(tc.send))
			got := readAll(t, c)
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
	if got := bystander.Do("PING"); got != "+PONG\r\n" {
		t.Fatalf("bystander: %q", got)
	}
}

// readAll reads until the server closes the connection.
func readAll(t *testing.T, c *servertest.Conn) string {
	t.Helper()
	var out bytes.Buffer
	buf := make([]byte, 4096)
	c.Net().SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		n, err := c.Net().Read(buf)
		out.Write(buf[:n])
		if err != nil {
			return out.String()
		}
	}
}

// TestHugeMultibulkWaitsWithoutSpinning: "*2147483647" is a valid header for Redis (it waits
// for the arguments); Strata must wait too, without burning CPU, and still serve others.
func TestHugeMultibulkWaits(t *testing.T) {
	s := servertest.StartStrata(t, func(c *conf.Config) { c.MaxArgs = 1 << 31 })
	c := s.Dial(t)
	c.Net().Write([]byte("*2147483647\r\n$3\r\nfoo\r\n"))
	if _, err := c.ReadErr(200 * time.Millisecond); err == nil {
		t.Fatal("expected no reply while the command is incomplete")
	}
	if got := s.Dial(t).Do("PING"); got != "+PONG\r\n" {
		t.Fatalf("other client: %q", got)
	}
}

// TestEmptyMultibulkIgnored: Redis ignores "*0" and "*-1" and keeps the connection.
func TestEmptyMultibulkIgnored(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	c := s.Dial(t)
	c.Net().Write([]byte("*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n"))
	if got := c.Read(); got != "+PONG\r\n" {
		t.Fatalf("got %q", got)
	}
}

// TestQueryBufferLimit closes a client whose single command outgrows client-query-buffer-limit,
// without a reply, as Redis does, and keeps serving others.
func TestQueryBufferLimit(t *testing.T) {
	s := servertest.StartStrata(t, func(c *conf.Config) { c.ClientQueryBufferLimit = 1 << 20 })
	c := s.Dial(t)
	c.Net().Write([]byte("*2\r\n$3\r\nGET\r\n$10000000\r\n"))
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	for i := 0; i < 32; i++ {
		if _, err := c.Net().Write(chunk); err != nil {
			break
		}
	}
	if got := readAll(t, c); got != "" {
		t.Fatalf("expected a silent close, got %q", got)
	}
	if got := s.Dial(t).Do("PING"); got != "+PONG\r\n" {
		t.Fatalf("other client: %q", got)
	}
}

// TestUnauthenticatedLimits: before AUTH, Redis refuses big multibulk and bulk headers.
func TestUnauthenticatedLimits(t *testing.T) {
	s := servertest.StartStrata(t, func(c *conf.Config) { c.RequirePass = "secret" })
	c := s.Dial(t)
	c.Net().Write([]byte("*11\r\n"))
	if got := readAll(t, c); got != "-ERR Protocol error: unauthenticated multibulk length\r\n" {
		t.Fatalf("got %q", got)
	}
	c = s.Dial(t)
	c.Net().Write([]byte("*2\r\n$3\r\nGET\r\n$16385\r\n"))
	if got := readAll(t, c); got != "-ERR Protocol error: unauthenticated bulk length\r\n" {
		t.Fatalf("got %q", got)
	}
	c = s.Dial(t)
	if got := c.Do("GET", "k"); got != "-NOAUTH Authentication required.\r\n" {
		t.Fatalf("got %q", got)
	}
	if got := c.Do("AUTH", "wrong"); !strings.HasPrefix(got, "-WRONGPASS") {
		t.Fatalf("got %q", got)
	}
	if got := c.Do("AUTH", "secret"); got != "+OK\r\n" {
		t.Fatalf("got %q", got)
	}
	big := strings.Repeat("v", 20000)
	if got := c.Do("SET", "k", big); got != "+OK\r\n" {
		t.Fatalf("authenticated big value: %q", got)
	}
}

// TestInlineCommands: telnet-style commands, quoting and the inline size limit.
func TestInlineCommands(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	c := s.Dial(t)
	c.Net().Write([]byte("SET k \"a b\"\r\nGET k\r\n\r\nPING\n"))
	for _, want := range []string{"+OK\r\n", "$3\r\na b\r\n", "+PONG\r\n"} {
		if got := c.Read(); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	c.Net().Write([]byte("SET k \"unbalanced\r\n"))
	if got := readAll(t, c); got != "-ERR Protocol error: unbalanced quotes in request\r\n" {
		t.Fatalf("got %q", got)
	}
	c = s.Dial(t)
	c.Net().Write(bytes.Repeat([]byte("a"), 70<<10))
	if got := readAll(t, c); got != "-ERR Protocol error: too big inline request\r\n" {
		t.Fatalf("got %q", got)
	}
}

// TestGarbage: random bytes never crash the server.
func TestGarbage(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	for i := 0; i < 50; i++ {
		c := s.Dial(t)
		var junk []byte
		for j := 0; j < 200; j++ {
			junk = append(junk, byte((i*7919+j*104729)%256))
		}
		junk = append(junk, fmt.Sprintf("*1\r\n$%d\r\n", i*1000003)...)
		c.Net().Write(junk)
		readAll(t, c)
	}
	if got := s.Dial(t).Do("PING"); got != "+PONG\r\n" {
		t.Fatalf("server after garbage: %q", got)
	}
}

// TestPipelineOneFlush: a pipeline of many commands is answered in order.
func TestPipeline(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	c := s.Dial(t)
	var batch []byte
	for i := 0; i < 1000; i++ {
		batch = append(batch, servertest.EncodeCommand("SET", fmt.Sprint("k", i), fmt.Sprint(i))...)
		batch = append(batch, servertest.EncodeCommand("GET", fmt.Sprint("k", i))...)
	}
	c.Net().Write(batch)
	for i := 0; i < 1000; i++ {
		if got := c.Read(); got != "+OK\r\n" {
			t.Fatalf("set %d: %q", i, got)
		}
		v := fmt.Sprint(i)
		if got, want := c.Read(), fmt.Sprintf("$%d\r\n%s\r\n", len(v), v); got != want {
			t.Fatalf("get %d: %q", i, got)
		}
	}
}
