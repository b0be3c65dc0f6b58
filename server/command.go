package server

import (
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
)

// Command is one entry of the command table, the only source of command metadata: dispatch
// checks arity and authentication with it, the lock plan and COMMAND GETKEYS read its key
// positions, COMMAND INFO/DOCS/LIST/COUNT print it, ACL categories derive from it, and MULTI
// queueing and keyspace notifications consult its flags.
type Command struct {
	Name  string // lowercase; a subcommand is "container|sub" as in Redis 7
	Arity int    // exact count of arguments including the name; negative: at least -Arity
	// Flags as COMMAND INFO names them: "write readonly denyoom admin pubsub noscript
	// blocking loading stale skip_monitor skip_slowlog fast no_auth no_multi allow_busy
	// no_mandatory_keys no_async_loading may_replicate protected".
	Flags string
	// First, Last, Step locate the keys: argument indexes of the first and last key (Last < 0
	// counts from the end) and the step between keys. All zero: no keys.
	First, Last, Step int
	// Keys returns the key positions of commands whose keys move (numkeys arguments,
	// keywords); it makes the command "movablekeys". When set, First/Last/Step are only what
	// COMMAND INFO reports.
	Keys func(args [][]byte) []int
	// Specs are the key specifications COMMAND INFO prints (see KeySpec), for commands whose
	// exact key-spec flags, notes, keyword or keynum searches are known. Without them the
	// table derives them from First/Last/Step, Keys and the command flags. A keyword, keynum
	// or unknown spec makes the command "movablekeys"; when Keys is nil its key positions are
	// then computed from the specs, as Redis does. First/Last/Step stay what COMMAND INFO
	// prints as the legacy key range.
	Specs []KeySpec
	// ACL are the command's explicit ACL categories ("@string @slow" ...); the categories that
	// follow from the flags (@write, @read, @fast/@slow, @admin, @dangerous, @pubsub,
	// @blocking) are added by the table.
	ACL string
	// Tips are COMMAND INFO's command tips ("nondeterministic_output" ...).
	Tips string
	// Lock says what the command holds while it runs (default: key locks by its flags).
	Lock LockKind
	// Handler runs the command.
	Handler func(x *Ctx)

	// Documentation for COMMAND DOCS.
	Group      string
	Summary    string
	Since      string
	Complexity string

	// Subcommands of a container command (CONFIG, CLIENT ...), by lowercase name.
	Subs map[string]*Command

	// Channels locate the pub/sub channels the command names (PUBLISH, SUBSCRIBE ...), so
	// that ACL channel permissions can be checked (see ChannelSpec).
	Channels *ChannelSpec

	flags    CmdFlag
	acl      ACLCategory
	specs    []KeySpec // Specs, or the ones derived from the key positions and flags
	specKeys bool      // Keys computes the positions from specs
	aclID    int       // the command's bit in ACL selectors' command sets
	stats    cmdStats
}

// LockKind says what a command holds.
type LockKind uint8

const (
	// LockKeys: the shared latch and the command's key stripes (write locks for write
	// commands). A command without keys that reads the keyspace (DBSIZE, SCAN) holds just the
	// shared latch.
	LockKeys LockKind = iota
	// LockNone: nothing; the handler does not touch data (PING, CLIENT ...).
	LockNone
	// LockGlobal: the latch exclusively (FLUSHALL, SWAPDB ...).
	LockGlobal
	// LockKeysWrite: write locks on the command's keys although it is flagged readonly:
	// PFCOUNT writes the cardinality it computed back into the value, as Redis does.
	LockKeysWrite
	// LockScript: the handler takes its own locks (EVAL, FCALL: the declared keys first,
	// the global latch when the script touches others). Run by CallInTxn inside a
	// transaction, it runs in the caller's Txn, which must then hold the global latch:
	// lockMode says LockGlobal for it.
	LockScript
)

// writesKeys says whether the command takes write locks on its keys.
func (c *Command) writesKeys() bool { return c.Has(FlagWrite) || c.Lock == LockKeysWrite }

