package server

import (
	"bytes"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/stratadb/strata/engine"
)

// Client-side caching (CLIENT TRACKING), as Redis 7.0 does it.
//
// Default mode: after a read-only command of a tracking client, its keys are remembered in
// the tracking table (key name -> client ids; names only, whatever the database, as in
// Redis). When a key changes, every client that read it gets one invalidation message and
// the key leaves the table. The remembering happens under the command's key locks, and the
// invalidation under the writer's, once its change is committed: a reader either read before
// the change (and is in the table when the writer looks) or after it.
//
// BCAST mode: clients register key prefixes ("" for every key); the keys one change (one
// command, one EXEC) touched that match a prefix go to its clients in one message, sorted.
// Redis batches per event-loop iteration instead, so pipelined writes may come as several
// messages here where Redis sends one.
//
// Messages: RESP3 clients get a ">2 invalidate [keys]" push; with REDIRECT the client named
// gets it instead, and a RESP2 client in pub/sub mode gets it as a message on
// __redis__:invalidate. FLUSHDB and FLUSHALL send every tracking client a null invalidation.
// A message for the client whose command caused it follows that command's reply.
//
// Only clients with tracking on pay: without any, a commit checks one atomic counter.

// trackingMode is a tracking client's settings, replaced as a whole (other goroutines read it
// when they invalidate).
type trackingMode struct {
	bcast, optin, optout, noloop bool
	redirect                     int64
	prefixes                     []string // BCAST prefixes, sorted
}

// trackingState is one client's tracking.
type trackingState struct {
	mode    atomic.Pointer[trackingMode] // nil: tracking is off
	broken  atomic.Bool                  // the redirect client went away
	caching bool                         // CLIENT CACHING given for the next command (owner only)
}

// trackingTable is the server's tracking table and BCAST prefixes.
type trackingTable struct {
	mu       sync.Mutex
	keys     map[string]map[int64]struct{} // key -> ids of the clients that read it
	items    int64                         // (key, client) pairs in keys
	prefixes map[string]map[*Client]struct{}
	clients  atomic.Int64 // clients with tracking on
	maxKeys  atomic.Int64 // tracking-table-max-keys; 0: no limit
}

func (tt *trackingTable) init() {
	tt.keys = map[string]map[int64]struct{}{}
	tt.prefixes = map[string]map[*Client]struct{}{}
}

func (tt *trackingTable) inUse() bool { return tt.clients.Load() > 0 }

// stats are INFO's tracking_total_keys, tracking_total_items and tracking_total_prefixes.
func (tt *trackingTable) stats() (keys, items, prefixes int64) {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	return int64(len(tt.keys)), tt.items, int64(len(tt.prefixes))
}

// clientByID finds a connected client.
func (s *Server) clientByID(id int64) *Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clients[id]
}

// trackRead remembers the keys of a read-only command run by a tracking client in default
// mode (connection goroutine, under the command's locks).
func (s *Server) trackRead(c *Client, cmd *Command, args [][]byte) {
	m := c.trk.mode.Load()
	if m == nil || m.bcast || !cmd.Has(FlagReadonly) || cmd.Has(FlagPubsub) {
		return
	}
	if (m.optin && !c.trk.caching) || (m.optout && c.trk.caching) {
		return
	}
	pos := cmd.KeyPositions(args)
	if len(pos) == 0 {
		return
	}
	tt := &s.trk
	tt.mu.Lock()
	for _, i := range pos {
		ids := tt.keys[string(args[i])]
		if ids == nil {
			ids = map[int64]struct{}{}
			tt.keys[string(args[i])] = ids
		}
		if _, ok := ids[c.id]; !ok {
			ids[c.id] = struct{}{}
			tt.items++
		}
	}
	evicted := tt.overflow()
	tt.mu.Unlock()
	for _, e := range evicted {
		s.sendInvalidations(nil, e.key, e.ids)
	}
}

// evictedKey is a key dropped from the table with the clients to tell.
type evictedKey struct {
	key []byte
	ids map[int64]struct{}
}

