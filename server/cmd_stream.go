package server

import (
	"bytes"
	"math"
	"time"

	"github.com/stratadb/strata/conf"
	"github.com/stratadb/strata/encoding"
	"github.com/stratadb/strata/engine"
)

// The stream commands. Handlers check their arguments in the order Redis 7.0 does (t_stream.c),
// so that a call with several faults gets the error Redis gives first; data lives in the engine.
//
// Keyspace events (class t) as t_stream.c fires them, placed around the reply as it does: XADD
// creates the key ("new") before its reply and reports xadd (then xtrim, if it trimmed) after
// it; XTRIM, XDEL, XGROUP CREATECONSUMER and DELCONSUMER report before their reply; XSETID and
// XGROUP CREATE, SETID and DESTROY after it. XREADGROUP, XCLAIM and XAUTOCLAIM report
// "xgroup-createconsumer" when they create their consumer (Redis 7.0 does so for a stream it
// serves, at the first entry claimed), before their reply (Redis writes it inside the array,
// which a RESP3 client cannot parse). Streams are never deleted for being empty.

func registerStreamCommands(t *Table) {
	rw := func(flags string) []KeySpec {
		return []KeySpec{{Flags: flags, Begin: BeginSearch{Index: 1}, Find: FindKeys{KeyStep: 1}}}
	}
	sub := func(flags string) []KeySpec {
		return []KeySpec{{Flags: flags, Begin: BeginSearch{Index: 2}, Find: FindKeys{KeyStep: 1}}}
	}
	streamsKeyword := func(from int) []KeySpec {
		return []KeySpec{{Flags: "RO access", Begin: BeginSearch{Keyword: "STREAMS", StartFrom: from},
			Find: FindKeys{LastKey: -1, KeyStep: 1, Limit: 2}}}
	}
	t.add(
		&Command{Name: "xack", Arity: -4, Flags: "write fast", First: 1, Last: 1, Step: 1, ACL: "@stream",
			Specs: rw("RW update"), Handler: cmdXAck,
			Group: "stream", Since: "5.0.0", Summary: "Marks a pending message as correctly processed, effectively removing it from the pending entries list of the consumer group. Return value of the command is the number of messages successfully acknowledged, that is, the IDs we were actually able to resolve in the PEL.", Complexity: "O(1) for each message ID processed."},
		&Command{Name: "xadd", Arity: -5, Flags: "write denyoom fast", First: 1, Last: 1, Step: 1, ACL: "@stream", Tips: "nondeterministic_output",
			Specs:   []KeySpec{{Flags: "RW update", Notes: "UPDATE instead of INSERT because of the optional trimming feature", Begin: BeginSearch{Index: 1}, Find: FindKeys{KeyStep: 1}}},
			Handler: cmdXAdd,
			Group:   "stream", Since: "5.0.0", Summary: "Appends a new entry to a stream", Complexity: "O(1) when adding a new entry, O(N) when trimming where N being the number of entries evicted."},
		&Command{Name: "xautoclaim", Arity: -6, Flags: "write fast", First: 1, Last: 1, Step: 1, ACL: "@stream", Tips: "nondeterministic_output",
			Specs: rw("RW delete"), Handler: cmdXAutoClaim,
			Group: "stream", Since: "6.2.0", Summary: "Changes (or acquires) ownership of messages in a consumer group, as if the messages were delivered to the specified consumer.", Complexity: "O(1) if COUNT is small."},
		&Command{Name: "xclaim", Arity: -6, Flags: "write fast", First: 1, Last: 1, Step: 1, ACL: "@stream", Tips: "nondeterministic_output",
			Specs: rw("RW update"), Handler: cmdXClaim,
			Group: "stream", Since: "5.0.0", Summary: "Changes (or acquires) ownership of a message in a consumer group, as if the message was delivered to the specified consumer.", Complexity: "O(log N) with N being the number of messages in the PEL of the consumer group."},
		&Command{Name: "xdel", Arity: -3, Flags: "write fast", First: 1, Last: 1, Step: 1, ACL: "@stream",
			Specs: rw("RW delete"), Handler: cmdXDel,
			Group: "stream", Since: "5.0.0", Summary: "Removes the specified entries from the stream. Returns the number of items actually deleted, that may be different from the number of IDs passed in case certain IDs do not exist.", Complexity: "O(1) for each single item to delete in the stream, regardless of the stream size."},
		&Command{Name: "xgroup", Arity: -2, Group: "stream", Since: "5.0.0", Summary: "A container for consumer groups commands", Complexity: "Depends on subcommand.",
			Subs: subs("xgroup",
				&Command{Name: "create", Arity: -5, Flags: "write denyoom", First: 2, Last: 2, Step: 1, ACL: "@stream",
					Specs: sub("RW insert"), Handler: cmdXGroup,
					Since: "5.0.0", Summary: "Create a consumer group.", Complexity: "O(1)"},
				&Command{Name: "createconsumer", Arity: 5, Flags: "write denyoom", First: 2, Last: 2, Step: 1, ACL: "@stream",
					Specs: sub("RW insert"), Handler: cmdXGroup,
					Since: "6.2.0", Summary: "Create a consumer in a consumer group.", Complexity: "O(1)"},
				&Command{Name: "delconsumer", Arity: 5, Flags: "write", First: 2, Last: 2, Step: 1, ACL: "@stream",
					Specs: sub("RW delete"), Handler: cmdXGroup,
					Since: "5.0.0", Summary: "Delete a consumer from a consumer group.", Complexity: "O(1)"},
				&Command{Name: "destroy", Arity: 4, Flags: "write", First: 2, Last: 2, Step: 1, ACL: "@stream",
					Specs: sub("RW delete"), Handler: cmdXGroup,
					Since: "5.0.0", Summary: "Destroy a consumer group.", Complexity: "O(N) where N is the number of entries in the group's pending entries list (PEL)."},
				&Command{Name: "help", Arity: 2, Flags: "loading stale", ACL: "@stream", Lock: LockNone, Handler: cmdXGroup,
					Since: "5.0.0", Summary: "Show helpful text about the different subcommands", Complexity: "O(1)"},
				&Command{Name: "setid", Arity: -5, Flags: "write", First: 2, Last: 2, Step: 1, ACL: "@stream",
					Specs: sub("RW update"), Handler: cmdXGroup,
					Since: "5.0.0", Summary: "Set a consumer group to an arbitrary last delivered ID value.", Complexity: "O(1)"},
			)},
		&Command{Name: "xinfo", Arity: -2, Group: "stream", Since: "5.0.0", Summary: "A container for stream introspection commands", Complexity: "Depends on subcommand.",
			Subs: subs("xinfo",
				&Command{Name: "consumers", Arity: 4, Flags: "readonly", First: 2, Last: 2, Step: 1, ACL: "@stream", Tips: "nondeterministic_output",
					Specs: sub("RO access"), Handler: cmdXInfo,
					Since: "5.0.0", Summary: "List the consumers in a consumer group", Complexity: "O(1)"},
				&Command{Name: "groups", Arity: 3, Flags: "readonly", First: 2, Last: 2, Step: 1, ACL: "@stream",
					Specs: sub("RO access"), Handler: cmdXInfo,
					Since: "5.0.0", Summary: "List the consumer groups of a stream", Complexity: "O(1)"},
				&Command{Name: "help", Arity: 2, Flags: "loading stale", ACL: "@stream", Lock: LockNone, Handler: cmdXInfo,
					Since: "5.0.0", Summary: "Show helpful text about the different subcommands", Complexity: "O(1)"},
				&Command{Name: "stream", Arity: -3, Flags: "readonly", First: 2, Last: 2, Step: 1, ACL: "@stream",
					Specs: sub("RO access"), Handler: cmdXInfo,
					Since: "5.0.0", Summary: "Get information about a stream", Complexity: "O(1)"},
			)},
		&Command{Name: "xlen", Arity: 2, Flags: "readonly fast", First: 1, Last: 1, Step: 1, ACL: "@stream",
			Specs: rw("RO"), Handler: cmdXLen,
			Group: "stream", Since: "5.0.0", Summary: "Return the number of entries in a stream", Complexity: "O(1)"},
		&Command{Name: "xpending", Arity: -3, Flags: "readonly", First: 1, Last: 1, Step: 1, ACL: "@stream", Tips: "nondeterministic_output",
			Specs: rw("RO access"), Handler: cmdXPending,
			Group: "stream", Since: "5.0.0", Summary: "Return information and entries from a stream consumer group pending entries list, that are messages fetched but never acknowledged.", Complexity: "O(N) with N being the number of elements returned, so asking for a small fixed number of entries per call is O(1). O(M), where M is the total number of entries scanned when used with the IDLE filter. When the command returns just the summary and the list of consumers is small, it runs in O(1) time; otherwise, an additional O(N) time for iterating every consumer."},
		&Command{Name: "xrange", Arity: -4, Flags: "readonly", First: 1, Last: 1, Step: 1, ACL: "@stream",
			Specs: rw("RO access"), Handler: func(x *Ctx) { cmdXRange(x, false) },
			Group: "stream", Since: "5.0.0", Summary: "Return a range of elements in a stream, with IDs matching the specified IDs interval", Complexity: "O(N) with N being the number of elements being returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1)."},
		&Command{Name: "xread", Arity: -4, Flags: "readonly blocking", ACL: "@stream",
			Specs: streamsKeyword(1), Handler: func(x *Ctx) { cmdXRead(x, false) },
			Group: "stream", Since: "5.0.0", Summary: "Return never seen elements in multiple streams, with IDs greater than the ones reported by the caller for each stream. Can block.", Complexity: "For each stream mentioned: O(N) with N being the number of elements being returned, it means that XREAD-ing with a fixed COUNT is O(1). Note that when the BLOCK option is used, XADD will pay O(M) time in order to serve the M clients blocked on the stream getting new data."},
		&Command{Name: "xreadgroup", Arity: -7, Flags: "write blocking", ACL: "@stream",
			Specs: streamsKeyword(4), Handler: func(x *Ctx) { cmdXRead(x, true) },
			Group: "stream", Since: "5.0.0", Summary: "Return new entries from a stream using a consumer group, or access the history of the pending entries for a given consumer. Can block.", Complexity: "For each stream mentioned: O(M) with M being the number of elements returned. If M is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1). On the other side when XREADGROUP blocks, XADD will pay the O(N) time in order to serve the N clients blocked on the stream getting new data."},
		&Command{Name: "xrevrange", Arity: -4, Flags: "readonly", First: 1, Last: 1, Step: 1, ACL: "@stream",
			Specs: rw("RO access"), Handler: func(x *Ctx) { cmdXRange(x, true) },
			Group: "stream", Since: "5.0.0", Summary: "Return a range of elements in a stream, with IDs matching the specified IDs interval, in reverse order (from greater to smaller IDs) compared to XRANGE", Complexity: "O(N) with N being the number of elements returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1)."},
		&Command{Name: "xsetid", Arity: -3, Flags: "write denyoom fast", First: 1, Last: 1, Step: 1, ACL: "@stream",
			Specs: rw("RW update"), Handler: cmdXSetID,
			Group: "stream", Since: "5.0.0", Summary: "An internal command for replicating stream values", Complexity: "O(1)"},
		&Command{Name: "xtrim", Arity: -4, Flags: "write", First: 1, Last: 1, Step: 1, ACL: "@stream", Tips: "nondeterministic_output",
			Specs: rw("RW delete"), Handler: cmdXTrim,
			Group: "stream", Since: "5.0.0", Summary: "Trims the stream to (approximately if '~' is passed) a certain size", Complexity: "O(N), with N being the number of evicted entries. Constant times are very small however, since entries are organized in macro nodes containing multiple entries that can be released with a single deallocation."},
	)
}