type cmdStats struct {
	calls, usec, rejected, failed atomic.Int64
	hist                          atomic.Pointer[commandHistogram] // latency-tracking (latency.go)
}

// CmdFlag is a bit set of command flags.
type CmdFlag uint32

// The order of flagNames is the order COMMAND INFO prints flags in (Redis's replyFlagNames);
// hidden ones are never printed, as in Redis.
var flagNames = []struct {
	name   string
	hidden bool
}{
	{"write", false}, {"readonly", false}, {"denyoom", false}, {"module", false}, {"admin", false},
	{"pubsub", false}, {"noscript", false}, {"blocking", false}, {"loading", false},
	{"stale", false}, {"skip_monitor", false}, {"skip_slowlog", false}, {"asking", false},
	{"fast", false}, {"no_auth", false}, {"may_replicate", true}, {"sentinel", true},
	{"only_sentinel", true}, {"no_mandatory_keys", false}, {"protected", true},
	{"no_async_loading", false}, {"no_multi", false}, {"movablekeys", false},
	{"allow_busy", false},
}

// Named flags used by dispatch.
const (
	FlagWrite           CmdFlag = 1 << 0
	FlagReadonly        CmdFlag = 1 << 1
	FlagDenyOOM         CmdFlag = 1 << 2
	FlagAdmin           CmdFlag = 1 << 4
	FlagPubsub          CmdFlag = 1 << 5
	FlagNoscript        CmdFlag = 1 << 6
	FlagBlocking        CmdFlag = 1 << 7
	FlagLoading         CmdFlag = 1 << 8
	FlagStale           CmdFlag = 1 << 9
	FlagSkipMon         CmdFlag = 1 << 10
	FlagSkipSlow        CmdFlag = 1 << 11
	FlagFast            CmdFlag = 1 << 13
	FlagNoAuth          CmdFlag = 1 << 14
	FlagMayReplicate    CmdFlag = 1 << 15
	FlagNoMandatoryKeys CmdFlag = 1 << 18
	FlagProtected       CmdFlag = 1 << 19
	FlagNoMulti         CmdFlag = 1 << 21
	FlagMovable         CmdFlag = 1 << 22
	FlagAllow           CmdFlag = 1 << 23
)

// Has reports whether c carries flag f.
func (c *Command) Has(f CmdFlag) bool { return c.flags&f != 0 }

// FlagList returns the flags COMMAND INFO prints, in Redis's order.
func (c *Command) FlagList() []string {
	var out []string
	for i, f := range flagNames {
		if c.flags&(1<<i) != 0 && !f.hidden {
			out = append(out, f.name)
		}
	}
	return out
}

// ACLCategory is a bit set of ACL categories.
type ACLCategory uint32

// aclCategoryNames is Redis's ACL category table; its order is the order COMMAND INFO and
// ACL CAT print them in.
var aclCategoryNames = []string{"keyspace", "read", "write", "set", "sortedset", "list", "hash",
	"string", "bitmap", "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow",
	"blocking", "dangerous", "connection", "transaction", "scripting"}

func aclBit(name string) (ACLCategory, bool) {
	for i, n := range aclCategoryNames {
		if n == name {
			return 1 << i, true
		}
	}
	return 0, false
}

// ACLList returns the command's categories as COMMAND INFO prints them ("@read" ...).
func (c *Command) ACLList() []string {
	var out []string
	for i, n := range aclCategoryNames {
		if c.acl&(1<<i) != 0 {
			out = append(out, "@"+n)
		}
	}
	return out
}

// ACLCategories is the command's category set.
func (c *Command) ACLCategories() ACLCategory { return c.acl }

// KeyPositions returns the argument indexes of the command's keys in args.
func (c *Command) KeyPositions(args [][]byte) []int {
	if c.Keys != nil {
		return c.Keys(args)
	}
	var out []int
	c.eachKey(args, func(i int) { out = append(out, i) })
	return out
}

