package engine

import (
	"github.com/cockroachdb/pebble/v2"

	"github.com/stratadb/strata/encoding"
)

// How a string's bytes are stored (see encoding/doc.go): up to InlineMax bytes live inline in
// the metadata; a longer value lives in chunks of ChunkSize bytes, one subkey per chunk index,
// under the metadata's version. A chunk that was never written, or is shorter than ChunkSize,
// reads as zero bytes up to the string's length, so a 512 MB string made by one SETBIT at its
// last bit is one chunk on disk.
//
// Commands that change part of a string (SETBIT, SETRANGE, APPEND, BITFIELD) go through a
// stringEdit, which reads and rewrites only the chunks their range covers; the only time a
// whole value is rewritten is when an inline value grows past InlineMax and moves into chunks.
// Commands that scan a range (BITCOUNT, BITPOS, BITOP, GETRANGE) read it through a
// stringReader, which holds one iterator and walks only the chunks of that range. Both read
// through the Txn (t.get, t.iter), so a command sees its own earlier writes.

// stringReader reads a string front to back: each read starts at or after the previous one.
// It keeps one iterator over the string's chunks, opened at the first read that needs it.
type stringReader struct {
	t     *Txn
	key   []byte
	m     encoding.Meta
	it    *pebble.Iterator
	kbuf  []byte
	ended bool // the iterator ran off its upper bound
}

func (t *Txn) newStringReader(key []byte, m *encoding.Meta) stringReader {
	return stringReader{t: t, key: key, m: *m}
}

func (r *stringReader) chunked() bool { return r.m.Flags&encoding.FlagChunked != 0 }

// read fills dst with the string's bytes [off, off+len(dst)); bytes past its end read as zeros.
func (r *stringReader) read(off int64, dst []byte) error {
	_, err := r.readStored(off, dst)
	return err
}

// readStored is read, also saying whether any stored bytes fell in the range: when none did,
// dst is all zeros and a scan can skip it.
func (r *stringReader) readStored(off int64, dst []byte) (bool, error) {
	clear(dst)
	size := int64(r.m.Count)
	if off >= size || len(dst) == 0 {
		return false, nil
	}
	n := min(int64(len(dst)), size-off)
	if !r.chunked() {
		if int64(len(r.m.Rest)) < off+n {
			return false, corruptf("inline string %q shorter than its length", r.key)
		}
		copy(dst, r.m.Rest[off:off+n])
		return true, nil
	}
	first := off / encoding.ChunkSize
	last := (off + n - 1) / encoding.ChunkSize
	if r.it == nil {
		lower := encoding.AppendIndexSubKey(nil, r.t.db, r.key, r.m.Version, uint64(first))
		upper := encoding.AppendIndexSubKey(nil, r.t.db, r.key, r.m.Version, uint64((size-1)/encoding.ChunkSize+1))
		it, err := r.t.iter(lower, upper)
		if err != nil {
			return false, err
		}
		r.it = it
		r.ended = !it.First()
	} else if !r.ended && (!r.it.Valid() || r.index() < first) {
		r.kbuf = encoding.AppendIndexSubKey(r.kbuf[:0], r.t.db, r.key, r.m.Version, uint64(first))
		r.ended = !r.it.SeekGE(r.kbuf)
	}
	prefixLen := encoding.ElemPrefixLen(len(r.key))
	stored := false
	for !r.ended {
		k := r.it.Key()
		if len(k) != prefixLen+8 {
			return false, corruptf("chunk key of %q", r.key)
		}
		idx := r.index()
		if idx > last {
			break
		}
		chunk, err := r.it.ValueAndErr()
		if err != nil {
			return false, err
		}
		base := idx * encoding.ChunkSize
		lo := max(off, base)
		hi := min(off+n, base+int64(len(chunk)))
		if lo < hi {
			copy(dst[lo-off:hi-off], chunk[lo-base:hi-base])
			stored = true
		}
		if idx == last {
			break // the next read may start in this chunk
		}
		r.ended = !r.it.Next()
	}
	return stored, r.it.Error()
}

// index is the chunk index under the iterator.
func (r *stringReader) index() int64 {
	k := r.it.Key()
	return int64(beUint64(k[len(k)-8:]))
}

func (r *stringReader) close() error {
	if r.it == nil {
		return nil
	}
	err := r.it.Close()
	r.it = nil
	return err
}

