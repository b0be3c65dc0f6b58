package server

import (
	"strings"

	"github.com/stratadb/strata/conf"
	"github.com/stratadb/strata/engine"
)

func registerHyperLogLogCommands(t *Table) {
	t.add(
		&Command{Name: "pfadd", Arity: -2, Flags: "write denyoom fast", First: 1, Last: 1, Step: 1, ACL: "@hyperloglog",
			Handler: cmdPFAdd,
			Group:   "hyperloglog", Since: "2.8.9", Summary: "Adds the specified elements to the specified HyperLogLog.", Complexity: "O(1) to add every element."},
		// PFCOUNT is flagged readonly as in Redis, but writes the cardinality it computes back
		// into the value, so it takes write locks.
		&Command{Name: "pfcount", Arity: -2, Flags: "readonly may_replicate", First: 1, Last: -1, Step: 1, ACL: "@hyperloglog",
			Lock: LockKeysWrite, Handler: cmdPFCount,
			Group: "hyperloglog", Since: "2.8.9", Summary: "Return the approximated cardinality of the set(s) observed by the HyperLogLog at key(s).", Complexity: "O(1) with a very small average constant time when called with a single key. O(N) with N being the number of keys, and much bigger constant times, when called with multiple keys."},
		&Command{Name: "pfdebug", Arity: 3, Flags: "write denyoom admin", First: 2, Last: 2, Step: 1, ACL: "@hyperloglog",
			Handler: cmdPFDebug,
			Group:   "hyperloglog", Since: "2.8.9", Summary: "Internal commands for debugging HyperLogLog values", Complexity: "N/A"},
		&Command{Name: "pfmerge", Arity: -2, Flags: "write denyoom", First: 1, Last: -1, Step: 1, ACL: "@hyperloglog",
			Handler: cmdPFMerge,
			Group:   "hyperloglog", Since: "2.8.9", Summary: "Merge N different HyperLogLogs into a single one.", Complexity: "O(N) to merge N HyperLogLogs, but with high constant times."},
		&Command{Name: "pfselftest", Arity: 1, Flags: "admin", ACL: "@hyperloglog", Lock: LockNone,
			Handler: cmdPFSelfTest,
			Group:   "hyperloglog", Since: "2.8.9", Summary: "An internal command for testing HyperLogLog values", Complexity: "N/A"},
	)
}

func cmdPFAdd(x *Ctx) {
	updated, err := x.Txn.PFAdd(x.Args[1], x.Args[2:])
	if err == nil && updated {
		x.Notify(conf.NotifyString, "pfadd", x.Args[1])
	}
	x.replyBool(updated, err)
}

func cmdPFCount(x *Ctx) { x.replyInt(x.Txn.PFCount(x.Args[1:])) }

func cmdPFMerge(x *Ctx) {
	x.NotifyMisses(x.Args[1:]...) // Redis reads the destination too
	if err := x.Txn.PFMerge(x.Args[1], x.Args[2:]); err != nil {
		x.Error(err)
		return
	}
	x.Notify(conf.NotifyString, "pfadd", x.Args[1])
	x.OK()
}

func cmdPFDebug(x *Ctx) {
	r, err := x.Txn.PFDebug(string(x.Args[1]), x.Args[2])
	switch {
	case err != nil:
		x.Error(err)
	case r.Registers != nil:
		x.ArrayLen(len(r.Registers))
		for _, v := range r.Registers {
			x.Int(int64(v))
		}
	case r.Status:
		x.Simple(r.Text)
	case strings.EqualFold(string(x.Args[1]), "decode"):
		x.BulkString(r.Text)
	default:
		x.Int(r.Int)
	}
}

func cmdPFSelfTest(x *Ctx) {
	if err := engine.HLLSelfTest(); err != nil {
		x.Error(err)
		return
	}
	x.OK()
}
