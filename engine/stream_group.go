package engine

import (
	"bytes"
	"errors"

	"github.com/stratadb/strata/encoding"
)

// Consumer groups. A group is a record keyed by its name holding a gid; the gid names the
// group's ranges: its pending entries list (by entry ID), its consumers (by name) and each
// consumer's own pending list (by name, then entry ID). XPENDING, XACK, XCLAIM and XAUTOCLAIM
// touch only the records they name or one bounded range, and XGROUP DESTROY drops a group of
// any size with three range deletions.

// EntriesReadUnknown is a group's entries-read counter when it is not known (Redis's
// SCG_INVALID_ENTRIES_READ; XINFO prints it as nil).
const EntriesReadUnknown = -1

// ---- keys and records ----

func (s *stream) groupKey(name []byte) []byte {
	s.kb = encoding.AppendStreamGroupMember(append(s.kb[:0], s.prefix...), name)
	return s.kb
}

func (s *stream) getGroup(name []byte, g *encoding.StreamGroup) (bool, error) {
	v, ok, err := s.t.get(s.groupKey(name))
	if err != nil || !ok {
		return false, err
	}
	if err := encoding.DecodeStreamGroup(v, g); err != nil {
		return false, corruptf("stream group of %q: %v", s.key, err)
	}
	return true, nil
}

func (s *stream) putGroup(name []byte, g *encoding.StreamGroup) {
	s.vb = encoding.AppendStreamGroup(s.vb[:0], g)
	s.t.set(s.groupKey(name), s.vb)
}

func (s *stream) pelKey(gid uint64, id StreamID) []byte {
	s.kb = encoding.AppendStreamGroupPrefix(append(s.kb[:0], s.prefix...), encoding.StreamPELKind, gid)
	s.kb = encoding.AppendStreamID(s.kb, id)
	return s.kb
}

func (s *stream) cpelKey(gid uint64, name []byte, id StreamID) []byte {
	s.kb = encoding.AppendStreamCPELPrefix(append(s.kb[:0], s.prefix...), gid, name)
	s.kb = encoding.AppendStreamID(s.kb, id)
	return s.kb
}

func (s *stream) consumerKey(gid uint64, name []byte) []byte {
	s.kb = encoding.AppendStreamConsumerMember(append(s.kb[:0], s.prefix...), gid, name)
	return s.kb
}

func (s *stream) getPending(gid uint64, id StreamID, p *encoding.StreamPending) (bool, error) {
	v, ok, err := s.t.get(s.pelKey(gid, id))
	if err != nil || !ok {
		return false, err
	}
	if err := encoding.DecodeStreamPending(v, p); err != nil {
		return false, corruptf("stream pending entry of %q: %v", s.key, err)
	}
	return true, nil
}

func (s *stream) putPending(gid uint64, id StreamID, p *encoding.StreamPending) {
	s.vb = encoding.AppendStreamPending(s.vb[:0], p)
	s.t.set(s.pelKey(gid, id), s.vb)
}

func (s *stream) getConsumer(gid uint64, name []byte, c *encoding.StreamConsumer) (bool, error) {
	v, ok, err := s.t.get(s.consumerKey(gid, name))
	if err != nil || !ok {
		return false, err
	}
	if err := encoding.DecodeStreamConsumer(v, c); err != nil {
		return false, corruptf("stream consumer of %q: %v", s.key, err)
	}
	return true, nil
}

func (s *stream) putConsumer(gid uint64, name []byte, c *encoding.StreamConsumer) {
	s.vb = encoding.AppendStreamConsumer(s.vb[:0], c)
	s.t.set(s.consumerKey(gid, name), s.vb)
}

// groupRange returns the bounds of one group-scoped kind of group gid.
func (s *stream) groupRange(kind byte, gid uint64) (lower, upper []byte) {
	lower = encoding.AppendStreamGroupPrefix(append([]byte(nil), s.prefix...), kind, gid)
	return lower, encoding.PrefixEnd(nil, lower)
}

// cpelRange returns the bounds of consumer name's pending list in group gid.
func (s *stream) cpelRange(gid uint64, name []byte) (lower, upper []byte) {
	lower = encoding.AppendStreamCPELPrefix(append([]byte(nil), s.prefix...), gid, name)
	return lower, encoding.PrefixEnd(nil, lower)
}

// consumerState is a consumer record loaded by a command. A command sees one copy of each
// consumer it touches; the changed ones are written when the stream is saved.
type consumerState struct {
	gid   uint64
	name  []byte
	rec   encoding.StreamConsumer
	dirty bool
}

func consumerCacheKey(gid uint64, name []byte) string {
	return string(encoding.AppendStreamConsumerMember(nil, gid, name))
}

