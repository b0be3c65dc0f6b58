package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/stratadb/strata/encoding"
)

// Export: every key of every database, read out as plain values, for SAVE and BGSAVE, DUMP,
// `strata export` and whatever else turns the data set into a file.
//
// The engine speaks no file format here: a key leaves as an ExportKey followed by its elements,
// pushed into an ExportVisitor, one element at a time, so a collection of any size crosses
// without being held in memory (a string is the exception: it leaves as one value, at most
// proto-max-bulk-len). The mapping to RDB events lives in package persist, above the engine,
// so that the engine does not depend on Redis's file formats.
//
// A whole data set is read from a Snapshot: a Pebble snapshot taken under the shared latch, so
// that it sees every command committed before it and none after (a command's batch commits
// atomically; SWAPDB and FLUSHALL take the latch exclusively, so the database map copied with
// the snapshot matches it). Nothing is copied: the snapshot only pins the versions it sees, and
// writers go on unhindered while it is read. The snapshot's reads go through an ordinary Txn
// bound to it (Txn.snap), so each type is read by the same code its commands use; that Txn
// bypasses the hot tier, which holds the present, not the snapshot's past.

// ExportKey is what an exporter learns of a key before its elements.
type ExportKey struct {
	DB       int // logical database
	Key      []byte
	Type     encoding.Type
	ExpireAt int64 // unix ms, 0 = never
	// Len is the number of elements (list items, members, fields, stream entries), or a
	// string's length in bytes.
	Len int64
}

// ExportVisitor receives exported keys: BeginKey, the elements of the key's type, EndKey.
// Byte slices are valid only during the call. An error stops the export and is returned.
type ExportVisitor interface {
	// BeginKey starts a key; ErrSkipKey skips it (no elements, no EndKey).
	BeginKey(k *ExportKey) error
	// String is the whole value of a string key.
	String(value []byte) error
	// ListItem is one list element, head to tail.
	ListItem(value []byte) error
	// SetMember is one set member.
	SetMember(member []byte) error
	// HashField is one hash field and its value.
	HashField(field, value []byte) error
	// ZSetMember is one sorted-set member and its score, in score order.
	ZSetMember(member []byte, score float64) error
	// A stream's parts, in RDB order (stream_io.go).
	StreamVisitor
	EndKey() error
}

// ErrSkipKey, returned by ExportVisitor.BeginKey, skips the key.
var ErrSkipKey = errors.New("engine: skip this key")

// Snapshot is a consistent, read-only view of every database at one instant.
type Snapshot struct {
	snap  *pebble.Snapshot
	dbmap []uint16
	t     *Txn
}

// NewSnapshot takes a snapshot of every database. Close it when done: it pins the data it sees,
// and the engine cannot close while one is open.
func (e *Engine) NewSnapshot() (*Snapshot, error) {
	e.latch.RLock()
	defer e.latch.RUnlock()
	if e.closed {
		return nil, ErrClosed
	}
	s := &Snapshot{snap: e.pdb.NewSnapshot(), dbmap: append([]uint16(nil), e.dbmap...)}
	s.t = &Txn{e: e, mode: LockGlobal, snap: s.snap, now: time.Now().UnixMilli()}
	return s, nil
}

// Close releases the snapshot.
func (s *Snapshot) Close() error { return s.snap.Close() }

// Time is when the snapshot was taken (unix ms). Keys whose expiry is not later are left out,
// as they had expired by then.
func (s *Snapshot) Time() int64 { return s.t.now }

// Databases is the number of logical databases.
func (s *Snapshot) Databases() int { return len(s.dbmap) }

// KeyCounts returns the number of keys and of keys with an expiry in logical database db as
// the snapshot saw them (keys expired but not yet removed included: they are size hints).
func (s *Snapshot) KeyCounts(db int) (keys, expires int64) {
	p := s.dbmap[db]
	for _, kind := range []byte{countKeys, countExpires} {
		v, ok, err := s.t.get(countKey(nil, p, kind))
		if err != nil || !ok {
			continue
		}
		n, _ := decodeCount(v)
		if kind == countKeys {
			keys = n
		} else {
			expires = n
		}
	}
	s.t.arena = s.t.arena[:0]
	return max(keys, 0), max(expires, 0)
}

// exportCheckEvery is how many keys pass between two looks at the context.
const exportCheckEvery = 256

