// Keyspace notifications: the rule for command handlers (file comment; server.go has the
// package's).
//
// A handler that changes data reports each change, after the engine call succeeded and in
// the order Redis 7.0's command calls notifyKeyspaceEvent, with x.Notify(class, event, key)
// (x.NotifyIn for another database); class is a conf.Notify* bit and event Redis's name
// ("set", "lpush", "zadd", "xadd" ...). A collection the command emptied and deleted reports
// "del" after its own event (x.NotifyDeleted(key) checks and reports it). Report before or
// after writing the reply as Redis does (most commands notify, then reply; HSET, GETSET, the
// STORE commands ... reply first): a RESP3 client subscribed to its own events gets them at
// that point of its replies. The dispatcher publishes the events once the change is
// committed, before the key locks are released (EXEC and scripts: once theirs is); nothing
// is published for a command that failed. The "new" event (class n) of a key the command
// created is added before the first event reported on that key; a command that creates a
// key before reporting events on other keys, or recreates one that existed (RENAME, MOVE,
// COPY ... REPLACE), reports it with x.NotifyNew(key), and one that creates its key, replies,
// then reports (HSET) places it with x.NotifyCreated(key) before its reply. A write command
// that reads other keys (the sources of a STORE, SET ... GET) calls x.NotifyMisses(keys...)
// before its change for "keymiss" (class m); read-only commands get theirs from the
// dispatcher. "expired" comes from the engine. Strata's eviction drops only cached copies,
// never keys, so "evicted" never fires. All of these cost one atomic load when
// notifications are off.

package server

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/stratadb/strata/conf"
	"github.com/stratadb/strata/engine"
)

// notifyState is what one client's command reported, waiting for its commit, and where
// notifications for the client itself go in its replies. Connection goroutine only.
//
// Redis delivers a notification for the client that caused it right where the command stands
// in its reply when it notifies: mostly before the reply, after it for the commands that
// reply first (HSET, GETSET, SINTERSTORE ...). Each event remembers that point (the length of
// the replies when it was reported), so a handler that reports its events and writes its
// reply in Redis's order gets Redis's bytes.
type notifyState struct {
	events  []keyEvent
	keys    []byte // the events' keys, back to back
	mark    int    // where this command's reply starts (-1 outside a command)
	nested  bool   // inside EXEC or a script: events go before the whole reply, at mark
	selfAt  int    // where the next message for the client goes in its replies (-1: the end)
	shift   int    // bytes inserted into the replies so far by this commit's messages
	flushed bool   // FLUSHDB or FLUSHALL ran: tracking clients get a null invalidation
}

type keyEvent struct {
	db         int
	class      int
	name       string
	start, end int // the key in notifyState.keys
	at         int // the replies' length when it was reported (-1: at mark)
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
	at := len(x.out)
	if n.nested {
		at = -1
	}
	n.events = append(n.events, keyEvent{db: db, class: class, name: event, start: start, end: len(n.keys), at: at})
}

// NotifyNew reports "new" for key here, whether or not the engine saw it created: RENAME,
// MOVE and COPY ... REPLACE create their destination (after deleting what was there, in
// Redis) before the events on the source.
func (x *Ctx) NotifyNew(key []byte) { x.NotifyNewIn(x.commandDB(), key) }

// NotifyNewIn is NotifyNew for database db.
func (x *Ctx) NotifyNewIn(db int, key []byte) { x.NotifyIn(db, conf.NotifyNew, "new", key) }

// NotifyCreated places "new" for key here if the command created it: for a command that
// creates its key, writes its reply, then reports its event (HSET), as Redis's "new" comes
// when the key is added.
func (x *Ctx) NotifyCreated(key []byte) { x.NotifyIn(x.commandDB(), conf.NotifyNew, "", key) }

// NotifyDeleted reports "del" for key when it no longer exists: after a command that removed
// elements of a collection, which it deletes when it empties. It costs a lookup only when
// generic events are on.
func (x *Ctx) NotifyDeleted(key []byte) {
	if !x.notifying(conf.NotifyGeneric) {
		return
	}
	if ok, err := x.Txn.Exists(key); err == nil && !ok {
		x.Notify(conf.NotifyGeneric, "del", key)
	}
}

