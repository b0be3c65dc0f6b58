package rdb

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"sort"
)

// The Writer's collectors, one per Redis type. Each buffers a small collection until it
// knows which encoding Redis would build (listpack, intset, ziplist below the thresholds)
// and streams a large one (hashtable, skiplist, quicklist) as its elements arrive.

// elemBuf stores byte strings back to back, for the elements buffered below a threshold.
type elemBuf struct {
	arena []byte
	spans []span
}

type span struct{ off, n int }

func (b *elemBuf) reset() { b.arena, b.spans = b.arena[:0], b.spans[:0] }

func (b *elemBuf) add(p []byte) {
	b.spans = append(b.spans, span{len(b.arena), len(p)})
	b.arena = append(b.arena, p...)
}

func (b *elemBuf) get(i int) []byte {
	s := b.spans[i]
	return b.arena[s.off : s.off+s.n : s.off+s.n]
}

func (b *elemBuf) len() int { return len(b.spans) }

// countedSink streams the elements of a hashtable-like encoding, whose element count comes
// first: straight to the output when the key's header announced the count, through a spool
// otherwise.
type countedSink struct {
	rdbType  byte
	direct   bool
	declared int64
	n        int64
	sp       *spool
}

func (c *countedSink) begin(w *Writer, t byte, sp *spool) error {
	c.rdbType, c.n, c.sp = t, 0, sp
	c.direct = w.hdr.Len >= 0
	if !c.direct {
		return nil
	}
	c.declared = w.hdr.Len
	if err := w.head(t); err != nil {
		return err
	}
	return w.emitLen(uint64(c.declared))
}

func (c *countedSink) out(w *Writer) byteSink {
	if c.direct {
		return w
	}
	return c.sp
}

func (c *countedSink) end(w *Writer) error {
	if c.direct {
		if c.n != c.declared {
			return fmt.Errorf("%w: key %q announced %d elements (KeyHeader.Len) and had %d",
				ErrEventOrder, w.key, c.declared, c.n)
		}
		return nil
	}
	if err := w.head(c.rdbType); err != nil {
		return err
	}
	if err := w.emitLen(uint64(c.n)); err != nil {
		return err
	}
	return c.sp.drainTo(w.emit)
}

func emptyKey(w *Writer) error {
	return fmt.Errorf("%w: %s key %q has no elements", ErrNotRepresentable, w.hdr.Type, w.key)
}

// writeBlob writes a key whose value is one blob (listpack, intset, ziplist).
func (w *Writer) writeBlob(t byte, blob []byte) error {
	if err := w.head(t); err != nil {
		return err
	}
	return w.writeString(w, blob)
}

// ---- strings ----

type stringCollector struct{ seen bool }

func (c *stringCollector) begin(w *Writer) { c.seen = false }

func (c *stringCollector) add(w *Writer, ev *Event) error {
	if ev.Kind != KindString || c.seen {
		return w.orderError(ev)
	}
	c.seen = true
	if err := w.head(typeString); err != nil {
		return err
	}
	return w.writeString(w, ev.Value)
}

func (c *stringCollector) end(w *Writer) error {
	if !c.seen {
		return fmt.Errorf("%w: string key %q has no value", ErrEventOrder, w.key)
	}
	return nil
}

// ---- lists: quicklist 2 (listpack and plain nodes) from RDB 10, quicklist 1 (ziplist
// nodes) in RDB 9 ----

type listCollector struct {
	lp    listpackBuilder
	zl    ziplistBuilder
	nodes int64
	n     int64
	sp    *spool
}

func (c *listCollector) begin(w *Writer) {
	c.nodes, c.n, c.sp = 0, 0, &w.sp[0]
	c.lp.reset()
	c.zl.reset()
}

func (c *listCollector) nodeCount() int {
	if c.lp.count > 0 {
		return c.lp.count
	}
	return c.zl.count
}

// fits reports whether an element of size bytes still goes into the current node, by
// list-max-listpack-size: a byte budget when negative, a count when positive (with
// Redis's 8 KiB safety limit).
func (c *listCollector) fits(w *Writer, size int) bool {
	count := c.nodeCount()
	if count == 0 {
		return true
	}
	cur := c.lp.size()
	if w.version < 10 {
		cur = c.zl.size()
	}
	fill := w.lim.ListMaxListpackSize
	if fill < 0 {
		level := min(-fill, 5)
		return cur+size <= 4096<<(level-1) && count < math.MaxUint16
	}
	return count < fill && cur+size <= 8192
}

