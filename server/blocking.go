package server

import (
	"errors"
	"math"
	"net"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stratadb/strata/encoding"
	"github.com/stratadb/strata/engine"
)

// Blocking commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, and the sorted-set pops once
// their engine functions exist) behave as in Redis 7.0.
//
// Blocking. A blocking command's handler runs like any command, under its key locks. When it
// finds nothing to pop it calls x.block(spec): the client is queued on each of its keys, in
// arrival order, while the command still holds those keys' locks, so no push can slip between
// "empty" and "queued". The handler returns, the dispatcher releases the locks, and then
// (waitBlocked) flushes the replies the client had pipelined before, and parks the connection
// goroutine on a channel: no lock, no latch, no polling. It wakes when it is served, when its
// timeout fires, when CLIENT UNBLOCK names it, or when its socket closes (a watcher keeps
// reading while it waits, see watchConn); in every case it leaves no trace in the queues.
//
// Serving. Every path that commits a client's write Txn calls commitServing instead of
// Txn.Commit: before the commit, still under the writer's key locks and in the writer's
// batch, it looks at the keys the Txn changed (in change order; Txn.ChangedKey) and, for each
// one that has waiters and now holds the type they wait for, runs the waiters' commands on
// their behalf, oldest first, until the key is empty or has no waiter left (serveKey). A
// served command's own writes (BLMOVE pushing onto its destination) are changes too, so the
// clients waiting there are served next, as Redis chains them. After the commit the replies
// are handed to the waiting goroutines. So elements pushed onto a key with waiters go to the
// oldest waiter, atomically with the push: no other command can see them in between.
//
// A served command that writes a key the round does not hold (BLMOVE's destination) needs
// that key's lock: the round takes it with Txn.TryLockKey, which never waits (so it cannot
// deadlock with commands locking in stripe order). When the lock is busy, the key is left for
// a follow-up round that runs right after the commit with the locks taken properly; it serves
// the same waiters in the same order, only a moment later.
//
// A waiter is claimed (taken out of every queue) before its command runs, and a claim always
// ends with a reply, so two rounds serving two keys of one waiter never both serve it.
//
// MULTI/EXEC and scripts. Their commands run through CallInTxn, which sets
// Client.denyBlocking, so that a blocking command answers as its non-blocking form (null when
// there is nothing) instead of blocking. They must commit their Txn with commitServing (global
// set when the Txn holds the global latch), once, after the last command: waiters are then
// served from the final state, in the order the block changed the keys, as Redis serves them
// after EXEC. Before locking, they must take the global latch when needsGlobalLatch says a
// queued command reads keys outside its key positions (SORT ... BY/GET).
//
// A blocked client holds no part of the shutdown drain lock (Shutdown does not wait for it;
// closing its connection wakes it) and is not closed by the idle timeout, as in Redis.
//
// Adding a blocking command (BZPOPMIN, BZPOPMAX, BZMPOP once the sorted-set engine's pops are
// in the tree): the handler parses the timeout with parseTimeout first, tries the pop, and
// when every key is empty calls x.block with typ encoding.TypeZSet, serve doing the pop on the
// ready key (returning the reply [key, member, score] or [key, [[member, score] ...]]), and
// denied writing the null array. Nothing else changes: serving, FIFO, timeouts, CLIENT
// UNBLOCK and disconnects are the framework's.

// replyFunc writes a reply to a client (the waiter's own, in its protocol).
type replyFunc func(c *Client)

func errorReply(err error) replyFunc { return func(c *Client) { c.Error(err) } }

