package rdb

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
)

// Datadriven tests: annotated hex in, readable text out (go test ./rdb/ -run TestDataDriven
// -rewrite regenerates the outputs). The input syntax:
//
//	30 00 00 00          hex bytes, spaces anywhere
//	"abc"                a Go-quoted string, as its bytes
//	"x"*260  00*4        a token repeated
//	# ...                a comment to the end of the line
//
// Commands:
//
//	decode kind=ziplist|listpack|intset|zipmap     walk one blob, one entry a line
//	decode kind=lzf ulen=N                          LZF-decompress to N bytes
//	read [version=N] [valkey] [raw] [skip-empty]   a file: the magic is prepended and
//	                                                EOF plus checksum appended, unless raw
//	dump [version=N] [key=K]                        a DUMP payload: version and CRC appended
//	write [version=N] [nocompress]                  events (see parseEvents) through a
//	                                                Writer; prints each key's bytes

func TestDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata/datadriven", func(t *testing.T, path string) {
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			switch td.Cmd {
			case "decode":
				return ddDecode(t, td)
			case "read":
				return ddRead(t, td)
			case "dump":
				return ddDump(t, td)
			case "write":
				return ddWrite(t, td)
			}
			t.Fatalf("unknown command %q", td.Cmd)
			return ""
		})
	})
}

// parseHex reads the annotated hex syntax.
func parseHex(t testing.TB, s string) []byte {
	var out []byte
	for _, line := range strings.Split(s, "\n") {
		for len(line) > 0 {
			line = strings.TrimLeft(line, " \t")
			if line == "" || line[0] == '#' {
				break
			}
			var tok []byte
			if line[0] == '"' {
				end := 1
				for end < len(line) && line[end] != '"' {
					if line[end] == '\\' {
						end++
					}
					end++
				}
				if end >= len(line) {
					t.Fatalf("unterminated string in %q", line)
				}
				u, err := strconv.Unquote(line[:end+1])
				if err != nil {
					t.Fatalf("bad string %q: %v", line[:end+1], err)
				}
				tok, line = []byte(u), line[end+1:]
			} else {
				end := strings.IndexAny(line, " \t*#\"")
				if end < 0 {
					end = len(line)
				}
				b, err := hex.DecodeString(line[:end])
				if err != nil {
					t.Fatalf("bad hex %q: %v", line[:end], err)
				}
				tok, line = b, line[end:]
			}
			if strings.HasPrefix(line, "*") {
				end := strings.IndexAny(line[1:], " \t#")
				if end < 0 {
					end = len(line) - 1
				}
				n, err := strconv.Atoi(line[1 : 1+end])
				if err != nil {
					t.Fatalf("bad repeat %q", line)
				}
				tok, line = bytes.Repeat(tok, n), line[1+end:]
			}
			out = append(out, tok...)
		}
	}
	return out
}

func ddDecode(t *testing.T, td *datadriven.TestData) string {
	var kind string
	td.ScanArgs(t, "kind", &kind)
	b := parseHex(t, td.Input)
	if kind == "lzf" {
		var ulen int
		td.ScanArgs(t, "ulen", &ulen)
		out := make([]byte, ulen)
		if ok, detail := lzfDecompress(out, b); !ok {
			return "error: " + detail + "\n"
		}
		return quote(out) + "\n"
	}
	var it packedIter
	kinds := map[string]packedKind{"ziplist": pkZiplist, "listpack": pkListpack, "intset": pkIntset, "zipmap": pkZipmap}
	declared, err := it.init(kinds[kind], b)
	if err != nil {
		return "error: " + err.Error() + "\n"
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "declared %d\n", declared)
	for {
		e, ok, err := it.next()
		if err != nil {
			fmt.Fprintf(&sb, "error: %v\n", err)
			break
		}
		if !ok {
			break
		}
		if e.isInt {
			fmt.Fprintf(&sb, "int %d\n", e.ival)
		} else {
			fmt.Fprintf(&sb, "str %s\n", quote(e.str))
		}
	}
	return sb.String()
}

func ddRead(t *testing.T, td *datadriven.TestData) string {
	version := 10
	td.MaybeScanArgs(t, "version", &version)
	var data []byte
	if td.HasArg("raw") {
		data = parseHex(t, td.Input)
	} else {
		if td.HasArg("valkey") {
			data = fmt.Appendf(nil, "VALKEY%03d", version)
		} else {
			data = fmt.Appendf(nil, "REDIS%04d", version)
		}
		data = append(data, parseHex(t, td.Input)...)
		data = append(data, opEOF)
		if version >= 5 {
			data = binary.LittleEndian.AppendUint64(data, CRC64(0, data))
		}
	}
	lines, err := readEvents(data, &ReaderOptions{SkipEmptyKeys: td.HasArg("skip-empty")}, 0)
	if err != nil {
		lines = append(lines, "error: "+err.Error())
	}
	return strings.Join(lines, "\n") + "\n"
}

func ddDump(t *testing.T, td *datadriven.TestData) string {
	version := 10
	key := "k"
	td.MaybeScanArgs(t, "version", &version)
	td.MaybeScanArgs(t, "key", &key)
	p := parseHex(t, td.Input)
	p = binary.LittleEndian.AppendUint16(p, uint16(version))
	p = binary.LittleEndian.AppendUint64(p, CRC64(0, p))
	r, err := NewDumpReader([]byte(key), p, nil)
	if err != nil {
		return "error: " + err.Error() + "\n"
	}
	var lines []string
	for {
		ev, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			lines = append(lines, "error: "+err.Error())
			break
		}
		lines = append(lines, formatEvent(ev))
	}
	return strings.Join(lines, "\n") + "\n"
}

