package server

import (
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tidwall/redcon"

	"github.com/stratadb/strata/engine"
)

// Client is one connection. Its goroutine (redcon's) parses and runs its commands; replies
// gather in out and go to the socket with one write when the read burst has been answered.
//
// Other goroutines deliver out-of-band data (pub/sub messages, invalidations, MONITOR lines)
// through Push. While the connection goroutine is inside a burst, pushes wait in pending and
// follow the burst's replies; while it is idle, a writer goroutine sends them. Socket writes
// happen under wmu and take their bytes under mu, so bytes reach the socket in the order they
// were queued. A handler that registers for pushes (SUBSCRIBE) must write its reply before it
// registers, so that no message can overtake the confirmation.
type Client struct {
	s    *Server
	id   int64
	rc   redcon.Conn
	conn *guardConn

	// Owned by the connection goroutine.
	out     []byte
	resp    int // 2 or 3
	db      int
	authed  bool
	txn     *engine.Txn
	x       Ctx
	lower   []byte // scratch: the lowercased command name
	closing bool   // close after this burst (QUIT, errors)
	inBurst bool   // between the first command of a read burst and its flush
	// clock is when the last command ended (or the burst began): the client's last activity,
	// which endBurst records without another clock read.
	clock time.Time
	tx    txState
	// blocked is set by a blocking command that found nothing: the dispatcher then waits for
	// it, holding no lock (see blocking.go). denyBlocking makes blocking commands answer as
	// their non-blocking forms instead; EXEC and scripts set it while their commands run.
	blocked      *waiter
	denyBlocking bool
	watch        *watchConn // the socket under the guard; it notices a close while blocked
	intro        introState // MONITOR, CLIENT REPLY/NO-EVICT, a CLIENT PAUSE wait (client_control.go)

	// Pub/sub, keyspace notifications and client-side caching (pubsub.go, notify.go,
	// tracking.go).
	sub    subscriptions
	notes  notifyState
	trk    trackingState
	pushes bool      // the client may receive pushes: they join its replies before each command
	toWake []*Client // clients this burst pushed to, whose writers wake when it ends

	// Guarded by mu.
	mu         sync.Mutex
	pending    []byte
	busy       bool
	wakeQueued bool          // a client's burst will wake the writer when it ends (see push)
	wake       chan struct{} // signals the writer goroutine; nil until the first push
	closed     bool
	name       string
	libName    string
	libVer     string
	lastSeen   time.Time
	inflight   int       // pushes the writer goroutine took and is writing
	unsent     []byte    // pushes a non-blocking write left over: they go before anything else
	softSince  time.Time // when pending output first passed the soft limit (zero: below it)

	wmu sync.Mutex // serializes socket writes

	// Published by the connection goroutine for CLIENT LIST / INFO run by other clients.
	lastCmd atomic.Pointer[Command] // the command running or last run
	user    atomic.Pointer[aclUser] // the ACL user; set by the connection goroutine
	pubDB   atomic.Int32
	pubResp atomic.Int32
	killed  atomic.Bool // CLIENT KILL closed the socket: run nothing more

	created  time.Time
	addr     string
	laddr    string
	fd       int // the socket's file descriptor, -1 when unknown
	unix     bool
	loopback bool
}

func newClient(s *Server, rc redcon.Conn, gc *guardConn, id int64) *Client {
	c := &Client{
		s:       s,
		id:      id,
		rc:      rc,
		conn:    gc,
		resp:    2,
		txn:     s.eng.NewTxn(),
		created: time.Now(),
		addr:    rc.RemoteAddr(),
		fd:      socketFD(gc.raw()),
	}
	c.txn.DeferDurability(true) // endBurst waits for the log once per burst
	// As in Redis, a connection made while the default user needs no password is
	// authenticated: setting requirepass later does not lock out the clients connected.
	c.setDefaultUser()
	c.pubResp.Store(2)
	c.lastSeen = c.created
	c.x.Client = c
	c.watch = &watchConn{Conn: gc.Conn}
	gc.Conn = c.watch
	c.txn.SetOwner(c)
	c.notes.mark = -1
	c.notes.selfAt = -1
	if la := gc.LocalAddr(); la != nil {
		c.laddr = la.String()
	}
	if ta, ok := gc.RemoteAddr().(*net.TCPAddr); ok {
		c.loopback = ta.IP.IsLoopback()
	} else {
		c.loopback = true // unix sockets are local
		c.unix = true
	}
	gc.authd = func() bool { return !c.authRequired() }
	return c
}

