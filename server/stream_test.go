package server_test

import (
	"reflect"
	"strconv"
	"testing"

	"github.com/stratadb/strata/server/servertest"
)

// TestStreamTimedReplies compares, in RESP2 and RESP3, the stream replies that carry times
// (idle, seen-time, delivery times) with Redis's after masking those times: their shape, types
// and every other value must be equal, and the masked times sane.
func TestStreamTimedReplies(t *testing.T) {
	redis := servertest.StartRedis(t)
	strata := servertest.StartStrata(t, nil)
	setup := [][]string{
		{"XADD", "s", "1-1", "a", "1"}, {"XADD", "s", "2-1", "b", "2"}, {"XADD", "s", "3-1", "c", "3"},
		{"XADD", "s", "4-1", "d", "4"},
		{"XGROUP", "CREATE", "s", "g", "0"}, {"XGROUP", "CREATE", "s", "h", "$"},
		{"XREADGROUP", "GROUP", "g", "alice", "COUNT", "2", "STREAMS", "s", ">"},
		{"XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", ">"},
		{"XGROUP", "CREATECONSUMER", "s", "h", "carol"},
		{"XCLAIM", "s", "g", "bob", "0", "1-1", "TIME", "1700000000000", "RETRYCOUNT", "5", "JUSTID"},
		{"XDEL", "s", "3-1"},
	}
	timed := [][]string{
		{"XPENDING", "s", "g", "-", "+", "10"},
		{"XPENDING", "s", "g", "-", "+", "10", "bob"},
		{"XPENDING", "s", "g", "IDLE", "0", "(1-1", "+", "1"},
		{"XINFO", "CONSUMERS", "s", "g"},
		{"XINFO", "CONSUMERS", "s", "h"},
		{"XINFO", "STREAM", "s", "FULL"},
		{"XINFO", "STREAM", "s", "FULL", "COUNT", "1"},
		{"XINFO", "STREAM", "s", "FULL", "COUNT", "0"},
	}
	for _, proto := range []string{"2", "3"} {
		t.Run("resp"+proto, func(t *testing.T) {
			rc, sc := redis.Dial(t), strata.Dial(t)
			for _, c := range []*servertest.Conn{rc, sc} {
				c.Do("FLUSHALL")
				c.Do("HELLO", proto)
				for _, cmd := range setup {
					c.Do(cmd...)
				}
			}
			for _, cmd := range timed {
				want := maskTimes(t, parseReply(t, rc.Do(cmd...)), cmd[0] == "XPENDING")
				got := maskTimes(t, parseReply(t, sc.Do(cmd...)), cmd[0] == "XPENDING")
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%q:\n  redis:  %+v\n  strata: %+v", cmd, want, got)
				}
			}
		})
	}
}

// maskTimes replaces the times in a stream reply with a mark after checking them: idle and
// seen-time values, and the delivery times of pending entries (the third element of a group's
// pending entry, the second of a consumer's; the third of an XPENDING entry).
func maskTimes(t *testing.T, r servertest.Reply, xpending bool) servertest.Reply {
	t.Helper()
	mask := func(e *servertest.Reply) {
		n, err := strconv.ParseInt(e.Text, 10, 64)
		if e.Kind != ':' || err != nil || n < 0 {
			t.Fatalf("a time that is not a non-negative integer: %+v", *e)
		}
		e.Text = "<time>"
	}
	if xpending {
		for i := range r.Elems {
			if len(r.Elems[i].Elems) == 4 {
				mask(&r.Elems[i].Elems[2])
			}
		}
		return r
	}
	var walk func(r *servertest.Reply)
	walk = func(r *servertest.Reply) {
		for i := range r.Elems {
			e := &r.Elems[i]
			if i+1 < len(r.Elems) && (e.Text == "idle" || e.Text == "seen-time") {
				mask(&r.Elems[i+1])
			}
			if i+1 < len(r.Elems) && e.Text == "pending" && r.Elems[i+1].Elems != nil {
				for j := range r.Elems[i+1].Elems {
					p := &r.Elems[i+1].Elems[j]
					switch len(p.Elems) {
					case 4: // a group's: ID, consumer, delivery time, count
						mask(&p.Elems[2])
					case 3: // a consumer's: ID, delivery time, count
						mask(&p.Elems[1])
					}
				}
			}
			walk(e)
		}
	}
	walk(&r)
	return r
}

