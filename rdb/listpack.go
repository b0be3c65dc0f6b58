package rdb

import (
	"encoding/binary"
	"math"
)

// A listpack (Redis 5 for streams, Redis 7 for small hashes, sorted sets, list nodes and,
// from 7.2, sets) is one contiguous blob:
//
//	+-------------+-------------+---------+---------+-----+------+
//	| total bytes | num entries | entry 1 | entry 2 | ... | 0xFF |
//	|  u32 LE     |  u16 LE     |         |         |     |      |
//	+-------------+-------------+---------+---------+-----+------+
//
// num entries is 65535 when the count does not fit; then only a walk tells. Each entry is
// its encoding (with the data) followed by backlen, the size of encoding+data written so
// that it can be read backwards (7 bits a byte, the high bit set on every byte but the
// first):
//
//	0xxxxxxx                         integer 0..127
//	10LLLLLL <L bytes>               string of up to 63 bytes
//	110xxxxx yyyyyyyy                13-bit signed integer (x are the high bits)
//	1110LLLL LLLLLLLL <L bytes>      string of up to 4095 bytes (length big-endian)
//	11110000 <u32 LE length> <bytes> longer string
//	11110001 <2 bytes LE>            int16
//	11110010 <3 bytes LE>            int24
//	11110011 <4 bytes LE>            int32
//	11110100 <8 bytes LE>            int64
//	11111111                         end of the listpack

const (
	lpHeaderSize   = 6
	lpEnd          = 0xFF
	lpCountUnknown = 65535
)

// packedEntry is one element of a ziplist, listpack or intset: a string, or an integer
// the blob stored as such.
type packedEntry struct {
	str   []byte
	ival  int64
	isInt bool
}

// listpackIter walks a listpack, checking every entry against the blob's bounds.
type listpackIter struct {
	b        []byte
	pos      int
	count    int
	declared int // the header's entry count, or -1 when it says "unknown"
}

func newListpackIter(b []byte) (listpackIter, error) {
	if len(b) < lpHeaderSize+1 {
		return listpackIter{}, newBlobError("listpack", 0, "%d bytes is shorter than a listpack header", len(b))
	}
	total := binary.LittleEndian.Uint32(b)
	if int64(total) != int64(len(b)) {
		return listpackIter{}, newBlobError("listpack", 0, "header says %d bytes, blob has %d", total, len(b))
	}
	if b[len(b)-1] != lpEnd {
		return listpackIter{}, newBlobError("listpack", len(b)-1, "missing end byte")
	}
	declared := int(binary.LittleEndian.Uint16(b[4:]))
	if declared == lpCountUnknown {
		declared = -1
	}
	return listpackIter{b: b, pos: lpHeaderSize, declared: declared}, nil
}

// backlenSize is how many bytes the backlen of an entry of l bytes takes.
func backlenSize(l int) int {
	switch {
	case l <= 127:
		return 1
	case l < 16383:
		return 2
	case l < 2097151:
		return 3
	case l < 268435455:
		return 4
	default:
		return 5
	}
}

// appendBacklen appends the backlen of an entry of l bytes.
func appendBacklen(dst []byte, l int) []byte {
	n := backlenSize(l)
	for i := n - 1; i >= 0; i-- {
		c := byte(l >> (7 * uint(i)) & 127)
		if i != n-1 {
			c |= 128
		}
		dst = append(dst, c)
	}
	return dst
}

