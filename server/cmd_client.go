package server

import (
	"sort"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/stratadb/strata/engine"
)

// CLIENT: connection introspection and control (NO-EVICT, REPLY, PAUSE and UNPAUSE live in
// client_control.go; TRACKING, CACHING, GETREDIR and TRACKINGINFO in tracking.go; UNBLOCK's
// handler in blocking.go). HELP lists only the subcommands the table has.

func registerClientCommands(t *Table) {
	t.add(&Command{Name: "client", Arity: -2, Lock: LockNone,
		Group: "connection", Since: "2.4.0", Summary: "A container for client connection commands",
		Complexity: "Depends on subcommand.",
		Subs: subs("client", append([]*Command{
			&Command{Name: "caching", Arity: 3, Flags: "noscript loading stale", ACL: "@connection", Lock: LockNone,
				Handler: cmdClientCaching,
				Since:   "6.0.0", Summary: "Instruct the server about tracking or not keys in the next request", Complexity: "O(1)"},
			&Command{Name: "getredir", Arity: 2, Flags: "noscript loading stale", ACL: "@connection", Lock: LockNone,
				Handler: cmdClientGetRedir,
				Since:   "6.0.0", Summary: "Get tracking notifications redirection client ID if any", Complexity: "O(1)"},
			&Command{Name: "tracking", Arity: -3, Flags: "noscript loading stale", ACL: "@connection", Lock: LockNone,
				Handler: cmdClientTracking,
				Since:   "6.0.0", Summary: "Enable or disable server assisted client side caching support",
				Complexity: "O(1). Some options may introduce additional complexity."},
			&Command{Name: "trackinginfo", Arity: 2, Flags: "noscript loading stale", ACL: "@connection", Lock: LockNone,
				Handler: cmdClientTrackingInfo,
				Since:   "6.2.0", Summary: "Return information about server assisted client side caching for the current connection", Complexity: "O(1)"},
			&Command{Name: "getname", Arity: 2, Flags: "noscript loading stale", ACL: "@connection", Lock: LockNone,
				Handler: cmdClientGetName,
				Since:   "2.6.9", Summary: "Get the current connection name", Complexity: "O(1)"},
			&Command{Name: "help", Arity: 2, Flags: "loading stale", ACL: "@connection", Lock: LockNone,
				Handler: cmdClientHelp,
				Since:   "5.0.0", Summary: "Show helpful text about the different subcommands", Complexity: "O(1)"},
			&Command{Name: "id", Arity: 2, Flags: "noscript loading stale", ACL: "@connection", Lock: LockNone,
				Handler: func(x *Ctx) { x.Int(x.id) },
				Since:   "5.0.0", Summary: "Returns the client ID for the current connection", Complexity: "O(1)"},
			&Command{Name: "info", Arity: 2, Flags: "noscript loading stale", ACL: "@connection", Lock: LockNone,
				Tips: "nondeterministic_output", Handler: cmdClientInfo,
				Since: "6.2.0", Summary: "Returns information about the current client connection.", Complexity: "O(1)"},
			&Command{Name: "kill", Arity: -3, Flags: "admin noscript loading stale", ACL: "@connection", Lock: LockNone,
				Handler: cmdClientKill,
				Since:   "2.4.0", Summary: "Kill the connection of a client",
				Complexity: "O(N) where N is the number of client connections"},
			&Command{Name: "unblock", Arity: -3, Flags: "admin noscript loading stale", ACL: "@connection", Lock: LockNone,
				Handler: cmdClientUnblock,
				Since:   "5.0.0", Summary: "Unblock a client blocked in a blocking command from a different connection",
				Complexity: "O(log N) where N is the number of client connections"},
			&Command{Name: "list", Arity: -2, Flags: "admin noscript loading stale", ACL: "@connection", Lock: LockNone,
				Tips: "nondeterministic_output", Handler: cmdClientList,
				Since: "2.4.0", Summary: "Get the list of client connections",
				Complexity: "O(N) where N is the number of client connections"},
			&Command{Name: "setname", Arity: 3, Flags: "noscript loading stale", ACL: "@connection", Lock: LockNone,
				Handler: cmdClientSetName,
				Since:   "2.6.9", Summary: "Set the current connection name", Complexity: "O(1)"},
		}, clientControlCommands()...)...)})
}