// Walk exports every live key of logical database db, in the engine's key order (by cluster
// slot, then by name). It stops early, with ctx's error, when ctx is done.
func (s *Snapshot) Walk(ctx context.Context, db int, v ExportVisitor) error {
	t := s.t
	t.ldb, t.db = db, s.dbmap[db]
	lower := encoding.DBPrefix(nil, encoding.TagMeta, t.db)
	it, err := s.snap.NewIter(&pebble.IterOptions{LowerBound: lower,
		UpperBound: encoding.DBPrefixEnd(nil, encoding.TagMeta, t.db)})
	if err != nil {
		return err
	}
	n := 0
	var mbuf []byte
	for ok := it.First(); ok; ok = it.Next() {
		if n++; n%exportCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				it.Close()
				return err
			}
		}
		_, _, key, err := encoding.DecodeMetaKey(it.Key())
		if err == nil {
			mbuf = append(mbuf[:0], it.Value()...)
			var m encoding.Meta
			if err = encoding.DecodeMeta(mbuf, &m); err != nil {
				err = corruptf("metadata of key %q: %v", key, err)
			} else if m.ExpireAt == 0 || m.ExpireAt > t.now {
				err = t.exportValue(key, &m, v)
			}
		}
		t.arena = t.arena[:0]
		if cap(t.arena) > 1<<20 {
			t.arena = nil
		}
		if err != nil {
			it.Close()
			return err
		}
	}
	return it.Close()
}

// ExportKey exports key's value as the Txn sees it (DUMP) and says whether it exists. The
// Txn must hold key's lock.
func (t *Txn) ExportKey(key []byte, v ExportVisitor) (bool, error) {
	ks, err := t.lookup(key)
	if err != nil || !ks.live {
		return false, err
	}
	return true, t.exportValue(key, &ks.meta, v)
}

// exportValue pushes one key (metadata m, in the Txn's current database) into v.
func (t *Txn) exportValue(key []byte, m *encoding.Meta, v ExportVisitor) error {
	k := ExportKey{DB: t.ldb, Key: key, Type: m.Type, ExpireAt: m.ExpireAt, Len: int64(m.Count)}
	if err := v.BeginKey(&k); err != nil {
		if errors.Is(err, ErrSkipKey) {
			return nil
		}
		return err
	}
	var err error
	switch m.Type {
	case encoding.TypeString:
		var val []byte
		if val, err = t.stringValue(key, m); err == nil {
			err = v.String(val)
		}
	case encoding.TypeList:
		err = t.exportElements(key, m, func(_, value []byte) error { return v.ListItem(value) })
	case encoding.TypeSet:
		err = t.exportElements(key, m, func(member, _ []byte) error { return v.SetMember(member) })
	case encoding.TypeHash:
		err = t.exportElements(key, m, v.HashField)
	case encoding.TypeZSet:
		var n uint64
		if _, err = t.ZSetEach(key, func(member []byte, score float64) error {
			n++
			return v.ZSetMember(member, score)
		}); err == nil && n != m.Count {
			err = corruptf("sorted set %q holds %d members, its metadata says %d", key, n, m.Count)
		}
	case encoding.TypeStream:
		_, err = t.ExportStream(key, v)
	default:
		err = corruptf("key %q has type %s, which cannot be exported", key, m.Type)
	}
	if err != nil {
		return err
	}
	return v.EndKey()
}

// exportElements walks the subkeys of a list (in index order, which is list order), set or
// hash, checking that they are as many as the metadata says.
func (t *Txn) exportElements(key []byte, m *encoding.Meta, fn func(member, value []byte) error) error {
	prefix := encoding.AppendSubPrefix(nil, t.db, key, m.Version)
	it, err := t.iter(prefix, encoding.PrefixEnd(nil, prefix))
	if err != nil {
		return err
	}
	var n uint64
	for ok := it.First(); ok; ok = it.Next() {
		if n++; n > m.Count {
			break
		}
		val, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return err
		}
		if err := fn(it.Key()[len(prefix):], val); err != nil {
			it.Close()
			return err
		}
	}
	if err := it.Close(); err != nil {
		return err
	}
	if n != m.Count {
		return corruptf("key %q holds %d elements or more, its metadata says %d", key, n, m.Count)
	}
	return nil
}

// ReadOnlyDir is a data directory opened for reading only, by a process that is not its
// server (`strata export --dir`, `strata inspect --dir`).
//
// What is safe with Pebble: a read-only open still takes the directory's lock file, so it fails
// while a server has the directory open, and no server can open it meanwhile; it replays the
// write-ahead log in memory and writes nothing. Reading the files of a directory that a live
// server owns (without the lock) is not safe: its compactions delete files under the reader.
// A checkpoint (Engine.Checkpoint) is consistent and cheap, but only the process that has the
// directory open can make one: the tools ask the running server for one (the CHECKPOINT
// command) and open that instead.
type ReadOnlyDir struct {
	e     *Engine
	cache *pebble.Cache
	lock  *pebble.Lock
}

