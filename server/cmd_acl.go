package server

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"

	"github.com/stratadb/strata/engine"
)

// ACL: the ACL command and its subcommands (acl.go holds users, rules and checks).

func registerACLCommands(t *Table) {
	admin := "admin noscript loading stale"
	t.add(&Command{Name: "acl", Arity: -2, Lock: LockNone,
		Group: "server", Since: "6.0.0", Summary: "A container for Access List Control commands ",
		Complexity: "Depends on subcommand.",
		Subs: subs("acl",
			&Command{Name: "cat", Arity: -2, Flags: "noscript loading stale", Lock: LockNone, Handler: cmdACLCat,
				Since: "6.0.0", Summary: "List the ACL categories or the commands inside a category",
				Complexity: "O(1) since the categories and commands are a fixed set."},
			&Command{Name: "deluser", Arity: -3, Flags: admin, Lock: LockNone, Handler: cmdACLDelUser,
				Since: "6.0.0", Summary: "Remove the specified ACL users and the associated rules",
				Complexity: "O(1) amortized time considering the typical user."},
			&Command{Name: "dryrun", Arity: -4, Flags: admin, Lock: LockNone, Handler: cmdACLDryRun,
				Since: "7.0.0", Summary: "Returns whether the user can execute the given command without executing the command.",
				Complexity: "O(1)."},
			&Command{Name: "genpass", Arity: -2, Flags: "noscript loading stale", Lock: LockNone, Handler: cmdACLGenPass,
				Since: "6.0.0", Summary: "Generate a pseudorandom secure password to use for ACL users", Complexity: "O(1)"},
			&Command{Name: "getuser", Arity: 3, Flags: admin, Lock: LockNone, Handler: cmdACLGetUser,
				Since: "6.0.0", Summary: "Get the rules for a specific ACL user",
				Complexity: "O(N). Where N is the number of password, command and pattern rules that the user has."},
			&Command{Name: "help", Arity: 2, Flags: "loading stale", Lock: LockNone,
				Handler: func(x *Ctx) { x.help("ACL", aclHelp) },
				Since:   "6.0.0", Summary: "Show helpful text about the different subcommands", Complexity: "O(1)"},
			&Command{Name: "list", Arity: 2, Flags: admin, Lock: LockNone, Handler: cmdACLList,
				Since: "6.0.0", Summary: "List the current ACL rules in ACL config file format",
				Complexity: "O(N). Where N is the number of configured users."},
			&Command{Name: "load", Arity: 2, Flags: admin, Lock: LockNone, Handler: cmdACLLoad,
				Since: "6.0.0", Summary: "Reload the ACLs from the configured ACL file",
				Complexity: "O(N). Where N is the number of configured users."},
			&Command{Name: "log", Arity: -2, Flags: admin, Lock: LockNone, Handler: cmdACLLog,
				Since: "6.0.0", Summary: "List latest events denied because of ACLs in place",
				Complexity: "O(N) with N being the number of entries shown."},
			&Command{Name: "save", Arity: 2, Flags: admin, Lock: LockNone, Handler: cmdACLSave,
				Since: "6.0.0", Summary: "Save the current ACL rules in the configured ACL file",
				Complexity: "O(N). Where N is the number of configured users."},
			&Command{Name: "setuser", Arity: -3, Flags: admin, Lock: LockNone, Handler: cmdACLSetUser,
				Since: "6.0.0", Summary: "Modify or create the rules for a specific ACL user",
				Complexity: "O(N). Where N is the number of rules provided."},
			&Command{Name: "users", Arity: 2, Flags: admin, Lock: LockNone, Handler: cmdACLUsers,
				Since: "6.0.0", Summary: "List the username of all the configured ACL rules",
				Complexity: "O(N). Where N is the number of configured users."},
			&Command{Name: "whoami", Arity: 2, Flags: "noscript loading stale", Lock: LockNone,
				Handler: func(x *Ctx) { x.BulkString(x.userName()) },
				Since:   "6.0.0", Summary: "Return the name of the user associated to the current connection",
				Complexity: "O(1)"},
		)})
}