// next returns the next entry; ok is false at the end of the listpack.
func (it *listpackIter) next() (e packedEntry, ok bool, err error) {
	b, p := it.b, it.pos
	if p >= len(b) {
		return e, false, newBlobError("listpack", p, "walked past the end")
	}
	c := b[p]
	if c == lpEnd {
		if p != len(b)-1 {
			return e, false, newBlobError("listpack", p, "end byte before the end of the blob")
		}
		if it.declared >= 0 && it.declared != it.count {
			return e, false, newBlobError("listpack", p, "header counts %d entries, found %d", it.declared, it.count)
		}
		return e, false, nil
	}
	avail := len(b) - 1 - p // bytes before the end byte
	need := func(n int) bool { return n <= avail }
	var encLen int
	switch {
	case c&0x80 == 0:
		e.isInt, e.ival, encLen = true, int64(c&0x7f), 1
	case c&0xC0 == 0x80:
		n := int(c & 0x3f)
		encLen = 1 + n
		if !need(encLen) {
			return e, false, newBlobError("listpack", p, "string of %d bytes overruns the blob", n)
		}
		e.str = b[p+1 : p+1+n]
	case c&0xE0 == 0xC0:
		if !need(2) {
			return e, false, newBlobError("listpack", p, "truncated 13-bit integer")
		}
		uv := int64(c&0x1f)<<8 | int64(b[p+1])
		if uv >= 1<<12 {
			uv -= 1 << 13
		}
		e.isInt, e.ival, encLen = true, uv, 2
	case c&0xF0 == 0xE0:
		if !need(2) {
			return e, false, newBlobError("listpack", p, "truncated 12-bit string length")
		}
		n := int(c&0x0f)<<8 | int(b[p+1])
		encLen = 2 + n
		if !need(encLen) {
			return e, false, newBlobError("listpack", p, "string of %d bytes overruns the blob", n)
		}
		e.str = b[p+2 : p+2+n]
	case c == 0xF0:
		if !need(5) {
			return e, false, newBlobError("listpack", p, "truncated 32-bit string length")
		}
		n := int64(binary.LittleEndian.Uint32(b[p+1:]))
		if n > int64(avail-5) {
			return e, false, newBlobError("listpack", p, "string of %d bytes overruns the blob", n)
		}
		encLen = 5 + int(n)
		e.str = b[p+5 : p+5+int(n)]
	case c >= 0xF1 && c <= 0xF4:
		size := [...]int{2, 3, 4, 8}[c-0xF1]
		if !need(1 + size) {
			return e, false, newBlobError("listpack", p, "truncated integer")
		}
		var u uint64
		for i := size - 1; i >= 0; i-- {
			u = u<<8 | uint64(b[p+1+i])
		}
		shift := 64 - 8*uint(size)
		e.isInt, e.ival, encLen = true, int64(u<<shift)>>shift, 1+size
	default:
		return e, false, newBlobError("listpack", p, "invalid entry encoding %#x", c)
	}
	bl := backlenSize(encLen)
	if !need(encLen + bl) {
		return e, false, newBlobError("listpack", p, "entry backlen overruns the blob")
	}
	var want [5]byte
	if string(appendBacklen(want[:0], encLen)) != string(b[p+encLen:p+encLen+bl]) {
		return e, false, newBlobError("listpack", p+encLen, "backlen does not match the entry size %d", encLen)
	}
	it.pos = p + encLen + bl
	it.count++
	return e, true, nil
}

// parseCanonicalInt reports whether s is an integer written the way Redis writes them
// (string2ll: no sign but '-', no leading zeros, no "-0", fits in int64), and its value.
// Such strings are stored as integers in listpacks, ziplists and intsets, and as
// int-encoded RDB strings.
func parseCanonicalInt(s []byte) (int64, bool) {
	if len(s) == 0 || len(s) > 20 {
		return 0, false
	}
	if len(s) == 1 && s[0] == '0' {
		return 0, true
	}
	i, neg := 0, false
	if s[0] == '-' {
		neg, i = true, 1
		if len(s) == 1 {
			return 0, false
		}
	}
	if s[i] < '1' || s[i] > '9' {
		return 0, false
	}
	var v uint64
	for ; i < len(s); i++ {
		d := s[i] - '0'
		if d > 9 {
			return 0, false
		}
		if v > (math.MaxUint64-uint64(d))/10 {
			return 0, false
		}
		v = v*10 + uint64(d)
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return int64(-v), true
	}
	if v > math.MaxInt64 {
		return 0, false
	}
	return int64(v), true
}

