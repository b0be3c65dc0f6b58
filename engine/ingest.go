package engine

import (
	"bufio"
	"bytes"
	"container/heap"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/stratadb/strata/encoding"
)

// Loading many keys: the Loader, with two paths.
//
// The batch path imports each key through a Txn under the global latch (KeyImporter in Txn
// mode), committing every loaderCommitBytes; it works on any engine, replacing keys that exist.
//
// The bulk path is for an engine that holds no key yet (a drop-in start, `strata import` into a
// new directory). Pebble's cheapest way in is ingestion: sorted sstables placed straight into
// the bottom level, written once, never compacted again. A dump is not sorted (Redis writes each
// database in hash-table order, and a key's elements in its own order), so every record goes
// through an external sort:
//
//	records ──> run buffer (MemoryLimit bytes) ──sort──> run file ┐
//	                                                             ├─ k-way merge ─> sstables ─> Ingest
//	            (the last run stays in memory) ──────────────────┘   (repeats found here)
//
// A data set that fits in the buffer is sorted in memory and written once. Memory stays at the
// buffer plus one read buffer per run, whatever the size of the data set or of one key. The
// buffer is two halves: while one full half is sorted and written as a run by a goroutine of
// its own, the load goes on filling the other, so reading the dump and writing runs share two
// cores instead of taking turns on one. The merge, likewise, runs beside the building of the
// sstables (writeTables), with a few chunks of merged records between them. The
// sstables are cut at bulkTableSize, built with the options the engine's Pebble uses, and
// ingested in one call: they do not overlap each other, and nothing else lives in their key
// range, so Pebble places them in the bottom level. The key counts are written after the
// ingestion, and the hot tier is told that it no longer holds every key.

// LoaderOptions choose a Loader's path and its resources.
type LoaderOptions struct {
	// Bulk sorts every record and ingests sstables; the engine must hold no key. Otherwise keys
	// are imported through Txns (and replace the keys that exist).
	Bulk bool
	// TempDir holds the runs and sstables of a bulk load; empty means a directory inside the
	// data directory (ingestion links files, so it must be on the same filesystem).
	TempDir string
	// MemoryLimit is how many bytes of records a bulk load sorts in memory at a time; 0 means
	// 64 MiB.
	MemoryLimit int
}

// LoadStats report what a Loader wrote.
type LoadStats struct {
	Keys    int64
	Records int64 // Pebble records written (metadata, elements, indexes)
	Bytes   int64 // their keys and values
	Runs    int   // sorted runs spilled to disk by a bulk load
	Tables  int   // sstables ingested by a bulk load
}

// ErrNotEmpty is returned for a bulk load into an engine that holds keys.
var ErrNotEmpty = errors.New("engine: a bulk load needs an engine without keys")

// Loader imports keys in many databases. Use one KeyImporter at a time: finish (or discard) it
// before asking for the next key. Finish the Loader to make the keys durable (and, for a bulk
// load, visible); Close abandons what is not finished.
type Loader struct {
	e      *Engine
	t      *Txn
	locked bool
	bulk   *bulkLoad
	stats  LoadStats
}

// loaderCommitBytes is the batch size at which the batch path commits.
const loaderCommitBytes = 4 << 20

// NewLoader starts loading keys into the engine.
func (e *Engine) NewLoader(o LoaderOptions) (*Loader, error) {
	l := &Loader{e: e, t: e.NewTxn()}
	if !o.Bulk {
		return l, nil
	}
	empty, err := e.empty()
	if err != nil {
		return nil, err
	}
	if !empty {
		return nil, ErrNotEmpty
	}
	if l.bulk, err = newBulkLoad(e, o); err != nil {
		return nil, err
	}
	return l, nil
}

// empty says whether no key exists in any database.
func (e *Engine) empty() (bool, error) {
	it, err := e.pdb.NewIter(&pebble.IterOptions{
		LowerBound: []byte{encoding.TagMeta}, UpperBound: []byte{encoding.TagMeta + 1}})
	if err != nil {
		return false, err
	}
	found := it.First()
	return !found, it.Close()
}

