package engine

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/stratadb/strata/encoding"
)

// TestHotTierCoherence runs random commands through Txns on an engine whose hot tier is tiny
// (so entries are evicted and refilled all the time) and, after every command, compares every
// cached metadata value with Pebble's: the tier may miss, never disagree. It also checks every
// read against an in-memory model, including reads inside Txns that changed the key.
func TestHotTierCoherence(t *testing.T) {
	type variant struct {
		name   string
		policy EvictionPolicy
		budget int64
	}
	variants := []variant{{"complete", PolicyAllKeysLRU, 64 << 20}}
	for _, p := range []EvictionPolicy{PolicyAllKeysLRU, PolicyAllKeysLFU, PolicyVolatileTTL, PolicyNoEviction} {
		variants = append(variants, variant{p.String(), p, 64 << 10})
	}
	for _, v := range variants {
		policy := v.policy
		t.Run(v.name, func(t *testing.T) {
			e := openTestEngine(t)
			e.SetEvictionPolicy(policy)
			if v.budget < 1<<20 {
				e.hot.resize(v.budget)
			} else {
				waitComplete(t, e) // a fresh engine's warm-up finishes at once
			}
			r := rand.New(rand.NewPCG(7, uint64(policy)))
			model := map[string]string{}
			key := func() []byte { return fmt.Appendf(nil, "key:%d", r.IntN(1000)) }
			for step := 0; step < 3000; step++ {
				tx := e.NewTxn()
				tx.Begin(0, LockGlobal)
				if err := tx.Lock(); err != nil {
					t.Fatal(err)
				}
				pending := map[string]*string{}
				abort := r.IntN(10) == 0
				for n := 1 + r.IntN(4); n > 0; n-- {
					k := key()
					switch op := r.IntN(10); {
					case op < 5:
						v := fmt.Sprintf("v%d-%s", step, bytes.Repeat([]byte("x"), r.IntN(100)))
						var exp int64
						if r.IntN(3) == 0 {
							exp = tx.Now() + 3600_000
						}
						if _, err := tx.Set(k, []byte(v), SetArgs{ExpireAt: exp}); err != nil {
							t.Fatal(err)
						}
						pending[string(k)] = &v
					case op < 7:
						if _, err := tx.Delete(k); err != nil {
							t.Fatal(err)
						}
						pending[string(k)] = nil
					case op < 9:
						got, ok, err := tx.Get(k)
						if err != nil {
							t.Fatal(err)
						}
						want, inModel := model[string(k)]
						if p, changed := pending[string(k)]; changed {
							want, inModel = "", p != nil
							if p != nil {
								want = *p
							}
						}
						if ok != inModel || string(got) != want {
							t.Fatalf("step %d: GET %s = %q %v, model %q %v", step, k, got, ok, want, inModel)
						}
					default:
						if r.IntN(200) == 0 {
							tx.FlushDB()
							for mk := range model {
								pending[mk] = nil
							}
							for mk := range pending {
								pending[mk] = nil
							}
						}
					}
				}
				if abort {
					tx.Abort()
				} else {
					if err := tx.Commit(); err != nil {
						t.Fatal(err)
					}
					for k, v := range pending {
						if v == nil {
							delete(model, k)
						} else {
							model[k] = *v
						}
					}
				}
				if step%5 == 0 {
					checkTierAgainstPebble(t, e, step)
				}
			}
			switch st := e.HotStats(); {
			case v.budget >= 1<<20 && !e.hot.complete():
				t.Fatalf("the tier stopped being complete without an eviction: %+v", st)
			case v.budget < 1<<20 && policy != PolicyNoEviction && st.Evicted == 0:
				t.Fatalf("the budget never forced an eviction: %+v", st)
			}
		})
	}
}

// checkTierAgainstPebble compares every entry the hot tier holds with Pebble's value (an
// absent entry with Pebble's not-found).
func checkTierAgainstPebble(t *testing.T, e *Engine, step int) {
	t.Helper()
	for i := 0; i < 1000; i++ {
		mk := encoding.AppendMetaKey(nil, e.dbmap[0], fmt.Appendf(nil, "key:%d", i))
		cached, ok := e.hot.get(mk, nil)
		if !ok {
			continue
		}
		v, closer, err := e.pdb.Get(mk)
		if len(cached) == 0 { // cached as absent
			if err == nil {
				closer.Close()
				t.Fatalf("step %d: %q is cached as absent but Pebble holds it", step, mk)
			}
			if !errors.Is(err, pebble.ErrNotFound) {
				t.Fatal(err)
			}
			continue
		}
		if errors.Is(err, pebble.ErrNotFound) {
			t.Fatalf("step %d: %q is cached but not in Pebble", step, mk)
		}
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(v, cached) {
			t.Fatalf("step %d: %q cached value differs from Pebble's", step, mk)
		}
		closer.Close()
	}
}

func waitComplete(t *testing.T, e *Engine) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !e.hot.complete() {
		if time.Now().After(deadline) {
			t.Fatal("the hot tier never became complete")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestHotTierCompleteness: after the warm-up loads a data set that fits, a missing key is
// answered without a Pebble read; once something is evicted, Pebble is asked again; keys
// written before the engine opened are found after the warm-up.
func TestHotTierCompleteness(t *testing.T) {
	dir := t.TempDir()
	e := openEngine(t, dir, 0)
	for i := 0; i < 2000; i++ {
		set(t, e, 0, fmt.Sprintf("k%d", i), []byte("v"), 0)
	}
	e.Close()
	e = openEngine(t, dir, 0)
	waitComplete(t, e)
	if st := e.HotStats(); st.Keys < 2000 {
		t.Fatalf("warm-up cached %d keys, want 2000", st.Keys)
	}
	if ok, reads := getCountingReads(t, e, "k1999"); !ok || reads != 0 {
		t.Fatalf("k1999: found %v with %d Pebble reads, want found with 0", ok, reads)
	}
	if ok, reads := getCountingReads(t, e, "missing"); ok || reads != 0 {
		t.Fatalf("missing: found %v with %d Pebble reads, want absent with 0", ok, reads)
	}
	e.hot.resize(64 << 10) // a smaller budget: the tier is no longer complete
	if ok, reads := getCountingReads(t, e, "missing"); ok || reads == 0 {
		t.Fatalf("after a loss: found %v with %d Pebble reads, want absent after a read", ok, reads)
	}
	if ok, _ := getCountingReads(t, e, "k7"); !ok {
		t.Fatal("k7 lost")
	}
}

// getCountingReads GETs key in database 0 and reports whether it was found and how many
// Pebble reads that took (0: the hot tier answered).
func getCountingReads(t *testing.T, e *Engine, key string) (bool, int) {
	t.Helper()
	var found bool
	tx := inTxn(t, e, 0, func(tx *Txn) error {
		_, ok, err := tx.Get([]byte(key))
		found = ok
		return err
	})
	return found, tx.reads
}
