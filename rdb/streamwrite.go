package rdb

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// The Writer's stream collector. Entries are packed into listpack nodes the way XADD
// builds them (a new node when the current one would reach stream-node-max-bytes or holds
// stream-node-max-entries entries; the first entry's ID and field names become the master
// entry; entries with the master's field names set SAMEFIELDS and store only values).
// Finished nodes, and each group's pending entries and consumers, go through spools
// because their counts precede them in the file.

type streamCollector struct {
	phase int // 0 entries, 1 metadata seen, 2 inside groups

	entries      []byte // listpack entries of the current node after its master entry
	items        int    // listpack items in entries
	nodeLive     int
	master       StreamID
	masterFields elemBuf
	masterSize   int
	nodes        int64

	count       int64
	first, last StreamID
	have        bool
	meta        StreamMeta
	haveMeta    bool

	groups     int64
	inGroup    bool
	consumersN int64 // consumers of the current group; pending entries must precede them
	pelN       int64
	gName      []byte
	gLast      StreamID
	gRead      int64
}

func (c *streamCollector) begin(w *Writer) {
	*c = streamCollector{entries: c.entries[:0], masterFields: c.masterFields, gName: c.gName[:0]}
	c.masterFields.reset()
}

func streamIDLess(a, b StreamID) bool {
	return a.Ms < b.Ms || (a.Ms == b.Ms && a.Seq < b.Seq)
}

func appendStreamID(dst []byte, id StreamID) []byte {
	dst = binary.BigEndian.AppendUint64(dst, id.Ms)
	return binary.BigEndian.AppendUint64(dst, id.Seq)
}

func (c *streamCollector) add(w *Writer, ev *Event) error {
	switch ev.Kind {
	case KindStreamEntry:
		if c.phase != 0 {
			return w.orderError(ev)
		}
		return c.addEntry(w, ev)
	case KindStreamMeta:
		if c.phase != 0 {
			return w.orderError(ev)
		}
		c.meta, c.haveMeta, c.phase = ev.Stream, true, 1
		return nil
	case KindStreamGroup:
		if err := c.closeGroup(w); err != nil {
			return err
		}
		c.phase, c.inGroup = 2, true
		c.gName = append(c.gName[:0], ev.Group.Name...)
		c.gLast, c.gRead = ev.Group.LastID, ev.Group.EntriesRead
		c.pelN, c.consumersN = 0, 0
		return nil
	case KindStreamPending:
		if !c.inGroup || c.consumersN > 0 {
			return w.orderError(ev)
		}
		p := ev.Pending
		b := appendStreamID(w.scratch[:0], p.ID)
		b = binary.LittleEndian.AppendUint64(b, uint64(p.DeliveryTime))
		b = appendLen(b, p.DeliveryCount)
		w.scratch = b
		c.pelN++
		return w.sp[2].emit(b)
	case KindStreamConsumer:
		if !c.inGroup {
			return w.orderError(ev)
		}
		return c.addConsumer(w, &ev.Consumer)
	}
	return w.orderError(ev)
}

func (c *streamCollector) addEntry(w *Writer, ev *Event) error {
	id, fields := ev.StreamID, ev.Fields
	if c.have && !streamIDLess(c.last, id) {
		return fmt.Errorf("%w: stream %q entry %d-%d does not follow %d-%d", ErrEventOrder, w.key,
			id.Ms, id.Seq, c.last.Ms, c.last.Seq)
	}
	if len(fields) == 0 || len(fields)%2 != 0 {
		return fmt.Errorf("%w: stream %q entry %d-%d has %d field and value items", ErrNotRepresentable,
			w.key, id.Ms, id.Seq, len(fields))
	}
	total := 0
	for _, f := range fields {
		total += len(f)
	}
	if c.nodeLive > 0 {
		maxBytes := w.lim.StreamNodeMaxBytes
		if maxBytes <= 0 || maxBytes > 1<<30 {
			maxBytes = 1 << 30
		}
		size := lpHeaderSize + c.masterSize + len(c.entries) + 1
		if size+total >= maxBytes || (w.lim.StreamNodeMaxEntries > 0 && c.nodeLive >= w.lim.StreamNodeMaxEntries) {
			if err := c.flushNode(w); err != nil {
				return err
			}
		}
	}
	nf := len(fields) / 2
	if c.nodeLive == 0 {
		c.master = id
		c.masterFields.reset()
		c.masterSize = 2 + 2 + 2 + 2 + len(appendListpackInt(nil, int64(nf)))
		for i := 0; i < nf; i++ {
			c.masterFields.add(fields[2*i])
			c.masterSize += listpackEntrySize(fields[2*i])
		}
	}
	same := nf == c.masterFields.len()
	for i := 0; same && i < nf; i++ {
		same = bytes.Equal(fields[2*i], c.masterFields.get(i))
	}
	e := c.entries
	flags := int64(0)
	if same {
		flags = streamItemSameFields
	}
	e = appendListpackInt(e, flags)
	e = appendListpackInt(e, int64(id.Ms-c.master.Ms))
	e = appendListpackInt(e, int64(id.Seq-c.master.Seq))
	items := 3
	if same {
		for i := 0; i < nf; i++ {
			e = appendListpackString(e, fields[2*i+1])
		}
		items += nf
	} else {
		e = appendListpackInt(e, int64(nf))
		for _, f := range fields {
			e = appendListpackString(e, f)
		}
		items += 1 + 2*nf
	}
	e = appendListpackInt(e, int64(items))
	c.entries, c.items = e, c.items+items+1
	c.nodeLive++
	c.count++
	if !c.have {
		c.first = id
	}
	c.last, c.have = id, true
	return nil
}

