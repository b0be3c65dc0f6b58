package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stratadb/strata/conf"
	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/server"
	"github.com/stratadb/strata/server/servertest"
)

func expect(t *testing.T, c *servertest.Conn, want string, args ...string) {
	t.Helper()
	if got := c.Do(args...); got != want {
		t.Fatalf("%v: %q, want %q", args, got, want)
	}
}

// TestConfigGetShapes: a flat array in RESP2, a map in RESP3; patterns and names together, each
// directive once.
func TestConfigGetShapes(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	c := s.Dial(t)
	expect(t, c, "*4\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n$16\r\nmaxmemory-policy\r\n$10\r\nnoeviction\r\n",
		"CONFIG", "GET", "maxmemory*", "maxmemory", "MAXMEMORY-POLICY")
	c.Do("HELLO", "3")
	expect(t, c, "%1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n", "CONFIG", "GET", "maxmemory")
	expect(t, c, "%0\r\n", "CONFIG", "GET", "nosuch")
	// Every directive of conf's table answers CONFIG GET *.
	all := parseValue(t, c.Do("CONFIG", "GET", "*")).([]any)
	if len(all) != 2*len(conf.NewTable().List()) {
		t.Errorf("CONFIG GET * has %d entries, conf has %d directives", len(all)/2, len(conf.NewTable().List()))
	}
}

// TestConfigSetAppliesLive: CONFIG SET is all or nothing, and what it sets takes effect at once.
func TestConfigSetAppliesLive(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	c := s.Dial(t)

	// All or nothing: a bad value leaves the good one unapplied.
	expect(t, c, "-ERR CONFIG SET failed (possibly related to argument 'timeout') - argument couldn't be parsed into an integer\r\n",
		"CONFIG", "SET", "maxmemory", "1mb", "timeout", "abc")
	expect(t, c, "*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n", "CONFIG", "GET", "maxmemory")

	// appendfsync reaches the engine.
	expect(t, c, "+OK\r\n", "CONFIG", "SET", "appendfsync", "always")
	if m := s.Engine().FsyncMode(); m != engine.FsyncAlways {
		t.Errorf("engine fsync mode %v after CONFIG SET appendfsync always", m)
	}
	expect(t, c, "+OK\r\n", "CONFIG", "SET", "appendfsync", "no")
	if m := s.Engine().FsyncMode(); m != engine.FsyncNo {
		t.Errorf("engine fsync mode %v after CONFIG SET appendfsync no", m)
	}

	// proto-max-bulk-len reaches the protocol guard.
	expect(t, c, "+OK\r\n", "CONFIG", "SET", "proto-max-bulk-len", "1mb")
	big := s.Dial(t)
	big.Net().Write([]byte("*2\r\n$3\r\nGET\r\n$2000000\r\n"))
	if got := readAll(t, big); got != "-ERR Protocol error: invalid bulk length\r\n" {
		t.Errorf("bulk over the new limit: %q", got)
	}

	// requirepass: new connections must authenticate; the ones already connected stay
	// authenticated, as in Redis.
	expect(t, c, "+OK\r\n", "CONFIG", "SET", "requirepass", "s3cret")
	expect(t, c, "+PONG\r\n", "PING")
	n := s.Dial(t)
	expect(t, n, "-NOAUTH Authentication required.\r\n", "PING")
	expect(t, n, "+OK\r\n", "AUTH", "s3cret")
	expect(t, n, "+PONG\r\n", "PING")
	expect(t, c, "+OK\r\n", "CONFIG", "SET", "requirepass", "")
	expect(t, s.Dial(t), "+PONG\r\n", "PING")

	// hz is clamped as Redis clamps it.
	expect(t, c, "+OK\r\n", "CONFIG", "SET", "hz", "0")
	expect(t, c, "*2\r\n$2\r\nhz\r\n$1\r\n1\r\n", "CONFIG", "GET", "hz")
}

// TestConfigTimeout: with timeout set, idle clients are closed.
func TestConfigTimeout(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	c := s.Dial(t)
	idle := s.Dial(t)
	expect(t, idle, "+PONG\r\n", "PING")
	expect(t, c, "+OK\r\n", "CONFIG", "SET", "timeout", "1")
	start := time.Now()
	if _, err := idle.ReadErr(10 * time.Second); err == nil || time.Since(start) > 9*time.Second {
		t.Fatalf("idle client not closed by timeout: %v", err)
	}
	again := s.Dial(t)
	expect(t, again, "+OK\r\n", "CONFIG", "SET", "timeout", "0")
	expect(t, again, "+PONG\r\n", "PING")
}

// TestConfigRewrite writes the running configuration back to the file the server started from.
func TestConfigRewrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "strata.yaml")
	if err := os.WriteFile(path, []byte("maxmemory: 1mb\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tab := conf.NewTable()
	cfg, err := conf.Load(tab, path, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Bind, cfg.Port, cfg.Dir = []string{"127.0.0.1"}, 0, filepath.Join(dir, "data")
	srv, err := server.New(server.Options{Config: cfg, ConfigPath: path, Table: tab, Logger: servertest.TestLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	c := servertest.Dial(t, "tcp", srv.Addr().String())
	expect(t, c, "+OK\r\n", "CONFIG", "SET", "maxmemory", "64mb", "maxmemory-policy", "allkeys-lru")
	expect(t, c, "+OK\r\n", "CONFIG", "REWRITE")
	back, err := conf.Load(tab, path, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if back.MaxMemory != 64<<20 || back.MaxMemoryPolicy != "allkeys-lru" || back.Port != 0 {
		t.Errorf("rewritten file loads maxmemory %d policy %s port %d", back.MaxMemory, back.MaxMemoryPolicy, back.Port)
	}
	// A file that cannot be written is an error, and the old file stays.
	os.Chmod(dir, 0o500)
	defer os.Chmod(dir, 0o700)
	if os.Getuid() != 0 { // root writes anyway
		if got := c.Do("CONFIG", "REWRITE"); !strings.HasPrefix(got, "-ERR Rewriting config file: ") {
			t.Errorf("unwritable rewrite: %q", got)
		}
	}
}