// Key starts importing key into logical database db (see Txn.ImportKey).
func (l *Loader) Key(db int, key []byte, typ encoding.Type, expireAt int64) (*KeyImporter, error) {
	if db < 0 || db >= l.e.opts.Databases {
		return nil, fmt.Errorf("engine: database %d out of range (databases %d)", db, l.e.opts.Databases)
	}
	l.stats.Keys++
	if l.bulk != nil && typ != encoding.TypeStream {
		if l.locked {
			if err := l.commit(); err != nil {
				return nil, err
			}
		}
		return l.bulk.key(db, key, typ, expireAt)
	}
	if l.locked && l.t.batch != nil && l.t.batch.Len() >= loaderCommitBytes {
		if err := l.commit(); err != nil {
			return nil, err
		}
	}
	if !l.locked {
		l.t.Begin(db, LockGlobal)
		if err := l.t.Lock(); err != nil {
			return nil, err
		}
		l.locked = true
	}
	l.t.SelectDB(db)
	return l.t.ImportKey(key, typ, expireAt)
}

func (l *Loader) commit() error {
	if !l.locked {
		return nil
	}
	l.locked = false
	if l.t.batch != nil {
		l.stats.Records += int64(l.t.batch.Count())
		l.stats.Bytes += int64(l.t.batch.Len())
	}
	return l.t.Commit()
}

// Finish makes every imported key durable and visible and reports what was written.
func (l *Loader) Finish(ctx context.Context) (LoadStats, error) {
	if err := l.commit(); err != nil {
		return l.stats, err
	}
	if l.bulk != nil {
		err := l.bulk.finish(ctx, &l.stats)
		l.bulk.close()
		l.bulk = nil
		return l.stats, err
	}
	return l.stats, l.e.Flush()
}

// Close abandons whatever was not finished (a batch-path Txn not yet committed, a bulk load's
// files).
func (l *Loader) Close() {
	if l.locked {
		l.t.Abort()
		l.locked = false
	}
	if l.bulk != nil {
		l.bulk.close()
		l.bulk = nil
	}
}

// ---- the bulk path ----

const (
	bulkDefaultMemory = 64 << 20
	// bulkTableSize is the size at which an ingested sstable is cut.
	bulkTableSize = 64 << 20
	bulkRunBuffer = 256 << 10
)

// bulkLoad sorts a load's records and turns them into ingested sstables. Streams are the
// exception: they take the batch path even in a bulk load (their importer, stream_io.go,
// writes its own records), before the sstables are ingested.
type bulkLoad struct {
	e     *Engine
	fs    vfs.FS
	dir   string
	limit int // bytes of one half of the buffer

	bulkRun          // the half being filled
	spare    bulkRun // the other half: the run being written while spilling is not nil
	spilling chan error
	big      bool // the arena outgrew uint32 offsets' reach: spill at once
	runs     []string
	keyAt    int // records of the current key start here in recs (-1: some were spilled)

	counts map[uint16]*[2]int64 // keys and expiring keys per physical database
	ranked map[string]uint64    // score prefix -> members, of the sorted sets that need ranks
	err    error
}

// bulkRun is the records of one run: a half of the bulk load's buffer.
type bulkRun struct {
	arena []byte    // keys and values, back to back
	recs  []bulkRec // the records in the arena
	// groups are where each key's records start in recs (sortRun sorts key by key first).
	groups []int
	order  []bulkRec // scratch of sortRun
}

func newBulkLoad(e *Engine, o LoaderOptions) (*bulkLoad, error) {
	b := &bulkLoad{e: e, fs: e.opts.FS, dir: o.TempDir, limit: o.MemoryLimit,
		counts: map[uint16]*[2]int64{}, ranked: map[string]uint64{}}
	if b.limit <= 0 {
		b.limit = bulkDefaultMemory
	}
	b.limit = max(b.limit/2, 1) // two halves: one filled while the other is written
	if b.dir == "" {
		b.dir = b.fs.PathJoin(e.opts.Dir, "strata-import.tmp")
	}
	if err := b.fs.RemoveAll(b.dir); err != nil {
		return nil, err
	}
	if err := b.fs.MkdirAll(b.dir, 0o750); err != nil {
		return nil, err
	}
	b.arena = make([]byte, 0, b.limit+b.limit/8)
	return b, nil
}

func (b *bulkLoad) close() {
	_ = b.waitSpill() // the run's writer must be done with the directory
	b.arena, b.recs, b.spare = nil, nil, bulkRun{}
	_ = b.fs.RemoveAll(b.dir)
}