// ---- argument helpers ----

// cstr is b as a C function sees it: up to the first NUL. Redis compares options with
// strcasecmp and parses IDs from C strings, so "MAXLEN\x00x" is MAXLEN to it.
func cstr(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}

// optIs reports whether argument b is option opt (uppercase), as strcasecmp sees it.
func optIs(b []byte, opt string) bool {
	b = cstr(b)
	if len(b) != len(opt) {
		return false
	}
	for i := range b {
		c := b[i]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != opt[i] {
			return false
		}
	}
	return true
}

// isString reports whether argument b is s exactly (as strcmp sees it).
func isString(b []byte, s string) bool { return string(cstr(b)) == s }

// parseULL is Redis's string2ull: a strict decimal integer that is not negative, or else what
// C's strtoull accepts (leading spaces, a sign, leading zeros; a '-' wraps around).
func parseULL(b []byte) (uint64, bool) {
	if v, ok := engine.ParseInt(b); ok {
		return uint64(v), v >= 0
	}
	i := 0
	for i < len(b) && (b[i] == ' ' || (b[i] >= '\t' && b[i] <= '\r')) {
		i++
	}
	neg := false
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		neg = b[i] == '-'
		i++
	}
	if i >= len(b) {
		return 0, false
	}
	var v uint64
	for ; i < len(b); i++ {
		c := b[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (^uint64(0)-d)/10 {
			return 0, false // ERANGE
		}
		v = v*10 + d
	}
	if neg {
		v = -v
	}
	return v, true
}

