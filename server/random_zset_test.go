package server_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stratadb/strata/server/servertest"
)

// zsetPools are the names the sorted-set generators draw from: small sets on a few keys (their
// members come from a pool of 16, so Redis keeps them in listpacks, where a lex range over mixed
// scores has one defined answer), big sets past the rank-bucket threshold on others, and the
// destinations of stores. Lex ranges go to small sets only: over mixed scores in a skiplist
// Redis's answer depends on its random node levels.
type zsetPools struct {
	small, big, dst []string // keys
	members         []string // members of small sets
	bigMembers      int      // members of big sets are b0..b<n>
}

func newZSetPools() *zsetPools {
	return &zsetPools{
		small:      []string{"z0", "z1", "z2", "z3", "{t}z", "s0"},
		big:        []string{"big0", "big1"},
		dst:        []string{"d0", "d1"},
		members:    []string{"a", "b", "c", "d", "e", "f", "g", "h", "aa", "ab", "", "x y", "\x00", "\xff", "10", "-1"},
		bigMembers: 300,
	}
}

func pick(r *rand.Rand, xs []string) string { return xs[r.IntN(len(xs))] }

// score returns a score string: mostly small integers (ties), some decimals, infinities, huge.
func score(r *rand.Rand) string {
	switch r.IntN(12) {
	case 0:
		return pick(r, []string{"inf", "-inf", "+inf"})
	case 1:
		return strconv.FormatFloat(r.NormFloat64()*100, 'f', r.IntN(4), 64)
	case 2:
		return pick(r, []string{"1e300", "-1e300", "0.1", "0.2", "0.30000000000000004", "-0", "1e-5"})
	default:
		return strconv.Itoa(r.IntN(10) - 3)
	}
}

// bound returns a score bound: a score, exclusive or not.
func bound(r *rand.Rand) string {
	s := score(r)
	if r.IntN(3) == 0 {
		return "(" + s
	}
	return s
}

func lexBound(r *rand.Rand, p *zsetPools) string {
	switch r.IntN(6) {
	case 0:
		return "-"
	case 1:
		return "+"
	case 2:
		return "(" + pick(r, p.members)
	default:
		return "[" + pick(r, p.members)
	}
}

func (p *zsetPools) member(r *rand.Rand, big bool) string {
	if big {
		return "b" + strconv.Itoa(r.IntN(p.bigMembers))
	}
	return pick(r, p.members)
}

func (p *zsetPools) key(r *rand.Rand) (string, bool) {
	switch r.IntN(8) {
	case 0, 1:
		return pick(r, p.big), true
	case 2:
		return pick(r, p.dst), true
	}
	return pick(r, p.small), false
}

