package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stratadb/strata/conf"
	"github.com/stratadb/strata/rdb"
	"github.com/stratadb/strata/server"
	"github.com/stratadb/strata/server/servertest"
)

// TestRDBRoundTripWithRedis: Strata's SAVE passes redis-check-rdb and loads into Redis with the
// digest of a Redis that ran the same commands; Redis's own dump, dropped into an empty Strata
// directory, loads at start, holds the same data, and goes back out (BGSAVE) to the same digest.
func TestRDBRoundTripWithRedis(t *testing.T) {
	r1 := servertest.StartDebugRedis(t)
	s := servertest.StartStrata(t, nil)
	sc, rc := s.Dial(t), r1.Dial(t)
	servertest.FillAllTypes(t, sc, rc)
	want := rc.Do("DEBUG", "DIGEST")
	for _, db := range servertest.PersistDBs { // (the streams' delivery times differ)
		sc.Do("SELECT", db)
		rc.Do("SELECT", db)
		if got, w := servertest.Dump(t, sc), servertest.Dump(t, rc); got != w {
			t.Fatalf("the servers disagree before any save:\n%s\n%s", got, w)
		}
	}
	sc.Do("SELECT", "0")
	rc.Do("SELECT", "0")

	if got := sc.Do("SAVE"); got != "+OK\r\n" {
		t.Fatalf("SAVE: %q", got)
	}
	strataDump := filepath.Join(s.Dir, "dump.rdb")
	servertest.CheckRDB(t, strataDump)
	r2 := servertest.StartDebugRedis(t)
	if got := servertest.LoadIntoRedis(t, r2, strataDump); got != want {
		t.Fatalf("Strata's dump loads into Redis with digest %q, want %q", got, want)
	}
	if got, w := servertest.DumpAll(t, r2.Dial(t)), servertest.DumpAll(t, sc); got != w {
		t.Fatalf("Redis loaded from Strata's dump:\n%s\nStrata:\n%s", got, w)
	}

	// Redis's dump, in the dir of a fresh Strata: loaded at start.
	if got := rc.Do("SAVE"); got != "+OK\r\n" {
		t.Fatalf("redis SAVE: %q", got)
	}
	dir := t.TempDir()
	servertest.CopyFile(t, filepath.Join(r1.Dir, "dump.rdb"), filepath.Join(dir, "dump.rdb"))
	s2 := servertest.StartStrata(t, func(c *conf.Config) { c.Dir = dir })
	<-s2.Loaded()
	c2 := s2.Dial(t)
	if got, w := servertest.DumpAll(t, c2), servertest.DumpAll(t, rc); got != w {
		t.Fatalf("the loaded dump differs:\n%s\nwant:\n%s", got, w)
	}
	if got := servertest.InfoField(t, c2, "rdb_last_load_keys_loaded"); got != "29" {
		t.Fatalf("rdb_last_load_keys_loaded %q", got)
	}
	if got := c2.Do("BGSAVE"); got != "+Background saving started\r\n" {
		t.Fatalf("BGSAVE: %q", got)
	}
	<-s2.SaveFinished()
	if got := servertest.InfoField(t, c2, "rdb_last_bgsave_status"); got != "ok" {
		t.Fatalf("rdb_last_bgsave_status %q", got)
	}
	servertest.CheckRDB(t, filepath.Join(dir, "dump.rdb"))
	r3 := servertest.StartDebugRedis(t)
	if got := servertest.LoadIntoRedis(t, r3, filepath.Join(dir, "dump.rdb")); got != want {
		t.Fatalf("after import and export the digest is %q, want %q", got, want)
	}
	if got, w := servertest.DumpAll(t, r3.Dial(t)), servertest.DumpAll(t, rc); got != w {
		t.Fatalf("after import and export:\n%s\nwant:\n%s", got, w)
	}
}