// consumer loads (or, with create, creates) a consumer of group g; nil when missing.
func (s *stream) consumer(g *encoding.StreamGroup, name []byte, create bool) (*consumerState, error) {
	k := consumerCacheKey(g.ID, name)
	if c, ok := s.cons[k]; ok {
		return c, nil
	}
	c := &consumerState{gid: g.ID, name: name}
	ok, err := s.getConsumer(g.ID, name, &c.rec)
	if err != nil {
		return nil, err
	}
	if !ok {
		if !create {
			return nil, nil
		}
		c.rec = encoding.StreamConsumer{SeenTime: s.t.now, ActiveTime: -1}
		c.dirty = true
		g.Consumers++
		s.m.Count++
		s.dirty = true
	}
	if s.cons == nil {
		s.cons = map[string]*consumerState{}
	}
	s.cons[k] = c
	return c, nil
}

// flushConsumers writes the consumers changed by the command.
func (s *stream) flushConsumers() {
	for _, c := range s.cons {
		if c.dirty {
			s.putConsumer(c.gid, c.name, &c.rec)
			c.dirty = false
		}
	}
}

// pendingAdded and pendingDropped keep the group's PELFloor at or below its lowest pending ID
// and its PELCeil at or above every ID ever pending.
func pendingAdded(g *encoding.StreamGroup, id StreamID) {
	if g.Pending == 1 || id.Less(g.PELFloor) {
		g.PELFloor = id
	}
	if g.PELCeil.Less(id) {
		g.PELCeil = id
	}
}

func pendingDropped(g *encoding.StreamGroup, id StreamID) {
	if id == g.PELFloor {
		g.PELFloor, _ = id.Next()
	}
}

// pelFrom is where a scan of the group's pending list starting at start may begin.
func pelFrom(g *encoding.StreamGroup, start StreamID) StreamID {
	if start.Less(g.PELFloor) {
		return g.PELFloor
	}
	return start
}

// addPending records entry id as delivered to consumer c at time now (delivery count 1),
// moving it from the consumer that had it, if any.
func (s *stream) addPending(g *encoding.StreamGroup, c *consumerState, id StreamID, now int64) error {
	var p encoding.StreamPending
	had := false
	if !g.PELCeil.Less(id) { // past the ceiling it cannot be pending: no lookup
		var err error
		if had, err = s.getPending(g.ID, id, &p); err != nil {
			return err
		}
	}
	if !had {
		g.Pending++
		pendingAdded(g, id)
		c.rec.Pending++
		c.dirty = true
		s.m.Count += 2
		s.dirty = true
	} else if !bytes.Equal(p.Consumer, c.name) {
		if err := s.movePending(g, id, p.Consumer, c); err != nil {
			return err
		}
	}
	s.putPending(g.ID, id, &encoding.StreamPending{DeliveryTime: now, DeliveryCount: 1, Consumer: c.name})
	s.t.set(s.cpelKey(g.ID, c.name, id), nil)
	return nil
}

// movePending takes entry id out of consumer from's pending list for c (the caller rewrites the
// group pending record).
func (s *stream) movePending(g *encoding.StreamGroup, id StreamID, from []byte, c *consumerState) error {
	s.t.del(s.cpelKey(g.ID, from, id))
	old, err := s.consumer(g, from, false)
	if err != nil {
		return err
	}
	if old != nil && old.rec.Pending > 0 {
		old.rec.Pending--
		old.dirty = true
	}
	c.rec.Pending++
	c.dirty = true
	return nil
}

// dropPending removes entry id from the group's and its owner's pending lists.
func (s *stream) dropPending(g *encoding.StreamGroup, id StreamID, owner []byte) error {
	s.t.del(s.pelKey(g.ID, id))
	s.t.del(s.cpelKey(g.ID, owner, id))
	g.Pending--
	pendingDropped(g, id)
	s.m.Count -= 2
	s.dirty = true
	c, err := s.consumer(g, owner, false)
	if err != nil {
		return err
	}
	if c != nil && c.rec.Pending > 0 {
		c.rec.Pending--
		c.dirty = true
	}
	return nil
}

// ---- lag and entries-read, as Redis 7.0 computes them ----

// rangeHasTombstones says whether an entry was deleted at or after start (Redis 7.0's
// streamRangeHasTombstones with no end).
func (s *stream) rangeHasTombstones(start StreamID) bool {
	f := &s.f
	if f.Length == 0 || f.MaxDeletedID.IsZero() || f.MaxDeletedID.Less(f.FirstID) {
		return false
	}
	return start.Compare(f.MaxDeletedID) <= 0
}

// estimateDistance is the logical read counter of id, or EntriesReadUnknown (Redis 7.0's
// streamEstimateDistanceFromFirstEverEntry).
func (s *stream) estimateDistance(id StreamID) int64 {
	f := &s.f
	added := int64(f.EntriesAdded)
	if added == 0 {
		return 0
	}
	if f.Length == 0 && id.Compare(f.LastID) <= 0 {
		return added
	}
	switch c := id.Compare(f.LastID); {
	case c == 0:
		return added
	case c > 0:
		return EntriesReadUnknown
	}
	if f.MaxDeletedID.IsZero() || f.MaxDeletedID.Less(f.FirstID) {
		switch id.Compare(f.FirstID) {
		case -1:
			return added - int64(f.Length)
		case 0:
			return added - int64(f.Length) + 1
		}
	}
	return EntriesReadUnknown
}