// clientHelp is CLIENT HELP's text in Redis's order, by subcommand; HELP prints the blocks of
// the subcommands the table has.
var clientHelp = []struct {
	sub   string
	lines []string
}{
	{"caching", []string{"CACHING (YES|NO)",
		"    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes."}},
	{"getredir", []string{"GETREDIR",
		"    Return the client ID we are redirecting to when tracking is enabled."}},
	{"getname", []string{"GETNAME", "    Return the name of the current connection."}},
	{"id", []string{"ID", "    Return the ID of the current connection."}},
	{"info", []string{"INFO", "    Return information about the current client connection."}},
	{"kill", []string{"KILL <ip:port>",
		"    Kill connection made from <ip:port>.",
		"KILL <option> <value> [<option> <value> [...]]",
		"    Kill connections. Options are:",
		"    * ADDR (<ip:port>|<unixsocket>:0)",
		"      Kill connections made from the specified address",
		"    * LADDR (<ip:port>|<unixsocket>:0)",
		"      Kill connections made to specified local address",
		"    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
		"      Kill connections by type.",
		"    * USER <username>",
		"      Kill connections authenticated by <username>.",
		"    * SKIPME (YES|NO)",
		"      Skip killing current connection (default: yes)."}},
	{"list", []string{"LIST [options ...]",
		"    Return information about client connections. Options:",
		"    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
		"      Return clients of specified type."}},
	{"unpause", []string{"UNPAUSE", "    Stop the current client pause, resuming traffic."}},
	{"pause", []string{"PAUSE <timeout> [WRITE|ALL]",
		"    Suspend all, or just write, clients for <timeout> milliseconds."}},
	{"reply", []string{"REPLY (ON|OFF|SKIP)", "    Control the replies sent to the current connection."}},
	{"setname", []string{"SETNAME <name>", "    Assign the name <name> to the current connection."}},
	{"unblock", []string{"UNBLOCK <clientid> [TIMEOUT|ERROR]", "    Unblock the specified blocked client."}},
	{"tracking", []string{"TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
		"         [OPTIN] [OPTOUT] [NOLOOP]",
		"    Control server assisted client side caching."}},
	{"trackinginfo", []string{"TRACKINGINFO", "    Report tracking status for the current connection."}},
	{"no-evict", []string{"NO-EVICT (ON|OFF)", "    Protect current client connection from eviction."}},
}

func cmdClientHelp(x *Ctx) {
	container := x.s.cmds.Lookup("client")
	var lines []string
	for _, h := range clientHelp {
		if container.Subs[h.sub] != nil {
			lines = append(lines, h.lines...)
		}
	}
	x.help("CLIENT", lines)
}

func cmdClientSetName(x *Ctx) {
	name := x.Args[2]
	if !validClientName(name) {
		x.Error(engine.ErrClientName)
		return
	}
	x.mu.Lock()
	x.name = string(name) // empty removes the name
	x.mu.Unlock()
	x.OK()
}

func cmdClientGetName(x *Ctx) {
	x.mu.Lock()
	name := x.name
	x.mu.Unlock()
	if name == "" {
		x.Null()
		return
	}
	x.BulkString(name)
}

func cmdClientInfo(x *Ctx) {
	x.Verbatim("txt", string(x.Client.appendInfo(nil, x)))
}

// Client types as CLIENT LIST TYPE and CLIENT KILL TYPE name them.
const (
	clientNormal  = "normal"
	clientReplica = "replica"
	clientPubsub  = "pubsub"
	clientMaster  = "master"
)

// parseClientType reads a type name ("slave" is the old name of replica); ok is false for an
// unknown name.
func parseClientType(name string) (string, bool) {
	switch strings.ToLower(name) {
	case "normal":
		return clientNormal, true
	case "slave", "replica":
		return clientReplica, true
	case "pubsub":
		return clientPubsub, true
	case "master":
		return clientMaster, true
	}
	return "", false
}

