package server

import (
	"bytes"
	"errors"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/server/lua"
)

// How scripts run (EVAL and FCALL alike).
//
// Redis runs one script at a time and nothing else meanwhile. Strata keeps the promise that
// a script is atomic without stopping the server: a script runs inside one engine Txn,
// first holding write locks on the keys it declares (KEYS), so clients touching other keys
// carry on. Each redis.call runs through CallInTxn as a pseudo-client whose replies are
// parsed back into Lua values. When a command would touch a key the script did not declare
// (or the whole keyspace: KEYS, SCAN, FLUSHALL; or publish a message, which cannot be taken
// back), the run is interrupted, its Txn aborted (nothing was committed, nothing sent) and
// the script runs again from scratch under the global latch, where nothing else runs. The
// Txn commits once, at the end, so the script's writes reach disk and other clients as one
// batch. A script that fails half-way keeps the writes it made, as in Redis.
//
// A script that runs longer than busy-reply-threshold makes the server "busy" as Redis is:
// other clients' commands get -BUSY except the allow_busy ones (SCRIPT KILL, FUNCTION KILL,
// SHUTDOWN ...). SCRIPT KILL interrupts a busy script that has not written; one that has is
// UNKILLABLE. Shutdown interrupts busy scripts; their Txns are aborted.
//
// Scripts run on a pool of runners, each with its own Lua states: scripts on disjoint keys
// run in parallel. What a script can observe across runs (math.random's sequence, cjson's
// settings) is shared by the pool through lua.Env, as one Lua state shares it in Redis.

// scriptState is the server's scripting: the EVAL script cache, the function libraries and
// the runners.
type scriptState struct {
	s         *Server
	rand      *lua.Rand
	evalEnv   *lua.Env
	funcEnv   *lua.Env
	threshold atomic.Int64 // busy-reply-threshold, in milliseconds

	cacheMu sync.RWMutex
	cache   map[string]*lua.Script // by lowercase SHA1

	funcs functionRegistry

	mu       sync.Mutex
	changed  *sync.Cond // a run ended or became busy
	idle     []*scriptRunner
	running  map[*scriptRunner]struct{}
	evalGen  uint64 // bumped by SCRIPT FLUSH: runners make new EVAL Lua states
	closing  bool
	busyEval atomic.Int32
	busyFunc atomic.Int32
}

// Causes a run is interrupted with, besides lua.ErrKilled.
var (
	errScriptRetry    = errors.New("script touched an undeclared key: run again under the global latch")
	errScriptShutdown = errors.New("script interrupted by shutdown")
)

func newScriptState(s *Server) *scriptState {
	st := &scriptState{
		s:       s,
		rand:    lua.NewRand(),
		cache:   map[string]*lua.Script{},
		running: map[*scriptRunner]struct{}{},
	}
	st.changed = sync.NewCond(&st.mu)
	st.evalEnv = st.newEnv(lua.KindEval)
	st.funcEnv = st.newEnv(lua.KindFunction)
	st.funcs.libs = map[string]*lua.Library{}
	st.funcs.fns = map[string]*lua.Function{}
	return st
}

func (st *scriptState) newEnv(kind lua.Kind) *lua.Env {
	env := lua.NewEnv(kind, st.rand, Version)
	env.Log = func(level int, msg string) {
		switch level {
		case lua.LogWarning:
			st.s.log.Warn(msg, "source", "redis.log")
		case lua.LogNotice:
			st.s.log.Info(msg, "source", "redis.log")
		default:
			st.s.log.Debug(msg, "source", "redis.log")
		}
	}
	return env
}

// busyError is the reply to commands while a script is busy, or nil.
func (st *scriptState) busyError() error {
	if st.busyEval.Load() > 0 {
		return engine.ErrBusyScript
	}
	if st.busyFunc.Load() > 0 {
		return engine.ErrBusyFunction
	}
	return nil
}

// scriptRunner runs one script at a time: its pseudo-client and Lua states.
type scriptRunner struct {
	st      *scriptState
	pc      *Client
	evalVM  *lua.VM
	evalGen uint64
	funcVM  *lua.VM
	timer   *time.Timer
	host    scriptHost
	dirty   atomic.Bool // the running script called a write command

	// Guarded by st.mu.
	active bool
	busy   bool
	seq    uint64 // which run of this runner is active
	kind   lua.Kind
	name   string
	caller [][]byte // the command running the script (FUNCTION STATS)
	start  time.Time
	limit  time.Duration
	vm     *lua.VM
}

