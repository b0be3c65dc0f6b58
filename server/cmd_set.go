package server

import (
	"bytes"

	"github.com/stratadb/strata/conf"
	"github.com/stratadb/strata/encoding"
	"github.com/stratadb/strata/engine"
)

func registerSetCommands(t *Table) {
	t.add(
		&Command{Name: "sadd", Arity: -3, Flags: "write denyoom fast", First: 1, Last: 1, Step: 1, ACL: "@set",
			Handler: cmdSAdd,
			Group:   "set", Since: "1.0.0", Summary: "Add one or more members to a set", Complexity: "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments."},
		&Command{Name: "scard", Arity: 2, Flags: "readonly fast", First: 1, Last: 1, Step: 1, ACL: "@set",
			Handler: cmdSCard,
			Group:   "set", Since: "1.0.0", Summary: "Get the number of members in a set", Complexity: "O(1)"},
		&Command{Name: "sdiff", Arity: -2, Flags: "readonly", First: 1, Last: -1, Step: 1, ACL: "@set", Tips: "nondeterministic_output_order",
			Handler: cmdSetAlgebra(engine.SetDiff),
			Group:   "set", Since: "1.0.0", Summary: "Subtract multiple sets", Complexity: "O(N) where N is the total number of elements in all given sets."},
		&Command{Name: "sdiffstore", Arity: -3, Flags: "write denyoom", First: 1, Last: -1, Step: 1, ACL: "@set",
			Handler: cmdSetAlgebraStore(engine.SetDiff),
			Group:   "set", Since: "1.0.0", Summary: "Subtract multiple sets and store the resulting set in a key", Complexity: "O(N) where N is the total number of elements in all given sets."},
		&Command{Name: "sinter", Arity: -2, Flags: "readonly", First: 1, Last: -1, Step: 1, ACL: "@set", Tips: "nondeterministic_output_order",
			Handler: cmdSetAlgebra(engine.SetInter),
			Group:   "set", Since: "1.0.0", Summary: "Intersect multiple sets", Complexity: "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets."},
		&Command{Name: "sintercard", Arity: -3, Flags: "readonly", ACL: "@set", Keys: numKeysAt1,
			Handler: cmdSInterCard,
			Group:   "set", Since: "7.0.0", Summary: "Intersect multiple sets and return the cardinality of the result", Complexity: "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets."},
		&Command{Name: "sinterstore", Arity: -3, Flags: "write denyoom", First: 1, Last: -1, Step: 1, ACL: "@set",
			Handler: cmdSetAlgebraStore(engine.SetInter),
			Group:   "set", Since: "1.0.0", Summary: "Intersect multiple sets and store the resulting set in a key", Complexity: "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets."},
		&Command{Name: "sismember", Arity: 3, Flags: "readonly fast", First: 1, Last: 1, Step: 1, ACL: "@set",
			Handler: cmdSIsMember,
			Group:   "set", Since: "1.0.0", Summary: "Determine if a given value is a member of a set", Complexity: "O(1)"},
		&Command{Name: "smembers", Arity: 2, Flags: "readonly", First: 1, Last: 1, Step: 1, ACL: "@set", Tips: "nondeterministic_output_order",
			Handler: cmdSMembers,
			Group:   "set", Since: "1.0.0", Summary: "Get all the members in a set", Complexity: "O(N) where N is the set cardinality."},
		&Command{Name: "smismember", Arity: -3, Flags: "readonly fast", First: 1, Last: 1, Step: 1, ACL: "@set",
			Handler: cmdSMIsMember,
			Group:   "set", Since: "6.2.0", Summary: "Returns the membership associated with the given elements for a set", Complexity: "O(N) where N is the number of elements being checked for membership"},
		&Command{Name: "smove", Arity: 4, Flags: "write fast", First: 1, Last: 2, Step: 1, ACL: "@set",
			Handler: cmdSMove,
			Group:   "set", Since: "1.0.0", Summary: "Move a member from one set to another", Complexity: "O(1)"},
		&Command{Name: "spop", Arity: -2, Flags: "write fast", First: 1, Last: 1, Step: 1, ACL: "@set", Tips: "nondeterministic_output",
			Handler: cmdSPop,
			Group:   "set", Since: "1.0.0", Summary: "Remove and return one or multiple random members from a set", Complexity: "Without the count argument O(1), otherwise O(N) where N is the value of the passed count."},
		&Command{Name: "srandmember", Arity: -2, Flags: "readonly", First: 1, Last: 1, Step: 1, ACL: "@set", Tips: "nondeterministic_output",
			Handler: cmdSRandMember,
			Group:   "set", Since: "1.0.0", Summary: "Get one or multiple random members from a set", Complexity: "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count."},
		&Command{Name: "srem", Arity: -3, Flags: "write fast", First: 1, Last: 1, Step: 1, ACL: "@set",
			Handler: cmdSRem,
			Group:   "set", Since: "1.0.0", Summary: "Remove one or more members from a set", Complexity: "O(N) where N is the number of members to be removed."},
		&Command{Name: "sscan", Arity: -3, Flags: "readonly", First: 1, Last: 1, Step: 1, ACL: "@set", Tips: "nondeterministic_output",
			Handler: cmdSScan,
			Group:   "set", Since: "2.8.0", Summary: "Incrementally iterate Set elements", Complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.."},
		&Command{Name: "sunion", Arity: -2, Flags: "readonly", First: 1, Last: -1, Step: 1, ACL: "@set", Tips: "nondeterministic_output_order",
			Handler: cmdSetAlgebra(engine.SetUnion),
			Group:   "set", Since: "1.0.0", Summary: "Add multiple sets", Complexity: "O(N) where N is the total number of elements in all given sets."},
		&Command{Name: "sunionstore", Arity: -3, Flags: "write denyoom", First: 1, Last: -1, Step: 1, ACL: "@set",
			Handler: cmdSetAlgebraStore(engine.SetUnion),
			Group:   "set", Since: "1.0.0", Summary: "Add multiple sets and store the resulting set in a key", Complexity: "O(N) where N is the total number of elements in all given sets."},
	)
}

// numKeysAt1 locates the keys of commands shaped "CMD numkeys key ... [options]" (SINTERCARD):
// none when numkeys is not a valid count, in which case the command fails before touching
// data.
func numKeysAt1(args [][]byte) []int {
	if len(args) < 2 {
		return nil
	}
	n, ok := engine.ParseInt(args[1])
	if !ok || n < 1 || n > int64(len(args)-2) {
		return nil
	}
	out := make([]int, n)
	for i := range out {
		out[i] = 2 + i
	}
	return out
}

func cmdSAdd(x *Ctx) {
	n, err := x.Txn.SAdd(x.Args[1], x.Args[2:])
	if err == nil && n > 0 {
		x.Notify(conf.NotifySet, "sadd", x.Args[1])
	}
	x.replyInt(n, err)
}

func cmdSRem(x *Ctx) {
	n, err := x.Txn.SRem(x.Args[1], x.Args[2:])
	if err == nil && n > 0 {
		x.Notify(conf.NotifySet, "srem", x.Args[1])
		x.NotifyDeleted(x.Args[1])
	}
	x.replyInt(n, err)
}

func cmdSCard(x *Ctx) { x.replyInt(x.Txn.SCard(x.Args[1])) }

func cmdSIsMember(x *Ctx) { x.replyBool(x.Txn.SIsMember(x.Args[1], x.Args[2])) }

func cmdSMIsMember(x *Ctx) {
	x.streamed(func() error {
		started := false
		return x.Txn.SMIsMember(x.Args[1], x.Args[2:], func(in bool) {
			if !started {
				x.ArrayLen(len(x.Args) - 2)
				started = true
			}
			if in {
				x.Int(1)
			} else {
				x.Int(0)
			}
		})
	})
}

func cmdSMembers(x *Ctx) {
	x.streamed(func() error {
		return x.Txn.SMembers(x.Args[1], x.SetLen, x.Bulk)
	})
}

func cmdSRandMember(x *Ctx) {
	switch len(x.Args) {
	case 2:
		x.replyBulkOrNull(x.Txn.SRandMember(x.Args[1]))
		return
	case 3:
	default:
		x.Error(engine.ErrSyntax)
		return
	}
	count, err := parseRandCount(x.Args[2])
	if err != nil {
		x.Error(err)
		return
	}
	x.streamed(func() error {
		return x.Txn.SRandMemberCount(x.Args[1], count, x.ArrayLen, x.Bulk)
	})
}

func cmdSPop(x *Ctx) {
	switch len(x.Args) {
	case 2:
		m, ok, err := x.Txn.SPop(x.Args[1])
		if ok {
			x.Notify(conf.NotifySet, "spop", x.Args[1])
		}
		x.replyBulkOrNull(m, ok, err)
		if ok {
			x.NotifyDeleted(x.Args[1]) // after the reply, as in Redis
		}
		return
	case 3:
	default:
		x.Error(engine.ErrSyntax)
		return
	}
	count, ok := engine.ParseInt(x.Args[2])
	if !ok || count < 0 {
		x.Error(engine.ErrPositive)
		return
	}
	// Redis reports "spop" before the reply and "del" (the set is gone) after it.
	popped := false
	events := len(x.notes.events)
	x.streamed(func() error {
		err := x.Txn.SPopCount(x.Args[1], uint64(count), func(n int) {
			if n > 0 {
				popped = true
				x.Notify(conf.NotifySet, "spop", x.Args[1])
			}
			x.SetLen(n)
		}, x.Bulk)
		if err != nil {
			popped = false
			x.notes.events = x.notes.events[:events]
		}
		return err
	})
	if popped {
		x.NotifyDeleted(x.Args[1])
	}
}

func cmdSMove(x *Ctx) {
	src, dst, member := x.Args[1], x.Args[2], x.Args[3]
	inDst := false
	if x.notifying(conf.NotifySet) {
		inDst, _ = x.Txn.SIsMember(dst, member)
	}
	moved, err := x.Txn.SMove(src, dst, member)
	if err == nil && moved && !bytes.Equal(src, dst) {
		x.Notify(conf.NotifySet, "srem", src)
		x.NotifyDeleted(src)
		if !inDst {
			x.Notify(conf.NotifySet, "sadd", dst)
		}
	}
	x.replyBool(moved, err)
}

func cmdSetAlgebra(op engine.SetOp) func(x *Ctx) {
	return func(x *Ctx) {
		x.streamed(func() error {
			return x.Txn.SetAlgebra(op, x.Args[1:], x.SetLen, x.Bulk)
		})
	}
}

func cmdSetAlgebraStore(op engine.SetOp) func(x *Ctx) {
	return func(x *Ctx) {
		x.NotifyMisses(x.Args[2:]...)
		dst := x.watchDel(x.Args[1])
		n, err := x.Txn.SetAlgebraStore(op, x.Args[1], x.Args[2:])
		switch {
		case err != nil:
		case n > 0:
			x.Notify(conf.NotifySet, x.Cmd.Name, x.Args[1]) // "sinterstore" ...
		default:
			x.reportDel(dst)
		}
		x.replyInt(n, err)
	}
}

func cmdSInterCard(x *Ctx) {
	n, ok := engine.ParseInt(x.Args[1])
	if !ok || n < 1 {
		x.Error(engine.ErrNumKeysZero)
		return
	}
	if n > int64(len(x.Args)-2) {
		x.Error(engine.ErrNumKeysArgs)
		return
	}
	var limit int64
	for i := 2 + int(n); i < len(x.Args); i++ {
		if !bytes.EqualFold(x.Args[i], []byte("limit")) || i+1 >= len(x.Args) {
			x.Error(engine.ErrSyntax)
			return
		}
		i++
		l, ok := engine.ParseInt(x.Args[i])
		if !ok || l < 0 {
			x.Error(engine.ErrLimitNegative)
			return
		}
		limit = l
	}
	x.replyInt(x.Txn.SInterCard(x.Args[2:2+n], limit))
}

func cmdSScan(x *Ctx) {
	a, ok := collScanStart(x, encoding.TypeSet)
	if !ok {
		return
	}
	var elems [][]byte
	next, err := x.Txn.SScan(x.Args[1], a.cursor, a.pattern, a.count, func(m []byte) {
		elems = append(elems, bytes.Clone(m))
	})
	if err != nil {
		x.Error(err)
		return
	}
	x.replyScan(next, elems)
}
