package engine

import (
	"math"
	"math/bits"

	"github.com/stratadb/strata/encoding"
)

// Bitmaps are strings addressed by bit: bit 0 is the most significant bit of byte 0. The
// operations here read and write only the bytes they address (see strstore.go), so SETBIT at
// the end of a 512 MB bitmap rewrites one chunk, and BITCOUNT over a range reads that range.

// scanWindow is how many bytes a range scan reads at a time.
const scanWindow = 16 * encoding.ChunkSize

// scanString calls fn with consecutive windows of bytes [off, off+n) of a string (zeros where
// nothing is stored) until the range ends or fn returns false. The window is reused. With
// skipEmpty, windows where nothing is stored (all zeros) are not passed to fn at all.
func (t *Txn) scanString(key []byte, m *encoding.Meta, off, n int64, skipEmpty bool, fn func(at int64, b []byte) bool) error {
	if n <= 0 {
		return nil
	}
	if m.Flags&encoding.FlagChunked == 0 {
		if int64(len(m.Rest)) < off+n {
			return corruptf("inline string %q shorter than its length", key)
		}
		fn(off, m.Rest[off:off+n])
		return nil
	}
	r := t.newStringReader(key, m)
	buf := make([]byte, min(n, scanWindow))
	for n > 0 {
		w := min(n, int64(len(buf)))
		stored, err := r.readStored(off, buf[:w])
		if err != nil {
			r.close()
			return err
		}
		if (stored || !skipEmpty) && !fn(off, buf[:w]) {
			break
		}
		off += w
		n -= w
	}
	return r.close()
}

// SetBit sets (on) or clears the bit at offset off, growing the string as needed, and
// returns the bit's old value.
func (t *Txn) SetBit(key []byte, off uint64, on bool) (int, error) {
	ks, _, err := t.stringState(key)
	if err != nil {
		return 0, err
	}
	e := t.editString(key, &ks)
	at := int64(off >> 3)
	var b [1]byte
	e.grow(at + 1)
	if err := e.read(at, b[:]); err != nil {
		return 0, err
	}
	shift := 7 - off&7
	old := int(b[0]>>shift) & 1
	if on {
		b[0] |= 1 << shift
	} else {
		b[0] &^= 1 << shift
	}
	// As Redis 7.0, a bit set to the value it has is no change (WATCH, notifications),
	// unless the string was created or grew.
	if (old == 1) != on {
		if err := e.write(at, b[:]); err != nil {
			return 0, err
		}
	}
	e.done()
	return old, nil
}

// GetBit returns the bit at offset off (0 past the end).
func (t *Txn) GetBit(key []byte, off uint64) (int, error) {
	ks, found, err := t.stringState(key)
	if !found {
		return 0, err
	}
	at := int64(off >> 3)
	if at >= int64(ks.meta.Count) {
		return 0, nil
	}
	var b [1]byte
	if err := t.readString(key, &ks.meta, at, b[:]); err != nil {
		return 0, err
	}
	return int(b[0]>>(7-off&7)) & 1, nil
}

// normalizeRange turns Redis's start/end (negative counts from the end) into indexes clipped
// to [0, total-1]; start > end means an empty range.
func normalizeRange(start, end, total int64) (int64, int64) {
	if start < 0 {
		start += total
	}
	if end < 0 {
		end += total
	}
	start, end = max(start, 0), max(end, 0)
	if end >= total {
		end = total - 1
	}
	return start, end
}

// BitCountArgs are BITCOUNT's arguments.
type BitCountArgs struct {
	Range      bool // Start and End were given
	Start, End int64
	Bit        bool // they count bits, not bytes
	// Err is a bad start or end, UnitErr a bad BYTE|BIT word: Redis reports them only for a
	// string key, UnitErr only after an empty negative range has answered 0.
	Err, UnitErr error
}