func (c *listCollector) flushNode(w *Writer) error {
	if c.nodeCount() == 0 {
		return nil
	}
	c.nodes++
	if w.version < 10 {
		blob := c.zl.finish()
		err := w.writeString(c.sp, blob)
		c.zl.reset()
		return err
	}
	if err := c.sp.emit(appendLen(w.tmp[:0], quicklistPacked)); err != nil {
		return err
	}
	err := w.writeString(c.sp, c.lp.finish())
	c.lp.reset()
	return err
}

func (c *listCollector) add(w *Writer, ev *Event) error {
	if ev.Kind != KindListItem {
		return w.orderError(ev)
	}
	v := ev.Value
	c.n++
	if w.version >= 10 && int64(len(v)) >= w.lim.ListPackedThreshold {
		// A huge element gets a plain node of its own.
		if err := c.flushNode(w); err != nil {
			return err
		}
		c.nodes++
		if err := c.sp.emit(appendLen(w.tmp[:0], quicklistPlain)); err != nil {
			return err
		}
		return w.writeString(c.sp, v)
	}
	size := listpackEntrySize(v)
	if !c.fits(w, size) {
		if err := c.flushNode(w); err != nil {
			return err
		}
	}
	if w.version < 10 {
		c.zl.add(v)
	} else {
		c.lp.addString(v)
	}
	return nil
}

func (c *listCollector) end(w *Writer) error {
	if c.n == 0 {
		return emptyKey(w)
	}
	if err := c.flushNode(w); err != nil {
		return err
	}
	t := byte(typeListQuicklist2)
	if w.version < 10 {
		t = typeListQuicklist
	}
	if err := w.head(t); err != nil {
		return err
	}
	if err := w.emitLen(uint64(c.nodes)); err != nil {
		return err
	}
	return c.sp.drainTo(w.emit)
}

// ---- sets: intset, listpack (RDB 11+), hashtable ----

type setCollector struct {
	buf     elemBuf
	ints    []int64
	allInts bool
	maxLen  int
	big     bool
	sink    countedSink
}

func (c *setCollector) begin(w *Writer) {
	c.buf.reset()
	c.ints = c.ints[:0]
	c.allInts, c.maxLen, c.big = true, 0, false
}

func (c *setCollector) smallPossible(w *Writer) bool {
	n := c.buf.len()
	if c.allInts && n <= w.lim.SetMaxIntsetEntries {
		return true
	}
	return w.version >= 11 && n <= w.lim.SetMaxListpackEntries && c.maxLen <= w.lim.SetMaxListpackValue
}

func (c *setCollector) add(w *Writer, ev *Event) error {
	if ev.Kind != KindSetMember {
		return w.orderError(ev)
	}
	m := ev.Value
	if c.big {
		c.sink.n++
		return w.writeString(c.sink.out(w), m)
	}
	if v, ok := parseCanonicalInt(m); ok && c.allInts {
		c.ints = append(c.ints, v)
	} else {
		c.allInts = false
	}
	c.maxLen = max(c.maxLen, len(m))
	c.buf.add(m)
	if c.smallPossible(w) {
		return nil
	}
	c.big = true
	if err := c.sink.begin(w, typeSet, &w.sp[0]); err != nil {
		return err
	}
	for i := 0; i < c.buf.len(); i++ {
		c.sink.n++
		if err := w.writeString(c.sink.out(w), c.buf.get(i)); err != nil {
			return err
		}
	}
	return nil
}

func (c *setCollector) end(w *Writer) error {
	if c.big {
		return c.sink.end(w)
	}
	n := c.buf.len()
	if n == 0 {
		return emptyKey(w)
	}
	if c.allInts && n <= w.lim.SetMaxIntsetEntries {
		blob, ok := appendIntset(w.blobBuf[:0], c.ints)
		if !ok {
			return fmt.Errorf("%w: set %q has a member twice", ErrEventOrder, w.key)
		}
		w.blobBuf = blob[:0]
		return w.writeBlob(typeSetIntset, blob)
	}
	var lb listpackBuilder
	lb.buf = w.blobBuf[:0]
	lb.reset()
	for i := 0; i < n; i++ {
		lb.addString(c.buf.get(i))
	}
	blob := lb.finish()
	w.blobBuf = blob[:0]
	return w.writeBlob(typeSetListpack, blob)
}

// ---- sorted sets: listpack (ziplist in RDB 9), skiplist with binary scores ----

type zsetCollector struct {
	buf    elemBuf
	scores []float64
	maxLen int
	big    bool
	sink   countedSink
}

func (c *zsetCollector) begin(w *Writer) {
	c.buf.reset()
	c.scores = c.scores[:0]
	c.maxLen, c.big = 0, false
}

func (c *zsetCollector) writeMember(w *Writer, m []byte, score float64) error {
	c.sink.n++
	out := c.sink.out(w)
	if err := w.writeString(out, m); err != nil {
		return err
	}
	return out.emit(binary.LittleEndian.AppendUint64(w.tmp[:0], math.Float64bits(score)))
}

