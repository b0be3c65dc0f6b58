package server

import (
	"fmt"
	"sync/atomic"

	"github.com/stratadb/strata/engine"
)

// Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH, as Redis 7.0 (multi.c).
//
// Between MULTI and EXEC, dispatch queues each command that passes its checks (existence,
// arity, authentication, no_multi, and whatever dispatch checks later) and answers +QUEUED; a
// command refused by a check gets its error and marks the transaction, whose EXEC then
// answers EXECABORT. EXEC, DISCARD, MULTI, WATCH, QUIT and RESET run at once.
//
// EXEC is atomic as in Redis, without stopping the server: it locks the union of every queued
// command's keys and of the watched keys (the global latch when a queued command needs it),
// checks WATCH under those locks, runs each command through CallInTxn on one engine.Txn, and
// commits one batch. Errors of single commands are elements of its reply and do not stop the
// rest; nothing is committed until the end, so the batch is on disk all or nothing.

func registerTransactionCommands(t *Table) {
	t.add(
		&Command{Name: "multi", Arity: 1, Flags: "noscript loading stale fast allow_busy", ACL: "@transaction",
			Lock: LockNone, Handler: cmdMulti,
			Group: "transactions", Since: "1.2.0", Summary: "Mark the start of a transaction block", Complexity: "O(1)"},
		&Command{Name: "exec", Arity: 1, Flags: "noscript loading stale skip_slowlog", ACL: "@transaction",
			Lock: LockNone, Handler: cmdExec,
			Group: "transactions", Since: "1.2.0", Summary: "Execute all commands issued after MULTI", Complexity: "Depends on commands in the transaction"},
		&Command{Name: "discard", Arity: 1, Flags: "noscript loading stale fast allow_busy", ACL: "@transaction",
			Lock: LockNone, Handler: cmdDiscard,
			Group: "transactions", Since: "2.0.0", Summary: "Discard all commands issued after MULTI", Complexity: "O(N), when N is the number of queued commands"},
		&Command{Name: "watch", Arity: -2, Flags: "noscript loading stale fast allow_busy", First: 1, Last: -1, Step: 1, ACL: "@transaction",
			Handler: cmdWatch,
			Group:   "transactions", Since: "2.2.0", Summary: "Watch the given keys to determine execution of the MULTI/EXEC block", Complexity: "O(1) for every key."},
		&Command{Name: "unwatch", Arity: 1, Flags: "noscript loading stale fast allow_busy", ACL: "@transaction",
			Lock: LockNone, Handler: cmdUnwatch,
			Group: "transactions", Since: "2.2.0", Summary: "Forget about all watched keys", Complexity: "O(1)"},
	)
}

// txState is a connection's transaction: owned by its goroutine, except dirty, which other
// clients' changes set, and watched, which the WATCH registry guards.
type txState struct {
	multi   bool        // between MULTI and EXEC/DISCARD
	aborted bool        // a command was refused while queueing (Redis's CLIENT_DIRTY_EXEC)
	queue   []queuedCmd // the commands to run at EXEC, arguments copied

	dirty   atomic.Bool   // a watched key changed (CLIENT_DIRTY_CAS)
	watched []*watchEntry // guarded by watchRegistry.mu
	checks  []watchedKey  // EXEC's scratch

	// published is 1 + the number of queued commands while in MULTI (until EXEC has run
	// them), 0 otherwise: CLIENT LIST's multi field, read by other clients.
	published atomic.Int64
}

// txFlags are CLIENT LIST's flags for the transaction: x in MULTI, d once a watched key changed.
func (c *Client) txFlags() string {
	flags := ""
	if c.tx.published.Load() > 0 {
		flags += "x"
	}
	if c.tx.dirty.Load() {
		flags += "d"
	}
	return flags
}

// queuedCmd is one command queued by MULTI. Its arguments are copied into one buffer:
// redcon's argument slices alias its read buffer, which the next read reuses.
type queuedCmd struct {
	cmd  *Command
	args [][]byte
}

// runsInMulti says whether a command runs at once between MULTI and EXEC rather than being
// queued, as Redis's processCommand decides.
func (cmd *Command) runsInMulti() bool {
	switch cmd.Name {
	case "exec", "discard", "multi", "watch", "quit", "reset":
		return true
	}
	return false
}

// enqueue copies a command that passed dispatch's checks into the transaction. As Redis, a
// transaction already doomed (an error while queueing, a watched key changed) keeps nothing.
func (c *Client) enqueue(cmd *Command, args [][]byte) {
	c.out = append(c.out, "+QUEUED\r\n"...)
	if c.tx.aborted || c.tx.dirty.Load() {
		return
	}
	n := 0
	for _, a := range args {
		n += len(a)
	}
	buf := make([]byte, 0, n)
	copied := make([][]byte, len(args))
	for i, a := range args {
		buf = append(buf, a...)
		copied[i] = buf[len(buf)-len(a) : len(buf) : len(buf)]
	}
	c.tx.queue = append(c.tx.queue, queuedCmd{cmd: cmd, args: copied})
	c.tx.published.Store(int64(len(c.tx.queue)) + 1)
}

// flagTransaction marks the transaction (if one is open) so that EXEC answers EXECABORT: a
// command was refused while queueing.
func (c *Client) flagTransaction() {
	if c.tx.multi {
		c.tx.aborted = true
	}
}

// discardTransaction ends the transaction and forgets the watched keys (DISCARD, EXEC,
// RESET, a closed connection).
func (c *Client) discardTransaction() {
	c.resetQueue()
	c.tx.multi, c.tx.aborted = false, false
	c.tx.published.Store(0)
	c.s.watch.unwatchAll(c)
}

