package engine

import (
	"math/rand/v2"
	"testing"
)

// TestHotIndexModel runs random sets, gets and deletes against a Go map. The hashes crowd into
// a few homes, so that probe runs are long, wrap around the end of the table and get deletions
// in their middle: the cases backward-shift deletion must get right.
func TestHotIndexModel(t *testing.T) {
	for _, keys := range []int{8, 100, 5000} {
		r := rand.New(rand.NewPCG(uint64(keys), 7))
		x := newHotIndex()
		model := make(map[uint64]uint64)
		hashes := make([]uint64, keys)
		for i := range hashes {
			// Hashes whose homes lie in the first eighth of the table, whatever its size (the
			// top three bits of the mixed hash are 0), or in its last slot (all top bits set), so
			// that runs wrap.
			for {
				h := r.Uint64()
				if top := (h * 0x9e3779b97f4a7c15) >> 52; top < 1<<9 || top == 1<<12-1 {
					hashes[i] = h
					break
				}
			}
		}
		for step := range 200000 {
			h := hashes[r.IntN(keys)]
			switch r.IntN(3) {
			case 0:
				off := r.Uint64N(1 << 40)
				x.set(h, off)
				model[h] = off
			case 1:
				x.del(h)
				delete(model, h)
			}
			got, ok := x.get(h)
			want, wok := model[h]
			if ok != wok || got != want {
				t.Fatalf("keys %d step %d: get(%x) = %d, %v; want %d, %v", keys, step, h, got, ok, want, wok)
			}
			if x.len() != len(model) {
				t.Fatalf("keys %d step %d: len %d, want %d", keys, step, x.len(), len(model))
			}
			if step%5000 == 0 {
				checkHotIndex(t, &x, model)
			}
		}
		checkHotIndex(t, &x, model)
		x.clear()
		if x.len() != 0 {
			t.Fatalf("len after clear = %d", x.len())
		}
		if _, ok := x.get(hashes[0]); ok {
			t.Fatal("a hash is found after clear")
		}
	}
}

// checkHotIndex compares every entry with the model, both ways, and checks that no slot is
// separated from its home by an empty slot (which would make it unreachable).
func checkHotIndex(t *testing.T, x *hotIndex, model map[uint64]uint64) {
	t.Helper()
	seen := 0
	x.each(func(h, off uint64) {
		seen++
		if want, ok := model[h]; !ok || want != off {
			t.Fatalf("index holds %x -> %d; model %d, %v", h, off, want, ok)
		}
	})
	if seen != len(model) {
		t.Fatalf("index walks %d entries, model has %d", seen, len(model))
	}
	m := x.mask()
	for i, s := range x.slots {
		if s.off == 0 {
			continue
		}
		for j := x.home(s.hash); j != uint64(i); j = (j + 1) & m {
			if x.slots[j].off == 0 {
				t.Fatalf("slot %d (home %d) is cut off by the empty slot %d", i, x.home(s.hash), j)
			}
		}
	}
	if x.n*4 > len(x.slots)*3 {
		t.Fatalf("%d entries in %d slots", x.n, len(x.slots))
	}
}

// BenchmarkHotIndexGet is a random lookup in an index of a million entries (the shard's map
// it replaced took about two cache misses per lookup).
func BenchmarkHotIndexGet(b *testing.B) {
	x := newHotIndex()
	r := rand.New(rand.NewPCG(1, 2))
	hashes := make([]uint64, 1<<20)
	for i := range hashes {
		hashes[i] = r.Uint64()
		x.set(hashes[i], uint64(i))
	}
	b.ResetTimer()
	for i := range b.N {
		if _, ok := x.get(hashes[(i*7919)&(len(hashes)-1)]); !ok {
			b.Fatal("missing")
		}
	}
}