func (c *zsetCollector) add(w *Writer, ev *Event) error {
	if ev.Kind != KindZSetMember {
		return w.orderError(ev)
	}
	if math.IsNaN(ev.Score) {
		return fmt.Errorf("%w: NaN score in sorted set %q", ErrNotRepresentable, w.key)
	}
	if c.big {
		return c.writeMember(w, ev.Value, ev.Score)
	}
	c.buf.add(ev.Value)
	c.scores = append(c.scores, ev.Score)
	c.maxLen = max(c.maxLen, len(ev.Value))
	if c.buf.len() <= w.lim.ZSetMaxListpackEntries && c.maxLen <= w.lim.ZSetMaxListpackValue {
		return nil
	}
	c.big = true
	if err := c.sink.begin(w, typeZSet2, &w.sp[0]); err != nil {
		return err
	}
	for i := 0; i < c.buf.len(); i++ {
		if err := c.writeMember(w, c.buf.get(i), c.scores[i]); err != nil {
			return err
		}
	}
	return nil
}

func (c *zsetCollector) end(w *Writer) error {
	if c.big {
		return c.sink.end(w)
	}
	n := c.buf.len()
	if n == 0 {
		return emptyKey(w)
	}
	// A packed sorted set is kept in order: by score, then by member.
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool {
		i, j := order[a], order[b]
		if c.scores[i] != c.scores[j] {
			return c.scores[i] < c.scores[j]
		}
		return bytes.Compare(c.buf.get(i), c.buf.get(j)) < 0
	})
	var num [32]byte
	if w.version < 10 {
		var zb ziplistBuilder
		zb.buf = w.blobBuf[:0]
		zb.reset()
		for _, i := range order {
			zb.add(c.buf.get(i))
			zb.add(appendScore(num[:0], c.scores[i]))
		}
		blob := zb.finish()
		w.blobBuf = blob[:0]
		return w.writeBlob(typeZSetZiplist, blob)
	}
	var lb listpackBuilder
	lb.buf = w.blobBuf[:0]
	lb.reset()
	for _, i := range order {
		lb.addString(c.buf.get(i))
		lb.addString(appendScore(num[:0], c.scores[i]))
	}
	blob := lb.finish()
	w.blobBuf = blob[:0]
	return w.writeBlob(typeZSetListpack, blob)
}

// ---- hashes: listpack (ziplist in RDB 9), hashtable; with field TTLs (RDB 12) listpackex
// and hashtable with metadata ----

type hashCollector struct {
	fields  elemBuf
	values  elemBuf
	expires []int64
	maxLen  int
	anyTTL  bool
	minTTL  int64
	big     bool
	sink    countedSink
	raw     int64 // RDB 12 large hash: records spooled, TTLs pending
}

func (c *hashCollector) begin(w *Writer) {
	c.fields.reset()
	c.values.reset()
	c.expires = c.expires[:0]
	c.maxLen, c.anyTTL, c.minTTL, c.big, c.raw = 0, false, 0, false, 0
}

func (c *hashCollector) noteTTL(at int64) {
	if at != 0 {
		if !c.anyTTL || at < c.minTTL {
			c.minTTL = at
		}
		c.anyTTL = true
	}
}

// writeField sends one field of a large hash. Below RDB 12 it goes out as a HASH pair. In
// RDB 12 the type (HASH or HASH_METADATA) and the TTL base are known only at the end, so
// the field is spooled as [expire u64 LE][length u32 LE][encoded field and value].
func (c *hashCollector) writeField(w *Writer, f, v []byte, at int64) error {
	if w.version < 12 {
		c.sink.n++
		out := c.sink.out(w)
		if err := w.writeString(out, f); err != nil {
			return err
		}
		return w.writeString(out, v)
	}
	c.raw++
	c.noteTTL(at)
	b := binary.LittleEndian.AppendUint64(w.scratch[:0], uint64(at))
	b = append(b, 0, 0, 0, 0)
	b = w.appendString(b, f)
	b = w.appendString(b, v)
	binary.LittleEndian.PutUint32(b[8:], uint32(len(b)-12))
	w.scratch = b
	return w.sp[0].emit(b)
}

