package main

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/server/servertest"
)

// Sorted-set ranks on a big set. ZRANK, ZREVRANK and ZRANGE by index on a one-million-member
// set, at its start, middle and end, against ZSCORE (one point read) and against a scan from
// the start (what a rank costs without the rank buckets); and what keeping the buckets costs a
// ZADD. Run: go test ./benchmarks -run x -bench ZSet -benchtime 2000x
//
// BenchmarkZSetEngine calls the engine directly (a Txn per operation, as a command runs, no
// network) so that the storage costs show; BenchmarkZSetServer sends the commands over a
// connection to Strata and to redis-server side by side and reports both.

const bigSet = 1_000_000

// engineSet opens an engine in a temporary directory and fills key with n members with random
// scores, in commands of 5000 members, the way a client would build it.
func engineSet(b *testing.B, key []byte, n int) (*engine.Engine, [][]byte) {
	// A block cache that holds the whole set, so that the numbers are the engine's work rather
	// than the page cache's (with the default 64 MiB, ZSCORE and ZRANK both pay block reads).
	e, err := engine.Open(engine.Options{Dir: b.TempDir(), BlockCacheSize: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close() })
	rng := rand.New(rand.NewPCG(1, 2))
	members := make([][]byte, n)
	for i := range members {
		members[i] = []byte("member:" + strconv.Itoa(i))
	}
	for i := 0; i < n; i += 5000 {
		chunk := members[i:min(i+5000, n)]
		scores := make([]float64, len(chunk))
		for j := range scores {
			scores[j] = float64(rng.IntN(1 << 30))
		}
		write(b, e, key, func(tx *engine.Txn) error {
			_, err := tx.ZAdd(key, engine.ZAddFlags{}, scores, chunk)
			return err
		})
	}
	settle(e)
	return e, members
}

// withCPU runs a benchmark body and reports its process CPU time per operation besides the
// wall time.
func withCPU(fn func(b *testing.B)) func(b *testing.B) {
	return func(b *testing.B) {
		start := cpuTime()
		fn(b)
		b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// settle waits (up to a minute) until the compactions the fill started have finished, so
// that they do not share the CPU with what is measured.
func settle(e *engine.Engine) {
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		m := e.Metrics()
		if m.Compact.NumInProgress == 0 && m.Flush.NumInProgress == 0 && m.Compact.EstimatedDebt == 0 {
			return
		}
	}
}

func txn(b *testing.B, e *engine.Engine, mode engine.LockMode, key []byte, fn func(tx *engine.Txn) error) {
	tx := e.NewTxn()
	tx.Begin(0, mode)
	tx.AddKey(key)
	if err := tx.Lock(); err != nil {
		b.Fatal(err)
	}
	if err := fn(tx); err != nil {
		b.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

func read(b *testing.B, e *engine.Engine, key []byte, fn func(tx *engine.Txn) error) {
	txn(b, e, engine.LockRead, key, fn)
}

func write(b *testing.B, e *engine.Engine, key []byte, fn func(tx *engine.Txn) error) {
	txn(b, e, engine.LockWrite, key, fn)
}

// BenchmarkZSetEngine: reads and writes on a one-million-member set through the engine.
func BenchmarkZSetEngine(b *testing.B) {
	key := []byte("bench:zset")
	e, members := engineSet(b, key, bigSet)
	// Members sorted by rank, to ask for ranks at chosen places.
	var byRank [][]byte
	read(b, e, key, func(tx *engine.Txn) error {
		_, err := tx.ZSetEach(key, func(m []byte, _ float64) error {
			byRank = append(byRank, append([]byte(nil), m...))
			return nil
		})
		return err
	})
	places := []struct {
		name string
		rank int
	}{{"start", 10}, {"middle", bigSet / 2}, {"end", bigSet - 10}}

	// Hot: the same few members again and again (their blocks cached), at three places of
	// the order. Random: any member of the million (mostly cold blocks: what a point read
	// from disk costs, once for ZSCORE and twice for ZRANK).
	for _, p := range places {
		b.Run("ZSCORE/"+p.name, withCPU(func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				read(b, e, key, func(tx *engine.Txn) error {
					_, _, err := tx.ZScore(key, byRank[p.rank+i%8])
					return err
				})
			}
		}))
		b.Run("ZRANK/"+p.name, withCPU(func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				m := byRank[p.rank+i%8]
				read(b, e, key, func(tx *engine.Txn) error {
					r, ok, err := tx.ZRank(key, m, false)
					if err == nil && (!ok || r != int64(p.rank+i%8)) {
						err = fmt.Errorf("ZRANK %s = %d %v", m, r, ok)
					}
					return err
				})
			}
		}))
	}
	b.Run("ZSCORE/random", withCPU(func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			read(b, e, key, func(tx *engine.Txn) error {
				_, _, err := tx.ZScore(key, members[(i*7919)%bigSet])
				return err
			})
		}
	}))
	b.Run("ZRANK/random", withCPU(func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			read(b, e, key, func(tx *engine.Txn) error {
				_, _, err := tx.ZRank(key, members[(i*7919+13)%bigSet], false)
				return err
			})
		}
	}))
	b.Run("ZREVRANK/middle", withCPU(func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			read(b, e, key, func(tx *engine.Txn) error {
				_, _, err := tx.ZRank(key, byRank[bigSet/2+i%8], true)
				return err
			})
		}
	}))
	for _, p := range places {
		b.Run("ZRANGE-10/"+p.name, withCPU(func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				read(b, e, key, func(tx *engine.Txn) error {
					ms, err := tx.ZRange(key, engine.ZRangeSpec{By: engine.ZByRank, Start: int64(p.rank - 5), Stop: int64(p.rank + 4)})
					if err == nil && len(ms) != 10 {
						err = fmt.Errorf("ZRANGE returned %d", len(ms))
					}
					return err
				})
			}
		}))
	}
	b.Run("ZCOUNT/half", withCPU(func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			read(b, e, key, func(tx *engine.Txn) error {
				_, err := tx.ZCount(key, engine.ScoreRange{Min: float64(i % 1000), Max: 1 << 29})
				return err
			})
		}
	}))
	// What a rank would cost without buckets: walking the members from the start.
	b.Run("scan-to-middle", withCPU(func(b *testing.B) {
		b.N = min(b.N, 10) // a tenth of a second each: -benchtime Nx should not mean N of these
		for i := 0; i < b.N; i++ {
			read(b, e, key, func(tx *engine.Txn) error {
				n := 0
				stop := fmt.Errorf("stop")
				_, err := tx.ZSetEach(key, func([]byte, float64) error {
					if n++; n == bigSet/2 {
						return stop
					}
					return nil
				})
				if err == stop {
					err = nil
				}
				return err
			})
		}
	}))
	// Writes: a new member in and out again, on the big set (one bucket updated per change,
	// a split or merge now and then) and on a 50-member set (no buckets).
	small := []byte("bench:small")
	write(b, e, small, func(tx *engine.Txn) error {
		_, err := tx.ZAdd(small, engine.ZAddFlags{}, make([]float64, 50), members[:50])
		return err
	})
	for _, k := range []struct {
		name string
		key  []byte
	}{{"1M", key}, {"50", small}} {
		b.Run("ZADD+ZREM/"+k.name, withCPU(func(b *testing.B) {
			rng := rand.New(rand.NewPCG(3, 4))
			for i := 0; i < b.N; i++ {
				m := []byte("new:" + strconv.Itoa(i))
				write(b, e, k.key, func(tx *engine.Txn) error {
					_, err := tx.ZAdd(k.key, engine.ZAddFlags{}, []float64{float64(rng.IntN(1 << 30))}, [][]byte{m})
					return err
				})
				write(b, e, k.key, func(tx *engine.Txn) error {
					_, err := tx.ZRem(k.key, [][]byte{m})
					return err
				})
			}
		}))
		b.Run("ZINCRBY/"+k.name, withCPU(func(b *testing.B) {
			rng := rand.New(rand.NewPCG(5, 6))
			for i := 0; i < b.N; i++ {
				m := members[rng.IntN(50)]
				write(b, e, k.key, func(tx *engine.Txn) error {
					_, err := tx.ZAdd(k.key, engine.ZAddFlags{Incr: true}, []float64{float64(rng.IntN(1<<20) - 1<<19)}, [][]byte{m})
					return err
				})
			}
		}))
	}
}

