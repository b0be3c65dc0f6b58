package server

import (
	"errors"
	"strings"

	"github.com/stratadb/strata/conf"
	"github.com/stratadb/strata/engine"
)

// The server group's introspection and administration commands: COMMAND (generated from the
// command table), INFO (info.go) and CONFIG (reading conf's directive table).

func registerServerCommands(t *Table) {
	t.add(
		&Command{Name: "command", Arity: -1, Flags: "loading stale", ACL: "@connection", Lock: LockNone,
			Tips: "nondeterministic_output_order", Handler: cmdCommandInfoAll,
			Group: "server", Since: "2.8.13", Summary: "Get array of Redis command details",
			Complexity: "O(N) where N is the total number of Redis commands",
			Subs: subs("command",
				&Command{Name: "count", Arity: 2, Flags: "loading stale", ACL: "@connection", Lock: LockNone,
					Handler: func(x *Ctx) { x.Int(int64(len(x.s.cmds.byName))) },
					Since:   "2.8.13", Summary: "Get total number of Redis commands", Complexity: "O(1)"},
				&Command{Name: "docs", Arity: -2, Flags: "loading stale", ACL: "@connection", Lock: LockNone,
					Tips: "nondeterministic_output_order", Handler: cmdCommandDocs,
					Since: "7.0.0", Summary: "Get array of specific Redis command documentation",
					Complexity: "O(N) where N is the number of commands to look up"},
				&Command{Name: "getkeys", Arity: -4, Flags: "loading stale", ACL: "@connection", Lock: LockNone,
					Handler: func(x *Ctx) { cmdCommandGetKeys(x, false) },
					Since:   "2.8.13", Summary: "Extract keys given a full Redis command",
					Complexity: "O(N) where N is the number of arguments to the command"},
				&Command{Name: "getkeysandflags", Arity: -4, Flags: "loading stale", ACL: "@connection", Lock: LockNone,
					Handler: func(x *Ctx) { cmdCommandGetKeys(x, true) },
					Since:   "7.0.0", Summary: "Extract keys and access flags given a full Redis command",
					Complexity: "O(N) where N is the number of arguments to the command"},
				&Command{Name: "help", Arity: 2, Flags: "loading stale", ACL: "@connection", Lock: LockNone,
					Handler: func(x *Ctx) { x.help("COMMAND", commandHelp) },
					Since:   "5.0.0", Summary: "Show helpful text about the different subcommands", Complexity: "O(1)"},
				&Command{Name: "info", Arity: -2, Flags: "loading stale", ACL: "@connection", Lock: LockNone,
					Tips: "nondeterministic_output_order", Handler: cmdCommandInfo,
					Since: "2.8.13", Summary: "Get array of specific Redis command details, or all when no argument is given.",
					Complexity: "O(N) where N is the number of commands to look up"},
				&Command{Name: "list", Arity: -2, Flags: "loading stale", ACL: "@connection", Lock: LockNone,
					Tips: "nondeterministic_output_order", Handler: cmdCommandList,
					Since: "7.0.0", Summary: "Get an array of Redis command names",
					Complexity: "O(N) where N is the total number of Redis commands"},
			)},
		&Command{Name: "info", Arity: -1, Flags: "loading stale", ACL: "@dangerous", Lock: LockNone,
			Tips: "nondeterministic_output request_policy:all_shards response_policy:special", Handler: cmdInfo,
			Group: "server", Since: "1.0.0", Summary: "Get information and statistics about the server", Complexity: "O(1)"},
		&Command{Name: "config", Arity: -2, Lock: LockNone,
			Group: "server", Since: "2.0.0", Summary: "A container for server configuration commands",
			Complexity: "Depends on subcommand.",
			Subs: subs("config",
				&Command{Name: "get", Arity: -3, Flags: "admin noscript loading stale", Lock: LockNone,
					Handler: cmdConfigGet,
					Since:   "2.0.0", Summary: "Get the values of configuration parameters",
					Complexity: "O(N) when N is the number of configuration parameters provided"},
				&Command{Name: "help", Arity: 2, Flags: "loading stale", Lock: LockNone,
					Handler: func(x *Ctx) { x.help("CONFIG", configHelp) },
					Since:   "5.0.0", Summary: "Show helpful text about the different subcommands", Complexity: "O(1)"},
				&Command{Name: "resetstat", Arity: 2, Flags: "admin noscript loading stale", Lock: LockNone,
					Handler: func(x *Ctx) { x.s.resetStats(); x.OK() },
					Since:   "2.0.0", Summary: "Reset the stats returned by INFO", Complexity: "O(1)"},
				&Command{Name: "rewrite", Arity: 2, Flags: "admin noscript loading stale", Lock: LockNone,
					Handler: cmdConfigRewrite,
					Since:   "2.8.0", Summary: "Rewrite the configuration file with the in memory configuration", Complexity: "O(1)"},
				&Command{Name: "set", Arity: -4, Flags: "admin noscript loading stale", Lock: LockNone,
					Tips: "request_policy:all_nodes response_policy:all_succeeded", Handler: cmdConfigSet,
					Since: "2.0.0", Summary: "Set configuration parameters to the given values",
					Complexity: "O(N) when N is the number of configuration parameters provided"},
			)},
	)
}