// parseEvents reads a small event script, one event a line:
//
//	key NAME TYPE [len=N] [expire=MS] [db=N]
//	string V | item V | member V [score] | field F V [expire] | entry MS-SEQ F V ...
//	meta LEN LAST FIRST MAXDEL ADDED | group NAME LAST READ | pending ID TIME COUNT
//	consumer NAME SEEN ACTIVE [ID ...] | function CODE | end
//
// Values are Go-quoted when they contain spaces.
func parseEvents(t testing.TB, input string) []Event {
	var evs []Event
	var key []byte
	db := 0
	for _, line := range strings.Split(strings.TrimSpace(input), "\n") {
		f := splitQuoted(t, line)
		if len(f) == 0 {
			continue
		}
		num := func(s string) int64 {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				t.Fatalf("bad number %q in %q", s, line)
			}
			return n
		}
		id := func(s string) StreamID {
			ms, seq, _ := strings.Cut(s, "-")
			return StreamID{uint64(num(ms)), uint64(num(seq))}
		}
		ev := Event{Key: key, DB: db}
		switch f[0] {
		case "key":
			types := map[string]ValueType{"string": TypeString, "list": TypeList, "set": TypeSet,
				"zset": TypeZSet, "hash": TypeHash, "stream": TypeStream}
			key = []byte(f[1])
			ev = Event{Kind: KindKey, Key: key, Header: KeyHeader{Type: types[f[2]], Len: -1, Idle: -1, Freq: -1}}
			for _, opt := range f[3:] {
				k, v, _ := strings.Cut(opt, "=")
				switch k {
				case "len":
					ev.Header.Len = num(v)
				case "expire":
					ev.Header.ExpireAt = num(v)
				case "db":
					db = int(num(v))
				}
			}
			ev.DB = db
		case "string":
			ev.Kind, ev.Value = KindString, []byte(f[1])
		case "item":
			ev.Kind, ev.Value = KindListItem, []byte(f[1])
		case "member":
			ev.Kind, ev.Value = KindSetMember, []byte(f[1])
			if len(f) > 2 {
				sc, err := strconv.ParseFloat(f[2], 64)
				if err != nil {
					t.Fatal(err)
				}
				ev.Kind, ev.Score = KindZSetMember, sc
			}
		case "field":
			ev.Kind, ev.Field, ev.Value = KindHashField, []byte(f[1]), []byte(f[2])
			if len(f) > 3 {
				ev.ExpireAt = num(f[3])
			}
		case "entry":
			ev.Kind, ev.StreamID = KindStreamEntry, id(f[1])
			for _, x := range f[2:] {
				ev.Fields = append(ev.Fields, []byte(x))
			}
		case "meta":
			ev.Kind = KindStreamMeta
			ev.Stream = StreamMeta{Length: uint64(num(f[1])), LastID: id(f[2]), FirstID: id(f[3]),
				MaxDeletedID: id(f[4]), EntriesAdded: uint64(num(f[5]))}
		case "group":
			ev.Kind, ev.Group = KindStreamGroup, StreamGroup{Name: []byte(f[1]), LastID: id(f[2]), EntriesRead: num(f[3])}
		case "pending":
			ev.Kind, ev.Pending = KindStreamPending, StreamPending{ID: id(f[1]), DeliveryTime: num(f[2]), DeliveryCount: uint64(num(f[3]))}
		case "consumer":
			ev.Kind = KindStreamConsumer
			ev.Consumer = StreamConsumer{Name: []byte(f[1]), SeenTime: num(f[2]), ActiveTime: num(f[3])}
			for _, x := range f[4:] {
				ev.Consumer.Pending = append(ev.Consumer.Pending, id(x))
			}
		case "function":
			ev = Event{Kind: KindFunction, Value: []byte(f[1])}
		case "end":
			ev.Kind = KindEndKey
		default:
			t.Fatalf("unknown event %q", line)
		}
		evs = append(evs, ev)
	}
	return evs
}

func splitQuoted(t testing.TB, line string) []string {
	var out []string
	for {
		line = strings.TrimLeft(line, " \t")
		if line == "" {
			return out
		}
		if line[0] == '"' {
			s, err := strconv.QuotedPrefix(line)
			if err != nil {
				t.Fatalf("bad quoted value in %q", line)
			}
			u, _ := strconv.Unquote(s)
			out = append(out, u)
			line = line[len(s):]
			continue
		}
		end := strings.IndexAny(line, " \t")
		if end < 0 {
			end = len(line)
		}
		out = append(out, line[:end])
		line = line[end:]
	}
}

// ddWrite writes events and prints, per key, the type byte and the bytes of the record
// from its first opcode to its end, 16 a line, then what reading it back gives.
func ddWrite(t *testing.T, td *datadriven.TestData) string {
	version := 10
	td.MaybeScanArgs(t, "version", &version)
	opts := &WriterOptions{Version: version, DisableCompression: td.HasArg("nocompress"), TempDir: t.TempDir(),
		CTime: time.Unix(1700000000, 0)}
	data, err := writeEvents(t, opts, parseEvents(t, td.Input)...)
	if err != nil {
		return "error: " + err.Error() + "\n"
	}
	r, err := NewReader(bytes.NewReader(data), nil)
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for {
		ev, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Fprintf(&sb, "error: %v\n", err)
			break
		}
		switch ev.Kind {
		case KindAux, KindSelectDB, KindEOF:
			continue
		case KindEndKey:
			rec := data[ev.Header.Offset : ev.Header.Offset+ev.Size]
			for len(rec) > 0 {
				n := min(16, len(rec))
				fmt.Fprintf(&sb, "  | % x\n", rec[:n])
				rec = rec[n:]
			}
		}
		sb.WriteString(formatEvent(ev))
		sb.WriteByte('\n')
	}
	return sb.String()
}
