package encoding

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// TestLayouts prints every family's bytes with a note per field, so a layout change shows up
// as a readable diff in testdata/layouts (regenerate with -rewrite).
func TestLayouts(t *testing.T) {
	datadriven.RunTest(t, "testdata/layouts", func(t *testing.T, d *datadriven.TestData) string {
		arg := func(name string) string {
			for _, a := range d.CmdArgs {
				if a.Key == name {
					return a.Vals[0]
				}
			}
			return ""
		}
		num := func(name string) uint64 {
			v, err := strconv.ParseUint(arg(name), 10, 64)
			if err != nil && arg(name) != "" {
				t.Fatalf("%s: %v", name, err)
			}
			return v
		}
		key := []byte(strings.TrimSuffix(d.Input, "\n"))
		var b []byte
		switch d.Cmd {
		case "meta-key":
			b = AppendMetaKey(nil, uint16(num("db")), key)
		case "sub-key":
			b = AppendSubKey(nil, uint16(num("db")), key, num("version"), []byte(arg("member")))
		case "index-sub-key":
			b = AppendIndexSubKey(nil, uint16(num("db")), key, num("version"), num("index"))
		case "score-key":
			f, err := strconv.ParseFloat(arg("score"), 64)
			if err != nil {
				t.Fatal(err)
			}
			b = AppendScoreKey(nil, uint16(num("db")), key, num("version"), f, []byte(arg("member")))
		case "rank-key":
			// The boundary is a position: score=S member=M, or none for the first range.
			var boundary []byte
			if arg("score") != "" {
				f, err := strconv.ParseFloat(arg("score"), 64)
				if err != nil {
					t.Fatal(err)
				}
				boundary = append(AppendScore(nil, f), arg("member")...)
			}
			b = AppendRankKey(nil, uint16(num("db")), key, num("version"), boundary)
		case "rank-value":
			return describeRankValue(AppendRankValue(nil, num("count")))
		case "zset-fields":
			f := ZSetFields{Skiplist: arg("skiplist") == "true", Ranked: num("gen") != 0, Gen: num("gen")}
			// Hints are positions: floor=S:M and ceiling=S:M (score, member).
			for _, h := range []struct {
				name string
				dst  *[]byte
				hint func(dst, pos []byte) []byte
			}{{"floor", &f.Floor, FloorHint}, {"ceiling", &f.Ceiling, CeilingHint},
				{"lowmark", &f.LowMark, FloorHint}, {"highmark", &f.HighMark, CeilingHint}} {
				if v := arg(h.name); v != "" {
					score, member, _ := strings.Cut(v, ":")
					sf, err := strconv.ParseFloat(score, 64)
					if err != nil {
						t.Fatal(err)
					}
					*h.dst = h.hint(nil, append(AppendScore(nil, sf), member...))
				}
			}
			f.LowCount, f.HighCount = num("lowcount"), num("highcount")
			return describeMeta(AppendMeta(nil, &Meta{Type: TypeZSet, Version: num("version"),
				Count: num("count"), Rest: AppendZSetFields(nil, f)}))
		case "expiry-key":
			b = AppendExpiryKey(nil, int64(num("at")), uint16(num("db")), key)
		case "meta":
			m := Meta{Type: parseType(t, arg("type")), Flags: uint8(num("flags")),
				ExpireAt: int64(num("expire")), Version: num("version"), Count: num("count"), Rest: key}
			b = AppendMeta(nil, &m)
			return describeMeta(b)
		case "stream-key":
			return describeStreamKey(t, key, num("version"), arg("kind"), arg("id"), arg("name"), num("gid"))
		case "stream-meta":
			f := StreamFields{Length: num("length"), LastID: parseStreamID(t, arg("last")),
				FirstID: parseStreamID(t, arg("first")), MaxDeletedID: parseStreamID(t, arg("maxdel")),
				EntriesAdded: num("added"), Groups: num("groups"), Nodes: num("nodes"),
				HeadNode: parseStreamID(t, arg("head")), TailNode: parseStreamID(t, arg("tail")),
				TailLive: num("tail-live"), TailDeleted: num("tail-deleted"), TailBytes: num("tail-bytes"),
				TailLastID: parseStreamID(t, arg("tail-last")), NextGroupID: num("nextgid")}
			m := Meta{Type: TypeStream, Version: num("version"), Count: num("count"), Rest: AppendStreamFields(nil, &f)}
			return describeStreamMeta(AppendMeta(nil, &m))
		case "decode-meta":
			raw, err := hex.DecodeString(strings.ReplaceAll(d.Input, " ", ""))
			if err != nil {
				t.Fatal(err)
			}
			return describeMeta(raw)
		case "slot":
			var out strings.Builder
			for _, line := range strings.Split(d.Input, "\n") {
				fmt.Fprintf(&out, "%s %d\n", line, Slot([]byte(line)))
			}
			return out.String()
		default:
			t.Fatalf("unknown command %s", d.Cmd)
		}
		return describeKey(b)
	})
}

