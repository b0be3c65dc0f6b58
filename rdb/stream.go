package rdb

import (
	"encoding/binary"
	"math"
	"strconv"
)

// A stream value (types 15, 19 and 21) is:
//
//	+-------+----------------------------------+--------+---------+-----------------+
//	| nodes | node key (16 bytes: ms, seq BE)  | length | last ID | (19+) first ID,  |
//	| count | listpack, ... once per node      |        | ms, seq | max deleted ID,  |
//	|       |                                  |        |         | entries added    |
//	+-------+----------------------------------+--------+---------+-----------------+
//	| groups count | per group: name, last ID, (19+) entries read,                   |
//	|              |   PEL count, per entry: ID (16 bytes BE), delivery time (8 LE), |
//	|              |                         delivery count                          |
//	|              |   consumer count, per consumer: name, seen time (8 LE),         |
//	|              |     (21+) active time (8 LE), PEL count, IDs (16 bytes BE each) |
//	+--------------+-----------------------------------------------------------------+
//
// All counts and IDs outside the listpacks are RDB lengths. Each node's listpack starts
// with a master entry and holds entries whose IDs are deltas from the node key:
//
//	master: | live count | deleted count | N fields | field 1 .. field N | 0 |
//	entry:  | flags | ms delta | seq delta | M fields | field, value .. | lp-count |
//	        | flags | ms delta | seq delta | value 1 .. value N | lp-count |   (flag SAMEFIELDS:
//	                                                               the master's fields)
//
// flags: 1 deleted, 2 same fields as the master. lp-count is the number of listpack items
// of the entry before it, so the listpack can be walked backwards.

type streamPhase uint8

const (
	phaseNodes streamPhase = iota
	phaseMeta
	phaseGroups
	phasePEL
	phaseConsumers
	phaseEnd
)

type streamCursor struct {
	rdbType   byte
	phase     streamPhase
	nodesLeft uint64
	active    bool
	lp        listpackIter
	lpOff     int64
	lpLZF     bool

	master       StreamID
	masterFields [][]byte
	masterArena  []byte
	live         int64 // counts the master entry states
	deleted      int64
	seenLive     int64
	seenDeleted  int64
	first        StreamID
	haveFirst    bool

	ents   []packedEntry
	arena  []byte
	fields [][]byte

	groupsLeft    uint64
	pelLeft       uint64
	consumersLeft uint64
	pending       []StreamID
}

func (r *Reader) setupStream(t byte) error {
	sc := &r.stream
	*sc = streamCursor{rdbType: t, masterFields: sc.masterFields[:0], masterArena: sc.masterArena[:0],
		ents: sc.ents[:0], arena: sc.arena[:0], fields: sc.fields[:0], pending: sc.pending[:0]}
	n, err := r.readCount("stream node count", 2)
	sc.nodesLeft = n
	return err
}

func streamIDFromBytes(b []byte) StreamID {
	return StreamID{Ms: binary.BigEndian.Uint64(b), Seq: binary.BigEndian.Uint64(b[8:])}
}

// resolveEntries spells packed entries as byte slices, integers in decimal in arena.
func resolveEntries(ents []packedEntry, arena []byte, out [][]byte) ([]byte, [][]byte) {
	arena = arena[:0]
	for _, e := range ents {
		if e.isInt {
			arena = strconv.AppendInt(arena, e.ival, 10)
		}
	}
	out = out[:0]
	pos := 0
	for _, e := range ents {
		if !e.isInt {
			out = append(out, e.str)
			continue
		}
		end := pos + len(strconv.AppendInt(nil, e.ival, 10))
		out = append(out, arena[pos:end:end])
		pos = end
	}
	return arena, out
}

