package engine

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/stratadb/strata/encoding"
)

// The sweeper removes the elements of versions that no metadata points at any more (deleted,
// overwritten, expired or moved collections and chunked strings). Commands only queue a
// record in their own batch, so DEL of a 10-million-element hash is O(1) when it answers; the
// sweeper then drops a big range with one range deletion and a small one with point deletes
// (a range tombstone is cheap to write but costs every read that crosses it until compaction,
// so small ranges do not deserve one).

// sweepPointLimit is the element count up to which a range is removed with point deletes.
const sweepPointLimit = 512

func (e *Engine) runSweeper() {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-e.sweepWake:
		case <-tick.C:
			e.persistVersionFloor()
		}
		if err := e.sweep(); err != nil {
			e.log.Error("sweeper", "err", err)
		}
	}
}

// persistVersionFloor records the highest version handed out, so that a restart after the
// clock went backwards still never reuses one.
func (e *Engine) persistVersionFloor() {
	k := encoding.AppendInternalKey(nil, recVersion)
	if err := e.pdb.Set(k, binary.BigEndian.AppendUint64(nil, e.lastVersion.Load()), pebble.NoSync); err != nil {
		e.log.Error("persist version floor", "err", err)
	}
}

// sweepRecord is one queued garbage range: the elements of (db, key, version).
type sweepRecord struct {
	db      uint16
	version uint64
	count   uint64
	key     []byte
}

func decodeSweep(v []byte) (sweepRecord, bool) {
	if len(v) < 18 {
		return sweepRecord{}, false
	}
	return sweepRecord{
		db:      binary.BigEndian.Uint16(v),
		version: binary.BigEndian.Uint64(v[2:]),
		count:   binary.BigEndian.Uint64(v[10:]),
		key:     v[18:],
	}, true
}

// sweepBatchSize is how many records one sweep batch removes.
const sweepBatchSize = 64

// sweep drains the queue.
func (e *Engine) sweep() error {
	for {
		it, err := e.sweepQueue()
		if err != nil {
			return err
		}
		n, err := e.sweepBatch(it)
		if err != nil || n < sweepBatchSize {
			return err
		}
		select {
		case <-e.stop:
			return nil
		default:
		}
	}
}

// sweepQueue opens an iterator over the sweep queue.
func (e *Engine) sweepQueue() (*pebble.Iterator, error) {
	lower := encoding.AppendInternalKey(nil, recSweep)
	return e.pdb.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: encoding.PrefixEnd(nil, lower)})
}

// sweepBatch removes up to sweepBatchSize queued ranges found by it (which it closes) and
// their records, in one batch, and says how many it removed.
func (e *Engine) sweepBatch(it *pebble.Iterator) (n int, err error) {
	b := e.pdb.NewBatch()
	defer b.Close()
	prefixLen := len(encoding.AppendInternalKey(nil, recSweep))
	for ok := it.First(); ok && n < sweepBatchSize; ok = it.Next() {
		if seq := it.Key()[prefixLen:]; len(seq) == 8 && e.guarded(binary.BigEndian.Uint64(seq)) {
			continue // a copy in progress: its Txn removes the record when it commits
		}
		// The iterator is a snapshot: a guard released since it was opened may have been
		// deleted by its Txn's commit, and the copy it names is now a live value. A guard is
		// released only after that commit, so a record still present now, after the check
		// above, is garbage for good.
		_, closer, err := e.pdb.Get(it.Key())
		if errors.Is(err, pebble.ErrNotFound) {
			continue
		}
		if err != nil {
			it.Close()
			return 0, err
		}
		closer.Close()
		if rec, valid := decodeSweep(it.Value()); valid {
			if err := e.sweepRange(b, rec); err != nil {
				it.Close()
				return 0, err
			}
		}
		b.Delete(it.Key(), nil)
		n++
	}
	if err := it.Close(); err != nil || n == 0 {
		return 0, err
	}
	return n, b.Commit(pebble.NoSync)
}

func (e *Engine) sweepRange(b *pebble.Batch, rec sweepRecord) error {
	elements := rec.count
	for _, prefix := range [][]byte{
		encoding.AppendSubPrefix(nil, rec.db, rec.key, rec.version),
		encoding.AppendScorePrefix(nil, rec.db, rec.key, rec.version),
	} {
		end := encoding.PrefixEnd(nil, prefix)
		if elements > sweepPointLimit {
			b.DeleteRange(prefix, end, nil)
			continue
		}
		it, err := e.pdb.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: end})
		if err != nil {
			return err
		}
		for ok := it.First(); ok; ok = it.Next() {
			b.Delete(it.Key(), nil)
		}
		if err := it.Close(); err != nil {
			return err
		}
	}
	return nil
}
