package tools

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stratadb/strata/rdb"
)

// inspectReading reads dumps as the inspect command does.
var inspectReading = &rdb.ReaderOptions{SkipEmptyKeys: true}

// TestGoldenFixtures runs inspect (table, JSON, CSV, and the JSON lines of --keys) and
// check on every fixture, and compares with testdata/golden/ (-rewrite regenerates).
func TestGoldenFixtures(t *testing.T) {
	for _, path := range fixturePaths(t) {
		name := filepath.Base(filepath.Dir(path)) + "-" + strings.TrimSuffix(filepath.Base(path), ".rdb")
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			for _, format := range []string{FormatTable, FormatJSON, FormatCSV} {
				fmt.Fprintf(&out, "== inspect --format %s\n", format)
				src, err := OpenRDB(path, inspectReading)
				if err != nil {
					t.Fatal(err)
				}
				rep, err := Inspect(src, InspectOptions{Top: 5, PrefixDepth: 1})
				src.Close()
				if err != nil {
					fmt.Fprintf(&out, "error: %v\n", err)
				}
				for _, w := range rep.Warnings {
					fmt.Fprintf(&out, "warning: %s\n", w)
				}
				if err := WriteReport(&out, rep, format); err != nil {
					t.Fatal(err)
				}
			}
			out.WriteString("== inspect --keys (lines cut at 1000 bytes)\n")
			src, err := OpenRDB(path, inspectReading)
			if err != nil {
				t.Fatal(err)
			}
			var keys bytes.Buffer
			if err := DumpKeys(&keys, src, DumpOptions{}); err != nil {
				fmt.Fprintf(&keys, "error: %v\n", err)
			}
			src.Close()
			for _, line := range strings.SplitAfter(keys.String(), "\n") {
				if !strings.HasPrefix(line, "error: ") && line != "" {
					var v any
					if err := json.Unmarshal([]byte(line), &v); err != nil {
						t.Fatalf("--keys printed invalid JSON (%v): %.200s", err, line)
					}
				}
				if len(line) > 1000 {
					line = fmt.Sprintf("%s... (%d bytes)\n", line[:1000], len(line))
				}
				out.WriteString(line)
			}
			out.WriteString("== check\n")
			rep := Check(path, CheckOptions{Now: time.Unix(1700000000, 0)})
			if err := rep.Write(&out); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, filepath.Join("testdata", "golden", name+".txt"), out.Bytes())
		})
	}
}

// filterDump holds keys across databases, types and prefixes.
func filterDump(t *testing.T) []byte {
	big := make([]string, 0, 400)
	for i := 0; i < 200; i++ {
		big = append(big, fmt.Sprintf("field:%03d", i), strings.Repeat("v", 30))
	}
	return newDump(t).
		key(0, "user:1", rdb.TypeHash, 0, hashFields("name", "ann", "age", "31", "city", "paris")...).
		key(0, "user:2", rdb.TypeHash, 0, hashFields(big...)...).
		str(0, "session:abc", "token", 1893456000000).
		str(0, "cache:x", noise(5000, 1), 0).
		key(0, "plain", rdb.TypeList, 0, items(rdb.KindListItem, "a", "b", "c")...).
		key(1, "user:3", rdb.TypeSet, 0, items(rdb.KindSetMember, "x", "y")...).
		key(1, "orders:1", rdb.TypeZSet, 1893456000000, zsetMembers("a", 1.0, "b", 2.5)...).
		key(2, "events", rdb.TypeStream, 0,
			rdb.Event{Kind: rdb.KindStreamEntry, StreamID: rdb.StreamID{Ms: 1, Seq: 1}, Fields: [][]byte{[]byte("f"), []byte("v")}},
			rdb.Event{Kind: rdb.KindStreamMeta, Stream: rdb.StreamMeta{Length: 1, LastID: rdb.StreamID{Ms: 1, Seq: 1},
				FirstID: rdb.StreamID{Ms: 1, Seq: 1}, EntriesAdded: 1}}).
		bytes()
}

