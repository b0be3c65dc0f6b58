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
// # Compressed values
//
// A string value may be stored compressed; the codec is named next to the bytes, never in a
// setting, so values written under any setting stay readable. Codecs: 0 none, 1 S2, 2 zstd.
//
//	flags  7      4     3       2       1 0
//	     +---...---+-------+-------+-------+
//	     | unused  | chunk | chunk-| codec |      codec: of the inline value (0 = plain)
//	     |         | codec | ed    |       |
//	     +---...---+-------+-------+-------+
//
// An inline string whose flags carry a codec holds the value compressed after the header;
// count is still the plain length. A chunked string with FlagChunkCodec stores every chunk as
//
//	chunk value:  codec (1) | bytes       (codec 0: the bytes are the plain chunk)
//
// and the plain chunk reads as zeros past its length, as a plain chunk does. A chunked string
// without FlagChunkCodec has plain chunks (written before compression, or by a command that
// writes fresh chunks without it). Each chunk is compressed on its own, so SETRANGE and SETBIT
// still rewrite one chunk.
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
// A sorted set keeps each member twice, in one batch: subkey member -> score (8 bytes, the
// IEEE-754 bits big-endian; ZSCORE is one point read) and score key score | member -> "" (ranges
// are one bounded scan). -0 and 0 share a position; a set that Redis would hold in a skiplist
// keeps -0 (the score key's value is then NegZeroMark), one it would hold in a listpack stores 0,
// as Redis does.
//
// The type fields of a sorted set (absent: a small set, no hints):
//
//	flags (1) | generation (8)       when ranked
//	          | flen (1) | floor     when floored
//	          | clen (1) | ceiling   when ceilinged
//	          | llen (1) | low mark  | low count (8)    when low-marked
//	          | hlen (1) | high mark | high count (8)   when high-marked
//
//	flags  7    6    5        4        3         2       1        0
//	     +----+----+--------+--------+---------+-------+--------+----------+
//	     |  unused | high   | low    | ceiling | floor | ranked | skiplist |
//	     |         | mark   | mark   |         |       |        |          |
//	     +----+----+--------+--------+---------+-------+--------+----------+
//
// The floor and ceiling are positions (score (8) | member, at most 72 bytes) that keep the
// ends of the set off the tombstones removals leave: no member is below the floor, none at or
// above the ceiling. ZPOPMIN deletes the lowest member, and until a compaction drops its
// tombstones a scan from the start of the score range would walk every one of them; scans
// start at the floor instead (and backward ones at the ceiling). The hints are written with
// the metadata, in the batch of the command that moves them, so they are as durable and as
// atomic as the members: a hint may be looser than the set, never tighter. A command that
// removes a set's first (last) member sets the floor (ceiling) to the new first (just after
// the new last); one that adds a member outside them widens them. A position longer than 72
// bytes is cut: a floor to its prefix, a ceiling to the end of the range its prefix starts.
//
// Widening the floor down to a new member would leave the tombstones of the earlier pops
// between it and the other members, to be walked when it is popped in turn. So the floor it
// had is kept as the low mark, with the number of members below the mark (those added since);
// when that count is back to 0 the floor returns to the mark without a walk. The high mark
// and count do the same for the ceiling: the count is of the members at or above the mark.

// # Rank buckets (sorted sets)
//
// ZRANK and ZRANGE by index need the number of members before a position. A set bigger than a
// few dozen members cuts its positions into buckets of at most 64 members and keeps each
// bucket's count inside the score range itself, after every real score (see rank.go):
//
//	score   0x04 | db | slot | klen | user key | version | score (8) | member -> ""
//	bucket  0x04 | db | slot | klen | user key | version | ff ff | boundary  -> count (8)
//
// "ff ff" in the score position would be a NaN with a payload no stored score has, so buckets
// sort after +inf and never among members; because they share the version's score range,
// RENAME/COPY/MOVE copy them and the sweeper drops them with the members. A bucket holds the
// members from its boundary (a position: score (8) | member; the first boundary is empty) up
// to the next bucket's boundary. Each ZADD/ZREM updates one bucket in its own batch; a bucket
// past 64 members splits at its middle and one below 16 merges with a neighbour, so a bucket
// key is rewritten a bounded number of times (Pebble keeps every version of a key in the
// memtable until a flush; a key rewritten by every write would make reading it slower and
// slower).
//
// The sums over buckets come from an index the engine keeps in memory (the buckets in blocks,
// a Fenwick tree over the blocks' counts), built from one scan of the buckets. The metadata's type fields carry a
// generation that changes with every change to the buckets, so the engine can tell whether
// an index in memory is current.
//
// # Format version
//
// The internal record "format" holds FormatVersion. A data directory written by a newer format
// is refused when it opens, never misread. One written by an older format this code still
// reads (MinFormatVersion and up) is upgraded when it opens for writing: its record is
// rewritten, so that a binary of the older format refuses it from then on.
//
//	1  the first format
//	2  sorted-set floor and ceiling hints in the type fields (format-1 sets read as having
//	   none; nothing is rewritten)
package encoding
