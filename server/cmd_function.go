package server

import (
	"bytes"
	"encoding/binary"
	"errors"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/rdb"
	"github.com/stratadb/strata/server/lua"
)

// FUNCTION and FCALL, as Redis 7.0 has them. Libraries persist in the engine (internal
// records, engine/functions.go) and are compiled again when the server starts. FUNCTION
// DUMP and RESTORE speak Redis's payload: one FUNCTION2 record (opcode 245 and the code as
// an RDB string) per library, then the RDB version and a CRC64, as DUMP payloads end.

// functionRegistry holds the loaded libraries.
type functionRegistry struct {
	mu     sync.RWMutex
	libs   map[string]*lua.Library  // by name
	fns    map[string]*lua.Function // by lowercase name (function names ignore case), across libraries
	gen    uint64                   // bumped at every change; VMs drop callbacks of older sets
	loader *lua.VM                  // runs FUNCTION LOAD (under mu)
}

func registerFunctionCommands(t *Table) {
	fcall := func(name, flags, summary string, ro bool) *Command {
		return &Command{Name: name, Arity: -3, Flags: flags, ACL: "@scripting", Specs: scriptKeySpec(ro, true),
			Lock: LockScript, Handler: func(x *Ctx) { x.s.fcallCommand(x, ro) },
			Group: "scripting", Since: "7.0.0", Summary: summary, Complexity: "Depends on the function that is executed."}
	}
	t.add(
		fcall("fcall", "noscript stale skip_monitor may_replicate no_mandatory_keys", "Invoke a function", false),
		fcall("fcall_ro", "readonly noscript stale skip_monitor no_mandatory_keys", "Invoke a read-only function", true),
		&Command{Name: "function", Arity: -2, Lock: LockNone,
			Group: "scripting", Since: "7.0.0", Summary: "A container for function commands",
			Complexity: "Depends on subcommand.",
			Subs: subs("function",
				&Command{Name: "delete", Arity: 3, Flags: "write noscript", ACL: "@scripting", Lock: LockNone,
					Tips: "request_policy:all_shards response_policy:all_succeeded", Handler: cmdFunctionDelete,
					Since: "7.0.0", Summary: "Delete a function by name", Complexity: "O(1)"},
				&Command{Name: "dump", Arity: 2, Flags: "noscript", ACL: "@scripting", Lock: LockNone,
					Handler: cmdFunctionDump,
					Since:   "7.0.0", Summary: "Dump all functions into a serialized binary payload",
					Complexity: "O(N) where N is the number of functions"},
				&Command{Name: "flush", Arity: -2, Flags: "write noscript", ACL: "@scripting", Lock: LockNone,
					Tips: "request_policy:all_shards response_policy:all_succeeded", Handler: cmdFunctionFlush,
					Since: "7.0.0", Summary: "Deleting all functions",
					Complexity: "O(N) where N is the number of functions deleted"},
				&Command{Name: "help", Arity: 2, Flags: "loading stale", ACL: "@scripting", Lock: LockNone,
					Handler: func(x *Ctx) { x.help("FUNCTION", functionHelp) },
					Since:   "7.0.0", Summary: "Show helpful text about the different subcommands", Complexity: "O(1)"},
				&Command{Name: "kill", Arity: 2, Flags: "noscript allow_busy", ACL: "@scripting", Lock: LockNone,
					Tips: "request_policy:all_shards response_policy:one_succeeded", Handler: cmdFunctionKill,
					Since: "7.0.0", Summary: "Kill the function currently in execution.", Complexity: "O(1)"},
				&Command{Name: "list", Arity: -2, Flags: "noscript", ACL: "@scripting", Lock: LockNone,
					Tips: "nondeterministic_output_order", Handler: cmdFunctionList,
					Since: "7.0.0", Summary: "List information about all the functions",
					Complexity: "O(N) where N is the number of functions"},
				&Command{Name: "load", Arity: -3, Flags: "write denyoom noscript", ACL: "@scripting", Lock: LockNone,
					Tips: "request_policy:all_shards response_policy:all_succeeded", Handler: cmdFunctionLoad,
					Since: "7.0.0", Summary: "Create a function with the given arguments (name, code, description)",
					Complexity: "O(1) (considering compilation time is redundant)"},
				&Command{Name: "restore", Arity: -3, Flags: "write denyoom noscript", ACL: "@scripting", Lock: LockNone,
					Tips: "request_policy:all_shards response_policy:all_succeeded", Handler: cmdFunctionRestore,
					Since: "7.0.0", Summary: "Restore all the functions on the given payload",
					Complexity: "O(N) where N is the number of functions on the payload"},
				&Command{Name: "stats", Arity: 2, Flags: "noscript allow_busy", ACL: "@scripting", Lock: LockNone,
					Tips: "nondeterministic_output request_policy:all_shards response_policy:special", Handler: cmdFunctionStats,
					Since: "7.0.0", Summary: "Return information about the function currently running (name, description, duration)",
					Complexity: "O(1)"},
			)},
	)
}