func inspectBytes(t *testing.T, data []byte, opts InspectOptions) *Report {
	t.Helper()
	rep, err := Inspect(readerOf(t, data), opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func keyNames(keys []KeyStats) []string {
	var out []string
	for _, k := range keys {
		out = append(out, fmt.Sprintf("%d/%s", k.DB, k.Key))
	}
	slices.Sort(out)
	return out
}

func TestInspectFilters(t *testing.T) {
	data := filterDump(t)
	all := []string{"0/cache:x", "0/plain", "0/session:abc", "0/user:1", "0/user:2", "1/orders:1", "1/user:3", "2/events"}
	for _, c := range []struct {
		name string
		f    Filter
		want []string
	}{
		{"all", Filter{}, all},
		{"db 0", Filter{DBs: []int{0}}, all[:5]},
		{"db 1", Filter{DBs: []int{1}}, all[5:7]},
		{"db 7", Filter{DBs: []int{7}}, nil},
		{"match user:*", Filter{Match: "user:*"}, []string{"0/user:1", "0/user:2", "1/user:3"}},
		{"match class", Filter{Match: "user:[12]"}, []string{"0/user:1", "0/user:2"}},
		{"match negated class", Filter{Match: "user:[^12]"}, []string{"1/user:3"}},
		{"match ?", Filter{Match: "?????"}, []string{"0/plain"}},
		{"match is case-sensitive", Filter{Match: "USER:*"}, nil},
		{"type hash", Filter{Type: "hash"}, []string{"0/user:1", "0/user:2"}},
		{"type stream", Filter{Type: "stream"}, []string{"2/events"}},
		{"type module", Filter{Type: "module"}, nil},
		{"min size", Filter{MinSize: 1000}, []string{"0/cache:x", "0/user:2"}},
		{"min size 0", Filter{MinSize: 0}, all},
		{"combined", Filter{DBs: []int{0}, Match: "*:*", Type: "string"}, []string{"0/cache:x", "0/session:abc"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep := inspectBytes(t, data, InspectOptions{Filter: c.f, Top: 100, PrefixDepth: 1})
			for _, list := range [][]KeyStats{rep.TopBySize, rep.TopByElements, rep.TopByMemory} {
				if got := keyNames(list); !slices.Equal(got, c.want) {
					t.Fatalf("keys %v, want %v", got, c.want)
				}
			}
			if rep.Total.Keys != int64(len(c.want)) {
				t.Fatalf("total %d keys, want %d", rep.Total.Keys, len(c.want))
			}
			var sum, prefixSum Stats
			for _, g := range rep.Groups {
				sum.Keys, sum.Bytes, sum.Memory, sum.Elements, sum.Expiring = sum.Keys+g.Keys,
					sum.Bytes+g.Bytes, sum.Memory+g.Memory, sum.Elements+g.Elements, sum.Expiring+g.Expiring
			}
			for _, p := range rep.Prefixes {
				prefixSum.Keys += p.Keys
				prefixSum.Memory += p.Memory
			}
			if sum != rep.Total {
				t.Fatalf("groups add up to %+v, total is %+v", sum, rep.Total)
			}
			if prefixSum.Keys != rep.Total.Keys || prefixSum.Memory != rep.Total.Memory {
				t.Fatalf("prefixes add up to %+v, total is %+v", prefixSum, rep.Total)
			}
			// The key dump selects the same keys.
			var out bytes.Buffer
			if err := DumpKeys(&out, readerOf(t, data), DumpOptions{Filter: c.f}); err != nil {
				t.Fatal(err)
			}
			var dumped []string
			for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
				if line == "" {
					continue
				}
				var k struct {
					DB  int    `json:"db"`
					Key string `json:"key"`
				}
				if err := json.Unmarshal([]byte(line), &k); err != nil {
					t.Fatalf("%v: %s", err, line)
				}
				dumped = append(dumped, fmt.Sprintf("%d/%s", k.DB, k.Key))
			}
			slices.Sort(dumped)
			if !slices.Equal(dumped, c.want) {
				t.Fatalf("--keys dumped %v, want %v", dumped, c.want)
			}
		})
	}
}

func TestInspectTopAndTotals(t *testing.T) {
	rep := inspectBytes(t, filterDump(t), InspectOptions{Top: 2})
	if got := keyNames(rep.TopBySize); !slices.Equal(got, []string{"0/cache:x", "0/user:2"}) {
		t.Fatalf("top by size %v", got)
	}
	if rep.TopByElements[0].Elements != 200 || string(rep.TopByElements[0].Key) != "user:2" {
		t.Fatalf("top by elements %+v", rep.TopByElements[0])
	}
	if string(rep.TopByElements[1].Key) != "plain" || rep.TopByElements[1].Elements != 3 { // ties go by name
		t.Fatalf("second by elements %+v", rep.TopByElements[1])
	}
	if rep.Total.Keys != 8 || rep.Total.Expiring != 2 {
		t.Fatalf("totals %+v", rep.Total)
	}
	if !rep.Complete || rep.RDBVersion != 10 || !slices.Equal(rep.Databases, []int{0, 1, 2}) {
		t.Fatalf("report %+v", rep)
	}
	for _, k := range rep.TopByMemory {
		if k.Memory <= 0 || k.RedisEncoding == "" {
			t.Fatalf("key without a memory estimate: %+v", k)
		}
	}
}

func TestPrefixOf(t *testing.T) {
	for _, c := range []struct {
		key, sep string
		depth    int
		want     string
	}{
		{"user:1:name", ":", 1, "user:"},
		{"user:1:name", ":", 2, "user:1:"},
		{"user:1:name", ":", 3, "user:1:"},
		{"user:1", ":", 5, "user:"},
		{"plain", ":", 1, ""},
		{":lead", ":", 1, ":"},
		{"a::b::c", "::", 1, "a::"},
		{"a::b::c", "::", 2, "a::b::"},
		{"a.b.c", ":", 2, ""},
		{"a.b.c", ".", 2, "a.b."},
	} {
		if got := string(prefixOf([]byte(c.key), c.sep, c.depth)); got != c.want {
			t.Errorf("prefixOf(%q, %q, %d) = %q, want %q", c.key, c.sep, c.depth, got, c.want)
		}
	}
}

func TestInspectPrefixes(t *testing.T) {
	d := newDump(t)
	for i := 0; i < 30; i++ {
		d.str(0, fmt.Sprintf("p%02d:item:%d", i%10, i), strings.Repeat("v", 100+i), 0)
	}
	d.str(0, "loose", "x", 0)
	data := d.bytes()
	rep := inspectBytes(t, data, InspectOptions{Top: 3, PrefixDepth: 1})
	if rep.DistinctPrefixes != 11 || len(rep.Prefixes) != 3 || rep.PrefixesCapped {
		t.Fatalf("prefixes: %d distinct, %d listed, capped %v", rep.DistinctPrefixes, len(rep.Prefixes), rep.PrefixesCapped)
	}
	// p09: holds items 9, 19, 29, the longest values.
	if p := rep.Prefixes[0]; string(p.Prefix) != "p09:" || p.Keys != 3 {
		t.Fatalf("top prefix %q with %d keys", p.Prefix, p.Keys)
	}
	rep = inspectBytes(t, data, InspectOptions{Top: 100, PrefixDepth: 2, PrefixSep: ":"})
	if rep.DistinctPrefixes != 11 || string(rep.Prefixes[0].Prefix) != "p09:item:" {
		t.Fatalf("depth 2: %d distinct, first %q", rep.DistinctPrefixes, rep.Prefixes[0].Prefix)
	}
	rep = inspectBytes(t, data, InspectOptions{Top: 100, PrefixDepth: 1, MaxPrefixes: 4})
	if !rep.PrefixesCapped || rep.DistinctPrefixes != 4 || len(rep.Warnings) == 0 {
		t.Fatalf("capped: %v, %d distinct, warnings %q", rep.PrefixesCapped, rep.DistinctPrefixes, rep.Warnings)
	}
	var keys int64
	var other bool
	for _, p := range rep.Prefixes {
		keys += p.Keys
		other = other || string(p.Prefix) == OtherPrefix
	}
	if keys != 31 || !other {
		t.Fatalf("capped prefixes hold %d keys (other row: %v)", keys, other)
	}
	rep = inspectBytes(t, data, InspectOptions{PrefixDepth: 0})
	if len(rep.Prefixes) != 0 {
		t.Fatalf("depth 0 still counts prefixes: %+v", rep.Prefixes)
	}
	var out bytes.Buffer
	if err := WriteReport(&out, rep, FormatTable); err != nil || strings.Contains(out.String(), "prefixes") {
		t.Fatalf("depth 0 table mentions prefixes (%v):\n%s", err, out.String())
	}
}

func TestInspectBadOptions(t *testing.T) {
	data := filterDump(t)
	for _, opts := range []InspectOptions{
		{Filter: Filter{Type: "sortedset"}},
		{Filter: Filter{MinSize: -1}},
		{Filter: Filter{}, PrefixDepth: -1},
	} {
		if _, err := Inspect(readerOf(t, data), opts); err == nil {
			t.Errorf("%+v: no error", opts)
		}
	}
	if err := WriteReport(&bytes.Buffer{}, &Report{}, "yaml"); err == nil {
		t.Error("format yaml: no error")
	}
	if _, err := OpenRDB(t.TempDir(), nil); err == nil {
		t.Error("a directory opened as an RDB file")
	}
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "4096": 4096, "10kb": 10240, "10K": 10000,
		"1mb": 1 << 20, "2GB": 2 << 30, "5b": 5, " 7 ": 7} {
		if got, err := ParseByteSize(in); err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "1tb", "kb", "1.5mb", "99999999999999gb"} {
		if _, err := ParseByteSize(in); err == nil {
			t.Errorf("ParseByteSize(%q): no error", in)
		}
	}
}

