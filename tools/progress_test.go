package tools

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestProgressBarDraws(t *testing.T) {
	var out bytes.Buffer
	p := NewProgressBar(&out, 4<<20, "inspect")
	p.Update(1<<20, 1234)
	p.Finish()
	if s := out.String(); !strings.Contains(s, "inspect 1234 keys") || !strings.Contains(s, "MiB") {
		t.Fatalf("bar drew %q", s)
	}
}

// A progress bar is drawn only on a terminal: a file, a pipe or a CI log get nothing.
func TestProgressOnlyOnTerminals(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, ok := ProgressOn(f, 100, "x").(NoProgress); !ok {
		t.Fatal("a progress bar on a regular file")
	}
	if _, ok := ProgressOn(nil, 100, "x").(NoProgress); !ok {
		t.Fatal("a progress bar on no file")
	}
	// A run with progress on a non-terminal writes nothing there.
	src, err := OpenRDB(filepath.Join("..", "rdb", "testdata", "redis-assets", "encodings.rdb"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if _, err := Inspect(src, InspectOptions{Progress: ProgressOn(f, src.Size, "inspect")}); err != nil {
		t.Fatal(err)
	}
	if st, _ := f.Stat(); st.Size() != 0 {
		t.Fatalf("%d bytes of progress on a regular file", st.Size())
	}
}
