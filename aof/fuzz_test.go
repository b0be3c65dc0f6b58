package aof

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// seedInputs returns the inputs of the datadriven tests whose command is cmd, decoded.
func seedInputs(t testing.TB, cmd string, decode func(string) []byte) [][]byte {
	files, _ := filepath.Glob("testdata/*.txt")
	var seeds [][]byte
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var cur []string
		in := false
		for _, line := range strings.Split(string(data), "\n") {
			switch {
			case !in && (line == cmd || strings.HasPrefix(line, cmd+" ")):
				in, cur = true, nil
			case in && line == "----":
				in = false
				seeds = append(seeds, decode(strings.Join(cur, "\n")))
			case in:
				cur = append(cur, line)
			}
		}
	}
	return seeds
}

// allocated returns the bytes allocated by f (the whole process's, so it is an upper bound).
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// FuzzCommandReader feeds arbitrary bytes to the reader: it must never panic, always end (with
// io.EOF or an error), and allocate no more than a constant plus a small multiple of the input:
// a length the input does not back costs nothing.
func FuzzCommandReader(f *testing.F) {
	for _, s := range seedInputs(f, "read", func(s string) []byte {
		b, err := decodeInput(s, "\r\n")
		if err != nil {
			f.Fatal(err)
		}
		return b
	}) {
		f.Add(s)
	}
	if b, err := os.ReadFile("testdata/rdb-preamble.aof"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("*1\r\n$999999999\r\nabc"))
	f.Add([]byte("*2147483647\r\n$0\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		const fixed = 1 << 20 // buffers, the reader, the test's own bookkeeping
		n := allocated(func() {
			r := NewReader(bytes.NewReader(data), "fuzz", Options{})
			for i := 0; ; i++ {
				if i > 2*len(data)+10 {
					t.Fatalf("more events than bytes")
				}
				ev, err := r.Next()
				if err != nil {
					if err != io.EOF && ev != nil {
						t.Fatalf("event with error")
					}
					return
				}
				if ev.Kind == KindPreamble {
					scanRDB(ev.Preamble)
				}
			}
		})
		if n > fixed+64*uint64(len(data)) {
			t.Fatalf("%d bytes allocated for %d bytes of input", n, len(data))
		}
	})
}

// FuzzManifest: ParseManifest never panics, and what it accepts, written back with AppendTo,
// parses to the same manifest.
func FuzzManifest(f *testing.F) {
	for _, s := range seedInputs(f, "manifest", func(s string) []byte { return decodeRaw(s, "\n") }) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err != nil || m.Base == nil && len(m.Incr) == 0 && len(m.History) == 0 {
			return // nothing to write back: an empty manifest is refused
		}
		out := m.AppendTo(nil)
		m2, err := ParseManifest(out)
		if err != nil {
			t.Fatalf("written back %q: %v", out, err)
		}
		if out2 := m2.AppendTo(nil); !bytes.Equal(out, out2) {
			t.Fatalf("round trip: %q then %q", out, out2)
		}
	})
}
