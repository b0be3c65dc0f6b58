package engine

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/stratadb/strata/encoding"
)

// Import: creating keys of every type from streams of elements, with their exact expiry, for
// RESTORE, the drop-in load of a Redis dump, and `strata import`.
//
// A KeyImporter builds one key. It writes the elements under a fresh version that no metadata
// points at, and the metadata last, so the key appears whole or not at all, and an import that
// fails halfway (a corrupt payload, a duplicate member) leaves the old value in place:
//
//   - in a Txn (RESTORE, the batch path of a Loader): a small value rides in the Txn's batch; past
//     keyImportInline bytes the rest goes straight to Pebble in bounded batches, guarded by a
//     sweep record exactly as big copies are (keyspace.go: copyElements), so a value of any size
//     is never held twice in memory. Finish writes the metadata through putMeta, the one write
//     path; the Txn's commit makes the key visible.
//   - in a bulk load (ingest.go): every record, metadata included, goes into an external sort
//     and leaves as sorted sstables that Pebble ingests in one step.
//
// Sets, hashes and sorted sets must not repeat a member: Redis refuses such a value when it
// loads one, and a repeated member would make the count in the metadata lie. A Txn import
// counts the members it wrote before writing the metadata (one scan of a range it has just
// written); a bulk load finds repeats when it merges its sorted runs.

// ErrImportDuplicate means an imported value repeats a member or field, or a dump repeats a key.
var ErrImportDuplicate = errors.New("engine: duplicate element in imported value")

// ErrImportOrder means the calls made to a KeyImporter do not fit its type.
var ErrImportOrder = errors.New("engine: import call out of order")

const (
	// keyImportInline is how many bytes of a value ride in the Txn's batch before the rest goes
	// straight to Pebble.
	keyImportInline = 4 << 20
	// keyImportBatch is the size at which a direct batch is written out.
	keyImportBatch = 4 << 20
)

// KeyImporter builds one key from its elements. Call the methods of the key's type, then
// Finish (or Discard).
type KeyImporter struct {
	t    *Txn      // Txn mode
	bulk *bulkLoad // bulk mode (t is nil)

	db     uint16 // physical database
	key    []byte
	old    keyState // Txn mode: the key as lookup found it
	m      encoding.Meta
	prefix []byte // subkey prefix of m.Version
	kbuf   []byte
	n      uint64 // elements written (strings: 0 or 1 value)

	// Sorted sets (import_zset.go).
	sc       []byte // score prefix of m.Version
	vbuf     []byte
	skiplist bool         // Redis would hold the set in a skiplist (not a listpack)
	held     []heldMember // members scored -0 while the encoding is not known

	stream *StreamImporter // streams (stream_io.go)

	inBatch int64         // bytes put in the Txn's batch
	direct  *pebble.Batch // Txn mode, past keyImportInline
	guard   []byte
	guarded bool

	err  error
	done bool
}

// ImportKey starts building key, of type typ and expiring at expireAt (unix ms, 0 = never), in
// the Txn's current database. Whatever key holds is replaced when Finish runs (RESTORE checks
// BUSYKEY itself). The Txn must hold key's write lock or the global latch.
func (t *Txn) ImportKey(key []byte, typ encoding.Type, expireAt int64) (*KeyImporter, error) {
	if !importable(typ) {
		return nil, fmt.Errorf("%w: cannot import a key of type %s here", ErrImportOrder, typ)
	}
	if typ == encoding.TypeStream {
		s, err := t.ImportStream(key, expireAt)
		if err != nil {
			return nil, err
		}
		return &KeyImporter{t: t, db: t.db, key: append([]byte(nil), key...), stream: s,
			m: encoding.Meta{Type: typ}}, nil
	}
	ks, err := t.lookup(key)
	if err != nil {
		return nil, err
	}
	im := &KeyImporter{t: t, db: t.db, key: append([]byte(nil), key...), old: ks}
	im.m = t.newMeta(typ)
	im.m.ExpireAt = expireAt
	im.prefix = encoding.AppendSubPrefix(nil, im.db, key, im.m.Version)
	return im, nil
}

