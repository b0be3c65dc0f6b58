package server_test

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/stratadb/strata/server/servertest"
)

// hashSetGenerators draws hash, set and HyperLogLog commands over the pool's keys, with string
// writes among them so that commands meet keys of the wrong type, and with bad arguments now
// and then. Commands whose effect is random (SPOP of part of a set) are left out: they would
// make the two servers' data diverge. SRANDMEMBER and HRANDFIELD only compare their reply type.
func hashSetGenerators(p *servertest.Pool) []servertest.Generator {
	field := func(r *rand.Rand) string {
		switch r.IntN(12) {
		case 0:
			return ""
		case 1:
			return "f\x00" + strconv.Itoa(r.IntN(3))
		default:
			return "f" + strconv.Itoa(r.IntN(12))
		}
	}
	fields := func(r *rand.Rand, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = field(r)
		}
		return out
	}
	keys := func(r *rand.Rand, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = p.Key(r)
		}
		return out
	}
	count := func(r *rand.Rand) string {
		switch r.IntN(8) {
		case 0:
			return "0"
		case 1:
			return "-" + strconv.Itoa(1+r.IntN(20))
		case 2:
			return "abc"
		case 3:
			return "100"
		default:
			return strconv.Itoa(1 + r.IntN(6))
		}
	}
	number := func(r *rand.Rand) string {
		switch r.IntN(10) {
		case 0:
			return "x"
		case 1:
			return "9223372036854775807"
		case 2:
			return strconv.FormatFloat(r.NormFloat64()*100, 'f', r.IntN(4), 64)
		default:
			return strconv.Itoa(r.IntN(200) - 100)
		}
	}
	exact := func(args ...string) servertest.Step { return servertest.Step{Args: args} }
	unordered := func(args ...string) servertest.Step {
		return servertest.Step{Args: args, Compare: servertest.Unordered}
	}
	typeOnly := func(args ...string) servertest.Step {
		return servertest.Step{Args: args, Compare: servertest.TypeOnly}
	}
	return []servertest.Generator{
		// Hashes.
		func(r *rand.Rand) servertest.Step {
			args := []string{"HSET", p.Key(r)}
			for range 1 + r.IntN(3) {
				args = append(args, field(r), servertest.Value(r))
			}
			if r.IntN(20) == 0 {
				args = args[:len(args)-1] // odd arity
			}
			if r.IntN(4) == 0 {
				args[0] = "HMSET"
			}
			return exact(args...)
		},
		func(r *rand.Rand) servertest.Step {
			return exact("HSETNX", p.Key(r), field(r), servertest.Value(r))
		},
		func(r *rand.Rand) servertest.Step { return exact("HGET", p.Key(r), field(r)) },
		func(r *rand.Rand) servertest.Step {
			return exact(append([]string{"HMGET", p.Key(r)}, fields(r, 1+r.IntN(3))...)...)
		},
		func(r *rand.Rand) servertest.Step {
			return exact(append([]string{"HDEL", p.Key(r)}, fields(r, 1+r.IntN(3))...)...)
		},
		func(r *rand.Rand) servertest.Step {
			cmd := []string{"HLEN", "HEXISTS", "HSTRLEN"}[r.IntN(3)]
			if cmd == "HLEN" {
				return exact(cmd, p.Key(r))
			}
			return exact(cmd, p.Key(r), field(r))
		},
		func(r *rand.Rand) servertest.Step {
			if r.IntN(2) == 0 {
				return exact("HINCRBY", p.Key(r), field(r), number(r))
			}
			return exact("HINCRBYFLOAT", p.Key(r), field(r), number(r))
		},
		func(r *rand.Rand) servertest.Step {
			return unordered([]string{"HGETALL", "HKEYS", "HVALS"}[r.IntN(3)], p.Key(r))
		},
		func(r *rand.Rand) servertest.Step {
			args := []string{"HRANDFIELD", p.Key(r)}
			if r.IntN(3) > 0 {
				args = append(args, count(r))
				if r.IntN(2) == 0 {
					args = append(args, "WITHVALUES")
				}
			}
			return typeOnly(args...)
		},
		func(r *rand.Rand) servertest.Step {
			return typeOnly("HSCAN", p.Key(r), "0", "COUNT", count(r))
		},
		// Sets.
		func(r *rand.Rand) servertest.Step {
			return exact(append([]string{"SADD", p.Key(r)}, fields(r, 1+r.IntN(4))...)...)
		},
		func(r *rand.Rand) servertest.Step {
			return exact(append([]string{"SREM", p.Key(r)}, fields(r, 1+r.IntN(3))...)...)
		},
		func(r *rand.Rand) servertest.Step {
			switch r.IntN(3) {
			case 0:
				return exact("SISMEMBER", p.Key(r), field(r))
			case 1:
				return exact(append([]string{"SMISMEMBER", p.Key(r)}, fields(r, 1+r.IntN(3))...)...)
			}
			return exact("SCARD", p.Key(r))
		},
		func(r *rand.Rand) servertest.Step { return unordered("SMEMBERS", p.Key(r)) },
		func(r *rand.Rand) servertest.Step {
			cmd := []string{"SINTER", "SUNION", "SDIFF"}[r.IntN(3)]
			return unordered(append([]string{cmd}, keys(r, 1+r.IntN(3))...)...)
		},
		func(r *rand.Rand) servertest.Step {
			cmd := []string{"SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"}[r.IntN(3)]
			return exact(append([]string{cmd}, keys(r, 2+r.IntN(3))...)...)
		},
		func(r *rand.Rand) servertest.Step {
			n := 1 + r.IntN(3)
			args := append([]string{"SINTERCARD", strconv.Itoa(n)}, keys(r, n)...)
			if r.IntN(2) == 0 {
				args = append(args, "LIMIT", count(r))
			}
			if r.IntN(15) == 0 {
				args[1] = count(r)
			}
			return exact(args...)
		},
		func(r *rand.Rand) servertest.Step { return exact("SMOVE", p.Key(r), p.Key(r), field(r)) },
		func(r *rand.Rand) servertest.Step {
			args := []string{"SRANDMEMBER", p.Key(r)}
			if r.IntN(2) == 0 {
				args = append(args, count(r))
			}
			return typeOnly(args...)
		},
		func(r *rand.Rand) servertest.Step {
			// Only SPOPs whose effect is certain: all of a set, nothing, or an error.
			return unordered("SPOP", p.Key(r), []string{"1000", "0", "-1", "x"}[r.IntN(4)])
		},
		// HyperLogLog, deterministic through and through.
		func(r *rand.Rand) servertest.Step {
			return exact(append([]string{"PFADD", p.Key(r)}, fields(r, r.IntN(4))...)...)
		},
		func(r *rand.Rand) servertest.Step {
			if r.IntN(3) == 0 {
				return exact(append([]string{"PFMERGE"}, keys(r, 1+r.IntN(3))...)...)
			}
			return exact(append([]string{"PFCOUNT"}, keys(r, 1+r.IntN(2))...)...)
		},
		// Strings, to meet the other types, and to read HLL bytes.
		func(r *rand.Rand) servertest.Step {
			if r.IntN(3) == 0 {
				return exact("SET", p.Key(r), servertest.Value(r))
			}
			return exact("GET", p.Key(r))
		},
	}
}

// TestRandomHashSet runs seeded random hash, set and HyperLogLog commands against redis-server
// and Strata and compares every reply (and the final keyspace, once KEYS, TYPE and PTTL are
// in the tree; until then the generators' frequent whole-collection reads cover the state).
func TestRandomHashSet(t *testing.T) {
	var dbs []int
	probe := servertest.StartStrata(t, nil).Dial(t)
	if !strings.HasPrefix(probe.Do("KEYS", "*"), "-") && !strings.HasPrefix(probe.Do("TYPE", "x"), "-") &&
		!strings.HasPrefix(probe.Do("PTTL", "x"), "-") {
		dbs = []int{0}
	}
	for _, seed := range []uint64{1, 2, 3, 4} {
		t.Run("seed"+strconv.FormatUint(seed, 10), func(t *testing.T) {
			t.Parallel()
			p := servertest.NewPool(8)
			servertest.RandomDiff(t, seed, 3000, dbs, hashSetGenerators(p)...)
		})
	}
}
