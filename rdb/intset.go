package rdb

import (
	"encoding/binary"
	"slices"
)

// An intset (small sets of integers) is a sorted array of one integer width:
//
//	+----------+--------+---------+---------+-----+
//	| encoding | length | value 1 | value 2 | ... |
//	| u32 LE   | u32 LE | LE, encoding bytes each   |
//	+----------+--------+---------+---------+-----+
//
// encoding is 2, 4 or 8 (int16, int32, int64); values ascend strictly.

type intsetIter struct {
	b     []byte
	width int
	n     int
	i     int
	prev  int64
}

func newIntsetIter(b []byte) (intsetIter, error) {
	if len(b) < 8 {
		return intsetIter{}, newBlobError("intset", 0, "%d bytes is shorter than an intset header", len(b))
	}
	width := binary.LittleEndian.Uint32(b)
	if width != 2 && width != 4 && width != 8 {
		return intsetIter{}, newBlobError("intset", 0, "invalid encoding %d", width)
	}
	n := int64(binary.LittleEndian.Uint32(b[4:]))
	if 8+n*int64(width) != int64(len(b)) {
		return intsetIter{}, newBlobError("intset", 4, "%d values of %d bytes do not fill %d bytes", n, width, len(b))
	}
	return intsetIter{b: b, width: int(width), n: int(n)}, nil
}

func (it *intsetIter) next() (e packedEntry, ok bool, err error) {
	if it.i >= it.n {
		return e, false, nil
	}
	p := 8 + it.i*it.width
	var v int64
	switch it.width {
	case 2:
		v = int64(int16(binary.LittleEndian.Uint16(it.b[p:])))
	case 4:
		v = int64(int32(binary.LittleEndian.Uint32(it.b[p:])))
	default:
		v = int64(binary.LittleEndian.Uint64(it.b[p:]))
	}
	if it.i > 0 && v <= it.prev {
		return e, false, newBlobError("intset", p, "value %d after %d: not strictly ascending", v, it.prev)
	}
	it.prev = v
	it.i++
	return packedEntry{ival: v, isInt: true}, true, nil
}

// appendIntset appends an intset holding vals, which it sorts in place. It reports false
// when vals holds a duplicate.
func appendIntset(dst []byte, vals []int64) ([]byte, bool) {
	slices.Sort(vals)
	width := 2
	for i, v := range vals {
		if i > 0 && vals[i-1] == v {
			return dst, false
		}
		switch {
		case v < -1<<31 || v > 1<<31-1:
			width = 8
		case (v < -1<<15 || v > 1<<15-1) && width < 4:
			width = 4
		}
	}
	dst = binary.LittleEndian.AppendUint32(dst, uint32(width))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(vals)))
	for _, v := range vals {
		switch width {
		case 2:
			dst = binary.LittleEndian.AppendUint16(dst, uint16(v))
		case 4:
			dst = binary.LittleEndian.AppendUint32(dst, uint32(v))
		default:
			dst = binary.LittleEndian.AppendUint64(dst, uint64(v))
		}
	}
	return dst, true
}
