package engine

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// FsyncMode is Redis's appendfsync policy, applied to Pebble's write-ahead log.
type FsyncMode int32

const (
	// FsyncEverysec: a write is in the operating system's hands before it is acknowledged (a
	// process crash loses nothing) and on disk within about a second.
	FsyncEverysec FsyncMode = iota
	// FsyncAlways: a write is acknowledged after its WAL record is fsynced. Concurrent
	// committers share one fsync (Pebble's group commit).
	FsyncAlways
	// FsyncNo: written to the OS before the reply; the OS decides when it reaches disk.
	FsyncNo
)

// ParseFsyncMode parses the names appendfsync accepts.
func ParseFsyncMode(s string) (FsyncMode, bool) {
	switch strings.ToLower(s) {
	case "always":
		return FsyncAlways, true
	case "everysec":
		return FsyncEverysec, true
	case "no":
		return FsyncNo, true
	}
	return 0, false
}

func (m FsyncMode) String() string {
	switch m {
	case FsyncAlways:
		return "always"
	case FsyncNo:
		return "no"
	}
	return "everysec"
}

// walFS wraps the real filesystem so that fsync of Pebble's write-ahead log follows the
// appendfsync policy.
//
// Why: Pebble writes a NoSync commit into its in-process log buffer and acknowledges it before
// the bytes reach write(2); a kill -9 can lose such a write, which Redis's everysec never does.
// So every commit asks Pebble for Sync, which makes the committer wait until its record has been
// written to the file, and this wrapper decides what the WAL's Sync then does: a real fsync in
// "always" mode, nothing in "everysec" and "no" modes. In "everysec" a background loop fsyncs
// each WAL that has unsynced writes once a second. Sstables, the manifest and the options file
// are synced for real, always.
//
// How Pebble drives a WAL (pebble v2 record.LogWriter and wal.StandaloneManager), and why the
// wrapper is enough:
//
//   - Each WAL is created by Create, or by ReuseForWrite when Pebble recycles an obsolete log
//     (both are wrapped here), then wrapped again by Pebble in vfs.NewSyncingFile, whose Sync
//     calls our SyncData and whose Write calls our Write.
//   - One flush goroutine per WAL writes the queued records (Write) and then, if any committer
//     asked for Sync, calls Sync once for all of them before waking them: group commit. So in
//     "always" mode a commit is acknowledged after an fsync that began after its bytes were
//     written, and concurrent committers share that fsync.
//   - SyncTo is only used for WALBytesPerSync background flushing, which is off (0); it never
//     stands for durability, so outside "always" it reports a partial sync and does nothing.
//   - A WAL is closed (Close) when Pebble rotates to a new one, before the new one is created.
//     Close fsyncs whatever the policy left unsynced, in every mode, "no" included: Pebble's
//     recovery tolerates a torn tail only in the newest WAL and refuses to open when an older
//     one is torn, so an older WAL must be whole on disk before a newer one exists.
//   - Switching the policy live (CONFIG SET appendfsync, Engine.SetFsyncMode) takes effect at
//     the next Sync. Writes acknowledged under "everysec" before a switch to "always" are still
//     covered by the next tick (the tick runs in both modes) or the next commit's fsync.
type walFS struct {
	vfs.FS
	mode *atomic.Int32

	// syncs counts real fsyncs of WAL files (every mode, every cause): Engine.WALSyncs.
	syncs atomic.Int64

	// The group commit's gathering delay in "always" mode (gatherDelay): the commits made
	// since the last sync began, and the duration and group size of the last sync.
	commits   atomic.Int64
	lastSync  atomic.Int64 // nanoseconds
	lastGroup atomic.Int64

	mu    sync.Mutex
	files map[*walFile]struct{}
}

func newWALFS(inner vfs.FS, mode *atomic.Int32) *walFS {
	return &walFS{FS: inner, mode: mode, files: make(map[*walFile]struct{})}
}

func isWAL(name string) bool { return strings.HasSuffix(name, ".log") }

func (fs *walFS) wrap(name string, f vfs.File, err error) (vfs.File, error) {
	if err != nil || !isWAL(name) {
		return f, err
	}
	w := &walFile{File: f, fs: fs}
	fs.mu.Lock()
	fs.files[w] = struct{}{}
	fs.mu.Unlock()
	return w, nil
}

func (fs *walFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, category)
	return fs.wrap(name, f, err)
}

func (fs *walFS) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, category)
	return fs.wrap(newname, f, err)
}

func (fs *walFS) Unwrap() vfs.FS { return fs.FS }

