package rdb

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// onlyReader hides Len and Stat, so the Reader cannot know the input's size.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// bigDump writes a list, a set, a sorted set and a hash of n elements each, without
// announcing their sizes, to a file.
func bigDump(t *testing.T, n int, opts *WriterOptions) string {
	path := filepath.Join(t.TempDir(), "big.rdb")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := NewWriter(f, opts)
	if err != nil {
		t.Fatal(err)
	}
	val := []byte(strings.Repeat("v", 20))
	for _, typ := range []ValueType{TypeList, TypeSet, TypeZSet, TypeHash} {
		ev := Event{Kind: KindKey, Key: []byte(typ.String()), Header: KeyHeader{Type: typ, Len: -1, Idle: -1, Freq: -1}}
		if err := w.Write(&ev); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 0, 32)
		for i := 0; i < n; i++ {
			buf = strconv.AppendInt(append(buf[:0], "element:"...), int64(i), 10)
			ev := Event{Value: buf, Field: buf, Score: float64(i)}
			switch typ {
			case TypeList:
				ev.Kind = KindListItem
			case TypeSet:
				ev.Kind = KindSetMember
			case TypeZSet:
				ev.Kind = KindZSetMember
			case TypeHash:
				ev.Kind, ev.Value = KindHashField, val
			}
			if err := w.Write(&ev); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Write(&Event{Kind: KindEndKey}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// Large collections go through both the Writer and the Reader element by element: what
// either allocates stays far below the size of the data.
func TestLargeCollectionsStream(t *testing.T) {
	const n = 200_000
	before := totalAlloc()
	path := bigDump(t, n, &WriterOptions{SpillThreshold: 1 << 20, TempDir: t.TempDir()})
	wrote := totalAlloc() - before
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if wrote > uint64(st.Size())/2 {
		t.Fatalf("writing a %d-byte file allocated %d bytes", st.Size(), wrote)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	before = totalAlloc()
	r, err := NewReader(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[Kind]int{}
	// A plain loop: eachEvent's callback would make every event escape to the heap.
	for {
		ev, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		counts[ev.Kind]++
	}
	read := totalAlloc() - before
	t.Logf("file %d bytes; writer allocated %d, reader %d", st.Size(), wrote, read)
	if read > 1<<20 {
		t.Fatalf("reading a %d-byte file allocated %d bytes", st.Size(), read)
	}
	for _, k := range []Kind{KindListItem, KindSetMember, KindZSetMember, KindHashField} {
		if counts[k] != n {
			t.Fatalf("%s: %d events, want %d", k, counts[k], n)
		}
	}
}

// A huge string costs one copy of itself to read and none extra to write.
func TestHugeStringOneCopy(t *testing.T) {
	const size = 16 << 20
	val := make([]byte, size)
	rand.Read(val)
	var file bytes.Buffer
	w, err := NewWriter(&file, nil)
	if err != nil {
		t.Fatal(err)
	}
	file.Grow(size + 1024)
	before := totalAlloc()
	for _, ev := range []Event{keyEv("big", TypeString, -1), {Kind: KindString, Value: val}, endEv("big")} {
		if err := w.Write(&ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := totalAlloc() - before; got > 2<<20 {
		t.Fatalf("writing a %d-byte string allocated %d bytes", size, got)
	}
	before = totalAlloc()
	r, err := NewReader(bytes.NewReader(file.Bytes()), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	eachEvent(t, r, func(ev *Event) error {
		if ev.Kind == KindString {
			got = ev.Value
		}
		return nil
	})
	if alloc := totalAlloc() - before; alloc > size+(2<<20) {
		t.Fatalf("reading a %d-byte string allocated %d bytes", size, alloc)
	}
	if !bytes.Equal(got, val) {
		t.Fatal("string differs")
	}
}

// A corrupt length is refused before anything is allocated for it, whether or not the
// reader knows the input's size.
func TestCorruptLengthNoAllocation(t *testing.T) {
	file := []byte("REDIS0010\xfe\x00\x00\x01k\x81\x00\x00\x00\x01\x00\x00\x00\x00xyz")
	for _, known := range []bool{true, false} {
		var src io.Reader = bytes.NewReader(file)
		if !known {
			src = onlyReader{src}
		}
		before := totalAlloc()
		r, err := NewReader(src, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = drain(r)
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("size known %v: %v", known, err)
		}
		if got := totalAlloc() - before; got > 4<<20 {
			t.Fatalf("size known %v: a 4 GiB length allocated %d bytes", known, got)
		}
		t.Logf("size known %v: %v", known, err)
	}
}
