package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/stratadb/strata/engine"
)

// ACL: the ACL command and its subcommands, the ACL log and the ACL file (acl.go holds
// users, rules and permission checks).

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

// ---- the ACL log ----

const aclLogGroupingWindow = 60 * time.Second

// addLog records a denial: an entry within the last ten that has the same reason, context,
// object and user and is at most a minute old is bumped instead of adding a new one.
func (a *aclSystem) addLog(reason aclReason, ctx aclContext, object, username, cinfo string) {
	now := time.Now()
	a.logMu.Lock()
	defer a.logMu.Unlock()
	for i, e := range a.log {
		if i == 10 {
			break
		}
		age := now.Sub(e.ctime)
		if e.reason == reason && aclContextNames[e.context] == aclContextNames[ctx] && age <= aclLogGroupingWindow &&
			age >= -aclLogGroupingWindow && e.object == object && e.username == username {
			e.count++
			e.cinfo, e.ctime = cinfo, now
			copy(a.log[1:i+1], a.log[:i])
			a.log[0] = e
			return
		}
	}
	e := &aclLogEntry{count: 1, reason: reason, context: ctx, object: object, username: username, ctime: now, cinfo: cinfo}
	a.log = append([]*aclLogEntry{e}, a.log...)
	if max := a.logMax.Load(); int64(len(a.log)) > max {
		a.log = a.log[:max]
	}
}

// ---- loading and saving the ACL file ----

// loadFile reads an ACL file as Redis's ACLLoadFromFile: every line is "user <name> rules..."
// or blank. With any error nothing changes and the problems are returned in one line;
// otherwise the users are replaced (the default user keeps its identity and takes the file's
// rules, or fresh ones when the file has none), and the users that were replaced are returned
// so that their clients can be disconnected.
func (a *aclSystem) loadFile(path string) ([]*aclUser, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("Error loading ACLs, opening file '%s': %s", path, strerror(err))
	}
	var problems strings.Builder
	states := map[string]*aclUserState{}
	for i, line := range strings.Split(string(data), "\n") {
		n := i + 1
		line = strings.Trim(line, " \t\r\n")
		if line == "" {
			continue
		}
		argv := strings.Split(line, " ")
		if argv[0] != "user" || len(argv) < 2 {
			fmt.Fprintf(&problems, "%s:%d should start with user keyword followed by the username. ", path, n)
			continue
		}
		name := argv[1]
		if hasSpaces(name) {
			fmt.Fprintf(&problems, "'%s:%d: username '%s' contains invalid characters. ", path, n, name)
			continue
		}
		if states[name] != nil {
			fmt.Fprintf(&problems, "WARNING: Duplicate user '%s' found on line %d. ", name, n)
			continue
		}
		st := a.newUserState()
		states[name] = st
		rules, _, ok := mergeSelectorArgs(argv[2:])
		if !ok {
			// Redis 7.0.15 crashes here; the message is the one its code means to give.
			fmt.Fprintf(&problems, "%s:%d: Unmatched parenthesis in selector definition.", path, n)
			continue
		}
		reported := false
		for _, r := range rules {
			r = strings.Trim(r, "\t\r\n")
			err := a.setUser(st, r)
			switch {
			case err == nil:
			case err == engine.ErrACLUnknownName:
				fmt.Fprintf(&problems, "%s:%d: Error in applying operation '%s': %s. ", path, n, r, err)
			case !reported:
				// Other errors may quote a password: only the first is reported, without it.
				fmt.Fprintf(&problems, "%s:%d: %s. ", path, n, err)
				reported = true
			}
		}
	}
	if problems.Len() > 0 {
		return nil, errors.New(problems.String() + engine.ErrACLFileRejected.Error())
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	old := a.usersSnapshot()
	users := make(map[string]*aclUser, len(states))
	for name, st := range states {
		if name == "default" {
			continue
		}
		u := &aclUser{name: name}
		u.state.Store(st.seal())
		users[name] = u
	}
	if st := states["default"]; st != nil {
		a.def.state.Store(st.seal())
	} else {
		a.def.state.Store(a.defaultState())
	}
	users["default"] = a.def
	a.users.Store(&users)
	var replaced []*aclUser
	for _, u := range old {
		if u != a.def {
			replaced = append(replaced, u)
		}
	}
	return replaced, nil
}

// strerror is how C's strerror names an error: Go's errno texts, capitalized.
func strerror(err error) string {
	msg := err.Error()
	var pe *os.PathError
	if errors.As(err, &pe) {
		msg = pe.Err.Error()
	}
	if msg == "" {
		return msg
	}
	return strings.ToUpper(msg[:1]) + msg[1:]
}

// saveFile writes every user as an ACL file line, through a temporary file renamed over path.
func (a *aclSystem) saveFile(path string) error {
	var b strings.Builder
	for _, u := range a.sortedUsers() {
		b.WriteString("user " + u.name + " " + a.describeUser(u.state.Load()) + "\n")
	}
	tmp := fmt.Sprintf("%s.tmp-%d-%d", path, os.Getpid(), time.Now().UnixMilli())
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(b.String())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// killUserClients disconnects every client authenticated as one of users; the calling client
// (self, may be nil) is closed once its reply is sent.
func (s *Server) killUserClients(self *Client, users ...*aclUser) {
	if len(users) == 0 {
		return
	}
	gone := make(map[*aclUser]bool, len(users))
	for _, u := range users {
		gone[u] = true
	}
	for _, c := range s.Clients() {
		if !gone[c.user.Load()] {
			continue
		}
		if c == self {
			c.closing = true
		} else {
			c.kill()
		}
	}
}

// killRevokedSubscribers disconnects the subscribers authenticated as u whose channels or
// patterns the new rules st no longer allow (Redis's ACLKillPubsubClientsIfNeeded).
func (s *Server) killRevokedSubscribers(self *Client, u *aclUser, old, st *aclUserState) {
	if s.acl.subscriptions == nil {
		return
	}
	var upcoming []string
	for _, sel := range st.selectors {
		if sel.allChannels {
			return
		}
		upcoming = append(upcoming, sel.channels...)
	}
	kept := true
	for _, sel := range old.selectors {
		kept = kept && !sel.allChannels
		for _, ch := range sel.channels {
			found := false
			for _, p := range upcoming {
				found = found || p == ch
			}
			kept = kept && found
		}
	}
	if kept {
		return
	}
	for _, c := range s.Clients() {
		if c.user.Load() != u {
			continue
		}
		channels, patterns := s.acl.subscriptions(c)
		revoked := false
		for _, p := range patterns {
			revoked = revoked || !channelAllowed(upcoming, []byte(p), true)
		}
		for _, ch := range channels {
			revoked = revoked || !channelAllowed(upcoming, []byte(ch), false)
		}
		if !revoked {
			continue
		}
		if c == self {
			c.closing = true
		} else {
			c.kill()
		}
	}
}
