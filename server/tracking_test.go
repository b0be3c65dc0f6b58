package server_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/stratadb/strata/server/servertest"
)

// A multi-connection scenario runs the same steps on Strata and on Redis and compares, after
// every step, everything each connection received: the step's reply on the connection that
// ran it, and the pushes (invalidations, messages) on all of them. A PING on every connection
// after each step fences what the step caused: the connection that ran the step is fenced
// first (so the step is done), then the others; both servers queue a push to a client before
// they answer its next command.
//
// Steps are "name: COMMAND args"; $name in an argument is that connection's client ID. A
// step starting with "~" has the client IDs in its transcripts replaced by $name (replies that
// show IDs: GETREDIR, TRACKINGINFO, tracking-redir-broken); "!" runs a step without comparing
// (HELLO's reply shows the ID among other integers).
type scenarioSide struct {
	name  string
	conns map[string]*servertest.Conn
	ids   map[string]string
}

func newScenarioSide(t *testing.T, name string, dial func(testing.TB) *servertest.Conn, names []string) *scenarioSide {
	s := &scenarioSide{name: name, conns: map[string]*servertest.Conn{}, ids: map[string]string{}}
	for _, n := range names {
		c := dial(t)
		s.conns[n] = c
		r, err := servertest.ParseReply(c.Do("CLIENT", "ID"))
		if err != nil {
			t.Fatal(err)
		}
		s.ids[n] = r.Text
	}
	return s
}

func isPong(reply string) bool {
	return reply == "+PONG\r\n" || reply == "*2\r\n$4\r\npong\r\n$0\r\n\r\n"
}

// fence reads what conn received up to the reply to a PING sent now.
func fence(c *servertest.Conn) string {
	c.Send("PING")
	var out strings.Builder
	for {
		r := c.Read()
		if isPong(r) {
			return out.String()
		}
		out.WriteString(r)
	}
}

// step runs one step and returns each connection's transcript.
func (s *scenarioSide) step(t *testing.T, who string, args []string, names []string) map[string]string {
	t.Helper()
	for i, a := range args {
		if strings.HasPrefix(a, "$") {
			if id, ok := s.ids[a[1:]]; ok {
				args[i] = id
			}
		}
	}
	c := s.conns[who]
	if c == nil {
		t.Fatalf("no connection %q", who)
	}
	out := map[string]string{}
	if strings.EqualFold(args[0], "QUIT") {
		out[who] = c.Do(args...)
		delete(s.conns, who)
	} else {
		out[who] = c.Do(args...) + fence(c)
	}
	for _, n := range names {
		if cc := s.conns[n]; cc != nil && n != who {
			out[n] = fence(cc)
		}
	}
	return out
}

func (s *scenarioSide) unID(text string) string {
	for n, id := range s.ids {
		text = strings.ReplaceAll(text, ":"+id+"\r\n", ":$"+n+"\r\n")
	}
	return text
}

// compareScenario runs script on both servers with the connections names.
func compareScenario(t *testing.T, names []string, script string) {
	t.Helper()
	r := servertest.StartRedis(t)
	s := servertest.StartStrata(t, nil)
	strata := newScenarioSide(t, "strata", s.Dial, names)
	redis := newScenarioSide(t, "redis", r.Dial, names)
	for n, line := range strings.Split(script, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		ids := strings.HasPrefix(line, "~")
		skip := strings.HasPrefix(line, "!")
		who, cmd, ok := strings.Cut(strings.TrimLeft(line, "~!"), ":")
		if !ok {
			t.Fatalf("line %d: no connection name", n+1)
		}
		args, err := servertest.SplitArgs(cmd)
		if err != nil {
			t.Fatalf("line %d: %v", n+1, err)
		}
		got := strata.step(t, strings.TrimSpace(who), append([]string(nil), args...), names)
		want := redis.step(t, strings.TrimSpace(who), append([]string(nil), args...), names)
		for _, c := range names {
			if skip {
				break
			}
			g, w := got[c], want[c]
			if ids {
				g, w = strata.unID(g), redis.unID(w)
			}
			if g != w {
				t.Errorf("line %d: %s: connection %s received\n  redis:  %s\n  strata: %s", n+1, line, c,
					strconv.Quote(w), strconv.Quote(g))
			}
		}
	}
}

