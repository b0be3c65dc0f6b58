package tools

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stratadb/strata/conf"
	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/rdb"
	"github.com/stratadb/strata/server/servertest"
)

// strataFixture fills a Strata with every type (FillAllTypes) and a few prefixed keys in a
// third database, and returns it running.
func strataFixture(t *testing.T, mutate func(*conf.Config)) (*servertest.Strata, *servertest.Conn) {
	t.Helper()
	s := servertest.StartStrata(t, mutate)
	c := s.Dial(t)
	if s.Config.RequirePass != "" {
		c.Do("AUTH", s.Config.RequirePass)
	}
	servertest.FillAllTypes(t, c)
	c.Do("SELECT", "2")
	for i := range 40 {
		n := strconv.Itoa(i)
		c.Do("HSET", "user:"+n, "name", "u"+n, "age", n)
		c.Do("SET", "session:"+n, strings.Repeat("s", i*10), "EX", "3600")
	}
	c.Do("SELECT", "0")
	return s, c
}

// normalize clears what differs between two reads of the same data at other times or
// from another source: its name, the dump's creation time and so its checksum.
func normalize(r *Report) *Report {
	c := *r
	c.Source, c.Checksum = "", 0
	c.Aux = nil
	for _, a := range r.Aux {
		if string(a.Name) != "ctime" {
			c.Aux = append(c.Aux, a)
		}
	}
	return &c
}

