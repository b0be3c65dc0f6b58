package server

import (
	"strings"

	"github.com/stratadb/strata/conf"
	"github.com/stratadb/strata/encoding"
	"github.com/stratadb/strata/engine"
)

// Keyspace events (class l) as Redis 7.0's t_list.c fires them, placed around the reply as it
// does: a push adds the key ("new") before its reply and reports lpush/rpush after it; a pop
// replies, then reports lpop/rpop and "del" when the list emptied; LINSERT, LTRIM and LREM
// report before their reply, LSET after; LMOVE reports the push on the destination before its
// reply and the pop on the source after. A blocking command served later reports what its
// non-blocking form would, through the serving context.

func registerListCommands(t *Table) {
	const push = "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments."
	t.add(
		&Command{Name: "lpush", Arity: -3, Flags: "write denyoom fast", First: 1, Last: 1, Step: 1, ACL: "@list",
			Specs:   keyAt(1, "RW insert"),
			Handler: func(x *Ctx) { cmdPush(x, true, false) },
			Group:   "list", Since: "1.0.0", Summary: "Prepend one or multiple elements to a list", Complexity: push},
		&Command{Name: "rpush", Arity: -3, Flags: "write denyoom fast", First: 1, Last: 1, Step: 1, ACL: "@list",
			Specs:   keyAt(1, "RW insert"),
			Handler: func(x *Ctx) { cmdPush(x, false, false) },
			Group:   "list", Since: "1.0.0", Summary: "Append one or multiple elements to a list", Complexity: push},
		&Command{Name: "lpushx", Arity: -3, Flags: "write denyoom fast", First: 1, Last: 1, Step: 1, ACL: "@list",
			Specs:   keyAt(1, "RW insert"),
			Handler: func(x *Ctx) { cmdPush(x, true, true) },
			Group:   "list", Since: "2.2.0", Summary: "Prepend an element to a list, only if the list exists", Complexity: push},
		&Command{Name: "rpushx", Arity: -3, Flags: "write denyoom fast", First: 1, Last: 1, Step: 1, ACL: "@list",
			Specs:   keyAt(1, "RW insert"),
			Handler: func(x *Ctx) { cmdPush(x, false, true) },
			Group:   "list", Since: "2.2.0", Summary: "Append an element to a list, only if the list exists", Complexity: push},
		&Command{Name: "lpop", Arity: -2, Flags: "write fast", First: 1, Last: 1, Step: 1, ACL: "@list",
			Specs:   keyAt(1, "RW access delete"),
			Handler: func(x *Ctx) { cmdPop(x, true) },
			Group:   "list", Since: "1.0.0", Summary: "Remove and get the first elements in a list", Complexity: "O(N) where N is the number of elements returned"},
		&Command{Name: "rpop", Arity: -2, Flags: "write fast", First: 1, Last: 1, Step: 1, ACL: "@list",
			Specs:   keyAt(1, "RW access delete"),
			Handler: func(x *Ctx) { cmdPop(x, false) },
			Group:   "list", Since: "1.0.0", Summary: "Remove and get the last elements in a list", Complexity: "O(N) where N is the number of elements returned"},
		&Command{Name: "llen", Arity: 2, Flags: "readonly fast", First: 1, Last: 1, Step: 1, ACL: "@list",
			Specs:   keyAt(1, "RO"),
			Handler: cmdLLen,
			Group:   "list", Since: "1.0.0", Summary: "Get the length of a list", Complexity: "O(1)"},
		&Command{Name: "lindex", Arity: 3, Flags: "readonly", First: 1, Last: 1, Step: 1, ACL: "@list",
			Handler: cmdLIndex,
			Group:   "list", Since: "1.0.0", Summary: "Get an element from a list by its index", Complexity: "O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1)."},
		&Command{Name: "lset", Arity: 4, Flags: "write denyoom", First: 1, Last: 1, Step: 1, ACL: "@list",
			Specs:   keyAt(1, "RW update"),
			Handler: cmdLSet,
			Group:   "list", Since: "1.0.0", Summary: "Set the value of an element in a list by its index", Complexity: "O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1)."},
		&Command{Name: "lrange", Arity: 4, Flags: "readonly", First: 1, Last: 1, Step: 1, ACL: "@list",
			Handler: cmdLRange,
			Group:   "list", Since: "1.0.0", Summary: "Get a range of elements from a list", Complexity: "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range."},
		&Command{Name: "ltrim", Arity: 4, Flags: "write", First: 1, Last: 1, Step: 1, ACL: "@list",
			Specs:   keyAt(1, "RW delete"),
			Handler: cmdLTrim,
			Group:   "list", Since: "1.0.0", Summary: "Trim a list to the specified range", Complexity: "O(N) where N is the number of elements to be removed by the operation."},
		&Command{Name: "lrem", Arity: 4, Flags: "write", First: 1, Last: 1, Step: 1, ACL: "@list",
			Specs:   keyAt(1, "RW delete"),
			Handler: cmdLRem,
			Group:   "list", Since: "1.0.0", Summary: "Remove elements from a list", Complexity: "O(N+M) where N is the length of the list and M is the number of elements removed."},
		&Command{Name: "linsert", Arity: 5, Flags: "write denyoom", First: 1, Last: 1, Step: 1, ACL: "@list",
			Specs:   keyAt(1, "RW insert"),
			Handler: cmdLInsert,
			Group:   "list", Since: "2.2.0", Summary: "Insert an element before or after another element in a list", Complexity: "O(N) where N is the number of elements to traverse before seeing the value pivot. This means that inserting somewhere on the left end on the list (head) can be considered O(1) and inserting somewhere on the right end (tail) is O(N)."},
		&Command{Name: "lpos", Arity: -3, Flags: "readonly", First: 1, Last: 1, Step: 1, ACL: "@list",
			Handler: cmdLPos,
			Group:   "list", Since: "6.0.6", Summary: "Return the index of matching elements on a list", Complexity: "O(N) where N is the number of elements in the list, for the average case. When searching for elements near the head or the tail of the list, or when the MAXLEN option is provided, the command may run in constant time."},
		&Command{Name: "lmove", Arity: 5, Flags: "write denyoom", First: 1, Last: 2, Step: 1, ACL: "@list",
			Specs:   moveSpecs,
			Handler: cmdLMove,
			Group:   "list", Since: "6.2.0", Summary: "Pop an element from a list, push it to another list and return it", Complexity: "O(1)"},
		&Command{Name: "rpoplpush", Arity: 3, Flags: "write denyoom", First: 1, Last: 2, Step: 1, ACL: "@list",
			Specs:   moveSpecs,
			Handler: func(x *Ctx) { moveReply(x, false, true) },
			Group:   "list", Since: "1.2.0", Summary: "Remove the last element in a list, prepend it to another list and return it", Complexity: "O(1)"},
		&Command{Name: "lmpop", Arity: -4, Flags: "write", ACL: "@list",
			Specs:   numkeysSpec(1, "RW access delete"),
			Handler: func(x *Ctx) { cmdLMPop(x, 1, nil) },
			Group:   "list", Since: "7.0.0", Summary: "Pop elements from a list", Complexity: "O(N+M) where N is the number of provided keys and M is the number of elements returned."},

		&Command{Name: "blpop", Arity: -3, Flags: "write noscript blocking", First: 1, Last: -2, Step: 1, ACL: "@list",
			Specs:   []KeySpec{{Flags: "RW access delete", Begin: BeginSearch{Index: 1}, Find: FindKeys{LastKey: -2, KeyStep: 1}}},
			Handler: func(x *Ctx) { cmdBPop(x, true) },
			Group:   "list", Since: "2.0.0", Summary: "Remove and get the first element in a list, or block until one is available", Complexity: "O(N) where N is the number of provided keys."},
		&Command{Name: "brpop", Arity: -3, Flags: "write noscript blocking", First: 1, Last: -2, Step: 1, ACL: "@list",
			Specs:   []KeySpec{{Flags: "RW access delete", Begin: BeginSearch{Index: 1}, Find: FindKeys{LastKey: -2, KeyStep: 1}}},
			Handler: func(x *Ctx) { cmdBPop(x, false) },
			Group:   "list", Since: "2.0.0", Summary: "Remove and get the last element in a list, or block until one is available", Complexity: "O(N) where N is the number of provided keys."},
		&Command{Name: "blmove", Arity: 6, Flags: "write denyoom noscript blocking", First: 1, Last: 2, Step: 1, ACL: "@list",
			Specs:   moveSpecs,
			Handler: cmdBLMove,
			Group:   "list", Since: "6.2.0", Summary: "Pop an element from a list, push it to another list and return it; or block until one is available", Complexity: "O(1)"},
		&Command{Name: "brpoplpush", Arity: 4, Flags: "write denyoom noscript blocking", First: 1, Last: 2, Step: 1, ACL: "@list",
			Specs:   moveSpecs,
			Handler: cmdBRPopLPush,
			Group:   "list", Since: "2.2.0", Summary: "Pop an element from a list, push it to another list and return it; or block until one is available", Complexity: "O(1)"},
		&Command{Name: "blmpop", Arity: -5, Flags: "write blocking", ACL: "@list",
			Specs:   numkeysSpec(2, "RW access delete"),
			Handler: cmdBLMPop,
			Group:   "list", Since: "7.0.0", Summary: "Pop elements from a list, or block until one is available", Complexity: "O(N+M) where N is the number of provided keys and M is the number of elements returned."},
	)
}

