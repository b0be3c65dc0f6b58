package rdb

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
)

// EncodingLimits are the thresholds that decide between a compact encoding (listpack,
// intset, ziplist) and a general one (hashtable, skiplist), with Redis's config names.
type EncodingLimits struct {
	HashMaxListpackEntries int // hash-max-listpack-entries
	HashMaxListpackValue   int // hash-max-listpack-value
	SetMaxIntsetEntries    int // set-max-intset-entries
	SetMaxListpackEntries  int // set-max-listpack-entries (RDB 11+)
	SetMaxListpackValue    int // set-max-listpack-value (RDB 11+)
	ZSetMaxListpackEntries int // zset-max-listpack-entries
	ZSetMaxListpackValue   int // zset-max-listpack-value
	// ListMaxListpackSize is list-max-listpack-size: negative -1..-5 caps a quicklist node
	// at 4, 8, 16, 32 or 64 KiB; positive caps its element count.
	ListMaxListpackSize int
	// ListPackedThreshold is the element size from which a list element gets a plain
	// quicklist node of its own (RDB 10+; Redis's packed_threshold, 1 GiB).
	ListPackedThreshold  int64
	StreamNodeMaxBytes   int // stream-node-max-bytes
	StreamNodeMaxEntries int // stream-node-max-entries
}

// DefaultLimits returns Redis 7.0's defaults.
func DefaultLimits() EncodingLimits {
	return EncodingLimits{
		HashMaxListpackEntries: 128, HashMaxListpackValue: 64,
		SetMaxIntsetEntries: 512, SetMaxListpackEntries: 128, SetMaxListpackValue: 64,
		ZSetMaxListpackEntries: 128, ZSetMaxListpackValue: 64,
		ListMaxListpackSize: -2, ListPackedThreshold: 1 << 30,
		StreamNodeMaxBytes: 4096, StreamNodeMaxEntries: 100,
	}
}

// WriterOptions tunes a Writer. The zero value writes what Redis 7.0 writes with its
// default configuration: RDB 10, LZF compression and a checksum.
type WriterOptions struct {
	// Version is the RDB version to write, 9 to 12; 0 means DefaultWriteVersion (10).
	Version int
	// DisableCompression turns off LZF compression of strings (rdbcompression no).
	DisableCompression bool
	// DisableChecksum writes a zero checksum (rdbchecksum no).
	DisableChecksum bool
	// Limits chooses encodings; nil means DefaultLimits.
	Limits *EncodingLimits
	// RedisVer is the redis-ver aux field; empty means the last Redis release of the
	// chosen RDB version (6.2.14, 7.0.15, 7.2.5, 7.4.1).
	RedisVer string
	// CTime is the ctime aux field; zero means now.
	CTime time.Time
	// UsedMem is the used-mem aux field.
	UsedMem int64
	// AOFBase writes aof-base 1, for the base file of a multi-part AOF.
	AOFBase bool
	// KeepAccessInfo writes a key's LRU idle time and LFU frequency (KeyHeader.Idle and
	// Freq) when they are known. Redis writes them only under an LRU or LFU maxmemory
	// policy; by default they are left out.
	KeepAccessInfo bool
	// AllowLoss writes what the target version can hold and drops stream metadata it
	// cannot (a consumer's active time before RDB 11; a stream's max deleted ID and
	// entries-added counter, and its groups' entries-read counters, before RDB 10, which
	// Redis then derives or estimates) instead of refusing. Data (hash field TTLs,
	// functions) is always refused.
	AllowLoss bool
	// TempDir holds spill files of large collections; empty means os.TempDir().
	TempDir string
	// SpillThreshold is how many bytes of a collection's encoded elements are kept in
	// memory, while their count is not yet known, before they spill to a temporary file;
	// 0 means 8 MiB.
	SpillThreshold int
}

type writerState uint8

const (
	wsTop writerState = iota
	wsKey
	wsDone
	wsFailed
)

// byteSink receives encoded bytes: the Writer's output, or a spool.
type byteSink interface {
	emit(p []byte) error
}

