package aof

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
)

// Kind names what an Event carries.
type Kind uint8

const (
	KindInvalid Kind = iota
	// KindFile starts a file (File, FileType). The database is 0 again at the start of every
	// file: Redis loads each file with a fresh client.
	KindFile
	// KindPreamble is an RDB at the start of a file (Preamble). The caller must decode it
	// from Preamble before calling Next again (see Preamble).
	KindPreamble
	// KindCommand is one command (Args), with the database it runs in (DB).
	KindCommand
	// KindTimestamp is a "#TS:<unix seconds>" annotation (Timestamp).
	KindTimestamp
	// KindAnnotation is any other '#' line (Text, without '#' and the line end). Redis skips
	// them; so may the caller.
	KindAnnotation
	// KindWarning is a problem the reader recovered from the way Redis 7 does (Err, an *Error
	// wrapping ErrTruncated, ErrUnfinishedMulti or ErrUnterminatedAnnotation). Offset is where
	// the good data ends: what follows it in the file was dropped.
	KindWarning
)

var kindNames = [...]string{KindInvalid: "invalid", KindFile: "file", KindPreamble: "preamble",
	KindCommand: "command", KindTimestamp: "timestamp", KindAnnotation: "annotation",
	KindWarning: "warning"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// FileType is a file's role in a multi-part AOF, the letter Redis 7's manifest uses.
type FileType byte

const (
	// FileSingle is a stream read on its own (NewReader, or a single-file AOF).
	FileSingle FileType = 0
	FileBase   FileType = 'b'
	FileIncr   FileType = 'i'
	// FileHistory files are listed by the manifest but never read.
	FileHistory FileType = 'h'
)

func (t FileType) String() string {
	switch t {
	case FileSingle:
		return "single"
	case FileBase:
		return "base"
	case FileIncr:
		return "incr"
	case FileHistory:
		return "history"
	}
	return fmt.Sprintf("type(%q)", byte(t))
}

// Event is one step through an AOF. Which fields are meaningful depends on Kind. Byte slices
// (Args, Text) are valid until the next call to Next; copy what must outlive it.
type Event struct {
	Kind Kind
	// File is the name of the file the event comes from; Offset the byte offset in it of the
	// command, annotation or preamble.
	File     string
	FileType FileType
	Offset   int64
	// DB is the database a command runs in, following the SELECTs of its file (for SELECT
	// itself, the database before it). SELECT is still delivered as a command.
	DB        int
	Args      [][]byte
	Timestamp int64
	Text      []byte
	Preamble  *Preamble
	Err       error
}

// Options limit what a Reader accepts. The zero value means the defaults.
type Options struct {
	// MaxBulkLen is the largest argument accepted (default 512 MiB, Redis's default
	// proto-max-bulk-len). Larger declared lengths are ErrTooLarge, before anything is
	// allocated; memory grows only with bytes actually read.
	MaxBulkLen int64
	// MaxArgs is the largest argument count accepted (default 2^31-1, what Redis's loader can
	// count).
	MaxArgs int64
	// FailTruncated makes a truncated last command or an unfinished MULTI at the end of the
	// last file an error instead of a warning (Redis's aof-load-truncated no).
	FailTruncated bool
}

// Defaults for Options.
const (
	DefaultMaxBulkLen = 512 << 20
	DefaultMaxArgs    = math.MaxInt32
)

const (
	// annotationMax is Redis's AOF_ANNOTATION_LINE_MAX_LEN: the longest '#' line, line end
	// included.
	annotationMax = 1024
	// headerMax bounds a "*<n>\r\n" or "$<n>\r\n" line.
	headerMax   = 32
	readBufSize = 64 << 10
	// bulkChunk is how much of a bulk string is read (and allocated) at a time, so that a
	// declared length the file does not back costs no memory.
	bulkChunk = 64 << 10
)

func (o Options) withDefaults() Options {
	if o.MaxBulkLen <= 0 {
		o.MaxBulkLen = DefaultMaxBulkLen
	}
	if o.MaxArgs <= 0 {
		o.MaxArgs = DefaultMaxArgs
	}
	return o
}

// A part is one file to read, in order.
type part struct {
	name string
	typ  FileType
	path string    // opened at its turn when r is nil
	r    io.Reader // given by the caller, not closed
}

// Reader reads an AOF: one stream (NewReader), a single file or a multi-part directory
// (Open, OpenDir). It is not safe for concurrent use.
type Reader struct {
	opts  Options
	parts []part
	next  int
	cur   *stream
	file  *os.File // the open file of cur, if we opened it
	ev    Event
	args  [][]byte
	err   error
}

// NewReader reads one AOF stream from r: commands, annotations, and an RDB preamble if r
// starts with one. name is used in events and errors. The stream is taken to be the last
// file of its AOF, so a truncated last command is a warning. If r is an io.Seeker, a caller
// whose RDB decoder reads past the preamble can say where it ended (Preamble.SetEnd).
func NewReader(r io.Reader, name string, o Options) *Reader {
	return &Reader{opts: o.withDefaults(), parts: []part{{name: name, typ: FileSingle, r: r}}}
}

// Open opens an AOF by path: a directory (a Redis 7 appendonlydir, read through its only
// manifest), a manifest file, or a single-file AOF.
func Open(path string, o Options) (*Reader, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return OpenDir(path, "", o)
	}
	if name, ok := cutSuffix(filepath.Base(path), manifestSuffix); ok {
		return OpenDir(filepath.Dir(path), name, o)
	}
	return &Reader{opts: o.withDefaults(),
		parts: []part{{name: filepath.Base(path), typ: FileSingle, path: path}}}, nil
}