// keyAt is the key spec of a command whose one key is argument i.
func keyAt(i int, flags string) []KeySpec {
	return []KeySpec{{Flags: flags, Begin: BeginSearch{Index: i}, Find: FindKeys{KeyStep: 1}}}
}

// numkeysSpec is the key spec of a command whose argument i counts the keys that follow it
// (LMPOP, BLMPOP): dispatch locks the keys it locates.
func numkeysSpec(i int, flags string) []KeySpec {
	return []KeySpec{{Flags: flags, Begin: BeginSearch{Index: i}, Find: FindKeys{KeyNum: true, FirstKey: 1, KeyStep: 1}}}
}

// moveSpecs are LMOVE's key specs (and BLMOVE's, RPOPLPUSH's, BRPOPLPUSH's): a source popped
// from and a destination pushed onto.
var moveSpecs = []KeySpec{
	{Flags: "RW access delete", Begin: BeginSearch{Index: 1}, Find: FindKeys{KeyStep: 1}},
	{Flags: "RW insert", Begin: BeginSearch{Index: 2}, Find: FindKeys{KeyStep: 1}},
}

// parseWhere parses LEFT or RIGHT (any case); anything else is a syntax error.
func parseWhere(b []byte) (left bool, ok bool) {
	switch strings.ToLower(string(b)) {
	case "left":
		return true, true
	case "right":
		return false, true
	}
	return false, false
}

