package server

import (
	"strings"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/server/lua"
)

// EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT, as Redis 7.0 has them. How scripts run
// (locks, atomicity, BUSY, SCRIPT KILL) is in scripting.go; the Lua runtime in server/lua.

// scriptKeySpec is the key spec of the EVAL and FCALL families: numkeys at argument 2, the
// keys after it. EVALSHA and EVALSHA_RO carry no notes in Redis.
func scriptKeySpec(ro, notes bool) []KeySpec {
	spec := KeySpec{Flags: "RW access update", Begin: BeginSearch{Index: 2},
		Find: FindKeys{KeyNum: true, FirstKey: 1, KeyStep: 1}}
	if notes {
		spec.Notes = "We cannot tell how the keys will be used so we assume the worst, RW and UPDATE"
	}
	if ro {
		spec.Flags = "RO access"
		if notes {
			spec.Notes = "We cannot tell how the keys will be used so we assume the worst, RO and ACCESS"
		}
	}
	return []KeySpec{spec}
}

func registerScriptingCommands(t *Table) {
	eval := func(name, flags, since, summary string, ro bool, handler func(*Ctx)) *Command {
		return &Command{Name: name, Arity: -3, Flags: flags, ACL: "@scripting",
			Specs: scriptKeySpec(ro, !strings.HasPrefix(name, "evalsha")),
			Lock:  LockScript, Handler: handler,
			Group: "scripting", Since: since, Summary: summary, Complexity: "Depends on the script that is executed."}
	}
	t.add(
		eval("eval", "noscript stale skip_monitor may_replicate no_mandatory_keys", "2.6.0", "Execute a Lua script server side", false,
			func(x *Ctx) { x.s.evalCommand(x, false, false) }),
		eval("evalsha", "noscript stale skip_monitor may_replicate no_mandatory_keys", "2.6.0", "Execute a Lua script server side", false,
			func(x *Ctx) { x.s.evalCommand(x, true, false) }),
		eval("eval_ro", "readonly noscript stale skip_monitor no_mandatory_keys", "7.0.0", "Execute a read-only Lua script server side", true,
			func(x *Ctx) { x.s.evalCommand(x, false, true) }),
		eval("evalsha_ro", "readonly noscript stale skip_monitor no_mandatory_keys", "7.0.0", "Execute a read-only Lua script server side", true,
			func(x *Ctx) { x.s.evalCommand(x, true, true) }),
		&Command{Name: "script", Arity: -2, Lock: LockNone,
			Group: "scripting", Since: "2.6.0", Summary: "A container for Lua scripts management commands",
			Complexity: "Depends on subcommand.",
			Subs: subs("script",
				&Command{Name: "debug", Arity: 3, Flags: "noscript", ACL: "@scripting", Lock: LockNone,
					Handler: cmdScriptDebug,
					Since:   "3.2.0", Summary: "Set the debug mode for executed scripts.", Complexity: "O(1)"},
				&Command{Name: "exists", Arity: -3, Flags: "noscript", ACL: "@scripting", Lock: LockNone,
					Tips: "request_policy:all_shards response_policy:agg_logical_and", Handler: cmdScriptExists,
					Since: "2.6.0", Summary: "Check existence of scripts in the script cache.",
					Complexity: "O(N) with N being the number of scripts to check (so checking a single script is an O(1) operation)."},
				&Command{Name: "flush", Arity: -2, Flags: "noscript", ACL: "@scripting", Lock: LockNone,
					Tips: "request_policy:all_nodes response_policy:all_succeeded", Handler: cmdScriptFlush,
					Since: "2.6.0", Summary: "Remove all the scripts from the script cache.",
					Complexity: "O(N) with N being the number of scripts in cache"},
				&Command{Name: "help", Arity: 2, Flags: "loading stale", ACL: "@scripting", Lock: LockNone,
					Handler: func(x *Ctx) { x.help("SCRIPT", scriptHelp) },
					Since:   "5.0.0", Summary: "Show helpful text about the different subcommands", Complexity: "O(1)"},
				&Command{Name: "kill", Arity: 2, Flags: "noscript allow_busy", ACL: "@scripting", Lock: LockNone,
					Tips: "request_policy:all_shards response_policy:one_succeeded", Handler: cmdScriptKill,
					Since: "2.6.0", Summary: "Kill the script currently in execution.", Complexity: "O(1)"},
				&Command{Name: "load", Arity: 3, Flags: "noscript stale", ACL: "@scripting", Lock: LockNone,
					Tips: "request_policy:all_nodes response_policy:all_succeeded", Handler: cmdScriptLoad,
					Since: "2.6.0", Summary: "Load the specified Lua script into the script cache.",
					Complexity: "O(N) with N being the length in bytes of the script body."},
			)},
	)
}

var scriptHelp = []string{
	"DEBUG (YES|SYNC|NO)",
	"    Set the debug mode for subsequent scripts executed.",
	"EXISTS <sha1> [<sha1> ...]",
	"    Return information about the existence of the scripts in the script cache.",
	"FLUSH [ASYNC|SYNC]",
	"    Flush the Lua scripts cache. Very dangerous on replicas.",
	"    When called without the optional mode argument, the behavior is determined by the",
	"    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
	"    * ASYNC: Asynchronously flush the scripts cache.",
	"    * SYNC: Synchronously flush the scripts cache.",
	"KILL",
	"    Kill the currently executing Lua script.",
	"LOAD <script>",
	"    Load a script into the scripts cache without executing it.",
}

