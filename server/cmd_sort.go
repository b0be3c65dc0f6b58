package server

import (
	"bytes"
	"strings"

	"github.com/stratadb/strata/conf"
	"github.com/stratadb/strata/engine"
)

func registerSortCommands(t *Table) {
	const complexity = "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N)."
	t.add(
		&Command{Name: "sort", Arity: -2, Flags: "write denyoom", First: 1, Last: 1, Step: 1,
			ACL: "@set @sortedset @list @dangerous", Keys: func(args [][]byte) []int { return sortKeys(args, false) },
			Specs:   []KeySpec{sortSpecs[0], sortSpecs[1], sortSpecs[2]},
			Handler: func(x *Ctx) { cmdSort(x, false) },
			Group:   "generic", Since: "1.0.0", Summary: "Sort the elements in a list, set or sorted set", Complexity: complexity},
		&Command{Name: "sort_ro", Arity: -2, Flags: "readonly", First: 1, Last: 1, Step: 1,
			ACL: "@set @sortedset @list @dangerous", Keys: func(args [][]byte) []int { return sortKeys(args, true) },
			Specs:   []KeySpec{sortSpecs[0], sortSpecs[1]},
			Handler: func(x *Ctx) { cmdSort(x, true) },
			Group:   "generic", Since: "7.0.0", Summary: "Sort the elements in a list, set or sorted set. Read-only variant of SORT.", Complexity: complexity},
	)
}

// sortSpecs are SORT's key specs as Redis declares them (SORT_RO has the first two).
var sortSpecs = []KeySpec{
	{Flags: "RO access", Begin: BeginSearch{Index: 1}, Find: FindKeys{KeyStep: 1}},
	{Flags: "RO access", Find: FindKeys{Unknown: true},
		Notes: "For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort"},
	{Flags: "OW update", Find: FindKeys{Unknown: true},
		Notes: "For the optional STORE keyword. It is marked 'unknown' because the keyword can appear anywhere in the argument array"},
}

// parseSort parses SORT's options as Redis does, in order; storeAt is the argument index of
// the STORE key (0 without one). SORT_RO (readonly) has no STORE.
func parseSort(args [][]byte, readonly bool) (a engine.SortArgs, storeAt int, err error) {
	a.Count = -1
	for j := 2; j < len(args); j++ {
		left := len(args) - j - 1
		switch opt := strings.ToLower(string(args[j])); {
		case opt == "asc":
			a.Desc = false
		case opt == "desc":
			a.Desc = true
		case opt == "alpha":
			a.Alpha = true
		case opt == "limit" && left >= 2:
			r, err := parseInts(args[j+1], args[j+2])
			if err != nil {
				return a, storeAt, err
			}
			a.Offset, a.Count = r[0], r[1]
			j += 2
		case opt == "store" && !readonly && left >= 1:
			a.Store = args[j+1]
			storeAt = j + 1
			j++
		case opt == "by" && left >= 1:
			a.By = args[j+1]
			// As in Redis, a BY without '*' turns sorting off for good, even if another BY
			// follows.
			if bytes.IndexByte(engine.CBytes(a.By), '*') < 0 {
				a.NoSort = true
			}
			j++
		case opt == "get" && left >= 1:
			a.Gets = append(a.Gets, args[j+1])
			j++
		default:
			return a, storeAt, engine.ErrSyntax
		}
	}
	return a, storeAt, nil
}

// sortKeys are SORT's keys: the sorted key and the STORE destination.
func sortKeys(args [][]byte, readonly bool) []int {
	if len(args) < 2 {
		return nil
	}
	_, storeAt, _ := parseSort(args, readonly)
	if storeAt > 0 {
		return []int{1, storeAt}
	}
	return []int{1}
}

// needsGlobalLatch says whether a command reads keys that are not among its key positions,
// and so must run under the global latch rather than its key locks: SORT and SORT_RO with BY
// or GET patterns. Dispatch asks it before locking; EXEC and scripts must ask it for each
// queued command too.
func needsGlobalLatch(cmd *Command, args [][]byte) bool {
	if cmd.Name != "sort" && cmd.Name != "sort_ro" {
		return false
	}
	a, _, err := parseSort(args, cmd.Name == "sort_ro")
	return err == nil && a.ReadsOtherKeys()
}

func cmdSort(x *Ctx, readonly bool) {
	a, _, err := parseSort(x.Args, readonly)
	if err != nil {
		x.Error(err)
		return
	}
	// SORT is a write command: its read of the sorted key reports its own "keymiss" (SORT_RO's
	// comes from dispatch).
	if !readonly {
		x.NotifyMisses(x.Args[1])
	}
	var dst delWatch
	if a.Store != nil {
		dst = x.watchDel(a.Store)
	}
	vals, n, err := x.Txn.Sort(x.Args[1], a)
	switch {
	case err != nil:
		x.Error(err)
	case a.Store != nil:
		// Before the reply, as in Redis: "sortstore" (class l) for a stored list, "del" when
		// an empty result removed the destination.
		if n > 0 {
			x.Notify(conf.NotifyList, "sortstore", a.Store)
		} else {
			x.reportDel(dst)
		}
		x.Int(n)
	default:
		x.ArrayLen(len(vals))
		for _, v := range vals {
			if v.OK {
				x.Bulk(v.V)
			} else {
				x.Null()
			}
		}
	}
}
