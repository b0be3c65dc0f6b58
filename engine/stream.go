package engine

import (
	"bytes"

	"github.com/stratadb/strata/encoding"
)

// Streams live on sorted ranges under the stream's version (see encoding/doc.go): entries keyed
// by their 16-byte ID, so XRANGE, XREAD and XREADGROUP are bounded scans; node records that
// mirror the listpack nodes of Redis's radix tree, so that MAXLEN ~ and MINID ~ remove what
// Redis removes and XINFO reports the same radix-tree-keys; groups, pending entries, consumers
// and each consumer's pending entries as ranges of their own. No operation reads a whole stream
// to touch part of it.
//
// The metadata Count is the number of subkeys the stream owns (not XLEN, which is
// StreamFields.Length): the sweeper and copies read it to know what a version holds, and an
// empty stream keeps existing (Redis keeps empty streams), with Count 0 when it has no groups.

// StreamID is a stream entry ID.
type StreamID = encoding.StreamID

// Node limits: Redis's defaults for stream-node-max-entries and stream-node-max-bytes.
const (
	streamNodeMaxEntries = 100
	streamNodeMaxBytes   = 4096
	// streamMaxElements is the most field and value bytes one entry may carry (Redis's
	// STREAM_LISTPACK_MAX_SIZE).
	streamMaxElements = 1 << 30
	// StreamApproxLimit is the default LIMIT of MAXLEN ~ and MINID ~ (100 nodes).
	StreamApproxLimit = 100 * streamNodeMaxEntries
)

// stream is one stream opened by a command: its metadata and scratch buffers.
type stream struct {
	t      *Txn
	key    []byte
	old    keyState
	m      encoding.Meta
	f      encoding.StreamFields
	prefix []byte // subkey prefix of the version
	kb     []byte // scratch key
	vb     []byte // scratch value
	fv     [][]byte
	dirty  bool
	cons   map[string]*consumerState // consumers the command touched (see consumer)
}

// streamFor opens the stream at key. With create, a missing (or expired) key becomes a new empty
// stream; without, a missing key returns nil. A key of another type is ErrWrongType.
func (t *Txn) streamFor(key []byte, create bool) (*stream, error) {
	ks, err := t.lookup(key)
	if err != nil {
		return nil, err
	}
	s := &stream{t: t, key: key, old: ks}
	switch {
	case ks.live && ks.meta.Type != encoding.TypeStream:
		return nil, ErrWrongType
	case ks.live:
		s.m = ks.meta
		if err := encoding.DecodeStreamFields(ks.meta.Rest, &s.f); err != nil {
			return nil, corruptf("stream fields of %q: %v", key, err)
		}
	case !create:
		return nil, nil
	default:
		s.m = t.newMeta(encoding.TypeStream)
		s.dirty = true
	}
	s.prefix = encoding.AppendSubPrefix(nil, t.db, key, s.m.Version)
	return s, nil
}

// save writes the consumers and the metadata that changed.
func (s *stream) save() {
	s.flushConsumers()
	if !s.dirty {
		return
	}
	s.m.Rest = encoding.AppendStreamFields(nil, &s.f)
	s.t.putMeta(s.key, &s.old, &s.m)
	s.dirty = false
}

// ---- keys ----

func (s *stream) idKey(kind byte, id StreamID) []byte {
	s.kb = encoding.AppendStreamMember(append(s.kb[:0], s.prefix...), kind, id)
	return s.kb
}

// kindBounds returns [lower, upper) of the IDs lo..hi (inclusive) of a 16-byte-ID kind.
func (s *stream) kindBounds(kind byte, lo, hi StreamID) (lower, upper []byte) {
	lower = encoding.AppendStreamMember(append([]byte(nil), s.prefix...), kind, lo)
	if next, ok := hi.Next(); ok {
		upper = encoding.AppendStreamMember(append([]byte(nil), s.prefix...), kind, next)
	} else {
		upper = append(append([]byte(nil), s.prefix...), kind+1)
	}
	return lower, upper
}

// ---- entries ----

// getEntry reads the fields of entry id.
func (s *stream) getEntry(id StreamID) ([][]byte, bool, error) {
	v, ok, err := s.t.get(s.idKey(encoding.StreamEntryKind, id))
	if err != nil || !ok {
		return nil, false, err
	}
	fv, err := encoding.DecodeStreamEntry(v, nil)
	if err != nil {
		return nil, false, corruptf("stream entry of %q: %v", s.key, err)
	}
	return fv, true, nil
}