// parseNumKeys reads the numkeys argument of EVAL and FCALL; bad is the error for a value
// that is no integer.
func parseNumKeys(x *Ctx, bad error) (int, bool) {
	n, ok := engine.ParseInt(x.Args[2])
	switch {
	case !ok:
		x.Error(bad)
		return 0, false
	case n > int64(len(x.Args)-3):
		x.Error(engine.ErrNumKeysArgs)
		return 0, false
	case n < 0:
		x.Error(engine.ErrNumKeysNegative)
		return 0, false
	}
	return int(n), true
}

// evalCommand is the EVAL family: the script by body or SHA1, numkeys, keys, arguments.
func (s *Server) evalCommand(x *Ctx, bySHA, ro bool) {
	if bySHA && len(x.Args[1]) != 40 {
		x.Error(engine.ErrNoScript)
		return
	}
	numkeys, ok := parseNumKeys(x, engine.ErrNotInteger)
	if !ok {
		return
	}
	var sc *lua.Script
	if bySHA {
		if sc = s.scripts.lookupScript(x.Args[1]); sc == nil {
			x.Error(engine.ErrNoScript)
			return
		}
	} else {
		var err error
		if sc, err = s.scripts.compileScript(x.Args[1]); err != nil {
			x.Error(err)
			return
		}
	}
	if sc.Shebang && sc.Flags&lua.FlagNoWrites == 0 && ro {
		x.Error(engine.ErrScriptWriteFlagRO)
		return
	}
	readOnly := ro || sc.Shebang && sc.Flags&lua.FlagNoWrites != 0
	keys := x.Args[3 : 3+numkeys]
	argv := x.Args[3+numkeys:]
	s.runScript(x, lua.KindEval, sc.SHA, keys, argv, readOnly, func(vm *lua.VM, inv *lua.Invocation) lua.Outcome {
		return vm.RunScript(sc, inv)
	})
}

// lookupScript finds a cached script by SHA1, in any case.
func (st *scriptState) lookupScript(sha []byte) *lua.Script {
	var low [40]byte
	if len(sha) != len(low) {
		return nil
	}
	for i, c := range sha {
		low[i] = lower(c)
	}
	st.cacheMu.RLock()
	sc := st.cache[string(low[:])]
	st.cacheMu.RUnlock()
	return sc
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// compileScript returns the cached script of body, compiling and caching it when new.
func (st *scriptState) compileScript(body []byte) (*lua.Script, error) {
	sha := lua.SHA1Hex(string(body))
	st.cacheMu.RLock()
	sc := st.cache[sha]
	st.cacheMu.RUnlock()
	if sc != nil {
		return sc, nil
	}
	sc, err := lua.CompileScript(string(body))
	if err != nil {
		return nil, err
	}
	st.cacheMu.Lock()
	if old, ok := st.cache[sha]; ok {
		sc = old
	} else {
		st.cache[sha] = sc
	}
	st.cacheMu.Unlock()
	return sc, nil
}

func cmdScriptLoad(x *Ctx) {
	sc, err := x.s.scripts.compileScript(x.Args[2])
	if err != nil {
		x.Error(err)
		return
	}
	x.BulkString(sc.SHA)
}

func cmdScriptExists(x *Ctx) {
	x.ArrayLen(len(x.Args) - 2)
	for _, sha := range x.Args[2:] {
		if x.s.scripts.lookupScript(sha) != nil {
			x.Int(1)
		} else {
			x.Int(0)
		}
	}
}

func cmdScriptFlush(x *Ctx) {
	if len(x.Args) == 3 {
		if mode := strings.ToLower(x.Arg(2)); mode != "sync" && mode != "async" {
			x.Error(engine.ErrScriptFlushOption)
			return
		}
	} else if len(x.Args) != 2 {
		x.Error(engine.ErrScriptFlushOption)
		return
	}
	st := x.s.scripts
	st.cacheMu.Lock()
	st.cache = map[string]*lua.Script{}
	st.cacheMu.Unlock()
	st.mu.Lock()
	st.evalGen++ // runners make new Lua states, as Redis makes a new one
	for _, r := range st.idle {
		if r.evalVM != nil {
			r.evalVM.Close()
			r.evalVM = nil
		}
	}
	st.mu.Unlock()
	st.evalEnv.Reset()
	x.OK()
}

func cmdScriptKill(x *Ctx) {
	if err := x.s.scripts.kill(true); err != nil {
		x.Error(err)
		return
	}
	x.OK()
}

// SCRIPT DEBUG: Strata has no Lua debugger (LDB). NO, which turns debugging off, is what
// every client may send; YES and SYNC are refused with a reason.
func cmdScriptDebug(x *Ctx) {
	switch strings.ToLower(x.Arg(2)) {
	case "no":
		x.OK()
	case "yes", "sync":
		x.Error(engine.ErrScriptDebugUnsupp)
	default:
		x.Error(engine.ErrScriptDebugOption)
	}
}
