package rdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
)

// ReaderOptions tunes a Reader. The zero value reads like Redis, except that empty keys are
// refused (Redis skips them with a warning; see SkipEmptyKeys).
type ReaderOptions struct {
	// Size is how many bytes the input holds from where the reader starts, when the caller
	// knows it. When zero, NewReader asks the input (a regular *os.File, or anything with a
	// Len method such as *bytes.Reader). Lengths read from the file are checked against it
	// before anything is allocated; without it large reads grow their buffers as the bytes
	// arrive.
	Size int64
	// IgnoreChecksum skips the CRC64 comparison at the end of the file.
	IgnoreChecksum bool
	// SkipEmptyKeys drops collections with no elements, as Redis does when it loads a file,
	// instead of failing on them.
	SkipEmptyKeys bool
}

type readerState uint8

const (
	stateTop readerState = iota
	stateValue
	stateDumpEnd
	stateDone
)

// Reader reads an RDB file (or one DUMP payload) as a sequence of Events. It never holds
// a whole collection: each call to Next decodes the next element. Byte slices in the
// returned Event are valid until the next call to Next.
type Reader struct {
	in      input
	opts    ReaderOptions
	version int
	valkey  bool
	dump    bool
	state   readerState
	err     error
	db      int

	// Attributes of the next key, set by opcodes before its type byte.
	attrOff  int64
	expireAt int64
	idle     int64
	freq     int

	inKey bool
	key   []byte
	hdr   KeyHeader
	cur   valueCursor

	stash    Event
	hasStash bool

	// The last string read: where its bytes started and whether they were LZF-compressed,
	// so that errors inside blobs can point into the file.
	strDataOff int64
	strLZF     bool

	tmp                                    [256]byte // fixed-size reads, so they need no allocation
	keyBuf, fieldBuf, valBuf, blob, lzfBuf []byte
	num                                    [3][]byte
	stream                                 streamCursor
}

// NewReader reads the header of an RDB file ("REDIS" and a 4-digit version, or "VALKEY" and
// a 3-digit one) and returns a Reader positioned at the first opcode.
func NewReader(src io.Reader, opts *ReaderOptions) (*Reader, error) {
	r := &Reader{attrOff: -1, idle: -1, freq: -1}
	if opts != nil {
		r.opts = *opts
	}
	r.in = newInput(src, r.opts.Size)
	var magic [9]byte
	if err := r.in.readFull(magic[:]); err != nil {
		return nil, fmt.Errorf("%w: input is %d bytes, shorter than the header", ErrNotRDB, r.in.off)
	}
	v, valkey, err := parseMagic(magic[:])
	if err != nil {
		return nil, err
	}
	r.version, r.valkey = v, valkey
	return r, nil
}

