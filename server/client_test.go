package server_test

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/stratadb/strata/conf"
	"github.com/stratadb/strata/server/servertest"
)

// clientFields is CLIENT LIST's field order in Redis 7.0 (without the 7.0.x read-buffer
// fields rbs/rbp).
const clientFields = "id addr laddr fd name age idle flags db sub psub ssub multi qbuf qbuf-free " +
	"argv-mem multi-mem obl oll omem tot-mem events cmd user redir resp"

// clientLines parses CLIENT LIST/INFO text into one field map per line, checking the field
// order.
func clientLines(t *testing.T, text string) []map[string]string {
	t.Helper()
	if !strings.HasSuffix(text, "\n") {
		t.Fatalf("client list does not end with a newline: %q", text)
	}
	var out []map[string]string
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		m := map[string]string{}
		var names []string
		for _, kv := range strings.Split(line, " ") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				t.Fatalf("malformed field %q in %q", kv, line)
			}
			names = append(names, k)
			m[k] = v
		}
		if got := strings.Join(names, " "); got != clientFields {
			t.Fatalf("fields\n  %s\nwant\n  %s", got, clientFields)
		}
		out = append(out, m)
	}
	return out
}

func clientList(t *testing.T, c *servertest.Conn, args ...string) []map[string]string {
	t.Helper()
	reply := parseValue(t, c.Do(append([]string{"CLIENT", "LIST"}, args...)...))
	text, ok := reply.(string)
	if !ok {
		t.Fatalf("CLIENT LIST %v: %v", args, reply)
	}
	if text == "" {
		return nil
	}
	return clientLines(t, text)
}

func TestClientListAndInfo(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	a := s.Dial(t)
	b := s.Dial(t)
	idA := parseValue(t, a.Do("CLIENT", "ID")).(int64)
	idB := parseValue(t, b.Do("CLIENT", "ID")).(int64)
	expect(t, b, "+OK\r\n", "CLIENT", "SETNAME", "worker-b")
	expect(t, b, "+OK\r\n", "SELECT", "4")
	b.Do("HELLO", "3")
	b.Do("GET", "x")

	list := clientList(t, a)
	if len(list) != 2 {
		t.Fatalf("%d clients listed", len(list))
	}
	self, other := list[0], list[1]
	if self["id"] != fmt.Sprint(idA) || other["id"] != fmt.Sprint(idB) {
		t.Fatalf("ids %s %s, want %d %d (connection order)", self["id"], other["id"], idA, idB)
	}
	want := map[string]string{"name": "worker-b", "db": "4", "resp": "3", "cmd": "get", "flags": "N",
		"user": "default", "multi": "-1", "redir": "-1", "sub": "0", "laddr": s.Addr}
	for k, v := range want {
		if other[k] != v {
			t.Errorf("other client %s=%q, want %q", k, other[k], v)
		}
	}
	if self["cmd"] != "client|list" || self["argv-mem"] != "10" || self["name"] != "" {
		t.Errorf("own line: %v", self)
	}
	if fd, _ := strconv.Atoi(self["fd"]); fd <= 2 {
		t.Errorf("fd %q is not a socket's descriptor", self["fd"])
	}
	if host, _, err := net.SplitHostPort(self["addr"]); err != nil || host != "127.0.0.1" {
		t.Errorf("addr %q", self["addr"])
	}

	// Filters.
	if l := clientList(t, a, "ID", fmt.Sprint(idB), "999999", fmt.Sprint(idA)); len(l) != 2 || l[0]["id"] != fmt.Sprint(idB) {
		t.Errorf("CLIENT LIST ID: %v", l)
	}
	if l := clientList(t, a, "TYPE", "NORMAL"); len(l) != 2 {
		t.Errorf("CLIENT LIST TYPE normal: %d clients", len(l))
	}
	if l := clientList(t, a, "TYPE", "pubsub"); len(l) != 0 {
		t.Errorf("CLIENT LIST TYPE pubsub: %v", l)
	}

	// CLIENT INFO is the caller's own line; RESP3 gets a verbatim string.
	info := clientLines(t, parseValue(t, b.Do("CLIENT", "INFO")).(string))
	if len(info) != 1 || info[0]["id"] != fmt.Sprint(idB) || info[0]["cmd"] != "client|info" {
		t.Errorf("CLIENT INFO: %v", info)
	}
	if raw := b.Do("CLIENT", "INFO"); !strings.HasPrefix(raw, "=") || !strings.Contains(raw, "\r\ntxt:id=") {
		t.Errorf("RESP3 CLIENT INFO: %q", raw)
	}

	// go-redis parses what Strata sends.
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr, DisableIdentity: true, Protocol: 2})
	defer rdb.Close()
	ctx := context.Background()
	ci, err := rdb.ClientInfo(ctx).Result()
	if err != nil || ci.ID == 0 || ci.User != "default" || ci.LAddr != s.Addr {
		t.Errorf("go-redis ClientInfo: %+v %v", ci, err)
	}
	if name, err := rdb.ClientGetName(ctx).Result(); err != redis.Nil {
		t.Errorf("go-redis ClientGetName: %q %v", name, err)
	}
	if list, err := rdb.ClientList(ctx).Result(); err != nil || strings.Count(list, "\n") != 3 {
		t.Errorf("go-redis ClientList: %q %v", list, err)
	}
}

