package servertest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stratadb/strata/conf"
)

// A differential script is a text file of commands, one per line, in redis-cli's quoting
// (double quotes with \n \r \t \" \\ \xHH escapes, single quotes literal). Each command runs
// on a real redis-server and on Strata, and the replies must be equal byte for byte. Lines:
//
//	# a comment
//	SET k v                 compare the replies byte for byte
//	@unordered SMEMBERS s   compare an array reply as a multiset of elements
//	@skip RANDOMKEY         run on both, compare nothing (nondeterministic)
//	@type TIME              compare only the reply's type byte
//	@sleep 20ms             wait on both (expiry tests; the only sleeps allowed)
//	@noreply PING           send to both, read nothing (CLIENT REPLY OFF/SKIP): a reply
//	                        sent anyway shows up as the next command's and fails it
//	@server --name value    start both servers with these directives (anywhere in the
//	                        script; they apply from the start)
//
// RunDiffDir runs every *.txt script of dir, each on a fresh pair of servers.
func RunDiffDir(t *testing.T, dir string) {
	files, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts in %s: %v", dir, err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			t.Parallel()
			RunDiffFile(t, f)
		})
	}
}

// RunDiffFile runs one script against a fresh Strata and a fresh redis-server.
func RunDiffFile(t *testing.T, path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var extra []string
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "@server "); ok {
			args, err := SplitArgs(rest)
			if err != nil || len(args)%2 != 0 {
				t.Fatalf("%s: bad @server line %q", path, line)
			}
			extra = append(extra, args...)
		}
	}
	r := StartRedis(t, extra...)
	s := StartStrata(t, func(cfg *conf.Config) {
		table := conf.NewTable()
		for i := 0; i < len(extra); i += 2 {
			d, ok := table.Lookup(strings.TrimPrefix(extra[i], "--"))
			if !ok {
				t.Fatalf("%s: @server: Strata has no directive %s", path, extra[i])
			}
			if err := table.Set(cfg, d, extra[i+1]); err != nil {
				t.Fatalf("%s: @server %s: %v", path, extra[i], err)
			}
		}
	})
	RunDiff(t, filepath.Base(path), string(data), s.Dial(t), r.Dial(t))
}

// RunDiff runs script on two connections (Strata's first, then Redis's) and fails the test
// at every reply that differs.
func RunDiff(t *testing.T, name, script string, strata, redis *Conn) {
	t.Helper()
	failures := 0
	for n, line := range strings.Split(script, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		mode := ""
		if strings.HasPrefix(line, "@") {
			mode, line, _ = strings.Cut(line, " ")
		}
		if mode == "@server" {
			continue // applied when the servers started (RunDiffFile)
		}
		if mode == "@sleep" {
			d, err := time.ParseDuration(line)
			if err != nil {
				t.Fatalf("%s:%d: %v", name, n+1, err)
			}
			time.Sleep(d)
			continue
		}
		args, err := SplitArgs(line)
		if err != nil {
			t.Fatalf("%s:%d: %v", name, n+1, err)
		}
		if len(args) == 0 {
			continue
		}
		if mode == "@noreply" {
			strata.Send(args...)
			redis.Send(args...)
			continue
		}
		got := strata.Do(args...)
		want := redis.Do(args...)
		ok := true
		switch mode {
		case "":
			ok = got == want
		case "@skip":
		case "@type":
			ok = got[0] == want[0]
		case "@unordered":
			ok = sameElements(got, want)
		default:
			t.Fatalf("%s:%d: unknown directive %s", name, n+1, mode)
		}
		if !ok {
			failures++
			t.Errorf("%s:%d: %s\n  redis:  %s\n  strata: %s", name, n+1, line, strconv.Quote(want), strconv.Quote(got))
			if failures > 20 {
				t.Fatal("too many differences")
			}
		}
	}
}

// sameElements compares two array replies as multisets of their top-level elements.
func sameElements(a, b string) bool {
	ea, oka := topElements(a)
	eb, okb := topElements(b)
	if !oka || !okb {
		return a == b
	}
	sort.Strings(ea)
	sort.Strings(eb)
	return strings.Join(ea, "\x00") == strings.Join(eb, "\x00")
}

func topElements(reply string) ([]string, bool) {
	if reply == "" || (reply[0] != '*' && reply[0] != '~') {
		return nil, false
	}
	rd := NewReader(bytes.NewReader([]byte(reply)))
	head, err := rd.line()
	if err != nil {
		return nil, false
	}
	n, err := strconv.Atoi(string(head[1:]))
	if err != nil {
		return nil, false
	}
	rd.buf = rd.buf[rd.pos:]
	rd.pos = 0
	out := make([]string, 0, max(n, 0))
	for i := 0; i < n; i++ {
		e, err := rd.ReadReply()
		if err != nil {
			return nil, false
		}
		out = append(out, string(e))
	}
	return out, true
}

// SplitArgs splits a line as redis-cli does (sdssplitargs): spaces separate arguments;
// "double quotes" take \n \r \t \b \a \" \\ and \xHH escapes; 'single quotes' take \' only. A
// closing quote must be followed by a space or the end of the line.
func SplitArgs(line string) ([]string, error) {
	var out []string
	i := 0
	for {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t' || line[i] == '\n' || line[i] == '\r') {
			i++
		}
		if i >= len(line) {
			return out, nil
		}
		var cur []byte
		inDQ, inSQ := false, false
		done := false
		for !done {
			if i >= len(line) {
				if inDQ || inSQ {
					return nil, fmt.Errorf("unbalanced quotes in %q", line)
				}
				break
			}
			c := line[i]
			switch {
			case inDQ:
				if c == '\\' && i+3 < len(line) && line[i+1] == 'x' && isHex(line[i+2]) && isHex(line[i+3]) {
					v, _ := strconv.ParseUint(line[i+2:i+4], 16, 8)
					cur = append(cur, byte(v))
					i += 3
				} else if c == '\\' && i+1 < len(line) {
					i++
					switch line[i] {
					case 'n':
						cur = append(cur, '\n')
					case 'r':
						cur = append(cur, '\r')
					case 't':
						cur = append(cur, '\t')
					case 'b':
						cur = append(cur, '\b')
					case 'a':
						cur = append(cur, '\a')
					default:
						cur = append(cur, line[i])
					}
				} else if c == '"' {
					if i+1 < len(line) && line[i+1] != ' ' {
						return nil, fmt.Errorf("closing quote must be followed by a space in %q", line)
					}
					done = true
				} else {
					cur = append(cur, c)
				}
			case inSQ:
				if c == '\\' && i+1 < len(line) && line[i+1] == '\'' {
					i++
					cur = append(cur, '\'')
				} else if c == '\'' {
					if i+1 < len(line) && line[i+1] != ' ' {
						return nil, fmt.Errorf("closing quote must be followed by a space in %q", line)
					}
					done = true
				} else {
					cur = append(cur, c)
				}
			default:
				switch c {
				case ' ', '\n', '\r', '\t':
					done = true
				case '"':
					inDQ = true
				case '\'':
					inSQ = true
				default:
					cur = append(cur, c)
				}
			}
			i++
		}
		out = append(out, string(cur))
	}
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}
