package engine

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/stratadb/strata/encoding"
)

// Streams leave and enter the engine in the order an RDB file holds them (package rdb's stream
// events): the entries in ID order, then the stream's metadata, then each group followed by its
// pending entries and its consumers, each consumer with the IDs of the pending entries it owns.

// StreamMeta is a stream's state besides its entries (rdb.StreamMeta).
type StreamMeta struct {
	Length       uint64
	LastID       StreamID
	FirstID      StreamID
	MaxDeletedID StreamID
	EntriesAdded uint64
}

// StreamGroupMeta is a consumer group's header (rdb.StreamGroup).
type StreamGroupMeta struct {
	Name        []byte
	LastID      StreamID
	EntriesRead int64 // EntriesReadUnknown when unknown
}

// StreamConsumerMeta is one consumer (rdb.StreamConsumer).
type StreamConsumerMeta struct {
	Name       []byte
	SeenTime   int64 // unix ms
	ActiveTime int64 // unix ms, -1 when unknown
	Pending    []StreamID
}

// StreamVisitor receives an exported stream. Byte slices are valid only during the call.
type StreamVisitor interface {
	StreamEntry(id StreamID, fv [][]byte) error
	StreamMeta(m StreamMeta) error
	StreamGroup(g StreamGroupMeta) error
	// StreamPending is one entry of the current group's pending list (Consumer is its owner,
	// for information: the owner's StreamConsumer lists it again).
	StreamPending(p PendingEntry) error
	StreamConsumer(c StreamConsumerMeta) error
}

// ExportStream walks the stream at key for an exporter, in RDB order. It reports false when the
// key does not hold a live value (ErrWrongType for another type). The stream is read with
// bounded scans; only one consumer's pending IDs are held at a time.
func (t *Txn) ExportStream(key []byte, v StreamVisitor) (bool, error) {
	s, err := t.streamFor(key, false)
	if err != nil || s == nil {
		return false, err
	}
	err = s.scan(StreamID{}, encoding.MaxStreamID, false, 0, func(id StreamID, fv [][]byte) (bool, error) {
		return true, v.StreamEntry(id, fv)
	})
	if err != nil {
		return false, err
	}
	f := s.f
	if err := v.StreamMeta(StreamMeta{Length: f.Length, LastID: f.LastID, FirstID: f.FirstID,
		MaxDeletedID: f.MaxDeletedID, EntriesAdded: f.EntriesAdded}); err != nil {
		return false, err
	}
	err = s.eachGroup(func(name []byte, g *encoding.StreamGroup) error {
		if err := v.StreamGroup(StreamGroupMeta{Name: name, LastID: g.LastID, EntriesRead: g.EntriesRead}); err != nil {
			return err
		}
		gid := g.ID
		lo, hi := s.groupRange(encoding.StreamPELKind, gid)
		lo = encoding.AppendStreamID(lo, g.PELFloor)
		var verr error
		err := s.eachPending(lo, hi, 0, func(p PendingEntry) {
			if verr == nil {
				verr = v.StreamPending(p)
			}
		})
		if err == nil {
			err = verr
		}
		if err != nil {
			return err
		}
		return s.eachConsumer(gid, func(cname []byte, c *encoding.StreamConsumer) error {
			cm := StreamConsumerMeta{Name: cname, SeenTime: c.SeenTime, ActiveTime: c.ActiveTime}
			lo, hi := s.cpelRange(gid, cname)
			if err := s.eachID(lo, hi, func(id StreamID) (bool, error) {
				cm.Pending = append(cm.Pending, id)
				return true, nil
			}); err != nil {
				return err
			}
			return v.StreamConsumer(cm)
		})
	})
	return err == nil, err
}

// ErrStreamImport is returned for stream parts that do not fit together (entries out of
// order, a pending entry no consumer owns ...): the source is corrupt.
var ErrStreamImport = errors.New("engine: inconsistent stream")

func importErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrStreamImport, fmt.Sprintf(format, args...))
}

// importBatchBytes is the size at which an import's direct batch is written out.
const importBatchBytes = 4 << 20

// StreamImporter builds a stream from the parts an exporter produced (package rdb's events),
// with the exact IDs, metadata, groups, pending entries (delivery times and counts) and
// consumers (seen and active times). Feed it the parts in RDB order, then Finish (or Discard).
//
// A stream of any size imports with bounded memory: its subkeys go straight to Pebble in
// bounded batches under a new version that nothing points at, guarded by a sweep record, and
// Finish writes the metadata through the Txn (whose commit makes the stream appear at once and
// drops the guard). If the process dies before that commit, the sweeper removes the partial
// version. Only the current group's pending entries not yet claimed by a consumer are held in
// memory.
type StreamImporter struct {
	t      *Txn
	key    []byte
	old    keyState
	m      encoding.Meta
	f      encoding.StreamFields
	prefix []byte
	b      *pebble.Batch
	seq    uint64
	guard  []byte

	entries  uint64
	node     encoding.StreamNode
	master   StreamID
	haveNode bool
	metaSeen bool

	group    []byte
	g        encoding.StreamGroup
	pending  map[StreamID]encoding.StreamPending
	inGroup  bool
	floorSet bool

	kb, vb []byte
	err    error
	done   bool
}

// ImportStream starts replacing whatever key holds with an imported stream expiring at expireAt
// (unix ms, 0 = never). The Txn must hold key's write lock (or the global latch).
func (t *Txn) ImportStream(key []byte, expireAt int64) (*StreamImporter, error) {
	ks, err := t.lookup(key)
	if err != nil {
		return nil, err
	}
	im := &StreamImporter{t: t, key: append([]byte(nil), key...), old: ks, m: t.newMeta(encoding.TypeStream)}
	im.m.ExpireAt = expireAt
	im.prefix = encoding.AppendSubPrefix(nil, t.db, key, im.m.Version)
	im.seq = t.e.newVersion()
	im.guard = binary.BigEndian.AppendUint64(encoding.AppendInternalKey(nil, recSweep), im.seq)
	t.e.guardStart(im.seq)
	v := binary.BigEndian.AppendUint16(nil, t.db)
	v = binary.BigEndian.AppendUint64(v, im.m.Version)
	v = binary.BigEndian.AppendUint64(v, 1<<62) // unknown size: swept with one range deletion
	v = append(v, key...)
	if err := t.e.pdb.Set(im.guard, v, pebble.NoSync); err != nil {
		t.e.guardEnd(im.seq)
		return nil, err
	}
	im.b = t.e.pdb.NewBatch()
	return im, nil
}

func (im *StreamImporter) set(member, value []byte) error {
	im.kb = append(append(im.kb[:0], im.prefix...), member...)
	im.b.Set(im.kb, value, nil)
	im.m.Count++
	if im.b.Len() < importBatchBytes {
		return nil
	}
	if err := im.b.Commit(pebble.NoSync); err != nil {
		return err
	}
	im.b.Reset()
	return nil
}

// fail records the first error; every later call returns it.
func (im *StreamImporter) fail(err error) error {
	if im.err == nil {
		im.err = err
	}
	return im.err
}