func parseType(t *testing.T, s string) Type {
	for i, n := range typeNames {
		if n == s {
			return Type(i)
		}
	}
	t.Fatalf("unknown type %q", s)
	return 0
}

func row(out *strings.Builder, b []byte, note string) {
	fmt.Fprintf(out, "%-28s %s\n", strings.TrimSpace(fmt.Sprintf("% x", b)), note)
}

// describeKey decodes any key through the package's decoders and annotates each field.
func describeKey(k []byte) string {
	var out strings.Builder
	switch k[0] {
	case TagMeta:
		db, slot, key, err := DecodeMetaKey(k)
		if err != nil {
			return err.Error()
		}
		row(&out, k[:1], "tag metadata")
		row(&out, k[1:3], fmt.Sprintf("db %d", db))
		row(&out, k[3:5], fmt.Sprintf("slot %d", slot))
		row(&out, key, fmt.Sprintf("key %q", key))
	case TagSub, TagScore:
		tag, db, key, version, rest, err := DecodeElemKey(k)
		if err != nil {
			return err.Error()
		}
		name := "subkey"
		if tag == TagScore {
			name = "score"
		}
		row(&out, k[:1], "tag "+name)
		row(&out, k[1:3], fmt.Sprintf("db %d", db))
		row(&out, k[3:5], fmt.Sprintf("slot %d", Slot(key)))
		row(&out, k[5:9], fmt.Sprintf("key length %d", len(key)))
		row(&out, key, fmt.Sprintf("key %q", key))
		row(&out, k[9+len(key):17+len(key)], fmt.Sprintf("version %d", version))
		if tag == TagScore && IsRankPosition(rest) {
			boundary, _ := DecodeRankPosition(rest)
			row(&out, rest[:2], "rank marker")
			row(&out, boundary, fmt.Sprintf("boundary %q", boundary))
			break
		}
		if tag == TagScore {
			f, _ := DecodeScore(rest)
			row(&out, rest[:8], fmt.Sprintf("score %v", f))
			rest = rest[8:]
		}
		row(&out, rest, fmt.Sprintf("member %q", rest))
	case TagExpiry:
		at, db, key, err := DecodeExpiryKey(k)
		if err != nil {
			return err.Error()
		}
		row(&out, k[:1], "tag expiry")
		row(&out, k[1:9], fmt.Sprintf("expire-at %d", at))
		row(&out, k[9:11], fmt.Sprintf("db %d", db))
		row(&out, key, fmt.Sprintf("key %q", key))
	}
	return out.String()
}

func describeRankValue(b []byte) string {
	count, err := DecodeRankValue(b)
	if err != nil {
		return err.Error() + "\n"
	}
	var out strings.Builder
	row(&out, b, fmt.Sprintf("count %d", count))
	return out.String()
}

func describeMeta(b []byte) string {
	var m Meta
	if err := DecodeMeta(b, &m); err != nil {
		return err.Error() + "\n"
	}
	var out strings.Builder
	row(&out, b[:1], "format 1")
	row(&out, b[1:2], "type "+m.Type.String())
	row(&out, b[2:3], fmt.Sprintf("flags %#x", m.Flags))
	row(&out, b[3:11], fmt.Sprintf("expire-at %d", m.ExpireAt))
	row(&out, b[11:19], fmt.Sprintf("version %d", m.Version))
	row(&out, b[19:27], fmt.Sprintf("count %d", m.Count))
	if f, err := DecodeZSetFields(m.Rest); m.Type == TypeZSet && err == nil && len(m.Rest) > 0 {
		row(&out, m.Rest[:1], fmt.Sprintf("flags skiplist=%v ranked=%v floor=%v ceiling=%v lowmark=%v highmark=%v",
			f.Skiplist, f.Ranked, len(f.Floor) > 0, len(f.Ceiling) > 0, len(f.LowMark) > 0, len(f.HighMark) > 0))
		rest := m.Rest[1:]
		if f.Ranked {
			row(&out, rest[:8], fmt.Sprintf("rank generation %d", f.Gen))
			rest = rest[8:]
		}
		for _, h := range []struct {
			name  string
			pos   []byte
			count uint64
		}{{"floor", f.Floor, 0}, {"ceiling", f.Ceiling, 0}, {"low mark", f.LowMark, f.LowCount},
			{"high mark", f.HighMark, f.HighCount}} {
			if len(h.pos) > 0 {
				row(&out, rest[:1], fmt.Sprintf("%s length %d", h.name, len(h.pos)))
				row(&out, rest[1:1+len(h.pos)], fmt.Sprintf("%s %s", h.name, describePosition(h.pos)))
				rest = rest[1+len(h.pos):]
				if h.count > 0 {
					row(&out, rest[:8], fmt.Sprintf("%s count %d", h.name, h.count))
					rest = rest[8:]
				}
			}
		}
	} else if len(m.Rest) > 0 {
		row(&out, m.Rest, fmt.Sprintf("rest %q", m.Rest))
	}
	return out.String()
}

