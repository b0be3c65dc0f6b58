package rdb

import "encoding/binary"

// A zipmap (small hashes before Redis 2.6) is one blob of field/value pairs:
//
//	+-------+-----+-------+-----+------+-------+--------+-----+------+
//	| zmlen | len | field | len | free | value | unused | ... | 0xFF |
//	+-------+-----+-------+-----+------+-------+--------+-----+------+
//
// zmlen is the pair count when below 254. A len is one byte below 254, or 254 and a u32
// (little-endian); 255 ends the map. free is one byte: how many unused bytes follow the
// value. Redis no longer writes zipmaps; this package only reads them.

type zipmapIter struct {
	b        []byte
	pos      int
	count    int
	declared int
	field    bool // next item is a field
}

func newZipmapIter(b []byte) (zipmapIter, error) {
	if len(b) < 2 {
		return zipmapIter{}, newBlobError("zipmap", 0, "%d bytes is shorter than a zipmap", len(b))
	}
	if b[len(b)-1] != 0xFF {
		return zipmapIter{}, newBlobError("zipmap", len(b)-1, "missing end byte")
	}
	declared := int(b[0])
	if declared >= 254 {
		declared = -1
	}
	return zipmapIter{b: b, pos: 1, declared: declared, field: true}, nil
}

func (it *zipmapIter) readLen() (int, error) {
	b, p := it.b, it.pos
	if p >= len(b) {
		return 0, newBlobError("zipmap", p, "walked past the end")
	}
	switch c := b[p]; {
	case c < 254:
		it.pos++
		return int(c), nil
	case c == 254:
		if p+5 > len(b) {
			return 0, newBlobError("zipmap", p, "truncated length")
		}
		it.pos += 5
		return int(binary.LittleEndian.Uint32(b[p+1:])), nil
	default:
		return -1, nil
	}
}

// next returns the next field or value (alternating, field first).
func (it *zipmapIter) next() (e packedEntry, ok bool, err error) {
	start := it.pos
	n, err := it.readLen()
	if err != nil {
		return e, false, err
	}
	if n < 0 {
		if !it.field {
			return e, false, newBlobError("zipmap", start, "field without a value")
		}
		if start != len(it.b)-1 {
			return e, false, newBlobError("zipmap", start, "end byte before the end of the blob")
		}
		if it.declared >= 0 && it.declared != it.count {
			return e, false, newBlobError("zipmap", 0, "header counts %d pairs, found %d", it.declared, it.count)
		}
		return e, false, nil
	}
	free := 0
	if !it.field {
		if it.pos >= len(it.b)-1 {
			return e, false, newBlobError("zipmap", it.pos, "truncated free byte")
		}
		free = int(it.b[it.pos])
		it.pos++
	}
	if int64(it.pos)+int64(n)+int64(free) > int64(len(it.b)-1) {
		return e, false, newBlobError("zipmap", start, "entry of %d bytes overruns the blob", n)
	}
	e.str = it.b[it.pos : it.pos+n]
	it.pos += n + free
	if !it.field {
		it.count++
	}
	it.field = !it.field
	return e, true, nil
}
