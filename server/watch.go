package server

import (
	"sync"
	"sync/atomic"

	"github.com/stratadb/strata/engine"
)

// The WATCH registry: which clients watch which keys, so that a change to a watched key marks
// its watchers dirty and their next EXEC answers the null array (Redis's CLIENT_DIRTY_CAS).
//
// Every change reaches it through the engine's hooks, which run after the change and before
// its locks are released: Touched for each key a command, a transaction, a script or active
// expiry changed; Flushed for FLUSHDB/FLUSHALL; Swapped for SWAPDB. WATCH registers a key
// while holding the key's lock, and EXEC checks its client's state while holding the locks
// of every watched key, so a change is either wholly before a WATCH (and not a change to it)
// or reported to the registry before EXEC can look.
//
// Redis 7.0's rules for keys that expire are kept (multi.c): a key that had expired but was
// still stored when WATCH ran is flagged; its removal (active expiry, DEL, a flush) is no
// logical change and clears the flag, any other change dirties; at EXEC a watched key that
// has expired since WATCH (and was not removed, which would have dirtied it) aborts.
//
// The design notes spoke of per-key modification stamps compared at EXEC. Events are used
// instead, as in Redis: stamps would have to be kept for every key (or a table of them) and
// bumped on every write whether anyone watches or not, and Redis's rules (a flush touches only
// the keys that exist, the expiry rules above) are rules about events, not about versions.
//
// When nobody watches, each hook costs one atomic load; when some do, a change to a key nobody
// watches costs a shared lock and a map lookup.
type watchRegistry struct {
	eng     *engine.Engine
	entries atomic.Int64 // registered (client, key) pairs

	mu  sync.RWMutex
	dbs map[int]map[string][]*watchEntry // logical database -> key -> its watchers
}

// watchEntry is one client watching one key. expired, like the client's tx.watched, is
// guarded by the registry's mu (written under the exclusive lock); the client's tx.dirty is
// atomic, set under either.
type watchEntry struct {
	c       *Client
	db      int
	key     string
	expired bool // the key was stored but past its expiry when WATCH ran
}

func newWatchRegistry() *watchRegistry {
	return &watchRegistry{dbs: map[int]map[string][]*watchEntry{}}
}

// chain adds the registry's hooks to h after the ones already there.
func (r *watchRegistry) chain(h *engine.Hooks) {
	prevTouched, prevFlushed, prevSwapped := h.Touched, h.Flushed, h.Swapped
	h.Touched = func(db int, key []byte) {
		if prevTouched != nil {
			prevTouched(db, key)
		}
		r.touched(db, key)
	}
	h.Flushed = func(db int) {
		if prevFlushed != nil {
			prevFlushed(db)
		}
		r.flushed(db)
	}
	h.Swapped = func(a, b int) {
		if prevSwapped != nil {
			prevSwapped(a, b)
		}
		r.swapped(a, b)
	}
}

// watch registers keys (in database db) for c. expired[i] says whether key i was stored but
// expired; the caller holds the keys' locks.
func (r *watchRegistry) watch(c *Client, db int, keys [][]byte, expired []bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.tx.dirty.Load() {
		return // already aborted: watching more changes nothing (as Redis)
	}
next:
	for i, k := range keys {
		for _, e := range c.tx.watched {
			if e.db == db && e.key == string(k) {
				continue next
			}
		}
		e := &watchEntry{c: c, db: db, key: string(k), expired: expired[i]}
		m := r.dbs[db]
		if m == nil {
			m = map[string][]*watchEntry{}
			r.dbs[db] = m
		}
		m[e.key] = append(m[e.key], e)
		c.tx.watched = append(c.tx.watched, e)
		r.entries.Add(1)
	}
}