// BitCount counts the set bits of key's string, or of the range a names.
func (t *Txn) BitCount(key []byte, a BitCountArgs) (int64, error) {
	ks, found, err := t.stringState(key)
	if !found {
		return 0, err
	}
	if a.Err != nil {
		return 0, a.Err
	}
	size := int64(ks.meta.Count)
	start, end := int64(0), size-1
	var firstMask, lastMask byte // bits of the first and last byte outside the range
	if a.Range {
		if a.Start < 0 && a.End < 0 && a.Start > a.End {
			return 0, nil
		}
		if a.UnitErr != nil {
			return 0, a.UnitErr
		}
		total := size
		if a.Bit {
			total *= 8
		}
		start, end = normalizeRange(a.Start, a.End, total)
		if a.Bit && start <= end {
			firstMask = ^byte(0xff >> (start & 7))
			lastMask = byte(0xff >> (end&7 + 1))
			start >>= 3
			end >>= 3
		}
	}
	if start > end {
		return 0, nil
	}
	var count int64
	err = t.scanString(key, &ks.meta, start, end-start+1, true, func(at int64, b []byte) bool {
		if at == start {
			count -= int64(bits.OnesCount8(b[0] & firstMask))
		}
		if at+int64(len(b))-1 == end {
			count -= int64(bits.OnesCount8(b[len(b)-1] & lastMask))
		}
		count += popcount(b)
		return true
	})
	return count, err
}

func popcount(b []byte) int64 {
	var n int
	for len(b) >= 8 {
		n += bits.OnesCount64(beUint64(b))
		b = b[8:]
	}
	for _, c := range b {
		n += bits.OnesCount8(c)
	}
	return int64(n)
}

// BitPosArgs are BITPOS's arguments.
type BitPosArgs struct {
	Bit              int // the bit looked for, 0 or 1
	HasStart, HasEnd bool
	Start, End       int64
	IsBit            bool // Start and End count bits, not bytes
	// Err is a bad range argument, reported only for a string key.
	Err error
}

// BitPos finds the first bit equal to a.Bit in key's string (or the range a names).
func (t *Txn) BitPos(key []byte, a BitPosArgs) (int64, error) {
	ks, found, err := t.stringState(key)
	if err != nil {
		return 0, err
	}
	if !found {
		// A missing key is an endless run of zeros.
		if a.Bit == 1 {
			return -1, nil
		}
		return 0, nil
	}
	if a.Err != nil {
		return 0, a.Err
	}
	size := int64(ks.meta.Count)
	start, end := int64(0), size-1
	if a.HasStart {
		total := size
		if a.IsBit {
			total *= 8
		}
		end = total - 1
		if a.HasEnd {
			end = a.End
		}
		start, end = normalizeRange(a.Start, end, total)
	}
	if start > end {
		return -1, nil
	}
	lo, hi := start*8, end*8+7 // the bit range searched
	if a.IsBit {
		lo, hi = start, end
	}
	pos, err := t.findBit(key, &ks.meta, lo, hi, a.Bit)
	if err != nil || pos >= 0 {
		return pos, err
	}
	if a.Bit == 0 && !a.HasEnd {
		// Without an end the string counts as padded with zeros on the right.
		return hi + 1, nil
	}
	return -1, nil
}

// findBit returns the position of the first bit equal to bit in bits [lo, hi], or -1.
func (t *Txn) findBit(key []byte, m *encoding.Meta, lo, hi int64, bit int) (int64, error) {
	first, last := lo>>3, hi>>3
	firstMask := ^byte(0xff >> (lo & 7)) // bits of the first byte before lo
	lastMask := byte(0xff >> (hi&7 + 1)) // bits of the last byte after hi
	skip := byte(0)                      // a byte without the bit looked for
	if bit == 0 {
		skip = 0xff
	}
	pos := int64(-1)
	err := t.scanString(key, m, first, last-first+1, bit == 1, func(at int64, b []byte) bool {
		for i := 0; i < len(b); i++ {
			if len(b)-i >= 8 && at+int64(i) != first && at+int64(i+7) < last &&
				beUint64(b[i:]) == uint64(skip)*0x0101010101010101 {
				i += 7
				continue
			}
			c := b[i]
			idx := at + int64(i)
			// Bits outside the range take the value not looked for.
			if idx == first {
				c = c&^firstMask | skip&firstMask
			}
			if idx == last {
				c = c&^lastMask | skip&lastMask
			}
			if c != skip {
				if bit == 0 {
					c = ^c
				}
				pos = idx*8 + int64(bits.LeadingZeros8(c))
				return false
			}
		}
		return true
	})
	return pos, err
}