// idParse says how parseStreamID reads an ID.
type idParse struct {
	missingSeq uint64 // the sequence of an ID given as "<ms>"
	strict     bool   // "-" and "+" are not IDs
	seqStar    bool   // "<ms>-*" is accepted (XADD)
}

// parseStreamID parses a stream ID as Redis's streamGenericParseIDOrReply does. seqGiven is
// false for "<ms>-*".
func parseStreamID(arg []byte, p idParse) (id engine.StreamID, seqGiven, ok bool) {
	if len(arg) > 127 {
		return id, false, false
	}
	b := cstr(arg)
	if len(b) == 1 && (b[0] == '-' || b[0] == '+') {
		if p.strict {
			return id, false, false
		}
		if b[0] == '-' {
			return engine.StreamID{}, true, true
		}
		return encoding.MaxStreamID, true, true
	}
	msPart, seqPart, dash := b, []byte(nil), false
	for i, c := range b {
		if c == '-' {
			msPart, seqPart, dash = b[:i], b[i+1:], true
			break
		}
	}
	ms, ok := parseULL(msPart)
	if !ok {
		return id, false, false
	}
	seq, seqGiven := p.missingSeq, true
	if dash {
		if p.seqStar && len(seqPart) == 1 && seqPart[0] == '*' {
			seq, seqGiven = 0, false
		} else if seq, ok = parseULL(seqPart); !ok {
			return id, false, false
		}
	}
	return engine.StreamID{Ms: ms, Seq: seq}, seqGiven, true
}

