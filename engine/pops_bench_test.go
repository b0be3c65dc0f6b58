package engine

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// Pop runs: a collection filled with run members (as redis-benchmark's ZADD and SADD fill
// theirs: random scores, "element:<random>" members), then popped empty one command at a
// time. ns/pop must stay flat as run grows: a pop must not cost more for every earlier pop.
// steps/pop counts the iterators' internal steps (Txn.steps: every tombstone stepped over),
// which the machine's load does not blur.

var popRuns = []int{1000, 5000, 20000}

// benchPopRun times popping runs of each length: fill (not timed) fills key with n members,
// pop (timed) pops one member in its own command.
func benchPopRun(b *testing.B, fill func(tx *Txn, key []byte, n int, rng *rand.Rand), pop func(tx *Txn, key []byte) error) {
	for _, run := range popRuns {
		b.Run("run="+strconv.Itoa(run), func(b *testing.B) {
			e := openTestEngine(b)
			rng := rand.New(rand.NewPCG(1, uint64(run)))
			tx := e.NewTxn()
			var popping time.Duration
			steps := 0
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				key := []byte("bench:" + strconv.Itoa(i))
				inTxn(b, e, 0, func(tx *Txn) error { fill(tx, key, run, rng); return nil })
				b.StartTimer()
				start := time.Now()
				for p := 0; p < run; p++ {
					tx.Begin(0, LockWrite)
					tx.AddKey(key)
					if err := tx.Lock(); err != nil {
						b.Fatal(err)
					}
					if err := pop(tx, key); err != nil {
						b.Fatal(err)
					}
					if err := tx.Commit(); err != nil {
						b.Fatal(err)
					}
					steps += tx.steps
				}
				popping += time.Since(start)
			}
			b.ReportMetric(float64(popping.Nanoseconds())/float64(b.N*run), "ns/pop")
			b.ReportMetric(float64(steps)/float64(b.N*run), "steps/pop")
		})
	}
}

func fillZSetRandom(tx *Txn, key []byte, n int, rng *rand.Rand) {
	scores := make([]float64, n)
	members := make([][]byte, n)
	for i := range members {
		scores[i] = float64(rng.IntN(1000000))
		members[i] = fmt.Appendf(nil, "element:%012d", i)
	}
	if _, err := tx.ZAdd(key, ZAddFlags{}, scores, members); err != nil {
		panic(err)
	}
}

func fillSetRandom(tx *Txn, key []byte, n int, rng *rand.Rand) {
	members := make([][]byte, n)
	for i := range members {
		members[i] = fmt.Appendf(nil, "element:%012d", rng.Uint64N(1e12))
	}
	if added, err := tx.SAdd(key, members); err != nil || added < int64(n)*99/100 {
		panic(fmt.Sprint(added, err))
	}
}

func BenchmarkZPopMinRun(b *testing.B) {
	benchPopRun(b, fillZSetRandom, func(tx *Txn, key []byte) error {
		_, err := tx.ZPopMin(key, 1)
		return err
	})
}

func BenchmarkZPopMaxRun(b *testing.B) {
	benchPopRun(b, fillZSetRandom, func(tx *Txn, key []byte) error {
		_, err := tx.ZPopMax(key, 1)
		return err
	})
}

func BenchmarkSPopRun(b *testing.B) {
	benchPopRun(b, fillSetRandom, func(tx *Txn, key []byte) error {
		_, _, err := tx.SPop(key)
		return err
	})
}
