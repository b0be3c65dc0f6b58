package rdb

import (
	"math"
	"strconv"
)

// The value cursor walks one key's value element by element. Counted encodings (a length,
// then the elements as RDB strings) read one element from the file per call; packed
// encodings (ziplist, listpack, intset, zipmap) read their blob once and walk it;
// quicklists read one node at a time; streams have their own cursor (stream.go).

type cursorMode uint8

const (
	curString cursorMode = iota + 1
	curCounted
	curPacked
	curQuicklist
	curStream
	curModule
)

// elemFormat is how one element of a counted encoding is laid out.
type elemFormat uint8

const (
	fmtListString    elemFormat = iota + 1 // string
	fmtSetString                           // string
	fmtZSetASCII                           // member, score as text (type 3)
	fmtZSetBinary                          // member, score as 8-byte double (type 5)
	fmtHashPair                            // field, value
	fmtHashTTLRel                          // TTL relative to the minimum (+1, 0 = none), field, value
	fmtHashTTLAbs                          // absolute TTL (0 = none), field, value
	fmtHashValkeyTTL                       // field, value, 8-byte expiry (-1 = none)
)

type packedKind uint8

const (
	pkZiplist packedKind = iota + 1
	pkListpack
	pkIntset
	pkZipmap
)

// packedIter walks one blob of any packed kind.
type packedIter struct {
	kind packedKind
	zl   ziplistIter
	lp   listpackIter
	is   intsetIter
	zm   zipmapIter
}

func (p *packedIter) init(kind packedKind, b []byte) (int, error) {
	p.kind = kind
	var err error
	declared := -1
	switch kind {
	case pkZiplist:
		p.zl, err = newZiplistIter(b)
		declared = p.zl.declared
	case pkListpack:
		p.lp, err = newListpackIter(b)
		declared = p.lp.declared
	case pkIntset:
		p.is, err = newIntsetIter(b)
		declared = p.is.n
	case pkZipmap:
		p.zm, err = newZipmapIter(b)
		declared = p.zm.declared
	}
	return declared, err
}

func (p *packedIter) next() (packedEntry, bool, error) {
	switch p.kind {
	case pkZiplist:
		return p.zl.next()
	case pkListpack:
		return p.lp.next()
	case pkIntset:
		return p.is.next()
	default:
		return p.zm.next()
	}
}

type valueCursor struct {
	mode      cursorMode
	format    elemFormat
	vtype     ValueType
	arity     int // packed entries per element: 1, 2 (pairs) or 3 (hash field TTLs)
	remaining uint64
	minExpire int64

	it      packedIter
	blobOff int64
	blobLZF bool
	active  bool // a packed blob (or quicklist node) is being walked

	nodes     uint64 // quicklist nodes left
	quicklist int    // 1 (ziplist nodes) or 2 (listpack and plain nodes)
	module    string
}

// entryBytes spells a packed entry as bytes, integers in decimal in scratch slot.
func (r *Reader) entryBytes(e packedEntry, slot int) []byte {
	if !e.isInt {
		return e.str
	}
	r.num[slot] = strconv.AppendInt(r.num[slot][:0], e.ival, 10)
	return r.num[slot]
}