// newPseudoClient is a client without a connection: the one a script's commands run as (its
// own output buffer, database and protocol), or the owner of a Txn that serves blocked
// clients on no client's behalf.
func newPseudoClient(s *Server) *Client {
	c := &Client{s: s, resp: 2, authed: true, created: time.Now(), fd: -1}
	c.pubResp.Store(2)
	c.x.Client = c
	c.notes.mark, c.notes.selfAt = -1, -1
	return c
}

// DenyBlocking says whether blocking commands (BLPOP, XREAD BLOCK ...) must answer at once
// instead of blocking, as Redis's CLIENT_DENY_BLOCKING: true for a script's pseudo-client,
// the one client without a connection.
func (c *Client) DenyBlocking() bool { return c.rc == nil }

// maxIdleRunners bounds the runners kept between scripts (each holds Lua states).
func maxIdleRunners() int { return max(8, 4*runtime.GOMAXPROCS(0)) }

// acquire takes a runner for a script of kind named name, run by the command args.
func (st *scriptState) acquire(kind lua.Kind, name string, args [][]byte) *scriptRunner {
	limit := time.Duration(st.threshold.Load()) * time.Millisecond
	st.mu.Lock()
	var r *scriptRunner
	if n := len(st.idle); n > 0 {
		r = st.idle[n-1]
		st.idle = st.idle[:n-1]
	} else {
		r = &scriptRunner{st: st, pc: newPseudoClient(st.s)}
		r.timer = time.AfterFunc(time.Hour, func() { st.timerFired(r) })
		r.timer.Stop()
	}
	if kind == lua.KindEval && (r.evalVM == nil || r.evalGen != st.evalGen) {
		if r.evalVM != nil {
			r.evalVM.Close()
		}
		r.evalVM, r.evalGen = lua.NewVM(st.evalEnv), st.evalGen
	}
	if kind == lua.KindFunction && r.funcVM == nil {
		r.funcVM = lua.NewVM(st.funcEnv)
	}
	r.vm = r.evalVM
	if kind == lua.KindFunction {
		r.vm = r.funcVM
	}
	r.active, r.busy, r.kind, r.name, r.caller = true, false, kind, name, args
	r.seq++
	r.start, r.limit = time.Now(), limit
	r.dirty.Store(false)
	st.running[r] = struct{}{}
	st.mu.Unlock()
	if limit > 0 {
		r.timer.Reset(limit)
	}
	return r
}

// release ends a runner's run and keeps it for the next script.
func (st *scriptState) release(r *scriptRunner) {
	r.timer.Stop()
	r.pc.out = r.pc.out[:0]
	if cap(r.pc.out) > 1<<20 {
		r.pc.out = nil
	}
	r.host = scriptHost{lower: r.host.lower[:0]}
	st.mu.Lock()
	delete(st.running, r)
	if r.busy {
		st.setBusy(r, false)
	}
	r.active, r.caller, r.vm = false, nil, nil
	if len(st.idle) < maxIdleRunners() {
		st.idle = append(st.idle, r)
	} else {
		st.closeRunner(r)
	}
	st.changed.Broadcast()
	st.mu.Unlock()
}

func (st *scriptState) closeRunner(r *scriptRunner) {
	if r.evalVM != nil {
		r.evalVM.Close()
	}
	if r.funcVM != nil {
		r.funcVM.Close()
	}
}

// setBusy records a runner entering or leaving the busy state (st.mu held).
func (st *scriptState) setBusy(r *scriptRunner, busy bool) {
	r.busy = busy
	d := int32(1)
	if !busy {
		d = -1
	}
	if r.kind == lua.KindEval {
		st.busyEval.Add(d)
	} else {
		st.busyFunc.Add(d)
	}
}

// timerFired runs when a script may have passed busy-reply-threshold.
func (st *scriptState) timerFired(r *scriptRunner) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if !r.active || r.busy || r.limit <= 0 {
		return
	}
	elapsed := time.Since(r.start)
	if elapsed < r.limit {
		return // a late timer of an earlier run; this run's timer is armed
	}
	st.setBusy(r, true)
	kill := "SCRIPT KILL"
	if r.kind == lua.KindFunction {
		kill = "FUNCTION KILL"
	}
	st.s.log.Warn("Slow script detected: still in execution after " + strconv.FormatInt(elapsed.Milliseconds(), 10) +
		" milliseconds. You can try killing the script using the " + kill + " command.")
	if st.closing {
		r.vm.Interrupt(errScriptShutdown)
	}
	st.changed.Broadcast()
}

