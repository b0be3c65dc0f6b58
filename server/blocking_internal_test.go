package server

import (
	"context"
	"strings"
	"testing"

	"github.com/stratadb/strata/conf"
	"github.com/stratadb/strata/encoding"
	"github.com/stratadb/strata/engine"
)

func newTestServer(t *testing.T) *Server {
	t.Helper()
	table := conf.NewTable()
	cfg := table.Default()
	cfg.Dir = t.TempDir()
	s, err := New(Options{Config: cfg, Table: table})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	return s
}

// lockedTxn returns a write Txn on db 0 holding keys.
func lockedTxn(t *testing.T, s *Server, keys ...string) *engine.Txn {
	t.Helper()
	tx := s.eng.NewTxn()
	tx.Begin(0, engine.LockWrite)
	for _, k := range keys {
		tx.AddKey([]byte(k))
	}
	if err := tx.Lock(); err != nil {
		t.Fatal(err)
	}
	return tx
}

// TestServeDeferred forces the path where a served command needs a lock the serving round
// cannot take at once (BLMOVE's destination, held by another command): the round leaves the
// key to a follow-up round, which serves the waiter once the lock is free.
func TestServeDeferred(t *testing.T) {
	s := newTestServer(t)
	w := &waiter{c: &Client{s: s, id: 7}, done: make(chan struct{}), spec: blockSpec{
		keys: [][]byte{[]byte("src")}, also: [][]byte{[]byte("dst")}, typ: encoding.TypeList,
		serve: func(x *Ctx, key []byte) replyFunc {
			v, _, err := x.Txn.ListMove(key, []byte("dst"), true, false)
			if err != nil {
				return errorReply(err)
			}
			v = clone(v)
			return func(c *Client) { c.Bulk(v) }
		},
	}}
	s.blocking.add(w)

	holder := lockedTxn(t, s, "dst") // another command holds the destination
	pusher := lockedTxn(t, s, "src")
	if _, err := pusher.ListPush([]byte("src"), [][]byte{[]byte("x")}, false, false); err != nil {
		t.Fatal(err)
	}
	var r serveRound
	s.serveIn(pusher, &r, nil)
	sameStripe := len(r.served) == 1 // src and dst may share a stripe (1 in 4096)
	if !sameStripe && (len(r.deferred) != 1 || len(r.served) != 0) {
		t.Fatalf("round served %d and deferred %v", len(r.served), r.deferred)
	}
	if err := pusher.Commit(); err != nil {
		t.Fatal(err)
	}
	s.deliver(&r, nil)

	followUp := make(chan struct{})
	go func() {
		s.serveDeferred(r.deferred) // waits for the destination's lock
		close(followUp)
	}()
	if err := holder.Commit(); err != nil {
		t.Fatal(err)
	}
	<-followUp
	<-w.done
	c := &Client{s: s, resp: 2}
	w.reply(c)
	if string(c.out) != "$1\r\nx\r\n" {
		t.Fatalf("served reply %q", c.out)
	}
	check := lockedTxn(t, s, "src", "dst")
	defer check.Abort()
	if vals, _ := check.ListRange([]byte("dst"), 0, -1); len(vals) != 1 || string(vals[0]) != "x" {
		t.Fatalf("dst holds %q", vals)
	}
	if n, _ := check.ListLen([]byte("src")); n != 0 {
		t.Fatalf("src kept %d elements", n)
	}
	if s.BlockedClients() != 0 {
		t.Fatal("the waiter is still registered")
	}
}

// TestBlockDenied checks that a blocking command inside MULTI/EXEC or a script (denyBlocking)
// answers at once with its non-blocking null and registers nothing.
func TestBlockDenied(t *testing.T) {
	s := newTestServer(t)
	c := &Client{s: s, resp: 2, denyBlocking: true}
	x := &Ctx{Client: c}
	x.block(blockSpec{keys: [][]byte{[]byte("k")}, typ: encoding.TypeList, denied: (*Client).Null})
	if c.blocked != nil || s.BlockedClients() != 0 || string(c.out) != "$-1\r\n" {
		t.Fatalf("denied block: blocked=%v registered=%d reply %q", c.blocked, s.BlockedClients(), c.out)
	}
}