// TestTrackingMatchesRedis: default mode, NOLOOP, OPTIN/OPTOUT, BCAST with prefixes,
// REDIRECT to a RESP2 subscriber and to a RESP3 client, flushes, a redirect target that goes
// away, and CLIENT TRACKING's errors.
func TestTrackingMatchesRedis(t *testing.T) {
	t.Parallel()
	compareScenario(t, []string{"a", "b", "r", "q"}, `
# default mode: a reads, b writes; a's own write invalidates after its reply
!a: HELLO 3
a: CLIENT TRACKING ON
a: GET k
a: MGET k k2
b: SET k v
b: SET k v2
a: GET k
a: SET k v3
a: HGET h f
b: HSET h f v
b: HSET h f v
# a key read in one database is invalidated by a write of the same name in another
a: GET dbk
b: SELECT 1
b: SET dbk v
b: SELECT 0
# reads of a key that then expires
a: GET e
b: SET e v
a: GET e
b: PEXPIRE e 1
b: DEL nosuch
# flushes send a null invalidation to every tracking client
a: GET k
b: FLUSHALL
a: FLUSHDB
a: CLIENT TRACKING OFF
b: SET k v
# NOLOOP
a: CLIENT TRACKING ON NOLOOP
a: GET k
a: SET k v
b: SET k v
a: GET k
b: SET k v
a: CLIENT TRACKING OFF
# OPTIN: only reads after CLIENT CACHING YES are tracked; the flag lasts one command
a: CLIENT TRACKING ON OPTIN
a: GET k
b: SET k v
a: CLIENT CACHING YES
a: GET k
a: GET k2
b: MSET k 1 k2 2
a: CLIENT CACHING YES
a: CLIENT TRACKINGINFO
a: GET k
b: SET k 1
a: CLIENT TRACKING OFF
# OPTOUT: reads are tracked unless CLIENT CACHING NO
a: CLIENT TRACKING ON OPTOUT
a: GET k
a: CLIENT CACHING NO
a: GET k2
b: MSET k 1 k2 2
a: CLIENT TRACKING OFF
# BCAST with prefixes: one message per prefix with the keys of one command, sorted
a: CLIENT TRACKING ON BCAST PREFIX p: PREFIX q
b: MSET q1 1 p:b 2 p:a 3 z 1
b: SET p:a 1
a: SET q2 v
a: CLIENT TRACKINGINFO
a: CLIENT TRACKING OFF
a: CLIENT TRACKING ON BCAST NOLOOP
a: SET any v
b: SET any v
a: CLIENT TRACKING OFF
# REDIRECT to a RESP2 client subscribed to __redis__:invalidate
r: SUBSCRIBE __redis__:invalidate
b: CLIENT TRACKING ON REDIRECT $r
~b: CLIENT GETREDIR
~b: CLIENT TRACKINGINFO
b: GET x
a: SET x 1
b: GET x
b: FLUSHDB
b: CLIENT TRACKING OFF
# REDIRECT to a RESP3 client
b: CLIENT TRACKING ON REDIRECT $a
b: GET y
q: SET y 1
b: CLIENT TRACKING OFF
# REDIRECT to a RESP2 client that is not subscribed: nothing can be sent
b: CLIENT TRACKING ON REDIRECT $q
b: GET z
a: SET z 1
b: CLIENT TRACKING OFF
# the redirect target goes away
a: CLIENT TRACKING ON REDIRECT $q
a: GET w
q: QUIT
~b: SET w 1
~a: CLIENT TRACKINGINFO
a: CLIENT TRACKING OFF
a: CLIENT TRACKINGINFO
`)
}

