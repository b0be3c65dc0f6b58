package server

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stratadb/strata/engine"
)

// The slow log keeps the commands that ran for at least slowlog-log-slower-than microseconds
// (-1: none, 0: all), newest first, at most slowlog-max-len of them, as Redis 7.0 does.
// An entry is Redis's: a unique id, the unix time it was logged, the duration in
// microseconds, the arguments (at most 32, the last one then saying how many more there
// were; each at most 128 bytes, then saying how many more bytes it had; secrets redacted as
// MONITOR redacts them), the client's address and its name. The duration is the one
// commandstats counts: the handler and the commit, not the wait for key locks.

const (
	slowlogMaxArgs = 32  // SLOWLOG_ENTRY_MAX_ARGC
	slowlogMaxArg  = 128 // SLOWLOG_ENTRY_MAX_STRING
)

type slowEntry struct {
	id, time, duration int64
	args               [][]byte
	peer, name         string
}

// slowLog is the server's slow log. Entries are a queue, oldest first, from start on.
type slowLog struct {
	slowerThan atomic.Int64 // slowlog-log-slower-than, µs
	maxLen     atomic.Int64 // slowlog-max-len

	mu      sync.Mutex
	entries []slowEntry
	start   int
	nextID  int64
}

// push logs a command that ran for d when it is slow enough, then trims the log to its
// length limit, as Redis's slowlogPushEntryIfNeeded does.
func (l *slowLog) push(c *Client, args [][]byte, d time.Duration) {
	th := l.slowerThan.Load()
	us := d.Microseconds()
	if th < 0 || us < th {
		return
	}
	e := slowEntry{time: time.Now().Unix(), duration: us, args: slowlogArgs(args), peer: c.peerID()}
	c.mu.Lock()
	e.name = c.name
	c.mu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	e.id = l.nextID
	l.nextID++
	l.entries = append(l.entries, e)
	l.trim(l.maxLen.Load())
}

// trim drops the oldest entries beyond max.
func (l *slowLog) trim(max int64) {
	for int64(len(l.entries)-l.start) > max {
		l.entries[l.start] = slowEntry{}
		l.start++
	}
	if l.start > len(l.entries)/2 {
		n := copy(l.entries, l.entries[l.start:])
		clear(l.entries[n:])
		l.entries = l.entries[:n]
		l.start = 0
	}
}

func (l *slowLog) length() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries) - l.start
}

func (l *slowLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries, l.start = nil, 0
}

// newest returns up to n entries, newest first.
func (l *slowLog) newest(n int64) []slowEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []slowEntry
	for i := len(l.entries) - 1; i >= l.start && int64(len(out)) < n; i-- {
		out = append(out, l.entries[i])
	}
	return out
}

// slowlogArgs copies a command's arguments for the log, cut as Redis cuts them.
func slowlogArgs(args [][]byte) [][]byte {
	n := min(len(args), slowlogMaxArgs)
	out := make([][]byte, n)
	for j := 0; j < n; j++ {
		a := args[j]
		switch {
		case n != len(args) && j == n-1:
			out[j] = []byte("... (" + strconv.Itoa(len(args)-n+1) + " more arguments)")
		case len(a) > slowlogMaxArg:
			out[j] = append(a[:slowlogMaxArg:slowlogMaxArg],
				"... ("+strconv.Itoa(len(a)-slowlogMaxArg)+" more bytes)"...)
		default:
			out[j] = append([]byte(nil), a...)
		}
	}
	return out
}

// peerID is the client's address as Redis's getClientPeerId prints it: ip:port, or "?:0"
// for a script's pseudo-client, which has no connection.
func (c *Client) peerID() string {
	if c.rc == nil {
		return "?:0"
	}
	return c.addr
}

// ---- SLOWLOG ----

var slowlogHelp = []string{
	"GET [<count>]",
	"    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
	"    Entries are made of:",
	"    id, timestamp, time in microseconds, arguments array, client IP and port,",
	"    client name",
	"LEN",
	"    Return the length of the slowlog.",
	"RESET",
	"    Reset the slowlog.",
}

