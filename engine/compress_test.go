package engine

import (
	"bytes"
	"io"
	"log/slog"
	"math/rand/v2"
	"testing"

	"github.com/stratadb/strata/encoding"
)

func openCompressed(tb testing.TB, dir string, codec uint8, threshold, maxMemory int64) *Engine {
	tb.Helper()
	e, err := Open(Options{Dir: dir, ValueCompression: codec, ValueCompressionThreshold: threshold,
		MaxMemory: maxMemory, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { e.Close() })
	return e
}

// TestCompressedStringModel runs the string model (random SET, SETRANGE, APPEND, SETBIT,
// BITFIELD, GETRANGE, BITCOUNT, BITPOS, GETBIT across the inline limit and chunk boundaries)
// with every value compressed, once with a hot tier that serves reads and once with a tier too
// small to hold anything, so every read decompresses what Pebble holds.
func TestCompressedStringModel(t *testing.T) {
	for _, codec := range []struct {
		name  string
		codec uint8
	}{{"s2", encoding.CodecS2}, {"zstd", encoding.CodecZstd}} {
		for _, tier := range []struct {
			name   string
			budget int64
		}{{"tier", 0}, {"no-tier", 1}} {
			t.Run(codec.name+"/"+tier.name, func(t *testing.T) {
				e := openCompressed(t, t.TempDir(), codec.codec, 1, tier.budget)
				runStringEditModel(t, e, 300)
				if r := e.Stats().CompressionRatio; r < 1.2 {
					t.Errorf("compression ratio %.2f: the model's values were not compressed", r)
				}
			})
		}
	}
}

// rawMeta reads key's metadata as Pebble stores it.
func rawMeta(t *testing.T, e *Engine, key []byte) []byte {
	t.Helper()
	v, closer, err := e.pdb.Get(encoding.AppendMetaKey(nil, e.dbmap[0], key))
	if err != nil {
		t.Fatalf("raw metadata of %q: %v", key, err)
	}
	defer closer.Close()
	return append([]byte(nil), v...)
}

func setString(t *testing.T, e *Engine, key, value []byte) {
	t.Helper()
	inTxn(t, e, 0, func(tx *Txn) error { _, err := tx.Set(key, value, SetArgs{}); return err })
}

func getString(t *testing.T, e *Engine, key []byte) []byte {
	t.Helper()
	var got []byte
	inTxn(t, e, 0, func(tx *Txn) error {
		v, _, err := tx.Get(key)
		got = append([]byte(nil), v...)
		return err
	})
	return got
}

// TestCompressionNamesItsCodec writes compressible values with zstd (inline) and S2 (chunked),
// checks what Pebble holds, then reopens the directory with compression off: every value
// still reads back, and a partial write there stores a plain chunk beside compressed ones.
func TestCompressionNamesItsCodec(t *testing.T) {
	dir := t.TempDir()
	inline := bytes.Repeat([]byte("compressible json-ish text; "), 300)[:8000]
	big := bytes.Repeat([]byte("<div class=\"card\">html</div>"), 4000)[:100_000]
	random := make([]byte, 8000)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	e := openCompressed(t, dir, encoding.CodecZstd, 1024, 0)
	setString(t, e, []byte("inline"), inline)
	setString(t, e, []byte("random"), random)
	e.SetValueCompression(encoding.CodecS2, 1024)
	setString(t, e, []byte("big"), big)
	setString(t, e, []byte("small"), []byte("short values stay plain"))

	raw := rawMeta(t, e, []byte("inline"))
	if raw[2]&encoding.FlagCodecMask != encoding.CodecZstd || len(raw) > len(inline)/4 {
		t.Fatalf("inline value stored with flags %#x in %d bytes", raw[2], len(raw))
	}
	if raw := rawMeta(t, e, []byte("random")); raw[2]&encoding.FlagCodecMask != 0 {
		t.Fatalf("incompressible value stored compressed (flags %#x)", raw[2])
	}
	if raw := rawMeta(t, e, []byte("small")); raw[2]&encoding.FlagCodecMask != 0 {
		t.Fatalf("value under the threshold stored compressed (flags %#x)", raw[2])
	}
	var m encoding.Meta
	if err := encoding.DecodeMeta(rawMeta(t, e, []byte("big")), &m); err != nil || m.Flags != encoding.FlagChunked|encoding.FlagChunkCodec {
		t.Fatalf("chunked value flags %#x, %v", m.Flags, err)
	}
	// An export decodes metadata straight from Pebble: stringValue still gives plain bytes.
	inTxn(t, e, 0, func(tx *Txn) error {
		var m encoding.Meta
		if err := encoding.DecodeMeta(rawMeta(t, e, []byte("inline")), &m); err != nil {
			return err
		}
		v, err := tx.stringValue([]byte("inline"), &m)
		if err == nil && !bytes.Equal(v, inline) {
			t.Errorf("export path: value differs")
		}
		return err
	})
	if r := e.Stats().CompressionRatio; r < 3 {
		t.Errorf("compression ratio %.2f after writing compressible values", r)
	}
	ratio := e.Stats().CompressionRatio
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}

	e = openCompressed(t, dir, encoding.CodecNone, 0, 0)
	if r := e.Stats().CompressionRatio; r != ratio {
		t.Errorf("compression ratio %.3f after reopening, %.3f before", r, ratio)
	}
	for key, want := range map[string][]byte{"inline": inline, "random": random, "big": big} {
		if got := getString(t, e, []byte(key)); !bytes.Equal(got, want) {
			t.Errorf("%s after reopening without compression: %d bytes, differs", key, len(got))
		}
	}
	// The warm-up fills the tier with plain values.
	e.warmUp()
	cached, ok := e.hot.peek(encoding.AppendMetaKey(nil, e.dbmap[0], []byte("inline")), nil)
	if !ok || cached[2]&encoding.FlagCodecMask != 0 || !bytes.Equal(cached[encoding.MetaHeaderLen:], inline) {
		t.Errorf("the tier holds the inline value compressed, or not at all (%v)", ok)
	}
	inTxn(t, e, 0, func(tx *Txn) error {
		_, err := tx.SetRange([]byte("big"), 50_000, []byte("PLAIN"), 1<<29)
		return err
	})
	copy(big[50_000:], "PLAIN")
	if got := getString(t, e, []byte("big")); !bytes.Equal(got, big) {
		t.Errorf("big value after a plain partial write differs")
	}
	inTxn(t, e, 0, func(tx *Txn) error {
		got, err := tx.GetRange([]byte("big"), 49_990, 50_010)
		if err == nil && !bytes.Equal(got, big[49_990:50_011]) {
			t.Errorf("GETRANGE across the rewritten chunk: %q", got)
		}
		return err
	})
}

