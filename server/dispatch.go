package server

import (
	"errors"
	"runtime/debug"
	"time"

	"github.com/tidwall/redcon"

	"github.com/stratadb/strata/engine"
)

// serveRESP is redcon's handler: one call per parsed command. Replies are written when the
// burst (the commands of one read) has been answered.
func (s *Server) serveRESP(rc redcon.Conn, rcmd redcon.Command) {
	c, ok := rc.Context().(*Client)
	if !ok {
		return
	}
	if !c.inBurst {
		c.inBurst = true
		c.beginBurst()
	}
	if c.killed.Load() {
		// CLIENT KILL: the socket is closed, nothing more runs. End the burst so that whatever
		// it holds for the burst (the drain lock) is released.
		c.inBurst = false
		c.wakeQueuedWriters()
		return
	}
	if c.pushes {
		// Pushes that arrived so far (messages, invalidations, monitor lines) precede this
		// command's reply.
		c.drainPending()
	}
	mark, flushes := c.markReply()
	s.execute(c, rcmd.Args)
	c.applyReplyMode(mark, flushes)
	if c.closing || len(rc.PeekPipeline()) == 0 {
		c.inBurst = false
		c.endBurst()
	}
}

// execute runs one command as Redis's processCommand does, in its order of checks: the
// command exists, its arity, enable-debug-command, authentication, no_multi, the ACL,
// memory, what a monitor may run, CLIENT PAUSE; then it runs, or is queued between MULTI
// and EXEC. A check that refuses a command answers through s.reject, which also marks an
// open transaction so that its EXEC answers EXECABORT.
func (s *Server) execute(c *Client, args [][]byte) {
	cmd := s.lookup(c, args)
	if cmd == nil {
		c.flagTransaction()
		return
	}
	if !cmd.arityOK(len(args)) {
		s.reject(c, cmd, engine.ErrWrongArity(cmd.Name))
		return
	}
	if cmd.Has(FlagProtected) && !s.debugAllowedFor(c) {
		s.reject(c, cmd, engine.ErrDebugNotAllowed)
		return
	}
	if !cmd.Has(FlagNoAuth) && c.authRequired() {
		s.reject(c, cmd, engine.ErrNoAuth)
		return
	}
	if c.tx.multi && cmd.Has(FlagNoMulti) {
		s.reject(c, cmd, engine.ErrNotInMulti)
		return
	}
	aclCtx := aclCtxTopLevel
	if c.tx.multi {
		aclCtx = aclCtxMulti
	}
	if err := s.checkPermission(c, cmd, args, aclCtx); err != nil {
		s.reject(c, cmd, err)
		return
	}
	if cmd.Has(FlagDenyOOM) && s.eng.OutOfMemory() {
		// The hot tier is full and maxmemory-policy forbids making room: refuse what may grow
		// the data set, as Redis does.
		s.reject(c, cmd, engine.ErrOOM)
		return
	}
	if monitorRefuses(c, cmd) {
		s.reject(c, cmd, engine.ErrReplicaKeyspace)
		return
	}
	if s.refuseWhileLoading(cmd) {
		s.reject(c, cmd, engine.ErrLoading)
		return
	}
	if s.pauseBlocks(c, cmd) && !s.waitUnpaused(c, cmd) {
		return // the client went away while paused
	}
	if c.tx.multi && !cmd.runsInMulti() {
		c.enqueue(cmd, args)
		return
	}
	if err := s.scripts.busyError(); err != nil && !cmd.Has(FlagAllow) {
		// A script has run past busy-reply-threshold: only allow_busy commands run.
		cmd.stats.rejected.Add(1)
		c.Error(err)
		return
	}
	if c.resp == 2 && c.sub.active() && !allowedWhenSubscribed(cmd) {
		cmd.stats.rejected.Add(1)
		c.Error(engine.ErrSubscribedContext(cmd.Name))
		return
	}
	s.call(c, cmd, args)
}

// lookup resolves args[0] (and args[1] for containers) to a command, writing Redis's error
// when there is none.
func (s *Server) lookup(c *Client, args [][]byte) *Command {
	c.lower = appendLower(c.lower[:0], args[0])
	cmd := s.cmds.Lookup(string(c.lower))
	if cmd == nil {
		c.Error(engine.ErrUnknownCommand(string(args[0]), args[1:]))
		return nil
	}
	if cmd.Subs == nil || len(args) == 1 {
		return cmd
	}
	c.lower = appendLower(c.lower[:0], args[1])
	sub := cmd.Subs[string(c.lower)]
	if sub == nil {
		c.Error(engine.ErrUnknownSubcommand(string(args[1]), string(args[0])))
	}
	return sub
}

func appendLower(dst, b []byte) []byte {
	for _, ch := range b {
		if ch >= 'A' && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		dst = append(dst, ch)
	}
	return dst
}