// lpNext returns the next item of the node's listpack, which must be there.
func (r *Reader) lpNext() (packedEntry, error) {
	sc := &r.stream
	e, ok, err := sc.lp.next()
	if err != nil {
		return e, r.blobError(err, sc.lpOff, sc.lpLZF)
	}
	if !ok {
		return e, r.corrupt(sc.lpOff, "stream listpack", "listpack ends inside an entry")
	}
	return e, nil
}

// lpInt returns the next item of the node's listpack as an integer.
func (r *Reader) lpInt() (int64, error) {
	e, err := r.lpNext()
	if err != nil || e.isInt {
		return e.ival, err
	}
	v, ok := parseCanonicalInt(e.str)
	if !ok {
		return 0, r.corrupt(r.stream.lpOff, "stream listpack", "expected an integer, found %q", e.str)
	}
	return v, nil
}

// loadStreamNode reads a node key and its listpack, and the listpack's master entry.
func (r *Reader) loadStreamNode() error {
	sc := &r.stream
	off := r.in.off
	var err error
	if r.fieldBuf, _, err = r.readString(r.fieldBuf, "stream node key"); err != nil {
		return err
	}
	if len(r.fieldBuf) != 16 {
		return r.corrupt(off, "stream node key", "%d bytes, want 16", len(r.fieldBuf))
	}
	sc.master = streamIDFromBytes(r.fieldBuf)
	if r.blob, _, err = r.readString(r.blob, "stream listpack"); err != nil {
		return err
	}
	sc.lpOff, sc.lpLZF = r.strDataOff, r.strLZF
	if sc.lp, err = newListpackIter(r.blob); err != nil {
		return r.blobError(err, sc.lpOff, sc.lpLZF)
	}
	if sc.live, err = r.lpInt(); err != nil {
		return err
	}
	if sc.deleted, err = r.lpInt(); err != nil {
		return err
	}
	n, err := r.lpInt()
	if err != nil {
		return err
	}
	if sc.live < 0 || sc.deleted < 0 || n < 0 || n > int64(len(r.blob)) {
		return r.corrupt(sc.lpOff, "stream listpack", "invalid master entry counts %d, %d, %d", sc.live, sc.deleted, n)
	}
	sc.ents = sc.ents[:0]
	for i := int64(0); i < n; i++ {
		e, err := r.lpNext()
		if err != nil {
			return err
		}
		sc.ents = append(sc.ents, e)
	}
	sc.masterArena, sc.masterFields = resolveEntries(sc.ents, sc.masterArena, sc.masterFields)
	term, err := r.lpInt()
	if err != nil {
		return err
	}
	if term != 0 {
		return r.corrupt(sc.lpOff, "stream listpack", "master entry terminator is %d, want 0", term)
	}
	sc.seenLive, sc.seenDeleted = 0, 0
	return nil
}