// BenchmarkZSetServer sends the same reads to Strata and to redis-server over one connection
// each (no pipelining: the latency of one command), on a one-million-member set built on both.
func BenchmarkZSetServer(b *testing.B) {
	redis := servertest.StartRedis(b)
	strata := servertest.StartStrata(b, nil)
	rc, sc := redis.Dial(b), strata.Dial(b)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < bigSet; i += 16 * 1000 {
		sent := 0
		for j := i; j < min(i+16*1000, bigSet); j += 1000 {
			args := []string{"ZADD", "bench:zset"}
			for k := j; k < j+1000; k++ {
				args = append(args, strconv.Itoa(rng.IntN(1<<30)), "member:"+strconv.Itoa(k))
			}
			rc.Send(args...)
			sc.Send(args...)
			sent++
		}
		for ; sent > 0; sent-- {
			rc.Read()
			sc.Read()
		}
	}
	settle(strata.Engine())
	if got := sc.Do("ZCARD", "bench:zset"); got != ":1000000\r\n" {
		b.Fatalf("strata ZCARD = %q", got)
	}
	memberAt := func(rank int) string {
		r := rc.Do("ZRANGE", "bench:zset", strconv.Itoa(rank), strconv.Itoa(rank))
		_, rest, _ := strings.Cut(r, "\r\n")
		_, rest, _ = strings.Cut(rest, "\r\n")
		m, _, _ := strings.Cut(rest, "\r\n")
		return m
	}
	cases := []struct {
		name string
		args []string
	}{
		{"ZSCORE", []string{"ZSCORE", "bench:zset", "member:123456"}},
		{"ZRANK/start", []string{"ZRANK", "bench:zset", memberAt(10)}},
		{"ZRANK/middle", []string{"ZRANK", "bench:zset", memberAt(bigSet / 2)}},
		{"ZRANK/end", []string{"ZRANK", "bench:zset", memberAt(bigSet - 10)}},
		{"ZRANGE-10/middle", []string{"ZRANGE", "bench:zset", strconv.Itoa(bigSet / 2), strconv.Itoa(bigSet/2 + 9)}},
		{"ZCOUNT", []string{"ZCOUNT", "bench:zset", "1000", "500000000"}},
	}
	for _, c := range cases {
		for _, s := range []struct {
			name string
			conn *servertest.Conn
		}{{"redis", rc}, {"strata", sc}} {
			b.Run(c.name+"/"+s.name, func(b *testing.B) {
				want := rc.Do(c.args...)
				for i := 0; i < b.N; i++ {
					if got := s.conn.Do(c.args...); got != want {
						b.Fatalf("%v = %q, redis says %q", c.args, got, want)
					}
				}
			})
		}
	}
}