func (s *stream) entryExists(id StreamID) (bool, error) {
	_, ok, err := s.t.get(s.idKey(encoding.StreamEntryKind, id))
	return ok, err
}

// scan calls fn with each entry whose ID is in [lo, hi], ascending (or descending with rev),
// at most count of them (count <= 0: all). fv is reused between calls. fn returns false to stop.
func (s *stream) scan(lo, hi StreamID, rev bool, count int64, fn func(id StreamID, fv [][]byte) (bool, error)) error {
	// No live entry is below FirstID or above LastID: starting there keeps a scan from walking
	// over what trimming deleted (dead keys stay in the memtable until it is flushed).
	if s.f.Length == 0 {
		return nil
	}
	if lo.Less(s.f.FirstID) {
		lo = s.f.FirstID
	}
	if s.f.LastID.Less(hi) {
		hi = s.f.LastID
	}
	if hi.Less(lo) {
		return nil
	}
	lower, upper := s.kindBounds(encoding.StreamEntryKind, lo, hi)
	it, err := s.t.iter(lower, upper)
	if err != nil {
		return err
	}
	n := len(s.prefix) + 1
	var n64 int64
	first, next := it.First, it.Next
	if rev {
		first, next = it.Last, it.Prev
	}
	for ok := first(); ok; ok = next() {
		k := it.Key()
		id, err := encoding.DecodeStreamID(k[n:])
		if err != nil {
			it.Close()
			return corruptf("stream entry key of %q", s.key)
		}
		v, err := it.ValueAndErr()
		if err == nil {
			s.fv, err = encoding.DecodeStreamEntry(v, s.fv)
			if err != nil {
				err = corruptf("stream entry of %q: %v", s.key, err)
			}
		}
		if err != nil {
			it.Close()
			return err
		}
		more, err := fn(id, s.fv)
		if err != nil {
			it.Close()
			return err
		}
		n64++
		if !more || (count > 0 && n64 >= count) {
			break
		}
	}
	return it.Close()
}

// edgeID returns the first (or last) live entry's ID; ok is false when the stream is empty.
func (s *stream) edgeID(last bool) (StreamID, bool, error) {
	return s.firstFrom(StreamID{}, last)
}

// firstFrom returns the first live entry at or after from (or, with last, the last entry).
func (s *stream) firstFrom(from StreamID, last bool) (StreamID, bool, error) {
	var out StreamID
	found := false
	err := s.scan(from, encoding.MaxStreamID, last, 1, func(id StreamID, _ [][]byte) (bool, error) {
		out, found = id, true
		return false, nil
	})
	return out, found, err
}

// lastValidID is Redis's streamLastValidID: the last live entry, 0-0 when empty.
func (s *stream) lastValidID() (StreamID, error) {
	id, _, err := s.edgeID(true)
	return id, err
}

// ---- nodes ----

func (s *stream) getNode(master StreamID, n *encoding.StreamNode) (bool, error) {
	v, ok, err := s.t.get(s.idKey(encoding.StreamNodeKind, master))
	if err != nil || !ok {
		return false, err
	}
	if err := encoding.DecodeStreamNode(v, n); err != nil {
		return false, corruptf("stream node of %q: %v", s.key, err)
	}
	s.tailCounters(master, n)
	return true, nil
}

// isTail says whether master names the tail node, whose counters live in the metadata.
func (s *stream) isTail(master StreamID) bool { return s.f.Nodes > 0 && master == s.f.TailNode }

// tailCounters puts the metadata's counters into the tail node's record as read.
func (s *stream) tailCounters(master StreamID, n *encoding.StreamNode) {
	if s.isTail(master) {
		n.Live, n.Deleted, n.Bytes, n.LastID = s.f.TailLive, s.f.TailDeleted, s.f.TailBytes, s.f.TailLastID
	}
}

// putNode stores a node's changed counters: in the metadata for the tail, else in its record.
func (s *stream) putNode(master StreamID, n *encoding.StreamNode) {
	if s.isTail(master) {
		s.f.TailLive, s.f.TailDeleted, s.f.TailBytes, s.f.TailLastID = n.Live, n.Deleted, n.Bytes, n.LastID
		s.dirty = true
		return
	}
	s.writeNode(master, n)
}

func (s *stream) writeNode(master StreamID, n *encoding.StreamNode) {
	s.vb = encoding.AppendStreamNode(s.vb[:0], n)
	s.t.set(s.idKey(encoding.StreamNodeKind, master), s.vb)
}

