package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"math"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stratadb/strata/conf"
	"github.com/stratadb/strata/engine"
)

// ACLs as Redis 7.0 has them (acl.c): users with passwords and flags, each with a root
// selector and any number of further selectors; a selector allows commands (by the command
// table's ACL categories, by name, by subcommand, or by first argument), key patterns with
// read/write permissions, and pub/sub channel patterns. A command runs when one of the
// user's selectors allows the command, every key it names (read/write checked against the
// command's key-spec flags) and every channel it publishes or subscribes to.
//
// A user's rules are an immutable aclUserState that ACL SETUSER replaces as a whole (copy,
// modify, publish), so that the permission check on every command is two atomic loads and,
// for an unrestricted user, one boolean test. Clients point at their aclUser; a rule change
// applies to the connections already authenticated as that user from their next command, as
// in Redis.

// ChannelSpec locates the pub/sub channels a command names, as Redis's getChannelsFromCommand
// does: arguments First to Last (negative counts from the end: -1 is the last argument).
//
//	PUBLISH channel msg:      {First: 1, Last: 1, Flags: ChannelPublish}
//	SUBSCRIBE channel ...:    {First: 1, Last: -1, Flags: ChannelSubscribe}
//	PSUBSCRIBE pattern ...:   {First: 1, Last: -1, Flags: ChannelSubscribe | ChannelPattern}
//	UNSUBSCRIBE [channel ...]: {First: 1, Last: -1, Flags: ChannelUnsubscribe}
//
// The ACL checks publish and subscribe channels (unsubscribing is always allowed); a
// pattern is matched literally against the user's channel patterns, a channel by glob.
type ChannelSpec struct {
	First, Last int
	Flags       ChannelFlags
}

// ChannelFlags say how a command uses its channels.
type ChannelFlags uint8

// Channel flags (Redis's CMD_CHANNEL_*).
const (
	ChannelPublish ChannelFlags = 1 << iota
	ChannelSubscribe
	ChannelUnsubscribe
	ChannelPattern
)

// channelPositions returns the argument indexes of the channels a call names.
func (s *ChannelSpec) channelPositions(args [][]byte) []int {
	last := s.Last
	if last < 0 {
		last += len(args)
	}
	var out []int
	for i := s.First; i <= last && i < len(args); i++ {
		out = append(out, i)
	}
	return out
}

// aclReason is the outcome of a permission check; the order is Redis's (ACL_DENIED_*), which
// decides which denial of several selectors is reported.
type aclReason uint8

const (
	aclOK aclReason = iota
	aclDeniedCmd
	aclDeniedKey
	aclDeniedAuth
	aclDeniedChannel
)

var aclReasonNames = [...]string{"", "command", "key", "auth", "channel"}

// aclContext is where a command is checked: it names the ACL LOG entry's context and picks the
// error text.
type aclContext uint8

const (
	aclCtxTopLevel aclContext = iota // sent by the client ("toplevel")
	aclCtxMulti                      // queued inside MULTI ("multi")
	aclCtxExec                       // re-checked when EXEC runs the queue ("multi", EXEC's text)
	aclCtxScript                     // redis.call/pcall from a script ("lua", the script text)
)

var aclContextNames = [...]string{"toplevel", "multi", "multi", "lua"}

// Key permissions of a key pattern.
const (
	aclPermRead  uint8 = 1
	aclPermWrite uint8 = 2
	aclPermAll         = aclPermRead | aclPermWrite
)

type keyPattern struct {
	pattern []byte
	perm    uint8
}

// aclSelector is one set of permissions. Its command set has a bit per command of the table
// (by aclID) and a last bit that only +@all sets: whether the rules were written "from all
// commands down", which is what ACL LIST prints first.
type aclSelector struct {
	root        bool
	allKeys     bool
	allChannels bool
	allCommands bool
	cmds        []uint64
	firstArgs   map[int][]string // allowed first arguments of otherwise denied commands
	keys        []keyPattern
	channels    []string
}

func (sel *aclSelector) bit(id int) bool { return sel.cmds[id/64]&(1<<(id%64)) != 0 }

func (sel *aclSelector) setBit(id int, on bool) {
	if on {
		sel.cmds[id/64] |= 1 << (id % 64)
		return
	}
	sel.cmds[id/64] &^= 1 << (id % 64)
	sel.allCommands = false
}

