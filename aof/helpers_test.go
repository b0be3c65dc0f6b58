package aof

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/stratadb/strata/rdb"
)

// decodeInput turns datadriven input into bytes: every line gets eol appended, except one
// that ends with a lone backslash (which stands for "no line end here"); \r \n \t \\ and \xHH
// are escapes.
func decodeInput(text, eol string) ([]byte, error) {
	var out []byte
	for _, line := range strings.Split(text, "\n") {
		noEOL := false
		for i := 0; i < len(line); i++ {
			c := line[i]
			if c != '\\' {
				out = append(out, c)
				continue
			}
			if i == len(line)-1 {
				noEOL = true
				break
			}
			i++
			switch line[i] {
			case 'r':
				out = append(out, '\r')
			case 'n':
				out = append(out, '\n')
			case 't':
				out = append(out, '\t')
			case '\\':
				out = append(out, '\\')
			case 'x':
				if i+2 >= len(line) {
					return nil, fmt.Errorf("short \\x escape in %q", line)
				}
				v, err := strconv.ParseUint(line[i+1:i+3], 16, 8)
				if err != nil {
					return nil, err
				}
				out = append(out, byte(v))
				i += 2
			default:
				return nil, fmt.Errorf("unknown escape \\%c in %q", line[i], line)
			}
		}
		if !noEOL {
			out = append(out, eol...)
		}
	}
	return out, nil
}

// decodeRaw is decodeInput without escapes (for manifests, whose own quoting uses
// backslashes): lines get eol appended, except one ending in <noeol>; <nul> and <cr> stand for
// those bytes.
func decodeRaw(text, eol string) []byte {
	var out []byte
	for _, line := range strings.Split(text, "\n") {
		line, noEOL := strings.CutSuffix(line, "<noeol>")
		line = strings.ReplaceAll(line, "<nul>", "\x00")
		line = strings.ReplaceAll(line, "<cr>", "\r")
		out = append(out, line...)
		if !noEOL {
			out = append(out, eol...)
		}
	}
	return out
}

// word prints an argument bare when that is unambiguous, else quoted.
func word(b []byte) string {
	s := string(b)
	if s == "" || strings.ContainsAny(s, " \"\\") || strconv.Quote(s) != `"`+s+`"` {
		return strconv.Quote(s)
	}
	return s
}

func words(args [][]byte) string {
	var sb strings.Builder
	for i, a := range args {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(word(a))
	}
	return sb.String()
}

// readAll reads every event of r into readable lines; preambles are consumed with drain.
func readAll(r *Reader, drain func(p *Preamble) error) string {
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
		sb.WriteString(formatEvent(ev))
		sb.WriteByte('\n')
		if ev.Kind == KindPreamble {
			if err := drain(ev.Preamble); err != nil {
				fmt.Fprintf(&sb, "  drain: %v\n", err)
			}
			fmt.Fprintf(&sb, "  rdb: version %d, %d bytes\n", ev.Preamble.Version(), ev.Preamble.Offset())
		}
	}
	return sb.String()
}

func formatEvent(ev *Event) string {
	switch ev.Kind {
	case KindFile:
		return fmt.Sprintf("file %s (%s)", ev.File, ev.FileType)
	case KindPreamble:
		return fmt.Sprintf("preamble @%d", ev.Offset)
	case KindCommand:
		return fmt.Sprintf("cmd @%d db=%d: %s", ev.Offset, ev.DB, words(ev.Args))
	case KindTimestamp:
		return fmt.Sprintf("ts @%d: %d", ev.Offset, ev.Timestamp)
	case KindAnnotation:
		return fmt.Sprintf("annotation @%d: %s", ev.Offset, word(ev.Text))
	case KindWarning:
		return fmt.Sprintf("warning @%d: %v", ev.Offset, ev.Err)
	}
	return fmt.Sprintf("?? %v", ev.Kind)
}