// shutdown interrupts busy scripts (the server is stopping; their Txns are aborted) and
// makes scripts that become busy later stop at once.
func (st *scriptState) shutdown() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.closing = true
	for r := range st.running {
		if r.busy {
			r.vm.Interrupt(errScriptShutdown)
		}
	}
}

// kill is SCRIPT KILL (eval) and FUNCTION KILL. As in Redis, a script can be killed once it
// is busy: scripts running when KILL arrives are waited for until they are busy or done (in
// Redis the KILL would only be read then).
func (st *scriptState) kill(eval bool) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	type run struct {
		r   *scriptRunner
		seq uint64
	}
	var runs []run
	for r := range st.running {
		runs = append(runs, run{r, r.seq})
	}
	same := func(x run) bool { return x.r.active && x.r.seq == x.seq }
	for {
		waiting := false
		for _, x := range runs {
			if same(x) && !x.r.busy {
				waiting = true
			}
		}
		if !waiting {
			break
		}
		st.changed.Wait()
	}
	var firstErr error
	killed := 0
	for _, x := range runs {
		if !same(x) || !x.r.busy {
			continue
		}
		var err error
		switch {
		case x.r.dirty.Load():
			err = engine.ErrUnkillable
		case eval && x.r.kind != lua.KindEval:
			err = engine.ErrBusyFunction
		case !eval && x.r.kind == lua.KindEval:
			err = engine.ErrBusyScript
		default:
			x.r.vm.Interrupt(lua.ErrKilled)
			killed++
		}
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	switch {
	case killed > 0:
		return nil
	case firstErr != nil:
		return firstErr
	}
	return engine.ErrNotBusy
}

// busyFunction describes a busy function for FUNCTION STATS: its name, the command that
// runs it and how long it has run; ok is false when no function is busy. evalBusy reports
// a busy EVAL script instead.
func (st *scriptState) busyFunction() (name string, command [][]byte, ms int64, ok, evalBusy bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for r := range st.running {
		if !r.busy {
			continue
		}
		if r.kind == lua.KindEval {
			return "", nil, 0, false, true
		}
		return r.name, r.caller, time.Since(r.start).Milliseconds(), true, false
	}
	return "", nil, 0, false, false
}

// scriptHost runs a script's redis.call commands inside its Txn.
type scriptHost struct {
	s        *Server
	r        *scriptRunner
	caller   *Client // whose user's ACL the script's commands answer to
	t        *engine.Txn
	db       int // the caller's database, where every run starts
	keys     [][]byte
	keySet   map[string]struct{} // the declared keys, when there are many
	global   bool                // the Txn holds the global latch
	readOnly bool
	retry    bool
	lower    []byte
}

var undeclaredReply = []byte("-" + engine.ErrUndeclaredKey.Error())

// nullReply is what redis.call sees when its command was not run because the script must
// run again from scratch; the script is interrupted before it can use it.
var nullReply = []byte("$-1\r\n")

func (h *scriptHost) Command(args [][]byte, resp int) ([]byte, string) {
	s := h.s
	cmd := h.lookup(args)
	refuse := func(msg string) ([]byte, string) {
		// Counted here, as Redis counts a rejected call; the script's own error reply
		// that may follow is not counted again.
		s.stats.countError("ERR " + msg)
		if cmd != nil {
			cmd.stats.rejected.Add(1)
		}
		return nil, msg
	}
	switch {
	case cmd == nil:
		return refuse("Unknown Redis command called from script")
	case !cmd.arityOK(len(args)):
		return refuse("Wrong number of args calling Redis command from script")
	case cmd.Has(FlagNoscript):
		return refuse("This Redis command is not allowed from script")
	}
	// Redis's order: noscript, then the ACL, then read-only scripts.
	if err := s.checkPermission(h.caller, cmd, args, aclCtxScript); err != nil {
		return refuse(strings.TrimPrefix(err.Error(), "ERR "))
	}
	switch {
	case cmd.Has(FlagWrite) && h.readOnly:
		return refuse("Write commands are not allowed from read-only scripts.")
	}
	if !h.global && h.needsGlobal(cmd, args) {
		h.restart()
		return nullReply, ""
	}
	if cmd.Has(FlagWrite) {
		h.r.dirty.Store(true)
	}
	pc := h.r.pc
	pc.resp = resp
	pc.out = pc.out[:0]
	if pc.db != h.t.DB() {
		h.t.SelectDB(pc.db)
	}
	s.CallInTxn(pc, h.t, cmd, args)
	if pc.db != h.t.DB() {
		h.t.SelectDB(pc.db) // SELECT inside the script
	}
	if !h.global && bytes.HasPrefix(pc.out, undeclaredReply) {
		// A key the command's key spec does not name (SORT ... BY): the engine refused it.
		h.restart()
		return nullReply, ""
	}
	h.caller.notes.adopt(&pc.notes)
	return pc.out, ""
}

