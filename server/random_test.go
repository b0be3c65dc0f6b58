package server_test

import (
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/stratadb/strata/server/servertest"
)

// stringGenerators draws SET/GET with options over a small key pool. Each area adds its own
// generators beside this one and lists them in TestRandomCommands.
func stringGenerators(p *servertest.Pool) []servertest.Generator {
	return []servertest.Generator{
		func(r *rand.Rand) servertest.Step {
			args := []string{"SET", p.Key(r), servertest.Value(r)}
			switch r.IntN(6) {
			case 0:
				args = append(args, "NX")
			case 1:
				args = append(args, "XX")
			case 2:
				args = append(args, "GET")
			case 3:
				args = append(args, "EX", strconv.Itoa(100+r.IntN(1000)))
			case 4:
				args = append(args, "KEEPTTL")
			}
			return servertest.Step{Args: args}
		},
		func(r *rand.Rand) servertest.Step {
			return servertest.Step{Args: []string{"GET", p.Key(r)}}
		},
	}
}

// TestRandomCommands runs seeded random command sequences against redis-server and Strata and
// compares every reply and the final keyspace. Several seeds run in CI; a failure names its
// seed.
func TestRandomCommands(t *testing.T) {
	seeds := []uint64{1, 2, 3, 4}
	for _, seed := range seeds {
		t.Run("seed"+strconv.FormatUint(seed, 10), func(t *testing.T) {
			t.Parallel()
			p := servertest.NewPool(20)
			var gens []servertest.Generator
			gens = append(gens, stringGenerators(p)...)
			servertest.RandomDiff(t, seed, 2000, []int{0}, gens...)
		})
	}
}
