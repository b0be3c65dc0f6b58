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