// nextStreamEntry decodes the next live entry; false when the nodes are exhausted.
func (r *Reader) nextStreamEntry(ev *Event) (bool, error) {
	sc := &r.stream
	for {
		if !sc.active {
			if sc.nodesLeft == 0 {
				return false, nil
			}
			sc.nodesLeft--
			if err := r.loadStreamNode(); err != nil {
				return false, err
			}
			sc.active = true
		}
		e, ok, err := sc.lp.next()
		if err != nil {
			return false, r.blobError(err, sc.lpOff, sc.lpLZF)
		}
		if !ok {
			if sc.seenLive != sc.live || sc.seenDeleted != sc.deleted {
				return false, r.corrupt(sc.lpOff, "stream listpack", "master entry counts %d live and %d deleted entries, found %d and %d",
					sc.live, sc.deleted, sc.seenLive, sc.seenDeleted)
			}
			sc.active = false
			continue
		}
		flags := e.ival
		if !e.isInt {
			return false, r.corrupt(sc.lpOff, "stream listpack", "entry flags are not an integer")
		}
		msDelta, err := r.lpInt()
		if err != nil {
			return false, err
		}
		seqDelta, err := r.lpInt()
		if err != nil {
			return false, err
		}
		same := flags&streamItemSameFields != 0
		nf := int64(len(sc.masterFields))
		items := nf
		if !same {
			if nf, err = r.lpInt(); err != nil {
				return false, err
			}
			if nf < 0 || nf > int64(len(r.blob)) {
				return false, r.corrupt(sc.lpOff, "stream listpack", "entry claims %d fields", nf)
			}
			items = 2 * nf
		}
		sc.ents = sc.ents[:0]
		for i := int64(0); i < items; i++ {
			e, err := r.lpNext()
			if err != nil {
				return false, err
			}
			sc.ents = append(sc.ents, e)
		}
		lpCount, err := r.lpInt()
		if err != nil {
			return false, err
		}
		want := 3 + items
		if !same {
			want++
		}
		if lpCount != want {
			return false, r.corrupt(sc.lpOff, "stream listpack", "entry lp-count is %d, want %d", lpCount, want)
		}
		if flags&streamItemDeleted != 0 {
			sc.seenDeleted++
			continue
		}
		sc.seenLive++
		id := StreamID{Ms: sc.master.Ms + uint64(msDelta), Seq: sc.master.Seq + uint64(seqDelta)}
		if !sc.haveFirst {
			sc.first, sc.haveFirst = id, true
		}
		var vals [][]byte
		sc.arena, vals = resolveEntries(sc.ents, sc.arena, sc.fields)
		if same {
			// Interleave the master's field names with the values.
			n := len(vals)
			for cap(vals) < 2*n {
				vals = append(vals[:cap(vals)], nil)
			}
			vals = vals[:2*n]
			for i := n - 1; i >= 0; i-- {
				vals[2*i+1] = vals[i]
				vals[2*i] = sc.masterFields[i]
			}
		}
		sc.fields = vals
		*ev = Event{Kind: KindStreamEntry, DB: r.db, Key: r.key, StreamID: id, Fields: vals}
		return true, nil
	}
}

func (r *Reader) readStreamID(what string) (StreamID, error) {
	ms, err := r.readLen(what)
	if err != nil {
		return StreamID{}, err
	}
	seq, err := r.readLen(what)
	return StreamID{Ms: ms, Seq: seq}, err
}

func (r *Reader) readRawStreamID(what string) (StreamID, error) {
	b := r.tmp[:16]
	if err := r.readFixed(b, what); err != nil {
		return StreamID{}, err
	}
	return streamIDFromBytes(b), nil
}

// nextStream walks a stream: entries, then its metadata, then each group with its pending
// entries and consumers.
func (r *Reader) nextStream(ev *Event) (bool, error) {
	sc := &r.stream
	for {
		switch sc.phase {
		case phaseNodes:
			ok, err := r.nextStreamEntry(ev)
			if err != nil || ok {
				return ok, err
			}
			sc.phase = phaseMeta
		case phaseMeta:
			return true, r.readStreamMeta(ev)
		case phaseGroups:
			if sc.groupsLeft == 0 {
				sc.phase = phaseEnd
				return false, nil
			}
			sc.groupsLeft--
			return true, r.readStreamGroup(ev)
		case phasePEL:
			if sc.pelLeft == 0 {
				n, err := r.readCount("stream consumer count", 10)
				if err != nil {
					return false, err
				}
				sc.consumersLeft, sc.phase = n, phaseConsumers
				continue
			}
			sc.pelLeft--
			return true, r.readStreamPending(ev)
		case phaseConsumers:
			if sc.consumersLeft == 0 {
				sc.phase = phaseGroups
				continue
			}
			sc.consumersLeft--
			return true, r.readStreamConsumer(ev)
		default:
			return false, nil
		}
	}
}