func zsetGenerators(p *zsetPools) []servertest.Generator {
	step := func(args ...string) servertest.Step { return servertest.Step{Args: args} }
	return []servertest.Generator{
		// ZADD with options (some conflicting), several pairs; big keys get many at once.
		func(r *rand.Rand) servertest.Step {
			k, big := p.key(r)
			args := []string{"ZADD", k}
			for _, o := range []string{"NX", "XX", "GT", "LT", "CH", "INCR"} {
				if r.IntN(9) == 0 {
					args = append(args, o)
				}
			}
			n := 1 + r.IntN(4)
			if big {
				n = 20 + r.IntN(60)
			}
			if r.IntN(10) == 0 {
				n = 1
			}
			for i := 0; i < n; i++ {
				sc := score(r)
				if big && r.IntN(4) != 0 {
					sc = strconv.Itoa(r.IntN(2000) - 1000) // spread: fewer members per score range
				}
				args = append(args, sc, p.member(r, big))
			}
			return step(args...)
		},
		func(r *rand.Rand) servertest.Step {
			k, big := p.key(r)
			return step("ZINCRBY", k, score(r), p.member(r, big))
		},
		func(r *rand.Rand) servertest.Step {
			k, big := p.key(r)
			args := []string{"ZREM", k}
			for i := 0; i < 1+r.IntN(5); i++ {
				args = append(args, p.member(r, big))
			}
			return step(args...)
		},
		// Reads of single members and counts.
		func(r *rand.Rand) servertest.Step {
			k, big := p.key(r)
			m := p.member(r, big)
			switch r.IntN(7) {
			case 0:
				return step("ZSCORE", k, m)
			case 1:
				return step("ZMSCORE", k, m, p.member(r, big))
			case 2:
				return step("ZRANK", k, m)
			case 3:
				return step("ZREVRANK", k, m)
			case 4:
				return step("ZCARD", k)
			case 5:
				return step("ZCOUNT", k, bound(r), bound(r))
			}
			k = pick(r, p.small)
			return step("ZLEXCOUNT", k, lexBound(r, p), lexBound(r, p))
		},
		// Ranges of every kind.
		func(r *rand.Rand) servertest.Step {
			k, big := p.key(r)
			var args []string
			switch r.IntN(4) {
			case 0:
				args = []string{"ZRANGE", k, strconv.Itoa(r.IntN(40) - 20), strconv.Itoa(r.IntN(60) - 20)}
			case 1:
				args = []string{"ZRANGE", k, bound(r), bound(r), "BYSCORE"}
			case 2:
				if big {
					k = pick(r, p.small)
				}
				args = []string{"ZRANGE", k, lexBound(r, p), lexBound(r, p), "BYLEX"}
			default:
				args = []string{pick(r, []string{"ZRANGEBYSCORE", "ZREVRANGEBYSCORE"}), k, bound(r), bound(r)}
			}
			if r.IntN(3) == 0 && args[0] == "ZRANGE" {
				args = append(args, "REV")
			}
			if r.IntN(3) == 0 && (len(args) > 4 || args[0] != "ZRANGE") {
				args = append(args, "LIMIT", strconv.Itoa(r.IntN(200)-5), strconv.Itoa(r.IntN(20)-3))
			}
			if r.IntN(2) == 0 && args[len(args)-1] != "BYLEX" {
				args = append(args, "WITHSCORES")
			}
			return step(args...)
		},
		// Removals by range, pops.
		func(r *rand.Rand) servertest.Step {
			k, big := p.key(r)
			switch r.IntN(6) {
			case 0:
				return step("ZREMRANGEBYRANK", k, strconv.Itoa(r.IntN(20)-10), strconv.Itoa(r.IntN(20)-10))
			case 1:
				return step("ZREMRANGEBYSCORE", k, bound(r), bound(r))
			case 2:
				if big {
					k = pick(r, p.small)
				}
				return step("ZREMRANGEBYLEX", k, lexBound(r, p), lexBound(r, p))
			case 3:
				return step(pick(r, []string{"ZPOPMIN", "ZPOPMAX"}), k, strconv.Itoa(r.IntN(5)))
			case 4:
				return step("ZPOPMIN", k)
			}
			k2, _ := p.key(r)
			return step("ZMPOP", "2", k, k2, pick(r, []string{"MIN", "MAX"}), "COUNT", strconv.Itoa(1+r.IntN(4)))
		},
		// Set operations and stores.
		func(r *rand.Rand) servertest.Step {
			a, _ := p.key(r)
			b, _ := p.key(r)
			dst := pick(r, p.dst)
			if r.IntN(5) == 0 {
				dst = pick(r, p.big)
			}
			switch r.IntN(6) {
			case 0:
				return step("ZRANGESTORE", dst, a, strconv.Itoa(r.IntN(10)-5), strconv.Itoa(r.IntN(30)-5))
			case 1:
				return step("ZRANGESTORE", dst, a, bound(r), bound(r), "BYSCORE", "LIMIT", "1", "10")
			case 2:
				return step("ZINTERCARD", "2", a, b)
			case 3:
				return step("ZDIFFSTORE", dst, "2", a, b)
			}
			op := pick(r, []string{"ZUNION", "ZINTER", "ZUNIONSTORE", "ZINTERSTORE"})
			args := []string{op}
			if strings.HasSuffix(op, "STORE") {
				args = append(args, dst)
			}
			args = append(args, "2", a, b)
			if r.IntN(2) == 0 {
				args = append(args, "WEIGHTS", score(r), score(r))
			}
			if r.IntN(2) == 0 {
				args = append(args, "AGGREGATE", pick(r, []string{"SUM", "MIN", "MAX"}))
			}
			if !strings.HasSuffix(op, "STORE") && r.IntN(2) == 0 {
				args = append(args, "WITHSCORES")
			}
			return step(args...)
		},
		// Whole-key checks, random picks (shape only) and the odd wrong type.
		func(r *rand.Rand) servertest.Step {
			k, _ := p.key(r)
			switch r.IntN(8) {
			case 0:
				return servertest.Step{Args: []string{"ZRANDMEMBER", k, strconv.Itoa(r.IntN(10) - 5)}, Compare: servertest.TypeOnly}
			case 1:
				return step("SET", "s0", "string")
			}
			return step("ZRANGE", k, "0", "-1", "WITHSCORES")
		},
	}
}