// setTail makes master (whose record is up to date) the tail node.
func (s *stream) setTail(master StreamID, n *encoding.StreamNode) {
	s.f.TailNode = master
	s.f.TailLive, s.f.TailDeleted, s.f.TailBytes, s.f.TailLastID = n.Live, n.Deleted, n.Bytes, n.LastID
	s.dirty = true
}

// nodeAt finds the node holding ID id: the one with the greatest master ID <= id (or, with
// after, the first one with a master ID > id).
func (s *stream) nodeAt(id StreamID, after bool, n *encoding.StreamNode) (StreamID, bool, error) {
	var lower, upper []byte
	if after {
		next, ok := id.Next()
		if !ok {
			return StreamID{}, false, nil
		}
		lower, upper = s.kindBounds(encoding.StreamNodeKind, next, encoding.MaxStreamID)
	} else {
		lower, upper = s.kindBounds(encoding.StreamNodeKind, s.f.HeadNode, id)
	}
	it, err := s.t.iter(lower, upper)
	if err != nil {
		return StreamID{}, false, err
	}
	var ok bool
	if after {
		ok = it.First()
	} else {
		ok = it.Last()
	}
	if !ok {
		return StreamID{}, false, it.Close()
	}
	master, err := encoding.DecodeStreamID(it.Key()[len(s.prefix)+1:])
	if err == nil {
		var v []byte
		if v, err = it.ValueAndErr(); err == nil {
			err = encoding.DecodeStreamNode(s.t.keep(v), n)
		}
	}
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return StreamID{}, false, corruptf("stream node of %q: %v", s.key, err)
	}
	s.tailCounters(master, n)
	return master, true, nil
}

// The byte sizes of listpack elements, as Redis's listpack encodes them: integers (and strings
// that read as integers) in 1 to 9 bytes, strings with a 1, 2 or 5 byte header, each followed
// by its back-length. A node's size decides, as in Redis, when XADD starts a new node.

func lpIntLen(v int64) int {
	switch {
	case v >= 0 && v <= 127:
		return 1
	case v >= -4096 && v <= 4095:
		return 2
	case v >= -32768 && v <= 32767:
		return 3
	case v >= -8388608 && v <= 8388607:
		return 4
	case v >= -2147483648 && v <= 2147483647:
		return 5
	}
	return 9
}

func lpBacklen(l int) int {
	switch {
	case l <= 127:
		return 1
	case l < 16383:
		return 2
	case l < 2097151:
		return 3
	case l < 268435455:
		return 4
	}
	return 5
}

func lpInt(v int64) uint64 {
	l := lpIntLen(v)
	return uint64(l + lpBacklen(l))
}

func lpString(b []byte) uint64 {
	if v, ok := ParseInt(b); ok {
		return lpInt(v)
	}
	var l int
	switch {
	case len(b) < 64:
		l = 1 + len(b)
	case len(b) < 4096:
		l = 2 + len(b)
	default:
		l = 5 + len(b)
	}
	return uint64(l + lpBacklen(l))
}

// nodeBytes is the listpack size of a node (lpBytes in Redis).
func nodeBytes(n *encoding.StreamNode) uint64 {
	return n.Bytes + lpInt(int64(n.Live)) + lpInt(int64(n.Deleted))
}

// Entry flags in a listpack (only their encoded size matters here).
const (
	lpFlagSameFields = 2
)

// entryBytes is the listpack size of one entry appended to the node with master ID master.
func entryBytes(id, master StreamID, fv [][]byte, same bool) uint64 {
	nf := int64(len(fv) / 2)
	var flags int64
	count := nf + 3
	if same {
		flags = lpFlagSameFields
	} else {
		count += nf + 1
	}
	b := lpInt(flags) + lpInt(int64(id.Ms-master.Ms)) + lpInt(int64(id.Seq-master.Seq)) + lpInt(count)
	if !same {
		b += lpInt(nf)
	}
	for i := 0; i+1 < len(fv); i += 2 {
		if !same {
			b += lpString(fv[i])
		}
		b += lpString(fv[i+1])
	}
	return b
}

// masterFields returns the field names of fv (which alternates fields and values).
func masterFields(fv [][]byte) [][]byte {
	out := make([][]byte, 0, len(fv)/2)
	for i := 0; i+1 < len(fv); i += 2 {
		out = append(out, fv[i])
	}
	return out
}

func sameFields(master [][]byte, fv [][]byte) bool {
	if len(master) != len(fv)/2 {
		return false
	}
	for i, f := range master {
		if !bytes.Equal(f, fv[2*i]) {
			return false
		}
	}
	return true
}

// ---- appending ----

