package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/stratadb/strata/encoding"
)

// Options configure an Engine. The zero value of every field but Dir has a sensible meaning.
type Options struct {
	// Dir is the data directory (Pebble's files live in it).
	Dir string
	// Databases is the number of logical databases (SELECT 0 .. Databases-1). Default 16.
	Databases int
	// Fsync is the appendfsync policy; change it live with SetFsyncMode.
	Fsync FsyncMode
	// BlockCacheSize is the bytes of Pebble's block cache for blocks. Default 64 MiB. (The
	// cache is made 2*MemTableSize bigger: Pebble charges its memtables to it.)
	BlockCacheSize int64
	// MemTableSize is Pebble's memtable size in bytes. Default 32 MiB.
	MemTableSize uint64
	// BlockCompression is Pebble's compression of sstable blocks: "snappy" (the default),
	// "zstd", "minlz" or "none".
	BlockCompression string
	// CompactionConcurrency is the most compactions Pebble runs at once. Default 1.
	CompactionConcurrency int
	// BloomBitsPerKey sizes the bloom filter of every sstable, which lets a point read (every
	// key's metadata lookup) skip the tables that cannot hold its key. Zero means
	// DefaultBloomBitsPerKey; negative, no filters.
	BloomBitsPerKey int
	// MaxMemory is the hot tier's budget in bytes (maxmemory). Zero means DefaultHotTier.
	MaxMemory int64
	// Policy is the hot tier's eviction policy (maxmemory-policy).
	Policy EvictionPolicy
	// ValueCompression is the codec of string values of at least ValueCompressionThreshold
	// bytes (encoding.CodecNone, CodecS2, CodecZstd; see compress.go); change both live
	// with SetValueCompression. A zero threshold means DefaultCompressionThreshold.
	ValueCompression          uint8
	ValueCompressionThreshold int64
	// ActiveExpireInterval is how often the expiry index is walked. Default 100ms (hz 10).
	ActiveExpireInterval time.Duration
	// CompactTombstonesEvery is the least time between two compactions of a key range whose
	// tombstones a walk found too many of (tombstones.go). Default 1s; negative: never.
	CompactTombstonesEvery time.Duration
	// Logger receives the engine's and Pebble's logs. Default: slog.Default().
	Logger *slog.Logger
	// Hooks are told about changes, under the key locks of the change (see Hooks).
	Hooks Hooks
	// FS replaces the filesystem (tests). Default: the real one.
	FS vfs.FS
}

// Hooks let the layer above follow changes without the engine knowing what it does with
// them (WATCH, keyspace notifications, client-side caching). Each is called after the change
// is committed and before its key locks are released; nil hooks are skipped.
type Hooks struct {
	// Touched reports a key whose value or expiry changed (written, deleted, expired).
	Touched func(db int, key []byte)
	// Expired reports a key removed because its time came (active expiry).
	Expired func(db int, key []byte)
	// Flushed reports that database db (or every database, db = -1) was emptied.
	Flushed func(db int)
	// Swapped reports that databases a and b exchanged their contents.
	Swapped func(a, b int)
	// ExpireCycle reports how long one tick of active expiry worked (LATENCY's expire-cycle
	// event). It is called outside any lock.
	ExpireCycle func(elapsed time.Duration)
	// Committed is called once per successful Commit, after the hooks above and before the
	// locks are released, with the Txn: its Owner, and EachTouched / EachExpired to walk what
	// it changed. Work done here (keyspace notifications, client-side caching invalidations)
	// follows the change and precedes any later change of the same keys.
	Committed func(t *Txn)
}

