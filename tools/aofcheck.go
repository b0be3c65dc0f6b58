package tools

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/stratadb/strata/aof"
)

// `strata check` for AOFs, as redis-check-aof (Redis 7.0) checks them: an old-style file
// (commands, or an RDB preamble then commands), or a multi-part AOF given by its manifest or
// its directory. Every file the manifest lists (base, then incr files) is walked command by
// command; the first problem is reported with its file and byte offset, and the verdict uses
// redis-check-aof's own terms, so that its users recognise them:
//
//	AOF analyzed: filename=appendonly.aof.1.incr.aof, size=120, ok_up_to=97, ok_up_to_line=24, diff=23
//
// ok_up_to is where the last complete command ends (or, inside a MULTI, where the MULTI
// starts), and diff the bytes after it; ok_up_to_line counts lines as redis-check-aof does
// (every CRLF of a command read, from 1, across the files of a set; annotation lines and a
// preamble do not count). With Fix, a last file with a problem is cut at ok_up_to after a
// confirmation (AOFCheckOptions.Confirm), as `redis-check-aof --fix` does; a problem in any
// other file cannot be fixed. With TruncateToTimestamp T, the last file is cut at its first
// "#TS:" annotation after T, at once, as `redis-check-aof --truncate-to-timestamp` does, and
// an annotation after T in an earlier file is refused.
//
// Where this check is stricter than redis-check-aof, it is because Redis would refuse to load
// the file: a command of fewer than one argument ("*0"), a line that is not a command nor an
// annotation, and an annotation line of 1024 bytes or more are problems at their start. An RDB
// preamble is checked as `strata check` checks an RDB file (check.go).

// AOFCheckOptions configure CheckAOF.
type AOFCheckOptions struct {
	// Fix truncates the last file at the end of its last good command.
	Fix bool
	// TruncateToTimestamp, when not 0, truncates the last file at its first "#TS:" annotation
	// after this unix time.
	TruncateToTimestamp int64
	// Confirm is asked before Fix truncates (the question is the argument); nil means yes.
	Confirm func(question string) bool
	// Out receives the running account (redis-check-aof's lines); nil discards it.
	Out      io.Writer
	Progress Progress
}

// AOFFileCheck is the verdict on one file.
type AOFFileCheck struct {
	Name     string
	Type     aof.FileType
	Size     int64
	Preamble *CheckReport // the RDB at the start of the file, if any
	Commands int64
	// OKUpTo is where good data ends; Line the line count there (redis-check-aof's
	// ok_up_to_line).
	OKUpTo int64
	Line   int64
	// Problem says what is wrong at ProblemOffset ("" when the file is sound).
	Problem       string
	ProblemOffset int64
	// Truncated: Fix cut the file at OKUpTo; TimestampTruncated: TruncateToTimestamp did.
	Truncated, TimestampTruncated bool
}

// AOFCheckReport is the verdict of CheckAOF.
type AOFCheckReport struct {
	Path      string
	MultiPart bool
	Manifest  string // the manifest's path, for a multi-part AOF
	Files     []AOFFileCheck
	// Err is the reason the AOF is not sound (or could not be checked or fixed); nil when it
	// is sound or was fixed.
	Err error
}

// OK reports whether the AOF is sound (or was made so).
func (r *AOFCheckReport) OK() bool { return r.Err == nil }

// ErrUnsound marks CheckAOF's verdict that an AOF is not sound (the account in Out says why).
var ErrUnsound = errors.New("aof check")

// IsAOFPath tells `strata check` and `strata import` an AOF from an RDB file: a directory
// (appendonlydir), a manifest, a file named *.aof, or a file that starts like a command stream
// ('*' or '#'). An RDB-preamble AOF must be named *.aof to be taken for one.
func IsAOFPath(path string) (bool, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return false, err
	}
	if fi.IsDir() || strings.HasSuffix(path, ".aof") || isManifest(path) {
		return true, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	var b [1]byte
	n, _ := f.Read(b[:])
	return n == 1 && (b[0] == '*' || b[0] == '#'), nil
}