// NotifyMisses reports "keymiss" (class m) for each of keys that does not exist, as Redis's
// read lookups do: a write command calls it before its change for the keys it reads (the
// sources of a STORE, the key of SET ... GET); read-only commands get theirs from the
// dispatcher. It costs a lookup per key only when class m is on.
func (x *Ctx) NotifyMisses(keys ...[]byte) {
	if !x.missesOn() {
		return
	}
	for _, k := range keys {
		if ok, err := x.Txn.Exists(k); err == nil && !ok {
			x.Notify(conf.NotifyKeyMiss, "keymiss", k)
		}
	}
}

// notifyReadMisses reports the key misses of a read-only command once it has run (placed
// before its reply, where Redis's lookups put them). OBJECT looks its key up without
// notifying, as in Redis.
func (x *Ctx) notifyReadMisses(mark int) {
	cmd := x.Cmd
	if !x.missesOn() || !cmd.Has(FlagReadonly) || strings.HasPrefix(cmd.Name, "object|") {
		return
	}
	from := len(x.notes.events)
	for _, i := range cmd.KeyPositions(x.Args) {
		x.NotifyMisses(x.Args[i])
	}
	for i := from; i < len(x.notes.events); i++ {
		if x.notes.events[i].at >= 0 {
			x.notes.events[i].at = mark
		}
	}
}

// missesOn says whether "keymiss" events are published (they never place a "new").
func (x *Ctx) missesOn() bool {
	flags := int(x.s.notifyFlags.Load())
	return flags&(conf.NotifyKeyspace|conf.NotifyKeyevent) != 0 && flags&conf.NotifyKeyMiss != 0
}

// notifying says whether events of class are published (or "new", which they place).
func (x *Ctx) notifying(class int) bool {
	flags := int(x.s.notifyFlags.Load())
	return flags&(conf.NotifyKeyspace|conf.NotifyKeyevent) != 0 && flags&(class|conf.NotifyNew) != 0
}

// delWatch is for commands that may delete a key that may not exist (a store command with an
// empty result): watchDel notes whether it exists before, reportDel reports "del" when the
// command removed it.
type delWatch struct {
	key     []byte
	existed bool
}

func (x *Ctx) watchDel(key []byte) delWatch {
	w := delWatch{key: key}
	if x.notifying(conf.NotifyGeneric) {
		w.existed, _ = x.Txn.Exists(key)
	}
	return w
}

func (x *Ctx) reportDel(w delWatch) {
	if w.existed {
		if ok, err := x.Txn.Exists(w.key); err == nil && !ok {
			x.Notify(conf.NotifyGeneric, "del", w.key)
		}
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
		if c != nil {
			c.notes.shift = 0
		}
		if flags&conf.NotifyExpired != 0 {
			t.EachExpired(func(db int, key []byte) {
				c.placeSelf(-1)
				s.keyspaceEvent(c, flags, db, "expired", key)
			})
		}
		if c != nil && len(c.notes.events) > 0 {
			s.publishEvents(c, t, flags)
		}
	}
	if c != nil {
		c.notes.selfAt = -1
		c.notes.reset()
	}
}

// placeSelf sets where the next message for the client goes: at the replies' length at (-1:
// at the command's reply start), moved by what this commit inserted before it.
func (c *Client) placeSelf(at int) {
	if c == nil {
		return
	}
	if at < 0 {
		at = c.notes.mark
	}
	if at < 0 {
		c.notes.selfAt = -1
		return
	}
	c.notes.selfAt = at + c.notes.shift
}

// createdKey is a key the Txn created, until its "new" event is published.
type createdKey struct {
	db   int
	key  []byte
	done bool
}

// publishEvents publishes the events c's command reported, with the "new" of each key the
// Txn created before the first event on it (unless the command reported it itself).
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
		c.placeSelf(e.at)
		placeholder := e.class == conf.NotifyNew && e.name == ""
		if e.class != conf.NotifyKeyMiss { // a miss comes before the key is created
			for i := range created {
				k := &created[i]
				if !k.done && k.db == e.db && bytes.Equal(k.key, key) {
					k.done = true
					if e.class != conf.NotifyNew || placeholder {
						s.keyspaceEvent(c, flags, e.db, "new", key)
					}
					break
				}
			}
		}
		if flags&e.class != 0 && !placeholder {
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