// TestTrackingErrorsMatchRedis: CLIENT TRACKING and CACHING's errors, one connection.
func TestTrackingErrorsMatchRedis(t *testing.T) {
	t.Parallel()
	compareScenario(t, []string{"a"}, `
a: CLIENT TRACKING
a: CLIENT TRACKING maybe
a: CLIENT TRACKING ON nosuch
a: CLIENT TRACKING ON REDIRECT
a: CLIENT TRACKING ON REDIRECT abc
a: CLIENT TRACKING ON REDIRECT 999999
a: CLIENT TRACKING ON REDIRECT 0
a: CLIENT TRACKING ON REDIRECT -1
~a: CLIENT TRACKING ON REDIRECT $a REDIRECT $a
a: CLIENT TRACKING ON PREFIX a
a: CLIENT TRACKING ON BCAST OPTIN
a: CLIENT TRACKING ON BCAST OPTOUT
a: CLIENT TRACKING ON OPTIN OPTOUT
a: CLIENT TRACKING ON BCAST PREFIX a PREFIX ab
a: CLIENT TRACKING ON BCAST PREFIX ab PREFIX a
a: CLIENT TRACKING ON BCAST PREFIX a PREFIX b
a: CLIENT TRACKING ON BCAST PREFIX a
a: CLIENT TRACKING ON BCAST PREFIX abc
a: CLIENT TRACKING ON BCAST PREFIX c
a: CLIENT TRACKINGINFO
a: CLIENT TRACKING ON
a: CLIENT TRACKING OFF
a: CLIENT TRACKING ON BCAST
a: CLIENT TRACKING ON BCAST PREFIX x
a: CLIENT TRACKINGINFO
a: CLIENT TRACKING OFF
a: CLIENT CACHING YES
a: CLIENT CACHING maybe
a: CLIENT TRACKING ON
a: CLIENT CACHING YES
a: CLIENT CACHING NO
a: CLIENT CACHING maybe
a: CLIENT TRACKING ON OPTIN
a: CLIENT TRACKING ON OPTOUT
a: CLIENT CACHING NO
a: CLIENT CACHING YES
a: CLIENT TRACKINGINFO
a: CLIENT TRACKING OFF
a: CLIENT TRACKING ON OPTOUT NOLOOP
a: CLIENT CACHING NO
a: CLIENT TRACKINGINFO
a: CLIENT GETREDIR
a: CLIENT TRACKING OFF
a: CLIENT GETREDIR
a: CLIENT TRACKING OFF
a: RESET
a: CLIENT TRACKINGINFO
`)
}

// TestTrackingTableMaxKeys: past tracking-table-max-keys, keys leave the table and their
// readers are told to forget them.
func TestTrackingTableMaxKeys(t *testing.T) {
	t.Parallel()
	s := servertest.StartStrata(t, nil)
	a := s.Dial(t)
	a.Do("HELLO", "3")
	a.Do("CONFIG", "SET", "tracking-table-max-keys", "10")
	a.Do("CLIENT", "TRACKING", "ON")
	for i := 0; i < 10; i++ {
		a.Do("GET", fmt.Sprint("k", i))
	}
	a.Send("GET", "k10")
	if r := a.Read(); r != "_\r\n" {
		t.Fatalf("GET k10: %q", r)
	}
	// Any key may go, as in Redis (even the one just read).
	if r := a.Read(); !strings.HasPrefix(r, ">2\r\n$10\r\ninvalidate\r\n*1\r\n$") {
		t.Fatalf("no eviction invalidation: %q", r)
	}
	info := a.Do("INFO", "stats")
	if !strings.Contains(info, "tracking_total_keys:10\r\n") {
		t.Fatalf("INFO stats: %s", info)
	}
}