// Close closes the file the Reader has open, if any.
func (r *Reader) Close() error {
	r.cur = nil
	if r.file != nil {
		err := r.file.Close()
		r.file = nil
		return err
	}
	return nil
}

// Next returns the next event, or io.EOF after the last. An error is final: every later call
// returns it again. The returned Event and its slices are valid until the next call.
func (r *Reader) Next() (*Event, error) {
	if r.err != nil {
		return nil, r.err
	}
	for {
		if r.cur == nil {
			if r.next == len(r.parts) {
				r.err = io.EOF
				return nil, io.EOF
			}
			p := r.parts[r.next]
			r.next++
			src := p.r
			if src == nil {
				f, err := os.Open(p.path)
				if err != nil {
					r.err = &Error{File: p.name, Offset: -1, Err: ErrMissingFile, Msg: err.Error()}
					return nil, r.err
				}
				r.file, src = f, f
			}
			r.cur = newStream(src, p.name, r.next == len(r.parts), &r.opts)
			r.ev = Event{Kind: KindFile, File: p.name, FileType: p.typ}
			return &r.ev, nil
		}
		ok, err := r.cur.next(&r.ev, &r.args)
		if err != nil {
			r.err = err
			r.Close()
			return nil, err
		}
		if ok {
			return &r.ev, nil
		}
		if err := r.Close(); err != nil {
			r.err = err
			return nil, err
		}
	}
}

// stream parses one file.
type stream struct {
	name   string
	last   bool
	opts   *Options
	src    io.Reader
	br     *bufio.Reader
	seeker io.Seeker
	base   int64 // seek position of offset 0
	off    int64 // offset of the next unread byte
	db     int
	state  uint8
	pre    *Preamble

	// arena holds the bytes of the commands and annotations parsed since the queue was last
	// drained; idx holds (start, end) pairs into it, one per argument.
	arena []byte
	idx   []int
	// queue holds a transaction until its EXEC (so that an unfinished one is never
	// delivered), then the items are delivered one by one.
	queue []item
	qpos  int
	inTx  bool
	txOff int64
	txDB  int
}

