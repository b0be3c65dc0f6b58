package engine

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"testing"
)

// TestHLLKnownBytes checks values against bytes redis-server 7.0.15 produced.
func TestHLLKnownBytes(t *testing.T) {
	e := openTestEngine(t)
	inTxn(t, e, 0, func(tx *Txn) error {
		if _, err := tx.PFAdd([]byte("empty"), nil); err != nil {
			return err
		}
		v, _, err := tx.Get([]byte("empty"))
		if want := "HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\xff"; err == nil && string(v) != want {
			t.Errorf("PFADD empty: %q, want %q", v, want)
		}
		if _, err := tx.PFAdd([]byte("abc"), bs("a", "b", "c")); err != nil {
			return err
		}
		r, err := tx.PFDebug("decode", []byte("abc"))
		if want := "Z:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603"; err == nil && r.Text != want {
			t.Errorf("PFDEBUG DECODE: %q, want %q", r.Text, want)
		}
		n, err := tx.PFCount(bs("abc"))
		if err == nil && n != 3 {
			t.Errorf("PFCOUNT: %d", n)
		}
		v, _, err = tx.Get([]byte("abc"))
		if err == nil && (binary.LittleEndian.Uint64(v[8:16]) != 3 || len(v) != 27) {
			t.Errorf("cached cardinality not written back: % x", v[:16])
		}
		return err
	})
}

// TestHLLAccuracy adds 100k distinct elements (sparse, then dense) and checks the estimate is
// within HyperLogLog's error (1.04/sqrt(16384) = 0.81%; we allow 3 standard errors), that the
// single-key and multi-key counts agree, and that PFMERGE of two halves counts the same.
func TestHLLAccuracy(t *testing.T) {
	e := openTestEngine(t)
	const n = 100_000
	inTxn(t, e, 0, func(tx *Txn) error {
		for base := 0; base < n; base += 1000 {
			var a, b [][]byte
			for i := base; i < base+1000; i++ {
				el := []byte(fmt.Sprintf("element:%d", i))
				if i%2 == 0 {
					a = append(a, el)
				} else {
					b = append(b, el)
				}
			}
			if _, err := tx.PFAdd([]byte("all"), append(append([][]byte(nil), a...), b...)); err != nil {
				return err
			}
			if _, err := tx.PFAdd([]byte("even"), a); err != nil {
				return err
			}
			if _, err := tx.PFAdd([]byte("odd"), b); err != nil {
				return err
			}
		}
		single, err := tx.PFCount(bs("all"))
		if err != nil {
			return err
		}
		if rel := math.Abs(float64(single)-n) / n; rel > 3*0.0081 {
			t.Errorf("PFCOUNT %d for %d elements (%.2f%% off)", single, n, rel*100)
		}
		union, err := tx.PFCount(bs("even", "odd"))
		if err != nil {
			return err
		}
		if err := tx.PFMerge([]byte("merged"), bs("even", "odd")); err != nil {
			return err
		}
		merged, err := tx.PFCount(bs("merged"))
		if err != nil {
			return err
		}
		if union != single || merged != single {
			t.Errorf("counts differ: single %d, union %d, merged %d", single, union, merged)
		}
		all, _, _ := tx.Get([]byte("all"))
		m, _, _ := tx.Get([]byte("merged"))
		if !bytes.Equal(all[16:], m[16:]) {
			t.Errorf("merged registers differ from the registers of all elements")
		}
		return nil
	})
}

func TestHLLSelfTest(t *testing.T) {
	if err := HLLSelfTest(); err != nil {
		t.Fatal(err)
	}
}

// FuzzHLLValue feeds arbitrary strings that pass the HLL header checks to every operation on
// HLL values: corrupt input must be refused (or tolerated as Redis does), never panic.
func FuzzHLLValue(f *testing.F) {
	f.Add(hllNew(), []byte("x"))
	s := hllNew()
	for i := 0; i < 300; i++ {
		s, _ = hllAdd(s, []byte(fmt.Sprint(i)))
	}
	f.Add(s, []byte("y"))
	// (Dense values are left out: every register value is valid there, and their 12 KiB slow
	// the fuzzer down to a crawl.)
	f.Add([]byte("HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f"), []byte(""))
	f.Add([]byte("HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\xff\xff\xff"), []byte("a"))
	f.Fuzz(func(t *testing.T, v, ele []byte) {
		if !hllValid(v) {
			return
		}
		// The fuzzer may hand out v and ele from one buffer: appending to ele in place would
		// overwrite v, so ele gets a capacity of its own length.
		ele = ele[:len(ele):len(ele)]
		var h [64]int
		hllHisto(v, &h)
		hllEstimate(&h)
		max := make([]uint8, hllRegisters)
		hllMerge(max, v)
		w := bytes.Clone(v)
		for i := 0; i < 4; i++ {
			var r int
			if w, r = hllAdd(w, append(ele, byte(i))); r < 0 {
				break
			}
		}
		if dv, ok := hllSparseToDense(bytes.Clone(v)); ok && len(dv) != hllDenseSize {
			t.Fatalf("dense value of %d bytes", len(dv))
		}
		// Raise registers as PFMERGE does (a few of them: each step copies the value).
		for i, n := 0, 0; i < len(max) && n < 32 && w[4] == hllEncSparse; i++ {
			if max[i] != 0 {
				w, _ = hllSparseSet(w, i, max[i])
				n++
			}
		}
	})
}
