package tools

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stratadb/strata/rdb"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the golden files under testdata/")

// dumpBuilder writes a small RDB file with the rdb package's Writer.
type dumpBuilder struct {
	t   *testing.T
	buf bytes.Buffer
	w   *rdb.Writer
}

func newDump(t *testing.T) *dumpBuilder {
	t.Helper()
	d := &dumpBuilder{t: t}
	w, err := rdb.NewWriter(&d.buf, &rdb.WriterOptions{RedisVer: "7.0.15"})
	if err != nil {
		t.Fatal(err)
	}
	d.w = w
	return d
}

func (d *dumpBuilder) write(ev rdb.Event) {
	d.t.Helper()
	if err := d.w.Write(&ev); err != nil {
		d.t.Fatalf("write %s: %v", ev.Kind, err)
	}
}

// key writes one key: its header, the element events, its end.
func (d *dumpBuilder) key(db int, name string, typ rdb.ValueType, expireAt int64, elems ...rdb.Event) *dumpBuilder {
	d.t.Helper()
	n := int64(len(elems))
	if typ == rdb.TypeString || typ == rdb.TypeStream {
		n = -1
	}
	d.write(rdb.Event{Kind: rdb.KindKey, DB: db, Key: []byte(name),
		Header: rdb.KeyHeader{Type: typ, Len: n, ExpireAt: expireAt, Idle: -1, Freq: -1}})
	for _, e := range elems {
		e.DB, e.Key = db, []byte(name)
		d.write(e)
	}
	d.write(rdb.Event{Kind: rdb.KindEndKey, DB: db, Key: []byte(name)})
	return d
}

func (d *dumpBuilder) str(db int, name, value string, expireAt int64) *dumpBuilder {
	return d.key(db, name, rdb.TypeString, expireAt, rdb.Event{Kind: rdb.KindString, Value: []byte(value)})
}

func items(kind rdb.Kind, values ...string) []rdb.Event {
	out := make([]rdb.Event, len(values))
	for i, v := range values {
		out[i] = rdb.Event{Kind: kind, Value: []byte(v)}
	}
	return out
}

func hashFields(pairs ...string) []rdb.Event {
	var out []rdb.Event
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, rdb.Event{Kind: rdb.KindHashField, Field: []byte(pairs[i]), Value: []byte(pairs[i+1])})
	}
	return out
}

func zsetMembers(pairs ...any) []rdb.Event {
	var out []rdb.Event
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, rdb.Event{Kind: rdb.KindZSetMember, Value: []byte(pairs[i].(string)), Score: pairs[i+1].(float64)})
	}
	return out
}

func (d *dumpBuilder) bytes() []byte {
	d.t.Helper()
	if err := d.w.Close(); err != nil {
		d.t.Fatal(err)
	}
	return d.buf.Bytes()
}

// file writes the dump into a temporary file and returns its path.
func (d *dumpBuilder) file() string {
	d.t.Helper()
	path := filepath.Join(d.t.TempDir(), "dump.rdb")
	if err := os.WriteFile(path, d.bytes(), 0o644); err != nil {
		d.t.Fatal(err)
	}
	return path
}

func readerOf(t *testing.T, data []byte) *rdb.Reader {
	t.Helper()
	rd, err := rdb.NewReader(bytes.NewReader(data), nil)
	if err != nil {
		t.Fatal(err)
	}
	return rd
}

// plainSource hides a source's offset and version, as a source that is not a file would.
type plainSource struct{ src EventSource }

func (p plainSource) Next() (rdb.Event, error) { return p.src.Next() }

// checkGolden compares got with a golden file, or rewrites it under -rewrite.
func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *rewrite {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -rewrite to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (run with -rewrite to accept it):\n--- got\n%s", path, got)
	}
}

// noise is n bytes of text that LZF cannot shrink, the same for the same seed.
func noise(n, seed int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	x := uint32(n)*2654435761 + uint32(seed)*40503 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = alphabet[x%uint32(len(alphabet))]
	}
	return string(b)
}
