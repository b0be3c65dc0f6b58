// Package encoding lays Redis's data model out on one sorted Pebble keyspace.
//
// Everything here is a pure function over byte slices: no I/O, no locks, no state. Encoders
// append to a caller's buffer (AppendX(dst, ...) []byte) so the hot path reuses one buffer per
// connection instead of allocating per command.
//
// # Families
//
// Every Pebble key starts with a one-byte family tag. Integers are big-endian so that byte order
// is numeric order. "db" is a physical database id (see the engine's database map: SWAPDB swaps
// logical ids and never rewrites keys); "slot" is the Redis Cluster slot of the user key (CRC16
// mod 16384 with {hash tag} rules), present from day one so that a slot range is one key range.
//
//	internal   0x01 | name ...                                  -> engine-private records
//	metadata   0x02 | db (2) | slot (2) | user key               -> Meta value (below)
//	subkey     0x03 | db (2) | slot (2) | klen (4) | user key | version (8) | member -> element
//	score      0x04 | db (2) | slot (2) | klen (4) | user key | version (8) | score (8) | member -> ""
//	expiry     0x05 | expire-at ms (8) | db (2) | user key       -> ""
//
// The key length in subkeys and score keys keeps one key's range from ever being a prefix of
// another's ("ab"+version never collides with "a"+"b..."). The version makes DEL and overwrite
// of a huge collection O(1): a new version hides the old elements, which a background sweeper
// removes later. Versions are unique per user key over time (see the engine).
//
// # Metadata value (format 1)
//
//	0        1      2       3                11               19               27
//	+--------+------+-------+----------------+----------------+----------------+-----------
//	| format | type | flags | expire-at ms   | version        | count          | type fields
//	|  0x01  |      |       | (8, 0 = none)  | (8)            | (8)            | or value
//	+--------+------+-------+----------------+----------------+----------------+-----------
//
// count is the number of elements of a collection, or the byte length of a string. A string
// whose flags lack FlagChunked carries its value inline after the header; a chunked string keeps
// it in subkeys, one per ChunkSize bytes, keyed by the chunk index (8 bytes), so SETRANGE and
// SETBIT on a 100 MB value rewrite one chunk, not the value. Lists carry their head and tail
// indexes (8 + 8) as type fields: elements live at subkeys keyed by a uint64 index that starts in
// the middle of the range, so pushes at either end are point writes.
//
// # Streams
//
// A stream's metadata count is the number of subkeys it owns (not XLEN); its type fields
// (StreamFields, 160 bytes) are:
//
//	length (8) | last-generated ID (16) | recorded-first ID (16) | max-deleted ID (16)
//	| entries-added (8) | groups (8) | nodes (8) | head node master ID (16)
//	| tail node master ID (16) | tail live (8) | tail deleted (8) | tail bytes (8)
//	| tail last ID (16) | next gid (8)
//
// The tail node's counters are kept here, not in its record, so that XADD writes one entry and
// the metadata (which it writes anyway) rather than rewriting a node record per entry; the
// record catches up when another node becomes the tail. Scans start at the recorded-first ID
// and trims at the head node, so that what trimming deleted is never walked over.
//
// IDs are 16 bytes, ms (8) then seq (8), big-endian, so byte order is ID order. Every other part
// of a stream is a subkey of its version whose member starts with a kind byte; each kind is one
// contiguous ordered range:
//
//	member                                   value
//	'e' | ms | seq                           entry: uvarint n, then n strings (field, value,
//	                                         field, value ...), each uvarint length | bytes
//	'n' | master ms | master seq             node: uvarint live | uvarint deleted | uvarint
//	                                         bytes | last ID (16) | master fields (as an entry)
//	'g' | group name                         group: gid (8) | last-delivered ID (16) |
//	                                         entries-read (8, -1 unknown) | pending (8) |
//	                                         consumers (8) | pending floor ID (16) |
//	                                         pending ceiling ID (16)
//	'p' | gid (8) | ms | seq                 pending entry: delivery time ms (8) |
//	                                         delivery count (8) | consumer name
//	'c' | gid (8) | consumer name            consumer: seen-time ms (8) | active-time ms (8,
//	                                         -1 never) | pending (8)
//	'q' | gid (8) | nlen (4) | name | ms | seq   "" (the consumer's pending list)
//
// XRANGE and XREAD are scans of 'e'; XPENDING, XACK, XCLAIM and XAUTOCLAIM read 'p' records or
// scan 'p' or one consumer's 'q' range. Node records mirror the listpacks of Redis's radix tree
// (at most 100 entries or 4096 bytes of listpack each, counted as Redis's listpack encodes
// them), so that MAXLEN ~ and MINID ~ remove exactly the entries Redis removes and XINFO STREAM
// reports Redis's radix-tree-keys; whole nodes are trimmed with one range deletion of their
// entries and one of their node records. The gid, unique within the stream's version, keeps a
// destroyed group's ranges from ever meeting a new group of the same name, and lets XGROUP
// DESTROY drop a group of any size with three range deletions.
//
// # Scores
//
// A sorted-set score is stored as 8 bytes that sort like the doubles they encode: for a
// non-negative double the sign bit is set; for a negative one every bit is flipped. So one
// ordered scan of the score family answers ZRANGEBYSCORE.
//
// # Format version
//
// The internal record "format" holds FormatVersion. A data directory written by a newer format
// is refused when it opens, never misread.
package encoding
