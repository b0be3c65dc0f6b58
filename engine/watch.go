package engine

import (
	"errors"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/stratadb/strata/encoding"
)

// What WATCH needs from the engine. Redis 7.0 remembers, for each watched key, whether it had
// already expired (but was still stored) when WATCH ran: such a key's later removal is no
// change, and at EXEC a watched key that has expired since WATCH aborts the transaction. Its
// FLUSHDB, FLUSHALL and SWAPDB dirty only the watched keys that exist in the databases
// involved. These reads answer those questions.

// KeyExpired reports whether key has a record in logical database db whose time has come
// (Redis's keyIsExpired: stored, not yet removed, past its expiry). The Txn must hold key.
func (t *Txn) KeyExpired(db int, key []byte) (bool, error) {
	ks, err := t.lookupIn(t.e.dbmap[db], key)
	return ks.exists && !ks.live, err
}

// PeekKey reads key's committed record in logical database db outside any Txn: whether one
// exists, and whether its time has come. It takes no lock and is meant for the Hooks, which
// run under the locks (and the latch) of the change they report, so that neither the key nor
// the database map can move under the read. The Flushed and Swapped hooks run before their
// batch commits: PeekKey then sees the databases as they were before the flush.
func (e *Engine) PeekKey(db int, key []byte) (exists, expired bool, err error) {
	k := encoding.AppendMetaKey(nil, e.dbmap[db], key)
	v, closer, err := e.pdb.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, false, nil
	}
	if err != nil {
		return false, false, err
	}
	defer closer.Close()
	var m encoding.Meta
	if err := encoding.DecodeMeta(v, &m); err != nil {
		return false, false, corruptf("metadata of key %q: %v", key, err)
	}
	return true, m.ExpireAt != 0 && m.ExpireAt <= time.Now().UnixMilli(), nil
}