// XAddArgs are XADD's options.
type XAddArgs struct {
	ID         StreamID // the explicit ID (its Seq is 0 when only ms-* was given)
	IDGiven    bool     // an ID other than "*"
	SeqGiven   bool     // the ID had its sequence part (not "ms-*")
	NoMkStream bool
	Trim       XTrimArgs
}

// TrimStrategy is XADD's and XTRIM's trimming strategy.
type TrimStrategy uint8

const (
	TrimNone TrimStrategy = iota
	TrimMaxLen
	TrimMinID
)

// XTrimArgs are the trimming options of XADD and XTRIM.
type XTrimArgs struct {
	Strategy TrimStrategy
	Approx   bool  // ~: remove whole nodes only
	Limit    int64 // most entries to remove (0: no limit)
	MaxLen   int64
	MinID    StreamID
}

// XAdd appends an entry with fields and values fv (alternating) and trims as a.Trim says. It
// returns false (and no error) when the key does not exist and a.NoMkStream is set.
func (t *Txn) XAdd(key []byte, a *XAddArgs, fv [][]byte) (StreamID, bool, error) {
	s, err := t.streamFor(key, !a.NoMkStream)
	if err != nil || s == nil {
		return StreamID{}, false, err
	}
	defer s.save() // a stream created here stays, even empty, as in Redis
	if s.f.LastID == encoding.MaxStreamID {
		return StreamID{}, false, ErrStreamExhausted
	}
	id, err := s.nextID(a)
	if err != nil {
		return StreamID{}, false, err
	}
	if err := s.append(id, fv); err != nil {
		return StreamID{}, false, err
	}
	if a.Trim.Strategy != TrimNone {
		if _, err := s.trim(&a.Trim); err != nil {
			return StreamID{}, false, err
		}
	}
	return id, true, nil
}

// nextID is the ID the new entry gets: the clock's milliseconds (never going back from the last
// ID), or the given ID, with Redis's sequence rules.
func (s *stream) nextID(a *XAddArgs) (StreamID, error) {
	last := s.f.LastID
	var id StreamID
	switch {
	case !a.IDGiven:
		now := uint64(max(s.t.now, 0))
		if now > last.Ms {
			id = StreamID{Ms: now}
		} else {
			id, _ = last.Next() // wraps to 0-0 at the end, refused below
		}
	case !a.SeqGiven:
		id = a.ID
		if last.Ms == a.ID.Ms {
			if last.Seq == ^uint64(0) {
				// Redis 7.0 fails here without setting errno, and so answers this.
				return id, ErrStreamTooLarge
			}
			id = StreamID{Ms: last.Ms, Seq: last.Seq + 1}
		}
	default:
		id = a.ID
	}
	if id.Compare(last) <= 0 {
		return id, ErrStreamIDSmall
	}
	return id, nil
}

// append adds entry id at the end, in the tail node or a new one as Redis would place it.
func (s *stream) append(id StreamID, fv [][]byte) error {
	total := 0
	for _, b := range fv {
		total += len(b)
	}
	if total > streamMaxElements {
		return ErrStreamTooLarge
	}
	var n encoding.StreamNode
	master := s.f.TailNode
	fresh := s.f.Nodes == 0
	if !fresh {
		ok, err := s.getNode(master, &n)
		if err != nil {
			return err
		}
		if !ok {
			return corruptf("stream %q: tail node %s missing", s.key, master)
		}
		fresh = nodeBytes(&n)+uint64(total) >= streamNodeMaxBytes ||
			n.Live+n.Deleted >= streamNodeMaxEntries
	}
	same := true
	if fresh {
		if s.f.Nodes > 0 {
			s.writeNode(master, &n) // the old tail's record, brought up to date
		} else {
			s.f.HeadNode = id
		}
		master = id
		n = encoding.StreamNode{Live: 1, Fields: masterFields(fv)}
		n.Bytes = 6 + 1 + lpInt(int64(len(n.Fields))) + lpInt(0) // header, end, num-fields, terminator
		for _, f := range n.Fields {
			n.Bytes += lpString(f)
		}
		n.Bytes += entryBytes(id, master, fv, true)
		n.LastID = id
		s.writeNode(master, &n)
		s.f.Nodes++
		s.setTail(master, &n)
		s.m.Count++
	} else {
		n.Live++
		same = sameFields(n.Fields, fv)
		n.Bytes += entryBytes(id, master, fv, same)
		n.LastID = id
		s.putNode(master, &n)
	}
	s.vb = encoding.AppendStreamEntry(s.vb[:0], fv)
	s.t.set(s.idKey(encoding.StreamEntryKind, id), s.vb)
	s.m.Count++
	s.f.Length++
	s.f.EntriesAdded++
	s.f.LastID = id
	if s.f.Length == 1 {
		s.f.FirstID = id
	}
	s.dirty = true
	return nil
}