// flushNode finishes the current node: its master entry, then its entries, keyed by the
// master ID.
func (c *streamCollector) flushNode(w *Writer) error {
	if c.nodeLive == 0 {
		return nil
	}
	var lb listpackBuilder
	lb.buf = w.blobBuf[:0]
	lb.reset()
	lb.addInt(int64(c.nodeLive))
	lb.addInt(0)
	lb.addInt(int64(c.masterFields.len()))
	for i := 0; i < c.masterFields.len(); i++ {
		lb.addString(c.masterFields.get(i))
	}
	lb.addInt(0)
	lb.buf = append(lb.buf, c.entries...)
	lb.count += c.items
	blob := lb.finish()
	w.blobBuf = blob[:0]
	if err := w.writeString(&w.sp[0], appendStreamID(w.idBuf[:0], c.master)); err != nil {
		return err
	}
	if err := w.writeString(&w.sp[0], blob); err != nil {
		return err
	}
	c.nodes++
	c.entries, c.items, c.nodeLive = c.entries[:0], 0, 0
	return nil
}

func (c *streamCollector) addConsumer(w *Writer, cons *StreamConsumer) error {
	active := cons.ActiveTime
	if active < 0 {
		active = cons.SeenTime
	}
	if w.version < 11 && active != cons.SeenTime && !w.opts.AllowLoss {
		return notRepresentable(w.version, "a stream consumer's active time (Redis 7.2, RDB 11): consumer %q of group %q of key %q",
			cons.Name, c.gName, w.key)
	}
	b := w.appendString(w.scratch[:0], cons.Name)
	b = binary.LittleEndian.AppendUint64(b, uint64(cons.SeenTime))
	if w.version >= 11 {
		b = binary.LittleEndian.AppendUint64(b, uint64(active))
	}
	b = appendLen(b, uint64(len(cons.Pending)))
	for _, id := range cons.Pending {
		b = appendStreamID(b, id)
	}
	w.scratch = b
	c.consumersN++
	return w.sp[3].emit(b)
}

// closeGroup moves the finished group, with its pending entries and consumers, into the
// groups spool.
func (c *streamCollector) closeGroup(w *Writer) error {
	if !c.inGroup {
		return nil
	}
	c.inGroup = false
	if w.version < 10 && c.gRead >= 0 && !w.opts.AllowLoss {
		return notRepresentable(w.version, "a consumer group's entries-read counter (Redis 7.0, RDB 10): group %q of key %q",
			c.gName, w.key)
	}
	b := w.appendString(w.scratch[:0], c.gName)
	b = appendLen(b, c.gLast.Ms)
	b = appendLen(b, c.gLast.Seq)
	if w.version >= 10 {
		// Redis stores "unknown" (-1) through the unsigned length encoding.
		b = appendLen(b, uint64(c.gRead))
	}
	b = appendLen(b, uint64(c.pelN))
	w.scratch = b
	groups, pel, consumers := &w.sp[1], &w.sp[2], &w.sp[3]
	if err := groups.emit(b); err != nil {
		return err
	}
	if err := pel.drainTo(groups.emit); err != nil {
		return err
	}
	if err := groups.emit(appendLen(w.tmp[:0], uint64(c.consumersN))); err != nil {
		return err
	}
	if err := consumers.drainTo(groups.emit); err != nil {
		return err
	}
	pel.reset()
	consumers.reset()
	c.groups++
	return nil
}

func (c *streamCollector) end(w *Writer) error {
	if err := c.closeGroup(w); err != nil {
		return err
	}
	if err := c.flushNode(w); err != nil {
		return err
	}
	m := c.meta
	if !c.haveMeta {
		m = StreamMeta{Length: uint64(c.count), LastID: c.last, FirstID: c.first, EntriesAdded: uint64(c.count)}
	}
	if m.Length != uint64(c.count) {
		return fmt.Errorf("%w: stream %q has %d entries and its metadata says %d", ErrEventOrder, w.key, c.count, m.Length)
	}
	if c.have && streamIDLess(m.LastID, c.last) {
		return fmt.Errorf("%w: stream %q last ID %d-%d is before its last entry", ErrEventOrder, w.key, m.LastID.Ms, m.LastID.Seq)
	}
	t := byte(typeStreamListpacks3)
	switch {
	case w.version < 10:
		t = typeStreamListpacks
		if (m.MaxDeletedID != StreamID{} || m.EntriesAdded != m.Length) && !w.opts.AllowLoss {
			return notRepresentable(w.version, "stream %q's deletion history (max deleted ID %d-%d, %d entries added for %d left; Redis 7.0, RDB 10)",
				w.key, m.MaxDeletedID.Ms, m.MaxDeletedID.Seq, m.EntriesAdded, m.Length)
		}
	case w.version < 11:
		t = typeStreamListpacks2
	}
	if err := w.head(t); err != nil {
		return err
	}
	if err := w.emitLen(uint64(c.nodes)); err != nil {
		return err
	}
	if err := w.sp[0].drainTo(w.emit); err != nil {
		return err
	}
	b := appendLen(w.scratch[:0], m.Length)
	b = appendLen(b, m.LastID.Ms)
	b = appendLen(b, m.LastID.Seq)
	if w.version >= 10 {
		b = appendLen(b, m.FirstID.Ms)
		b = appendLen(b, m.FirstID.Seq)
		b = appendLen(b, m.MaxDeletedID.Ms)
		b = appendLen(b, m.MaxDeletedID.Seq)
		b = appendLen(b, m.EntriesAdded)
	}
	b = appendLen(b, uint64(c.groups))
	w.scratch = b
	if err := w.emit(b); err != nil {
		return err
	}
	return w.sp[1].drainTo(w.emit)
}
