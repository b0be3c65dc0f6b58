package tools

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stratadb/strata/server/servertest"
)

// redisCheckAOFPath finds redis-check-aof (skipped or failed like redis-server when missing).
func redisCheckAOFPath(t *testing.T) string {
	t.Helper()
	servertest.RedisServerPath(t)
	p, err := exec.LookPath("redis-check-aof")
	if err != nil {
		if os.Getenv("STRATA_REQUIRE_REDIS") != "" {
			t.Fatal("redis-check-aof is not installed")
		}
		t.Skip("redis-check-aof is not installed")
	}
	return p
}

// runRedisCheckAOF runs redis-check-aof with "y" on its input (for --fix).
func runRedisCheckAOF(t *testing.T, args ...string) (ok bool, out string) {
	t.Helper()
	cmd := exec.Command(redisCheckAOFPath(t), args...)
	cmd.Stdin = strings.NewReader("y\n")
	b, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return err == nil, string(b)
}

var analyzedLine = regexp.MustCompile(`(?m)^AOF analyzed: .*$`)

// runCheck runs CheckAOF and returns its verdict and account.
func runCheck(path string, o AOFCheckOptions) (*AOFCheckReport, string) {
	var out bytes.Buffer
	o.Out = &out
	rep := CheckAOF(path, o)
	return rep, out.String()
}

// redisAOFDir makes a multi-part AOF with the real Redis: a base (RDB, or commands with
// preamble false), then an incr file of commands with a transaction and two databases.
func redisAOFDir(t *testing.T, preamble bool) string {
	t.Helper()
	yes := map[bool]string{true: "yes", false: "no"}
	r := servertest.StartRedis(t, "--appendonly", "yes", "--appendfsync", "always", "--aof-use-rdb-preamble", yes[preamble])
	c := r.Dial(t)
	for _, cmd := range [][]string{
		{"SET", "a", "1"}, {"RPUSH", "l", "x", "y", "z"}, {"HSET", "h", "f", "v"},
		{"SADD", "s", "m1", "m2"}, {"ZADD", "z", "1.5", "m"},
	} {
		c.Do(cmd...)
	}
	c.Do("BGREWRITEAOF")
	waitInfo(t, c, "aof_rewrite_in_progress:0", "aof_rewrite_scheduled:0")
	for _, cmd := range [][]string{
		{"SET", "b", "2"}, {"INCR", "a"}, {"MULTI"}, {"SET", "t", "x"}, {"LPUSH", "l", "w"},
		{"EXEC"}, {"SELECT", "3"}, {"SET", "db3", "v"}, {"EXPIRE", "db3", "1000"}, {"DEL", "nothing"},
		{"SELECT", "0"}, {"APPEND", "b", strings.Repeat("long", 40)},
	} {
		c.Do(cmd...)
	}
	// The files are complete once the replies came (Redis writes before it answers); copy them
	// so that the tests may damage them.
	out := filepath.Join(t.TempDir(), "appendonlydir")
	copyDir(t, filepath.Join(r.Dir, "appendonlydir"), out)
	return out
}