// ---- deleting ----

// XDel deletes the entries ids and returns how many existed.
func (t *Txn) XDel(key []byte, ids []StreamID) (int64, error) {
	s, err := t.streamFor(key, false)
	if err != nil || s == nil {
		return 0, err
	}
	var deleted int64
	firstEntry := false
	for _, id := range ids {
		ok, err := s.deleteEntry(id)
		if err != nil {
			return 0, err
		}
		if !ok {
			continue
		}
		if id == s.f.FirstID {
			firstEntry = true
		}
		if s.f.MaxDeletedID.Less(id) {
			s.f.MaxDeletedID = id
		}
		deleted++
	}
	if deleted > 0 {
		if s.f.Length == 0 {
			s.f.FirstID = StreamID{}
		} else if firstEntry {
			s.f.FirstID, _, err = s.edgeID(false)
			if err != nil {
				return 0, err
			}
		}
		s.save()
	}
	return deleted, nil
}

// deleteEntry removes one entry and updates its node, as Redis marks a listpack entry deleted
// (and frees the node when its last live entry goes).
func (s *stream) deleteEntry(id StreamID) (bool, error) {
	ok, err := s.entryExists(id)
	if err != nil || !ok {
		return false, err
	}
	s.t.del(s.idKey(encoding.StreamEntryKind, id))
	s.m.Count--
	s.f.Length--
	s.dirty = true
	var n encoding.StreamNode
	master, found, err := s.nodeAt(id, false, &n)
	if err != nil {
		return false, err
	}
	if !found {
		return false, corruptf("stream %q: no node holds %s", s.key, id)
	}
	if n.Live > 1 {
		n.Live--
		n.Deleted++
		s.putNode(master, &n)
		return true, nil
	}
	return true, s.dropNode(master)
}

// dropNode deletes the node record of master (its entries already gone), choosing a new head or
// tail when it was one.
func (s *stream) dropNode(master StreamID) error {
	s.t.del(s.idKey(encoding.StreamNodeKind, master))
	s.m.Count--
	wasTail := s.isTail(master)
	s.f.Nodes--
	s.dirty = true
	if s.f.Nodes == 0 {
		s.f.HeadNode, s.f.TailNode = StreamID{}, StreamID{}
		s.f.TailLive, s.f.TailDeleted, s.f.TailBytes, s.f.TailLastID = 0, 0, 0, StreamID{}
		return nil
	}
	var n encoding.StreamNode
	if master == s.f.HeadNode {
		next, ok, err := s.nodeAt(master, true, &n)
		if err != nil {
			return err
		}
		if !ok {
			return corruptf("stream %q: no node after the head", s.key)
		}
		s.f.HeadNode = next
	}
	if wasTail {
		s.f.TailNode = StreamID{} // so that nodeAt reads the new tail's own record
		prev, ok, err := s.nodeAt(master, false, &n)
		if err != nil {
			return err
		}
		if !ok {
			return corruptf("stream %q: no node before the tail", s.key)
		}
		s.setTail(prev, &n)
	}
	return nil
}

// XTrim trims the stream at key and returns how many entries it removed.
func (t *Txn) XTrim(key []byte, a *XTrimArgs) (int64, error) {
	s, err := t.streamFor(key, false)
	if err != nil || s == nil {
		return 0, err
	}
	n, err := s.trim(a)
	if err != nil {
		return 0, err
	}
	s.save()
	return n, nil
}

