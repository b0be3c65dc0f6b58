package engine

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"

	"github.com/stratadb/strata/encoding"
)

// Value compression: a string value of at least the threshold is compressed when it is
// written, with S2 or zstd (klauspost/compress), and the codec is named in the stored value
// itself (see encoding/doc.go, "Compressed values"): the low bits of the metadata flags for an
// inline value, a leading codec byte in every chunk of a string whose metadata carries
// FlagChunkCodec. So a change of value-compression takes effect for new writes, and every
// value already written stays readable whatever the setting: no migration.
//
// Where it sits: the write path (putMeta, the chunk writers) compresses what goes into the
// Pebble batch; the read path (readMeta, the chunk readers) decompresses what comes out of
// Pebble. The hot tier caches values decompressed, so a GET served from memory never pays for
// decompression: compression costs CPU when a value is written and when it is read from disk,
// and saves disk, page cache and block cache. Everything above the engine (DUMP, RDB export,
// GETRANGE, SETRANGE, APPEND, the BIT* commands) sees plain bytes.
//
// A value that would not shrink by at least an eighth is stored plain: random or already
// compressed bytes (images, gzip) then cost one failed attempt at write and nothing at read.
//
// Pebble compresses its blocks too (Snappy by default); what value compression adds beside it,
// and at what cost, is measured by `go run ./benchmarks compression` and written in
// conf/strata.yaml.

// ParseValueCompression parses a value-compression name: none, s2 or zstd.
func ParseValueCompression(s string) (uint8, bool) {
	switch s {
	case "none":
		return encoding.CodecNone, true
	case "s2":
		return encoding.CodecS2, true
	case "zstd":
		return encoding.CodecZstd, true
	}
	return 0, false
}

// minSaving is the least share of a value compression must save for the compressed form to
// be kept: 1/8.
const minSavingShift = 3

// valueCodec compresses and decompresses values. It is safe for concurrent use: S2 keeps no
// state, and zstd's EncodeAll and DecodeAll run on pooled encoders and decoders.
type valueCodec struct {
	codec     atomic.Uint32 // the codec of new values (encoding.Codec*)
	threshold atomic.Int64  // values shorter than this are stored plain

	zstdOnce sync.Once
	zenc     *zstd.Encoder
	zdec     *zstd.Decoder

	// Bytes of string values written (plain) and as stored, since the data directory was
	// created (base, persisted) and since it was opened: strata_compression_ratio.
	baseLogical, baseStored int64
	logical, stored         atomic.Int64
}

func (c *valueCodec) configure(codec uint8, threshold int64) {
	c.codec.Store(uint32(codec))
	c.threshold.Store(max(threshold, 1))
}

func (c *valueCodec) zstd() (*zstd.Encoder, *zstd.Decoder) {
	c.zstdOnce.Do(func() {
		n := runtime.GOMAXPROCS(0)
		var err error
		// Values are at most a chunk or InlineMax bytes: a small window keeps the encoders'
		// memory small; no frame checksum (Pebble checksums its blocks).
		c.zenc, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(n),
			zstd.WithWindowSize(encoding.InlineMax*2), zstd.WithEncoderCRC(false), zstd.WithLowerEncoderMem(true))
		if err != nil {
			panic(fmt.Sprint("engine: zstd encoder: ", err))
		}
		c.zdec, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(n), zstd.WithDecodeAllCapLimit(true),
			zstd.WithDecoderMaxMemory(encoding.InlineMax*2))
		if err != nil {
			panic(fmt.Sprint("engine: zstd decoder: ", err))
		}
	})
	return c.zenc, c.zdec
}

// compress appends src compressed to dst when the configured codec is on, src is at least
// the threshold and compression saves enough; it returns dst and the codec used (CodecNone:
// nothing appended, store src plain).
func (c *valueCodec) compress(dst, src []byte) ([]byte, uint8) {
	if int64(len(src)) < c.threshold.Load() {
		return dst, encoding.CodecNone
	}
	return c.compressWith(uint8(c.codec.Load()), dst, src)
}

// compressWith is compress with the codec given and no threshold.
func (c *valueCodec) compressWith(codec uint8, dst, src []byte) ([]byte, uint8) {
	n := len(dst)
	switch codec {
	case encoding.CodecS2:
		dst = slices.Grow(dst, s2.MaxEncodedLen(len(src)))
		out := s2.Encode(dst[n:cap(dst)], src)
		dst = dst[:n+len(out)]
	case encoding.CodecZstd:
		enc, _ := c.zstd()
		dst = enc.EncodeAll(src, dst)
	default:
		return dst, encoding.CodecNone
	}
	if len(dst)-n > len(src)-len(src)>>minSavingShift {
		return dst[:n], encoding.CodecNone
	}
	return dst, codec
}

// decompress appends the size plain bytes that src encodes with codec to dst. A negative
// size accepts any length up to -size.
func (c *valueCodec) decompress(dst []byte, codec uint8, src []byte, size int) ([]byte, error) {
	n := len(dst)
	exact := size >= 0
	if !exact {
		size = -size
	}
	switch codec {
	case encoding.CodecS2:
		m, err := s2.DecodedLen(src)
		if err != nil || m > size || (exact && m != size) {
			return dst[:n], fmt.Errorf("s2 value of %d bytes where %d are expected (%v)", m, size, err)
		}
		size = m
		dst = slices.Grow(dst, size)
		out, err := s2.Decode(dst[n:n+size], src)
		if err != nil {
			return dst[:n], fmt.Errorf("s2: %w", err)
		}
		return dst[:n+len(out)], nil
	case encoding.CodecZstd:
		_, dec := c.zstd()
		dst = slices.Grow(dst, size)
		out, err := dec.DecodeAll(src, dst[:n:n+size])
		if err != nil || (exact && len(out) != n+size) {
			return dst[:n], fmt.Errorf("zstd value of %d bytes where %d are expected (%v)", len(out)-n, size, err)
		}
		return out, nil
	}
	return dst[:n], fmt.Errorf("unknown value codec %d", codec)
}