// eachKey calls fn with each key position of a command with a fixed key range.
func (c *Command) eachKey(args [][]byte, fn func(int)) {
	if c.First == 0 {
		return
	}
	last := c.Last
	if last < 0 {
		last = len(args) + last
	}
	step := max(c.Step, 1)
	for i := c.First; i <= last && i < len(args); i += step {
		fn(i)
	}
}

// arityOK checks n arguments (the name included) against the arity.
func (c *Command) arityOK(n int) bool {
	if c.Arity >= 0 {
		return n == c.Arity
	}
	return n >= -c.Arity
}

// Table is the command table of one server. Registration refuses duplicates, so two groups
// cannot silently define the same command.
type Table struct {
	byName map[string]*Command
}

func newTable() *Table { return &Table{byName: map[string]*Command{}} }

// add registers top-level commands. A command that declares no key specs gets Redis's
// (redisKeySpecs), so that its keys' read/write flags are Redis's.
func (t *Table) add(cmds ...*Command) {
	for _, c := range cmds {
		if _, dup := t.byName[c.Name]; dup {
			panic("server: command registered twice: " + c.Name)
		}
		if c.Specs == nil {
			c.Specs = redisKeySpecs[c.Name]
		}
		c.prepare()
		for _, s := range c.Subs {
			if s.Group == "" {
				s.Group = c.Group // subcommands document themselves in their container's group
			}
			if s.Specs == nil {
				s.Specs = redisKeySpecs[s.Name]
			}
			s.prepare()
		}
		t.byName[c.Name] = c
	}
}

// prepare parses the flag and category strings and derives the implicit categories exactly
// as Redis's setImplicitACLCategories does.
func (c *Command) prepare() {
	if c.Name != strings.ToLower(c.Name) {
		panic("server: command name must be lowercase: " + c.Name)
	}
	for _, f := range strings.Fields(c.Flags) {
		found := false
		for i, n := range flagNames {
			if n.name == f {
				c.flags |= 1 << i
				found = true
			}
		}
		if !found {
			panic(fmt.Sprintf("server: %s: unknown flag %q", c.Name, f))
		}
	}
	c.prepareKeySpecs()
	if c.Keys != nil {
		c.flags |= FlagMovable
	}
	for _, a := range strings.Fields(c.ACL) {
		bit, ok := aclBit(strings.TrimPrefix(a, "@"))
		if !ok {
			panic(fmt.Sprintf("server: %s: unknown ACL category %q", c.Name, a))
		}
		c.acl |= bit
	}
	set := func(name string) { b, _ := aclBit(name); c.acl |= b }
	has := func(name string) bool { b, _ := aclBit(name); return c.acl&b != 0 }
	if c.Has(FlagWrite) {
		set("write")
	}
	if c.Has(FlagReadonly) && !has("scripting") {
		set("read")
	}
	if c.Has(FlagAdmin) {
		set("admin")
		set("dangerous")
	}
	if c.Has(FlagPubsub) {
		set("pubsub")
	}
	if c.Has(FlagFast) {
		set("fast")
	}
	if c.Has(FlagBlocking) {
		set("blocking")
	}
	if !has("fast") {
		set("slow")
	}
	if c.Handler == nil && c.Subs == nil {
		panic("server: command without a handler: " + c.Name)
	}
}

// Lookup finds a top-level command by its lowercase name.
func (t *Table) Lookup(name string) *Command { return t.byName[name] }

// All returns the top-level commands sorted by name.
func (t *Table) All() []*Command {
	out := make([]*Command, 0, len(t.byName))
	for _, c := range t.byName {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// SubList returns a container's subcommands sorted by name.
func (c *Command) SubList() []*Command {
	out := make([]*Command, 0, len(c.Subs))
	for _, s := range c.Subs {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// subs builds a container's subcommand map, naming each "container|sub".
func subs(container string, cmds ...*Command) map[string]*Command {
	m := make(map[string]*Command, len(cmds))
	for _, c := range cmds {
		short := c.Name
		c.Name = container + "|" + short
		if _, dup := m[short]; dup {
			panic("server: subcommand registered twice: " + c.Name)
		}
		m[short] = c
	}
	return m
}