// trim is Redis's streamTrim: whole nodes go from the head while they may; then, unless ~ was
// given, entries of the next node are deleted one by one. Whole nodes go with one range deletion
// of their entries and one of their node records.
func (s *stream) trim(a *XTrimArgs) (int64, error) {
	maxlen := uint64(max(a.MaxLen, 0))
	byLen := a.Strategy == TrimMaxLen
	if s.f.Nodes == 0 {
		return 0, nil
	}
	lower, upper := s.kindBounds(encoding.StreamNodeKind, s.f.HeadNode, encoding.MaxStreamID)
	it, err := s.t.iter(lower, upper)
	if err != nil {
		return 0, err
	}
	var (
		deleted       int64
		removedNodes  uint64
		firstRemoved  StreamID
		stopAt        StreamID // master of the first node kept
		stopped       bool
		partial       bool
		partialMaster StreamID
		partialNode   encoding.StreamNode
		n             encoding.StreamNode
		// The first removed nodes' masters: a few node records go with point deletions.
		removedMasters []StreamID
	)
	for ok := it.First(); ok; ok = it.Next() {
		master, err := encoding.DecodeStreamID(it.Key()[len(s.prefix)+1:])
		var v []byte
		if err == nil {
			v, err = it.ValueAndErr()
		}
		if err == nil {
			err = encoding.DecodeStreamNode(s.t.keep(v), &n)
		}
		if err != nil {
			it.Close()
			return 0, corruptf("stream node of %q: %v", s.key, err)
		}
		s.tailCounters(master, &n)
		stopAt, stopped = master, true
		if byLen && s.f.Length <= maxlen {
			break
		}
		entries := int64(n.Live)
		if a.Limit > 0 && deleted+entries > a.Limit {
			break
		}
		var remove bool
		if byLen {
			remove = s.f.Length-n.Live >= maxlen
		} else {
			remove = n.LastID.Less(a.MinID)
		}
		if remove {
			if removedNodes == 0 {
				firstRemoved = master
			}
			if len(removedMasters) < nodeRangeDeleteMin {
				removedMasters = append(removedMasters, master)
			}
			removedNodes++
			s.f.Length -= n.Live
			s.m.Count -= n.Live + 1
			deleted += entries
			stopped = false
			continue
		}
		if !a.Approx {
			partial, partialMaster, partialNode = true, master, n
		}
		break
	}
	if err := it.Close(); err != nil {
		return 0, err
	}
	from := s.f.FirstID // where the first live entry is looked for afterwards
	if removedNodes > 0 {
		s.deleteNodes(firstRemoved, stopAt, stopped, removedMasters, removedNodes)
		s.f.Nodes -= removedNodes
		s.dirty = true
		if stopped {
			s.f.HeadNode = stopAt
			from = stopAt
		} else {
			s.f.HeadNode, s.f.TailNode = StreamID{}, StreamID{}
			s.f.TailLive, s.f.TailDeleted, s.f.TailBytes, s.f.TailLastID = 0, 0, 0, StreamID{}
		}
	}
	if partial {
		k, last, err := s.trimNode(partialMaster, &partialNode, byLen, maxlen, a.MinID)
		if err != nil {
			return 0, err
		}
		if k > 0 {
			from, _ = last.Next()
		}
		deleted += k
	}
	if s.f.Length == 0 {
		if !s.f.FirstID.IsZero() {
			s.f.FirstID = StreamID{}
			s.dirty = true
		}
	} else if deleted > 0 {
		s.f.FirstID = from // a floor while the first entry is looked for
		if s.f.FirstID, _, err = s.firstFrom(from, false); err != nil {
			return 0, err
		}
	}
	return deleted, nil
}

// nodeRangeDeleteMin is the number of node records from which trimming removes them with a
// range deletion rather than point deletions (a range tombstone costs every read crossing it).
const nodeRangeDeleteMin = 16

// deleteNodes removes the nodes from master first up to (not including) master end, or to the
// last node when !bounded, with their entries: one range deletion of the entries (a node holds
// up to 100), and point deletions of the node records unless there are many.
func (s *stream) deleteNodes(first, end StreamID, bounded bool, masters []StreamID, count uint64) {
	b := s.t.ensureBatch()
	kinds := []byte{encoding.StreamEntryKind}
	if count < nodeRangeDeleteMin {
		for _, m := range masters {
			s.t.del(s.idKey(encoding.StreamNodeKind, m))
		}
	} else {
		kinds = append(kinds, encoding.StreamNodeKind)
	}
	for _, kind := range kinds {
		lo := encoding.AppendStreamMember(append([]byte(nil), s.prefix...), kind, first)
		var hi []byte
		if bounded {
			hi = encoding.AppendStreamMember(append([]byte(nil), s.prefix...), kind, end)
		} else {
			hi = append(append([]byte(nil), s.prefix...), kind+1)
		}
		b.DeleteRange(lo, hi, nil)
	}
}

