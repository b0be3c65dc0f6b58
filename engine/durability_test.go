package engine

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/record"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// recordingFS sits under walFS (Options.FS) and records, for every WAL file, the bytes written
// to it and how much of them completed fsyncs cover. It is what the tests below check the
// policy against: nothing here measures time.
type recordingFS struct {
	vfs.FS

	mu     sync.Mutex
	files  map[string]*recordingFile // by base name, e.g. 000004.log
	reused int                       // ReuseForWrite calls (WAL recycling)
	// beforeSync, when set, runs at the start of every real fsync of a WAL, before it, with
	// the number of bytes written since the last completed fsync.
	beforeSync func(pending int)
}

type recordingFile struct {
	vfs.File
	fs   *recordingFS
	name string

	// Guarded by fs.mu.
	data         []byte // everything written, in order (WALs are written sequentially)
	synced       int    // data[:synced] is covered by a completed fsync
	closed       bool
	syncedAtExit int // synced when the file was closed
}

func newRecordingFS() *recordingFS {
	return &recordingFS{FS: vfs.Default, files: map[string]*recordingFile{}}
}

func (fs *recordingFS) wrap(name string, f vfs.File, err error) (vfs.File, error) {
	if err != nil || !isWAL(name) {
		return f, err
	}
	rf := &recordingFile{File: f, fs: fs, name: filepath.Base(name)}
	fs.mu.Lock()
	fs.files[rf.name] = rf
	fs.mu.Unlock()
	return rf, nil
}

func (fs *recordingFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, c)
	return fs.wrap(name, f, err)
}

func (fs *recordingFS) ReuseForWrite(oldname, newname string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, c)
	fs.mu.Lock()
	fs.reused++
	fs.mu.Unlock()
	return fs.wrap(newname, f, err)
}

func (f *recordingFile) Write(p []byte) (int, error) {
	n, err := f.File.Write(p)
	f.fs.mu.Lock()
	f.data = append(f.data, p[:n]...)
	f.fs.mu.Unlock()
	return n, err
}

func (f *recordingFile) WriteAt(p []byte, off int64) (int, error) {
	panic("WAL written at an offset: the recording assumes sequential writes")
}

// sync records that the bytes written before the fsync began are durable once it returns.
func (f *recordingFile) sync(real func() error) error {
	f.fs.mu.Lock()
	hook := f.fs.beforeSync
	upTo := len(f.data)
	pending := upTo - f.synced
	f.fs.mu.Unlock()
	if hook != nil {
		hook(pending)
	}
	err := real()
	if err == nil {
		f.fs.mu.Lock()
		f.synced = max(f.synced, upTo)
		f.fs.mu.Unlock()
	}
	return err
}

func (f *recordingFile) Sync() error     { return f.sync(f.File.Sync) }
func (f *recordingFile) SyncData() error { return f.sync(f.File.SyncData) }

func (f *recordingFile) Close() error {
	f.fs.mu.Lock()
	f.closed = true
	f.syncedAtExit = f.synced
	f.fs.mu.Unlock()
	return f.File.Close()
}

// syncedOffsets returns, per WAL, how many of its bytes completed fsyncs cover.
func (fs *recordingFS) syncedOffsets() map[string]int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	out := make(map[string]int, len(fs.files))
	for name, f := range fs.files {
		out[name] = f.synced
	}
	return out
}

// unsynced returns the bytes written to open WALs that no fsync covers yet.
func (fs *recordingFS) unsynced() int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n := 0
	for _, f := range fs.files {
		if !f.closed {
			n += len(f.data) - f.synced
		}
	}
	return n
}

// recordEnds parses every recorded WAL with Pebble's record reader and returns, for each
// record whose payload contains one of markers, the WAL and the offset where the record ends.
func (fs *recordingFS) recordEnds(t *testing.T, markers [][]byte) map[string]walPos {
	t.Helper()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	out := map[string]walPos{}
	for name, f := range fs.files {
		num, err := strconv.ParseUint(strings.TrimSuffix(name, ".log"), 10, 64)
		if err != nil {
			t.Fatalf("WAL name %q: %v", name, err)
		}
		r := newRecordReader(record.NewReader, bytes.NewReader(f.data), num)
		for {
			rec, err := r.Next()
			if err != nil {
				break // io.EOF, or the unfinished tail of the log
			}
			payload, err := io.ReadAll(rec)
			if err != nil {
				break
			}
			end := int(r.Offset())
			for _, m := range markers {
				if bytes.Contains(payload, m) {
					out[string(m)] = walPos{file: name, end: end}
				}
			}
		}
	}
	return out
}

