package server

import (
	"math"
	"strings"

	"github.com/stratadb/strata/conf"
	"github.com/stratadb/strata/engine"
)

func registerStringCommands(t *Table) {
	t.add(
		&Command{Name: "get", Arity: 2, Flags: "readonly fast", First: 1, Last: 1, Step: 1, ACL: "@string", Handler: cmdGet,
			Group: "string", Since: "1.0.0", Summary: "Get the value of a key", Complexity: "O(1)"},
		&Command{Name: "set", Arity: -3, Flags: "write denyoom", First: 1, Last: 1, Step: 1, ACL: "@string", Handler: cmdSet,
			Specs: []KeySpec{{Notes: "RW and ACCESS due to the optional `GET` argument", Flags: "RW access update variable_flags",
				Begin: BeginSearch{Index: 1}, Find: FindKeys{KeyStep: 1}}},
			Group: "string", Since: "1.0.0", Summary: "Set the string value of a key", Complexity: "O(1)"},
		&Command{Name: "setnx", Arity: 3, Flags: "write denyoom fast", First: 1, Last: 1, Step: 1, ACL: "@string", Handler: cmdSetNX,
			Group: "string", Since: "1.0.0", Summary: "Set the value of a key, only if the key does not exist", Complexity: "O(1)"},
		&Command{Name: "setex", Arity: 4, Flags: "write denyoom", First: 1, Last: 1, Step: 1, ACL: "@string", Handler: cmdSetEx,
			Group: "string", Since: "2.0.0", Summary: "Set the value and expiration of a key", Complexity: "O(1)"},
		&Command{Name: "psetex", Arity: 4, Flags: "write denyoom", First: 1, Last: 1, Step: 1, ACL: "@string", Handler: cmdSetEx,
			Group: "string", Since: "2.6.0", Summary: "Set the value and expiration in milliseconds of a key", Complexity: "O(1)"},
		&Command{Name: "getset", Arity: 3, Flags: "write denyoom fast", First: 1, Last: 1, Step: 1, ACL: "@string", Handler: cmdGetSet,
			Group: "string", Since: "1.0.0", Summary: "Set the string value of a key and return its old value", Complexity: "O(1)"},
		&Command{Name: "getdel", Arity: 2, Flags: "write fast", First: 1, Last: 1, Step: 1, ACL: "@string", Handler: cmdGetDel,
			Group: "string", Since: "6.2.0", Summary: "Get the value of a key and delete the key", Complexity: "O(1)"},
		&Command{Name: "getex", Arity: -2, Flags: "write fast", First: 1, Last: 1, Step: 1, ACL: "@string", Handler: cmdGetEx,
			Group: "string", Since: "6.2.0", Summary: "Get the value of a key and optionally set its expiration", Complexity: "O(1)"},
		&Command{Name: "mget", Arity: -2, Flags: "readonly fast", First: 1, Last: -1, Step: 1, ACL: "@string", Tips: "request_policy:multi_shard", Handler: cmdMGet,
			Group: "string", Since: "1.0.0", Summary: "Get the values of all the given keys", Complexity: "O(N) where N is the number of keys to retrieve."},
		&Command{Name: "mset", Arity: -3, Flags: "write denyoom", First: 1, Last: -1, Step: 2, ACL: "@string", Tips: "request_policy:multi_shard response_policy:all_succeeded", Handler: cmdMSet,
			Group: "string", Since: "1.0.1", Summary: "Set multiple keys to multiple values", Complexity: "O(N) where N is the number of keys to set."},
		&Command{Name: "msetnx", Arity: -3, Flags: "write denyoom", First: 1, Last: -1, Step: 2, ACL: "@string", Tips: "request_policy:multi_shard response_policy:agg_min", Handler: cmdMSet,
			Group: "string", Since: "1.0.1", Summary: "Set multiple keys to multiple values, only if none of the keys exist", Complexity: "O(N) where N is the number of keys to set."},
		&Command{Name: "append", Arity: 3, Flags: "write denyoom fast", First: 1, Last: 1, Step: 1, ACL: "@string", Handler: cmdAppend,
			Group: "string", Since: "2.0.0", Summary: "Append a value to a key", Complexity: "O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation."},
		&Command{Name: "strlen", Arity: 2, Flags: "readonly fast", First: 1, Last: 1, Step: 1, ACL: "@string", Handler: cmdStrLen,
			Group: "string", Since: "2.2.0", Summary: "Get the length of the value stored in a key", Complexity: "O(1)"},
		&Command{Name: "getrange", Arity: 4, Flags: "readonly", First: 1, Last: 1, Step: 1, ACL: "@string", Handler: cmdGetRange,
			Group: "string", Since: "2.4.0", Summary: "Get a substring of the string stored at a key", Complexity: "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings."},
		&Command{Name: "substr", Arity: 4, Flags: "readonly", First: 1, Last: 1, Step: 1, ACL: "@string", Handler: cmdGetRange,
			Group: "string", Since: "1.0.0", Summary: "Get a substring of the string stored at a key", Complexity: "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings."},
		&Command{Name: "setrange", Arity: 4, Flags: "write denyoom", First: 1, Last: 1, Step: 1, ACL: "@string", Handler: cmdSetRange,
			Group: "string", Since: "2.2.0", Summary: "Overwrite part of a string at key starting at the specified offset", Complexity: "O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument."},
		&Command{Name: "incr", Arity: 2, Flags: "write denyoom fast", First: 1, Last: 1, Step: 1, ACL: "@string", Handler: cmdIncr,
			Group: "string", Since: "1.0.0", Summary: "Increment the integer value of a key by one", Complexity: "O(1)"},
		&Command{Name: "decr", Arity: 2, Flags: "write denyoom fast", First: 1, Last: 1, Step: 1, ACL: "@string", Handler: cmdDecr,
			Group: "string", Since: "1.0.0", Summary: "Decrement the integer value of a key by one", Complexity: "O(1)"},
		&Command{Name: "incrby", Arity: 3, Flags: "write denyoom fast", First: 1, Last: 1, Step: 1, ACL: "@string", Handler: cmdIncrBy,
			Group: "string", Since: "1.0.0", Summary: "Increment the integer value of a key by the given amount", Complexity: "O(1)"},
		&Command{Name: "decrby", Arity: 3, Flags: "write denyoom fast", First: 1, Last: 1, Step: 1, ACL: "@string", Handler: cmdDecrBy,
			Group: "string", Since: "1.0.0", Summary: "Decrement the integer value of a key by the given number", Complexity: "O(1)"},
		&Command{Name: "incrbyfloat", Arity: 3, Flags: "write denyoom fast", First: 1, Last: 1, Step: 1, ACL: "@string", Handler: cmdIncrByFloat,
			Group: "string", Since: "2.6.0", Summary: "Increment the float value of a key by the given amount", Complexity: "O(1)"},
		&Command{Name: "lcs", Arity: -3, Flags: "readonly", First: 1, Last: 2, Step: 1, ACL: "@string", Handler: cmdLCS,
			Group: "string", Since: "7.0.0", Summary: "Find longest common substring", Complexity: "O(N*M) where N and M are the lengths of s1 and s2, respectively"},
	)
}