// importable says whether a KeyImporter builds keys of type typ.
func importable(typ encoding.Type) bool {
	switch typ {
	case encoding.TypeString, encoding.TypeList, encoding.TypeSet, encoding.TypeZSet, encoding.TypeHash,
		encoding.TypeStream:
		return true
	}
	return false
}

// fail records the first error; every later call returns it.
func (im *KeyImporter) fail(err error) error {
	if im.err == nil {
		im.err = err
	}
	return im.err
}

func (im *KeyImporter) check(typ encoding.Type) error {
	switch {
	case im.err != nil:
		return im.err
	case im.done:
		return fmt.Errorf("%w: key %q already finished", ErrImportOrder, im.key)
	case im.m.Type != typ:
		return im.fail(fmt.Errorf("%w: a %s element for %s key %q", ErrImportOrder, typ, im.m.Type, im.key))
	}
	return nil
}

// put writes one element record (k is a complete Pebble key).
func (im *KeyImporter) put(k, v []byte) error {
	if im.bulk != nil {
		return im.bulk.add(k, v)
	}
	if im.direct == nil && im.inBatch < keyImportInline {
		im.t.set(k, v)
		im.inBatch += int64(len(k) + len(v))
		return nil
	}
	if im.direct == nil {
		if err := im.startDirect(); err != nil {
			return err
		}
	}
	im.direct.Set(k, v, nil)
	if im.direct.Len() < keyImportBatch {
		return nil
	}
	if err := im.direct.Commit(pebble.NoSync); err != nil {
		return err
	}
	im.direct.Reset()
	return nil
}

// startDirect switches a Txn import to direct batches under a guard record, which the Txn's
// batch deletes with the metadata that makes the elements live (see copyElements).
func (im *KeyImporter) startDirect() error {
	t := im.t
	seq := t.e.newVersion()
	im.guard = binary.BigEndian.AppendUint64(encoding.AppendInternalKey(nil, recSweep), seq)
	t.e.guardStart(seq)
	t.guards = append(t.guards, seq) // released when the Txn ends, after its commit
	v := binary.BigEndian.AppendUint16(nil, im.db)
	v = binary.BigEndian.AppendUint64(v, im.m.Version)
	v = binary.BigEndian.AppendUint64(v, 1<<62) // unknown size: swept with one range deletion
	v = append(v, im.key...)
	if err := t.e.pdb.Set(im.guard, v, pebble.NoSync); err != nil {
		return err
	}
	im.guarded = true
	im.direct = t.e.pdb.NewBatch()
	return nil
}

// String sets a string key's value.
func (im *KeyImporter) String(value []byte) error {
	if err := im.check(encoding.TypeString); err != nil {
		return err
	}
	if im.n > 0 {
		return im.fail(fmt.Errorf("%w: a second value for string key %q", ErrImportOrder, im.key))
	}
	im.n = 1
	im.m.Count = uint64(len(value))
	if len(value) <= encoding.InlineMax {
		im.m.Rest = append([]byte(nil), value...)
		return nil
	}
	im.m.Flags = encoding.FlagChunked
	for idx := uint64(0); len(value) > 0; idx++ {
		n := min(len(value), encoding.ChunkSize)
		if !allZero(value[:n]) { // a missing chunk reads as zeros (strstore.go)
			im.kbuf = encoding.AppendIndexSubKey(im.kbuf[:0], im.db, im.key, im.m.Version, idx)
			if err := im.put(im.kbuf, value[:n]); err != nil {
				return im.fail(err)
			}
		}
		value = value[n:]
	}
	return nil
}

// ListItem appends an element to a list key.
func (im *KeyImporter) ListItem(value []byte) error {
	if err := im.check(encoding.TypeList); err != nil {
		return err
	}
	im.kbuf = encoding.AppendIndexSubKey(im.kbuf[:0], im.db, im.key, im.m.Version, encoding.ListStart+im.n)
	im.n++
	if err := im.put(im.kbuf, value); err != nil {
		return im.fail(err)
	}
	return nil
}

// SetMember adds a member to a set key.
func (im *KeyImporter) SetMember(member []byte) error {
	if err := im.check(encoding.TypeSet); err != nil {
		return err
	}
	return im.member(member, nil)
}

