package tools

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/rdb"
)

// EventSource is a dump as a stream of rdb.Events, pulled one at a time. The inspector and
// the key dumper consume nothing else, so any source of events can feed them: an RDB file
// (*RDBFile) and a Strata data directory (*DirSource, `strata inspect --dir`), which
// produces the same events from a Pebble snapshot written as an RDB into a pipe. Next returns io.EOF after the KindEOF event. A source may also report how far
// it has read (OffsetReporter), for progress bars and for the --min-size decision of the
// key dumper, and which RDB version it reads (VersionReporter).
type EventSource interface {
	Next() (rdb.Event, error)
}

// OffsetReporter is an EventSource that knows how many bytes of its input it consumed.
type OffsetReporter interface {
	Offset() int64
}

// VersionReporter is an EventSource that reads a versioned file.
type VersionReporter interface {
	Version() int
}

// RDBFile is an RDB file opened for reading as an EventSource.
type RDBFile struct {
	*rdb.Reader
	Path string
	Size int64
	file *os.File
}

// OpenRDB opens an RDB file. With nil options the reader checks the CRC64 at the end and,
// as redis-check-rdb does, refuses empty collections; SkipEmptyKeys reads the file as
// redis-server loads it, dropping them.
func OpenRDB(path string, opts *rdb.ReaderOptions) (*RDBFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("%s is a directory, not an RDB file", path)
	}
	rd, err := rdb.NewReader(f, opts)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &RDBFile{Reader: rd, Path: path, Size: st.Size(), file: f}, nil
}

// Close closes the file.
func (f *RDBFile) Close() error { return f.file.Close() }

// describe names the source for a report: the file and its size.
func (f *RDBFile) describe() (string, int64) { return f.Path, f.Size }

// sourceDescriber is a source that names itself in a report (an *RDBFile, a *DirSource); it is
// asked after the run, when a stream knows how long it was.
type sourceDescriber interface {
	describe() (name string, size int64)
}

// Filter selects keys. The zero value selects every key.
type Filter struct {
	// DBs are the database numbers to look at; none means all.
	DBs []int
	// Match is a glob pattern with Redis's semantics (KEYS, SCAN MATCH); empty matches all.
	Match string
	// Type is a type name as TYPE answers it (string, list, set, zset, hash, stream) or
	// "module"; empty for all.
	Type string
	// MinSize keeps only keys that take at least this many bytes in the dump.
	MinSize int64
}

// typeByName maps the names Filter.Type accepts to types.
var typeByName = map[string]rdb.ValueType{
	"string": rdb.TypeString, "list": rdb.TypeList, "set": rdb.TypeSet, "zset": rdb.TypeZSet,
	"hash": rdb.TypeHash, "stream": rdb.TypeStream, "module": rdb.TypeModule,
}

// keySelector applies a Filter's name, database and type tests to a key as it starts;
// MinSize is known only at its end.
type keySelector struct {
	dbs     []int
	match   []byte
	typ     rdb.ValueType
	minSize int64
}

func newKeySelector(f Filter) (keySelector, error) {
	s := keySelector{dbs: f.DBs, minSize: f.MinSize}
	if f.Match != "" {
		s.match = []byte(f.Match)
	}
	if f.Type != "" {
		t, ok := typeByName[f.Type]
		if !ok {
			return s, fmt.Errorf("unknown type %q (string, list, set, zset, hash, stream or module)", f.Type)
		}
		s.typ = t
	}
	if f.MinSize < 0 {
		return s, fmt.Errorf("minimum size %d is negative", f.MinSize)
	}
	return s, nil
}

func (s *keySelector) admits(db int, key []byte, typ rdb.ValueType) bool {
	if len(s.dbs) > 0 && !slices.Contains(s.dbs, db) {
		return false
	}
	if s.typ != 0 && typ != s.typ {
		return false
	}
	return s.match == nil || engine.GlobMatch(s.match, key, false)
}

// Progress is told how far a long run has come. ProgressBar draws it; NoProgress ignores it.
type Progress interface {
	// Update reports the bytes of input consumed and the keys seen so far.
	Update(bytes, keys int64)
	// Finish ends the display.
	Finish()
}

// NoProgress shows nothing.
type NoProgress struct{}

func (NoProgress) Update(int64, int64) {}
func (NoProgress) Finish()             {}

// progressEvery is how many events pass between two progress updates.
const progressEvery = 1 << 12

// eventPump pulls the events of a source one at a time and reports progress. It holds the
// current event in itself and hands out its address: a consumer that keeps the pump in a
// local variable and calls its own methods directly keeps the event on the stack, so
// that each event costs a plain copy, not a heap copy with write barriers. An *RDBFile
// is read through its *rdb.Reader directly, sparing an interface call and a copy.
type eventPump struct {
	src          EventSource
	rd           *rdb.Reader
	off          OffsetReporter
	progress     Progress
	events, keys int64
	ev           rdb.Event
}

func newPump(src EventSource, p Progress) eventPump {
	if p == nil {
		p = NoProgress{}
	}
	pump := eventPump{src: src, progress: p}
	pump.off, _ = src.(OffsetReporter)
	switch s := src.(type) {
	case *RDBFile:
		pump.rd = s.Reader
	case *DirSource:
		pump.rd = s.Reader
	case *rdb.Reader:
		pump.rd = s
	}
	return pump
}

// next returns the next event, or nil after the last one.
func (p *eventPump) next() (*rdb.Event, error) {
	var err error
	if p.rd != nil {
		err = p.rd.NextInto(&p.ev)
	} else {
		p.ev, err = p.src.Next()
	}
	if errors.Is(err, io.EOF) {
		if p.off != nil {
			p.progress.Update(p.off.Offset(), p.keys)
		}
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if p.ev.Kind == rdb.KindKey || (p.ev.Kind == rdb.KindModuleSkipped && p.ev.Key != nil) {
		p.keys++
	}
	if p.events++; p.events%progressEvery == 0 && p.off != nil {
		p.progress.Update(p.off.Offset(), p.keys)
	}
	return &p.ev, nil
}

// finish ends the progress display.
func (p *eventPump) finish() { p.progress.Finish() }

// isElement reports whether an event is one element of a collection.
func isElement(k rdb.Kind) bool {
	switch k {
	case rdb.KindListItem, rdb.KindSetMember, rdb.KindZSetMember, rdb.KindHashField, rdb.KindStreamEntry:
		return true
	}
	return false
}

// ParseByteSize reads a byte count as Redis's configuration does (memtoll): a number with
// an optional b, k, kb, m, mb, g or gb suffix, any case (k = 1000, kb = 1024).
func ParseByteSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mul := int64(1)
	for _, u := range []struct {
		suffix string
		mul    int64
	}{{"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30}, {"k", 1000}, {"m", 1000 * 1000}, {"g", 1000 * 1000 * 1000}, {"b", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mul = strings.TrimSuffix(t, u.suffix), u.mul
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mul {
		return 0, fmt.Errorf("%q is not a size in bytes", s)
	}
	return n * mul, nil
}
