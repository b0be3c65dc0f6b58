package server_test

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratadb/strata/conf"
	"github.com/stratadb/strata/server/servertest"
)

// TestPubsubMatchesRedis: several subscribers (RESP2 and RESP3, channels, patterns, shard
// channels) and a publisher; every connection must receive what Redis's receive, in order,
// channel and pattern double delivery included.
func TestPubsubMatchesRedis(t *testing.T) {
	t.Parallel()
	compareScenario(t, []string{"s1", "s2", "s3", "p"}, `
s1: SUBSCRIBE ch other
s2: PSUBSCRIBE c*
!s3: HELLO 3
s3: SUBSCRIBE ch
s3: PSUBSCRIBE *
p: PUBLISH ch m1
p: PUBLISH ch m2
p: PUBLISH chx m3
p: PUBLISH other m4
p: PUBLISH "" empty
p: PUBLISH ch ""
p: PUBSUB NUMSUB ch other nosuch
p: PUBSUB NUMSUB
p: PUBSUB NUMPAT
p: PUBSUB CHANNELS c*
p: PUBSUB CHANNELS nosuch*
s1: UNSUBSCRIBE ch
p: PUBLISH ch m5
s2: PUNSUBSCRIBE
p: PUBLISH ch m6
p: PUBSUB NUMPAT
s3: PUBLISH ch self
s3: GET k
s1: SSUBSCRIBE sh
p: SPUBLISH sh m
p: SPUBLISH other m
p: PUBSUB SHARDCHANNELS
p: PUBSUB SHARDCHANNELS s*
p: PUBSUB SHARDNUMSUB sh nosuch
s1: PING
s1: PING hi
s1: GET x
s1: SUNSUBSCRIBE
s1: UNSUBSCRIBE
s1: GET x
s2: SUBSCRIBE a a
s2: PUBLISH a x
s2: UNSUBSCRIBE a b
s2: GET x
s3: UNSUBSCRIBE
s3: PUNSUBSCRIBE nosuch *
s3: PUBLISH ch nobody
s3: SSUBSCRIBE x
s3: SPUBLISH x self
s3: RESET
p: PUBSUB SHARDNUMSUB x
s1: PSUBSCRIBE x*
s1: RESET
p: PUBSUB NUMPAT
s2: SUBSCRIBE q
s2: QUIT
p: PUBSUB NUMSUB q
p: PUBLISH q gone
`)
}

// TestKeyspaceEventsToSelf: a RESP3 client subscribed to its own keyspace events gets them
// before the reply of the command that caused them, as from Redis.
func TestKeyspaceEventsToSelf(t *testing.T) {
	t.Parallel()
	compareScenario(t, []string{"a", "b"}, `
a: CONFIG SET notify-keyspace-events KEA
!a: HELLO 3
a: PSUBSCRIBE __key*__:*
a: SET k v
a: MSET k 1 j 2
a: HSET h f v
a: DEL k j h nosuch
b: SET k v
a: GET k
a: CONFIG SET notify-keyspace-events ""
a: SET k v
`)
}

// TestKeyspaceEventsToSelfEveryCommand runs the notification script on a RESP3 client
// subscribed to its own events: each message must sit where Redis puts it, before or after
// the reply of the command that caused it.
func TestKeyspaceEventsToSelfEveryCommand(t *testing.T) {
	t.Parallel()
	var script strings.Builder
	script.WriteString("a: CONFIG SET notify-keyspace-events KEAnm\n!a: HELLO 3\na: PSUBSCRIBE __key*__:*\n")
	for _, line := range strings.Split(notifyScript, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "@events "):
			script.WriteString("!a: " + strings.TrimPrefix(line, "@events ") + "\n")
		default:
			script.WriteString("a: " + line + "\n")
		}
	}
	compareScenario(t, []string{"a"}, script.String())
}

// clientField returns field name of the CLIENT LIST line of the client with id.
func clientField(t *testing.T, list, id, name string) string {
	t.Helper()
	for _, line := range strings.Split(list, "\n") {
		fields := map[string]string{}
		for _, f := range strings.Fields(line) {
			k, v, _ := strings.Cut(f, "=")
			fields[k] = v
		}
		if fields["id"] == id {
			return fields[name]
		}
	}
	t.Fatalf("no client %s in %q", id, list)
	return ""
}

