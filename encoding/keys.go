package encoding

import (
	"encoding/binary"
	"errors"
)

// FormatVersion is the on-disk format this code writes. Bump it for any change a previous
// binary would misread (and list it in the package doc's "Format version").
const FormatVersion uint32 = 2

// MinFormatVersion is the oldest format this code reads: a data directory at a version from
// MinFormatVersion to FormatVersion opens (and is upgraded to FormatVersion when opened for
// writing).
const MinFormatVersion uint32 = 1

// Family tags: the first byte of every Pebble key.
const (
	TagInternal byte = 0x01
	TagMeta     byte = 0x02
	TagSub      byte = 0x03
	TagScore    byte = 0x04
	TagExpiry   byte = 0x05
)

// ErrCorrupt is returned for bytes that do not decode as the layout says.
var ErrCorrupt = errors.New("encoding: corrupt record")

const (
	dbSlotLen = 1 + 2 + 2 // tag | db | slot
)

// AppendMetaKey appends the metadata key of user key key in physical database db.
func AppendMetaKey(dst []byte, db uint16, key []byte) []byte {
	dst = append(dst, TagMeta, byte(db>>8), byte(db))
	slot := Slot(key)
	dst = append(dst, byte(slot>>8), byte(slot))
	return append(dst, key...)
}

// MetaSlotPrefix is the first metadata key of slot slot in database db.
func MetaSlotPrefix(dst []byte, db uint16, slot uint16) []byte {
	return append(dst, TagMeta, byte(db>>8), byte(db), byte(slot>>8), byte(slot))
}

// DBPrefix is the first key of family tag in database db (metadata, subkey or score families).
func DBPrefix(dst []byte, tag byte, db uint16) []byte {
	return append(dst, tag, byte(db>>8), byte(db))
}

// DBPrefixEnd is the exclusive upper bound of family tag in database db.
func DBPrefixEnd(dst []byte, tag byte, db uint16) []byte { return dbPrefixEnd(dst, tag, db) }

func dbPrefixEnd(dst []byte, tag byte, db uint16) []byte {
	if db == 0xFFFF {
		return append(dst, tag+1)
	}
	n := db + 1
	return append(dst, tag, byte(n>>8), byte(n))
}

// DecodeMetaKey splits a metadata key. The returned key aliases k.
func DecodeMetaKey(k []byte) (db, slot uint16, key []byte, err error) {
	if len(k) < dbSlotLen || k[0] != TagMeta {
		return 0, 0, nil, ErrCorrupt
	}
	return binary.BigEndian.Uint16(k[1:]), binary.BigEndian.Uint16(k[3:]), k[dbSlotLen:], nil
}

// AppendSubPrefix appends the prefix shared by every subkey of (db, key, version).
func AppendSubPrefix(dst []byte, db uint16, key []byte, version uint64) []byte {
	return appendElemPrefix(dst, TagSub, db, key, version)
}

// AppendSubKey appends the subkey of member in (db, key, version).
func AppendSubKey(dst []byte, db uint16, key []byte, version uint64, member []byte) []byte {
	dst = appendElemPrefix(dst, TagSub, db, key, version)
	return append(dst, member...)
}

// AppendIndexSubKey appends the subkey whose member is the 8-byte big-endian index i (list
// elements and string chunks).
func AppendIndexSubKey(dst []byte, db uint16, key []byte, version uint64, i uint64) []byte {
	dst = appendElemPrefix(dst, TagSub, db, key, version)
	return binary.BigEndian.AppendUint64(dst, i)
}

// AppendScorePrefix appends the prefix shared by every score-index key of (db, key, version).
func AppendScorePrefix(dst []byte, db uint16, key []byte, version uint64) []byte {
	return appendElemPrefix(dst, TagScore, db, key, version)
}

// AppendScoreKey appends the score-index key of member with score in (db, key, version).
func AppendScoreKey(dst []byte, db uint16, key []byte, version uint64, score float64, member []byte) []byte {
	dst = appendElemPrefix(dst, TagScore, db, key, version)
	dst = AppendScore(dst, score)
	return append(dst, member...)
}

func appendElemPrefix(dst []byte, tag byte, db uint16, key []byte, version uint64) []byte {
	slot := Slot(key)
	dst = append(dst, tag, byte(db>>8), byte(db), byte(slot>>8), byte(slot))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(key)))
	dst = append(dst, key...)
	return binary.BigEndian.AppendUint64(dst, version)
}

// ElemPrefixLen is the length of the subkey or score prefix of a user key of length n.
func ElemPrefixLen(n int) int { return dbSlotLen + 4 + n + 8 }

// DecodeElemKey splits a subkey or score key into its parts; rest is the member (subkey) or
// score and member (score key). Slices alias k.
func DecodeElemKey(k []byte) (tag byte, db uint16, key []byte, version uint64, rest []byte, err error) {
	if len(k) < dbSlotLen+4 || (k[0] != TagSub && k[0] != TagScore) {
		return 0, 0, nil, 0, nil, ErrCorrupt
	}
	n := int(binary.BigEndian.Uint32(k[dbSlotLen:]))
	p := dbSlotLen + 4
	if n > len(k)-p-8 {
		return 0, 0, nil, 0, nil, ErrCorrupt
	}
	key = k[p : p+n]
	version = binary.BigEndian.Uint64(k[p+n:])
	return k[0], binary.BigEndian.Uint16(k[1:]), key, version, k[p+n+8:], nil
}

// AppendExpiryKey appends the expiry-index key of (db, key) expiring at unix ms at.
func AppendExpiryKey(dst []byte, at int64, db uint16, key []byte) []byte {
	dst = append(dst, TagExpiry)
	dst = binary.BigEndian.AppendUint64(dst, uint64(at))
	dst = append(dst, byte(db>>8), byte(db))
	return append(dst, key...)
}

// ExpiryBound returns the expiry-index key that sorts before every entry expiring after at:
// the exclusive upper bound of "everything due at or before at".
func ExpiryBound(dst []byte, at int64) []byte {
	dst = append(dst, TagExpiry)
	return binary.BigEndian.AppendUint64(dst, uint64(at)+1)
}

// DecodeExpiryKey splits an expiry-index key. key aliases k.
func DecodeExpiryKey(k []byte) (at int64, db uint16, key []byte, err error) {
	if len(k) < 1+8+2 || k[0] != TagExpiry {
		return 0, 0, nil, ErrCorrupt
	}
	return int64(binary.BigEndian.Uint64(k[1:])), binary.BigEndian.Uint16(k[9:]), k[11:], nil
}

// AppendInternalKey appends the internal record key name.
func AppendInternalKey(dst []byte, name string) []byte {
	dst = append(dst, TagInternal)
	return append(dst, name...)
}

// PrefixEnd returns the smallest key greater than every key with prefix p, appended to dst, or
// nil when no such key exists (p is all 0xff).
func PrefixEnd(dst, p []byte) []byte {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] != 0xff {
			dst = append(dst, p[:i+1]...)
			dst[len(dst)-1]++
			return dst
		}
	}
	return nil
}
