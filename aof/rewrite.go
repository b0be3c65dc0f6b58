package aof

import (
	"fmt"
	"math"
	"strconv"

	"github.com/stratadb/strata/rdb"
	"github.com/tidwall/redcon"
)

// ItemsPerCommand is Redis's AOF_REWRITE_ITEMS_PER_CMD: the most elements (or pairs) one
// RPUSH, SADD, ZADD or HMSET of a rewrite carries.
const ItemsPerCommand = 64

// RewriteOptions configure a Rewriter.
type RewriteOptions struct {
	// Timestamp, when not 0, is written first as a "#TS:" annotation, as Redis does when
	// aof-timestamp-enabled is on.
	Timestamp int64
	// HashFieldTTL writes a hash field's TTL as "HPEXPIREAT key ms FIELDS 1 field" (Redis 7.4
	// and later). Without it a field TTL is ErrFieldTTL, since Redis 7.0 cannot hold one.
	HashFieldTTL bool
}

// Rewriter turns a dump (a sequence of rdb.Events) into the commands Redis 7.0's BGREWRITEAOF
// writes for the same data (rewriteAppendOnlyFileRio in aof.c):
//
//	FUNCTION LOAD <code>                            each function library, where it comes
//	SELECT <db>                                     before the first key of each database
//	SET key value                                   string
//	RPUSH key e1 .. e64, RPUSH key e65 ..           list, head to tail, 64 per command
//	SADD key m1 .. m64                              set
//	ZADD key s1 m1 .. s64 m64                       sorted set, scores as %.17g
//	HMSET key f1 v1 .. f64 v64                      hash
//	XADD key <id> f v ..                            each stream entry
//	XADD key MAXLEN 0 0-1 x y                       (a stream with no entries)
//	XSETID key <last-id> ENTRIESADDED <n> MAXDELETEDID <id>
//	XGROUP CREATE key <group> <last-id> ENTRIESREAD <n>
//	XGROUP CREATECONSUMER key <group> <consumer>    a consumer without pending entries
//	XCLAIM key <group> <consumer> 0 <id> TIME <ms> RETRYCOUNT <n> JUSTID FORCE
//	                                                each pending entry of a consumer
//	PEXPIREAT key <ms>                              after a key that expires
//
// Module values are skipped (Skipped counts them): Redis would ask the module, which Strata
// does not have. A Rewriter is an encoder: Append appends to the caller's buffer, and only
// whole commands (a batch of up to 64 elements waits inside until it is full or its key ends).
type Rewriter struct {
	opts    RewriteOptions
	started bool
	db      int // selected database, -1 none

	inKey   bool
	key     []byte
	hdr     rdb.KeyHeader
	exists  bool // commands that create the key were written
	batchOf string
	batchN  int
	batch   []byte
	ttls    []fieldTTL
	ttlBuf  []byte

	entries  int
	meta     bool
	group    []byte
	inGroup  bool
	pel      map[rdb.StreamID]rdb.StreamPending
	skipped  int
	fieldBuf []byte
}

type fieldTTL struct {
	a, b int
	at   int64
}

// NewRewriter returns a Rewriter with no database selected.
func NewRewriter(o RewriteOptions) *Rewriter { return &Rewriter{opts: o, db: -1} }

// Selected is the database the commands written so far left selected (-1: none), for
// Writer.Selected.
func (rw *Rewriter) Selected() int { return rw.db }

// Skipped is the number of module values skipped.
func (rw *Rewriter) Skipped() int { return rw.skipped }

func (rw *Rewriter) bad(ev *rdb.Event, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if rw.inKey {
		msg = fmt.Sprintf("key %q: %s", rw.key, msg)
	}
	return &Error{Offset: -1, Err: ErrEvent, Msg: fmt.Sprintf("%s event: %s", ev.Kind, msg)}
}

