package engine

import (
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/stratadb/strata/encoding"
)

// warmUp loads every key's metadata into the hot tier in the background after the engine
// opens. When it finishes without the tier having lost anything (no eviction, no refusal),
// the tier holds every existing key, and from then on a miss is an answer: "no such key",
// without asking Pebble. That is the common case of a data set that fits in the budget, and
// it is what makes SET of a new key and GET of a missing one as cheap as in Redis. The first
// eviction ends it (see hotTier.complete).
//
// Each key is re-read from Pebble under its stripe lock and the shared latch before it is put
// in the tier, so a command that changes the key meanwhile cannot be overwritten by an older
// value from the scan.
func (e *Engine) warmUp() {
	start := time.Now()
	lostAtStart := e.hot.lost.Load()
	it, err := e.pdb.NewIter(&pebble.IterOptions{
		LowerBound: []byte{encoding.TagMeta}, UpperBound: []byte{encoding.TagMeta + 1}})
	if err != nil {
		e.log.Error("hot tier warm-up", "err", err)
		return
	}
	defer it.Close()
	var keys [][]byte
	var stripes []uint32
	n := 0
	flush := func() bool {
		if len(keys) == 0 {
			return true
		}
		e.latch.RLock()
		defer e.latch.RUnlock()
		if e.closed {
			return false
		}
		e.locks.lock(stripes, false)
		defer e.locks.unlock(stripes, false)
		for _, k := range keys {
			v, closer, err := e.pdb.Get(k)
			if err != nil {
				continue // deleted since the scan
			}
			volatile := len(v) >= encoding.MetaHeaderLen && v[3]|v[4]|v[5]|v[6]|v[7]|v[8]|v[9]|v[10] != 0
			e.hot.put(k, v, volatile)
			closer.Close()
		}
		n += len(keys)
		keys, stripes = keys[:0], stripes[:0]
		return true
	}
	for ok := it.First(); ok; ok = it.Next() {
		select {
		case <-e.stop:
			return
		default:
		}
		if e.hot.lost.Load() != lostAtStart {
			e.log.Info("hot tier warm-up stopped: the data set is bigger than the tier",
				"keys", n, "elapsed", time.Since(start).Round(time.Millisecond))
			return
		}
		_, _, userKey, err := encoding.DecodeMetaKey(it.Key())
		if err != nil {
			continue
		}
		keys = append(keys, append([]byte(nil), it.Key()...))
		stripes = addStripe(stripes, e.locks.stripeOf(userKey))
		if len(keys) == 256 && !flush() {
			return
		}
	}
	if !flush() {
		return
	}
	if e.hot.completeAt.CompareAndSwap(-1, lostAtStart) && e.hot.complete() {
		e.log.Info("hot tier holds every key", "keys", n, "elapsed", time.Since(start).Round(time.Millisecond))
	}
}
