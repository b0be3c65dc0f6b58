package server

// Consumer groups (XGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM) and XINFO; the stream
// commands they build on, and the argument and reply helpers, are in cmd_stream.go.

import (
	"bytes"

	"github.com/stratadb/strata/conf"
	"github.com/stratadb/strata/engine"
)

// ---- XGROUP ----

var xgroupHelp = []string{
	"XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
	"CREATE <key> <groupname> <id|$> [option]",
	"    Create a new consumer group. Options are:",
	"    * MKSTREAM",
	"      Create the empty stream if it does not exist.",
	"    * ENTRIESREAD entries_read",
	"      Set the group's entries_read counter (internal use).",
	"CREATECONSUMER <key> <groupname> <consumer>",
	"    Create a new consumer in the specified group.",
	"DELCONSUMER <key> <groupname> <consumer>",
	"    Remove the specified consumer.",
	"DESTROY <key> <groupname>",
	"    Remove the specified group.",
	"SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
	"    Set the current group ID and entries_read counter.",
	"HELP",
	"    Prints this help.",
}

var xinfoHelp = []string{
	"XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
	"CONSUMERS <key> <groupname>",
	"    Show consumers of <groupname>.",
	"GROUPS <key>",
	"    Show the stream consumer groups.",
	"STREAM <key> [FULL [COUNT <count>]",
	"    Show information about the stream.",
	"HELP",
	"    Prints this help.",
}

func replyHelp(x *Ctx, lines []string) {
	x.ArrayLen(len(lines))
	for _, l := range lines {
		x.Simple(l)
	}
}

// cmdXGroup serves every XGROUP subcommand, checking as Redis's xgroupCommand does: options,
// then the key, then the group, then the form of the subcommand, then the ID.
func cmdXGroup(x *Ctx) {
	args := x.Args
	subName := args[1]
	if len(args) == 2 && optIs(subName, "HELP") {
		replyHelp(x, xgroupHelp)
		return
	}
	create, setid := optIs(subName, "CREATE"), optIs(subName, "SETID")
	mkstream := false
	entriesRead := int64(engine.EntriesReadUnknown)
	key, group := args[2], args[3]
	var streamOK, groupOK bool
	if len(args) >= 4 {
		for i := 5; i < len(args); {
			switch {
			case create && optIs(args[i], "MKSTREAM"):
				mkstream = true
				i++
			case (create || setid) && optIs(args[i], "ENTRIESREAD") && i+1 < len(args):
				n, err := parseInt(args[i+1])
				if err != nil {
					x.Error(err)
					return
				}
				if n < 0 && n != engine.EntriesReadUnknown {
					x.Error(engine.ErrEntriesRead)
					return
				}
				entriesRead = n
				i += 2
			default:
				x.Error(engine.ErrSubcommandSyntax(string(subName), string(args[0])))
				return
			}
		}
		var err error
		if streamOK, groupOK, err = x.Txn.StreamGroupExists(key, group); err != nil {
			x.Error(err)
			return
		}
		if !mkstream {
			if !streamOK {
				x.Error(engine.ErrXGroupNoKey)
				return
			}
			if !groupOK && (setid || optIs(subName, "CREATECONSUMER") || optIs(subName, "DELCONSUMER")) {
				x.Error(engine.ErrNoGroupForKey(group, key))
				return
			}
		}
	}
	var err error
	switch {
	case create && len(args) >= 5 && len(args) <= 8, setid && (len(args) == 5 || len(args) == 7):
		var id engine.StreamID
		useLast := isString(args[4], "$")
		if !useLast {
			p := idParse{strict: create}
			var ok bool
			if id, _, ok = parseStreamID(args[4], p); !ok {
				x.Error(engine.ErrStreamID)
				return
			}
		}
		event := "xgroup-setid"
		if create {
			event = "xgroup-create"
			err = x.Txn.XGroupCreate(key, group, id, useLast, mkstream, entriesRead)
			x.NotifyCreated(key) // MKSTREAM: the stream is added before the group (and the reply)
		} else {
			err = x.Txn.XGroupSetID(key, group, id, useLast, entriesRead)
		}
		if err == nil {
			x.OK()
			x.Notify(conf.NotifyStream, event, key)
		}
	case optIs(subName, "DESTROY") && len(args) == 4:
		var ok bool
		if ok, err = x.Txn.XGroupDestroy(key, group); err == nil {
			x.Int(boolInt(ok)) // the commit answers the XREADGROUP clients blocked on the group
			if ok {
				x.Notify(conf.NotifyStream, "xgroup-destroy", key)
			}
		}
	case optIs(subName, "CREATECONSUMER") && len(args) == 5:
		var ok bool
		if ok, err = x.Txn.XGroupCreateConsumer(key, group, args[4]); err == nil {
			if ok {
				x.Notify(conf.NotifyStream, "xgroup-createconsumer", key)
			}
			x.Int(boolInt(ok))
		}
	case optIs(subName, "DELCONSUMER") && len(args) == 5:
		existed := x.notifying(conf.NotifyStream) && consumerExists(x.Txn, key, group, args[4])
		var n int64
		if n, err = x.Txn.XGroupDelConsumer(key, group, args[4]); err == nil {
			if existed {
				x.Notify(conf.NotifyStream, "xgroup-delconsumer", key)
			}
			x.Int(n)
		}
	default:
		err = engine.ErrSubcommandSyntax(string(subName), string(args[0]))
	}
	if err != nil {
		x.Error(err)
	}
}