// BitOpKind is a BITOP operation.
type BitOpKind uint8

// BITOP's operations.
const (
	BitAnd BitOpKind = iota
	BitOr
	BitXor
	BitNot
)

// BitOp stores the bitwise op of the source strings in dest (replacing it and its TTL) and
// returns the result's length, that of the longest source; shorter and missing sources count
// as zeros. When every source is empty dest is deleted.
func (t *Txn) BitOp(op BitOpKind, dest []byte, srcs [][]byte) (int64, error) {
	metas := make([]encoding.Meta, len(srcs))
	var size int64
	for i, k := range srcs {
		ks, found, err := t.stringState(k)
		if err != nil {
			return 0, err
		}
		if found {
			metas[i] = ks.meta
			size = max(size, int64(ks.meta.Count))
		}
	}
	dks, err := t.lookup(dest)
	if err != nil {
		return 0, err
	}
	if size == 0 {
		t.deleteKey(dest, &dks)
		return 0, nil
	}
	readers := make([]stringReader, len(srcs))
	for i := range srcs {
		readers[i] = t.newStringReader(srcs[i], &metas[i])
	}
	defer func() {
		for i := range readers {
			readers[i].close()
		}
	}()
	m := encoding.Meta{Type: encoding.TypeString, Count: uint64(size)}
	var out, in []byte
	if size <= encoding.InlineMax {
		out, in = make([]byte, size), make([]byte, size)
	} else {
		m.Version = t.e.newVersion()
		m.Flags = encoding.FlagChunked
		out, in = make([]byte, scanWindow), make([]byte, scanWindow)
	}
	for off := int64(0); off < size; off += int64(len(out)) {
		w := min(int64(len(out)), size-off)
		for i := range readers {
			dst := out[:w]
			if i > 0 {
				dst = in[:w]
			}
			if err := readers[i].read(off, dst); err != nil {
				return 0, err
			}
			if i > 0 {
				combineBits(op, out[:w], dst)
			}
		}
		if op == BitNot {
			for j := range out[:w] {
				out[j] = ^out[j]
			}
		}
		if m.Flags&encoding.FlagChunked == 0 {
			m.Rest = out
			break
		}
		t.writeWindow(dest, m.Version, off, out[:w])
	}
	t.putMeta(dest, &dks, &m)
	return size, nil
}

// writeWindow writes data at a chunk-aligned offset of a fresh version, skipping zero chunks.
func (t *Txn) writeWindow(key []byte, version uint64, off int64, data []byte) {
	for idx := uint64(off / encoding.ChunkSize); len(data) > 0; idx++ {
		n := min(len(data), encoding.ChunkSize)
		if !allZero(data[:n]) {
			t.kbuf = encoding.AppendIndexSubKey(t.kbuf[:0], t.db, key, version, idx)
			t.set(t.kbuf, data[:n])
		}
		data = data[n:]
	}
}

func combineBits(op BitOpKind, out, in []byte) {
	switch op {
	case BitAnd:
		for j := range out {
			out[j] &= in[j]
		}
	case BitOr:
		for j := range out {
			out[j] |= in[j]
		}
	case BitXor:
		for j := range out {
			out[j] ^= in[j]
		}
	}
}