// clientType is the client's class. Strata has no replication links, so a client is pubsub
// while it has subscriptions and normal otherwise.
func (c *Client) clientType() string {
	if c.sub.active() {
		return clientPubsub
	}
	return clientNormal
}

// clientsByID returns the connected clients in connection order.
func (s *Server) clientsByID() []*Client {
	list := s.Clients()
	sort.Slice(list, func(i, j int) bool { return list[i].id < list[j].id })
	return list
}

func cmdClientList(x *Ctx) {
	var out []byte
	switch {
	case len(x.Args) == 2:
		for _, c := range x.s.clientsByID() {
			out = c.appendInfo(out, x)
		}
	case len(x.Args) == 4 && strings.EqualFold(x.Arg(2), "type"):
		typ, ok := parseClientType(x.Arg(3))
		if !ok {
			x.Error(engine.ErrUnknownClientType(x.Arg(3)))
			return
		}
		for _, c := range x.s.clientsByID() {
			if c.clientType() == typ {
				out = c.appendInfo(out, x)
			}
		}
	case len(x.Args) > 3 && strings.EqualFold(x.Arg(2), "id"):
		for _, a := range x.Args[3:] {
			id, ok := engine.ParseInt(a)
			if !ok {
				x.Error(engine.ErrInvalidClientID)
				return
			}
			x.s.mu.Lock()
			c := x.s.clients[id]
			x.s.mu.Unlock()
			if c != nil {
				out = c.appendInfo(out, x)
			}
		}
	default:
		x.Error(engine.ErrSyntax)
		return
	}
	x.Verbatim("txt", string(out))
}

// appendInfo appends the client's CLIENT LIST line (newline included), with Redis 7.0's
// fields in Redis's order. self is the context of the client asking: its own line shows the
// command running now. Fields of features Strata does not have yet (pub/sub channels,
// client-side caching redirection) show Redis's values for a client not using them.
func (c *Client) appendInfo(dst []byte, self *Ctx) []byte {
	now := time.Now()
	c.mu.Lock()
	name, lastSeen, pending := c.name, c.lastSeen, len(c.pending)+len(c.unsent)+c.inflight
	c.mu.Unlock()
	db, resp, cmd := int(c.pubDB.Load()), int(c.pubResp.Load()), c.lastCmd.Load()
	argvMem := 0
	if self != nil && self.Client == c {
		db, resp, cmd = c.db, c.resp, self.Cmd
		for _, a := range self.Args {
			argvMem += len(a)
		}
	}
	var flagBuf [16]byte
	flags := c.appendFlags(flagBuf[:0])
	events := "r"
	if pending > 0 {
		events = "rw"
	}
	cmdName := "NULL"
	if cmd != nil {
		cmdName = cmd.Name
	}
	totMem := int(unsafe.Sizeof(Client{})) + len(name) + pending + argvMem

	field := func(k, v string) {
		dst = append(dst, k...)
		dst = append(dst, '=')
		dst = append(dst, v...)
		dst = append(dst, ' ')
	}
	num := func(k string, v int64) { field(k, strconv.FormatInt(v, 10)) }
	num("id", c.id)
	field("addr", c.addr)
	field("laddr", c.laddr)
	num("fd", int64(c.fd))
	field("name", name)
	num("age", int64(now.Sub(c.created)/time.Second))
	num("idle", int64(now.Sub(lastSeen)/time.Second))
	field("flags", string(flags))
	num("db", int64(db))
	num("sub", int64(c.sub.count[subChannel].Load()))
	num("psub", int64(c.sub.count[subPattern].Load()))
	num("ssub", int64(c.sub.count[subShard].Load()))
	num("multi", c.tx.published.Load()-1)
	num("qbuf", 0)
	num("qbuf-free", 0)
	num("argv-mem", int64(argvMem))
	num("multi-mem", 0)
	num("obl", 0)
	num("oll", 0)
	num("omem", int64(pending))
	num("tot-mem", int64(totMem))
	field("events", events)
	field("cmd", cmdName)
	field("user", c.userName())
	redir := int64(-1)
	if m := c.trk.mode.Load(); m != nil {
		redir = m.redirect
	}
	num("redir", redir)
	num("resp", int64(resp))
	dst[len(dst)-1] = '\n'
	return dst
}