// waitInfo polls INFO persistence until every want line is in it.
func waitInfo(t *testing.T, c *servertest.Conn, want ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		info := c.Do("INFO", "persistence")
		missing := false
		for _, w := range want {
			missing = missing || !strings.Contains(info, w+"\r\n")
		}
		if !missing {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("INFO never showed %q:\n%s", want, info)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// manifestFiles returns the base and incr file names of an appendonlydir.
func manifestFiles(t *testing.T, dir string) (base, incr string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		switch n := e.Name(); {
		case strings.Contains(n, ".base."):
			base = n
		case strings.HasSuffix(n, ".incr.aof"):
			incr = n
		}
	}
	if base == "" || incr == "" {
		t.Fatalf("no base or incr file in %s", dir)
	}
	return base, incr
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// aofCase is an AOF (one file, or a directory) checked by both tools.
type aofCase struct {
	name  string
	build func(t *testing.T, dst string) string // lays the AOF out under dst, returns the path to check
	// stricter marks a case where Strata refuses what redis-check-aof accepts, because Redis
	// would not load it.
	stricter bool
}

// compareCheck checks the case with both tools: the verdicts and their "AOF analyzed" lines
// must agree, then, with --fix (or --truncate-to-timestamp), the verdicts and the files.
func compareCheck(t *testing.T, c aofCase, extra ...string) {
	t.Helper()
	theirs, ours := t.TempDir(), t.TempDir()
	pathTheirs, pathOurs := c.build(t, theirs), c.build(t, ours)
	o := AOFCheckOptions{}
	if len(extra) == 2 && extra[0] == "--truncate-to-timestamp" {
		o.TruncateToTimestamp = mustInt(t, extra[1])
	} else if len(extra) == 1 && extra[0] == "--fix" {
		o.Fix = true
	}
	args := append(append([]string{}, extra...), pathTheirs)
	okTheirs, outTheirs := runRedisCheckAOF(t, args...)
	rep, outOurs := runCheck(pathOurs, o)
	relabel := func(s string) string { return strings.ReplaceAll(s, theirs, "DIR") }
	outOurs = strings.ReplaceAll(outOurs, ours, "DIR")
	if c.stricter {
		if !okTheirs || (!o.Fix && rep.OK()) {
			t.Fatalf("%s %v: redis-check-aof ok=%v, ours ok=%v; want ours stricter\n%s", c.name, extra, okTheirs, rep.OK(), outOurs)
		}
		return
	}
	if rep.OK() != okTheirs {
		t.Fatalf("%s %v: redis-check-aof says ok=%v, we say ok=%v\n--- redis-check-aof\n%s--- ours\n%s",
			c.name, extra, okTheirs, rep.OK(), relabel(outTheirs), outOurs)
	}
	a, b := analyzedLine.FindAllString(relabel(outTheirs), -1), analyzedLine.FindAllString(outOurs, -1)
	if strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Fatalf("%s %v: analyses differ\n--- redis-check-aof\n%s--- ours\n%s", c.name, extra, relabel(outTheirs), outOurs)
	}
	// The files after the run (fixed, truncated or untouched) must be the same.
	for _, name := range listFiles(t, theirs) {
		if !bytes.Equal(readFile(t, filepath.Join(theirs, name)), readFile(t, filepath.Join(ours, name))) {
			t.Fatalf("%s %v: %s differs after the run\n--- redis-check-aof\n%s--- ours\n%s", c.name, extra, name,
				relabel(outTheirs), outOurs)
		}
	}
}

func listFiles(t *testing.T, root string) []string {
	var out []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			out = append(out, rel)
		}
		return nil
	})
	return out
}

// TestCheckAOFLikeRedisCheckAOF compares `strata check` with redis-check-aof on AOFs the real
// Redis wrote and on damaged copies of them: every truncation point of the last commands, a
// truncated base, garbage, an unfinished MULTI, an old-style file with and without a
// preamble; without and with --fix.
func TestCheckAOFLikeRedisCheckAOF(t *testing.T) {
	redisCheckAOFPath(t)
	for _, preamble := range []bool{true, false} {
		src := redisAOFDir(t, preamble)
		base, incr := manifestFiles(t, src)
		incrData := readFile(t, filepath.Join(src, incr))
		baseData := readFile(t, filepath.Join(src, base))
		// withIncr lays out the directory with the incr file replaced.
		withFiles := func(baseBytes, incrBytes []byte) func(t *testing.T, dst string) string {
			return func(t *testing.T, dst string) string {
				d := filepath.Join(dst, "appendonlydir")
				copyDir(t, src, d)
				writeFile(t, filepath.Join(d, base), baseBytes)
				writeFile(t, filepath.Join(d, incr), incrBytes)
				return filepath.Join(d, "appendonly.aof.manifest")
			}
		}
		oldStyle := func(data []byte) func(t *testing.T, dst string) string {
			return func(t *testing.T, dst string) string {
				p := filepath.Join(dst, "appendonly.aof")
				writeFile(t, p, data)
				return p
			}
		}
		whole := append(append([]byte{}, baseData...), incrData...)
		cases := []aofCase{
			{name: "as written", build: withFiles(baseData, incrData)},
			{name: "old style", build: oldStyle(whole)},
			{name: "garbage in incr", build: withFiles(baseData, append(append(append([]byte{}, incrData[:40]...), "xyz"...), incrData[40:]...))},
			{name: "unfinished multi", build: withFiles(baseData, append(append([]byte{}, incrData...), "*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"...))},
			{name: "exec without multi", build: withFiles(baseData, append(append([]byte{}, incrData...), "*1\r\n$4\r\nEXEC\r\n"...))},
			{name: "bad CRLF", build: withFiles(baseData, bytes.Replace(incrData, []byte("$1\r\nb\r\n"), []byte("$1\r\nb\r\r"), 1))},
			{name: "zero args", build: withFiles(baseData, append(append([]byte{}, incrData...), "*0\r\n"...)), stricter: true},
			{name: "base truncated", build: withFiles(baseData[:len(baseData)-5], incrData)},
			{name: "empty incr", build: withFiles(baseData, nil)},
		}
		// Every cut of the last 40 bytes of the incr file, and some earlier ones.
		for n := len(incrData) - 1; n > 0; n-- {
			if n < len(incrData)-40 && n%29 != 0 {
				continue
			}
			cut := incrData[:n]
			cases = append(cases, aofCase{name: "incr cut at " + itoa(n), build: withFiles(baseData, cut)})
			if n%7 == 0 {
				cases = append(cases, aofCase{name: "old style cut at " + itoa(n), build: oldStyle(append(append([]byte{}, baseData...), cut...))})
			}
		}
		for _, c := range cases {
			name := c.name + map[bool]string{true: " (rdb base)", false: " (aof base)"}[preamble]
			c.name = name
			compareCheck(t, c)
			compareCheck(t, c, "--fix")
		}
	}
}

