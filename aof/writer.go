package aof

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/tidwall/redcon"
)

// AppendCommand appends one command as Redis writes it to an AOF: a RESP array of bulk
// strings.
func AppendCommand(dst []byte, args ...[]byte) []byte {
	dst = redcon.AppendArray(dst, len(args))
	for _, a := range args {
		dst = redcon.AppendBulk(dst, a)
	}
	return dst
}

// AppendCommandString is AppendCommand for string arguments.
func AppendCommandString(dst []byte, args ...string) []byte {
	dst = redcon.AppendArray(dst, len(args))
	for _, a := range args {
		dst = redcon.AppendBulkString(dst, a)
	}
	return dst
}

// AppendTimestamp appends a "#TS:<unix seconds>\r\n" annotation.
func AppendTimestamp(dst []byte, unix int64) []byte {
	dst = append(dst, "#TS:"...)
	dst = strconv.AppendInt(dst, unix, 10)
	return append(dst, '\r', '\n')
}

// AppendSelect appends "SELECT <db>".
func AppendSelect(dst []byte, db int) []byte {
	dst = append(dst, "*2\r\n$6\r\nSELECT\r\n"...)
	return redcon.AppendBulkString(dst, strconv.Itoa(db))
}

// AnyDB is a db argument to Writer.Command for commands that belong to no database
// (FUNCTION LOAD, FLUSHALL): no SELECT is written for them.
const AnyDB = -1

const flushAt = 64 << 10

// Writer writes an AOF stream to an io.Writer, buffered. Like Redis (feedAppendOnlyFile), it
// writes SELECT before a command whose database is not the last one selected; a new Writer
// has none selected, so its first command selects. Raw bytes (an RDB preamble) go through
// Write. Errors are sticky; call Flush at the end.
type Writer struct {
	w   io.Writer
	buf []byte
	db  int
	n   int64
	err error
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w, db: -1} }

// Write writes raw bytes, e.g. an RDB preamble from package rdb's writer.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	w.buf = append(w.buf, p...)
	w.n += int64(len(p))
	return len(p), w.maybeFlush()
}

// Append writes bytes built with the Append functions (or a Rewriter) as they are. The
// Writer does not see SELECTs in them: call Selected to tell it what they selected.
func (w *Writer) Append(b []byte) error {
	_, err := w.Write(b)
	return err
}

// Selected tells the Writer which database bytes given to Append left selected (-1:
// unknown, so the next command selects).
func (w *Writer) Selected(db int) { w.db = db }

// Command writes one command that runs in db (AnyDB: no database), with a SELECT first when
// db is not the selected one.
func (w *Writer) Command(db int, args ...[]byte) error {
	if w.err != nil {
		return w.err
	}
	n := len(w.buf)
	if db != AnyDB && db != w.db {
		w.buf = AppendSelect(w.buf, db)
		w.db = db
	}
	w.buf = AppendCommand(w.buf, args...)
	w.n += int64(len(w.buf) - n)
	return w.maybeFlush()
}

// Timestamp writes a "#TS:" annotation.
func (w *Writer) Timestamp(unix int64) error {
	if w.err != nil {
		return w.err
	}
	n := len(w.buf)
	w.buf = AppendTimestamp(w.buf, unix)
	w.n += int64(len(w.buf) - n)
	return w.maybeFlush()
}

// Offset is the number of bytes written so far, buffered ones included.
func (w *Writer) Offset() int64 { return w.n }

func (w *Writer) maybeFlush() error {
	if len(w.buf) >= flushAt {
		return w.Flush()
	}
	return nil
}

// Flush writes the buffered bytes to the underlying io.Writer.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if len(w.buf) > 0 {
		_, w.err = w.w.Write(w.buf)
		w.buf = w.buf[:0]
	}
	return w.err
}

// File is a Writer on a file it owns.
type File struct {
	*Writer
	f    *os.File
	name string
}

// CreateFile creates a single-file AOF at path (it must not exist). To give it an RDB
// preamble, write the RDB through File.Write before the first command.
func CreateFile(path string) (*File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, err
	}
	return &File{Writer: NewWriter(f), f: f, name: filepath.Base(path)}, nil
}

