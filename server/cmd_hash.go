package server

import (
	"bytes"
	"math"
	"strconv"

	"github.com/stratadb/strata/conf"
	"github.com/stratadb/strata/encoding"
	"github.com/stratadb/strata/engine"
)

func registerHashCommands(t *Table) {
	t.add(
		&Command{Name: "hdel", Arity: -3, Flags: "write fast", First: 1, Last: 1, Step: 1, ACL: "@hash",
			Handler: cmdHDel,
			Group:   "hash", Since: "2.0.0", Summary: "Delete one or more hash fields", Complexity: "O(N) where N is the number of fields to be removed."},
		&Command{Name: "hexists", Arity: 3, Flags: "readonly fast", First: 1, Last: 1, Step: 1, ACL: "@hash",
			Handler: cmdHExists,
			Group:   "hash", Since: "2.0.0", Summary: "Determine if a hash field exists", Complexity: "O(1)"},
		&Command{Name: "hget", Arity: 3, Flags: "readonly fast", First: 1, Last: 1, Step: 1, ACL: "@hash",
			Handler: cmdHGet,
			Group:   "hash", Since: "2.0.0", Summary: "Get the value of a hash field", Complexity: "O(1)"},
		&Command{Name: "hgetall", Arity: 2, Flags: "readonly", First: 1, Last: 1, Step: 1, ACL: "@hash", Tips: "nondeterministic_output_order",
			Handler: cmdHGetAll,
			Group:   "hash", Since: "2.0.0", Summary: "Get all the fields and values in a hash", Complexity: "O(N) where N is the size of the hash."},
		&Command{Name: "hincrby", Arity: 4, Flags: "write denyoom fast", First: 1, Last: 1, Step: 1, ACL: "@hash",
			Handler: cmdHIncrBy,
			Group:   "hash", Since: "2.0.0", Summary: "Increment the integer value of a hash field by the given number", Complexity: "O(1)"},
		&Command{Name: "hincrbyfloat", Arity: 4, Flags: "write denyoom fast", First: 1, Last: 1, Step: 1, ACL: "@hash",
			Handler: cmdHIncrByFloat,
			Group:   "hash", Since: "2.6.0", Summary: "Increment the float value of a hash field by the given amount", Complexity: "O(1)"},
		&Command{Name: "hkeys", Arity: 2, Flags: "readonly", First: 1, Last: 1, Step: 1, ACL: "@hash", Tips: "nondeterministic_output_order",
			Handler: cmdHKeys,
			Group:   "hash", Since: "2.0.0", Summary: "Get all the fields in a hash", Complexity: "O(N) where N is the size of the hash."},
		&Command{Name: "hlen", Arity: 2, Flags: "readonly fast", First: 1, Last: 1, Step: 1, ACL: "@hash",
			Handler: cmdHLen,
			Group:   "hash", Since: "2.0.0", Summary: "Get the number of fields in a hash", Complexity: "O(1)"},
		&Command{Name: "hmget", Arity: -3, Flags: "readonly fast", First: 1, Last: 1, Step: 1, ACL: "@hash",
			Handler: cmdHMGet,
			Group:   "hash", Since: "2.0.0", Summary: "Get the values of all the given hash fields", Complexity: "O(N) where N is the number of fields being requested."},
		&Command{Name: "hmset", Arity: -4, Flags: "write denyoom fast", First: 1, Last: 1, Step: 1, ACL: "@hash",
			Handler: cmdHSet,
			Group:   "hash", Since: "2.0.0", Summary: "Set multiple hash fields to multiple values", Complexity: "O(N) where N is the number of fields being set."},
		&Command{Name: "hrandfield", Arity: -2, Flags: "readonly", First: 1, Last: 1, Step: 1, ACL: "@hash", Tips: "nondeterministic_output",
			Handler: cmdHRandField,
			Group:   "hash", Since: "6.2.0", Summary: "Get one or multiple random fields from a hash", Complexity: "O(N) where N is the number of fields returned"},
		&Command{Name: "hscan", Arity: -3, Flags: "readonly", First: 1, Last: 1, Step: 1, ACL: "@hash", Tips: "nondeterministic_output",
			Handler: cmdHScan,
			Group:   "hash", Since: "2.8.0", Summary: "Incrementally iterate hash fields and associated values", Complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.."},
		&Command{Name: "hset", Arity: -4, Flags: "write denyoom fast", First: 1, Last: 1, Step: 1, ACL: "@hash",
			Handler: cmdHSet,
			Group:   "hash", Since: "2.0.0", Summary: "Set the string value of a hash field", Complexity: "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs."},
		&Command{Name: "hsetnx", Arity: 4, Flags: "write denyoom fast", First: 1, Last: 1, Step: 1, ACL: "@hash",
			Handler: cmdHSetNX,
			Group:   "hash", Since: "2.0.0", Summary: "Set the value of a hash field, only if the field does not exist", Complexity: "O(1)"},
		&Command{Name: "hstrlen", Arity: 3, Flags: "readonly fast", First: 1, Last: 1, Step: 1, ACL: "@hash",
			Handler: cmdHStrLen,
			Group:   "hash", Since: "3.2.0", Summary: "Get the length of the value of a hash field", Complexity: "O(1)"},
		&Command{Name: "hvals", Arity: 2, Flags: "readonly", First: 1, Last: 1, Step: 1, ACL: "@hash", Tips: "nondeterministic_output_order",
			Handler: cmdHVals,
			Group:   "hash", Since: "2.0.0", Summary: "Get all the values in a hash", Complexity: "O(N) where N is the size of the hash."},
	)
}

// streamed writes a reply that an engine call produces element by element. The engine reports
// type errors before writing anything; should a storage error come in the middle, the partial
// reply is dropped for the error, so the client never sees a torn reply.
func (x *Ctx) streamed(run func() error) {
	mark := len(x.out)
	if err := run(); err != nil {
		x.out = x.out[:mark]
		x.Error(err)
	}
}

// replyInt writes n, or err.
func (x *Ctx) replyInt(n int64, err error) {
	if err != nil {
		x.Error(err)
		return
	}
	x.Int(n)
}

// replyBool writes 1 or 0 (integers, as Redis 7.0 does for these commands), or err.
func (x *Ctx) replyBool(b bool, err error) {
	if b {
		x.replyInt(1, err)
	} else {
		x.replyInt(0, err)
	}
}

// replyBulkOrNull writes v, the null reply when !ok, or err.
func (x *Ctx) replyBulkOrNull(v []byte, ok bool, err error) {
	switch {
	case err != nil:
		x.Error(err)
	case !ok:
		x.Null()
	default:
		x.Bulk(v)
	}
}

func cmdHSet(x *Ctx) {
	if len(x.Args)%2 == 1 {
		x.Error(engine.ErrWrongArity(x.Cmd.Name))
		return
	}
	n, err := x.Txn.HSet(x.Args[1], x.Args[2:])
	switch {
	case err != nil:
		x.Error(err)
		return
	case x.Cmd.Name == "hmset":
		x.replyThenNotify(conf.NotifyHash, "hset", x.OK)
	default:
		x.replyThenNotify(conf.NotifyHash, "hset", func() { x.Int(n) })
	}
}

func cmdHSetNX(x *Ctx) {
	set, err := x.Txn.HSetNX(x.Args[1], x.Args[2], x.Args[3])
	if err == nil && set {
		x.replyThenNotify(conf.NotifyHash, "hset", func() { x.Int(1) })
		return
	}
	x.replyBool(set, err)
}

// replyThenNotify is the order of Redis's hash writes: the key is created ("new"), the reply
// written, then the command's event reported.
func (x *Ctx) replyThenNotify(class int, event string, reply func()) {
	x.NotifyCreated(x.Args[1])
	reply()
	x.Notify(class, event, x.Args[1])
}

func cmdHGet(x *Ctx) { x.replyBulkOrNull(x.Txn.HGet(x.Args[1], x.Args[2])) }

func cmdHMGet(x *Ctx) {
	x.streamed(func() error {
		started := false
		return x.Txn.HMGet(x.Args[1], x.Args[2:], func(v []byte, ok bool) {
			if !started {
				x.ArrayLen(len(x.Args) - 2)
				started = true
			}
			if ok {
				x.Bulk(v)
			} else {
				x.Null()
			}
		})
	})
}

func cmdHDel(x *Ctx) {
	n, err := x.Txn.HDel(x.Args[1], x.Args[2:])
	if err == nil && n > 0 {
		x.Notify(conf.NotifyHash, "hdel", x.Args[1])
		x.NotifyDeleted(x.Args[1])
	}
	x.replyInt(n, err)
}

func cmdHLen(x *Ctx) { x.replyInt(x.Txn.HLen(x.Args[1])) }

func cmdHExists(x *Ctx) { x.replyBool(x.Txn.HExists(x.Args[1], x.Args[2])) }

func cmdHStrLen(x *Ctx) { x.replyInt(x.Txn.HStrLen(x.Args[1], x.Args[2])) }

func cmdHGetAll(x *Ctx) {
	x.streamed(func() error {
		return x.Txn.HGetAll(x.Args[1], x.MapLen, func(f, v []byte) {
			x.Bulk(f)
			x.Bulk(v)
		})
	})
}

func cmdHKeys(x *Ctx) {
	x.streamed(func() error {
		return x.Txn.HGetAll(x.Args[1], x.ArrayLen, func(f, _ []byte) { x.Bulk(f) })
	})
}

func cmdHVals(x *Ctx) {
	x.streamed(func() error {
		return x.Txn.HGetAll(x.Args[1], x.ArrayLen, func(_, v []byte) { x.Bulk(v) })
	})
}

func cmdHIncrBy(x *Ctx) {
	incr, ok := engine.ParseInt(x.Args[3])
	if !ok {
		x.Error(engine.ErrNotInteger)
		return
	}
	n, err := x.Txn.HIncrBy(x.Args[1], x.Args[2], incr)
	if err != nil {
		x.Error(err)
		return
	}
	x.replyThenNotify(conf.NotifyHash, "hincrby", func() { x.Int(n) })
}

func cmdHIncrByFloat(x *Ctx) {
	incr, ok := engine.ParseLongDouble(x.Args[3])
	if !ok {
		x.Error(engine.ErrNotFloat)
		return
	}
	if incr.IsInf() {
		x.Error(engine.ErrNaNOrInfArg)
		return
	}
	v, err := x.Txn.HIncrByFloat(x.Args[1], x.Args[2], incr)
	if err != nil {
		x.Error(err)
		return
	}
	x.replyThenNotify(conf.NotifyHash, "hincrbyfloat", func() { x.Bulk(v) })
}

// parseRandCount parses the count of HRANDFIELD and SRANDMEMBER: an integer within
// [-LONG_MAX, LONG_MAX].
func parseRandCount(arg []byte) (int64, error) {
	n, ok := engine.ParseInt(arg)
	switch {
	case !ok:
		return 0, engine.ErrNotInteger
	case n == math.MinInt64:
		return 0, engine.ErrCountRange
	}
	return n, nil
}

func cmdHRandField(x *Ctx) {
	if len(x.Args) == 2 {
		f, _, ok, err := x.Txn.HRandField(x.Args[1])
		x.replyBulkOrNull(f, ok, err)
		return
	}
	count, err := parseRandCount(x.Args[2])
	if err != nil {
		x.Error(err)
		return
	}
	withValues := len(x.Args) == 4
	if len(x.Args) > 4 || (withValues && !bytes.EqualFold(x.Args[3], []byte("withvalues"))) {
		x.Error(engine.ErrSyntax)
		return
	}
	if withValues && (count < math.MinInt64/2 || count > math.MaxInt64/2) {
		x.Error(engine.ErrOutOfRange)
		return
	}
	x.streamed(func() error {
		return x.Txn.HRandFieldCount(x.Args[1], count, func(n int) {
			if withValues && x.resp == 2 {
				n *= 2
			}
			x.ArrayLen(n)
		}, func(f, v []byte) {
			if withValues && x.resp == 3 {
				x.ArrayLen(2)
			}
			x.Bulk(f)
			if withValues {
				x.Bulk(v)
			}
		})
	})
}

// scanArgs are the options of HSCAN and SSCAN.
type scanArgs struct {
	cursor  uint64
	pattern []byte
	count   int
}

// collScanStart does what Redis does before an HSCAN/SSCAN iterates: parse the cursor, look
// the key up (a missing key is an empty scan, another type WRONGTYPE), then parse the options.
// It reports false when it has already replied.
func collScanStart(x *Ctx, typ encoding.Type) (scanArgs, bool) {
	a := scanArgs{count: 10}
	var err error
	if a.cursor, err = parseCursor(x.Args[2]); err != nil {
		x.Error(err)
		return a, false
	}
	got, err := x.Txn.TypeOf(x.Args[1])
	switch {
	case err != nil:
		x.Error(err)
		return a, false
	case got == encoding.TypeNone:
		x.ArrayLen(2)
		x.BulkString("0")
		x.ArrayLen(0)
		return a, false
	case got != typ:
		x.Error(engine.ErrWrongType)
		return a, false
	}
	for i := 3; i < len(x.Args); i += 2 {
		opt := x.Args[i]
		switch {
		case bytes.EqualFold(opt, []byte("count")) && i+1 < len(x.Args):
			n, ok := engine.ParseInt(x.Args[i+1])
			if !ok {
				x.Error(engine.ErrNotInteger)
				return a, false
			}
			if n < 1 {
				x.Error(engine.ErrSyntax)
				return a, false
			}
			a.count = int(min(n, math.MaxInt32))
		case bytes.EqualFold(opt, []byte("match")) && i+1 < len(x.Args):
			a.pattern = x.Args[i+1]
		default:
			x.Error(engine.ErrSyntax)
			return a, false
		}
	}
	return a, true
}

// replyScan writes a SCAN-family reply: the next cursor and the elements.
func (x *Ctx) replyScan(next uint64, elems [][]byte) {
	x.ArrayLen(2)
	var buf [20]byte
	x.Bulk(strconv.AppendUint(buf[:0], next, 10))
	x.ArrayLen(len(elems))
	for _, e := range elems {
		x.Bulk(e)
	}
}

func cmdHScan(x *Ctx) {
	a, ok := collScanStart(x, encoding.TypeHash)
	if !ok {
		return
	}
	var elems [][]byte
	next, err := x.Txn.HScan(x.Args[1], a.cursor, a.pattern, a.count, func(f, v []byte) {
		elems = append(elems, bytes.Clone(f), bytes.Clone(v))
	})
	if err != nil {
		x.Error(err)
		return
	}
	x.replyScan(next, elems)
}