// BitfieldKind is a BITFIELD subcommand.
type BitfieldKind uint8

// BITFIELD's subcommands.
const (
	BitfieldGet BitfieldKind = iota
	BitfieldSet
	BitfieldIncrBy
)

// BitfieldOverflow is BITFIELD's OVERFLOW behaviour.
type BitfieldOverflow uint8

// OVERFLOW WRAP, SAT and FAIL.
const (
	OverflowWrap BitfieldOverflow = iota
	OverflowSat
	OverflowFail
)

// BitfieldOp is one BITFIELD operation on a field of Bits bits (1..64 signed, 1..63
// unsigned) at bit Offset.
type BitfieldOp struct {
	Kind     BitfieldKind
	Signed   bool
	Bits     int
	Offset   uint64
	Value    int64 // SET's value or INCRBY's increment
	Overflow BitfieldOverflow
}

// BitfieldResult is one operation's reply: a value, or Nil when OVERFLOW FAIL stopped it.
type BitfieldResult struct {
	Value int64
	Nil   bool
}

// Bitfield runs ops on key's string in order, appending their results to out. When any op
// writes, the string first grows to hold the farthest field written (even when OVERFLOW FAIL
// then stops the write, as in Redis).
func (t *Txn) Bitfield(key []byte, ops []BitfieldOp, out []BitfieldResult) ([]BitfieldResult, error) {
	ks, found, err := t.stringState(key)
	if err != nil {
		return out, err
	}
	var highest uint64
	writes := false
	for _, op := range ops {
		if op.Kind != BitfieldGet {
			writes = true
			highest = max(highest, op.Offset+uint64(op.Bits)-1)
		}
	}
	var buf [9]byte // the bytes a field of up to 64 bits can span
	if !writes {
		for _, op := range ops {
			clear(buf[:])
			if found {
				if err := t.readString(key, &ks.meta, int64(op.Offset>>3), buf[:]); err != nil {
					return out, err
				}
			}
			out = append(out, BitfieldResult{Value: fieldValue(buf[:], op.Offset&7, op.Bits, op.Signed)})
		}
		return out, nil
	}
	e := t.editString(key, &ks)
	e.grow(int64(highest>>3) + 1)
	e.changed = true
	for _, op := range ops {
		at := int64(op.Offset >> 3)
		if err := e.read(at, buf[:]); err != nil {
			return out, err
		}
		shift := op.Offset & 7
		if op.Kind == BitfieldGet {
			out = append(out, BitfieldResult{Value: fieldValue(buf[:], shift, op.Bits, op.Signed)})
			continue
		}
		store, reply, ok := applyBitfield(op, getBits(buf[:], shift, op.Bits))
		if !ok {
			out = append(out, BitfieldResult{Nil: true})
			continue
		}
		out = append(out, BitfieldResult{Value: reply})
		setBits(buf[:], shift, op.Bits, store)
		if err := e.write(at, buf[:(shift+uint64(op.Bits)+7)/8]); err != nil {
			return out, err
		}
	}
	e.done()
	return out, nil
}

// applyBitfield computes a SET or INCRBY on a field holding raw (its bits, unsigned): the bits
// to store, the reply (the old value for SET, the new one for INCRBY), and false when OVERFLOW
// FAIL refuses the operation.
func applyBitfield(op BitfieldOp, raw uint64) (store uint64, reply int64, ok bool) {
	if op.Signed {
		old := signExtend(raw, op.Bits)
		var v, limit int64
		var overflow bool
		if op.Kind == BitfieldIncrBy {
			overflow, limit = signedFieldOverflow(old, op.Value, op.Bits, op.Overflow)
			v = old + op.Value
		} else {
			overflow, limit = signedFieldOverflow(op.Value, 0, op.Bits, op.Overflow)
			v = op.Value
		}
		if overflow {
			if op.Overflow == OverflowFail {
				return 0, 0, false
			}
			v = limit
		}
		reply = v
		if op.Kind == BitfieldSet {
			reply = old
		}
		return uint64(v), reply, true
	}
	var v, limit uint64
	var overflow bool
	if op.Kind == BitfieldIncrBy {
		overflow, limit = unsignedFieldOverflow(raw, op.Value, op.Bits, op.Overflow)
		v = raw + uint64(op.Value)
	} else {
		overflow, limit = unsignedFieldOverflow(uint64(op.Value), 0, op.Bits, op.Overflow)
		v = uint64(op.Value)
	}
	if overflow {
		if op.Overflow == OverflowFail {
			return 0, 0, false
		}
		v = limit
	}
	reply = int64(v)
	if op.Kind == BitfieldSet {
		reply = int64(raw)
	}
	return v, reply, true
}

