package server_test

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stratadb/strata/server/servertest"
)

// blockingScenario is a script over several connections: "c<n> CMD ..." sends CMD on
// connection n without reading; "r<n>" reads one reply of connection n; "w<n>" waits until n
// clients are blocked; "d<n> CMD" sends and reads at once; "x<n> CMD" too, without comparing
// the reply (HELLO's client id); "i<n>" reads INFO's blocked_clients and
// clients_in_timeout_table.
type blockingScenario struct {
	name  string
	steps []string
}

var blockingScenarios = []blockingScenario{
	{"rotation waiters share one element", []string{
		"c1 BLMOVE k k LEFT RIGHT 0", "w1", "c2 BLMOVE k k RIGHT LEFT 0", "w2",
		"d0 RPUSH k x", "r1", "r2", "d0 LRANGE k 0 -1",
	}},
	{"multi-key and single-key waiters", []string{
		"c1 BLPOP a b 0", "w1", "c2 BLPOP b 0", "w2", "c3 BRPOP b a 0", "w3",
		"d0 RPUSH b 1 2", "r1", "r2", "d0 RPUSH a 3", "r3", "d0 LLEN a", "d0 LLEN b",
	}},
	{"move chains to the destination's waiters", []string{
		"c1 BLMOVE src dst RIGHT LEFT 0", "w1", "c2 BLPOP dst 0", "w2", "c3 BRPOPLPUSH src dst 0", "w3",
		"d0 RPUSH src 1 2", "r1", "r2", "r3", "d0 LRANGE src 0 -1", "d0 LRANGE dst 0 -1",
	}},
	{"counts split one push", []string{
		"c1 BLMPOP 0 1 k LEFT COUNT 2", "w1", "c2 BLMPOP 0 2 x k RIGHT COUNT 5", "w2",
		"d0 RPUSH k a b c", "r1", "r2", "d0 LLEN k",
	}},
	{"SORT STORE and LMOVE serve", []string{
		"c1 BLPOP k 0", "w1", "d0 RPUSH src 3 1 2", "d0 SORT src DESC STORE k", "r1",
		"c1 BRPOP k2 0", "w1", "d0 RPOPLPUSH src k2", "r1", "d0 LRANGE k 0 -1",
	}},
	{"retyped key keeps waiting", []string{
		"c1 BLPOP k 0", "w1", "d0 SET k v", "d0 SORT src STORE k", "d0 RPUSH src z", "d0 SORT src ALPHA STORE k", "r1",
	}},
	{"wrong-type destination answers WRONGTYPE, next waiter served", []string{
		"d0 SET str v", "c1 BLMOVE src str LEFT LEFT 0", "w1", "c2 BLPOP src 0", "w2",
		"d0 RPUSH src x", "r1", "r2", "d0 LLEN src",
	}},
	{"keys arriving by RENAME, MOVE, COPY and SWAPDB", []string{
		"c1 BLPOP k 0", "w1", "d0 RPUSH src a", "d0 RENAME src k", "r1",
		"c1 BLPOP k 0", "w1", "x2 SELECT 1", "d2 RPUSH k b", "d2 MOVE k 0", "r1",
		"c1 BLPOP k 0", "w1", "d0 RPUSH c x", "d0 COPY c k", "r1", "d0 LLEN c",
		"c1 BLPOP k 0", "w1", "d2 RPUSH k y", "d0 SWAPDB 0 1", "r1",
		"c1 BLPOP k 0.05", "d0 FLUSHALL", "r1",
	}},
	{"INFO counts blocked clients", []string{
		"c1 BLPOP k 0", "w1", "c2 BLMOVE k d LEFT LEFT 100", "w2",
		"i0", "d0 LPUSH k a b", "r1", "r2", "i0",
	}},
	{"pushes inside MULTI/EXEC serve waiters after EXEC, in arrival order", []string{
		"c1 BLPOP k 0", "w1", "c2 BRPOP k 0", "w2",
		"d0 MULTI", "d0 RPUSH k a", "d0 RPUSH k b c", "d0 LPOP k", "d0 EXEC", "r1", "r2", "d0 LRANGE k 0 -1",
	}},
	{"sorted-set waiters: BZPOPMIN, BZPOPMAX, BZMPOP in arrival order", []string{
		"c1 BZPOPMIN z 0", "w1", "c2 BZPOPMAX y z 0", "w2", "c3 BZMPOP 0 2 y z MAX COUNT 2", "w3",
		"d0 ZADD z 1 a 2 b 3 c 4 d 5 e", "r1", "r2", "r3", "d0 ZRANGE z 0 -1 WITHSCORES",
		"c1 BZPOPMIN z2 0", "w1", "d0 RPUSH z2 notazset", "d0 DEL z2", "d0 ZADD z2 -inf m", "r1",
		"x1 HELLO 3", "c1 BZMPOP 0.05 1 nothing MIN", "r1", "c1 BZPOPMAX nothing 0.05", "r1",
		"c1 BZPOPMIN z3 0", "w1", "d0 MULTI", "d0 ZADD z3 7 x", "d0 ZADD z3 8 y", "d0 EXEC", "r1", "d0 ZCARD z3",
	}},
	{"RESP3 waiter", []string{
		"x1 HELLO 3", "c1 BLMPOP 0 1 k LEFT", "w1", "d0 LPUSH k a", "r1",
		"c1 BLPOP k 0.05", "r1",
	}},
}