var aclHelp = []string{
	"CAT [<category>]",
	"    List all commands that belong to <category>, or all command categories",
	"    when no category is specified.",
	"DELUSER <username> [<username> ...]",
	"    Delete a list of users.",
	"DRYRUN <username> <command> [<arg> ...]",
	"    Returns whether the user can execute the given command without executing the command.",
	"GETUSER <username>",
	"    Get the user's details.",
	"GENPASS [<bits>]",
	"    Generate a secure 256-bit user password. The optional `bits` argument can",
	"    be used to specify a different size.",
	"LIST",
	"    Show users details in config file format.",
	"LOAD",
	"    Reload users from the ACL file.",
	"LOG [<count> | RESET]",
	"    Show the ACL log entries.",
	"SAVE",
	"    Save the current config to the ACL file.",
	"SETUSER <username> <attribute> [<attribute> ...]",
	"    Create or modify a user with the specified attributes.",
	"USERS",
	"    List all the registered usernames.",
	"WHOAMI",
	"    Return the current connection username.",
}

func cmdACLSetUser(x *Ctx) {
	name := x.Arg(2)
	if hasSpaces(name) {
		x.Error(engine.ErrACLUsernameSpaces)
		return
	}
	ops := make([]string, len(x.Args)-3)
	for i, a := range x.Args[3:] {
		ops[i] = string(a)
	}
	rules, open, ok := mergeSelectorArgs(ops)
	if !ok {
		x.Error(engine.ErrACLUnmatchedParen(ops[open]))
		return
	}
	a := x.s.acl
	a.mu.Lock()
	u := a.user(name)
	var old *aclUserState
	if u != nil {
		old = u.state.Load()
	}
	st, bad, err := a.applyRules(old, rules)
	if err != nil {
		a.mu.Unlock()
		x.Error(engine.ErrACLSetUser(bad, err))
		return
	}
	if u == nil {
		u = &aclUser{name: name}
		u.state.Store(st)
		users := make(map[string]*aclUser, len(a.usersSnapshot())+1)
		for n, v := range a.usersSnapshot() {
			users[n] = v
		}
		users[name] = u
		a.users.Store(&users)
	} else {
		u.state.Store(st)
	}
	a.mu.Unlock()
	if old != nil {
		x.s.killRevokedSubscribers(x.Client, u, old, st)
	}
	x.OK()
}

func cmdACLDelUser(x *Ctx) {
	for _, n := range x.Args[2:] {
		if string(n) == "default" {
			x.Error(engine.ErrACLDeleteDefault)
			return
		}
	}
	a := x.s.acl
	a.mu.Lock()
	users := make(map[string]*aclUser, len(a.usersSnapshot()))
	for n, u := range a.usersSnapshot() {
		users[n] = u
	}
	var deleted []*aclUser
	for _, n := range x.Args[2:] {
		if u := users[string(n)]; u != nil {
			delete(users, string(n))
			deleted = append(deleted, u)
		}
	}
	a.users.Store(&users)
	a.mu.Unlock()
	x.s.killUserClients(x.Client, deleted...)
	x.Int(int64(len(deleted)))
}

func cmdACLGetUser(x *Ctx) {
	u := x.s.acl.user(x.Arg(2))
	if u == nil {
		x.Null()
		return
	}
	st := u.state.Load()
	x.MapLen(6)
	x.BulkString("flags")
	flags := st.flagNames()
	x.SetLen(len(flags))
	for _, f := range flags {
		x.BulkString(f)
	}
	x.BulkString("passwords")
	x.ArrayLen(len(st.passwords))
	for _, p := range st.passwords {
		x.BulkString(p)
	}
	x.describeSelectorFields(st.selectors[0])
	x.BulkString("selectors")
	x.ArrayLen(len(st.selectors) - 1)
	for _, sel := range st.selectors[1:] {
		x.MapLen(3)
		x.describeSelectorFields(sel)
	}
}

// describeSelectorFields writes GETUSER's commands, keys and channels fields of a selector.
func (x *Ctx) describeSelectorFields(sel *aclSelector) {
	x.BulkString("commands")
	x.BulkString(x.s.acl.describeCommands(sel))
	x.BulkString("keys")
	x.BulkString(sel.keysText())
	x.BulkString("channels")
	x.BulkString(sel.channelsText())
}

func cmdACLList(x *Ctx) {
	users := x.s.acl.sortedUsers()
	x.ArrayLen(len(users))
	for _, u := range users {
		x.BulkString("user " + u.name + " " + x.s.acl.describeUser(u.state.Load()))
	}
}

func cmdACLUsers(x *Ctx) {
	users := x.s.acl.sortedUsers()
	x.ArrayLen(len(users))
	for _, u := range users {
		x.BulkString(u.name)
	}
}

func cmdACLCat(x *Ctx) {
	if len(x.Args) == 2 {
		x.BulkStrings(aclCategoryNames...)
		return
	}
	if len(x.Args) > 3 {
		x.Error(engine.ErrSubcommandSyntax(x.Arg(1), "acl"))
		return
	}
	cat := categoryBit(x.Arg(2))
	if cat == 0 {
		x.Error(engine.ErrACLUnknownCategory(x.Arg(2)))
		return
	}
	var names []string
	for _, c := range x.s.acl.cmds {
		if c.acl&cat != 0 {
			names = append(names, c.Name)
		}
	}
	x.BulkStrings(names...)
}