// describePosition shows a position as its score and member; a hint cut inside the score
// shows as bytes.
func describePosition(pos []byte) string {
	if len(pos) < 8 {
		return fmt.Sprintf("%x (cut)", pos)
	}
	f, _ := DecodeScore(pos)
	return fmt.Sprintf("score %g member %q", f, pos[8:])
}

func parseStreamID(t *testing.T, s string) StreamID {
	if s == "" {
		return StreamID{}
	}
	ms, seq, _ := strings.Cut(s, "-")
	a, err1 := strconv.ParseUint(ms, 10, 64)
	b, err2 := strconv.ParseUint(seq, 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("bad stream ID %q", s)
	}
	return StreamID{a, b}
}

// describeStreamKey builds a stream subkey of the given kind and annotates its member.
func describeStreamKey(t *testing.T, key []byte, version uint64, kind, id, name string, gid uint64) string {
	var member []byte
	switch kind {
	case "entry", "node":
		k := StreamEntryKind
		if kind == "node" {
			k = StreamNodeKind
		}
		member = AppendStreamMember(nil, k, parseStreamID(t, id))
	case "group":
		member = AppendStreamGroupMember(nil, []byte(name))
	case "pending":
		member = AppendStreamID(AppendStreamGroupPrefix(nil, StreamPELKind, gid), parseStreamID(t, id))
	case "consumer":
		member = AppendStreamConsumerMember(nil, gid, []byte(name))
	case "consumer-pending":
		member = AppendStreamID(AppendStreamCPELPrefix(nil, gid, []byte(name)), parseStreamID(t, id))
	default:
		t.Fatalf("unknown stream kind %s", kind)
	}
	k := AppendSubKey(nil, 0, key, version, member)
	var out strings.Builder
	head := describeKey(k)
	out.WriteString(dropLastLine(head)) // the generic member row
	m := k[ElemPrefixLen(len(key)):]
	row(&out, m[:1], fmt.Sprintf("kind %q (%s)", m[0], kind))
	m = m[1:]
	if kind != "entry" && kind != "node" && kind != "group" {
		row(&out, m[:8], fmt.Sprintf("gid %d", gid))
		m = m[8:]
	}
	if kind == "consumer-pending" {
		row(&out, m[:4], fmt.Sprintf("name length %d", len(name)))
		row(&out, m[4:4+len(name)], fmt.Sprintf("consumer %q", name))
		m = m[4+len(name):]
	}
	switch kind {
	case "group":
		row(&out, m, fmt.Sprintf("group %q", name))
	case "consumer":
		row(&out, m, fmt.Sprintf("consumer %q", name))
	default:
		sid, _ := DecodeStreamID(m)
		row(&out, m[:8], fmt.Sprintf("ms %d", sid.Ms))
		row(&out, m[8:16], fmt.Sprintf("seq %d", sid.Seq))
	}
	return out.String()
}

func dropLastLine(s string) string {
	return s[:strings.LastIndex(strings.TrimSuffix(s, "\n"), "\n")+1]
}