// reject answers a command refused by dispatch's checks with err and marks the transaction.
// A refused EXEC discards the transaction and says why (Redis's execCommandAbort).
func (s *Server) reject(c *Client, cmd *Command, err error) {
	cmd.stats.rejected.Add(1)
	c.flagTransaction()
	if cmd.Name == "exec" {
		c.discardTransaction()
		c.Error(engine.ErrExecAbortBecause(err))
		return
	}
	c.Error(err)
}

func cmdMulti(x *Ctx) {
	if x.tx.multi {
		x.Error(engine.ErrMultiNested)
		return
	}
	x.tx.multi = true
	x.tx.published.Store(1)
	x.OK()
}

func cmdDiscard(x *Ctx) {
	if !x.tx.multi {
		x.Error(engine.ErrDiscardNoMulti)
		return
	}
	x.discardTransaction()
	x.OK()
}

func cmdUnwatch(x *Ctx) {
	x.s.watch.unwatchAll(x.Client)
	x.OK()
}

// cmdWatch runs holding read locks on its keys, so that a change to one is wholly before the
// registration (no change to the watch) or reported to it.
func cmdWatch(x *Ctx) {
	if x.tx.multi {
		x.Error(engine.ErrWatchInMulti)
		return
	}
	keys := x.Args[1:]
	expired := make([]bool, len(keys))
	for i, k := range keys {
		exp, err := x.Txn.KeyExpired(x.db, k)
		if err != nil {
			x.Error(err)
			return
		}
		expired[i] = exp
	}
	x.s.watch.watch(x.Client, x.db, keys, expired)
	x.OK()
}

// execLockMode is the lock an EXEC takes for its queued commands: the global latch when one
// needs it (FLUSHALL, SWAPDB ...) or may touch keys it cannot declare beforehand (scripts and
// functions, flagged no_mandatory_keys), write locks when one writes, read locks otherwise.
func execLockMode(queue []queuedCmd) engine.LockMode {
	mode := engine.LockRead
	for _, q := range queue {
		switch {
		case q.cmd.Lock == LockGlobal || q.cmd.Has(FlagNoMandatoryKeys) || needsGlobalLatch(q.cmd, q.args):
			return engine.LockGlobal
		case q.cmd.Lock != LockNone && q.cmd.writesKeys():
			mode = engine.LockWrite
		}
	}
	return mode
}

func cmdExec(x *Ctx) {
	c, s := x.Client, x.s
	if !c.tx.multi {
		x.Error(engine.ErrExecNoMulti)
		return
	}
	if c.tx.aborted {
		c.discardTransaction()
		x.Error(engine.ErrExecAbort)
		return
	}
	queue := c.tx.queue
	defer func() {
		c.resetQueue()
		c.tx.published.Store(0)
	}()

	// Lock the union of the queued commands' keys and the watched keys. The watched list
	// changes only on this goroutine, so it can be read before locking.
	t := c.txn
	t.Begin(c.db, execLockMode(queue))
	for _, q := range queue {
		if q.cmd.Lock != LockNone {
			q.cmd.addKeys(t, q.args)
		}
	}
	watched := s.watch.keysOf(c, c.tx.checks[:0])
	for _, w := range watched {
		t.AddKey(w.key)
	}
	if err := t.Lock(); err != nil {
		c.discardTransaction()
		c.closing = true // the engine closed: the server is shutting down
		return
	}
	x.Txn = t // a panic in EXEC itself releases the locks (runHandler aborts x.Txn)

	// WATCH, under the locks: no change to a watched key can be under way, and every change
	// that committed before has set the dirty flag.
	dirty := s.watch.isDirty(c)
	for _, w := range watched {
		if dirty {
			break
		}
		if !w.expired { // a key expired already at WATCH time does not count
			exp, err := t.KeyExpired(w.db, w.key)
			dirty = err != nil || exp
		}
	}
	clear(watched)
	c.tx.checks = watched[:0]
	// The transaction ends here: the watches go before the commands run (its own writes
	// must not dirty it), as in Redis.
	s.watch.unwatchAll(c)
	c.tx.multi, c.tx.aborted = false, false
	if dirty {
		t.Abort()
		x.Txn = nil
		x.NullArray()
		return
	}

	mark := len(c.out)
	x.ArrayLen(len(queue))
	c.denyBlocking = true
	for _, q := range queue {
		// Rules may have changed since the command was queued: Redis checks again and answers
		// NOPERM in that command's slot, running the others.
		if err := s.checkPermission(c, q.cmd, q.args, aclCtxExec); err != nil {
			c.Error(err)
			continue
		}
		if !s.CallInTxn(c, t, q.cmd, q.args) {
			// A handler panicked (a bug); the Txn was aborted with it, so none of the
			// transaction's writes happened: say so instead of the earlier replies.
			c.denyBlocking = false
			x.Txn = nil
			c.out = c.out[:mark]
			c.Error(engine.ErrExecInternal(q.cmd.Name))
			return
		}
		if c.db != t.DB() {
			t.SelectDB(c.db) // SELECT inside the transaction
		}
	}
	c.denyBlocking = false
	x.Txn = nil
	// Commit through the blocking framework: clients blocked on keys the transaction made
	// ready are served in the same batch, oldest first, as Redis serves them after EXEC.
	if err := s.commitServing(t, t.Exclusive()); err != nil {
		s.log.Error("commit failed", "command", "exec", "err", err)
		c.out = c.out[:mark]
		c.Error(fmt.Errorf("MISCONF Errors writing to the data directory: %v", err))
	}
}

// resetQueue empties the queue, keeping a small buffer for the next transaction.
func (c *Client) resetQueue() {
	clear(c.tx.queue)
	if cap(c.tx.queue) > 1024 {
		c.tx.queue = nil
	}
	c.tx.queue = c.tx.queue[:0]
}
