// Package rdb reads and writes Redis's RDB files and DUMP payloads.
//
// Strata keeps its data in Pebble, but people arrive with Redis dumps and leave with them:
// `strata import dump.rdb`, `strata export`, the AOF's RDB preamble, DUMP and RESTORE, and
// `strata inspect`, which looks into a dump without any server. All of them go through
// this package, which knows nothing of Strata's engine or server: a dump is a sequence of
// plain Events (event.go), pulled one at a time from a Reader and pushed one at a time into
// a Writer (or a DumpEncoder). A collection of any size crosses element by element.
//
// # The file
//
// An RDB file is a header, a sequence of records each introduced by one byte (an opcode,
// or the object type of a key), and a checksum:
//
//	+-----------+---------------------------------------------------------+------+--------+
//	| "REDIS"   | records                                                 | 0xFF | CRC64  |
//	| "0010"    |                                                         | EOF  | u64 LE |
//	+-----------+---------------------------------------------------------+------+--------+
//	  9 bytes: "REDIS" and the version in 4 digits (Valkey 9: "VALKEY" and 3 digits)
//
//	record                          opcode  then
//	AUX field                       0xFA    name, value (strings): redis-ver, ctime, lua...
//	MODULE_AUX                      0xF7    module ID, when-opcode, when, module opcodes
//	FUNCTION2                       0xF5    a function library's code (RDB 10)
//	SELECTDB                        0xFE    database number (length)
//	RESIZEDB                        0xFB    keys, keys with an expiry (lengths)
//	SLOT_INFO                       0xF4    slot, keys, keys with an expiry (lengths)
//	EXPIRETIME_MS                   0xFC    unix ms, u64 LE  } apply to the next key
//	EXPIRETIME                      0xFD    unix s, u32 LE   }
//	IDLE                            0xF8    LRU idle seconds }
//	FREQ                            0xF9    LFU counter, 1 B }
//	key                             0..25   key name (string), value (by type, below)
//
// The CRC64 (crc64.go: the Jones polynomial, as Redis's src/crc64.c) covers every byte
// from the magic to the EOF opcode; zero means the writer did not compute one
// (rdbchecksum no), and files before version 5 have none. Times are little-endian; the
// 32- and 64-bit lengths are big-endian; the integers inside ziplists, listpacks and
// intsets are little-endian. Files before version 9 stored times in host order; every
// file seen in practice comes from a little-endian host, which is what this package
// assumes.
//
// # Lengths and strings
//
//	00LLLLLL                      6-bit length
//	01LLLLLL LLLLLLLL             14-bit length, big-endian
//	10000000 <4 bytes BE>         32-bit length
//	10000001 <8 bytes BE>         64-bit length
//	11000000 <1 byte>             string: int8, spelled in decimal when read
//	11000001 <2 bytes LE>         string: int16
//	11000010 <4 bytes LE>         string: int32
//	11000011 <clen> <ulen> <data> string: LZF-compressed (lzf.go)
//
// A string is a length and that many bytes, or one of the 11xxxxxx forms. Redis writes a
// string as an integer when it is one (canonical, 32-bit), and compresses it when
// rdbcompression is on, it is over 20 bytes and LZF saves more than 4; so does the Writer.
//
// # Values
//
//	type  value                                         encoding name  RDB  Redis
//	0     string                                        string/int/lzf   1
//	1     count, strings                                linkedlist       1
//	2     count, strings                                hashtable        1
//	3     count, (member, score as text)                skiplist         1
//	4     count, (field, value)                         hashtable        1
//	5     count, (member, score as 8-byte LE double)    skiplist         8  4.0
//	6     module value (4.0 release candidates)         refused          8
//	7     module ID, module opcodes (module.go)         skipped          8  4.0
//	9     zipmap blob (zipmap.go)                       zipmap           2  < 2.6
//	10    ziplist blob (ziplist.go)                     ziplist          2  < 3.2
//	11    intset blob (intset.go)                       intset           2
//	12    ziplist blob of member, score                 ziplist          2  < 7.0
//	13    ziplist blob of field, value                  ziplist          2  < 7.0
//	14    count, ziplist blobs                          quicklist        7  3.2
//	15    stream (stream.go)                            stream           9  5.0
//	16    listpack blob of field, value (listpack.go)   listpack        10  7.0
//	17    listpack blob of member, score                listpack        10  7.0
//	18    count, (container, blob): 1 plain, 2 packed  quicklist       10  7.0
//	19    stream + first ID, tombstone, entries added   stream          10  7.0
//	20    listpack blob of members                      listpack        11  7.2
//	21    stream + consumer active time                 stream          11  7.2
//	22    (7.4 RCs) hash with absolute field TTLs       hashtable       12
//	23    (7.4 RCs) listpack field, value, TTL          listpackex      12
//	24    min expire (8 B), count, (TTL, field, value)  hashtable       12  7.4
//	25    min expire (8 B), listpack of triplets        listpackex      12  7.4
//
// Files with the VALKEY magic (Valkey 9, versions 80 and 81) number the same up to 21;
// their 22 is HASH_2 (count, then field, value and an 8-byte LE expiry, -1 for none), 23
// (version 81) is a path hash, which this package refuses, and opcode 0xF3 records a slot
// import in progress, which it skips. The blob layouts are drawn in ziplist.go,
// listpack.go, intset.go, zipmap.go and stream.go.
//
// # Reading
//
// NewReader takes any io.Reader. Next returns one Event a call: KindKey with a KeyHeader
// (type, encoding, expiry, element count when the file states it, byte Offset, RDB type),
// then the elements, then KindEndKey with the key's Size in the file, which is what the
// inspector needs for its biggest keys. Byte slices in an Event are valid until the next
// call. Rest returns the bytes after the RDB, for the AOF reader's preamble case.
//
// The reader never trusts a length: every count and string length is checked against the
// bytes the input can still hold (its size is taken from a regular file or a Len method,
// or given in ReaderOptions.Size) before anything is allocated; an LZF string may not
// claim to expand more than LZF can; when the size is unknown, big reads grow their buffer
// as the bytes actually arrive. Every structure is bounds-checked as it is walked. Errors
// are *CorruptError values that carry the byte offset and, inside a key, the key's name:
//
//	rdb: corrupt ziplist at offset 489 (key "key:000000000091"): 5 bytes is shorter than a ziplist header
//
// and unwrap to ErrCorrupt (and io.ErrUnexpectedEOF for a truncated file), ErrChecksum or
// ErrUnsupported. The fuzz tests hold the reader to "no panic, no allocation beyond what
// the input justifies".
//
// Memory does not grow with a collection: list nodes, listpacks and ziplists are read one
// blob at a time and walked in place, counted encodings one element at a time. A string
// value is read once into one buffer of exactly its size, reused for the next one; this
// package does not offer strings as an io.Reader (a string is at most 512 MB, and every
// consumer so far needs the bytes), so a huge string costs one copy of itself.
//
// Redis never writes an empty collection and skips one when loading; this reader refuses
// one as corrupt unless ReaderOptions.SkipEmptyKeys is set. Module values are skipped
// (KindModuleSkipped names the module, decoded from its 64-bit ID); the FUNCTION opcode of
// Redis 7.0's release candidates and module values of Redis 4.0's release candidates
// cannot be skipped safely and are refused with ErrUnsupported, as are RDB versions
// above 12.
//
// # Writing
//
// NewWriter writes the header and Redis's aux fields (redis-ver, redis-bits, ctime,
// used-mem, aof-base) for a target version: 9 (Redis 5 and 6), 10 (7.0, the default),
// 11 (7.2) or 12 (7.4). Each value gets the encoding that version's Redis would build with
// the given EncodingLimits (Redis 7.0's defaults: listpacks up to 128 entries of 64
// bytes, intsets up to 512, 8 KiB quicklist nodes, stream nodes of 4096 bytes or 100
// entries); KeyHeader.Encoding and RDBType are ignored. Collections are buffered only up
// to those thresholds. Past them a value streams: straight to the output when the count
// that precedes its elements is known (KeyHeader.Len), otherwise through a spool that
// keeps SpillThreshold bytes in memory and then spills to an unlinked temporary file.
// Quicklist nodes, RDB 12 hashes with field TTLs and stream consumer groups always go
// through a spool, since their counts come before them.
//
// What the target cannot hold is refused with ErrNotRepresentable: hash field TTLs before
// 12, function libraries before 10, a consumer's active time (when it differs from its
// seen time) before 11, a stream's tombstone, entries-added counter and groups'
// entries-read counters before 10 (unless WriterOptions.AllowLoss, which drops that
// metadata; Redis derives or estimates it when it loads an older file). A
// small set of strings is simply a hashtable before 11, as Redis 7.0 would build it, not
// a refusal. Module values cannot be written and are dropped.
//
// # DUMP payloads
//
//	+-------------+----------------------+-------------+-------------------------+
//	| object type | value, as in a file  | RDB version | CRC64 of all before it  |
//	| 1 byte      |                      | u16 LE      | u64 LE                  |
//	+-------------+----------------------+-------------+-------------------------+
//
// DumpEncoder builds one from a key's events with the Writer's encodings and stamps it
// with the lowest RDB version its encoding needs (never below 9), so that a payload that
// fits version 10 restores into Redis 7.0 even when the encoder targets a later version.
// NewDumpReader checks the version (1 to 12; 80 and 81 mean Valkey's numbering) and the
// CRC as RESTORE does, answering ErrDumpPayload (RestoreErrorText is Redis's reply), then
// reads the value as events.
package rdb