// parseStrictID parses an ID where "-" and "+" are not allowed.
func parseStrictID(arg []byte) (engine.StreamID, error) {
	id, _, ok := parseStreamID(arg, idParse{strict: true})
	if !ok {
		return id, engine.ErrStreamID
	}
	return id, nil
}

// parseStrictIDs parses every argument of args as a strict ID.
func parseStrictIDs(args [][]byte) ([]engine.StreamID, error) {
	ids := make([]engine.StreamID, len(args))
	for i, a := range args {
		id, err := parseStrictID(a)
		if err != nil {
			return nil, err
		}
		ids[i] = id
	}
	return ids, nil
}

// parseIntervalID parses a range bound: "(" makes it exclusive (a strict ID, then moved one
// step inwards); otherwise "-" and "+" are allowed. end says which bound it is.
func parseIntervalID(arg []byte, end bool) (engine.StreamID, error) {
	missing := uint64(0)
	if end {
		missing = ^uint64(0)
	}
	if len(arg) > 1 && arg[0] == '(' {
		id, _, ok := parseStreamID(arg[1:], idParse{missingSeq: missing, strict: true})
		if !ok {
			return id, engine.ErrStreamID
		}
		if end {
			if id, ok = id.Prev(); !ok {
				return id, engine.ErrStreamEndID
			}
		} else if id, ok = id.Next(); !ok {
			return id, engine.ErrStreamStartID
		}
		return id, nil
	}
	id, _, ok := parseStreamID(arg, idParse{missingSeq: missing})
	if !ok {
		return id, engine.ErrStreamID
	}
	return id, nil
}

func parseInt(arg []byte) (int64, error) {
	n, ok := engine.ParseInt(arg)
	if !ok {
		return 0, engine.ErrNotInteger
	}
	return n, nil
}

