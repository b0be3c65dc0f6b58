package server_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stratadb/strata/conf"
	"github.com/stratadb/strata/server/servertest"
)

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// loadAOFIntoRedis starts a Redis with appendonly yes on parent (which holds appendonlydir)
// and returns its digest once it has loaded.
func loadAOFIntoRedis(t *testing.T, parent string) string {
	t.Helper()
	r := servertest.StartRedis(t, "--enable-debug-command", "yes", "--appendonly", "yes", "--dir", parent)
	servertest.WaitFor(t, "redis-server loaded the AOF", func() bool {
		log, _ := os.ReadFile(filepath.Join(r.Dir, "redis.log"))
		return strings.Contains(string(log), "ready to accept connections")
	})
	return r.Dial(t).Do("DEBUG", "DIGEST")
}

func checkAOF(t *testing.T, manifest string) {
	t.Helper()
	out, err := exec.Command("redis-check-aof", manifest).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "All AOF files and manifest are valid") {
		t.Fatalf("redis-check-aof %s: %v\n%s", manifest, err, out)
	}
}

// copyAOFDir copies dir/appendonlydir to a new parent directory (Redis modifies what it loads).
func copyAOFDir(t *testing.T, dir string) string {
	t.Helper()
	parent := t.TempDir()
	to := filepath.Join(parent, "appendonlydir")
	os.Mkdir(to, 0o755)
	for _, name := range listDir(t, filepath.Join(dir, "appendonlydir")) {
		servertest.CopyFile(t, filepath.Join(dir, "appendonlydir", name), filepath.Join(to, name))
	}
	return parent
}

// TestBgrewriteaof: BGREWRITEAOF writes Redis 7's multi-part layout under dir/appenddirname
// (a .base.rdb, or a .base.aof with aof-use-rdb-preamble no, and the manifest), which passes
// redis-check-aof and loads in redis-server with the digest Strata had when the command ran;
// the next rewrite replaces the files; INFO persistence follows.
func TestBgrewriteaof(t *testing.T) {
	servertest.RedisServerPath(t)
	s := servertest.StartStrata(t, func(c *conf.Config) { c.EnableDebugCommand = "yes"; c.AppendOnly = true })
	c := s.Dial(t)
	servertest.FillAllTypes(t, c)
	want := c.Do("DEBUG", "DIGEST")
	aofDir := filepath.Join(s.Dir, "appendonlydir")
	for i, tc := range []struct {
		preamble string
		files    []string
	}{
		{"yes", []string{"appendonly.aof.1.base.rdb", "appendonly.aof.manifest"}},
		{"no", []string{"appendonly.aof.2.base.aof", "appendonly.aof.manifest"}},
		{"yes", []string{"appendonly.aof.3.base.rdb", "appendonly.aof.manifest"}},
	} {
		c.Do("CONFIG", "SET", "aof-use-rdb-preamble", tc.preamble)
		if got := c.Do("BGREWRITEAOF"); got != "+Background append only file rewriting started\r\n" {
			t.Fatalf("BGREWRITEAOF: %q", got)
		}
		<-s.AOFRewriteFinished()
		if got := listDir(t, aofDir); strings.Join(got, " ") != strings.Join(tc.files, " ") {
			t.Fatalf("rewrite %d: files %q, want %q", i+1, got, tc.files)
		}
		for field, v := range map[string]string{"aof_rewrites": string(rune('1' + i)), "aof_last_bgrewrite_status": "ok",
			"aof_rewrite_in_progress": "0", "aof_enabled": "1", "aof_current_rewrite_time_sec": "-1"} {
			if got := servertest.InfoField(t, c, field); got != v {
				t.Fatalf("INFO %s:%s, want %s", field, got, v)
			}
		}
		if size := servertest.InfoField(t, c, "aof_base_size"); size == "0" || size == "" {
			t.Fatalf("aof_base_size %q", size)
		}
		checkAOF(t, filepath.Join(aofDir, "appendonly.aof.manifest"))
		if got := loadAOFIntoRedis(t, copyAOFDir(t, s.Dir)); got != want {
			t.Fatalf("rewrite %d loads into Redis with digest %q, want %q", i+1, got, want)
		}
	}
}

// TestBgrewriteaofSnapshot: a rewrite holds the data of the instant BGREWRITEAOF ran, writes
// go on while it runs, a second BGREWRITEAOF meanwhile is refused as Redis refuses it, and
// inside MULTI/EXEC it is scheduled and started by the cron.
func TestBgrewriteaofSnapshot(t *testing.T) {
	servertest.RedisServerPath(t)
	release := make(chan struct{})
	held := make(chan struct{}, 4)
	s := servertest.StartStrata(t, func(c *conf.Config) { c.EnableDebugCommand = "yes" })
	s.SetAOFRewriteHold(func() {
		held <- struct{}{}
		<-release
	})
	c := s.Dial(t)
	servertest.FillAllTypes(t, c)
	want := c.Do("DEBUG", "DIGEST")
	if got := c.Do("BGREWRITEAOF"); got != "+Background append only file rewriting started\r\n" {
		t.Fatalf("BGREWRITEAOF: %q", got)
	}
	<-held
	if got := c.Do("BGREWRITEAOF"); got != "-ERR Background append only file rewriting already in progress\r\n" {
		t.Fatalf("second BGREWRITEAOF: %q", got)
	}
	if got := servertest.InfoField(t, c, "aof_rewrite_in_progress"); got != "1" {
		t.Fatalf("aof_rewrite_in_progress:%s", got)
	}
	if got := servertest.InfoField(t, c, "aof_enabled"); got != "0" {
		t.Fatalf("aof_enabled:%s", got)
	}
	c.Do("SET", "after", "the snapshot") // not blocked, and not in this rewrite
	c.Do("DEL", "s")
	close(release)
	<-s.AOFRewriteFinished()
	if got := loadAOFIntoRedis(t, copyAOFDir(t, s.Dir)); got != want {
		t.Fatalf("the rewrite loads into Redis with digest %q, want %q (the data when it started)", got, want)
	}

	// Inside a transaction: scheduled, then started by the cron.
	c.Do("MULTI")
	c.Do("BGREWRITEAOF")
	if got := c.Do("EXEC"); got != "*1\r\n+Background append only file rewriting scheduled\r\n" {
		t.Fatalf("EXEC: %q", got)
	}
	servertest.WaitFor(t, "the scheduled rewrite", func() bool {
		return servertest.InfoField(t, c, "aof_rewrites") == "2" && servertest.InfoField(t, c, "aof_rewrite_in_progress") == "0"
	})
	if got := servertest.InfoField(t, c, "aof_rewrite_scheduled"); got != "0" {
		t.Fatalf("aof_rewrite_scheduled:%s", got)
	}
	if got, want := loadAOFIntoRedis(t, copyAOFDir(t, s.Dir)), c.Do("DEBUG", "DIGEST"); got != want {
		t.Fatalf("the scheduled rewrite loads into Redis with digest %q, want %q", got, want)
	}
}
