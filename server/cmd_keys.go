package server

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/stratadb/strata/conf"
	"github.com/stratadb/strata/engine"
)

// The "generic" group of redis.io (keys and expiry), plus the keyspace commands of the
// "server" group (DBSIZE, FLUSHDB, FLUSHALL, SWAPDB).

func registerKeyspaceCommands(t *Table) {
	const multiKey = "request_policy:multi_shard response_policy:agg_sum"
	t.add(
		&Command{Name: "del", Arity: -2, Flags: "write", First: 1, Last: -1, Step: 1, ACL: "@keyspace", Tips: multiKey,
			Handler: cmdDel,
			Group:   "generic", Since: "1.0.0", Summary: "Delete a key", Complexity: "O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1)."},
		&Command{Name: "unlink", Arity: -2, Flags: "write fast", First: 1, Last: -1, Step: 1, ACL: "@keyspace", Tips: multiKey,
			Handler: cmdDel,
			Group:   "generic", Since: "4.0.0", Summary: "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.", Complexity: "O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of."},
		&Command{Name: "exists", Arity: -2, Flags: "readonly fast", First: 1, Last: -1, Step: 1, ACL: "@keyspace", Tips: multiKey,
			Handler: func(x *Ctx) { x.Txn.NoTouch(); countKeys(x, x.Txn.Exists) },
			Group:   "generic", Since: "1.0.0", Summary: "Determine if a key exists", Complexity: "O(N) where N is the number of keys to check."},
		&Command{Name: "touch", Arity: -2, Flags: "readonly fast", First: 1, Last: -1, Step: 1, ACL: "@keyspace", Tips: multiKey,
			Handler: func(x *Ctx) { countKeys(x, x.Txn.Touch) },
			Group:   "generic", Since: "3.2.1", Summary: "Alters the last access time of a key(s). Returns the number of existing keys specified.", Complexity: "O(N) where N is the number of keys that will be touched."},
		&Command{Name: "type", Arity: 2, Flags: "readonly fast", First: 1, Last: 1, Step: 1, ACL: "@keyspace",
			Handler: cmdType,
			Group:   "generic", Since: "1.0.0", Summary: "Determine the type stored at key", Complexity: "O(1)"},
		&Command{Name: "rename", Arity: 3, Flags: "write", First: 1, Last: 2, Step: 1, ACL: "@keyspace",
			Handler: cmdRename,
			Group:   "generic", Since: "1.0.0", Summary: "Rename a key", Complexity: "O(1)"},
		&Command{Name: "renamenx", Arity: 3, Flags: "write fast", First: 1, Last: 2, Step: 1, ACL: "@keyspace",
			Handler: cmdRename,
			Group:   "generic", Since: "1.0.0", Summary: "Rename a key, only if the new key does not exist", Complexity: "O(1)"},
		&Command{Name: "copy", Arity: -3, Flags: "write denyoom", First: 1, Last: 2, Step: 1, ACL: "@keyspace",
			Handler: cmdCopy,
			Group:   "generic", Since: "6.2.0", Summary: "Copy a key", Complexity: "O(N) worst case for collections, where N is the number of nested items. O(1) for string values."},
		&Command{Name: "move", Arity: 3, Flags: "write fast", First: 1, Last: 1, Step: 1, ACL: "@keyspace",
			Handler: cmdMove,
			Group:   "generic", Since: "1.0.0", Summary: "Move a key to another database", Complexity: "O(1)"},
		&Command{Name: "keys", Arity: 2, Flags: "readonly", ACL: "@keyspace @dangerous",
			Tips: "request_policy:all_shards nondeterministic_output_order", Handler: cmdKeys,
			Group: "generic", Since: "1.0.0", Summary: "Find all keys matching the given pattern", Complexity: "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length."},
		&Command{Name: "scan", Arity: -2, Flags: "readonly", ACL: "@keyspace",
			Tips: "nondeterministic_output request_policy:special", Handler: cmdScan,
			Group: "generic", Since: "2.8.0", Summary: "Incrementally iterate the keys space", Complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection."},
		&Command{Name: "randomkey", Arity: 1, Flags: "readonly", ACL: "@keyspace",
			Tips: "request_policy:all_shards nondeterministic_output", Handler: cmdRandomKey,
			Group: "generic", Since: "1.0.0", Summary: "Return a random key from the keyspace", Complexity: "O(1)"},
		&Command{Name: "object", Arity: -2, Subs: subs("object",
			&Command{Name: "encoding", Arity: 3, Flags: "readonly", First: 2, Last: 2, Step: 1, ACL: "@keyspace",
				Tips: "nondeterministic_output", Handler: cmdObjectEncoding,
				Group: "generic", Since: "2.2.3", Summary: "Inspect the internal encoding of a Redis object", Complexity: "O(1)"},
			&Command{Name: "freq", Arity: 3, Flags: "readonly", First: 2, Last: 2, Step: 1, ACL: "@keyspace",
				Tips: "nondeterministic_output", Handler: cmdObjectFreq,
				Group: "generic", Since: "4.0.0", Summary: "Get the logarithmic access frequency counter of a Redis object", Complexity: "O(1)"},
			&Command{Name: "idletime", Arity: 3, Flags: "readonly", First: 2, Last: 2, Step: 1, ACL: "@keyspace",
				Tips: "nondeterministic_output", Handler: cmdObjectIdletime,
				Group: "generic", Since: "2.2.3", Summary: "Get the time since a Redis object was last accessed", Complexity: "O(1)"},
			&Command{Name: "refcount", Arity: 3, Flags: "readonly", First: 2, Last: 2, Step: 1, ACL: "@keyspace",
				Tips: "nondeterministic_output", Handler: cmdObjectRefcount,
				Group: "generic", Since: "2.2.3", Summary: "Get the number of references to the value of the key", Complexity: "O(1)"},
			&Command{Name: "help", Arity: 2, Flags: "loading stale", ACL: "@keyspace", Lock: LockNone,
				Handler: cmdObjectHelp,
				Group:   "generic", Since: "6.2.0", Summary: "Show helpful text about the different subcommands", Complexity: "O(1)"},
		),
			Group: "generic", Since: "2.2.3", Summary: "A container for object introspection commands", Complexity: "Depends on subcommand."},

		&Command{Name: "expire", Arity: -3, Flags: "write fast", First: 1, Last: 1, Step: 1, ACL: "@keyspace",
			Handler: func(x *Ctx) { expireGeneric(x, x.Txn.Now(), true) },
			Group:   "generic", Since: "1.0.0", Summary: "Set a key's time to live in seconds", Complexity: "O(1)"},
		&Command{Name: "pexpire", Arity: -3, Flags: "write fast", First: 1, Last: 1, Step: 1, ACL: "@keyspace",
			Handler: func(x *Ctx) { expireGeneric(x, x.Txn.Now(), false) },
			Group:   "generic", Since: "2.6.0", Summary: "Set a key's time to live in milliseconds", Complexity: "O(1)"},
		&Command{Name: "expireat", Arity: -3, Flags: "write fast", First: 1, Last: 1, Step: 1, ACL: "@keyspace",
			Handler: func(x *Ctx) { expireGeneric(x, 0, true) },
			Group:   "generic", Since: "1.2.0", Summary: "Set the expiration for a key as a UNIX timestamp", Complexity: "O(1)"},
		&Command{Name: "pexpireat", Arity: -3, Flags: "write fast", First: 1, Last: 1, Step: 1, ACL: "@keyspace",
			Handler: func(x *Ctx) { expireGeneric(x, 0, false) },
			Group:   "generic", Since: "2.6.0", Summary: "Set the expiration for a key as a UNIX timestamp specified in milliseconds", Complexity: "O(1)"},
		&Command{Name: "ttl", Arity: 2, Flags: "readonly fast", First: 1, Last: 1, Step: 1, ACL: "@keyspace",
			Tips: "nondeterministic_output", Handler: func(x *Ctx) { ttlGeneric(x, false, false) },
			Group: "generic", Since: "1.0.0", Summary: "Get the time to live for a key in seconds", Complexity: "O(1)"},
		&Command{Name: "pttl", Arity: 2, Flags: "readonly fast", First: 1, Last: 1, Step: 1, ACL: "@keyspace",
			Tips: "nondeterministic_output", Handler: func(x *Ctx) { ttlGeneric(x, true, false) },
			Group: "generic", Since: "2.6.0", Summary: "Get the time to live for a key in milliseconds", Complexity: "O(1)"},
		&Command{Name: "expiretime", Arity: 2, Flags: "readonly fast", First: 1, Last: 1, Step: 1, ACL: "@keyspace",
			Handler: func(x *Ctx) { ttlGeneric(x, false, true) },
			Group:   "generic", Since: "7.0.0", Summary: "Get the expiration Unix timestamp for a key", Complexity: "O(1)"},
		&Command{Name: "pexpiretime", Arity: 2, Flags: "readonly fast", First: 1, Last: 1, Step: 1, ACL: "@keyspace",
			Handler: func(x *Ctx) { ttlGeneric(x, true, true) },
			Group:   "generic", Since: "7.0.0", Summary: "Get the expiration Unix timestamp for a key in milliseconds", Complexity: "O(1)"},
		&Command{Name: "persist", Arity: 2, Flags: "write fast", First: 1, Last: 1, Step: 1, ACL: "@keyspace",
			Handler: cmdPersist,
			Group:   "generic", Since: "2.2.0", Summary: "Remove the expiration from a key", Complexity: "O(1)"},

		&Command{Name: "dbsize", Arity: 1, Flags: "readonly fast", ACL: "@keyspace",
			Tips: "request_policy:all_shards response_policy:agg_sum", Handler: func(x *Ctx) { x.Int(x.Txn.DBSize()) },
			Group: "server", Since: "1.0.0", Summary: "Return the number of keys in the selected database", Complexity: "O(1)"},
		&Command{Name: "flushdb", Arity: -1, Flags: "write", ACL: "@keyspace @dangerous", Lock: LockGlobal,
			Tips: "request_policy:all_shards response_policy:all_succeeded", Handler: cmdFlush,
			Group: "server", Since: "1.0.0", Summary: "Remove all keys from the current database", Complexity: "O(N) where N is the number of keys in the selected database"},
		&Command{Name: "flushall", Arity: -1, Flags: "write", ACL: "@keyspace @dangerous", Lock: LockGlobal,
			Tips: "request_policy:all_shards response_policy:all_succeeded", Handler: cmdFlush,
			Group: "server", Since: "1.0.0", Summary: "Remove all keys from all databases", Complexity: "O(N) where N is the total number of keys in all databases"},
		&Command{Name: "swapdb", Arity: 3, Flags: "write fast", ACL: "@keyspace @dangerous", Lock: LockGlobal,
			Handler: cmdSwapDB,
			Group:   "server", Since: "4.0.0", Summary: "Swaps two Redis databases", Complexity: "O(N) where N is the count of clients watching or blocking on keys from both databases."},
	)
}

// countKeys answers the number of key arguments for which f says true (DEL, UNLINK, EXISTS,
// TOUCH); a key named twice counts twice, as in Redis.
func countKeys(x *Ctx, f func(key []byte) (bool, error)) {
	var n int64
	for _, k := range x.Args[1:] {
		ok, err := f(k)
		if err != nil {
			x.Error(err)
			return
		}
		if ok {
			n++
		}
	}
	x.Int(n)
}

// cmdDel is DEL and UNLINK: "del" for each key removed.
func cmdDel(x *Ctx) {
	countKeys(x, func(key []byte) (bool, error) {
		ok, err := x.Txn.Delete(key)
		if ok {
			x.Notify(conf.NotifyGeneric, "del", key)
		}
		return ok, err
	})
}

func cmdType(x *Ctx) {
	x.Txn.NoTouch()
	typ, err := x.Txn.TypeOf(x.Args[1])
	if err != nil {
		x.Error(err)
		return
	}
	x.Simple(typ.String())
}

// cmdRename is RENAME (OK) and RENAMENX (1 or 0).
func cmdRename(x *Ctx) {
	nx := x.Cmd.Name == "renamenx"
	done, err := x.Txn.Rename(x.Args[1], x.Args[2], nx)
	if done && !bytes.Equal(x.Args[1], x.Args[2]) {
		x.NotifyNew(x.Args[2])
		x.Notify(conf.NotifyGeneric, "rename_from", x.Args[1])
		x.Notify(conf.NotifyGeneric, "rename_to", x.Args[2])
	}
	if nx || err != nil {
		replyFlag(x, done, err)
		return
	}
	x.OK()
}

// parseInt32 reads an int argument as Redis's getIntFromObjectOrReply does: not an integer,
// or outside the C int range, is an error; msg (when not nil) replaces both errors.
func parseInt32(arg []byte, msg error) (int, error) {
	n, ok := engine.ParseInt(arg)
	switch {
	case !ok && msg != nil:
		return 0, msg
	case !ok:
		return 0, engine.ErrNotInteger
	case n < math.MinInt32 || n > math.MaxInt32:
		if msg != nil {
			return 0, msg
		}
		return 0, engine.ErrIntRange
	}
	return int(n), nil
}

// parseDB reads a database index as MOVE and COPY ... DB do.
func parseDB(x *Ctx, arg []byte) (int, error) {
	n, err := parseInt32(arg, nil)
	if err != nil {
		return 0, err
	}
	if n < 0 || n >= x.s.eng.Databases() {
		return 0, engine.ErrDBIndexRange
	}
	return n, nil
}

func cmdCopy(x *Ctx) {
	db := x.Txn.DB()
	replace := false
	for j := 3; j < len(x.Args); j++ {
		switch opt := strings.ToLower(x.Arg(j)); {
		case opt == "replace":
			replace = true
		case opt == "db" && j+1 < len(x.Args):
			n, err := parseDB(x, x.Args[j+1])
			if err != nil {
				x.Error(err)
				return
			}
			db = n
			j++
		default:
			x.Error(engine.ErrSyntax)
			return
		}
	}
	x.NotifyMisses(x.Args[1])
	done, err := x.Txn.Copy(x.Args[1], db, x.Args[2], replace)
	if done {
		if replace {
			x.NotifyNewIn(db, x.Args[2]) // Redis deletes the old value, then adds the copy
		}
		x.NotifyIn(db, conf.NotifyGeneric, "copy_to", x.Args[2])
	}
	replyFlag(x, done, err)
}

func cmdMove(x *Ctx) {
	db, err := parseDB(x, x.Args[2])
	if err != nil {
		x.Error(err)
		return
	}
	done, err := x.Txn.Move(x.Args[1], db)
	if done {
		x.NotifyNewIn(db, x.Args[1])
		x.Notify(conf.NotifyGeneric, "move_from", x.Args[1])
		x.NotifyIn(db, conf.NotifyGeneric, "move_to", x.Args[1])
	}
	replyFlag(x, done, err)
}

func cmdSwapDB(x *Ctx) {
	a, err := parseInt32(x.Args[1], engine.ErrInvalidFirstDB)
	if err != nil {
		x.Error(err)
		return
	}
	b, err := parseInt32(x.Args[2], engine.ErrInvalidSecondDB)
	if err != nil {
		x.Error(err)
		return
	}
	n := x.s.eng.Databases()
	if a < 0 || a >= n || b < 0 || b >= n {
		x.Error(engine.ErrDBIndexRange)
		return
	}
	x.Txn.SwapDB(a, b)
	x.OK()
}

// cmdFlush is FLUSHDB and FLUSHALL with their optional ASYNC or SYNC. Both are O(1) range
// deletions here, so the two modes do the same thing.
func cmdFlush(x *Ctx) {
	if len(x.Args) > 2 || (len(x.Args) == 2 &&
		!strings.EqualFold(x.Arg(1), "sync") && !strings.EqualFold(x.Arg(1), "async")) {
		x.Error(engine.ErrSyntax)
		return
	}
	if x.Cmd.Name == "flushall" {
		x.Txn.FlushAll()
	} else {
		x.Txn.FlushDB()
	}
	x.notes.flushed = true // tracking clients get a null invalidation once it is committed
	x.OK()
}

func cmdKeys(x *Ctx) {
	var buf []byte
	var ends []int
	err := x.Txn.Keys(x.Args[1], func(key []byte) {
		buf = append(buf, key...)
		ends = append(ends, len(buf))
	})
	if err != nil {
		x.Error(err)
		return
	}
	writeKeyList(x, buf, ends)
}

// writeKeyList writes the keys packed in buf (key i ends at ends[i]) as an array.
func writeKeyList(x *Ctx, buf []byte, ends []int) {
	x.ArrayLen(len(ends))
	start := 0
	for _, end := range ends {
		x.Bulk(buf[start:end])
		start = end
	}
}

// parseCursor reads a SCAN-family cursor (SCAN, SSCAN, HSCAN, ZSCAN) as Redis's
// parseScanCursorOrReply does with strtoul: an optional sign ("-1" wraps around), decimal
// digits, nothing else up to the first NUL byte (the end of the C string); the empty string is
// 0; a leading space, any other byte or a value beyond 64 bits is ErrInvalidCursor.
func parseCursor(b []byte) (uint64, error) {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	if len(b) == 0 {
		return 0, nil
	}
	neg := false
	if b[0] == '-' || b[0] == '+' {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 {
		return 0, engine.ErrInvalidCursor
	}
	n, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		return 0, engine.ErrInvalidCursor
	}
	if neg {
		n = -n
	}
	return n, nil
}

func cmdScan(x *Ctx) {
	cursor, err := parseCursor(x.Args[1])
	if err != nil {
		x.Error(err)
		return
	}
	var a engine.ScanArgs
	for j := 2; j < len(x.Args); j += 2 {
		if j+1 >= len(x.Args) {
			x.Error(engine.ErrSyntax)
			return
		}
		switch opt := strings.ToLower(x.Arg(j)); opt {
		case "count":
			n, ok := engine.ParseInt(x.Args[j+1])
			if !ok {
				x.Error(engine.ErrNotInteger)
				return
			}
			if n < 1 {
				x.Error(engine.ErrSyntax)
				return
			}
			a.Count = int(min(n, math.MaxInt32))
		case "match":
			a.Pattern = x.Args[j+1]
		case "type":
			a.Type = x.Args[j+1]
		default:
			x.Error(engine.ErrSyntax)
			return
		}
	}
	var buf []byte
	var ends []int
	next, err := x.Txn.Scan(cursor, a, func(key []byte) {
		buf = append(buf, key...)
		ends = append(ends, len(buf))
	})
	if err != nil {
		x.Error(err)
		return
	}
	x.ArrayLen(2)
	x.BulkString(strconv.FormatUint(next, 10))
	writeKeyList(x, buf, ends)
}

func cmdRandomKey(x *Ctx) {
	key, ok, err := x.Txn.RandomKey()
	switch {
	case err != nil:
		x.Error(err)
	case !ok:
		x.Null()
	default:
		x.Bulk(key)
	}
}

// ---- OBJECT ----

// objectHelp is OBJECT HELP's text, as Redis 7.0 words it.
var objectHelp = []string{
	"OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
	"ENCODING <key>",
	"    Return the kind of internal representation used in order to store the value",
	"    associated with a <key>.",
	"FREQ <key>",
	"    Return the access frequency index of the <key>. The returned integer is",
	"    proportional to the logarithm of the recent access frequency of the key.",
	"IDLETIME <key>",
	"    Return the idle time of the <key>, that is the approximated number of",
	"    seconds elapsed since the last access to the key.",
	"REFCOUNT <key>",
	"    Return the number of references of the value associated with the specified",
	"    <key>.",
	"HELP",
	"    Prints this help.",
}

func cmdObjectHelp(x *Ctx) {
	x.ArrayLen(len(objectHelp))
	for _, line := range objectHelp {
		x.Simple(line)
	}
}

// objectLookup answers OBJECT's null for a missing key and reports whether it exists.
func objectLookup(x *Ctx) (engine.ObjectInfo, bool) {
	x.Txn.NoTouch()
	info, ok, err := x.Txn.Object(x.Args[2])
	switch {
	case err != nil:
		x.Error(err)
		return info, false
	case !ok:
		x.Null()
		return info, false
	}
	return info, true
}

func cmdObjectEncoding(x *Ctx) {
	if info, ok := objectLookup(x); ok {
		x.BulkString(info.Encoding)
	}
}

// memoryPolicy is the maxmemory budget and policy, which decide what OBJECT answers.
func (s *Server) memoryPolicy() (maxmemory int64, policy string) {
	s.cfgMu.RLock()
	defer s.cfgMu.RUnlock()
	return s.cfg.MaxMemory, s.cfg.MaxMemoryPolicy
}

func isLFU(policy string) bool { return strings.HasSuffix(policy, "-lfu") }

// Redis's shared integer objects: the values 0 .. sharedIntegers-1 are one object each, with
// the refcount OBJECT REFCOUNT reports for them.
const (
	sharedIntegers = 10000
	sharedRefcount = math.MaxInt32
)

// cmdObjectRefcount answers what Redis would for a value of this shape: the shared object's
// refcount for a small non-negative integer string (shared unless a maxmemory LRU or LFU
// policy needs per-key access data, as in Redis), 1 for anything else.
func cmdObjectRefcount(x *Ctx) {
	info, ok := objectLookup(x)
	if !ok {
		return
	}
	maxmemory, policy := x.s.memoryPolicy()
	perKey := maxmemory != 0 && (isLFU(policy) || strings.HasSuffix(policy, "-lru"))
	if info.Encoding == "int" && info.Int >= 0 && info.Int < sharedIntegers && !perKey {
		x.Int(sharedRefcount)
		return
	}
	x.Int(1)
}

// cmdObjectFreq answers the hot tier's LFU counter of the key (0 for a key not in the tier:
// it has not been used since it was last evicted or since the start); without an LFU policy,
// Redis's error.
func cmdObjectFreq(x *Ctx) {
	if _, ok := objectLookup(x); !ok {
		return
	}
	if _, policy := x.s.memoryPolicy(); !isLFU(policy) {
		x.Error(engine.ErrLFUNotSelected)
		return
	}
	_, freq, _ := x.Txn.Access(x.Args[2])
	x.Int(int64(freq))
}

// cmdObjectIdletime answers the seconds since the key was last read or written, from the hot
// tier's access clock (one-second resolution, as Redis's LRU clock). A key not in the tier
// has not been used since it was evicted or since the start: it answers the time since the
// start, the most the tier can vouch for. With an LFU policy, Redis's error.
func cmdObjectIdletime(x *Ctx) {
	if _, ok := objectLookup(x); !ok {
		return
	}
	if _, policy := x.s.memoryPolicy(); isLFU(policy) {
		x.Error(engine.ErrLFUSelected)
		return
	}
	idle, _, _ := x.Txn.Access(x.Args[2])
	x.Int(int64(idle / time.Second))
}

// ---- expiry ----

// expireGeneric is EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT: the time argument in seconds or
// milliseconds, added to base (now, or 0 for the absolute forms). Checks come in Redis's
// order: options, the integer, overflow of the scaling or the addition; then the key.
func expireGeneric(x *Ctx, base int64, seconds bool) {
	var flags engine.ExpireFlags
	for _, opt := range x.Args[3:] {
		switch strings.ToLower(string(opt)) {
		case "nx":
			flags |= engine.ExpireNX
		case "xx":
			flags |= engine.ExpireXX
		case "gt":
			flags |= engine.ExpireGT
		case "lt":
			flags |= engine.ExpireLT
		default:
			x.Error(engine.ErrUnsupportedOption(string(opt)))
			return
		}
	}
	if flags&engine.ExpireNX != 0 && flags&(engine.ExpireXX|engine.ExpireGT|engine.ExpireLT) != 0 {
		x.Error(engine.ErrNXXXGTLT)
		return
	}
	if flags&engine.ExpireGT != 0 && flags&engine.ExpireLT != 0 {
		x.Error(engine.ErrGTAndLT)
		return
	}
	when, ok := engine.ParseInt(x.Args[2])
	if !ok {
		x.Error(engine.ErrNotInteger)
		return
	}
	if seconds {
		if when > math.MaxInt64/1000 || when < math.MinInt64/1000 {
			x.Error(engine.ErrInvalidExpire(x.Cmd.Name))
			return
		}
		when *= 1000
	}
	if when > math.MaxInt64-base {
		x.Error(engine.ErrInvalidExpire(x.Cmd.Name))
		return
	}
	when += base
	done, err := x.Txn.Expire(x.Args[1], when, flags)
	past := when <= x.Txn.Now()
	if done && past {
		x.Notify(conf.NotifyGeneric, "del", x.Args[1]) // a time already past deletes the key
	}
	replyFlag(x, done, err)
	if done && !past {
		x.Notify(conf.NotifyGeneric, "expire", x.Args[1]) // Redis replies first here
	}
}

// ttlGeneric is TTL, PTTL, EXPIRETIME and PEXPIRETIME: -2 for a missing key, -1 for one
// without an expiry; seconds are rounded to the nearest as Redis rounds them.
func ttlGeneric(x *Ctx, ms, abs bool) {
	x.Txn.NoTouch()
	at, err := x.Txn.ExpireTime(x.Args[1])
	if err != nil {
		x.Error(err)
		return
	}
	if at < 0 {
		x.Int(at)
		return
	}
	v := at
	if !abs {
		v = max(at-x.Txn.Now(), 0)
	}
	if !ms {
		// (v+500)/1000 without overflow for v near MaxInt64, as Redis answers it.
		v = int64((uint64(v) + 500) / 1000)
	}
	x.Int(v)
}

func cmdPersist(x *Ctx) {
	done, err := x.Txn.Persist(x.Args[1])
	if done {
		x.Notify(conf.NotifyGeneric, "persist", x.Args[1])
	}
	replyFlag(x, done, err)
}

// replyFlag answers err, or done as Redis's :1 / :0 (which stays an integer in RESP3).
func replyFlag(x *Ctx, done bool, err error) {
	switch {
	case err != nil:
		x.Error(err)
	case done:
		x.Int(1)
	default:
		x.Int(0)
	}
}