// setupCursor reads the head of a value of object type t.
func (r *Reader) setupCursor(t byte, typeOff int64) error {
	c := &r.cur
	*c = valueCursor{vtype: r.hdr.Type, arity: 1}
	counted := func(f elemFormat, minBytes int64) error {
		n, err := r.readCount(r.hdr.Encoding+" length", minBytes)
		c.mode, c.format, c.remaining = curCounted, f, n
		r.hdr.Len = int64(min(n, math.MaxInt64))
		return err
	}
	switch {
	case t == typeString:
		v, form, err := r.readString(r.valBuf, "string value")
		r.valBuf = v
		if err != nil {
			return err
		}
		switch form {
		case strInt:
			r.hdr.Encoding = "int"
		case strLZF:
			r.hdr.Encoding = "lzf"
		}
		c.mode = curString
		r.stash = Event{Kind: KindString, DB: r.db, Key: r.key, Value: r.valBuf}
		r.hasStash = true
		return nil
	case t == typeList:
		return counted(fmtListString, 1)
	case t == typeSet:
		return counted(fmtSetString, 1)
	case t == typeZSet:
		return counted(fmtZSetASCII, 2)
	case t == typeZSet2:
		return counted(fmtZSetBinary, 9)
	case t == typeHash:
		return counted(fmtHashPair, 2)
	case t == typeModulePreGA:
		return r.unsupported(typeOff, "module value",
			"type 6 comes from Redis 4.0 release candidates and does not say where it ends; load it into a Redis with the module and save it again")
	case t == typeModule2:
		name, err := r.skipModuleValue("module value")
		c.mode, c.module = curModule, name
		return err
	case r.valkey && t == typeValkeyHash2:
		return counted(fmtHashValkeyTTL, 10)
	case r.valkey && t == typeValkeyPathHash:
		return r.unsupported(typeOff, "Valkey path hash", "object type 23 of Valkey RDB 81 is not decoded by this package")
	case t == typeHashMetadataPreGA:
		return counted(fmtHashTTLAbs, 3)
	case t == typeHashMetadata:
		m, err := r.readMillis("hash minimum expire time")
		if err != nil {
			return err
		}
		c.minExpire = m
		return counted(fmtHashTTLRel, 3)
	case t == typeListQuicklist || t == typeListQuicklist2:
		c.mode, c.quicklist = curQuicklist, 1
		minBytes := int64(1)
		if t == typeListQuicklist2 {
			c.quicklist, minBytes = 2, 2
		}
		n, err := r.readCount("quicklist node count", minBytes)
		c.nodes = n
		return err
	case t == typeStreamListpacks || t == typeStreamListpacks2 || t == typeStreamListpacks3:
		c.mode = curStream
		return r.setupStream(t)
	}
	// Packed encodings: one blob.
	var kind packedKind
	switch t {
	case typeHashZipmap:
		kind, c.arity = pkZipmap, 2
	case typeListZiplist:
		kind = pkZiplist
	case typeSetIntset:
		kind = pkIntset
	case typeZSetZiplist, typeHashZiplist:
		kind, c.arity = pkZiplist, 2
	case typeHashListpack, typeZSetListpack:
		kind, c.arity = pkListpack, 2
	case typeSetListpack:
		kind = pkListpack
	case typeHashListpackEx, typeHashLPExPreGA:
		kind, c.arity = pkListpack, 3
		if t == typeHashListpackEx {
			// The earliest field expiry, for streaming the object straight to flash one day;
			// the fields carry their own absolute times.
			if _, err := r.readMillis("hash minimum expire time"); err != nil {
				return err
			}
		}
	default:
		return r.corrupt(typeOff, "opcode", "unknown object type %d", t)
	}
	var err error
	if r.blob, _, err = r.readString(r.blob, r.hdr.Encoding); err != nil {
		return err
	}
	c.mode, c.active = curPacked, true
	c.blobOff, c.blobLZF = r.strDataOff, r.strLZF
	declared, err := c.it.init(kind, r.blob)
	if declared >= 0 {
		if kind != pkZipmap { // zmlen counts pairs already
			declared /= c.arity
		}
		r.hdr.Len = int64(declared)
	}
	if err != nil {
		return r.blobError(err, c.blobOff, c.blobLZF)
	}
	return nil
}

// nextElement decodes the next element of the current value into ev, or reports false at
// the end of the value.
func (r *Reader) nextElement(ev *Event) (bool, error) {
	c := &r.cur
	switch c.mode {
	case curCounted:
		if c.remaining == 0 {
			return false, nil
		}
		c.remaining--
		return true, r.nextCounted(ev)
	case curPacked:
		if !c.active {
			return false, nil
		}
		ok, err := r.nextPacked(ev)
		if !ok {
			c.active = false
		}
		return ok, err
	case curQuicklist:
		return r.nextQuicklist(ev)
	case curStream:
		return r.nextStream(ev)
	}
	return false, nil
}

func (r *Reader) nextCounted(ev *Event) error {
	c := &r.cur
	*ev = Event{DB: r.db, Key: r.key}
	var err error
	switch c.format {
	case fmtListString, fmtSetString:
		if r.valBuf, _, err = r.readString(r.valBuf, "element"); err != nil {
			return err
		}
		ev.Kind, ev.Value = KindListItem, r.valBuf
		if c.format == fmtSetString {
			ev.Kind = KindSetMember
		}
		return nil
	case fmtZSetASCII, fmtZSetBinary:
		if r.valBuf, _, err = r.readString(r.valBuf, "member"); err != nil {
			return err
		}
		off := r.in.off
		if c.format == fmtZSetASCII {
			ev.Score, err = r.readASCIIDouble("score")
		} else {
			ev.Score, err = r.readBinaryDouble("score")
		}
		if err != nil {
			return err
		}
		if math.IsNaN(ev.Score) {
			return r.corrupt(off, "score", "NaN score")
		}
		ev.Kind, ev.Value = KindZSetMember, r.valBuf
		return nil
	}
	// Hashes.
	ev.Kind = KindHashField
	if c.format == fmtHashTTLRel || c.format == fmtHashTTLAbs {
		off := r.in.off
		ttl, err := r.readLen("field TTL")
		if err != nil {
			return err
		}
		if ttl != 0 {
			at := ttl
			if c.format == fmtHashTTLRel {
				at = ttl + uint64(c.minExpire) - 1
			}
			if at > maxFieldExpire {
				return r.corrupt(off, "field TTL", "expire time %d is out of range", at)
			}
			ev.ExpireAt = int64(at)
		}
	}
	if r.fieldBuf, _, err = r.readString(r.fieldBuf, "field"); err != nil {
		return err
	}
	if r.valBuf, _, err = r.readString(r.valBuf, "value"); err != nil {
		return err
	}
	ev.Field, ev.Value = r.fieldBuf, r.valBuf
	if c.format == fmtHashValkeyTTL {
		off := r.in.off
		at, err := r.readMillis("field expiry")
		if err != nil {
			return err
		}
		if at < -1 {
			return r.corrupt(off, "field expiry", "expire time %d is out of range", at)
		}
		if at > 0 {
			ev.ExpireAt = at
		}
	}
	return nil
}

