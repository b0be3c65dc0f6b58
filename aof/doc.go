// Package aof reads and writes Redis's append-only files: the RESP command stream, the RDB
// preamble, and Redis 7's multi-part directory with its manifest.
//
// # What AOF means in Strata
//
// Strata's durability is Pebble's write-ahead log, not an AOF: Strata never replays an AOF of
// its own at startup. For Strata an AOF is an interchange format, read by `strata import`
// (moving in from Redis) and `strata check`, written by `strata export` and BGREWRITEAOF
// (moving out, to a Redis that loads it). So this package follows what Redis 7.0 writes and
// loads, byte for byte where Redis is exact, and reports what it cannot take with the file
// and byte offset. It knows nothing of Strata's engine or server: it speaks commands as
// argument lists and dumps as rdb.Events.
//
// # The command stream
//
// A classic AOF is the commands Redis executed, as RESP arrays of bulk strings, with '#'
// annotation lines between them (Redis writes "#TS:<unix seconds>" when aof-timestamp-enabled
// is on, and skips every '#' line when loading):
//
//	#TS:1700000000\r\n                        annotation (at most 1024 bytes with its line end)
//	*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n         SELECT before a command of another database
//	*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n  *<argc> then argc times $<len> <bytes>
//	*1\r\n$5\r\nMULTI\r\n                     a transaction ... until EXEC
//	...
//	*1\r\n$4\r\nEXEC\r\n
//
// The reader is stricter than Redis's loader in one way: it checks the CRLF after every line
// and argument, which Redis skips unchecked. It is as lenient as Redis about what ends a file
// (with aof-load-truncated yes, Redis's default): a command cut by the end of the last file is
// dropped with a warning (KindWarning, ErrTruncated, the offset where good data ends), and so
// is a MULTI whose EXEC never came; anywhere but the last file both are errors, as Redis
// refuses them there. A transaction is held back until its EXEC (Redis queues it in memory
// the same way), so the caller never sees commands that must be rolled back. Lengths are
// checked before anything is allocated (Options.MaxBulkLen, MaxArgs), and memory grows only
// with bytes actually read: "$99999999" in a short file costs nothing.
//
// # The RDB preamble
//
// With aof-use-rdb-preamble (Redis's default), a file may start with an RDB and go on with
// commands. Redis 7 writes its base files this way (.base.rdb: the RDB alone); Redis 4 to 6
// wrote single files that are RDB then commands:
//
//	offset 0                                   n                          end of file
//	+------------------------------------------+-------------------------+
//	| REDIS0010 ... RDB ... 0xFF <8B checksum> | *2\r\n$6\r\nSELECT ...  |
//	+------------------------------------------+-------------------------+
//	  KindPreamble: decoded by the caller         KindCommand events
//
// Finding n needs an RDB decoder, which this package does not have: it hands the RDB to the
// caller. Next returns a KindPreamble event whose Preamble is an io.Reader and io.ByteReader
// over the file from byte 0; the caller decodes it with package rdb, and the next call to Next
// goes on from where the caller stopped reading. The rule is compress/flate's: a decoder given
// an io.ByteReader must not read a byte past the end of the RDB. That is checked, not trusted:
// the byte 9 before the stopping point (1 before, for RDB versions below 5, which have no
// checksum) must be the EOF opcode 0xFF, else Next fails with ErrPreamble rather than misread
// what follows. A decoder that reads ahead instead calls Preamble.SetEnd(n) with the RDB's
// length before Next; then the source must be seekable if it read past n (files are; NewReader
// on a pipe is not).
//
// # Redis 7's multi-part AOF
//
// Redis 7 keeps its AOF in a directory (appenddirname, default "appendonlydir"):
//
//	appendonlydir/
//	  appendonly.aof.1.base.rdb      the base: an RDB (or .base.aof: commands), at most one
//	  appendonly.aof.1.incr.aof      commands since the base, in seq order
//	  appendonly.aof.2.incr.aof
//	  appendonly.aof.manifest        which files, in which role
//
// The manifest has one line per file; Redis writes the base first, then history, then incr:
//
//	file appendonly.aof.1.base.rdb seq 1 type b
//	file appendonly.aof.1.incr.aof seq 1 type h      history: replaced, never loaded
//	file appendonly.aof.2.incr.aof seq 2 type i
//	file "name with spaces.3.incr.aof" seq 3 type i  names quoted like sdscatrepr
//
// Reading follows aofLoadManifestFromFile: the key-value pairs may come in any order and case,
// unknown keys are ignored, words split like sdssplitargs ("double quotes" with \xHH escapes,
// 'single quotes'), '#' lines are comments, and what Redis refuses is refused (a line of 1024
// bytes or more, a blank line, a path as file name, two bases, incr seqs that do not
// increase). The base and then the incr files are read in order, each starting in database 0
// (Redis loads each with a fresh client); a KindFile event marks each start.
//
// # Writing
//
// AppendCommand and friends append RESP to a caller's buffer (redcon's encoders). A Writer
// buffers them to an io.Writer and writes SELECT when the database changes, as Redis's
// feedAppendOnlyFile does. CreateFile makes a single-file AOF (write an RDB preamble through
// its Write first if wanted); CreateDir makes the multi-part layout with Redis's file names
// and writes the manifest last, atomically. A Rewriter turns rdb.Events into the commands
// Redis 7.0's BGREWRITEAOF writes (see Rewriter for the list), 64 elements per variadic
// command as AOF_REWRITE_ITEMS_PER_CMD.
package aof