func (sel *aclSelector) clone() *aclSelector {
	c := *sel
	c.cmds = append([]uint64(nil), sel.cmds...)
	c.keys = append([]keyPattern(nil), sel.keys...)
	c.channels = append([]string(nil), sel.channels...)
	if sel.firstArgs != nil {
		c.firstArgs = make(map[int][]string, len(sel.firstArgs))
		for id, args := range sel.firstArgs {
			c.firstArgs[id] = append([]string(nil), args...)
		}
	}
	return &c
}

// User flags as ACL LIST and GETUSER print them, in Redis's order.
const (
	sanitizeUnset uint8 = iota
	sanitizePayload
	skipSanitizePayload
)

// aclUserState is one user's rules. It is never modified once published.
type aclUserState struct {
	on        bool
	nopass    bool
	sanitize  uint8
	passwords []string // SHA-256, lowercase hex
	selectors []*aclSelector
	// unrestricted: some selector allows every command, key and channel.
	unrestricted bool
}

func (st *aclUserState) clone() *aclUserState {
	c := *st
	c.passwords = append([]string(nil), st.passwords...)
	c.selectors = make([]*aclSelector, len(st.selectors))
	for i, s := range st.selectors {
		c.selectors[i] = s.clone()
	}
	return &c
}

// seal computes what the permission check's fast path reads; call it before publishing.
func (st *aclUserState) seal() *aclUserState {
	st.unrestricted = false
	for _, s := range st.selectors {
		if s.allCommands && s.allKeys && s.allChannels {
			st.unrestricted = true
		}
	}
	return st
}

func (st *aclUserState) flagNames() []string {
	var out []string
	if st.on {
		out = append(out, "on")
	} else {
		out = append(out, "off")
	}
	if st.nopass {
		out = append(out, "nopass")
	}
	switch st.sanitize {
	case skipSanitizePayload:
		out = append(out, "skip-sanitize-payload")
	case sanitizePayload:
		out = append(out, "sanitize-payload")
	}
	return out
}

// aclUser is a user; its rules change by replacing state.
type aclUser struct {
	name  string
	state atomic.Pointer[aclUserState]
}

// aclLogEntry is one ACL LOG entry: denials grouped by reason, context, object and user.
type aclLogEntry struct {
	count    int64
	reason   aclReason
	context  aclContext
	object   string
	username string
	ctime    time.Time
	cinfo    string
}

// aclSystem holds the server's users and ACL log.
type aclSystem struct {
	table    *Table
	cmds     []*Command // by aclID: every command and subcommand of the table
	top      []*Command // top-level commands, sorted by name
	words    int        // length of a selector's command set
	futureID int        // the bit only +@all sets

	pubsubAll atomic.Bool // acl-pubsub-default is allchannels
	logMax    atomic.Int64

	mu          sync.Mutex // serializes changes to users (readers take a snapshot)
	users       atomic.Pointer[map[string]*aclUser]
	def         *aclUser // the default user: never replaced, only its state
	requirePass string   // the requirepass value last applied to the default user

	logMu sync.Mutex
	log   []*aclLogEntry // newest first

	// subscriptions reports the channels (shard channels included) and patterns a client is
	// subscribed to; pub/sub installs it so that ACL SETUSER can disconnect subscribers whose
	// channels it revokes. Nil: nobody subscribes.
	subscriptions func(c *Client) (channels, patterns []string)
}

// newACL builds the ACL system over a command table: it numbers the commands, and creates
// the default user (on, nopass, every command, key and channel).
func newACL(t *Table) *aclSystem {
	a := &aclSystem{table: t}
	for _, c := range t.All() {
		a.top = append(a.top, c)
		c.aclID = len(a.cmds)
		a.cmds = append(a.cmds, c)
		for _, s := range c.SubList() {
			s.aclID = len(a.cmds)
			a.cmds = append(a.cmds, s)
		}
	}
	a.futureID = len(a.cmds)
	a.words = a.futureID/64 + 1
	a.logMax.Store(128)
	a.def = &aclUser{name: "default"}
	a.def.state.Store(a.defaultState())
	users := map[string]*aclUser{"default": a.def}
	a.users.Store(&users)
	return a
}

// defaultState is the rules of a fresh default user.
func (a *aclSystem) defaultState() *aclUserState {
	st := a.newUserState()
	for _, op := range []string{"+@all", "~*", "&*", "on", "nopass"} {
		if err := a.setUser(st, op); err != nil {
			panic("server: default user rule " + op + ": " + err.Error())
		}
	}
	return st.seal()
}