// parsePositive parses a count that must be a positive integer (LPOP's count, LMPOP's COUNT):
// anything else is err.
func parsePositive(b []byte, zeroOK bool, err error) (int64, error) {
	n, ok := engine.ParseInt(b)
	if !ok || n < 0 || (n == 0 && !zeroOK) {
		return 0, err
	}
	return n, nil
}

func cmdPush(x *Ctx, left, onlyIfExists bool) {
	key := x.Args[1]
	n, err := x.Txn.ListPush(key, x.Args[2:], left, onlyIfExists)
	if err != nil {
		x.Error(err)
		return
	}
	x.NotifyCreated(key)
	x.Int(n)
	if n > 0 { // LPUSHX and RPUSHX push nothing onto a missing key
		x.Notify(conf.NotifyList, pushEvent(left), key)
	}
}

func pushEvent(left bool) string {
	if left {
		return "lpush"
	}
	return "rpush"
}

func popEvent(left bool) string {
	if left {
		return "lpop"
	}
	return "rpop"
}

// notifyPopped reports a pop from the list at key, and "del" when it emptied.
func notifyPopped(x *Ctx, key []byte, left bool) {
	x.Notify(conf.NotifyList, popEvent(left), key)
	x.NotifyDeleted(key)
}

func cmdPop(x *Ctx, left bool) {
	if len(x.Args) > 3 {
		x.Error(engine.ErrWrongArity(x.Cmd.Name))
		return
	}
	if len(x.Args) == 2 {
		vals, found, err := x.Txn.ListPop(x.Args[1], left, 1)
		switch {
		case err != nil:
			x.Error(err)
		case !found:
			x.Null()
		default:
			x.Bulk(vals[0])
			notifyPopped(x, x.Args[1], left)
		}
		return
	}
	count, err := parsePositive(x.Args[2], true, engine.ErrPositive)
	if err != nil {
		x.Error(err)
		return
	}
	if count == 0 {
		// Redis answers a count of 0 before popping, but after the key's checks.
		n, err := x.Txn.ListLen(x.Args[1])
		switch {
		case err != nil:
			x.Error(err)
		case n == 0:
			x.NullArray()
		default:
			x.ArrayLen(0)
		}
		return
	}
	vals, found, err := x.Txn.ListPop(x.Args[1], left, count)
	switch {
	case err != nil:
		x.Error(err)
	case !found:
		x.NullArray()
	default:
		bulks(x.Client, vals)
		notifyPopped(x, x.Args[1], left)
	}
}