// readString reads bytes [off, off+len(dst)) of a string into dst (zeros past its end). A read
// inside one chunk is one point read.
func (t *Txn) readString(key []byte, m *encoding.Meta, off int64, dst []byte) error {
	size := int64(m.Count)
	if m.Flags&encoding.FlagChunked != 0 && len(dst) > 0 && off < size {
		first := off / encoding.ChunkSize
		if (off+min(int64(len(dst)), size-off)-1)/encoding.ChunkSize == first {
			clear(dst)
			t.kbuf = encoding.AppendIndexSubKey(t.kbuf[:0], t.db, key, m.Version, uint64(first))
			chunk, _, err := t.get(t.kbuf)
			if err != nil {
				return err
			}
			base := first * encoding.ChunkSize
			if hi := min(off+int64(len(dst)), size, base+int64(len(chunk))); off < hi {
				copy(dst, chunk[off-base:hi-base])
			}
			return nil
		}
	}
	r := t.newStringReader(key, m)
	err := r.read(off, dst)
	if cerr := r.close(); err == nil {
		err = cerr
	}
	return err
}

// writeNewChunks writes data as the chunks of a fresh version from offset 0. Nothing exists
// under a fresh version, so chunks that are all zeros need not be written at all.
func (t *Txn) writeNewChunks(key []byte, version uint64, data []byte) {
	for idx := uint64(0); len(data) > 0; idx++ {
		n := min(len(data), encoding.ChunkSize)
		if !allZero(data[:n]) {
			t.kbuf = encoding.AppendIndexSubKey(t.kbuf[:0], t.db, key, version, idx)
			t.set(t.kbuf, data[:n])
		}
		data = data[n:]
	}
}

func allZero(b []byte) bool {
	for len(b) >= 8 {
		if beUint64(b) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// stringEdit changes a string in place for one command: reads see the edit's own writes, and
// done writes the metadata once. A missing (or expired) key starts as an empty string without
// a TTL and is created by done.
type stringEdit struct {
	t       *Txn
	key     []byte
	ks      *keyState
	m       encoding.Meta
	val     []byte // the value while it is inline; owned by the edit
	changed bool
}

// editString starts an edit of key, which lookup found as ks (a string, or not live).
func (t *Txn) editString(key []byte, ks *keyState) stringEdit {
	e := stringEdit{t: t, key: key, ks: ks}
	if ks.live {
		e.m = ks.meta
	} else {
		e.m = encoding.Meta{Type: encoding.TypeString}
		e.changed = true
	}
	if !e.chunked() {
		e.val = append([]byte(nil), e.m.Rest...)
		e.m.Count = uint64(len(e.val))
	}
	e.m.Rest = nil
	return e
}

func (e *stringEdit) chunked() bool { return e.m.Flags&encoding.FlagChunked != 0 }

func (e *stringEdit) size() int64 { return int64(e.m.Count) }

// grow makes the string at least n bytes long, padding it with zeros. An inline value that
// grows past InlineMax moves into chunks under a new version.
func (e *stringEdit) grow(n int64) {
	if n <= e.size() {
		return
	}
	e.changed = true
	if !e.chunked() && n <= encoding.InlineMax {
		e.val = append(e.val, make([]byte, n-int64(len(e.val)))...)
		e.m.Count = uint64(n)
		return
	}
	if !e.chunked() {
		e.m.Version = e.t.e.newVersion()
		e.m.Flags = e.m.Flags&^encoding.FlagCodecMask | encoding.FlagChunked
		e.t.writeNewChunks(e.key, e.m.Version, e.val)
		e.val = nil
	}
	e.m.Count = uint64(n)
}

// read fills dst with bytes [off, off+len(dst)) (zeros past the end).
func (e *stringEdit) read(off int64, dst []byte) error {
	if !e.chunked() {
		clear(dst)
		if off < int64(len(e.val)) {
			copy(dst, e.val[off:])
		}
		return nil
	}
	return e.t.readString(e.key, &e.m, off, dst)
}

// write writes data at off, growing the string as needed.
func (e *stringEdit) write(off int64, data []byte) error {
	e.grow(off + int64(len(data)))
	e.changed = true
	if !e.chunked() {
		copy(e.val[off:], data)
		return nil
	}
	return e.t.writeChunks(e.key, e.m.Version, off, data)
}

// done writes the metadata when the edit changed anything.
func (e *stringEdit) done() {
	if !e.changed {
		return
	}
	if !e.chunked() {
		e.m.Rest = e.val
	}
	e.t.putMeta(e.key, e.ks, &e.m)
}
