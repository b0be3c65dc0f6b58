package engine

import (
	"testing"
)

func BenchmarkZZXAddCapped(b *testing.B) {
	e := openTestEngine(b)
	a := &XAddArgs{Trim: XTrimArgs{Strategy: TrimMaxLen, Approx: true, MaxLen: 1000, Limit: StreamApproxLimit}}
	f := fv("field", "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		inTxn(b, e, 0, func(tx *Txn) error {
			_, _, err := tx.XAdd([]byte("k"), a, f)
			return err
		})
	}
}

func BenchmarkZZXAdd(b *testing.B) {
	e := openTestEngine(b)
	a := &XAddArgs{}
	f := fv("field", "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		inTxn(b, e, 0, func(tx *Txn) error {
			_, _, err := tx.XAdd([]byte("k"), a, f)
			return err
		})
	}
}