// parseAddOrTrim parses the options of XADD and XTRIM from argument 2 on, as Redis's
// streamParseAddOrTrimArgsOrReply does, and returns the position of XADD's ID.
func parseAddOrTrim(args [][]byte, xadd bool, a *engine.XAddArgs) (int, error) {
	limitGiven := false
	i := 2
	for ; i < len(args); i++ {
		more := len(args) - 1 - i
		opt := args[i]
		switch {
		case xadd && isString(opt, "*"):
			// The common case: an automatic ID.
		case optIs(opt, "MAXLEN") && more > 0, optIs(opt, "MINID") && more > 0:
			if a.Trim.Strategy != engine.TrimNone {
				return 0, engine.ErrStreamTrimBoth
			}
			a.Trim.Approx = false
			if next := args[i+1]; more >= 2 && (isString(next, "~") || isString(next, "=")) {
				a.Trim.Approx = isString(next, "~")
				i++
			}
			if optIs(opt, "MAXLEN") {
				n, err := parseInt(args[i+1])
				if err != nil {
					return 0, err
				}
				if n < 0 {
					return 0, engine.ErrStreamMaxLenNeg
				}
				a.Trim.MaxLen, a.Trim.Strategy = n, engine.TrimMaxLen
			} else {
				id, err := parseStrictID(args[i+1])
				if err != nil {
					return 0, err
				}
				a.Trim.MinID, a.Trim.Strategy = id, engine.TrimMinID
			}
			i++
			continue
		case optIs(opt, "LIMIT") && more > 0:
			n, err := parseInt(args[i+1])
			if err != nil {
				return 0, err
			}
			if n < 0 {
				return 0, engine.ErrStreamLimitNeg
			}
			a.Trim.Limit, limitGiven = n, true
			i++
			continue
		case xadd && optIs(opt, "NOMKSTREAM"):
			a.NoMkStream = true
			continue
		case xadd:
			id, seqGiven, ok := parseStreamID(opt, idParse{strict: true, seqStar: true})
			if !ok {
				return 0, engine.ErrStreamID
			}
			a.ID, a.IDGiven, a.SeqGiven = id, true, seqGiven
		default:
			return 0, engine.ErrSyntax
		}
		break
	}
	if a.Trim.Limit != 0 && a.Trim.Strategy == engine.TrimNone {
		return 0, engine.ErrStreamLimitNoTrim
	}
	if !xadd && a.Trim.Strategy == engine.TrimNone {
		return 0, engine.ErrStreamXTrimNoTrim
	}
	switch {
	case limitGiven && !a.Trim.Approx:
		return 0, engine.ErrStreamLimitNoApprox
	case !limitGiven && a.Trim.Approx:
		a.Trim.Limit = engine.StreamApproxLimit
	case !limitGiven:
		a.Trim.Limit = 0
	}
	return i, nil
}

// ---- replies ----

// deferred is an aggregate reply whose length is known only once its elements are written:
// the elements go to the output first and the header is slid in front of them at the end.
type deferred int

func beginDeferred(x *Ctx) deferred { return deferred(len(x.out)) }

func (d deferred) end(x *Ctx, n int, header func(c *Client, n int)) {
	mark := int(d)
	body := len(x.out) - mark
	header(x.Client, n)
	h := append([]byte(nil), x.out[mark+body:]...)
	copy(x.out[mark+len(h):], x.out[mark:mark+body])
	copy(x.out[mark:], h)
}

func (d deferred) endArray(x *Ctx, n int) { d.end(x, n, (*Client).ArrayLen) }
func (d deferred) endMap(x *Ctx, n int)   { d.end(x, n, (*Client).MapLen) }

// failAt drops what a handler wrote since mark and replies err instead.
func failAt(x *Ctx, mark deferred, err error) {
	x.out = x.out[:mark]
	x.Error(err)
}

func replyStreamID(x *Ctx, id engine.StreamID) { writeStreamID(x.Client, id) }

func writeStreamID(c *Client, id engine.StreamID) {
	var buf [48]byte
	c.Bulk(id.AppendText(buf[:0]))
}

// replyEntry writes one entry: [id, [field, value ...]], or [id, nil] for a deleted one.
func replyEntry(x *Ctx, id engine.StreamID, fv [][]byte) { writeEntry(x.Client, id, fv) }

func writeEntry(c *Client, id engine.StreamID, fv [][]byte) {
	c.ArrayLen(2)
	writeStreamID(c, id)
	if fv == nil {
		c.NullArray()
		return
	}
	c.ArrayLen(len(fv))
	for _, b := range fv {
		c.Bulk(b)
	}
}

// ---- XADD, XTRIM, XDEL, XLEN, XRANGE, XSETID ----

func cmdXAdd(x *Ctx) {
	var a engine.XAddArgs
	idPos, err := parseAddOrTrim(x.Args, true, &a)
	if err != nil {
		x.Error(err)
		return
	}
	var fv [][]byte
	if idPos < len(x.Args) { // else no ID was found, and so no fields
		fv = x.Args[idPos+1:]
	}
	if len(fv) < 2 || len(fv)%2 == 1 {
		x.Error(engine.ErrWrongArity(x.Cmd.Name))
		return
	}
	if a.IDGiven && a.SeqGiven && a.ID.IsZero() {
		x.Error(engine.ErrStreamIDZero)
		return
	}
	key := x.Args[1]
	trimming := a.Trim.Strategy != engine.TrimNone && x.notifying(conf.NotifyStream)
	var before int64
	if trimming {
		before, _ = x.Txn.XLen(key)
	}
	id, ok, err := x.Txn.XAdd(key, &a, fv)
	switch {
	case err != nil:
		x.Error(err)
	case !ok:
		x.Null()
	default:
		x.NotifyCreated(key)
		replyStreamID(x, id) // the commit then serves the clients blocked on the key (blocking.go)
		x.Notify(conf.NotifyStream, "xadd", key)
		if trimming {
			if after, err := x.Txn.XLen(key); err == nil && after <= before {
				x.Notify(conf.NotifyStream, "xtrim", key)
			}
		}
	}
}