// blockSpec is what a blocking command hands to x.block.
type blockSpec struct {
	keys     [][]byte      // the keys it waits on
	typ      encoding.Type // the type that makes one of them ready
	deadline time.Time     // zero: forever
	// also names the keys serve writes besides the ready key (BLMOVE's destination): the round
	// serving it must hold their locks too.
	also [][]byte
	// serve runs the command for the ready key (holding typ) in x.Txn, which holds the key's
	// lock (and also's) and works in the client's database, and returns the waiter's reply.
	// x is the serving context (servingCtx), not the waiter's: serve writes no reply to it,
	// and reports the keyspace events Redis fires when it serves the command with x.Notify
	// and x.NotifyDeleted. It must not block.
	serve func(x *Ctx, key []byte) replyFunc
	// denied writes the reply when blocking is not allowed (MULTI/EXEC, scripts): the
	// non-blocking form's null. A timeout (and CLIENT UNBLOCK ... TIMEOUT) is always answered
	// with the null array, as Redis answers every client blocked on keys.
	denied replyFunc
	// ready, when set, decides whether the waiter can be served on a key that changed, whatever
	// the key now holds (typ is then not checked): false leaves it queued in its place. Streams
	// use it: a change is not always an entry past the waiter's ID, and a deleted stream or
	// group must answer XREADGROUP's waiters with an error. t holds the key's lock.
	ready func(t *engine.Txn, key []byte) bool
}

type waitState uint8

const (
	waitQueued  waitState = iota // in the queues of its keys
	waitClaimed                  // taken by a serving round; its reply follows that round's commit
	waitDone                     // answered
)

// waiter is one blocked client.
type waiter struct {
	c    *Client
	db   int
	spec blockSpec

	state waitState     // guarded by blockRegistry.mu
	reply replyFunc     // set before done is closed
	done  chan struct{} // closed once the waiter is answered
}

// blockRegistry holds the blocked clients: a FIFO queue per (database, key), in arrival order.
type blockRegistry struct {
	mu       sync.Mutex
	queues   map[string][]*waiter
	byClient map[int64]*waiter
	queued   atomic.Int64 // waiters in the queues: writers skip everything while it is 0
}

func newBlockRegistry() *blockRegistry {
	return &blockRegistry{queues: map[string][]*waiter{}, byClient: map[int64]*waiter{}}
}

// queueKey names the queue of key in logical database db.
func queueKey(db int, key []byte) string {
	return strconv.Itoa(db) + ":" + string(key)
}

func (r *blockRegistry) add(w *waiter) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range w.spec.keys {
		qk := queueKey(w.db, k)
		r.queues[qk] = append(r.queues[qk], w)
	}
	r.byClient[w.c.id] = w
	r.queued.Add(1)
}

// unqueue takes w out of its queues. r.mu must be held.
func (r *blockRegistry) unqueue(w *waiter) {
	for _, k := range w.spec.keys {
		qk := queueKey(w.db, k)
		q := r.queues[qk]
		for i, o := range q {
			if o == w {
				q = append(q[:i], q[i+1:]...)
				break
			}
		}
		if len(q) == 0 {
			delete(r.queues, qk)
		} else {
			r.queues[qk] = q
		}
	}
	r.queued.Add(-1)
}

// finish answers w with reply, unless it is already answered. r.mu must be held.
func (r *blockRegistry) finish(w *waiter, reply replyFunc) {
	if w.state == waitDone {
		return
	}
	if w.state == waitQueued {
		r.unqueue(w)
	}
	w.state = waitDone
	w.reply = reply
	if r.byClient[w.c.id] == w {
		delete(r.byClient, w.c.id)
	}
	// Answered is not idle: the idle timeout must not close the client before its goroutine
	// wakes and writes the answer.
	w.c.mu.Lock()
	w.c.lastSeen = time.Now()
	w.c.mu.Unlock()
	close(w.done)
}

// cancel answers w with reply if it is still queued, then waits until w is answered (by a
// round that claimed it first, if so).
func (r *blockRegistry) cancel(w *waiter, reply replyFunc) {
	r.mu.Lock()
	if w.state == waitQueued {
		r.finish(w, reply)
	}
	r.mu.Unlock()
	<-w.done
}