var functionHelp = []string{
	"LOAD [REPLACE] <FUNCTION CODE>",
	"    Create a new library with the given library name and code.",
	"DELETE <LIBRARY NAME>",
	"    Delete the given library.",
	"LIST [LIBRARYNAME PATTERN] [WITHCODE]",
	"    Return general information on all the libraries:",
	"    * Library name",
	"    * The engine used to run the Library",
	"    * Library description",
	"    * Functions list",
	"    * Library code (if WITHCODE is given)",
	"    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
	"STATS",
	"    Return information about the current function running:",
	"    * Function name",
	"    * Command used to run the function",
	"    * Duration in MS that the function is running",
	"    If no function is running, return nil",
	"    In addition, returns a list of available engines.",
	"KILL",
	"    Kill the current running function.",
	"FLUSH [ASYNC|SYNC]",
	"    Delete all the libraries.",
	"    When called without the optional mode argument, the behavior is determined by the",
	"    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
	"    * ASYNC: Asynchronously flush the libraries.",
	"    * SYNC: Synchronously flush the libraries.",
	"DUMP",
	"    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
	"RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
	"    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
	"    control how to handle existing libraries (default APPEND):",
	"    * FLUSH: delete all existing libraries.",
	"    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
	"    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
	"      libraries with the new libraries (notice that even on this option there is a chance of failure",
	"      in case of functions name collision with another library).",
}

// fcallCommand is FCALL and FCALL_RO.
func (s *Server) fcallCommand(x *Ctx, ro bool) {
	reg := &s.scripts.funcs
	reg.mu.RLock()
	fn := reg.fns[strings.ToLower(x.Arg(1))]
	gen := reg.gen
	reg.mu.RUnlock()
	if fn == nil {
		x.Error(engine.ErrFunctionNotFound)
		return
	}
	numkeys, ok := parseNumKeys(x, engine.ErrBadNumKeys)
	if !ok {
		return
	}
	if fn.Flags&lua.FlagNoWrites == 0 && ro {
		x.Error(engine.ErrScriptWriteFlagRO)
		return
	}
	readOnly := ro || fn.Flags&lua.FlagNoWrites != 0
	keys := x.Args[3 : 3+numkeys]
	argv := x.Args[3+numkeys:]
	s.runScript(x, lua.KindFunction, fn.Name, keys, argv, readOnly, func(vm *lua.VM, inv *lua.Invocation) lua.Outcome {
		return vm.RunFunction(fn, gen, inv)
	})
}

// libSet is a set of libraries being built (FUNCTION LOAD, RESTORE, startup).
type libSet struct {
	libs map[string]*lua.Library
	fns  map[string]*lua.Function
}

func (reg *functionRegistry) snapshot() libSet {
	set := libSet{libs: make(map[string]*lua.Library, len(reg.libs)), fns: make(map[string]*lua.Function, len(reg.fns))}
	for n, l := range reg.libs {
		set.libs[n] = l
	}
	for n, f := range reg.fns {
		set.fns[n] = f
	}
	return set
}

func (set *libSet) remove(lib *lua.Library) {
	delete(set.libs, lib.Name)
	for _, f := range lib.Functions {
		delete(set.fns, strings.ToLower(f.Name))
	}
}

// add adds lib unless one of its functions is taken.
func (set *libSet) add(lib *lua.Library) error {
	for _, f := range lib.Functions {
		if _, taken := set.fns[strings.ToLower(f.Name)]; taken {
			return engine.ErrFunctionExists(f.Name)
		}
	}
	set.libs[lib.Name] = lib
	for _, f := range lib.Functions {
		set.fns[strings.ToLower(f.Name)] = f
	}
	return nil
}