func TestParseTimeout(t *testing.T) {
	for in, want := range map[string]string{
		"0": "forever", "0.0009": "forever", "-0.0001": "forever", "1e-400": "forever",
		"0.5": "deadline", "0x10": "deadline", "9223372036854774": "forever",
		"-1": engine.ErrTimeoutNeg.Error(), "inf": engine.ErrTimeoutNeg.Error(), "-inf": engine.ErrTimeoutNeg.Error(),
		"1e300": engine.ErrTimeoutNeg.Error(), "9223372036854775807": engine.ErrTimeoutNeg.Error(),
		"nan": engine.ErrTimeout.Error(), "": engine.ErrTimeout.Error(), " 1": engine.ErrTimeout.Error(),
		"1 ": engine.ErrTimeout.Error(), "1x": engine.ErrTimeout.Error(), "1_0": engine.ErrTimeout.Error(),
	} {
		d, err := parseTimeout([]byte(in))
		got := "deadline"
		switch {
		case err != nil:
			got = err.Error()
		case d.IsZero():
			got = "forever"
		}
		if got != want {
			t.Errorf("parseTimeout(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestClientUnblockHandler runs CLIENT UNBLOCK's handler (CLIENT's table entry names it).
func TestClientUnblockHandler(t *testing.T) {
	s := newTestServer(t)
	run := func(args ...string) string {
		c := &Client{s: s, resp: 2}
		x := &Ctx{Client: c}
		for _, a := range args {
			x.Args = append(x.Args, []byte(a))
		}
		cmdClientUnblock(x)
		return string(c.out)
	}
	w := &waiter{c: &Client{s: s, id: 9}, done: make(chan struct{}), spec: blockSpec{keys: [][]byte{[]byte("k")}, typ: encoding.TypeList}}
	s.blocking.add(w)
	for _, tc := range []struct{ args, want string }{
		{"CLIENT UNBLOCK 9 foo", "-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR\r\n"},
		{"CLIENT UNBLOCK abc", "-ERR value is not an integer or out of range\r\n"},
		{"CLIENT Unblock 9 timeout x", "-ERR unknown subcommand or wrong number of arguments for 'Unblock'. Try CLIENT HELP.\r\n"},
		{"CLIENT UNBLOCK 8", ":0\r\n"},
		{"CLIENT UNBLOCK 9 ERROR", ":1\r\n"},
		{"CLIENT UNBLOCK 9", ":0\r\n"},
	} {
		if got := run(strings.Fields(tc.args)...); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.args, got, tc.want)
		}
	}
	<-w.done
	c := &Client{s: s, resp: 2}
	w.reply(c)
	if string(c.out) != "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n" {
		t.Fatalf("the unblocked client got %q", c.out)
	}
}

// TestServeAfterTxnBlock runs what EXEC will: several commands through CallInTxn in one locked
// Txn, then commitServing. Waiters are served from the block's final state, in the order the
// block changed the keys, oldest waiter first; a blocking command inside the block does not
// block.
func TestServeAfterTxnBlock(t *testing.T) {
	s := newTestServer(t)
	popper := func(id int64, key string) *waiter {
		w := &waiter{c: &Client{s: s, id: id}, done: make(chan struct{}), spec: blockSpec{
			keys: [][]byte{[]byte(key)}, typ: encoding.TypeList,
			serve: func(x *Ctx, key []byte) replyFunc {
				vals, _, err := x.Txn.ListPop(key, true, 1)
				if err != nil {
					return errorReply(err)
				}
				v := clone(vals[0])
				return func(c *Client) { c.Bulk(v) }
			},
		}}
		s.blocking.add(w)
		return w
	}
	w1, w2, w3, w4 := popper(1, "k1"), popper(2, "k1"), popper(3, "k2"), popper(4, "k3")

	c := &Client{s: s, resp: 2}
	c.x.Client = c
	tx := lockedTxn(t, s, "k1", "k2", "k3")
	for _, cmd := range []string{"RPUSH k2 x", "RPUSH k1 a b c", "RPUSH k3 gone", "LPOP k3", "BLPOP k3 0", "LPOP k1"} {
		args := bytesArgs(strings.Fields(cmd))
		if !s.CallInTxn(c, tx, s.cmds.Lookup(strings.ToLower(cmd[:strings.IndexByte(cmd, ' ')])), args) {
			t.Fatalf("%s panicked", cmd)
		}
	}
	if err := s.commitServing(tx, false); err != nil {
		t.Fatal(err)
	}
	if want := ":1\r\n:3\r\n:1\r\n$4\r\ngone\r\n*-1\r\n$1\r\na\r\n"; string(c.out) != want {
		t.Fatalf("replies %q, want %q", c.out, want)
	}
	if c.blocked != nil {
		t.Fatal("BLPOP blocked inside the block")
	}
	for w, want := range map[*waiter]string{w1: "$1\r\nb\r\n", w2: "$1\r\nc\r\n", w3: "$1\r\nx\r\n"} {
		<-w.done
		rc := &Client{s: s, resp: 2}
		w.reply(rc)
		if string(rc.out) != want {
			t.Errorf("waiter %d got %q, want %q", w.c.id, rc.out, want)
		}
	}
	if !s.IsBlocked(4) || s.BlockedClients() != 1 {
		t.Fatal("the waiter on a key the block emptied again was served or dropped")
	}
	s.UnblockClient(w4.c.id, false)
}

func bytesArgs(ss []string) [][]byte {
	out := make([][]byte, len(ss))
	for i, a := range ss {
		out[i] = []byte(a)
	}
	return out
}