// unwatchAll forgets every key c watches and clears its dirty flag (UNWATCH, EXEC, DISCARD,
// RESET, a closed connection).
func (r *watchRegistry) unwatchAll(c *Client) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c.tx.dirty.Store(false)
	if len(c.tx.watched) == 0 {
		return
	}
	for _, e := range c.tx.watched {
		m := r.dbs[e.db]
		list := m[e.key]
		for i, o := range list {
			if o == e {
				list = append(list[:i], list[i+1:]...)
				break
			}
		}
		if len(list) == 0 {
			delete(m, e.key)
			if len(m) == 0 {
				delete(r.dbs, e.db)
			}
		} else {
			m[e.key] = list
		}
	}
	r.entries.Add(-int64(len(c.tx.watched)))
	clear(c.tx.watched)
	c.tx.watched = c.tx.watched[:0]
}

// watchedKey is a copy of one entry for EXEC's checks.
type watchedKey struct {
	db      int
	key     []byte
	expired bool
}

// keysOf appends the keys c watches to dst (c's own goroutine asks: only it changes the list).
func (r *watchRegistry) keysOf(c *Client, dst []watchedKey) []watchedKey {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, e := range c.tx.watched {
		dst = append(dst, watchedKey{db: e.db, key: []byte(e.key), expired: e.expired})
	}
	return dst
}

// isDirty says whether a key c watches has changed.
func (r *watchRegistry) isDirty(c *Client) bool { return c.tx.dirty.Load() }

// touched is the Touched hook: key changed in db.
func (r *watchRegistry) touched(db int, key []byte) {
	if r.entries.Load() == 0 {
		return
	}
	r.mu.RLock()
	list := r.dbs[db][string(key)]
	for _, e := range list {
		if e.expired {
			r.mu.RUnlock()
			r.touchedExpired(db, key)
			return
		}
	}
	for _, e := range list {
		e.c.tx.dirty.Store(true)
	}
	r.mu.RUnlock()
}

// touchedExpired is touched for a key that some client watched while it was stored but
// expired: its removal is no change to that client.
func (r *watchRegistry) touchedExpired(db int, key []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	exists, _, err := r.eng.PeekKey(db, key)
	for _, e := range r.dbs[db][string(key)] {
		if e.expired && err == nil && !exists {
			e.expired = false
			continue
		}
		e.c.tx.dirty.Store(true)
	}
}

// flushed is the Flushed hook (db = -1: every database). As Redis, only the watched keys that
// are stored when the flush happens are touched; an expired one just loses its flag.
func (r *watchRegistry) flushed(db int) {
	if r.entries.Load() == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for d, m := range r.dbs {
		if db >= 0 && d != db {
			continue
		}
		for key, list := range m {
			exists, _, err := r.eng.PeekKey(d, []byte(key))
			if err == nil && !exists {
				continue
			}
			for _, e := range list {
				if e.expired && err == nil {
					e.expired = false
					continue
				}
				e.c.tx.dirty.Store(true)
			}
		}
	}
}

// swapped is the Swapped hook; it runs once the engine has exchanged the two databases. Redis
// 7.0 touches a watched key when it exists in either database, with its rules for keys that
// are stored but expired (touchAllWatchedKeysInDb).
func (r *watchRegistry) swapped(a, b int) {
	if a == b || r.entries.Load() == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.swappedSide(a, b)
	r.swappedSide(b, a)
}

// swappedSide applies the swap to the keys watched in database x, whose old contents are now
// database y and which now holds y's old contents.
func (r *watchRegistry) swappedSide(x, y int) {
	for key, list := range r.dbs[x] {
		k := []byte(key)
		inEmptied, _, err1 := r.eng.PeekKey(y, k) // x's contents before the swap
		inNew, newExpired, err2 := r.eng.PeekKey(x, k)
		if err1 != nil || err2 != nil {
			for _, e := range list {
				e.c.tx.dirty.Store(true)
			}
			continue
		}
		if !inEmptied && !inNew {
			continue
		}
		for _, e := range list {
			switch {
			case e.expired && !inNew:
				e.expired = false // the expired key went away: no change
				continue
			case e.expired && newExpired:
				continue // expired before, expired now
			case !e.expired && !inEmptied && newExpired:
				e.expired = true // nothing became something already expired
				continue
			}
			e.c.tx.dirty.Store(true)
		}
	}
}