// TestDumpRestoreWithRedis moves every key both ways: Redis's DUMP restores into Strata with
// the same contents, and Strata's DUMP restores into Redis with the same DEBUG DIGEST-VALUE
// and, TTLs included, the same DEBUG DIGEST.
func TestDumpRestoreWithRedis(t *testing.T) {
	r1, r2 := servertest.StartDebugRedis(t), servertest.StartDebugRedis(t)
	s := servertest.StartStrata(t, nil)
	rc, r2c, sc := r1.Dial(t), r2.Dial(t), s.Dial(t)
	servertest.FillAllTypes(t, rc)
	for _, db := range servertest.PersistDBs {
		for _, c := range []*servertest.Conn{rc, r2c, sc} {
			c.Do("SELECT", db)
		}
		keys, err := servertest.ParseReply(rc.Do("KEYS", "*"))
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys.Strings() {
			payload := bulkText(t, rc.Do("DUMP", k))
			at := strings.TrimPrefix(strings.TrimSuffix(rc.Do("PEXPIRETIME", k), "\r\n"), ":")
			if at == "-1" {
				at = "0"
			}
			if got := sc.Do("RESTORE", k, at, payload, "ABSTTL"); got != "+OK\r\n" {
				t.Fatalf("RESTORE %q into Strata: %q", k, got)
			}
			back := bulkText(t, sc.Do("DUMP", k))
			if got := r2c.Do("RESTORE", k, at, back, "ABSTTL"); got != "+OK\r\n" {
				t.Fatalf("RESTORE %q (Strata's DUMP) into Redis: %q", k, got)
			}
			if got, want := r2c.Do("DEBUG", "DIGEST-VALUE", k), rc.Do("DEBUG", "DIGEST-VALUE", k); got != want {
				t.Errorf("%q: digest %q after the trip through Strata, want %q", k, got, want)
			}
		}
	}
	if got, want := servertest.DumpAll(t, sc), servertest.DumpAll(t, rc); got != want {
		t.Fatalf("restored into Strata:\n%s\nwant:\n%s", got, want)
	}
	if got, want := r2c.Do("DEBUG", "DIGEST"), rc.Do("DEBUG", "DIGEST"); got != want {
		t.Fatalf("digest %q, want %q", got, want)
	}
}

// bulkText returns the bytes of a bulk string reply.
func bulkText(t *testing.T, raw string) string {
	t.Helper()
	r, err := servertest.ParseReply(raw)
	if err != nil || r.Kind != '$' || r.Null {
		t.Fatalf("not a bulk string: %q (%v)", raw, err)
	}
	return r.Text
}

// readRDB reads an RDB file into key -> value text, for string keys only (others count).
func readRDB(t *testing.T, path string) (strs map[string]string, others int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd, err := rdb.NewReader(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	strs = map[string]string{}
	var key string
	for {
		ev, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return strs, others
		}
		if err != nil {
			t.Fatal(err)
		}
		switch ev.Kind {
		case rdb.KindKey:
			key = fmt.Sprintf("%d/%s", ev.DB, ev.Key)
			if ev.Header.Type != rdb.TypeString {
				others++
			}
		case rdb.KindString:
			strs[key] = string(ev.Value)
		}
	}
}

// TestBgsaveConsistentUnderWrites holds a BGSAVE after its snapshot and writes meanwhile:
// every write succeeds at once, and the dump holds exactly the state at the BGSAVE.
func TestBgsaveConsistentUnderWrites(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	c := s.Dial(t)
	const n = 20000
	for i := 0; i < n; i += 500 {
		args := []string{"MSET"}
		for j := i; j < i+500; j++ {
			args = append(args, "k"+strconv.Itoa(j), "old"+strconv.Itoa(j))
		}
		c.Do(args...)
	}
	c.Do("RPUSH", "list", "a", "b")
	release := make(chan struct{})
	s.SetPersistHold(func() { <-release })
	if got := c.Do("BGSAVE"); got != "+Background saving started\r\n" {
		t.Fatalf("BGSAVE: %q", got)
	}
	for _, cmd := range [][]string{{"BGSAVE"}, {"BGSAVE", "SCHEDULE"}, {"SAVE"}} {
		if got := c.Do(cmd...); got != "-ERR Background save already in progress\r\n" {
			t.Fatalf("%v during a BGSAVE: %q", cmd, got)
		}
	}
	if got := servertest.InfoField(t, c, "rdb_bgsave_in_progress"); got != "1" {
		t.Fatalf("rdb_bgsave_in_progress %q", got)
	}
	if got := servertest.InfoField(t, c, "current_save_keys_total"); got != strconv.Itoa(n+1) {
		t.Fatalf("current_save_keys_total %q", got)
	}
	// Writes during the save: overwrite every key, add and delete some, flush a database.
	before := servertest.InfoField(t, c, "rdb_changes_since_last_save")
	for i := 0; i < n; i += 500 {
		args := []string{"MSET"}
		for j := i; j < i+500; j++ {
			args = append(args, "k"+strconv.Itoa(j), "new"+strconv.Itoa(j))
		}
		if got := c.Do(args...); got != "+OK\r\n" {
			t.Fatalf("MSET during BGSAVE: %q", got)
		}
	}
	c.Do("SET", "added", "x")
	c.Do("DEL", "k0", "list")
	c.Do("SWAPDB", "0", "1")
	close(release)
	<-s.SaveFinished()
	strs, others := readRDB(t, filepath.Join(s.Dir, "dump.rdb"))
	if len(strs) != n || others != 1 {
		t.Fatalf("the dump holds %d strings and %d other keys, want %d and 1", len(strs), others, n)
	}
	for i := range n {
		k := "0/k" + strconv.Itoa(i)
		if strs[k] != "old"+strconv.Itoa(i) {
			t.Fatalf("%s is %q in the dump", k, strs[k])
		}
	}
	// The changes made during the save are still unsaved.
	if got := servertest.InfoField(t, c, "rdb_changes_since_last_save"); got == "0" || got == "" {
		t.Fatalf("rdb_changes_since_last_save %q after the save (was %q at its start)", got, before)
	}
	if got := servertest.InfoField(t, c, "rdb_bgsave_in_progress"); got != "0" {
		t.Fatalf("rdb_bgsave_in_progress %q", got)
	}
	if got := c.Do("GET", "k5"); got != "$-1\r\n" { // db 0 is the old db 1 now
		t.Fatalf("GET k5 after SWAPDB: %q", got)
	}
}

// TestSaveCommands covers LASTSAVE, the changes counter, BGSAVE SCHEDULE inside MULTI, save
// points and SHUTDOWN SAVE.
func TestSaveCommands(t *testing.T) {
	s := servertest.StartStrata(t, func(c *conf.Config) { c.Save = "" })
	c := s.Dial(t)
	c.Do("SET", "a", "1")
	c.Do("MSET", "b", "2", "c", "3")
	if got := servertest.InfoField(t, c, "rdb_changes_since_last_save"); got != "3" {
		t.Fatalf("rdb_changes_since_last_save %q", got)
	}
	first := c.Do("LASTSAVE")
	if got := c.Do("SAVE"); got != "+OK\r\n" {
		t.Fatalf("SAVE: %q", got)
	}
	if got := servertest.InfoField(t, c, "rdb_changes_since_last_save"); got != "0" {
		t.Fatalf("rdb_changes_since_last_save after SAVE %q", got)
	}
	if got := c.Do("LASTSAVE"); got < first {
		t.Fatalf("LASTSAVE went back: %q < %q", got, first)
	}
	if strs, _ := readRDB(t, filepath.Join(s.Dir, "dump.rdb")); len(strs) != 3 {
		t.Fatalf("dump holds %v", strs)
	}

	// Inside MULTI, BGSAVE is scheduled; the cron starts it.
	c.Do("MULTI")
	c.Do("BGSAVE")
	if got := c.Do("EXEC"); got != "*1\r\n+Background saving scheduled\r\n" {
		t.Fatalf("EXEC: %q", got)
	}
	servertest.WaitFor(t, "the scheduled BGSAVE", func() bool { return servertest.InfoField(t, c, "rdb_saves") == "2" })
	<-s.SaveFinished()

	// A save point: one change, zero seconds.
	if got := c.Do("CONFIG", "SET", "save", "0 1"); got != "+OK\r\n" {
		t.Fatalf("CONFIG SET save: %q", got)
	}
	c.Do("SET", "d", "4")
	servertest.WaitFor(t, "a save point", func() bool { return servertest.InfoField(t, c, "rdb_changes_since_last_save") == "0" })
	<-s.SaveFinished()
	if strs, _ := readRDB(t, filepath.Join(s.Dir, "dump.rdb")); strs["0/d"] != "4" {
		t.Fatalf("the save point's dump holds %v", strs)
	}
	c.Do("CONFIG", "SET", "save", "")

	// SHUTDOWN SAVE writes the dump before stopping.
	c.Do("SET", "e", "5")
	c.Send("SHUTDOWN", "SAVE")
	if _, err := c.ReadErr(30 * time.Second); !errors.Is(err, io.EOF) {
		t.Fatalf("SHUTDOWN SAVE: %v", err)
	}
	<-s.Done()
	if strs, _ := readRDB(t, filepath.Join(s.Dir, "dump.rdb")); strs["0/e"] != "5" || len(strs) != 5 {
		t.Fatalf("SHUTDOWN SAVE's dump holds %v", strs)
	}
}

// redisDump fills a real Redis with every type and returns the path of its SAVEd dump.
func redisDump(t *testing.T) (string, *servertest.Conn) {
	t.Helper()
	r := servertest.StartRedis(t)
	rc := r.Dial(t)
	servertest.FillAllTypes(t, rc)
	if got := rc.Do("SAVE"); got != "+OK\r\n" {
		t.Fatalf("redis SAVE: %q", got)
	}
	return filepath.Join(r.Dir, "dump.rdb"), rc
}

// newStrata builds a server on dir without starting it.
func newStrata(t *testing.T, dir string) (*server.Server, *conf.Config) {
	t.Helper()
	table := conf.NewTable()
	cfg := table.Default()
	cfg.Bind, cfg.Port, cfg.Dir = []string{"127.0.0.1"}, 0, dir
	srv, err := server.New(server.Options{Config: cfg, Table: table, Logger: servertest.TestLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return srv, cfg
}

// TestDropInLoading: while the dump loads, commands not flagged "loading" get -LOADING and INFO
// reports the load; then the data is there, and a restart does not load it again.
func TestDropInLoading(t *testing.T) {
	path, rc := redisDump(t)
	dir := t.TempDir()
	servertest.CopyFile(t, path, filepath.Join(dir, "dump.rdb"))
	srv, _ := newStrata(t, dir)
	release := make(chan struct{})
	srv.SetPersistHold(func() { <-release })
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	c := servertest.Dial(t, "tcp", srv.Addr().String())
	for _, cmd := range [][]string{{"GET", "s"}, {"SET", "x", "1"}, {"PING"}, {"DBSIZE"}, {"FLUSHALL"}} {
		if got := c.Do(cmd...); got != "-LOADING Redis is loading the dataset in memory\r\n" {
			t.Fatalf("%v while loading: %q", cmd, got)
		}
	}
	st, _ := os.Stat(path)
	if got := servertest.InfoField(t, c, "loading"); got != "1" {
		t.Fatalf("loading %q", got)
	}
	if got := servertest.InfoField(t, c, "loading_total_bytes"); got != strconv.FormatInt(st.Size(), 10) {
		t.Fatalf("loading_total_bytes %q", got)
	}
	if got := c.Do("LASTSAVE"); !strings.HasPrefix(got, ":") {
		t.Fatalf("LASTSAVE (flagged loading) while loading: %q", got)
	}
	close(release)
	<-srv.Loaded()
	if got, want := servertest.DumpAll(t, c), servertest.DumpAll(t, rc); got != want {
		t.Fatalf("loaded:\n%s\nwant:\n%s", got, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "strata-rdb-load.pending")); !os.IsNotExist(err) {
		t.Fatalf("the load marker is still there: %v", err)
	}
	c.Do("SET", "s", "changed")
	srv.Shutdown(context.Background())

	s2 := servertest.StartStrata(t, func(cfg *conf.Config) { cfg.Dir = dir })
	<-s2.Loaded()
	if got := s2.Dial(t).Do("GET", "s"); got != "$7\r\nchanged\r\n" {
		t.Fatalf("after a restart: %q (the dump was loaded again?)", got)
	}
}

// TestDropInRedo: a load interrupted by a crash (its marker left behind) starts again from an
// emptied directory at the next start.
func TestDropInRedo(t *testing.T) {
	path, rc := redisDump(t)
	dir := t.TempDir()
	s := servertest.StartStrata(t, func(cfg *conf.Config) { cfg.Dir = dir })
	s.Dial(t).Do("SET", "partial", "junk")
	s.Shutdown(context.Background())
	servertest.CopyFile(t, path, filepath.Join(dir, "dump.rdb"))
	if err := os.WriteFile(filepath.Join(dir, "strata-rdb-load.pending"), []byte(filepath.Join(dir, "dump.rdb")), 0o644); err != nil {
		t.Fatal(err)
	}
	s2 := servertest.StartStrata(t, func(cfg *conf.Config) { cfg.Dir = dir })
	<-s2.Loaded()
	c := s2.Dial(t)
	if got, want := servertest.DumpAll(t, c), servertest.DumpAll(t, rc); got != want {
		t.Fatalf("reloaded:\n%s\nwant:\n%s", got, want)
	}
}

// TestDropInCorruptDump: a dump that cannot be loaded stops the server, marker kept; with
// rdb-load-on-empty off nothing is loaded.
func TestDropInCorruptDump(t *testing.T) {
	path, _ := redisDump(t)
	b, _ := os.ReadFile(path)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "dump.rdb"), b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	srv, _ := newStrata(t, dir)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-srv.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the server kept running on a truncated dump")
	}
	if _, err := os.Stat(filepath.Join(dir, "strata-rdb-load.pending")); err != nil {
		t.Fatalf("marker: %v", err)
	}

	off := t.TempDir()
	servertest.CopyFile(t, path, filepath.Join(off, "dump.rdb"))
	s := servertest.StartStrata(t, func(cfg *conf.Config) { cfg.Dir, cfg.RDBLoadOnEmpty = off, false })
	<-s.Loaded()
	if got := s.Dial(t).Do("DBSIZE"); got != ":0\r\n" {
		t.Fatalf("DBSIZE with rdb-load-on-empty no: %q", got)
	}
}
