package server

import (
	"net"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/stratadb/strata/conf"
	"github.com/stratadb/strata/engine"
)

// Pub/sub: the server's registry of subscriptions and the delivery of messages.
//
// The registry maps each channel, pattern and shard channel to its subscribers. Publishing
// holds the registry's lock while it queues the message to every subscriber (Client.push
// only appends to a buffer, it never waits for a socket), so all subscribers see concurrent
// publications in one order, as they would from Redis's single thread, and each publisher's
// messages in the order it published them.
//
// A message for the client that is publishing it (a RESP3 client subscribed to its own
// channel, or to the keyspace events of its own writes) goes straight into its replies, where
// Redis would put it: before the reply of the command that caused it.
//
// Subscription state on the client is owned by its connection goroutine; the counts are
// atomics, read by CLIENT LIST, INFO and the idle-timeout check of other goroutines.

// Kinds of subscription.
const (
	subChannel = iota
	subPattern
	subShard
	numSubKinds
)

// subKindNames are the replies' names of each kind: subscribing, unsubscribing, delivering.
var subKindNames = [numSubKinds]struct{ sub, unsub, message string }{
	{"subscribe", "unsubscribe", "message"},
	{"psubscribe", "punsubscribe", "pmessage"},
	{"ssubscribe", "sunsubscribe", "smessage"},
}

// pubsubRegistry is the server's subscriptions.
type pubsubRegistry struct {
	mu    sync.Mutex
	names [numSubKinds]map[string]*subscribers
	count [numSubKinds]atomic.Int64 // len(names[kind]), readable without mu
	buf   []byte                    // scratch for one message, under mu
}

// subscribers of one name, in no particular order; idx finds a client's place in list.
type subscribers struct {
	list []*Client
	idx  map[*Client]int
}

func (ps *pubsubRegistry) init() {
	for k := range ps.names {
		ps.names[k] = map[string]*subscribers{}
	}
}

// add registers c under name.
func (ps *pubsubRegistry) add(kind int, name string, c *Client) {
	ps.mu.Lock()
	subs := ps.names[kind][name]
	if subs == nil {
		subs = &subscribers{idx: map[*Client]int{}}
		ps.names[kind][name] = subs
		ps.count[kind].Add(1)
	}
	if _, ok := subs.idx[c]; !ok {
		subs.idx[c] = len(subs.list)
		subs.list = append(subs.list, c)
	}
	ps.mu.Unlock()
}

// remove unregisters c from name.
func (ps *pubsubRegistry) remove(kind int, name string, c *Client) {
	ps.mu.Lock()
	ps.removeLocked(kind, name, c)
	ps.mu.Unlock()
}

func (ps *pubsubRegistry) removeLocked(kind int, name string, c *Client) {
	subs := ps.names[kind][name]
	if subs == nil {
		return
	}
	i, ok := subs.idx[c]
	if !ok {
		return
	}
	last := len(subs.list) - 1
	subs.list[i] = subs.list[last]
	subs.idx[subs.list[i]] = i
	subs.list[last] = nil
	subs.list = subs.list[:last]
	delete(subs.idx, c)
	if len(subs.list) == 0 {
		delete(ps.names[kind], name)
		ps.count[kind].Add(-1)
	}
}

// numSub is the number of subscribers of name.
func (ps *pubsubRegistry) numSub(kind int, name string) int {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if subs := ps.names[kind][name]; subs != nil {
		return len(subs.list)
	}
	return 0
}

// matching returns the names of kind with subscribers that match pattern (all when nil).
func (ps *pubsubRegistry) matching(kind int, pattern []byte) []string {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	var out []string
	for name := range ps.names[kind] {
		if pattern == nil || engine.GlobMatch(pattern, []byte(name), false) {
			out = append(out, name)
		}
	}
	return out
}

// hasListeners says whether a message to a channel of kind could reach anyone.
func (ps *pubsubRegistry) hasListeners(kind int) bool {
	if kind == subShard {
		return ps.count[subShard].Load() > 0
	}
	return ps.count[subChannel].Load() > 0 || ps.count[subPattern].Load() > 0
}