// appendListpackInt appends a listpack entry holding v in the smallest integer encoding.
func appendListpackInt(dst []byte, v int64) []byte {
	start := len(dst)
	switch {
	case v >= 0 && v <= 127:
		dst = append(dst, byte(v))
	case v >= -4096 && v <= 4095:
		u := uint64(v) & (1<<13 - 1)
		dst = append(dst, 0xC0|byte(u>>8), byte(u))
	case v >= math.MinInt16 && v <= math.MaxInt16:
		dst = append(dst, 0xF1, byte(v), byte(v>>8))
	case v >= -(1<<23) && v < 1<<23:
		dst = append(dst, 0xF2, byte(v), byte(v>>8), byte(v>>16))
	case v >= math.MinInt32 && v <= math.MaxInt32:
		dst = append(dst, 0xF3)
		dst = binary.LittleEndian.AppendUint32(dst, uint32(v))
	default:
		dst = append(dst, 0xF4)
		dst = binary.LittleEndian.AppendUint64(dst, uint64(v))
	}
	return appendBacklen(dst, len(dst)-start)
}

// appendListpackString appends a listpack entry for s: an integer encoding when s is a
// canonical integer (as lpAppend does), a string encoding otherwise.
func appendListpackString(dst []byte, s []byte) []byte {
	if v, ok := parseCanonicalInt(s); ok {
		return appendListpackInt(dst, v)
	}
	start := len(dst)
	switch n := len(s); {
	case n < 64:
		dst = append(dst, 0x80|byte(n))
	case n < 4096:
		dst = append(dst, 0xE0|byte(n>>8), byte(n))
	default:
		dst = append(dst, 0xF0)
		dst = binary.LittleEndian.AppendUint32(dst, uint32(n))
	}
	dst = append(dst, s...)
	return appendBacklen(dst, len(dst)-start)
}

// ListpackEntrySize is the bytes s takes as one listpack entry, as Redis encodes it (DEBUG
// OBJECT's quicklist figures).
func ListpackEntrySize(s []byte) int { return listpackEntrySize(s) }

// ListpackIntEntrySize is the bytes the integer v takes as one listpack entry.
func ListpackIntEntrySize(v int64) int {
	enc := listpackIntSize(v)
	return enc + backlenSize(enc)
}

// listpackIntSize is the bytes of an integer entry's encoding and data, without its backlen.
func listpackIntSize(v int64) int {
	switch {
	case v >= 0 && v <= 127:
		return 1
	case v >= -4096 && v <= 4095:
		return 2
	case v >= math.MinInt16 && v <= math.MaxInt16:
		return 3
	case v >= -(1<<23) && v < 1<<23:
		return 4
	case v >= math.MinInt32 && v <= math.MaxInt32:
		return 5
	}
	return 9
}

// listpackEntrySize is the number of bytes appendListpackString would add for s.
func listpackEntrySize(s []byte) int {
	var enc int
	if v, ok := parseCanonicalInt(s); ok {
		enc = listpackIntSize(v)
	} else {
		switch n := len(s); {
		case n < 64:
			enc = 1 + n
		case n < 4096:
			enc = 2 + n
		default:
			enc = 5 + n
		}
	}
	return enc + backlenSize(enc)
}

// listpackBuilder assembles a listpack entry by entry; its buffer is reused.
type listpackBuilder struct {
	buf   []byte
	count int
}

func (lb *listpackBuilder) reset() {
	lb.buf = append(lb.buf[:0], 0, 0, 0, 0, 0, 0)
	lb.count = 0
}

func (lb *listpackBuilder) addString(s []byte) {
	lb.buf = appendListpackString(lb.buf, s)
	lb.count++
}

func (lb *listpackBuilder) addInt(v int64) {
	lb.buf = appendListpackInt(lb.buf, v)
	lb.count++
}

// size is the size the listpack would have if finished now.
func (lb *listpackBuilder) size() int { return len(lb.buf) + 1 }

// finish terminates the listpack and fills in its header; the result aliases the buffer.
func (lb *listpackBuilder) finish() []byte {
	lb.buf = append(lb.buf, lpEnd)
	binary.LittleEndian.PutUint32(lb.buf, uint32(len(lb.buf)))
	n := lb.count
	if n >= lpCountUnknown {
		n = lpCountUnknown
	}
	binary.LittleEndian.PutUint16(lb.buf[4:], uint16(n))
	return lb.buf
}