// scanRDB reads an RDB up to and with its EOF opcode and checksum, byte by byte, without ever
// reading further. It knows only what small test files hold: aux fields, databases, expiries
// and string values. It stands in for package rdb, which this package cannot use yet.
func scanRDB(r io.ByteReader) error {
	read := func(n int) ([]byte, error) {
		b := make([]byte, n)
		for i := range b {
			c, err := r.ReadByte()
			if err != nil {
				return nil, err
			}
			b[i] = c
		}
		return b, nil
	}
	length := func() (uint64, bool, error) { // value, special encoding
		c, err := r.ReadByte()
		if err != nil {
			return 0, false, err
		}
		switch c >> 6 {
		case 0:
			return uint64(c & 63), false, nil
		case 1:
			d, err := r.ReadByte()
			return uint64(c&63)<<8 | uint64(d), false, err
		case 3:
			return uint64(c & 63), true, nil
		}
		switch c {
		case 0x80:
			b, err := read(4)
			if err != nil {
				return 0, false, err
			}
			return uint64(binary.BigEndian.Uint32(b)), false, nil
		case 0x81:
			b, err := read(8)
			if err != nil {
				return 0, false, err
			}
			return binary.BigEndian.Uint64(b), false, nil
		}
		return 0, false, fmt.Errorf("scanRDB: bad length byte %#x", c)
	}
	str := func() error {
		n, special, err := length()
		if err != nil {
			return err
		}
		if special {
			switch n {
			case 0, 1, 2:
				_, err = read(1 << n)
				return err
			case 3:
				clen, _, err := length()
				if err != nil {
					return err
				}
				if _, _, err := length(); err != nil {
					return err
				}
				for ; clen > 0; clen-- {
					if _, err := r.ReadByte(); err != nil {
						return err
					}
				}
				return nil
			}
			return fmt.Errorf("scanRDB: bad string encoding %d", n)
		}
		for ; n > 0; n-- { // skipped byte by byte: a hostile length costs no memory
			if _, err := r.ReadByte(); err != nil {
				return err
			}
		}
		return nil
	}
	magic, err := read(9)
	if err != nil {
		return err
	}
	if string(magic[:5]) != "REDIS" {
		return fmt.Errorf("scanRDB: magic %q", magic)
	}
	for {
		op, err := r.ReadByte()
		if err != nil {
			return err
		}
		switch op {
		case 0xFF:
			if v, _ := strconv.Atoi(string(magic[5:])); v < 5 {
				return nil
			}
			_, err = read(8)
			return err
		case 0xFA:
			if err = str(); err == nil {
				err = str()
			}
		case 0xFE:
			_, _, err = length()
		case 0xFB:
			if _, _, err = length(); err == nil {
				_, _, err = length()
			}
		case 0xFD:
			_, err = read(4)
		case 0xFC:
			_, err = read(8)
		case 0xF8:
			_, _, err = length()
		case 0xF9:
			_, err = r.ReadByte()
		case 0: // string
			if err = str(); err == nil {
				err = str()
			}
		default:
			return fmt.Errorf("scanRDB: opcode %#x is beyond this test scanner", op)
		}
		if err != nil {
			return err
		}
	}
}

func drainScan(p *Preamble) error { return scanRDB(p) }

