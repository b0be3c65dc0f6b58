package server_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratadb/strata/conf"
	"github.com/stratadb/strata/server/servertest"
)

// waitForBlocked waits until n clients are blocked on keys.
func waitForBlocked(t *testing.T, s *servertest.Strata, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.BlockedClients() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d clients blocked, want %d", s.BlockedClients(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func arr(items ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(items))
	for _, it := range items {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(it), it)
	}
	return b.String()
}

// TestBlockingFIFO blocks clients one after another and checks that one push serves them in
// arrival order, and that the ones left over keep waiting.
func TestBlockingFIFO(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	const n = 8
	var waiters []*servertest.Conn
	for i := 0; i < n; i++ {
		c := s.Dial(t)
		c.Send("BLPOP", "k", "0")
		waitForBlocked(t, s, i+1)
		waiters = append(waiters, c)
	}
	p := s.Dial(t)
	if got := p.Do("RPUSH", "k", "e0", "e1", "e2", "e3", "e4"); got != ":5\r\n" {
		t.Fatalf("RPUSH replied %q", got)
	}
	for i := 0; i < 5; i++ {
		if got, want := waiters[i].Read(), arr("k", fmt.Sprintf("e%d", i)); got != want {
			t.Fatalf("waiter %d got %q, want %q", i, got, want)
		}
	}
	// Served before the push answered: the key is empty and three clients still wait.
	if got := p.Do("LLEN", "k"); got != ":0\r\n" {
		t.Fatalf("LLEN after serving: %q", got)
	}
	waitForBlocked(t, s, 3)
	p.Do("LPUSH", "k", "x", "y", "z")
	for i, want := range []string{"z", "y", "x"} {
		if got := waiters[5+i].Read(); got != arr("k", want) {
			t.Fatalf("waiter %d got %q, want %q", 5+i, got, arr("k", want))
		}
	}
	waitForBlocked(t, s, 0)
}

// TestBlockingManyKeys checks that a client blocked on several keys is served by the first
// that gets an element, once, and that an older waiter on a key comes first.
func TestBlockingManyKeys(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	a, b := s.Dial(t), s.Dial(t)
	a.Send("BRPOP", "k1", "k2", "k2", "0")
	waitForBlocked(t, s, 1)
	b.Send("BLPOP", "k2", "0")
	waitForBlocked(t, s, 2)
	p := s.Dial(t)
	p.Do("RPUSH", "k2", "first", "second")
	if got := a.Read(); got != arr("k2", "second") {
		t.Fatalf("the older waiter got %q", got)
	}
	if got := b.Read(); got != arr("k2", "first") {
		t.Fatalf("the younger waiter got %q", got)
	}
	waitForBlocked(t, s, 0)
	p.Do("RPUSH", "k1", "x")
	if got := p.Do("LLEN", "k1"); got != ":1\r\n" {
		t.Fatalf("a served client was still queued on its other key: LLEN %q", got)
	}
}

// rawConn is a connection usable from any goroutine (servertest.Conn fails the test, which
// only the test's goroutine may do).
type rawConn struct {
	nc net.Conn
	rd *servertest.Reader
}

func dialRaw(t *testing.T, s *servertest.Strata) *rawConn {
	nc, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{nc: nc, rd: servertest.NewReader(nc)}
}

func (c *rawConn) do(args ...string) (string, error) {
	if _, err := c.nc.Write(servertest.EncodeCommand(args...)); err != nil {
		return "", err
	}
	c.nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	r, err := c.rd.ReadReply()
	return string(r), err
}

// TestBlockingConcurrent runs consumers in BLPOP loops while producers push: every element
// is delivered exactly once.
func TestBlockingConcurrent(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	const producers, consumers, perProducer = 4, 8, 100
	got := make(chan string, producers*perProducer+consumers)
	var wg sync.WaitGroup
	for i := 0; i < consumers; i++ {
		c := dialRaw(t, s)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				v, err := c.do("BLPOP", "q", "other", "0")
				if err != nil {
					v = "error: " + err.Error()
				}
				got <- v
				if strings.HasSuffix(v, "stop\r\n") || !strings.HasPrefix(v, "*2") {
					return
				}
			}
		}()
	}
	for i := 0; i < producers; i++ {
		c := dialRaw(t, s)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < perProducer; j++ {
				key := "q"
				if j%3 == 0 {
					key = "other"
				}
				if _, err := c.do("RPUSH", key, fmt.Sprintf("p%d-%d", i, j)); err != nil {
					got <- "error: " + err.Error()
					return
				}
			}
		}()
	}
	// Once every element is out, one "stop" per consumer ends the loops.
	seen := map[string]bool{}
	for len(seen) < producers*perProducer {
		r := <-got
		if !strings.HasPrefix(r, "*2") {
			t.Fatalf("consumer reply %q", r)
		}
		v := r[strings.LastIndex(r[:len(r)-2], "\n")+1 : len(r)-2]
		if seen[v] {
			t.Fatalf("%s delivered twice", v)
		}
		seen[v] = true
	}
	p := s.Dial(t)
	for i := 0; i < consumers; i++ {
		p.Do("RPUSH", "q", "stop")
	}
	wg.Wait()
	close(got)
	for r := range got {
		if !strings.HasSuffix(r, "stop\r\n") {
			t.Fatalf("unexpected extra reply %q", r)
		}
	}
	if got := p.Do("LLEN", "q"); got != ":0\r\n" {
		t.Fatalf("elements left behind: LLEN %q", got)
	}
	waitForBlocked(t, s, 0)
}