// TestRandomZSet runs seeded random sorted-set command mixes against redis-server and Strata,
// comparing every reply (whole sets are read back often, as ZRANGE 0 -1 WITHSCORES).
func TestRandomZSet(t *testing.T) {
	for _, seed := range zsetSeeds() {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			servertest.RandomDiff(t, seed, 3000, nil, zsetGenerators(newZSetPools())...)
		})
	}
}

// zsetSeeds are the seeds CI runs; STRATA_ZSET_SEEDS=n runs seeds 1..n instead (for a longer
// local soak).
func zsetSeeds() []uint64 {
	n := 5
	if v, err := strconv.Atoi(os.Getenv("STRATA_ZSET_SEEDS")); err == nil && v > 0 {
		n = v
	}
	out := make([]uint64, n)
	for i := range out {
		out[i] = uint64(i + 1)
	}
	return out
}

// respValue decodes one raw reply into strings (bulk, simple, double text), int64s, nil, errors
// (as "ERR..." strings prefixed with '-') and []any for aggregates.
func respValue(t *testing.T, raw string) any {
	t.Helper()
	v, rest := respDecode(t, raw)
	if rest != "" {
		t.Fatalf("trailing bytes after reply: %q", rest)
	}
	return v
}

func respDecode(t *testing.T, s string) (any, string) {
	t.Helper()
	line, rest, ok := strings.Cut(s, "\r\n")
	if !ok || line == "" {
		t.Fatalf("bad reply %q", s)
	}
	switch line[0] {
	case '+', ',':
		return line[1:], rest
	case '-':
		return line, rest
	case ':':
		n, _ := strconv.ParseInt(line[1:], 10, 64)
		return n, rest
	case '_':
		return nil, rest
	case '$':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return nil, rest
		}
		return rest[:n], rest[n+2:]
	case '*':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return nil, rest
		}
		out := make([]any, n)
		for i := range out {
			out[i], rest = respDecode(t, rest)
		}
		return out, rest
	}
	t.Fatalf("unexpected reply %q", s)
	return nil, ""
}

// TestZRandMemberShapes checks what the differential scripts cannot compare: random picks are
// members of the set, distinct when they must be, with their own scores, in the shape each
// protocol expects.
func TestZRandMemberShapes(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	c := s.Dial(t)
	scores := map[string]string{}
	for _, size := range []int{10, 300} {
		key := fmt.Sprint("z", size)
		args := []string{"ZADD", key}
		for i := 0; i < size; i++ {
			m := fmt.Sprint("m", i)
			scores[m] = strconv.Itoa(i % 13)
			args = append(args, scores[m], m)
		}
		c.Do(args...)
		check := func(count int, withScores bool, resp int) {
			t.Helper()
			args := []string{"ZRANDMEMBER", key, strconv.Itoa(count)}
			if withScores {
				args = append(args, "WITHSCORES")
			}
			reply := respValue(t, c.Do(args...))
			arr, ok := reply.([]any)
			if !ok {
				t.Fatalf("%v: not an array: %v", args, reply)
			}
			want := count
			if count < 0 {
				want = -count
			} else if count > size {
				want = size
			}
			var members []string
			switch {
			case withScores && resp == 2:
				if len(arr) != 2*want {
					t.Fatalf("%v: %d elements, want %d", args, len(arr), 2*want)
				}
				for i := 0; i < len(arr); i += 2 {
					members = append(members, arr[i].(string))
					if arr[i+1].(string) != scores[arr[i].(string)] {
						t.Fatalf("%v: %v has score %v", args, arr[i], arr[i+1])
					}
				}
			case withScores:
				if len(arr) != want {
					t.Fatalf("%v: %d pairs, want %d", args, len(arr), want)
				}
				for _, p := range arr {
					pair := p.([]any)
					members = append(members, pair[0].(string))
					if pair[1].(string) != scores[pair[0].(string)] {
						t.Fatalf("%v: %v has score %v", args, pair[0], pair[1])
					}
				}
			default:
				if len(arr) != want {
					t.Fatalf("%v: %d members, want %d", args, len(arr), want)
				}
				for _, m := range arr {
					members = append(members, m.(string))
				}
			}
			seen := map[string]bool{}
			for _, m := range members {
				if _, ok := scores[m]; !ok || !strings.HasPrefix(m, "m") {
					t.Fatalf("%v: %q is not a member", args, m)
				}
				if count > 0 && seen[m] {
					t.Fatalf("%v: %q twice", args, m)
				}
				seen[m] = true
			}
		}
		for _, resp := range []int{2, 3} {
			c.Do("HELLO", strconv.Itoa(resp))
			for _, count := range []int{1, 3, size / 3, size/3 + 1, size - 1, size, size + 5, -1, -7, -2 * size} {
				check(count, false, resp)
				check(count, true, resp)
			}
		}
		c.Do("HELLO", "2")
		one := respValue(t, c.Do("ZRANDMEMBER", key))
		if _, ok := scores[one.(string)]; !ok {
			t.Fatalf("ZRANDMEMBER %s = %v", key, one)
		}
	}
	if v := respValue(t, c.Do("ZRANDMEMBER", "nosuch")); v != nil {
		t.Fatalf("ZRANDMEMBER of a missing key = %v", v)
	}
}