// maxBulk is proto-max-bulk-len as configured now: the longest string a command may build.
func (x *Ctx) maxBulk() int64 { return x.s.lim.maxBulk.Load() }

func cmdGet(x *Ctx) {
	v, ok, err := x.Txn.Get(x.Args[1])
	replyValue(x, v, ok, err)
}

// replyValue writes a string read by GET and its kin: the value, nil, or the error.
func replyValue(x *Ctx, v []byte, ok bool, err error) {
	switch {
	case err != nil:
		x.Error(err)
	case !ok:
		x.Null()
	default:
		x.Bulk(v)
	}
}

// Expiry units and bases of SET, GETEX and friends.
const (
	expireRelative = iota // EX / PX: from now
	expireAbsolute        // EXAT / PXAT: a unix time
)

// expireAt turns an EX/PX/EXAT/PXAT argument into unix milliseconds, with Redis's checks:
// not positive, or overflowing once scaled or added to now, is "invalid expire time in
// '<cmd>' command".
func expireAt(x *Ctx, arg []byte, seconds bool, base int) (int64, error) {
	n, ok := engine.ParseInt(arg)
	if !ok {
		return 0, engine.ErrNotInteger
	}
	if n <= 0 || (seconds && n > math.MaxInt64/1000) {
		return 0, engine.ErrInvalidExpire(x.Cmd.Name)
	}
	if seconds {
		n *= 1000
	}
	if base == expireRelative {
		now := x.Txn.Now()
		if n > math.MaxInt64-now {
			return 0, engine.ErrInvalidExpire(x.Cmd.Name)
		}
		n += now
	}
	return n, nil
}