func (c *hashCollector) add(w *Writer, ev *Event) error {
	if ev.Kind != KindHashField {
		return w.orderError(ev)
	}
	if ev.ExpireAt != 0 {
		if w.version < 12 {
			return notRepresentable(w.version, "hash field TTLs (Redis 7.4, RDB 12): field %q of key %q", ev.Field, w.key)
		}
		if ev.ExpireAt < 0 || ev.ExpireAt > maxFieldExpire {
			return fmt.Errorf("%w: field %q of key %q expires at %d", ErrNotRepresentable, ev.Field, w.key, ev.ExpireAt)
		}
	}
	if c.big {
		return c.writeField(w, ev.Field, ev.Value, ev.ExpireAt)
	}
	c.fields.add(ev.Field)
	c.values.add(ev.Value)
	c.expires = append(c.expires, ev.ExpireAt)
	c.noteTTL(ev.ExpireAt)
	c.maxLen = max(c.maxLen, len(ev.Field), len(ev.Value))
	if c.fields.len() <= w.lim.HashMaxListpackEntries && c.maxLen <= w.lim.HashMaxListpackValue {
		return nil
	}
	c.big = true
	if w.version < 12 {
		if err := c.sink.begin(w, typeHash, &w.sp[0]); err != nil {
			return err
		}
	} else {
		c.anyTTL = false
	}
	for i := 0; i < c.fields.len(); i++ {
		if err := c.writeField(w, c.fields.get(i), c.values.get(i), c.expires[i]); err != nil {
			return err
		}
	}
	return nil
}

func (c *hashCollector) end(w *Writer) error {
	if c.big {
		if w.version < 12 {
			return c.sink.end(w)
		}
		return c.endRaw(w)
	}
	n := c.fields.len()
	if n == 0 {
		return emptyKey(w)
	}
	if w.version < 10 {
		var zb ziplistBuilder
		zb.buf = w.blobBuf[:0]
		zb.reset()
		for i := 0; i < n; i++ {
			zb.add(c.fields.get(i))
			zb.add(c.values.get(i))
		}
		blob := zb.finish()
		w.blobBuf = blob[:0]
		return w.writeBlob(typeHashZiplist, blob)
	}
	var lb listpackBuilder
	lb.buf = w.blobBuf[:0]
	lb.reset()
	if !c.anyTTL {
		for i := 0; i < n; i++ {
			lb.addString(c.fields.get(i))
			lb.addString(c.values.get(i))
		}
		blob := lb.finish()
		w.blobBuf = blob[:0]
		return w.writeBlob(typeHashListpack, blob)
	}
	// listpackex: field, value, expire triplets, fields with a TTL first in expiry order,
	// then the others (HASH_LP_NO_TTL, 0); the value is preceded by the earliest expiry.
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		x, y := c.expires[order[a]], c.expires[order[b]]
		if (x == 0) != (y == 0) {
			return y == 0
		}
		return x < y
	})
	for _, i := range order {
		lb.addString(c.fields.get(i))
		lb.addString(c.values.get(i))
		lb.addInt(c.expires[i])
	}
	blob := lb.finish()
	w.blobBuf = blob[:0]
	if err := w.head(typeHashListpackEx); err != nil {
		return err
	}
	if err := w.emit(binary.LittleEndian.AppendUint64(w.tmp[:0], uint64(c.minTTL))); err != nil {
		return err
	}
	return w.writeString(w, blob)
}

// endRaw writes a large RDB 12 hash from its spooled records: HASH when no field has a
// TTL, else HASH_METADATA: the earliest expiry, the count, then per field its TTL as an
// RDB length (0 none, else expiry - earliest + 1), the field and the value.
func (c *hashCollector) endRaw(w *Writer) error {
	t := byte(typeHash)
	if c.anyTTL {
		t = typeHashMetadata
	}
	if err := w.head(t); err != nil {
		return err
	}
	if c.anyTTL {
		if err := w.emit(binary.LittleEndian.AppendUint64(w.tmp[:0], uint64(c.minTTL))); err != nil {
			return err
		}
	}
	if err := w.emitLen(uint64(c.raw)); err != nil {
		return err
	}
	r, err := w.sp[0].open()
	if err != nil {
		return err
	}
	rec := w.tmp[:12]
	for i := int64(0); i < c.raw; i++ {
		if _, err := io.ReadFull(r, rec); err != nil {
			return fmt.Errorf("rdb: reading spooled hash: %w", err)
		}
		at := int64(binary.LittleEndian.Uint64(rec))
		n := binary.LittleEndian.Uint32(rec[8:])
		if c.anyTTL {
			ttl := uint64(0)
			if at != 0 {
				ttl = uint64(at-c.minTTL) + 1
			}
			if err := w.emitLen(ttl); err != nil {
				return err
			}
		}
		if cap(w.scratch) < int(n) {
			w.scratch = make([]byte, n)
		}
		body := w.scratch[:n]
		if _, err := io.ReadFull(r, body); err != nil {
			return fmt.Errorf("rdb: reading spooled hash: %w", err)
		}
		if err := w.emit(body); err != nil {
			return err
		}
	}
	return nil
}