func cmdACLGenPass(x *Ctx) {
	bits := int64(256)
	switch len(x.Args) {
	case 2:
	case 3:
		n, ok := engine.ParseInt(x.Args[2])
		if !ok {
			x.Error(engine.ErrNotInteger)
			return
		}
		bits = n
	default:
		x.Error(engine.ErrSubcommandSyntax(x.Arg(1), "acl"))
		return
	}
	if bits <= 0 || bits > 4096 {
		x.Error(engine.ErrACLGenpassBits)
		return
	}
	chars := int((bits + 3) / 4)
	raw := make([]byte, (chars+1)/2)
	rand.Read(raw)
	x.BulkString(hex.EncodeToString(raw)[:chars])
}

func cmdACLLog(x *Ctx) {
	count := int64(10)
	switch len(x.Args) {
	case 2:
	case 3:
		if strings.EqualFold(x.Arg(2), "reset") {
			a := x.s.acl
			a.logMu.Lock()
			a.log = nil
			a.logMu.Unlock()
			x.OK()
			return
		}
		n, ok := engine.ParseInt(x.Args[2])
		if !ok {
			x.Error(engine.ErrNotInteger)
			return
		}
		count = max(n, 0)
	default:
		x.Error(engine.ErrSubcommandSyntax(x.Arg(1), "acl"))
		return
	}
	a := x.s.acl
	a.logMu.Lock()
	entries := make([]aclLogEntry, min(count, int64(len(a.log))))
	for i := range entries {
		entries[i] = *a.log[i]
	}
	a.logMu.Unlock()
	now := time.Now()
	x.ArrayLen(len(entries))
	for _, e := range entries {
		x.MapLen(7)
		x.BulkString("count")
		x.Int(e.count)
		x.BulkString("reason")
		x.BulkString(aclReasonNames[e.reason])
		x.BulkString("context")
		x.BulkString(aclContextNames[e.context])
		x.BulkString("object")
		x.BulkString(e.object)
		x.BulkString("username")
		x.BulkString(e.username)
		x.BulkString("age-seconds")
		x.Double(float64(now.Sub(e.ctime).Milliseconds()) / 1000)
		x.BulkString("client-info")
		x.BulkString(e.cinfo)
	}
}

func cmdACLDryRun(x *Ctx) {
	u := x.s.acl.user(x.Arg(2))
	if u == nil {
		x.Error(engine.ErrACLUserNotFound(x.Arg(2)))
		return
	}
	args := x.Args[3:]
	cmd := x.s.cmds.lookupArgs(args)
	if cmd == nil {
		x.Error(engine.ErrACLCommandNotFound(string(args[0])))
		return
	}
	if !cmd.arityOK(len(args)) {
		x.Error(engine.ErrWrongArity(cmd.Name))
		return
	}
	reason, pos := x.s.acl.permission(u.state.Load(), cmd, args)
	switch reason {
	case aclOK:
		x.OK()
	case aclDeniedCmd:
		x.BulkString("This user has no permissions to run the '" + cmd.Name + "' command")
	case aclDeniedKey:
		x.BulkString("This user has no permissions to access the '" + string(args[pos]) + "' key")
	default:
		x.BulkString("This user has no permissions to access the '" + string(args[pos]) + "' channel")
	}
}

// aclFile is the configured ACL file ("" without one).
func (s *Server) aclFile() string {
	s.cfgMu.RLock()
	defer s.cfgMu.RUnlock()
	return s.cfg.ACLFile
}

func cmdACLLoad(x *Ctx) {
	path := x.s.aclFile()
	if path == "" {
		x.Error(engine.ErrACLNoFile)
		return
	}
	replaced, err := x.s.acl.loadFile(path)
	if err != nil {
		x.Error(engine.ErrACLLoad(err.Error()))
		return
	}
	x.s.killUserClients(x.Client, replaced...)
	x.OK()
}

func cmdACLSave(x *Ctx) {
	path := x.s.aclFile()
	if path == "" {
		x.Error(engine.ErrACLNoFile)
		return
	}
	if err := x.s.acl.saveFile(path); err != nil {
		x.s.log.Warn("ACL SAVE failed", "path", path, "err", err)
		x.Error(engine.ErrACLSaveFailed)
		return
	}
	x.OK()
}