// beginBurst marks the connection goroutine busy: pushes now wait behind its replies.
func (c *Client) beginBurst() {
	c.s.stats.reads.Add(1)
	c.clock = time.Now()
	c.mu.Lock()
	c.busy = true
	c.lastSeen = c.clock
	c.mu.Unlock()
}

// endBurst writes the burst's replies, then the pushes that arrived meanwhile, in one go.
// The burst's commands committed without waiting for the write-ahead log (see
// engine.Txn.DeferDurability); their log write is awaited here, once, before any reply
// acknowledges them. If the log failed, nothing is acknowledged: the connection closes.
func (c *Client) endBurst() {
	if c.txn.Unsynced() {
		if err := c.txn.WaitDurable(); err != nil {
			c.s.log.Error("write-ahead log failed; closing the client unanswered", "err", err)
			c.out = c.out[:0]
			c.closing = true
		}
	}
	c.intro.flushes++
	if c.closing {
		c.s.retire(c) // gone before its last reply can be read
	}
	c.wmu.Lock()
	c.mu.Lock()
	unsent, pushes := c.unsent, c.pending
	c.unsent, c.pending = nil, nil
	c.busy = false
	c.lastSeen = c.clock // the end of the burst's last command
	c.mu.Unlock()
	var err error
	switch {
	case len(pushes) == 0 && len(unsent) == 0:
		if len(c.out) > 0 {
			c.s.stats.writes.Add(1)
			_, err = c.conn.Write(c.out)
		}
	default:
		c.s.stats.writes.Add(1)
		bufs := net.Buffers{unsent, c.out, pushes}
		_, err = bufs.WriteTo(c.conn.Conn)
	}
	c.wmu.Unlock()
	c.wakeQueuedWriters()
	if cap(c.out) > 1<<20 {
		c.out = nil // do not keep a huge reply's buffer for the life of the connection
	} else {
		c.out = c.out[:0]
	}
	if err != nil || c.closing {
		c.rc.Close()
	}
}

// Push queues out-of-band bytes for the client (any goroutine). It reports false when the
// client is gone, or has just been closed for passing its output buffer limit.
func (c *Client) Push(msg []byte) bool { return c.push(0, msg, nil) }

// push queues head (unless 0) and body as one message. A client whose queued output passes
// its class's client-output-buffer-limit is closed instead of growing.
//
// waker is the client whose command produces the message (nil for the server's own work).
// While waker is inside a read burst, c's writer is woken when that burst ends, as Redis
// writes its clients' buffers once per event-loop turn: a pipeline of PUBLISH reaches each
// subscriber in one write instead of one per message. Call it on waker's goroutine.
func (c *Client) push(head byte, body []byte, waker *Client) bool {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return false
	}
	if head != 0 {
		c.pending = append(c.pending, head)
	}
	c.pending = append(c.pending, body...)
	if c.overOutputLimit() {
		c.closed = true
		c.pending = nil
		c.mu.Unlock()
		c.s.log.Warn("client closed for overcoming its output buffer limit", "id", c.id, "addr", c.addr)
		c.kill()
		return false
	}
	switch {
	case c.busy || c.wakeQueued:
	case waker != nil && waker != c && waker.inBurst:
		c.wakeQueued = true
		waker.toWake = append(waker.toWake, c)
	default:
		c.wakeWriter()
	}
	c.mu.Unlock()
	return true
}