// HashField adds a field to a hash key.
func (im *KeyImporter) HashField(field, value []byte) error {
	if err := im.check(encoding.TypeHash); err != nil {
		return err
	}
	return im.member(field, value)
}

func (im *KeyImporter) member(member, value []byte) error {
	im.kbuf = append(append(im.kbuf[:0], im.prefix...), member...)
	im.n++
	if err := im.put(im.kbuf, value); err != nil {
		return im.fail(err)
	}
	return nil
}

// Finish writes the key's metadata; in a Txn the key appears when the Txn commits. It reports
// false, creating nothing, for a collection without elements (Redis never keeps one, and
// skips one when it loads a dump).
func (im *KeyImporter) Finish() (bool, error) {
	if im.err != nil {
		im.Discard()
		return false, im.err
	}
	if im.done {
		return false, fmt.Errorf("%w: key %q already finished", ErrImportOrder, im.key)
	}
	if im.stream != nil {
		im.done = true
		if err := im.stream.Finish(); err != nil {
			return false, err
		}
		return true, nil
	}
	if im.m.Type != encoding.TypeString {
		if im.n == 0 {
			im.Discard()
			return false, nil
		}
		im.m.Count = im.n
	} else if im.n == 0 {
		im.m.Rest = []byte{} // an empty string
	}
	if im.m.Type == encoding.TypeList {
		im.m.Rest = encoding.AppendListFields(nil, encoding.ListFields{Head: encoding.ListStart, Tail: encoding.ListStart + im.n})
	}
	if im.m.Type == encoding.TypeString && im.m.Flags&encoding.FlagChunked == 0 {
		im.m.Version = 0 // an inline string owns no subkeys, as writeString makes it
	}
	if im.bulk != nil {
		im.done = true
		if im.m.Type == encoding.TypeZSet {
			if err := im.finishZSet(); err != nil {
				return false, err
			}
		}
		return true, im.bulk.finishKey(im)
	}
	if err := im.finishTxn(); err != nil {
		im.fail(err)
		im.Discard()
		return false, err
	}
	return true, nil
}

func (im *KeyImporter) finishTxn() error {
	t := im.t
	if im.direct != nil {
		if err := im.direct.Commit(pebble.NoSync); err != nil {
			return err
		}
		im.direct.Close()
		im.direct = nil
	}
	switch im.m.Type {
	case encoding.TypeSet, encoding.TypeHash:
		if err := im.countMembers(); err != nil {
			return err
		}
	case encoding.TypeZSet:
		if err := im.writeHeld(); err != nil {
			return err
		}
		if err := im.countMembers(); err != nil {
			return err
		}
		if err := im.finishZSet(); err != nil {
			return err
		}
	}
	im.done = true
	if im.guarded {
		t.del(im.guard)
	}
	t.putMeta(im.key, &im.old, &im.m)
	return nil
}

// countMembers checks that the members written are as many as were put: a repeated member
// overwrote its first record.
func (im *KeyImporter) countMembers() error {
	it, err := im.t.iter(im.prefix, encoding.PrefixEnd(nil, im.prefix))
	if err != nil {
		return err
	}
	var n uint64
	for ok := it.First(); ok; ok = it.Next() {
		n++
	}
	if err := it.Close(); err != nil {
		return err
	}
	if n != im.n {
		return fmt.Errorf("%w: %s %q has %d elements, %d distinct", ErrImportDuplicate, im.m.Type, im.key, im.n, n)
	}
	return nil
}

// Discard abandons the key: the old value stays, and what was written is left to the sweeper.
func (im *KeyImporter) Discard() {
	if im.done {
		return
	}
	im.done = true
	if im.stream != nil {
		im.stream.Discard()
		return
	}
	if im.bulk != nil {
		im.bulk.discardKey(im)
		return
	}
	if im.direct != nil {
		im.direct.Close()
		im.direct = nil
	}
	if im.guarded {
		// The guard record is on disk: once the Txn ends (and releases the guard), the sweeper
		// collects everything under the version, the part in the Txn's batch included.
		return
	}
	if im.inBatch > 0 {
		im.t.queueSweep(im.db, im.key, im.m.Version, im.n)
	}
}