// TestBlockingDisconnect checks that a client that closes while blocked leaves nothing
// behind, and that what it pipelined after the blocking command never runs.
func TestBlockingDisconnect(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	c := s.Dial(t)
	c.Net().Write(append(servertest.EncodeCommand("BLPOP", "k", "0"), servertest.EncodeCommand("SET", "after", "1")...))
	waitForBlocked(t, s, 1)
	c.Net().Close()
	waitForBlocked(t, s, 0)
	p := s.Dial(t)
	p.Do("RPUSH", "k", "x")
	if got := p.Do("LLEN", "k"); got != ":1\r\n" {
		t.Fatalf("a gone client took the element: LLEN %q", got)
	}
	if got := p.Do("GET", "after"); got != "$-1\r\n" {
		t.Fatalf("a command pipelined after the blocked one ran: GET %q", got)
	}
}

// TestBlockingTimeout checks the timeout replies and that they do not come early.
func TestBlockingTimeout(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	c := s.Dial(t)
	for _, cmd := range [][]string{
		{"BLPOP", "k", "0.1"},
		{"BLMOVE", "k", "d", "LEFT", "RIGHT", "0.1"},
		{"BLMPOP", "0.1", "1", "k", "LEFT"},
	} {
		start := time.Now()
		if got := c.Do(cmd...); got != "*-1\r\n" {
			t.Fatalf("%q timed out with %q", cmd, got)
		}
		if el := time.Since(start); el < 100*time.Millisecond || el > 10*time.Second {
			t.Fatalf("%q returned after %v", cmd, el)
		}
	}
	c.Do("HELLO", "3")
	if got := c.Do("BRPOP", "k", "0.05"); got != "_\r\n" {
		t.Fatalf("RESP3 timeout reply %q", got)
	}
	waitForBlocked(t, s, 0)
}

// TestBlockingPipelines checks that replies pipelined before a blocking command are sent
// before it blocks, and commands pipelined after it run after it is served.
func TestBlockingPipelines(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	c := s.Dial(t)
	var burst []byte
	for _, cmd := range [][]string{{"PING"}, {"RPUSH", "other", "1"}, {"BLPOP", "k", "0"}, {"ECHO", "after"}} {
		burst = append(burst, servertest.EncodeCommand(cmd...)...)
	}
	c.Net().Write(burst)
	if got := c.Read(); got != "+PONG\r\n" {
		t.Fatalf("first reply %q", got)
	}
	if got := c.Read(); got != ":1\r\n" {
		t.Fatalf("second reply %q", got)
	}
	waitForBlocked(t, s, 1)
	s.Dial(t).Do("RPUSH", "k", "v")
	if got := c.Read(); got != arr("k", "v") {
		t.Fatalf("served reply %q", got)
	}
	if got := c.Read(); got != "$5\r\nafter\r\n" {
		t.Fatalf("reply after the blocking command %q", got)
	}
}

// TestBlockingMoveChain checks that BLMOVE's push serves the clients blocked on its
// destination, and that a destination of the wrong type answers WRONGTYPE and pops nothing.
func TestBlockingMoveChain(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	a, b := s.Dial(t), s.Dial(t)
	a.Send("BLMOVE", "src", "dst", "RIGHT", "LEFT", "0")
	waitForBlocked(t, s, 1)
	b.Send("BLPOP", "dst", "0")
	waitForBlocked(t, s, 2)
	p := s.Dial(t)
	p.Do("RPUSH", "src", "x")
	if got := a.Read(); got != "$1\r\nx\r\n" {
		t.Fatalf("BLMOVE got %q", got)
	}
	if got := b.Read(); got != arr("dst", "x") {
		t.Fatalf("BLPOP on the destination got %q", got)
	}
	if got := p.Do("LLEN", "dst"); got != ":0\r\n" {
		t.Fatalf("LLEN dst %q", got)
	}

	p.Do("SET", "str", "v")
	a.Send("BRPOPLPUSH", "src", "str", "0")
	waitForBlocked(t, s, 1)
	p.Do("RPUSH", "src", "y")
	if got := a.Read(); !strings.HasPrefix(got, "-WRONGTYPE") {
		t.Fatalf("BRPOPLPUSH onto a string got %q", got)
	}
	if got := p.Do("LRANGE", "src", "0", "-1"); got != arr("y") {
		t.Fatalf("the source after a failed move: %q", got)
	}
}