// Writer writes an RDB file (or, through DumpEncoder, one DUMP payload) from Events. It
// picks each value's encoding as Redis of the target version would, buffering at most
// the elements it needs to decide (up to the listpack/intset thresholds); beyond that it
// streams, through a spill file when a count must precede elements it has not seen yet.
type Writer struct {
	opts    WriterOptions
	version int
	lim     EncodingLimits
	dst     *bufio.Writer
	dump    bool
	payload []byte // DUMP mode output
	crc     uint64
	state   writerState
	err     error
	db      int

	key      []byte
	hdr      KeyHeader
	lastType byte // the object type of the last key written

	// One collector per type encodes a key's value as its events arrive. They are called
	// directly, not through an interface, so that an Event passed by pointer does not
	// escape to the heap.
	str  stringCollector
	list listCollector
	set  setCollector
	zset zsetCollector
	hash hashCollector
	strm streamCollector

	sp      [4]spool
	lzf     lzfCompressor
	lzfOut  []byte
	tmp     [64]byte // small encodings on their way out (a field, so they need no allocation)
	idBuf   [16]byte // a stream node key
	scratch []byte   // key heads, aux fields, spooled records
	blobBuf []byte   // listpacks, ziplists and intsets being built
}

// NewWriter writes the header and aux fields of an RDB file to dst and returns a Writer for
// the rest. Close (or a KindEOF event) finishes the file.
func NewWriter(dst io.Writer, opts *WriterOptions) (*Writer, error) {
	w, err := newWriter(opts)
	if err != nil {
		return nil, err
	}
	w.dst = bufio.NewWriterSize(dst, 64<<10)
	w.scratch = fmt.Appendf(w.scratch[:0], "REDIS%04d", w.version)
	if err := w.emit(w.scratch); err != nil {
		return nil, err
	}
	if err := w.writeOwnAux(); err != nil {
		return nil, err
	}
	return w, nil
}

func newWriter(opts *WriterOptions) (*Writer, error) {
	w := &Writer{db: -1}
	if opts != nil {
		w.opts = *opts
	}
	w.version = w.opts.Version
	if w.version == 0 {
		w.version = DefaultWriteVersion
	}
	if w.version < MinWriteVersion || w.version > MaxWriteVersion {
		return nil, fmt.Errorf("%w: cannot write version %d (this package writes %d to %d)",
			ErrVersion, w.version, MinWriteVersion, MaxWriteVersion)
	}
	w.lim = DefaultLimits()
	if w.opts.Limits != nil {
		w.lim = *w.opts.Limits
	}
	limit := w.opts.SpillThreshold
	if limit <= 0 {
		limit = 8 << 20
	}
	for i := range w.sp {
		w.sp[i].limit, w.sp[i].dir = limit, w.opts.TempDir
	}
	return w, nil
}

// Version is the RDB version being written.
func (w *Writer) Version() int { return w.version }

func (w *Writer) writeOwnAux() error {
	ver := w.opts.RedisVer
	if ver == "" {
		ver = [...]string{9: "6.2.14", 10: "7.0.15", 11: "7.2.5", 12: "7.4.1"}[w.version]
	}
	ctime := w.opts.CTime
	if ctime.IsZero() {
		ctime = time.Now()
	}
	aofBase := "0"
	if w.opts.AOFBase {
		aofBase = "1"
	}
	fields := [...][2]string{
		{"redis-ver", ver},
		{"redis-bits", "64"},
		{"ctime", strconv.FormatInt(ctime.Unix(), 10)},
		{"used-mem", strconv.FormatInt(w.opts.UsedMem, 10)},
		{"aof-base", aofBase},
	}
	for _, f := range fields {
		if err := w.writeAux([]byte(f[0]), []byte(f[1])); err != nil {
			return err
		}
	}
	return nil
}

func (w *Writer) writeAux(field, value []byte) error {
	b := append(w.scratch[:0], opAux)
	b = w.appendString(b, field)
	b = w.appendString(b, value)
	w.scratch = b
	return w.emit(b)
}