// lag is the number of entries the group has not read yet; false when it cannot be known.
func (s *stream) lag(g *encoding.StreamGroup) (int64, bool) {
	added := int64(s.f.EntriesAdded)
	if added == 0 {
		return 0, true
	}
	if g.EntriesRead != EntriesReadUnknown && !s.rangeHasTombstones(g.LastID) {
		return added - g.EntriesRead, true
	}
	if read := s.estimateDistance(g.LastID); read != EntriesReadUnknown {
		return added - read, true
	}
	return 0, false
}

// delivered moves the group's last-delivered ID to id (when greater) and keeps its entries-read
// counter as Redis does.
func (s *stream) delivered(g *encoding.StreamGroup, id StreamID) {
	if id.Compare(g.LastID) <= 0 {
		return
	}
	if g.EntriesRead != EntriesReadUnknown && !s.rangeHasTombstones(id) {
		g.EntriesRead++
	} else if s.f.EntriesAdded != 0 {
		g.EntriesRead = s.estimateDistance(id)
	}
	g.LastID = id
}

// ---- lookups shared by the commands ----

// StreamGroupExists reports whether key holds a stream and whether it has group (ErrWrongType
// for another type). Commands use it to answer Redis's errors in Redis's order.
func (t *Txn) StreamGroupExists(key, group []byte) (streamExists, groupExists bool, err error) {
	s, err := t.streamFor(key, false)
	if err != nil || s == nil {
		return false, false, err
	}
	var g encoding.StreamGroup
	ok, err := s.getGroup(group, &g)
	return true, ok, err
}

// streamGroup opens the stream at key and its group, or returns noGroup when either is missing.
func (t *Txn) streamGroup(key, group []byte, noGroup error) (*stream, *encoding.StreamGroup, error) {
	s, err := t.streamFor(key, false)
	if err != nil {
		return nil, nil, err
	}
	if s == nil {
		return nil, nil, noGroup
	}
	g := &encoding.StreamGroup{}
	ok, err := s.getGroup(group, g)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return nil, nil, noGroup
	}
	return s, g, nil
}

// ---- XGROUP ----

// XGroupCreate creates group with last-delivered ID id (the stream's last ID when useLast) and
// entries-read counter entriesRead. With mkstream a missing key becomes an empty stream.
func (t *Txn) XGroupCreate(key, group []byte, id StreamID, useLast, mkstream bool, entriesRead int64) error {
	s, err := t.streamFor(key, mkstream)
	if err != nil {
		return err
	}
	if s == nil {
		return ErrXGroupNoKey
	}
	defer s.save()
	var g encoding.StreamGroup
	ok, err := s.getGroup(group, &g)
	if err != nil {
		return err
	}
	if ok {
		return ErrBusyGroup
	}
	if useLast {
		id = s.f.LastID
	}
	g = encoding.StreamGroup{ID: s.f.NextGroupID, LastID: id, EntriesRead: entriesRead}
	s.f.NextGroupID++
	s.f.Groups++
	s.m.Count++
	s.dirty = true
	s.putGroup(group, &g)
	return nil
}

// XGroupSetID sets a group's last-delivered ID (the stream's last ID when useLast) and its
// entries-read counter.
func (t *Txn) XGroupSetID(key, group []byte, id StreamID, useLast bool, entriesRead int64) error {
	s, g, err := t.streamGroup(key, group, ErrNoGroupForKey(group, key))
	if err != nil {
		return err
	}
	if useLast {
		id = s.f.LastID
	}
	g.LastID = id
	g.EntriesRead = entriesRead
	s.putGroup(group, g)
	return nil
}

// XGroupDestroy removes a group with its pending entries and consumers.
func (t *Txn) XGroupDestroy(key, group []byte) (bool, error) {
	s, g, err := t.streamGroup(key, group, nil)
	if err != nil || s == nil {
		return false, err
	}
	b := t.ensureBatch()
	for _, kind := range []byte{encoding.StreamPELKind, encoding.StreamConsumerKind, encoding.StreamCPELKind} {
		lo, hi := s.groupRange(kind, g.ID)
		b.DeleteRange(lo, hi, nil)
	}
	t.del(s.groupKey(group))
	s.f.Groups--
	s.m.Count -= 1 + g.Consumers + 2*g.Pending
	s.dirty = true
	s.save()
	return true, nil
}

// XGroupCreateConsumer creates a consumer; false when it exists.
func (t *Txn) XGroupCreateConsumer(key, group, consumer []byte) (bool, error) {
	s, g, err := t.streamGroup(key, group, ErrNoGroupForKey(group, key))
	if err != nil {
		return false, err
	}
	before := g.Consumers
	if _, err := s.consumer(g, consumer, true); err != nil {
		return false, err
	}
	if g.Consumers == before {
		return false, nil
	}
	s.putGroup(group, g)
	s.save()
	return true, nil
}

