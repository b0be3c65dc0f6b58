package server

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stratadb/strata/engine"
)

// CLIENT PAUSE, UNPAUSE, REPLY and NO-EVICT, and the per-client state introspection keeps
// (MONITOR's included).

// introState is a client's introspection and control state.
type introState struct {
	monitor atomic.Bool // MONITOR ran: the client receives every command (CLIENT LIST: O)
	noEvict atomic.Bool // CLIENT NO-EVICT ON (CLIENT LIST: e)
	paused  atomic.Bool // waiting for a CLIENT PAUSE to end (CLIENT LIST: b)
	muted   atomic.Bool // its replies are dropped now (REPLY OFF or SKIP): monitor lines too

	// Owned by the connection goroutine.
	replyOff      bool // CLIENT REPLY OFF
	replySkip     bool // this command's reply is dropped
	replySkipNext bool // CLIENT REPLY SKIP ran: the next command's reply is dropped
	flushes       int  // endBurst calls: a reply mark taken before a flush is 0 after it

}

// resetIntrospection is RESET's part: the client stops monitoring, is no longer protected
// from eviction, and gets its replies again.
func (c *Client) resetIntrospection() {
	if c.intro.monitor.Swap(false) {
		c.s.monitors.remove(c)
	}
	c.intro.noEvict.Store(false)
	c.intro.replyOff, c.intro.replySkipNext = false, false
	c.intro.muted.Store(false)
}

// markReply remembers where the next command's reply starts (see applyReplyMode).
func (c *Client) markReply() (mark, flushes int) { return len(c.out), c.intro.flushes }

// applyReplyMode drops the reply just written when the client asked for none (CLIENT REPLY
// OFF, or SKIP for this command), then moves SKIP on to the following command, as Redis's
// resetClient does after every command, refused ones included.
func (c *Client) applyReplyMode(mark, flushes int) {
	st := &c.intro
	if st.replyOff || st.replySkip {
		if st.flushes != flushes {
			mark = 0 // the replies before a blocking or paused command went out meanwhile
		}
		if mark < len(c.out) {
			c.out = c.out[:mark]
		}
	}
	st.replySkip, st.replySkipNext = st.replySkipNext, false
	if muted := st.replyOff || st.replySkip; muted != st.muted.Load() {
		st.muted.Store(muted)
	}
}

func cmdClientReply(x *Ctx) {
	st := &x.intro
	switch strings.ToLower(x.Arg(2)) {
	case "on":
		st.replyOff, st.replySkip = false, false
		x.OK()
	case "off":
		st.replyOff = true
	case "skip":
		if !st.replyOff {
			st.replySkipNext = true
		}
	default:
		x.Error(engine.ErrSyntax)
	}
}

func cmdClientNoEvict(x *Ctx) {
	switch strings.ToLower(x.Arg(2)) {
	case "on":
		x.intro.noEvict.Store(true)
	case "off":
		x.intro.noEvict.Store(false)
	default:
		x.Error(engine.ErrSyntax)
		return
	}
	x.OK()
}

// ---- CLIENT PAUSE ----

// A pause stops clients' commands until it ends: all of them (ALL), or those that may write
// or replicate (WRITE: commands flagged write or may_replicate, and EXEC when it would run
// one; as in Redis 7.0, a write is paused even when MULTI would only queue it). A paused
// client waits without holding any lock or the shutdown drain and without polling, and its
// connection is watched so that a disconnect ends the wait; the command then runs as if it
// had just arrived. Monitors are never paused (Redis exempts replicas). A pause in force is
// only ever extended: a second CLIENT PAUSE keeps the later end and the stronger mode, as in
// Redis; CLIENT UNPAUSE ends it. Active expiry is suspended while clients are paused, so the
// data set does not change by itself meanwhile.

type pauseKind int32

const (
	pauseNone pauseKind = iota
	pauseWrite
	pauseAll
)

// pauseState is the server's client pause.
type pauseState struct {
	kind atomic.Int32 // pauseKind; read by every command

	mu      sync.Mutex
	end     time.Time
	changed chan struct{} // closed (and replaced) when the pause ends or changes
	timer   *time.Timer
	gen     uint64 // bumped by every change: a timer of an older pause does nothing
}

// pauseClients starts or extends the pause until end.
func (s *Server) pauseClients(kind pauseKind, end time.Time) {
	p := &s.pause
	p.mu.Lock()
	defer p.mu.Unlock()
	cur := pauseKind(p.kind.Load())
	if cur != pauseNone {
		kind = max(kind, cur)
		if p.end.After(end) {
			end = p.end
		}
	}
	if !end.After(time.Now()) {
		if cur == pauseNone {
			return // over before it began
		}
		s.unpauseLocked()
		return
	}
	p.end = end
	p.kind.Store(int32(kind))
	p.gen++
	p.signalLocked()
	if p.timer != nil {
		p.timer.Stop()
	}
	gen := p.gen
	p.timer = time.AfterFunc(time.Until(end), func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.gen == gen {
			s.unpauseLocked()
		}
	})
	s.eng.PauseActiveExpire(true)
}