// Entry adds an entry; IDs must ascend. Entries are placed in nodes as XADD would place them.
func (im *StreamImporter) Entry(id StreamID, fv [][]byte) error {
	if im.err != nil {
		return im.err
	}
	if im.metaSeen || (im.entries > 0 && id.Compare(im.f.LastID) <= 0) || len(fv)%2 != 0 {
		return im.fail(importErr("entry %s out of order or malformed", id))
	}
	total := 0
	for _, b := range fv {
		total += len(b)
	}
	fresh := !im.haveNode || nodeBytes(&im.node)+uint64(total) >= streamNodeMaxBytes ||
		im.node.Live+im.node.Deleted >= streamNodeMaxEntries
	same := true
	if fresh {
		if err := im.flushNode(); err != nil {
			return im.fail(err)
		}
		if im.f.Nodes == 0 {
			im.f.HeadNode = id
		}
		im.master, im.haveNode = id, true
		im.node = encoding.StreamNode{Fields: masterFields(fv)}
		for i, f := range im.node.Fields {
			im.node.Fields[i] = append([]byte(nil), f...)
		}
		im.node.Bytes = 6 + 1 + lpInt(int64(len(im.node.Fields))) + lpInt(0)
		for _, f := range im.node.Fields {
			im.node.Bytes += lpString(f)
		}
		im.f.Nodes++
		im.f.TailNode = id
	} else {
		same = sameFields(im.node.Fields, fv)
	}
	im.node.Live++
	im.node.Bytes += entryBytes(id, im.master, fv, same)
	im.node.LastID = id
	im.vb = encoding.AppendStreamEntry(im.vb[:0], fv)
	if err := im.set(encoding.AppendStreamMember(nil, encoding.StreamEntryKind, id), im.vb); err != nil {
		return im.fail(err)
	}
	im.entries++
	if im.entries == 1 {
		im.f.FirstID = id
	}
	im.f.LastID = id
	return nil
}

func (im *StreamImporter) flushNode() error {
	if !im.haveNode {
		return nil
	}
	im.haveNode = false
	n := &im.node // the last one flushed is the tail
	im.f.TailNode = im.master
	im.f.TailLive, im.f.TailDeleted, im.f.TailBytes, im.f.TailLastID = n.Live, n.Deleted, n.Bytes, n.LastID
	im.vb = encoding.AppendStreamNode(im.vb[:0], &im.node)
	return im.set(encoding.AppendStreamMember(nil, encoding.StreamNodeKind, im.master), im.vb)
}

// Meta sets the stream's metadata; it follows the entries, whose number must be m.Length.
func (im *StreamImporter) Meta(m StreamMeta) error {
	if im.err != nil {
		return im.err
	}
	if im.metaSeen || m.Length != im.entries || (im.entries > 0 && m.LastID.Less(im.f.LastID)) ||
		m.EntriesAdded < m.Length {
		return im.fail(importErr("metadata of %d entries, last %s, added %d, after %d entries up to %s",
			m.Length, m.LastID, m.EntriesAdded, im.entries, im.f.LastID))
	}
	if err := im.flushNode(); err != nil {
		return im.fail(err)
	}
	im.metaSeen = true
	im.f.Length = m.Length
	im.f.LastID = m.LastID
	// The recorded first ID is, as in Redis, the first live entry: taken from the entries, so that
	// a file with a stale one cannot hide entries from scans (which start there).
	if m.Length == 0 {
		im.f.FirstID = StreamID{}
	}
	im.f.MaxDeletedID = m.MaxDeletedID
	im.f.EntriesAdded = m.EntriesAdded
	return nil
}

// Group starts a consumer group; its pending entries and consumers follow.
func (im *StreamImporter) Group(g StreamGroupMeta) error {
	if im.err != nil {
		return im.err
	}
	if !im.metaSeen {
		return im.fail(importErr("group %q before the stream's metadata", g.Name))
	}
	if err := im.endGroup(); err != nil {
		return im.fail(err)
	}
	im.group = append([]byte(nil), g.Name...)
	im.g = encoding.StreamGroup{ID: im.f.NextGroupID, LastID: g.LastID, EntriesRead: g.EntriesRead}
	im.f.NextGroupID++
	im.pending = map[StreamID]encoding.StreamPending{}
	im.inGroup, im.floorSet = true, false
	return nil
}