// bulks writes an array of bulk strings.
func bulks(c *Client, vals [][]byte) {
	c.ArrayLen(len(vals))
	for _, v := range vals {
		c.Bulk(v)
	}
}

func cmdLLen(x *Ctx) {
	n, err := x.Txn.ListLen(x.Args[1])
	if err != nil {
		x.Error(err)
		return
	}
	x.Int(n)
}

// badIndexOnKey answers an index that does not parse as Redis does: it looks the key up first,
// so a missing key gets missing (the reply missingReply writes) and a wrong type WRONGTYPE.
func badIndexOnKey(x *Ctx, missing func()) {
	n, err := x.Txn.ListLen(x.Args[1])
	switch {
	case err != nil:
		x.Error(err)
	case n == 0:
		missing()
	default:
		x.Error(engine.ErrNotInteger)
	}
}

func cmdLIndex(x *Ctx) {
	i, ok := engine.ParseInt(x.Args[2])
	if !ok {
		badIndexOnKey(x, x.Null)
		return
	}
	v, found, err := x.Txn.ListIndex(x.Args[1], i)
	switch {
	case err != nil:
		x.Error(err)
	case !found:
		x.Null()
	default:
		x.Bulk(v)
	}
}

func cmdLSet(x *Ctx) {
	i, ok := engine.ParseInt(x.Args[2])
	if !ok {
		badIndexOnKey(x, func() { x.Error(engine.ErrNoSuchKey) })
		return
	}
	if err := x.Txn.ListSet(x.Args[1], i, x.Args[3]); err != nil {
		x.Error(err)
		return
	}
	x.OK()
	x.Notify(conf.NotifyList, "lset", x.Args[1])
}

func cmdLRange(x *Ctx) {
	r, err := parseInts(x.Args[2], x.Args[3])
	if err != nil {
		x.Error(err)
		return
	}
	vals, err := x.Txn.ListRange(x.Args[1], r[0], r[1])
	if err != nil {
		x.Error(err)
		return
	}
	bulks(x.Client, vals)
}

func cmdLTrim(x *Ctx) {
	r, err := parseInts(x.Args[2], x.Args[3])
	if err != nil {
		x.Error(err)
		return
	}
	key := x.Args[1]
	existed := false
	if x.notifying(conf.NotifyList | conf.NotifyGeneric) {
		existed, _ = x.Txn.Exists(key)
	}
	if err := x.Txn.ListTrim(key, r[0], r[1]); err != nil {
		x.Error(err)
		return
	}
	if existed { // "ltrim" even when nothing was trimmed, as in Redis
		x.Notify(conf.NotifyList, "ltrim", key)
		x.NotifyDeleted(key)
	}
	x.OK()
}

func cmdLRem(x *Ctx) {
	count, ok := engine.ParseInt(x.Args[2])
	if !ok {
		x.Error(engine.ErrNotInteger)
		return
	}
	n, err := x.Txn.ListRem(x.Args[1], count, x.Args[3])
	if err != nil {
		x.Error(err)
		return
	}
	if n > 0 {
		x.Notify(conf.NotifyList, "lrem", x.Args[1])
		x.NotifyDeleted(x.Args[1])
	}
	x.Int(n)
}

func cmdLInsert(x *Ctx) {
	var before bool
	switch strings.ToLower(string(x.Args[2])) {
	case "before":
		before = true
	case "after":
	default:
		x.Error(engine.ErrSyntax)
		return
	}
	n, err := x.Txn.ListInsert(x.Args[1], before, x.Args[3], x.Args[4])
	if err != nil {
		x.Error(err)
		return
	}
	if n > 0 { // -1: no pivot, 0: no list
		x.Notify(conf.NotifyList, "linsert", x.Args[1])
	}
	x.Int(n)
}