const (
	stStart uint8 = iota
	stPreamble
	stCommands
	stDone
)

// item is a parsed command or annotation, or a warning.
type item struct {
	kind Kind
	off  int64
	db   int
	a, b int // command: argument pairs [a, b) of idx; annotation: arena[a:b]
	ts   int64
	err  error
}

func newStream(src io.Reader, name string, last bool, o *Options) *stream {
	s := &stream{name: name, last: last, opts: o, src: src, br: bufio.NewReaderSize(src, readBufSize)}
	if sk, ok := src.(io.Seeker); ok {
		if pos, err := sk.Seek(0, io.SeekCurrent); err == nil {
			s.seeker, s.base = sk, pos
		}
	}
	return s
}

func (s *stream) errAt(sentinel error, off int64, format string, args ...any) *Error {
	return &Error{File: s.name, Offset: off, Err: sentinel, Msg: fmt.Sprintf(format, args...)}
}

// next fills ev with the next event of the file; false at its end.
func (s *stream) next(ev *Event, args *[][]byte) (bool, error) {
	switch s.state {
	case stStart:
		s.state = stCommands
		if magic, _ := s.br.Peek(5); string(magic) == "REDIS" {
			s.pre = &Preamble{s: s, end: -1}
			s.state = stPreamble
			*ev = Event{Kind: KindPreamble, File: s.name, Preamble: s.pre}
			return true, nil
		}
	case stPreamble:
		if err := s.pre.finish(); err != nil {
			return false, err
		}
		s.state = stCommands
	}
	for {
		if !s.inTx && s.qpos < len(s.queue) {
			s.deliver(ev, args, s.queue[s.qpos])
			s.qpos++
			return true, nil
		}
		if s.state == stDone {
			return false, nil
		}
		if !s.inTx {
			s.queue, s.qpos, s.arena, s.idx = s.queue[:0], 0, s.arena[:0], s.idx[:0]
		}
		if err := s.parse(); err != nil {
			return false, err
		}
	}
}

func (s *stream) deliver(ev *Event, args *[][]byte, it item) {
	*ev = Event{Kind: it.kind, File: s.name, Offset: it.off, DB: it.db, Err: it.err}
	switch it.kind {
	case KindCommand:
		a := (*args)[:0]
		for i := it.a; i < it.b; i++ {
			a = append(a, s.arena[s.idx[2*i]:s.idx[2*i+1]])
		}
		*args = a
		ev.Args = a
	case KindTimestamp:
		ev.Timestamp = it.ts
	case KindAnnotation:
		ev.Text = s.arena[it.a:it.b]
	}
}

// parse reads one item into the queue (or several warnings, or nothing at a clean end).
func (s *stream) parse() error {
	start := s.off
	b, err := s.br.Peek(1)
	if err == io.EOF {
		s.state = stDone
		if s.inTx {
			return s.rollback(nil)
		}
		return nil
	}
	if err != nil {
		return s.errAt(err, start, "read")
	}
	switch b[0] {
	case '#':
		return s.parseAnnotation(start)
	case '*':
		it, err := s.parseCommand(start)
		if err != nil {
			var e *Error
			if errors.As(err, &e) && e.Err == ErrTruncated {
				s.state = stDone
				return s.rollback(e)
			}
			return err
		}
		return s.push(it)
	}
	return s.errAt(ErrFormat, start, "expected '*' or '#', found %s", quoteByte(b[0]))
}

// push queues a parsed command, following SELECT, MULTI and EXEC.
func (s *stream) push(it item) error {
	name := s.arg(it.a)
	switch {
	case equalFold(name, "multi"):
		if s.inTx {
			return s.errAt(ErrNestedMulti, it.off, "the MULTI at offset %d has no EXEC", s.txOff)
		}
		s.inTx, s.txOff, s.txDB = true, it.off, s.db
	case equalFold(name, "exec"):
		s.inTx = false
	case equalFold(name, "select") && it.b-it.a == 2:
		if db, err := strconv.Atoi(string(s.arg(it.a + 1))); err == nil && db >= 0 {
			s.db = db
		}
	}
	s.queue = append(s.queue, it)
	return nil
}