// streamBlockingScenarios are XREAD and XREADGROUP BLOCK over several connections (the
// notation is blockingScenario's), compared with Redis reply by reply.
var streamBlockingScenarios = []blockingScenario{
	{"XREAD waits for an entry past its ID", []string{
		"d0 XADD s 1-1 a 1", "c1 XREAD BLOCK 0 STREAMS s $", "w1", "c2 XREAD BLOCK 0 COUNT 1 STREAMS s 1-1", "w2",
		"d0 XADD s 2-1 b 2", "r1", "r2", "i0",
	}},
	{"data at hand answers at once", []string{
		"d0 XADD s 1-1 a 1", "d1 XREAD BLOCK 0 STREAMS s 0", "d1 XREAD BLOCK 100 STREAMS s nokey 0 0",
		"d0 XGROUP CREATE s g 0", "d1 XREADGROUP GROUP g c BLOCK 0 STREAMS s >", "d1 XREADGROUP GROUP g c BLOCK 0 STREAMS s 0",
	}},
	{"of two keys, the one that gets an entry answers", []string{
		"c1 XREAD BLOCK 0 STREAMS a b $ $", "w1", "d0 XADD b 1-1 x 1", "r1", "d0 XADD a 1-1 y 1", "i0",
	}},
	{"XREADGROUP waiters are served in arrival order", []string{
		"d0 XGROUP CREATE s g $ MKSTREAM",
		"c1 XREADGROUP GROUP g c1 COUNT 1 BLOCK 0 STREAMS s >", "w1",
		"c2 XREADGROUP GROUP g c2 COUNT 1 BLOCK 0 STREAMS s >", "w2",
		"d0 XADD s 1-1 a 1", "r1", "i0", "d0 XADD s 2-1 b 2", "r2", "d0 XPENDING s g", "d0 XINFO GROUPS s",
	}},
	{"one XADD of several waiters: XREAD all, XREADGROUP the first", []string{
		"d0 XGROUP CREATE s g $ MKSTREAM",
		"c1 XREADGROUP GROUP g c1 BLOCK 0 STREAMS s >", "w1", "c2 XREAD BLOCK 0 STREAMS s $", "w2",
		"c3 XREADGROUP GROUP g c3 BLOCK 0 STREAMS s >", "w3",
		"d0 XADD s 1-1 a 1", "r1", "r2", "i0", "d0 XADD s 2-1 a 1", "r3",
	}},
	{"a deleted stream: XREADGROUP is unblocked with an error, XREAD waits on", []string{
		"d0 XGROUP CREATE s g $ MKSTREAM",
		"c1 XREADGROUP GROUP g c BLOCK 0 STREAMS s >", "w1", "c2 XREAD BLOCK 0 STREAMS s $", "w2",
		"d0 DEL s", "r1", "i0", "d0 XADD s 5-1 a 1", "r2",
	}},
	{"a destroyed group, a retyped key", []string{
		"d0 XGROUP CREATE s g $ MKSTREAM",
		"c1 XREADGROUP GROUP g c BLOCK 0 STREAMS s >", "w1", "d0 XGROUP DESTROY s g", "r1",
		"d0 XGROUP CREATE s g $", "c1 XREADGROUP GROUP g c BLOCK 0 STREAMS s >", "w1", "d0 SET s x", "r1",
		"d0 DEL s", "c2 XREAD BLOCK 0 STREAMS s $", "w1", "d0 SET s x", "i0", "d0 DEL s", "d0 XADD s 1-1 a 1", "r2",
	}},
	{"XDEL, XSETID and XTRIM add no entry", []string{
		"d0 XADD s 1-1 a 1", "c1 XREAD BLOCK 0 STREAMS s $", "w1",
		"d0 XDEL s 1-1", "d0 XSETID s 9-9", "d0 XTRIM s MAXLEN 0", "i0", "d0 XADD s 10-1 b 2", "r1",
	}},
	{"timeouts answer null", []string{
		"c1 XREAD BLOCK 30 STREAMS s $", "r1", "d0 XGROUP CREATE s g $ MKSTREAM",
		"c1 XREADGROUP GROUP g c BLOCK 30 STREAMS s >", "r1", "d0 XINFO CONSUMERS s g",
	}},
	{"MULTI: BLOCK answers null, and XADDs serve after EXEC", []string{
		"d0 MULTI", "d0 XREAD BLOCK 0 STREAMS s $", "d0 EXEC",
		"c1 XREAD BLOCK 0 STREAMS s $", "w1", "d0 MULTI", "d0 XADD s 1-1 a 1", "d0 XADD s 2-1 b 2", "d0 EXEC", "r1",
	}},
	{"NOACK and RESP3", []string{
		"d0 XGROUP CREATE s g $ MKSTREAM", "x1 HELLO 3",
		"c1 XREADGROUP GROUP g c NOACK BLOCK 0 STREAMS s >", "w1", "d0 XADD s 1-1 a 1", "r1", "d0 XPENDING s g",
		"c1 XREAD BLOCK 0 STREAMS s $", "w1", "d0 XADD s 2-1 b 2", "r1",
	}},
}

// TestStreamBlocking runs the stream blocking scenarios on redis-server and on Strata.
func TestStreamBlocking(t *testing.T) { diffScenarios(t, streamBlockingScenarios) }
