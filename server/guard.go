package server

import (
	"errors"
	"io"
	"net"
	"sync/atomic"

	"github.com/stratadb/strata/engine"
)

// The guard sits between the socket and redcon's reader.
//
// Why: redcon parses whatever arrives and trusts it. A bulk length near MaxInt64 overflows its
// index arithmetic and panics the whole process; "*2147483647" makes it loop two billion times
// per read; nothing bounds the query buffer; "*0" closes the connection where Redis ignores it.
// Rather than fork redcon, the guard frames the byte stream itself, in O(1) memory and one pass
// over each byte, and enforces Redis's rules with Redis's error texts:
//
//   - "*<n>": not an integer or > INT_MAX (or > max-command-args) is "invalid multibulk
//     length"; n <= 0 is an empty command, dropped from the stream as Redis drops it; more
//     than 10 before AUTH is "unauthenticated multibulk length".
//   - "$<n>": negative or > proto-max-bulk-len is "invalid bulk length"; more than 16384 before
//     AUTH is "unauthenticated bulk length"; a missing '$' is "expected '$', got 'x'".
//   - a header or inline line without a newline beyond 64 KiB is "too big ..." as in Redis.
//   - a command whose bytes exceed client-query-buffer-limit closes the connection (no reply,
//     as Redis).
//
// Bytes are handed to redcon only when they end at least one complete command, or when 64 KiB
// of one unfinished command have gathered (so a 512 MB value streams through): redcon never
// re-scans a trickle, and memory grows only with what a client really sent, never with what a
// header claims. On a violation, the complete commands before it are delivered and answered
// first; then the error is written and the connection closed.
type guardConn struct {
	net.Conn
	lim   *limits
	authd func() bool // whether the client may skip the unauthenticated limits

	buf      []byte // bytes read from the socket, not yet handed to redcon
	scan     int    // how much of buf the framer has consumed
	complete int    // buf[:complete] ends on a command boundary
	cmdBytes int64  // bytes of the command being framed, including delivered ones

	st       frameState
	num      int64 // header digits so far
	numLen   int   // header length so far
	neg      bool
	args     int64 // bulk arguments still expected in this command
	bulkLeft int64 // bytes of the current bulk (plus CRLF) still to skip
	cmdStart int   // offset in buf where the current command began (if still in buf)

	failure error // a protocol error to send once the bytes before it are delivered
}

// limits are the live values of the protocol limits, shared by every connection; CONFIG SET
// stores into them.
type limits struct {
	maxBulk  atomic.Int64
	maxQuery atomic.Int64
	maxArgs  atomic.Int64
}

type frameState uint8

const (
	stStart     frameState = iota // at a command boundary
	stCount                       // in "*<digits>"
	stCountLF                     // after '\r' of the count line
	stBulkStart                   // expecting '$'
	stBulkLen                     // in "$<digits>"
	stBulkLenLF                   // after '\r' of the bulk length line
	stBulkData                    // skipping bulk bytes and CRLF
	stInline                      // in an inline command line
)

const (
	inlineMax      = 64 << 10 // Redis's PROTO_INLINE_MAX_SIZE
	deliverPartial = 64 << 10 // hand over an unfinished command in pieces of this size
	readChunk      = 16 << 10
)

var errClientQueryBuffer = errors.New("closing client that reached max query buffer length")

func newGuardConn(c net.Conn, lim *limits) *guardConn {
	return &guardConn{Conn: c, lim: lim, authd: func() bool { return true }}
}

// Write skips empty writes: redcon flushes its (unused) writer after every burst, and an empty
// write would still cost a system call.
func (g *guardConn) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return g.Conn.Write(p)
}

func (g *guardConn) Read(p []byte) (int, error) {
	for {
		deliver := g.complete
		if deliver == 0 && g.failure == nil && len(g.buf) >= deliverPartial && g.st != stStart {
			deliver = len(g.buf)
		}
		if deliver > 0 {
			n := copy(p, g.buf[:deliver])
			g.consume(n)
			return n, nil
		}
		if g.failure != nil {
			if g.failure != errClientQueryBuffer {
				g.Conn.Write([]byte("-" + g.failure.Error() + "\r\n"))
			}
			return 0, g.failure
		}
		if err := g.fill(); err != nil {
			return 0, err
		}
	}
}

// consume drops the first n delivered bytes of buf.
func (g *guardConn) consume(n int) {
	rest := copy(g.buf, g.buf[n:])
	g.buf = g.buf[:rest]
	g.scan -= n
	g.complete -= n
	if g.complete < 0 {
		g.complete = 0
	}
	g.cmdStart -= n
	if cap(g.buf) > 4*deliverPartial && len(g.buf) < deliverPartial {
		g.buf = append([]byte(nil), g.buf...)
	}
}

// fill reads more bytes from the socket and frames them.
func (g *guardConn) fill() error {
	if cap(g.buf)-len(g.buf) < readChunk {
		nb := make([]byte, len(g.buf), len(g.buf)+readChunk*2)
		copy(nb, g.buf)
		g.buf = nb
	}
	n, err := g.Conn.Read(g.buf[len(g.buf):cap(g.buf)])
	g.buf = g.buf[:len(g.buf)+n]
	if n > 0 {
		g.frame()
	}
	if err != nil {
		if n > 0 && err == io.EOF {
			return nil // deliver what came with the EOF first
		}
		return err
	}
	return nil
}