// Append appends the commands ev completes to dst.
func (rw *Rewriter) Append(dst []byte, ev *rdb.Event) ([]byte, error) {
	if !rw.started {
		rw.started = true
		if rw.opts.Timestamp != 0 {
			dst = AppendTimestamp(dst, rw.opts.Timestamp)
		}
	}
	switch ev.Kind {
	case rdb.KindAux, rdb.KindSelectDB, rdb.KindResizeDB, rdb.KindSlotInfo:
		return dst, nil
	case rdb.KindModuleSkipped:
		rw.skipped++
		return dst, nil
	case rdb.KindFunction:
		if rw.inKey {
			return dst, rw.bad(ev, "inside a key")
		}
		return AppendCommand(dst, []byte("FUNCTION"), []byte("LOAD"), ev.Value), nil
	case rdb.KindEOF:
		if rw.inKey {
			return dst, rw.bad(ev, "key not ended")
		}
		return dst, nil
	case rdb.KindKey:
		return rw.startKey(dst, ev)
	case rdb.KindEndKey:
		if !rw.inKey {
			return dst, rw.bad(ev, "no key started")
		}
		return rw.endKey(dst, ev)
	}
	if !rw.inKey {
		return dst, rw.bad(ev, "outside a key")
	}
	want := elementType(ev.Kind)
	if want == 0 || want != rw.hdr.Type {
		return dst, rw.bad(ev, "in a key of type %s", rw.hdr.Type)
	}
	switch ev.Kind {
	case rdb.KindString:
		if rw.exists {
			return dst, rw.bad(ev, "second value")
		}
		rw.exists = true
		return AppendCommand(dst, []byte("SET"), rw.key, ev.Value), nil
	case rdb.KindListItem:
		return rw.add(dst, "RPUSH", ev.Value), nil
	case rdb.KindSetMember:
		return rw.add(dst, "SADD", ev.Value), nil
	case rdb.KindZSetMember:
		if math.IsNaN(ev.Score) {
			return dst, rw.bad(ev, "NaN score")
		}
		rw.fieldBuf = appendScore(rw.fieldBuf[:0], ev.Score)
		return rw.add(dst, "ZADD", rw.fieldBuf, ev.Value), nil
	case rdb.KindHashField:
		if ev.ExpireAt != 0 {
			if !rw.opts.HashFieldTTL {
				return dst, &Error{Offset: -1, Err: ErrFieldTTL, Msg: fmt.Sprintf("key %q field %q", rw.key, ev.Field)}
			}
			a := len(rw.ttlBuf)
			rw.ttlBuf = append(rw.ttlBuf, ev.Field...)
			rw.ttls = append(rw.ttls, fieldTTL{a: a, b: len(rw.ttlBuf), at: ev.ExpireAt})
		}
		return rw.add(dst, "HMSET", ev.Field, ev.Value), nil
	}
	return rw.stream(dst, ev)
}

func (rw *Rewriter) startKey(dst []byte, ev *rdb.Event) ([]byte, error) {
	if rw.inKey {
		return dst, rw.bad(ev, "previous key not ended")
	}
	switch ev.Header.Type {
	case rdb.TypeString, rdb.TypeList, rdb.TypeSet, rdb.TypeZSet, rdb.TypeHash, rdb.TypeStream:
	default:
		return dst, rw.bad(ev, "key %q of type %s", ev.Key, ev.Header.Type)
	}
	if ev.DB < 0 {
		return dst, rw.bad(ev, "database %d", ev.DB)
	}
	rw.inKey, rw.exists = true, false
	rw.key = append(rw.key[:0], ev.Key...)
	rw.hdr = ev.Header
	rw.batchN, rw.batch = 0, rw.batch[:0]
	rw.ttls, rw.ttlBuf = rw.ttls[:0], rw.ttlBuf[:0]
	rw.entries, rw.meta, rw.inGroup = 0, false, false
	if ev.DB != rw.db {
		dst = AppendSelect(dst, ev.DB)
		rw.db = ev.DB
	}
	return dst, nil
}