func (b *bulkLoad) key(db int, key []byte, typ encoding.Type, expireAt int64) (*KeyImporter, error) {
	if b.err != nil {
		return nil, b.err
	}
	if !importable(typ) {
		return nil, fmt.Errorf("%w: cannot import a key of type %s here", ErrImportOrder, typ)
	}
	p := b.e.dbmap[db]
	im := &KeyImporter{bulk: b, db: p, key: append([]byte(nil), key...)}
	im.m = encoding.Meta{Type: typ, Version: b.e.newVersion(), ExpireAt: expireAt}
	im.prefix = encoding.AppendSubPrefix(nil, p, key, im.m.Version)
	b.keyAt = len(b.recs)
	b.groups = append(b.groups, len(b.recs))
	return im, nil
}

// bulkRec locates one record in the arena: its key at off, its value right after.
type bulkRec struct {
	off, klen, vlen uint32
}

// bulkRecSize is what one record costs besides its bytes, counted against the memory limit.
const bulkRecSize = 12

func (r bulkRec) key(arena []byte) []byte { return arena[r.off : r.off+r.klen] }
func (r bulkRec) value(arena []byte) []byte {
	return arena[r.off+r.klen : r.off+r.klen+r.vlen]
}

// add queues one record.
func (b *bulkLoad) add(k, v []byte) error {
	if b.err != nil {
		return b.err
	}
	if b.big || len(b.arena)+len(b.recs)*bulkRecSize+len(k)+len(v) > b.limit && len(b.recs) > 0 {
		if err := b.spill(); err != nil {
			b.err = err
			return err
		}
	}
	if len(k) > math.MaxUint32/2 || len(v) > math.MaxUint32/2 {
		b.err = fmt.Errorf("engine: bulk load: a record of %d bytes", len(k)+len(v))
		return b.err
	}
	b.recs = append(b.recs, bulkRec{off: uint32(len(b.arena)), klen: uint32(len(k)), vlen: uint32(len(v))})
	b.arena = append(append(b.arena, k...), v...)
	b.big = len(b.arena) > 1<<31
	return nil
}

// sortRun sorts the run's records by key, in two steps that keep the comparisons short and
// local: each key's records (contiguous in recs) are sorted among themselves, then cut into
// segments of one family (metadata, subkeys, score keys, expiry), and the segments are sorted
// by their first key. That is a sort of all records because segments never interleave: the
// element records of one key share a prefix that no other key's records can fall between
// (it carries the key's length), and a metadata or expiry segment is a single record.
func (b *bulkRun) sortRun() {
	arena := b.arena
	byKey := func(x, y bulkRec) int { return bytes.Compare(x.key(arena), y.key(arena)) }
	bounds := append(b.groups, len(b.recs))
	type segment struct{ start, end int }
	var segs []segment
	for i := 0; i+1 < len(bounds); i++ {
		g := b.recs[bounds[i]:bounds[i+1]]
		slices.SortFunc(g, byKey)
		start := bounds[i]
		for j := 1; j <= len(g); j++ {
			if j == len(g) || arena[g[j].off] != arena[g[j-1].off] {
				segs = append(segs, segment{start, bounds[i] + j})
				start = bounds[i] + j
			}
		}
	}
	slices.SortFunc(segs, func(x, y segment) int { return byKey(b.recs[x.start], b.recs[y.start]) })
	out := b.order[:0]
	for _, sg := range segs {
		out = append(out, b.recs[sg.start:sg.end]...)
	}
	b.order, b.recs = b.recs[:0], out
}

// spill hands the records in memory to a goroutine that sorts them and writes them out as a
// run, and goes on in the other half of the buffer once the run before is written.
func (b *bulkLoad) spill() error {
	if err := b.waitSpill(); err != nil {
		return err
	}
	name := b.fs.PathJoin(b.dir, "run-"+strconv.Itoa(len(b.runs)))
	b.runs = append(b.runs, name)
	run, fs, done := b.bulkRun, b.fs, make(chan error, 1)
	b.spilling = done
	go func(run bulkRun) { // a copy: sortRun changes its slice headers, not the spare's
		run.sortRun()
		done <- run.write(fs, name)
	}(run)
	b.bulkRun, b.spare = b.spare, run
	if b.arena == nil {
		b.arena = make([]byte, 0, b.limit+b.limit/8)
	}
	b.arena, b.recs, b.order = b.arena[:0], b.recs[:0], b.order[:0]
	b.groups = append(b.groups[:0], 0) // the key being loaded goes on in the next run
	b.keyAt = -1
	return nil
}