// signedFieldOverflow says whether value+incr leaves the range of a signed field of n bits,
// and what WRAP or SAT stores instead. It follows Redis's checks exactly, including how they
// treat values outside the field's range (SET of a too large value).
func signedFieldOverflow(value, incr int64, n int, ow BitfieldOverflow) (bool, int64) {
	maxv := int64(math.MaxInt64)
	if n < 64 {
		maxv = 1<<(n-1) - 1
	}
	minv := -maxv - 1
	maxIncr := int64(uint64(maxv) - uint64(value))
	minIncr := minv - value // may wrap; only used once value is known in range
	var limit int64
	switch {
	case value > maxv || (n != 64 && incr > maxIncr) || (value >= 0 && incr > 0 && incr > maxIncr):
		limit = maxv
	case value < minv || (n != 64 && incr < minIncr) || (value < 0 && incr < 0 && incr < minIncr):
		limit = minv
	default:
		return false, 0
	}
	if ow == OverflowWrap {
		c := uint64(value) + uint64(incr)
		if n < 64 {
			mask := ^uint64(0) << n
			if c&(1<<(n-1)) != 0 {
				c |= mask
			} else {
				c &^= mask
			}
		}
		limit = int64(c)
	}
	return true, limit
}

// unsignedFieldOverflow is signedFieldOverflow for unsigned fields (n <= 63).
func unsignedFieldOverflow(value uint64, incr int64, n int, ow BitfieldOverflow) (bool, uint64) {
	maxv := uint64(1)<<n - 1
	maxIncr := int64(maxv - value)
	minIncr := int64(-value)
	var limit uint64
	switch {
	case value > maxv || (incr > 0 && incr > maxIncr):
		limit = maxv
	case incr < 0 && incr < minIncr:
		limit = 0
	default:
		return false, 0
	}
	if ow == OverflowWrap {
		limit = (value + uint64(incr)) &^ (^uint64(0) << n)
	}
	return true, limit
}

// fieldValue reads a field as BITFIELD GET replies it.
func fieldValue(buf []byte, shift uint64, n int, signed bool) int64 {
	v := getBits(buf, shift, n)
	if signed {
		return signExtend(v, n)
	}
	return int64(v)
}

func signExtend(v uint64, n int) int64 {
	if n < 64 && v&(1<<(n-1)) != 0 {
		v |= ^uint64(0) << n
	}
	return int64(v)
}

// getBits reads n bits starting at bit off of buf, most significant first.
func getBits(buf []byte, off uint64, n int) uint64 {
	var v uint64
	for i := uint64(0); i < uint64(n); i++ {
		p := off + i
		v = v<<1 | uint64(buf[p>>3]>>(7-p&7)&1)
	}
	return v
}

// setBits writes the low n bits of v at bit off of buf, most significant first.
func setBits(buf []byte, off uint64, n int, v uint64) {
	for i := uint64(0); i < uint64(n); i++ {
		p := off + i
		bit := byte(v>>(uint64(n)-1-i)) & 1
		buf[p>>3] = buf[p>>3]&^(1<<(7-p&7)) | bit<<(7-p&7)
	}
}
