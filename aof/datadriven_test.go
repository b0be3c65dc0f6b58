package aof

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// TestDataDriven runs testdata/*.txt (regenerate the expected output with -rewrite):
//
//	read [name=<file>] [fail-truncated] [drain=copy]   input: AOF lines, CRLF appended
//	read-file <fixture> [noseek]                        a file from testdata/ (noseek: through
//	                                                    a reader that cannot seek)
//
// and every one of them takes drain=scan|copy|none|copy-end=<n>: how the preamble is consumed
// (scanRDB, io.Copy to the end of the file, not at all, io.Copy then SetEnd(n)).
//
//	dir [filename=<appendfilename>]                     input: "== <name>" sections; a
//	                                                    manifest's lines end in LF, others in
//	                                                    CRLF; "== <name> < <fixture>" copies one
//	manifest                                            input: manifest lines, LF appended
//	                                                    (see decodeRaw)
//	rewrite [ts=<unix>] [fieldttl]                      input: events (see parseEvents)
func TestDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		if !strings.HasSuffix(path, ".txt") {
			t.Skip()
		}
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			drain := drainFor(t, td)
			switch td.Cmd {
			case "read":
				in, err := decodeInput(td.Input, "\r\n")
				if err != nil {
					t.Fatal(err)
				}
				name := "appendonly.aof"
				if td.HasArg("name") {
					td.ScanArgs(t, "name", &name)
				}
				o := Options{FailTruncated: td.HasArg("fail-truncated")}
				return readAll(NewReader(bytes.NewReader(in), name, o), drain)
			case "read-file":
				path := filepath.Join("testdata", td.CmdArgs[0].Key)
				if td.HasArg("noseek") {
					data, err := os.ReadFile(path)
					if err != nil {
						t.Fatal(err)
					}
					r := NewReader(struct{ io.Reader }{bytes.NewReader(data)}, td.CmdArgs[0].Key, Options{})
					return readAll(r, drain)
				}
				r, err := Open(path, Options{})
				if err != nil {
					return "error: " + err.Error() + "\n"
				}
				defer r.Close()
				return readAll(r, drain)
			case "dir":
				dir := t.TempDir()
				writeSections(t, dir, td.Input)
				var filename string
				if td.HasArg("filename") {
					td.ScanArgs(t, "filename", &filename)
				}
				r, err := OpenDir(dir, filename, Options{})
				if err != nil {
					return "error: " + err.Error() + "\n"
				}
				defer r.Close()
				return readAll(r, drain)
			case "manifest":
				m, err := ParseManifest(decodeRaw(td.Input, "\n"))
				if err != nil {
					return "error: " + err.Error() + "\n"
				}
				var sb strings.Builder
				for _, f := range m.Files() {
					fmt.Fprintf(&sb, "load %s seq=%d (%s)\n", word([]byte(f.Name)), f.Seq, f.Type)
				}
				for _, f := range m.History {
					fmt.Fprintf(&sb, "history %s seq=%d\n", word([]byte(f.Name)), f.Seq)
				}
				sb.WriteString("written back:\n")
				sb.Write(m.AppendTo(nil))
				return sb.String()
			case "rewrite":
				evs, err := parseEvents(td.Input)
				if err != nil {
					t.Fatal(err)
				}
				var o RewriteOptions
				if td.HasArg("ts") {
					td.ScanArgs(t, "ts", &o.Timestamp)
				}
				o.HashFieldTTL = td.HasArg("fieldttl")
				out, err := rewriteEvents(evs, o)
				s := commandsOf(out)
				if err != nil {
					s += "error: " + err.Error() + "\n"
				}
				return s
			}
			t.Fatalf("unknown command %q", td.Cmd)
			return ""
		})
	})
}

func drainFor(t *testing.T, td *datadriven.TestData) func(p *Preamble) error {
	how := "scan"
	if td.HasArg("drain") {
		td.ScanArgs(t, "drain", &how)
	}
	switch {
	case how == "scan":
		return drainScan
	case how == "copy":
		return func(p *Preamble) error { _, err := io.Copy(io.Discard, p); return err }
	case how == "none":
		return func(p *Preamble) error { return nil }
	case strings.HasPrefix(how, "copy-end="):
		var n int64
		fmt.Sscan(strings.TrimPrefix(how, "copy-end="), &n)
		return func(p *Preamble) error {
			_, err := io.Copy(io.Discard, p)
			p.SetEnd(n)
			return err
		}
	}
	t.Fatalf("drain=%s", how)
	return nil
}

// writeSections writes the "== name" sections of a dir test into dir.
func writeSections(t *testing.T, dir, input string) {
	t.Helper()
	var name, body string
	var started bool
	flush := func() {
		if !started {
			return
		}
		from, fixture, isCopy := strings.Cut(name, " < ")
		var data []byte
		var err error
		if isCopy {
			data, err = os.ReadFile(filepath.Join("testdata", strings.TrimSpace(fixture)))
		} else {
			eol := "\r\n"
			if strings.HasSuffix(from, manifestSuffix) {
				eol = "\n"
			}
			data, err = decodeInput(strings.TrimSuffix(body, "\n"), eol)
			if body == "" {
				data = nil
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, strings.TrimSpace(from)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, line := range strings.SplitAfter(input, "\n") {
		if rest, ok := strings.CutPrefix(line, "== "); ok {
			flush()
			name, body, started = strings.TrimSpace(rest), "", true
			continue
		}
		body += line
	}
	if !strings.HasSuffix(body, "\n") && body != "" {
		body += "\n"
	}
	flush()
}