func cmdLPos(x *Ctx) {
	a := engine.ListPosArgs{Rank: 1}
	withCount := false
	for j := 3; j < len(x.Args); j++ {
		opt := strings.ToUpper(string(x.Args[j]))
		if j+1 >= len(x.Args) {
			x.Error(engine.ErrSyntax)
			return
		}
		j++
		arg := x.Args[j]
		var err error
		switch opt {
		case "RANK":
			n, ok := engine.ParseInt(arg)
			switch {
			case !ok:
				err = engine.ErrNotInteger
			case n == 0:
				err = engine.ErrRankZero
			}
			a.Rank = n
		case "COUNT":
			a.Count, err = parsePositive(arg, true, engine.ErrCountNegative)
			withCount = true
		case "MAXLEN":
			a.MaxLen, err = parsePositive(arg, true, engine.ErrMaxLenNegative)
		default:
			err = engine.ErrSyntax
		}
		if err != nil {
			x.Error(err)
			return
		}
	}
	if !withCount {
		a.Count = 1
	}
	pos, err := x.Txn.ListPos(x.Args[1], x.Args[2], a)
	switch {
	case err != nil:
		x.Error(err)
	case withCount:
		x.ArrayLen(len(pos))
		for _, p := range pos {
			x.Int(p)
		}
	case len(pos) == 0:
		x.Null()
	default:
		x.Int(pos[0])
	}
}

func cmdLMove(x *Ctx) {
	from, ok1 := parseWhere(x.Args[3])
	to, ok2 := parseWhere(x.Args[4])
	if !ok1 || !ok2 {
		x.Error(engine.ErrSyntax)
		return
	}
	moveReply(x, from, to)
}

// moveReply runs LMOVE Args[1] Args[2] and writes its reply: the element, or null when the
// source does not exist.
func moveReply(x *Ctx, from, to bool) {
	v, found, err := x.Txn.ListMove(x.Args[1], x.Args[2], from, to)
	switch {
	case err != nil:
		x.Error(err)
	case !found:
		x.Null()
	default:
		x.Notify(conf.NotifyList, pushEvent(to), x.Args[2])
		x.Bulk(v)
		notifyPopped(x, x.Args[1], from)
	}
}

// mpopArgs are the parsed arguments of LMPOP/BLMPOP (and ZMPOP/BZMPOP's shape): the keys, the
// side (min for sorted sets) and the count.
type mpopArgs struct {
	keys  [][]byte
	left  bool
	count int64
}

// parseMPop parses "numkeys key [key ...] where [COUNT count]" starting at Args[at], where is
// parsed by parseWhere; errors are Redis's, in Redis's order.
func parseMPop(x *Ctx, at int, parseWhere func([]byte) (bool, bool)) (mpopArgs, error) {
	var a mpopArgs
	n, ok := engine.ParseInt(x.Args[at])
	if !ok || n <= 0 {
		return a, engine.ErrNumKeysZero
	}
	whereAt := int64(at) + n + 1
	if n > int64(len(x.Args)) || whereAt >= int64(len(x.Args)) {
		return a, engine.ErrSyntax
	}
	a.keys = x.Args[at+1 : whereAt]
	if a.left, ok = parseWhere(x.Args[whereAt]); !ok {
		return a, engine.ErrSyntax
	}
	a.count = -1
	for j := int(whereAt) + 1; j < len(x.Args); j++ {
		if a.count == -1 && strings.EqualFold(string(x.Args[j]), "count") && j+1 < len(x.Args) {
			j++
			c, err := parsePositive(x.Args[j], false, engine.ErrCountPositive)
			if err != nil {
				return a, err
			}
			a.count = c
			continue
		}
		return a, engine.ErrSyntax
	}
	if a.count == -1 {
		a.count = 1
	}
	return a, nil
}

// mpopReply writes LMPOP's reply: the key and its popped elements.
func mpopReply(c *Client, key []byte, vals [][]byte) {
	c.ArrayLen(2)
	c.Bulk(key)
	bulks(c, vals)
}

