package server

import (
	"math"
	"strconv"
	"strings"

	"github.com/stratadb/strata/conf"
	"github.com/stratadb/strata/encoding"
	"github.com/stratadb/strata/engine"
)

// Sorted-set commands, argument for argument as Redis 7.0's t_zset.c parses them: the same
// order of checks (so the same error wins), the same replies in RESP2 and RESP3. Blocking pops
// (BZPOPMIN, BZPOPMAX, BZMPOP) belong to the blocking framework, which calls engine.ZPopMin,
// engine.ZPopMax and engine.ZMPop.
//
// Keyspace events (class z) as t_zset.c fires them, placed around the reply as it does: ZADD
// and ZINCRBY add the key ("new") before their reply and report zadd/zincr after it; ZREM and
// ZREMRANGEBY* report before; the STORE commands read their sources ("keymiss"), then either
// store (reply, then zunionstore ...) or delete the destination (reply, then "del"). The pops
// report zpopmin/zpopmax before their reply (Redis 7.0 writes it inside the array, which a
// RESP3 client cannot parse) and "del" after it.

func registerZSetCommands(t *Table) {
	t.add(
		&Command{Name: "zadd", Arity: -4, Flags: "write denyoom fast", First: 1, Last: 1, Step: 1, ACL: "@sortedset", Specs: keyAt(1, "RW update"),
			Handler: cmdZAdd,
			Group:   "sorted-set", Since: "1.2.0", Summary: "Add one or more members to a sorted set, or update its score if it already exists", Complexity: "O(log(N)) for each item added, where N is the number of elements in the sorted set."},
		&Command{Name: "zincrby", Arity: 4, Flags: "write denyoom fast", First: 1, Last: 1, Step: 1, ACL: "@sortedset", Specs: keyAt(1, "RW access update"),
			Handler: cmdZIncrBy,
			Group:   "sorted-set", Since: "1.2.0", Summary: "Increment the score of a member in a sorted set", Complexity: "O(log(N)) where N is the number of elements in the sorted set."},
		&Command{Name: "zrem", Arity: -3, Flags: "write fast", First: 1, Last: 1, Step: 1, ACL: "@sortedset", Specs: keyAt(1, "RW delete"),
			Handler: cmdZRem,
			Group:   "sorted-set", Since: "1.2.0", Summary: "Remove one or more members from a sorted set", Complexity: "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed."},
		&Command{Name: "zcard", Arity: 2, Flags: "readonly fast", First: 1, Last: 1, Step: 1, ACL: "@sortedset", Specs: keyAt(1, "RO"),
			Handler: cmdZCard,
			Group:   "sorted-set", Since: "1.2.0", Summary: "Get the number of members in a sorted set", Complexity: "O(1)"},
		&Command{Name: "zscore", Arity: 3, Flags: "readonly fast", First: 1, Last: 1, Step: 1, ACL: "@sortedset",
			Handler: cmdZScore,
			Group:   "sorted-set", Since: "1.2.0", Summary: "Get the score associated with the given member in a sorted set", Complexity: "O(1)"},
		&Command{Name: "zmscore", Arity: -3, Flags: "readonly fast", First: 1, Last: 1, Step: 1, ACL: "@sortedset",
			Handler: cmdZMScore,
			Group:   "sorted-set", Since: "6.2.0", Summary: "Get the score associated with the given members in a sorted set", Complexity: "O(N) where N is the number of members being requested."},
		&Command{Name: "zrank", Arity: 3, Flags: "readonly fast", First: 1, Last: 1, Step: 1, ACL: "@sortedset",
			Handler: func(x *Ctx) { cmdZRank(x, false) },
			Group:   "sorted-set", Since: "2.0.0", Summary: "Determine the index of a member in a sorted set", Complexity: "O(log(N))"},
		&Command{Name: "zrevrank", Arity: 3, Flags: "readonly fast", First: 1, Last: 1, Step: 1, ACL: "@sortedset",
			Handler: func(x *Ctx) { cmdZRank(x, true) },
			Group:   "sorted-set", Since: "2.0.0", Summary: "Determine the index of a member in a sorted set, with scores ordered from high to low", Complexity: "O(log(N))"},
		&Command{Name: "zcount", Arity: 4, Flags: "readonly fast", First: 1, Last: 1, Step: 1, ACL: "@sortedset",
			Handler: cmdZCount,
			Group:   "sorted-set", Since: "2.0.0", Summary: "Count the members in a sorted set with scores within the given values", Complexity: "O(log(N)) with N being the number of elements in the sorted set."},
		&Command{Name: "zlexcount", Arity: 4, Flags: "readonly fast", First: 1, Last: 1, Step: 1, ACL: "@sortedset",
			Handler: cmdZLexCount,
			Group:   "sorted-set", Since: "2.8.9", Summary: "Count the number of members in a sorted set between a given lexicographical range", Complexity: "O(log(N)) with N being the number of elements in the sorted set."},
		&Command{Name: "zrange", Arity: -4, Flags: "readonly", First: 1, Last: 1, Step: 1, ACL: "@sortedset",
			Handler: func(x *Ctx) { cmdZRangeGeneric(x, 1, false, rangeAuto, dirAuto) },
			Group:   "sorted-set", Since: "1.2.0", Summary: "Return a range of members in a sorted set", Complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned."},
		&Command{Name: "zrangestore", Arity: -5, Flags: "write denyoom", First: 1, Last: 2, Step: 1, ACL: "@sortedset", Specs: append(keyAt(1, "OW update"), keyAt(2, "RO access")...),
			Handler: func(x *Ctx) { cmdZRangeGeneric(x, 2, true, rangeAuto, dirAuto) },
			Group:   "sorted-set", Since: "6.2.0", Summary: "Store a range of members from sorted set into another key", Complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key."},
		&Command{Name: "zrevrange", Arity: -4, Flags: "readonly", First: 1, Last: 1, Step: 1, ACL: "@sortedset",
			Handler: func(x *Ctx) { cmdZRangeGeneric(x, 1, false, engine.ZByRank, dirReverse) },
			Group:   "sorted-set", Since: "1.2.0", Summary: "Return a range of members in a sorted set, by index, with scores ordered from high to low", Complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned."},
		&Command{Name: "zrangebyscore", Arity: -4, Flags: "readonly", First: 1, Last: 1, Step: 1, ACL: "@sortedset",
			Handler: func(x *Ctx) { cmdZRangeGeneric(x, 1, false, engine.ZByScore, dirForward) },
			Group:   "sorted-set", Since: "1.0.5", Summary: "Return a range of members in a sorted set, by score", Complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N))."},
		&Command{Name: "zrevrangebyscore", Arity: -4, Flags: "readonly", First: 1, Last: 1, Step: 1, ACL: "@sortedset",
			Handler: func(x *Ctx) { cmdZRangeGeneric(x, 1, false, engine.ZByScore, dirReverse) },
			Group:   "sorted-set", Since: "2.2.0", Summary: "Return a range of members in a sorted set, by score, with scores ordered from high to low", Complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N))."},
		&Command{Name: "zrangebylex", Arity: -4, Flags: "readonly", First: 1, Last: 1, Step: 1, ACL: "@sortedset",
			Handler: func(x *Ctx) { cmdZRangeGeneric(x, 1, false, engine.ZByLex, dirForward) },
			Group:   "sorted-set", Since: "2.8.9", Summary: "Return a range of members in a sorted set, by lexicographical range", Complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N))."},
		&Command{Name: "zrevrangebylex", Arity: -4, Flags: "readonly", First: 1, Last: 1, Step: 1, ACL: "@sortedset",
			Handler: func(x *Ctx) { cmdZRangeGeneric(x, 1, false, engine.ZByLex, dirReverse) },
			Group:   "sorted-set", Since: "2.8.9", Summary: "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.", Complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N))."},
		&Command{Name: "zremrangebyrank", Arity: 4, Flags: "write", First: 1, Last: 1, Step: 1, ACL: "@sortedset", Specs: keyAt(1, "RW delete"),
			Handler: func(x *Ctx) { cmdZRemRange(x, engine.ZByRank) },
			Group:   "sorted-set", Since: "2.0.0", Summary: "Remove all members in a sorted set within the given indexes", Complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation."},
		&Command{Name: "zremrangebyscore", Arity: 4, Flags: "write", First: 1, Last: 1, Step: 1, ACL: "@sortedset", Specs: keyAt(1, "RW delete"),
			Handler: func(x *Ctx) { cmdZRemRange(x, engine.ZByScore) },
			Group:   "sorted-set", Since: "1.2.0", Summary: "Remove all members in a sorted set within the given scores", Complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation."},
		&Command{Name: "zremrangebylex", Arity: 4, Flags: "write", First: 1, Last: 1, Step: 1, ACL: "@sortedset", Specs: keyAt(1, "RW delete"),
			Handler: func(x *Ctx) { cmdZRemRange(x, engine.ZByLex) },
			Group:   "sorted-set", Since: "2.8.9", Summary: "Remove all members in a sorted set between the given lexicographical range", Complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation."},
		&Command{Name: "zpopmin", Arity: -2, Flags: "write fast", First: 1, Last: 1, Step: 1, ACL: "@sortedset", Specs: keyAt(1, "RW access delete"),
			Handler: func(x *Ctx) { cmdZPop(x, false) },
			Group:   "sorted-set", Since: "5.0.0", Summary: "Remove and return members with the lowest scores in a sorted set", Complexity: "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped."},
		&Command{Name: "zpopmax", Arity: -2, Flags: "write fast", First: 1, Last: 1, Step: 1, ACL: "@sortedset", Specs: keyAt(1, "RW access delete"),
			Handler: func(x *Ctx) { cmdZPop(x, true) },
			Group:   "sorted-set", Since: "5.0.0", Summary: "Remove and return members with the highest scores in a sorted set", Complexity: "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped."},
		&Command{Name: "zmpop", Arity: -4, Flags: "write", ACL: "@sortedset", Specs: numkeysSpec(1, "RW access delete"),
			Handler: cmdZMPop,
			Group:   "sorted-set", Since: "7.0.0", Summary: "Remove and return members with scores in a sorted set", Complexity: "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped."},
		&Command{Name: "bzpopmin", Arity: -3, Flags: "write noscript blocking fast", First: 1, Last: -2, Step: 1, ACL: "@sortedset",
			Handler: func(x *Ctx) { cmdBZPop(x, false) },
			Group:   "sorted-set", Since: "5.0.0", Summary: "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available", Complexity: "O(log(N)) with N being the number of elements in the sorted set."},
		&Command{Name: "bzpopmax", Arity: -3, Flags: "write noscript blocking fast", First: 1, Last: -2, Step: 1, ACL: "@sortedset",
			Handler: func(x *Ctx) { cmdBZPop(x, true) },
			Group:   "sorted-set", Since: "5.0.0", Summary: "Remove and return the member with the highest score from one or more sorted sets, or block until one is available", Complexity: "O(log(N)) with N being the number of elements in the sorted set."},
		&Command{Name: "bzmpop", Arity: -5, Flags: "write blocking", ACL: "@sortedset", Specs: numkeysSpec(2, "RW access delete"),
			Handler: cmdBZMPop,
			Group:   "sorted-set", Since: "7.0.0", Summary: "Remove and return members with scores in a sorted set or block until one is available", Complexity: "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped."},
		&Command{Name: "zrandmember", Arity: -2, Flags: "readonly", First: 1, Last: 1, Step: 1, ACL: "@sortedset", Tips: "nondeterministic_output",
			Handler: cmdZRandMember,
			Group:   "sorted-set", Since: "6.2.0", Summary: "Get one or multiple random elements from a sorted set", Complexity: "O(N) where N is the number of elements returned"},
		&Command{Name: "zscan", Arity: -3, Flags: "readonly", First: 1, Last: 1, Step: 1, ACL: "@sortedset", Tips: "nondeterministic_output",
			Handler: cmdZScan,
			Group:   "sorted-set", Since: "2.8.0", Summary: "Incrementally iterate sorted sets elements and associated scores", Complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.."},
		&Command{Name: "zunion", Arity: -3, Flags: "readonly", ACL: "@sortedset", Specs: numkeysSpec(1, "RO access"),
			Handler: func(x *Ctx) { cmdZSetOp(x, engine.ZUnion, false, false) },
			Group:   "sorted-set", Since: "6.2.0", Summary: "Add multiple sorted sets", Complexity: "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set."},
		&Command{Name: "zunionstore", Arity: -4, Flags: "write denyoom", First: 1, Last: 1, Step: 1, ACL: "@sortedset", Specs: append(keyAt(1, "OW update"), numkeysSpec(2, "RO access")...),
			Handler: func(x *Ctx) { cmdZSetOp(x, engine.ZUnion, true, false) },
			Group:   "sorted-set", Since: "2.0.0", Summary: "Add multiple sorted sets and store the resulting sorted set in a new key", Complexity: "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set."},
		&Command{Name: "zinter", Arity: -3, Flags: "readonly", ACL: "@sortedset", Specs: numkeysSpec(1, "RO access"),
			Handler: func(x *Ctx) { cmdZSetOp(x, engine.ZInter, false, false) },
			Group:   "sorted-set", Since: "6.2.0", Summary: "Intersect multiple sorted sets", Complexity: "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set."},
		&Command{Name: "zinterstore", Arity: -4, Flags: "write denyoom", First: 1, Last: 1, Step: 1, ACL: "@sortedset", Specs: append(keyAt(1, "OW update"), numkeysSpec(2, "RO access")...),
			Handler: func(x *Ctx) { cmdZSetOp(x, engine.ZInter, true, false) },
			Group:   "sorted-set", Since: "2.0.0", Summary: "Intersect multiple sorted sets and store the resulting sorted set in a new key", Complexity: "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set."},
		&Command{Name: "zintercard", Arity: -3, Flags: "readonly", ACL: "@sortedset", Specs: numkeysSpec(1, "RO access"),
			Handler: func(x *Ctx) { cmdZSetOp(x, engine.ZInter, false, true) },
			Group:   "sorted-set", Since: "7.0.0", Summary: "Intersect multiple sorted sets and return the cardinality of the result", Complexity: "O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets."},
		&Command{Name: "zdiff", Arity: -3, Flags: "readonly", ACL: "@sortedset", Specs: numkeysSpec(1, "RO access"),
			Handler: func(x *Ctx) { cmdZSetOp(x, engine.ZDiff, false, false) },
			Group:   "sorted-set", Since: "6.2.0", Summary: "Subtract multiple sorted sets", Complexity: "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set."},
		&Command{Name: "zdiffstore", Arity: -4, Flags: "write denyoom", First: 1, Last: 1, Step: 1, ACL: "@sortedset", Specs: append(keyAt(1, "OW update"), numkeysSpec(2, "RO access")...),
			Handler: func(x *Ctx) { cmdZSetOp(x, engine.ZDiff, true, false) },
			Group:   "sorted-set", Since: "6.2.0", Summary: "Subtract multiple sorted sets and store the resulting sorted set in a new key", Complexity: "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set."},
	)
}

// keywordKey is the key spec of a key following keyword, searched from argument index from.
func keywordKey(flags, keyword string, from int) []KeySpec {
	return []KeySpec{{Flags: flags, Begin: BeginSearch{Keyword: keyword, StartFrom: from}, Find: FindKeys{KeyStep: 1}}}
}

func eqFold(b []byte, s string) bool { return strings.EqualFold(string(b), s) }

// parseLong is getLongFromObjectOrReply.
func parseLong(b []byte) (int64, error) {
	n, ok := engine.ParseInt(b)
	if !ok {
		return 0, engine.ErrNotInteger
	}
	return n, nil
}

// replyScored writes members, with their scores when withScores: one flat array in RESP2, an
// array of [member, score] pairs in RESP3 (Redis does not use a map, to keep the order).
func replyScored(x *Ctx, ms []engine.ScoredMember, withScores bool) {
	nested := withScores && x.resp > 2
	if withScores && !nested {
		x.ArrayLen(2 * len(ms))
	} else {
		x.ArrayLen(len(ms))
	}
	for _, m := range ms {
		if nested {
			x.ArrayLen(2)
		}
		x.Bulk(m.Member)
		if withScores {
			x.Double(m.Score)
		}
	}
}

// zaddFlags parses ZADD's options from index 2 (zaddGenericCommand) and returns the index of
// the first score.
func zaddFlags(args [][]byte, f *engine.ZAddFlags, ch *bool) int {
	i := 2
	for ; i < len(args); i++ {
		switch strings.ToUpper(string(args[i])) {
		case "NX":
			f.NX = true
		case "XX":
			f.XX = true
		case "CH":
			*ch = true
		case "INCR":
			f.Incr = true
		case "GT":
			f.GT = true
		case "LT":
			f.LT = true
		default:
			return i
		}
	}
	return i
}

func cmdZAdd(x *Ctx)    { zaddGeneric(x, false) }
func cmdZIncrBy(x *Ctx) { zaddGeneric(x, true) }
func zaddGeneric(x *Ctx, incr bool) {
	f := engine.ZAddFlags{Incr: incr}
	var ch bool
	i := zaddFlags(x.Args, &f, &ch)
	elements := len(x.Args) - i
	if elements%2 != 0 || elements == 0 {
		x.Error(engine.ErrSyntax)
		return
	}
	elements /= 2
	switch {
	case f.NX && f.XX:
		x.Error(engine.ErrXXNX)
		return
	case (f.GT && f.NX) || (f.LT && f.NX) || (f.GT && f.LT):
		x.Error(engine.ErrGTLTNX)
		return
	case f.Incr && elements > 1:
		x.Error(engine.ErrIncrPair)
		return
	}
	scores := make([]float64, elements)
	members := make([][]byte, elements)
	for j := 0; j < elements; j++ {
		s, ok := engine.ParseFloat(x.Args[i+2*j])
		if !ok {
			x.Error(engine.ErrNotFloat)
			return
		}
		scores[j], members[j] = s, x.Args[i+2*j+1]
	}
	zaddReply(x, f, ch, scores, members)
}

// zaddReply runs ZADD and answers as Redis does (GEOADD shares it).
func zaddReply(x *Ctx, f engine.ZAddFlags, ch bool, scores []float64, members [][]byte) {
	key := x.Args[1]
	r, err := x.Txn.ZAdd(key, f, scores, members)
	if err != nil {
		x.Error(err)
		return
	}
	x.NotifyCreated(key)
	switch {
	case f.Incr && r.Processed > 0:
		x.Double(r.Score)
	case f.Incr:
		x.Null()
	case ch:
		x.Int(r.Added + r.Updated)
	default:
		x.Int(r.Added)
	}
	if r.Added+r.Updated > 0 {
		event := "zadd"
		if f.Incr {
			event = "zincr"
		}
		x.Notify(conf.NotifyZSet, event, key)
	}
}

func cmdZRem(x *Ctx) {
	n, err := x.Txn.ZRem(x.Args[1], x.Args[2:])
	if err == nil && n > 0 {
		x.Notify(conf.NotifyZSet, "zrem", x.Args[1])
		x.NotifyDeleted(x.Args[1])
	}
	replyInt(x, n, err)
}

func cmdZCard(x *Ctx) {
	n, err := x.Txn.ZCard(x.Args[1])
	replyInt(x, n, err)
}

func cmdZScore(x *Ctx) {
	f, ok, err := x.Txn.ZScore(x.Args[1], x.Args[2])
	switch {
	case err != nil:
		x.Error(err)
	case !ok:
		x.Null()
	default:
		x.Double(f)
	}
}

func cmdZMScore(x *Ctx) {
	scores, ok, err := x.Txn.ZMScore(x.Args[1], x.Args[2:])
	if err != nil {
		x.Error(err)
		return
	}
	x.ArrayLen(len(scores))
	for i, f := range scores {
		if ok[i] {
			x.Double(f)
		} else {
			x.Null()
		}
	}
}

func cmdZRank(x *Ctx, rev bool) {
	r, ok, err := x.Txn.ZRank(x.Args[1], x.Args[2], rev)
	switch {
	case err != nil:
		x.Error(err)
	case !ok:
		x.Null()
	default:
		x.Int(r)
	}
}

func cmdZCount(x *Ctx) {
	r, err := engine.ParseScoreRange(x.Args[2], x.Args[3])
	if err != nil {
		x.Error(err)
		return
	}
	n, err := x.Txn.ZCount(x.Args[1], r)
	replyInt(x, n, err)
}

func cmdZLexCount(x *Ctx) {
	r, err := engine.ParseLexRange(x.Args[2], x.Args[3])
	if err != nil {
		x.Error(err)
		return
	}
	n, err := x.Txn.ZLexCount(x.Args[1], r)
	replyInt(x, n, err)
}

// rangeAuto is a range kind ZRANGE's options (BYSCORE, BYLEX) still decide.
const rangeAuto engine.ZRangeBy = 255

// Directions; dirAuto lets ZRANGE's REV decide.
const (
	dirAuto = iota
	dirForward
	dirReverse
)

// cmdZRangeGeneric is zrangeGenericCommand: src at argument start, min and max after it, then
// the options the command allows.
func cmdZRangeGeneric(x *Ctx, start int, store bool, by engine.ZRangeBy, dir int) {
	minIdx, maxIdx := start+1, start+2
	var withScores bool
	spec := engine.ZRangeSpec{Limit: -1}
	for j := start + 3; j < len(x.Args); j++ {
		left := len(x.Args) - j - 1
		opt := x.Args[j]
		switch {
		case !store && eqFold(opt, "withscores"):
			withScores = true
		case eqFold(opt, "limit") && left >= 2:
			var err error
			if spec.Offset, err = parseLong(x.Args[j+1]); err != nil {
				x.Error(err)
				return
			}
			if spec.Limit, err = parseLong(x.Args[j+2]); err != nil {
				x.Error(err)
				return
			}
			j += 2
		case dir == dirAuto && eqFold(opt, "rev"):
			dir = dirReverse
		case by == rangeAuto && eqFold(opt, "bylex"):
			by = engine.ZByLex
		case by == rangeAuto && eqFold(opt, "byscore"):
			by = engine.ZByScore
		default:
			x.Error(engine.ErrSyntax)
			return
		}
	}
	if dir == dirAuto {
		dir = dirForward
	}
	if by == rangeAuto {
		by = engine.ZByRank
	}
	spec.By, spec.Rev = by, dir == dirReverse
	if spec.Limit != -1 && by == engine.ZByRank {
		x.Error(engine.ErrRangeLimit)
		return
	}
	if withScores && by == engine.ZByLex {
		x.Error(engine.ErrLexWithScores)
		return
	}
	if spec.Rev && by != engine.ZByRank {
		minIdx, maxIdx = maxIdx, minIdx
	}
	var err error
	switch by {
	case engine.ZByRank:
		if spec.Start, err = parseLong(x.Args[minIdx]); err == nil {
			spec.Stop, err = parseLong(x.Args[maxIdx])
		}
	case engine.ZByScore:
		spec.Score, err = engine.ParseScoreRange(x.Args[minIdx], x.Args[maxIdx])
	case engine.ZByLex:
		spec.Lex, err = engine.ParseLexRange(x.Args[minIdx], x.Args[maxIdx])
	}
	if err != nil {
		x.Error(err)
		return
	}
	if store {
		x.NotifyMisses(x.Args[2])
		dst := x.watchDel(x.Args[1])
		n, err := x.Txn.ZRangeStore(x.Args[1], x.Args[2], spec)
		storeReply(x, dst, n, err)
		return
	}
	ms, err := x.Txn.ZRange(x.Args[start], spec)
	if err != nil {
		x.Error(err)
		return
	}
	replyScored(x, ms, withScores)
}

func cmdZRemRange(x *Ctx, by engine.ZRangeBy) {
	spec := engine.ZRangeSpec{By: by, Limit: -1}
	var err error
	switch by {
	case engine.ZByRank:
		if spec.Start, err = parseLong(x.Args[2]); err == nil {
			spec.Stop, err = parseLong(x.Args[3])
		}
	case engine.ZByScore:
		spec.Score, err = engine.ParseScoreRange(x.Args[2], x.Args[3])
	case engine.ZByLex:
		spec.Lex, err = engine.ParseLexRange(x.Args[2], x.Args[3])
	}
	if err != nil {
		x.Error(err)
		return
	}
	n, err := x.Txn.ZRemRange(x.Args[1], spec)
	if err == nil && n > 0 {
		x.Notify(conf.NotifyZSet, x.Cmd.Name, x.Args[1]) // "zremrangebyscore" ...
		x.NotifyDeleted(x.Args[1])
	}
	replyInt(x, n, err)
}

// storeReply answers a command that stored n members at dst (ZUNIONSTORE, ZRANGESTORE ...)
// and reports it as Redis does: a stored result ("new" before the reply, the command's event
// after), or an empty one, which deleted dst ("del" after the reply).
func storeReply(x *Ctx, dst delWatch, n int64, err error) {
	switch {
	case err != nil:
		x.Error(err)
	case n > 0:
		x.NotifyCreated(dst.key)
		x.Int(n)
		x.Notify(conf.NotifyZSet, x.Cmd.Name, dst.key)
	default:
		x.Int(0)
		x.reportDel(dst)
	}
}

func cmdZPop(x *Ctx, max bool) {
	if len(x.Args) > 3 {
		x.Error(engine.ErrSyntax)
		return
	}
	count := int64(-1)
	if len(x.Args) == 3 {
		var err error
		if count, err = parsePositive(x.Args[2], true, engine.ErrPositive); err != nil {
			x.Error(err)
			return
		}
	}
	nested := x.resp > 2 && count != -1
	if count == -1 {
		count = 1
	}
	pop := x.Txn.ZPopMin
	if max {
		pop = x.Txn.ZPopMax
	}
	ms, err := pop(x.Args[1], count)
	if err != nil {
		x.Error(err)
		return
	}
	notifyZPopped(x, x.Args[1], max, len(ms), func() {
		if nested {
			replyScored(x, ms, true)
			return
		}
		x.ArrayLen(2 * len(ms))
		for _, m := range ms {
			x.Bulk(m.Member)
			x.Double(m.Score)
		}
	})
}

// notifyZPopped reports n members popped from the sorted set at key around its reply (which
// reply writes, if set): zpopmin or zpopmax before it, "del" after it if the set emptied.
func notifyZPopped(x *Ctx, key []byte, max bool, n int, reply func()) {
	if n > 0 {
		event := "zpopmin"
		if max {
			event = "zpopmax"
		}
		x.Notify(conf.NotifyZSet, event, key)
	}
	if reply != nil {
		reply()
	}
	if n > 0 {
		x.NotifyDeleted(key)
	}
}

// parseRangeLong is getRangeLongFromObjectOrReply with a message: a non-integer or a value
// outside [lo, hi] answers msg.
func parseRangeLong(b []byte, lo, hi int64, msg error) (int64, error) {
	n, ok := engine.ParseInt(b)
	if !ok || n < lo || n > hi {
		return 0, msg
	}
	return n, nil
}

// zmpopArgs are ZMPOP's and BZMPOP's "numkeys key [key ...] MIN|MAX [COUNT count]".
type zmpopArgs struct {
	keys  [][]byte
	max   bool
	count int64
}

// parseZMPop parses zmpopArgs with numkeys at Args[at], with Redis's errors in its order.
func parseZMPop(x *Ctx, at int) (zmpopArgs, error) {
	var a zmpopArgs
	numkeys, err := parseRangeLong(x.Args[at], 1, math.MaxInt64, engine.ErrNumKeysZero)
	if err != nil {
		return a, err
	}
	where := int64(at) + numkeys + 1
	if numkeys > int64(len(x.Args)) || where >= int64(len(x.Args)) {
		return a, engine.ErrSyntax
	}
	switch {
	case eqFold(x.Args[where], "min"):
	case eqFold(x.Args[where], "max"):
		a.max = true
	default:
		return a, engine.ErrSyntax
	}
	a.count = -1
	for j := int(where) + 1; j < len(x.Args); j++ {
		if a.count == -1 && eqFold(x.Args[j], "count") && j+1 < len(x.Args) {
			j++
			if a.count, err = parseRangeLong(x.Args[j], 1, math.MaxInt64, engine.ErrCountPositive); err != nil {
				return a, err
			}
			continue
		}
		return a, engine.ErrSyntax
	}
	if a.count == -1 {
		a.count = 1
	}
	a.keys = x.Args[at+1 : int64(at)+1+numkeys]
	return a, nil
}

func cmdZMPop(x *Ctx) {
	a, err := parseZMPop(x, 1)
	if err != nil {
		x.Error(err)
		return
	}
	key, ms, found, err := x.Txn.ZMPop(a.keys, a.max, a.count)
	switch {
	case err != nil:
		x.Error(err)
	case !found:
		x.NullArray()
	default:
		notifyZPopped(x, key, a.max, len(ms), func() { replyZMPop(x.Client, key, ms) })
	}
}

// cmdBZMPop is BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]: ZMPOP, or block
// until one of the keys holds a sorted set.
func cmdBZMPop(x *Ctx) {
	deadline, err := parseTimeout(x.Args[1])
	if err != nil {
		x.Error(err)
		return
	}
	a, err := parseZMPop(x, 2)
	if err != nil {
		x.Error(err)
		return
	}
	key, ms, found, err := x.Txn.ZMPop(a.keys, a.max, a.count)
	switch {
	case err != nil:
		x.Error(err)
		return
	case found:
		notifyZPopped(x, key, a.max, len(ms), func() { replyZMPop(x.Client, key, ms) })
		return
	}
	x.block(blockSpec{
		keys: a.keys, typ: encoding.TypeZSet, deadline: deadline, denied: (*Client).NullArray,
		serve: func(sx *Ctx, key []byte) replyFunc {
			ms, err := zpop(sx.Txn, key, a.max, a.count)
			if err != nil {
				return errorReply(err)
			}
			notifyZPopped(sx, key, a.max, len(ms), nil)
			k := clone(key)
			return func(c *Client) { replyZMPop(c, k, ms) }
		},
	})
}

// cmdBZPop is BZPOPMIN and BZPOPMAX key [key ...] timeout: the first non-empty key's lowest
// (highest) member, or block until one of the keys holds a sorted set.
func cmdBZPop(x *Ctx, max bool) {
	deadline, err := parseTimeout(x.Args[len(x.Args)-1])
	if err != nil {
		x.Error(err)
		return
	}
	keys := x.Args[1 : len(x.Args)-1]
	for _, k := range keys {
		ms, err := zpop(x.Txn, k, max, 1)
		if err != nil {
			x.Error(err)
			return
		}
		if len(ms) > 0 {
			notifyZPopped(x, k, max, 1, func() { replyBZPop(x.Client, k, ms[0]) })
			return
		}
	}
	x.block(blockSpec{
		keys: keys, typ: encoding.TypeZSet, deadline: deadline, denied: (*Client).NullArray,
		serve: func(sx *Ctx, key []byte) replyFunc {
			ms, err := zpop(sx.Txn, key, max, 1)
			if err != nil {
				return errorReply(err)
			}
			notifyZPopped(sx, key, max, len(ms), nil)
			k := clone(key)
			return func(c *Client) { replyBZPop(c, k, ms[0]) }
		},
	})
}

// zpop pops count members from the low (or high) end; the members are copied, so they outlive
// the Txn (a served waiter's reply is written after the commit).
func zpop(t *engine.Txn, key []byte, max bool, count int64) ([]engine.ScoredMember, error) {
	pop := t.ZPopMin
	if max {
		pop = t.ZPopMax
	}
	ms, err := pop(key, count)
	for i := range ms {
		ms[i].Member = clone(ms[i].Member)
	}
	return ms, err
}

// replyZMPop answers ZMPOP (and BZMPOP, for the blocking commands): the key, then the popped
// members as [member, score] pairs, in RESP2 and RESP3 alike.
func replyZMPop(c *Client, key []byte, ms []engine.ScoredMember) {
	c.ArrayLen(2)
	c.Bulk(key)
	c.ArrayLen(len(ms))
	for _, m := range ms {
		c.ArrayLen(2)
		c.Bulk(m.Member)
		c.Double(m.Score)
	}
}

// replyBZPop answers BZPOPMIN and BZPOPMAX (for the blocking commands): key, member, score,
// one flat array in RESP2 and RESP3 alike.
func replyBZPop(c *Client, key []byte, m engine.ScoredMember) {
	c.ArrayLen(3)
	c.Bulk(key)
	c.Bulk(m.Member)
	c.Double(m.Score)
}

func cmdZRandMember(x *Ctx) {
	if len(x.Args) == 2 {
		m, ok, err := x.Txn.ZRandMember(x.Args[1])
		switch {
		case err != nil:
			x.Error(err)
		case !ok:
			x.Null()
		default:
			x.Bulk(m.Member)
		}
		return
	}
	n, err := parseLong(x.Args[2])
	if err == nil && n == math.MinInt64 {
		err = engine.ErrCountRange
	}
	if err != nil {
		x.Error(err)
		return
	}
	withScores := false
	if len(x.Args) > 4 || (len(x.Args) == 4 && !eqFold(x.Args[3], "withscores")) {
		x.Error(engine.ErrSyntax)
		return
	} else if len(x.Args) == 4 {
		withScores = true
		if n < -math.MaxInt64/2 || n > math.MaxInt64/2 {
			x.Error(engine.ErrOutOfRange)
			return
		}
	}
	ms, err := x.Txn.ZRandMembers(x.Args[1], n)
	if err != nil {
		x.Error(err)
		return
	}
	replyScored(x, ms, withScores)
}

// zscanScore formats a ZSCAN score: as Redis's listpack stores it (integers within ±2^62 as
// integers) for a set Redis keeps in a listpack, else as its hash table does ("%.17g").
func zscanScore(dst []byte, f float64, compact bool) []byte {
	if compact && f >= -math.MaxInt64/2 && f <= math.MaxInt64/2 && f == math.Trunc(f) {
		return strconv.AppendInt(dst, int64(f), 10)
	}
	return AppendDouble(dst, f)
}

func cmdZScan(x *Ctx) {
	cursor, err := parseCursor(x.Args[2])
	if err != nil {
		x.Error(err)
		return
	}
	found, err := x.Txn.ZSetExists(x.Args[1])
	if err != nil {
		x.Error(err)
		return
	}
	if !found {
		x.ArrayLen(2)
		x.BulkString("0")
		x.ArrayLen(0)
		return
	}
	count := int64(10)
	var pattern []byte
	for i := 3; i < len(x.Args); i += 2 {
		more := len(x.Args) - i
		switch {
		case eqFold(x.Args[i], "count") && more >= 2:
			if count, err = parseLong(x.Args[i+1]); err != nil {
				x.Error(err)
				return
			}
			if count < 1 {
				x.Error(engine.ErrSyntax)
				return
			}
		case eqFold(x.Args[i], "match") && more >= 2:
			pattern = x.Args[i+1]
			if len(pattern) == 1 && pattern[0] == '*' {
				pattern = nil
			}
		default:
			x.Error(engine.ErrSyntax)
			return
		}
	}
	next, ms, compact, err := x.Txn.ZScan(x.Args[1], cursor, int(min(count, 1<<20)))
	if err != nil {
		x.Error(err)
		return
	}
	if pattern != nil {
		kept := ms[:0]
		for _, m := range ms {
			if engine.GlobMatch(pattern, m.Member, false) {
				kept = append(kept, m)
			}
		}
		ms = kept
	}
	x.ArrayLen(2)
	x.BulkString(strconv.FormatUint(next, 10))
	x.ArrayLen(2 * len(ms))
	var buf [32]byte
	for _, m := range ms {
		x.Bulk(m.Member)
		x.Bulk(zscanScore(buf[:0], m.Score, compact))
	}
}

// cmdZSetOp is zunionInterDiffGenericCommand: ZUNION/ZINTER/ZDIFF with or without STORE, and
// ZINTERCARD.
func cmdZSetOp(x *Ctx, op engine.ZSetOp, store, card bool) {
	numIdx := 1
	if store {
		numIdx = 2
	}
	setnum, err := parseLong(x.Args[numIdx])
	if err != nil {
		x.Error(err)
		return
	}
	if setnum < 1 {
		x.Error(engine.ErrNeedOneKey(x.Cmd.Name))
		return
	}
	if setnum > int64(len(x.Args)-(numIdx+1)) {
		x.Error(engine.ErrSyntax)
		return
	}
	j := numIdx + 1 + int(setnum)
	srcs, err := x.Txn.ZSources(x.Args[numIdx+1 : j])
	if err != nil {
		x.Error(err)
		return
	}
	if store {
		x.NotifyMisses(x.Args[numIdx+1 : j]...) // read-only forms get theirs from dispatch
	}
	var weights []float64
	agg := engine.ZAggSum
	var withScores bool
	var limit int64
	for remaining := len(x.Args) - j; remaining > 0; remaining = len(x.Args) - j {
		arg := x.Args[j]
		switch {
		case op != engine.ZDiff && !card && remaining >= int(setnum)+1 && eqFold(arg, "weights"):
			j++
			weights = make([]float64, setnum)
			for i := range weights {
				w, ok := engine.ParseFloat(x.Args[j])
				if !ok {
					x.Error(engine.ErrWeightFloat)
					return
				}
				weights[i] = w
				j++
			}
		case op != engine.ZDiff && !card && remaining >= 2 && eqFold(arg, "aggregate"):
			switch a := x.Args[j+1]; {
			case eqFold(a, "sum"):
				agg = engine.ZAggSum
			case eqFold(a, "min"):
				agg = engine.ZAggMin
			case eqFold(a, "max"):
				agg = engine.ZAggMax
			default:
				x.Error(engine.ErrSyntax)
				return
			}
			j += 2
		case !store && !card && eqFold(arg, "withscores"):
			withScores = true
			j++
		case card && remaining >= 2 && eqFold(arg, "limit"):
			if limit, err = parseRangeLong(x.Args[j+1], 0, math.MaxInt64, engine.ErrLimitNegative); err != nil {
				x.Error(err)
				return
			}
			j += 2
		default:
			x.Error(engine.ErrSyntax)
			return
		}
	}
	if card {
		n, err := x.Txn.ZInterCard(srcs, limit)
		replyInt(x, n, err)
		return
	}
	ms, err := x.Txn.ZCombine(op, srcs, weights, agg)
	if err != nil {
		x.Error(err)
		return
	}
	if store {
		dst := x.watchDel(x.Args[1])
		n, err := x.Txn.ZStore(x.Args[1], ms)
		storeReply(x, dst, n, err)
		return
	}
	replyScored(x, ms, withScores)
}