// load compiles code into set as functionsCreateWithLibraryCtx does: the library's name
// must be free unless replace is set.
func (st *scriptState) load(set *libSet, code string, replace bool) (*lua.Library, error) {
	name, err := lua.ParseLibraryHeader(code)
	if err != nil {
		return nil, err
	}
	old := set.libs[name]
	if old != nil && !replace {
		return nil, engine.ErrLibraryExists(name)
	}
	reg := &st.funcs
	if reg.loader == nil {
		reg.loader = lua.NewVM(st.funcEnv)
	}
	lib, err := reg.loader.LoadLibrary(code, name)
	if err != nil {
		return nil, err
	}
	if old != nil {
		set.remove(old)
	}
	if err := set.add(lib); err != nil {
		if old != nil {
			set.add(old)
		}
		return nil, err
	}
	return lib, nil
}

// commit persists set and makes it current (reg.mu held for writing).
func (st *scriptState) commit(set libSet) error {
	codes := make(map[string]string, len(set.libs))
	for n, l := range set.libs {
		codes[n] = l.Code
	}
	if err := st.s.eng.SetFunctionLibraries(codes); err != nil {
		return errors.New("ERR Failed persisting the function libraries: " + err.Error())
	}
	reg := &st.funcs
	reg.libs, reg.fns = set.libs, set.fns
	reg.gen++
	return nil
}

// loadLibraries compiles the libraries stored in the engine (server start). A library that
// no longer loads is logged and left out; its record stays.
func (st *scriptState) loadLibraries() error {
	codes, err := st.s.eng.FunctionLibraries()
	if err != nil {
		return err
	}
	names := make([]string, 0, len(codes))
	for n := range codes {
		names = append(names, n)
	}
	sort.Strings(names)
	reg := &st.funcs
	reg.mu.Lock()
	defer reg.mu.Unlock()
	set := reg.snapshot()
	for _, n := range names {
		if _, err := st.load(&set, codes[n], false); err != nil {
			st.s.log.Error("a stored function library does not load; it is left out", "library", n, "err", err)
		}
	}
	reg.libs, reg.fns = set.libs, set.fns
	reg.gen++
	return nil
}

func cmdFunctionLoad(x *Ctx) {
	replace := false
	i := 2
	for ; i < len(x.Args)-1; i++ {
		if !strings.EqualFold(x.Arg(i), "replace") {
			x.Error(engine.ErrFunctionLoadOption(x.Arg(i)))
			return
		}
		replace = true
	}
	st := x.s.scripts
	reg := &st.funcs
	reg.mu.Lock()
	defer reg.mu.Unlock()
	set := reg.snapshot()
	lib, err := st.load(&set, x.Arg(i), replace)
	if err == nil {
		err = st.commit(set)
	}
	if err != nil {
		x.Error(err)
		return
	}
	x.BulkString(lib.Name)
}

func cmdFunctionDelete(x *Ctx) {
	st := x.s.scripts
	reg := &st.funcs
	reg.mu.Lock()
	defer reg.mu.Unlock()
	lib := reg.libs[x.Arg(2)]
	if lib == nil {
		x.Error(engine.ErrLibraryNotFound)
		return
	}
	set := reg.snapshot()
	set.remove(lib)
	if err := st.commit(set); err != nil {
		x.Error(err)
		return
	}
	x.OK()
}

func cmdFunctionFlush(x *Ctx) {
	if len(x.Args) > 3 {
		x.Error(errors.New("ERR unknown subcommand or wrong number of arguments for '" +
			truncateArg(x.Arg(1)) + "'. Try FUNCTION HELP."))
		return
	}
	if len(x.Args) == 3 {
		if mode := strings.ToLower(x.Arg(2)); mode != "sync" && mode != "async" {
			x.Error(engine.ErrFunctionFlush)
			return
		}
	}
	st := x.s.scripts
	reg := &st.funcs
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if err := st.commit(libSet{libs: map[string]*lua.Library{}, fns: map[string]*lua.Function{}}); err != nil {
		x.Error(err)
		return
	}
	x.OK()
}

// truncateArg is "%.128s" of a C string.
func truncateArg(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	if len(s) > 128 {
		s = s[:128]
	}
	return s
}

func cmdFunctionKill(x *Ctx) {
	if err := x.s.scripts.kill(false); err != nil {
		x.Error(err)
		return
	}
	x.OK()
}

