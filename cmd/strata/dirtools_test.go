package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestDirToolsAgainstRunningServer: `strata export --dir` and `strata inspect --dir` of the
// directory of a running `strata server` process with a requirepass: refused without the
// password (NOAUTH, said plainly), done with --password or REDISCLI_AUTH, leaving no
// checkpoint; after the server stops, inspect --dir reads the directory itself and reports
// what inspect reports of the export. Flag mistakes are errors.
func TestDirToolsAgainstRunningServer(t *testing.T) {
	dir := t.TempDir()
	p := startStrata(t, dir)
	c := p.client(1)
	ctx := context.Background()
	if err := c.Do(ctx, "CONFIG", "SET", "requirepass", "pw").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Do(ctx, "AUTH", "pw").Err(); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]any{
		{"SET", "user:1", "ann"}, {"HSET", "user:2", "name", "bob"}, {"RPUSH", "queue:a", "x", "y"},
		{"SADD", "tags", "a", "b"}, {"ZADD", "board", "1", "m"}, {"XADD", "events", "1-1", "f", "v"},
		{"SET", "session:x", "s", "EX", "100"},
	} {
		if err := c.Do(ctx, args...).Err(); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "live.rdb")
	msg, err := runStrata(t, "export", "--dir", dir, out)
	if err == nil || !strings.Contains(msg, "NOAUTH Authentication required.") || !strings.Contains(msg, "--password") {
		t.Fatalf("export without the password: %v\n%s", err, msg)
	}
	mustStrata(t, "export", "--dir", dir, "--password", "pw", out)
	cmd := exec.Command(strataBin, "inspect", "--dir", dir, "--json")
	cmd.Env = append(cleanEnv(), "REDISCLI_AUTH=pw")
	live, err := cmd.Output()
	if err != nil {
		t.Fatalf("inspect --dir of a running server: %v", err)
	}
	var rep struct {
		Total struct {
			Keys     int64 `json:"keys"`
			Expiring int64 `json:"keys_with_expiry"`
		} `json:"total"`
	}
	if err := json.Unmarshal(live, &rep); err != nil || rep.Total.Keys != 7 || rep.Total.Expiring != 1 {
		t.Fatalf("inspect --dir --json: %v %+v\n%s", err, rep, live)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "checkpoints")); len(entries) != 0 {
		t.Fatalf("checkpoints left: %v", entries)
	}

	p.signal(syscall.SIGTERM)
	if code := p.waitExit(); code != 0 {
		t.Fatalf("exit status %d", code)
	}
	// Offline: the directory itself, read as RDB 10 to compare with the default export.
	mustStrata(t, "export", "--dir", dir, out)
	fromFile := mustStrata(t, "inspect", "--format", "csv", out)
	fromDir := mustStrata(t, "inspect", "--format", "csv", "--rdb-version", "10", "--dir", dir)
	if fromFile != fromDir || !strings.Contains(fromDir, "queue:") {
		t.Fatalf("inspect of the export:\n%s\ninspect --dir:\n%s", fromFile, fromDir)
	}
	for _, args := range [][]string{
		{"inspect"},
		{"inspect", out, "--dir", dir},
		{"inspect", out, "--rdb-version", "9"},
		{"inspect", "--dir", filepath.Join(dir, "nope")},
	} {
		if msg, err := runStrata(t, args...); err == nil {
			t.Fatalf("strata %s succeeded:\n%s", strings.Join(args, " "), msg)
		}
	}
}