func (r *Reader) readStreamMeta(ev *Event) error {
	sc := &r.stream
	off := r.in.off
	var m StreamMeta
	var err error
	if m.Length, err = r.readLen("stream length"); err != nil {
		return err
	}
	if m.LastID, err = r.readStreamID("stream last ID"); err != nil {
		return err
	}
	if sc.rdbType >= typeStreamListpacks2 {
		if m.FirstID, err = r.readStreamID("stream first ID"); err != nil {
			return err
		}
		if m.MaxDeletedID, err = r.readStreamID("stream max deleted ID"); err != nil {
			return err
		}
		if m.EntriesAdded, err = r.readLen("stream entries added"); err != nil {
			return err
		}
	} else {
		// Before RDB 10 these were not stored; Redis derives them the same way on load.
		m.FirstID, m.EntriesAdded = sc.first, m.Length
	}
	if m.Length != 0 && !sc.haveFirst {
		return r.corrupt(off, "stream", "length %d but no entries", m.Length)
	}
	n, err := r.readCount("stream group count", 5)
	if err != nil {
		return err
	}
	sc.groupsLeft, sc.phase = n, phaseGroups
	*ev = Event{Kind: KindStreamMeta, DB: r.db, Key: r.key, Stream: m}
	return nil
}

func (r *Reader) readStreamGroup(ev *Event) error {
	sc := &r.stream
	var g StreamGroup
	var err error
	if r.fieldBuf, _, err = r.readString(r.fieldBuf, "stream group name"); err != nil {
		return err
	}
	g.Name = r.fieldBuf
	if g.LastID, err = r.readStreamID("stream group last ID"); err != nil {
		return err
	}
	g.EntriesRead = -1
	if sc.rdbType >= typeStreamListpacks2 {
		n, err := r.readLen("stream group entries read")
		if err != nil {
			return err
		}
		// Redis stores its "unknown" (-1) through the unsigned length encoding.
		g.EntriesRead = int64(n)
		if g.EntriesRead < -1 {
			g.EntriesRead = -1
		}
	}
	if sc.pelLeft, err = r.readCount("stream PEL count", 25); err != nil {
		return err
	}
	sc.phase = phasePEL
	*ev = Event{Kind: KindStreamGroup, DB: r.db, Key: r.key, Group: g}
	return nil
}

func (r *Reader) readStreamPending(ev *Event) error {
	var p StreamPending
	var err error
	if p.ID, err = r.readRawStreamID("stream PEL entry"); err != nil {
		return err
	}
	if p.DeliveryTime, err = r.readMillis("stream PEL delivery time"); err != nil {
		return err
	}
	if p.DeliveryCount, err = r.readLen("stream PEL delivery count"); err != nil {
		return err
	}
	*ev = Event{Kind: KindStreamPending, DB: r.db, Key: r.key, Pending: p}
	return nil
}

func (r *Reader) readStreamConsumer(ev *Event) error {
	sc := &r.stream
	var c StreamConsumer
	var err error
	if r.fieldBuf, _, err = r.readString(r.fieldBuf, "stream consumer name"); err != nil {
		return err
	}
	c.Name = r.fieldBuf
	if c.SeenTime, err = r.readMillis("stream consumer seen time"); err != nil {
		return err
	}
	c.ActiveTime = -1
	if sc.rdbType >= typeStreamListpacks3 {
		if c.ActiveTime, err = r.readMillis("stream consumer active time"); err != nil {
			return err
		}
	}
	n, err := r.readCount("stream consumer PEL count", 16)
	if err != nil {
		return err
	}
	if n > math.MaxInt32 {
		return r.corrupt(r.in.off, "stream consumer PEL count", "%d is out of range", n)
	}
	sc.pending = sc.pending[:0]
	for i := uint64(0); i < n; i++ {
		id, err := r.readRawStreamID("stream consumer PEL")
		if err != nil {
			return err
		}
		sc.pending = append(sc.pending, id)
	}
	c.Pending = sc.pending
	*ev = Event{Kind: KindStreamConsumer, DB: r.db, Key: r.key, Consumer: c}
	return nil
}
