package persist

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/stratadb/strata/encoding"
	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/rdb"
)

// EventSource is a dump as a stream of events: an *rdb.Reader, or anything that pulls events
// the same way (Next returns io.EOF after the end).
type EventSource interface {
	Next() (rdb.Event, error)
}

// offsetReporter is a source that knows how many bytes it consumed (*rdb.Reader does).
type offsetReporter interface {
	Offset() int64
}

// typeFromRDB maps package rdb's types to the engine's (module values have no counterpart).
func typeFromRDB(t rdb.ValueType) encoding.Type {
	switch t {
	case rdb.TypeString:
		return encoding.TypeString
	case rdb.TypeList:
		return encoding.TypeList
	case rdb.TypeSet:
		return encoding.TypeSet
	case rdb.TypeZSet:
		return encoding.TypeZSet
	case rdb.TypeHash:
		return encoding.TypeHash
	case rdb.TypeStream:
		return encoding.TypeStream
	}
	return encoding.TypeNone
}

// ErrNotImportable means a dump holds a key the engine cannot hold.
var ErrNotImportable = errors.New("persist: value cannot be imported")

// importElement passes one element of the current key to im.
func importElement(im *engine.KeyImporter, ev *rdb.Event) error {
	switch ev.Kind {
	case rdb.KindString:
		return im.String(ev.Value)
	case rdb.KindListItem:
		return im.ListItem(ev.Value)
	case rdb.KindSetMember:
		return im.SetMember(ev.Value)
	case rdb.KindHashField:
		return im.HashField(ev.Field, ev.Value)
	case rdb.KindZSetMember:
		return im.ZSetMember(ev.Value, ev.Score)
	case rdb.KindStreamEntry:
		return im.StreamEntry(engine.StreamID(ev.StreamID), ev.Fields)
	case rdb.KindStreamMeta:
		m := &ev.Stream
		return im.StreamMeta(engine.StreamMeta{Length: m.Length, LastID: engine.StreamID(m.LastID),
			FirstID: engine.StreamID(m.FirstID), MaxDeletedID: engine.StreamID(m.MaxDeletedID), EntriesAdded: m.EntriesAdded})
	case rdb.KindStreamGroup:
		g := &ev.Group
		return im.StreamGroup(engine.StreamGroupMeta{Name: g.Name, LastID: engine.StreamID(g.LastID), EntriesRead: g.EntriesRead})
	case rdb.KindStreamPending:
		p := &ev.Pending
		return im.StreamPending(engine.PendingEntry{ID: engine.StreamID(p.ID), DeliveryTime: p.DeliveryTime,
			DeliveryCount: p.DeliveryCount})
	case rdb.KindStreamConsumer:
		c := &ev.Consumer
		ids := make([]engine.StreamID, len(c.Pending))
		for i, id := range c.Pending {
			ids[i] = engine.StreamID(id)
		}
		return im.StreamConsumer(engine.StreamConsumerMeta{Name: c.Name, SeenTime: c.SeenTime,
			ActiveTime: c.ActiveTime, Pending: ids})
	}
	return fmt.Errorf("%w: %s event", ErrNotImportable, ev.Kind)
}

// LoadOptions tune Load.
type LoadOptions struct {
	// Select, when set, decides which keys are loaded (the others are read and dropped).
	Select func(db int, key []byte, typ rdb.ValueType) bool
	// Now is the time (unix ms) before which a key's expiry means it is dropped, as Redis drops
	// expired keys when it loads a dump; 0 means the time Load starts, -1 keeps expired keys.
	Now int64
	// Progress, when set, is called about every progressEvents events and at the end with the
	// bytes consumed (when the source reports them) and the keys loaded.
	Progress func(bytes, keys int64)
	// Aux, when set, is given the dump's auxiliary fields (redis-ver, used-mem ...).
	Aux func(field, value []byte)
}

// LoadStats report what Load did.
type LoadStats struct {
	Keys     int64 // keys created
	Expired  int64 // keys dropped because their time had come
	Filtered int64 // keys not selected
	Empty    int64 // collections without elements (Redis skips them too)
	// Modules and Functions count module values and function libraries, which are skipped.
	Modules, Functions int64
	// FieldTTLs counts hash field expiries (RDB 12) dropped: Strata hashes have none.
	FieldTTLs int64
	Bytes     int64 // bytes of the source consumed, when it reports them
}

const progressEvents = 1 << 14

// Load imports every selected key of src into l. It does not finish l.
func Load(ctx context.Context, src EventSource, l *engine.Loader, o LoadOptions) (LoadStats, error) {
	var st LoadStats
	now := o.Now
	if now == 0 {
		now = time.Now().UnixMilli()
	}
	off, _ := src.(offsetReporter)
	report := func() {
		if off != nil {
			st.Bytes = off.Offset()
		}
		if o.Progress != nil {
			o.Progress(st.Bytes, st.Keys)
		}
	}
	var (
		im      *engine.KeyImporter
		inKey   bool
		keyName []byte
		keyDB   int
	)
	fail := func(err error) (LoadStats, error) {
		if im != nil {
			im.Discard()
		}
		if inKey {
			err = fmt.Errorf("key %q (db %d): %w", keyName, keyDB, err)
		}
		return st, err
	}
	for events := 1; ; events++ {
		ev, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fail(err)
		}
		if events%progressEvents == 0 {
			if err := ctx.Err(); err != nil {
				return fail(err)
			}
			report()
		}
		switch ev.Kind {
		case rdb.KindKey:
			inKey, keyDB = true, ev.DB
			keyName = append(keyName[:0], ev.Key...)
			typ := typeFromRDB(ev.Header.Type)
			switch {
			case now >= 0 && ev.Header.ExpireAt != 0 && ev.Header.ExpireAt <= now:
				st.Expired++
			case o.Select != nil && !o.Select(ev.DB, ev.Key, ev.Header.Type):
				st.Filtered++
			default:
				if im, err = l.Key(ev.DB, ev.Key, typ, ev.Header.ExpireAt); err != nil {
					return fail(err)
				}
			}
		case rdb.KindEndKey:
			if im != nil {
				created, err := im.Finish()
				im = nil
				if err != nil {
					return fail(err)
				}
				if created {
					st.Keys++
				} else {
					st.Empty++
				}
			}
			inKey = false
		case rdb.KindModuleSkipped:
			if ev.Key != nil {
				st.Modules++
			}
		case rdb.KindFunction:
			st.Functions++
		case rdb.KindAux:
			if o.Aux != nil {
				o.Aux(ev.Field, ev.Value)
			}
		case rdb.KindSelectDB, rdb.KindResizeDB, rdb.KindSlotInfo, rdb.KindEOF:
		default:
			if im == nil {
				continue // an element of a key that is not loaded
			}
			if ev.Kind == rdb.KindHashField && ev.ExpireAt != 0 {
				if ev.ExpireAt <= now {
					continue // the field had expired
				}
				st.FieldTTLs++
			}
			if err := importElement(im, &ev); err != nil {
				return fail(err)
			}
		}
	}
	report()
	return st, nil
}