func cmdXTrim(x *Ctx) {
	var a engine.XAddArgs
	if _, err := parseAddOrTrim(x.Args, false, &a); err != nil {
		x.Error(err)
		return
	}
	n, err := x.Txn.XTrim(x.Args[1], &a.Trim)
	if err == nil && n > 0 {
		x.Notify(conf.NotifyStream, "xtrim", x.Args[1])
	}
	replyInt(x, n, err)
}

func cmdXDel(x *Ctx) {
	if _, exists, err := x.Txn.StreamLastID(x.Args[1]); err != nil || !exists {
		if err != nil {
			x.Error(err)
		} else {
			x.Int(0)
		}
		return
	}
	ids, err := parseStrictIDs(x.Args[2:])
	if err != nil {
		x.Error(err)
		return
	}
	n, err := x.Txn.XDel(x.Args[1], ids)
	if err == nil && n > 0 {
		x.Notify(conf.NotifyStream, "xdel", x.Args[1])
	}
	replyInt(x, n, err)
}

func cmdXLen(x *Ctx) {
	n, err := x.Txn.XLen(x.Args[1])
	replyInt(x, n, err)
}

func cmdXRange(x *Ctx, rev bool) {
	startArg, endArg := x.Args[2], x.Args[3]
	if rev {
		startArg, endArg = endArg, startArg
	}
	start, err := parseIntervalID(startArg, false)
	if err != nil {
		x.Error(err)
		return
	}
	end, err := parseIntervalID(endArg, true)
	if err != nil {
		x.Error(err)
		return
	}
	count := int64(-1)
	for j := 4; j < len(x.Args); j++ {
		if !optIs(x.Args[j], "COUNT") || j+1 >= len(x.Args) {
			x.Error(engine.ErrSyntax)
			return
		}
		if count, err = parseInt(x.Args[j+1]); err != nil {
			x.Error(err)
			return
		}
		count = max(count, 0)
		j++
	}
	mark := beginDeferred(x)
	n := 0
	found, err := x.Txn.XRange(x.Args[1], start, end, count, rev, func(id engine.StreamID, fv [][]byte) error {
		replyEntry(x, id, fv)
		n++
		return nil
	})
	switch {
	case err != nil:
		failAt(x, mark, err)
	case !found:
		x.ArrayLen(0)
	case count == 0:
		x.NullArray()
	default:
		mark.endArray(x, n)
	}
}

func cmdXSetID(x *Ctx) {
	id, err := parseStrictID(x.Args[2])
	if err != nil {
		x.Error(err)
		return
	}
	a := engine.XSetIDArgs{EntriesAdded: -1}
	for i := 3; i < len(x.Args); i += 2 {
		more := len(x.Args) - 1 - i
		switch {
		case optIs(x.Args[i], "ENTRIESADDED") && more > 0:
			if a.EntriesAdded, err = parseInt(x.Args[i+1]); err != nil {
				x.Error(err)
				return
			}
			if a.EntriesAdded < 0 {
				x.Error(engine.ErrEntriesAddedNeg)
				return
			}
		case optIs(x.Args[i], "MAXDELETEDID") && more > 0:
			if a.MaxDeletedID, err = parseStrictID(x.Args[i+1]); err != nil {
				x.Error(err)
				return
			}
			if id.Less(a.MaxDeletedID) {
				x.Error(engine.ErrXSetIDGivenMaxDeleted)
				return
			}
		default:
			x.Error(engine.ErrSyntax)
			return
		}
	}
	if err := x.Txn.XSetID(x.Args[1], id, a); err != nil {
		x.Error(err)
		return
	}
	x.OK()
	x.Notify(conf.NotifyStream, "xsetid", x.Args[1])
}

// ---- XREAD and XREADGROUP ----

// xreadRequest is one parsed XREAD or XREADGROUP. When nothing can be served at once and BLOCK
// was given, the client waits with it (blockOn): it is served, in arrival order per key, when
// one of its streams gets an entry past its ID (for XREADGROUP, past the group's last-delivered
// ID) and then answered with that one stream; an XREADGROUP waiter whose stream is deleted or
// replaced gets "UNBLOCKED the stream key no longer exists", and one whose group is destroyed
// its NOGROUP error, as in Redis. ids holds "$" already resolved to the stream's last ID, so
// that a waiter gets only entries added after it blocked.
type xreadRequest struct {
	group, consumer []byte
	noack           bool
	count           int64
	block           int64     // ms, 0: forever; -1: no BLOCK
	deadline        time.Time // zero: forever
	keys            [][]byte
	ids             []engine.StreamID
	newOnly         []bool // ">" (XREADGROUP)
}