// adopt moves the keyspace events o holds to n, placed where n's nested events go (before
// the reply of the command that runs them): a script's commands report into its pseudo-
// client's notes, and their events belong to the caller, whose Txn publishes them once it
// commits, as Redis's subscribers get them after the script's reply.
func (n *notifyState) adopt(o *notifyState) {
	for _, e := range o.events {
		start := len(n.keys)
		n.keys = append(n.keys, o.keys[e.start:e.end]...)
		e.start, e.end, e.at = start, len(n.keys), -1
		n.events = append(n.events, e)
	}
	o.reset()
}

// restart interrupts the run: it will run again under the global latch.
func (h *scriptHost) restart() {
	h.retry = true
	h.r.vm.Interrupt(errScriptRetry)
}

// lookup finds the command args name, as Redis's lookupCommand: a container's subcommand
// when there is a second argument.
func (h *scriptHost) lookup(args [][]byte) *Command {
	h.lower = appendLower(h.lower[:0], args[0])
	cmd := h.s.cmds.Lookup(string(h.lower))
	if cmd == nil || cmd.Subs == nil || len(args) == 1 {
		return cmd
	}
	h.lower = appendLower(h.lower[:0], args[1])
	return cmd.Subs[string(h.lower)]
}

// needsGlobal says whether cmd may not run in a Txn that locks only the declared keys.
func (h *scriptHost) needsGlobal(cmd *Command, args [][]byte) bool {
	switch cmd.Lock {
	case LockGlobal, LockScript:
		return true
	case LockNone:
		// Commands that touch no data run anywhere, except publishing: a message cannot be
		// taken back if the script has to run again.
		return cmd.Has(FlagPubsub)
	}
	if cmd.First == 0 && cmd.Keys == nil && !cmd.specKeys {
		return true // the whole keyspace: DBSIZE, KEYS, SCAN, RANDOMKEY ...
	}
	undeclared := false
	cmd.eachKeyPosition(args, func(i int) {
		if !h.declared(args[i]) {
			undeclared = true
		}
	})
	return undeclared
}

func (h *scriptHost) declared(key []byte) bool {
	if h.keySet != nil {
		_, ok := h.keySet[string(key)]
		return ok
	}
	for _, k := range h.keys {
		if bytes.Equal(k, key) {
			return true
		}
	}
	return false
}

// eachKeyPosition calls fn with each key position of cmd in args.
func (cmd *Command) eachKeyPosition(args [][]byte, fn func(int)) {
	if cmd.Keys != nil {
		for _, i := range cmd.Keys(args) {
			fn(i)
		}
		return
	}
	cmd.eachKey(args, fn)
}

func (h *scriptHost) CheckACL(args [][]byte) (found, allowed bool) {
	cmd := h.lookup(args)
	if cmd == nil {
		return false, false
	}
	st := h.caller.user.Load().state.Load()
	if st.unrestricted {
		return true, true
	}
	reason, _ := h.s.acl.permission(st, cmd, args)
	return true, reason == aclOK
}

// maxLockedScriptKeys is the most declared keys a script locks one by one; with more it runs
// under the global latch from the start.
const maxLockedScriptKeys = 512

