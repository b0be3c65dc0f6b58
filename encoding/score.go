package encoding

import (
	"encoding/binary"
	"math"
)

// AppendScore appends the 8-byte order-preserving form of f: byte order equals numeric order,
// -inf first and +inf last. -0 is stored as +0 so that the two compare equal, as in Redis.
func AppendScore(dst []byte, f float64) []byte {
	if f == 0 {
		f = 0 // fold -0 into +0
	}
	u := math.Float64bits(f)
	if u&(1<<63) != 0 {
		u = ^u
	} else {
		u |= 1 << 63
	}
	return binary.BigEndian.AppendUint64(dst, u)
}

// DecodeScore decodes the 8-byte form written by AppendScore.
func DecodeScore(b []byte) (float64, error) {
	if len(b) < 8 {
		return 0, ErrCorrupt
	}
	u := binary.BigEndian.Uint64(b)
	if u&(1<<63) != 0 {
		u &^= 1 << 63
	} else {
		u = ^u
	}
	return math.Float64frombits(u), nil
}