func (g *guardConn) fail(err error) {
	g.failure = err
	// Nothing after the last complete command is delivered.
	g.buf = g.buf[:g.complete]
	g.scan = g.complete
}

// frame advances the state machine over buf[scan:].
func (g *guardConn) frame() {
	for g.scan < len(g.buf) && g.failure == nil {
		b := g.buf[g.scan]
		switch g.st {
		case stStart:
			g.cmdStart = g.scan
			g.cmdBytes = 0
			if b == '*' {
				g.st, g.num, g.numLen, g.neg = stCount, 0, 0, false
			} else {
				g.st, g.numLen = stInline, 0
				continue // the byte is part of the line
			}
		case stCount, stBulkLen:
			if b == '\r' {
				if g.st == stCount {
					g.st = stCountLF
				} else {
					g.st = stBulkLenLF
				}
				break
			}
			g.numLen++
			if g.numLen > 20 || !g.digit(b) {
				if g.numLen > inlineMax {
					if g.st == stCount {
						g.fail(engine.ErrProtoBigMultibulk)
					} else {
						g.fail(engine.ErrProtoBigBulkCount)
					}
					return
				}
				// Keep scanning to the CR: Redis parses the whole line, then rejects it.
				g.num = -1 << 62
			}
		case stCountLF:
			if !g.countDone() {
				return
			}
			continue // countDone moved to the next state and consumed nothing here
		case stBulkStart:
			if b != '$' {
				g.fail(errors.New("ERR Protocol error: expected '$', got '" + string(b) + "'"))
				return
			}
			g.st, g.num, g.numLen, g.neg = stBulkLen, 0, 0, false
		case stBulkLenLF:
			if !g.bulkLenDone() {
				return
			}
			continue
		case stBulkData:
			skip := min(g.bulkLeft, int64(len(g.buf)-g.scan))
			g.bulkLeft -= skip
			g.scan += int(skip)
			g.cmdBytes += skip
			if g.bulkLeft == 0 {
				g.args--
				if g.args == 0 {
					g.commandDone()
				} else {
					g.st = stBulkStart
				}
			}
			if g.overQuery() {
				return
			}
			continue
		case stInline:
			if b == '\n' {
				g.scan++
				g.cmdBytes++
				g.commandDone()
				continue
			}
			g.numLen++
			if g.numLen > inlineMax {
				g.fail(engine.ErrProtoBigInline)
				return
			}
		}
		g.scan++
		g.cmdBytes++
		if g.overQuery() {
			return
		}
	}
}

func (g *guardConn) overQuery() bool {
	if g.cmdBytes > g.lim.maxQuery.Load() {
		g.fail(errClientQueryBuffer)
		return true
	}
	return false
}

// digit accumulates one header digit; false when the header is not a valid integer.
func (g *guardConn) digit(b byte) bool {
	if g.numLen == 1 && b == '-' {
		g.neg = true
		return true
	}
	if b < '0' || b > '9' || g.num < 0 {
		return false
	}
	g.num = g.num*10 + int64(b-'0')
	return true
}

func (g *guardConn) headerValue() (int64, bool) {
	if g.num < 0 || g.numLen == 0 || (g.neg && g.numLen == 1) {
		return 0, false
	}
	if g.neg {
		return -g.num, true
	}
	return g.num, true
}

// countDone handles the byte after "*<n>\r" (the '\n', which Redis does not check).
func (g *guardConn) countDone() bool {
	g.scan++ // the LF
	g.cmdBytes++
	n, ok := g.headerValue()
	if !ok || n > 1<<31-1 || n > g.lim.maxArgs.Load() {
		g.fail(engine.ErrProtoInvalidMultibulk)
		return false
	}
	if n <= 0 {
		// An empty command: cut it out of the stream, as Redis skips it.
		g.buf = append(g.buf[:g.cmdStart], g.buf[g.scan:]...)
		g.scan = g.cmdStart
		g.st = stStart
		return true
	}
	if n > 10 && !g.authd() {
		g.fail(engine.ErrProtoUnauthMultibulk)
		return false
	}
	g.args = n
	g.st = stBulkStart
	return true
}

// bulkLenDone handles the byte after "$<n>\r".
func (g *guardConn) bulkLenDone() bool {
	g.scan++
	g.cmdBytes++
	n, ok := g.headerValue()
	if !ok || n < 0 || n > g.lim.maxBulk.Load() {
		g.fail(engine.ErrProtoInvalidBulk)
		return false
	}
	if n > 16384 && !g.authd() {
		g.fail(engine.ErrProtoUnauthBulk)
		return false
	}
	g.bulkLeft = n + 2
	g.st = stBulkData
	return true
}

func (g *guardConn) commandDone() {
	g.st = stStart
	g.complete = g.scan
}

// guardListener wraps every accepted connection in a guard.
type guardListener struct {
	net.Listener
	lim *limits
}

func (l *guardListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return newGuardConn(c, l.lim), nil
}
