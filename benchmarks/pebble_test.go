package main

import (
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stratadb/strata/engine"
)

// BenchmarkPebbleTuning measures the engine's write path (SET of 100-byte values over a
// keyspace of 1M keys from 4 goroutines, through engine.Txn, no network) with the Pebble
// settings a user may tune, and reports what matters on a shared machine: the CPU time the
// whole process spent per SET (cpu-ns/op, from getrusage: the committers plus Pebble's
// flushes and compactions, which run in the background and are waited for before the clock
// stops), not only the wall time. Also: bytes written to disk per byte of value (write-amp)
// and the L0 sublevels left.
//
//	go test -run '^$' -bench PebbleTuning -benchtime 1000000x ./benchmarks/
func BenchmarkPebbleTuning(b *testing.B) {
	for _, c := range []struct {
		name string
		opts engine.Options
	}{
		{"memtable=4MB", engine.Options{MemTableSize: 4 << 20}},
		{"memtable=8MB", engine.Options{MemTableSize: 8 << 20}},
		{"memtable=16MB", engine.Options{MemTableSize: 16 << 20}},
		{"memtable=32MB", engine.Options{MemTableSize: 32 << 20}},
		{"memtable=64MB", engine.Options{MemTableSize: 64 << 20}},
	} {
		b.Run(c.name, func(b *testing.B) {
			o := c.opts
			o.Dir = b.TempDir()
			o.Logger = slog.New(slog.DiscardHandler)
			e, err := engine.Open(o)
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			b.ReportAllocs()
			before := cpuTime()
			start := time.Now()
			b.ResetTimer()
			var wg sync.WaitGroup
			const writers = 4
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					setLoop(b, e, uint64(w), b.N/writers, 1_000_000, 100)
				}()
			}
			wg.Wait()
			waitCompactions(e)
			b.StopTimer()
			cpu := cpuTime() - before
			m := e.Metrics()
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(b.N), "wall-ns/op")
			var written uint64
			for _, l := range m.Levels {
				written += l.TableBytesFlushed + l.TableBytesCompacted
			}
			written += m.WAL.BytesWritten
			b.ReportMetric(float64(written)/float64(b.N*100), "write-amp")
			b.ReportMetric(float64(m.Levels[0].Sublevels), "L0-sublevels")
		})
	}
}

// setLoop runs n SETs of random keys among keys through engine.Txn.
func setLoop(b *testing.B, e *engine.Engine, seed uint64, n, keys, size int) {
	t := e.NewTxn()
	r := rand.New(rand.NewPCG(seed, 7))
	var k, v []byte
	for range n {
		i := r.Uint64N(uint64(keys))
		k, v = keyName(k[:0], i), valueOf(v[:0], i, size)
		t.Begin(0, engine.LockWrite)
		t.AddKey(k)
		if err := t.Lock(); err != nil {
			b.Error(err)
			return
		}
		if _, err := t.Set(k, v, engine.SetArgs{}); err != nil {
			t.Abort()
			b.Error(err)
			return
		}
		if err := t.Commit(); err != nil {
			b.Error(err)
			return
		}
	}
}