// ---- XACK, XPENDING, XCLAIM, XAUTOCLAIM ----

// XACK, XCLAIM and XAUTOCLAIM read their stream first, before anything else (the "keymiss"
// of write commands is the handler's to report).

func cmdXAck(x *Ctx) {
	x.NotifyMisses(x.Args[1])
	streamOK, groupOK, err := x.Txn.StreamGroupExists(x.Args[1], x.Args[2])
	if err != nil {
		x.Error(err)
		return
	}
	if !streamOK || !groupOK {
		x.Int(0)
		return
	}
	ids, err := parseStrictIDs(x.Args[3:])
	if err != nil {
		x.Error(err)
		return
	}
	n, err := x.Txn.XAck(x.Args[1], x.Args[2], ids)
	replyInt(x, n, err)
}

func cmdXPending(x *Ctx) {
	args := x.Args
	if len(args) != 3 && (len(args) < 6 || len(args) > 9) {
		x.Error(engine.ErrSyntax)
		return
	}
	var a engine.XPendingArgs
	if len(args) >= 6 {
		startIdx := 3
		if optIs(args[3], "IDLE") {
			n, err := parseInt(args[4])
			if err != nil {
				x.Error(err)
				return
			}
			a.MinIdle = n
			if len(args) < 8 {
				x.Error(engine.ErrSyntax)
				return
			}
			startIdx += 2
		}
		n, err := parseInt(args[startIdx+2])
		if err != nil {
			x.Error(err)
			return
		}
		a.Count = max(n, 0)
		if a.Start, err = parseIntervalID(args[startIdx], false); err != nil {
			x.Error(err)
			return
		}
		if a.End, err = parseIntervalID(args[startIdx+1], true); err != nil {
			x.Error(err)
			return
		}
		if startIdx+3 < len(args) {
			a.Consumer = args[startIdx+3]
		}
	}
	key, group := args[1], args[2]
	if len(args) == 3 {
		sum, err := x.Txn.XPendingSummary(key, group)
		if err != nil {
			x.Error(err)
			return
		}
		x.ArrayLen(4)
		x.Int(int64(sum.Count))
		if sum.Count == 0 {
			x.Null()
			x.Null()
			x.NullArray()
			return
		}
		replyStreamID(x, sum.First)
		replyStreamID(x, sum.Last)
		x.ArrayLen(len(sum.Consumers))
		for _, c := range sum.Consumers {
			x.ArrayLen(2)
			x.Bulk(c.Name)
			x.BulkInt(int64(c.Pending))
		}
		return
	}
	list, err := x.Txn.XPendingRange(key, group, &a)
	if err != nil {
		x.Error(err)
		return
	}
	now := x.Txn.Now()
	x.ArrayLen(len(list))
	for _, p := range list {
		x.ArrayLen(4)
		replyStreamID(x, p.ID)
		x.Bulk(p.Consumer)
		x.Int(max(now-p.DeliveryTime, 0))
		x.Int(int64(p.DeliveryCount))
	}
}

