package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stratadb/strata/server/servertest"
)

// runStrata runs the strata binary with args (stdin not a terminal) and returns its output.
func runStrata(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(strataBin, args...)
	cmd.Stdin = strings.NewReader("")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustStrata(t *testing.T, args ...string) string {
	t.Helper()
	out, err := runStrata(t, args...)
	if err != nil {
		t.Fatalf("strata %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// redisLoaded waits until a Redis started on an AOF or a dump has loaded it (it accepts
// connections, and answers DEBUG, before).
func redisLoaded(t *testing.T, r *servertest.Redis) *servertest.Conn {
	t.Helper()
	servertest.WaitFor(t, "redis-server loaded its data", func() bool {
		log, _ := os.ReadFile(filepath.Join(r.Dir, "redis.log"))
		return strings.Contains(string(log), "ready to accept connections")
	})
	return r.Dial(t)
}

// TestAOFCommands: an AOF written by Redis goes through `strata check` (and --fix on a
// damaged copy, asking nothing off a terminal), `strata import --dir` and `strata export
// --format aof-multipart`, and the export loads in Redis with the source's digest.
func TestAOFCommands(t *testing.T) {
	src := servertest.StartRedis(t, "--enable-debug-command", "yes", "--appendonly", "yes", "--appendfsync", "always")
	sc := src.Dial(t)
	servertest.FillAllTypes(t, sc)
	sc.Do("MULTI")
	sc.Do("INCR", "n")
	sc.Do("SET", "tx", "1")
	sc.Do("EXEC")
	want := sc.Do("DEBUG", "DIGEST")
	aofDir := filepath.Join(src.Dir, "appendonlydir")

	out := mustStrata(t, "check", aofDir)
	if !strings.Contains(out, "All AOF files and manifest are valid") {
		t.Fatalf("check:\n%s", out)
	}

	// A damaged copy: not sound, then fixed.
	damaged := filepath.Join(t.TempDir(), "appendonly.aof")
	var whole []byte
	for _, name := range []string{"appendonly.aof.1.base.rdb", "appendonly.aof.1.incr.aof"} {
		b, err := os.ReadFile(filepath.Join(aofDir, name))
		if err != nil {
			t.Fatal(err)
		}
		whole = append(whole, b...)
	}
	os.WriteFile(damaged, whole[:len(whole)-3], 0o644)
	if out, err := runStrata(t, "check", damaged); err == nil || !strings.Contains(out, "is not valid. Use the --fix option") {
		t.Fatalf("check of a damaged AOF: %v\n%s", err, out)
	}
	if out := mustStrata(t, "check", "--fix", damaged); !strings.Contains(out, "Successfully truncated AOF") {
		t.Fatalf("check --fix:\n%s", out)
	}
	mustStrata(t, "check", damaged)

	data := filepath.Join(t.TempDir(), "data")
	mustStrata(t, "import", "--dir", data, aofDir)
	parent := t.TempDir()
	mustStrata(t, "export", "--dir", data, "--format", "aof-multipart", filepath.Join(parent, "appendonlydir"))
	mustStrata(t, "check", filepath.Join(parent, "appendonlydir"))
	r := servertest.StartRedis(t, "--enable-debug-command", "yes", "--appendonly", "yes", "--dir", parent)
	if got := redisLoaded(t, r).Do("DEBUG", "DIGEST"); got != want {
		t.Fatalf("import then export: digest %q, want %q", got, want)
	}
}

// TestMigrateCommand: `strata migrate --dir --until-synced` copies a Redis, and the data
// directory exported as an RDB loads in Redis with the source's digest.
func TestMigrateCommand(t *testing.T) {
	src := servertest.StartRedis(t, "--enable-debug-command", "yes", "--repl-diskless-sync-delay", "0")
	sc := src.Dial(t)
	servertest.FillAllTypes(t, sc)
	want := sc.Do("DEBUG", "DIGEST")
	data := filepath.Join(t.TempDir(), "data")
	out := mustStrata(t, "migrate", "--from", src.Socket, "--dir", data, "--until-synced")
	if !strings.Contains(out, "in sync") || !strings.Contains(out, "1 full and 0 partial") {
		t.Fatalf("migrate:\n%s", out)
	}
	if out, err := runStrata(t, "migrate", "--from", src.Socket, "--dir", data, "--until-synced"); err == nil ||
		!strings.Contains(out, "--flush-target") {
		t.Fatalf("migrate into a directory with keys: %v\n%s", err, out)
	}
	dump := filepath.Join(t.TempDir(), "dump.rdb")
	mustStrata(t, "export", "--dir", data, dump)
	if got := servertest.LoadIntoRedis(t, servertest.StartDebugRedis(t), dump); got != want {
		t.Fatalf("migrate then export: digest %q, want %q", got, want)
	}
}
