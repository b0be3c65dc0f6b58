package rdb

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// Every fixture reads to the end; the two corrupt ones fail with an offset and a key.
func TestFixturesRead(t *testing.T) {
	for _, path := range fixtureFiles(t) {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			data := readFile(t, path)
			lines, err := readEvents(data, nil, 0)
			if strings.HasPrefix(name, "corrupt_") {
				ce := asCorrupt(err)
				if ce == nil || !errors.Is(err, ErrCorrupt) {
					t.Fatalf("want a CorruptError, got %v", err)
				}
				if !ce.InKey || ce.Key == "" || ce.Offset <= 0 || ce.Offset >= int64(len(data)) {
					t.Fatalf("error lacks a key or an offset: %v", err)
				}
				if !strings.Contains(err.Error(), "at offset ") || !strings.Contains(err.Error(), "(key ") {
					t.Fatalf("message lacks offset or key: %v", err)
				}
				t.Logf("%v", err)
				return
			}
			if err != nil {
				t.Fatalf("%v\nafter:\n%s", err, strings.Join(lines[max(0, len(lines)-5):], "\n"))
			}
			if last := lines[len(lines)-1]; !strings.HasPrefix(last, "eof") {
				t.Fatalf("no eof event, last: %s", last)
			}
		})
	}
}

// The shared fixtures, where the checkout has them beside it, read like the copies (this
// catches files added there later); CI's clean checkout may not have them.
func TestSharedFixtures(t *testing.T) {
	files, _ := filepath.Glob("../../shared/testdata/rdb/*/*.rdb")
	if len(files) == 0 {
		t.Skip("no ../../shared/testdata/rdb beside this checkout")
	}
	for _, path := range files {
		_, err := readEvents(readFile(t, path), nil, 0)
		if corrupt := strings.HasPrefix(filepath.Base(path), "corrupt_"); corrupt != (err != nil) {
			t.Errorf("%s: %v", path, err)
		}
	}
}

// Truncating a valid file anywhere gives an error, never a panic, and the error says where.
func TestTruncatedFixtures(t *testing.T) {
	for _, path := range fixtureFiles(t) {
		if strings.Contains(path, "corrupt_") {
			continue
		}
		data := readFile(t, path)
		end := endOffset(t, data)
		step := 1 + end/200
		for n := 0; n < end; n += step {
			_, err := readEvents(data[:n], nil, 0)
			if err == nil {
				t.Fatalf("%s cut at %d: no error", path, n)
			}
			if n >= 9 && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%s cut at %d: %v", path, n, err)
			}
		}
	}
}

func TestChecksumMismatch(t *testing.T) {
	data := bytes.Clone(readFile(t, "testdata/redis-assets/hash-ziplist.rdb"))
	data[len(data)-1] ^= 0xff
	_, err := readEvents(data, nil, 0)
	if !errors.Is(err, ErrChecksum) {
		t.Fatalf("want checksum error, got %v", err)
	}
	if _, err := readEvents(data, &ReaderOptions{IgnoreChecksum: true}, 0); err != nil {
		t.Fatalf("IgnoreChecksum: %v", err)
	}
}

// endOffset is where a file's RDB ends (some fixtures carry bytes after it).
func endOffset(t *testing.T, data []byte) int {
	r := mustReader(t, data)
	end := 0
	eachEvent(t, r, func(ev *Event) error {
		if ev.Kind == KindEOF {
			end = int(r.Offset())
		}
		return nil
	})
	return end
}

// Without knowing the input's size the reader reads the same (its large reads then grow
// as the bytes arrive).
func TestFixturesUnknownSize(t *testing.T) {
	for _, path := range fixtureFiles(t) {
		if strings.Contains(path, "corrupt_") {
			continue
		}
		data := readFile(t, path)
		r, err := NewReader(onlyReader{bytes.NewReader(data)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := modelFrom(r)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if d := modelOf(t, data).diff(got); d != "" {
			t.Fatalf("%s:\n%s", path, d)
		}
	}
}

// After the RDB preamble of an AOF, Rest hands over the command stream.
func TestRestAfterPreamble(t *testing.T) {
	data := readFile(t, "testdata/redis-assets/rdb-preamble.aof")
	r := mustReader(t, data)
	keys := 0
	eachEvent(t, r, func(ev *Event) error {
		if ev.Kind == KindKey {
			keys++
		}
		return nil
	})
	rest, err := io.ReadAll(r.Rest())
	if err != nil {
		t.Fatal(err)
	}
	if keys == 0 || !bytes.HasPrefix(rest, []byte("*")) || int(r.Offset())+len(rest) != len(data) {
		t.Fatalf("%d keys, rest %q", keys, rest)
	}
}