// call runs a command that passed the checks: it takes the command's locks, runs the handler
// and commits its writes as one batch. The time it accounts is the handler's and the
// commit's, not the wait for the locks.
func (s *Server) call(c *Client, cmd *Command, args [][]byte) {
	x := &c.x
	x.Cmd, x.Args = cmd, args
	mark := len(c.out)
	c.notes.reset()
	c.notes.mark = mark
	var start time.Time
	if cmd.Lock == LockNone || cmd.Lock == LockScript {
		start = time.Now()
		s.runHandler(x, mark)
		s.feedMonitors(c, cmd, args)
	} else {
		t := c.txn
		mode := cmd.lockMode()
		if needsGlobalLatch(cmd, args) {
			mode = engine.LockGlobal // SORT's BY/GET patterns read keys outside its key positions
		}
		t.Begin(c.db, mode)
		cmd.addKeys(t, args)
		if err := t.Lock(); err != nil {
			// The engine closed under us: the server is shutting down.
			c.notes.mark = -1
			c.closing = true
			return
		}
		start = t.Clock()
		x.Txn = t
		ok := s.runHandler(x, mark)
		// Monitors see the command while it holds its key locks: in the order commands on
		// one key ran.
		s.feedMonitors(c, cmd, args)
		if ok {
			x.notifyReadMisses(mark)
			if c.trk.mode.Load() != nil {
				s.trackRead(c, cmd, args)
			}
			// Clients blocked on the keys this command changed are served before it commits;
			// keyspace notifications and invalidations go out as it commits (Committed hook).
			if err := s.commitServing(t, mode == engine.LockGlobal); err != nil {
				s.log.Error("commit failed", "command", cmd.Name, "err", err)
				c.out = c.out[:mark]
				c.Error(misconf(err))
			}
		}
		x.Txn = nil
	}
	c.notes.mark = -1
	c.afterCommand(cmd)
	d := time.Since(start)
	blocked := c.blocked != nil
	c.clock = start.Add(d) // the client's last activity (endBurst)
	s.account(c, cmd, args, d, mark, blocked)
	if blocked {
		s.waitBlocked(c) // the command blocked: wait, holding no lock, for its answer
		c.clock = time.Now()
		if !cmd.Has(FlagSkipSlow) {
			// As Redis, a command that blocked is logged once answered, with the time it ran.
			s.slowlog.push(c, redactedArgs(cmd, args), d)
		}
	}
}

// CallInTxn runs cmd inside t, a Txn the caller has already locked with every key cmd needs
// (EXEC, scripts): the reply goes to c's output and the caller commits t, with commitServing
// so that clients blocked on the keys t changed are served. It reports false when the handler
// panicked (the reply is then an error and t has been aborted). A blocking command does not
// block here: it answers as its non-blocking form, as in Redis.
func (s *Server) CallInTxn(c *Client, t *engine.Txn, cmd *Command, args [][]byte) bool {
	start := time.Now()
	x := &c.x
	saved := *x
	x.Cmd, x.Args, x.Txn = cmd, args, nil
	if cmd.Lock != LockNone {
		x.Txn = t
	}
	mark := len(c.out)
	deny, nested := c.denyBlocking, c.notes.nested
	c.denyBlocking, c.notes.nested = true, true
	ok := s.runHandler(x, mark)
	c.denyBlocking, c.notes.nested = deny, nested
	if ok && cmd.Lock != LockNone {
		x.notifyReadMisses(-1)
		if c.trk.mode.Load() != nil {
			s.trackRead(c, cmd, args)
		}
	}
	*x = saved
	s.feedMonitors(c, cmd, args)
	s.account(c, cmd, args, time.Since(start), mark, false)
	return ok
}

// lockMode is the engine lock mode the command's table entry asks for.
func (cmd *Command) lockMode() engine.LockMode {
	switch {
	case cmd.Lock == LockGlobal || cmd.Lock == LockScript:
		return engine.LockGlobal
	case cmd.writesKeys():
		return engine.LockWrite
	}
	return engine.LockRead
}

// addKeys adds cmd's keys in args to t's lock plan.
func (cmd *Command) addKeys(t *engine.Txn, args [][]byte) {
	if cmd.Keys != nil {
		for _, i := range cmd.Keys(args) {
			t.AddKey(args[i])
		}
		return
	}
	cmd.eachKey(args, func(i int) { t.AddKey(args[i]) })
}

// account records what one command did: calls, time, failures, the client's last command,
// the latency monitor's command events, and (unless it blocked, which is accounted once it
// is answered) the slow log and the command's latency histogram.
func (s *Server) account(c *Client, cmd *Command, args [][]byte, d time.Duration, mark int, blocked bool) {
	if c.lastCmd.Load() != cmd {
		c.lastCmd.Store(cmd)
	}
	cmd.stats.calls.Add(1)
	cmd.stats.usec.Add(d.Microseconds())
	if len(c.out) > mark && c.out[mark] == '-' {
		cmd.stats.failed.Add(1) // the command replied with an error (failed_calls)
	}
	s.stats.commands.Add(1)
	c.publish()
	event := "command"
	if cmd.Has(FlagFast) {
		event = "fast-command"
	}
	s.latency.addIfNeeded(event, d)
	if blocked {
		return
	}
	if !cmd.Has(FlagSkipSlow) {
		s.slowlog.push(c, redactedArgs(cmd, args), d)
	}
	if s.latencyTracking.Load() {
		cmd.stats.histogram().record(d)
	}
}

// runHandler runs the handler and turns a panic into an error reply (and an aborted Txn with
// its locks released), so that a bug in one command cannot take the server down or leave a
// stripe locked. It reports whether the handler returned normally.
func (s *Server) runHandler(x *Ctx, mark int) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("command panicked", "command", x.Cmd.Name, "panic", r, "stack", string(debug.Stack()))
			if x.Txn != nil {
				x.Txn.Abort()
			}
			x.out = x.out[:mark]
			x.Error(errors.New("ERR internal error while running '" + x.Cmd.Name + "'"))
			ok = false
		}
	}()
	x.Cmd.Handler(x)
	return true
}
