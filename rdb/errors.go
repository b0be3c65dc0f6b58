package rdb

import (
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Sentinel errors. Errors returned while reading a file wrap one of these in a *CorruptError
// that adds where it happened, so test with errors.Is.
var (
	// ErrCorrupt means the input is not a well-formed RDB file or DUMP payload.
	ErrCorrupt = errors.New("rdb: corrupt input")
	// ErrChecksum means the stored CRC64 does not match the bytes.
	ErrChecksum = errors.New("rdb: checksum mismatch")
	// ErrNotRDB means the input does not start with "REDIS" or "VALKEY" and a version.
	ErrNotRDB = errors.New("rdb: not an RDB file")
	// ErrVersion means the file's RDB version is one this package does not read.
	ErrVersion = errors.New("rdb: unsupported RDB version")
	// ErrUnsupported means the file holds something well-formed that this package cannot
	// decode: a pre-release module value (type 6), the function opcode of Redis 7.0's
	// release candidates, a Valkey path hash.
	ErrUnsupported = errors.New("rdb: unsupported content")
	// ErrNotRepresentable means a Writer was given something its target RDB version cannot
	// hold (hash field TTLs before version 12, functions before 10, ...).
	ErrNotRepresentable = errors.New("rdb: not representable in the target RDB version")
	// ErrEventOrder means a Writer was given an event that cannot come at that point
	// (an element outside a key, a key inside a key, an element of the wrong type...).
	ErrEventOrder = errors.New("rdb: event out of order")
	// ErrDumpPayload is what a DUMP payload with a wrong version or checksum decodes to.
	// RESTORE answers it with RestoreErrorText.
	ErrDumpPayload = errors.New("rdb: DUMP payload version or checksum are wrong")
	// ErrClosed means the Writer was already closed or failed.
	ErrClosed = errors.New("rdb: writer closed")
)

// RestoreErrorText is the error Redis's RESTORE replies for a payload with a bad version or
// checksum, byte for byte.
const RestoreErrorText = "ERR DUMP payload version or checksum are wrong"

// CorruptError locates a problem found while reading: the byte offset in the input and,
// when the problem is inside a key, the key's name. It unwraps to ErrCorrupt (or another
// sentinel such as ErrChecksum or ErrUnsupported) and, for a truncated input, also to
// io.ErrUnexpectedEOF.
type CorruptError struct {
	// Offset is the byte offset in the input (file or payload) where the problem was found.
	Offset int64
	// Key is the key being read, when InKey.
	Key   string
	InKey bool
	// What names the structure that was being read: "ziplist", "listpack", "length"...
	What string
	// Detail says what was wrong.
	Detail string
	// Err is the sentinel the error wraps.
	Err error
	// Truncated is set when the input ended early.
	Truncated bool
}

func (e *CorruptError) Error() string {
	b := make([]byte, 0, 64+len(e.Detail)+len(e.Key))
	b = append(b, "rdb: "...)
	switch {
	case e.Truncated:
		b = append(b, "unexpected end of input"...)
		if e.What != "" {
			b = append(b, " in "...)
			b = append(b, e.What...)
		}
	case errors.Is(e.Err, ErrChecksum):
		b = append(b, "checksum mismatch"...)
	case errors.Is(e.Err, ErrUnsupported):
		b = append(b, "unsupported "...)
		b = append(b, e.What...)
	default:
		b = append(b, "corrupt "...)
		b = append(b, e.What...)
	}
	b = append(b, " at offset "...)
	b = strconv.AppendInt(b, e.Offset, 10)
	if e.InKey {
		b = append(b, " (key "...)
		b = strconv.AppendQuote(b, e.Key)
		b = append(b, ')')
	}
	if e.Detail != "" {
		b = append(b, ": "...)
		b = append(b, e.Detail...)
	}
	return string(b)
}

// Unwrap lets errors.Is find the sentinel (and io.ErrUnexpectedEOF for a truncated input).
func (e *CorruptError) Unwrap() []error {
	if e.Truncated {
		return []error{e.Err, io.ErrUnexpectedEOF}
	}
	return []error{e.Err}
}

// errorf builds a detail string lazily; only used on the error path.
func errorf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// notRepresentable builds a Writer refusal.
func notRepresentable(version int, format string, args ...any) error {
	return fmt.Errorf("%w: RDB version %d cannot hold %s", ErrNotRepresentable, version,
		fmt.Sprintf(format, args...))
}

// blobError is an error found inside an encoded blob (ziplist, listpack, intset, zipmap):
// pos is the byte position inside the blob; the reader turns it into a CorruptError with
// a file offset.
type blobError struct {
	what   string
	pos    int
	detail string
}

func (e *blobError) Error() string {
	return "rdb: corrupt " + e.what + " at byte " + strconv.Itoa(e.pos) + ": " + e.detail
}

func (e *blobError) Unwrap() error { return ErrCorrupt }

func newBlobError(what string, pos int, format string, args ...any) *blobError {
	return &blobError{what: what, pos: pos, detail: fmt.Sprintf(format, args...)}
}