// TestCompressionCorruptValue: a compressed value that does not decode is reported as
// corruption, never a panic or a huge allocation.
func TestCompressionCorruptValue(t *testing.T) {
	e := openCompressed(t, t.TempDir(), encoding.CodecS2, 1, 1)
	key := []byte("k")
	setString(t, e, key, bytes.Repeat([]byte("abc"), 1000))
	raw := rawMeta(t, e, key)
	raw = raw[:len(raw)-3]
	if err := e.pdb.Set(encoding.AppendMetaKey(nil, e.dbmap[0], key), raw, nil); err != nil {
		t.Fatal(err)
	}
	tx := e.NewTxn()
	tx.Begin(0, LockRead)
	tx.AddKey(key)
	if err := tx.Lock(); err != nil {
		t.Fatal(err)
	}
	defer tx.Abort()
	if _, _, err := tx.Get(key); err == nil {
		t.Fatal("a truncated compressed value read without error")
	}
}

// FuzzValueCodec decodes arbitrary bytes as a stored inline string and as a stored chunk
// (errors, never panics), and round-trips them through both codecs.
func FuzzValueCodec(f *testing.F) {
	f.Add([]byte("hello hello hello hello"), uint8(1))
	f.Add([]byte{}, uint8(2))
	f.Add(bytes.Repeat([]byte{0}, 5000), uint8(2))
	var c valueCodec
	c.configure(encoding.CodecS2, 1)
	f.Fuzz(func(t *testing.T, data []byte, codec uint8) {
		codec = codec%2 + 1
		c.plainChunk(nil, data)
		meta := encoding.AppendMetaHeader(nil, &encoding.Meta{Type: encoding.TypeString, Flags: codec, Count: uint64(len(data))})
		c.plainMeta(nil, append(meta, data...))
		if len(data) > encoding.ChunkSize {
			data = data[:encoding.ChunkSize]
		}
		c.codec.Store(uint32(codec))
		stored := c.appendChunk(nil, data)
		_, plain, err := c.plainChunk(nil, stored)
		if err != nil || !bytes.Equal(plain, data) {
			t.Fatalf("chunk round trip with codec %d: %v", codec, err)
		}
	})
}