// newUserState is the rules of a user just created: off, no passwords, a root selector that
// allows nothing (but the channels acl-pubsub-default gives).
func (a *aclSystem) newUserState() *aclUserState {
	sel := a.newSelector()
	sel.root = true
	return &aclUserState{selectors: []*aclSelector{sel}}
}

func (a *aclSystem) newSelector() *aclSelector {
	return &aclSelector{cmds: make([]uint64, a.words), allChannels: a.pubsubAll.Load()}
}

// usersSnapshot returns the users by name (do not modify).
func (a *aclSystem) usersSnapshot() map[string]*aclUser { return *a.users.Load() }

// user finds a user by its exact name.
func (a *aclSystem) user(name string) *aclUser { return a.usersSnapshot()[name] }

// sortedUsers returns the users in Redis's order (byte order of names).
func (a *aclSystem) sortedUsers() []*aclUser {
	m := a.usersSnapshot()
	out := make([]*aclUser, 0, len(m))
	for _, u := range m {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// defaultNoPass reports whether the default user takes any password (protected mode).
func (a *aclSystem) defaultNoPass() bool { return a.def.state.Load().nopass }

// defaultAuthRequired reports whether new connections must authenticate (Redis's
// authRequired without a client): the default user needs a password or is disabled.
func (a *aclSystem) defaultAuthRequired() bool {
	st := a.def.state.Load()
	return !st.nopass || !st.on
}

// setDefaultPassword applies requirepass to the default user: its passwords are replaced by
// this one, or it becomes nopass when empty.
func (a *aclSystem) setDefaultPassword(pass string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.requirePass = pass
	st := a.def.state.Load().clone()
	a.setUser(st, "resetpass")
	if pass != "" {
		a.setUser(st, ">"+pass)
	} else {
		a.setUser(st, "nopass")
	}
	a.def.state.Store(st.seal())
}

// applyConfig takes the ACL directives' current values (at start and after CONFIG SET):
// acl-pubsub-default, acllog-max-len, and requirepass, which replaces the default user's
// passwords when it changes, as Redis's CONFIG SET requirepass does.
func (a *aclSystem) applyConfig(c *conf.Config) {
	a.pubsubAll.Store(c.ACLPubsubDefault == "allchannels")
	a.logMax.Store(c.ACLLogMaxLen)
	a.mu.Lock()
	changed := c.RequirePass != a.requirePass
	a.mu.Unlock()
	if changed {
		a.setDefaultPassword(c.RequirePass)
	}
}

// ---- rules ----

// changePerm allows or denies one command, and with a container all its subcommands.
func (a *aclSystem) changePerm(sel *aclSelector, cmd *Command, allow bool) {
	sel.setBit(cmd.aclID, allow)
	delete(sel.firstArgs, cmd.aclID)
	for _, sub := range cmd.Subs {
		sel.setBit(sub.aclID, allow)
	}
}

// setCategory allows or denies every command (and subcommand) in a category.
func (a *aclSystem) setCategory(sel *aclSelector, cat ACLCategory, allow bool) {
	for _, c := range a.cmds {
		if c.acl&cat != 0 {
			a.changePerm(sel, c, allow)
		}
	}
}

func (a *aclSystem) setAllCommands(sel *aclSelector, allow bool) {
	var fill uint64
	if allow {
		fill = math.MaxUint64
	}
	for i := range sel.cmds {
		sel.cmds[i] = fill
	}
	sel.allCommands = allow
	sel.firstArgs = nil
}

// categoryBit finds a category by name, case-insensitively; 0 when unknown.
func categoryBit(name string) ACLCategory {
	bit, _ := aclBit(strings.ToLower(name))
	return bit
}

// hasSpaces reports whether s has whitespace or NUL bytes, which names and patterns may not.
func hasSpaces(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\n', '\v', '\f', '\r', 0:
			return true
		}
	}
	return false
}