// overflow drops keys past tracking-table-max-keys (tt.mu held), as Redis does: any keys,
// whose clients are told to forget them.
func (tt *trackingTable) overflow() []evictedKey {
	limit := tt.maxKeys.Load()
	if limit <= 0 || int64(len(tt.keys)) <= limit {
		return nil
	}
	var out []evictedKey
	for k, ids := range tt.keys {
		if int64(len(tt.keys)) <= limit {
			break
		}
		delete(tt.keys, k)
		tt.items -= int64(len(ids))
		out = append(out, evictedKey{key: []byte(k), ids: ids})
	}
	return out
}

// invalidateChanges tells the tracking clients about the keys a committed Txn changed (and
// about a flush); from is the client whose command it was (nil for active expiry).
func (s *Server) invalidateChanges(t *engine.Txn, from *Client) {
	if from != nil && from.notes.flushed {
		s.invalidateAll(from)
	}
	tt := &s.trk
	var bcast map[string][][]byte // prefix -> keys changed under it
	t.EachTouched(func(_ int, key []byte, _ bool) {
		tt.mu.Lock()
		ids := tt.keys[string(key)]
		if ids != nil {
			delete(tt.keys, string(key))
			tt.items -= int64(len(ids))
		}
		for p := range tt.prefixes {
			if bytes.HasPrefix(key, []byte(p)) {
				if bcast == nil {
					bcast = map[string][][]byte{}
				}
				bcast[p] = append(bcast[p], key)
			}
		}
		tt.mu.Unlock()
		if ids != nil {
			s.sendInvalidations(from, key, ids)
		}
	})
	if len(bcast) > 0 {
		order := make([]string, 0, len(bcast))
		for p := range bcast {
			order = append(order, p)
		}
		sort.Strings(order) // Redis walks its prefix table in order
		for _, p := range order {
			s.broadcastInvalidation(from, p, bcast[p])
		}
	}
}

// sendInvalidations sends one key's invalidation to the default-mode clients in ids.
func (s *Server) sendInvalidations(from *Client, key []byte, ids map[int64]struct{}) {
	var value []byte
	for id := range ids {
		target := s.clientByID(id)
		if target == nil {
			continue
		}
		m := target.trk.mode.Load()
		if m == nil || m.bcast || (m.noloop && target == from) {
			continue
		}
		if value == nil {
			value = appendKeyArray(nil, [][]byte{key})
		}
		s.sendTracking(from, target, m, value, value)
	}
}

// broadcastInvalidation sends the keys changed under prefix p to its BCAST clients.
func (s *Server) broadcastInvalidation(from *Client, p string, keys [][]byte) {
	sort.Slice(keys, func(i, j int) bool { return bytes.Compare(keys[i], keys[j]) < 0 })
	uniq := keys[:0]
	for i, k := range keys {
		if i == 0 || !bytes.Equal(k, keys[i-1]) {
			uniq = append(uniq, k)
		}
	}
	tt := &s.trk
	tt.mu.Lock()
	targets := make([]*Client, 0, len(tt.prefixes[p]))
	for c := range tt.prefixes[p] {
		targets = append(targets, c)
	}
	tt.mu.Unlock()
	value := appendKeyArray(nil, uniq)
	for _, target := range targets {
		m := target.trk.mode.Load()
		if m == nil || !m.bcast || (m.noloop && target == from) {
			continue
		}
		s.sendTracking(from, target, m, value, value)
	}
}

// invalidateAll sends every tracking client the null invalidation of a flush and empties the
// table.
func (s *Server) invalidateAll(from *Client) {
	tt := &s.trk
	tt.mu.Lock()
	tt.keys = map[string]map[int64]struct{}{}
	tt.items = 0
	tt.mu.Unlock()
	for _, c := range s.Clients() {
		if m := c.trk.mode.Load(); m != nil {
			s.sendTracking(from, c, m, []byte("$-1\r\n"), []byte("_\r\n"))
		}
	}
}

func appendKeyArray(dst []byte, keys [][]byte) []byte {
	dst = append(dst, '*')
	dst = strconv.AppendInt(dst, int64(len(keys)), 10)
	dst = append(dst, '\r', '\n')
	for _, k := range keys {
		dst = appendBulk(dst, k)
	}
	return dst
}