// TestDumpKeysValues decodes the JSON lines of every type, binary text included.
func TestDumpKeysValues(t *testing.T) {
	binary := "\x00\xff\xfe bin"
	data := newDump(t).
		str(0, "s", "hello \"world\"\n\u2028", 0).
		str(0, "bin", binary, 1893456000000).
		str(0, binary, "binary key", 0).
		str(0, "base64:trick", "v", 0).
		key(0, "l", rdb.TypeList, 0, items(rdb.KindListItem, "a", "1", binary)...).
		key(0, "set", rdb.TypeSet, 0, items(rdb.KindSetMember, "m")...).
		key(0, "z", rdb.TypeZSet, 0, zsetMembers("a", 1.5, "b", -2.0)...).
		key(3, "h", rdb.TypeHash, 0, hashFields("f", "v", binary, "x", "base64:f", "y")...).
		bytes()
	var out bytes.Buffer
	if err := DumpKeys(&out, readerOf(t, data), DumpOptions{Filter: Filter{}}); err != nil {
		t.Fatal(err)
	}
	type line struct {
		DB       int             `json:"db"`
		Key      json.RawMessage `json:"key"`
		Type     string          `json:"type"`
		ExpireAt int64           `json:"expire_at_ms"`
		Value    json.RawMessage `json:"value"`
	}
	got := map[string]line{}
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var x line
		if err := json.Unmarshal([]byte(l), &x); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		got[decodeJSONText(t, x.Key)] = x
	}
	b64 := base64.StdEncoding.EncodeToString([]byte(binary))
	for key, want := range map[string]string{
		"s":            `"hello \"world\"\n\u2028"`,
		"bin":          `{"base64":"` + b64 + `"}`,
		binary:         `"binary key"`,
		"base64:trick": `"v"`,
		"l":            `["a","1",{"base64":"` + b64 + `"}]`,
		"set":          `["m"]`,
		"z":            `[["b",-2],["a",1.5]]`, // a small sorted set is a listpack in score order
		"h":            `{"f":"v","base64:` + b64 + `":"x","base64:` + base64.StdEncoding.EncodeToString([]byte("base64:f")) + `":"y"}`,
	} {
		x, ok := got[key]
		if !ok {
			t.Fatalf("key %q missing from:\n%s", key, out.String())
		}
		if string(x.Value) != want {
			t.Errorf("key %q: value %s, want %s", key, x.Value, want)
		}
	}
	if got["bin"].ExpireAt != 1893456000000 || got["h"].DB != 3 || got["z"].Type != "zset" {
		t.Fatalf("attributes: %+v %+v %+v", got["bin"], got["h"], got["z"])
	}
}