// publish delivers msg on channel (kind subChannel, reaching pattern subscribers too, or
// subShard) and returns the number of clients that received it. from is the client running
// the command that publishes (nil for the server's own work); a message for from goes into
// its replies: at their end, or where its notification state says when atMark (see
// notifyState).
func (s *Server) publish(from *Client, kind int, channel, msg []byte, atMark bool) int {
	ps := &s.ps
	if !ps.hasListeners(kind) {
		return 0
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	n := 0
	if subs := ps.names[kind][string(channel)]; subs != nil {
		ps.buf = appendMessage(ps.buf[:0], subKindNames[kind].message, nil, channel, msg)
		for _, c := range subs.list {
			c.deliver(from, ps.buf, atMark)
			n++
		}
	}
	if kind == subChannel {
		for pat, subs := range ps.names[subPattern] {
			if !engine.GlobMatch([]byte(pat), channel, false) {
				continue
			}
			ps.buf = appendMessage(ps.buf[:0], "pmessage", []byte(pat), channel, msg)
			for _, c := range subs.list {
				c.deliver(from, ps.buf, atMark)
				n++
			}
		}
	}
	return n
}

// appendMessage appends a pub/sub message without its first byte ('*' in RESP2, '>' in RESP3),
// which deliver adds for each subscriber's protocol.
func appendMessage(dst []byte, kind string, pattern, channel, msg []byte) []byte {
	n := 3
	if pattern != nil {
		n = 4
	}
	dst = strconv.AppendInt(dst, int64(n), 10)
	dst = append(dst, '\r', '\n')
	dst = appendBulk(dst, []byte(kind))
	if pattern != nil {
		dst = appendBulk(dst, pattern)
	}
	dst = appendBulk(dst, channel)
	return appendBulk(dst, msg)
}

func appendBulk(dst, b []byte) []byte {
	dst = append(dst, '$')
	dst = strconv.AppendInt(dst, int64(len(b)), 10)
	dst = append(dst, '\r', '\n')
	dst = append(dst, b...)
	return append(dst, '\r', '\n')
}

// deliver sends body (a push without its type byte) to c in c's protocol: into the replies
// when c is the client running the command (from), queued as a push otherwise.
func (c *Client) deliver(from *Client, body []byte, atMark bool) {
	if c == from {
		head := byte('*')
		if c.resp == 3 {
			head = '>'
		}
		if atMark {
			c.insertSelf(head, body)
		} else {
			c.out = append(c.out, head)
			c.out = append(c.out, body...)
		}
		return
	}
	head := byte('*')
	if c.pubResp.Load() == 3 {
		head = '>'
	}
	c.push(head, body, from)
}

// insertSelf puts head and body into the client's replies where its notification state says
// (see notifyState) and moves that point past them, so that several messages keep their
// order. Connection goroutine only.
func (c *Client) insertSelf(head byte, body []byte) {
	at := c.notes.selfAt
	if at < 0 {
		c.out = append(c.out, head)
		c.out = append(c.out, body...)
		return
	}
	at = min(at, len(c.out))
	n := 1 + len(body)
	c.out = append(c.out, make([]byte, n)...)
	copy(c.out[at+n:], c.out[at:len(c.out)-n])
	c.out[at] = head
	copy(c.out[at+1:], body)
	c.notes.selfAt = at + n
	c.notes.shift += n
}

// subscriptions are one client's channels, patterns and shard channels. The sets belong to
// the connection goroutine; the counts are read by others.
type subscriptions struct {
	sets  [numSubKinds]map[string]uint64 // name -> order of subscription
	seq   uint64
	count [numSubKinds]atomic.Int32
}

// total is the number of channels and patterns (shard channels count on their own, as in
// Redis's replies).
func (s *subscriptions) total() int {
	return int(s.count[subChannel].Load() + s.count[subPattern].Load())
}

// active says whether the client is in pub/sub mode (subscribed to anything).
func (s *subscriptions) active() bool {
	return s.count[subChannel].Load()+s.count[subPattern].Load()+s.count[subShard].Load() > 0
}

// countFor is the count a (un)subscribe reply of kind shows.
func (s *subscriptions) countFor(kind int) int {
	if kind == subShard {
		return int(s.count[subShard].Load())
	}
	return s.total()
}

func (s *subscriptions) add(kind int, name string) bool {
	if s.sets[kind] == nil {
		s.sets[kind] = map[string]uint64{}
	}
	if _, ok := s.sets[kind][name]; ok {
		return false
	}
	s.seq++
	s.sets[kind][name] = s.seq
	s.count[kind].Add(1)
	return true
}

func (s *subscriptions) remove(kind int, name string) bool {
	if _, ok := s.sets[kind][name]; !ok {
		return false
	}
	delete(s.sets[kind], name)
	s.count[kind].Add(-1)
	return true
}

// names returns the client's names of kind in subscription order.
func (s *subscriptions) names(kind int) []string {
	out := make([]string, 0, len(s.sets[kind]))
	for n := range s.sets[kind] {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return s.sets[kind][out[i]] < s.sets[kind][out[j]] })
	return out
}

// subscribe adds the client to each name of kind, replying once per name. The reply is
// written before the client is registered, so that no message can overtake it.
func (x *Ctx) subscribe(kind int, names [][]byte) {
	x.pushes = true
	for _, b := range names {
		name := string(b)
		added := x.sub.add(kind, name)
		x.PushLen(3)
		x.BulkString(subKindNames[kind].sub)
		x.Bulk(b)
		x.Int(int64(x.sub.countFor(kind)))
		if added {
			x.s.ps.add(kind, name, x.Client)
		}
	}
}