func cmdXRead(x *Ctx, xreadgroup bool) {
	r := &xreadRequest{block: -1}
	streamsArg := 0
	for i := 1; i < len(x.Args); i++ {
		more := len(x.Args) - i - 1
		o := x.Args[i]
		switch {
		case optIs(o, "BLOCK") && more > 0:
			i++
			n, ok := engine.ParseInt(x.Args[i])
			if !ok {
				x.Error(engine.ErrTimeoutNotInteger)
				return
			}
			if n < 0 {
				x.Error(engine.ErrTimeoutNeg)
				return
			}
			r.block = n
			if now := time.Now(); n > 0 && n < math.MaxInt64/int64(time.Millisecond)-now.UnixMilli() {
				r.deadline = now.Add(time.Duration(n) * time.Millisecond)
			}
		case optIs(o, "COUNT") && more > 0:
			i++
			n, err := parseInt(x.Args[i])
			if err != nil {
				x.Error(err)
				return
			}
			r.count = max(n, 0)
		case optIs(o, "STREAMS") && more > 0:
			streamsArg = i + 1
			if (len(x.Args)-streamsArg)%2 != 0 {
				x.Error(engine.ErrXReadUnbalanced)
				return
			}
			i = len(x.Args)
		case optIs(o, "GROUP") && more >= 2:
			if !xreadgroup {
				x.Error(engine.ErrXReadGroupOption)
				return
			}
			r.group, r.consumer = x.Args[i+1], x.Args[i+2]
			i += 2
		case optIs(o, "NOACK"):
			if !xreadgroup {
				x.Error(engine.ErrXReadNoAckOption)
				return
			}
			r.noack = true
		default:
			x.Error(engine.ErrSyntax)
			return
		}
	}
	if streamsArg == 0 {
		x.Error(engine.ErrSyntax)
		return
	}
	if xreadgroup && r.group == nil {
		x.Error(engine.ErrXReadGroupMissing)
		return
	}
	n := (len(x.Args) - streamsArg) / 2
	r.keys = x.Args[streamsArg : streamsArg+n]
	r.ids = make([]engine.StreamID, n)
	r.newOnly = make([]bool, n)
	for i, key := range r.keys {
		arg := x.Args[streamsArg+n+i]
		var lastID engine.StreamID
		if xreadgroup {
			streamOK, groupOK, err := x.Txn.StreamGroupExists(key, r.group)
			if err == nil && !streamOK {
				x.NotifyMisses(key) // a write command: dispatch reports no "keymiss" for it
			}
			if err == nil && (!streamOK || !groupOK) {
				err = engine.ErrNoGroupXReadGroup(key, r.group)
			}
			if err != nil {
				x.Error(err)
				return
			}
		} else {
			var err error
			if lastID, _, err = x.Txn.StreamLastID(key); err != nil {
				x.Error(err)
				return
			}
		}
		switch {
		case isString(arg, "$"):
			if xreadgroup {
				x.Error(engine.ErrXReadGroupDollar)
				return
			}
			r.ids[i] = lastID
		case isString(arg, ">"):
			if !xreadgroup {
				x.Error(engine.ErrXReadGreater)
				return
			}
			r.newOnly[i] = true
		default:
			id, err := parseStrictID(arg)
			if err != nil {
				x.Error(err)
				return
			}
			r.ids[i] = id
			// Redis stands for ">" with the largest ID, so that ID given explicitly means ">".
			r.newOnly[i] = xreadgroup && id == encoding.MaxStreamID
		}
	}
	served, err := r.serve(x)
	switch {
	case err != nil:
		x.Error(err)
	case served:
	case r.block >= 0:
		r.blockOn(x)
	default:
		x.NullArray()
	}
}

// blockOn parks the client on the request's keys (see blocking.go). Inside MULTI/EXEC or a
// script it answers the null array at once, as Redis does.
func (r *xreadRequest) blockOn(x *Ctx) {
	// The arguments alias the connection's buffer: the waiter keeps copies. A key named twice
	// waits with the ID given first, as in Redis.
	w := &xreadRequest{noack: r.noack, count: r.count}
	if r.group != nil { // XREADGROUP (a nil group is XREAD)
		w.group, w.consumer = clone(r.group), clone(r.consumer)
	}
	for i, k := range r.keys {
		if w.index(k) < 0 {
			w.keys = append(w.keys, clone(k))
			w.ids = append(w.ids, r.ids[i])
		}
	}
	x.block(blockSpec{keys: w.keys, typ: encoding.TypeStream, deadline: r.deadline,
		ready: w.ready, serve: w.serveWaiter, denied: (*Client).NullArray})
}

