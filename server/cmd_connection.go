package server

import (
	"errors"
	"strings"
	"time"

	"github.com/stratadb/strata/engine"
)

func registerConnectionCommands(t *Table) {
	t.add(
		&Command{Name: "ping", Arity: -1, Flags: "fast", ACL: "@connection", Lock: LockNone,
			Tips: "request_policy:all_shards response_policy:all_succeeded", Handler: cmdPing,
			Group: "connection", Since: "1.0.0", Summary: "Ping the server", Complexity: "O(1)"},
		&Command{Name: "echo", Arity: 2, Flags: "loading stale fast", ACL: "@connection", Lock: LockNone,
			Handler: func(x *Ctx) { x.Bulk(x.Args[1]) },
			Group:   "connection", Since: "1.0.0", Summary: "Echo the given string", Complexity: "O(1)"},
		&Command{Name: "quit", Arity: -1, Flags: "noscript loading stale fast no_auth allow_busy", ACL: "@connection",
			Lock: LockNone, Handler: func(x *Ctx) { x.OK(); x.closing = true },
			Group: "connection", Since: "1.0.0", Summary: "Close the connection", Complexity: "O(1)"},
		&Command{Name: "reset", Arity: 1, Flags: "noscript loading stale fast no_auth allow_busy", ACL: "@connection",
			Lock: LockNone, Handler: cmdReset,
			Group: "connection", Since: "6.2.0", Summary: "Reset the connection", Complexity: "O(1)"},
		&Command{Name: "select", Arity: 2, Flags: "loading stale fast", ACL: "@connection", Lock: LockNone,
			Handler: cmdSelect,
			Group:   "connection", Since: "1.0.0", Summary: "Change the selected database for the current connection", Complexity: "O(1)"},
		&Command{Name: "auth", Arity: -2, Flags: "noscript loading stale fast no_auth allow_busy", ACL: "@connection",
			Lock: LockNone, Handler: cmdAuth,
			Group: "connection", Since: "1.0.0", Summary: "Authenticate to the server", Complexity: "O(N) where N is the number of passwords defined for the user"},
		&Command{Name: "hello", Arity: -1, Flags: "noscript loading stale fast no_auth allow_busy", ACL: "@connection",
			Lock: LockNone, Handler: cmdHello,
			Group: "connection", Since: "6.0.0", Summary: "Handshake with Redis", Complexity: "O(1)"},
		&Command{Name: "time", Arity: 1, Flags: "loading stale fast", Tips: "nondeterministic_output", Lock: LockNone,
			Handler: cmdTime,
			Group:   "server", Since: "2.6.0", Summary: "Return the current server time", Complexity: "O(1)"},
	)
}

func cmdPing(x *Ctx) {
	if len(x.Args) > 2 {
		x.Error(engine.ErrWrongArity(x.Cmd.Name))
		return
	}
	if x.resp == 2 && x.sub.active() {
		// In RESP2 pub/sub mode the reply looks like a message: ["pong", msg].
		x.ArrayLen(2)
		x.BulkString("pong")
		if len(x.Args) == 2 {
			x.Bulk(x.Args[1])
		} else {
			x.BulkString("")
		}
		return
	}
	if len(x.Args) == 2 {
		x.Bulk(x.Args[1])
		return
	}
	x.Simple("PONG")
}

func cmdSelect(x *Ctx) {
	n, ok := engine.ParseInt(x.Args[1])
	if !ok {
		x.Error(engine.ErrNotInteger)
		return
	}
	if n < -1<<31 || n > 1<<31-1 {
		x.Error(engine.ErrIntRange)
		return
	}
	if n < 0 || n >= int64(x.s.eng.Databases()) {
		x.Error(engine.ErrDBIndexRange)
		return
	}
	x.db = int(n)
	x.OK()
}

func cmdAuth(x *Ctx) {
	if len(x.Args) > 3 {
		x.Error(engine.ErrSyntax)
		return
	}
	user, pass := []byte("default"), x.Args[1]
	if len(x.Args) == 2 {
		if x.s.acl.defaultNoPass() {
			x.Error(engine.ErrAuthNoPassword)
			return
		}
	} else {
		user, pass = x.Args[1], x.Args[2]
	}
	if !x.s.authenticateClient(x, user, pass, aclCtxTopLevel) {
		x.Error(engine.ErrWrongPass)
		return
	}
	x.OK()
}

func cmdHello(x *Ctx) {
	ver := int64(0)
	next := 1
	if len(x.Args) >= 2 {
		v, ok := engine.ParseInt(x.Args[1])
		if !ok {
			x.Error(errors.New("ERR Protocol version is not an integer or out of range"))
			return
		}
		if v < 2 || v > 3 {
			x.Error(engine.ErrNoProto)
			return
		}
		ver, next = v, 2
	}
	var user, pass, name []byte
	for j := next; j < len(x.Args); j++ {
		more := len(x.Args) - 1 - j
		opt := strings.ToLower(string(x.Args[j]))
		switch {
		case opt == "auth" && more >= 2:
			user, pass = x.Args[j+1], x.Args[j+2]
			j += 2
		case opt == "setname" && more >= 1:
			name = x.Args[j+1]
			if !validClientName(name) {
				x.Error(engine.ErrClientName)
				return
			}
			j++
		default:
			x.Error(errors.New("ERR Syntax error in HELLO option '" + string(x.Args[j]) + "'"))
			return
		}
	}
	if user != nil && !x.s.authenticateClient(x, user, pass, aclCtxTopLevel) {
		x.Error(engine.ErrWrongPass)
		return
	}
	if !x.authed {
		x.Error(engine.ErrHelloNoAuth)
		return
	}
	if name != nil {
		x.mu.Lock()
		x.name = string(name)
		x.mu.Unlock()
	}
	if ver != 0 {
		x.resp = int(ver)
	}
	x.MapLen(7)
	x.BulkString("server")
	x.BulkString("redis")
	x.BulkString("version")
	x.BulkString(Version)
	x.BulkString("proto")
	x.Int(int64(x.resp))
	x.BulkString("id")
	x.Int(x.id)
	x.BulkString("mode")
	x.BulkString("standalone")
	x.BulkString("role")
	x.BulkString("master")
	x.BulkString("modules")
	x.ArrayLen(0)
}

// validClientName allows what Redis allows: no spaces, newlines or other characters outside
// '!' .. '~'.
func validClientName(name []byte) bool {
	for _, c := range name {
		if c < '!' || c > '~' {
			return false
		}
	}
	return true
}

func cmdReset(x *Ctx) {
	x.resetState()
	x.Simple("RESET")
}

// resetState returns the connection to the state of a new one (RESET): no transaction or
// watched keys, no subscriptions, no tracking, database 0, RESP2, no name, the default user,
// authenticated only if that user needs no password.
func (c *Client) resetState() {
	c.discardTransaction()
	c.resetIntrospection()
	c.leaveAll()
	c.trackingOff()
	c.db = 0
	c.resp = 2
	c.mu.Lock()
	c.name = ""
	c.mu.Unlock()
	c.setDefaultUser()
}

func cmdTime(x *Ctx) {
	now := time.Now()
	x.ArrayLen(2)
	x.BulkInt(now.Unix())
	x.BulkInt(int64(now.Nanosecond() / 1000))
}
