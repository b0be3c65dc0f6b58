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
type walFS struct {
	vfs.FS
	mode *atomic.Int32

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

// runEverysec fsyncs dirty WALs once a second until stop is closed.
func (fs *walFS) runEverysec(stop <-chan struct{}, onError func(error)) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if FsyncMode(fs.mode.Load()) == FsyncEverysec {
				if err := fs.syncAll(); err != nil {
					onError(err)
				}
			}
		}
	}
}

type walFile struct {
	vfs.File
	fs    *walFS
	mu    sync.Mutex // serializes real syncs with Close
	dirty atomic.Bool
	gone  bool
}

func (f *walFile) Write(p []byte) (int, error) {
	f.dirty.Store(true)
	return f.File.Write(p)
}

func (f *walFile) WriteAt(p []byte, off int64) (int, error) {
	f.dirty.Store(true)
	return f.File.WriteAt(p, off)
}

func (f *walFile) policySync(real func() error) error {
	if FsyncMode(f.fs.mode.Load()) == FsyncAlways {
		f.dirty.Store(false)
		return real()
	}
	return nil
}

func (f *walFile) Sync() error     { return f.policySync(f.File.Sync) }
func (f *walFile) SyncData() error { return f.policySync(f.File.SyncData) }

func (f *walFile) SyncTo(length int64) (bool, error) {
	if FsyncMode(f.fs.mode.Load()) == FsyncAlways {
		return f.File.SyncTo(length)
	}
	return true, nil
}

func (f *walFile) syncIfDirty() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gone || !f.dirty.Swap(false) {
		return nil
	}
	return f.File.SyncData()
}

// Close fsyncs what the policy left unsynced (a WAL is closed when Pebble rotates it; its data
// must not depend on the next tick) and forgets the file.
func (f *walFile) Close() error {
	f.mu.Lock()
	var err error
	if f.dirty.Swap(false) && FsyncMode(f.fs.mode.Load()) != FsyncNo {
		err = f.File.SyncData()
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