// sendTracking sends an invalidation for target (tracking with mode m) as Redis's
// sendTrackingMessage does; value2 and value3 are the payload in target's RESP2 and RESP3
// forms (they differ only for the null of a flush). A message for from (the client running
// the command) follows its reply.
func (s *Server) sendTracking(from, target *Client, m *trackingMode, value2, value3 []byte) {
	value := value2
	if target.respOf(from) == 3 {
		value = value3
	}
	to := target
	redirected := false
	if m.redirect != 0 {
		to = s.clientByID(m.redirect)
		if to == nil {
			target.trk.broken.Store(true)
			if target.respOf(from) == 3 {
				body := []byte("2\r\n$21\r\ntracking-redir-broken\r\n:" + strconv.FormatInt(m.redirect, 10) + "\r\n")
				target.deliver(from, body, false)
			}
			return
		}
		redirected = true
	}
	var body []byte
	switch {
	case to.respOf(from) == 3:
		body = append([]byte("2\r\n$10\r\ninvalidate\r\n"), value...)
	case redirected && to.sub.active():
		body = append([]byte("3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n"), value...)
	default:
		return // a RESP2 client cannot take pushes on its own connection
	}
	to.deliver(from, body, false)
}

// respOf is the client's protocol as seen from the goroutine running from's command.
func (c *Client) respOf(from *Client) int {
	if c == from {
		return c.resp
	}
	return int(c.pubResp.Load())
}

// ---- CLIENT TRACKING, CACHING, GETREDIR, TRACKINGINFO ----

func cmdClientTracking(x *Ctx) {
	var next trackingMode
	var prefixes []string
	for j := 3; j < len(x.Args); j++ {
		more := j+1 < len(x.Args)
		switch opt := strings.ToLower(x.Arg(j)); {
		case opt == "redirect" && more:
			j++
			if next.redirect != 0 {
				x.Error(engine.ErrTrackingRedirectTwice)
				return
			}
			id, ok := engine.ParseInt(x.Args[j])
			if !ok {
				x.Error(engine.ErrNotInteger)
				return
			}
			if x.s.clientByID(id) == nil {
				x.Error(engine.ErrTrackingNoRedirect)
				return
			}
			next.redirect = id
		case opt == "bcast":
			next.bcast = true
		case opt == "optin":
			next.optin = true
		case opt == "optout":
			next.optout = true
		case opt == "noloop":
			next.noloop = true
		case opt == "prefix" && more:
			j++
			prefixes = append(prefixes, x.Arg(j))
		default:
			x.Error(engine.ErrSyntax)
			return
		}
	}
	switch strings.ToLower(x.Arg(2)) {
	case "off":
		x.trackingOff()
		x.OK()
		return
	case "on":
	default:
		x.Error(engine.ErrSyntax)
		return
	}
	cur := x.trk.mode.Load()
	switch {
	case !next.bcast && len(prefixes) > 0:
		x.Error(engine.ErrTrackingPrefixBcast)
		return
	case cur != nil && cur.bcast != next.bcast:
		x.Error(engine.ErrTrackingBcastSwitch)
		return
	case next.bcast && (next.optin || next.optout):
		x.Error(engine.ErrTrackingOptBcast)
		return
	case next.optin && next.optout:
		x.Error(engine.ErrTrackingOptBoth)
		return
	case cur != nil && ((next.optin && cur.optout) || (next.optout && cur.optin)):
		x.Error(engine.ErrTrackingOptSwitch)
		return
	}
	if next.bcast {
		if err := prefixCollision(cur, prefixes); err != nil {
			x.Error(err)
			return
		}
		if cur != nil {
			next.prefixes = append(next.prefixes, cur.prefixes...)
		}
		if len(prefixes) == 0 {
			prefixes = []string{""}
		}
		for _, p := range prefixes {
			if !containsString(next.prefixes, p) {
				next.prefixes = append(next.prefixes, p)
			}
		}
		sort.Strings(next.prefixes)
	}
	x.trackingOn(cur, &next)
	x.OK()
}