// ownAux names the aux fields the Writer writes itself; incoming ones are dropped.
func ownAux(field []byte) bool {
	switch string(field) {
	case "redis-ver", "redis-bits", "ctime", "used-mem", "aof-base", "aof-preamble":
		return true
	}
	return false
}

// emit sends bytes to the output, folding them into the checksum.
func (w *Writer) emit(p []byte) error {
	w.crc = CRC64(w.crc, p)
	if w.dump {
		w.payload = append(w.payload, p...)
		return nil
	}
	_, err := w.dst.Write(p)
	return err
}

func (w *Writer) emitLen(n uint64) error {
	return w.emit(appendLen(w.tmp[:0], n))
}

// Write consumes one event. An error is final: the Writer refuses everything after it,
// and Close does not finish the file.
func (w *Writer) Write(ev *Event) error {
	if w.err != nil {
		return w.err
	}
	if w.state == wsDone {
		return ErrClosed
	}
	if err := w.write(ev); err != nil {
		w.fail(err)
		return err
	}
	return nil
}

func (w *Writer) fail(err error) {
	w.err, w.state = err, wsFailed
	for i := range w.sp {
		w.sp[i].reset()
	}
}

func (w *Writer) orderError(ev *Event) error {
	if w.state == wsKey {
		return fmt.Errorf("%w: %s inside %s key %q", ErrEventOrder, ev.Kind, w.hdr.Type, w.key)
	}
	return fmt.Errorf("%w: %s outside a key", ErrEventOrder, ev.Kind)
}

func (w *Writer) write(ev *Event) error {
	if w.state == wsKey {
		if ev.Kind == KindEndKey {
			return w.endKey()
		}
		return w.addElement(ev)
	}
	if w.dump && ev.Kind != KindKey {
		return w.orderError(ev)
	}
	switch ev.Kind {
	case KindKey:
		return w.beginKey(ev)
	case KindAux:
		if ownAux(ev.Field) {
			return nil
		}
		return w.writeAux(ev.Field, ev.Value)
	case KindSelectDB:
		return w.selectDB(ev.DB)
	case KindResizeDB:
		if ev.DB != w.db {
			if err := w.selectDB(ev.DB); err != nil {
				return err
			}
		}
		b := append(w.scratch[:0], opResizeDB)
		b = appendLen(b, ev.DBSize)
		b = appendLen(b, ev.ExpiresSize)
		w.scratch = b
		return w.emit(b)
	case KindSlotInfo:
		// A size hint; Redis before 7.4 does not know the opcode, so it is dropped there.
		if w.version < 12 {
			return nil
		}
		b := append(w.scratch[:0], opSlotInfo)
		b = appendLen(b, uint64(ev.Slot))
		b = appendLen(b, ev.SlotSize)
		b = appendLen(b, ev.SlotExpiresSize)
		w.scratch = b
		return w.emit(b)
	case KindFunction:
		if w.version < 10 {
			return notRepresentable(w.version, "function libraries (Redis 7.0, RDB 10)")
		}
		if err := w.emit([]byte{opFunction2}); err != nil {
			return err
		}
		return w.writeString(w, ev.Value)
	case KindModuleSkipped:
		return nil // there is nothing left to write
	case KindEOF:
		return w.finish()
	}
	return w.orderError(ev)
}

func (w *Writer) selectDB(db int) error {
	if db < 0 {
		return fmt.Errorf("%w: database %d", ErrEventOrder, db)
	}
	w.db = db
	b := append(w.scratch[:0], opSelectDB)
	b = appendLen(b, uint64(db))
	w.scratch = b
	return w.emit(b)
}

