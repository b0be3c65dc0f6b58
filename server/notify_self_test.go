package server_test

import (
	"strings"
	"testing"

	"github.com/stratadb/strata/server/servertest"
)

// TestSelfNotificationsOutsideArrays covers what notify_self_types.txt cannot compare with
// Redis: the commands for which Redis 7.0 writes a keyspace message to the client that
// caused it inside its array reply (a RESP3 client cannot parse that). Strata puts such
// messages before the reply, and keeps those Redis writes after the reply there.
func TestSelfNotificationsOutsideArrays(t *testing.T) {
	t.Parallel()
	s := servertest.StartStrata(t, nil)
	c := s.Dial(t)
	c.Do("HELLO", "3")
	c.Do("CONFIG", "SET", "notify-keyspace-events", "KEA")
	c.Do("PSUBSCRIBE", "__keyspace@0__:*")
	steps := []struct {
		cmd  string
		want string // the values read after it: an event's name, or "reply"
	}{
		{"ZADD z 1 a 2 b", "reply zadd"},
		{"ZPOPMIN z", "zpopmin reply"},
		{"ZPOPMAX z 5", "zpopmax reply del"},
		{"ZADD z 1 a", "reply zadd"},
		{"ZMPOP 1 z MIN COUNT 3", "zpopmin reply del"},
		{"ZADD z 1 a", "reply zadd"},
		{"BZPOPMAX z 0", "zpopmax reply del"},
		{"ZADD z 1 a", "reply zadd"},
		{"BZMPOP 0 1 z MAX", "zpopmax reply del"},
		{"XADD x 1-1 f v", "reply xadd"},
		{"XGROUP CREATE x g 0", "reply xgroup-create"},
		{"XREADGROUP GROUP g c1 STREAMS x >", "xgroup-createconsumer reply"},
		{"XREADGROUP GROUP g c1 STREAMS x 0", "reply"},
		{"XCLAIM x g c2 0 1-1", "xgroup-createconsumer reply"},
		{"XAUTOCLAIM x g c3 0 0", "xgroup-createconsumer reply"},
		{"XAUTOCLAIM x g c3 0 0", "reply"},
		// EXEC: Redis writes each command's messages after its reply, inside EXEC's array.
		{"MULTI", "reply"},
		{"RPUSH ml a", "reply"},
		{"LPOP ml", "reply"},
		{"EXEC", "rpush lpop del reply"},
		{"PING", "reply"},
	}
	for _, st := range steps {
		args, err := servertest.SplitArgs(st.cmd)
		if err != nil {
			t.Fatal(err)
		}
		c.Send(args...)
		var got []string
		for range strings.Fields(st.want) {
			raw := c.Read()
			if raw[0] != '>' {
				got = append(got, "reply")
				continue
			}
			r, err := servertest.ParseReply(raw)
			if err != nil {
				t.Fatal(err)
			}
			ss := r.Strings()
			got = append(got, ss[len(ss)-1])
		}
		if strings.Join(got, " ") != st.want {
			t.Errorf("%s: got %q, want %q", st.cmd, strings.Join(got, " "), st.want)
		}
	}
}
