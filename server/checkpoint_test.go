package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stratadb/strata/conf"
	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/server/servertest"
)

// TestCheckpointCommand: CHECKPOINT name makes a consistent copy under dir/checkpoints that
// opens as a data directory with the data; bad names, an existing name and a non-admin user
// are refused; the address file is there while the server runs and gone after it stops; a
// restart removes checkpoints nobody reads.
func TestCheckpointCommand(t *testing.T) {
	s := servertest.StartStrata(t, func(c *conf.Config) { c.Bind = []string{"0.0.0.0"} })
	c := s.Dial(t)
	addrs, err := engine.ReadServerAddrs(s.Dir)
	if err != nil || len(addrs) != 1 || addrs[0].TLS ||
		!strings.HasPrefix(addrs[0].Addr, "127.0.0.1:") || !strings.HasSuffix(s.Addr, addrs[0].Addr[len("127.0.0.1"):]) {
		t.Fatalf("address file: %+v %v (listening on %s)", addrs, err, s.Addr)
	}
	c.Do("SET", "k", "v")
	c.Do("RPUSH", "l", "a", "b")
	for _, bad := range []string{"", ".", "..", ".hidden", "a/b", "../x", "a b", strings.Repeat("n", 101)} {
		if got := c.Do("CHECKPOINT", bad); got != "-"+engine.ErrCheckpointName.Error()+"\r\n" {
			t.Fatalf("CHECKPOINT %q: %q", bad, got)
		}
	}
	if got := c.Do("CHECKPOINT"); !strings.HasPrefix(got, "-ERR wrong number of arguments for 'checkpoint' command") {
		t.Fatalf("no name: %q", got)
	}
	got := c.Do("CHECKPOINT", "t-1.x")
	r, err := servertest.ParseReply(got)
	path := r.Text
	if err != nil || r.Kind != '$' || path != filepath.Join(s.Dir, engine.CheckpointsDir, "t-1.x") {
		t.Fatalf("CHECKPOINT: %q", got)
	}
	if got := c.Do("CHECKPOINT", "t-1.x"); !strings.HasPrefix(got, "-ERR checkpoint failed: ") {
		t.Fatalf("CHECKPOINT of an existing name: %q", got)
	}
	c.Do("SET", "after", "1") // not in the copy
	d, err := engine.OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := d.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if keys, _ := snap.KeyCounts(0); keys != 2 {
		t.Fatalf("the checkpoint holds %d keys", keys)
	}
	snap.Close()
	d.Close()

	if got := c.Do("ACL", "SETUSER", "app", "on", ">pw", "~*", "+@all", "-@admin"); got != "+OK\r\n" {
		t.Fatal(got)
	}
	app := s.Dial(t)
	app.Do("AUTH", "app", "pw")
	if got := app.Do("CHECKPOINT", "t-2"); !strings.HasPrefix(got, "-NOPERM") {
		t.Fatalf("CHECKPOINT by a user without @admin: %q", got)
	}
	if got := c.Do("EVAL", "return redis.call('CHECKPOINT', 'x')", "0"); !strings.Contains(got, "not allowed from script") {
		t.Fatalf("CHECKPOINT from a script: %q", got)
	}

	dir := s.Dir
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, engine.ServerAddrFile)); !os.IsNotExist(err) {
		t.Fatalf("address file after shutdown: %v", err)
	}
	servertest.StartStrata(t, func(c *conf.Config) { c.Dir = dir })
	if entries, err := os.ReadDir(filepath.Join(dir, engine.CheckpointsDir)); err != nil || len(entries) != 0 {
		t.Fatalf("checkpoints after a restart: %v %v", entries, err)
	}
}
