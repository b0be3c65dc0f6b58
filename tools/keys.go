package tools

import (
	"bufio"
	"encoding/base64"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/stratadb/strata/rdb"
)

// DumpOptions configures DumpKeys.
type DumpOptions struct {
	Filter   Filter
	Progress Progress
}

// DumpKeys writes every selected key of a dump as one JSON line:
//
//	{"db":0,"key":"user:1","type":"hash","encoding":"listpack","expire_at_ms":1700000000000,
//	 "ttl_ms":3600000,"value":{"name":"ann","age":"31"}}
//
// expire_at_ms is the key's absolute expiry (absent when it has none) and ttl_ms what PTTL
// answered when the dump was made (the expiry less the dump's ctime aux field; absent
// when either is unknown). value is by type:
//
//	string  "text"
//	list    ["a","b"]                     head to tail
//	set     ["a","b"]
//	zset    [["a",1],["b",2.5]]           member, score ("inf", "-inf" as strings)
//	hash    {"field":"value"}             with field TTLs: {"field":{"value":"v","expire_at_ms":n}}
//	stream  {"entries":[{"id":"1-1","fields":["f","v"]}],"length":1,"last_id":"1-1",
//	         "first_id":"1-1","max_deleted_id":"0-0","entries_added":1,
//	         "groups":[{"name":"g","last_id":"1-1","entries_read":1,
//	                    "pending":[{"id":"1-1","delivery_time":n,"delivery_count":1}],
//	                    "consumers":[{"name":"c","seen_time":n,"active_time":n,"pending":["1-1"]}]}]}
//	module  null, with "module":"name"
//
// Text that is not valid UTF-8 follows the rules of jsontext.go: {"base64":"..."} for a
// value, a "base64:" prefix for an object key. Elements are written as they are read, so
// memory does not grow with a collection; a string is one event and costs its size. With
// Filter.MinSize a key is held back until the bytes it took in the dump reach MinSize,
// which the source's offset (OffsetReporter) tells as they are read; a source without
// one holds each key whole until its end.
func DumpKeys(w io.Writer, src EventSource, opts DumpOptions) error {
	sel, err := newKeySelector(opts.Filter)
	if err != nil {
		return err
	}
	d := &keyDumper{out: bufio.NewWriterSize(w, 64<<10), sel: sel}
	d.off, _ = src.(OffsetReporter)
	pump := newPump(src, opts.Progress)
	defer pump.finish()
	for {
		ev, err := pump.next()
		if err == nil && ev != nil {
			err = d.event(ev)
		}
		if err != nil {
			d.out.Flush()
			return err
		}
		if ev == nil {
			return d.out.Flush()
		}
	}
}

// dumpFlushAt is the size at which the line being built goes out.
const dumpFlushAt = 64 << 10

type keyDumper struct {
	out   *bufio.Writer
	sel   keySelector
	off   OffsetReporter
	ctime int64

	buf     []byte
	scratch []byte

	inKey, selected, held bool
	hdr                   rdb.KeyHeader
	n                     int64 // items written in the innermost open array or object
	fieldTTL              bool

	// streams: 0 in the entries, 1 in the groups; inside a group, 0 in the pending
	// entries, 1 in the consumers.
	streamPart, groupPart int
	inGroup               bool
}

func (d *keyDumper) event(ev *rdb.Event) error {
	if d.inKey && d.selected && d.held && d.off != nil && d.off.Offset()-d.hdr.Offset >= d.sel.minSize {
		d.held = false
	}
	switch ev.Kind {
	case rdb.KindAux:
		if string(ev.Field) == "ctime" {
			d.ctime = ctimeMillis(ev.Value)
		}
		return nil
	case rdb.KindKey:
		d.startKey(ev)
	case rdb.KindEndKey:
		return d.endKey(ev.Size)
	case rdb.KindModuleSkipped:
		if ev.Key == nil {
			return nil
		}
		d.startKey(ev)
		if d.selected {
			d.buf = append(d.buf, `,"module":`...)
			d.buf = appendJSONString(d.buf, []byte(ev.Module))
			d.buf = append(d.buf, `,"value":null`...)
		}
		return d.endKey(ev.Size)
	}
	if !d.inKey || !d.selected {
		return nil
	}
	d.element(ev)
	if !d.held && len(d.buf) >= dumpFlushAt {
		return d.flush()
	}
	return nil
}

