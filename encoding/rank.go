package encoding

import (
	"encoding/binary"
	"math"
)

// Rank entries of a sorted set live inside the set's own score range, after every score: their
// "score" bytes start with RankMarker, which as a score would be a NaN with a payload no stored
// score can have (NaN is never stored), so a rank entry never meets a member and sorts after
// +inf. Riding in the score range means that whatever moves or drops a version's score range
// (RENAME, COPY, MOVE, the sweeper, FLUSHDB) carries the rank entries along without knowing them.
//
//	rank  0x04 | db (2) | slot (2) | klen (4) | user key | version (8) | ff ff | level (1) | boundary
//	      -> count (8) | children (4)
//
// A level is a partition of the set's positions (score (8) | member, the suffix of a score key)
// into ranges, each starting at its boundary and running to the next boundary of the level; the
// first boundary of every level is empty. count is the number of members in the range; children
// is the number of ranges of the level below it holds (at level 0, its members). Every boundary
// of a level is also a boundary of the level below, so the levels form a counted B-tree whose
// nodes are addressed by their first position.

// RankMarker is the first two bytes of the score position of every rank entry.
const RankMarker uint16 = 0xFFFF

// RankValueLen is the length of a rank entry's value.
const RankValueLen = 12

// ScoreMin is the encoded score of -inf: the smallest position of a member.
var ScoreMin = AppendScore(nil, math.Inf(-1))

// AppendRankPrefix appends the prefix shared by every rank entry of (db, key, version). It is
// also the exclusive upper bound of the set's members in the score range.
func AppendRankPrefix(dst []byte, db uint16, key []byte, version uint64) []byte {
	dst = appendElemPrefix(dst, TagScore, db, key, version)
	return binary.BigEndian.AppendUint16(dst, RankMarker)
}

// AppendRankKey appends the key of the rank entry of level whose range starts at boundary.
func AppendRankKey(dst []byte, db uint16, key []byte, version uint64, level uint8, boundary []byte) []byte {
	dst = AppendRankPrefix(dst, db, key, version)
	dst = append(dst, level)
	return append(dst, boundary...)
}

// IsRankPosition says whether rest (what follows the version in a score key) is a rank entry.
func IsRankPosition(rest []byte) bool {
	return len(rest) >= 2 && binary.BigEndian.Uint16(rest) == RankMarker
}

// DecodeRankPosition splits the rest of a rank entry's key into its level and boundary.
func DecodeRankPosition(rest []byte) (level uint8, boundary []byte, err error) {
	if len(rest) < 3 || !IsRankPosition(rest) {
		return 0, nil, ErrCorrupt
	}
	return rest[2], rest[3:], nil
}

// AppendRankValue appends a rank entry's value.
func AppendRankValue(dst []byte, count uint64, children uint32) []byte {
	dst = binary.BigEndian.AppendUint64(dst, count)
	return binary.BigEndian.AppendUint32(dst, children)
}

// DecodeRankValue decodes a rank entry's value.
func DecodeRankValue(b []byte) (count uint64, children uint32, err error) {
	if len(b) != RankValueLen {
		return 0, 0, ErrCorrupt
	}
	return binary.BigEndian.Uint64(b), binary.BigEndian.Uint32(b[8:]), nil
}

// ZSetFields are the type fields of a sorted set: the shape of its rank levels. Levels is 0
// while the set has none (a small set counts by scanning).
type ZSetFields struct {
	Levels uint8  // number of rank levels
	Top    uint32 // number of entries of the top level
}

// AppendZSetFields appends the sorted-set type fields; a set without rank levels has none.
func AppendZSetFields(dst []byte, f ZSetFields) []byte {
	if f.Levels == 0 {
		return dst
	}
	dst = append(dst, f.Levels)
	return binary.BigEndian.AppendUint32(dst, f.Top)
}

// DecodeZSetFields decodes sorted-set type fields (empty: no rank levels).
func DecodeZSetFields(b []byte) (ZSetFields, error) {
	if len(b) == 0 {
		return ZSetFields{}, nil
	}
	if len(b) < 5 || b[0] == 0 {
		return ZSetFields{}, ErrCorrupt
	}
	return ZSetFields{Levels: b[0], Top: binary.BigEndian.Uint32(b[1:])}, nil
}
