package engine

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
)

// TestHotTierModel: under random puts, removes and gets with a small budget, a get returns
// either a miss or exactly the last value put for that key, never another key's or a stale one.
func TestHotTierModel(t *testing.T) {
	for _, policy := range []EvictionPolicy{PolicyAllKeysLRU, PolicyAllKeysLFU, PolicyAllKeysRandom,
		PolicyVolatileLRU, PolicyVolatileTTL, PolicyNoEviction} {
		t.Run(policy.String(), func(t *testing.T) {
			h := newHotTier(256<<10, policy)
			model := map[string][]byte{}
			r := rand.New(rand.NewPCG(1, uint64(policy)))
			for i := 0; i < 200000; i++ {
				k := fmt.Appendf(nil, "key-%d", r.IntN(3000))
				switch op := r.IntN(10); {
				case op < 4:
					v := bytes.Repeat([]byte{byte(i)}, r.IntN(300))
					if h.put(k, v, r.IntN(2) == 0) {
						model[string(k)] = v
					} else {
						delete(model, string(k)) // a refused put leaves no copy behind
					}
				case op < 5:
					h.remove(k)
					delete(model, string(k))
				default:
					got, ok := h.get(k, nil)
					want, inModel := model[string(k)]
					if ok && (!inModel || !bytes.Equal(got, want)) {
						t.Fatalf("step %d: get %s returned %d bytes, model has %v", i, k, len(got), inModel)
					}
					if !ok && inModel {
						delete(model, string(k)) // evicted
					}
				}
			}
			st := h.stats()
			if st.Bytes > st.Capacity {
				t.Fatalf("live bytes %d over capacity %d", st.Bytes, st.Capacity)
			}
		})
	}
}

// TestHotTierBounded: the ring never allocates more than the budget, however much is put.
func TestHotTierBounded(t *testing.T) {
	h := newHotTier(1<<20, PolicyAllKeysLRU)
	for i := 0; i < 100000; i++ {
		h.put(fmt.Appendf(nil, "k%d", i), make([]byte, 100), false)
	}
	var allocated int
	for i := range h.shards {
		for _, seg := range h.shards[i].segs {
			allocated += cap(seg)
		}
	}
	if allocated > 1<<20 {
		t.Fatalf("allocated %d bytes for a 1 MiB budget", allocated)
	}
	if st := h.stats(); st.Evicted == 0 || st.Keys == 0 {
		t.Fatalf("expected evictions and survivors: %+v", st)
	}
}

// TestHotTierLRUKeepsHotKeys: keys read between writes survive a stream of cold keys.
func TestHotTierLRUKeepsHotKeys(t *testing.T) {
	h := newHotTier(640<<10, PolicyAllKeysLRU)
	hot := func(i int) []byte { return fmt.Appendf(nil, "hot-%d", i) }
	for i := 0; i < 100; i++ {
		h.put(hot(i), make([]byte, 64), false)
	}
	for i := 0; i < 50000; i++ {
		h.put(fmt.Appendf(nil, "cold-%d", i), make([]byte, 64), false)
		if i%100 == 0 {
			for j := 0; j < 100; j++ {
				h.get(hot(j), nil)
			}
		}
	}
	kept := 0
	for j := 0; j < 100; j++ {
		if _, ok := h.get(hot(j), nil); ok {
			kept++
		}
	}
	if kept < 90 {
		t.Fatalf("only %d of 100 hot keys survived", kept)
	}
}

// TestHotTierNoEvictionRefuses: noeviction never drops a live entry; it refuses new ones.
func TestHotTierNoEvictionRefuses(t *testing.T) {
	h := newHotTier(256<<10, PolicyNoEviction)
	stored := 0
	for i := 0; i < 10000; i++ {
		if h.put(fmt.Appendf(nil, "k%d", i), make([]byte, 100), false) {
			stored++
		}
	}
	if st := h.stats(); st.Evicted != 0 || int(st.Keys) != stored || stored == 10000 {
		t.Fatalf("stored %d, stats %+v", stored, st)
	}
}

// TestHotTierVolatileOnly: volatile policies evict only entries with an expiry.
func TestHotTierVolatileOnly(t *testing.T) {
	h := newHotTier(256<<10, PolicyVolatileLRU)
	for i := 0; i < 500; i++ {
		h.put(fmt.Appendf(nil, "persistent-%d", i), make([]byte, 100), false)
	}
	for i := 0; i < 20000; i++ {
		h.put(fmt.Appendf(nil, "volatile-%d", i), make([]byte, 100), true)
	}
	for i := 0; i < 500; i++ {
		if _, ok := h.get(fmt.Appendf(nil, "persistent-%d", i), nil); !ok {
			t.Fatalf("persistent-%d was evicted under a volatile policy", i)
		}
	}
}

func TestHotTierConcurrent(t *testing.T) {
	h := newHotTier(512<<10, PolicyAllKeysLFU)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 7))
			for i := 0; i < 20000; i++ {
				k := fmt.Appendf(nil, "k%d", r.IntN(2000))
				v := fmt.Appendf(nil, "%s=%d", k, r.IntN(100))
				if r.IntN(2) == 0 {
					h.put(k, v, false)
				} else if got, ok := h.get(k, nil); ok && !bytes.HasPrefix(got, append(k, '=')) {
					t.Errorf("get %s returned %s", k, got)
					return
				}
			}
		}(g)
	}
	wg.Wait()
}

