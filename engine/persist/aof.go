package persist

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/stratadb/strata/aof"
	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/rdb"
)

// AOF rewrites: a snapshot written as the files Redis's BGREWRITEAOF writes, for BGREWRITEAOF
// (the server) and `strata export --format aof|aof-multipart` (the tools).
//
// The commands are aof.Rewriter's, fed with the same events an RDB save gets (WriteEvents),
// so an AOF holds what a dump of the same snapshot holds. A multi-part AOF is written the way
// Redis 7.0 rewrites one (aof.c, rewriteAppendOnlyFileBackground and
// backgroundRewriteDoneHandler), in the appendonlydir:
//
//	1. the new base goes to temp-rewriteaof-<pid>.aof, is fsynced, and renamed to
//	   <appendfilename>.<seq>.base.rdb (or .base.aof), seq one above the old base's;
//	2. the new manifest, which lists that base alone, replaces the old one (temp-
//	   file, fsync, rename, directory fsync): from here on a Redis loading the directory
//	   sees the new data set;
//	3. the files the old manifest listed (base, incr, history) are deleted.
//
// A crash before step 2 leaves the old AOF whole (and a temp- file, which Redis ignores);
// after it, the new one. The manifest lists no incr file: Strata keeps its writes in its own
// data directory, not in an AOF, so an AOF it writes is a copy of one instant (see the
// appendonly directive), as a Redis with appendonly no writes it on BGREWRITEAOF. A Redis
// started with appendonly yes on such a directory loads the base and opens its own incr file.

// AOFOptions configure WriteAOF and RewriteAOFDir.
type AOFOptions struct {
	SaveOptions
	// RDBBase writes the data as an RDB (aof-use-rdb-preamble yes): a multi-part AOF's
	// .base.rdb, or a single file that is one RDB preamble. Otherwise the data are the
	// rewrite's commands.
	RDBBase bool
	// Filename is the appendfilename of a multi-part AOF (default "appendonly.aof").
	Filename string
	// Timestamp, when not 0, starts a command base with a "#TS:" annotation (aof-timestamp-enabled).
	Timestamp int64
}

// rewriteSink turns events into the rewrite's commands, written to w.
type rewriteSink struct {
	rw  *aof.Rewriter
	w   *bufio.Writer
	buf []byte
}

func (s *rewriteSink) Write(ev *rdb.Event) error {
	var err error
	s.buf, err = s.rw.Append(s.buf[:0], ev)
	if err != nil {
		return err
	}
	_, err = s.w.Write(s.buf)
	return err
}

// WriteAOF writes snap to w as one AOF stream: an RDB (o.RDBBase) or the rewrite's commands.
func WriteAOF(ctx context.Context, snap *engine.Snapshot, w io.Writer, o AOFOptions) (SaveStats, error) {
	if o.RDBBase {
		o.Writer.AOFBase = true
		return WriteRDB(ctx, snap, w, o.SaveOptions)
	}
	cw := &countingWriter{w: w}
	bw := bufio.NewWriterSize(cw, 256<<10)
	sink := &rewriteSink{rw: aof.NewRewriter(aof.RewriteOptions{Timestamp: o.Timestamp}), w: bw}
	progress := o.Progress
	if progress != nil {
		o.Progress = func(keys, _ int64) { progress(keys, cw.n+int64(bw.Buffered())) }
	}
	keys, err := WriteEvents(ctx, snap, sink, o.SaveOptions)
	if err == nil {
		err = sink.Write(&rdb.Event{Kind: rdb.KindEOF})
	}
	if err == nil {
		err = bw.Flush()
	}
	st := SaveStats{Keys: keys, Bytes: cw.n}
	if err == nil && progress != nil {
		progress(st.Keys, st.Bytes)
	}
	return st, err
}

// writeFileAtomic writes path through a temporary file in dir (tmpName, as Redis names its
// own): written by fill, fsynced, renamed over path. A failure leaves path as it was; the
// caller fsyncs dir.
func writeFileAtomic(dir, tmpName, path string, fill func(f *os.File) error) error {
	tmp := filepath.Join(dir, tmpName)
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("failed opening the temp file %s (in server root dir %s) for saving: %w", tmpName, dir, err)
	}
	err = fill(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// SaveAOFFile writes snap as a single-file AOF at path, atomically (see SaveFile).
func SaveAOFFile(ctx context.Context, snap *engine.Snapshot, path string, o AOFOptions) (SaveStats, error) {
	dir := filepath.Dir(path)
	if o.Writer.TempDir == "" {
		o.Writer.TempDir = dir
	}
	var st SaveStats
	err := writeFileAtomic(dir, "temp-"+strconv.Itoa(os.Getpid())+".aof", path, func(f *os.File) error {
		var err error
		st, err = WriteAOF(ctx, snap, f, o)
		return err
	})
	if err != nil {
		return st, err
	}
	return st, syncDir(dir)
}

// AOFDirStats report a multi-part rewrite.
type AOFDirStats struct {
	SaveStats
	// Base is the new base file's name; Removed the old files deleted.
	Base    string
	Removed []string
}

// RewriteAOFDir writes snap as the new base of the multi-part AOF in dir (created if
// needed), replacing what the manifest there listed, as Redis's rewrite does (steps above).
func RewriteAOFDir(ctx context.Context, snap *engine.Snapshot, dir string, o AOFOptions) (AOFDirStats, error) {
	var st AOFDirStats
	filename := o.Filename
	if filename == "" {
		filename = aof.DefaultFilename
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return st, err
	}
	manifestPath := filepath.Join(dir, aof.ManifestName(filename))
	old := &aof.Manifest{}
	data, err := os.ReadFile(manifestPath)
	switch {
	case err == nil:
		if old, err = aof.ParseManifest(data); err != nil {
			return st, fmt.Errorf("%s: %w", manifestPath, err)
		}
	case !errors.Is(err, os.ErrNotExist):
		return st, err
	}
	seq := int64(1)
	if old.Base != nil {
		seq = old.Base.Seq + 1
	}
	st.Base = aof.BaseName(filename, seq, o.RDBBase)
	if o.Writer.TempDir == "" {
		o.Writer.TempDir = dir
	}
	tmpName := "temp-rewriteaof-" + strconv.Itoa(os.Getpid()) + ".aof"
	err = writeFileAtomic(dir, tmpName, filepath.Join(dir, st.Base), func(f *os.File) error {
		var err error
		st.SaveStats, err = WriteAOF(ctx, snap, f, o)
		return err
	})
	if err != nil {
		return st, err
	}
	m := aof.Manifest{Base: &aof.ManifestFile{Name: st.Base, Seq: seq, Type: aof.FileBase}}
	err = writeFileAtomic(dir, "temp-"+aof.ManifestName(filename), manifestPath, func(f *os.File) error {
		_, err := f.Write(m.AppendTo(nil))
		return err
	})
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		os.Remove(filepath.Join(dir, st.Base))
		return st, err
	}
	gone := append(old.Files(), old.History...)
	for _, f := range gone {
		if f.Name == st.Base {
			continue
		}
		if err := os.Remove(filepath.Join(dir, f.Name)); err == nil {
			st.Removed = append(st.Removed, f.Name)
		}
	}
	return st, nil
}