// add adds one element (one or two bulks) to the batch of cmd.
func (rw *Rewriter) add(dst []byte, cmd string, bulks ...[]byte) []byte {
	rw.batchOf = cmd
	for _, b := range bulks {
		rw.batch = redcon.AppendBulk(rw.batch, b)
	}
	rw.batchN++
	if rw.batchN == ItemsPerCommand {
		dst = rw.flush(dst, len(bulks))
	}
	return dst
}

func (rw *Rewriter) flush(dst []byte, perItem int) []byte {
	if rw.batchN == 0 {
		return dst
	}
	dst = redcon.AppendArray(dst, 2+rw.batchN*perItem)
	dst = redcon.AppendBulkString(dst, rw.batchOf)
	dst = redcon.AppendBulk(dst, rw.key)
	dst = append(dst, rw.batch...)
	rw.batchN, rw.batch = 0, rw.batch[:0]
	rw.exists = true
	return dst
}

func (rw *Rewriter) endKey(dst []byte, ev *rdb.Event) ([]byte, error) {
	perItem := 1
	if rw.hdr.Type == rdb.TypeZSet || rw.hdr.Type == rdb.TypeHash {
		perItem = 2
	}
	dst = rw.flush(dst, perItem)
	if rw.hdr.Type == rdb.TypeStream && !rw.meta {
		return dst, rw.bad(ev, "stream without its stream-meta event")
	}
	for _, t := range rw.ttls {
		dst = redcon.AppendArray(dst, 6)
		dst = redcon.AppendBulkString(dst, "HPEXPIREAT")
		dst = redcon.AppendBulk(dst, rw.key)
		dst = redcon.AppendBulkInt(dst, t.at)
		dst = redcon.AppendBulkString(dst, "FIELDS")
		dst = redcon.AppendBulkString(dst, "1")
		dst = redcon.AppendBulk(dst, rw.ttlBuf[t.a:t.b])
	}
	if rw.hdr.ExpireAt != 0 && rw.exists {
		dst = redcon.AppendArray(dst, 3)
		dst = redcon.AppendBulkString(dst, "PEXPIREAT")
		dst = redcon.AppendBulk(dst, rw.key)
		dst = redcon.AppendBulkInt(dst, rw.hdr.ExpireAt)
	}
	rw.inKey = false
	return dst, nil
}