// decodeJSONText undoes the binary-safe rule for a JSON value.
func decodeJSONText(t *testing.T, raw json.RawMessage) string {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s
	}
	var o struct {
		Base64 string `json:"base64"`
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		t.Fatalf("%s is neither a string nor base64", raw)
	}
	b, err := base64.StdEncoding.DecodeString(o.Base64)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDumpKeysBigValues writes values bigger than the flush size in pieces; they must
// come back whole, multi-byte characters across the piece boundaries included.
func TestDumpKeysBigValues(t *testing.T) {
	text := strings.Repeat("é€𐍈\"\\ab\x01", 40000) // multi-byte runes at every offset mod 4
	bin := strings.Repeat("\xff\x00\x80", 70001)
	data := newDump(t).str(0, "text", text, 0).str(0, "bin", bin, 0).
		key(0, "list", rdb.TypeList, 0, items(rdb.KindListItem, text, bin)...).bytes()
	var out bytes.Buffer
	if err := DumpKeys(&out, readerOf(t, data), DumpOptions{Filter: Filter{}}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines", len(lines))
	}
	var s struct{ Value json.RawMessage }
	for i, want := range []string{text, bin} {
		if err := json.Unmarshal([]byte(lines[i]), &s); err != nil {
			t.Fatal(err)
		}
		if got := decodeJSONText(t, s.Value); got != want {
			t.Fatalf("line %d: value of %d bytes, want %d", i, len(got), len(want))
		}
	}
	var l struct{ Value []json.RawMessage }
	if err := json.Unmarshal([]byte(lines[2]), &l); err != nil {
		t.Fatal(err)
	}
	if len(l.Value) != 2 || decodeJSONText(t, l.Value[0]) != text || decodeJSONText(t, l.Value[1]) != bin {
		t.Fatal("list elements did not come back whole")
	}
}