// setSelector applies one selector rule (Redis's ACLSetSelector).
func (a *aclSystem) setSelector(sel *aclSelector, op string) error {
	switch {
	case strings.EqualFold(op, "allkeys") || op == "~*":
		sel.allKeys = true
		sel.keys = nil
	case strings.EqualFold(op, "resetkeys"):
		sel.allKeys = false
		sel.keys = nil
	case strings.EqualFold(op, "allchannels") || op == "&*":
		sel.allChannels = true
		sel.channels = nil
	case strings.EqualFold(op, "resetchannels"):
		sel.allChannels = false
		sel.channels = nil
	case strings.EqualFold(op, "allcommands") || strings.EqualFold(op, "+@all"):
		a.setAllCommands(sel, true)
	case strings.EqualFold(op, "nocommands") || strings.EqualFold(op, "-@all"):
		a.setAllCommands(sel, false)
	case op[0] == '~' || op[0] == '%':
		return a.addKeyPattern(sel, op)
	case op[0] == '&':
		if sel.allChannels {
			return engine.ErrACLChannelsAfterAll
		}
		pat := op[1:]
		if hasSpaces(pat) {
			return engine.ErrACLSyntax
		}
		for _, p := range sel.channels {
			if p == pat {
				return nil
			}
		}
		sel.channels = append(sel.channels, pat)
	case len(op) > 1 && op[1] == '@' && (op[0] == '+' || op[0] == '-'):
		cat := categoryBit(op[2:])
		if cat == 0 {
			return engine.ErrACLUnknownName
		}
		a.setCategory(sel, cat, op[0] == '+')
	case op[0] == '+':
		return a.allowCommand(sel, op[1:])
	case op[0] == '-':
		cmd := a.lookup(op[1:])
		if cmd == nil {
			return engine.ErrACLUnknownName
		}
		a.changePerm(sel, cmd, false)
	default:
		return engine.ErrACLSyntax
	}
	return nil
}

// lookup finds a command by its full name ("get", "config|get"), as ACL rules name them.
func (a *aclSystem) lookup(name string) *Command { return a.table.lookupFullName(name) }

// allowCommand is "+name", "+container|sub" and "+name|first-arg".
func (a *aclSystem) allowCommand(sel *aclSelector, name string) error {
	bar := strings.LastIndexByte(name, '|')
	if bar < 0 {
		cmd := a.lookup(name)
		if cmd == nil {
			return engine.ErrACLUnknownName
		}
		a.changePerm(sel, cmd, true)
		return nil
	}
	cmd := a.lookup(name[:bar])
	switch {
	case cmd == nil:
		return engine.ErrACLUnknownName
	case strings.Contains(cmd.Name, "|"):
		return engine.ErrACLSubcommandArg
	case bar == len(name)-1:
		return engine.ErrACLSyntax
	case cmd.Subs != nil:
		sub := a.lookup(name)
		if sub == nil {
			return engine.ErrACLUnknownName
		}
		a.changePerm(sel, sub, true)
		return nil
	}
	// Allowing one first argument of an otherwise denied command ("+select|0"): Redis
	// deprecates it but still accepts it.
	arg := name[bar+1:]
	for _, have := range sel.firstArgs[cmd.aclID] {
		if strings.EqualFold(have, arg) {
			return nil
		}
	}
	if sel.firstArgs == nil {
		sel.firstArgs = map[int][]string{}
	}
	sel.firstArgs[cmd.aclID] = append(sel.firstArgs[cmd.aclID], arg)
	return nil
}

// addKeyPattern is "~pattern" and "%R~pattern", "%W~pattern", "%RW~pattern".
func (a *aclSystem) addKeyPattern(sel *aclSelector, op string) error {
	if sel.allKeys {
		return engine.ErrACLKeysAfterAll
	}
	perm, offset := aclPermAll, 1
	if op[0] == '%' {
		perm = 0
	scan:
		for ; offset < len(op); offset++ {
			switch {
			case (op[offset] == 'R' || op[offset] == 'r') && perm&aclPermRead == 0:
				perm |= aclPermRead
			case (op[offset] == 'W' || op[offset] == 'w') && perm&aclPermWrite == 0:
				perm |= aclPermWrite
			case op[offset] == '~':
				offset++
				break scan
			default:
				return engine.ErrACLSyntax
			}
		}
		if perm == 0 {
			return engine.ErrACLSyntax
		}
	}
	pat := op[offset:]
	if hasSpaces(pat) {
		return engine.ErrACLSyntax
	}
	for i := range sel.keys {
		if string(sel.keys[i].pattern) == pat {
			sel.keys[i].perm |= perm
			return nil
		}
	}
	sel.keys = append(sel.keys, keyPattern{pattern: []byte(pat), perm: perm})
	return nil
}

// hashPassword is how passwords are kept: SHA-256 in lowercase hex.
func hashPassword(pass string) string {
	sum := sha256.Sum256([]byte(pass))
	return hex.EncodeToString(sum[:])
}