// trimNode deletes entries from the head of one node while the strategy asks, as Redis marks
// them deleted inside the listpack, and returns how many it deleted. A node may be left with no
// live entry (MINID stopping at a deleted last entry), as in Redis.
func (s *stream) trimNode(master StreamID, n *encoding.StreamNode, byLen bool, maxlen uint64, minID StreamID) (int64, StreamID, error) {
	var ids []StreamID
	err := s.scan(master, n.LastID, false, 0, func(id StreamID, _ [][]byte) (bool, error) {
		if byLen && s.f.Length-uint64(len(ids)) <= maxlen || !byLen && id.Compare(minID) >= 0 {
			return false, nil
		}
		ids = append(ids, id)
		return true, nil
	})
	if err != nil || len(ids) == 0 {
		return 0, StreamID{}, err
	}
	for _, id := range ids {
		s.t.del(s.idKey(encoding.StreamEntryKind, id))
	}
	k := uint64(len(ids))
	s.f.Length -= k
	s.m.Count -= k
	n.Live -= k
	n.Deleted += k
	s.putNode(master, n)
	s.dirty = true
	return int64(k), ids[len(ids)-1], nil
}

// ---- reading ----

// XLen is the number of entries of the stream at key.
func (t *Txn) XLen(key []byte) (int64, error) {
	s, err := t.streamFor(key, false)
	if err != nil || s == nil {
		return 0, err
	}
	return int64(s.f.Length), nil
}

// XRange calls fn with the entries whose IDs are in [start, end], ascending or (rev)
// descending, at most count of them (count < 0: all; count 0: none). It reports whether the
// key holds a stream. fv is reused between calls.
func (t *Txn) XRange(key []byte, start, end StreamID, count int64, rev bool, fn func(id StreamID, fv [][]byte) error) (bool, error) {
	s, err := t.streamFor(key, false)
	if err != nil || s == nil || count == 0 {
		return s != nil, err
	}
	return true, s.scan(start, end, rev, max(count, 0), func(id StreamID, fv [][]byte) (bool, error) {
		return true, fn(id, fv)
	})
}

// StreamLastID returns the last-generated ID of the stream at key (XREAD's $); exists is false
// when the key does not exist.
func (t *Txn) StreamLastID(key []byte) (id StreamID, exists bool, err error) {
	s, err := t.streamFor(key, false)
	if err != nil || s == nil {
		return StreamID{}, false, err
	}
	return s.f.LastID, true, nil
}

// XRead serves XREAD for one stream: when the stream has an entry after after, it calls fn with
// the entries after it (at most count, count <= 0: all) and reports true.
func (t *Txn) XRead(key []byte, after StreamID, count int64, fn func(id StreamID, fv [][]byte) error) (bool, error) {
	s, err := t.streamFor(key, false)
	if err != nil || s == nil || s.f.Length == 0 {
		return false, err
	}
	maxID, err := s.lastValidID()
	if err != nil || maxID.Compare(after) <= 0 {
		return false, err
	}
	start, _ := after.Next()
	return true, s.scan(start, encoding.MaxStreamID, false, count, func(id StreamID, fv [][]byte) (bool, error) {
		return true, fn(id, fv)
	})
}

// StreamHasEntryAfter reports whether the stream at key has an entry with an ID above id
// (false when the key holds no stream): what a blocked XREAD waits for.
func (t *Txn) StreamHasEntryAfter(key []byte, id StreamID) (bool, error) {
	ks, err := t.lookup(key)
	if err != nil || !ks.live || ks.meta.Type != encoding.TypeStream {
		return false, err
	}
	s, err := t.streamFor(key, false)
	if err != nil || s == nil || s.f.Length == 0 {
		return false, err
	}
	maxID, err := s.lastValidID()
	return id.Less(maxID), err
}

// XSetIDArgs are XSETID's options.
type XSetIDArgs struct {
	EntriesAdded int64    // -1: not given
	MaxDeletedID StreamID // 0-0: not given
}

// XSetID sets the stream's last ID (and entries-added, max-deleted-id) as XSETID does. Redis
// 7.0 lets the last ID go below the max-deleted ID; so does this.
func (t *Txn) XSetID(key []byte, id StreamID, a XSetIDArgs) error {
	s, err := t.streamFor(key, false)
	if err != nil {
		return err
	}
	if s == nil {
		return ErrNoSuchKey
	}
	if s.f.Length > 0 {
		maxID, err := s.lastValidID()
		if err != nil {
			return err
		}
		if id.Less(maxID) {
			return ErrXSetIDSmall
		}
		if a.EntriesAdded != -1 && s.f.Length > uint64(a.EntriesAdded) {
			return ErrXSetIDEntriesAdded
		}
	}
	s.f.LastID = id
	if a.EntriesAdded != -1 {
		s.f.EntriesAdded = uint64(a.EntriesAdded)
	}
	if !a.MaxDeletedID.IsZero() {
		s.f.MaxDeletedID = a.MaxDeletedID
	}
	s.dirty = true
	s.save()
	return nil
}

// ---- XINFO STREAM ----