// runScript runs a script (run calls the VM) for the command in x: keys are its declared
// keys, readOnly refuses write commands. It writes the script's reply to x's client.
func (s *Server) runScript(x *Ctx, kind lua.Kind, name string, keys, argv [][]byte, readOnly bool,
	run func(vm *lua.VM, inv *lua.Invocation) lua.Outcome) {
	st := s.scripts
	// EVAL and FCALL are skip_monitor: as in Redis, they show themselves to monitors before
	// the script runs, so their line precedes the "[0 lua]" lines of the commands it runs.
	s.showToMonitors(x.Client, x.Cmd, x.Args)
	r := st.acquire(kind, name, x.Args)
	defer st.release(r)
	c := x.Client
	h := &r.host
	*h = scriptHost{s: s, r: r, caller: c, db: c.db, keys: keys, readOnly: readOnly, lower: h.lower}
	if len(keys) > 8 {
		h.keySet = make(map[string]struct{}, len(keys))
		for _, k := range keys {
			h.keySet[string(k)] = struct{}{}
		}
	}
	inv := &lua.Invocation{Host: h, Name: name, Keys: keys, Args: argv}
	vm := r.vm
	r.pc.db = c.db
	if x.Txn != nil {
		// Inside a transaction: its Txn holds the global latch (lockMode of scripts).
		h.t, h.global = x.Txn, true
		out := run(vm, inv)
		s.writeScriptReply(c, vm, &out)
		return
	}
	t := c.txn
	if len(keys) > maxLockedScriptKeys {
		// So many keys lock most stripes anyway: take the latch at once.
		h.global = true
		t.Begin(c.db, engine.LockGlobal)
	} else {
		t.Begin(c.db, engine.LockWrite)
		for _, k := range keys {
			t.AddKey(k)
		}
	}
	if err := t.Lock(); err != nil {
		c.closing = true // the engine closed: the server is shutting down
		return
	}
	h.t = t
	events := len(c.notes.events)
	out := run(vm, inv)
	if h.retry {
		// The first attempt's events are dropped with its writes: the run under the latch
		// reports its own.
		c.notes.events = c.notes.events[:events]
		r.pc.notes.reset()
		t.Abort()
		vm.RewindRandom()
		r.dirty.Store(false)
		r.pc.db = c.db
		h.retry, h.global = false, true
		t.Begin(c.db, engine.LockGlobal)
		if err := t.Lock(); err != nil {
			c.closing = true
			return
		}
		out = run(vm, inv)
	}
	if errors.Is(out.Interrupted, errScriptShutdown) {
		t.Abort()
		c.Error(errors.New("ERR Script killed by shutdown"))
		return
	}
	mark := len(c.out)
	s.writeScriptReply(c, vm, &out)
	// Clients blocked on keys the script made ready are served as it commits, as Redis serves
	// them once the script has run.
	if err := s.commitServing(t, h.global); err != nil {
		s.log.Error("commit failed", "script", name, "err", err)
		c.out = c.out[:mark]
		c.Error(errors.New("MISCONF Errors writing to the data directory: " + err.Error()))
	}
}

// writeScriptReply writes a script's result or error to c.
func (s *Server) writeScriptReply(c *Client, vm *lua.VM, out *lua.Outcome) {
	if out.Err != "" || out.Interrupted != nil {
		msg := out.Err
		if msg == "" {
			msg = "ERR Script interrupted"
		}
		scriptReply{c}.ErrorReply(msg, out.CountError)
		return
	}
	vm.WriteReply(scriptReply{c}, out)
}

// scriptReply writes a script's reply in the client's protocol (lua.ReplyWriter).
type scriptReply struct{ c *Client }

func (w scriptReply) ArrayLen(n int)            { w.c.ArrayLen(n) }
func (w scriptReply) MapLen(n int)              { w.c.MapLen(n) }
func (w scriptReply) SetLen(n int)              { w.c.SetLen(n) }
func (w scriptReply) Bulk(b []byte)             { w.c.Bulk(b) }
func (w scriptReply) Int(n int64)               { w.c.Int(n) }
func (w scriptReply) Double(f float64)          { w.c.Double(f) }
func (w scriptReply) Bool(b bool)               { w.c.Bool(b) }
func (w scriptReply) Null()                     { w.c.Null() }
func (w scriptReply) Verbatim(format, s string) { w.c.Verbatim(format, s) }

func (w scriptReply) Status(s string) {
	w.c.out = append(w.c.out, '+')
	w.c.out = append(w.c.out, s...)
	w.c.out = append(w.c.out, '\r', '\n')
}

func (w scriptReply) ErrorReply(msg string, count bool) {
	if count {
		w.c.s.stats.countError(msg)
	}
	w.c.out = append(w.c.out, '-')
	w.c.out = append(w.c.out, msg...)
	w.c.out = append(w.c.out, '\r', '\n')
}

func (w scriptReply) BigNumber(s string) {
	if w.c.resp != 3 {
		w.c.BulkString(s)
		return
	}
	w.c.out = append(w.c.out, '(')
	w.c.out = append(w.c.out, s...)
	w.c.out = append(w.c.out, '\r', '\n')
}