// TestZSetOpsWithSets compares ZUNION/ZINTER/ZDIFF over plain sets with Redis.
func TestZSetOpsWithSets(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	r := servertest.StartRedis(t)
	sc, rc := s.Dial(t), r.Dial(t)
	servertest.RunDiff(t, "zset-with-sets", `
ZADD a 1 x 2 y 3 z
ZADD b 10 y 20 z 30 w
SADD set z w q
SADD ints 3 1 2
ZUNION 2 a set WITHSCORES
ZUNION 2 a set WEIGHTS 1 5 WITHSCORES
ZUNION 3 a set ints AGGREGATE MAX WITHSCORES
ZINTER 2 a set WITHSCORES
ZINTER 2 set b WITHSCORES
ZINTER 2 set set WEIGHTS 2 3 WITHSCORES
ZDIFF 2 b set WITHSCORES
ZDIFF 2 set a WITHSCORES
ZINTERCARD 2 a set
ZUNIONSTORE dst 1 set
ZRANGE dst 0 -1 WITHSCORES
ZINTERSTORE dst 2 set ints
ZRANGE dst 0 -1 WITHSCORES
ZRANGESTORE dst set 0 -1
ZADD set 1 x
GEOSEARCH set FROMLONLAT 0 0 BYRADIUS 1 km
`, sc, rc)
}

// TestZScanBig walks a set Redis would hold in a skiplist (it then scans it in steps, in hash
// order, so no script can compare the steps): every member comes back exactly once, with its
// score, and the cursor ends at 0.
func TestZScanBig(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	c := s.Dial(t)
	const n = 1000
	args := []string{"ZADD", "big"}
	for i := 0; i < n; i++ {
		args = append(args, strconv.Itoa(i)+".5", fmt.Sprint("m", i))
	}
	c.Do(args...)
	for _, count := range []string{"1", "37", "10000"} {
		seen := map[string]bool{}
		cursor := "0"
		for calls := 0; ; calls++ {
			if calls > 2*n {
				t.Fatalf("COUNT %s: the cursor never came back to 0", count)
			}
			reply := respValue(t, c.Do("ZSCAN", "big", cursor, "COUNT", count)).([]any)
			cursor = reply[0].(string)
			items := reply[1].([]any)
			for i := 0; i < len(items); i += 2 {
				m, score := items[i].(string), items[i+1].(string)
				if seen[m] {
					t.Fatalf("COUNT %s: %s twice", count, m)
				}
				seen[m] = true
				if want := strings.TrimPrefix(m, "m") + ".5"; score != want {
					t.Fatalf("COUNT %s: %s has score %s, want %s", count, m, score, want)
				}
			}
			if cursor == "0" {
				break
			}
		}
		if len(seen) != n {
			t.Fatalf("COUNT %s: %d members seen, want %d", count, len(seen), n)
		}
	}
	reply := respValue(t, c.Do("ZSCAN", "big", "0", "MATCH", "m99*", "COUNT", "10000")).([]any)
	if got := len(reply[1].([]any)); got != 2*11 {
		t.Fatalf("MATCH m99* found %d elements, want 22", got)
	}
}
