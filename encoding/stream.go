package encoding

import (
	"encoding/binary"
	"strconv"
)

// StreamID is a stream entry ID: milliseconds and a sequence number. Encoded as 16 big-endian
// bytes it sorts in ID order.
type StreamID struct {
	Ms, Seq uint64
}

// Compare returns -1, 0 or 1 as a is less than, equal to or greater than b.
func (a StreamID) Compare(b StreamID) int {
	switch {
	case a.Ms < b.Ms:
		return -1
	case a.Ms > b.Ms:
		return 1
	case a.Seq < b.Seq:
		return -1
	case a.Seq > b.Seq:
		return 1
	}
	return 0
}

// Less reports whether a sorts before b.
func (a StreamID) Less(b StreamID) bool { return a.Compare(b) < 0 }

// IsZero reports whether the ID is 0-0.
func (a StreamID) IsZero() bool { return a.Ms == 0 && a.Seq == 0 }

// Next returns the ID after a; ok is false (and the ID 0-0) when a is the last possible one.
func (a StreamID) Next() (StreamID, bool) {
	switch {
	case a.Seq != ^uint64(0):
		return StreamID{a.Ms, a.Seq + 1}, true
	case a.Ms != ^uint64(0):
		return StreamID{a.Ms + 1, 0}, true
	}
	return StreamID{}, false
}

// Prev returns the ID before a; ok is false (and the ID max-max) when a is 0-0.
func (a StreamID) Prev() (StreamID, bool) {
	switch {
	case a.Seq != 0:
		return StreamID{a.Ms, a.Seq - 1}, true
	case a.Ms != 0:
		return StreamID{a.Ms - 1, ^uint64(0)}, true
	}
	return StreamID{^uint64(0), ^uint64(0)}, false
}

// MaxStreamID is the largest ID ("+").
var MaxStreamID = StreamID{^uint64(0), ^uint64(0)}

// AppendText appends the ID as Redis prints it: "<ms>-<seq>".
func (a StreamID) AppendText(dst []byte) []byte {
	dst = strconv.AppendUint(dst, a.Ms, 10)
	dst = append(dst, '-')
	return strconv.AppendUint(dst, a.Seq, 10)
}

func (a StreamID) String() string { return string(a.AppendText(nil)) }

// AppendStreamID appends the 16-byte big-endian form of id.
func AppendStreamID(dst []byte, id StreamID) []byte {
	dst = binary.BigEndian.AppendUint64(dst, id.Ms)
	return binary.BigEndian.AppendUint64(dst, id.Seq)
}

// DecodeStreamID decodes the 16-byte form.
func DecodeStreamID(b []byte) (StreamID, error) {
	if len(b) < 16 {
		return StreamID{}, ErrCorrupt
	}
	return StreamID{binary.BigEndian.Uint64(b), binary.BigEndian.Uint64(b[8:])}, nil
}

// Stream subkey kinds: the first byte of the member of every subkey of a stream's version. Each
// kind is one contiguous, ordered range (see the package doc).
const (
	StreamEntryKind    byte = 'e' // 'e' | ms | seq                         -> entry fields
	StreamNodeKind     byte = 'n' // 'n' | master ms | master seq           -> node record
	StreamGroupKind    byte = 'g' // 'g' | group name                       -> group record
	StreamPELKind      byte = 'p' // 'p' | gid | ms | seq                   -> pending entry
	StreamConsumerKind byte = 'c' // 'c' | gid | consumer name              -> consumer record
	StreamCPELKind     byte = 'q' // 'q' | gid | nlen (4) | name | ms | seq -> ""
)

// AppendStreamMember appends the member of a stream subkey of kind with the 16-byte ID id.
func AppendStreamMember(dst []byte, kind byte, id StreamID) []byte {
	return AppendStreamID(append(dst, kind), id)
}

// AppendStreamGroupMember appends the member of a group record.
func AppendStreamGroupMember(dst []byte, name []byte) []byte {
	return append(append(dst, StreamGroupKind), name...)
}

// AppendStreamGroupPrefix appends the start of a group-scoped kind (PEL, consumers, consumer
// PELs) of group gid.
func AppendStreamGroupPrefix(dst []byte, kind byte, gid uint64) []byte {
	return binary.BigEndian.AppendUint64(append(dst, kind), gid)
}

// AppendStreamConsumerMember appends the member of a consumer record.
func AppendStreamConsumerMember(dst []byte, gid uint64, name []byte) []byte {
	return append(AppendStreamGroupPrefix(dst, StreamConsumerKind, gid), name...)
}

// AppendStreamCPELPrefix appends the start of consumer name's pending list in group gid.
func AppendStreamCPELPrefix(dst []byte, gid uint64, name []byte) []byte {
	dst = AppendStreamGroupPrefix(dst, StreamCPELKind, gid)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(name)))
	return append(dst, name...)
}