// Pending adds an entry to the current group's pending list; a consumer must then claim it.
func (im *StreamImporter) Pending(p PendingEntry) error {
	if im.err != nil {
		return im.err
	}
	if !im.inGroup {
		return im.fail(importErr("pending entry %s outside a group", p.ID))
	}
	if _, dup := im.pending[p.ID]; dup {
		return im.fail(importErr("pending entry %s twice in group %q", p.ID, im.group))
	}
	im.pending[p.ID] = encoding.StreamPending{DeliveryTime: p.DeliveryTime, DeliveryCount: p.DeliveryCount}
	return nil
}

// Consumer adds a consumer of the current group with the pending entries it owns.
func (im *StreamImporter) Consumer(c StreamConsumerMeta) error {
	if im.err != nil {
		return im.err
	}
	if !im.inGroup {
		return im.fail(importErr("consumer %q outside a group", c.Name))
	}
	gid := im.g.ID
	for _, id := range c.Pending {
		p, ok := im.pending[id]
		if !ok {
			return im.fail(importErr("consumer %q of group %q owns %s, which is not pending", c.Name, im.group, id))
		}
		delete(im.pending, id)
		if !im.floorSet || id.Less(im.g.PELFloor) {
			im.g.PELFloor, im.floorSet = id, true
		}
		if im.g.PELCeil.Less(id) {
			im.g.PELCeil = id
		}
		p.Consumer = c.Name
		im.vb = encoding.AppendStreamPending(im.vb[:0], &p)
		if err := im.set(encoding.AppendStreamID(encoding.AppendStreamGroupPrefix(nil, encoding.StreamPELKind, gid), id), im.vb); err != nil {
			return im.fail(err)
		}
		if err := im.set(encoding.AppendStreamID(encoding.AppendStreamCPELPrefix(nil, gid, c.Name), id), nil); err != nil {
			return im.fail(err)
		}
	}
	n := uint64(len(c.Pending))
	im.g.Pending += n
	im.g.Consumers++
	im.vb = encoding.AppendStreamConsumer(im.vb[:0], &encoding.StreamConsumer{SeenTime: c.SeenTime,
		ActiveTime: c.ActiveTime, Pending: n})
	if err := im.set(encoding.AppendStreamConsumerMember(nil, gid, c.Name), im.vb); err != nil {
		return im.fail(err)
	}
	return nil
}

func (im *StreamImporter) endGroup() error {
	if !im.inGroup {
		return nil
	}
	im.inGroup = false
	if len(im.pending) > 0 {
		return importErr("group %q has %d pending entries no consumer owns", im.group, len(im.pending))
	}
	im.f.Groups++
	im.vb = encoding.AppendStreamGroup(im.vb[:0], &im.g)
	return im.set(encoding.AppendStreamGroupMember(nil, im.group), im.vb)
}

// Finish writes the stream's metadata through the Txn; the stream appears when it commits.
func (im *StreamImporter) Finish() error {
	if im.done {
		return errors.New("engine: stream import already finished")
	}
	if im.err == nil && !im.metaSeen {
		im.fail(importErr("no metadata"))
	}
	if im.err == nil {
		if err := im.endGroup(); err != nil {
			im.fail(err)
		}
	}
	if im.err == nil {
		if err := im.b.Commit(pebble.NoSync); err != nil {
			im.fail(err)
		}
	}
	if im.err != nil {
		im.Discard()
		return im.err
	}
	im.done = true
	im.b.Close()
	t := im.t
	im.m.Rest = encoding.AppendStreamFields(nil, &im.f)
	t.putMeta(im.key, &im.old, &im.m)
	t.del(im.guard)
	t.guards = append(t.guards, im.seq) // released when the Txn ends, after its commit
	return nil
}

// Discard abandons the import: what was written is left to the sweeper.
func (im *StreamImporter) Discard() {
	if im.done {
		return
	}
	im.done = true
	im.b.Close()
	im.t.e.guardEnd(im.seq)
	select {
	case im.t.e.sweepWake <- struct{}{}:
	default:
	}
}