func validHash(h string) bool {
	if len(h) != 64 {
		return false
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; (c < 'a' || c > 'f') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// setUser applies one user rule (Redis's ACLSetUser) to st, which must not be published.
func (a *aclSystem) setUser(st *aclUserState, op string) error {
	if op == "" {
		return nil
	}
	switch {
	case strings.EqualFold(op, "on"):
		st.on = true
	case strings.EqualFold(op, "off"):
		st.on = false
	case strings.EqualFold(op, "skip-sanitize-payload"):
		st.sanitize = skipSanitizePayload
	case strings.EqualFold(op, "sanitize-payload"):
		st.sanitize = sanitizePayload
	case strings.EqualFold(op, "nopass"):
		st.nopass = true
		st.passwords = nil
	case strings.EqualFold(op, "resetpass"):
		st.nopass = false
		st.passwords = nil
	case op[0] == '>' || op[0] == '#':
		h := op[1:]
		if op[0] == '>' {
			h = hashPassword(h)
		} else if !validHash(h) {
			return engine.ErrACLBadHash
		}
		st.nopass = false
		for _, p := range st.passwords {
			if p == h {
				return nil
			}
		}
		st.passwords = append(st.passwords, h)
	case op[0] == '<' || op[0] == '!':
		h := op[1:]
		if op[0] == '<' {
			h = hashPassword(h)
		} else if !validHash(h) {
			return engine.ErrACLBadHash
		}
		for i, p := range st.passwords {
			if p == h {
				st.passwords = append(st.passwords[:i:i], st.passwords[i+1:]...)
				return nil
			}
		}
		return engine.ErrACLNoSuchPassword
	case op[0] == '(' && op[len(op)-1] == ')':
		sel := a.newSelector()
		for _, rule := range splitArgs(op[1 : len(op)-1]) {
			if err := a.setSelector(sel, rule); err != nil {
				return err
			}
		}
		st.selectors = append(st.selectors, sel)
	case strings.EqualFold(op, "clearselectors"):
		st.selectors = st.selectors[:1]
	case strings.EqualFold(op, "reset"):
		for _, r := range []string{"resetpass", "resetkeys", "resetchannels"} {
			a.setUser(st, r)
		}
		if a.pubsubAll.Load() {
			a.setUser(st, "allchannels")
		}
		for _, r := range []string{"off", "sanitize-payload", "clearselectors", "-@all"} {
			a.setUser(st, r)
		}
	default:
		return a.setSelector(st.selectors[0], op)
	}
	return nil
}

// mergeSelectorArgs joins a selector written over several arguments ("(~a" "+get)") into
// one, as Redis's ACLMergeSelectorArguments. When a selector is never closed it returns ok
// false and the index of the argument that opened it.
func mergeSelectorArgs(args []string) (merged []string, unmatched int, ok bool) {
	open := -1
	var sel string
	for j, op := range args {
		if len(op) > 0 && op[0] == '(' && op[len(op)-1] != ')' {
			sel, open = op, j
			continue
		}
		if open >= 0 {
			sel += " " + op
			if len(op) > 0 && op[len(op)-1] == ')' {
				open = -1
				merged = append(merged, sel)
			}
			continue
		}
		merged = append(merged, op)
	}
	if open >= 0 {
		return nil, open, false
	}
	return merged, 0, true
}

// splitArgs splits a line as Redis's sdssplitargs does (the rules inside a selector): spaces
// separate arguments, "double quotes" take \n \r \t \b \a \xHH escapes, 'single quotes' take
// \'. Unbalanced quotes give no arguments at all.
func splitArgs(line string) []string {
	if i := strings.IndexByte(line, 0); i >= 0 {
		line = line[:i] // a C string ends at NUL
	}
	isSpace := func(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f' }
	at := func(i int) byte {
		if i < len(line) {
			return line[i]
		}
		return 0
	}
	var out []string
	p := 0
	for {
		for p < len(line) && isSpace(line[p]) {
			p++
		}
		if p >= len(line) {
			return out
		}
		var cur []byte
		var quote byte // the open quote, if any
		for done := false; !done; {
			c := at(p)
			switch {
			case quote == '"' && c == '\\' && at(p+1) == 'x' && isHex(at(p+2)) && isHex(at(p+3)):
				cur = append(cur, unhex(at(p+2))<<4|unhex(at(p+3)))
				p += 3
			case quote == '"' && c == '\\' && at(p+1) != 0:
				p++
				cur = append(cur, unescape(at(p)))
			case quote == '\'' && c == '\\' && at(p+1) == '\'':
				p++
				cur = append(cur, '\'')
			case quote != 0 && c == quote:
				if at(p+1) != 0 && !isSpace(at(p+1)) {
					return nil // a closing quote must end the argument
				}
				done = true
			case quote != 0 && c == 0:
				return nil // unterminated quotes
			case quote != 0:
				cur = append(cur, c)
			case c == 0 || isSpace(c):
				done = true
			case c == '"' || c == '\'':
				quote = c
			default:
				cur = append(cur, c)
			}
			if c != 0 {
				p++
			}
		}
		out = append(out, string(cur))
	}
}

// unescape is the byte a backslash escape in double quotes stands for.
func unescape(c byte) byte {
	switch c {
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 'b':
		return '\b'
	case 'a':
		return '\a'
	}
	return c
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// applyRules stages rules on a copy of st (or on a new user's rules when st is nil); the
// first rule refused is returned with its error, and nothing is applied.
func (a *aclSystem) applyRules(st *aclUserState, rules []string) (*aclUserState, string, error) {
	if st == nil {
		st = a.newUserState()
	} else {
		st = st.clone()
	}
	for _, r := range rules {
		if err := a.setUser(st, r); err != nil {
			return nil, r, err
		}
	}
	return st.seal(), "", nil
}

// ---- describing rules (ACL LIST, GETUSER, SAVE) ----

// countCategory counts the commands of a category a command set allows and denies.
func (a *aclSystem) countCategory(sel *aclSelector, cat ACLCategory) (on, off int) {
	// Top-level commands only, as Redis's ACLCountCategoryBitsForSelector walks its command
	// table: a container counts once, however many subcommands it has.
	for _, c := range a.top {
		if c.acl&cat == 0 {
			continue
		}
		if sel.bit(c.aclID) {
			on++
		} else {
			off++
		}
	}
	return on, off
}

// describeCommands writes a selector's command rules as Redis 7.0 does: +@all or -@all, then
// the categories that best cover the difference, chosen greedily, then single commands and
// first arguments until the rules give exactly the selector's command set.
func (a *aclSystem) describeCommands(sel *aclSelector) string {
	var b strings.Builder
	fake := &aclSelector{cmds: make([]uint64, a.words)}
	additive := !sel.bit(a.futureID)
	if additive {
		b.WriteString("-@all ")
	} else {
		b.WriteString("+@all ")
		a.setAllCommands(fake, true)
	}
	temp := &aclSelector{cmds: append([]uint64(nil), sel.cmds...)}
	applied := make([]bool, len(aclCategoryNames))
	for {
		best, minDiff, maxSame := -1, math.MaxInt, 0
		for j := range aclCategoryNames {
			if applied[j] {
				continue
			}
			on, off := a.countCategory(temp, 1<<j)
			diff, same := off, on
			if !additive {
				diff, same = on, off
			}
			if same > diff && (diff < minDiff || (diff == minDiff && same > maxSame)) {
				best, minDiff, maxSame = j, diff, same
			}
		}
		if best < 0 {
			break
		}
		a.setCategory(fake, 1<<best, additive)
		a.setCategory(temp, 1<<best, !additive)
		if additive {
			b.WriteString("+@")
		} else {
			b.WriteString("-@")
		}
		b.WriteString(aclCategoryNames[best])
		b.WriteByte(' ')
		applied[best] = true
	}
	a.describeSingleCommands(sel, fake, &b, a.top)
	return strings.TrimSuffix(b.String(), " ")
}

func (a *aclSystem) describeSingleCommands(sel, fake *aclSelector, b *strings.Builder, cmds []*Command) {
	for _, c := range cmds {
		want := sel.bit(c.aclID)
		if want != fake.bit(c.aclID) {
			if want {
				b.WriteByte('+')
			} else {
				b.WriteByte('-')
			}
			b.WriteString(c.Name)
			b.WriteByte(' ')
			a.changePerm(fake, c, want)
		}
		if c.Subs != nil {
			a.describeSingleCommands(sel, fake, b, c.SubList())
		}
		if !want {
			for _, arg := range sel.firstArgs[c.aclID] {
				b.WriteString("+" + c.Name + "|" + arg + " ")
			}
		}
	}
}

func (k *keyPattern) String() string {
	switch k.perm {
	case aclPermRead:
		return "%R~" + string(k.pattern)
	case aclPermWrite:
		return "%W~" + string(k.pattern)
	}
	return "~" + string(k.pattern)
}

// keysText is GETUSER's "keys" field.
func (sel *aclSelector) keysText() string {
	if sel.allKeys {
		return "~*"
	}
	parts := make([]string, len(sel.keys))
	for i := range sel.keys {
		parts[i] = sel.keys[i].String()
	}
	return strings.Join(parts, " ")
}

// channelsText is GETUSER's "channels" field.
func (sel *aclSelector) channelsText() string {
	if sel.allChannels {
		return "&*"
	}
	parts := make([]string, len(sel.channels))
	for i, c := range sel.channels {
		parts[i] = "&" + c
	}
	return strings.Join(parts, " ")
}

// describeSelector is a selector's rules as ACL LIST prints them.
func (a *aclSystem) describeSelector(sel *aclSelector) string {
	var b strings.Builder
	if sel.allKeys {
		b.WriteString("~* ")
	} else {
		for i := range sel.keys {
			b.WriteString(sel.keys[i].String())
			b.WriteByte(' ')
		}
	}
	if sel.allChannels {
		b.WriteString("&* ")
	} else {
		b.WriteString("resetchannels ")
		for _, c := range sel.channels {
			b.WriteString("&" + c + " ")
		}
	}
	b.WriteString(a.describeCommands(sel))
	return b.String()
}

// describeUser is a user's rules as ACL LIST and the ACL file write them.
func (a *aclSystem) describeUser(st *aclUserState) string {
	var b strings.Builder
	for _, f := range st.flagNames() {
		b.WriteString(f + " ")
	}
	for _, p := range st.passwords {
		b.WriteString("#" + p + " ")
	}
	for _, sel := range st.selectors {
		if sel.root {
			b.WriteString(a.describeSelector(sel))
		} else {
			b.WriteString(" (" + a.describeSelector(sel) + ")")
		}
	}
	return b.String()
}

// ---- permission checks ----

// permission reports whether user rules st allow cmd with args, as Redis's
// ACLCheckAllUserCommandPerm: the first selector that allows everything wins; otherwise the
// denial reported is the worst one, and of equal ones the last argument denied.
func (a *aclSystem) permission(st *aclUserState, cmd *Command, args [][]byte) (aclReason, int) {
	if st.unrestricted {
		return aclOK, 0
	}
	relevant, lastPos := aclDeniedCmd, 0
	keys := keyCache{cmd: cmd, args: args}
	for _, sel := range st.selectors {
		r, pos := sel.check(cmd, args, &keys)
		if r == aclOK {
			return aclOK, 0
		}
		if r > relevant || (r == relevant && pos > lastPos) {
			relevant, lastPos = r, pos
		}
	}
	return relevant, lastPos
}

// keyCache locates a call's keys once for all selectors.
type keyCache struct {
	cmd  *Command
	args [][]byte
	refs []keyRef
	done bool
}

func (k *keyCache) get() []keyRef {
	if !k.done {
		k.refs, k.done = k.cmd.keyRefs(k.args), true
	}
	return k.refs
}

// check is one selector's verdict (Redis's ACLSelectorCheckCmd).
func (sel *aclSelector) check(cmd *Command, args [][]byte, keys *keyCache) (aclReason, int) {
	if !sel.allCommands && !cmd.Has(FlagNoAuth) && !sel.bit(cmd.aclID) {
		allowed := sel.firstArgs[cmd.aclID]
		if len(args) < 2 || len(allowed) == 0 {
			return aclDeniedCmd, 0
		}
		idx := 1
		if strings.Contains(cmd.Name, "|") {
			idx = 2
		}
		match := false
		for _, arg := range allowed {
			if idx < len(args) && strings.EqualFold(string(args[idx]), arg) {
				match = true
				break
			}
		}
		if !match {
			return aclDeniedCmd, 0
		}
	}
	if !sel.allKeys && cmd.hasKeys() {
		for _, k := range keys.get() {
			if !sel.keyAllowed(args[k.pos], k.flags) {
				return aclDeniedKey, k.pos
			}
		}
	}
	if spec := cmd.Channels; !sel.allChannels && spec != nil && spec.Flags&(ChannelPublish|ChannelSubscribe) != 0 {
		pattern := spec.Flags&ChannelPattern != 0
		for _, pos := range spec.channelPositions(args) {
			if !channelAllowed(sel.channels, args[pos], pattern) {
				return aclDeniedChannel, pos
			}
		}
	}
	return aclOK, 0
}

// keyAllowed checks a key against the selector's patterns with the permissions its key-spec
// flags need: access needs read; insert, delete and update need write.
func (sel *aclSelector) keyAllowed(key []byte, flags keyFlags) bool {
	var need uint8
	if flags&keyAccess != 0 {
		need |= aclPermRead
	}
	if flags&(keyInsert|keyDelete|keyUpdate) != 0 {
		need |= aclPermWrite
	}
	for i := range sel.keys {
		p := &sel.keys[i]
		if p.perm&need == need && engine.GlobMatch(p.pattern, key, false) {
			return true
		}
	}
	return false
}

// channelAllowed checks a channel against channel patterns; a subscription pattern must be
// one of them literally.
func channelAllowed(patterns []string, channel []byte, isPattern bool) bool {
	for _, p := range patterns {
		if isPattern {
			if p == string(channel) {
				return true
			}
		} else if engine.GlobMatch([]byte(p), channel, false) {
			return true
		}
	}
	return false
}

// checkPermission is the ACL check of one command call: nil when the client's user may run
// cmd with args; otherwise the denial goes to the ACL LOG and the error is Redis's for ctx.
//
//   - dispatch calls it for every command (aclCtxTopLevel; a client inside MULTI queues its
//     commands through dispatch, which must then pass aclCtxMulti);
//   - EXEC calls it again for each queued command before running it, with aclCtxExec, and
//     replies the error in that command's place ("NOPERM ACLs rules changed ...");
//   - scripts call it for each redis.call/pcall with aclCtxScript; the error is the one the
//     script meets ("ERR The user executing the script can't ...").
func (s *Server) checkPermission(c *Client, cmd *Command, args [][]byte, ctx aclContext) error {
	u := c.user.Load()
	st := u.state.Load()
	if st.unrestricted {
		return nil
	}
	reason, pos := s.acl.permission(st, cmd, args)
	if reason == aclOK {
		return nil
	}
	object := cmd.Name
	if reason != aclDeniedCmd {
		object = string(args[pos])
	}
	self := &Ctx{Client: c, Cmd: cmd, Args: args}
	if ctx == aclCtxScript || ctx == aclCtxExec {
		// Redis's client-info names the client's last command: EXEC or the script's EVAL.
		self = &c.x
	}
	s.acl.addLog(reason, ctx, object, u.name, c.infoLine(self))
	name := aclReasonNames[reason]
	switch ctx {
	case aclCtxExec:
		return engine.ErrNoPermAtExec(name)
	case aclCtxScript:
		return engine.ErrNoPermInScript(name)
	}
	switch reason {
	case aclDeniedKey:
		return engine.ErrNoPermKey
	case aclDeniedChannel:
		return engine.ErrNoPermChannel
	}
	return engine.ErrNoPermCommand(cmd.Name)
}

// infoLine is the client's CLIENT LIST line without its newline, for the ACL LOG.
func (c *Client) infoLine(self *Ctx) string {
	line := c.appendInfo(nil, self)
	return string(line[:len(line)-1])
}

// setDefaultUser makes the client the default user's, authenticated when that user is on
// and needs no password (a new connection, RESET).
func (c *Client) setDefaultUser() {
	def := c.s.acl.def
	c.user.Store(def)
	st := def.state.Load()
	c.authed = st.nopass && st.on
}

// userName is the name of the user the client is authenticated as (CLIENT LIST's user).
func (c *Client) userName() string { return c.user.Load().name }

// authRequired reports whether the client must authenticate before running commands other
// than AUTH, HELLO and the like (Redis's authRequired).
func (c *Client) authRequired() bool { return !c.authed && c.s.acl.defaultAuthRequired() }

// ---- authentication ----

// authenticate checks a user's credentials as Redis's ACLCheckUserCredentials: the user
// exists, is on, and is nopass or has the password.
func (a *aclSystem) authenticate(name, pass []byte) *aclUser {
	u := a.user(string(name))
	if u == nil {
		return nil
	}
	st := u.state.Load()
	if !st.on {
		return nil
	}
	if st.nopass {
		return u
	}
	h := []byte(hashPassword(string(pass)))
	ok := 0
	for _, p := range st.passwords {
		ok |= subtle.ConstantTimeCompare(h, []byte(p))
	}
	if ok == 1 {
		return u
	}
	return nil
}

// authenticateClient authenticates c as user name (AUTH, HELLO AUTH); a failure goes to the
// ACL LOG, named by the command as the client wrote it.
func (s *Server) authenticateClient(x *Ctx, name, pass []byte, ctx aclContext) bool {
	if u := s.acl.authenticate(name, pass); u != nil {
		x.authed = true
		x.user.Store(u)
		return true
	}
	s.acl.addLog(aclDeniedAuth, ctx, string(x.Args[0]), string(name), x.infoLine(x))
	return false
}