// TestClientListPubsubFields: CLIENT LIST's sub, psub, ssub, flags and redir of subscribers
// and tracking clients equal Redis's; TYPE pubsub selects subscribers; KILL TYPE pubsub
// closes them.
func TestClientListPubsubFields(t *testing.T) {
	t.Parallel()
	r := servertest.StartRedis(t)
	s := servertest.StartStrata(t, nil)
	type view struct{ flags, sub, psub, ssub, redir string }
	look := func(dial func(testing.TB) *servertest.Conn) []view {
		admin, sub, trk, bc := dial(t), dial(t), dial(t), dial(t)
		ids := []string{}
		for _, c := range []*servertest.Conn{sub, trk, bc} {
			r, _ := servertest.ParseReply(c.Do("CLIENT", "ID"))
			ids = append(ids, r.Text)
		}
		sub.Do("SUBSCRIBE", "a", "b")
		sub.Read()
		sub.Do("PSUBSCRIBE", "p*")
		sub.Do("SSUBSCRIBE", "s")
		trk.Do("CLIENT", "TRACKING", "ON", "REDIRECT", ids[0])
		bc.Do("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "x")
		var out []view
		for _, which := range [][]string{{"LIST"}, {"LIST", "TYPE", "pubsub"}} {
			rep, _ := servertest.ParseReply(admin.Do(append([]string{"CLIENT"}, which...)...))
			list := rep.Text
			if len(which) == 3 {
				if n := strings.Count(list, "\n"); n != 1 {
					t.Errorf("CLIENT LIST TYPE pubsub lists %d clients: %q", n, list)
				}
				continue
			}
			for _, id := range ids {
				v := view{clientField(t, list, id, "flags"), clientField(t, list, id, "sub"),
					clientField(t, list, id, "psub"), clientField(t, list, id, "ssub"), clientField(t, list, id, "redir")}
				if v.redir == ids[0] {
					v.redir = "the subscriber's id"
				}
				out = append(out, v)
			}
		}
		if got := admin.Do("CLIENT", "KILL", "TYPE", "pubsub"); got != ":1\r\n" {
			t.Errorf("CLIENT KILL TYPE pubsub: %q", got)
		}
		return out
	}
	got, want := look(s.Dial), look(r.Dial)
	for i := range want {
		w := want[i]
		w.flags = strings.ReplaceAll(w.flags, "U", "") // Redis is on a unix socket here
		if w.flags == "" {
			w.flags = "N"
		}
		if got[i] != w {
			t.Errorf("client %d: redis %+v, strata %+v", i, w, got[i])
		}
	}
}

// TestIdleTimeoutSparesSubscribers: the timeout directive closes an idle client but not an
// idle subscriber, as in Redis.
func TestIdleTimeoutSparesSubscribers(t *testing.T) {
	t.Parallel()
	s := servertest.StartStrata(t, func(c *conf.Config) { c.Timeout = 1 })
	sub, idle := s.Dial(t), s.Dial(t)
	sub.Do("SUBSCRIBE", "ch")
	idle.Do("PING")
	if _, err := idle.ReadErr(30 * time.Second); err == nil {
		t.Fatal("the idle client got a reply instead of being closed")
	}
	if got := sub.Do("PING"); got != "*2\r\n$4\r\npong\r\n$0\r\n\r\n" {
		t.Fatalf("subscriber PING after the idle client was closed: %q", got)
	}
}

// TestSlowSubscriberIsCutOff: a subscriber that does not read is closed once its pending
// output passes the pubsub class's hard limit; the others keep receiving every message, in
// order, and the server forgets the slow one.
func TestSlowSubscriberIsCutOff(t *testing.T) {
	t.Parallel()
	s := servertest.StartStrata(t, func(c *conf.Config) {
		c.ClientOutputBufferLim = "normal 0 0 0 slave 0 0 0 pubsub 1048576 0 0"
	})
	slow, fast, pub := s.Dial(t), s.Dial(t), s.Dial(t)
	slow.Do("SUBSCRIBE", "ch")
	fast.Do("SUBSCRIBE", "ch")
	payload := strings.Repeat("x", 128<<10)
	const total = 192 // 24 MB: more than the socket buffers and the limit hold
	// The publisher keeps at most two messages ahead of the fast subscriber, so that only the
	// slow one can pass the limit however loaded the machine is.
	got := make(chan error, total)
	go func() {
		for i := 0; i < total; i++ {
			raw, err := fast.ReadErr(30 * time.Second)
			if err == nil {
				r, perr := servertest.ParseReply(raw)
				if s := r.Strings(); perr != nil || len(s) != 3 || s[2] != strconv.Itoa(i)+payload {
					err = fmt.Errorf("message %d: %.40q %v", i, s, perr)
				}
			}
			got <- err
			if err != nil {
				return
			}
		}
	}()
	for i := 0; i < total; i++ {
		if i >= 2 {
			if err := <-got; err != nil {
				t.Fatal(err)
			}
		}
		pub.Do("PUBLISH", "ch", strconv.Itoa(i)+payload)
	}
	for i := 0; i < 2; i++ {
		if err := <-got; err != nil {
			t.Fatal(err)
		}
	}
	waitReply(t, pub, "*2\r\n$2\r\nch\r\n:1\r\n", "PUBSUB", "NUMSUB", "ch")
	// The slow client's socket was closed: once the kernel's buffers drain, it reads EOF.
	for {
		if _, err := slow.ReadErr(30 * time.Second); err != nil {
			break
		}
	}
	if n := len(s.Clients()); n != 2 {
		t.Fatalf("%d clients connected, want 2", n)
	}
}

// TestPublishOrderUnderConcurrency: many publishers and subscribers at once (run it with
// -race). Every subscriber gets every message, each publisher's in the order it published
// them, and all subscribers see the same order (one PUBLISH reaches all before the next).
func TestPublishOrderUnderConcurrency(t *testing.T) {
	t.Parallel()
	s := servertest.StartStrata(t, nil)
	const publishers, subscribers, perPublisher = 6, 8, 200
	subs := make([]*servertest.Conn, subscribers)
	for i := range subs {
		subs[i] = s.Dial(t)
		if i%2 == 0 {
			subs[i].Do("SUBSCRIBE", "ch")
		} else {
			subs[i].Do("PSUBSCRIBE", "c*")
		}
	}
	var wg sync.WaitGroup
	for p := 0; p < publishers; p++ {
		c := s.Dial(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Pipelined in batches of 10: a burst's messages reach the subscribers when it
			// ends, in one write each.
			for i := 0; i < perPublisher; i += 10 {
				for j := i; j < i+10; j++ {
					c.Send("PUBLISH", "ch", fmt.Sprintf("%d:%d", p, j))
				}
				for j := i; j < i+10; j++ {
					c.Read()
				}
			}
		}()
	}
	orders := make([][]string, subscribers)
	errs := make(chan error, subscribers)
	for i, c := range subs {
		go func() {
			next := make([]int, publishers)
			for n := 0; n < publishers*perPublisher; n++ {
				raw, err := c.ReadErr(30 * time.Second) // not Read: it cannot fail the test from here
				if err != nil {
					errs <- err
					return
				}
				r, err := servertest.ParseReply(raw)
				if err != nil {
					errs <- err
					return
				}
				msg := r.Elems[len(r.Elems)-1].Text
				var p, seq int
				fmt.Sscanf(msg, "%d:%d", &p, &seq)
				if seq != next[p] {
					errs <- fmt.Errorf("subscriber %d: publisher %d's message %d came when %d was due", i, p, seq, next[p])
					return
				}
				next[p]++
				orders[i] = append(orders[i], msg)
			}
			errs <- nil
		}()
	}
	wg.Wait()
	for range subs {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i < subscribers; i++ {
		if !slices.Equal(orders[i], orders[0]) {
			t.Fatalf("subscribers 0 and %d saw different orders", i)
		}
	}
}

// TestBigMessagesKeepOrder: messages bigger than the socket takes at once, published in
// pipelines while the subscriber itself sends commands, arrive whole and in order, with the
// subscriber's replies between them.
func TestBigMessagesKeepOrder(t *testing.T) {
	t.Parallel()
	s := servertest.StartStrata(t, nil)
	sub, pub := s.Dial(t), s.Dial(t)
	sub.Do("SUBSCRIBE", "ch")
	payload := strings.Repeat("y", 200<<10)
	const total, batch = 60, 6
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < total; i += batch {
			for j := i; j < i+batch; j++ {
				pub.Send("PUBLISH", "ch", strconv.Itoa(j)+payload)
			}
			for j := i; j < i+batch; j++ {
				pub.ReadErr(30 * time.Second)
			}
		}
	}()
	next, pongs := 0, 0
	for next < total {
		if next%10 == 0 && pongs < next/10+1 {
			sub.Send("PING", strconv.Itoa(pongs))
			pongs++
		}
		raw, err := sub.ReadErr(30 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		r, err := servertest.ParseReply(raw)
		if err != nil {
			t.Fatal(err)
		}
		switch e := r.Strings(); {
		case len(e) == 2 && e[0] == "pong":
		case len(e) == 3 && e[0] == "message" && e[2] == strconv.Itoa(next)+payload:
			next++
		default:
			t.Fatalf("after message %d: %.60q", next, e)
		}
	}
	<-done
}