// Options of SET and GETEX, as Redis's parseExtendedStringArgumentsOrReply knows them.
const (
	optNX = 1 << iota
	optXX
	optGet
	optKeepTTL
	optPersist
	optEX
	optPX
	optEXAT
	optPXAT

	optExpire = optEX | optPX | optEXAT | optPXAT
)

// stringOptions are parsed SET or GETEX options.
type stringOptions struct {
	flags  int
	expire []byte // the EX/PX/EXAT/PXAT argument
}

// parseStringOptions parses the options of SET (forSet) or GETEX from args. Each expiry option
// excludes the others (repeating the same one is accepted: the last value wins), KEEPTTL and
// PERSIST exclude every expiry, NX excludes XX. Anything else is a syntax error.
func parseStringOptions(args [][]byte, forSet bool) (stringOptions, bool) {
	var o stringOptions
	for j := 0; j < len(args); j++ {
		opt := strings.ToUpper(string(args[j]))
		hasNext := j+1 < len(args)
		f := o.flags
		var set int
		switch {
		case opt == "NX" && forSet && f&optXX == 0:
			set = optNX
		case opt == "XX" && forSet && f&optNX == 0:
			set = optXX
		case opt == "GET" && forSet:
			set = optGet
		case opt == "KEEPTTL" && forSet && f&(optPersist|optExpire) == 0:
			set = optKeepTTL
		case opt == "PERSIST" && !forSet && f&(optKeepTTL|optExpire) == 0:
			set = optPersist
		case opt == "EX" && hasNext && f&(optKeepTTL|optPersist|optExpire&^optEX) == 0:
			set = optEX
		case opt == "PX" && hasNext && f&(optKeepTTL|optPersist|optExpire&^optPX) == 0:
			set = optPX
		case opt == "EXAT" && hasNext && f&(optKeepTTL|optPersist|optExpire&^optEXAT) == 0:
			set = optEXAT
		case opt == "PXAT" && hasNext && f&(optKeepTTL|optPersist|optExpire&^optPXAT) == 0:
			set = optPXAT
		default:
			return o, false
		}
		o.flags |= set
		if set&optExpire != 0 {
			j++
			o.expire = args[j]
		}
	}
	return o, true
}

// expireAt turns the options' expiry argument into unix milliseconds.
func (o *stringOptions) expireAt(x *Ctx) (int64, error) {
	base := expireRelative
	if o.flags&(optEXAT|optPXAT) != 0 {
		base = expireAbsolute
	}
	return expireAt(x, o.expire, o.flags&(optEX|optEXAT) != 0, base)
}

func cmdSet(x *Ctx) {
	o, ok := parseStringOptions(x.Args[3:], true)
	if !ok {
		x.Error(engine.ErrSyntax)
		return
	}
	a := engine.SetArgs{NX: o.flags&optNX != 0, XX: o.flags&optXX != 0,
		KeepTTL: o.flags&optKeepTTL != 0, Get: o.flags&optGet != 0}
	if o.expire != nil {
		at, err := o.expireAt(x)
		if err != nil {
			x.Error(err)
			return
		}
		a.ExpireAt = at
	}
	if a.Get {
		x.NotifyMisses(x.Args[1])
	}
	r, err := x.Txn.Set(x.Args[1], x.Args[2], a)
	if err == nil && r.Done && !a.Get {
		x.notifySet(x.Args[1], a.ExpireAt != 0)
	}
	switch {
	case err != nil:
		x.Error(err)
	case a.Get && r.HadOld:
		x.Bulk(r.Old)
	case a.Get, !r.Done:
		x.Null()
	default:
		x.OK()
	}
	if err == nil && r.Done && a.Get {
		x.notifySet(x.Args[1], a.ExpireAt != 0) // GET replies with the old value first
	}
}

func cmdSetNX(x *Ctx) {
	r, err := x.Txn.Set(x.Args[1], x.Args[2], engine.SetArgs{NX: true})
	if err != nil {
		x.Error(err)
		return
	}
	if r.Done {
		x.notifySet(x.Args[1], false)
	}
	x.Int(boolInt(r.Done))
}

