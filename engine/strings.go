package engine

import (
	"math"
	"math/big"
	"strconv"

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
	t.writeNewChunks(key, m.Version, value)
	t.putMeta(key, old, &m)
}

// stringValue returns the whole value of a string whose metadata is m.
func (t *Txn) stringValue(key []byte, m *encoding.Meta) ([]byte, error) {
	if m.Flags&encoding.FlagChunked == 0 {
		return m.Rest, nil
	}
	return t.stringRange(key, m, 0, int64(m.Count))
}

// stringRange returns bytes [off, off+n) of a string, clipped to its length. The bytes live in
// the Txn's arena.
func (t *Txn) stringRange(key []byte, m *encoding.Meta, off, n int64) ([]byte, error) {
	size := int64(m.Count)
	if off >= size || n <= 0 {
		return nil, nil
	}
	n = min(n, size-off)
	if m.Flags&encoding.FlagChunked == 0 {
		return m.Rest[off : off+n], nil
	}
	start := len(t.arena)
	t.arena = append(t.arena, make([]byte, n)...)
	out := t.arena[start : start+int(n) : start+int(n)]
	return out, t.readString(key, m, off, out)
}

// readChunks reads bytes [off, off+n) of a chunked string (see stringRange).
func (t *Txn) readChunks(key []byte, m *encoding.Meta, off, n int64) ([]byte, error) {
	return t.stringRange(key, m, off, n)
}