func describeStreamMeta(b []byte) string {
	var m Meta
	var f StreamFields
	if err := DecodeMeta(b, &m); err != nil {
		return err.Error() + "\n"
	}
	if err := DecodeStreamFields(m.Rest, &f); err != nil {
		return err.Error() + "\n"
	}
	var out strings.Builder
	head := describeMeta(b)
	out.WriteString(dropLastLine(head)) // the generic rest row
	r := m.Rest
	for _, fld := range []struct {
		n    int
		note string
	}{
		{8, fmt.Sprintf("length %d", f.Length)},
		{16, "last-generated ID " + f.LastID.String()},
		{16, "recorded-first ID " + f.FirstID.String()},
		{16, "max-deleted ID " + f.MaxDeletedID.String()},
		{8, fmt.Sprintf("entries-added %d", f.EntriesAdded)},
		{8, fmt.Sprintf("groups %d", f.Groups)},
		{8, fmt.Sprintf("nodes %d", f.Nodes)},
		{16, "head node " + f.HeadNode.String()},
		{16, "tail node " + f.TailNode.String()},
		{8, fmt.Sprintf("tail live %d", f.TailLive)},
		{8, fmt.Sprintf("tail deleted %d", f.TailDeleted)},
		{8, fmt.Sprintf("tail bytes %d", f.TailBytes)},
		{16, "tail last ID " + f.TailLastID.String()},
		{8, fmt.Sprintf("next gid %d", f.NextGroupID)},
	} {
		row(&out, r[:fld.n], fld.note)
		r = r[fld.n:]
	}
	return out.String()
}

func TestScoreOrder(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	vals := []float64{math.Inf(-1), -math.MaxFloat64, -1e300, -1, -math.SmallestNonzeroFloat64, 0,
		math.SmallestNonzeroFloat64, 1, 2.5, 1e300, math.MaxFloat64, math.Inf(1)}
	for i := 0; i < 2000; i++ {
		vals = append(vals, rng.NormFloat64()*math.Pow(10, float64(rng.Intn(40)-20)))
	}
	enc := make([][]byte, len(vals))
	for i, v := range vals {
		enc[i] = AppendScore(nil, v)
		got, err := DecodeScore(enc[i])
		if err != nil || got != v {
			t.Fatalf("round trip %v: got %v %v", v, got, err)
		}
	}
	idx := make([]int, len(vals))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return bytes.Compare(enc[idx[a]], enc[idx[b]]) < 0 })
	for i := 1; i < len(idx); i++ {
		if vals[idx[i-1]] > vals[idx[i]] {
			t.Fatalf("byte order disagrees with numeric order: %v before %v", vals[idx[i-1]], vals[idx[i]])
		}
	}
	if !bytes.Equal(AppendScore(nil, math.Copysign(0, -1)), AppendScore(nil, 0)) {
		t.Fatal("-0 and +0 must encode the same")
	}
}

// TestKeyRangesDoNotNest checks that the element range of one key never contains another key's
// elements, the reason for the key-length prefix.
func TestKeyRangesDoNotNest(t *testing.T) {
	a := AppendSubPrefix(nil, 0, []byte("a"), 7)
	ab := AppendSubKey(nil, 0, []byte("ab"), 7, []byte("x"))
	end := PrefixEnd(nil, a)
	if bytes.Compare(ab, a) >= 0 && bytes.Compare(ab, end) < 0 {
		t.Fatal(`the subkey of "ab" falls inside the range of "a"`)
	}
}

func TestDecodersRejectShortInput(t *testing.T) {
	for _, b := range [][]byte{nil, {TagMeta}, {TagSub, 0, 0, 0, 0, 0, 0, 0, 9}, {TagExpiry, 1}} {
		if _, _, _, err := DecodeMetaKey(b); err == nil && len(b) < 5 {
			t.Errorf("DecodeMetaKey(%x) accepted", b)
		}
		if _, _, _, _, _, err := DecodeElemKey(b); err == nil {
			t.Errorf("DecodeElemKey(%x) accepted", b)
		}
		if _, _, _, err := DecodeExpiryKey(b); err == nil {
			t.Errorf("DecodeExpiryKey(%x) accepted", b)
		}
		var m Meta
		if err := DecodeMeta(b, &m); err == nil {
			t.Errorf("DecodeMeta(%x) accepted", b)
		}
	}
}