func inspectDir(t *testing.T, dir string, o InspectOptions, d DirSourceOptions) *Report {
	t.Helper()
	src, err := OpenDir(context.Background(), dir, d)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Inspect(src, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestInspectDirMatchesExport: inspecting a data directory reports exactly what inspecting
// the RDB exported from it reports, with and without filters, in every output format; --keys
// prints the same lines; a missing or foreign directory is a clear error.
func TestInspectDirMatchesExport(t *testing.T) {
	s, _ := strataFixture(t, nil)
	dir := s.Dir
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "x.rdb")
	if _, err := ExportDir(context.Background(), dir, out, ExportOptions{Version: rdb.MaxWriteVersion}); err != nil {
		t.Fatal(err)
	}
	for _, o := range []InspectOptions{
		{},
		{Top: 3, PrefixDepth: 1},
		{Filter: Filter{DBs: []int{2}, Match: "user:*"}, PrefixDepth: 1},
		{Filter: Filter{Type: "stream"}},
		{Filter: Filter{MinSize: 1000}, Top: 5},
	} {
		fileRep, err := Inspect(openDump(t, out), o)
		if err != nil {
			t.Fatal(err)
		}
		dirRep := inspectDir(t, dir, o, DirSourceOptions{})
		if fileRep.Total.Keys == 0 || !dirRep.Complete || dirRep.Source != dir {
			t.Fatalf("%+v: %d keys, complete %v, source %q", o.Filter, fileRep.Total.Keys, dirRep.Complete, dirRep.Source)
		}
		if dirRep.SourceSize != fileRep.SourceSize || dirRep.RDBVersion != rdb.MaxWriteVersion {
			t.Fatalf("%+v: dir read as %d bytes of RDB %d, the file is %d bytes", o.Filter,
				dirRep.SourceSize, dirRep.RDBVersion, fileRep.SourceSize)
		}
		a, b := normalize(fileRep), normalize(dirRep)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("%+v: reports differ\nfile %+v\ndir  %+v", o.Filter, a, b)
		}
		for _, format := range []string{FormatTable, FormatJSON, FormatCSV} {
			var fb, db bytes.Buffer
			if err := WriteReport(&fb, a, format); err != nil {
				t.Fatal(err)
			}
			if err := WriteReport(&db, b, format); err != nil {
				t.Fatal(err)
			}
			if fb.String() != db.String() {
				t.Fatalf("%s differs:\n%s\n%s", format, fb.String(), db.String())
			}
		}
	}
	// The filters select what they say.
	rep := inspectDir(t, dir, InspectOptions{Filter: Filter{DBs: []int{2}, Match: "session:*"}}, DirSourceOptions{})
	if rep.Total.Keys != 40 || rep.Total.Expiring != 40 || !reflect.DeepEqual(rep.Databases, []int{2}) {
		t.Fatalf("filtered: %+v", rep.Total)
	}
	rep = inspectDir(t, dir, InspectOptions{Filter: Filter{Type: "hash", MinSize: 1000}}, DirSourceOptions{})
	for _, g := range rep.Groups {
		if g.Type != rdb.TypeHash || g.Bytes < 1000*g.Keys {
			t.Fatalf("hashes of 1000 bytes or more: %+v", rep.Groups)
		}
	}
	if rep.Total.Keys != 1 || string(rep.TopBySize[0].Key) != "hbig" { // hlong takes ~330
		t.Fatalf("hashes of 1000 bytes or more: %+v", rep.TopBySize)
	}
	// --keys --json: the same lines from the directory and the file.
	var fromFile, fromDir bytes.Buffer
	f := Filter{DBs: []int{0, 5}}
	if err := DumpKeys(&fromFile, openDump(t, out), DumpOptions{Filter: f}); err != nil {
		t.Fatal(err)
	}
	src, err := OpenDir(context.Background(), dir, DirSourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := DumpKeys(&fromDir, src, DumpOptions{Filter: f}); err != nil {
		t.Fatal(err)
	}
	src.Close()
	// ttl_ms is counted from the dump's ctime, which is when each was written.
	ttl := regexp.MustCompile(`,"ttl_ms":[0-9]+`)
	if a, b := ttl.ReplaceAllString(fromFile.String(), ""), ttl.ReplaceAllString(fromDir.String(), ""); a == "" || a != b {
		i := 0
		for i < min(len(a), len(b)) && a[i] == b[i] {
			i++
		}
		t.Fatalf("--keys differ at byte %d:\n%.300s\n%.300s", i, a[max(i-100, 0):], b[max(i-100, 0):])
	}
	// An RDB version for the sizes of an older export.
	if v := inspectDir(t, dir, InspectOptions{}, DirSourceOptions{Version: 9}); v.RDBVersion != 9 {
		t.Fatalf("read as RDB %d", v.RDBVersion)
	}

	for _, bad := range []string{filepath.Join(t.TempDir(), "nope"), filepath.Dir(out)} {
		_, err := OpenDir(context.Background(), bad, DirSourceOptions{})
		if err == nil || !strings.Contains(err.Error(), "is not a Strata data directory") {
			t.Fatalf("%s: %v", bad, err)
		}
	}
}

// startWriter writes w:0, w:1 ... (value: the number) in database 3 of addr until stop is
// closed; acked counts the writes answered +OK.
func startWriter(t *testing.T, addr, password string, acked *atomic.Int64) (stop func() error) {
	c, err := ServerTarget{Addr: addr, Password: password}.dial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.doOK("SELECT", "3"); err != nil {
		t.Fatal(err)
	}
	quit, done := make(chan struct{}), make(chan error, 1)
	go func() {
		defer c.Close()
		for i := 0; ; i++ {
			select {
			case <-quit:
				done <- nil
				return
			default:
			}
			n := strconv.Itoa(i)
			if err := c.doOK("SET", "w:"+n, n); err != nil {
				done <- err
				return
			}
			acked.Store(int64(i + 1))
		}
	}()
	return func() error { close(quit); return <-done }
}

// TestExportRunningServer: export --dir of a directory whose server runs and keeps taking
// writes: the RDB loads into redis-server and holds the data and every write acknowledged
// before the export began; the checkpoint is gone afterwards; inspect --dir works there too.
func TestExportRunningServer(t *testing.T) {
	s, c := strataFixture(t, nil)
	want := servertest.DumpAll(t, c)
	var acked atomic.Int64
	stop := startWriter(t, s.Addr, "", &acked)
	servertest.WaitFor(t, "writes", func() bool { return acked.Load() >= 100 })
	before := acked.Load()
	out := filepath.Join(t.TempDir(), "live.rdb")
	rep, err := ExportDir(context.Background(), s.Dir, out, ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	after := acked.Load()
	servertest.WaitFor(t, "writes after the export", func() bool { return acked.Load() > after })
	if err := stop(); err != nil {
		t.Fatalf("a write failed during the export: %v", err)
	}
	t.Logf("%d writes acknowledged before the export, %d after it; %d keys exported", before, after, rep.Keys)
	if rep.Keys < before {
		t.Fatalf("exported %d keys, %d writes were acknowledged before", rep.Keys, before)
	}
	servertest.CheckRDB(t, out)
	r := servertest.StartDebugRedis(t)
	servertest.LoadIntoRedis(t, r, out)
	rc := r.Dial(t)
	if got := servertest.DumpAll(t, rc); got != want {
		t.Fatalf("redis after loading the export:\n%s\nwant:\n%s", got, want)
	}
	rc.Do("SELECT", "3")
	for i := int64(0); i < before; i++ {
		n := strconv.FormatInt(i, 10)
		if got := rc.Do("GET", "w:"+n); got != "$"+strconv.Itoa(len(n))+"\r\n"+n+"\r\n" {
			t.Fatalf("w:%s = %q in the export", n, got)
		}
	}
	if entries, err := os.ReadDir(filepath.Join(s.Dir, engine.CheckpointsDir)); err != nil || len(entries) != 0 {
		t.Fatalf("checkpoints left: %v %v", entries, err)
	}

	// inspect --dir and export --format aof of the running server's directory.
	ir := inspectDir(t, s.Dir, InspectOptions{Filter: Filter{DBs: []int{3}}}, DirSourceOptions{})
	if ir.Total.Keys < after {
		t.Fatalf("inspect saw %d keys in db 3, %d were written", ir.Total.Keys, after)
	}
	if _, err := ExportAOF(context.Background(), s.Dir, filepath.Join(t.TempDir(), "x.aof"), AOFExportOptions{}); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(filepath.Join(s.Dir, engine.CheckpointsDir)); len(entries) != 0 {
		t.Fatalf("checkpoints left: %v", entries)
	}
}

// TestExportRunningServerAuth: a server with requirepass refuses the tool without the
// password (NOAUTH) or with a wrong one (WRONGPASS), says so, and exports with it.
func TestExportRunningServerAuth(t *testing.T) {
	s, c := strataFixture(t, func(c *conf.Config) { c.RequirePass = "sesame" })
	out := filepath.Join(t.TempDir(), "x.rdb")
	for _, tc := range []struct{ password, want string }{
		{"", "NOAUTH Authentication required. (give --password"},
		{"wrong", "WRONGPASS invalid username-password pair or user is disabled. (check --user and --password"},
	} {
		_, err := ExportDir(context.Background(), s.Dir, out, ExportOptions{Access: DirAccess{Password: tc.password}})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("password %q: %v", tc.password, err)
		}
	}
	// An ACL user without @admin.
	if got := c.Do("ACL", "SETUSER", "reader", "on", ">pw", "~*", "+@read"); got != "+OK\r\n" {
		t.Fatal(got)
	}
	_, err := ExportDir(context.Background(), s.Dir, out, ExportOptions{Access: DirAccess{Username: "reader", Password: "pw"}})
	if err == nil || !strings.Contains(err.Error(), "NOPERM") {
		t.Fatalf("user without @admin: %v", err)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("a refused export wrote its file")
	}
	rep, err := ExportDir(context.Background(), s.Dir, out, ExportOptions{Access: DirAccess{Password: "sesame"}})
	if err != nil || rep.Keys == 0 {
		t.Fatalf("%v %+v", err, rep)
	}
}

// TestExportDirInUse: a directory locked by a process that left no address is refused with
// ErrDirInUse; a stale address (nobody listening, or another server) is a clear error and
// leaves nothing behind; an empty directory is not a data directory.
func TestExportDirInUse(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	e, err := engine.Open(engine.Options{Dir: dir, Databases: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	out := filepath.Join(t.TempDir(), "x.rdb")
	if _, err := ExportDir(context.Background(), dir, out, ExportOptions{}); !errors.Is(err, ErrDirInUse) {
		t.Fatalf("err %v", err)
	}

	other := servertest.StartStrata(t, nil)
	if err := engine.WriteServerAddrs(dir, []engine.ServerAddr{{Addr: other.Addr}}); err != nil {
		t.Fatal(err)
	}
	_, err = ExportDir(context.Background(), dir, out, ExportOptions{})
	if err == nil || !strings.Contains(err.Error(), "it is not the server of") {
		t.Fatalf("another server's address: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(other.Dir, engine.CheckpointsDir)); len(entries) != 0 {
		t.Fatalf("the other server's checkpoint was left: %v", entries)
	}
	other.Shutdown(context.Background())
	_, err = ExportDir(context.Background(), dir, out, ExportOptions{})
	if err == nil || !strings.Contains(err.Error(), "refused a connection") {
		t.Fatalf("nobody listening: %v", err)
	}

	if _, err := ExportDir(context.Background(), t.TempDir(), out, ExportOptions{}); err == nil {
		t.Fatal("exported an empty directory")
	}
}