// XGroupDelConsumer removes a consumer and its pending entries, and returns how many it had.
func (t *Txn) XGroupDelConsumer(key, group, consumer []byte) (int64, error) {
	s, g, err := t.streamGroup(key, group, ErrNoGroupForKey(group, key))
	if err != nil {
		return 0, err
	}
	c, err := s.consumer(g, consumer, false)
	if err != nil || c == nil {
		return 0, err
	}
	lo, hi := s.cpelRange(g.ID, consumer)
	var ids []StreamID
	if err := s.eachID(lo, hi, func(id StreamID) (bool, error) {
		ids = append(ids, id)
		return true, nil
	}); err != nil {
		return 0, err
	}
	for _, id := range ids {
		t.del(s.pelKey(g.ID, id))
	}
	t.ensureBatch().DeleteRange(lo, hi, nil)
	t.del(s.consumerKey(g.ID, consumer))
	delete(s.cons, consumerCacheKey(g.ID, consumer))
	n := uint64(len(ids))
	g.Pending -= n
	g.Consumers--
	s.m.Count -= 1 + 2*n
	s.dirty = true
	s.putGroup(group, g)
	s.save()
	return int64(n), nil
}

// errStopScan ends a scan of eachRecord early; it is not an error.
var errStopScan = errors.New("stop")

// eachRecord calls fn with each key of [lo, hi) and its value, in order. fn returns
// errStopScan to stop.
func (s *stream) eachRecord(lo, hi []byte, fn func(k, v []byte) error) error {
	it, err := s.t.iter(lo, hi)
	if err != nil {
		return err
	}
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err == nil {
			err = fn(it.Key(), v)
		}
		if err != nil {
			it.Close()
			if err == errStopScan {
				return nil
			}
			return err
		}
	}
	return it.Close()
}

// eachID calls fn with the IDs ending the keys of [lo, hi) in order.
func (s *stream) eachID(lo, hi []byte, fn func(id StreamID) (bool, error)) error {
	return s.eachRecord(lo, hi, func(k, _ []byte) error {
		if len(k) < 16 {
			return corruptf("stream pending key of %q", s.key)
		}
		id, _ := encoding.DecodeStreamID(k[len(k)-16:])
		more, err := fn(id)
		if err == nil && !more {
			err = errStopScan
		}
		return err
	})
}

// ---- XREADGROUP ----

// XReadGroupArgs are XREADGROUP's options for one stream.
type XReadGroupArgs struct {
	Group, Consumer []byte
	After           StreamID // with History: serve the consumer's pending entries after it
	History         bool     // an explicit ID rather than ">"
	NoAck           bool
	Count           int64 // 0: all
}

// XReadGroup serves XREADGROUP for one stream. It reports whether the stream is served (an
// explicit ID always is; ">" when the stream has entries the group has not seen) and calls fn
// with each entry delivered; fv is nil for a pending entry whose stream entry was deleted.
// When the stream is served, the consumer is created if missing and its seen-time set.
func (t *Txn) XReadGroup(key []byte, a *XReadGroupArgs, fn func(id StreamID, fv [][]byte) error) (bool, error) {
	s, g, err := t.streamGroup(key, a.Group, ErrNoGroupXReadGroup(key, a.Group))
	if err != nil {
		return false, err
	}
	defer s.save()
	serve := a.History
	start := a.After
	if !serve && s.f.Length > 0 {
		maxID, err := s.lastValidID()
		if err != nil {
			return false, err
		}
		if g.LastID.Less(maxID) {
			serve, start = true, g.LastID
		}
	}
	if !serve {
		return false, nil
	}
	// Redis 7.0 looks the consumer up (or creates it) only for a stream it serves.
	c, err := s.consumer(g, a.Consumer, true)
	if err != nil {
		return false, err
	}
	c.rec.SeenTime, c.dirty = t.now, true
	start, _ = start.Next() // after max-max comes 0-0, as in Redis
	if a.History {
		err = s.readHistory(g, c, start, a.Count, fn)
	} else {
		err = s.readNew(g, c, start, a, fn)
	}
	if err != nil {
		return false, err
	}
	s.putGroup(a.Group, g)
	return serve, nil
}

// XReadGroupReady reports what a client blocked in XREADGROUP on key waits for: gone when the
// key no longer holds a stream, noGroup when the group is gone, else whether the stream has an
// entry past the group's last-delivered ID.
func (t *Txn) XReadGroupReady(key, group []byte) (ready, gone, noGroup bool, err error) {
	ks, err := t.lookup(key)
	if err != nil {
		return false, false, false, err
	}
	if !ks.live || ks.meta.Type != encoding.TypeStream {
		return true, true, false, nil
	}
	s, g, err := t.streamGroup(key, group, errNoGroupHere)
	if err == errNoGroupHere {
		return true, false, true, nil
	}
	if err != nil || s.f.Length == 0 {
		return false, false, false, err
	}
	maxID, err := s.lastValidID()
	return g.LastID.Less(maxID), false, false, err
}