func cmdXClaim(x *Ctx) {
	args := x.Args
	x.NotifyMisses(args[1])
	key, group := args[1], args[2]
	streamOK, groupOK, err := x.Txn.StreamGroupExists(key, group)
	if err == nil && (!streamOK || !groupOK) {
		err = engine.ErrNoKeyOrGroup(key, group)
	}
	if err != nil {
		x.Error(err)
		return
	}
	a := engine.XClaimArgs{DeliveryTime: -1, RetryCount: -1}
	minIdle, ok := engine.ParseInt(args[4])
	if !ok {
		x.Error(engine.ErrXClaimMinIdle)
		return
	}
	a.MinIdle = max(minIdle, 0)
	j := 5
	for ; j < len(args); j++ {
		id, err := parseStrictID(args[j])
		if err != nil {
			break
		}
		a.IDs = append(a.IDs, id)
	}
	now := x.Txn.Now()
	for ; j < len(args); j++ {
		more := len(args) - 1 - j
		opt := args[j]
		switch {
		case optIs(opt, "FORCE"):
			a.Force = true
		case optIs(opt, "JUSTID"):
			a.JustID = true
		case optIs(opt, "IDLE") && more > 0:
			j++
			n, ok := engine.ParseInt(args[j])
			if !ok {
				x.Error(engine.ErrXClaimIdle)
				return
			}
			a.DeliveryTime = now - n
		case optIs(opt, "TIME") && more > 0:
			j++
			n, ok := engine.ParseInt(args[j])
			if !ok {
				x.Error(engine.ErrXClaimTime)
				return
			}
			a.DeliveryTime = n
		case optIs(opt, "RETRYCOUNT") && more > 0:
			j++
			n, ok := engine.ParseInt(args[j])
			if !ok {
				x.Error(engine.ErrXClaimRetryCount)
				return
			}
			a.RetryCount = n
		case optIs(opt, "LASTID") && more > 0:
			j++
			if a.LastID, err = parseStrictID(args[j]); err != nil {
				x.Error(err)
				return
			}
		default:
			x.Error(engine.ErrXClaimOption(opt))
			return
		}
	}
	mark := beginDeferred(x)
	n := 0
	cw := watchConsumer(x, key, group, args[3])
	err = x.Txn.XClaim(key, group, args[3], &a, func(id engine.StreamID, fv [][]byte) error {
		if a.JustID {
			replyStreamID(x, id)
		} else {
			replyEntry(x, id, fv)
		}
		n++
		return nil
	})
	if err != nil {
		failAt(x, mark, err)
		return
	}
	mark.endArray(x, n)
	cw.report(x, int(mark))
}

func cmdXAutoClaim(x *Ctx) {
	args := x.Args
	x.NotifyMisses(args[1])
	minIdle, ok := engine.ParseInt(args[4])
	if !ok {
		x.Error(engine.ErrXAutoClaimMinIdle)
		return
	}
	minIdle = max(minIdle, 0)
	start, err := parseIntervalID(args[5], false)
	if err != nil {
		x.Error(err)
		return
	}
	count, justID := int64(100), false
	for j := 6; j < len(args); j++ {
		more := len(args) - 1 - j
		switch {
		case optIs(args[j], "COUNT") && more > 0:
			n, ok := engine.ParseInt(args[j+1])
			if !ok || n < 1 || n > int64(^uint64(0)>>1)/16 {
				x.Error(engine.ErrXAutoClaimCount)
				return
			}
			count = n
			j++
		case optIs(args[j], "JUSTID"):
			justID = true
		default:
			x.Error(engine.ErrSyntax)
			return
		}
	}
	// Redis allocates COUNT IDs up front and fails when the system cannot give that much (as
	// Linux's heuristic overcommit refuses more than the machine's memory).
	if mem := systemMemory(); mem > 0 && uint64(count) > mem/16 {
		x.Error(engine.ErrXAutoClaimMemory)
		return
	}
	mark := beginDeferred(x)
	n := 0
	cw := watchConsumer(x, args[1], args[2], args[3])
	next, deleted, err := x.Txn.XAutoClaim(args[1], args[2], args[3], minIdle, start, count, justID,
		func(id engine.StreamID, fv [][]byte) error {
			if justID {
				replyStreamID(x, id)
			} else {
				replyEntry(x, id, fv)
			}
			n++
			return nil
		})
	if err != nil {
		failAt(x, mark, err)
		return
	}
	// The claimed entries were written first; the cursor goes before them.
	claimed := append([]byte(nil), x.out[mark:]...)
	x.out = x.out[:mark]
	x.ArrayLen(3)
	replyStreamID(x, next)
	x.ArrayLen(n)
	x.out = append(x.out, claimed...)
	x.ArrayLen(len(deleted))
	for _, id := range deleted {
		replyStreamID(x, id)
	}
	cw.report(x, int(mark))
}

