package conf

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

var rewrite = flag.Bool("rewrite", false, "rewrite strata.yaml from the Config tags")

// TestDefaultYAMLIsCurrent keeps conf/strata.yaml equal to the defaults and help of Config.
func TestDefaultYAMLIsCurrent(t *testing.T) {
	tab := NewTable()
	want := Render(tab, tab.Default(), DefaultHeader)
	if *rewrite {
		if err := os.WriteFile("strata.yaml", want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(DefaultYAML, want) {
		t.Fatal("conf/strata.yaml is stale: run go test ./conf -run TestDefaultYAMLIsCurrent -rewrite")
	}
}

func TestDefaultsLoadAndRoundTrip(t *testing.T) {
	tab := NewTable()
	path := filepath.Join(t.TempDir(), "strata.yaml")
	if err := os.WriteFile(path, DefaultYAML, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(tab, path, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := tab.Default()
	for _, dir := range tab.List() {
		if got, want := tab.Get(c, &dir), tab.Get(d, &dir); got != want {
			t.Errorf("%s: file gives %q, default is %q", dir.Name, got, want)
		}
	}
	if c.Port != 6379 || c.Dir != "./data" || c.ProtoMaxBulkLen != 512<<20 || c.MaxClients != 10000 {
		t.Fatalf("unexpected defaults: %+v", c)
	}
}

func TestPrecedence(t *testing.T) {
	tab := NewTable()
	path := filepath.Join(t.TempDir(), "s.yaml")
	os.WriteFile(path, []byte("port: 7000\nmaxmemory: 1gb\nappendfsync: always\nbind: [\"127.0.0.1\", \"::1\"]\nprotected-mode: false\n"), 0o644)
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	fs.Int("port", 0, "")
	fs.StringSlice("bind", nil, "")
	fs.String("appendfsync", "", "")
	if err := fs.Parse([]string{"--port", "7100"}); err != nil {
		t.Fatal(err)
	}
	c, err := Load(tab, path, []string{"STRATA_PORT=7200", "STRATA_MAXMEMORY=64mb", "OTHER=1"}, fs)
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 7100 {
		t.Errorf("flag must win: port %d", c.Port)
	}
	if c.MaxMemory != 64<<20 {
		t.Errorf("environment must beat the file: maxmemory %d", c.MaxMemory)
	}
	if c.AppendFsync != "always" || strings.Join(c.Bind, ",") != "127.0.0.1,::1" || c.ProtectedMode {
		t.Errorf("file values lost: %+v", c)
	}
}

func TestValidationErrors(t *testing.T) {
	tab := NewTable()
	for _, tc := range []struct{ yaml, want string }{
		{"port: 70000\n", "port: argument must be between 0 and 65535 inclusive"},
		{"appendfsync: sometimes\n", "argument(s) must be one of the following: everysec, always, no"},
		{"maxmemory: lots\n", "argument must be a memory value"},
		{"protected-mode: maybe\n", "argument must be 'yes' or 'no'"},
		{"save: \"900\"\n", "Invalid save parameters"},
		{"no-such-thing: 1\n", `unknown directive "no-such-thing"`},
	} {
		path := filepath.Join(t.TempDir(), "c.yaml")
		os.WriteFile(path, []byte(tc.yaml), 0o644)
		_, err := Load(tab, path, nil, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want an error containing %q", tc.yaml, err, tc.want)
		}
	}
}

func TestParseMemory(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "100": 100, "1k": 1000, "1kb": 1024, "2MB": 2 << 20,
		"1g": 1e9, "1gb": 1 << 30, "5b": 5} {
		if got, ok := ParseMemory(in); !ok || got != want {
			t.Errorf("ParseMemory(%q) = %d %v, want %d", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "x", "1xb", "-1kb", "-1", "99999999999999gb"} {
		if _, ok := ParseMemory(in); ok {
			t.Errorf("ParseMemory(%q) accepted", in)
		}
	}
}

// TestEveryDirectiveHasHelp: a struct tag whose help does not parse (a raw newline inside its
// quotes, say) reads as empty, and strata.yaml would carry an empty comment.
func TestEveryDirectiveHasHelp(t *testing.T) {
	for _, d := range NewTable().List() {
		if d.Help == "" {
			t.Errorf("directive %s has no help (is its struct tag well formed?)", d.Name)
		}
	}
}