// unsubscribe removes the client from each name of kind (every one it has when names is
// empty), replying once per name with the count left; with nothing to remove it replies once
// with a null name. The client leaves the registry before each reply is written, and the
// messages queued meanwhile join the replies first, so that none follows the confirmation.
func (x *Ctx) unsubscribe(kind int, names [][]byte) {
	list := make([]string, 0, len(names))
	for _, b := range names {
		list = append(list, string(b))
	}
	if len(names) == 0 {
		list = x.sub.names(kind)
	}
	if len(list) == 0 {
		x.PushLen(3)
		x.BulkString(subKindNames[kind].unsub)
		x.Null()
		x.Int(int64(x.sub.countFor(kind)))
		return
	}
	for _, name := range list {
		if x.sub.remove(kind, name) {
			x.s.ps.remove(kind, name, x.Client)
			x.drainPending()
		}
		x.PushLen(3)
		x.BulkString(subKindNames[kind].unsub)
		x.BulkString(name)
		x.Int(int64(x.sub.countFor(kind)))
	}
}

// leaveAll drops every subscription of the client without replies (RESET, disconnect).
func (c *Client) leaveAll() {
	for kind := range c.sub.sets {
		if len(c.sub.sets[kind]) == 0 {
			continue
		}
		c.s.ps.mu.Lock()
		for name := range c.sub.sets[kind] {
			c.s.ps.removeLocked(kind, name, c)
		}
		c.s.ps.mu.Unlock()
		c.sub.sets[kind] = nil
		c.sub.count[kind].Store(0)
	}
}

// overOutputLimit says whether the client's queued output passed its class's
// client-output-buffer-limit (c.mu held): the hard limit at once, the soft one when it has
// stayed above it for longer than its seconds. Subscribers are of the pubsub class; monitors
// of the replica class (Redis would apply the normal class, unlimited by default, which lets
// a stalled monitor grow without bound).
func (c *Client) overOutputLimit() bool {
	class := conf.ClassNormal
	switch {
	case c.intro.monitor.Load():
		class = conf.ClassReplica
	case c.sub.active():
		class = conf.ClassPubsub
	}
	lim := c.s.obufLimits.Load()[class]
	size := int64(len(c.pending) + len(c.unsent) + c.inflight)
	if lim.Hard > 0 && size >= lim.Hard {
		return true
	}
	if lim.Soft > 0 && size >= lim.Soft {
		now := time.Now()
		if c.softSince.IsZero() {
			c.softSince = now
			return false
		}
		return now.Sub(c.softSince) > time.Duration(lim.SoftSeconds)*time.Second
	}
	c.softSince = time.Time{}
	return false
}

// wakeQueuedWriters sends what this client's burst pushed to others: it writes each one's
// pending bytes itself, as far as the socket takes them without waiting (Redis's write to a
// non-blocking socket), and leaves the rest, if any, to that client's writer goroutine.
func (c *Client) wakeQueuedWriters() {
	for i, w := range c.toWake {
		c.toWake[i] = nil
		w.flushPushes()
	}
	c.toWake = c.toWake[:0]
}

// flushPushes writes the pending pushes without blocking (see wakeQueuedWriters).
func (c *Client) flushPushes() {
	locked := c.wmu.TryLock()
	c.mu.Lock()
	c.wakeQueued = false
	if c.busy || c.closed || len(c.pending)+len(c.unsent) == 0 {
		c.mu.Unlock()
		if locked {
			c.wmu.Unlock()
		}
		return
	}
	if !locked {
		c.wakeWriter() // a write is in progress: the writer follows it up
		c.mu.Unlock()
		return
	}
	data := c.takePushes()
	c.mu.Unlock()
	n, err := writeNow(c.conn.Conn, data)
	c.mu.Lock()
	c.inflight = 0
	if err != nil {
		c.mu.Unlock()
		c.wmu.Unlock()
		c.conn.Close()
		return
	}
	if n < len(data) {
		// The socket is full: the rest goes before anything queued since (by whoever
		// writes next, this client's burst or its writer), and the writer waits for room.
		c.unsent = data[n:]
		c.wakeWriter()
	}
	c.mu.Unlock()
	c.wmu.Unlock()
}

// writeNow writes as much of data to nc as its socket takes without waiting.
func writeNow(nc net.Conn, data []byte) (int, error) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return 0, nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, nil
	}
	written := 0
	var werr error
	err = raw.Write(func(fd uintptr) bool {
		for written < len(data) {
			n, err := syscall.Write(int(fd), data[written:])
			if n > 0 {
				written += n
			}
			switch {
			case err == syscall.EINTR:
				continue
			case err == syscall.EAGAIN:
				return true
			case err != nil:
				werr = err
				return true
			case n == 0:
				return true
			}
		}
		return true
	})
	if werr == nil {
		werr = err
	}
	return written, werr
}

// subscriptionsOf lists what c is subscribed to: channels (shard channels included) and
// patterns, read from the registry under its lock, so any goroutine may ask (ACL SETUSER
// disconnects subscribers whose channels it revokes). O(names subscribed to on the server).
func (ps *pubsubRegistry) subscriptionsOf(c *Client) (channels, patterns []string) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for _, kind := range []int{subChannel, subShard, subPattern} {
		for name, subs := range ps.names[kind] {
			if _, ok := subs.idx[c]; !ok {
				continue
			}
			if kind == subPattern {
				patterns = append(patterns, name)
			} else {
				channels = append(channels, name)
			}
		}
	}
	return channels, patterns
}
