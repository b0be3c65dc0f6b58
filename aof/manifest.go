package aof

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Redis 7's names (aof.c): "<appendfilename>.<seq>.base.rdb", ".base.aof", ".incr.aof",
// "<appendfilename>.manifest", and the "temp-" prefix of files being written.
const (
	manifestSuffix = ".manifest"
	baseSuffix     = ".base"
	incrSuffix     = ".incr"
	rdbSuffix      = ".rdb"
	aofSuffix      = ".aof"
	tempPrefix     = "temp-"
	// DefaultFilename is Redis's default appendfilename.
	DefaultFilename = "appendonly.aof"
	// DefaultDirname is Redis's default appenddirname.
	DefaultDirname = "appendonlydir"
	// manifestMaxLine is Redis's MANIFEST_MAX_LINE.
	manifestMaxLine = 1024
)

// ManifestFile is one line of a manifest.
type ManifestFile struct {
	Name string
	Seq  int64
	Type FileType
}

// Manifest is a Redis 7 AOF manifest: at most one base file, history files (never read),
// and incr files in increasing seq order.
type Manifest struct {
	Base    *ManifestFile
	History []ManifestFile
	Incr    []ManifestFile
}

// Files returns the files to load, in order: the base, then the incr files.
func (m *Manifest) Files() []ManifestFile {
	var fs []ManifestFile
	if m.Base != nil {
		fs = append(fs, *m.Base)
	}
	return append(fs, m.Incr...)
}

