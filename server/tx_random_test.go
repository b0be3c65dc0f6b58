package server_test

import (
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/stratadb/strata/server/servertest"
)

// txGenerator mixes WATCH, MULTI, EXEC, DISCARD and UNWATCH into the string, hash, set, HLL
// and keyspace generators over a small key pool, on one connection: so every kind of write
// meets a watched key (does Strata dirty it exactly when Redis does?), commands are queued
// and run inside EXEC, and errors while queueing abort transactions. Inside MULTI only steps
// compared byte for byte are queued (EXEC's reply is compared whole). Step n (the last) is
// DISCARD, so that the keyspace can be compared afterwards.
func txGenerator(p *servertest.Pool, n int) servertest.Generator {
	var base []servertest.Generator
	base = append(base, stringGenerators(p)...)
	base = append(base, hashSetGenerators(p)...)
	base = append(base, keyspaceWriteGenerators(p)...)
	inMulti := false
	steps := 0
	exact := func(args ...string) servertest.Step { return servertest.Step{Args: args} }
	return func(r *rand.Rand) servertest.Step {
		if steps++; steps == n {
			return exact("DISCARD")
		}
		switch n := r.IntN(100); {
		case n < 8:
			args := []string{"WATCH"}
			for range 1 + r.IntN(3) {
				args = append(args, p.Key(r))
			}
			return exact(args...)
		case n < 14:
			inMulti = true
			return exact("MULTI")
		case n < 20:
			inMulti = false
			return exact("EXEC")
		case n < 21:
			inMulti = false
			return exact("DISCARD")
		case n < 23:
			return exact("UNWATCH")
		case n < 24 && inMulti:
			return exact([]string{"NOSUCH", "GET", "SHUTDOWN"}[r.IntN(3)]) // refused while queueing
		}
		for {
			st := base[r.IntN(len(base))](r)
			if !inMulti || st.Compare == servertest.Exact {
				return st
			}
		}
	}
}

// keyspaceWriteGenerators draws keyspace and string writes whose effect is certain (no TTL
// reads, which depend on timing).
func keyspaceWriteGenerators(p *servertest.Pool) []servertest.Generator {
	exact := func(args ...string) servertest.Step { return servertest.Step{Args: args} }
	return []servertest.Generator{
		func(r *rand.Rand) servertest.Step { return exact("DEL", p.Key(r), p.Key(r)) },
		func(r *rand.Rand) servertest.Step {
			opt := []string{"", "NX", "XX", "GT", "LT"}[r.IntN(5)]
			args := []string{"EXPIRE", p.Key(r), strconv.Itoa(1000 + r.IntN(1000))}
			if opt != "" {
				args = append(args, opt)
			}
			return exact(args...)
		},
		func(r *rand.Rand) servertest.Step { return exact("PERSIST", p.Key(r)) },
		func(r *rand.Rand) servertest.Step {
			return exact([]string{"RENAME", "RENAMENX"}[r.IntN(2)], p.Key(r), p.Key(r))
		},
		func(r *rand.Rand) servertest.Step {
			args := []string{"COPY", p.Key(r), p.Key(r)}
			if r.IntN(2) == 0 {
				args = append(args, "REPLACE")
			}
			return exact(args...)
		},
		func(r *rand.Rand) servertest.Step { return exact("MOVE", p.Key(r), "1") },
		func(r *rand.Rand) servertest.Step {
			return exact("SETBIT", p.Key(r), strconv.Itoa(r.IntN(40)), strconv.Itoa(r.IntN(2)))
		},
		func(r *rand.Rand) servertest.Step {
			switch r.IntN(5) {
			case 0:
				return exact("INCRBY", p.Key(r), strconv.Itoa(r.IntN(3)))
			case 1:
				return exact("APPEND", p.Key(r), []string{"", "x"}[r.IntN(2)])
			case 2:
				return exact("SETRANGE", p.Key(r), strconv.Itoa(r.IntN(4)), []string{"", "ab"}[r.IntN(2)])
			case 3:
				return exact("GETDEL", p.Key(r))
			}
			return exact("GETEX", p.Key(r), []string{"PERSIST", "EX", "EX"}[r.IntN(3)], "5000")
		},
		func(r *rand.Rand) servertest.Step {
			switch r.IntN(8) {
			case 0:
				return exact("FLUSHDB")
			case 1:
				return exact("SWAPDB", "0", "1")
			}
			return exact("MSETNX", p.Key(r), "m", p.Key(r), "n")
		},
	}
}

// TestRandomTransactions compares seeded random transaction traffic with redis-server, reply
// for reply, and the final keyspace of both databases.
func TestRandomTransactions(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3, 4} {
		t.Run("seed"+strconv.FormatUint(seed, 10), func(t *testing.T) {
			t.Parallel()
			p := servertest.NewPool(6)
			const steps = 5000
			servertest.RandomDiff(t, seed, steps, []int{0, 1}, txGenerator(p, steps))
		})
	}
}