// Engine is the database: key locks, Pebble, expiry and typed operations per Redis type.
type Engine struct {
	opts  Options
	log   *slog.Logger
	pdb   *pebble.DB
	cache interface{ Unref() }
	fs    *walFS
	fsync atomic.Int32

	// latch is shared by every command and taken exclusively by commands over the whole
	// keyspace (FLUSHALL, SWAPDB ...). It also guards dbmap.
	latch  sync.RWMutex
	locks  *lockTable
	dbmap  []uint16 // logical database -> physical id used in keys
	closed bool     // set under the exclusive latch by Close
	stats  []dbStats

	lastVersion atomic.Uint64
	cursors     *cursorTable
	ranks       rankCache // sorted sets' rank indexes (zrank.go)
	hot         *hotTier
	values      valueCodec
	keyHits     atomic.Int64
	keyMisses   atomic.Int64

	// Active expiry runs while neither is set: DEBUG SET-ACTIVE-EXPIRE 0 sets expireOff,
	// CLIENT PAUSE sets expirePaused (a paused server changes no key by itself).
	expireOff    atomic.Bool
	expirePaused atomic.Bool

	guardMu sync.Mutex
	guards  map[uint64]struct{} // sweep records of copies still in progress

	stop      chan struct{}
	wg        sync.WaitGroup
	sweepWake chan struct{}
	closeOnce sync.Once
	closeErr  error

	// Compactions of ranges full of tombstones (tombstones.go).
	compactWake          chan compactRequest
	compactCancel        context.CancelFunc
	tombstoneCompactions atomic.Int64
	compacted            func() // tests: called after each
}

// dbStats are a physical database's key and expiry counts. They are persisted through Pebble
// merge records written in the same batch as the change, so DBSIZE is O(1) and right after a
// crash without a scan at startup.
type dbStats struct {
	keys    atomic.Int64
	expires atomic.Int64
}

// blockCompressions are the names Options.BlockCompression takes.
var blockCompressions = map[string]*sstable.CompressionProfile{
	"": sstable.SnappyCompression, "snappy": sstable.SnappyCompression, "zstd": sstable.ZstdCompression,
	"minlz": sstable.MinLZCompression, "none": sstable.NoCompression,
}

// Internal record names.
const (
	recFormat  = "format"
	recDBMap   = "dbmap"
	recVersion = "version"
	recCount   = "count/" // + physical db (2) + kind byte
	recSweep   = "sweep/" // + sequence (8)
	recValues  = "values" // bytes of string values written, plain (8) and stored (8)
)

const (
	countKeys    byte = 'k'
	countExpires byte = 'e'
)

// ErrClosed is returned by Txn.Lock once the engine has closed.
var ErrClosed = errors.New("engine: closed")

// ErrFormatTooNew is returned when a data directory was written by a newer Strata.
var ErrFormatTooNew = errors.New("engine: data directory format is newer than this binary")

// ErrNotStrata is returned when a directory holds a Pebble store that Strata did not write.
var ErrNotStrata = errors.New("engine: data directory holds data without a Strata format record")