// consumerWatch notes, when stream events are on, whether a consumer is missing before a
// command that creates it as it serves or claims entries (XREADGROUP, XCLAIM, XAUTOCLAIM), so
// that the command reports "xgroup-createconsumer" as Redis's streamCreateConsumer does.
type consumerWatch struct {
	key, group, consumer []byte
	missing              bool
}

func watchConsumer(x *Ctx, key, group, consumer []byte) consumerWatch {
	w := consumerWatch{key: key, group: group, consumer: consumer}
	if x.notifying(conf.NotifyStream) {
		w.missing = !consumerExists(x.Txn, key, group, consumer)
	}
	return w
}

// report reports the consumer's creation if the command created it, placed at the replies'
// length at (the start of the command's reply; -1: where the event is reported).
func (w consumerWatch) report(x *Ctx, at int) {
	if !w.missing || !consumerExists(x.Txn, w.key, w.group, w.consumer) {
		return
	}
	from := len(x.notes.events)
	x.Notify(conf.NotifyStream, "xgroup-createconsumer", w.key)
	for i := from; i < len(x.notes.events) && at >= 0; i++ {
		if x.notes.events[i].at >= 0 {
			x.notes.events[i].at = at
		}
	}
}

// consumerExists says whether group of the stream at key has consumer (false when the stream
// or the group is missing). It reads the group's consumers: only for notifications.
func consumerExists(t *engine.Txn, key, group, consumer []byte) bool {
	cs, err := t.XInfoConsumers(key, group)
	if err != nil {
		return false
	}
	for _, c := range cs {
		if bytes.Equal(c.Name, consumer) {
			return true
		}
	}
	return false
}

// ---- XINFO ----

func cmdXInfo(x *Ctx) {
	args := x.Args
	if optIs(args[1], "HELP") {
		replyHelp(x, xinfoHelp)
		return
	}
	key := args[2]
	switch {
	case optIs(args[1], "CONSUMERS") && len(args) == 4:
		list, err := x.Txn.XInfoConsumers(key, args[3])
		if err != nil {
			x.Error(err)
			return
		}
		x.ArrayLen(len(list))
		for _, c := range list {
			x.MapLen(3)
			x.BulkString("name")
			x.Bulk(c.Name)
			x.BulkString("pending")
			x.Int(int64(c.Pending))
			x.BulkString("idle")
			x.Int(c.Idle)
		}
	case optIs(args[1], "GROUPS") && len(args) == 3:
		list, err := x.Txn.XInfoGroups(key)
		if err != nil {
			x.Error(err)
			return
		}
		x.ArrayLen(len(list))
		for i := range list {
			replyGroupInfo(x, &list[i], 6)
		}
	default: // STREAM; the dispatcher checked the arity of the others
		xinfoStream(x)
	}
}