var errNoGroupHere = errors.New("no group")

// readNew delivers the entries from start on to consumer c.
func (s *stream) readNew(g *encoding.StreamGroup, c *consumerState, start StreamID, a *XReadGroupArgs, fn func(id StreamID, fv [][]byte) error) error {
	now := s.t.now
	return s.scan(start, encoding.MaxStreamID, false, a.Count, func(id StreamID, fv [][]byte) (bool, error) {
		s.delivered(g, id)
		if err := fn(id, fv); err != nil {
			return false, err
		}
		if !a.NoAck {
			if err := s.addPending(g, c, id, now); err != nil {
				return false, err
			}
			c.rec.ActiveTime = now
		}
		return true, nil
	})
}

// readHistory serves the consumer's own pending entries from start on, counting a delivery for
// each entry that still exists.
func (s *stream) readHistory(g *encoding.StreamGroup, c *consumerState, start StreamID, count int64, fn func(id StreamID, fv [][]byte) error) error {
	lo, hi := s.cpelRange(g.ID, c.name)
	lo = encoding.AppendStreamID(lo, start)
	var ids []StreamID
	if err := s.eachID(lo, hi, func(id StreamID) (bool, error) {
		ids = append(ids, id)
		return count <= 0 || int64(len(ids)) < count, nil
	}); err != nil {
		return err
	}
	for _, id := range ids {
		fv, ok, err := s.getEntry(id)
		if err != nil {
			return err
		}
		if !ok {
			if err := fn(id, nil); err != nil {
				return err
			}
			continue
		}
		var p encoding.StreamPending
		if _, err := s.getPending(g.ID, id, &p); err != nil {
			return err
		}
		p.DeliveryTime = s.t.now
		p.DeliveryCount++
		p.Consumer = c.name
		s.putPending(g.ID, id, &p)
		if err := fn(id, fv); err != nil {
			return err
		}
	}
	return nil
}

// ---- XACK ----

// XAck acknowledges ids in group and returns how many were pending. A missing key or group
// acknowledges nothing.
func (t *Txn) XAck(key, group []byte, ids []StreamID) (int64, error) {
	s, g, err := t.streamGroup(key, group, nil)
	if err != nil || s == nil {
		return 0, err
	}
	var n int64
	var p encoding.StreamPending
	for _, id := range ids {
		ok, err := s.getPending(g.ID, id, &p)
		if err != nil {
			return 0, err
		}
		if !ok {
			continue
		}
		if err := s.dropPending(g, id, p.Consumer); err != nil {
			return 0, err
		}
		n++
	}
	if n > 0 {
		s.putGroup(group, g)
		s.save()
	}
	return n, nil
}

// ---- XPENDING ----

// PendingEntry is one entry of a pending list.
type PendingEntry struct {
	ID            StreamID
	Consumer      []byte
	DeliveryTime  int64 // unix ms
	DeliveryCount uint64
}

// ConsumerPending is a consumer and the number of entries pending for it.
type ConsumerPending struct {
	Name    []byte
	Pending uint64
}

// PendingSummary is XPENDING's reply without a range.
type PendingSummary struct {
	Count       uint64
	First, Last StreamID
	Consumers   []ConsumerPending // with at least one pending entry, by name
}

// XPendingSummary reports a group's pending list.
func (t *Txn) XPendingSummary(key, group []byte) (*PendingSummary, error) {
	s, g, err := t.streamGroup(key, group, ErrNoKeyOrGroup(key, group))
	if err != nil {
		return nil, err
	}
	sum := &PendingSummary{Count: g.Pending}
	if g.Pending == 0 {
		return sum, nil
	}
	lo, hi := s.groupRange(encoding.StreamPELKind, g.ID)
	base := len(lo)
	it, err := t.iter(encoding.AppendStreamID(lo, g.PELFloor), hi)
	if err != nil {
		return nil, err
	}
	if it.First() {
		sum.First, _ = encoding.DecodeStreamID(it.Key()[base:])
	}
	if it.Last() {
		sum.Last, _ = encoding.DecodeStreamID(it.Key()[base:])
	}
	if err := it.Close(); err != nil {
		return nil, err
	}
	err = s.eachConsumer(g.ID, func(name []byte, c *encoding.StreamConsumer) error {
		if c.Pending > 0 {
			sum.Consumers = append(sum.Consumers, ConsumerPending{Name: t.keep(name), Pending: c.Pending})
		}
		return nil
	})
	return sum, err
}