// StreamFields are the type fields of a stream's metadata. Count in the metadata header is the
// number of subkeys the stream owns (entries, nodes, groups, pending entries, consumers), so that
// the sweeper and copies know what a version holds; Length is XLEN.
//
// The tail node's counters live here rather than in its node record, which XADD would otherwise
// rewrite with every entry; the tail's record holds its master fields and is brought up to date
// when another node becomes the tail.
type StreamFields struct {
	Length       uint64
	LastID       StreamID // last-generated-id
	FirstID      StreamID // recorded-first-entry-id: no live entry is below it
	MaxDeletedID StreamID // max-deleted-entry-id
	EntriesAdded uint64
	Groups       uint64
	Nodes        uint64   // radix-tree-keys: node records
	HeadNode     StreamID // master ID of the first node (when Nodes > 0)
	TailNode     StreamID // master ID of the last node (when Nodes > 0)
	TailLive     uint64   // the tail node's counters (StreamNode's)
	TailDeleted  uint64
	TailBytes    uint64
	TailLastID   StreamID
	NextGroupID  uint64 // the gid the next group gets
}

// StreamFieldsLen is the encoded length of StreamFields.
const StreamFieldsLen = 8 + 16 + 16 + 16 + 8 + 8 + 8 + 16 + 16 + 8 + 8 + 8 + 16 + 8

// AppendStreamFields appends the stream type fields.
func AppendStreamFields(dst []byte, f *StreamFields) []byte {
	dst = binary.BigEndian.AppendUint64(dst, f.Length)
	dst = AppendStreamID(dst, f.LastID)
	dst = AppendStreamID(dst, f.FirstID)
	dst = AppendStreamID(dst, f.MaxDeletedID)
	dst = binary.BigEndian.AppendUint64(dst, f.EntriesAdded)
	dst = binary.BigEndian.AppendUint64(dst, f.Groups)
	dst = binary.BigEndian.AppendUint64(dst, f.Nodes)
	dst = AppendStreamID(dst, f.HeadNode)
	dst = AppendStreamID(dst, f.TailNode)
	dst = binary.BigEndian.AppendUint64(dst, f.TailLive)
	dst = binary.BigEndian.AppendUint64(dst, f.TailDeleted)
	dst = binary.BigEndian.AppendUint64(dst, f.TailBytes)
	dst = AppendStreamID(dst, f.TailLastID)
	return binary.BigEndian.AppendUint64(dst, f.NextGroupID)
}

// DecodeStreamFields decodes stream type fields.
func DecodeStreamFields(b []byte, f *StreamFields) error {
	if len(b) < StreamFieldsLen {
		return ErrCorrupt
	}
	u := binary.BigEndian.Uint64
	id := func(at int) StreamID { return StreamID{u(b[at:]), u(b[at+8:])} }
	f.Length = u(b)
	f.LastID = id(8)
	f.FirstID = id(24)
	f.MaxDeletedID = id(40)
	f.EntriesAdded = u(b[56:])
	f.Groups = u(b[64:])
	f.Nodes = u(b[72:])
	f.HeadNode = id(80)
	f.TailNode = id(96)
	f.TailLive = u(b[112:])
	f.TailDeleted = u(b[120:])
	f.TailBytes = u(b[128:])
	f.TailLastID = id(136)
	f.NextGroupID = u(b[152:])
	return nil
}

// AppendStreamEntry appends an entry value: the number of strings (fields and values,
// alternating), then each string with its length, as uvarints.
func AppendStreamEntry(dst []byte, fv [][]byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(fv)))
	for _, s := range fv {
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	return dst
}

// DecodeStreamEntry decodes an entry value into fv (reused), aliasing b.
func DecodeStreamEntry(b []byte, fv [][]byte) ([][]byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return fv, ErrCorrupt
	}
	b = b[k:]
	fv = fv[:0]
	for i := uint64(0); i < n; i++ {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return fv, ErrCorrupt
		}
		fv = append(fv, b[k:k+int(l):k+int(l)])
		b = b[k+int(l):]
	}
	return fv, nil
}

// StreamNode is a node record: the bookkeeping Redis keeps in the header of each listpack of a
// stream's radix tree, so that nodes (and with them MAXLEN ~, MINID ~ and radix-tree-keys)
// behave exactly as Redis's. The entries themselves are separate subkeys.
type StreamNode struct {
	Live, Deleted uint64
	// Bytes is the size of the node's listpack without its live and deleted counters.
	Bytes uint64
	// LastID is the ID of the last entry appended to the node, deleted or not.
	LastID StreamID
	// Fields are the master entry's field names.
	Fields [][]byte
}

// AppendStreamNode appends a node record.
func AppendStreamNode(dst []byte, n *StreamNode) []byte {
	dst = binary.AppendUvarint(dst, n.Live)
	dst = binary.AppendUvarint(dst, n.Deleted)
	dst = binary.AppendUvarint(dst, n.Bytes)
	dst = AppendStreamID(dst, n.LastID)
	return AppendStreamEntry(dst, n.Fields)
}

