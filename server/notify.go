// Keyspace notifications: the rule for command handlers.
//
// A handler that changes data reports each change, after the engine call succeeded and in
// the order Redis 7.0's command calls notifyKeyspaceEvent, with x.Notify(class, event, key)
// (x.NotifyIn for another database); class is a conf.Notify* bit and event Redis's name
// ("set", "lpush", "zadd", "xadd" ...). A collection the command emptied and deleted reports
// "del" after its own event (x.NotifyDeleted(key) checks and reports it). The dispatcher
// publishes the events once the change is committed, before the key locks are released
// (EXEC and scripts: once theirs is); nothing is published for a command that failed. The
// "new" event (class n) of a key the command created is added by the dispatcher before the
// first event reported on that key; a command that creates a key before reporting events on
// other keys (RENAME, MOVE) places it with x.NotifyNew(key). "expired" comes from the engine.
// Strata's eviction drops only cached copies, never keys, so "evicted" never fires.
// Notify costs one atomic load when notifications are off.

package server

import (
	"bytes"
	"strconv"

	"github.com/stratadb/strata/conf"
	"github.com/stratadb/strata/engine"
)

// notifyState is what one client's command reported, waiting for its commit, and where
// notifications for the client itself go in its replies. Connection goroutine only.
type notifyState struct {
	events  []keyEvent
	keys    []byte // the events' keys, back to back
	mark    int    // where this command's reply starts: messages for the client go before it
	flushed bool   // FLUSHDB or FLUSHALL ran: tracking clients get a null invalidation
}

type keyEvent struct {
	db         int
	class      int
	name       string
	start, end int // the key in notifyState.keys
}

// reset forgets the events of a command (after publishing them, or when it did not commit).
func (n *notifyState) reset() {
	n.events = n.events[:0]
	if cap(n.keys) > 64<<10 {
		n.keys = nil
	}
	n.keys = n.keys[:0]
	n.flushed = false
}

// Notify reports a keyspace event of class (a conf.Notify* bit) on key in the command's
// database. See the rule at the top of this file.
func (x *Ctx) Notify(class int, event string, key []byte) {
	x.NotifyIn(x.commandDB(), class, event, key)
}

// NotifyIn reports a keyspace event on key in database db.
func (x *Ctx) NotifyIn(db, class int, event string, key []byte) {
	flags := int(x.s.notifyFlags.Load())
	// An event whose class is off is still kept when "new" is on: it places the "new".
	if flags&(conf.NotifyKeyspace|conf.NotifyKeyevent) == 0 || flags&(class|conf.NotifyNew) == 0 {
		return
	}
	n := &x.notes
	start := len(n.keys)
	n.keys = append(n.keys, key...)
	n.events = append(n.events, keyEvent{db: db, class: class, name: event, start: start, end: len(n.keys)})
}

// NotifyNew places the "new" event of key here when the command created it (RENAME, MOVE:
// the key is created before the events on the source).
func (x *Ctx) NotifyNew(key []byte) { x.NotifyNewIn(x.commandDB(), key) }

// NotifyNewIn is NotifyNew for database db.
func (x *Ctx) NotifyNewIn(db int, key []byte) { x.NotifyIn(db, conf.NotifyNew, "new", key) }

// NotifyDeleted reports "del" for key when the command removed it (a collection it emptied).
// It costs a lookup only when generic events are on.
func (x *Ctx) NotifyDeleted(key []byte) {
	flags := int(x.s.notifyFlags.Load())
	if flags&conf.NotifyGeneric == 0 || flags&(conf.NotifyKeyspace|conf.NotifyKeyevent) == 0 {
		return
	}
	if ok, err := x.Txn.Exists(key); err == nil && !ok {
		x.Notify(conf.NotifyGeneric, "del", key)
	}
}

// commandDB is the database the command works on (SELECT inside MULTI moves the Txn's).
func (x *Ctx) commandDB() int {
	if x.Txn != nil {
		return x.Txn.DB()
	}
	return x.db
}

// committed is the engine's Committed hook: under the locks of a change just committed, it
// sends the client-side caching invalidations, then the keyspace notifications ("expired"
// of keys the change found expired, then what the command reported, with "new" placed).
func (s *Server) committed(t *engine.Txn) {
	c, _ := t.Owner().(*Client)
	if s.trk.inUse() || (c != nil && c.notes.flushed) {
		s.invalidateChanges(t, c)
	}
	flags := int(s.notifyFlags.Load())
	if flags&(conf.NotifyKeyspace|conf.NotifyKeyevent) != 0 && s.ps.hasListeners(subChannel) {
		if flags&conf.NotifyExpired != 0 {
			t.EachExpired(func(db int, key []byte) { s.keyspaceEvent(c, flags, db, "expired", key) })
		}
		if c != nil && len(c.notes.events) > 0 {
			s.publishEvents(c, t, flags)
		}
	}
	if c != nil {
		c.notes.reset()
	}
}

// createdKey is a key the Txn created, until its "new" event is published.
type createdKey struct {
	db   int
	key  []byte
	done bool
}

// publishEvents publishes the events c's command reported, each "new" before the first
// event on its key.
func (s *Server) publishEvents(c *Client, t *engine.Txn, flags int) {
	var created []createdKey
	if flags&conf.NotifyNew != 0 {
		t.EachTouched(func(db int, key []byte, isNew bool) {
			if isNew {
				created = append(created, createdKey{db: db, key: key})
			}
		})
	}
	for _, e := range c.notes.events {
		key := c.notes.keys[e.start:e.end]
		for i := range created {
			k := &created[i]
			if !k.done && k.db == e.db && bytes.Equal(k.key, key) {
				k.done = true
				s.keyspaceEvent(c, flags, e.db, "new", key)
				break
			}
		}
		if e.class != conf.NotifyNew && flags&e.class != 0 {
			s.keyspaceEvent(c, flags, e.db, e.name, key)
		}
	}
}

// keyspaceEvent publishes one event as Redis's notifyKeyspaceEvent does: "event" on
// __keyspace@<db>__:<key> (K), then "key" on __keyevent@<db>__:<event> (E). Messages for the
// client that caused it go before its reply.
func (s *Server) keyspaceEvent(from *Client, flags, db int, event string, key []byte) {
	var buf [128]byte
	if flags&conf.NotifyKeyspace != 0 {
		ch := appendEventChannel(buf[:0], "__keyspace@", db, key)
		s.publish(from, subChannel, ch, []byte(event), true)
	}
	if flags&conf.NotifyKeyevent != 0 {
		ch := appendEventChannel(buf[:0], "__keyevent@", db, []byte(event))
		s.publish(from, subChannel, ch, key, true)
	}
}

func appendEventChannel(dst []byte, prefix string, db int, name []byte) []byte {
	dst = append(dst, prefix...)
	dst = strconv.AppendInt(dst, int64(db), 10)
	dst = append(dst, "__:"...)
	return append(dst, name...)
}