// rollback ends the file after a truncated item (trunc != nil) or at a clean end inside a
// transaction: what is not complete is dropped, with warnings in the last file and an error
// elsewhere.
func (s *stream) rollback(trunc *Error) error {
	var multi *Error
	if s.inTx {
		n := len(s.queue) - 1 // commands after MULTI; annotations count too, they are dropped alike
		multi = s.errAt(ErrUnfinishedMulti, s.txOff,
			"no EXEC before the end of the file (%d items after MULTI)", n)
		s.queue = s.queue[:0]
		s.qpos = 0
		s.db = s.txDB
		s.inTx = false
	}
	first := multi
	if first == nil {
		first = trunc
	}
	if first == nil {
		return nil
	}
	if !s.last {
		first.Msg += "; this is not the last file of the AOF, so Redis refuses it too"
		return first
	}
	if s.opts.FailTruncated {
		return first
	}
	for _, e := range []*Error{multi, trunc} {
		if e != nil {
			s.queue = append(s.queue, item{kind: KindWarning, off: e.Offset, db: s.db, err: e})
		}
	}
	return nil
}

func (s *stream) arg(i int) []byte { return s.arena[s.idx[2*i]:s.idx[2*i+1]] }

func (s *stream) parseAnnotation(start int64) error {
	line, err := s.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull || len(line) > annotationMax {
		return s.errAt(ErrFormat, start, "annotation line longer than %d bytes", annotationMax)
	}
	s.off += int64(len(line))
	if err == io.EOF {
		s.state = stDone
		e := s.errAt(ErrUnterminatedAnnotation, start, "%d bytes at the end of the file ignored", len(line))
		s.queue = append(s.queue, item{kind: KindWarning, off: start, db: s.db, err: e})
		return nil
	}
	if err != nil {
		return s.errAt(err, s.off, "read")
	}
	text := bytes.TrimSuffix(line[1:len(line)-1], []byte{'\r'})
	if ts, ok := bytes.CutPrefix(text, []byte("TS:")); ok {
		if v, err := strconv.ParseInt(string(ts), 10, 64); err == nil {
			s.queue = append(s.queue, item{kind: KindTimestamp, off: start, db: s.db, ts: v})
			return nil
		}
	}
	a := len(s.arena)
	s.arena = append(s.arena, text...)
	s.queue = append(s.queue, item{kind: KindAnnotation, off: start, db: s.db, a: a, b: len(s.arena)})
	return nil
}

func (s *stream) parseCommand(start int64) (item, error) {
	argc, err := s.readCount('*', s.opts.MaxArgs, start)
	if err != nil {
		return item{}, err
	}
	if argc < 1 {
		return item{}, s.errAt(ErrFormat, start, "command with %d arguments", argc)
	}
	it := item{kind: KindCommand, off: start, db: s.db, a: len(s.idx) / 2}
	for i := int64(0); i < argc; i++ {
		n, err := s.readCount('$', s.opts.MaxBulkLen, start)
		if err != nil {
			return item{}, err
		}
		a := len(s.arena)
		if err := s.readBulk(n, start); err != nil {
			return item{}, err
		}
		s.idx = append(s.idx, a, len(s.arena))
	}
	it.b = len(s.idx) / 2
	return it, nil
}

