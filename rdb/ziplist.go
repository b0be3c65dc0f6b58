package rdb

import (
	"encoding/binary"
	"math"
)

// A ziplist (Redis 2.6 to 6.2 small lists, hashes and sorted sets, and the nodes of
// quicklist 1) is one contiguous blob:
//
//	+---------+--------+--------+---------+-----+---------+------+
//	| zlbytes | zltail | zllen  | entry 1 | ... | entry N | 0xFF |
//	| u32 LE  | u32 LE | u16 LE |         |     |         |      |
//	+---------+--------+--------+---------+-----+---------+------+
//
// zltail is the offset of the last entry; zllen is 65535 when the count does not fit.
// Each entry is prevlen (the previous entry's size: one byte below 254, else 0xFE and a
// u32 LE), then an encoding, then the data:
//
//	00LLLLLL                     string of up to 63 bytes
//	01LLLLLL LLLLLLLL            string of up to 16383 bytes (length big-endian)
//	10xxxxxx <u32 BE length>     longer string
//	11000000 <2 bytes LE>        int16
//	11010000 <4 bytes LE>        int32
//	11100000 <8 bytes LE>        int64
//	11110000 <3 bytes LE>        int24
//	11111110 <1 byte>            int8
//	1111xxxx                     xxxx in 0001..1101: the integer xxxx-1 (0..12)

const (
	zlHeaderSize   = 10
	zlEnd          = 0xFF
	zlCountUnknown = 65535
	zlBigPrevlen   = 254
)

type ziplistIter struct {
	b        []byte
	pos      int
	prevSize int
	lastPos  int
	count    int
	declared int
}

func newZiplistIter(b []byte) (ziplistIter, error) {
	if len(b) < zlHeaderSize+1 {
		return ziplistIter{}, newBlobError("ziplist", 0, "%d bytes is shorter than a ziplist header", len(b))
	}
	if total := binary.LittleEndian.Uint32(b); int64(total) != int64(len(b)) {
		return ziplistIter{}, newBlobError("ziplist", 0, "header says %d bytes, blob has %d", total, len(b))
	}
	if tail := binary.LittleEndian.Uint32(b[4:]); int64(tail) > int64(len(b)-1) {
		return ziplistIter{}, newBlobError("ziplist", 4, "tail offset %d is outside the blob", tail)
	}
	if b[len(b)-1] != zlEnd {
		return ziplistIter{}, newBlobError("ziplist", len(b)-1, "missing end byte")
	}
	declared := int(binary.LittleEndian.Uint16(b[8:]))
	if declared == zlCountUnknown {
		declared = -1
	}
	return ziplistIter{b: b, pos: zlHeaderSize, lastPos: zlHeaderSize, declared: declared}, nil
}

func (it *ziplistIter) next() (e packedEntry, ok bool, err error) {
	b, p := it.b, it.pos
	if p >= len(b) {
		return e, false, newBlobError("ziplist", p, "walked past the end")
	}
	if b[p] == zlEnd {
		if p != len(b)-1 {
			return e, false, newBlobError("ziplist", p, "end byte before the end of the blob")
		}
		if tail := int(binary.LittleEndian.Uint32(b[4:])); tail != it.lastPos {
			return e, false, newBlobError("ziplist", 4, "tail offset %d, last entry is at %d", tail, it.lastPos)
		}
		if it.declared >= 0 && it.declared != it.count {
			return e, false, newBlobError("ziplist", 8, "header counts %d entries, found %d", it.declared, it.count)
		}
		return e, false, nil
	}
	avail := len(b) - 1 - p
	// prevlen
	var prevlen, h int
	if b[p] < zlBigPrevlen {
		prevlen, h = int(b[p]), 1
	} else {
		if avail < 5 {
			return e, false, newBlobError("ziplist", p, "truncated prevlen")
		}
		prevlen, h = int(binary.LittleEndian.Uint32(b[p+1:])), 5
	}
	if prevlen != it.prevSize {
		return e, false, newBlobError("ziplist", p, "prevlen %d, previous entry has %d bytes", prevlen, it.prevSize)
	}
	if h >= avail {
		return e, false, newBlobError("ziplist", p, "entry overruns the blob")
	}
	c := b[p+h]
	var size int // encoding + data, after prevlen
	switch {
	case c>>6 == 0:
		n := int(c & 0x3f)
		size = 1 + n
		if h+size > avail {
			return e, false, newBlobError("ziplist", p, "string of %d bytes overruns the blob", n)
		}
		e.str = b[p+h+1 : p+h+size]
	case c>>6 == 1:
		if h+2 > avail {
			return e, false, newBlobError("ziplist", p, "truncated 14-bit string length")
		}
		n := int(c&0x3f)<<8 | int(b[p+h+1])
		size = 2 + n
		if h+size > avail {
			return e, false, newBlobError("ziplist", p, "string of %d bytes overruns the blob", n)
		}
		e.str = b[p+h+2 : p+h+size]
	case c>>6 == 2:
		if h+5 > avail {
			return e, false, newBlobError("ziplist", p, "truncated 32-bit string length")
		}
		n := int64(binary.BigEndian.Uint32(b[p+h+1:]))
		if int64(h)+5+n > int64(avail) {
			return e, false, newBlobError("ziplist", p, "string of %d bytes overruns the blob", n)
		}
		size = 5 + int(n)
		e.str = b[p+h+5 : p+h+size]
	default:
		var n int
		switch {
		case c == 0xC0:
			n = 2
		case c == 0xD0:
			n = 4
		case c == 0xE0:
			n = 8
		case c == 0xF0:
			n = 3
		case c == 0xFE:
			n = 1
		case c >= 0xF1 && c <= 0xFD:
			n = 0
		default:
			return e, false, newBlobError("ziplist", p+h, "invalid entry encoding %#x", c)
		}
		size = 1 + n
		if h+size > avail {
			return e, false, newBlobError("ziplist", p, "integer overruns the blob")
		}
		if n == 0 {
			e.ival = int64(c&0x0f) - 1
		} else {
			var u uint64
			for i := n - 1; i >= 0; i-- {
				u = u<<8 | uint64(b[p+h+1+i])
			}
			shift := 64 - 8*uint(n)
			e.ival = int64(u<<shift) >> shift
		}
		e.isInt = true
	}
	it.lastPos = p
	it.prevSize = h + size
	it.pos = p + h + size
	it.count++
	return e, true, nil
}