// DecodeStreamNode decodes a node record; n.Fields alias b.
func DecodeStreamNode(b []byte, n *StreamNode) error {
	var vals [3]uint64
	for i := range vals {
		v, k := binary.Uvarint(b)
		if k <= 0 {
			return ErrCorrupt
		}
		vals[i] = v
		b = b[k:]
	}
	n.Live, n.Deleted, n.Bytes = vals[0], vals[1], vals[2]
	id, err := DecodeStreamID(b)
	if err != nil {
		return err
	}
	n.LastID = id
	n.Fields, err = DecodeStreamEntry(b[16:], n.Fields[:0])
	return err
}

// StreamGroup is a consumer group record.
type StreamGroup struct {
	ID          uint64 // gid: names the group's pending, consumer and consumer-PEL ranges
	LastID      StreamID
	EntriesRead int64 // -1: unknown
	Pending     uint64
	Consumers   uint64
	// PELFloor is at or below the group's lowest pending ID. Scans of the pending list start
	// there, so that entries acknowledged in order are never walked over again.
	PELFloor StreamID
	// PELCeil is at or above every ID ever added to the pending list: an entry delivered past
	// it cannot be pending already, and needs no lookup.
	PELCeil StreamID
}

// StreamGroupLen is the encoded length of a group record.
const StreamGroupLen = 8 + 16 + 8 + 8 + 8 + 16 + 16

// AppendStreamGroup appends a group record.
func AppendStreamGroup(dst []byte, g *StreamGroup) []byte {
	dst = binary.BigEndian.AppendUint64(dst, g.ID)
	dst = AppendStreamID(dst, g.LastID)
	dst = binary.BigEndian.AppendUint64(dst, uint64(g.EntriesRead))
	dst = binary.BigEndian.AppendUint64(dst, g.Pending)
	dst = binary.BigEndian.AppendUint64(dst, g.Consumers)
	dst = AppendStreamID(dst, g.PELFloor)
	return AppendStreamID(dst, g.PELCeil)
}

// DecodeStreamGroup decodes a group record.
func DecodeStreamGroup(b []byte, g *StreamGroup) error {
	if len(b) < StreamGroupLen {
		return ErrCorrupt
	}
	u := binary.BigEndian.Uint64
	g.ID = u(b)
	g.LastID = StreamID{u(b[8:]), u(b[16:])}
	g.EntriesRead = int64(u(b[24:]))
	g.Pending = u(b[32:])
	g.Consumers = u(b[40:])
	g.PELFloor = StreamID{u(b[48:]), u(b[56:])}
	g.PELCeil = StreamID{u(b[64:]), u(b[72:])}
	return nil
}

// StreamPending is a group pending-entries-list record (a NACK in Redis's words).
type StreamPending struct {
	DeliveryTime  int64 // unix ms
	DeliveryCount uint64
	Consumer      []byte
}

// AppendStreamPending appends a pending-entry record.
func AppendStreamPending(dst []byte, p *StreamPending) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(p.DeliveryTime))
	dst = binary.BigEndian.AppendUint64(dst, p.DeliveryCount)
	return append(dst, p.Consumer...)
}

// DecodeStreamPending decodes a pending-entry record; Consumer aliases b.
func DecodeStreamPending(b []byte, p *StreamPending) error {
	if len(b) < 16 {
		return ErrCorrupt
	}
	p.DeliveryTime = int64(binary.BigEndian.Uint64(b))
	p.DeliveryCount = binary.BigEndian.Uint64(b[8:])
	p.Consumer = b[16:]
	return nil
}

// StreamConsumer is a consumer record.
type StreamConsumer struct {
	SeenTime   int64 // unix ms
	ActiveTime int64 // unix ms, -1 when never active (kept for RDB 11+ round trips)
	Pending    uint64
}

// StreamConsumerLen is the encoded length of a consumer record.
const StreamConsumerLen = 24

// AppendStreamConsumer appends a consumer record.
func AppendStreamConsumer(dst []byte, c *StreamConsumer) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(c.SeenTime))
	dst = binary.BigEndian.AppendUint64(dst, uint64(c.ActiveTime))
	return binary.BigEndian.AppendUint64(dst, c.Pending)
}

// DecodeStreamConsumer decodes a consumer record.
func DecodeStreamConsumer(b []byte, c *StreamConsumer) error {
	if len(b) < StreamConsumerLen {
		return ErrCorrupt
	}
	c.SeenTime = int64(binary.BigEndian.Uint64(b))
	c.ActiveTime = int64(binary.BigEndian.Uint64(b[8:]))
	c.Pending = binary.BigEndian.Uint64(b[16:])
	return nil
}