// readCount reads a "<prefix><decimal>\r\n" line. A line cut by the end of the file is
// ErrTruncated if what there is of it could still have been right.
func (s *stream) readCount(prefix byte, max int64, cmdStart int64) (int64, error) {
	lineStart := s.off
	line, err := s.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull || len(line) > headerMax {
		return 0, s.errAt(ErrFormat, lineStart, "%c line longer than %d bytes", prefix, headerMax)
	}
	s.off += int64(len(line))
	complete := err == nil
	if err != nil && err != io.EOF {
		return 0, s.errAt(err, s.off, "read")
	}
	body := line
	if complete {
		if len(line) < 2 || line[len(line)-2] != '\r' {
			return 0, s.errAt(ErrFormat, lineStart, "%c line does not end in CRLF", prefix)
		}
		body = line[:len(line)-2]
	} else {
		body = bytes.TrimSuffix(body, []byte{'\r'})
	}
	if len(body) == 0 {
		if complete {
			return 0, s.errAt(ErrFormat, lineStart, "empty line where '%c' was expected", prefix)
		}
		return 0, s.truncated(cmdStart)
	}
	if body[0] != prefix {
		return 0, s.errAt(ErrFormat, lineStart, "expected '%c', found %s", prefix, quoteByte(body[0]))
	}
	var v int64
	for i, c := range body[1:] {
		if c < '0' || c > '9' {
			return 0, s.errAt(ErrFormat, lineStart+1+int64(i), "bad length %q", body[1:])
		}
		if v > (max-int64(c-'0'))/10 {
			return 0, s.errAt(ErrTooLarge, lineStart, "length %s above the limit %d", body[1:], max)
		}
		v = v*10 + int64(c-'0')
	}
	if !complete || len(body) == 1 {
		if !complete {
			return 0, s.truncated(cmdStart)
		}
		return 0, s.errAt(ErrFormat, lineStart, "%c line without a number", prefix)
	}
	return v, nil
}

// readBulk appends n bytes to the arena and checks the CRLF after them. It allocates as the
// bytes arrive, never n at once.
func (s *stream) readBulk(n int64, cmdStart int64) error {
	for n > 0 {
		c := int(min(n, bulkChunk))
		a := len(s.arena)
		if cap(s.arena)-a < c {
			grown := make([]byte, a, max(2*cap(s.arena), a+c))
			copy(grown, s.arena)
			s.arena = grown
		}
		got, err := io.ReadFull(s.br, s.arena[a:a+c])
		s.arena = s.arena[:a+got]
		s.off += int64(got)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return s.truncated(cmdStart)
		}
		if err != nil {
			return s.errAt(err, s.off, "read")
		}
		n -= int64(c)
	}
	crlf, err := s.br.Peek(2)
	if len(crlf) > 0 && crlf[0] != '\r' || len(crlf) > 1 && crlf[1] != '\n' {
		return s.errAt(ErrFormat, s.off, "argument not followed by CRLF")
	}
	if err == io.EOF {
		return s.truncated(cmdStart)
	}
	if err != nil {
		return s.errAt(err, s.off, "read")
	}
	s.br.Discard(2)
	s.off += 2
	return nil
}

func (s *stream) truncated(cmdStart int64) *Error {
	// Drain the rest, so that the warning can say how much was dropped.
	n, _ := s.br.Discard(math.MaxInt)
	s.off += int64(n)
	return s.errAt(ErrTruncated, cmdStart, "the file ends inside this command, %d bytes after its start",
		s.off-cmdStart)
}

// Preamble is the RDB at the start of an AOF file (an old-style preamble AOF, or a multi-part
// base .rdb). The reader does not decode it: the caller does, with package rdb, reading
// through the Preamble, and the reader takes over where the RDB ends (after the 0xFF EOF
// opcode and, from RDB version 5 on, its 8-byte checksum).
//
// The hand-off works like compress/flate's: Preamble is an io.ByteReader, and a decoder given
// one must not read a byte past the end of the RDB. When Next is called again, the RDB is taken
// to end where the caller stopped reading, and that is checked: the byte 9 before (1 before
// for RDB versions below 5) must be the 0xFF EOF opcode, else Next fails with ErrPreamble
// instead of misreading what follows. A decoder that buffers ahead instead tells the reader
// where the RDB ended with SetEnd before calling Next; that needs a seekable source when it
// read past the end (files are).
type Preamble struct {
	s    *stream
	n    int64
	head [9]byte
	tail [9]byte
	end  int64
	done bool
}

