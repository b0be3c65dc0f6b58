package server_test

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/stratadb/strata/server/servertest"
)

// listGen generates list commands (and SORT, and the blocking ones when they cannot block
// long) over a small pool of keys and values, so that commands collide: LREM, LPOS and
// LINSERT find their values, keys change type, lists empty and vanish.
func listGen(pool *servertest.Pool) servertest.Generator {
	small := []string{"a", "b", "c", "1", "2", "10", ""}
	val := func(r *rand.Rand) string {
		if r.IntN(10) < 7 {
			return small[r.IntN(len(small))]
		}
		return servertest.Value(r)
	}
	idx := func(r *rand.Rand) string {
		switch r.IntN(10) {
		case 0:
			return strconv.FormatInt(r.Int64()-r.Int64(), 10)
		case 1:
			return "x"
		}
		return strconv.Itoa(r.IntN(14) - 7)
	}
	side := func(r *rand.Rand) string {
		return []string{"LEFT", "RIGHT", "left", "Right"}[r.IntN(4)]
	}
	vals := func(r *rand.Rand, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = val(r)
		}
		return out
	}
	return func(r *rand.Rand) servertest.Step {
		k := pool.Key(r)
		switch r.IntN(26) {
		case 0, 1, 2:
			return servertest.Step{Args: append([]string{"LPUSH", k}, vals(r, 1+r.IntN(4))...)}
		case 3, 4, 5:
			return servertest.Step{Args: append([]string{"RPUSH", k}, vals(r, 1+r.IntN(4))...)}
		case 6:
			cmd := []string{"LPUSHX", "RPUSHX"}[r.IntN(2)]
			return servertest.Step{Args: append([]string{cmd, k}, vals(r, 1+r.IntN(2))...)}
		case 7, 8:
			cmd := []string{"LPOP", "RPOP"}[r.IntN(2)]
			if r.IntN(2) == 0 {
				return servertest.Step{Args: []string{cmd, k}}
			}
			return servertest.Step{Args: []string{cmd, k, strconv.Itoa(r.IntN(5) - 1)}}
		case 9:
			return servertest.Step{Args: []string{"LLEN", k}}
		case 10:
			return servertest.Step{Args: []string{"LINDEX", k, idx(r)}}
		case 11:
			return servertest.Step{Args: []string{"LSET", k, idx(r), val(r)}}
		case 12, 13:
			return servertest.Step{Args: []string{"LRANGE", k, idx(r), idx(r)}}
		case 14:
			return servertest.Step{Args: []string{"LTRIM", k, idx(r), idx(r)}}
		case 15:
			return servertest.Step{Args: []string{"LREM", k, strconv.Itoa(r.IntN(7) - 3), val(r)}}
		case 16:
			where := []string{"BEFORE", "AFTER", "before", "after", "MIDDLE"}[r.IntN(5)]
			return servertest.Step{Args: []string{"LINSERT", k, where, val(r), val(r)}}
		case 17:
			args := []string{"LPOS", k, val(r)}
			if r.IntN(2) == 0 {
				args = append(args, "RANK", []string{"1", "2", "3", "-1", "-2", "-3", "0"}[r.IntN(7)])
			}
			if r.IntN(2) == 0 {
				args = append(args, "COUNT", strconv.Itoa(r.IntN(5)-1))
			}
			if r.IntN(2) == 0 {
				args = append(args, "MAXLEN", strconv.Itoa(r.IntN(7)-1))
			}
			return servertest.Step{Args: args}
		case 18:
			return servertest.Step{Args: []string{"LMOVE", k, pool.Key(r), side(r), side(r)}}
		case 19:
			return servertest.Step{Args: []string{"RPOPLPUSH", k, pool.Key(r)}}
		case 20:
			args := []string{"LMPOP", "2", k, pool.Key(r), side(r)}
			if r.IntN(2) == 0 {
				args = append(args, "COUNT", strconv.Itoa(r.IntN(4)))
			}
			return servertest.Step{Args: args}
		case 21:
			// Blocking forms: they only wait a millisecond when nothing is there.
			switch r.IntN(4) {
			case 0:
				return servertest.Step{Args: []string{"BLPOP", k, pool.Key(r), "0.001"}}
			case 1:
				return servertest.Step{Args: []string{"BRPOP", k, "0.001"}}
			case 2:
				return servertest.Step{Args: []string{"BLMOVE", k, pool.Key(r), side(r), side(r), "0.001"}}
			}
			return servertest.Step{Args: []string{"BLMPOP", "0.001", "1", k, side(r), "COUNT", "2"}}
		case 22:
			args := []string{"SORT", k}
			if r.IntN(2) == 0 {
				args = append(args, "ALPHA")
			}
			if r.IntN(3) == 0 {
				args = append(args, "DESC")
			}
			if r.IntN(3) == 0 {
				args = append(args, "LIMIT", strconv.Itoa(r.IntN(5)-1), strconv.Itoa(r.IntN(5)-1))
			}
			if r.IntN(4) == 0 {
				args = append(args, "BY", "nosort")
			}
			if r.IntN(4) == 0 {
				args = append(args, "STORE", pool.Key(r))
			}
			return servertest.Step{Args: args}
		case 23:
			// Strings stay until DEL or SORT ... STORE replaces them: rare.
			if r.IntN(6) == 0 {
				return servertest.Step{Args: []string{"SET", k, val(r)}}
			}
			return servertest.Step{Args: []string{"SORT", pool.Key(r), "BY", "nosort", "STORE", k}}
		case 24:
			if r.IntN(2) == 0 {
				return servertest.Step{Args: []string{"DEL", k}}
			}
			return servertest.Step{Args: []string{"GET", k}}
		}
		return servertest.Step{Args: []string{"LRANGE", k, "0", "-1"}}
	}
}

// dumpDBs names the databases RandomDiff compares at the end: none when the commands its dump
// reads (KEYS, TYPE, PTTL) are not in the tree.
func dumpDBs(t *testing.T) []int {
	s := servertest.StartStrata(t, nil)
	c := s.Dial(t)
	for _, cmd := range [][]string{{"KEYS", "*"}, {"TYPE", "k"}, {"PTTL", "k"}} {
		if strings.HasPrefix(c.Do(cmd...), "-ERR unknown command") {
			return nil
		}
	}
	return []int{0}
}

func TestRandomLists(t *testing.T) {
	dbs := dumpDBs(t)
	for _, seed := range []uint64{1, 2, 3, 4} {
		t.Run(strconv.FormatUint(seed, 10), func(t *testing.T) {
			t.Parallel()
			pool := servertest.NewPool(5)
			gen := listGen(pool)
			// A quarter of the steps read a whole list back, so that a divergence shows early.
			read := func(r *rand.Rand) servertest.Step {
				return servertest.Step{Args: []string{"LRANGE", pool.Key(r), "0", "-1"}}
			}
			servertest.RandomDiff(t, seed, 1500, dbs, gen, gen, gen, read)
		})
	}
}