// appendZiplistEntry appends an entry for s after an entry of prevSize bytes, as
// ziplistPush does: integers (canonical, at most 31 characters) in the smallest integer
// encoding, other strings as strings. It returns the new entry's size.
func appendZiplistEntry(dst []byte, prevSize int, s []byte) ([]byte, int) {
	start := len(dst)
	if prevSize < zlBigPrevlen {
		dst = append(dst, byte(prevSize))
	} else {
		dst = append(dst, zlBigPrevlen)
		dst = binary.LittleEndian.AppendUint32(dst, uint32(prevSize))
	}
	if v, ok := parseCanonicalInt(s); ok && len(s) < 32 {
		switch {
		case v >= 0 && v <= 12:
			dst = append(dst, 0xF1+byte(v))
		case v >= math.MinInt8 && v <= math.MaxInt8:
			dst = append(dst, 0xFE, byte(v))
		case v >= math.MinInt16 && v <= math.MaxInt16:
			dst = append(dst, 0xC0, byte(v), byte(v>>8))
		case v >= -(1<<23) && v < 1<<23:
			dst = append(dst, 0xF0, byte(v), byte(v>>8), byte(v>>16))
		case v >= math.MinInt32 && v <= math.MaxInt32:
			dst = append(dst, 0xD0)
			dst = binary.LittleEndian.AppendUint32(dst, uint32(v))
		default:
			dst = append(dst, 0xE0)
			dst = binary.LittleEndian.AppendUint64(dst, uint64(v))
		}
		return dst, len(dst) - start
	}
	switch n := len(s); {
	case n <= 63:
		dst = append(dst, byte(n))
	case n <= 16383:
		dst = append(dst, 0x40|byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x80)
		dst = binary.BigEndian.AppendUint32(dst, uint32(n))
	}
	dst = append(dst, s...)
	return dst, len(dst) - start
}

// ziplistBuilder assembles a ziplist entry by entry; its buffer is reused.
type ziplistBuilder struct {
	buf      []byte
	count    int
	prevSize int
	lastPos  int
}

func (zb *ziplistBuilder) reset() {
	zb.buf = append(zb.buf[:0], make([]byte, zlHeaderSize)...)
	zb.count, zb.prevSize, zb.lastPos = 0, 0, zlHeaderSize
}

func (zb *ziplistBuilder) add(s []byte) {
	zb.lastPos = len(zb.buf)
	zb.buf, zb.prevSize = appendZiplistEntry(zb.buf, zb.prevSize, s)
	zb.count++
}

func (zb *ziplistBuilder) size() int { return len(zb.buf) + 1 }

func (zb *ziplistBuilder) finish() []byte {
	zb.buf = append(zb.buf, zlEnd)
	binary.LittleEndian.PutUint32(zb.buf, uint32(len(zb.buf)))
	binary.LittleEndian.PutUint32(zb.buf[4:], uint32(zb.lastPos))
	n := zb.count
	if n >= zlCountUnknown {
		n = zlCountUnknown
	}
	binary.LittleEndian.PutUint16(zb.buf[8:], uint16(n))
	return zb.buf
}
