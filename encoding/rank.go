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
//
// Floor and Ceiling are hints that keep scans from the ends of the set off the tombstones that
// removals leave behind (ZPOPMIN deletes the lowest member; until a compaction drops its
// tombstones, a scan from the start of the score range walks every one of them). Floor is a
// position no member is below; Ceiling a position no member is at or above. Either may be
// empty (no hint). A hint may be looser than the set (Floor below its first member, Ceiling
// above its last), never tighter. See FloorHint and CeilingHint.
//
// A member added below the floor moves the floor down to it, past the tombstones of earlier
// pops. LowMark keeps the floor it had, and LowCount how many members are now below that
// mark, so that once they are gone the floor goes back up to the mark in one step rather than
// by a walk over those tombstones; HighMark and HighCount do the same above the ceiling: the
// members at or above HighMark number HighCount. A mark is present only with its hint, and
// only while its count is not 0.
type ZSetFields struct {
	Skiplist bool
	Ranked   bool   // the set has rank buckets
	Gen      uint64 // generation of the buckets
	Floor    []byte // no member's position is below it; empty: no hint
	Ceiling  []byte // every member's position is below it; empty: no hint

	LowMark   []byte // LowCount members are below it (empty: no mark)
	LowCount  uint64
	HighMark  []byte // HighCount members are at or above it (empty: no mark)
	HighCount uint64
}

// Sorted-set field flags.
const (
	zsetSkiplist = 1 << 0
	zsetRanked   = 1 << 1
	zsetFloor    = 1 << 2
	zsetCeiling  = 1 << 3
	zsetLowMark  = 1 << 4
	zsetHighMark = 1 << 5
	zsetAllFlags = zsetSkiplist | zsetRanked | zsetFloor | zsetCeiling | zsetLowMark | zsetHighMark
)

// ZSetHintMax is the longest hint kept: a score and 64 bytes of member. A longer position is
// cut, rounding a floor down and a ceiling up, so the hint stays true and the metadata small.
const ZSetHintMax = 8 + 64

// FloorHint appends the floor of a set whose first member is at pos: pos itself, or its first
// ZSetHintMax bytes (a prefix sorts before the position it starts).
func FloorHint(dst, pos []byte) []byte {
	return append(dst, pos[:min(len(pos), ZSetHintMax)]...)
}

// CeilingHint appends the ceiling of a set whose last member is at pos: the position just
// after it (pos | 0x00), or, for a long pos, the end of the range its first ZSetHintMax bytes
// start.
func CeilingHint(dst, pos []byte) []byte {
	if len(pos) < ZSetHintMax {
		return append(append(dst, pos...), 0)
	}
	return PrefixEnd(dst, pos[:ZSetHintMax]) // never empty: a score is never ff x 8
}

// AppendZSetFields appends the sorted-set type fields: nothing for a small listpack-like set
// without hints, else a flags byte, then the generation when the set has buckets, then each
// hint present as length (1) | position, then each mark present as length (1) | position |
// count (8). A hint longer than ZSetHintMax is cut the safe way; a mark that could not be
// kept exactly (too long, a count of 0, or without its hint) is left out, which is safe too.
func AppendZSetFields(dst []byte, f ZSetFields) []byte {
	floor, ceiling := f.Floor, f.Ceiling
	if len(floor) > ZSetHintMax {
		floor = floor[:ZSetHintMax]
	}
	if len(ceiling) > ZSetHintMax {
		ceiling = PrefixEnd(nil, ceiling[:ZSetHintMax]) // nil (no hint) past every position
	}
	keepMark := func(hint, mark []byte, count uint64) bool {
		return len(hint) > 0 && len(mark) > 0 && len(mark) <= ZSetHintMax && count > 0
	}
	var flags byte
	for _, fl := range []struct {
		on  bool
		bit byte
	}{
		{f.Skiplist, zsetSkiplist}, {f.Ranked, zsetRanked}, {len(floor) > 0, zsetFloor},
		{len(ceiling) > 0, zsetCeiling}, {keepMark(floor, f.LowMark, f.LowCount), zsetLowMark},
		{keepMark(ceiling, f.HighMark, f.HighCount), zsetHighMark},
	} {
		if fl.on {
			flags |= fl.bit
		}
	}
	if flags == 0 {
		return dst
	}
	dst = append(dst, flags)
	if f.Ranked {
		dst = binary.BigEndian.AppendUint64(dst, f.Gen)
	}
	for _, h := range [][]byte{floor, ceiling} {
		if len(h) > 0 {
			dst = append(append(dst, byte(len(h))), h...)
		}
	}
	if flags&zsetLowMark != 0 {
		dst = append(append(dst, byte(len(f.LowMark))), f.LowMark...)
		dst = binary.BigEndian.AppendUint64(dst, f.LowCount)
	}
	if flags&zsetHighMark != 0 {
		dst = append(append(dst, byte(len(f.HighMark))), f.HighMark...)
		dst = binary.BigEndian.AppendUint64(dst, f.HighCount)
	}
	return dst
}

// DecodeZSetFields decodes sorted-set type fields. The positions alias b.
func DecodeZSetFields(b []byte) (ZSetFields, error) {
	if len(b) == 0 {
		return ZSetFields{}, nil
	}
	flags := b[0]
	f := ZSetFields{Skiplist: flags&zsetSkiplist != 0, Ranked: flags&zsetRanked != 0}
	if flags&^zsetAllFlags != 0 ||
		flags&zsetLowMark != 0 && flags&zsetFloor == 0 || flags&zsetHighMark != 0 && flags&zsetCeiling == 0 {
		return ZSetFields{}, ErrCorrupt
	}
	b = b[1:]
	ok := true
	u64 := func(present bool) uint64 {
		if !present || !ok {
			return 0
		}
		if len(b) < 8 {
			ok = false
			return 0
		}
		v := binary.BigEndian.Uint64(b)
		b = b[8:]
		return v
	}
	pos := func(present bool) []byte {
		if !present || !ok {
			return nil
		}
		if len(b) < 1 || b[0] == 0 || int(b[0]) > ZSetHintMax || len(b) < 1+int(b[0]) {
			ok = false
			return nil
		}
		h := b[1 : 1+b[0] : 1+b[0]]
		b = b[1+len(h):]
		return h
	}
	f.Gen = u64(f.Ranked)
	f.Floor = pos(flags&zsetFloor != 0)
	f.Ceiling = pos(flags&zsetCeiling != 0)
	f.LowMark = pos(flags&zsetLowMark != 0)
	f.LowCount = u64(flags&zsetLowMark != 0)
	f.HighMark = pos(flags&zsetHighMark != 0)
	f.HighCount = u64(flags&zsetHighMark != 0)
	if !ok || len(b) != 0 || (len(f.LowMark) > 0 && f.LowCount == 0) || (len(f.HighMark) > 0 && f.HighCount == 0) {
		return ZSetFields{}, ErrCorrupt
	}
	return f, nil
}

// NegZeroMark is the value of the score key of a member whose score is -0 (its position holds
// 0, as -0 and 0 sort together): only sets held like Redis's skiplists keep -0.
const NegZeroMark = "-"
