package main

import (
	"log/slog"
	"math/rand/v2"
	"testing"

	"github.com/stratadb/strata/engine"
)

// BenchmarkBigString measures partial writes to a 100 MB string against the same writes to a
// 100-byte string: a big value is stored in 4 KB chunks, so SETBIT and SETRANGE must cost
// about one chunk, not the value. Besides time and allocations it reports the bytes each
// operation puts into Pebble's write-ahead log (wal-B/op), which is what it writes.
//
//	go test -run '^$' -bench BigString -benchtime 2000x ./benchmarks/
func BenchmarkBigString(b *testing.B) {
	e, err := engine.Open(engine.Options{Dir: b.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	const bigSize = 100 << 20
	tx := e.NewTxn()
	run := func(key []byte, op func(t *engine.Txn) error) {
		tx.Begin(0, engine.LockWrite)
		tx.AddKey(key)
		if err := tx.Lock(); err != nil {
			b.Fatal(err)
		}
		if err := op(tx); err != nil {
			tx.Abort()
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	// The big value is written for real (no never-written chunks), 4 MB per APPEND.
	big, small := []byte("big"), []byte("small")
	piece := make([]byte, 4<<20)
	for i := range piece {
		piece[i] = byte(i*7 + 1)
	}
	for n := 0; n < bigSize; n += len(piece) {
		run(big, func(t *engine.Txn) error { _, err := t.Append(big, piece, 1<<30); return err })
	}
	run(small, func(t *engine.Txn) error { _, err := t.Append(small, piece[:100], 1<<30); return err })
	if err := e.Flush(); err != nil {
		b.Fatal(err)
	}

	for _, c := range []struct {
		name string
		key  []byte
		size int64
	}{{"100MB", big, bigSize}, {"100B", small, 100}} {
		rng := rand.New(rand.NewPCG(1, 2))
		b.Run("SETBIT/"+c.name, func(b *testing.B) {
			measure(b, e, func() {
				bit := uint64(rng.Int64N(c.size * 8))
				run(c.key, func(t *engine.Txn) error { _, err := t.SetBit(c.key, bit, bit&1 == 0); return err })
			})
		})
		b.Run("SETRANGE/"+c.name, func(b *testing.B) {
			data := []byte("8 bytes!")
			measure(b, e, func() {
				off := rng.Int64N(c.size - int64(len(data)))
				run(c.key, func(t *engine.Txn) error { _, err := t.SetRange(c.key, off, data, 1<<30); return err })
			})
		})
		b.Run("GETRANGE/"+c.name, func(b *testing.B) {
			measure(b, e, func() {
				off := rng.Int64N(c.size - 8)
				run(c.key, func(t *engine.Txn) error { _, err := t.GetRange(c.key, off, off+7); return err })
			})
		})
	}
}

// measure runs op b.N times and reports the write-ahead log bytes per operation.
func measure(b *testing.B, e *engine.Engine, op func()) {
	b.ReportAllocs()
	before := e.Metrics().WAL.BytesIn
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		op()
	}
	b.StopTimer()
	b.ReportMetric(float64(e.Metrics().WAL.BytesIn-before)/float64(b.N), "wal-B/op")
}
