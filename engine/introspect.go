package engine

import (
	"slices"

	"github.com/stratadb/strata/encoding"
)

// Footprint is what one key costs Strata in stored bytes (MEMORY USAGE): the Pebble keys and
// values that hold it, counted before Pebble's block compression and without its per-record
// overhead, plus an expiry-index entry when the key has a TTL.
type Footprint struct {
	Meta     int64 // the metadata record: key and value (an inline string included)
	Elements int64 // element records (subkeys, and the score index of a sorted set)
	Expiry   int64 // the expiry-index entry
	// Sampled is true when the elements were not all read: Elements is then the average
	// size of the records read times the number the key has.
	Sampled bool
}

// Total is the footprint in bytes.
func (f Footprint) Total() int64 { return f.Meta + f.Elements + f.Expiry }

// Footprint measures key in the current database, reading at most samples records of each
// element family (samples <= 0: all of them) and extrapolating from their average size, as
// Redis's MEMORY USAGE samples big collections. It reports false when the key does not
// exist or has expired. It does not count as an access.
func (t *Txn) Footprint(key []byte, samples int) (Footprint, bool, error) {
	var f Footprint
	ks, err := t.lookup(key)
	if err != nil || !ks.live {
		return f, false, err
	}
	m := &ks.meta
	f.Meta = int64(len(encoding.AppendMetaKey(nil, t.db, key)) + encoding.MetaHeaderLen + len(m.Rest))
	if m.ExpireAt != 0 {
		f.Expiry = int64(len(encoding.AppendExpiryKey(nil, m.ExpireAt, t.db, key)))
	}
	count := elementCount(m)
	if count == 0 {
		return f, true, nil
	}
	families := []func([]byte, uint16, []byte, uint64) []byte{encoding.AppendSubPrefix}
	if m.Type == encoding.TypeZSet {
		families = append(families, encoding.AppendScorePrefix)
	}
	for i, fam := range families {
		prefix := fam(nil, t.db, key, m.Version)
		lower := prefix
		if i == 1 { // the score range: from the floor, past the tombstones of the pops below
			if zf, err := encoding.DecodeZSetFields(m.Rest); err == nil {
				lower = append(slices.Clip(prefix), zf.Floor...)
			}
		}
		it, err := t.iter(lower, encoding.PrefixEnd(nil, prefix))
		if err != nil {
			return f, false, err
		}
		var bytes, seen int64
		exhausted := true
		for ok := it.First(); ok; ok = it.Next() {
			if samples > 0 && seen == int64(samples) {
				exhausted = false
				break
			}
			v, err := it.ValueAndErr()
			if err != nil {
				it.Close()
				return f, false, err
			}
			bytes += int64(len(it.Key()) + len(v))
			seen++
		}
		if err := it.Close(); err != nil {
			return f, false, err
		}
		if exhausted || seen == 0 {
			f.Elements += bytes
			continue
		}
		f.Sampled = true
		f.Elements += int64(float64(bytes) / float64(seen) * float64(count))
	}
	return f, true, nil
}

// ReleaseReads forgets every value the Txn's reads returned so far, so that a long read-only
// walk (DEBUG DIGEST over the whole data set) does not keep them all until the Txn ends.
// The caller must not use any value read before the call.
func (t *Txn) ReleaseReads() {
	if cap(t.arena) > 1<<20 {
		t.arena = nil
	}
	t.arena = t.arena[:0]
}