// isManifest is redis-check-aof's fileIsManifest: a line (not a comment) that starts with
// "file".
func isManifest(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, 1<<20))
	sc.Buffer(make([]byte, 4096), 4096)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) > 0 && line[0] != '#' && bytes.HasPrefix(line, []byte("file")) {
			return true
		}
	}
	return false
}

// findManifestIn finds the only manifest of an appendonlydir.
func findManifestIn(dir string) (string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	var found []string
	for _, e := range ents {
		n := e.Name()
		if strings.HasSuffix(n, ".manifest") && !strings.HasPrefix(n, "temp-") && e.Type().IsRegular() {
			found = append(found, n)
		}
	}
	if len(found) != 1 {
		return "", fmt.Errorf("%s: want exactly one *.manifest in the directory, found %d %q", dir, len(found), found)
	}
	return filepath.Join(dir, found[0]), nil
}

// aofChecker carries what redis-check-aof keeps across the files of one run.
type aofChecker struct {
	o    AOFCheckOptions
	out  io.Writer
	line int64 // redis-check-aof's global line counter
	rep  *AOFCheckReport
	done int64 // bytes of earlier files, for progress
}

func (c *aofChecker) printf(format string, args ...any) {
	fmt.Fprintf(c.out, format+"\n", args...)
}

// fail ends the check with a verdict already explained in the account.
func (c *aofChecker) fail(format string, args ...any) *AOFCheckReport {
	msg := fmt.Sprintf(format, args...)
	c.printf("%s", msg)
	c.rep.Err = fmt.Errorf("%w: %s", ErrUnsound, msg)
	return c.rep
}

// CheckAOF checks the AOF at path: a single file, a manifest, or an appendonlydir.
func CheckAOF(path string, o AOFCheckOptions) *AOFCheckReport {
	c := &aofChecker{o: o, out: o.Out, line: 1, rep: &AOFCheckReport{Path: path}}
	if c.out == nil {
		c.out = io.Discard
	}
	if c.o.Progress == nil {
		c.o.Progress = NoProgress{}
	}
	defer c.o.Progress.Finish()
	fi, err := os.Stat(path)
	if err != nil {
		c.rep.Err = err
		return c.rep
	}
	manifest := ""
	switch {
	case fi.IsDir():
		if manifest, err = findManifestIn(path); err != nil {
			c.rep.Err = err
			return c.rep
		}
	case isManifest(path):
		manifest = path
	}
	if manifest == "" {
		c.printf("Start checking Old-Style AOF")
		f := c.checkFile(path, path, aof.FileSingle, true)
		c.rep.Files = append(c.rep.Files, f)
		if c.rep.Err == nil {
			c.printf("%s", verdictLine(&f, "AOF "+path, o.TruncateToTimestamp))
		}
		return c.rep
	}
	return c.checkMultiPart(manifest)
}

func (c *aofChecker) checkMultiPart(manifest string) *AOFCheckReport {
	c.rep.MultiPart, c.rep.Manifest = true, manifest
	c.printf("Start checking Multi Part AOF")
	data, err := os.ReadFile(manifest)
	if err != nil {
		c.rep.Err = err
		return c.rep
	}
	m, err := aof.ParseManifest(data)
	if err != nil {
		var ae *aof.Error
		if errors.As(err, &ae) {
			ae.File = filepath.Base(manifest)
		}
		return c.fail("Invalid AOF manifest file format: %v", err)
	}
	dir := filepath.Dir(manifest)
	files := m.Files()
	var total int64
	for _, f := range files {
		if st, err := os.Stat(filepath.Join(dir, f.Name)); err == nil {
			total += st.Size()
		}
	}
	if bar, ok := c.o.Progress.(*ProgressBar); ok {
		bar.bar.ChangeMax64(total)
	}
	for i, mf := range files {
		last := i == len(files)-1
		role := "INCR"
		if mf.Type == aof.FileBase {
			role = "BASE"
			format := "RESP"
			if fileStartsLikeRDB(filepath.Join(dir, mf.Name)) {
				format = "RDB"
			}
			c.printf("Start to check BASE AOF (%s format).", format)
		} else if i == 0 || files[i-1].Type == aof.FileBase {
			c.printf("Start to check INCR files.")
		}
		f := c.checkFile(filepath.Join(dir, mf.Name), mf.Name, mf.Type, last)
		c.rep.Files = append(c.rep.Files, f)
		if c.rep.Err != nil {
			return c.rep
		}
		c.printf("%s", verdictLine(&f, role+" AOF "+mf.Name, c.o.TruncateToTimestamp))
		if f.TimestampTruncated {
			break
		}
	}
	c.printf("All AOF files and manifest are valid")
	return c.rep
}

