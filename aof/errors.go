package aof

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors returned by this package wrap one of them (test with errors.Is) inside
// an *Error that names the file and byte offset.
var (
	// ErrFormat is a malformed command stream: a line that is neither a command nor an
	// annotation, a bad length, a missing CRLF.
	ErrFormat = errors.New("aof: bad format")
	// ErrTooLarge is a length beyond the reader's limits (Options.MaxBulkLen, Options.MaxArgs).
	ErrTooLarge = errors.New("aof: length beyond limit")
	// ErrTruncated is a file that ends inside a command. In the last file of an AOF it is a
	// warning (the command is dropped, as Redis does with aof-load-truncated yes); anywhere
	// else it is an error.
	ErrTruncated = errors.New("aof: truncated command")
	// ErrUnfinishedMulti is a MULTI without EXEC at the end of a file. In the last file the
	// transaction is rolled back with a warning; anywhere else it is an error.
	ErrUnfinishedMulti = errors.New("aof: MULTI without EXEC")
	// ErrNestedMulti is a MULTI inside a MULTI. Redis never writes one.
	ErrNestedMulti = errors.New("aof: nested MULTI")
	// ErrUnterminatedAnnotation is an annotation line cut by the end of the file. It is
	// ignored with a warning, as Redis ignores it.
	ErrUnterminatedAnnotation = errors.New("aof: unterminated annotation")
	// ErrPreamble is an RDB preamble hand-off gone wrong: the caller did not consume the
	// preamble, read past its end, or read it after Next moved on.
	ErrPreamble = errors.New("aof: RDB preamble")
	// ErrManifest is a manifest Redis 7 would refuse to load.
	ErrManifest = errors.New("aof: bad manifest")
	// ErrMissingFile is a file named by the manifest that is not in the directory.
	ErrMissingFile = errors.New("aof: missing file")
	// ErrEvent is an rdb.Event sequence the rewrite emitter cannot turn into commands.
	ErrEvent = errors.New("aof: unexpected rdb event")
	// ErrFieldTTL is a hash field with a TTL, which Redis 7.0 cannot hold (see
	// RewriteOptions.HashFieldTTL).
	ErrFieldTTL = errors.New("aof: hash field TTL needs Redis 7.4 (HPEXPIREAT)")
	// ErrExists is a directory that already holds a manifest: CreateDir never overwrites one.
	ErrExists = errors.New("aof: manifest exists")
)

// Error is an error at a place in an AOF: File is the file name (a manifest's file name, or
// the name given to NewReader), Offset the byte offset in that file (-1 when none applies),
// Line the manifest line (0 when none applies). Err is one of the sentinels above or an I/O
// error; Msg says more.
type Error struct {
	File   string
	Offset int64
	Line   int
	Err    error
	Msg    string
}

func (e *Error) Error() string {
	s := e.Err.Error()
	if e.File != "" {
		s += ": " + e.File
	}
	switch {
	case e.Line > 0:
		s += fmt.Sprintf(": line %d", e.Line)
	case e.Offset >= 0:
		s += fmt.Sprintf(": offset %d", e.Offset)
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }
