package tools

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stratadb/strata/server/servertest"
)

// redisAOFFixture makes a Redis write an AOF of every type: FillAllTypes, a rewrite (so that
// the data sits in the base, an RDB or commands), then transactions, a second database and
// more writes in the incr file. It returns a copy of the appendonlydir and the digest.
func redisAOFFixture(t *testing.T, preamble string) (dir, digest string) {
	t.Helper()
	// appendfsync always: with everysec Redis may answer before it writes the AOF.
	r := servertest.StartRedis(t, "--enable-debug-command", "yes", "--appendonly", "yes", "--appendfsync", "always",
		"--aof-use-rdb-preamble", preamble)
	c := r.Dial(t)
	servertest.FillAllTypes(t, c)
	c.Do("FUNCTION", "LOAD", "#!lua name=lib1\nredis.register_function('one', function() return 1 end)")
	c.Do("BGREWRITEAOF")
	waitInfo(t, c, "aof_rewrite_in_progress:0", "aof_rewrite_scheduled:0")
	for _, cmd := range [][]string{
		{"MULTI"}, {"INCR", "n"}, {"RPUSH", "l", "tx"}, {"SELECT", "7"}, {"SET", "in7", "v"}, {"EXEC"},
		{"SET", "after", "x"}, {"SELECT", "5"}, {"SADD", "set5", "more"}, {"HSET", "h5", "f", "v"},
		{"SELECT", "0"}, {"DEL", "s"}, {"ZADD", "z", "3", "three"}, {"XADD", "st", "9-1", "k", "v"},
		{"EXPIRE", "after", "10000"}, {"EVAL", "redis.call('SET', KEYS[1], 'lua') return 1", "1", "fromlua"},
	} {
		if got := c.Do(cmd...); strings.HasPrefix(got, "-") {
			t.Fatalf("%q: %s", cmd, got)
		}
	}
	dir = filepath.Join(t.TempDir(), "appendonlydir")
	copyDir(t, filepath.Join(r.Dir, "appendonlydir"), dir)
	// The digest to match is that of a Redis into which the same files are replayed, not of
	// the live data the rewrite came from, nor of a Redis that loads the directory itself:
	// on a loaded machine both differed from run to run (see the AOF issue's notes), while
	// two replays of one file always agree.
	ref := servertest.StartDebugRedis(t)
	importAOFInto(t, dir, ref.Socket)
	return dir, ref.Dial(t).Do("DEBUG", "DIGEST")
}

func importAOFInto(t *testing.T, path, addr string) *AOFImportReport {
	t.Helper()
	rep, err := ImportAOF(context.Background(), path, AOFImportOptions{Target: ServerTarget{Addr: addr}})
	if err != nil {
		t.Fatalf("import %s: %v (%+v)", path, err, rep)
	}
	return rep
}

// TestImportAOFFromRedis: AOFs Redis wrote (multi-part with an RDB or a command base, and
// the same data as one old-style file) imported into Strata and into a fresh Redis give the
// source's DEBUG DIGEST; the function library comes along.
func TestImportAOFFromRedis(t *testing.T) {
	for _, preamble := range []string{"yes", "no"} {
		t.Run("preamble="+preamble, func(t *testing.T) {
			dir, want := redisAOFFixture(t, preamble)
			base, incr := manifestFiles(t, dir)
			single := filepath.Join(t.TempDir(), "appendonly.aof")
			writeFile(t, single, append(readFile(t, filepath.Join(dir, base)), readFile(t, filepath.Join(dir, incr))...))
			for _, path := range []string{dir, filepath.Join(dir, "appendonly.aof.manifest"), single} {
				s := startDebugStrata(t)
				rep := importAOFInto(t, path, s.Addr)
				if rep.Transactions != 1 || (preamble == "yes") != (rep.Preamble != nil) || len(rep.Warnings) != 0 {
					t.Fatalf("%s: report %+v", path, rep)
				}
				sc := s.Dial(t)
				if got := sc.Do("DEBUG", "DIGEST"); got != want {
					t.Fatalf("%s: Strata's digest %q, want %q", path, got, want)
				}
				if got := sc.Do("FCALL", "one", "0"); got != ":1\r\n" {
					t.Fatalf("%s: the function library did not come: %q", path, got)
				}
				r := servertest.StartDebugRedis(t)
				importAOFInto(t, path, r.Socket)
				if got := r.Dial(t).Do("DEBUG", "DIGEST"); got != want {
					t.Fatalf("%s: Redis's digest %q, want %q", path, got, want)
				}
			}
		})
	}
}