// Open opens (creating when empty) the data directory opts.Dir.
func Open(opts Options) (*Engine, error) {
	if opts.Databases <= 0 {
		opts.Databases = 16
	}
	if opts.Databases > 1<<16 {
		return nil, fmt.Errorf("engine: %d databases is more than %d", opts.Databases, 1<<16)
	}
	if opts.BlockCacheSize <= 0 {
		opts.BlockCacheSize = 64 << 20
	}
	if opts.MemTableSize == 0 {
		opts.MemTableSize = 32 << 20
	}
	if opts.ActiveExpireInterval <= 0 {
		opts.ActiveExpireInterval = 100 * time.Millisecond
	}
	if opts.CompactTombstonesEvery == 0 {
		opts.CompactTombstonesEvery = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.FS == nil {
		if err := os.MkdirAll(opts.Dir, 0o750); err != nil {
			return nil, fmt.Errorf("engine: %w", err)
		}
		opts.FS = vfs.Default
	}
	e := &Engine{
		opts:      opts,
		log:       opts.Logger,
		locks:     newLockTable(),
		stop:      make(chan struct{}),
		sweepWake: make(chan struct{}, 1),
		// Without a compactor nobody takes requests: the channel stays full.
		compactWake: make(chan compactRequest, 1),
		cursors:     newCursorTable(),
		hot:         newHotTier(hotBudget(opts.MaxMemory), PolicyAllKeysLRU),
		guards:      make(map[uint64]struct{}),
	}
	e.fsync.Store(int32(opts.Fsync))
	e.ConfigureMemory(opts.MaxMemory, opts.Policy)
	e.SetValueCompression(opts.ValueCompression, opts.ValueCompressionThreshold)
	e.fs = newWALFS(opts.FS, &e.fsync)

	// Pebble charges its memtables to the block cache (each reserves its size there while it
	// lives, and two usually do: the mutable one and the one being flushed). A cache of
	// BlockCacheSize alone would leave no room for blocks when the memtables are as big (as
	// it did with the old defaults, 64 MB and 32 MB: every read missed), so the cache is made
	// that much bigger: BlockCacheSize is what blocks get.
	cache := pebble.NewCache(opts.BlockCacheSize + 2*int64(opts.MemTableSize))
	e.cache = cache
	po := pebbleOptions(opts.BloomBitsPerKey)
	po.FS, po.Cache, po.MemTableSize, po.Logger = e.fs, cache, opts.MemTableSize, pebbleLogger{opts.Logger}
	po.CompactionConcurrencyRange = func() (int, int) { return 1, max(opts.CompactionConcurrency, 1) }
	po.WALMinSyncInterval = e.fs.gatherDelay
	blockCompression, ok := blockCompressions[opts.BlockCompression]
	if !ok {
		cache.Unref()
		return nil, fmt.Errorf("engine: unknown block compression %q", opts.BlockCompression)
	}
	for i := range po.Levels {
		po.Levels[i].Compression = func() *sstable.CompressionProfile { return blockCompression }
	}
	pdb, err := pebble.Open(opts.Dir, po)
	if err != nil {
		cache.Unref()
		return nil, fmt.Errorf("engine: open %s: %w", opts.Dir, err)
	}
	e.pdb = pdb
	if err := e.load(); err != nil {
		pdb.Close()
		cache.Unref()
		return nil, err
	}
	e.wg.Add(4)
	go func() { defer e.wg.Done(); e.warmUp() }()
	go func() { defer e.wg.Done(); e.fs.runEverysec(e.stop, e.logSyncError) }()
	go func() { defer e.wg.Done(); e.runExpirer() }()
	go func() { defer e.wg.Done(); e.runSweeper() }()
	ctx, cancel := context.WithCancel(context.Background())
	e.compactCancel = cancel
	if opts.CompactTombstonesEvery > 0 {
		e.wg.Add(1)
		go func() { defer e.wg.Done(); e.runCompactor(ctx) }()
	}
	return e, nil
}

// DefaultBloomBitsPerKey is the bloom filter size per key of the sstables: about a 1% false
// positive rate for 10 bits, Pebble's and RocksDB's usual choice.
const DefaultBloomBitsPerKey = 10

// pebbleOptions are the Pebble options every open of a data directory shares (the read-write
// one above, the read-only one of exports) and that sstables built for ingestion follow, with
// bloom filters of bloomBits bits per key (see Options.BloomBitsPerKey).
func pebbleOptions(bloomBits int) *pebble.Options {
	po := &pebble.Options{Merger: newCounterMerger(), FormatMajorVersion: pebble.FormatNewest}
	if bloomBits == 0 {
		bloomBits = DefaultBloomBitsPerKey
	}
	if bloomBits > 0 {
		for i := range po.Levels {
			po.Levels[i].FilterPolicy = bloom.FilterPolicy(bloomBits)
		}
	}
	return po
}

func (e *Engine) logSyncError(err error) {
	e.log.Error("fsync of the write-ahead log failed", "err", err)
}

// load checks the format record and reads the database map, counters and version floor.
func (e *Engine) load() error {
	format, ok, err := e.getInternal(recFormat)
	if err != nil {
		return err
	}
	b := e.pdb.NewBatch()
	defer b.Close()
	switch {
	case ok:
		if len(format) != 4 {
			return fmt.Errorf("%w: malformed format record", ErrNotStrata)
		}
		v := binary.BigEndian.Uint32(format)
		if v > encoding.FormatVersion {
			return fmt.Errorf("%w: %s has format %d, this binary reads format %d; upgrade Strata",
				ErrFormatTooNew, e.opts.Dir, v, encoding.FormatVersion)
		}
		if v < encoding.MinFormatVersion {
			return fmt.Errorf("engine: %s has format %d, older than %d, and no migration exists",
				e.opts.Dir, v, encoding.MinFormatVersion)
		}
		if v < encoding.FormatVersion {
			// Every older format this code reads needs no rewrite (encoding/doc.go, "Format
			// version"): recording the new one makes older binaries refuse the directory
			// from now on, since what this one writes would be news to them.
			b.Set(encoding.AppendInternalKey(nil, recFormat),
				binary.BigEndian.AppendUint32(nil, encoding.FormatVersion), nil)
		}
	default:
		it, err := e.pdb.NewIter(nil)
		if err != nil {
			return err
		}
		empty := !it.First()
		it.Close()
		if !empty {
			return fmt.Errorf("%w: %s", ErrNotStrata, e.opts.Dir)
		}
		b.Set(encoding.AppendInternalKey(nil, recFormat),
			binary.BigEndian.AppendUint32(nil, encoding.FormatVersion), nil)
	}

	raw, _, err := e.getInternal(recDBMap)
	if err != nil {
		return err
	}
	used := map[uint16]bool{}
	for i := 0; i+1 < len(raw); i += 2 {
		p := binary.BigEndian.Uint16(raw[i:])
		e.dbmap = append(e.dbmap, p)
		used[p] = true
	}
	next := uint16(0)
	for len(e.dbmap) < e.opts.Databases {
		for used[next] {
			next++
		}
		e.dbmap = append(e.dbmap, next)
		used[next] = true
	}
	b.Set(encoding.AppendInternalKey(nil, recDBMap), e.encodeDBMap(), nil)

	maxPhys := 0
	for _, p := range e.dbmap {
		maxPhys = max(maxPhys, int(p))
	}
	e.stats = make([]dbStats, maxPhys+1)
	for p := range e.stats {
		for _, kind := range []byte{countKeys, countExpires} {
			v, ok, err := e.getInternal(string(countKey(nil, uint16(p), kind)[1:]))
			if err != nil {
				return err
			}
			if ok {
				n, _ := decodeCount(v)
				if kind == countKeys {
					e.stats[p].keys.Store(n)
				} else {
					e.stats[p].expires.Store(n)
				}
			}
		}
	}

	if v, ok, err := e.getInternal(recValues); err != nil {
		return err
	} else if ok && len(v) == 16 {
		e.values.baseLogical = int64(binary.BigEndian.Uint64(v))
		e.values.baseStored = int64(binary.BigEndian.Uint64(v[8:]))
	}

	v, ok, err := e.getInternal(recVersion)
	if err != nil {
		return err
	}
	floor := uint64(time.Now().UnixNano())
	if ok && len(v) == 8 {
		floor = max(floor, binary.BigEndian.Uint64(v))
	}
	e.lastVersion.Store(floor)
	return b.Commit(pebble.Sync)
}

func (e *Engine) encodeDBMap() []byte {
	out := make([]byte, 0, 2*len(e.dbmap))
	for _, p := range e.dbmap {
		out = binary.BigEndian.AppendUint16(out, p)
	}
	return out
}

func (e *Engine) getInternal(name string) ([]byte, bool, error) {
	v, closer, err := e.pdb.Get(encoding.AppendInternalKey(nil, name))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	out := append([]byte(nil), v...)
	closer.Close()
	return out, true, nil
}

// newVersion returns a version no key has used: wall-clock nanoseconds, bumped past the last
// one handed out. A restart begins above both the clock and the persisted floor, so a version
// is never reused for the same key even across a crash.
func (e *Engine) newVersion() uint64 {
	for {
		last := e.lastVersion.Load()
		v := max(last+1, uint64(time.Now().UnixNano()))
		if e.lastVersion.CompareAndSwap(last, v) {
			return v
		}
	}
}

func (e *Engine) guardStart(seq uint64) {
	e.guardMu.Lock()
	e.guards[seq] = struct{}{}
	e.guardMu.Unlock()
}

func (e *Engine) guardEnd(seq uint64) {
	e.guardMu.Lock()
	delete(e.guards, seq)
	e.guardMu.Unlock()
}

func (e *Engine) guarded(seq uint64) bool {
	e.guardMu.Lock()
	defer e.guardMu.Unlock()
	_, ok := e.guards[seq]
	return ok
}

// DefaultHotTier is the hot tier's budget when maxmemory is 0: a quarter of the machine's
// memory, at most 4 GiB. The tier allocates as it fills, so an idle server does not take it.
func DefaultHotTier() int64 {
	total := physicalMemory()
	if total <= 0 {
		return 1 << 30
	}
	return min(total/4, 4<<30)
}

func hotBudget(maxmemory int64) int64 {
	if maxmemory <= 0 {
		return DefaultHotTier()
	}
	return maxmemory
}

// ConfigureMemory applies maxmemory and maxmemory-policy, at start and live (CONFIG SET). A
// smaller budget empties the tier (it refills from Pebble).
//
// With maxmemory 0 Redis has no limit and never refuses a write; Strata's tier then gets the
// default budget and evicts by recency (or by frequency under an LFU policy) whatever the
// policy says, so that, as in Redis, no write is ever refused. With a maxmemory set, the
// policy applies as written, noeviction's refusals included.
func (e *Engine) ConfigureMemory(maxmemory int64, policy EvictionPolicy) {
	effective := policy
	if maxmemory <= 0 {
		effective = PolicyAllKeysLRU
		if policy.lfu() {
			effective = PolicyAllKeysLFU
		}
	}
	e.hot.setPolicy(effective)
	if budget := hotBudget(maxmemory); budget != e.hot.budget.Load() {
		e.hot.resize(budget)
	}
	e.hot.refusing.Store(false)
}

// SetEvictionPolicy changes the hot tier's policy directly (tests).
func (e *Engine) SetEvictionPolicy(p EvictionPolicy) { e.hot.setPolicy(p) }

// HotStats reports the hot tier's counters.
func (e *Engine) HotStats() HotStats { return e.hot.stats() }

// Stats are the engine's counters for INFO.
type Stats struct {
	Hot HotStats
	// KeyspaceHits and KeyspaceMisses count key lookups by read commands that found a live key
	// or none, as Redis counts them.
	KeyspaceHits, KeyspaceMisses int64
	DiskBytes                    uint64
	CompactionDebt               uint64
	// CompressionRatio is logical value bytes over stored bytes (1 without compression).
	CompressionRatio float64
	// Pebble's memory: the block cache in use, the memtables (mutable, flushing and queued),
	// and the table cache's open sstables.
	BlockCacheBytes, MemTableBytes, TableCacheBytes int64
}

// Stats gathers the engine's counters.
func (e *Engine) Stats() Stats {
	m := e.pdb.Metrics()
	return Stats{
		Hot:              e.hot.stats(),
		KeyspaceHits:     e.keyHits.Load(),
		KeyspaceMisses:   e.keyMisses.Load(),
		DiskBytes:        m.DiskSpaceUsage(),
		CompactionDebt:   m.Compact.EstimatedDebt,
		CompressionRatio: e.compressionRatio(),
		BlockCacheBytes:  m.BlockCache.Size,
		MemTableBytes:    int64(m.MemTable.Size),
		TableCacheBytes:  m.FileCache.Size,
	}
}

// compressionRatio is the bytes of string values written over the bytes stored for them
// (value compression only: Pebble's block compression comes on top), since the data
// directory was created. It is persisted when the engine closes: a crash forgets the writes
// since the last clean close, which only makes it less precise.
func (e *Engine) compressionRatio() float64 { return e.values.ratio() }

// DefaultCompressionThreshold is value-compression-threshold's default.
const DefaultCompressionThreshold = 4096

// SetValueCompression sets the codec of string values written from now on and the size from
// which they are compressed (value-compression, value-compression-threshold). Values already
// written keep their codec.
func (e *Engine) SetValueCompression(codec uint8, threshold int64) {
	if threshold <= 0 {
		threshold = DefaultCompressionThreshold
	}
	e.values.configure(codec, threshold)
}

// OutOfMemory says whether the hot tier is full and its policy cannot make room (noeviction,
// or a volatile policy with nothing volatile left): write commands that may grow the data set
// are then refused with Redis's OOM error, as Redis refuses them.
func (e *Engine) OutOfMemory() bool { return e.hot.refusing.Load() }

// Databases is the number of logical databases.
func (e *Engine) Databases() int { return e.opts.Databases }

// SetFsyncMode changes the appendfsync policy live.
func (e *Engine) SetFsyncMode(m FsyncMode) { e.fsync.Store(int32(m)) }

// FsyncMode is the current appendfsync policy.
func (e *Engine) FsyncMode() FsyncMode { return FsyncMode(e.fsync.Load()) }

// Flush forces every acknowledged write onto disk now (the WAL is fsynced), whatever the
// policy. SHUTDOWN and tests use it.
func (e *Engine) Flush() error {
	if err := e.pdb.LogData(nil, pebble.Sync); err != nil {
		return err
	}
	return e.fs.syncAll()
}

// Close stops the background work, waits for the commands in flight (they hold the latch),
// fsyncs the log and closes Pebble. Commands that try to start afterwards get ErrClosed.
func (e *Engine) Close() error {
	e.closeOnce.Do(func() {
		close(e.stop)
		e.compactCancel() // a compaction in progress stops waiting
		e.wg.Wait()
		e.latch.Lock()
		defer e.latch.Unlock()
		e.closed = true
		b := e.pdb.NewBatch()
		b.Set(encoding.AppendInternalKey(nil, recVersion),
			binary.BigEndian.AppendUint64(nil, e.lastVersion.Load()), nil)
		b.Set(encoding.AppendInternalKey(nil, recValues), binary.BigEndian.AppendUint64(
			binary.BigEndian.AppendUint64(nil, uint64(e.values.baseLogical+e.values.logical.Load())),
			uint64(e.values.baseStored+e.values.stored.Load())), nil)
		err := b.Commit(pebble.Sync)
		b.Close()
		if serr := e.fs.syncAll(); err == nil {
			err = serr
		}
		if cerr := e.pdb.Close(); err == nil {
			err = cerr
		}
		e.cache.Unref()
		e.closeErr = err
	})
	return e.closeErr
}

// Metrics exposes Pebble's metrics for INFO.
func (e *Engine) Metrics() *pebble.Metrics { return e.pdb.Metrics() }

// DiskUsage is the bytes Pebble's files take on disk.
func (e *Engine) DiskUsage() uint64 { return e.pdb.Metrics().DiskSpaceUsage() }

// countKey is the internal record holding a counter of physical database db.
func countKey(dst []byte, db uint16, kind byte) []byte {
	dst = encoding.AppendInternalKey(dst, recCount)
	return append(dst, byte(db>>8), byte(db), kind)
}

func encodeCount(n int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(n)) }

func decodeCount(b []byte) (int64, bool) {
	if len(b) != 8 {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(b)), true
}

// newCounterMerger sums the 8-byte deltas merged into counter records. Its name is recorded
// in Pebble's OPTIONS file and must not change.
func newCounterMerger() *pebble.Merger {
	return &pebble.Merger{
		Name: "strata.counter.v1",
		Merge: func(key, value []byte) (pebble.ValueMerger, error) {
			n, _ := decodeCount(value)
			return &counterValue{n: n}, nil
		},
	}
}

type counterValue struct{ n int64 }

func (c *counterValue) MergeNewer(v []byte) error { d, _ := decodeCount(v); c.n += d; return nil }
func (c *counterValue) MergeOlder(v []byte) error { d, _ := decodeCount(v); c.n += d; return nil }
func (c *counterValue) Finish(bool) ([]byte, io.Closer, error) {
	return encodeCount(c.n), nil, nil
}

type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...interface{}) {
	p.l.Debug(fmt.Sprintf(format, args...), "component", "pebble")
}
func (p pebbleLogger) Errorf(format string, args ...interface{}) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
}
func (p pebbleLogger) Fatalf(format string, args ...interface{}) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
	os.Exit(1)
}