// TestClientKill closes the connections it names; the killed clients see their connection end
// and leave CLIENT LIST at once.
func TestClientKill(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	admin := s.Dial(t)
	id := func(c *servertest.Conn) string { return fmt.Sprint(parseValue(t, c.Do("CLIENT", "ID")).(int64)) }
	closed := func(c *servertest.Conn) {
		t.Helper()
		if got, err := c.ReadErr(10 * time.Second); err == nil {
			t.Fatalf("killed client still receives %q", got)
		}
	}
	listed := func(ident string) bool {
		for _, l := range clientList(t, admin) {
			if l["id"] == ident {
				return true
			}
		}
		return false
	}

	victim := s.Dial(t)
	vid := id(victim)
	expect(t, admin, ":1\r\n", "CLIENT", "KILL", "ID", vid)
	closed(victim)
	if listed(vid) {
		t.Error("killed client still listed")
	}
	expect(t, admin, ":0\r\n", "CLIENT", "KILL", "ID", vid)

	// Old form by address.
	victim = s.Dial(t)
	addr := clientLines(t, parseValue(t, victim.Do("CLIENT", "INFO")).(string))[0]["addr"]
	expect(t, admin, "+OK\r\n", "CLIENT", "KILL", addr)
	closed(victim)
	expect(t, admin, "-ERR No such client\r\n", "CLIENT", "KILL", addr)

	// ADDR and LADDR filters, USER, TYPE; SKIPME spares the caller by default. MAXAGE came
	// with Redis 7.4: 7.0 answers a syntax error.
	v1, v2 := s.Dial(t), s.Dial(t)
	v1.Do("PING")
	v2.Do("PING")
	expect(t, admin, "-ERR syntax error\r\n", "CLIENT", "KILL", "MAXAGE", "1000")
	expect(t, admin, ":0\r\n", "CLIENT", "KILL", "LADDR", "1.2.3.4:5")
	expect(t, admin, ":2\r\n", "CLIENT", "KILL", "LADDR", s.Addr, "USER", "default", "TYPE", "normal")
	closed(v1)
	closed(v2)
	expect(t, admin, "+PONG\r\n", "PING")

	// Killing oneself: the reply arrives, then the connection closes.
	expect(t, admin, ":1\r\n", "CLIENT", "KILL", "ID", id(admin), "SKIPME", "no")
	closed(admin)
	self := s.Dial(t)
	addr = clientLines(t, parseValue(t, self.Do("CLIENT", "INFO")).(string))[0]["addr"]
	expect(t, self, "+OK\r\n", "CLIENT", "KILL", addr)
	closed(self)
}

// TestClientKillMidPipeline kills a client while it is running a long pipeline of writes:
// the command in progress finishes (its write is whole), the rest of the pipeline does not
// run, and the server goes on.
func TestClientKillMidPipeline(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	admin := s.Dial(t)
	victim := s.Dial(t)
	vid := fmt.Sprint(parseValue(t, victim.Do("CLIENT", "ID")).(int64))
	const n = 100000
	value := strings.Repeat("v", 100)
	var pipe []byte
	for i := 0; i < n; i++ {
		pipe = append(pipe, servertest.EncodeCommand("SET", "key:"+strconv.Itoa(i), value)...)
	}
	go victim.Net().Write(pipe) // the write fails once the connection is killed
	// Wait until the pipeline has started running.
	deadline := time.Now().Add(10 * time.Second)
	for admin.Do("GET", "key:0") == "$-1\r\n" {
		if time.Now().After(deadline) {
			t.Fatal("pipeline never started")
		}
	}
	expect(t, admin, ":1\r\n", "CLIENT", "KILL", "ID", vid)
	// What ran is a prefix of the pipeline, each value whole.
	var ran int
	for ran = 0; ran < n; ran++ {
		got := admin.Do("GET", "key:"+strconv.Itoa(ran))
		if got == "$-1\r\n" {
			break
		}
		if got != "$100\r\n"+value+"\r\n" {
			t.Fatalf("key:%d = %q", ran, got)
		}
	}
	for i := ran; i < min(ran+1000, n); i++ {
		if got := admin.Do("GET", "key:"+strconv.Itoa(i)); got != "$-1\r\n" {
			t.Fatalf("key:%d written after key:%d was not: the pipeline went on after the kill", i, ran)
		}
	}
	t.Logf("%d of %d pipelined commands ran before the kill", ran, n)
	expect(t, admin, "+PONG\r\n", "PING")
}