// ParseManifest parses a manifest the way Redis 7's aofLoadManifestFromFile does, and refuses
// what it refuses: lines of 1024 bytes or more (and so a last line without '\n'), blank lines,
// fewer than 6 or an odd number of words, a file name with a path, a missing or zero seq, a
// missing or unknown type, two base files, incr seqs that do not increase, and an empty file.
// Lines starting with '#' are comments. Words are split like sdssplitargs (quotes, \xHH);
// keys are case-insensitive and may come in any order; unknown keys are ignored.
func ParseManifest(data []byte) (*Manifest, error) {
	m := &Manifest{}
	bad := func(line int, format string, args ...any) error {
		return &Error{Offset: -1, Line: line, Err: ErrManifest, Msg: fmt.Sprintf(format, args...)}
	}
	if len(data) == 0 {
		return nil, bad(0, "empty manifest")
	}
	var maxSeq int64
	for lineno := 1; len(data) > 0; lineno++ {
		// fgets(buf, MANIFEST_MAX_LINE+1): at most 1024 bytes, up to and with '\n'.
		n := bytes.IndexByte(data, '\n') + 1
		if n == 0 || n > manifestMaxLine {
			n = min(len(data), manifestMaxLine)
		}
		chunk := data[:n]
		data = data[n:]
		if chunk[0] == '#' {
			continue
		}
		// C string functions stop at a NUL byte.
		if z := bytes.IndexByte(chunk, 0); z >= 0 {
			chunk = chunk[:z]
		}
		if bytes.IndexByte(chunk, '\n') < 0 {
			return nil, bad(lineno, "line too long (or not ended by a newline)")
		}
		line := bytes.Trim(chunk, " \t\r\n")
		if len(line) == 0 {
			return nil, bad(lineno, "blank line")
		}
		words, ok := splitArgs(line)
		if !ok || len(words) < 6 || len(words)%2 != 0 {
			return nil, bad(lineno, "want 'file <name> seq <seq> type <type>'")
		}
		var f ManifestFile
		var haveName bool
		for i := 0; i < len(words); i += 2 {
			switch strings.ToLower(words[i]) {
			case "file":
				f.Name, haveName = words[i+1], true
				if f.Name == "" {
					// Redis takes it, then fails to read the directory as a file.
					return nil, bad(lineno, "empty file name")
				}
				if strings.ContainsAny(f.Name, `/\`) {
					return nil, bad(lineno, "file name %q is a path", f.Name)
				}
			case "seq":
				f.Seq = atoll(words[i+1])
			case "type":
				f.Type = 0
				if words[i+1] != "" {
					f.Type = FileType(words[i+1][0])
				}
			}
		}
		// Redis checks the name as a C string: an empty one counts as present.
		if !haveName || f.Seq == 0 || f.Type == 0 {
			return nil, bad(lineno, "missing file, seq or type")
		}
		switch f.Type {
		case FileBase:
			if m.Base != nil {
				return nil, bad(lineno, "second base file")
			}
			m.Base = &f
		case FileHistory:
			m.History = append(m.History, f)
		case FileIncr:
			if f.Seq <= maxSeq {
				return nil, bad(lineno, "incr seq %d does not increase", f.Seq)
			}
			maxSeq = f.Seq
			m.Incr = append(m.Incr, f)
		default:
			return nil, bad(lineno, "unknown file type %q", byte(f.Type))
		}
	}
	return m, nil
}

// atoll parses like C's atoll (strtoll base 10): leading space, a sign, digits up to the first
// other byte, saturating on overflow; 0 when there are no digits.
func atoll(s string) int64 {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	var v uint64
	const limit = 1 << 63
	for ; i < len(s) && '0' <= s[i] && s[i] <= '9'; i++ {
		v = v*10 + uint64(s[i]-'0')
		if v > limit {
			v = limit
		}
	}
	switch {
	case neg:
		return -int64(v) // -(1<<63) wraps to MinInt64, as strtoll saturates
	case v >= limit:
		return 1<<63 - 1
	}
	return int64(v)
}

// isSpace is C's isspace in the C locale.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// splitArgs splits a line like Redis's sdssplitargs: words separated by spaces, "double
// quotes" with \n \r \t \b \a \xHH and \<any> escapes, 'single quotes' with \' only; a
// closing quote must be followed by a space or the end. false for unbalanced quotes.
func splitArgs(line []byte) ([]string, bool) {
	var words []string
	p := 0
	at := func(i int) byte { // C string: NUL past the end
		if i < len(line) {
			return line[i]
		}
		return 0
	}
	for {
		for p < len(line) && isSpace(line[p]) {
			p++
		}
		if p >= len(line) {
			return words, true
		}
		var cur []byte
		var quote byte // '"' or '\'' inside quotes
		for done := false; !done; {
			c := at(p)
			switch {
			case quote == '"' && c == '\\' && at(p+1) == 'x' && isHex(at(p+2)) && isHex(at(p+3)):
				cur = append(cur, unhex(at(p+2))<<4|unhex(at(p+3)))
				p += 3
			case quote == '"' && c == '\\' && at(p+1) != 0:
				p++
				e := line[p]
				switch e {
				case 'n':
					e = '\n'
				case 'r':
					e = '\r'
				case 't':
					e = '\t'
				case 'b':
					e = '\b'
				case 'a':
					e = '\a'
				}
				cur = append(cur, e)
			case quote == '\'' && c == '\\' && at(p+1) == '\'':
				p++
				cur = append(cur, '\'')
			case quote != 0 && c == quote:
				// A closing quote must be followed by a space or the end.
				if n := at(p + 1); n != 0 && !isSpace(n) {
					return nil, false
				}
				done = true
			case quote != 0 && c == 0:
				return nil, false // unterminated quotes
			case quote != 0:
				cur = append(cur, c)
			case c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == 0:
				done = true
			case c == '"' || c == '\'':
				quote = c
			default:
				cur = append(cur, c)
			}
			if p < len(line) {
				p++
			}
		}
		words = append(words, string(cur))
	}
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// AppendTo appends the manifest in Redis's exact format: base, history, then incr lines, each
// "file <name> seq <seq> type <t>\n", the name quoted like sdscatrepr when it needs it.
func (m *Manifest) AppendTo(dst []byte) []byte {
	if m.Base != nil {
		dst = m.Base.AppendTo(dst)
	}
	for _, f := range m.History {
		dst = f.AppendTo(dst)
	}
	for _, f := range m.Incr {
		dst = f.AppendTo(dst)
	}
	return dst
}

// AppendTo appends one manifest line.
func (f ManifestFile) AppendTo(dst []byte) []byte {
	dst = append(dst, "file "...)
	if f.Name == "" || needsRepr(f.Name) {
		dst = appendRepr(dst, f.Name)
	} else {
		dst = append(dst, f.Name...)
	}
	dst = append(dst, " seq "...)
	dst = strconv.AppendInt(dst, f.Seq, 10)
	dst = append(dst, " type "...)
	return append(dst, byte(f.Type), '\n')
}

// needsRepr is sdsneedsrepr, plus the single quote: sdssplitargs takes a ' inside an
// unquoted word as the start of a quoted part, so Redis 7.0 writes a manifest it cannot read
// back when appendfilename has one. Quoting it is what Redis should do, and Redis reads it.
func needsRepr(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' || c == '"' || c == '\'' || c < 0x20 || c > 0x7e || c == ' ' {
			return true
		}
	}
	return false
}

// appendRepr is sdscatrepr: a double-quoted string with \\ \" \n \r \t \a \b and \xHH.
func appendRepr(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', '"':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, `\n`...)
		case '\r':
			dst = append(dst, `\r`...)
		case '\t':
			dst = append(dst, `\t`...)
		case '\a':
			dst = append(dst, `\a`...)
		case '\b':
			dst = append(dst, `\b`...)
		default:
			if c >= 0x20 && c <= 0x7e {
				dst = append(dst, c)
			} else {
				dst = append(dst, '\\', 'x', hex[c>>4], hex[c&15])
			}
		}
	}
	return append(dst, '"')
}

// ManifestName returns the manifest's file name for an appendfilename.
func ManifestName(filename string) string { return filename + manifestSuffix }

// BaseName returns the name Redis gives the base file of seq (rdb: the RDB format).
func BaseName(filename string, seq int64, rdb bool) string {
	suffix := aofSuffix
	if rdb {
		suffix = rdbSuffix
	}
	return filename + "." + strconv.FormatInt(seq, 10) + baseSuffix + suffix
}

// IncrName returns the name Redis gives the incr file of seq.
func IncrName(filename string, seq int64) string {
	return filename + "." + strconv.FormatInt(seq, 10) + incrSuffix + aofSuffix
}

// OpenDir reads a Redis 7 multi-part AOF: dir is the appendonlydir, filename the
// appendfilename whose manifest ("<filename>.manifest") lists the files ("" finds the only
// manifest in dir). The base file, then the incr files, are read in order; history files are
// not. Every listed file must exist, as Redis requires.
func OpenDir(dir, filename string, o Options) (*Reader, error) {
	if filename == "" {
		var err error
		if filename, err = findManifest(dir); err != nil {
			return nil, err
		}
	}
	name := ManifestName(filename)
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return nil, &Error{File: name, Offset: -1, Err: ErrMissingFile, Msg: pathErr(err)}
	}
	m, err := ParseManifest(data)
	if err != nil {
		err.(*Error).File = name
		return nil, err
	}
	r := &Reader{opts: o.withDefaults()}
	for _, f := range m.Files() {
		path := filepath.Join(dir, f.Name)
		if _, err := os.Stat(path); err != nil {
			return nil, &Error{File: f.Name, Offset: -1, Err: ErrMissingFile,
				Msg: fmt.Sprintf("listed by %s: %s", name, pathErr(err))}
		}
		r.parts = append(r.parts, part{name: f.Name, typ: f.Type, path: path})
	}
	return r, nil
}

func findManifest(dir string) (string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	var found []string
	for _, e := range ents {
		n := e.Name()
		if base, ok := cutSuffix(n, manifestSuffix); ok && !strings.HasPrefix(n, tempPrefix) && e.Type().IsRegular() {
			found = append(found, base)
		}
	}
	if len(found) != 1 {
		return "", &Error{Offset: -1, Err: ErrManifest,
			Msg: fmt.Sprintf("want exactly one *%s in the directory, found %d %q", manifestSuffix, len(found), found)}
	}
	return found[0], nil
}

// pathErr is an error without the path an *fs.PathError repeats.
func pathErr(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
