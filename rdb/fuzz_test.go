package rdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"testing"
)

// allocBound is what reading n bytes of input may allocate: fixed buffers, plus what the
// input itself justifies (an LZF string can expand lzfMaxExpansion times).
func allocBound(n int) uint64 { return 4<<20 + uint64(n)*(2*lzfMaxExpansion+64) }

func totalAlloc() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.TotalAlloc
}

// drain reads every event; it reports whether the input read to its end.
func drain(r *Reader) (bool, error) {
	for {
		if _, err := r.Next(); err != nil {
			if err == io.EOF {
				return true, nil
			}
			return false, err
		}
	}
}

func FuzzReader(f *testing.F) {
	for _, path := range fixtureFiles(f) {
		f.Add(readFile(f, path))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		before := totalAlloc()
		r, err := NewReader(bytes.NewReader(data), nil)
		if err != nil {
			return
		}
		ok, err := drain(r)
		if got := totalAlloc() - before; got > allocBound(len(data)) {
			t.Fatalf("reading %d bytes allocated %d", len(data), got)
		}
		if !ok {
			if asCorrupt(err) == nil {
				t.Fatalf("error without a location: %v", err)
			}
			return
		}
		// Whatever reads cleanly must survive the Writer at the latest version with the
		// same content (unless the Writer refuses it as not representable).
		want, err := modelFrom(mustReader(t, data))
		if err != nil {
			t.Fatal(err)
		}
		out, err := copyDump(t, data, &WriterOptions{Version: MaxWriteVersion, TempDir: t.TempDir(), SpillThreshold: 64})
		if errors.Is(err, ErrNotRepresentable) || errors.Is(err, ErrEventOrder) {
			return
		}
		if err != nil {
			t.Fatalf("writer: %v", err)
		}
		got, err := modelFrom(mustReader(t, out))
		if err != nil {
			t.Fatalf("reading the Writer's output: %v", err)
		}
		for k, v := range want.keys {
			if len(v) > 7 && v[:7] == "module " {
				delete(want.keys, k)
			}
		}
		if d := want.diff(got); d != "" {
			t.Fatalf("rewritten content differs:\n%s", d)
		}
	})
}

// dumpSeeds turns every key of the fixtures into a DUMP payload body (type and value).
func dumpSeeds(f *testing.F) [][]byte {
	var seeds [][]byte
	enc, err := NewDumpEncoder(&WriterOptions{Version: MaxWriteVersion})
	if err != nil {
		f.Fatal(err)
	}
	for _, path := range fixtureFiles(f) {
		r, err := NewReader(bytes.NewReader(readFile(f, path)), nil)
		if err != nil {
			f.Fatal(err)
		}
		for {
			ev, err := r.Next()
			if err != nil {
				break
			}
			switch ev.Kind {
			case KindAux, KindSelectDB, KindResizeDB, KindSlotInfo, KindFunction, KindModuleSkipped, KindEOF:
				continue
			}
			if err := enc.Write(&ev); err != nil {
				break
			}
			if ev.Kind == KindEndKey {
				p, err := enc.AppendPayload(nil)
				if err == nil {
					seeds = append(seeds, p[:len(p)-dumpFooterSize])
				}
			}
		}
	}
	return seeds
}

// FuzzDumpPayload decodes payloads whose footer the fuzzer cannot get wrong (the version is
// taken from the input's first byte and the CRC is computed), so that it explores the
// value decoders; a second pass feeds the raw input to CheckDumpPayload.
func FuzzDumpPayload(f *testing.F) {
	for _, s := range dumpSeeds(f) {
		f.Add(byte(10), s)
	}
	f.Add(byte(80), []byte{typeValkeyHash2, 1, 1, 'a', 1, 'b', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, version byte, body []byte) {
		_, _ = CheckDumpPayload(body)
		p := append([]byte(nil), body...)
		p = binary.LittleEndian.AppendUint16(p, uint16(version))
		p = binary.LittleEndian.AppendUint64(p, CRC64(0, p))
		before := totalAlloc()
		r, err := NewDumpReader([]byte("key"), p, nil)
		if err != nil {
			if !errors.Is(err, ErrDumpPayload) {
				t.Fatalf("unexpected error: %v", err)
			}
			return
		}
		ok, err := drain(r)
		if got := totalAlloc() - before; got > allocBound(len(p)) {
			t.Fatalf("decoding %d bytes allocated %d", len(p), got)
		}
		if !ok && asCorrupt(err) == nil {
			t.Fatalf("error without a location: %v", err)
		}
	})
}