func containsString(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// prefixCollision checks BCAST prefixes as Redis does: none may be a prefix of one the
// client has, or of another one given.
func prefixCollision(cur *trackingMode, prefixes []string) error {
	overlap := func(a, b string) bool { return strings.HasPrefix(a, b) || strings.HasPrefix(b, a) }
	for i, p := range prefixes {
		if cur != nil {
			for _, have := range cur.prefixes {
				if overlap(have, p) {
					return engine.ErrTrackingPrefixOverlap(p, have, true)
				}
			}
		}
		for _, q := range prefixes[i+1:] {
			if overlap(p, q) {
				return engine.ErrTrackingPrefixOverlap(p, q, false)
			}
		}
	}
	return nil
}

// trackingOn switches tracking on with mode m (replacing cur's settings; BCAST prefixes
// accumulate).
func (c *Client) trackingOn(cur, m *trackingMode) {
	tt := &c.s.trk
	tt.mu.Lock()
	for _, p := range m.prefixes {
		if tt.prefixes[p] == nil {
			tt.prefixes[p] = map[*Client]struct{}{}
		}
		tt.prefixes[p][c] = struct{}{}
	}
	tt.mu.Unlock()
	c.pushes = true
	c.trk.broken.Store(false)
	c.trk.mode.Store(m)
	if cur == nil {
		tt.clients.Add(1)
	}
}

// trackingOff switches tracking off (CLIENT TRACKING OFF, RESET, disconnect). The keys the
// client read stay in the table until they change, as in Redis.
func (c *Client) trackingOff() {
	cur := c.trk.mode.Load()
	if cur == nil {
		return
	}
	tt := &c.s.trk
	tt.mu.Lock()
	for _, p := range cur.prefixes {
		delete(tt.prefixes[p], c)
		if len(tt.prefixes[p]) == 0 {
			delete(tt.prefixes, p)
		}
	}
	tt.mu.Unlock()
	c.trk.mode.Store(nil)
	c.trk.broken.Store(false)
	c.trk.caching = false
	tt.clients.Add(-1)
}

func cmdClientCaching(x *Ctx) {
	m := x.trk.mode.Load()
	if m == nil {
		x.Error(engine.ErrCachingNotOpt)
		return
	}
	switch strings.ToLower(x.Arg(2)) {
	case "yes":
		if !m.optin {
			x.Error(engine.ErrCachingYesNotOptin)
			return
		}
	case "no":
		if !m.optout {
			x.Error(engine.ErrCachingNoNotOptout)
			return
		}
	default:
		x.Error(engine.ErrSyntax)
		return
	}
	x.trk.caching = true
	x.OK()
}

func cmdClientGetRedir(x *Ctx) {
	if m := x.trk.mode.Load(); m != nil {
		x.Int(m.redirect)
		return
	}
	x.Int(-1)
}

func cmdClientTrackingInfo(x *Ctx) {
	m := x.trk.mode.Load()
	var flags []string
	redirect := int64(-1)
	var prefixes []string
	if m == nil {
		flags = append(flags, "off")
	} else {
		flags = append(flags, "on")
		if m.bcast {
			flags = append(flags, "bcast")
		}
		if m.optin {
			flags = append(flags, "optin")
			if x.trk.caching {
				flags = append(flags, "caching-yes")
			}
		}
		if m.optout {
			flags = append(flags, "optout")
			if x.trk.caching {
				flags = append(flags, "caching-no")
			}
		}
		if m.noloop {
			flags = append(flags, "noloop")
		}
		if x.trk.broken.Load() {
			flags = append(flags, "broken_redirect")
		}
		redirect = m.redirect
		prefixes = m.prefixes
	}
	x.MapLen(3)
	x.BulkString("flags")
	x.SetLen(len(flags))
	for _, f := range flags {
		x.BulkString(f)
	}
	x.BulkString("redirect")
	x.Int(redirect)
	x.BulkString("prefixes")
	x.ArrayLen(len(prefixes))
	for _, p := range prefixes {
		x.BulkString(p)
	}
}

// afterCommand ends what lasts one command: CLIENT CACHING's flag is spent by any command but
// CLIENT's own (Redis keeps it while MULTI queues commands).
func (c *Client) afterCommand(cmd *Command) {
	if c.trk.caching && !strings.HasPrefix(cmd.Name, "client|") {
		c.trk.caching = false
	}
}