func BenchmarkHotTierGet(b *testing.B) {
	h := newHotTier(64<<20, PolicyAllKeysLRU)
	keys := make([][]byte, 100000)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "key:%d", i)
		h.put(keys[i], make([]byte, 100), false)
	}
	b.ReportAllocs()
	b.ResetTimer()
	var buf []byte
	for i := 0; i < b.N; i++ {
		buf, _ = h.get(keys[i%len(keys)], buf[:0])
	}
}

// TestHotTierAbsentEntries: a key deleted, or looked up in vain, is answered by the tier
// without a Pebble read (a point read of a deleted key steps over every older version the
// memtable holds); absent entries are not keys, and under noeviction or a volatile policy they
// are dropped to make room rather than refusing a write or keeping a persistent key out.
func TestHotTierAbsentEntries(t *testing.T) {
	e, err := Open(Options{Dir: t.TempDir(), MaxMemory: 256 << 10, Policy: PolicyNoEviction,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	waitComplete(t, e)
	e.hot.loss() // as if something had been evicted: a miss must ask Pebble
	for i := 0; i < 100; i++ {
		set(t, e, 0, "queue", fmt.Appendf(nil, "v%d", i), 0)
	}
	inTxn(t, e, 0, func(tx *Txn) error { _, err := tx.Delete([]byte("queue")); return err })
	if ok, reads := getCountingReads(t, e, "queue"); ok || reads != 0 {
		t.Fatalf("deleted key: found %v with %d Pebble reads, want absent with 0", ok, reads)
	}
	if ok, reads := getCountingReads(t, e, "never"); ok || reads != 1 {
		t.Fatalf("unknown key, first read: found %v with %d Pebble reads, want absent after 1", ok, reads)
	}
	if ok, reads := getCountingReads(t, e, "never"); ok || reads != 0 {
		t.Fatalf("unknown key, second read: found %v with %d Pebble reads, want absent with 0", ok, reads)
	}
	set(t, e, 0, "never", []byte("now"), 0)
	if ok, _ := getCountingReads(t, e, "never"); !ok {
		t.Fatal("a key written after an absent entry was cached is not found")
	}
	if st := e.HotStats(); st.Keys != 1 {
		t.Fatalf("the tier counts %d keys, want 1 (absent entries are not keys)", st.Keys)
	}

	// Fill the tier with absent entries, then with keys: noeviction makes room by dropping
	// the absent ones, and refuses nothing until keys fill it.
	for i := 0; i < 20000; i++ {
		e.hot.putAbsent(fmt.Appendf(nil, "gone-%d", i))
	}
	if e.OutOfMemory() {
		t.Fatal("absent entries made the tier refuse writes")
	}
	h := newHotTier(256<<10, PolicyNoEviction)
	for i := 0; i < 20000; i++ {
		h.putAbsent(fmt.Appendf(nil, "gone-%d", i))
	}
	for i := 0; i < 500; i++ {
		if !h.put(fmt.Appendf(nil, "k%d", i), make([]byte, 100), false) {
			t.Fatalf("put %d refused with only absent entries to drop", i)
		}
	}
	if st := h.stats(); st.Keys != 500 || st.Evicted != 0 {
		t.Fatalf("stats %+v, want 500 keys and no eviction", st)
	}

	// Keys in front of the absent entries (at the head of the ring): noeviction moves them to
	// the tail to reach the absent entries, and stores as many keys as a tier that never held
	// an absent entry, dropping none.
	// fill tries keys from..4000 (every shard fills up) and returns the ones stored.
	fill := func(h *hotTier, from int) []int {
		var stored []int
		for i := from; i < 4000; i++ {
			if h.put(fmt.Appendf(nil, "k%d", i), make([]byte, 100), false) {
				stored = append(stored, i)
			}
		}
		return stored
	}
	want := len(fill(newHotTier(256<<10, PolicyNoEviction), 0))
	mixed := newHotTier(256<<10, PolicyNoEviction)
	stored := fill(mixed, 3700) // keys at the head of every shard's ring
	for i := 0; i < 20000; i++ {
		mixed.putAbsent(fmt.Appendf(nil, "gone-%d", i))
	}
	for i := 0; i < 3700; i++ {
		if mixed.put(fmt.Appendf(nil, "k%d", i), make([]byte, 100), false) {
			stored = append(stored, i)
		}
	}
	// Each shard holds what fits, give or take an entry's padding.
	if len(stored) < want-hotShardCount {
		t.Fatalf("noeviction stored %d keys beside absent entries, %d without", len(stored), want)
	}
	for _, i := range stored {
		if v, ok := mixed.get(fmt.Appendf(nil, "k%d", i), nil); !ok || len(v) != 100 {
			t.Fatalf("k%d lost under noeviction", i)
		}
	}
	if st := mixed.stats(); st.Evicted != 0 {
		t.Fatalf("noeviction evicted: %+v", st)
	}
}

// BenchmarkHotTierGetRandom reads a million cached keys in random order, as GET -r 1000000
// does: the index probe and the entry are cache misses, which the sequential benchmark above
// hides.
func BenchmarkHotTierGetRandom(b *testing.B) {
	h := newHotTier(512<<20, PolicyAllKeysLRU)
	keys := make([][]byte, 1<<20)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "\x01\x00\x00\x00\x00key:%d", i)
		h.put(keys[i], make([]byte, 100), false)
	}
	order := rand.New(rand.NewPCG(1, 2)).Perm(len(keys))
	b.ReportAllocs()
	b.ResetTimer()
	var buf []byte
	for i := 0; i < b.N; i++ {
		buf, _ = h.get(keys[order[i&(len(order)-1)]], buf[:0])
	}
}
