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
