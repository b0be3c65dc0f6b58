package rdb

import (
	"bytes"
	"math/rand"
	"testing"
)

func TestCRC64CheckValue(t *testing.T) {
	// The check value Redis's own crc64 test uses (src/crc64.c).
	if got := CRC64(0, []byte("123456789")); got != 0xe9c6d914c4b8d9ca {
		t.Fatalf("CRC64(123456789) = %#x", got)
	}
	// Incremental updates agree with one pass, across the 8-byte slicing boundary.
	data := make([]byte, 1000)
	rand.New(rand.NewSource(1)).Read(data)
	whole := CRC64(0, data)
	for _, cut := range []int{0, 1, 7, 8, 9, 500, 999, 1000} {
		if got := CRC64(CRC64(0, data[:cut]), data[cut:]); got != whole {
			t.Fatalf("split at %d: %#x != %#x", cut, got, whole)
		}
	}
}

func TestLZFRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	var c lzfCompressor
	inputs := [][]byte{
		bytes.Repeat([]byte("a"), 1000),
		bytes.Repeat([]byte("abcdefgh"), 500),
		[]byte("hello hello hello hello hello world"),
	}
	for i := 0; i < 50; i++ {
		n := rng.Intn(20000)
		b := make([]byte, n)
		for j := range b {
			b[j] = "abcde"[rng.Intn(5)]
		}
		inputs = append(inputs, b)
	}
	for _, in := range inputs {
		comp, ok := c.appendCompressed(nil, in, len(in))
		if !ok {
			continue
		}
		out := make([]byte, len(in))
		if ok, detail := lzfDecompress(out, comp); !ok {
			t.Fatalf("decompress: %s", detail)
		}
		if !bytes.Equal(out, in) {
			t.Fatalf("round trip differs for %d bytes", len(in))
		}
	}
	// Random bytes do not compress: the limit is honoured.
	b := make([]byte, 4096)
	rng.Read(b)
	if _, ok := c.appendCompressed(nil, b, len(b)-4); ok {
		t.Fatalf("random data compressed below its size")
	}
}
