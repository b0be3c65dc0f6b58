package persist

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/stratadb/strata/encoding"
	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/rdb"
)

// EventSink is what exported keys are pushed into: an *rdb.Writer, an *rdb.DumpEncoder, or
// an AOF rewrite (package aof's Rewriter, behind an adapter).
type EventSink interface {
	Write(ev *rdb.Event) error
}

// typeToRDB maps the engine's types to package rdb's.
var typeToRDB = [...]rdb.ValueType{
	encoding.TypeString: rdb.TypeString, encoding.TypeList: rdb.TypeList, encoding.TypeSet: rdb.TypeSet,
	encoding.TypeZSet: rdb.TypeZSet, encoding.TypeHash: rdb.TypeHash, encoding.TypeStream: rdb.TypeStream,
}

// exporter turns the engine's exported keys into rdb events, reusing one Event.
type exporter struct {
	sink     EventSink
	ev       rdb.Event
	keys     int64
	selected func(db int, key []byte, typ rdb.ValueType) bool
	progress func(keys int64)
	ids      []rdb.StreamID
}

func (x *exporter) emit(kind rdb.Kind) error {
	x.ev.Kind = kind
	return x.sink.Write(&x.ev)
}

func (x *exporter) BeginKey(k *engine.ExportKey) error {
	x.ev = rdb.Event{DB: k.DB, Key: k.Key}
	typ := rdb.ValueType(0)
	if int(k.Type) < len(typeToRDB) {
		typ = typeToRDB[k.Type]
	}
	x.ev.Header = rdb.KeyHeader{Type: typ, ExpireAt: k.ExpireAt, Idle: -1, Freq: -1, Len: k.Len}
	if typ == rdb.TypeString {
		x.ev.Header.Len = -1
	}
	if x.selected != nil && !x.selected(k.DB, k.Key, typ) {
		return engine.ErrSkipKey
	}
	return x.emit(rdb.KindKey)
}

func (x *exporter) String(v []byte) error {
	x.ev.Value = v
	return x.emit(rdb.KindString)
}

func (x *exporter) ListItem(v []byte) error {
	x.ev.Value = v
	return x.emit(rdb.KindListItem)
}

func (x *exporter) SetMember(m []byte) error {
	x.ev.Value = m
	return x.emit(rdb.KindSetMember)
}

func (x *exporter) HashField(f, v []byte) error {
	x.ev.Field, x.ev.Value = f, v
	return x.emit(rdb.KindHashField)
}

func (x *exporter) ZSetMember(m []byte, score float64) error {
	x.ev.Value, x.ev.Score = m, score
	return x.emit(rdb.KindZSetMember)
}

func (x *exporter) StreamEntry(id engine.StreamID, fv [][]byte) error {
	x.ev.StreamID, x.ev.Fields = rdb.StreamID(id), fv
	return x.emit(rdb.KindStreamEntry)
}

func (x *exporter) StreamMeta(m engine.StreamMeta) error {
	x.ev.Fields = nil
	x.ev.Stream = rdb.StreamMeta{Length: m.Length, LastID: rdb.StreamID(m.LastID), FirstID: rdb.StreamID(m.FirstID),
		MaxDeletedID: rdb.StreamID(m.MaxDeletedID), EntriesAdded: m.EntriesAdded}
	return x.emit(rdb.KindStreamMeta)
}

func (x *exporter) StreamGroup(g engine.StreamGroupMeta) error {
	x.ev.Group = rdb.StreamGroup{Name: g.Name, LastID: rdb.StreamID(g.LastID), EntriesRead: g.EntriesRead}
	return x.emit(rdb.KindStreamGroup)
}

func (x *exporter) StreamPending(p engine.PendingEntry) error {
	x.ev.Pending = rdb.StreamPending{ID: rdb.StreamID(p.ID), DeliveryTime: p.DeliveryTime, DeliveryCount: p.DeliveryCount}
	return x.emit(rdb.KindStreamPending)
}