// TestBlockingRetypedKey checks that a key replaced by another type keeps its list waiters
// waiting (Redis 7.0), and that other writers (LMOVE, SORT ... STORE) serve waiters too.
func TestBlockingRetypedKey(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	a := s.Dial(t)
	a.Send("BLPOP", "k", "0")
	waitForBlocked(t, s, 1)
	p := s.Dial(t)
	p.Do("SET", "k", "string")
	if n := s.BlockedClients(); n != 1 {
		t.Fatalf("SET on the key unblocked its waiter (%d blocked)", n)
	}
	p.Do("RPUSH", "src", "3", "1", "2")
	p.Do("SORT", "src", "STORE", "k") // replaces the string with a list
	if got := a.Read(); got != arr("k", "1") {
		t.Fatalf("served by SORT STORE: %q", got)
	}
	a.Send("BLPOP", "k2", "0")
	waitForBlocked(t, s, 1)
	p.Do("LMOVE", "src", "k2", "LEFT", "LEFT")
	if got := a.Read(); got != arr("k2", "3") {
		t.Fatalf("served by LMOVE: %q", got)
	}
}

// TestBlockingUnblock covers Server.UnblockClient, CLIENT UNBLOCK's engine.
func TestBlockingUnblock(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	a := s.Dial(t)
	blockedID := func() int64 {
		ids := s.BlockedClientIDs()
		if len(ids) != 1 {
			t.Fatalf("blocked clients %v", ids)
		}
		return ids[0]
	}
	a.Send("BLPOP", "k", "0")
	waitForBlocked(t, s, 1)
	if !s.UnblockClient(blockedID(), false) {
		t.Fatal("UnblockClient said the client was not blocked")
	}
	if got := a.Read(); got != "*-1\r\n" {
		t.Fatalf("unblocked with TIMEOUT: %q", got)
	}
	a.Send("BLMOVE", "k", "d", "LEFT", "LEFT", "0")
	waitForBlocked(t, s, 1)
	if !s.UnblockClient(blockedID(), true) {
		t.Fatal("UnblockClient said the client was not blocked")
	}
	if got := a.Read(); got != "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n" {
		t.Fatalf("unblocked with ERROR: %q", got)
	}
	if s.UnblockClient(12345, false) {
		t.Fatal("UnblockClient of an unknown client succeeded")
	}
}

// TestBlockingCounts checks BLMPOP's count when served, and BLPOP naming a key twice.
func TestBlockingCounts(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	a := s.Dial(t)
	a.Send("BLMPOP", "0", "2", "k", "k", "RIGHT", "COUNT", "2")
	waitForBlocked(t, s, 1)
	p := s.Dial(t)
	p.Do("RPUSH", "k", "a", "b", "c")
	if got, want := a.Read(), "*2\r\n$1\r\nk\r\n"+arr("c", "b"); got != want {
		t.Fatalf("BLMPOP served %q, want %q", got, want)
	}
	if got := p.Do("LRANGE", "k", "0", "-1"); got != arr("a") {
		t.Fatalf("left after BLMPOP: %q", got)
	}
	waitForBlocked(t, s, 0)
}

// TestBlockingShutdown checks that a blocked client does not hold shutdown up.
func TestBlockingShutdown(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	a := s.Dial(t)
	a.Send("BLPOP", "k", "0")
	waitForBlocked(t, s, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ReadErr(10 * time.Second); err == nil {
		t.Fatal("the blocked client's connection stayed open after shutdown")
	}
}

// TestBlockingNotIdle checks that the timeout directive (idle clients are closed) spares a
// client blocked for longer than it, as Redis does.
func TestBlockingNotIdle(t *testing.T) {
	s := servertest.StartStrata(t, func(c *conf.Config) { c.Timeout = 1 })
	a := s.Dial(t)
	if got := a.Do("BLPOP", "k", "2.2"); got != "*-1\r\n" {
		t.Fatalf("blocked past the idle timeout: %q", got)
	}
	if got := a.Do("PING"); got != "+PONG\r\n" {
		t.Fatalf("after the block: %q", got)
	}
}