// eachConsumer calls fn with each consumer of group gid, by name.
func (s *stream) eachConsumer(gid uint64, fn func(name []byte, c *encoding.StreamConsumer) error) error {
	lo, hi := s.groupRange(encoding.StreamConsumerKind, gid)
	var c encoding.StreamConsumer
	return s.eachRecord(lo, hi, func(k, v []byte) error {
		if err := encoding.DecodeStreamConsumer(v, &c); err != nil {
			return corruptf("stream consumer of %q: %v", s.key, err)
		}
		return fn(k[len(lo):], &c)
	})
}

// XPendingArgs are XPENDING's range form.
type XPendingArgs struct {
	Start, End StreamID
	Count      int64
	MinIdle    int64
	Consumer   []byte // nil: the whole group
}

// XPendingRange lists pending entries in [Start, End], at most Count, idle at least MinIdle
// ms, of one consumer or of the whole group.
func (t *Txn) XPendingRange(key, group []byte, a *XPendingArgs) ([]PendingEntry, error) {
	s, g, err := t.streamGroup(key, group, ErrNoKeyOrGroup(key, group))
	if err != nil {
		return nil, err
	}
	if a.Consumer != nil {
		c, err := s.consumer(g, a.Consumer, false)
		if err != nil || c == nil {
			return nil, err
		}
	}
	if a.Count <= 0 || a.End.Less(a.Start) {
		return nil, nil
	}
	var lo, hi []byte
	if a.Consumer != nil {
		lo, _ = s.cpelRange(g.ID, a.Consumer)
	} else {
		lo, _ = s.groupRange(encoding.StreamPELKind, g.ID)
		a.Start = pelFrom(g, a.Start)
	}
	base := len(lo)
	hi = encoding.AppendStreamID(append([]byte(nil), lo...), a.End)
	hi = append(hi, 0) // inclusive end
	lo = encoding.AppendStreamID(lo, a.Start)
	var out []PendingEntry
	var p encoding.StreamPending
	it, err := t.iter(lo, hi)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	for ok := it.First(); ok && int64(len(out)) < a.Count; ok = it.Next() {
		id, err := encoding.DecodeStreamID(it.Key()[base:])
		if err != nil {
			return nil, corruptf("stream pending key of %q", key)
		}
		if a.Consumer != nil {
			if _, err := s.getPending(g.ID, id, &p); err != nil {
				return nil, err
			}
		} else {
			v, err := it.ValueAndErr()
			if err == nil {
				err = encoding.DecodeStreamPending(v, &p)
			}
			if err != nil {
				return nil, corruptf("stream pending entry of %q: %v", key, err)
			}
		}
		if a.MinIdle > 0 && t.now-p.DeliveryTime < a.MinIdle {
			continue
		}
		out = append(out, PendingEntry{ID: id, Consumer: t.keep(p.Consumer),
			DeliveryTime: p.DeliveryTime, DeliveryCount: p.DeliveryCount})
	}
	return out, nil
}

// ---- XCLAIM and XAUTOCLAIM ----

// XClaimArgs are XCLAIM's arguments after the consumer.
type XClaimArgs struct {
	MinIdle      int64
	IDs          []StreamID
	DeliveryTime int64 // unix ms; -1: now
	RetryCount   int64 // -1: not given
	Force        bool
	JustID       bool
	LastID       StreamID
}

// XClaim gives the pending entries ids idle at least MinIdle to consumer, as XCLAIM does, and
// calls fn with each claimed entry (fv is nil with JustID). Pending entries whose stream entry
// was deleted are dropped from the pending lists.
func (t *Txn) XClaim(key, group, consumer []byte, a *XClaimArgs, fn func(id StreamID, fv [][]byte) error) error {
	s, g, err := t.streamGroup(key, group, ErrNoKeyOrGroup(key, group))
	if err != nil {
		return err
	}
	defer s.save()
	now := t.now
	if g.LastID.Less(a.LastID) {
		g.LastID = a.LastID
	}
	deliveryTime := a.DeliveryTime
	if deliveryTime < 0 || deliveryTime > now {
		deliveryTime = now
	}
	// As in Redis 7.0, the consumer is looked up (and created) at the first entry it claims.
	var c *consumerState
	claimer := func() error {
		if c == nil {
			var err error
			if c, err = s.consumer(g, consumer, true); err != nil {
				return err
			}
			c.rec.SeenTime, c.dirty = now, true
		}
		return nil
	}
	var p encoding.StreamPending
	for _, id := range a.IDs {
		had, err := s.getPending(g.ID, id, &p)
		if err != nil {
			return err
		}
		fv, exists, err := s.getEntry(id)
		if err != nil {
			return err
		}
		if !exists {
			if had {
				if err := s.dropPending(g, id, p.Consumer); err != nil {
					return err
				}
			}
			continue
		}
		if !had {
			if !a.Force {
				continue
			}
			if err := claimer(); err != nil {
				return err
			}
			// A new pending entry with no owner yet, as Redis's FORCE creates it.
			p = encoding.StreamPending{DeliveryTime: now, DeliveryCount: 1}
			g.Pending++
			pendingAdded(g, id)
			c.rec.Pending++
			c.dirty = true
			s.m.Count += 2
			s.dirty = true
		} else {
			if a.MinIdle > 0 && now-p.DeliveryTime < a.MinIdle {
				continue
			}
			if err := claimer(); err != nil {
				return err
			}
			if !bytes.Equal(p.Consumer, c.name) {
				if err := s.movePending(g, id, p.Consumer, c); err != nil {
					return err
				}
			}
		}
		p.DeliveryTime = deliveryTime
		if a.RetryCount >= 0 {
			p.DeliveryCount = uint64(a.RetryCount)
		} else if !a.JustID {
			p.DeliveryCount++
		}
		p.Consumer = c.name
		s.putPending(g.ID, id, &p)
		s.t.set(s.cpelKey(g.ID, c.name, id), nil)
		c.rec.ActiveTime, c.dirty = now, true
		if a.JustID {
			fv = nil
		}
		if err := fn(id, fv); err != nil {
			return err
		}
	}
	s.putGroup(group, g)
	return nil
}