func verdictLine(f *AOFFileCheck, what string, ts int64) string {
	switch {
	case f.TimestampTruncated:
		return fmt.Sprintf("Successfully truncated AOF %s to timestamp %d", f.Name, ts)
	case f.Truncated:
		return fmt.Sprintf("Successfully truncated AOF %s", f.Name)
	case f.Size == 0:
		return what + " is empty"
	}
	return what + " is valid"
}

// fileStartsLikeRDB is redis-check-aof's fileIsRDB: at least 8 bytes, the first five "REDIS".
func fileStartsLikeRDB(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var b [8]byte
	n, _ := io.ReadFull(f, b[:])
	return n == 8 && string(b[:5]) == "REDIS"
}

// checkFile checks one file (checkSingleAof). A problem that ends the whole check sets c.rep.Err.
func (c *aofChecker) checkFile(path, name string, typ aof.FileType, last bool) AOFFileCheck {
	fc := AOFFileCheck{Name: name, Type: typ}
	mode := os.O_RDONLY
	if c.o.Fix || c.o.TruncateToTimestamp != 0 {
		mode = os.O_RDWR
	}
	f, err := os.OpenFile(path, mode, 0)
	if err != nil {
		c.fail("Cannot open file %s: %v, aborting...", path, pathErrText(err))
		return fc
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		c.fail("Cannot stat file: %s, aborting...", name)
		return fc
	}
	fc.Size = st.Size()
	if fc.Size == 0 {
		return fc
	}
	var start int64
	if fileStartsLikeRDB(path) {
		rep := &CheckReport{Path: path, Size: fc.Size, ModuleKeys: map[string]int64{}}
		checkRDB(rep, f, CheckOptions{Progress: NoProgress{}})
		fc.Preamble = rep
		if rep.Err != nil {
			c.printf("%s: RDB preamble: problem at offset %d: %v", name, rep.ErrOffset, rep.Err)
			c.fail("RDB preamble of AOF file is not sane, aborting.")
			return fc
		}
		c.printf("RDB preamble is OK (RDB %d, %s), proceeding with AOF tail...", rep.Version, countNoun(rep.Keys(), "key", "keys"))
		start = rep.Read
		if _, err := f.Seek(start, io.SeekStart); err != nil {
			c.fail("Failed to fseek in AOF %s: %v", name, err)
			return fc
		}
	}
	sc := &aofScanner{br: bufio.NewReaderSize(f, 64<<10), off: start, line: &c.line}
	res := c.scan(sc, &fc, last)
	if c.rep.Err != nil {
		return fc
	}
	c.done += fc.Size
	switch res {
	case scanTimestampCut:
		if err := f.Truncate(fc.OKUpTo); err != nil {
			c.fail("Failed to truncate AOF %s to timestamp %d", name, c.o.TruncateToTimestamp)
			return fc
		}
		fc.TimestampTruncated = true
		return fc
	}
	diff := fc.Size - fc.OKUpTo
	if diff == 0 && c.o.TruncateToTimestamp != 0 {
		c.printf("Truncate nothing in AOF %s to timestamp %d", name, c.o.TruncateToTimestamp)
		return fc
	}
	c.printf("AOF analyzed: filename=%s, size=%d, ok_up_to=%d, ok_up_to_line=%d, diff=%d",
		name, fc.Size, fc.OKUpTo, fc.Line, diff)
	if diff == 0 {
		return fc
	}
	if !c.o.Fix {
		c.fail("AOF %s is not valid. Use the --fix option to try fixing it.", name)
		return fc
	}
	if !last {
		c.fail("Failed to truncate AOF %s because it is not the last file", name)
		return fc
	}
	q := fmt.Sprintf("This will shrink the AOF %s from %d bytes, with %d bytes, to %d bytes", name, fc.Size, diff, fc.OKUpTo)
	c.printf("%s", q)
	if c.o.Confirm != nil && !c.o.Confirm("Continue? [y/N]: ") {
		c.fail("Aborting...")
		return fc
	}
	if err := f.Truncate(fc.OKUpTo); err != nil {
		c.fail("Failed to truncate AOF %s: %v", name, err)
		return fc
	}
	if err := f.Sync(); err != nil {
		c.fail("Failed to fsync AOF %s: %v", name, err)
		return fc
	}
	fc.Truncated = true
	return fc
}

