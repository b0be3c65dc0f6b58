package engine

import (
	"bytes"
	"context"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Tombstones. Removing an element leaves a Pebble point tombstone that every iterator crossing
// its position steps over until a compaction drops it; in the memtable nothing drops it until
// a flush. Removals at the ends of a sorted set are kept off its scans by the set's hints
// (zset.go). Removals anywhere else (SPOP takes members at random; SREM, HDEL and ZREM from
// the middle) leave tombstones among the live elements, and every walk among them costs more
// with each removal: a set drained by SPOP has about removed/left tombstones between two
// members, thousands per pop near the end.
//
// So an iterator that skipped more than compactSkipped entries (its internal steps beyond the
// ones that moved it between the entries it returned: tombstones and overwritten versions),
// and more than compactRatio for every entry it was positioned on, asks, as it closes, for
// its range to be compacted. The compactor flushes the memtable when
// the range is in it and compacts the range down the levels, which drops the tombstones and
// what they delete. One compaction runs at a time, one starts at most every
// Options.CompactTombstonesEvery, and a request that comes while one runs or too soon is
// dropped: the next walk that meets the tombstones asks again.
//
// Measured on a 5000-member set drained by SPOP with no limit on how often
// (TestSPopCompactsTombstones): six to eight compactions took the internal steps per pop from
// about 450 to about 85. A 20000-member drain (BenchmarkSPopRun, under a second, so one
// compaction at the default pace) went from 950 to 360.

// An iterator asks for a compaction when it skipped more than compactSkipped entries and more
// than compactRatio per entry it was positioned on: a walk among live elements with about
// compactRatio tombstones between two of them.
const (
	compactSkipped = 256
	compactRatio   = 8
)

// compactRequest is a key range whose tombstones a walk found too many of.
type compactRequest struct{ lower, upper []byte }

// closeIter closes an iterator of the Txn's over [lower, upper), adding the internal steps it
// took (every tombstone it stepped over included) to the Txn's count, and asking for the
// range to be compacted when most of them skipped entries.
func (t *Txn) closeIter(it *pebble.Iterator, lower, upper []byte) error {
	s := it.Stats()
	internal := s.ForwardStepCount[pebble.InternalIterCall] + s.ReverseStepCount[pebble.InternalIterCall]
	t.steps += internal
	steps := s.ForwardStepCount[pebble.InterfaceCall] + s.ReverseStepCount[pebble.InterfaceCall]
	positioned := steps + s.ForwardSeekCount[pebble.InterfaceCall] + s.ReverseSeekCount[pebble.InterfaceCall]
	if skipped := internal - steps; skipped > compactSkipped && skipped > compactRatio*positioned && t.snap == nil {
		t.e.requestCompaction(lower, upper)
	}
	return it.Close()
}

// requestCompaction hands [lower, upper) to the compactor unless it has one waiting.
func (e *Engine) requestCompaction(lower, upper []byte) {
	if upper == nil || bytes.Compare(lower, upper) >= 0 {
		return
	}
	select {
	case e.compactWake <- compactRequest{bytes.Clone(lower), bytes.Clone(upper)}:
	default:
	}
}

// runCompactor compacts the ranges asked for, at most one every CompactTombstonesEvery.
func (e *Engine) runCompactor(ctx context.Context) {
	var last time.Time
	for {
		select {
		case <-e.stop:
			return
		case r := <-e.compactWake:
			if !last.IsZero() && time.Since(last) < e.opts.CompactTombstonesEvery {
				continue
			}
			last = time.Now()
			if err := e.pdb.Compact(ctx, r.lower, r.upper, false); err != nil && ctx.Err() == nil {
				e.log.Warn("compacting a range full of tombstones", "err", err)
			}
			e.tombstoneCompactions.Add(1)
			if e.compacted != nil {
				e.compacted()
			}
		}
	}
}