// Checkpoint writes a consistent copy of the whole data directory, as of one instant, into
// the directory dest, which must not exist (its parents are created). Pebble hard-links the
// sstables (dest must be on the data directory's filesystem for that; elsewhere they are
// copied) and copies the write-ahead log and the manifest, so it costs little and writers go on
// meanwhile; the copy is a data directory that OpenReadOnly (or Open) reads. It pins disk
// space as the live directory compacts away from it: remove it when done.
//
// It holds the shared latch, as NewSnapshot does, so that no whole-keyspace write (FLUSHALL,
// SWAPDB) is half in it; each command's batch commits atomically, so the copy holds whole
// commands only.
func (e *Engine) Checkpoint(dest string) error {
	e.latch.RLock()
	defer e.latch.RUnlock()
	if e.closed {
		return ErrClosed
	}
	if err := e.pdb.Checkpoint(dest); err != nil {
		return fmt.Errorf("engine: checkpoint into %s: %w", dest, err)
	}
	return nil
}

// Dir is the data directory the engine was opened on.
func (e *Engine) Dir() string { return e.opts.Dir }

// ErrDirInUse is returned by OpenReadOnly when another process has the directory open.
var ErrDirInUse = errors.New("engine: the data directory is in use by another process (a running server?)")

// OpenReadOnly opens the data directory dir for reading.
func OpenReadOnly(dir string) (*ReadOnlyDir, error) {
	if exists, err := DataDirExists(dir); err != nil || !exists {
		if err == nil {
			err = errors.New("no database found")
		}
		return nil, fmt.Errorf("engine: %s is not a Strata data directory: %w", dir, err)
	}
	lock, err := pebble.LockDirectory(dir, vfs.Default)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrDirInUse, dir, err)
	}
	cache := pebble.NewCache(32 << 20)
	po := pebbleOptions(DefaultBloomBitsPerKey) // a read-only export never consults the filters
	po.ReadOnly = true
	po.Cache = cache
	po.Lock = lock
	po.Logger = pebbleLogger{slog.New(slog.NewTextHandler(io.Discard, nil))}
	pdb, err := pebble.Open(dir, po)
	if err != nil {
		cache.Unref()
		lock.Close()
		return nil, fmt.Errorf("engine: open %s: %w", dir, err)
	}
	e := &Engine{pdb: pdb, opts: Options{Dir: dir}}
	d := &ReadOnlyDir{e: e, cache: cache, lock: lock}
	format, ok, err := e.getInternal(recFormat)
	if err == nil && (!ok || len(format) != 4) {
		err = fmt.Errorf("%w: %s", ErrNotStrata, dir)
	}
	if err == nil {
		if v := binary.BigEndian.Uint32(format); v < encoding.MinFormatVersion || v > encoding.FormatVersion {
			err = fmt.Errorf("%w: %s has format %d, this binary reads formats %d to %d",
				ErrFormatTooNew, dir, v, encoding.MinFormatVersion, encoding.FormatVersion)
		}
	}
	var raw []byte
	if err == nil {
		raw, _, err = e.getInternal(recDBMap)
	}
	if err != nil {
		d.Close()
		return nil, err
	}
	for i := 0; i+1 < len(raw); i += 2 {
		e.dbmap = append(e.dbmap, binary.BigEndian.Uint16(raw[i:]))
	}
	e.opts.Databases = len(e.dbmap)
	return d, nil
}

// DataDirExists says whether dir holds a data directory (a Pebble store); false for a missing
// or empty directory, or one holding only other files (a dump.rdb).
func DataDirExists(dir string) (bool, error) {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	desc, err := pebble.Peek(dir, vfs.Default)
	if err != nil {
		return false, err
	}
	return desc.Exists, nil
}

// Snapshot returns a snapshot of every database.
func (d *ReadOnlyDir) Snapshot() (*Snapshot, error) { return d.e.NewSnapshot() }

// Close closes the directory; close the snapshots first.
func (d *ReadOnlyDir) Close() error {
	err := d.e.pdb.Close()
	d.cache.Unref()
	if lerr := d.lock.Close(); err == nil {
		err = lerr
	}
	return err
}