func (w *Writer) beginKey(ev *Event) error {
	w.key = append(w.key[:0], ev.Key...)
	w.hdr = ev.Header
	if !w.dump && ev.DB != w.db {
		if err := w.selectDB(ev.DB); err != nil {
			return err
		}
	}
	switch ev.Header.Type {
	case TypeString:
		w.str.begin(w)
	case TypeList:
		w.list.begin(w)
	case TypeSet:
		w.set.begin(w)
	case TypeZSet:
		w.zset.begin(w)
	case TypeHash:
		w.hash.begin(w)
	case TypeStream:
		w.strm.begin(w)
	default:
		return fmt.Errorf("%w: key %q of type %s", ErrNotRepresentable, ev.Key, ev.Header.Type)
	}
	w.state = wsKey
	return nil
}

func (w *Writer) addElement(ev *Event) error {
	switch w.hdr.Type {
	case TypeString:
		return w.str.add(w, ev)
	case TypeList:
		return w.list.add(w, ev)
	case TypeSet:
		return w.set.add(w, ev)
	case TypeZSet:
		return w.zset.add(w, ev)
	case TypeHash:
		return w.hash.add(w, ev)
	default:
		return w.strm.add(w, ev)
	}
}

func (w *Writer) endValue() error {
	switch w.hdr.Type {
	case TypeString:
		return w.str.end(w)
	case TypeList:
		return w.list.end(w)
	case TypeSet:
		return w.set.end(w)
	case TypeZSet:
		return w.zset.end(w)
	case TypeHash:
		return w.hash.end(w)
	default:
		return w.strm.end(w)
	}
}

func (w *Writer) endKey() error {
	if err := w.endValue(); err != nil {
		return err
	}
	for i := range w.sp {
		w.sp[i].reset()
	}
	w.state = wsTop
	if w.dump {
		w.state = wsDone
	}
	return nil
}

// head writes what precedes a value: the key's expiry (and access info when kept), the
// object type byte and the key name. A DUMP payload has only the type byte.
func (w *Writer) head(t byte) error {
	w.lastType = t
	if w.dump {
		return w.emit([]byte{t})
	}
	b := w.scratch[:0]
	if w.hdr.ExpireAt != 0 {
		b = append(b, opExpireTimeMs)
		b = binary.LittleEndian.AppendUint64(b, uint64(w.hdr.ExpireAt))
	}
	if w.opts.KeepAccessInfo {
		if w.hdr.Idle >= 0 {
			b = append(b, opIdle)
			b = appendLen(b, uint64(w.hdr.Idle))
		}
		if w.hdr.Freq >= 0 {
			b = append(b, opFreq, byte(min(w.hdr.Freq, 255)))
		}
	}
	b = append(b, t)
	b = w.appendString(b, w.key)
	w.scratch = b
	return w.emit(b)
}

// finish writes the EOF opcode and the checksum.
func (w *Writer) finish() error {
	if err := w.emit([]byte{opEOF}); err != nil {
		return err
	}
	sum := w.crc
	if w.opts.DisableChecksum {
		sum = 0
	}
	if err := w.emit(binary.LittleEndian.AppendUint64(w.tmp[:0], sum)); err != nil {
		return err
	}
	w.state = wsDone
	return w.dst.Flush()
}

// Close finishes the file if no KindEOF event did, and flushes it. It does not close the
// underlying io.Writer. After a failed Write it returns that error and writes nothing more.
func (w *Writer) Close() error {
	for i := range w.sp {
		w.sp[i].reset()
	}
	switch w.state {
	case wsFailed:
		return w.err
	case wsKey:
		w.fail(fmt.Errorf("%w: Close inside key %q", ErrEventOrder, w.key))
		return w.err
	case wsTop:
		if err := w.finish(); err != nil {
			w.fail(err)
			return err
		}
	}
	w.state = wsDone
	if w.dst != nil {
		return w.dst.Flush()
	}
	return nil
}

// appendLen appends an RDB length: 6 bits, 14 bits, or a marker and 32 or 64 bits
// big-endian.
func appendLen(dst []byte, n uint64) []byte {
	switch {
	case n < 1<<6:
		return append(dst, byte(n))
	case n < 1<<14:
		return append(dst, 0x40|byte(n>>8), byte(n))
	case n <= math.MaxUint32:
		dst = append(dst, 0x80)
		return binary.BigEndian.AppendUint32(dst, uint32(n))
	default:
		dst = append(dst, 0x81)
		return binary.BigEndian.AppendUint64(dst, n)
	}
}