func FuzzDecoders(f *testing.F) {
	f.Add(AppendMetaKey(nil, 1, []byte("k")))
	f.Add(AppendSubKey(nil, 1, []byte("k"), 5, []byte("m")))
	f.Add(AppendScoreKey(nil, 1, []byte("k"), 5, 1.5, []byte("m")))
	f.Add(AppendExpiryKey(nil, 1000, 2, []byte("k")))
	f.Add(AppendMeta(nil, &Meta{Type: TypeString, Rest: []byte("v")}))
	f.Add(AppendZSetFields(nil, ZSetFields{Ranked: true, Gen: 1, Floor: []byte("12345678a"), Ceiling: []byte("12345679"),
		LowMark: []byte("12345678b"), LowCount: 1, HighMark: []byte("12345678z"), HighCount: 2}))
	f.Fuzz(func(t *testing.T, b []byte) {
		DecodeMetaKey(b)
		DecodeElemKey(b)
		DecodeExpiryKey(b)
		var m Meta
		if DecodeMeta(b, &m) == nil {
			if !bytes.Equal(AppendMeta(nil, &m), b) {
				t.Fatalf("meta does not round trip: %x", b)
			}
		}
		DecodeScore(b)
		DecodeListFields(b)
		DecodeRankPosition(b)
		DecodeRankValue(b)
		if f, err := DecodeZSetFields(b); err == nil && len(b) > 0 && b[0] != 0 {
			if !bytes.Equal(AppendZSetFields(nil, f), b) {
				t.Fatalf("sorted-set fields do not round trip: %x", b)
			}
		}
	})
}

// TestZSetFieldsHints round-trips the sorted-set fields with every mix of hints and marks,
// reads format-1 fields (no hints) as having none, cuts long hints the safe way, and refuses
// malformed hints.
func TestZSetFieldsHints(t *testing.T) {
	pos := func(score float64, member string) []byte { return append(AppendScore(nil, score), member...) }
	long := pos(1, strings.Repeat("m", 100))
	for _, f := range []ZSetFields{
		{},
		{Skiplist: true},
		{Ranked: true, Gen: 9},
		{Floor: pos(1, "a")},
		{Ceiling: CeilingHint(nil, pos(2, "b"))},
		{Skiplist: true, Ranked: true, Gen: 3, Floor: pos(-1, "x"), Ceiling: pos(9, "y"),
			LowMark: pos(0, "m"), LowCount: 2, HighMark: pos(5, "n"), HighCount: 1},
		{Floor: pos(-1, "x"), LowMark: pos(0, "m"), LowCount: 1},
		{Ceiling: pos(9, "y"), HighMark: pos(5, "n"), HighCount: 7},
	} {
		b := AppendZSetFields(nil, f)
		got, err := DecodeZSetFields(b)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(f) {
			t.Errorf("%+v: encoded %x, decoded %+v, %v", f, b, got, err)
		}
	}
	for _, b := range [][]byte{{0x01}, {0x02, 0, 0, 0, 0, 0, 0, 0, 7}, {0x03, 0, 0, 0, 0, 0, 0, 0, 7}} {
		f, err := DecodeZSetFields(b)
		if err != nil || len(f.Floor)+len(f.Ceiling)+len(f.LowMark)+len(f.HighMark) != 0 {
			t.Errorf("format-1 fields %x: %+v, %v", b, f, err)
		}
	}
	f, err := DecodeZSetFields(AppendZSetFields(nil, ZSetFields{Floor: long, Ceiling: long}))
	if err != nil || !bytes.Equal(f.Floor, FloorHint(nil, long)) || !bytes.Equal(f.Ceiling, CeilingHint(nil, long)) ||
		bytes.Compare(f.Floor, long) > 0 || bytes.Compare(f.Ceiling, long) <= 0 {
		t.Errorf("long hints: %x %x, %v", f.Floor, f.Ceiling, err)
	}
	if b := AppendZSetFields(nil, ZSetFields{Floor: pos(1, "a"), LowMark: long, LowCount: 1}); b[0]&zsetLowMark != 0 {
		t.Errorf("a mark too long to keep exactly was written: %x", b)
	}
	if b := AppendZSetFields(nil, ZSetFields{LowMark: pos(1, "a"), LowCount: 1}); len(b) != 0 {
		t.Errorf("a mark without its floor was written: %x", b)
	}
	for _, b := range [][]byte{
		{0x40},                               // an unknown flag
		{0x04},                               // a floor without its length
		{0x04, 0},                            // an empty floor
		{0x04, 3, 1, 2},                      // a floor shorter than its length
		{0x04, 1, 1, 9},                      // bytes after the fields
		{0x04, 73},                           // a floor longer than any hint
		{0x10, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1}, // a low mark without a floor
		{0x14, 1, 1, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0}, // a low mark counting nothing
		{0x24, 1, 1, 1, 2, 0, 0, 0, 0, 0, 0, 0, 1}, // a high mark without a ceiling
		{0x02, 0, 0}, // a short generation
	} {
		if f, err := DecodeZSetFields(b); err == nil {
			t.Errorf("%x decoded as %+v", b, f)
		}
	}
}