// waitSpill waits for the run being written, if any, and returns its error.
func (b *bulkLoad) waitSpill() error {
	if b.spilling == nil {
		return nil
	}
	err := <-b.spilling
	b.spilling = nil
	return err
}

// write writes the sorted records to a new run file.
func (b *bulkRun) write(fs vfs.FS, name string) error {
	f, err := fs.Create(name, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, bulkRunBuffer)
	var hdr [2 * binary.MaxVarintLen32]byte
	for _, r := range b.recs {
		h := binary.AppendUvarint(hdr[:0], uint64(r.klen))
		h = binary.AppendUvarint(h, uint64(r.vlen))
		w.Write(h)
		if _, err := w.Write(b.arena[r.off : r.off+r.klen+r.vlen]); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// finishKey queues the metadata of a finished key, and its expiry index entry.
func (b *bulkLoad) finishKey(im *KeyImporter) error {
	m := &im.m
	v := encoding.AppendMeta(nil, m)
	if err := b.add(encoding.AppendMetaKey(im.kbuf[:0], im.db, im.key), v); err != nil {
		return err
	}
	c := b.counts[im.db]
	if c == nil {
		c = new([2]int64)
		b.counts[im.db] = c
	}
	c[0]++
	if m.ExpireAt != 0 {
		c[1]++
		return b.add(encoding.AppendExpiryKey(im.kbuf[:0], m.ExpireAt, im.db, im.key), nil)
	}
	return nil
}

// discardKey drops the records of a key that will not be finished. Records already spilled to
// a run cannot be taken back: the load then fails.
func (b *bulkLoad) discardKey(im *KeyImporter) {
	switch {
	case b.keyAt >= 0:
		if b.keyAt < len(b.recs) {
			b.arena = b.arena[:b.recs[b.keyAt].off]
			b.recs = b.recs[:b.keyAt]
		}
	case b.err == nil:
		b.err = fmt.Errorf("engine: bulk load: key %q abandoned after part of it was sorted", im.key)
	}
}

// finish merges the runs into sstables and ingests them.
func (b *bulkLoad) finish(ctx context.Context, st *LoadStats) error {
	if b.err != nil {
		return b.err
	}
	var src recordSource
	if len(b.runs) == 0 {
		b.sortRun()
		src = &memSource{arena: b.arena, recs: b.recs}
	} else {
		if len(b.recs) > 0 {
			if err := b.spill(); err != nil {
				return err
			}
		}
		if err := b.waitSpill(); err != nil {
			return err
		}
		b.arena, b.spare = nil, bulkRun{} // the memory goes to the runs' read buffers
		m, err := b.openRuns()
		if err != nil {
			return err
		}
		defer m.close()
		src = m
	}
	st.Runs = len(b.runs)
	tables, err := b.writeTables(ctx, src, st)
	if err != nil {
		return err
	}
	st.Tables = len(tables)
	return b.ingest(ctx, tables)
}

// writeTables writes the sorted records as sstables of about bulkTableSize bytes, adding the
// rank buckets of big sorted sets after their positions.
//
// It is a pipeline of two goroutines: this one builds the sstables (Pebble's writer: blocks,
// compression, filters, the file writes), while mergeRecords reads the runs, merges them,
// checks the order and adds the rank buckets, handing the records over in chunks of about
// tableChunkBytes. On one goroutine the two took turns on one core, and each was about half
// of the merge phase. Chunks are recycled (tableChunks of them), so the memory the pipeline
// adds is a few chunks, plus a record bigger than a chunk for as long as it is in one.
func (b *bulkLoad) writeTables(ctx context.Context, src recordSource, st *LoadStats) ([]string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	full := make(chan *tableChunk, tableChunks)
	free := make(chan *tableChunk, tableChunks)
	for range tableChunks {
		free <- &tableChunk{}
	}
	merged := make(chan error, 1)
	go func() {
		err := b.mergeRecords(ctx, src, full, free)
		close(full)
		merged <- err
	}()
	tables, err := b.buildTables(ctx, full, free, st)
	if err != nil {
		cancel() // stops the merge, which then closes full
		for range full {
		}
	}
	if merr := <-merged; err == nil && merr != nil {
		err = merr
	}
	if err != nil {
		return nil, err
	}
	return tables, nil
}

// tableChunk carries merged records from mergeRecords to buildTables.
type tableChunk struct {
	buf  []byte // keys and values, back to back
	recs []bulkRec
}

const (
	tableChunkBytes = 1 << 20
	tableChunks     = 4
)

// mergeRecords reads src in key order, checks that no record repeats, adds the rank buckets
// of big sorted sets, and sends the records to full in chunks taken from free.
func (b *bulkLoad) mergeRecords(ctx context.Context, src recordSource, full chan<- *tableChunk, free <-chan *tableChunk) error {
	var (
		c      *tableChunk
		prev   []byte
		cutter *rankCutter
	)
	send := func() error {
		select {
		case full <- c:
			c = nil
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	put := func(k, v []byte) error {
		if prev != nil && bytes.Compare(prev, k) >= 0 {
			return duplicateRecord(k)
		}
		prev = append(prev[:0], k...)
		if c == nil {
			select {
			case c = <-free:
				c.buf, c.recs = c.buf[:0], c.recs[:0]
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		c.recs = append(c.recs, bulkRec{off: uint32(len(c.buf)), klen: uint32(len(k)), vlen: uint32(len(v))})
		c.buf = append(append(c.buf, k...), v...)
		if len(c.buf) >= tableChunkBytes {
			return send()
		}
		return nil
	}
	for {
		k, v, ok, err := src.next()
		if err == nil && cutter != nil && (!ok || !cutter.sameSet(k)) {
			err = cutter.buckets(put)
			cutter = nil
		}
		if err == nil && ok && len(b.ranked) > 0 && cutter == nil {
			if sc := scorePrefixOf(k); sc != nil {
				if n, big := b.ranked[string(sc)]; big {
					cutter = newRankCutter(sc, int(n))
				}
			}
		}
		if err == nil && ok && cutter != nil {
			cutter.position(k[len(cutter.sc):])
		}
		if err == nil && ok {
			err = put(k, v)
		}
		if err != nil {
			return err
		}
		if !ok {
			if c != nil && len(c.recs) > 0 {
				return send()
			}
			return nil
		}
	}
}

// buildTables writes the records of the chunks it receives into sstables cut at
// bulkTableSize, and gives each chunk back to free.
func (b *bulkLoad) buildTables(ctx context.Context, full <-chan *tableChunk, free chan<- *tableChunk, st *LoadStats) ([]string, error) {
	po := pebbleOptions(b.e.opts.BloomBitsPerKey)
	po.EnsureDefaults()
	wo := po.MakeWriterOptions(len(po.Levels)-1, b.e.pdb.TableFormat())
	var (
		tables []string
		w      *sstable.Writer
	)
	closeTable := func() error {
		if w == nil {
			return nil
		}
		err := w.Close()
		w = nil
		return err
	}
	put := func(k, v []byte) error {
		if w != nil && w.Raw().EstimatedSize() >= bulkTableSize {
			if err := closeTable(); err != nil {
				return err
			}
		}
		if w == nil {
			if err := ctx.Err(); err != nil {
				return err
			}
			name := b.fs.PathJoin(b.dir, "table-"+strconv.Itoa(len(tables))+".sst")
			f, err := b.fs.Create(name, vfs.WriteCategoryUnspecified)
			if err != nil {
				return err
			}
			w = sstable.NewWriter(objstorageprovider.NewFileWritable(f), wo)
			tables = append(tables, name)
		}
		if err := w.Set(k, v); err != nil {
			return err
		}
		st.Records++
		st.Bytes += int64(len(k) + len(v))
		return nil
	}
	for c := range full {
		for _, r := range c.recs {
			if err := put(r.key(c.buf), r.value(c.buf)); err != nil {
				closeTable()
				return nil, err
			}
		}
		if cap(c.buf) > 4*tableChunkBytes {
			c.buf = nil // a huge record passed through: do not keep its memory
		}
		free <- c // never blocks: free has room for every chunk
	}
	if err := closeTable(); err != nil {
		return nil, err
	}
	return tables, nil
}

// duplicateRecord names what a repeated record means.
func duplicateRecord(k []byte) error {
	if len(k) > 0 && k[0] == encoding.TagMeta {
		if db, _, key, err := encoding.DecodeMetaKey(k); err == nil {
			return fmt.Errorf("%w: key %q twice in database %d", ErrImportDuplicate, key, db)
		}
	}
	if _, _, key, _, _, err := encoding.DecodeElemKey(k); err == nil {
		return fmt.Errorf("%w: an element repeats in key %q", ErrImportDuplicate, key)
	}
	return fmt.Errorf("%w: record %q", ErrImportDuplicate, k)
}

// ingest places the sstables in Pebble, then records the key counts. It holds the latch
// exclusively, so no command sees the keys without their counts.
func (b *bulkLoad) ingest(ctx context.Context, tables []string) error {
	e := b.e
	e.latch.Lock()
	defer e.latch.Unlock()
	if e.closed {
		return ErrClosed
	}
	if len(tables) > 0 {
		if err := e.pdb.Ingest(ctx, tables); err != nil {
			return fmt.Errorf("engine: ingest: %w", err)
		}
	}
	batch := e.pdb.NewBatch()
	defer batch.Close()
	for db, c := range b.counts {
		batch.Merge(countKey(nil, db, countKeys), encodeCount(c[0]), nil)
		batch.Merge(countKey(nil, db, countExpires), encodeCount(c[1]), nil)
	}
	if err := batch.Commit(pebble.Sync); err != nil {
		return err
	}
	for db, c := range b.counts {
		e.stats[db].keys.Add(c[0])
		e.stats[db].expires.Add(c[1])
	}
	// The keys went around the one write path: the hot tier no longer holds every key, and
	// what it knew of absent keys (reads before the load) is wrong now.
	e.hot.clear()
	e.hot.loss()
	return nil
}

// recordSource yields records in key order.
type recordSource interface {
	next() (k, v []byte, ok bool, err error)
}

type memSource struct {
	arena []byte
	recs  []bulkRec
	i     int
}

func (m *memSource) next() ([]byte, []byte, bool, error) {
	if m.i >= len(m.recs) {
		return nil, nil, false, nil
	}
	r := m.recs[m.i]
	m.i++
	return r.key(m.arena), r.value(m.arena), true, nil
}

// runReader reads one sorted run.
type runReader struct {
	f    vfs.File
	r    *bufio.Reader
	k, v []byte
	buf  []byte
}

func (r *runReader) advance() (bool, error) {
	kl, err := binary.ReadUvarint(r.r)
	if err == io.EOF {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	vl, err := binary.ReadUvarint(r.r)
	if err != nil {
		return false, err
	}
	need := int(kl + vl)
	if cap(r.buf) < need {
		r.buf = make([]byte, need)
	}
	r.buf = r.buf[:need]
	if _, err := io.ReadFull(r.r, r.buf); err != nil {
		return false, err
	}
	r.k, r.v = r.buf[:kl], r.buf[kl:]
	return true, nil
}

// runMerger merges the runs with a heap on their current keys.
type runMerger struct {
	h       runHeap
	last    *runReader // the reader whose record was returned last: advance it first
	readers []*runReader
}

type runHeap []*runReader

func (h runHeap) Len() int           { return len(h) }
func (h runHeap) Less(i, j int) bool { return bytes.Compare(h[i].k, h[j].k) < 0 }
func (h runHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *runHeap) Push(x any)        { *h = append(*h, x.(*runReader)) }
func (h *runHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (b *bulkLoad) openRuns() (*runMerger, error) {
	m := &runMerger{}
	size := bulkRunBuffer
	if len(b.runs) > 64 {
		size = max(16<<10, 2*b.limit/len(b.runs)) // both halves of the buffer
	}
	for _, name := range b.runs {
		f, err := b.fs.Open(name)
		if err != nil {
			m.close()
			return nil, err
		}
		r := &runReader{f: f, r: bufio.NewReaderSize(f, size)}
		m.readers = append(m.readers, r)
		ok, err := r.advance()
		if err != nil {
			m.close()
			return nil, err
		}
		if ok {
			m.h = append(m.h, r)
		}
	}
	heap.Init(&m.h)
	return m, nil
}

func (m *runMerger) next() ([]byte, []byte, bool, error) {
	if m.last != nil {
		ok, err := m.last.advance()
		if err != nil {
			return nil, nil, false, err
		}
		if ok {
			heap.Fix(&m.h, 0)
		} else {
			heap.Pop(&m.h)
		}
		m.last = nil
	}
	if len(m.h) == 0 {
		return nil, nil, false, nil
	}
	r := m.h[0]
	m.last = r
	return r.k, r.v, true, nil
}

func (m *runMerger) close() {
	for _, r := range m.readers {
		r.f.Close()
	}
}