// claimNext claims the oldest waiter on (db, key) that waits for type typ (or whose ready check
// passes), after taking the locks its command needs besides key in t. It returns nil when there is none, and deferred
// true when the oldest such waiter needs a lock t could not take.
func (r *blockRegistry) claimNext(t *engine.Txn, db int, key []byte, typ encoding.Type) (w *waiter, deferred bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, o := range r.queues[queueKey(db, key)] {
		if o.spec.ready != nil {
			if !o.spec.ready(t, key) {
				continue // nothing for it yet (a stream waiter before any entry past its ID)
			}
		} else if o.spec.typ != typ {
			continue // waiting for another type (a list waiter on a key that is now a zset)
		}
		for _, k := range o.spec.also {
			if !t.TryLockKey(k) {
				return nil, true
			}
		}
		r.unqueue(o)
		o.state = waitClaimed
		return o, false
	}
	return nil, false
}

func (r *blockRegistry) hasWaiters(db int, key []byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.queues[queueKey(db, key)]) > 0
}

// waitedKeys returns every key some client waits on.
func (r *blockRegistry) waitedKeys() []dbKey {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []dbKey
	seen := map[string]bool{}
	for _, q := range r.queues {
		w := q[0]
		for _, k := range w.spec.keys {
			if qk := queueKey(w.db, k); !seen[qk] && len(r.queues[qk]) > 0 {
				seen[qk] = true
				out = append(out, dbKey{db: w.db, key: k})
			}
		}
	}
	return out
}

// alsoKeys returns the extra keys the waiters on (db, key) would write when served.
func (r *blockRegistry) alsoKeys(db int, key []byte) [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out [][]byte
	for _, w := range r.queues[queueKey(db, key)] {
		out = append(out, w.spec.also...)
	}
	return out
}

type dbKey struct {
	db  int
	key []byte
}

// ---- the blocking side ----

// block parks the client on spec's keys: the handler calls it, under the command's key locks,
// when there is nothing to serve now; it writes no reply. The dispatcher waits once the
// command's locks are released. When blocking is denied (inside MULTI/EXEC or a script) the
// client gets spec.denied at once, as Redis answers there.
func (x *Ctx) block(spec blockSpec) {
	if x.denyBlocking {
		spec.denied(x.Client)
		return
	}
	spec.keys = uniqueKeys(spec.keys)
	w := &waiter{c: x.Client, db: x.db, spec: spec, done: make(chan struct{})}
	x.s.blocking.add(w)
	x.blocked = w
}

// uniqueKeys copies keys (arguments alias the connection's read buffer), without repeats.
func uniqueKeys(keys [][]byte) [][]byte {
	out := make([][]byte, 0, len(keys))
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		if !seen[string(k)] {
			seen[string(k)] = true
			out = append(out, clone(k))
		}
	}
	return out
}

// waitBlocked parks the connection goroutine of a client whose command blocked, holding no
// lock, until the client is answered; then it writes the answer as the command's reply.
func (s *Server) waitBlocked(c *Client) {
	w := c.blocked
	c.blocked = nil
	c.endBurst() // the replies pipelined before the blocking command go out now
	// A blocked client is not a command in flight: shutdown must not wait for it (closing the
	// connections is what wakes it).
	s.drain.RUnlock()
	defer s.drain.RLock()
	gone, stopWatching := c.watch.watch(s.lim.maxQuery.Load())
	var expired <-chan time.Time
	if !w.spec.deadline.IsZero() {
		timer := time.NewTimer(time.Until(w.spec.deadline))
		defer timer.Stop()
		expired = timer.C
	}
	disconnected := false
	select {
	case <-w.done:
	case <-expired:
		s.blocking.cancel(w, (*Client).NullArray)
	case <-gone:
		disconnected = true
		s.blocking.cancel(w, nil)
	}
	stopWatching()
	c.beginBurst()
	if disconnected {
		// Redis frees a client that closes while blocked: nothing it sent after the blocking
		// command runs.
		c.closing = true
		return
	}
	if w.reply != nil {
		w.reply(c)
	}
}