// XAutoClaim claims up to count pending entries from start on that are idle at least minIdle,
// as XAUTOCLAIM does (trying at most 10 times count entries). It returns the cursor for the
// next call (0-0 at the end) and the IDs of pending entries it dropped because their stream
// entry was deleted.
func (t *Txn) XAutoClaim(key, group, consumer []byte, minIdle int64, start StreamID, count int64, justID bool, fn func(id StreamID, fv [][]byte) error) (StreamID, []StreamID, error) {
	s, g, err := t.streamGroup(key, group, ErrNoKeyOrGroup(key, group))
	if err != nil {
		return StreamID{}, nil, err
	}
	defer s.save()
	var c *consumerState // loaded at the first entry claimed, as in Redis 7.0
	lo, hi := s.groupRange(encoding.StreamPELKind, g.ID)
	base := len(lo)
	lo = encoding.AppendStreamID(lo, pelFrom(g, start))
	it, err := t.iter(lo, hi)
	if err != nil {
		return StreamID{}, nil, err
	}
	// The iterator reads the pending list as it was when the command began; the changes below go
	// to records it has already passed.
	var deleted []StreamID
	attempts := count * 10
	started, ok := false, false
	for attempts > 0 && count > 0 {
		if started {
			ok = it.Next()
		} else {
			ok, started = it.First(), true
		}
		if !ok {
			break
		}
		attempts--
		v, err := it.ValueAndErr()
		if err == nil {
			err = s.autoClaimOne(g, &c, consumer, it.Key()[base:], v, minIdle, justID, &deleted, &count, fn)
		}
		if err != nil {
			it.Close()
			return StreamID{}, nil, err
		}
	}
	// The cursor is the pending entry after the last one examined.
	if !started {
		ok = it.First()
	} else if ok {
		ok = it.Next()
	}
	var next StreamID
	if ok {
		next, _ = encoding.DecodeStreamID(it.Key()[base:])
	}
	if err := it.Close(); err != nil {
		return StreamID{}, nil, err
	}
	s.putGroup(group, g)
	return next, deleted, nil
}

// autoClaimOne is XAUTOCLAIM's step on one pending entry (its ID and record).
func (s *stream) autoClaimOne(g *encoding.StreamGroup, cp **consumerState, consumer, idb, v []byte, minIdle int64,
	justID bool, deleted *[]StreamID, count *int64, fn func(id StreamID, fv [][]byte) error) error {
	var p encoding.StreamPending
	id, err := encoding.DecodeStreamID(idb)
	if err == nil {
		err = encoding.DecodeStreamPending(s.t.keep(v), &p)
	}
	if err != nil {
		return corruptf("stream pending entry of %q: %v", s.key, err)
	}
	fv, exists, err := s.getEntry(id)
	if err != nil {
		return err
	}
	if !exists {
		*deleted = append(*deleted, id)
		*count--
		return s.dropPending(g, id, p.Consumer)
	}
	now := s.t.now
	if minIdle > 0 && now-p.DeliveryTime < minIdle {
		return nil
	}
	c := *cp
	if c == nil {
		if c, err = s.consumer(g, consumer, true); err != nil {
			return err
		}
		c.rec.SeenTime, c.dirty = now, true
		*cp = c
	}
	if !bytes.Equal(p.Consumer, c.name) {
		if err := s.movePending(g, id, p.Consumer, c); err != nil {
			return err
		}
	}
	p.DeliveryTime = now
	if !justID {
		p.DeliveryCount++
	}
	p.Consumer = c.name
	s.putPending(g.ID, id, &p)
	s.t.set(s.cpelKey(g.ID, c.name, id), nil)
	c.rec.ActiveTime, c.dirty = now, true
	*count--
	if justID {
		fv = nil
	}
	return fn(id, fv)
}

// ---- XINFO ----

// GroupInfo is one group as XINFO GROUPS reports it.
type GroupInfo struct {
	Name        []byte
	Consumers   uint64
	Pending     uint64
	LastID      StreamID
	EntriesRead int64 // EntriesReadUnknown: nil
	Lag         int64
	LagKnown    bool
}