func (x *exporter) StreamConsumer(c engine.StreamConsumerMeta) error {
	x.ids = x.ids[:0]
	for _, id := range c.Pending {
		x.ids = append(x.ids, rdb.StreamID(id))
	}
	x.ev.Consumer = rdb.StreamConsumer{Name: c.Name, SeenTime: c.SeenTime, ActiveTime: c.ActiveTime, Pending: x.ids}
	return x.emit(rdb.KindStreamConsumer)
}

func (x *exporter) EndKey() error {
	if x.keys++; x.progress != nil && x.keys%progressEvery == 0 {
		x.progress(x.keys)
	}
	x.ev.Field, x.ev.Value = nil, nil
	return x.emit(rdb.KindEndKey)
}

// SaveOptions tune WriteRDB and SaveFile.
type SaveOptions struct {
	Writer rdb.WriterOptions
	// Select, when set, decides which keys are written.
	Select func(db int, key []byte, typ rdb.ValueType) bool
	// Progress, when set, is told the keys and bytes written so far, about every thousand keys.
	Progress func(keys, bytes int64)
}

// SaveStats report what a save wrote.
type SaveStats struct {
	Keys  int64
	Bytes int64
}

// WriteRDB writes every database of snap as one RDB file to w: for each database that has
// keys, SELECTDB and RESIZEDB (the key counts as the snapshot saw them), then its keys.
func WriteRDB(ctx context.Context, snap *engine.Snapshot, w io.Writer, o SaveOptions) (SaveStats, error) {
	var st SaveStats
	cw := &countingWriter{w: w}
	rw, err := rdb.NewWriter(cw, &o.Writer)
	if err != nil {
		return st, err
	}
	progress := o.Progress
	if progress != nil {
		o.Progress = func(keys, _ int64) { progress(keys, cw.n) }
	}
	if st.Keys, err = WriteEvents(ctx, snap, rw, o); err != nil {
		return st, err
	}
	if err := rw.Close(); err != nil {
		return st, err
	}
	st.Bytes = cw.n
	if progress != nil {
		progress(st.Keys, st.Bytes)
	}
	return st, nil
}

// WriteEvents pushes every database of snap into sink as rdb events: for each database that
// has keys, KindResizeDB (the key counts as the snapshot saw them), then its keys, each as
// KindKey, its elements and KindEndKey. It returns the number of keys; o.Writer is not used,
// and o.Progress is told the keys so far (bytes 0).
func WriteEvents(ctx context.Context, snap *engine.Snapshot, sink EventSink, o SaveOptions) (int64, error) {
	x := &exporter{sink: sink, selected: o.Select}
	if o.Progress != nil {
		x.progress = func(keys int64) { o.Progress(keys, 0) }
	}
	for db := 0; db < snap.Databases(); db++ {
		keys, expires := snap.KeyCounts(db)
		if keys == 0 {
			continue
		}
		x.ev = rdb.Event{Kind: rdb.KindResizeDB, DB: db, DBSize: uint64(keys), ExpiresSize: uint64(expires)}
		if err := sink.Write(&x.ev); err != nil {
			return x.keys, err
		}
		if err := snap.Walk(ctx, db, x); err != nil {
			return x.keys, err
		}
	}
	return x.keys, nil
}

const progressEvery = 1024

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// SaveFile writes snap as an RDB file at path, atomically: into a temporary file in the same
// directory (temp-<pid>.rdb, as Redis names it), fsynced, then renamed over path, and the
// directory fsynced. A failed or cancelled save leaves path as it was.
func SaveFile(ctx context.Context, snap *engine.Snapshot, path string, o SaveOptions) (SaveStats, error) {
	dir := filepath.Dir(path)
	if o.Writer.TempDir == "" {
		o.Writer.TempDir = dir
	}
	var st SaveStats
	err := writeFileAtomic(dir, "temp-"+strconv.Itoa(os.Getpid())+".rdb", path, func(f *os.File) error {
		var err error
		st, err = WriteRDB(ctx, snap, f, o)
		return err
	})
	if err != nil {
		return st, err
	}
	return st, syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