// appendIntString appends s as an int-encoded RDB string when it is a canonical integer
// that fits 32 bits (as rdbTryIntegerEncoding does for strings of up to 11 bytes).
func appendIntString(dst, s []byte) ([]byte, bool) {
	if len(s) > 11 {
		return dst, false
	}
	v, ok := parseCanonicalInt(s)
	if !ok {
		return dst, false
	}
	switch {
	case v >= math.MinInt8 && v <= math.MaxInt8:
		return append(dst, 0xC0|encInt8, byte(v)), true
	case v >= math.MinInt16 && v <= math.MaxInt16:
		return append(dst, 0xC0|encInt16, byte(v), byte(v>>8)), true
	case v >= math.MinInt32 && v <= math.MaxInt32:
		return append(dst, 0xC0|encInt32, byte(v), byte(v>>8), byte(v>>16), byte(v>>24)), true
	}
	return dst, false
}

// lzfProbeSize is how much of a big string is test-compressed first.
const lzfProbeSize = 64 << 10

// compress tries LZF on s (rdbcompression: only strings over 20 bytes, and only when it
// saves more than 4 bytes), returning the compressed form's header and body.
func (w *Writer) compress(hdr, s []byte) ([]byte, []byte, bool) {
	if w.opts.DisableCompression || len(s) <= 20 {
		return hdr, nil, false
	}
	if len(s) > lzfProbeSize*16 {
		// Before building a compressed copy of a big string, see whether its start
		// compresses at all; random or already compressed data is written as is.
		if _, ok := w.lzf.appendCompressed(w.lzfOut[:0], s[:lzfProbeSize], lzfProbeSize*9/10); !ok {
			return hdr, nil, false
		}
	}
	out, ok := w.lzf.appendCompressed(w.lzfOut[:0], s, len(s)-4)
	if cap(out) <= 4<<20 {
		w.lzfOut = out[:0] // keep a modest buffer for reuse, not a huge one
	}
	if !ok {
		return hdr, nil, false
	}
	hdr = append(hdr, 0xC0|encLZF)
	hdr = appendLen(hdr, uint64(len(out)))
	hdr = appendLen(hdr, uint64(len(s)))
	return hdr, out, true
}

// appendString appends s as an RDB string the way rdbSaveRawString writes it: int-encoded
// when it can be, LZF-compressed when that pays, raw otherwise.
func (w *Writer) appendString(dst, s []byte) []byte {
	if b, ok := appendIntString(dst, s); ok {
		return b
	}
	if b, body, ok := w.compress(dst, s); ok {
		return append(b, body...)
	}
	dst = appendLen(dst, uint64(len(s)))
	return append(dst, s...)
}

// writeString sends s as an RDB string to out without copying it first, so a huge value
// costs no second copy (LZF output aside).
func (w *Writer) writeString(out byteSink, s []byte) error {
	if b, ok := appendIntString(w.tmp[:0], s); ok {
		return out.emit(b)
	}
	if b, body, ok := w.compress(w.tmp[:0], s); ok {
		if err := out.emit(b); err != nil {
			return err
		}
		return out.emit(body)
	}
	if err := out.emit(appendLen(w.tmp[:0], uint64(len(s)))); err != nil {
		return err
	}
	return out.emit(s)
}

// appendScore spells a score as Redis 7.0's d2string does for listpacks and ziplists:
// integers within 2^52 as integers, infinities as inf and -inf, others with 17 digits.
func appendScore(dst []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(dst, "inf"...)
	case math.IsInf(f, -1):
		return append(dst, "-inf"...)
	case f == 0:
		if math.Signbit(f) {
			return append(dst, "-0"...)
		}
		return append(dst, '0')
	case f > -4503599627370495 && f < 4503599627370496 && f == math.Trunc(f):
		return strconv.AppendInt(dst, int64(f), 10)
	}
	return strconv.AppendFloat(dst, f, 'g', 17, 64)
}