// notifySet reports the events of a string written by SET and its kin: "set", then "expire"
// when the command gave it an expiry.
func (x *Ctx) notifySet(key []byte, expire bool) {
	x.Notify(conf.NotifyString, "set", key)
	if expire {
		x.Notify(conf.NotifyGeneric, "expire", key)
	}
}

// boolInt is 1 for true, 0 for false: Redis answers :1/:0 (never a RESP3 boolean) here.
func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// cmdSetEx is SETEX (seconds) and PSETEX (milliseconds).
func cmdSetEx(x *Ctx) {
	at, err := expireAt(x, x.Args[2], x.Cmd.Name == "setex", expireRelative)
	if err == nil {
		_, err = x.Txn.Set(x.Args[1], x.Args[3], engine.SetArgs{ExpireAt: at})
	}
	if err != nil {
		x.Error(err)
		return
	}
	x.notifySet(x.Args[1], true)
	x.OK()
}

func cmdGetSet(x *Ctx) {
	x.NotifyMisses(x.Args[1])
	r, err := x.Txn.Set(x.Args[1], x.Args[2], engine.SetArgs{Get: true})
	replyValue(x, r.Old, r.HadOld, err)
	if err == nil {
		x.notifySet(x.Args[1], false)
	}
}

func cmdGetDel(x *Ctx) {
	x.NotifyMisses(x.Args[1])
	v, ok, err := x.Txn.GetDel(x.Args[1])
	replyValue(x, v, ok, err)
	if ok {
		x.Notify(conf.NotifyGeneric, "del", x.Args[1])
	}
}

func cmdGetEx(x *Ctx) {
	o, ok := parseStringOptions(x.Args[2:], false)
	if !ok {
		x.Error(engine.ErrSyntax)
		return
	}
	a := engine.GetExArgs{Persist: o.flags&optPersist != 0}
	if o.expire != nil {
		a.Expire = true
		a.ExpireAt, a.Err = o.expireAt(x)
	}
	hadTTL := false
	if a.Persist && x.notifying(conf.NotifyGeneric) {
		at, err := x.Txn.ExpireTime(x.Args[1])
		hadTTL = err == nil && at >= 0
	}
	x.NotifyMisses(x.Args[1])
	v, ok, err := x.Txn.GetEx(x.Args[1], a)
	replyValue(x, v, ok, err)
	if ok {
		switch {
		case a.Expire && a.ExpireAt <= x.Txn.Now():
			x.Notify(conf.NotifyGeneric, "del", x.Args[1])
		case a.Expire:
			x.Notify(conf.NotifyGeneric, "expire", x.Args[1])
		case hadTTL:
			x.Notify(conf.NotifyGeneric, "persist", x.Args[1])
		}
	}
}

func cmdMGet(x *Ctx) {
	x.ArrayLen(len(x.Args) - 1)
	for _, k := range x.Args[1:] {
		v, ok, err := x.Txn.GetString(k)
		replyValue(x, v, ok, err)
	}
}

// cmdMSet is MSET and MSETNX.
func cmdMSet(x *Ctx) {
	if len(x.Args)%2 == 0 {
		x.Error(engine.ErrWrongArity(x.Cmd.Name))
		return
	}
	nx := x.Cmd.Name == "msetnx"
	done, err := x.Txn.MSet(x.Args[1:], nx)
	if err == nil && done {
		for i := 1; i < len(x.Args); i += 2 {
			x.Notify(conf.NotifyString, "set", x.Args[i])
		}
	}
	switch {
	case err != nil:
		x.Error(err)
	case nx:
		x.Int(boolInt(done))
	default:
		x.OK()
	}
}

func cmdAppend(x *Ctx) {
	n, err := x.Txn.Append(x.Args[1], x.Args[2], x.maxBulk())
	if err == nil {
		x.Notify(conf.NotifyString, "append", x.Args[1])
	}
	replyInt(x, n, err)
}

// replyInt writes an integer reply, or the error.
func replyInt(x *Ctx, n int64, err error) {
	if err != nil {
		x.Error(err)
		return
	}
	x.Int(n)
}

func cmdStrLen(x *Ctx) {
	n, err := x.Txn.StrLen(x.Args[1])
	replyInt(x, n, err)
}