func (r *xreadRequest) index(key []byte) int {
	for i, k := range r.keys {
		if bytes.Equal(k, key) {
			return i
		}
	}
	return -1
}

// ready says whether a waiter can be answered now on key, which just changed.
func (r *xreadRequest) ready(t *engine.Txn, key []byte) bool {
	if r.group != nil {
		ready, _, _, err := t.XReadGroupReady(key, r.group)
		return err == nil && ready
	}
	i := r.index(key)
	if i < 0 {
		return false
	}
	ok, err := t.StreamHasEntryAfter(key, r.ids[i])
	return err == nil && ok
}

// serveWaiter answers a waiter from key: the entries past its ID (or the group's), or the
// error of a vanished stream or group. The entries are copied: the reply is written after the
// serving Txn has ended.
func (r *xreadRequest) serveWaiter(sx *Ctx, key []byte) replyFunc {
	t := sx.Txn
	var entries []engine.StreamEntry
	collect := func(id engine.StreamID, fv [][]byte) error {
		e := engine.StreamEntry{ID: id, Fields: make([][]byte, len(fv))}
		for i, b := range fv {
			e.Fields[i] = clone(b)
		}
		entries = append(entries, e)
		return nil
	}
	var err error
	if r.group != nil {
		_, gone, noGroup, rerr := t.XReadGroupReady(key, r.group)
		switch {
		case rerr != nil:
			return errorReply(rerr)
		case gone:
			return errorReply(engine.ErrStreamKeyGone)
		case noGroup:
			return errorReply(engine.ErrStreamGroupGone)
		}
		cw := watchConsumer(sx, key, r.group, r.consumer)
		var served bool
		served, err = t.XReadGroup(key, &engine.XReadGroupArgs{Group: r.group, Consumer: r.consumer,
			NoAck: r.noack, Count: r.count}, collect)
		if err == nil && served {
			cw.report(sx, -1)
		}
	} else if i := r.index(key); i >= 0 {
		_, err = t.XRead(key, r.ids[i], r.count, collect)
	}
	if err != nil {
		return errorReply(err)
	}
	key = clone(key)
	return func(c *Client) {
		if c.resp == 2 {
			c.ArrayLen(1)
			c.ArrayLen(2)
		} else {
			c.MapLen(1)
		}
		c.Bulk(key)
		c.ArrayLen(len(entries))
		for _, e := range entries {
			writeEntry(c, e.ID, e.Fields)
		}
	}
}

// serve answers the request when at least one stream has something for it, and reports
// whether it did. Nothing is written when it did not.
func (r *xreadRequest) serve(x *Ctx) (bool, error) {
	mark := beginDeferred(x)
	served := 0
	for i, key := range r.keys {
		sub := beginDeferred(x)
		if x.resp == 2 {
			x.ArrayLen(2)
		}
		x.Bulk(key)
		entries := beginDeferred(x)
		n := 0
		emit := func(id engine.StreamID, fv [][]byte) error {
			replyEntry(x, id, fv)
			n++
			return nil
		}
		var ok bool
		var err error
		if r.group != nil {
			cw := watchConsumer(x, key, r.group, r.consumer)
			ok, err = x.Txn.XReadGroup(key, &engine.XReadGroupArgs{Group: r.group, Consumer: r.consumer,
				After: r.ids[i], History: !r.newOnly[i], NoAck: r.noack, Count: r.count}, emit)
			if err == nil && ok {
				cw.report(x, int(mark))
			}
		} else {
			ok, err = x.Txn.XRead(key, r.ids[i], r.count, emit)
		}
		if err != nil {
			x.out = x.out[:mark]
			return false, err
		}
		if !ok {
			x.out = x.out[:sub]
			if r.group == nil {
				// Redis's XREAD looks each stream up twice, once to check it and once to
				// serve it: dispatch reports the first "keymiss", this the second.
				x.NotifyMisses(key)
			}
			continue
		}
		entries.endArray(x, n)
		served++
	}
	if served == 0 {
		return false, nil
	}
	if x.resp == 2 {
		mark.endArray(x, served)
	} else {
		mark.endMap(x, served)
	}
	return true, nil
}