// unpauseClients ends the pause (CLIENT UNPAUSE); paused clients run their commands.
func (s *Server) unpauseClients() {
	s.pause.mu.Lock()
	defer s.pause.mu.Unlock()
	s.unpauseLocked()
}

func (s *Server) unpauseLocked() {
	p := &s.pause
	if p.kind.Load() == int32(pauseNone) {
		return
	}
	p.kind.Store(int32(pauseNone))
	p.gen++
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	p.signalLocked()
	s.eng.PauseActiveExpire(false)
}

func (p *pauseState) signalLocked() {
	if p.changed != nil {
		close(p.changed)
	}
	p.changed = make(chan struct{})
}

// pauseBlocks says whether the pause in force stops cmd from c.
func (s *Server) pauseBlocks(c *Client, cmd *Command) bool {
	switch pauseKind(s.pause.kind.Load()) {
	case pauseNone:
		return false
	case pauseAll:
		return !c.intro.monitor.Load()
	}
	if c.intro.monitor.Load() {
		return false
	}
	const writes = FlagWrite | FlagMayReplicate
	return cmd.Has(writes) || cmd.Name == "exec" && c.queuedFlags()&writes != 0
}

// waitUnpaused parks the connection goroutine while the pause stops cmd. It reports false
// when the client went away (or the server began shutting down) meanwhile: the command must
// not run.
func (s *Server) waitUnpaused(c *Client, cmd *Command) bool {
	c.endBurst() // the replies pipelined before the paused command go out now
	s.drain.RUnlock()
	defer s.drain.RLock()
	c.intro.paused.Store(true)
	defer c.intro.paused.Store(false)
	gone, stopWatching := c.watch.watch(s.lim.maxQuery.Load())
	defer c.beginBurst()
	defer stopWatching()
	for {
		s.pause.mu.Lock()
		changed := s.pause.changed
		s.pause.mu.Unlock()
		if !s.pauseBlocks(c, cmd) {
			return true
		}
		select {
		case <-changed:
		case <-gone:
			c.closing = true
			return false
		case <-s.stopping:
			c.closing = true
			return false
		}
	}
}

func cmdClientPause(x *Ctx) {
	if len(x.Args) > 4 {
		x.Error(engine.ErrSubcommandSyntax(x.Arg(1), "client"))
		return
	}
	kind := pauseAll
	if len(x.Args) == 4 {
		switch strings.ToLower(x.Arg(3)) {
		case "write":
			kind = pauseWrite
		case "all":
		default:
			x.Error(engine.ErrPauseMode)
			return
		}
	}
	ms, ok := engine.ParseInt(x.Args[2])
	if !ok {
		x.Error(engine.ErrTimeoutInteger)
		return
	}
	if ms < 0 {
		x.Error(engine.ErrTimeoutNeg)
		return
	}
	// As Redis 7.0 adds the timeout to the clock without an overflow check, a timeout that
	// overflows ends in the past: no pause.
	end := time.UnixMilli(time.Now().UnixMilli() + ms)
	x.s.pauseClients(kind, end)
	x.OK()
}

// clientControlCommands are CLIENT's subcommands defined here.
func clientControlCommands() []*Command {
	return []*Command{
		&Command{Name: "no-evict", Arity: 3, Flags: "admin noscript loading stale", ACL: "@connection", Lock: LockNone,
			Handler: cmdClientNoEvict,
			Since:   "7.0.0", Summary: "Set client eviction mode for the current connection", Complexity: "O(1)"},
		&Command{Name: "pause", Arity: -3, Flags: "admin noscript loading stale", ACL: "@connection", Lock: LockNone,
			Handler: cmdClientPause,
			Since:   "2.9.50", Summary: "Stop processing commands from clients for some time", Complexity: "O(1)"},
		&Command{Name: "reply", Arity: 3, Flags: "noscript loading stale", ACL: "@connection", Lock: LockNone,
			Handler: cmdClientReply,
			Since:   "3.2.0", Summary: "Instruct the server whether to reply to commands", Complexity: "O(1)"},
		&Command{Name: "unpause", Arity: 2, Flags: "admin noscript loading stale", ACL: "@connection", Lock: LockNone,
			Handler: func(x *Ctx) { x.s.unpauseClients(); x.OK() },
			Since:   "6.2.0", Summary: "Resume processing of clients that were paused",
			Complexity: "O(N) Where N is the number of paused clients"},
	}
}