// maxFieldExpire is the largest field expiry Redis accepts (EB_EXPIRE_TIME_MAX, 48 bits).
const maxFieldExpire = 1<<48 - 1

// nextPacked decodes the next element from the current blob.
func (r *Reader) nextPacked(ev *Event) (bool, error) {
	c := &r.cur
	var ents [3]packedEntry
	for i := 0; i < c.arity; i++ {
		e, ok, err := c.it.next()
		if err != nil {
			return false, r.blobError(err, c.blobOff, c.blobLZF)
		}
		if !ok {
			if i == 0 {
				return false, nil
			}
			return false, r.corrupt(c.blobOff, r.hdr.Encoding, "%d entries do not make whole %s elements of %d entries",
				i, c.vtype, c.arity)
		}
		ents[i] = e
	}
	*ev = Event{DB: r.db, Key: r.key}
	switch c.vtype {
	case TypeList:
		ev.Kind, ev.Value = KindListItem, r.entryBytes(ents[0], 0)
	case TypeSet:
		ev.Kind, ev.Value = KindSetMember, r.entryBytes(ents[0], 0)
	case TypeZSet:
		ev.Kind, ev.Value = KindZSetMember, r.entryBytes(ents[0], 0)
		if ents[1].isInt {
			ev.Score = float64(ents[1].ival)
		} else {
			f, err := strconv.ParseFloat(string(ents[1].str), 64)
			if err != nil || math.IsNaN(f) {
				return false, r.corrupt(c.blobOff, r.hdr.Encoding, "score %q is not a number", ents[1].str)
			}
			ev.Score = f
		}
	case TypeHash:
		ev.Kind, ev.Field, ev.Value = KindHashField, r.entryBytes(ents[0], 0), r.entryBytes(ents[1], 1)
		if c.arity == 3 {
			if !ents[2].isInt || ents[2].ival < 0 || ents[2].ival > maxFieldExpire {
				return false, r.corrupt(c.blobOff, r.hdr.Encoding, "field TTL entry is not a valid time")
			}
			ev.ExpireAt = ents[2].ival
		}
	}
	return true, nil
}

// nextQuicklist decodes the next list element, loading nodes as needed. Quicklist 1 nodes
// are ziplists; quicklist 2 nodes are a container tag (1 plain: one element as is, 2
// packed: a listpack) and a blob.
func (r *Reader) nextQuicklist(ev *Event) (bool, error) {
	c := &r.cur
	for {
		if c.active {
			e, ok, err := c.it.next()
			if err != nil {
				return false, r.blobError(err, c.blobOff, c.blobLZF)
			}
			if ok {
				*ev = Event{Kind: KindListItem, DB: r.db, Key: r.key, Value: r.entryBytes(e, 0)}
				return true, nil
			}
			c.active = false
		}
		if c.nodes == 0 {
			return false, nil
		}
		c.nodes--
		container := uint64(quicklistPacked)
		if c.quicklist == 2 {
			off := r.in.off
			var err error
			if container, err = r.readLen("quicklist container"); err != nil {
				return false, err
			}
			if container != quicklistPlain && container != quicklistPacked {
				return false, r.corrupt(off, "quicklist", "unknown node container %d", container)
			}
		}
		off := r.in.off
		var err error
		if r.blob, _, err = r.readString(r.blob, "quicklist node"); err != nil {
			return false, err
		}
		if len(r.blob) == 0 {
			return false, r.corrupt(off, "quicklist", "empty node")
		}
		if container == quicklistPlain {
			*ev = Event{Kind: KindListItem, DB: r.db, Key: r.key, Value: r.blob}
			return true, nil
		}
		kind := pkZiplist
		if c.quicklist == 2 {
			kind = pkListpack
		}
		c.blobOff, c.blobLZF = r.strDataOff, r.strLZF
		if _, err := c.it.init(kind, r.blob); err != nil {
			return false, r.blobError(err, c.blobOff, c.blobLZF)
		}
		c.active = true
	}
}