func cmdFunctionStats(x *Ctx) {
	st := x.s.scripts
	name, command, ms, running, evalBusy := st.busyFunction()
	if evalBusy {
		x.Error(engine.ErrBusyScript)
		return
	}
	reg := &st.funcs
	reg.mu.RLock()
	nlibs, nfns := len(reg.libs), len(reg.fns)
	reg.mu.RUnlock()
	x.MapLen(2)
	x.BulkString("running_script")
	if !running {
		x.Null()
	} else {
		x.MapLen(3)
		x.BulkString("name")
		x.BulkString(name)
		x.BulkString("command")
		x.ArrayLen(len(command))
		for _, a := range command {
			x.Bulk(a)
		}
		x.BulkString("duration_ms")
		x.Int(ms)
	}
	x.BulkString("engines")
	x.MapLen(1)
	x.BulkString("LUA")
	x.MapLen(2)
	x.BulkString("libraries_count")
	x.Int(int64(nlibs))
	x.BulkString("functions_count")
	x.Int(int64(nfns))
}

func cmdFunctionList(x *Ctx) {
	withCode := false
	var pattern []byte
	hasPattern := false
	for i := 2; i < len(x.Args); i++ {
		arg := x.Arg(i)
		switch {
		case !withCode && strings.EqualFold(arg, "withcode"):
			withCode = true
		case !hasPattern && strings.EqualFold(arg, "libraryname"):
			if i >= len(x.Args)-1 {
				x.Error(engine.ErrLibraryNameArg)
				return
			}
			i++
			pattern, hasPattern = x.Args[i], true
		default:
			x.Error(engine.ErrFunctionListArg(cString(arg)))
			return
		}
	}
	reg := &x.s.scripts.funcs
	reg.mu.RLock()
	libs := make([]*lua.Library, 0, len(reg.libs))
	for _, l := range reg.libs {
		if !hasPattern || engine.GlobMatch(pattern, []byte(l.Name), true) {
			libs = append(libs, l)
		}
	}
	reg.mu.RUnlock()
	sort.Slice(libs, func(i, j int) bool { return libs[i].Name < libs[j].Name })
	x.ArrayLen(len(libs))
	for _, l := range libs {
		if withCode {
			x.MapLen(4)
		} else {
			x.MapLen(3)
		}
		x.BulkString("library_name")
		x.BulkString(l.Name)
		x.BulkString("engine")
		x.BulkString("LUA")
		x.BulkString("functions")
		x.ArrayLen(len(l.Functions))
		for _, f := range l.Functions {
			x.MapLen(3)
			x.BulkString("name")
			x.BulkString(f.Name)
			x.BulkString("description")
			if f.Description != nil {
				x.BulkString(*f.Description)
			} else {
				x.Null()
			}
			x.BulkString("flags")
			names := f.Flags.Names()
			x.SetLen(len(names))
			for _, n := range names {
				x.Simple(n)
			}
		}
		if withCode {
			x.BulkString("library_code")
			x.BulkString(l.Code)
		}
	}
}

// cString is s up to its first NUL byte, as Redis's "%s" prints it.
func cString(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}

// functionDumpVersion is the RDB version FUNCTION DUMP stamps, Redis 7.0's.
const functionDumpVersion = 10

func cmdFunctionDump(x *Ctx) {
	reg := &x.s.scripts.funcs
	reg.mu.RLock()
	libs := make([]*lua.Library, 0, len(reg.libs))
	for _, l := range reg.libs {
		libs = append(libs, l)
	}
	reg.mu.RUnlock()
	sort.Slice(libs, func(i, j int) bool { return libs[i].Name < libs[j].Name })
	x.s.cfgMu.RLock()
	compress := x.s.cfg.RDBCompression
	x.s.cfgMu.RUnlock()
	payload, err := encodeFunctionPayload(libs, compress)
	if err != nil {
		x.Error(errors.New("ERR " + err.Error()))
		return
	}
	x.Bulk(payload)
}