// Read reads the file from its first byte (the "REDIS" magic) on. It reads past the RDB end
// if asked to; see SetEnd.
func (p *Preamble) Read(b []byte) (int, error) {
	if p.done {
		return 0, p.s.errAt(ErrPreamble, p.n, "read after Next moved on")
	}
	n, err := p.s.br.Read(b)
	p.account(b[:n])
	return n, err
}

// ReadByte reads one byte; see Read.
func (p *Preamble) ReadByte() (byte, error) {
	if p.done {
		return 0, p.s.errAt(ErrPreamble, p.n, "read after Next moved on")
	}
	c, err := p.s.br.ReadByte()
	if err == nil {
		p.account([]byte{c})
	}
	return c, err
}

// Offset is the number of bytes read through the Preamble so far.
func (p *Preamble) Offset() int64 { return p.n }

// SetEnd says that the RDB is n bytes long (its EOF opcode and checksum included), for
// decoders that read ahead of what they consume.
func (p *Preamble) SetEnd(n int64) { p.end = n }

// Version is the RDB version in the magic, -1 until 9 bytes were read or if it is not a
// number.
func (p *Preamble) Version() int {
	if p.n < 9 {
		return -1
	}
	v, err := strconv.Atoi(string(p.head[5:9]))
	if err != nil {
		return -1
	}
	return v
}

func (p *Preamble) account(b []byte) {
	if p.n < int64(len(p.head)) {
		copy(p.head[p.n:], b)
	}
	if len(b) >= len(p.tail) {
		copy(p.tail[:], b[len(b)-len(p.tail):])
	} else {
		copy(p.tail[:], p.tail[len(b):])
		copy(p.tail[len(p.tail)-len(b):], b)
	}
	p.n += int64(len(b))
	p.s.off += int64(len(b))
}

// endsLikeRDB says whether the bytes read so far end like an RDB: the EOF opcode, then the
// checksum from version 5 on.
func (p *Preamble) endsLikeRDB() bool {
	v := p.Version()
	if v >= 5 {
		return p.n >= 18 && p.tail[0] == 0xFF
	}
	return p.n >= 10 && p.tail[8] == 0xFF
}

func (p *Preamble) finish() error {
	p.done = true
	s := p.s
	end := p.end
	if end < 0 {
		end = p.n
		if !p.endsLikeRDB() {
			if p.n == 0 {
				return s.errAt(ErrPreamble, 0, "not read: decode it before calling Next")
			}
			return s.errAt(ErrPreamble, p.n, "the %d bytes read do not end with an RDB EOF opcode "+
				"and checksum: the decoder stopped early or read ahead (call SetEnd)", p.n)
		}
	}
	switch {
	case end > p.n:
		n, err := s.br.Discard(int(min(end-p.n, math.MaxInt)))
		s.off += int64(n)
		if err != nil {
			return s.errAt(ErrPreamble, s.off, "SetEnd(%d) is past the end of the file", end)
		}
	case end < p.n:
		if s.seeker == nil {
			return s.errAt(ErrPreamble, end, "SetEnd(%d) goes back %d bytes, "+
				"which needs a seekable source", end, p.n-end)
		}
		if _, err := s.seeker.Seek(s.base+end, io.SeekStart); err != nil {
			return s.errAt(err, end, "seek")
		}
		s.br.Reset(s.src)
		s.off = end
	}
	return nil
}

func equalFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

func quoteByte(c byte) string { return strconv.QuoteToASCII(string([]byte{c})) }

func cutSuffix(s, suffix string) (string, bool) {
	if len(s) > len(suffix) && s[len(s)-len(suffix):] == suffix {
		return s[:len(s)-len(suffix)], true
	}
	return s, false
}