func (d *keyDumper) flush() error {
	_, err := d.out.Write(d.buf)
	d.buf = d.buf[:0]
	return err
}

func (d *keyDumper) startKey(ev *rdb.Event) {
	d.inKey = true
	d.selected = d.sel.admits(ev.DB, ev.Key, ev.Header.Type)
	if !d.selected {
		return
	}
	d.hdr = ev.Header
	d.held = d.sel.minSize > 0
	d.n, d.streamPart, d.groupPart, d.inGroup = 0, 0, 0, false
	d.fieldTTL = ev.Header.Type == rdb.TypeHash && ev.Header.RDBType >= 22
	b := append(d.buf[:0], `{"db":`...)
	b = strconv.AppendInt(b, int64(ev.DB), 10)
	b = append(b, `,"key":`...)
	b = appendJSONValue(b, ev.Key)
	b = append(b, `,"type":"`...)
	b = append(b, ev.Header.Type.String()...)
	b = append(b, `","encoding":`...)
	b = appendJSONString(b, []byte(ev.Header.Encoding))
	if at := ev.Header.ExpireAt; at != 0 {
		b = append(b, `,"expire_at_ms":`...)
		b = strconv.AppendInt(b, at, 10)
		if d.ctime > 0 {
			b = append(b, `,"ttl_ms":`...)
			b = strconv.AppendInt(b, at-d.ctime, 10)
		}
	}
	if ev.Kind == rdb.KindModuleSkipped {
		d.buf = b
		return
	}
	b = append(b, `,"value":`...)
	switch ev.Header.Type {
	case rdb.TypeList, rdb.TypeSet, rdb.TypeZSet:
		b = append(b, '[')
	case rdb.TypeHash:
		b = append(b, '{')
	case rdb.TypeStream:
		b = append(b, `{"entries":[`...)
	}
	d.buf = b
}

func (d *keyDumper) endKey(size int64) error {
	d.inKey = false
	if !d.selected {
		return nil
	}
	switch d.hdr.Type {
	case rdb.TypeList, rdb.TypeSet, rdb.TypeZSet:
		d.buf = append(d.buf, ']')
	case rdb.TypeHash:
		d.buf = append(d.buf, '}')
	case rdb.TypeStream:
		d.closeStream()
	}
	d.buf = append(d.buf, "}\n"...)
	if d.held && size < d.sel.minSize {
		d.buf = d.buf[:0]
		return nil
	}
	return d.flush()
}

// sep writes the comma before every item but the first of the open array or object.
func (d *keyDumper) sep() {
	if d.n > 0 {
		d.buf = append(d.buf, ',')
	}
	d.n++
}