// wakeWriter gets the writer goroutine to send the pending pushes (c.mu held).
func (c *Client) wakeWriter() {
	if c.wake == nil {
		c.wake = make(chan struct{}, 1)
		go c.writer(c.wake)
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// drainPending moves the pushes queued so far into the replies (connection goroutine), so
// that they precede the reply of the command about to run, as they would in Redis.
func (c *Client) drainPending() {
	c.mu.Lock()
	if len(c.pending) > 0 {
		c.out = append(c.out, c.pending...)
		c.pending = c.pending[:0]
	}
	c.mu.Unlock()
}

// PendingBytes is the size of queued, unsent pushes (for output buffer limits).
func (c *Client) PendingBytes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending) + len(c.unsent) + c.inflight
}

// takePushes takes the bytes to write next, the leftover of a non-blocking write first, and
// counts them in flight (c.mu held; the caller holds wmu).
func (c *Client) takePushes() []byte {
	data := c.unsent
	if len(data) == 0 {
		data = c.pending
	} else {
		data = append(data, c.pending...)
	}
	c.unsent, c.pending = nil, nil
	c.inflight = len(data)
	return data
}

// writeChunk is the most the writer hands the socket at once.
const writeChunk = 64 << 10

// writer sends pushes that arrive while the connection goroutine is idle.
func (c *Client) writer(wake chan struct{}) {
	for range wake {
		c.wmu.Lock()
		c.mu.Lock()
		if c.busy {
			// The connection goroutine is in a burst: it may have moved earlier pushes into
			// its replies (drainPending), and it writes what is pending after them when the
			// burst ends. Writing the pending pushes now would put later messages first.
			c.mu.Unlock()
			c.wmu.Unlock()
			continue
		}
		data := c.takePushes()
		closed := c.closed
		c.mu.Unlock()
		// Written in pieces, so that inflight counts only what the socket has not taken
		// yet, as Redis's output buffer does.
		for len(data) > 0 && !closed {
			n := min(len(data), writeChunk)
			if _, err := c.conn.Conn.Write(data[:n]); err != nil {
				c.conn.Close()
				break
			}
			data = data[n:]
			c.mu.Lock()
			c.inflight = len(data)
			c.mu.Unlock()
		}
		c.mu.Lock()
		c.inflight = 0
		c.mu.Unlock()
		c.wmu.Unlock()
	}
}

// socketFD returns a connection's file descriptor (-1 when it has none).
func socketFD(nc net.Conn) int {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return -1
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return -1
	}
	fd := -1
	raw.Control(func(f uintptr) { fd = int(f) })
	return fd
}

// publish makes the connection's database and protocol visible to CLIENT LIST run by other
// clients (called by the connection goroutine after each command).
func (c *Client) publish() {
	if int32(c.db) != c.pubDB.Load() {
		c.pubDB.Store(int32(c.db))
	}
	if int32(c.resp) != c.pubResp.Load() {
		c.pubResp.Store(int32(c.resp))
	}
}

// kill closes the client's connection from another goroutine (CLIENT KILL, timeout). Closing
// the socket is what its goroutine notices: a read in progress fails, a command in progress
// finishes (under its locks, committing its batch) and its reply write fails; commands
// already read but not started are skipped.
func (c *Client) kill() {
	if c.killed.Swap(true) {
		return
	}
	c.conn.raw().Close()
	c.s.mu.Lock()
	delete(c.s.clients, c.id)
	c.s.mu.Unlock()
}

// detach marks the client closed and forgets its watched keys; called once, on the
// connection's goroutine, when the connection ends.
func (c *Client) detach() {
	c.discardTransaction()
	c.mu.Lock()
	c.closed = true
	if c.wake != nil {
		close(c.wake)
		c.wake = nil
	}
	c.mu.Unlock()
}

// Ctx is what a command handler works with: the client (whose methods write replies), the
// command's arguments, and the engine Txn holding the command's locks (nil for commands that
// do not touch data).
type Ctx struct {
	*Client
	Cmd  *Command
	Args [][]byte
	Txn  *engine.Txn
}

// Arg returns argument i as a string (allocates; use for options and names, not values).
func (x *Ctx) Arg(i int) string { return string(x.Args[i]) }