// appendFlags appends CLIENT LIST's flags in Redis's order: P pub/sub, t tracking, R broken
// redirection, B broadcast tracking, U unix socket; N when none applies.
func (c *Client) appendFlags(dst []byte) []byte {
	// Redis's order: O P x b t R B d U e, and N for none.
	n := len(dst)
	if c.intro.monitor.Load() {
		dst = append(dst, 'O')
	}
	if c.sub.active() {
		dst = append(dst, 'P')
	}
	if c.tx.published.Load() > 0 {
		dst = append(dst, 'x')
	}
	if c.s.IsBlocked(c.id) || c.intro.paused.Load() {
		dst = append(dst, 'b')
	}
	if m := c.trk.mode.Load(); m != nil {
		dst = append(dst, 't')
		if c.trk.broken.Load() {
			dst = append(dst, 'R')
		}
		if m.bcast {
			dst = append(dst, 'B')
		}
	}
	if c.tx.dirty.Load() {
		dst = append(dst, 'd')
	}
	if c.unix {
		dst = append(dst, 'U')
	}
	if c.intro.noEvict.Load() {
		dst = append(dst, 'e')
	}
	if len(dst) == n {
		dst = append(dst, 'N')
	}
	return dst
}

// clientKillFilter is what CLIENT KILL selects clients by.
type clientKillFilter struct {
	addr, laddr, typ string
	id               int64
	user             *aclUser
	skipMe           bool
}

func (f *clientKillFilter) matches(c *Client, self *Client) bool {
	switch {
	case f.addr != "" && c.addr != f.addr,
		f.laddr != "" && c.laddr != f.laddr,
		f.typ != "" && c.clientType() != f.typ,
		f.id != 0 && c.id != f.id,
		f.user != nil && c.user.Load() != f.user,
		f.skipMe && c == self:
		return false
	}
	return true
}

// cmdClientKill is CLIENT KILL in its old form (an address; replies OK or "No such client")
// and its filter form (replies how many were killed). The calling client is closed after its
// reply when it kills itself.
func cmdClientKill(x *Ctx) {
	f := clientKillFilter{skipMe: true}
	if len(x.Args) == 3 {
		f.addr, f.skipMe = x.Arg(2), false // the old form may kill the caller
	} else {
		for i := 2; i < len(x.Args); i += 2 {
			if i+1 >= len(x.Args) {
				x.Error(engine.ErrSyntax)
				return
			}
			val := x.Args[i+1]
			switch strings.ToLower(x.Arg(i)) {
			case "id":
				id, ok := engine.ParseInt(val)
				if !ok || id < 1 {
					x.Error(engine.ErrClientIDRange)
					return
				}
				f.id = id
			case "type":
				typ, ok := parseClientType(string(val))
				if !ok {
					x.Error(engine.ErrUnknownClientType(string(val)))
					return
				}
				f.typ = typ
			case "addr":
				f.addr = string(val)
			case "laddr":
				f.laddr = string(val)
			case "user":
				f.user = x.s.acl.user(string(val))
				if f.user == nil {
					x.Error(engine.ErrNoSuchUser(string(val)))
					return
				}
			case "skipme":
				switch strings.ToLower(string(val)) {
				case "yes":
					f.skipMe = true
				case "no":
					f.skipMe = false
				default:
					x.Error(engine.ErrSyntax)
					return
				}
			default:
				x.Error(engine.ErrSyntax)
				return
			}
		}
	}
	killed := 0
	closeSelf := false
	for _, c := range x.s.clientsByID() {
		if !f.matches(c, x.Client) {
			continue
		}
		if c == x.Client {
			closeSelf = true
		} else {
			c.kill()
		}
		killed++
	}
	switch {
	case len(x.Args) != 3:
		x.Int(int64(killed))
	case killed == 0:
		x.Error(engine.ErrNoSuchClient)
	default:
		x.OK()
	}
	if closeSelf {
		x.closing = true
	}
}