// encodeFunctionPayload builds FUNCTION DUMP's payload. The records are what package rdb
// writes for function events (strings LZF-compressed as Redis compresses them), taken from
// between a file's header and its end.
func encodeFunctionPayload(libs []*lua.Library, compress bool) ([]byte, error) {
	opts := &rdb.WriterOptions{Version: functionDumpVersion, DisableCompression: !compress, CTime: time.Unix(0, 0)}
	file := func(libs []*lua.Library) ([]byte, error) {
		var buf bytes.Buffer
		w, err := rdb.NewWriter(&buf, opts)
		if err != nil {
			return nil, err
		}
		for _, l := range libs {
			if err := w.Write(&rdb.Event{Kind: rdb.KindFunction, Value: []byte(l.Code)}); err != nil {
				return nil, err
			}
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	}
	const trailer = 9 // EOF opcode and CRC64
	empty, err := file(nil)
	if err != nil {
		return nil, err
	}
	full, err := file(libs)
	if err != nil {
		return nil, err
	}
	head := len(empty) - trailer
	out := append([]byte(nil), full[head:len(full)-trailer]...)
	out = binary.LittleEndian.AppendUint16(out, functionDumpVersion)
	return binary.LittleEndian.AppendUint64(out, rdb.CRC64(0, out)), nil
}

// decodeFunctionPayload returns the libraries' code in a FUNCTION DUMP payload. Errors are
// Redis's replies.
func decodeFunctionPayload(payload []byte) ([]string, error) {
	if _, err := rdb.CheckDumpPayload(payload); err != nil {
		return nil, engine.ErrDumpPayload
	}
	body := payload[:len(payload)-10]
	// The records are read as the body of an RDB file of the payload's format.
	file := append([]byte("REDIS0010"), body...)
	file = append(file, 0xff, 0, 0, 0, 0, 0, 0, 0, 0)
	r, err := rdb.NewReader(bytes.NewReader(file), &rdb.ReaderOptions{Size: int64(len(file))})
	if err != nil {
		return nil, errors.New("ERR can not read data type")
	}
	// Each record must start with the FUNCTION2 opcode; the reader reads its string.
	const opFunction2, opFunctionPreGA = 245, 246
	end := int64(len(file) - 9)
	var codes []string
	for {
		off := r.Offset()
		if off >= end {
			return codes, nil
		}
		switch file[off] {
		case opFunction2:
		case opFunctionPreGA:
			return nil, errors.New("ERR Pre-GA function format not supported")
		default:
			return nil, engine.ErrPayloadNotFunc
		}
		ev, err := r.Next()
		if err != nil || ev.Kind != rdb.KindFunction || r.Offset() > end {
			return nil, errors.New("ERR Failed loading the given functions payload")
		}
		codes = append(codes, string(ev.Value))
	}
}

func cmdFunctionRestore(x *Ctx) {
	if len(x.Args) > 4 {
		x.Error(errors.New("ERR unknown subcommand or wrong number of arguments for '" +
			truncateArg(x.Arg(1)) + "'. Try FUNCTION HELP."))
		return
	}
	policy := "append"
	if len(x.Args) == 4 {
		policy = strings.ToLower(x.Arg(3))
		if policy != "append" && policy != "replace" && policy != "flush" {
			x.Error(engine.ErrRestorePolicy)
			return
		}
	}
	codes, err := decodeFunctionPayload(x.Args[2])
	if err != nil {
		x.Error(err)
		return
	}
	st := x.s.scripts
	reg := &st.funcs
	reg.mu.Lock()
	defer reg.mu.Unlock()
	// The payload's libraries load into a set of their own first.
	restored := libSet{libs: map[string]*lua.Library{}, fns: map[string]*lua.Function{}}
	var names []string // in the payload's order
	for _, code := range codes {
		lib, err := st.load(&restored, code, false)
		if err != nil {
			x.Error(err)
			return
		}
		names = append(names, lib.Name)
	}
	set := restored
	if policy != "flush" {
		set = reg.snapshot()
		for _, n := range names {
			if old := set.libs[n]; old != nil {
				if policy != "replace" {
					x.Error(errors.New("ERR Library " + n + " already exists"))
					return
				}
				set.remove(old)
			}
		}
		for _, n := range names {
			if err := set.add(restored.libs[n]); err != nil {
				x.Error(err)
				return
			}
		}
	}
	if err := st.commit(set); err != nil {
		x.Error(err)
		return
	}
	x.OK()
}

// counts reports the cached EVAL scripts, the functions and the libraries (INFO memory).
func (st *scriptState) counts() (scripts, functions, libraries int64) {
	st.cacheMu.RLock()
	scripts = int64(len(st.cache))
	st.cacheMu.RUnlock()
	st.funcs.mu.RLock()
	functions, libraries = int64(len(st.funcs.fns)), int64(len(st.funcs.libs))
	st.funcs.mu.RUnlock()
	return scripts, functions, libraries
}