// help writes a HELP reply as Redis's addReplyHelp does: a header naming the command, the
// lines, and the HELP entry every container has.
func (c *Client) help(container string, lines []string) {
	c.ArrayLen(len(lines) + 3)
	c.Simple(container + " <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
	for _, l := range lines {
		c.Simple(l)
	}
	c.Simple("HELP")
	c.Simple("    Prints this help.")
}

var commandHelp = []string{
	"(no subcommand)",
	"    Return details about all Redis commands.",
	"COUNT",
	"    Return the total number of commands in this Redis server.",
	"LIST",
	"    Return a list of all commands in this Redis server.",
	"INFO [<command-name> ...]",
	"    Return details about multiple Redis commands.",
	"    If no command names are given, documentation details for all",
	"    commands are returned.",
	"DOCS [<command-name> ...]",
	"    Return documentation details about multiple Redis commands.",
	"    If no command names are given, documentation details for all",
	"    commands are returned.",
	"GETKEYS <full-command>",
	"    Return the keys from a full Redis command.",
	"GETKEYSANDFLAGS <full-command>",
	"    Return the keys and the access flags from a full Redis command.",
}

var configHelp = []string{
	"GET <pattern>",
	"    Return parameters matching the glob-like <pattern> and their values.",
	"SET <directive> <value>",
	"    Set the configuration <directive> to <value>.",
	"RESETSTAT",
	"    Reset statistics reported by the INFO command.",
	"REWRITE",
	"    Rewrite the configuration file.",
}

// ---- COMMAND ----

// lookupFullName finds a command by its full name ("get", "config|get"), case-insensitively,
// as Redis's lookupCommandBySds does.
func (t *Table) lookupFullName(name string) *Command {
	name = strings.ToLower(name)
	top, sub, isSub := strings.Cut(name, "|")
	c := t.byName[top]
	if c == nil || !isSub {
		return c
	}
	if strings.Contains(sub, "|") {
		return nil
	}
	return c.Subs[sub]
}

// lookupArgs resolves a command line (name, and subcommand for containers) as dispatch does,
// without replying: COMMAND GETKEYS's lookupCommand.
func (t *Table) lookupArgs(args [][]byte) *Command {
	c := t.byName[strings.ToLower(string(args[0]))]
	if c == nil || c.Subs == nil || len(args) == 1 {
		return c
	}
	return c.Subs[strings.ToLower(string(args[1]))]
}

func cmdCommandInfoAll(x *Ctx) {
	all := x.s.cmds.All()
	x.ArrayLen(len(all))
	for _, c := range all {
		x.commandInfo(c)
	}
}

func cmdCommandInfo(x *Ctx) {
	if len(x.Args) == 2 {
		cmdCommandInfoAll(x)
		return
	}
	x.ArrayLen(len(x.Args) - 2)
	for _, name := range x.Args[2:] {
		if c := x.s.cmds.lookupFullName(string(name)); c != nil {
			x.commandInfo(c)
		} else {
			x.Null()
		}
	}
}

// commandInfo writes one command's COMMAND INFO entry: Redis 7's ten elements.
func (c *Client) commandInfo(cmd *Command) {
	c.ArrayLen(10)
	c.BulkString(cmd.Name)
	c.Int(int64(cmd.Arity))
	c.simpleSet(cmd.FlagList())
	c.Int(int64(cmd.First))
	c.Int(int64(cmd.Last))
	c.Int(int64(cmd.Step))
	c.simpleSet(cmd.ACLList())
	tips := strings.Fields(cmd.Tips)
	c.SetLen(len(tips))
	for _, tip := range tips {
		c.BulkString(tip)
	}
	c.SetLen(len(cmd.specs))
	for i := range cmd.specs {
		c.keySpec(&cmd.specs[i])
	}
	if cmd.Subs == nil {
		c.SetLen(0)
		return
	}
	list := cmd.SubList()
	c.ArrayLen(len(list))
	for _, s := range list {
		c.commandInfo(s)
	}
}

func (c *Client) simpleSet(items []string) {
	c.SetLen(len(items))
	for _, it := range items {
		c.Simple(it)
	}
}

func (c *Client) keySpec(k *KeySpec) {
	if k.Notes != "" {
		c.MapLen(4)
		c.BulkString("notes")
		c.BulkString(k.Notes)
	} else {
		c.MapLen(3)
	}
	c.BulkString("flags")
	c.simpleSet(k.flags().names())
	c.BulkString("begin_search")
	c.MapLen(2)
	c.BulkString("type")
	switch {
	case k.Begin.Index > 0:
		c.BulkString("index")
		c.BulkString("spec")
		c.MapLen(1)
		c.intField("index", k.Begin.Index)
	case k.Begin.Keyword != "":
		c.BulkString("keyword")
		c.BulkString("spec")
		c.MapLen(2)
		c.BulkString("keyword")
		c.BulkString(k.Begin.Keyword)
		c.intField("startfrom", k.Begin.StartFrom)
	default:
		c.BulkString("unknown")
		c.BulkString("spec")
		c.MapLen(0)
	}
	c.BulkString("find_keys")
	c.MapLen(2)
	c.BulkString("type")
	switch {
	case k.Find.Unknown || (k.Begin.Index == 0 && k.Begin.Keyword == ""):
		c.BulkString("unknown")
		c.BulkString("spec")
		c.MapLen(0)
	case k.Find.KeyNum:
		c.BulkString("keynum")
		c.BulkString("spec")
		c.MapLen(3)
		c.intField("keynumidx", k.Find.KeyNumIdx)
		c.intField("firstkey", k.Find.FirstKey)
		c.intField("keystep", k.Find.KeyStep)
	default:
		c.BulkString("range")
		c.BulkString("spec")
		c.MapLen(3)
		c.intField("lastkey", k.Find.LastKey)
		c.intField("keystep", k.Find.KeyStep)
		c.intField("limit", k.Find.Limit)
	}
}

func (c *Client) intField(name string, v int) {
	c.BulkString(name)
	c.Int(int64(v))
}

func cmdCommandDocs(x *Ctx) {
	if len(x.Args) == 2 {
		all := x.s.cmds.All()
		x.MapLen(len(all))
		for _, c := range all {
			x.BulkString(c.Name)
			x.commandDocs(c)
		}
		return
	}
	var found []*Command
	for _, name := range x.Args[2:] {
		if c := x.s.cmds.lookupFullName(string(name)); c != nil {
			found = append(found, c)
		}
	}
	x.MapLen(len(found))
	for _, c := range found {
		x.BulkString(c.Name)
		x.commandDocs(c)
	}
}

// commandDocs writes one command's COMMAND DOCS map. Strata's table carries no argument
// descriptions or history, so those keys are absent (Redis omits them too when it has none).
func (c *Client) commandDocs(cmd *Command) {
	n := 3
	if cmd.Complexity != "" {
		n++
	}
	if cmd.Subs != nil {
		n++
	}
	c.MapLen(n)
	c.BulkString("summary")
	c.BulkString(cmd.Summary)
	c.BulkString("since")
	c.BulkString(cmd.Since)
	c.BulkString("group")
	c.BulkString(cmd.Group)
	if cmd.Complexity != "" {
		c.BulkString("complexity")
		c.BulkString(cmd.Complexity)
	}
	if cmd.Subs != nil {
		c.BulkString("subcommands")
		list := cmd.SubList()
		c.MapLen(len(list))
		for _, s := range list {
			c.BulkString(s.Name)
			c.commandDocs(s)
		}
	}
}

func cmdCommandList(x *Ctx) {
	var match func(c *Command) bool
	for i := 2; i < len(x.Args); i++ {
		more := len(x.Args) - 1 - i
		if !strings.EqualFold(x.Arg(i), "filterby") || more != 2 {
			x.Error(engine.ErrSyntax)
			return
		}
		arg := x.Args[i+2]
		switch strings.ToLower(x.Arg(i + 1)) {
		case "module":
			match = func(*Command) bool { return false } // Strata loads no modules
		case "aclcat":
			bit, ok := aclBit(strings.ToLower(string(arg)))
			match = func(c *Command) bool { return ok && c.acl&bit != 0 }
		case "pattern":
			match = func(c *Command) bool { return engine.GlobMatch(arg, []byte(c.Name), true) }
		default:
			x.Error(engine.ErrSyntax)
			return
		}
		i += 2
	}
	var names []string
	for _, c := range x.s.cmds.All() {
		if match == nil || match(c) {
			names = append(names, c.Name)
		}
		for _, s := range c.SubList() {
			if match == nil || match(s) {
				names = append(names, s.Name)
			}
		}
	}
	x.BulkStrings(names...)
}

var (
	errInvalidCommand = errors.New("ERR Invalid command specified")
	errNoKeyArgs      = errors.New("ERR The command has no key arguments")
	errGetKeysArity   = errors.New("ERR Invalid number of arguments specified for command")
	errGetKeysArgs    = errors.New("ERR Invalid arguments specified for command")
)

// cmdCommandGetKeys is COMMAND GETKEYS and GETKEYSANDFLAGS: the keys a command line names,
// located exactly as dispatch locates them for the lock plan.
func cmdCommandGetKeys(x *Ctx, withFlags bool) {
	args := x.Args[2:]
	cmd := x.s.cmds.lookupArgs(args)
	switch {
	case cmd == nil:
		x.Error(errInvalidCommand)
		return
	case !cmd.hasKeys():
		x.Error(errNoKeyArgs)
		return
	case !cmd.arityOK(len(args)):
		x.Error(errGetKeysArity)
		return
	}
	refs := cmd.keyRefs(args)
	if len(refs) == 0 {
		if cmd.Has(FlagNoMandatoryKeys) {
			x.ArrayLen(0)
		} else {
			x.Error(errGetKeysArgs)
		}
		return
	}
	x.ArrayLen(len(refs))
	for _, r := range refs {
		if !withFlags {
			x.Bulk(args[r.pos])
			continue
		}
		x.ArrayLen(2)
		x.Bulk(args[r.pos])
		x.simpleSet(r.flags.names())
	}
}

// ---- CONFIG ----

// configHasGlob reports whether a CONFIG GET argument is a pattern rather than a name.
func configHasGlob(s string) bool { return strings.ContainsAny(s, "[*?") }

func cmdConfigGet(x *Ctx) {
	type match struct {
		name string
		d    *conf.Directive
	}
	var found []match
	seen := map[string]bool{} // by lowercase name: a directive is listed once
	list := x.s.ctab.List()
	for _, arg := range x.Args[2:] {
		pattern := string(arg)
		if !configHasGlob(pattern) {
			// A plain name is looked up directly and answered under the name as given.
			d, ok := x.s.ctab.Lookup(pattern)
			if ok && !seen[strings.ToLower(pattern)] {
				seen[strings.ToLower(pattern)] = true
				found = append(found, match{pattern, d})
			}
			continue
		}
		for i := range list {
			d := &list[i]
			if seen[d.Name] || !engine.GlobMatch(arg, []byte(d.Name), true) {
				continue
			}
			seen[d.Name] = true
			found = append(found, match{d.Name, d})
		}
	}
	x.s.cfgMu.RLock()
	values := make([]string, len(found))
	for i, m := range found {
		values[i] = x.s.ctab.Get(x.s.cfg, m.d)
	}
	x.s.cfgMu.RUnlock()
	x.MapLen(len(found))
	for i, m := range found {
		x.BulkString(m.name)
		x.BulkString(values[i])
	}
}

// cmdConfigSet applies several directives atomically, as Redis 7 does: the names are checked
// first, in order (the first unknown, immutable or repeated one is the error), then every
// value is parsed into a copy of the configuration, and only when all succeed is the copy
// made current and applied.
func cmdConfigSet(x *Ctx) {
	args := x.Args[2:]
	if len(args)%2 != 0 {
		x.Error(engine.ErrSyntax)
		return
	}
	dirs := make([]*conf.Directive, 0, len(args)/2)
	for i := 0; i < len(args); i += 2 {
		name := string(args[i])
		d, ok := x.s.ctab.Lookup(name)
		if !ok {
			x.Error(engine.ErrConfigSetUnknown(name))
			return
		}
		if !d.Live {
			x.Error(engine.ErrConfigSet(name, "can't set immutable config"))
			return
		}
		for _, prev := range dirs {
			if prev == d {
				x.Error(engine.ErrConfigSet(name, "duplicate parameter"))
				return
			}
		}
		dirs = append(dirs, d)
	}
	s := x.s
	s.cfgMu.Lock()
	defer s.cfgMu.Unlock()
	next := *s.cfg
	for i, d := range dirs {
		if err := s.ctab.Set(&next, d, string(args[2*i+1])); err != nil {
			x.Error(engine.ErrConfigSet(d.Name, err.Error()))
			return
		}
	}
	*s.cfg = next
	s.applyLive()
	x.OK()
}

func cmdConfigRewrite(x *Ctx) {
	s := x.s
	if s.cfgPath == "" {
		x.Error(engine.ErrNoConfigFile)
		return
	}
	s.cfgMu.RLock()
	err := conf.Rewrite(s.ctab, s.cfg, s.cfgPath)
	s.cfgMu.RUnlock()
	if err != nil {
		s.log.Warn("CONFIG REWRITE failed", "path", s.cfgPath, "err", err)
		x.Error(engine.ErrConfigRewrite(err))
		return
	}
	x.OK()
}