// UnblockClient is CLIENT UNBLOCK: it answers the blocked client id as a timeout would, or
// with the UNBLOCKED error when withError is set. It reports whether the client was blocked.
func (s *Server) UnblockClient(id int64, withError bool) bool {
	r := s.blocking
	r.mu.Lock()
	defer r.mu.Unlock()
	w := r.byClient[id]
	if w == nil || w.state != waitQueued {
		return false
	}
	reply := replyFunc((*Client).NullArray)
	if withError {
		reply = errorReply(engine.ErrUnblocked)
	}
	r.finish(w, reply)
	return true
}

// cmdClientUnblock is CLIENT UNBLOCK <id> [TIMEOUT|ERROR]: 1 when the client was blocked and
// is now answered (null, or the UNBLOCKED error), 0 otherwise. CLIENT's table entry (its
// arity is -3) names it.
func cmdClientUnblock(x *Ctx) {
	if len(x.Args) > 4 {
		x.Error(engine.ErrSubcommandSyntax(string(x.Args[1]), "client"))
		return
	}
	id, ok := engine.ParseInt(x.Args[2])
	if !ok {
		x.Error(engine.ErrNotInteger)
		return
	}
	withError := false
	if len(x.Args) == 4 {
		switch strings.ToLower(string(x.Args[3])) {
		case "timeout":
		case "error":
			withError = true
		default:
			x.Error(engine.ErrUnblockReason)
			return
		}
	}
	if x.s.UnblockClient(id, withError) {
		x.Int(1)
	} else {
		x.Int(0)
	}
}

// BlockedClients is the number of clients blocked on keys (INFO's blocked_clients).
func (s *Server) BlockedClients() int {
	s.blocking.mu.Lock()
	defer s.blocking.mu.Unlock()
	return len(s.blocking.byClient)
}

// BlockedClientIDs lists the ids of the clients blocked on keys.
func (s *Server) BlockedClientIDs() []int64 {
	s.blocking.mu.Lock()
	defer s.blocking.mu.Unlock()
	ids := make([]int64, 0, len(s.blocking.byClient))
	for id := range s.blocking.byClient {
		ids = append(ids, id)
	}
	return ids
}

// blockedCounts are INFO's blocked_clients and clients_in_timeout_table: the clients blocked
// on keys, and those of them with a timeout.
func (s *Server) blockedCounts() (blocked, withTimeout int) {
	s.blocking.mu.Lock()
	defer s.blocking.mu.Unlock()
	for _, w := range s.blocking.byClient {
		if !w.spec.deadline.IsZero() {
			withTimeout++
		}
	}
	return len(s.blocking.byClient), withTimeout
}

// IsBlocked says whether client id is blocked on keys (CLIENT LIST's "b" flag).
func (s *Server) IsBlocked(id int64) bool {
	if s.blocking == nil {
		return false // a server being built (or a bare one in a test) blocks nobody
	}
	s.blocking.mu.Lock()
	defer s.blocking.mu.Unlock()
	return s.blocking.byClient[id] != nil
}

// ---- the serving side ----

// serveRound is what one commit serves: the waiters claimed and answered in its Txn, and the
// keys left for a follow-up round.
type serveRound struct {
	served   []*waiter
	deferred []dbKey
}

// commitServing commits a client command's (or EXEC's, or a script's) Txn t after serving, in
// t, the clients blocked on the keys t changed; with global (t holds the global latch: SWAPDB,
// FLUSHALL ...) every key someone waits on is looked at. Then it hands the served clients
// their replies and runs follow-up rounds for keys it could not finish.
func (s *Server) commitServing(t *engine.Txn, global bool) error {
	if s.blocking.queued.Load() == 0 {
		return t.Commit()
	}
	var r serveRound
	var first []dbKey
	if global {
		first = s.blocking.waitedKeys()
	}
	s.serveIn(t, &r, first)
	err := t.Commit()
	if err == nil && len(r.served) > 0 {
		err = t.WaitDurable() // a served waiter's reply acknowledges the writes made for it
	}
	s.deliver(&r, err)
	if len(r.deferred) > 0 {
		s.serveDeferred(r.deferred)
	}
	return err
}