// parseInts parses integer arguments with Redis's string2ll, stopping at the first bad one.
func parseInts(args ...[]byte) ([]int64, error) {
	out := make([]int64, len(args))
	for i, a := range args {
		n, ok := engine.ParseInt(a)
		if !ok {
			return nil, engine.ErrNotInteger
		}
		out[i] = n
	}
	return out, nil
}

// cmdGetRange is GETRANGE and SUBSTR.
func cmdGetRange(x *Ctx) {
	n, err := parseInts(x.Args[2], x.Args[3])
	var v []byte
	if err == nil {
		v, err = x.Txn.GetRange(x.Args[1], n[0], n[1])
	}
	if err != nil {
		x.Error(err)
		return
	}
	x.Bulk(v)
}

func cmdSetRange(x *Ctx) {
	off, ok := engine.ParseInt(x.Args[2])
	switch {
	case !ok:
		x.Error(engine.ErrNotInteger)
	case off < 0:
		x.Error(engine.ErrOffsetRange)
	default:
		n, err := x.Txn.SetRange(x.Args[1], off, x.Args[3], x.maxBulk())
		if err == nil && len(x.Args[3]) > 0 {
			x.Notify(conf.NotifyString, "setrange", x.Args[1])
		}
		replyInt(x, n, err)
	}
}

func cmdIncr(x *Ctx) {
	incrBy(x, 1)
}

func cmdDecr(x *Ctx) {
	incrBy(x, -1)
}

func cmdIncrBy(x *Ctx) {
	by, ok := engine.ParseInt(x.Args[2])
	if !ok {
		x.Error(engine.ErrNotInteger)
		return
	}
	incrBy(x, by)
}

func cmdDecrBy(x *Ctx) {
	by, ok := engine.ParseInt(x.Args[2])
	switch {
	case !ok:
		x.Error(engine.ErrNotInteger)
	case by == math.MinInt64:
		x.Error(engine.ErrDecrOverflow)
	default:
		incrBy(x, -by)
	}
}

// incrBy is INCR, DECR, INCRBY and DECRBY: all report "incrby", as in Redis.
func incrBy(x *Ctx, by int64) {
	n, err := x.Txn.IncrBy(x.Args[1], by)
	if err == nil {
		x.Notify(conf.NotifyString, "incrby", x.Args[1])
	}
	replyInt(x, n, err)
}

func cmdIncrByFloat(x *Ctx) {
	v, err := x.Txn.IncrByFloat(x.Args[1], x.Args[2])
	if err == nil {
		x.Notify(conf.NotifyString, "incrbyfloat", x.Args[1])
	}
	replyValue(x, v, true, err)
}

// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]
func cmdLCS(x *Ctx) {
	a, b, err := x.Txn.LCSInputs(x.Args[1], x.Args[2])
	if err != nil {
		x.Error(err)
		return
	}
	var getLen, getIdx, withLen bool
	var minLen int64
	for j := 3; j < len(x.Args); j++ {
		switch opt := strings.ToUpper(string(x.Args[j])); {
		case opt == "IDX":
			getIdx = true
		case opt == "LEN":
			getLen = true
		case opt == "WITHMATCHLEN":
			withLen = true
		case opt == "MINMATCHLEN" && j+1 < len(x.Args):
			n, ok := engine.ParseInt(x.Args[j+1])
			if !ok {
				x.Error(engine.ErrNotInteger)
				return
			}
			minLen = max(n, 0)
			j++
		default:
			x.Error(engine.ErrSyntax)
			return
		}
	}
	if getLen && getIdx {
		x.Error(engine.ErrLCSIdxLen)
		return
	}
	r, err := engine.LCS(a, b, x.maxBulk(), !getLen && !getIdx, getIdx, minLen)
	switch {
	case err != nil:
		x.Error(err)
	case getIdx:
		x.MapLen(2)
		x.BulkString("matches")
		x.ArrayLen(len(r.Matches))
		for _, m := range r.Matches {
			if withLen {
				x.ArrayLen(3)
			} else {
				x.ArrayLen(2)
			}
			x.ArrayLen(2)
			x.Int(m.AStart)
			x.Int(m.AEnd)
			x.ArrayLen(2)
			x.Int(m.BStart)
			x.Int(m.BEnd)
			if withLen {
				x.Int(m.Len())
			}
		}
		x.BulkString("len")
		x.Int(r.Len)
	case getLen:
		x.Int(r.Len)
	default:
		x.Bulk(r.Seq)
	}
}
