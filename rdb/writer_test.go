package rdb

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// Every fixture, rewritten at every target version, reads back with the same content.
func TestWriterRoundTripFixtures(t *testing.T) {
	for _, path := range fixtureFiles(t) {
		if strings.Contains(path, "corrupt_") {
			continue
		}
		src := readFile(t, path)
		want := modelOf(t, src)
		for k, v := range want.keys {
			if strings.HasPrefix(v, "module ") {
				delete(want.keys, k) // module values are skipped, not written
			}
		}
		for v := MinWriteVersion; v <= MaxWriteVersion; v++ {
			for _, compress := range []bool{true, false} {
				name := fmt.Sprintf("%s/v%d/lzf=%v", filepath.Base(path), v, compress)
				out, err := copyDump(t, src, &WriterOptions{Version: v, DisableCompression: !compress,
					SpillThreshold: 256, TempDir: t.TempDir()})
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				got := modelOf(t, out)
				if d := want.diff(got); d != "" {
					t.Fatalf("%s:\n%s", name, d)
				}
			}
		}
	}
}

// writeEvents writes a list of events and returns the file.
func writeEvents(t testing.TB, opts *WriterOptions, evs ...Event) ([]byte, error) {
	t.Helper()
	var out bytes.Buffer
	w, err := NewWriter(&out, opts)
	if err != nil {
		return nil, err
	}
	for i := range evs {
		if err := w.Write(&evs[i]); err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func keyEv(name string, typ ValueType, n int64) Event {
	return Event{Kind: KindKey, Key: []byte(name), Header: KeyHeader{Type: typ, Len: n, Idle: -1, Freq: -1}}
}

func endEv(name string) Event { return Event{Kind: KindEndKey, Key: []byte(name)} }

// keyTypes reads a file and returns each key's RDB type byte and element count.
func keyTypes(t testing.TB, data []byte) (map[string]uint8, map[Kind]int) {
	t.Helper()
	types, counts := map[string]uint8{}, map[Kind]int{}
	eachEvent(t, mustReader(t, data), func(ev *Event) error {
		if ev.Kind == KindKey {
			types[string(ev.Key)] = ev.Header.RDBType
		}
		counts[ev.Kind]++
		return nil
	})
	return types, counts
}

// The encodings chosen at each version follow Redis's thresholds.
func TestWriterEncodingChoice(t *testing.T) {
	mk := func(n int, kind Kind, gen func(i int) Event) []Event {
		var evs []Event
		for i := 0; i < n; i++ {
			ev := gen(i)
			ev.Kind = kind
			evs = append(evs, ev)
		}
		return evs
	}
	member := func(i int) Event { return Event{Value: []byte(fmt.Sprintf("m%d", i))} }
	intMember := func(i int) Event { return Event{Value: []byte(fmt.Sprint(i * 7))} }
	field := func(i int) Event {
		return Event{Field: []byte(fmt.Sprintf("f%d", i)), Value: []byte("v")}
	}
	ttlField := func(i int) Event {
		ev := field(i)
		if i%2 == 0 {
			ev.ExpireAt = 4102444800000 + int64(i)
		}
		return ev
	}
	zmember := func(i int) Event { return Event{Value: []byte(fmt.Sprintf("m%d", i)), Score: float64(i) / 3} }
	cases := []struct {
		name    string
		typ     ValueType
		kind    Kind
		n       int
		gen     func(int) Event
		want    map[int]uint8 // version -> RDB type
		wantErr map[int]bool
	}{
		{"small-set", TypeSet, KindSetMember, 10, member, map[int]uint8{9: 2, 10: 2, 11: 20, 12: 20}, nil},
		{"big-set", TypeSet, KindSetMember, 200, member, map[int]uint8{9: 2, 10: 2, 11: 2, 12: 2}, nil},
		{"int-set", TypeSet, KindSetMember, 512, intMember, map[int]uint8{9: 11, 10: 11, 11: 11, 12: 11}, nil},
		{"int-set-big", TypeSet, KindSetMember, 513, intMember, map[int]uint8{9: 2, 10: 2, 11: 2, 12: 2}, nil},
		{"small-zset", TypeZSet, KindZSetMember, 128, zmember, map[int]uint8{9: 12, 10: 17, 11: 17, 12: 17}, nil},
		{"big-zset", TypeZSet, KindZSetMember, 129, zmember, map[int]uint8{9: 5, 10: 5, 11: 5, 12: 5}, nil},
		{"small-hash", TypeHash, KindHashField, 128, field, map[int]uint8{9: 13, 10: 16, 11: 16, 12: 16}, nil},
		{"big-hash", TypeHash, KindHashField, 129, field, map[int]uint8{9: 4, 10: 4, 11: 4, 12: 4}, nil},
		{"ttl-hash", TypeHash, KindHashField, 10, ttlField, map[int]uint8{12: 25}, map[int]bool{9: true, 10: true, 11: true}},
		{"big-ttl-hash", TypeHash, KindHashField, 300, ttlField, map[int]uint8{12: 24}, map[int]bool{9: true, 10: true, 11: true}},
		{"list", TypeList, KindListItem, 3000, member, map[int]uint8{9: 14, 10: 18, 11: 18, 12: 18}, nil},
	}
	for _, tc := range cases {
		for v := MinWriteVersion; v <= MaxWriteVersion; v++ {
			for _, hint := range []int64{-1, int64(tc.n)} {
				evs := append([]Event{keyEv("k", tc.typ, hint)}, mk(tc.n, tc.kind, tc.gen)...)
				evs = append(evs, endEv("k"))
				data, err := writeEvents(t, &WriterOptions{Version: v, SpillThreshold: 100, TempDir: t.TempDir()}, evs...)
				if tc.wantErr[v] {
					if !errors.Is(err, ErrNotRepresentable) {
						t.Fatalf("%s v%d: want ErrNotRepresentable, got %v", tc.name, v, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s v%d: %v", tc.name, v, err)
				}
				types, counts := keyTypes(t, data)
				if types["k"] != tc.want[v] {
					t.Fatalf("%s v%d hint %d: type %d, want %d", tc.name, v, hint, types["k"], tc.want[v])
				}
				if counts[tc.kind] != tc.n {
					t.Fatalf("%s v%d: read back %d elements, want %d", tc.name, v, counts[tc.kind], tc.n)
				}
			}
		}
	}
}

func TestWriterRefusals(t *testing.T) {
	fn := Event{Kind: KindFunction, Value: []byte("#!lua name=x\nredis.register_function('f', function() return 1 end)")}
	if _, err := writeEvents(t, &WriterOptions{Version: 9}, fn); !errors.Is(err, ErrNotRepresentable) {
		t.Fatalf("function at v9: %v", err)
	}
	if _, err := writeEvents(t, &WriterOptions{Version: 10}, fn); err != nil {
		t.Fatalf("function at v10: %v", err)
	}
	stream := func(active int64, maxDel StreamID) []Event {
		return []Event{keyEv("s", TypeStream, -1),
			{Kind: KindStreamEntry, StreamID: StreamID{5, 0}, Fields: [][]byte{[]byte("a"), []byte("1")}},
			{Kind: KindStreamMeta, Stream: StreamMeta{Length: 1, LastID: StreamID{5, 0}, FirstID: StreamID{5, 0},
				MaxDeletedID: maxDel, EntriesAdded: 1}},
			{Kind: KindStreamGroup, Group: StreamGroup{Name: []byte("g"), EntriesRead: -1}},
			{Kind: KindStreamConsumer, Consumer: StreamConsumer{Name: []byte("c"), SeenTime: 100, ActiveTime: active}},
			endEv("s")}
	}
	if _, err := writeEvents(t, &WriterOptions{Version: 10}, stream(200, StreamID{})...); !errors.Is(err, ErrNotRepresentable) {
		t.Fatalf("active time at v10: %v", err)
	}
	for _, v := range []int{10, 11} {
		if _, err := writeEvents(t, &WriterOptions{Version: v}, stream(100, StreamID{})...); err != nil {
			t.Fatalf("equal active time at v%d: %v", v, err)
		}
	}
	if _, err := writeEvents(t, &WriterOptions{Version: 10, AllowLoss: true}, stream(200, StreamID{})...); err != nil {
		t.Fatalf("AllowLoss: %v", err)
	}
	if _, err := writeEvents(t, &WriterOptions{Version: 9}, stream(100, StreamID{3, 0})...); !errors.Is(err, ErrNotRepresentable) {
		t.Fatalf("max deleted ID at v9: %v", err)
	}
	read := stream(100, StreamID{})
	read[3].Group.EntriesRead = 1
	if _, err := writeEvents(t, &WriterOptions{Version: 9}, read...); !errors.Is(err, ErrNotRepresentable) {
		t.Fatalf("entries read at v9: %v", err)
	}
	if _, err := writeEvents(t, &WriterOptions{Version: 9, AllowLoss: true}, read...); err != nil {
		t.Fatalf("entries read at v9 with AllowLoss: %v", err)
	}
	if _, err := writeEvents(t, &WriterOptions{Version: 13}); !errors.Is(err, ErrVersion) {
		t.Fatalf("v13: %v", err)
	}
	// Out of order events.
	bad := [][]Event{
		{{Kind: KindListItem, Value: []byte("x")}},
		{keyEv("k", TypeList, -1), {Kind: KindSetMember, Value: []byte("x")}},
		{keyEv("k", TypeSet, -1), endEv("k")},
		{keyEv("k", TypeSet, 2), {Kind: KindSetMember, Value: []byte("x")}, endEv("k")},
	}
	for i, evs := range bad {
		_, err := writeEvents(t, nil, evs...)
		if !errors.Is(err, ErrEventOrder) && !errors.Is(err, ErrNotRepresentable) {
			t.Fatalf("case %d: %v", i, err)
		}
	}
}
