package tools

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/stratadb/strata/aof"
)

// A small pipelined RESP2 client for the tools that send commands to a server: the online
// import (online.go), AOF replay (aof.go) and migrate (migrate.go), which also uses it for its
// side connection to the source.
// Commands are queued with send and their replies read in batches by sync, so a long run of
// commands costs one round trip per batch, not per command; every error reply is counted and
// the first few are kept with what they answered (the AOF file and offset, or the command).
// Errors inside an EXEC's reply count one each, like the commands that made them.

// Reply is one RESP reply, parsed.
type Reply struct {
	// Type is the RESP type byte: '+', '-', ':', '$' or '*'.
	Type  byte
	Str   []byte // simple string, error or bulk text
	Int   int64
	Elems []Reply
	Nil   bool // a null bulk or array
}

// Text is a simple string's, error's or bulk's text.
func (r *Reply) Text() string { return string(r.Str) }

// maxReplyBulk bounds a bulk reply the client accepts, maxReplyElems an array's length:
// nothing the tools ask for comes near them.
const (
	maxReplyBulk  = 1 << 30
	maxReplyElems = 1 << 24
)

// readReply reads one reply from r.
func readReply(r *bufio.Reader) (Reply, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return Reply{}, errors.New("reply line too long")
		}
		return Reply{}, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return Reply{}, fmt.Errorf("malformed reply line %q", line)
	}
	typ, body := line[0], line[1:len(line)-2]
	switch typ {
	case '+', '-':
		return Reply{Type: typ, Str: append([]byte(nil), body...)}, nil
	case ':':
		n, err := strconv.ParseInt(string(body), 10, 64)
		if err != nil {
			return Reply{}, fmt.Errorf("malformed integer reply %q", body)
		}
		return Reply{Type: typ, Int: n}, nil
	case '$', '*':
		n, err := strconv.ParseInt(string(body), 10, 64)
		if err != nil || n < -1 || typ == '$' && n > maxReplyBulk || typ == '*' && n > maxReplyElems {
			return Reply{}, fmt.Errorf("malformed length in reply %q", line[:len(line)-2])
		}
		if n < 0 {
			return Reply{Type: typ, Nil: true}, nil
		}
		if typ == '$' {
			b := make([]byte, n+2)
			if _, err := io.ReadFull(r, b); err != nil {
				return Reply{}, err
			}
			return Reply{Type: typ, Str: b[:n]}, nil
		}
		rep := Reply{Type: typ, Elems: make([]Reply, 0, min(n, 1024))}
		for range n {
			e, err := readReply(r)
			if err != nil {
				return Reply{}, err
			}
			rep.Elems = append(rep.Elems, e)
		}
		return rep, nil
	}
	return Reply{}, fmt.Errorf("unexpected reply %q", line)
}

// sentCommand says what a reply in flight answers, for error messages: where the command
// came from (an AOF file name, "stream") and its offset there, and its name.
type sentCommand struct {
	from string
	off  int64
	name string
}

func (s sentCommand) String() string {
	if s.from == "" {
		return s.name
	}
	return fmt.Sprintf("%s offset %d: %s", s.from, s.off, s.name)
}

// ReplyErrors counts the error replies of a run and keeps the first few.
type ReplyErrors struct {
	Count int64
	First []string
}

const replyErrorsKept = 10

func (e *ReplyErrors) add(what sentCommand, msg string) {
	e.Count++
	if len(e.First) < replyErrorsKept {
		e.First = append(e.First, what.String()+": "+msg)
	}
}

// Err is nil without errors, else a *RefusedError.
func (e *ReplyErrors) Err() error {
	if e.Count == 0 {
		return nil
	}
	return &RefusedError{Count: e.Count, First: e.First[0]}
}

// RefusedError says that a server answered some commands with errors (the run went on).
type RefusedError struct {
	Count int64
	First string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("the server refused %d commands; first: %s", e.Count, e.First)
}

// respClient is a pipelined RESP2 connection.
type respClient struct {
	nc      net.Conn
	r       *bufio.Reader
	w       *bufio.Writer
	timeout time.Duration
	window  int
	pending []sentCommand
	buf     []byte
	// lastErr is the last error reply the last sync read ("" when none).
	lastErr string
	// Sent counts the commands sent; Errors the error replies read by sync.
	Sent   int64
	Errors ReplyErrors
}