// nonLoopbackIPv4 finds an address of this machine that is not loopback.
func nonLoopbackIPv4(t *testing.T) net.IP {
	ifaces, err := net.Interfaces()
	if err != nil {
		t.Skipf("cannot list interfaces: %v", err)
	}
	for _, iface := range ifaces {
		if iface.Flags&net.FlagUp == 0 || iface.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := iface.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() {
				return ipn.IP
			}
		}
	}
	t.Skip("this machine has no non-loopback IPv4 address to connect through (creating one needs root)")
	return nil
}

// TestProtectedMode: with no password, a client from a non-loopback address gets Redis's
// DENIED text and is closed, while loopback clients are served; with a password, or with
// protected-mode off (also set live), the outside client is served.
func TestProtectedMode(t *testing.T) {
	ip := nonLoopbackIPv4(t)
	for _, tc := range []struct {
		name    string
		mutate  func(*conf.Config)
		denied  bool
		greeter []string // what the outside client sends first
	}{
		{"no password", nil, true, nil},
		{"password", func(c *conf.Config) { c.RequirePass = "pw" }, false, []string{"AUTH", "pw"}},
		{"protected-mode no", func(c *conf.Config) { c.ProtectedMode = false }, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := servertest.StartStrata(t, func(c *conf.Config) {
				c.Bind = []string{"0.0.0.0"}
				if tc.mutate != nil {
					tc.mutate(c)
				}
			})
			_, port, _ := net.SplitHostPort(s.Addr)
			local := servertest.Dial(t, "tcp", net.JoinHostPort("127.0.0.1", port))
			if tc.greeter != nil {
				expect(t, local, "+OK\r\n", tc.greeter...)
			}
			expect(t, local, "+PONG\r\n", "PING")

			outside := servertest.Dial(t, "tcp", net.JoinHostPort(ip.String(), port))
			if tc.denied {
				got := readAll(t, outside)
				if !strings.HasPrefix(got, "-DENIED Redis is running in protected mode") || !strings.HasSuffix(got, "\r\n") {
					t.Fatalf("outside client got %q", got)
				}
				// Turning protected mode off lets the next one in.
				expect(t, local, "+OK\r\n", "CONFIG", "SET", "protected-mode", "no")
				outside = servertest.Dial(t, "tcp", net.JoinHostPort(ip.String(), port))
			}
			if tc.greeter != nil {
				expect(t, outside, "+OK\r\n", tc.greeter...)
			}
			expect(t, outside, "+PONG\r\n", "PING")
		})
	}
}

// TestMaxClients: beyond maxclients, a new connection gets Redis's error and is closed while
// the others keep working; CONFIG SET maxclients moves the limit live.
func TestMaxClients(t *testing.T) {
	s := servertest.StartStrata(t, func(c *conf.Config) { c.MaxClients = 3 })
	conns := []*servertest.Conn{s.Dial(t), s.Dial(t), s.Dial(t)}
	for _, c := range conns {
		expect(t, c, "+PONG\r\n", "PING")
	}
	fourth := s.Dial(t)
	if got := readAll(t, fourth); got != "-ERR max number of clients reached\r\n" {
		t.Fatalf("fourth connection got %q", got)
	}
	for _, c := range conns {
		expect(t, c, "+PONG\r\n", "PING")
	}
	_, _, v := infoSections(t, info(t, conns[0], "stats", "clients"))
	if v["rejected_connections"] != "1" || v["connected_clients"] != "3" || v["maxclients"] != "3" {
		t.Errorf("INFO after the refusal: rejected %s connected %s maxclients %s",
			v["rejected_connections"], v["connected_clients"], v["maxclients"])
	}
	expect(t, conns[0], "+OK\r\n", "CONFIG", "SET", "maxclients", "4")
	expect(t, s.Dial(t), "+PONG\r\n", "PING")
}

// TestQuitLeavesBeforeItsReply: once QUIT's +OK is read, the client is gone for every other
// client, as in Redis: CLIENT LIST no longer shows it and CLIENT KILL ID does not find it.
// Strata used to forget the client only after the connection closed, a moment after the reply.
func TestQuitLeavesBeforeItsReply(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	watcher := s.Dial(t)
	for i := range 200 {
		q := s.Dial(t)
		id := parseValue(t, q.Do("CLIENT", "ID")).(int64)
		expect(t, q, "+OK\r\n", "QUIT")
		if reply := watcher.Do("CLIENT", "KILL", "ID", strconv.FormatInt(id, 10)); reply != ":0\r\n" {
			t.Fatalf("round %d: CLIENT KILL ID of a client that quit: %q", i, reply)
		}
	}
}