func pathErrText(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

type scanResult int

const (
	scanEnd scanResult = iota
	scanProblem
	scanTimestampCut
)

// scan walks a file's commands and annotations from sc's offset (checkSingleAof's loop).
func (c *aofChecker) scan(sc *aofScanner, fc *AOFFileCheck, last bool) scanResult {
	multi := false
	var pos int64
	res := scanEnd
	problem := func(off int64, format string, args ...any) {
		fc.Problem, fc.ProblemOffset = fmt.Sprintf(format, args...), off
		res = scanProblem
	}
	for res == scanEnd {
		if !multi {
			pos = sc.off
		}
		b, err := sc.br.Peek(1)
		if err == io.EOF {
			if multi {
				problem(sc.off, "Reached EOF before reading EXEC for MULTI")
			}
			break
		}
		if err != nil {
			problem(sc.off, "read: %v", err)
			break
		}
		switch b[0] {
		case '#':
			at := sc.off
			ts, isTS, msg := sc.annotation()
			if msg != "" {
				problem(at, "%s", msg)
				break
			}
			if c.o.TruncateToTimestamp == 0 || !isTS {
				continue
			}
			if ts < 0 {
				c.fail("Invalid timestamp annotation")
				return scanProblem
			}
			if ts <= c.o.TruncateToTimestamp {
				continue
			}
			if at == 0 {
				c.fail("AOF %s has nothing before timestamp %d, aborting...", fc.Name, c.o.TruncateToTimestamp)
				return scanProblem
			}
			if !last {
				c.fail("Failed to truncate AOF %s to timestamp %d to offset %d because it is not the last file.\n"+
					"If you insist, please delete all files after this file according to the manifest "+
					"file and delete the corresponding records in manifest file manually. Then re-run strata check.",
					fc.Name, c.o.TruncateToTimestamp, at)
				return scanProblem
			}
			fc.OKUpTo, fc.Line = at, c.line
			return scanTimestampCut
		case '*':
			at := sc.off
			name, msg := sc.command()
			if msg != "" {
				if sc.ended {
					msg += fmt.Sprintf(" (the file ends inside the command at offset %d)", at)
				}
				problem(sc.problemAt, "%s", msg)
				break
			}
			fc.Commands++
			if fc.Commands%progressEvery == 0 {
				c.o.Progress.Update(c.done+sc.off, fc.Commands)
			}
			switch strings.ToLower(name) {
			case "multi":
				if multi {
					problem(at, "Unexpected MULTI in AOF %s", fc.Name)
				}
				multi = true
			case "exec":
				if !multi {
					problem(at, "Unexpected EXEC in AOF %s", fc.Name)
				}
				multi = false
			}
		default:
			problem(sc.off, "AOF %s format error: expected '*' or '#', found %s", fc.Name, strconv.QuoteToASCII(string(b[:1])))
		}
	}
	fc.OKUpTo, fc.Line = pos, c.line
	if res == scanProblem {
		c.printf("%s: offset %d (0x%x): %s", fc.Name, fc.ProblemOffset, fc.ProblemOffset, fc.Problem)
	}
	return res
}

// aofScanner reads commands and annotations the way redis-check-aof does, counting bytes and
// lines; it reads nothing into memory but the first argument of each command (when short).
type aofScanner struct {
	br        *bufio.Reader
	off       int64
	line      *int64
	problemAt int64
	ended     bool // the file ended inside the command
	name      []byte
}

// annotation reads a '#' line: its timestamp when it is "#TS:<n>" (-1 when that is not a
// number), or what is wrong with it.
func (s *aofScanner) annotation() (ts int64, isTS bool, problem string) {
	line, err := s.br.ReadSlice('\n')
	s.off += int64(len(line))
	if errors.Is(err, bufio.ErrBufferFull) || len(line) >= 1024 && err == nil {
		return 0, false, "annotation line of 1024 bytes or more"
	}
	if err != nil && err != io.EOF {
		return 0, false, "read: " + err.Error()
	}
	rest, ok := bytes.CutPrefix(line, []byte("#TS:"))
	if !ok {
		return 0, false, ""
	}
	digits, ok := bytes.CutSuffix(rest, []byte("\r\n"))
	v, perr := strconv.ParseInt(string(digits), 10, 64)
	if !ok || perr != nil {
		return -1, true, ""
	}
	return v, true, ""
}

// command reads one command and returns its name (first argument, up to 16 bytes), or what is
// wrong with it (problemAt says where).
func (s *aofScanner) command() (string, string) {
	s.ended = false
	argc, msg := s.readLong('*')
	if msg != "" {
		return "", msg
	}
	if argc < 1 {
		return "", fmt.Sprintf("command with %d arguments (Redis refuses to load it)", argc)
	}
	name := ""
	for i := int64(0); i < argc; i++ {
		n, msg := s.readLong('$')
		if msg != "" {
			return "", msg
		}
		if n < 0 {
			return "", fmt.Sprintf("Expected to read string of %d bytes, which is not in the suitable range", n)
		}
		s.problemAt = s.off
		if i == 0 && n <= 16 {
			b, err := s.br.Peek(int(n))
			s.name = append(s.name[:0], b...)
			if err != nil {
				got, _ := s.br.Discard(len(b))
				s.off += int64(got)
				s.ended = true
				return "", fmt.Sprintf("Expected to read %d bytes, got %d bytes", n+2, got)
			}
			name = string(s.name)
		}
		got, _ := s.br.Discard(int(min(n, 1<<62)))
		s.off += int64(got)
		if int64(got) < n {
			s.ended = true
			return "", fmt.Sprintf("Expected to read %d bytes, got %d bytes", n+2, got)
		}
		crlf, _ := s.br.Peek(2)
		if len(crlf) < 2 {
			s.ended = true
			s.br.Discard(len(crlf))
			s.off += int64(len(crlf))
			return "", fmt.Sprintf("Expected to read %d bytes, got %d bytes", n+2, n+int64(len(crlf)))
		}
		if crlf[0] != '\r' || crlf[1] != '\n' {
			s.problemAt = s.off
			return "", fmt.Sprintf("Expected \\r\\n, got: %02x%02x", crlf[0], crlf[1])
		}
		s.br.Discard(2)
		s.off += 2
		*s.line++
	}
	return name, ""
}

// readLong reads a "<prefix><number>\r\n" line (redis-check-aof's readLong: at most 127 bytes).
func (s *aofScanner) readLong(prefix byte) (int64, string) {
	s.problemAt = s.off
	var buf [127]byte
	n := 0
	for n < len(buf) {
		c, err := s.br.ReadByte()
		if err != nil {
			break
		}
		buf[n] = c
		n++
		if c == '\n' {
			break
		}
	}
	s.off += int64(n)
	line := buf[:n]
	if n == 0 || line[n-1] != '\n' && n < len(buf) {
		s.ended = true
	}
	if n == 0 {
		return 0, "unexpected end of file"
	}
	if line[0] != prefix {
		return 0, fmt.Sprintf("Expected prefix '%c', got: '%c'", prefix, line[0])
	}
	body := line[1:]
	i := 0
	if i < len(body) && (body[i] == '-' || body[i] == '+') {
		i++
	}
	for i < len(body) && body[i] >= '0' && body[i] <= '9' {
		i++
	}
	var v int64
	if hasDigits := i > 0 && body[i-1] >= '0'; hasDigits {
		var err error
		if v, err = strconv.ParseInt(string(body[:i]), 10, 64); err != nil {
			return 0, fmt.Sprintf("number %q out of range", body[:i])
		}
	}
	if rest := body[i:]; len(rest) < 2 || rest[0] != '\r' || rest[1] != '\n' {
		var got [2]byte
		copy(got[:], rest)
		return 0, fmt.Sprintf("Expected \\r\\n, got: %02x%02x", got[0], got[1])
	}
	*s.line++
	return v, ""
}