type walPos struct {
	file string
	end  int
}

// newRecordReader calls record.NewReader, whose log number type lives in an internal Pebble
// package: inference names it for us.
func newRecordReader[N ~uint64](newReader func(io.Reader, N) *record.Reader, r io.Reader, num uint64) *record.Reader {
	return newReader(r, N(num))
}

func openRecorded(t *testing.T, mode FsyncMode, memtable uint64) (*Engine, *recordingFS) {
	t.Helper()
	rec := newRecordingFS()
	e, err := Open(Options{Dir: t.TempDir(), Fsync: mode, FS: rec, MemTableSize: memtable,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e, rec
}

// setOnTxn writes key=value as one command on a reused Txn (one commit) and returns when it is acknowledged.
func setOnTxn(t testing.TB, e *Engine, txn *Txn, key, value []byte) {
	txn.Begin(0, LockWrite)
	txn.AddKey(key)
	if err := txn.Lock(); err != nil {
		t.Error(err)
		return
	}
	if _, err := txn.Set(key, value, SetArgs{}); err != nil {
		txn.Abort()
		t.Error(err)
		return
	}
	if err := txn.Commit(); err != nil {
		t.Error(err)
	}
}

// ack is an acknowledged write and what fsyncs covered at the moment it was acknowledged.
type ack struct {
	marker []byte
	synced map[string]int
}

// checkCovered asserts that every write was acknowledged only after an fsync covering its
// whole WAL record had completed.
func checkCovered(t *testing.T, rec *recordingFS, acks []ack) {
	t.Helper()
	markers := make([][]byte, len(acks))
	for i, a := range acks {
		markers[i] = a.marker
	}
	ends := rec.recordEnds(t, markers)
	for _, a := range acks {
		pos, ok := ends[string(a.marker)]
		if !ok {
			t.Fatalf("write %s is in no WAL", a.marker)
		}
		if got := a.synced[pos.file]; got < pos.end {
			t.Fatalf("write %s acknowledged with %s synced to %d, its record ends at %d",
				a.marker, pos.file, got, pos.end)
		}
	}
}

// concurrentAckedWrites runs writers goroutines that each write perWriter new keys (named
// prefix, writer, index) one commit at a time, and returns every acknowledgement with the WAL
// offsets fsyncs covered when it came. after, when set, runs after each acknowledgement.
func concurrentAckedWrites(t *testing.T, e *Engine, rec *recordingFS, prefix string, writers, perWriter int, after func()) []ack {
	t.Helper()
	var mu sync.Mutex
	var acks []ack
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			txn := e.NewTxn()
			for i := range perWriter {
				key := fmt.Appendf(nil, "%s%02d-%05d", prefix, w, i)
				marker := fmt.Appendf(nil, "marker-%s!", key)
				setOnTxn(t, e, txn, key, marker)
				a := ack{marker: marker, synced: rec.syncedOffsets()}
				if after != nil {
					after()
				}
				mu.Lock()
				acks = append(acks, a)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return acks
}

// TestAlwaysGroupCommit: in "always" mode concurrent writers share fsyncs (fewer fsyncs than
// acknowledged writes), and each write is acknowledged only after an fsync covering it.
func TestAlwaysGroupCommit(t *testing.T) {
	e, rec := openRecorded(t, FsyncAlways, 0)
	const writers, perWriter = 8, 60

	// Every test write is a new key of the same length, so every WAL record has one size R.
	// The first fsync under load is held (on Pebble's WAL byte counter, not a clock) until two
	// more records are queued behind it, unless it already covers two: the next fsync then
	// covers both, which makes a shared fsync certain rather than merely likely. (Should the
	// once-a-second tick take the gate instead, group commit is still what the numbers show.)
	txn := e.NewTxn()
	in0 := e.Metrics().WAL.BytesIn
	setOnTxn(t, e, txn, []byte("w99-99999"), []byte("marker-w99-99999!"))
	in1 := e.Metrics().WAL.BytesIn
	recordSize := int(in1 - in0)
	var gateOnce sync.Once
	rec.mu.Lock()
	rec.beforeSync = func(pending int) {
		gateOnce.Do(func() {
			if pending >= 2*recordSize {
				return
			}
			// This fsync covers the first record after in1; wait for two more.
			want := in1 + 3*uint64(recordSize)
			deadline := time.Now().Add(10 * time.Second)
			for e.Metrics().WAL.BytesIn < want && time.Now().Before(deadline) {
				time.Sleep(50 * time.Microsecond) // Pebble offers no signal for a queued record
			}
		})
	}
	rec.mu.Unlock()

	syncs0 := e.WALSyncs()
	acks := concurrentAckedWrites(t, e, rec, "w", writers, perWriter, nil)
	syncs := e.WALSyncs() - syncs0
	if len(acks) != writers*perWriter {
		t.Fatalf("%d acknowledged writes, want %d", len(acks), writers*perWriter)
	}
	t.Logf("%d acknowledged writes, %d WAL fsyncs", len(acks), syncs)
	if syncs >= int64(len(acks)) {
		t.Fatalf("%d fsyncs for %d concurrent writes: no group commit", syncs, len(acks))
	}
	if syncs == 0 {
		t.Fatal("no fsync at all in always mode")
	}
	checkCovered(t, rec, acks)
}

// TestFsyncModeLive switches the policy on a running engine, as CONFIG SET appendfsync does,
// and checks what each mode does with the WAL.
func TestFsyncModeLive(t *testing.T) {
	e, rec := openRecorded(t, FsyncEverysec, 0)
	txn := e.NewTxn()
	const n = 40
	write := func(prefix string) []ack {
		var acks []ack
		for i := range n {
			key := fmt.Appendf(nil, "%s-%03d", prefix, i)
			marker := fmt.Appendf(nil, "marker-%s!", key)
			setOnTxn(t, e, txn, key, marker)
			acks = append(acks, ack{marker: marker, synced: rec.syncedOffsets()})
		}
		return acks
	}

	// everysec: commits do not fsync (only the once-a-second tick does); the tick covers them.
	s0 := e.WALSyncs()
	write("everysec")
	if d := e.WALSyncs() - s0; d >= n {
		t.Fatalf("everysec: %d fsyncs for %d sequential writes", d, n)
	}
	if err := e.fs.tick(); err != nil {
		t.Fatal(err)
	}
	if u := rec.unsynced(); u != 0 {
		t.Fatalf("everysec: %d bytes unsynced after a tick", u)
	}

	// always: one writer at a time, so every commit needs its own fsync, before its reply.
	e.SetFsyncMode(FsyncAlways)
	s0 = e.WALSyncs()
	acks := write("always")
	if d := e.WALSyncs() - s0; d < n {
		t.Fatalf("always: %d fsyncs for %d sequential writes", d, n)
	}
	checkCovered(t, rec, acks)

	// no: nothing fsyncs, not even the tick.
	e.SetFsyncMode(FsyncNo)
	s0 = e.WALSyncs()
	write("no")
	if err := e.fs.tick(); err != nil {
		t.Fatal(err)
	}
	if d := e.WALSyncs() - s0; d != 0 {
		t.Fatalf("no: %d fsyncs", d)
	}
	if rec.unsynced() == 0 {
		t.Fatal("no: the writes were fsynced")
	}

	// Back to always: the tick also covers writes acknowledged before the switch.
	e.SetFsyncMode(FsyncAlways)
	if err := e.fs.tick(); err != nil {
		t.Fatal(err)
	}
	if u := rec.unsynced(); u != 0 {
		t.Fatalf("always: %d bytes left unsynced from before the switch", u)
	}

	// Flush makes everything durable whatever the mode.
	e.SetFsyncMode(FsyncNo)
	write("flush")
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	if u := rec.unsynced(); u != 0 {
		t.Fatalf("Flush left %d bytes unsynced", u)
	}
}

// TestWALRotationSyncs: when Pebble rotates and recycles WALs, every closed WAL is whole on
// disk, even in "no" mode (Pebble refuses to open with a torn WAL that is not the newest),
// and recycled WALs (ReuseForWrite) go through the policy like new ones.
func TestWALRotationSyncs(t *testing.T) {
	e, rec := openRecorded(t, FsyncNo, 0)
	txn := e.NewTxn()
	value := bytes.Repeat([]byte("v"), 512)
	for round := range 6 {
		for i := range 20 {
			setOnTxn(t, e, txn, fmt.Appendf(nil, "k%d-%d", round, i), value)
		}
		// A flush rotates the WAL and makes the old one obsolete, so the next rotation can
		// recycle it.
		if err := e.pdb.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.reused == 0 {
		t.Fatal("no WAL was recycled; the test does not exercise ReuseForWrite")
	}
	closed := 0
	for name, f := range rec.files {
		if f.closed {
			closed++
			if f.syncedAtExit != len(f.data) {
				t.Errorf("%s closed with %d of %d bytes synced", name, f.syncedAtExit, len(f.data))
			}
		}
	}
	if closed < 5 {
		t.Fatalf("only %d WALs were closed", closed)
	}
	t.Logf("%d WALs closed, %d recycled", closed, rec.reused)
}

// TestWALFileWrapping: Create and ReuseForWrite both hand out policy-following WAL files;
// other files are not wrapped.
func TestWALFileWrapping(t *testing.T) {
	dir := t.TempDir()
	var mode atomic.Int32 // FsyncEverysec
	fs := newWALFS(vfs.Default, &mode)
	f, err := fs.Create(filepath.Join(dir, "000001.log"), vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.(*walFile); !ok {
		t.Fatalf("Create of a WAL returned %T", f)
	}
	f.Write([]byte("x"))
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	g, err := fs.ReuseForWrite(filepath.Join(dir, "000001.log"), filepath.Join(dir, "000002.log"), vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := g.(*walFile); !ok {
		t.Fatalf("ReuseForWrite of a WAL returned %T", g)
	}
	g.Close()
	h, err := fs.Create(filepath.Join(dir, "000003.sst"), vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := h.(*walFile); ok {
		t.Fatal("an sstable was wrapped as a WAL")
	}
	h.Close()
	if fs.syncs.Load() != 1 {
		t.Fatalf("%d fsyncs, want 1 (the dirty WAL's close)", fs.syncs.Load())
	}
}

// TestGatherDelay: the wait after an "always" sync is a quarter of that sync, at most
// gatherMax, and none for a fast disk, for a sync that covered fewer than gatherMinGroup
// commits, or outside "always".
func TestGatherDelay(t *testing.T) {
	for _, c := range []struct {
		mode  FsyncMode
		sync  time.Duration
		group int64
		want  time.Duration
	}{
		{FsyncAlways, 2 * time.Millisecond, 50, 500 * time.Microsecond},
		{FsyncAlways, 8 * time.Millisecond, 50, gatherMax},
		{FsyncAlways, 800 * time.Microsecond, gatherMinGroup, 200 * time.Microsecond},
		{FsyncAlways, 2 * time.Millisecond, gatherMinGroup - 1, 0}, // a lone client never waits
		{FsyncAlways, 100 * time.Microsecond, 50, 0},               // a fast disk: nothing to gather for
		{FsyncEverysec, 2 * time.Millisecond, 50, 0},
		{FsyncNo, 2 * time.Millisecond, 50, 0},
	} {
		var mode atomic.Int32
		mode.Store(int32(c.mode))
		fs := newWALFS(vfs.Default, &mode)
		fs.lastSync.Store(int64(c.sync))
		fs.lastGroup.Store(c.group)
		if got := fs.gatherDelay(); got != c.want {
			t.Errorf("%s, sync %v of %d commits: delay %v, want %v", c.mode, c.sync, c.group, got, c.want)
		}
	}
}

// TestAlwaysGatheringSlowDisk: with fsyncs of 2 ms (the recording FS holds each one), the
// gathering delay comes into play, and still every write is acknowledged only after an fsync
// covering it, with fewer fsyncs than writes.
func TestAlwaysGatheringSlowDisk(t *testing.T) {
	e, rec := openRecorded(t, FsyncAlways, 0)
	rec.mu.Lock()
	rec.beforeSync = func(int) { time.Sleep(2 * time.Millisecond) } // the disk, not a wait for a condition
	rec.mu.Unlock()
	const writers, perWriter = 8, 25
	syncs0 := e.WALSyncs()
	var gathered atomic.Int64
	acks := concurrentAckedWrites(t, e, rec, "g", writers, perWriter, func() {
		if e.fs.gatherDelay() > 0 {
			gathered.Add(1)
		}
	})
	syncs := e.WALSyncs() - syncs0
	t.Logf("%d writes, %d fsyncs, a gathering delay after %d of the acknowledgements", len(acks), syncs, gathered.Load())
	if gathered.Load() == 0 {
		t.Fatal("eight writers on a 2 ms disk never made the WAL gather")
	}
	if syncs >= int64(len(acks)) {
		t.Fatalf("%d fsyncs for %d concurrent writes: no group commit", syncs, len(acks))
	}
	checkCovered(t, rec, acks)
}