func (d *keyDumper) element(ev *rdb.Event) {
	switch ev.Kind {
	case rdb.KindString:
		d.value(ev.Value)
	case rdb.KindListItem, rdb.KindSetMember:
		d.sep()
		d.value(ev.Value)
	case rdb.KindZSetMember:
		d.sep()
		d.buf = append(d.buf, '[')
		d.value(ev.Value)
		d.buf = append(d.buf, ',')
		d.buf = appendJSONFloat(d.buf, ev.Score)
		d.buf = append(d.buf, ']')
	case rdb.KindHashField:
		d.sep()
		d.buf = appendJSONKey(d.buf, ev.Field, &d.scratch)
		if !d.fieldTTL {
			d.value(ev.Value)
			return
		}
		d.buf = append(d.buf, `{"value":`...)
		d.value(ev.Value)
		if ev.ExpireAt != 0 {
			d.buf = append(d.buf, `,"expire_at_ms":`...)
			d.buf = strconv.AppendInt(d.buf, ev.ExpireAt, 10)
		}
		d.buf = append(d.buf, '}')
	case rdb.KindStreamEntry:
		d.sep()
		d.buf = append(d.buf, `{"id":`...)
		d.buf = appendStreamID(d.buf, ev.StreamID)
		d.buf = append(d.buf, `,"fields":[`...)
		for i, f := range ev.Fields {
			if i > 0 {
				d.buf = append(d.buf, ',')
			}
			d.value(f)
		}
		d.buf = append(d.buf, "]}"...)
	case rdb.KindStreamMeta:
		m := &ev.Stream
		b := append(d.buf, `],"length":`...)
		b = strconv.AppendUint(b, m.Length, 10)
		b = append(b, `,"last_id":`...)
		b = appendStreamID(b, m.LastID)
		b = append(b, `,"first_id":`...)
		b = appendStreamID(b, m.FirstID)
		b = append(b, `,"max_deleted_id":`...)
		b = appendStreamID(b, m.MaxDeletedID)
		b = append(b, `,"entries_added":`...)
		b = strconv.AppendUint(b, m.EntriesAdded, 10)
		d.buf = append(b, `,"groups":[`...)
		d.streamPart, d.n = 1, 0
	case rdb.KindStreamGroup:
		d.closeGroup()
		d.sep()
		g := &ev.Group
		b := append(d.buf, `{"name":`...)
		b = appendJSONValue(b, g.Name)
		b = append(b, `,"last_id":`...)
		b = appendStreamID(b, g.LastID)
		b = append(b, `,"entries_read":`...)
		b = strconv.AppendInt(b, g.EntriesRead, 10)
		d.buf = append(b, `,"pending":[`...)
		d.inGroup, d.groupPart = true, 0
		d.n = 0
	case rdb.KindStreamPending:
		d.sep()
		p := &ev.Pending
		b := append(d.buf, `{"id":`...)
		b = appendStreamID(b, p.ID)
		b = append(b, `,"delivery_time":`...)
		b = strconv.AppendInt(b, p.DeliveryTime, 10)
		b = append(b, `,"delivery_count":`...)
		b = strconv.AppendUint(b, p.DeliveryCount, 10)
		d.buf = append(b, '}')
	case rdb.KindStreamConsumer:
		if d.groupPart == 0 {
			d.buf = append(d.buf, `],"consumers":[`...)
			d.groupPart, d.n = 1, 0
		}
		d.sep()
		c := &ev.Consumer
		b := append(d.buf, `{"name":`...)
		b = appendJSONValue(b, c.Name)
		b = append(b, `,"seen_time":`...)
		b = strconv.AppendInt(b, c.SeenTime, 10)
		if c.ActiveTime >= 0 {
			b = append(b, `,"active_time":`...)
			b = strconv.AppendInt(b, c.ActiveTime, 10)
		}
		b = append(b, `,"pending":[`...)
		for i, id := range c.Pending {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendStreamID(b, id)
			if len(b) >= dumpFlushAt && !d.held {
				d.buf = b
				_ = d.flush() // a write error shows again at the next flush
				b = d.buf
			}
		}
		d.buf = append(b, "]}"...)
	}
}

// closeGroup ends the group being written, if any, with its consumers list.
func (d *keyDumper) closeGroup() {
	if !d.inGroup {
		return
	}
	if d.groupPart == 0 {
		d.buf = append(d.buf, `],"consumers":[`...)
	}
	d.buf = append(d.buf, "]}"...)
	d.inGroup = false
	d.n = 1 // the groups array has at least this group
}

func (d *keyDumper) closeStream() {
	if d.streamPart == 0 { // no metadata came: close the entries anyway
		d.buf = append(d.buf, `],"groups":[`...)
	}
	d.closeGroup()
	d.buf = append(d.buf, "]}"...)
}

// value writes bytes as a JSON value. A big one is written in pieces, flushing between
// them when the key is not held back, so that the output buffer stays small.
func (d *keyDumper) value(v []byte) {
	if len(v) < dumpFlushAt || d.held {
		d.buf = appendJSONValue(d.buf, v)
		return
	}
	if utf8.Valid(v) {
		d.buf = append(d.buf, '"')
		for len(v) > 0 {
			n := min(len(v), dumpFlushAt)
			for n < len(v) && !utf8.RuneStart(v[n]) {
				n++
			}
			d.buf = appendJSONStringBody(d.buf, v[:n])
			v = v[n:]
			_ = d.flush()
		}
		d.buf = append(d.buf, '"')
		return
	}
	d.buf = append(d.buf, `{"base64":"`...)
	const piece = dumpFlushAt / 4 * 3 // a multiple of 3: no padding inside
	for len(v) > 0 {
		n := min(len(v), piece)
		d.buf = base64.StdEncoding.AppendEncode(d.buf, v[:n])
		v = v[n:]
		_ = d.flush()
	}
	d.buf = append(d.buf, `"}`...)
}

func appendStreamID(b []byte, id rdb.StreamID) []byte {
	b = append(b, '"')
	b = strconv.AppendUint(b, id.Ms, 10)
	b = append(b, '-')
	b = strconv.AppendUint(b, id.Seq, 10)
	return append(b, '"')
}