// cmdLMPop runs LMPOP with numkeys at Args[at]; block, when set, parks the client (BLMPOP) if
// no key holds a list.
func cmdLMPop(x *Ctx, at int, block func(a mpopArgs)) {
	a, err := parseMPop(x, at, parseWhere)
	if err != nil {
		x.Error(err)
		return
	}
	key, vals, err := x.Txn.ListMPop(a.keys, a.left, a.count)
	switch {
	case err != nil:
		x.Error(err)
	case key != nil:
		mpopReply(x.Client, key, vals)
		notifyPopped(x, key, a.left)
	case block != nil:
		block(a)
	default:
		x.NullArray()
	}
}

// ---- blocking forms ----

func cmdBPop(x *Ctx, left bool) {
	deadline, err := parseTimeout(x.Args[len(x.Args)-1])
	if err != nil {
		x.Error(err)
		return
	}
	keys := x.Args[1 : len(x.Args)-1]
	for _, k := range keys {
		vals, found, err := x.Txn.ListPop(k, left, 1)
		if err != nil {
			x.Error(err)
			return
		}
		if found {
			keyValueReply(x.Client, k, vals[0])
			notifyPopped(x, k, left)
			return
		}
	}
	x.block(blockSpec{
		keys: keys, typ: encoding.TypeList, deadline: deadline, denied: (*Client).NullArray,
		serve: func(sx *Ctx, key []byte) replyFunc {
			vals, _, err := sx.Txn.ListPop(key, left, 1)
			if err != nil {
				return errorReply(err)
			}
			notifyPopped(sx, key, left)
			k, v := clone(key), clone(vals[0])
			return func(c *Client) { keyValueReply(c, k, v) }
		},
	})
}

func keyValueReply(c *Client, key, val []byte) {
	c.ArrayLen(2)
	c.Bulk(key)
	c.Bulk(val)
}

func cmdBLMove(x *Ctx) {
	from, ok1 := parseWhere(x.Args[3])
	to, ok2 := parseWhere(x.Args[4])
	if !ok1 || !ok2 {
		x.Error(engine.ErrSyntax)
		return
	}
	blockingMove(x, from, to, x.Args[5])
}

func cmdBRPopLPush(x *Ctx) { blockingMove(x, false, true, x.Args[3]) }

func blockingMove(x *Ctx, from, to bool, timeoutArg []byte) {
	deadline, err := parseTimeout(timeoutArg)
	if err != nil {
		x.Error(err)
		return
	}
	src, dst := x.Args[1], x.Args[2]
	n, err := x.Txn.ListLen(src)
	if err != nil {
		x.Error(err)
		return
	}
	if n > 0 {
		moveReply(x, from, to)
		return
	}
	dstCopy := clone(dst)
	x.block(blockSpec{
		keys: [][]byte{src}, also: [][]byte{dstCopy}, typ: encoding.TypeList, deadline: deadline,
		denied: (*Client).Null,
		serve: func(sx *Ctx, key []byte) replyFunc {
			v, _, err := sx.Txn.ListMove(key, dstCopy, from, to)
			if err != nil {
				return errorReply(err)
			}
			sx.Notify(conf.NotifyList, pushEvent(to), dstCopy)
			notifyPopped(sx, key, from)
			v = clone(v)
			return func(c *Client) { c.Bulk(v) }
		},
	})
}

func cmdBLMPop(x *Ctx) {
	deadline, err := parseTimeout(x.Args[1])
	if err != nil {
		x.Error(err)
		return
	}
	cmdLMPop(x, 2, func(a mpopArgs) {
		x.block(blockSpec{
			keys: a.keys, typ: encoding.TypeList, deadline: deadline, denied: (*Client).NullArray,
			serve: func(sx *Ctx, key []byte) replyFunc {
				vals, _, err := sx.Txn.ListPop(key, a.left, a.count)
				if err != nil {
					return errorReply(err)
				}
				notifyPopped(sx, key, a.left)
				k, vs := clone(key), cloneAll(vals)
				return func(c *Client) { mpopReply(c, k, vs) }
			},
		})
	})
}

func clone(b []byte) []byte { return append([]byte{}, b...) }

func cloneAll(vals [][]byte) [][]byte {
	out := make([][]byte, len(vals))
	for i, v := range vals {
		out[i] = clone(v)
	}
	return out
}