// serveIn serves the waiters on the keys in first, then on every key t changes (including the
// changes serving makes), in change order.
func (s *Server) serveIn(t *engine.Txn, r *serveRound, first []dbKey) {
	orig := t.DB()
	for _, k := range first {
		s.serveKey(t, r, k.db, k.key)
	}
	served := map[string]int{} // key -> change count when it was last served
	for i := 0; i < t.ChangedCount(); i++ {
		db, key := t.ChangedKey(i)
		qk := queueKey(db, key)
		if at, ok := served[qk]; ok && i < at {
			continue // this change was already seen when the key was served
		}
		s.serveKey(t, r, db, key)
		served[qk] = t.ChangedCount()
	}
	t.SelectDB(orig)
}

// serveKey serves the waiters on (db, key), oldest first, while the key holds what they wait
// for.
func (s *Server) serveKey(t *engine.Txn, r *serveRound, db int, key []byte) {
	if !s.blocking.hasWaiters(db, key) {
		return
	}
	t.SelectDB(db)
	sx := s.servingCtx(t)
	for {
		typ, err := t.TypeOf(key)
		if err != nil {
			return
		}
		// A key that holds nothing serves no waiter by type, but a waiter with its own ready
		// check may still be answered (XREADGROUP on a deleted stream).
		w, deferred := s.blocking.claimNext(t, db, key, typ)
		if deferred {
			r.deferred = append(r.deferred, dbKey{db: db, key: clone(key)})
			return
		}
		if w == nil {
			return
		}
		w.reply = s.runServe(w, sx, key)
		r.served = append(r.served, w)
	}
}

// runServe runs a waiter's command; a panic (a bug) answers that waiter with an error instead
// of taking the server down, as runHandler does for a command.
func (s *Server) runServe(w *waiter, sx *Ctx, key []byte) (reply replyFunc) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("serving a blocked client panicked", "panic", p, "stack", string(debug.Stack()))
			reply = errorReply(errors.New("ERR internal error while serving a blocked client"))
		}
	}()
	return w.spec.serve(sx, key)
}

// servingCtx is the context waiters' commands run in when t serves them: t, and the client
// that owns t (whose command, EXEC or script made the keys ready), so that the served
// commands' keyspace events join that client's and are published with t's commit, after its
// own, as Redis fires them when it serves the waiters right after the command. Placed at the
// end of the owner's replies, as Redis serves after the command has replied. A Txn owned by
// no client (a follow-up round) gets a pseudo-client to hold the events.
func (s *Server) servingCtx(t *engine.Txn) *Ctx {
	c, _ := t.Owner().(*Client)
	if c == nil {
		c = newPseudoClient(s)
		t.SetOwner(c)
	}
	return &Ctx{Client: c, Txn: t}
}

// deliver answers the waiters a round served, once its commit is done (with the commit's error
// if it failed: their pops did not happen either).
func (s *Server) deliver(r *serveRound, commitErr error) {
	if len(r.served) == 0 {
		return
	}
	s.blocking.mu.Lock()
	defer s.blocking.mu.Unlock()
	for _, w := range r.served {
		reply := w.reply
		if commitErr != nil {
			reply = errorReply(misconf(commitErr))
		}
		s.blocking.finish(w, reply)
	}
}

// serveDeferred runs follow-up rounds for keys whose waiters needed locks a round could not
// take: each takes the key's lock and its waiters' extra keys' locks in stripe order.
func (s *Server) serveDeferred(keys []dbKey) {
	t := s.eng.NewTxn()
	for len(keys) > 0 {
		k := keys[0]
		keys = keys[1:]
		t.Begin(k.db, engine.LockWrite)
		t.AddKey(k.key)
		for _, a := range s.blocking.alsoKeys(k.db, k.key) {
			t.AddKey(a)
		}
		if err := t.Lock(); err != nil {
			return // shutting down
		}
		var r serveRound
		s.serveIn(t, &r, []dbKey{k})
		err := t.Commit()
		if err != nil {
			s.log.Error("commit failed while serving blocked clients", "err", err)
		}
		s.deliver(&r, err)
		keys = append(keys, r.deferred...)
	}
}

