package engine

import (
	"github.com/stratadb/strata/encoding"
)

// ParseInt parses b as Redis's string2ll does: an optional '-', no '+', no spaces, no leading
// zeros (but "0"), at most 20 bytes, within int64. Command arguments and stored strings are
// read as integers this way everywhere (INCR, EXPIRE, SETRANGE ...).
func ParseInt(b []byte) (int64, bool) { return parseStrictInt(b) }

func parseStrictInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	if len(b) == 1 && b[0] == '0' {
		return 0, true
	}
	neg := b[0] == '-'
	if neg {
		b = b[1:]
		if len(b) == 0 {
			return 0, false
		}
	}
	if b[0] < '1' || b[0] > '9' {
		return 0, false
	}
	var u uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if u > (1<<64-1-d)/10 {
			return 0, false
		}
		u = u*10 + d
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true
	}
	if u > 1<<63-1 {
		return 0, false
	}
	return int64(u), true
}

// stringState looks up key and checks it holds a string: found is false when it is missing
// (or expired), ErrWrongType when it holds another type.
func (t *Txn) stringState(key []byte) (ks keyState, found bool, err error) {
	ks, err = t.lookup(key)
	if err != nil || !ks.live {
		return ks, false, err
	}
	if ks.meta.Type != encoding.TypeString {
		return ks, false, ErrWrongType
	}
	return ks, true, nil
}

// Get returns the value of key; false when it does not exist.
func (t *Txn) Get(key []byte) ([]byte, bool, error) {
	ks, found, err := t.stringState(key)
	if !found {
		return nil, false, err
	}
	v, err := t.stringValue(key, &ks.meta)
	return v, err == nil, err
}

// SetArgs are SET's options.
type SetArgs struct {
	NX, XX  bool
	KeepTTL bool
	// Get asks for the old value (SET ... GET): the old value must then be a string.
	Get bool
	// ExpireAt is the new expiry in unix ms, 0 for none.
	ExpireAt int64
}

// SetResult is what SET did.
type SetResult struct {
	Done   bool   // the value was written
	Old    []byte // the old value when SetArgs.Get and it existed
	HadOld bool
}

// Set writes value to key under the conditions of a.
func (t *Txn) Set(key, value []byte, a SetArgs) (SetResult, error) {
	var r SetResult
	ks, err := t.lookup(key)
	if err != nil {
		return r, err
	}
	if a.Get && ks.live {
		if ks.meta.Type != encoding.TypeString {
			return r, ErrWrongType
		}
		if r.Old, err = t.stringValue(key, &ks.meta); err != nil {
			return r, err
		}
		r.HadOld = true
	}
	if (a.NX && ks.live) || (a.XX && !ks.live) {
		return r, nil
	}
	expireAt := a.ExpireAt
	if a.KeepTTL && ks.live {
		expireAt = ks.meta.ExpireAt
	}
	t.writeString(key, &ks, value, expireAt)
	r.Done = true
	return r, nil
}

// writeString replaces key's value (whatever it was) with the string value, expiring at
// expireAt (0 = never). A value up to InlineMax lives in the metadata; a longer one is cut in
// chunks under a new version.
func (t *Txn) writeString(key []byte, old *keyState, value []byte, expireAt int64) {
	m := encoding.Meta{Type: encoding.TypeString, ExpireAt: expireAt, Count: uint64(len(value))}
	if len(value) <= encoding.InlineMax {
		m.Rest = value
		t.putMeta(key, old, &m)
		return
	}
	m.Version = t.e.newVersion()
	m.Flags = encoding.FlagChunked
	t.writeChunks(key, m.Version, 0, value)
	t.putMeta(key, old, &m)
}

// stringValue returns the whole value of a string whose metadata is m.
func (t *Txn) stringValue(key []byte, m *encoding.Meta) ([]byte, error) {
	if m.Flags&encoding.FlagChunked == 0 {
		return m.Rest, nil
	}
	return t.readChunks(key, m, 0, int64(m.Count))
}

// stringRange returns bytes [off, off+n) of a string, clipped to its length.
func (t *Txn) stringRange(key []byte, m *encoding.Meta, off, n int64) ([]byte, error) {
	size := int64(m.Count)
	if off >= size || n <= 0 {
		return nil, nil
	}
	n = min(n, size-off)
	if m.Flags&encoding.FlagChunked == 0 {
		return m.Rest[off : off+n], nil
	}
	return t.readChunks(key, m, off, n)
}

// readChunks reads bytes [off, off+n) of a chunked string. Chunks that were never written,
// or written shorter than the string later grew, read as zero bytes.
func (t *Txn) readChunks(key []byte, m *encoding.Meta, off, n int64) ([]byte, error) {
	start := len(t.arena)
	t.arena = append(t.arena, make([]byte, n)...)
	out := t.arena[start : start+int(n) : start+int(n)]
	first := uint64(off / encoding.ChunkSize)
	last := uint64((off + n - 1) / encoding.ChunkSize)
	lower := encoding.AppendIndexSubKey(nil, t.db, key, m.Version, first)
	upper := encoding.AppendIndexSubKey(nil, t.db, key, m.Version, last+1)
	it, err := t.iter(lower, upper)
	if err != nil {
		return nil, err
	}
	prefixLen := encoding.ElemPrefixLen(len(key))
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) != prefixLen+8 {
			it.Close()
			return nil, corruptf("chunk key of %q", key)
		}
		idx := int64(beUint64(k[prefixLen:]))
		chunk, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return nil, err
		}
		base := idx * encoding.ChunkSize // offset of the chunk in the string
		lo := max(off, base)
		hi := min(off+n, base+int64(len(chunk)))
		if lo < hi {
			copy(out[lo-off:hi-off], chunk[lo-base:hi-base])
		}
	}
	return out, it.Close()
}

// writeChunks writes data at offset off of the chunked string (key, version), reading and
// rewriting only the chunks the range touches.
func (t *Txn) writeChunks(key []byte, version uint64, off int64, data []byte) {
	for len(data) > 0 {
		idx := off / encoding.ChunkSize
		in := off - idx*encoding.ChunkSize
		n := min(int64(len(data)), encoding.ChunkSize-in)
		k := encoding.AppendIndexSubKey(t.kbuf[:0], t.db, key, version, uint64(idx))
		t.kbuf = k
		var chunk []byte
		if in != 0 || n != encoding.ChunkSize {
			old, _, _ := t.get(k) // a missing chunk reads as zeros
			chunk = append(t.vbuf[:0], old...)
		} else {
			chunk = t.vbuf[:0]
		}
		if need := int(in + n); len(chunk) < need {
			chunk = append(chunk, make([]byte, need-len(chunk))...)
		}
		copy(chunk[in:], data[:n])
		t.vbuf = chunk
		t.set(k, chunk)
		data = data[n:]
		off += n
	}
}

func beUint64(b []byte) uint64 {
	return uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
		uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
}