func slowlogCommand() *Command {
	return &Command{Name: "slowlog", Arity: -2, Lock: LockNone,
		Group: "server", Since: "2.2.12", Summary: "A container for slow log commands",
		Complexity: "Depends on subcommand.",
		Subs: subs("slowlog",
			&Command{Name: "get", Arity: -2, Flags: "admin loading stale", Lock: LockNone,
				Tips: "request_policy:all_nodes nondeterministic_output", Handler: cmdSlowlogGet,
				Since: "2.2.12", Summary: "Get the slow log's entries",
				Complexity: "O(N) where N is the number of entries returned"},
			&Command{Name: "help", Arity: 2, Flags: "loading stale", Lock: LockNone,
				Handler: func(x *Ctx) { x.help("SLOWLOG", slowlogHelp) },
				Since:   "6.2.0", Summary: "Show helpful text about the different subcommands", Complexity: "O(1)"},
			&Command{Name: "len", Arity: 2, Flags: "admin loading stale", Lock: LockNone,
				Tips:    "request_policy:all_nodes response_policy:agg_sum nondeterministic_output",
				Handler: func(x *Ctx) { x.Int(int64(x.s.slowlog.length())) },
				Since:   "2.2.12", Summary: "Get the slow log's length", Complexity: "O(1)"},
			&Command{Name: "reset", Arity: 2, Flags: "admin loading stale", Lock: LockNone,
				Tips:    "request_policy:all_nodes response_policy:all_succeeded",
				Handler: func(x *Ctx) { x.s.slowlog.reset(); x.OK() },
				Since:   "2.2.12", Summary: "Clear all entries from the slow log",
				Complexity: "O(N) where N is the number of entries in the slowlog"},
		)}
}

func cmdSlowlogGet(x *Ctx) {
	if len(x.Args) > 3 {
		x.Error(engine.ErrSubcommandSyntax(x.Arg(1), "slowlog"))
		return
	}
	count := int64(10)
	if len(x.Args) == 3 {
		n, ok := engine.ParseInt(x.Args[2])
		if !ok || n < -1 {
			x.Error(engine.ErrSlowlogCount)
			return
		}
		count = n
		if n == -1 {
			count = int64(x.s.slowlog.length())
		}
	}
	entries := x.s.slowlog.newest(count)
	x.ArrayLen(len(entries))
	for _, e := range entries {
		x.ArrayLen(6)
		x.Int(e.id)
		x.Int(e.time)
		x.Int(e.duration)
		x.ArrayLen(len(e.args))
		for _, a := range e.args {
			x.Bulk(a)
		}
		x.BulkString(e.peer)
		x.BulkString(e.name)
	}
}

// redactedArgs returns a command's arguments as MONITOR and the slow log show them: the
// secrets AUTH, HELLO's AUTH option and MIGRATE's AUTH and AUTH2 options carry are replaced
// by "(redacted)" where Redis 7's commands call redactClientCommandArgument, that is as far
// as they parse before an error.
func redactedArgs(cmd *Command, args [][]byte) [][]byte {
	var secret []int
	switch cmd.Name {
	case "auth":
		if len(args) <= 3 {
			for i := 1; i < len(args); i++ {
				secret = append(secret, i)
			}
		}
	case "hello":
	options:
		for i := 2; i < len(args); i++ {
			switch more := len(args) - 1 - i; {
			case strings.EqualFold(string(args[i]), "auth") && more >= 2:
				secret = append(secret, i+1, i+2)
				i += 2
			case strings.EqualFold(string(args[i]), "setname") && more >= 1:
				i++
			default:
				break options
			}
		}
	case "migrate":
	migrateOptions:
		for i := 6; i < len(args); i++ {
			more := len(args) - 1 - i
			switch strings.ToLower(string(args[i])) {
			case "copy", "replace":
			case "auth":
				if more < 1 {
					break migrateOptions
				}
				secret = append(secret, i+1)
				i++
			case "auth2":
				if more < 2 {
					break migrateOptions
				}
				secret = append(secret, i+1, i+2)
				i += 2
			default: // KEYS ends the options; anything else is an error
				break migrateOptions
			}
		}
	}
	if len(secret) == 0 {
		return args
	}
	out := append([][]byte(nil), args...)
	for _, i := range secret {
		out[i] = []byte(redactedArg)
	}
	return out
}

const redactedArg = "(redacted)"