func (rw *Rewriter) stream(dst []byte, ev *rdb.Event) ([]byte, error) {
	switch ev.Kind {
	case rdb.KindStreamEntry:
		if rw.meta {
			return dst, rw.bad(ev, "after the stream-meta event")
		}
		if len(ev.Fields) == 0 || len(ev.Fields)%2 != 0 {
			return dst, rw.bad(ev, "entry %s with %d field and value strings", fmtID(ev.StreamID), len(ev.Fields))
		}
		rw.entries++
		rw.exists = true
		dst = redcon.AppendArray(dst, 3+len(ev.Fields))
		dst = redcon.AppendBulkString(dst, "XADD")
		dst = redcon.AppendBulk(dst, rw.key)
		dst = appendBulkID(dst, ev.StreamID)
		for _, f := range ev.Fields {
			dst = redcon.AppendBulk(dst, f)
		}
		return dst, nil
	case rdb.KindStreamMeta:
		if rw.meta {
			return dst, rw.bad(ev, "second stream-meta event")
		}
		rw.meta, rw.exists = true, true
		if rw.entries == 0 {
			dst = AppendCommandString(dst, "XADD", string(rw.key), "MAXLEN", "0", "0-1", "x", "y")
		}
		m := ev.Stream
		dst = redcon.AppendArray(dst, 7)
		dst = redcon.AppendBulkString(dst, "XSETID")
		dst = redcon.AppendBulk(dst, rw.key)
		dst = appendBulkID(dst, m.LastID)
		dst = redcon.AppendBulkString(dst, "ENTRIESADDED")
		dst = redcon.AppendBulkUint(dst, m.EntriesAdded)
		dst = redcon.AppendBulkString(dst, "MAXDELETEDID")
		return appendBulkID(dst, m.MaxDeletedID), nil
	}
	if !rw.meta {
		return dst, rw.bad(ev, "before the stream-meta event")
	}
	switch ev.Kind {
	case rdb.KindStreamGroup:
		g := ev.Group
		rw.group = append(rw.group[:0], g.Name...)
		rw.inGroup = true
		clear(rw.pel)
		dst = redcon.AppendArray(dst, 7)
		dst = redcon.AppendBulkString(dst, "XGROUP")
		dst = redcon.AppendBulkString(dst, "CREATE")
		dst = redcon.AppendBulk(dst, rw.key)
		dst = redcon.AppendBulk(dst, g.Name)
		dst = appendBulkID(dst, g.LastID)
		dst = redcon.AppendBulkString(dst, "ENTRIESREAD")
		return redcon.AppendBulkInt(dst, g.EntriesRead), nil
	case rdb.KindStreamPending:
		if !rw.inGroup {
			return dst, rw.bad(ev, "outside a group")
		}
		if rw.pel == nil {
			rw.pel = make(map[rdb.StreamID]rdb.StreamPending)
		}
		rw.pel[ev.Pending.ID] = ev.Pending
		return dst, nil
	}
	// rdb.KindStreamConsumer
	if !rw.inGroup {
		return dst, rw.bad(ev, "outside a group")
	}
	c := ev.Consumer
	if len(c.Pending) == 0 {
		dst = redcon.AppendArray(dst, 5)
		dst = redcon.AppendBulkString(dst, "XGROUP")
		dst = redcon.AppendBulkString(dst, "CREATECONSUMER")
		dst = redcon.AppendBulk(dst, rw.key)
		dst = redcon.AppendBulk(dst, rw.group)
		return redcon.AppendBulk(dst, c.Name), nil
	}
	for _, id := range c.Pending {
		p, ok := rw.pel[id]
		if !ok {
			return dst, rw.bad(ev, "consumer %q owns %s, which the group's pending list lacks", c.Name, fmtID(id))
		}
		dst = redcon.AppendArray(dst, 12)
		dst = redcon.AppendBulkString(dst, "XCLAIM")
		dst = redcon.AppendBulk(dst, rw.key)
		dst = redcon.AppendBulk(dst, rw.group)
		dst = redcon.AppendBulk(dst, c.Name)
		dst = redcon.AppendBulkString(dst, "0")
		dst = appendBulkID(dst, id)
		dst = redcon.AppendBulkString(dst, "TIME")
		dst = redcon.AppendBulkInt(dst, p.DeliveryTime)
		dst = redcon.AppendBulkString(dst, "RETRYCOUNT")
		dst = redcon.AppendBulkUint(dst, p.DeliveryCount)
		dst = redcon.AppendBulkString(dst, "JUSTID")
		dst = redcon.AppendBulkString(dst, "FORCE")
	}
	return dst, nil
}

func fmtID(id rdb.StreamID) string {
	return strconv.FormatUint(id.Ms, 10) + "-" + strconv.FormatUint(id.Seq, 10)
}

func appendBulkID(dst []byte, id rdb.StreamID) []byte {
	return redcon.AppendBulkString(dst, fmtID(id))
}

// appendScore formats a score like C's "%.17g" (rioWriteBulkDouble in Redis 7.0).
func appendScore(dst []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(dst, "inf"...)
	case math.IsInf(f, -1):
		return append(dst, "-inf"...)
	}
	return strconv.AppendFloat(dst, f, 'g', 17, 64)
}

// elementType is the key type an element event belongs to, 0 for other events.
func elementType(k rdb.Kind) rdb.ValueType {
	switch k {
	case rdb.KindString:
		return rdb.TypeString
	case rdb.KindListItem:
		return rdb.TypeList
	case rdb.KindSetMember:
		return rdb.TypeSet
	case rdb.KindZSetMember:
		return rdb.TypeZSet
	case rdb.KindHashField:
		return rdb.TypeHash
	case rdb.KindStreamEntry, rdb.KindStreamMeta, rdb.KindStreamGroup, rdb.KindStreamPending,
		rdb.KindStreamConsumer:
		return rdb.TypeStream
	}
	return 0
}