// TestBlockingDifferential runs each scenario on redis-server and on Strata and compares every
// reply byte for byte.
func TestBlockingDifferential(t *testing.T) { diffScenarios(t, blockingScenarios) }

// diffScenarios runs each scenario on a redis-server and a Strata of its own, in parallel, and
// compares every reply byte for byte.
func diffScenarios(t *testing.T, scenarios []blockingScenario) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			r := servertest.StartRedis(t)
			s := servertest.StartStrata(t, nil)
			want := runScenario(t, sc, func() *servertest.Conn { return r.Dial(t) }, func(c *servertest.Conn) int {
				m := regexp.MustCompile(`blocked_clients:(\d+)`).FindStringSubmatch(c.Do("INFO", "clients"))
				n, _ := strconv.Atoi(m[1])
				return n
			})
			got := runScenario(t, sc, func() *servertest.Conn { return s.Dial(t) }, func(*servertest.Conn) int {
				return s.BlockedClients()
			})
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("step %s\n  redis:  %q\n  strata: %q", want[i].step, want[i].reply, got[i].reply)
				}
			}
		})
	}
}

type stepReply struct{ step, reply string }

func runScenario(t *testing.T, sc blockingScenario, dial func() *servertest.Conn, blocked func(*servertest.Conn) int) []stepReply {
	conns := map[string]*servertest.Conn{}
	conn := func(name string) *servertest.Conn {
		if conns[name] == nil {
			conns[name] = dial()
		}
		return conns[name]
	}
	admin := dial()
	var out []stepReply
	for _, step := range sc.steps {
		head, rest, _ := strings.Cut(step, " ")
		op, name := head[:1], head[1:]
		args := strings.Fields(rest)
		switch op {
		case "c":
			conn(name).Send(args...)
		case "d":
			out = append(out, stepReply{step, conn(name).Do(args...)})
		case "x":
			conn(name).Do(args...)
		case "i":
			var keep []string
			for _, l := range strings.Split(conn(name).Do("INFO", "clients"), "\r\n") {
				if strings.HasPrefix(l, "blocked_clients:") || strings.HasPrefix(l, "clients_in_timeout_table:") {
					keep = append(keep, l)
				}
			}
			out = append(out, stepReply{step, strings.Join(keep, " ")})
		case "r":
			out = append(out, stepReply{step, conn(name).Read()})
		case "w":
			n, _ := strconv.Atoi(name)
			deadline := time.Now().Add(10 * time.Second)
			for blocked(admin) != n {
				if time.Now().After(deadline) {
					t.Fatalf("%s: %d clients blocked, want %d", sc.name, blocked(admin), n)
				}
				time.Sleep(time.Millisecond)
			}
		}
	}
	return out
}