// TestCheckAOFTruncateToTimestamp compares --truncate-to-timestamp with redis-check-aof on a
// multi-part AOF with "#TS:" annotations in its base and incr files.
func TestCheckAOFTruncateToTimestamp(t *testing.T) {
	redisCheckAOFPath(t)
	set := func(k string) string { return "*3\r\n$3\r\nSET\r\n$1\r\n" + k + "\r\n$1\r\nv\r\n" }
	baseAOF := "#TS:100\r\n" + set("a") + set("b")
	incr1 := "#TS:200\r\n" + set("c") + "#TS:300\r\n" + set("d")
	incr2 := set("e") + "#TS:400\r\n" + set("f") + "#TS:500\r\n" + set("g")
	layout := func(files map[string]string, manifest string) func(t *testing.T, dst string) string {
		return func(t *testing.T, dst string) string {
			d := filepath.Join(dst, "appendonlydir")
			os.MkdirAll(d, 0o755)
			for name, data := range files {
				writeFile(t, filepath.Join(d, name), []byte(data))
			}
			writeFile(t, filepath.Join(d, "appendonly.aof.manifest"), []byte(manifest))
			return filepath.Join(d, "appendonly.aof.manifest")
		}
	}
	files := map[string]string{"appendonly.aof.1.base.aof": baseAOF, "appendonly.aof.1.incr.aof": incr1,
		"appendonly.aof.2.incr.aof": incr2}
	manifest := "file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n" +
		"file appendonly.aof.2.incr.aof seq 2 type i\n"
	single := func(t *testing.T, dst string) string {
		p := filepath.Join(dst, "appendonly.aof")
		writeFile(t, p, []byte(baseAOF+incr1+incr2))
		return p
	}
	for _, ts := range []string{"50", "99", "100", "150", "250", "300", "350", "400", "450", "500", "600"} {
		compareCheck(t, aofCase{name: "multi-part", build: layout(files, manifest)}, "--truncate-to-timestamp", ts)
		compareCheck(t, aofCase{name: "single", build: single}, "--truncate-to-timestamp", ts)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func mustInt(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCheckAOFGolden: the account `strata check` gives of crafted AOFs, one of each problem
// (testdata/golden/aofcheck.txt; -rewrite regenerates it).
func TestCheckAOFGolden(t *testing.T) {
	set := func(k string) string { return "*3\r\n$3\r\nSET\r\n$1\r\n" + k + "\r\n$1\r\nv\r\n" }
	multi, exec := "*1\r\n$5\r\nMULTI\r\n", "*1\r\n$4\r\nEXEC\r\n"
	manifest := "file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
	cases := []struct {
		name  string
		files map[string]string // a file "appendonly.aof.manifest" makes it multi-part
		o     AOFCheckOptions
	}{
		{"sound single file", map[string]string{"a.aof": set("a") + "#TS:100\r\n" + multi + set("b") + exec}, AOFCheckOptions{}},
		{"truncated last command", map[string]string{"a.aof": set("a") + set("b")[:20]}, AOFCheckOptions{}},
		{"truncated, fixed", map[string]string{"a.aof": set("a") + set("b")[:20]}, AOFCheckOptions{Fix: true}},
		{"fix refused", map[string]string{"a.aof": set("a") + set("b")[:20]}, AOFCheckOptions{Fix: true, Confirm: func(string) bool { return false }}},
		{"unfinished multi", map[string]string{"a.aof": set("a") + multi + set("b")}, AOFCheckOptions{}},
		{"nested multi", map[string]string{"a.aof": multi + multi + exec}, AOFCheckOptions{}},
		{"exec without multi", map[string]string{"a.aof": set("a") + exec}, AOFCheckOptions{}},
		{"garbage", map[string]string{"a.aof": set("a") + "hello\r\n" + set("b")}, AOFCheckOptions{}},
		{"bad length", map[string]string{"a.aof": "*2\r\n$x\r\n"}, AOFCheckOptions{}},
		{"no CRLF after an argument", map[string]string{"a.aof": "*1\r\n$4\r\nPINGxx"}, AOFCheckOptions{}},
		{"empty", map[string]string{"a.aof": ""}, AOFCheckOptions{}},
		{"multi-part", map[string]string{"appendonly.aof.manifest": manifest,
			"appendonly.aof.1.base.aof": set("a"), "appendonly.aof.1.incr.aof": set("b")}, AOFCheckOptions{}},
		{"multi-part, base truncated", map[string]string{"appendonly.aof.manifest": manifest,
			"appendonly.aof.1.base.aof": set("a")[:10], "appendonly.aof.1.incr.aof": set("b")}, AOFCheckOptions{Fix: true}},
		{"multi-part, missing file", map[string]string{"appendonly.aof.manifest": manifest,
			"appendonly.aof.1.base.aof": set("a")}, AOFCheckOptions{}},
		{"bad manifest", map[string]string{"appendonly.aof.manifest": "file x seq 1\n"}, AOFCheckOptions{}},
		{"truncate to timestamp", map[string]string{"a.aof": "#TS:10\r\n" + set("a") + "#TS:20\r\n" + set("b")},
			AOFCheckOptions{TruncateToTimestamp: 15}},
		{"nothing before the timestamp", map[string]string{"a.aof": "#TS:10\r\n" + set("a")},
			AOFCheckOptions{TruncateToTimestamp: 5}},
		{"bad timestamp", map[string]string{"a.aof": "#TS:1x\r\n" + set("a")}, AOFCheckOptions{TruncateToTimestamp: 5}},
		{"zero arguments", map[string]string{"a.aof": set("a") + "*0\r\n"}, AOFCheckOptions{}},
	}
	var all bytes.Buffer
	for _, c := range cases {
		dir := t.TempDir()
		path := filepath.Join(dir, "a.aof")
		for name, data := range c.files {
			writeFile(t, filepath.Join(dir, name), []byte(data))
			if name == "appendonly.aof.manifest" {
				path = dir
			}
		}
		rep, out := runCheck(path, c.o)
		fmt.Fprintf(&all, "=== %s (ok=%v)\n%s", c.name, rep.OK(), strings.ReplaceAll(out, dir, "DIR"))
		for _, f := range listFiles(t, dir) {
			b := readFile(t, filepath.Join(dir, f))
			fmt.Fprintf(&all, "  %s: %q\n", f, b)
		}
	}
	checkGolden(t, filepath.Join("testdata", "golden", "aofcheck.txt"), all.Bytes())
}

// FuzzCheckAOF: no input makes the check panic, and a file --fix truncated checks sound.
func FuzzCheckAOF(f *testing.F) {
	for _, seed := range []string{"*1\r\n$4\r\nPING\r\n", "#TS:1\r\n*1\r\n$5\r\nMULTI\r\n*1\r\n$4\r\nEXEC\r\n",
		"*2\r\n$3\r\nGET\r\n$1\r\nk", "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$-1\r\n", "*1\r\n$5\r\nMULTI\r\n*1\r\n$4\r\nPING\r\n"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 0 && data[0] == 'R' {
			return // an RDB preamble is the rdb package's to fuzz
		}
		path := filepath.Join(t.TempDir(), "f.aof")
		writeFile(t, path, data)
		rep, _ := runCheck(path, AOFCheckOptions{Fix: true})
		if !rep.OK() {
			return
		}
		if again, out := runCheck(path, AOFCheckOptions{}); !again.OK() {
			t.Fatalf("%q fixed to %q, which does not check sound:\n%s", data, readFile(t, path), out)
		}
	})
}