func parseMagic(m []byte) (version int, valkey bool, err error) {
	digits := func(b []byte) (int, bool) {
		n := 0
		for _, c := range b {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	switch {
	case string(m[:5]) == "REDIS":
		v, ok := digits(m[5:9])
		if !ok {
			return 0, false, fmt.Errorf("%w: header %q", ErrNotRDB, m)
		}
		if v < MinReadVersion || v > MaxReadVersion {
			return 0, false, fmt.Errorf("%w: %d (this package reads Redis versions %d to %d)",
				ErrVersion, v, MinReadVersion, MaxReadVersion)
		}
		return v, false, nil
	case string(m[:6]) == "VALKEY":
		v, ok := digits(m[6:9])
		if !ok {
			return 0, false, fmt.Errorf("%w: header %q", ErrNotRDB, m)
		}
		if v < valkeyMinVersion || v > valkeyMaxVersion {
			return 0, false, fmt.Errorf("%w: Valkey %d (this package reads Valkey versions %d and %d)",
				ErrVersion, v, valkeyMinVersion, valkeyMaxVersion)
		}
		return v, true, nil
	}
	return 0, false, fmt.Errorf("%w: header %q", ErrNotRDB, m)
}

// Version is the file's RDB version (80 and up for Valkey files).
func (r *Reader) Version() int { return r.version }

// Valkey reports whether the file carries Valkey's magic and type numbering.
func (r *Reader) Valkey() bool { return r.valkey }

// Offset is the number of bytes consumed so far.
func (r *Reader) Offset() int64 { return r.in.off }

// Rest returns an io.Reader of what follows the bytes this Reader consumed: after KindEOF,
// the data behind the RDB (an AOF's command tail after its RDB preamble).
func (r *Reader) Rest() io.Reader { return r.in.rest() }

// Next returns the next event. After the KindEOF event it returns io.EOF. Any other error
// is final: every later call returns it again.
func (r *Reader) Next() (Event, error) {
	var ev Event
	err := r.NextInto(&ev)
	return ev, err
}

// NextInto is Next writing into ev, which the caller reuses from call to call: a reader of a
// big dump then neither copies nor allocates an Event per element. ev is overwritten whole.
func (r *Reader) NextInto(ev *Event) error {
	*ev = Event{}
	if r.err != nil {
		return r.err
	}
	if r.hasStash {
		r.hasStash = false
		*ev = r.stash
		return nil
	}
	var err error
	switch r.state {
	case stateTop:
		err = r.nextTop(ev)
	case stateValue:
		err = r.nextInValue(ev)
	case stateDumpEnd:
		r.state = stateDone
		if rem := r.in.remaining(); rem > 0 {
			r.err = r.corrupt(r.in.off, "DUMP payload", "%d bytes after the value", rem)
			return r.err
		}
		return io.EOF
	default:
		return io.EOF
	}
	if err != nil {
		r.err = err
		*ev = Event{}
		return err
	}
	return nil
}

func (r *Reader) nextInValue(ev *Event) error {
	ok, err := r.nextElement(ev)
	if err != nil || ok {
		return err
	}
	*ev = Event{Kind: KindEndKey, DB: r.db, Key: r.key, Header: r.hdr, Size: r.in.off - r.hdr.Offset}
	r.inKey = false
	r.state = stateTop
	if r.dump {
		r.state = stateDumpEnd
	}
	return nil
}

// corrupt builds the error for a malformed structure found at off.
func (r *Reader) corrupt(off int64, what, format string, args ...any) error {
	return &CorruptError{Offset: off, Key: string(r.key), InKey: r.inKey, What: what,
		Detail: fmt.Sprintf(format, args...), Err: ErrCorrupt}
}

// unsupported builds the error for well-formed content this package cannot decode.
func (r *Reader) unsupported(off int64, what, detail string) error {
	return &CorruptError{Offset: off, Key: string(r.key), InKey: r.inKey, What: what,
		Detail: detail, Err: ErrUnsupported}
}

// ioError turns a failed read into an error that says where; a short input is a
// truncated-file CorruptError.
func (r *Reader) ioError(err error, what string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &CorruptError{Offset: r.in.off, Key: string(r.key), InKey: r.inKey, What: what,
			Err: ErrCorrupt, Truncated: true}
	}
	return fmt.Errorf("rdb: reading %s at offset %d: %w", what, r.in.off, err)
}

// blobError turns an error found inside a blob into one with a file offset.
func (r *Reader) blobError(err error, blobOff int64, lzf bool) error {
	var be *blobError
	if !errors.As(err, &be) {
		return err
	}
	if lzf {
		return r.corrupt(blobOff, be.what, "byte %d of the LZF-decompressed blob: %s", be.pos, be.detail)
	}
	return r.corrupt(blobOff+int64(be.pos), be.what, "%s", be.detail)
}

func (r *Reader) readByte(what string) (byte, error) {
	c, err := r.in.readByte()
	if err != nil {
		return 0, r.ioError(err, what)
	}
	return c, nil
}

func (r *Reader) readFixed(p []byte, what string) error {
	if err := r.in.readFull(p); err != nil {
		return r.ioError(err, what)
	}
	return nil
}

// readLenEnc reads an RDB length:
//
//	00LLLLLL                     6-bit length
//	01LLLLLL LLLLLLLL            14-bit length (big-endian)
//	10000000 <u32 BE>            32-bit length
//	10000001 <u64 BE>            64-bit length
//	11EEEEEE                     not a length: a string encoding E follows (see readString)
func (r *Reader) readLenEnc(what string) (n uint64, encoded bool, err error) {
	off := r.in.off
	c, err := r.readByte(what)
	if err != nil {
		return 0, false, err
	}
	switch c >> 6 {
	case 0:
		return uint64(c & 0x3f), false, nil
	case 1:
		c2, err := r.readByte(what)
		if err != nil {
			return 0, false, err
		}
		return uint64(c&0x3f)<<8 | uint64(c2), false, nil
	case 2:
		b := r.tmp[:8]
		switch c {
		case 0x80:
			if err := r.readFixed(b[:4], what); err != nil {
				return 0, false, err
			}
			return uint64(binary.BigEndian.Uint32(b[:4])), false, nil
		case 0x81:
			if err := r.readFixed(b, what); err != nil {
				return 0, false, err
			}
			return binary.BigEndian.Uint64(b), false, nil
		}
		return 0, false, r.corrupt(off, "length", "unknown length encoding %#x", c)
	default:
		return uint64(c & 0x3f), true, nil
	}
}

// readLen reads a plain length (one that may not be a string encoding).
func (r *Reader) readLen(what string) (uint64, error) {
	off := r.in.off
	n, enc, err := r.readLenEnc(what)
	if err == nil && enc {
		err = r.corrupt(off, what, "expected a length, found string encoding %d", n)
	}
	return n, err
}

// readCount reads an element count and checks that the input can hold that many elements
// of at least minBytes each.
func (r *Reader) readCount(what string, minBytes int64) (uint64, error) {
	off := r.in.off
	n, err := r.readLen(what)
	if err != nil {
		return 0, err
	}
	if rem := r.in.remaining(); rem != math.MaxInt64 && n > uint64(rem/minBytes) {
		return 0, r.corrupt(off, what, "count %d cannot fit in the %d bytes left", n, rem)
	}
	return n, nil
}

// String encodings, the low 6 bits after 11 in a length byte.
const (
	encInt8  = 0
	encInt16 = 1
	encInt32 = 2
	encLZF   = 3
)

type strForm uint8

const (
	strRaw strForm = iota
	strInt
	strLZF
)

// readString reads an RDB string into buf (reusing its capacity): a length and the bytes,
// or an integer (8, 16 or 32 bits, little-endian) to be spelled in decimal, or an LZF
// blob. It records where the bytes started for errors found inside them.
func (r *Reader) readString(buf []byte, what string) ([]byte, strForm, error) {
	off := r.in.off
	n, enc, err := r.readLenEnc(what)
	if err != nil {
		return buf, 0, err
	}
	r.strLZF = false
	if enc {
		b := r.tmp[:4]
		switch n {
		case encInt8:
			if err := r.readFixed(b[:1], what); err != nil {
				return buf, 0, err
			}
			return strconv.AppendInt(buf[:0], int64(int8(b[0])), 10), strInt, nil
		case encInt16:
			if err := r.readFixed(b[:2], what); err != nil {
				return buf, 0, err
			}
			return strconv.AppendInt(buf[:0], int64(int16(binary.LittleEndian.Uint16(b))), 10), strInt, nil
		case encInt32:
			if err := r.readFixed(b, what); err != nil {
				return buf, 0, err
			}
			return strconv.AppendInt(buf[:0], int64(int32(binary.LittleEndian.Uint32(b))), 10), strInt, nil
		case encLZF:
			buf, err = r.readLZF(buf, off, what)
			return buf, strLZF, err
		}
		return buf, 0, r.corrupt(off, what, "unknown string encoding %d", n)
	}
	if rem := r.in.remaining(); n > uint64(rem) {
		return buf, 0, r.corrupt(off, what, "length %d exceeds the %d bytes left", n, rem)
	}
	r.strDataOff = r.in.off
	buf, err = r.in.readN(buf, int64(n))
	if err != nil {
		return buf, 0, r.ioError(err, what)
	}
	return buf, strRaw, nil
}

func (r *Reader) readLZF(buf []byte, off int64, what string) ([]byte, error) {
	clen, err := r.readLen(what)
	if err != nil {
		return buf, err
	}
	ulen, err := r.readLen(what)
	if err != nil {
		return buf, err
	}
	if rem := r.in.remaining(); clen > uint64(rem) {
		return buf, r.corrupt(off, what, "LZF length %d exceeds the %d bytes left", clen, rem)
	}
	if ulen == 0 || ulen > clen*lzfMaxExpansion {
		return buf, r.corrupt(off, what, "LZF string of %d bytes cannot decompress to %d", clen, ulen)
	}
	r.strDataOff, r.strLZF = off, true
	r.lzfBuf, err = r.in.readN(r.lzfBuf, int64(clen))
	if err != nil {
		return buf, r.ioError(err, what)
	}
	if uint64(cap(buf)) < ulen {
		buf = make([]byte, ulen)
	}
	buf = buf[:ulen]
	if ok, detail := lzfDecompress(buf, r.lzfBuf); !ok {
		return buf, r.corrupt(off, what, "invalid LZF data: %s", detail)
	}
	return buf, nil
}

// skipString reads past an RDB string without keeping it.
func (r *Reader) skipString(what string) error {
	off := r.in.off
	n, enc, err := r.readLenEnc(what)
	if err != nil {
		return err
	}
	if enc {
		switch n {
		case encInt8, encInt16, encInt32:
			return r.discard(int64(1)<<n, what)
		case encLZF:
			clen, err := r.readLen(what)
			if err != nil {
				return err
			}
			if _, err := r.readLen(what); err != nil {
				return err
			}
			n = clen
		default:
			return r.corrupt(off, what, "unknown string encoding %d", n)
		}
	}
	if rem := r.in.remaining(); n > uint64(rem) {
		return r.corrupt(off, what, "length %d exceeds the %d bytes left", n, rem)
	}
	return r.discard(int64(n), what)
}

func (r *Reader) discard(n int64, what string) error {
	if err := r.in.discard(n); err != nil {
		return r.ioError(err, what)
	}
	return nil
}

// readMillis reads an 8-byte little-endian time in milliseconds.
func (r *Reader) readMillis(what string) (int64, error) {
	b := r.tmp[:8]
	if err := r.readFixed(b, what); err != nil {
		return 0, err
	}
	return int64(binary.LittleEndian.Uint64(b)), nil
}

// readBinaryDouble reads an 8-byte little-endian IEEE 754 double.
func (r *Reader) readBinaryDouble(what string) (float64, error) {
	b := r.tmp[:8]
	if err := r.readFixed(b, what); err != nil {
		return 0, err
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(b)), nil
}

// readASCIIDouble reads a score as sorted sets stored them before RDB 8: one length byte
// (253 NaN, 254 +inf, 255 -inf) and that many bytes of decimal text.
func (r *Reader) readASCIIDouble(what string) (float64, error) {
	off := r.in.off
	n, err := r.readByte(what)
	if err != nil {
		return 0, err
	}
	switch n {
	case 253:
		return math.NaN(), nil
	case 254:
		return math.Inf(1), nil
	case 255:
		return math.Inf(-1), nil
	}
	b := r.tmp[:255]
	if err := r.readFixed(b[:n], what); err != nil {
		return 0, err
	}
	f, perr := strconv.ParseFloat(string(b[:n]), 64)
	if perr != nil {
		return 0, r.corrupt(off, what, "score %q is not a number", b[:n])
	}
	return f, nil
}

// nextTop reads opcodes until one yields an event.
func (r *Reader) nextTop(ev *Event) error {
	if r.dump {
		off := r.in.off
		t, err := r.readByte("object type")
		if err != nil {
			return err
		}
		if t >= opSlotImport {
			return r.corrupt(off, "DUMP payload", "opcode %d where an object type belongs", t)
		}
		_, err = r.startKey(t, off, ev)
		return err
	}
	for {
		opOff := r.in.off
		t, err := r.readByte("opcode")
		if err != nil {
			return err
		}
		switch t {
		case opExpireTime, opExpireTimeMs, opFreq, opIdle:
			if r.attrOff < 0 {
				r.attrOff = opOff
			}
			if err := r.readKeyAttr(t); err != nil {
				return err
			}
		case opEOF:
			return r.readEOF(ev)
		case opSelectDB:
			n, err := r.readLen("database number")
			if err != nil {
				return err
			}
			if n > math.MaxInt32 {
				return r.corrupt(opOff, "database number", "%d is out of range", n)
			}
			r.db = int(n)
			*ev = Event{Kind: KindSelectDB, DB: r.db}
			return nil
		case opResizeDB:
			size, err := r.readLen("resizedb")
			if err != nil {
				return err
			}
			expires, err := r.readLen("resizedb")
			if err != nil {
				return err
			}
			*ev = Event{Kind: KindResizeDB, DB: r.db, DBSize: size, ExpiresSize: expires}
			return nil
		case opAux:
			if r.fieldBuf, _, err = r.readString(r.fieldBuf, "aux field"); err != nil {
				return err
			}
			if r.valBuf, _, err = r.readString(r.valBuf, "aux field"); err != nil {
				return err
			}
			*ev = Event{Kind: KindAux, DB: r.db, Field: r.fieldBuf, Value: r.valBuf}
			return nil
		case opModuleAux:
			return r.readModuleAux(ev)
		case opFunctionPreGA:
			return r.unsupported(opOff, "function library",
				"opcode 246 comes from Redis 7.0 release candidates; save the data again with Redis 7.0 or later")
		case opFunction2:
			if r.valBuf, _, err = r.readString(r.valBuf, "function library"); err != nil {
				return err
			}
			*ev = Event{Kind: KindFunction, DB: r.db, Value: r.valBuf}
			return nil
		case opSlotInfo:
			var v [3]uint64
			for i := range v {
				if v[i], err = r.readLen("slot info"); err != nil {
					return err
				}
			}
			*ev = Event{Kind: KindSlotInfo, DB: r.db, Slot: int(min(v[0], math.MaxInt32)),
				SlotSize: v[1], SlotExpiresSize: v[2]}
			return nil
		case opSlotImport:
			if !r.valkey {
				return r.corrupt(opOff, "opcode", "unknown opcode %d", t)
			}
			if err := r.skipSlotImport(); err != nil {
				return err
			}
		default:
			emitted, err := r.startKey(t, opOff, ev)
			if err != nil || emitted {
				return err
			}
		}
	}
}

func (r *Reader) readKeyAttr(t byte) error {
	switch t {
	case opExpireTime:
		b := r.tmp[:4]
		if err := r.readFixed(b, "expire time"); err != nil {
			return err
		}
		r.expireAt = int64(int32(binary.LittleEndian.Uint32(b))) * 1000
	case opExpireTimeMs:
		ms, err := r.readMillis("expire time")
		if err != nil {
			return err
		}
		r.expireAt = ms
	case opFreq:
		c, err := r.readByte("LFU frequency")
		if err != nil {
			return err
		}
		r.freq = int(c)
	case opIdle:
		n, err := r.readLen("LRU idle time")
		if err != nil {
			return err
		}
		r.idle = int64(min(n, math.MaxInt64))
	}
	return nil
}

// readEOF reads the end of the file: the checksum (RDB 5 and later), compared with the CRC
// of every byte before it unless it is zero (rdbchecksum no) or IgnoreChecksum is set.
func (r *Reader) readEOF(ev *Event) error {
	computed := r.in.crc
	off := r.in.off
	*ev = Event{Kind: KindEOF, DB: r.db}
	if r.version >= 5 {
		b := r.tmp[:8]
		if err := r.readFixed(b, "checksum"); err != nil {
			return err
		}
		stored := binary.LittleEndian.Uint64(b)
		if stored != 0 && stored != computed && !r.opts.IgnoreChecksum {
			return &CorruptError{Offset: off, What: "checksum", Err: ErrChecksum,
				Detail: fmt.Sprintf("file says %#016x, content hashes to %#016x", stored, computed)}
		}
		ev.Checksum = stored
	}
	r.state = stateDone
	return nil
}

// skipSlotImport reads past Valkey's record of a slot import in progress: a job name and
// a count of (start, end) slot ranges. It is cluster state, not data.
func (r *Reader) skipSlotImport() error {
	if err := r.skipString("slot import"); err != nil {
		return err
	}
	n, err := r.readCount("slot import", 2)
	if err != nil {
		return err
	}
	for i := uint64(0); i < 2*n; i++ {
		if _, err := r.readLen("slot import"); err != nil {
			return err
		}
	}
	return nil
}

// startKey reads a key's type byte (already consumed as t), its name and the head of its
// value. It reports false when the key was skipped (SkipEmptyKeys).
func (r *Reader) startKey(t byte, typeOff int64, ev *Event) (bool, error) {
	info, ok := lookupType(t, r.valkey)
	if !ok {
		return false, r.corrupt(typeOff, "opcode", "unknown object type or opcode %d", t)
	}
	off := typeOff
	if r.attrOff >= 0 {
		off = r.attrOff
	}
	r.hdr = KeyHeader{Type: info.vtype, Encoding: info.encoding, ExpireAt: r.expireAt,
		Idle: r.idle, Freq: r.freq, Len: -1, Offset: off, RDBType: t}
	r.attrOff, r.expireAt, r.idle, r.freq = -1, 0, -1, -1
	if !r.dump {
		var err error
		if r.keyBuf, _, err = r.readString(r.keyBuf, "key"); err != nil {
			return false, err
		}
		r.key = r.keyBuf
	}
	r.inKey = true
	return r.startValue(t, typeOff, ev)
}

// startValue reads the head of a value and prepares the cursor over its elements. The
// first event (KindKey, or KindModuleSkipped) goes to ev; for a collection the first
// element is decoded at once and kept for the next call, so that an empty collection is
// caught before its key is announced.
func (r *Reader) startValue(t byte, typeOff int64, ev *Event) (bool, error) {
	if err := r.setupCursor(t, typeOff); err != nil {
		return false, err
	}
	switch r.cur.mode {
	case curModule:
		*ev = Event{Kind: KindModuleSkipped, DB: r.db, Key: r.key, Header: r.hdr,
			Module: r.cur.module, Size: r.in.off - r.hdr.Offset}
		r.inKey = false
		if r.dump {
			r.state = stateDumpEnd
		}
		return true, nil
	case curStream, curString:
		// A stream may be empty; a string's one event is ready.
	default:
		ok, err := r.nextElement(&r.stash)
		if err != nil {
			return false, err
		}
		if !ok {
			if r.opts.SkipEmptyKeys && !r.dump {
				r.inKey = false
				return false, nil
			}
			return false, r.corrupt(typeOff, r.hdr.Encoding, "empty %s: Redis never writes a collection with no elements", r.hdr.Type)
		}
		r.hasStash = true
	}
	*ev = Event{Kind: KindKey, DB: r.db, Key: r.key, Header: r.hdr}
	r.state = stateValue
	return true, nil
}