func (t ServerTarget) network() string {
	if strings.Contains(t.Addr, "/") {
		return "unix"
	}
	return "tcp"
}

func (t ServerTarget) timeout() time.Duration {
	if t.Timeout <= 0 {
		return time.Minute
	}
	return t.Timeout
}

// dial connects and authenticates (AUTH when Password is set). Up to t.Pipeline commands
// (default 256) may await their replies.
func (t ServerTarget) dial(ctx context.Context) (*respClient, error) {
	d := net.Dialer{Timeout: t.timeout()}
	nc, err := d.DialContext(ctx, t.network(), t.Addr)
	if err != nil {
		return nil, err
	}
	window := t.Pipeline
	if window <= 0 {
		window = 256
	}
	c := &respClient{nc: nc, r: bufio.NewReaderSize(nc, 64<<10), w: bufio.NewWriterSize(nc, 1<<20),
		timeout: t.timeout(), window: window}
	if t.Password != "" {
		args := []string{"AUTH", t.Password}
		if t.Username != "" {
			args = []string{"AUTH", t.Username, t.Password}
		}
		if err := c.doOK(args...); err != nil {
			nc.Close()
			return nil, fmt.Errorf("%s: %w", t.Addr, err)
		}
	}
	return c, nil
}

func (c *respClient) Close() error { return c.nc.Close() }

// send queues a command; its reply is read by a later sync (send syncs when the window is full
// or much is buffered).
func (c *respClient) send(what sentCommand, args ...[]byte) error {
	c.buf = aof.AppendCommand(c.buf[:0], args...)
	if _, err := c.w.Write(c.buf); err != nil {
		return err
	}
	if cap(c.buf) > 1<<20 {
		c.buf = nil
	}
	if what.name == "" && len(args) > 0 {
		what.name = strings.ToUpper(string(args[0]))
	}
	c.pending = append(c.pending, what)
	c.Sent++
	if len(c.pending) >= c.window || c.w.Buffered() >= 8<<20 {
		return c.sync()
	}
	return nil
}

// sync sends what is queued and reads every reply in flight, counting errors.
func (c *respClient) sync() error {
	if len(c.pending) == 0 && c.w.Buffered() == 0 {
		return nil
	}
	c.nc.SetDeadline(time.Now().Add(c.timeout))
	if err := c.w.Flush(); err != nil {
		return err
	}
	c.lastErr = ""
	for _, what := range c.pending {
		rep, err := readReply(c.r)
		if err != nil {
			return err
		}
		c.countErrors(what, &rep)
	}
	c.pending = c.pending[:0]
	return nil
}

// countErrors counts an error reply, or the errors inside an EXEC's array.
func (c *respClient) countErrors(what sentCommand, rep *Reply) {
	switch {
	case rep.Type == '-':
		c.lastErr = rep.Text()
		c.Errors.add(what, rep.Text())
	case rep.Type == '*' && what.name == "EXEC":
		for i := range rep.Elems {
			if rep.Elems[i].Type == '-' {
				c.Errors.add(sentCommand{what.from, what.off, fmt.Sprintf("EXEC (command %d)", i+1)}, rep.Elems[i].Text())
			}
		}
	}
}

// do sends one command after what is queued and returns its reply (error replies included:
// they are the caller's to judge, and not counted).
func (c *respClient) do(args ...string) (Reply, error) {
	if err := c.sync(); err != nil {
		return Reply{}, err
	}
	c.buf = aof.AppendCommandString(c.buf[:0], args...)
	c.nc.SetDeadline(time.Now().Add(c.timeout))
	if _, err := c.w.Write(c.buf); err != nil {
		return Reply{}, err
	}
	if err := c.w.Flush(); err != nil {
		return Reply{}, err
	}
	return readReply(c.r)
}

// doOK is do for commands that answer +OK (or anything but an error).
func (c *respClient) doOK(args ...string) error {
	rep, err := c.do(args...)
	if err != nil {
		return err
	}
	if rep.Type == '-' {
		return fmt.Errorf("%s: %s", strings.ToUpper(args[0]), rep.Text())
	}
	return nil
}

// infoField returns one field of an INFO reply's text ("" when absent).
func infoField(info, name string) string {
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return strings.TrimRight(v, "\r")
		}
	}
	return ""
}