// TestDumpKeysMinSize holds keys back until their size is known: with the source's
// offset it decides early, without it at the end; both print the same.
func TestDumpKeysMinSize(t *testing.T) {
	d := newDump(t)
	var many []string
	for i := 0; i < 5000; i++ {
		many = append(many, noise(8, i))
	}
	d.key(0, "biglist", rdb.TypeList, 0, items(rdb.KindListItem, many...)...)
	d.key(0, "smalllist", rdb.TypeList, 0, items(rdb.KindListItem, "a", "b")...)
	d.str(0, "bigstring", noise(3000, 2), 0)
	d.str(0, "smallstring", "s", 0)
	data := d.bytes()
	f := Filter{MinSize: 2000}
	var early, late bytes.Buffer
	if err := DumpKeys(&early, readerOf(t, data), DumpOptions{Filter: f}); err != nil {
		t.Fatal(err)
	}
	if err := DumpKeys(&late, plainSource{readerOf(t, data)}, DumpOptions{Filter: f}); err != nil {
		t.Fatal(err)
	}
	if early.String() != late.String() {
		t.Fatal("the early and the late decision differ")
	}
	lines := strings.Split(strings.TrimSpace(early.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"biglist"`) || !strings.Contains(lines[1], `"bigstring"`) {
		t.Fatalf("min-size kept %d lines, want biglist and bigstring", len(lines))
	}
	var l struct{ Value []string }
	if err := json.Unmarshal([]byte(lines[0]), &l); err != nil || len(l.Value) != 5000 {
		t.Fatalf("biglist: %v, %d elements", err, len(l.Value))
	}
}

// TestDumpKeysStreams checks the stream layout on the Redis 5 fixture, which has groups,
// pending entries and consumers.
func TestDumpKeysStreams(t *testing.T) {
	src, err := OpenRDB(filepath.Join("..", "rdb", "testdata", "rdb-tools", "redis_50_with_streams.rdb"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var out bytes.Buffer
	if err := DumpKeys(&out, src, DumpOptions{Filter: Filter{Type: "stream"}}); err != nil {
		t.Fatal(err)
	}
	var s struct {
		Value struct {
			Entries []struct {
				ID     string
				Fields []string
			}
			Length uint64
			LastID string `json:"last_id"`
			Groups []struct {
				Name    string
				Pending []struct {
					ID            string
					DeliveryCount uint64 `json:"delivery_count"`
				}
				Consumers []struct {
					Name    string
					Pending []string
				}
			}
		}
	}
	if err := json.Unmarshal(out.Bytes(), &s); err != nil {
		t.Fatalf("%v:\n%s", err, out.String())
	}
	v := s.Value
	if len(v.Entries) != 4 || v.Length != 4 || v.LastID != "1528199178069-0" || len(v.Groups) != 2 {
		t.Fatalf("stream: %+v", v)
	}
	g := v.Groups[0]
	if g.Name != "mygroup" || len(g.Pending) != 1 || len(g.Consumers) != 2 || g.Consumers[1].Name != "Dave" ||
		len(g.Consumers[1].Pending) != 1 || g.Consumers[1].Pending[0] != g.Pending[0].ID {
		t.Fatalf("group: %+v", g)
	}
	if g := v.Groups[1]; g.Name != "mygroup2" || len(g.Pending) != 0 || g.Consumers == nil || len(g.Consumers) != 0 {
		t.Fatalf("second group: %+v", g)
	}
}

// hugeKeySource makes up a dump of one hash with n fields of 100 bytes, without a file,
// and counts the bytes such a file would have had as its offset.
type hugeKeySource struct {
	n, i  int64
	off   int64
	key   []byte
	field []byte
	value []byte
	step  int
}

func (s *hugeKeySource) Offset() int64 { return s.off }

func (s *hugeKeySource) Next() (rdb.Event, error) {
	h := rdb.KeyHeader{Type: rdb.TypeHash, Encoding: "hashtable", Len: s.n, Idle: -1, Freq: -1, RDBType: 4, Offset: 9}
	switch {
	case s.step == 0:
		s.step++
		s.off = 20
		return rdb.Event{Kind: rdb.KindKey, Key: s.key, Header: h}, nil
	case s.i < s.n:
		s.i++
		s.field = strconv.AppendInt(s.field[:0], s.i, 10)
		s.off += int64(len(s.field) + len(s.value) + 2)
		return rdb.Event{Kind: rdb.KindHashField, Key: s.key, Field: s.field, Value: s.value}, nil
	case s.step == 1:
		s.step++
		return rdb.Event{Kind: rdb.KindEndKey, Key: s.key, Header: h, Size: s.off - 9}, nil
	case s.step == 2:
		s.step++
		return rdb.Event{Kind: rdb.KindEOF}, nil
	}
	return rdb.Event{}, io.EOF
}

// TestHugeKeyMemoryIsBounded pushes a hash of a million fields (about 110 MB of data)
// through the inspector and the key dumper: what they allocate does not grow with it. A
// key held back for --min-size costs its JSON until its size in the dump reaches the
// minimum (1 MiB here), then streams.
func TestHugeKeyMemoryIsBounded(t *testing.T) {
	const n = 1 << 20
	value := []byte(strings.Repeat("v", 100))
	for _, c := range []struct {
		name  string
		bound uint64
		run   func(src EventSource) error
	}{
		{"inspect", 1 << 20, func(src EventSource) error {
			rep, err := Inspect(src, InspectOptions{PrefixDepth: 1})
			if err == nil && rep.TopByElements[0].Elements != n {
				err = fmt.Errorf("counted %d elements", rep.TopByElements[0].Elements)
			}
			return err
		}},
		{"keys", 1 << 20, func(src EventSource) error { return DumpKeys(io.Discard, src, DumpOptions{}) }},
		{"keys --min-size", 8 << 20, func(src EventSource) error {
			return DumpKeys(io.Discard, src, DumpOptions{Filter: Filter{MinSize: 1 << 20}})
		}},
	} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		if err := c.run(&hugeKeySource{n: n, key: []byte("huge"), value: value}); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		runtime.ReadMemStats(&after)
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > c.bound {
			t.Errorf("%s allocated %d bytes for a key of %d fields", c.name, alloc, n)
		}
	}
}