func misconf(err error) error {
	return errors.New("MISCONF Errors writing to the data directory: " + err.Error())
}

// ---- timeouts ----

// parseTimeout parses a blocking command's timeout in seconds as Redis 7.0 does: a long double
// (strtold's syntax, so hex and inf parse too) times 1000, truncated to milliseconds. Zero
// (including anything under a millisecond) means forever; the result is the deadline.
func parseTimeout(b []byte) (time.Time, error) {
	f, ok := parseLongDouble(b)
	if !ok {
		return time.Time{}, engine.ErrTimeout
	}
	ms := f * 1000
	// Redis converts to a long long: out of range (inf included) comes out negative.
	if ms >= math.MaxInt64 || ms <= math.MinInt64 {
		return time.Time{}, engine.ErrTimeoutNeg
	}
	n := int64(ms)
	if n < 0 {
		return time.Time{}, engine.ErrTimeoutNeg
	}
	if n == 0 {
		return time.Time{}, nil
	}
	now := time.Now()
	if n > math.MaxInt64/int64(time.Millisecond)-now.UnixMilli() {
		return time.Time{}, nil // beyond anything a clock will reach: forever
	}
	return now.Add(time.Duration(n) * time.Millisecond), nil
}

// parseLongDouble parses b as Redis's string2ld (strtold, whole string, no spaces, no nan).
func parseLongDouble(b []byte) (float64, bool) {
	s := string(b)
	if s == "" || isCSpace(s[0]) || isCSpace(s[len(s)-1]) || strings.ContainsAny(s, "_\x00") {
		return 0, false
	}
	body := strings.TrimLeft(s, "+-")
	if len(body) > 1 && body[0] == '0' && (body[1] == 'x' || body[1] == 'X') && !strings.ContainsAny(body, "pP") {
		s += "p0" // C accepts hex floats without a binary exponent; Go wants one
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
			return f, true // a long double holds what a double cannot; out of range either way
		}
		return 0, false
	}
	if math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

func isCSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// ---- noticing a disconnect while blocked ----

// watchConn sits between the socket and the guard. Normally it passes reads through. While
// its client is blocked the connection goroutine reads nothing, so watch keeps reading in the
// background: a closed socket is noticed at once (Redis notices it too, and frees the client),
// and bytes that arrive meanwhile are kept and handed on afterwards, as Redis keeps them in the
// query buffer.
type watchConn struct {
	net.Conn
	// Owned by the connection goroutine, or by the watching goroutine while it runs.
	stash    []byte
	err      error
	stopping atomic.Bool
}

func (w *watchConn) Read(p []byte) (int, error) {
	if len(w.stash) > 0 {
		n := copy(p, w.stash)
		w.stash = w.stash[n:]
		if len(w.stash) == 0 {
			w.stash = nil
		}
		return n, nil
	}
	if w.err != nil {
		return 0, w.err
	}
	return w.Conn.Read(p)
}

// watch reads in the background until stop is called; gone is closed if the connection fails
// first. At most limit bytes are kept; past that, watching stops.
func (w *watchConn) watch(limit int64) (gone <-chan struct{}, stop func()) {
	goneCh := make(chan struct{})
	finished := make(chan struct{})
	w.stopping.Store(false)
	go func() {
		defer close(finished)
		buf := make([]byte, 4096)
		for int64(len(w.stash)) < limit {
			n, err := w.Conn.Read(buf)
			w.stash = append(w.stash, buf[:n]...)
			if err != nil {
				var ne net.Error
				if w.stopping.Load() && errors.As(err, &ne) && ne.Timeout() {
					return // stop's deadline, not the client
				}
				w.err = err
				close(goneCh)
				return
			}
		}
	}()
	return goneCh, func() {
		w.stopping.Store(true)
		w.Conn.SetReadDeadline(time.Unix(1, 0))
		<-finished
		w.Conn.SetReadDeadline(time.Time{})
	}
}