// writeChunks writes data at offset off of the chunked string (key, version), reading and
// rewriting only the chunks the range touches.
func (t *Txn) writeChunks(key []byte, version uint64, off int64, data []byte) error {
	for len(data) > 0 {
		idx := off / encoding.ChunkSize
		in := off - idx*encoding.ChunkSize
		n := min(int64(len(data)), encoding.ChunkSize-in)
		k := encoding.AppendIndexSubKey(t.kbuf[:0], t.db, key, version, uint64(idx))
		t.kbuf = k
		chunk := t.vbuf[:0]
		if in != 0 || n != encoding.ChunkSize {
			old, _, err := t.get(k) // a missing chunk reads as zeros
			if err != nil {
				return err
			}
			chunk = append(chunk, old...)
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
	return nil
}

func beUint64(b []byte) uint64 {
	return uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
		uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
}

// ---- string commands ----

// GetString returns key's value when it holds a string; false when it is missing or holds
// another type (MGET answers nil for both).
func (t *Txn) GetString(key []byte) ([]byte, bool, error) {
	v, ok, err := t.Get(key)
	if err == ErrWrongType {
		return nil, false, nil
	}
	return v, ok, err
}

// GetDel returns key's value and deletes the key.
func (t *Txn) GetDel(key []byte) ([]byte, bool, error) {
	ks, found, err := t.stringState(key)
	if !found {
		return nil, false, err
	}
	v, err := t.stringValue(key, &ks.meta)
	if err != nil {
		return nil, false, err
	}
	t.deleteKey(key, &ks)
	return v, true, nil
}

// GetExArgs are GETEX's options.
type GetExArgs struct {
	// Expire sets the expiry to ExpireAt (unix ms); a time already past deletes the key.
	Expire   bool
	ExpireAt int64
	// Persist removes the expiry.
	Persist bool
	// Err is an invalid expiry argument. Redis checks it only once the key is known to hold a
	// string, so a missing key answers nil even then.
	Err error
}

// GetEx returns key's value and changes its expiry as a asks.
func (t *Txn) GetEx(key []byte, a GetExArgs) ([]byte, bool, error) {
	ks, found, err := t.stringState(key)
	if !found {
		return nil, false, err
	}
	if a.Err != nil {
		return nil, false, a.Err
	}
	v, err := t.stringValue(key, &ks.meta)
	if err != nil {
		return nil, false, err
	}
	m := ks.meta
	switch {
	case a.Expire && a.ExpireAt <= t.now:
		t.deleteKey(key, &ks)
	case a.Expire:
		m.ExpireAt = a.ExpireAt
		t.putMeta(key, &ks, &m)
	case a.Persist && m.ExpireAt != 0:
		m.ExpireAt = 0
		t.putMeta(key, &ks, &m)
	}
	return v, true, nil
}

// MSet sets each key of pairs (key, value, key, value ...) to its value, removing any TTL.
// With nx it sets nothing and answers false when any of the keys exists.
func (t *Txn) MSet(pairs [][]byte, nx bool) (bool, error) {
	if nx {
		for i := 0; i+1 < len(pairs); i += 2 {
			ks, err := t.lookup(pairs[i])
			if err != nil || ks.live {
				return false, err
			}
		}
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		ks, err := t.lookup(pairs[i])
		if err != nil {
			return false, err
		}
		t.writeString(pairs[i], &ks, pairs[i+1], 0)
	}
	return true, nil
}

// StrLen is the length of key's value (0 when it is missing).
func (t *Txn) StrLen(key []byte) (int64, error) {
	ks, found, err := t.stringState(key)
	if !found {
		return 0, err
	}
	return int64(ks.meta.Count), nil
}

// Append appends value to key's string (creating it) and returns the new length. maxLen is
// proto-max-bulk-len: a longer result is refused.
func (t *Txn) Append(key, value []byte, maxLen int64) (int64, error) {
	ks, found, err := t.stringState(key)
	if err != nil {
		return 0, err
	}
	if !found {
		t.writeString(key, &ks, value, 0)
		return int64(len(value)), nil
	}
	size := int64(ks.meta.Count)
	if int64(len(value)) > maxLen-size {
		return 0, ErrStringTooLong
	}
	e := t.editString(key, &ks)
	if err := e.write(size, value); err != nil {
		return 0, err
	}
	e.done()
	return e.size(), nil
}

// GetRange returns the bytes of key's string from start to end (inclusive; negative indexes
// count from the end), as GETRANGE does.
func (t *Txn) GetRange(key []byte, start, end int64) ([]byte, error) {
	ks, found, err := t.stringState(key)
	if !found {
		return nil, err
	}
	size := int64(ks.meta.Count)
	if start < 0 && end < 0 && start > end {
		return nil, nil
	}
	if start < 0 {
		start += size
	}
	if end < 0 {
		end += size
	}
	start, end = max(start, 0), max(end, 0)
	if end >= size {
		end = size - 1
	}
	if start > end || size == 0 {
		return nil, nil
	}
	return t.stringRange(key, &ks.meta, start, end-start+1)
}

// SetRange overwrites key's string at offset off with value, padding with zeros, and returns
// the new length. An empty value changes nothing. maxLen is proto-max-bulk-len.
func (t *Txn) SetRange(key []byte, off int64, value []byte, maxLen int64) (int64, error) {
	ks, found, err := t.stringState(key)
	if err != nil {
		return 0, err
	}
	if len(value) == 0 {
		if !found {
			return 0, nil
		}
		return int64(ks.meta.Count), nil
	}
	if off > maxLen-int64(len(value)) {
		return 0, ErrStringTooLong
	}
	e := t.editString(key, &ks)
	if err := e.write(off, value); err != nil {
		return 0, err
	}
	e.done()
	return e.size(), nil
}

// maxIntLen is the longest string ParseInt accepts: a longer value is not an integer, whatever
// it holds, and is not even read.
const maxIntLen = 20

// IncrBy adds delta to the integer in key (0 when missing), keeping its TTL.
func (t *Txn) IncrBy(key []byte, delta int64) (int64, error) {
	ks, found, err := t.stringState(key)
	if err != nil {
		return 0, err
	}
	var cur int64
	if found {
		if ks.meta.Count > maxIntLen {
			return 0, ErrNotInteger
		}
		v, err := t.stringValue(key, &ks.meta)
		if err != nil {
			return 0, err
		}
		var ok bool
		if cur, ok = ParseInt(v); !ok {
			return 0, ErrNotInteger
		}
	}
	if (delta < 0 && cur < 0 && delta < math.MinInt64-cur) ||
		(delta > 0 && cur > 0 && delta > math.MaxInt64-cur) {
		return 0, ErrOverflow
	}
	n := cur + delta
	var buf [maxIntLen]byte
	t.writeString(key, &ks, strconv.AppendInt(buf[:0], n, 10), keptExpiry(&ks))
	return n, nil
}

// IncrByFloat adds the float incr to the float in key (0 when missing), keeping its TTL, in
// long double arithmetic as Redis does (see longdouble.go). It returns the new value as
// stored.
func (t *Txn) IncrByFloat(key, incr []byte) ([]byte, error) {
	ks, found, err := t.stringState(key)
	if err != nil {
		return nil, err
	}
	cur := new(big.Float)
	if found {
		if ks.meta.Count >= ldMaxChars {
			return nil, ErrNotFloat
		}
		v, err := t.stringValue(key, &ks.meta)
		if err != nil {
			return nil, err
		}
		var ok bool
		if cur, ok = ParseLongDouble(v); !ok {
			return nil, ErrNotFloat
		}
	}
	by, ok := ParseLongDouble(incr)
	if !ok {
		return nil, ErrNotFloat
	}
	sum, ok := AddLongDouble(cur, by)
	if !ok {
		return nil, ErrNaNOrInfinity
	}
	out := t.keep(AppendLongDoubleHuman(nil, sum))
	t.writeString(key, &ks, out, keptExpiry(&ks))
	return out, nil
}

// keptExpiry is the expiry a value written over ks keeps: its own when it is live.
func keptExpiry(ks *keyState) int64 {
	if ks.live {
		return ks.meta.ExpireAt
	}
	return 0
}

// LCSInputs returns the values of two keys for LCS: missing keys read as empty strings, and
// a key of another type is ErrLCSStrings.
func (t *Txn) LCSInputs(key1, key2 []byte) (a, b []byte, err error) {
	a, _, err = t.Get(key1)
	if err == nil {
		b, _, err = t.Get(key2)
	}
	if err == ErrWrongType {
		err = ErrLCSStrings
	}
	return a, b, err
}