// TestImportAOFDamaged: a truncated last command and an unfinished transaction are dropped
// with a warning, as Redis (aof-load-truncated yes) drops them; the result is the digest of a
// Redis that loads the same file. A command the server refuses is counted, and the rest goes
// in.
func TestImportAOFDamaged(t *testing.T) {
	dir, _ := redisAOFFixture(t, "no")
	_, incr := manifestFiles(t, dir)
	data := readFile(t, filepath.Join(dir, incr))
	for _, tc := range []struct {
		name     string
		incr     []byte
		warnings int
	}{
		{"cut", data[:len(data)-7], 1},
		{"unfinished multi", append(append([]byte{}, data...), "*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"...), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := filepath.Join(t.TempDir(), "appendonlydir")
			copyDir(t, dir, d)
			writeFile(t, filepath.Join(d, incr), tc.incr)
			s := startDebugStrata(t)
			rep := importAOFInto(t, d, s.Addr)
			if len(rep.Warnings) < tc.warnings {
				t.Fatalf("warnings %q", rep.Warnings)
			}
			// The same directory loaded by Redis.
			parent := filepath.Dir(d)
			rc := startRedisOn(t, parent)
			if got, want := s.Dial(t).Do("DEBUG", "DIGEST"), rc.Do("DEBUG", "DIGEST"); got != want {
				t.Fatalf("Strata's digest %q, Redis's %q", got, want)
			}
		})
	}
	// Refused commands: counted, the rest imported.
	bad := filepath.Join(t.TempDir(), "bad.aof")
	writeFile(t, bad, []byte("*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$4\r\nNOPE\r\n$1\r\nx\r\n*2\r\n$4\r\nINCR\r\n$1\r\na\r\n"))
	s := startDebugStrata(t)
	rep, err := ImportAOF(context.Background(), bad, AOFImportOptions{Target: ServerTarget{Addr: s.Addr}})
	if err == nil || rep.Refused.Count != 1 || !strings.Contains(rep.Refused.First[0], "bad.aof offset 27: NOPE: ERR unknown command") {
		t.Fatalf("err %v, report %+v", err, rep)
	}
	if got := s.Dial(t).Do("GET", "a"); got != "$1\r\n2\r\n" {
		t.Fatalf("GET a: %q", got)
	}
}

// startRedisOn starts a Redis with appendonly yes on dir (which holds an AOF) and waits until
// it has loaded it (Redis answers DEBUG while it loads).
func startRedisOn(t *testing.T, dir string) *servertest.Conn {
	t.Helper()
	r := servertest.StartRedis(t, "--enable-debug-command", "yes", "--appendonly", "yes", "--dir", dir)
	// It accepts connections before it loads; its log says when it is done.
	servertest.WaitFor(t, "redis-server loaded the AOF", func() bool {
		log, _ := os.ReadFile(filepath.Join(r.Dir, "redis.log"))
		return strings.Contains(string(log), "ready to accept connections")
	})
	return r.Dial(t)
}

// strataWithAllTypes fills a Strata data directory with every type and returns it closed,
// with its digest.
func strataWithAllTypes(t *testing.T) (dir, digest string) {
	t.Helper()
	s := startDebugStrata(t)
	c := s.Dial(t)
	servertest.FillAllTypes(t, c)
	digest = c.Do("DEBUG", "DIGEST")
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s.Dir, digest
}

// TestExportAOFLoadsInRedis: a Strata data directory exported as an AOF (one file, or a
// multi-part directory; commands or an RDB base) passes redis-check-aof and loads in
// redis-server 7.0 with the same DEBUG DIGEST. Exporting again into the same directory
// replaces the AOF there, as BGREWRITEAOF does.
func TestExportAOFLoadsInRedis(t *testing.T) {
	redisCheckAOFPath(t)
	dir, want := strataWithAllTypes(t)
	for _, tc := range []struct {
		name string
		o    AOFExportOptions
	}{
		{"single", AOFExportOptions{}},
		{"single-preamble", AOFExportOptions{RDBBase: true}},
		{"multipart", AOFExportOptions{MultiPart: true}},
		{"multipart-rdb", AOFExportOptions{MultiPart: true, RDBBase: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			out := filepath.Join(parent, "appendonly.aof")
			if tc.o.MultiPart {
				out = filepath.Join(parent, "appendonlydir")
			}
			for round := 1; round <= 2; round++ {
				rep, err := ExportAOF(context.Background(), dir, out, tc.o)
				if err != nil {
					t.Fatal(err)
				}
				if rep.Keys != 29 {
					t.Fatalf("exported %d keys", rep.Keys)
				}
			}
			check := out
			if tc.o.MultiPart {
				ents, _ := os.ReadDir(out)
				if len(ents) != 2 { // the second export replaced the first's base
					t.Fatalf("files %v", ents)
				}
				check = filepath.Join(out, "appendonly.aof.manifest")
			}
			if ok, text := runRedisCheckAOF(t, check); !ok {
				t.Fatalf("redis-check-aof: %s", text)
			}
			if _, err := exec.LookPath("redis-server"); err != nil {
				t.Skip()
			}
			if got := startRedisOn(t, parent).Do("DEBUG", "DIGEST"); got != want {
				t.Fatalf("Redis loaded the export with digest %q, want %q", got, want)
			}
		})
	}
}
