package encoding

import "encoding/binary"

// Type is the Redis type of a key as stored in its metadata.
type Type uint8

// Stored type codes. Never renumber: they are on disk.
const (
	TypeNone   Type = 0
	TypeString Type = 1
	TypeList   Type = 2
	TypeSet    Type = 3
	TypeZSet   Type = 4
	TypeHash   Type = 5
	TypeStream Type = 6
)

var typeNames = [...]string{"none", "string", "list", "set", "zset", "hash", "stream"}

// String returns the name TYPE answers for t.
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "unknown"
}

// Metadata flags.
const (
	// FlagCodecMask selects the codec of an inline value (0 = none). See Codec*.
	FlagCodecMask uint8 = 0x03
	// FlagChunked marks a string whose bytes live in subkeys of ChunkSize bytes.
	FlagChunked uint8 = 0x04
	// FlagChunkCodec marks a chunked string whose every chunk value starts with a codec byte
	// (Codec*) naming how the rest of the chunk is stored.
	FlagChunkCodec uint8 = 0x08
)

// Value codecs named in the low bits of the flags (and in front of compressed chunks).
const (
	CodecNone uint8 = 0
	CodecS2   uint8 = 1
	CodecZstd uint8 = 2
)

// MetaFormat is the format byte that starts every metadata value.
const MetaFormat byte = 1

// MetaHeaderLen is the length of the fixed metadata header.
const MetaHeaderLen = 27

// ChunkSize is the size of one chunk of a chunked string; InlineMax the largest string kept
// inline in its metadata.
const (
	ChunkSize = 4096
	InlineMax = 16384
)

// Meta is a decoded metadata value.
type Meta struct {
	Type     Type
	Flags    uint8
	ExpireAt int64 // unix ms; 0 = no expiry
	Version  uint64
	Count    uint64
	// Rest holds the type's own fields, or an inline string value. It aliases the buffer the
	// meta was decoded from.
	Rest []byte
}

// AppendMeta appends the encoded metadata m (header, then m.Rest).
func AppendMeta(dst []byte, m *Meta) []byte {
	dst = AppendMetaHeader(dst, m)
	return append(dst, m.Rest...)
}

// AppendMetaHeader appends only the fixed header of m; the caller appends the rest.
func AppendMetaHeader(dst []byte, m *Meta) []byte {
	dst = append(dst, MetaFormat, byte(m.Type), m.Flags)
	dst = binary.BigEndian.AppendUint64(dst, uint64(m.ExpireAt))
	dst = binary.BigEndian.AppendUint64(dst, m.Version)
	return binary.BigEndian.AppendUint64(dst, m.Count)
}

// DecodeMeta decodes a metadata value. m.Rest aliases b.
func DecodeMeta(b []byte, m *Meta) error {
	if len(b) < MetaHeaderLen || b[0] != MetaFormat || b[1] == 0 || Type(b[1]) > TypeStream {
		return ErrCorrupt
	}
	m.Type = Type(b[1])
	m.Flags = b[2]
	m.ExpireAt = int64(binary.BigEndian.Uint64(b[3:]))
	m.Version = binary.BigEndian.Uint64(b[11:])
	m.Count = binary.BigEndian.Uint64(b[19:])
	m.Rest = b[MetaHeaderLen:]
	return nil
}

// ListFields are the type fields of a list: elements live at indexes [Head, Tail).
type ListFields struct {
	Head, Tail uint64
}

// ListStart is the index of the first element pushed onto an empty list: the middle of the
// range, so that a list can grow 2^63 elements in either direction.
const ListStart uint64 = 1 << 63

// AppendListFields appends the list type fields.
func AppendListFields(dst []byte, f ListFields) []byte {
	dst = binary.BigEndian.AppendUint64(dst, f.Head)
	return binary.BigEndian.AppendUint64(dst, f.Tail)
}

// DecodeListFields decodes list type fields.
func DecodeListFields(b []byte) (ListFields, error) {
	if len(b) < 16 {
		return ListFields{}, ErrCorrupt
	}
	return ListFields{Head: binary.BigEndian.Uint64(b), Tail: binary.BigEndian.Uint64(b[8:])}, nil
}
