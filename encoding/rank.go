package encoding

import (
	"encoding/binary"
	"math"
)

// Rank buckets of a sorted set live inside the set's own score range, after every score: their
// "score" bytes start with RankMarker, which as a score would be a NaN with a payload no stored
// score can have (NaN is never stored), so a bucket never meets a member and sorts after +inf.
// Riding in the score range means that whatever copies or drops a version's score range
// (RENAME, COPY, MOVE, the sweeper, FLUSHDB) carries the buckets along without knowing them.
//
//	bucket  0x04 | db (2) | slot (2) | klen (4) | user key | version (8) | ff ff | boundary
//	        -> count (8)
//
// The buckets partition the set's positions (score (8) | member, the suffix of a score key)
// into ranges: a bucket holds the members from its boundary up to the next bucket's boundary.
// The first boundary is empty.

// RankMarker is the first two bytes of the score position of every rank bucket.
const RankMarker uint16 = 0xFFFF

// ScoreMin is the encoded score of -inf: the smallest position of a member.
var ScoreMin = AppendScore(nil, math.Inf(-1))

// AppendRankPrefix appends the prefix shared by every rank bucket of (db, key, version). It is
// also the exclusive upper bound of the set's member positions in the score range.
func AppendRankPrefix(dst []byte, db uint16, key []byte, version uint64) []byte {
	dst = appendElemPrefix(dst, TagScore, db, key, version)
	return binary.BigEndian.AppendUint16(dst, RankMarker)
}

// AppendRankKey appends the key of the rank bucket that starts at boundary.
func AppendRankKey(dst []byte, db uint16, key []byte, version uint64, boundary []byte) []byte {
	dst = AppendRankPrefix(dst, db, key, version)
	return append(dst, boundary...)
}

// IsRankPosition says whether rest (what follows the version in a score key) is a rank bucket.
func IsRankPosition(rest []byte) bool {
	return len(rest) >= 2 && binary.BigEndian.Uint16(rest) == RankMarker
}

// DecodeRankPosition returns the boundary of a rank bucket from the rest of its key.
func DecodeRankPosition(rest []byte) (boundary []byte, err error) {
	if !IsRankPosition(rest) {
		return nil, ErrCorrupt
	}
	return rest[2:], nil
}

// AppendRankValue appends a rank bucket's value.
func AppendRankValue(dst []byte, count uint64) []byte {
	return binary.BigEndian.AppendUint64(dst, count)
}

// DecodeRankValue decodes a rank bucket's value.
func DecodeRankValue(b []byte) (count uint64, err error) {
	if len(b) != 8 {
		return 0, ErrCorrupt
	}
	return binary.BigEndian.Uint64(b), nil
}

// ZSetFields are the type fields of a sorted set.
//
// Skiplist records that Redis would hold this set in a skiplist rather than a listpack (it grew
// past 128 members or got a member longer than 64 bytes once; Redis never converts back on its
// own). It decides what Redis-visible details follow the encoding: a listpack stores -0 as 0,
// a skiplist keeps it, and ZSCAN answers differently.
//
// A set with rank buckets records a generation that changes with every change to its buckets,
// so that an index built from them in memory can tell whether it is still current.
type ZSetFields struct {
	Skiplist bool
	Ranked   bool   // the set has rank buckets
	Gen      uint64 // generation of the buckets
}

// Sorted-set field flags.
const (
	zsetSkiplist = 1 << 0
	zsetRanked   = 1 << 1
)

// AppendZSetFields appends the sorted-set type fields: nothing for a small listpack-like set,
// else a flags byte, then the generation when the set has buckets.
func AppendZSetFields(dst []byte, f ZSetFields) []byte {
	var flags byte
	if f.Skiplist {
		flags |= zsetSkiplist
	}
	if f.Ranked {
		flags |= zsetRanked
	}
	if flags == 0 {
		return dst
	}
	dst = append(dst, flags)
	if f.Ranked {
		dst = binary.BigEndian.AppendUint64(dst, f.Gen)
	}
	return dst
}

// DecodeZSetFields decodes sorted-set type fields.
func DecodeZSetFields(b []byte) (ZSetFields, error) {
	if len(b) == 0 {
		return ZSetFields{}, nil
	}
	f := ZSetFields{Skiplist: b[0]&zsetSkiplist != 0, Ranked: b[0]&zsetRanked != 0}
	switch {
	case b[0]&^(zsetSkiplist|zsetRanked) != 0:
		return ZSetFields{}, ErrCorrupt
	case f.Ranked && len(b) == 9:
		f.Gen = binary.BigEndian.Uint64(b[1:])
	case f.Ranked || len(b) != 1:
		return ZSetFields{}, ErrCorrupt
	}
	return f, nil
}

// NegZeroMark is the value of the score key of a member whose score is -0 (its position holds
// 0, as -0 and 0 sort together): only sets held like Redis's skiplists keep -0.
const NegZeroMark = "-"