// replyGroupInfo writes a group's map: XINFO GROUPS's six fields, or the first four of
// XINFO STREAM FULL's (which the caller completes).
func replyGroupInfo(x *Ctx, g *engine.GroupInfo, n int) {
	x.MapLen(n)
	x.BulkString("name")
	x.Bulk(g.Name)
	if n == 6 {
		x.BulkString("consumers")
		x.Int(int64(g.Consumers))
		x.BulkString("pending")
		x.Int(int64(g.Pending))
	}
	x.BulkString("last-delivered-id")
	replyStreamID(x, g.LastID)
	x.BulkString("entries-read")
	if g.EntriesRead == engine.EntriesReadUnknown {
		x.Null()
	} else {
		x.Int(g.EntriesRead)
	}
	x.BulkString("lag")
	if g.LagKnown {
		x.Int(g.Lag)
	} else {
		x.Null()
	}
}

func xinfoStream(x *Ctx) {
	args := x.Args
	key := args[2]
	// The key is looked up before the options are read.
	if _, exists, err := x.Txn.StreamLastID(key); err != nil || !exists {
		if err == nil {
			err = engine.ErrNoSuchKey
		}
		x.Error(err)
		return
	}
	opts := args[3:]
	full, count := false, int64(10)
	if len(opts) > 0 {
		if (len(opts) != 1 && len(opts) != 3) || !optIs(opts[0], "FULL") ||
			(len(opts) == 3 && !optIs(opts[1], "COUNT")) {
			x.Error(engine.ErrSubcommandSyntax(string(args[1]), string(args[0])))
			return
		}
		full = true
		if len(opts) == 3 {
			n, err := parseInt(opts[2])
			if err != nil {
				x.Error(err)
				return
			}
			if n >= 0 {
				count = n
			}
		}
	}
	info, err := x.Txn.XInfoStream(key, full, count)
	if err != nil {
		x.Error(err)
		return
	}
	if full {
		x.MapLen(9)
	} else {
		x.MapLen(10)
	}
	x.BulkString("length")
	x.Int(int64(info.Length))
	x.BulkString("radix-tree-keys")
	x.Int(int64(info.RadixKeys))
	x.BulkString("radix-tree-nodes")
	x.Int(int64(info.RadixNodes))
	x.BulkString("last-generated-id")
	replyStreamID(x, info.LastID)
	x.BulkString("max-deleted-entry-id")
	replyStreamID(x, info.MaxDeletedID)
	x.BulkString("entries-added")
	x.Int(int64(info.EntriesAdded))
	x.BulkString("recorded-first-entry-id")
	replyStreamID(x, info.FirstID)
	if !full {
		x.BulkString("groups")
		x.Int(int64(info.Groups))
		for _, e := range []struct {
			name  string
			entry *engine.StreamEntry
		}{{"first-entry", info.First}, {"last-entry", info.Last}} {
			x.BulkString(e.name)
			if e.entry == nil {
				x.Null()
			} else {
				replyEntry(x, e.entry.ID, e.entry.Fields)
			}
		}
		return
	}
	x.BulkString("entries")
	x.ArrayLen(len(info.Entries))
	for _, e := range info.Entries {
		replyEntry(x, e.ID, e.Fields)
	}
	x.BulkString("groups")
	x.ArrayLen(len(info.GroupList))
	for i := range info.GroupList {
		g := &info.GroupList[i]
		replyGroupInfo(x, &g.GroupInfo, 7)
		x.BulkString("pel-count")
		x.Int(int64(g.Pending))
		x.BulkString("pending")
		x.ArrayLen(len(g.PEL))
		for _, p := range g.PEL {
			x.ArrayLen(4)
			replyStreamID(x, p.ID)
			x.Bulk(p.Consumer)
			x.Int(p.DeliveryTime)
			x.Int(int64(p.DeliveryCount))
		}
		x.BulkString("consumers")
		x.ArrayLen(len(g.Consumers))
		for _, c := range g.Consumers {
			x.MapLen(4)
			x.BulkString("name")
			x.Bulk(c.Name)
			x.BulkString("seen-time")
			x.Int(c.SeenTime)
			x.BulkString("pel-count")
			x.Int(int64(c.Pending))
			x.BulkString("pending")
			x.ArrayLen(len(c.PEL))
			for _, p := range c.PEL {
				x.ArrayLen(3)
				replyStreamID(x, p.ID)
				x.Int(p.DeliveryTime)
				x.Int(int64(p.DeliveryCount))
			}
		}
	}
}
