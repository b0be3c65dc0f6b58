package engine

import (
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/stratadb/strata/encoding"
)

// Active expiry walks the expiry index in time order and really deletes the keys whose time
// has come, so an expired key leaves the disk (and its notification fires) without waiting
// for a client to touch it. Reads never see an expired key whether or not it was deleted yet.

// expireBatch is how many due keys one locked round deletes.
const expireBatch = 128

func (e *Engine) runExpirer() {
	tick := time.NewTicker(e.opts.ActiveExpireInterval)
	defer tick.Stop()
	t := e.NewTxn()
	for {
		select {
		case <-e.stop:
			return
		case <-tick.C:
		}
		e.hot.tick()
		if e.expireOff.Load() || e.expirePaused.Load() {
			continue
		}
		// Work at most a quarter of the interval per tick, as Redis bounds its cycle.
		start := time.Now()
		deadline := start.Add(e.opts.ActiveExpireInterval / 4)
		for time.Now().Before(deadline) {
			n, err := e.expireRound(t)
			if err != nil {
				e.log.Error("active expiry", "err", err)
				break
			}
			if n < expireBatch {
				break
			}
		}
		if h := e.opts.Hooks.ExpireCycle; h != nil {
			h(time.Since(start))
		}
	}
}

// SetActiveExpire turns active expiry on or off (DEBUG SET-ACTIVE-EXPIRE). With it off,
// expired keys stay on disk, invisible, until a write replaces them or it is turned on.
func (e *Engine) SetActiveExpire(on bool) { e.expireOff.Store(!on) }

// PauseActiveExpire suspends active expiry while clients are paused (CLIENT PAUSE), as
// Redis expires nothing during a pause.
func (e *Engine) PauseActiveExpire(paused bool) { e.expirePaused.Store(paused) }

type dueKey struct {
	at  int64
	db  uint16
	key []byte
}

// expireRound deletes up to expireBatch due keys and returns how many index entries it
// looked at.
func (e *Engine) expireRound(t *Txn) (int, error) {
	now := time.Now().UnixMilli()
	lower := []byte{encoding.TagExpiry}
	it, err := e.pdb.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: encoding.ExpiryBound(nil, now)})
	if err != nil {
		return 0, err
	}
	var due []dueKey
	for ok := it.First(); ok && len(due) < expireBatch; ok = it.Next() {
		at, db, key, err := encoding.DecodeExpiryKey(it.Key())
		if err != nil {
			continue
		}
		due = append(due, dueKey{at: at, db: db, key: append([]byte(nil), key...)})
	}
	if err := it.Close(); err != nil || len(due) == 0 {
		return 0, err
	}

	t.Begin(0, LockWrite)
	for _, d := range due {
		t.AddKey(d.key)
	}
	if err := t.Lock(); err != nil {
		return 0, err
	}
	logical := make(map[uint16]int, len(e.dbmap))
	for l, p := range e.dbmap {
		logical[p] = l
	}
	for _, d := range due {
		ldb, mapped := logical[d.db]
		if !mapped {
			// No database map entry names this physical id, so nothing can read the key
			// and it has no counters: drop the index entry only.
			t.del(encoding.AppendExpiryKey(nil, d.at, d.db, d.key))
			continue
		}
		ks, err := t.lookupIn(d.db, d.key)
		if err != nil {
			t.Abort()
			return 0, err
		}
		switch {
		case ks.exists && ks.meta.ExpireAt == d.at && !ks.live:
			// deleteKeyIn removes the entry with the key.
			t.deleteKeyIn(dbRef{l: ldb, p: d.db}, d.key, &ks)
		case ks.exists && ks.meta.ExpireAt == d.at:
			// Live after all: the clock stepped back between the scan and the lock.
		default:
			// A stale entry (the key was flushed, or its expiry changed without the entry
			// being removed): drop it.
			t.del(encoding.AppendExpiryKey(nil, d.at, d.db, d.key))
		}
	}
	return len(due), t.Commit()
}
