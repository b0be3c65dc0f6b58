package rdb

// This file is the contract between the readers and writers of Redis's files and everything
// that consumes or produces them (the AOF rewriter in package aof, the importer, exporter and
// inspector in package tools). A dump is a sequence of plain events: no Strata types, no Redis
// object model. A reader produces them one at a time (pull), a writer consumes them one at a
// time (push), so a collection of any size crosses without being held in memory whole.

// Kind names what an Event carries.
type Kind uint8

const (
	KindInvalid Kind = iota
	// KindAux is an auxiliary field (Field = name, Value = value), e.g. redis-ver, lua.
	KindAux
	// KindSelectDB switches the database that following keys belong to (DB).
	KindSelectDB
	// KindResizeDB carries the size hints of the current database (DBSize, ExpiresSize).
	KindResizeDB
	// KindSlotInfo carries a cluster slot's size hints (Slot, SlotSize, SlotExpiresSize).
	KindSlotInfo
	// KindKey starts a key: Key, DB and Header. Its elements follow, then KindEndKey.
	KindKey
	// KindString is the whole value of a string key (Value).
	KindString
	// KindListItem is one list element (Value), head to tail.
	KindListItem
	// KindSetMember is one set member (Value).
	KindSetMember
	// KindZSetMember is one sorted-set member (Value) with its Score.
	KindZSetMember
	// KindHashField is one hash field (Field) with its Value, and ExpireAt (unix ms, 0 = none)
	// for hashes with field TTLs.
	KindHashField
	// KindStreamEntry is one stream entry: StreamID and Fields (field, value, field, value...).
	KindStreamEntry
	// KindStreamMeta follows the entries: Stream holds length, last/first ID, max deleted ID
	// and entries added.
	KindStreamMeta
	// KindStreamGroup starts a consumer group (Group). Its pending entries and consumers follow.
	KindStreamGroup
	// KindStreamPending is one entry of the current group's pending list (Pending).
	KindStreamPending
	// KindStreamConsumer is one consumer of the current group (Consumer), with the IDs of
	// the pending entries it owns.
	KindStreamConsumer
	// KindEndKey ends the current key. Size is the number of bytes the key took in the file.
	KindEndKey
	// KindFunction is a function library's source code (Value).
	KindFunction
	// KindModuleSkipped reports module data that was skipped (Module names it). For a key
	// whose value is a module type it stands for the whole key: Key, DB, Header (Type
	// TypeModule) and Size are set, and no KindKey or KindEndKey surrounds it. For module
	// auxiliary data (MODULE_AUX, outside any key) Key is nil.
	KindModuleSkipped
	// KindEOF is the end of the dump. Checksum holds the stored CRC64 (0 = not computed).
	KindEOF
)

var kindNames = [...]string{
	KindInvalid: "invalid", KindAux: "aux", KindSelectDB: "selectdb", KindResizeDB: "resizedb",
	KindSlotInfo: "slotinfo", KindKey: "key", KindString: "string", KindListItem: "list-item",
	KindSetMember: "set-member", KindZSetMember: "zset-member", KindHashField: "hash-field",
	KindStreamEntry: "stream-entry", KindStreamMeta: "stream-meta", KindStreamGroup: "stream-group",
	KindStreamPending: "stream-pending", KindStreamConsumer: "stream-consumer",
	KindEndKey: "end-key", KindFunction: "function", KindModuleSkipped: "module-skipped",
	KindEOF: "eof",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// ValueType is the Redis data type of a key, independent of how the file encoded it.
type ValueType uint8

const (
	TypeString ValueType = iota + 1
	TypeList
	TypeSet
	TypeZSet
	TypeHash
	TypeStream
	TypeModule
)

var typeNames = [...]string{0: "none", TypeString: "string", TypeList: "list", TypeSet: "set",
	TypeZSet: "zset", TypeHash: "hash", TypeStream: "stream", TypeModule: "module"}

// String returns the name TYPE would answer.
func (t ValueType) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "unknown"
}

// KeyHeader describes a key before its elements.
type KeyHeader struct {
	Type ValueType
	// Encoding is how the file stored the value, in the words OBJECT ENCODING and
	// redis-check-rdb use: "string", "int", "ziplist", "listpack", "intset", "zipmap",
	// "quicklist", "hashtable", "skiplist", "linkedlist", "stream" ...
	Encoding string
	// ExpireAt is the absolute expiry in unix milliseconds, 0 when the key does not expire.
	ExpireAt int64
	// Idle is the LRU idle time in seconds, -1 when absent.
	Idle int64
	// Freq is the LFU frequency, -1 when absent.
	Freq int
	// Len is the number of elements when the file states it before the elements, -1 when it
	// is only known at the end (KindEndKey does not repeat it; count the elements).
	Len int64
	// Offset is the byte offset of the key's type byte (or of its first expire/idle/freq
	// opcode) in the file.
	Offset int64
	// RDBType is the object type byte the file used (0 string ... 25 hash listpack with
	// field TTLs; Valkey files number 22 differently, see doc.go). A Writer ignores it and
	// chooses its own encoding.
	RDBType uint8
}

// StreamID is a stream entry ID.
type StreamID struct {
	Ms  uint64
	Seq uint64
}

// StreamMeta is the state of a stream that is not its entries.
type StreamMeta struct {
	Length       uint64
	LastID       StreamID
	FirstID      StreamID
	MaxDeletedID StreamID
	EntriesAdded uint64
}

// StreamGroup is a consumer group's header.
type StreamGroup struct {
	Name        []byte
	LastID      StreamID
	EntriesRead int64 // -1 when unknown (the SCG_INVALID_ENTRIES_READ of Redis)
}

// StreamPending is one entry of a group's pending entries list.
type StreamPending struct {
	ID            StreamID
	DeliveryTime  int64 // unix ms
	DeliveryCount uint64
}

// StreamConsumer is one consumer of a group.
type StreamConsumer struct {
	Name       []byte
	SeenTime   int64 // unix ms
	ActiveTime int64 // unix ms, -1 when the file predates it
	Pending    []StreamID
}

// Event is one step of a dump. Which fields are meaningful depends on Kind (see the Kind
// constants). Byte slices returned by a Reader are valid until the next call to Next; copy
// what must outlive it.
type Event struct {
	Kind Kind
	DB   int
	Key  []byte

	Header KeyHeader

	Field    []byte
	Value    []byte
	Score    float64
	ExpireAt int64

	StreamID StreamID
	Fields   [][]byte
	Stream   StreamMeta
	Group    StreamGroup
	Pending  StreamPending
	Consumer StreamConsumer

	DBSize, ExpiresSize uint64
	Slot                int
	SlotSize            uint64
	SlotExpiresSize     uint64

	Module   string
	Size     int64
	Checksum uint64
}