// account records a string value of logical bytes written as stored bytes.
func (c *valueCodec) account(logical, stored int) {
	c.logical.Add(int64(logical))
	c.stored.Add(int64(stored))
}

// ratio is logical over stored bytes of the string values written (1 before any).
func (c *valueCodec) ratio() float64 {
	l, s := c.baseLogical+c.logical.Load(), c.baseStored+c.stored.Load()
	if l == 0 || s == 0 {
		return 1
	}
	return float64(l) / float64(s)
}

// isInlineString says whether an encoded metadata value is a string with its value inline.
func isInlineString(v []byte) bool {
	return len(v) >= encoding.MetaHeaderLen && encoding.Type(v[1]) == encoding.TypeString &&
		v[2]&encoding.FlagChunked == 0
}

// storedMeta returns the form of the encoded metadata plain to store in Pebble: plain itself,
// or, for an inline string value worth compressing, a copy in *buf with the value compressed
// and the codec in the flags. It counts the value for the compression ratio.
func (c *valueCodec) storedMeta(plain []byte, buf *[]byte) []byte {
	if !isInlineString(plain) {
		return plain
	}
	value := plain[encoding.MetaHeaderLen:]
	out := append((*buf)[:0], plain[:encoding.MetaHeaderLen]...)
	out, codec := c.compress(out, value)
	*buf = out
	if codec == encoding.CodecNone {
		c.account(len(value), len(value))
		return plain
	}
	out[2] = out[2]&^encoding.FlagCodecMask | codec
	c.account(len(value), len(out)-encoding.MetaHeaderLen)
	return out
}

// plainMeta appends to dst the plain form of a metadata value read from Pebble: an inline
// string stored compressed is decompressed and its codec cleared; any other value is
// returned as it is (and nothing appended).
func (c *valueCodec) plainMeta(dst, stored []byte) ([]byte, []byte, error) {
	if !isInlineString(stored) || stored[2]&encoding.FlagCodecMask == 0 {
		return dst, stored, nil
	}
	size := binary.BigEndian.Uint64(stored[19:])
	if size > encoding.InlineMax {
		return dst, nil, fmt.Errorf("inline string of %d bytes", size)
	}
	n := len(dst)
	dst = append(dst, stored[:encoding.MetaHeaderLen]...)
	dst, err := c.decompress(dst, stored[2]&encoding.FlagCodecMask, stored[encoding.MetaHeaderLen:], int(size))
	if err != nil {
		return dst[:n], nil, err
	}
	dst[n+2] &^= encoding.FlagCodecMask
	return dst, dst[n:len(dst):len(dst)], nil
}

// chunkFlag is the flag a new chunked string of size bytes gets: FlagChunkCodec when a value
// that long is compressed, nothing otherwise (its chunks are then stored plain, without the
// codec byte).
func (c *valueCodec) chunkFlag(size int64) uint8 {
	if uint8(c.codec.Load()) != encoding.CodecNone && size >= c.threshold.Load() {
		return encoding.FlagChunkCodec
	}
	return 0
}

// appendChunk appends the stored form of a chunk of a FlagChunkCodec string: a codec byte,
// then the chunk compressed with the configured codec, or plain when that does not pay.
func (c *valueCodec) appendChunk(dst, chunk []byte) []byte {
	n := len(dst)
	dst = append(dst, encoding.CodecNone)
	dst, codec := c.compressWith(uint8(c.codec.Load()), dst, chunk)
	if codec == encoding.CodecNone {
		dst = append(dst, chunk...)
	}
	dst[n] = codec
	c.account(len(chunk), len(dst)-n)
	return dst
}

// plainChunk returns the plain bytes of a chunk of a FlagChunkCodec string as stored: a
// sub-slice of stored when it is plain, else decompressed and appended to dst (returned too).
func (c *valueCodec) plainChunk(dst, stored []byte) ([]byte, []byte, error) {
	if len(stored) == 0 {
		return dst, nil, fmt.Errorf("chunk without its codec byte")
	}
	if stored[0] == encoding.CodecNone {
		return dst, stored[1:], nil
	}
	n := len(dst)
	dst, err := c.decompress(dst, stored[0], stored[1:], -encoding.ChunkSize)
	if err != nil {
		return dst, nil, err
	}
	return dst, dst[n:len(dst):len(dst)], nil
}

// plainChunk returns the plain bytes of a chunk of key read from Pebble (nil: missing), for a
// string whose metadata flags are flags. A decompressed chunk lives in the Txn's chunk
// scratch until the next call.
func (t *Txn) plainChunk(key []byte, flags uint8, stored []byte) ([]byte, error) {
	if flags&encoding.FlagChunkCodec == 0 || stored == nil {
		return stored, nil
	}
	var plain []byte
	var err error
	if t.chunkBuf, plain, err = t.e.values.plainChunk(t.chunkBuf[:0], stored); err != nil {
		return nil, corruptf("chunk of %q: %v", key, err)
	}
	return plain, nil
}

// setChunk writes chunk at key k of a chunked string whose metadata flags are flags: with the
// codec byte, and compressed when that pays, if the string has FlagChunkCodec.
func (t *Txn) setChunk(k []byte, flags uint8, chunk []byte) {
	if flags&encoding.FlagChunkCodec != 0 {
		t.cbuf = t.e.values.appendChunk(t.cbuf[:0], chunk)
		chunk = t.cbuf
	} else {
		t.e.values.account(len(chunk), len(chunk))
	}
	t.set(k, chunk)
}