// eachGroup calls fn with each group, by name.
func (s *stream) eachGroup(fn func(name []byte, g *encoding.StreamGroup) error) error {
	lo := append(append([]byte(nil), s.prefix...), encoding.StreamGroupKind)
	var g encoding.StreamGroup
	return s.eachRecord(lo, encoding.PrefixEnd(nil, lo), func(k, v []byte) error {
		if err := encoding.DecodeStreamGroup(v, &g); err != nil {
			return corruptf("stream group of %q: %v", s.key, err)
		}
		return fn(s.t.keep(k[len(lo):]), &g)
	})
}

func (s *stream) groupInfo(name []byte, g *encoding.StreamGroup) GroupInfo {
	gi := GroupInfo{Name: name, Consumers: g.Consumers, Pending: g.Pending, LastID: g.LastID,
		EntriesRead: g.EntriesRead}
	gi.Lag, gi.LagKnown = s.lag(g)
	return gi
}

// XInfoGroups lists the groups of the stream at key (ErrNoSuchKey when missing).
func (t *Txn) XInfoGroups(key []byte) ([]GroupInfo, error) {
	s, err := t.streamFor(key, false)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, ErrNoSuchKey
	}
	var out []GroupInfo
	err = s.eachGroup(func(name []byte, g *encoding.StreamGroup) error {
		out = append(out, s.groupInfo(name, g))
		return nil
	})
	return out, err
}

// ConsumerInfo is one consumer as XINFO CONSUMERS reports it.
type ConsumerInfo struct {
	Name    []byte
	Pending uint64
	Idle    int64 // ms since last seen
}

// XInfoConsumers lists the consumers of group.
func (t *Txn) XInfoConsumers(key, group []byte) ([]ConsumerInfo, error) {
	s, err := t.streamFor(key, false)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, ErrNoSuchKey
	}
	var g encoding.StreamGroup
	ok, err := s.getGroup(group, &g)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrNoGroupForKey(group, key)
	}
	var out []ConsumerInfo
	err = s.eachConsumer(g.ID, func(name []byte, c *encoding.StreamConsumer) error {
		out = append(out, ConsumerInfo{Name: t.keep(name), Pending: c.Pending, Idle: max(t.now-c.SeenTime, 0)})
		return nil
	})
	return out, err
}

// fullGroups is the groups part of XINFO STREAM FULL; count bounds each pending list (0: all).
func (s *stream) fullGroups(count int64) ([]StreamGroupFull, error) {
	var out []StreamGroupFull
	err := s.eachGroup(func(name []byte, g *encoding.StreamGroup) error {
		gf := StreamGroupFull{GroupInfo: s.groupInfo(name, g)}
		gid := g.ID
		lo, hi := s.groupRange(encoding.StreamPELKind, gid)
		lo = encoding.AppendStreamID(lo, g.PELFloor)
		if err := s.eachPending(lo, hi, count, func(e PendingEntry) { gf.PEL = append(gf.PEL, e) }); err != nil {
			return err
		}
		err := s.eachConsumer(gid, func(cname []byte, c *encoding.StreamConsumer) error {
			cf := StreamConsumerFull{Name: s.t.keep(cname), SeenTime: c.SeenTime, Pending: c.Pending}
			lo, hi := s.cpelRange(gid, cname)
			var ids []StreamID
			if err := s.eachID(lo, hi, func(id StreamID) (bool, error) {
				ids = append(ids, id)
				return count <= 0 || int64(len(ids)) < count, nil
			}); err != nil {
				return err
			}
			var p encoding.StreamPending
			for _, id := range ids {
				if _, err := s.getPending(gid, id, &p); err != nil {
					return err
				}
				cf.PEL = append(cf.PEL, PendingEntry{ID: id, Consumer: cf.Name,
					DeliveryTime: p.DeliveryTime, DeliveryCount: p.DeliveryCount})
			}
			gf.Consumers = append(gf.Consumers, cf)
			return nil
		})
		if err != nil {
			return err
		}
		out = append(out, gf)
		return nil
	})
	return out, err
}

// eachPending calls fn with the group pending records in [lo, hi), at most count (0: all).
func (s *stream) eachPending(lo, hi []byte, count int64, fn func(PendingEntry)) error {
	var p encoding.StreamPending
	var n int64
	return s.eachRecord(lo, hi, func(k, v []byte) error {
		if count > 0 && n >= count {
			return errStopScan
		}
		if len(k) < 16 || encoding.DecodeStreamPending(v, &p) != nil {
			return corruptf("stream pending entry of %q", s.key)
		}
		id, _ := encoding.DecodeStreamID(k[len(k)-16:])
		fn(PendingEntry{ID: id, Consumer: s.t.keep(p.Consumer), DeliveryTime: p.DeliveryTime,
			DeliveryCount: p.DeliveryCount})
		n++
		return nil
	})
}