// StreamEntry is one entry with its own copy of the fields and values.
type StreamEntry struct {
	ID     StreamID
	Fields [][]byte // field, value, field, value ...
}

// StreamInfo is what XINFO STREAM reports.
type StreamInfo struct {
	Length       uint64
	RadixKeys    uint64
	RadixNodes   uint64
	LastID       StreamID
	MaxDeletedID StreamID
	EntriesAdded uint64
	FirstID      StreamID
	Groups       uint64
	First, Last  *StreamEntry // XINFO STREAM without FULL

	// With FULL.
	Entries   []StreamEntry
	GroupList []StreamGroupFull
}

// StreamGroupFull is one group of XINFO STREAM FULL.
type StreamGroupFull struct {
	GroupInfo
	PEL       []PendingEntry
	Consumers []StreamConsumerFull
}

// StreamConsumerFull is one consumer of XINFO STREAM FULL.
type StreamConsumerFull struct {
	Name     []byte
	SeenTime int64
	Pending  uint64
	PEL      []PendingEntry
}

func (s *stream) copyEntry(id StreamID, fv [][]byte) StreamEntry {
	e := StreamEntry{ID: id, Fields: make([][]byte, len(fv))}
	for i, b := range fv {
		e.Fields[i] = s.t.keep(b)
	}
	return e
}

// XInfoStream reports the stream at key (ErrNoSuchKey when missing). With full, count bounds
// the entries and each pending list reported (0: all).
func (t *Txn) XInfoStream(key []byte, full bool, count int64) (*StreamInfo, error) {
	s, err := t.streamFor(key, false)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, ErrNoSuchKey
	}
	info := &StreamInfo{Length: s.f.Length, RadixKeys: s.f.Nodes, LastID: s.f.LastID,
		MaxDeletedID: s.f.MaxDeletedID, EntriesAdded: s.f.EntriesAdded, FirstID: s.f.FirstID,
		Groups: s.f.Groups}
	if info.RadixNodes, err = s.radixNodes(); err != nil {
		return nil, err
	}
	if !full {
		for _, last := range []bool{false, true} {
			err := s.scan(StreamID{}, encoding.MaxStreamID, last, 1, func(id StreamID, fv [][]byte) (bool, error) {
				e := s.copyEntry(id, fv)
				if last {
					info.Last = &e
				} else {
					info.First = &e
				}
				return false, nil
			})
			if err != nil {
				return nil, err
			}
		}
		return info, nil
	}
	err = s.scan(StreamID{}, encoding.MaxStreamID, false, count, func(id StreamID, fv [][]byte) (bool, error) {
		info.Entries = append(info.Entries, s.copyEntry(id, fv))
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	info.GroupList, err = s.fullGroups(count)
	return info, err
}

// radixNodes is the number of nodes Redis's radix tree of listpacks would have (XINFO's
// radix-tree-nodes): with the node master IDs as 16-byte keys, the root, every key, every
// branching prefix and every child of one. It walks the node records (a stream of N entries has
// about N/100), the one part of XINFO STREAM that is not constant time.
func (s *stream) radixNodes() (uint64, error) {
	lower, upper := s.kindBounds(encoding.StreamNodeKind, StreamID{}, encoding.MaxStreamID)
	it, err := s.t.iter(lower, upper)
	if err != nil {
		return 0, err
	}
	defer it.Close()
	// For sorted keys, the branching prefixes are the common prefixes of neighbours, and their
	// children the neighbours' prefixes one byte longer. counted[d] says whether the prefix of
	// depth d of the previous key is already counted, so each prefix counts once.
	var (
		nodes   uint64 = 1 // the root
		prev    []byte
		counted [17]bool
	)
	counted[0] = true
	n := len(s.prefix) + 1
	for ok := it.First(); ok; ok = it.Next() {
		cur := it.Key()[n:]
		if len(cur) != 16 {
			return 0, corruptf("stream node key of %q", s.key)
		}
		if prev == nil {
			nodes++ // the leaf
			counted[16] = true
			prev = append(prev, cur...)
			continue
		}
		d := 0
		for d < 15 && prev[d] == cur[d] {
			d++
		}
		if !counted[d] {
			nodes++ // the branching prefix
			counted[d] = true
		}
		if !counted[d+1] {
			nodes++ // the previous key's child of it
		}
		for j := d + 1; j <= 16; j++ {
			counted[j] = false
		}
		nodes++ // this key's child of it
		counted[d+1] = true
		if d+1 < 16 {
			nodes++ // this key's leaf
		}
		counted[16] = true
		prev = append(prev[:0], cur...)
	}
	return nodes, nil
}
