package aof

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func TestWriterSelects(t *testing.T) {
	var sb strings.Builder
	w := NewWriter(&sb)
	b := func(s ...string) [][]byte {
		var out [][]byte
		for _, x := range s {
			out = append(out, []byte(x))
		}
		return out
	}
	steps := []error{
		w.Timestamp(1700000000),
		w.Command(AnyDB, b("FUNCTION", "FLUSH")...),
		w.Command(0, b("SET", "a", "1")...),
		w.Command(0, b("SET", "b", "")...),
		w.Command(7, b("DEL", "a")...),
		w.Command(AnyDB, b("FLUSHALL")...),
		w.Command(7, b("SET", "c", "x\r\ny")...),
	}
	if _, err := w.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(append(steps, w.Flush())...); err != nil {
		t.Fatal(err)
	}
	got := commandsOf([]byte(sb.String()))
	want := `ts @0: 1700000000
FUNCTION FLUSH
SELECT 0
SET a 1
SET b ""
SELECT 7
DEL a
FLUSHALL
SET c "x\r\ny"
PING
`
	if got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
	if w.Offset() != int64(sb.Len()) {
		t.Fatalf("Offset %d, wrote %d", w.Offset(), sb.Len())
	}
}

func TestCreateDirLayout(t *testing.T) {
	for _, tc := range []struct {
		opts  DirOptions
		files []string
		man   string
	}{
		{DirOptions{}, []string{"appendonly.aof.1.base.rdb", "appendonly.aof.1.incr.aof", "appendonly.aof.manifest"},
			"file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"},
		{DirOptions{Filename: "x y.aof", BaseAOF: true}, []string{"x y.aof.1.base.aof", "x y.aof.1.incr.aof", "x y.aof.manifest"},
			"file \"x y.aof.1.base.aof\" seq 1 type b\nfile \"x y.aof.1.incr.aof\" seq 1 type i\n"},
	} {
		dir := filepath.Join(t.TempDir(), "appendonlydir")
		d, err := CreateDir(dir, tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		ents, _ := os.ReadDir(dir)
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		sort.Strings(names)
		if strings.Join(names, "|") != strings.Join(tc.files, "|") {
			t.Fatalf("files %q, want %q", names, tc.files)
		}
		m, _ := os.ReadFile(filepath.Join(dir, tc.files[2]))
		if string(m) != tc.man {
			t.Fatalf("manifest %q, want %q", m, tc.man)
		}
		if _, err := CreateDir(dir, tc.opts); !errors.Is(err, ErrExists) {
			t.Fatalf("second CreateDir: %v", err)
		}
	}
	path := filepath.Join(t.TempDir(), "appendonly.aof")
	f, err := CreateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := CreateFile(path); err == nil {
		t.Fatal("CreateFile overwrote a file")
	}
}