// parseEvents builds rdb.Events from a small language, one event (or a few) per line:
//
//	function <code>            key <type> <key> [db=N] [expire=MS]     end
//	string <v>                 list <e>..   set <m>..   zset <score> <m> ..
//	hash <f> <v> ..            hashttl <f> <v> <ms>     items <type> <n>
//	entry <id> <f> <v> ..      meta last=<id> added=<n> maxdel=<id> [len=<n>]
//	group <name> last=<id> read=<n>     pending <id> time=<ms> count=<n>
//	consumer <name> [pel=<id>,<id>..]   module <name>   aux <k> <v>   eof
func parseEvents(text string) ([]rdb.Event, error) {
	var evs []rdb.Event
	db := 0
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		w, ok := splitArgs([]byte(line))
		if !ok {
			return nil, fmt.Errorf("bad quotes: %s", line)
		}
		opts := map[string]string{}
		var pos []string
		for _, x := range w[1:] {
			if k, v, ok := strings.Cut(x, "="); ok && !strings.ContainsAny(k, " ") && k != "" && w[0] != "string" && w[0] != "function" {
				opts[k] = v
			} else {
				pos = append(pos, x)
			}
		}
		num := func(k string) int64 {
			v, _ := strconv.ParseInt(opts[k], 10, 64)
			return v
		}
		id := func(s string) rdb.StreamID {
			ms, seq, _ := strings.Cut(s, "-")
			a, _ := strconv.ParseUint(ms, 10, 64)
			b, _ := strconv.ParseUint(seq, 10, 64)
			return rdb.StreamID{Ms: a, Seq: b}
		}
		need := func(n int) error {
			if len(pos) < n {
				return fmt.Errorf("%s: want %d arguments: %s", w[0], n, line)
			}
			return nil
		}
		switch w[0] {
		case "aux":
			if err := need(2); err != nil {
				return nil, err
			}
			evs = append(evs, rdb.Event{Kind: rdb.KindAux, Field: []byte(pos[0]), Value: []byte(pos[1])})
		case "eof":
			evs = append(evs, rdb.Event{Kind: rdb.KindEOF})
		case "module":
			evs = append(evs, rdb.Event{Kind: rdb.KindModuleSkipped, Module: strings.Join(pos, " ")})
		case "function":
			evs = append(evs, rdb.Event{Kind: rdb.KindFunction, Value: []byte(strings.Join(w[1:], " "))})
		case "key":
			if err := need(2); err != nil {
				return nil, err
			}
			if v, ok := opts["db"]; ok {
				db, _ = strconv.Atoi(v)
				evs = append(evs, rdb.Event{Kind: rdb.KindSelectDB, DB: db})
			}
			t := map[string]rdb.ValueType{"string": rdb.TypeString, "list": rdb.TypeList, "set": rdb.TypeSet,
				"zset": rdb.TypeZSet, "hash": rdb.TypeHash, "stream": rdb.TypeStream, "module": rdb.TypeModule}[pos[0]]
			evs = append(evs, rdb.Event{Kind: rdb.KindKey, DB: db, Key: []byte(pos[1]),
				Header: rdb.KeyHeader{Type: t, ExpireAt: num("expire"), Idle: -1, Freq: -1, Len: -1}})
		case "end":
			evs = append(evs, rdb.Event{Kind: rdb.KindEndKey})
		case "string":
			evs = append(evs, rdb.Event{Kind: rdb.KindString, Value: []byte(strings.Join(w[1:], " "))})
		case "list", "set":
			k := map[string]rdb.Kind{"list": rdb.KindListItem, "set": rdb.KindSetMember}[w[0]]
			for _, v := range pos {
				evs = append(evs, rdb.Event{Kind: k, Value: []byte(v)})
			}
		case "zset":
			for i := 0; i+1 < len(pos); i += 2 {
				s, err := strconv.ParseFloat(pos[i], 64)
				if err != nil {
					return nil, err
				}
				evs = append(evs, rdb.Event{Kind: rdb.KindZSetMember, Score: s, Value: []byte(pos[i+1])})
			}
		case "hash":
			for i := 0; i+1 < len(pos); i += 2 {
				evs = append(evs, rdb.Event{Kind: rdb.KindHashField, Field: []byte(pos[i]), Value: []byte(pos[i+1])})
			}
		case "hashttl":
			if err := need(3); err != nil {
				return nil, err
			}
			at, _ := strconv.ParseInt(pos[2], 10, 64)
			evs = append(evs, rdb.Event{Kind: rdb.KindHashField, Field: []byte(pos[0]), Value: []byte(pos[1]), ExpireAt: at})
		case "items":
			if err := need(2); err != nil {
				return nil, err
			}
			n, _ := strconv.Atoi(pos[1])
			for i := 0; i < n; i++ {
				s := strconv.Itoa(i)
				switch pos[0] {
				case "list":
					evs = append(evs, rdb.Event{Kind: rdb.KindListItem, Value: []byte("e" + s)})
				case "set":
					evs = append(evs, rdb.Event{Kind: rdb.KindSetMember, Value: []byte("m" + s)})
				case "zset":
					evs = append(evs, rdb.Event{Kind: rdb.KindZSetMember, Score: float64(i) / 4, Value: []byte("m" + s)})
				case "hash":
					evs = append(evs, rdb.Event{Kind: rdb.KindHashField, Field: []byte("f" + s), Value: []byte("v" + s)})
				default:
					return nil, fmt.Errorf("items of %q", pos[0])
				}
			}
		case "entry":
			if err := need(1); err != nil {
				return nil, err
			}
			var fields [][]byte
			for _, f := range pos[1:] {
				fields = append(fields, []byte(f))
			}
			evs = append(evs, rdb.Event{Kind: rdb.KindStreamEntry, StreamID: id(pos[0]), Fields: fields})
		case "meta":
			evs = append(evs, rdb.Event{Kind: rdb.KindStreamMeta, Stream: rdb.StreamMeta{
				Length: uint64(num("len")), LastID: id(opts["last"]), FirstID: id(opts["first"]),
				MaxDeletedID: id(opts["maxdel"]), EntriesAdded: uint64(num("added"))}})
		case "group":
			if err := need(1); err != nil {
				return nil, err
			}
			evs = append(evs, rdb.Event{Kind: rdb.KindStreamGroup, Group: rdb.StreamGroup{
				Name: []byte(pos[0]), LastID: id(opts["last"]), EntriesRead: num("read")}})
		case "pending":
			if err := need(1); err != nil {
				return nil, err
			}
			evs = append(evs, rdb.Event{Kind: rdb.KindStreamPending, Pending: rdb.StreamPending{
				ID: id(pos[0]), DeliveryTime: num("time"), DeliveryCount: uint64(num("count"))}})
		case "consumer":
			if err := need(1); err != nil {
				return nil, err
			}
			c := rdb.StreamConsumer{Name: []byte(pos[0]), SeenTime: num("seen"), ActiveTime: -1}
			if p := opts["pel"]; p != "" {
				for _, s := range strings.Split(p, ",") {
					c.Pending = append(c.Pending, id(s))
				}
			}
			evs = append(evs, rdb.Event{Kind: rdb.KindStreamConsumer, Consumer: c})
		default:
			return nil, fmt.Errorf("unknown event %q", w[0])
		}
	}
	return evs, nil
}

// rewriteEvents runs evs through a Rewriter into one buffer.
func rewriteEvents(evs []rdb.Event, o RewriteOptions) ([]byte, error) {
	rw := NewRewriter(o)
	var out []byte
	for i := range evs {
		var err error
		if out, err = rw.Append(out, &evs[i]); err != nil {
			return out, err
		}
	}
	return out, nil
}

// commandsOf reads back a command stream as lines of words.
func commandsOf(b []byte) string {
	r := NewReader(bytes.NewReader(b), "out", Options{})
	var sb strings.Builder
	for {
		ev, err := r.Next()
		if errors.Is(err, io.EOF) {
			return sb.String()
		}
		if err != nil {
			return sb.String() + "error: " + err.Error() + "\n"
		}
		switch ev.Kind {
		case KindCommand:
			sb.WriteString(words(ev.Args) + "\n")
		case KindFile:
		default:
			sb.WriteString(formatEvent(ev) + "\n")
		}
	}
}
