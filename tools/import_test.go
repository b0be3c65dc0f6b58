package tools

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stratadb/strata/conf"
	"github.com/stratadb/strata/rdb"
	"github.com/stratadb/strata/server/servertest"
)

// redisFixture fills a real Redis with every type and returns its dump and its digest.
func redisFixture(t *testing.T) (dump string, r *servertest.Redis, digest string) {
	t.Helper()
	r = servertest.StartDebugRedis(t)
	c := r.Dial(t)
	servertest.FillAllTypes(t, c)
	if got := c.Do("SAVE"); got != "+OK\r\n" {
		t.Fatalf("SAVE: %q", got)
	}
	return filepath.Join(r.Dir, "dump.rdb"), r, c.Do("DEBUG", "DIGEST")
}

func openDump(t *testing.T, path string) *RDBFile {
	t.Helper()
	f, err := OpenRDB(path, &rdb.ReaderOptions{SkipEmptyKeys: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestImportExportRoundTrip: a dump made by the real Redis → import (each path) → export →
// redis-check-rdb passes → loads into redis-server with the original's DEBUG DIGEST.
func TestImportExportRoundTrip(t *testing.T) {
	dump, _, want := redisFixture(t)
	for _, tc := range []struct {
		name   string
		mode   ImportMode
		memory int
	}{
		{"bulk", ImportBulk, 0},
		{"bulk-runs", ImportBulk, 64 << 10},
		{"batch", ImportBatch, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			rep, err := ImportToDir(context.Background(), openDump(t, dump),
				ImportOptions{Dir: dir, Mode: tc.mode, MemoryLimit: tc.memory})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Keys != 29 || rep.Path != string(tc.mode) || (tc.memory > 0) != (rep.Load.Runs > 1) {
				t.Fatalf("report %+v", rep)
			}
			out := filepath.Join(t.TempDir(), "out.rdb")
			xr, err := ExportDir(context.Background(), dir, out, ExportOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if xr.Keys != 29 {
				t.Fatalf("exported %d keys", xr.Keys)
			}
			servertest.CheckRDB(t, out)
			if got := servertest.LoadIntoRedis(t, servertest.StartDebugRedis(t), out); got != want {
				t.Fatalf("digest %q after import and export, want %q", got, want)
			}
		})
	}
}

// TestImportIntoExistingDir: auto takes the batch path into a directory with keys, and the
// imported keys replace the ones there.
func TestImportIntoExistingDir(t *testing.T) {
	dump, r, _ := redisFixture(t)
	dir := t.TempDir()
	s := servertest.StartStrata(t, func(c *conf.Config) { c.Dir, c.RDBLoadOnEmpty = dir, false })
	sc := s.Dial(t)
	sc.Do("SET", "s", "mine")
	sc.Do("SET", "other", "kept")
	s.Shutdown(context.Background())
	rep, err := ImportToDir(context.Background(), openDump(t, dump), ImportOptions{Dir: dir})
	if err != nil || rep.Path != "batch" {
		t.Fatalf("%+v %v", rep, err)
	}
	s2 := servertest.StartStrata(t, func(c *conf.Config) { c.Dir = dir })
	c := s2.Dial(t)
	if got := c.Do("GET", "other"); got != "$4\r\nkept\r\n" {
		t.Fatalf("GET other: %q", got)
	}
	c.Do("DEL", "other")
	if got, want := servertest.DumpAll(t, c), servertest.DumpAll(t, r.Dial(t)); got != want {
		t.Fatalf("imported:\n%s\nwant:\n%s", got, want)
	}
	// A bulk import needs a directory without keys.
	s2.Shutdown(context.Background())
	if _, err := ImportToDir(context.Background(), openDump(t, dump), ImportOptions{Dir: dir, Mode: ImportBulk}); err == nil {
		t.Fatal("a bulk import into a directory with keys succeeded")
	}
}

// keysIn lists "db/key" of an RDB file.
func keysIn(t *testing.T, path string) []string {
	t.Helper()
	f := openDump(t, path)
	var out []string
	for {
		ev, err := f.Next()
		if err != nil {
			break
		}
		if ev.Kind == rdb.KindKey {
			out = append(out, string(rune('0'+ev.DB))+"/"+string(ev.Key))
		}
	}
	slices.Sort(out)
	return out
}

func TestImportFilters(t *testing.T) {
	dump, _, _ := redisFixture(t)
	for _, tc := range []struct {
		filter Filter
		want   string
	}{
		{Filter{DBs: []int{5}}, "5/s 5/set5"},
		{Filter{Match: "h*"}, "0/h 0/hbig 0/hll 0/hlldense 0/hlong"},
		{Filter{Type: "list"}, "0/l 0/lbig 0/llong"},
		{Filter{Type: "set", DBs: []int{0}, Match: "*big"}, "0/ibig 0/sbig"},
	} {
		dir := t.TempDir()
		rep, err := ImportToDir(context.Background(), openDump(t, dump), ImportOptions{Dir: dir, Filter: tc.filter})
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), "out.rdb")
		if _, err := ExportDir(context.Background(), dir, out, ExportOptions{}); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(keysIn(t, out), " "); got != tc.want {
			t.Errorf("%+v: imported %s, want %s", tc.filter, got, tc.want)
		}
		if rep.Filtered != 29-int64(len(strings.Fields(tc.want))) {
			t.Errorf("%+v: %d filtered", tc.filter, rep.Filtered)
		}
		// The same filter on export.
		all := filepath.Join(t.TempDir(), "all")
		ImportToDir(context.Background(), openDump(t, dump), ImportOptions{Dir: all})
		if _, err := ExportDir(context.Background(), all, out, ExportOptions{Filter: tc.filter}); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(keysIn(t, out), " "); got != tc.want {
			t.Errorf("%+v: exported %s, want %s", tc.filter, got, tc.want)
		}
	}
	if _, err := ImportToDir(context.Background(), openDump(t, dump), ImportOptions{Dir: t.TempDir(), Filter: Filter{Type: "bogus"}}); err == nil {
		t.Fatal("an unknown type filter was accepted")
	}
}

// TestImportToServer imports online into the real Redis and into Strata, whole and with keys
// cut into command batches; without --replace existing keys are errors.
func TestImportToServer(t *testing.T) {
	dump, _, want := redisFixture(t)
	for _, maxPayload := range []int{0, 2000} {
		r := servertest.StartDebugRedis(t)
		rep, err := ImportToServer(context.Background(), openDump(t, dump),
			ImportOptions{Target: ServerTarget{Addr: r.Socket, MaxPayload: maxPayload, Pipeline: 7}})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Keys != 29 || (maxPayload > 0) != (rep.Chunked > 0) {
			t.Fatalf("report %+v", rep)
		}
		c := r.Dial(t)
		if got := c.Do("DEBUG", "DIGEST"); got != want {
			t.Fatalf("max payload %d: digest %q, want %q", maxPayload, got, want)
		}

		s := servertest.StartStrata(t, nil)
		if _, err := ImportToServer(context.Background(), openDump(t, dump),
			ImportOptions{Target: ServerTarget{Addr: s.Addr, MaxPayload: maxPayload}}); err != nil {
			t.Fatal(err)
		}
		if got, w := servertest.DumpAll(t, s.Dial(t)), servertest.DumpAll(t, c); got != w {
			t.Fatalf("into Strata:\n%s\nwant:\n%s", got, w)
		}
	}

	r := servertest.StartRedis(t)
	c := r.Dial(t)
	c.Do("SET", "s", "taken")
	rep, err := ImportToServer(context.Background(), openDump(t, dump), ImportOptions{Target: ServerTarget{Addr: r.Socket}})
	if err == nil || rep.ErrCount != 1 || !strings.Contains(rep.Errors[0], "BUSYKEY") {
		t.Fatalf("%v %+v", err, rep)
	}
	if _, err := ImportToServer(context.Background(), openDump(t, dump),
		ImportOptions{Target: ServerTarget{Addr: r.Socket, Replace: true}}); err != nil {
		t.Fatal(err)
	}
	if got := c.Do("GET", "s"); got != "$5\r\nhello\r\n" {
		t.Fatalf("GET s after --replace: %q", got)
	}
}