// Name is the file's base name.
func (f *File) Name() string { return f.name }

// Close flushes, fsyncs and closes the file.
func (f *File) Close() error {
	if f.f == nil {
		return nil
	}
	err := f.Flush()
	if err == nil {
		err = f.f.Sync()
	}
	if cerr := f.f.Close(); err == nil {
		err = cerr
	}
	f.f = nil
	return err
}

// DirOptions configure CreateDir.
type DirOptions struct {
	// Filename is the appendfilename the file names derive from (default "appendonly.aof").
	Filename string
	// BaseAOF makes the base file a command stream ("<filename>.1.base.aof", Redis's
	// aof-use-rdb-preamble no); by default it is an RDB ("<filename>.1.base.rdb").
	BaseAOF bool
}

// DirWriter writes Redis 7's multi-part layout into a directory (the appendonlydir):
//
//	<filename>.1.base.rdb   (or .base.aof)   written first, through Base
//	<filename>.1.incr.aof                    written next, through Incr
//	<filename>.manifest                      written last, by Close
//
// Nothing is loadable before Close writes the manifest (through a temp- file and a rename, as
// Redis does), so a crash midway leaves no half AOF that Redis would take for a whole one.
type DirWriter struct {
	dir  string
	opts DirOptions
	base *File
	incr *File
	m    Manifest
	err  error
}

// CreateDir creates dir if needed and starts the base file. It refuses a dir that already has
// the manifest.
func CreateDir(dir string, o DirOptions) (*DirWriter, error) {
	if o.Filename == "" {
		o.Filename = DefaultFilename
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	mpath := filepath.Join(dir, ManifestName(o.Filename))
	if _, err := os.Stat(mpath); err == nil {
		return nil, &Error{File: mpath, Offset: -1, Err: ErrExists}
	}
	name := BaseName(o.Filename, 1, !o.BaseAOF)
	base, err := CreateFile(filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	d := &DirWriter{dir: dir, opts: o, base: base}
	d.m.Base = &ManifestFile{Name: name, Seq: 1, Type: FileBase}
	return d, nil
}

// Base is the base file. For an RDB base, write the RDB through its Write; for an AOF base,
// write commands (a Rewriter's output).
func (d *DirWriter) Base() *File { return d.base }

// Incr closes the base file and starts the incr file, whose Writer has no database selected.
// Calling it again returns the same file.
func (d *DirWriter) Incr() (*File, error) {
	if d.err != nil {
		return nil, d.err
	}
	if d.incr != nil {
		return d.incr, nil
	}
	if d.err = d.base.Close(); d.err != nil {
		return nil, d.err
	}
	name := IncrName(d.opts.Filename, 1)
	d.incr, d.err = CreateFile(filepath.Join(d.dir, name))
	if d.err != nil {
		return nil, d.err
	}
	d.m.Incr = []ManifestFile{{Name: name, Seq: 1, Type: FileIncr}}
	return d.incr, nil
}

// Close closes the files (an empty incr file is created if Incr was never called, as Redis
// always has one) and writes the manifest.
func (d *DirWriter) Close() error {
	if d.err != nil {
		return d.err
	}
	if _, err := d.Incr(); err != nil {
		return err
	}
	if d.err = d.incr.Close(); d.err != nil {
		return d.err
	}
	d.err = writeFileAtomic(d.dir, ManifestName(d.opts.Filename), d.m.AppendTo(nil))
	if d.err == nil {
		d.err = errors.New("aof: DirWriter closed")
		return nil
	}
	return d.err
}

// Manifest is what Close writes (or wrote).
func (d *DirWriter) Manifest() Manifest { return d.m }

// writeFileAtomic writes name in dir through "temp-<name>", fsync, rename and a directory
// fsync, as Redis's writeAofManifestFile does.
func writeFileAtomic(dir, name string, data []byte) error {
	tmp := filepath.Join(dir, tempPrefix+name)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("aof: writing %s: %w", name, err)
	}
	if df, err := os.Open(dir); err == nil {
		err = df.Sync()
		df.Close()
		if err != nil {
			return fmt.Errorf("aof: syncing %s: %w", dir, err)
		}
	}
	return nil
}