// syncAll fsyncs every open WAL that has writes not yet on disk. It is the "everysec" tick
// and part of a clean close.
func (fs *walFS) syncAll() error {
	fs.mu.Lock()
	files := make([]*walFile, 0, len(fs.files))
	for f := range fs.files {
		files = append(files, f)
	}
	fs.mu.Unlock()
	var first error
	for _, f := range files {
		if err := f.syncIfDirty(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// tick is the "everysec" background fsync. It also runs in "always" mode, where it only finds
// work left by writes acknowledged before a live switch from "everysec" (commits in "always"
// leave their WAL clean); in "no" mode the operating system decides.
func (fs *walFS) tick() error {
	if FsyncMode(fs.mode.Load()) == FsyncNo {
		return nil
	}
	return fs.syncAll()
}

// runEverysec calls tick once a second until stop is closed.
func (fs *walFS) runEverysec(stop <-chan struct{}, onError func(error)) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if err := fs.tick(); err != nil {
				onError(err)
			}
		}
	}
}

// fsync runs one real fsync of a WAL and counts it.
func (fs *walFS) fsync(real func() error) error {
	fs.syncs.Add(1)
	return real()
}

// WALSyncs is the number of real fsyncs of the write-ahead log since Open. In "always" mode it
// grows by at most one per group of concurrent commits, not per commit.
func (e *Engine) WALSyncs() int64 { return e.fs.syncs.Load() }

type walFile struct {
	vfs.File
	fs    *walFS
	mu    sync.Mutex // serializes real syncs with Close
	dirty atomic.Bool
	gone  bool
}

// Write marks the file dirty after the bytes are in the file, never before: a tick that
// clears the mark between the two would fsync before the write and leave it unsynced.
func (f *walFile) Write(p []byte) (int, error) {
	n, err := f.File.Write(p)
	f.dirty.Store(true)
	return n, err
}

func (f *walFile) WriteAt(p []byte, off int64) (int, error) {
	n, err := f.File.WriteAt(p, off)
	f.dirty.Store(true)
	return n, err
}

// policySync is the WAL's Sync as Pebble's flush loop calls it before acknowledging commits.
func (f *walFile) policySync(real func() error) error {
	if FsyncMode(f.fs.mode.Load()) == FsyncAlways {
		f.dirty.Store(false)
		group := f.fs.commits.Swap(0)
		start := time.Now()
		err := f.fs.fsync(real)
		f.fs.lastSync.Store(int64(time.Since(start)))
		f.fs.lastGroup.Store(group)
		return err
	}
	return nil
}

// noteCommit counts a commit that waits for an "always" sync (Txn.Commit).
func (fs *walFS) noteCommit() {
	if FsyncMode(fs.mode.Load()) == FsyncAlways {
		fs.commits.Add(1)
	}
}

// Gathering: Pebble's WAL syncs everything queued while the previous sync ran, so under
// "always" a client answered by one sync sends its next command while the next sync has
// already begun, and waits for two: with a 5 ms fsync and 50 clients each command took about
// 12 ms, in Redis (which fsyncs in its one thread, once per event-loop pass) as in Strata.
// Strata asks Pebble to wait a little after a sync before the next (WALMinSyncInterval), so the
// commands of the clients it just answered join it: one sync per command, as a group. The
// wait is a quarter of the last sync, at most gatherMax, and only when the last sync was
// slow (gatherMinSync: on a disk that syncs in microseconds there is nothing to win) and
// covered at least gatherMinGroup commits (a lone client never waits).
const (
	gatherMinSync  = 200 * time.Microsecond
	gatherMax      = time.Millisecond
	gatherMinGroup = 3
)

// gatherDelay is Pebble's WALMinSyncInterval: how long the WAL waits after a sync before it
// syncs again (see Gathering above).
func (fs *walFS) gatherDelay() time.Duration {
	if FsyncMode(fs.mode.Load()) != FsyncAlways || fs.lastGroup.Load() < gatherMinGroup {
		return 0
	}
	last := time.Duration(fs.lastSync.Load())
	if last < gatherMinSync {
		return 0
	}
	return min(last/4, gatherMax)
}

func (f *walFile) Sync() error     { return f.policySync(f.File.Sync) }
func (f *walFile) SyncData() error { return f.policySync(f.File.SyncData) }

// SyncTo is background write-back (sync_file_range), never durability; outside "always" it
// does nothing and says so (false: not a full sync).
func (f *walFile) SyncTo(length int64) (bool, error) {
	if FsyncMode(f.fs.mode.Load()) == FsyncAlways {
		return f.File.SyncTo(length)
	}
	return false, nil
}

func (f *walFile) syncIfDirty() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gone || !f.dirty.Swap(false) {
		return nil
	}
	return f.fs.fsync(f.File.SyncData)
}

// Close fsyncs what the policy left unsynced, in every mode (see walFS: an older WAL must be
// whole on disk before Pebble writes a newer one), and forgets the file.
func (f *walFile) Close() error {
	f.mu.Lock()
	var err error
	if f.dirty.Swap(false) {
		err = f.fs.fsync(f.File.SyncData)
	}
	f.gone = true
	f.mu.Unlock()
	f.fs.mu.Lock()
	delete(f.fs.files, f)
	f.fs.mu.Unlock()
	if cerr := f.File.Close(); err == nil {
		err = cerr
	}
	return err
}
