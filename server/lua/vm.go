package lua

import (
	"context"
	"errors"
	"strings"
	"sync"

	glua "github.com/yuin/gopher-lua"
)

// Kind says which Redis engine a VM imitates: EVAL's Lua state or the FUNCTION engine's.
type Kind uint8

const (
	// KindEval runs EVAL scripts: KEYS and ARGV are globals; errors name @user_script.
	KindEval Kind = iota
	// KindFunction runs function libraries: FUNCTION LOAD runs a library's code with only
	// redis.register_function and redis.log at hand; FCALL calls a registered callback with
	// the keys and arguments tables; errors name @user_function.
	KindFunction
)

// Log levels of redis.log (Redis's LL_*).
const (
	LogDebug   = 0
	LogVerbose = 1
	LogNotice  = 2
	LogWarning = 3
)

// Env is what the VMs of one kind share, as one Lua state in Redis would: the random
// generator (shared by both kinds), cjson's settings, the version and the log.
type Env struct {
	Kind       Kind
	Rand       *Rand
	Version    string                      // REDIS_VERSION
	VersionNum int                         // REDIS_VERSION_NUM
	Log        func(level int, msg string) // redis.log, at or above Verbosity
	Verbosity  func() int                  // the lowest level that is logged

	mu   sync.Mutex
	json jsonConfig
}

// NewEnv returns an Env with Redis's defaults.
func NewEnv(kind Kind, rand *Rand, version string) *Env {
	e := &Env{Kind: kind, Rand: rand, Version: version, VersionNum: versionNum(version)}
	e.json = defaultJSONConfig()
	return e
}

// Reset gives the shared settings their defaults again (SCRIPT FLUSH makes a new Lua state
// in Redis).
func (e *Env) Reset() {
	e.mu.Lock()
	e.json = defaultJSONConfig()
	e.mu.Unlock()
}

// versionNum is REDIS_VERSION_NUM: 0x00MMmmpp.
func versionNum(v string) int {
	parts := strings.SplitN(v, ".", 3)
	n := 0
	for i := 0; i < 3; i++ {
		d := 0
		if i < len(parts) {
			for _, c := range parts[i] {
				if c < '0' || c > '9' {
					break
				}
				d = d*10 + int(c-'0')
			}
		}
		n = n<<8 | (d & 0xff)
	}
	return n
}

// Host runs what a script asks of the server.
type Host interface {
	// Command runs one command for redis.call / redis.pcall, its reply in protocol resp (2
	// or 3). It returns the reply's bytes (valid until the next call), or, when the command
	// may not run, the reason: "msg" (an ERR error) or "-CODE msg".
	Command(args [][]byte, resp int) (reply []byte, refused string)
	// CheckACL answers redis.acl_check_cmd: whether args name a command, and whether the
	// calling user may run it.
	CheckACL(args [][]byte) (found, allowed bool)
}

// Invocation is one run of a script or function.
type Invocation struct {
	Host Host
	// Name is the SHA1 of an EVAL script or the name of a function, for error messages.
	Name       string
	Keys, Args [][]byte
}

// ErrKilled is the cause to Interrupt a script with for SCRIPT KILL and FUNCTION KILL: the
// caller gets Redis's "Script killed by user with SCRIPT KILL..." error.
var ErrKilled = errors.New("lua: killed by SCRIPT KILL or FUNCTION KILL")

// Outcome is how an invocation ended.
type Outcome struct {
	// Err is the error reply's text (without '-') when the script failed; otherwise the
	// result is held by the VM until WriteReply.
	Err string
	// CountError: the error was not already counted by a command it came from (Redis's
	// ignore_error_stats_update).
	CountError bool
	// Interrupted is the cause given to Interrupt, when the run was interrupted.
	Interrupted error

	value glua.LValue
	resp  int // the script's protocol when it returned (redis.setresp)
}

// VM is one sandboxed Lua state. It runs one invocation at a time; Interrupt may be called
// from any goroutine.
type VM struct {
	L   *glua.LState
	env *Env

	real    *glua.LTable                  // the real global table (L.G.Global)
	globals *glua.LTable                  // the read-only proxy scripts see as _G
	proxies map[*glua.LTable]*glua.LTable // read-only proxy -> the table it shows
	null    *glua.LUserData               // cjson.null
	errFn   *glua.LFunction               // the error handler
	fns     map[*glua.FunctionProto]*glua.LFunction

	// Function engine: the environment's __index is swapped between the load-time API and
	// the globals.
	envMeta *glua.LTable
	loadAPI *glua.LTable
	loading *loadCtx
	libs    map[*Library]*libState
	libGen  uint64
	chunks  map[string]string // display name -> source of chunks made by loadstring

	stringMeta   *glua.LTable // the metatable of strings
	stringMetaRO *glua.LTable // its read-only proxy, which getmetatable returns

	run     *Invocation
	resp    int
	rand    randTrack
	argBuf  []byte
	argEnds []int
	argList [][]byte

	mu      sync.Mutex
	ctx     context.Context
	cancel  context.CancelCauseFunc
	running bool
	runs    int // invocations since ctx was made
}

// NewVM builds a sandboxed Lua state of env's kind.
func NewVM(env *Env) *VM {
	L := glua.NewState(glua.Options{
		SkipOpenLibs:        true,
		CallStackSize:       20000, // Lua 5.1's LUAI_MAXCALLS; the stack grows as needed
		MinimizeStackMemory: true,
		RegistrySize:        4 * 1024,
		RegistryMaxSize:     1024 * 1024,
		RegistryGrowStep:    4 * 1024,
	})
	vm := &VM{
		L:       L,
		env:     env,
		real:    L.G.Global,
		proxies: map[*glua.LTable]*glua.LTable{},
		fns:     map[*glua.FunctionProto]*glua.LFunction{},
		libs:    map[*Library]*libState{},
		chunks:  map[string]string{},
	}
	vm.ctx, vm.cancel = context.WithCancelCause(context.Background())
	L.SetContext(vm.ctx)
	vm.globals = vm.readonly(vm.real)
	if env.Kind == KindFunction {
		// Library code and callbacks see an empty table whose metatable reads through to
		// either the load-time API or the globals (as Redis's function engine swaps).
		vm.envMeta = vm.globals.Metatable.(*glua.LTable)
	}
	// Functions created from now on (the libraries', the scripts') see the proxy.
	L.Env = vm.globals
	vm.openLibraries()
	return vm
}

// Close releases the Lua state.
func (vm *VM) Close() { vm.L.Close() }

func (vm *VM) openLibraries() {
	L := vm.L
	for _, lib := range []struct {
		name string
		open glua.LGFunction
	}{{"", glua.OpenBase}, {glua.TabLibName, glua.OpenTable}, {glua.StringLibName, glua.OpenString},
		{glua.MathLibName, glua.OpenMath}, {glua.CoroutineLibName, glua.OpenCoroutine}} {
		L.Push(L.NewFunction(lib.open))
		L.Push(glua.LString(lib.name))
		L.Call(1, 0)
	}
	real := vm.real
	for _, name := range []string{"dofile", "loadfile", "print", "_printregs", "module", "require",
		"getfenv", "setfenv", "newproxy", "_GOPHER_LUA_VERSION"} {
		real.RawSetString(name, glua.LNil)
	}
	vm.overrideBase()
	vm.fixLibraries()

	vm.null = L.NewUserData()
	libs := map[string]*glua.LTable{
		"cjson":    vm.cjsonLib(),
		"cmsgpack": vm.cmsgpackLib(),
		"bit":      vm.bitLib(),
		"struct":   vm.structLib(),
		"redis":    vm.redisLib(),
	}
	for name, t := range libs {
		real.RawSetString(name, t)
	}
	vm.errFn = L.NewFunction(vm.errorHandler)
	if vm.env.Kind == KindEval {
		real.RawSetString("__redis__err__handler", vm.errFn)
	}
	real.RawSetString("_G", vm.globals)
	// Every library table becomes read-only, then the globals refuse unknown names.
	for _, name := range []string{"string", "math", "table", "coroutine", "cjson", "cmsgpack",
		"bit", "struct", "redis"} {
		if t, ok := real.RawGetString(name).(*glua.LTable); ok {
			real.RawSetString(name, vm.readonly(t))
		}
	}
	meta := L.NewTable()
	meta.RawSetString("__index", L.NewFunction(nonexistentGlobal))
	real.Metatable = meta
	vm.stringMeta.RawSetString("__index", real.RawGetString("string"))
	vm.stringMetaRO = vm.readonly(vm.stringMeta)
	if vm.env.Kind == KindFunction {
		vm.loadAPI = vm.libraryAPI()
	}
}

// readonly returns a proxy that shows t and refuses every write.
func (vm *VM) readonly(t *glua.LTable) *glua.LTable {
	L := vm.L
	p := L.NewTable()
	meta := L.NewTable()
	meta.RawSetString("__index", t)
	meta.RawSetString("__newindex", L.NewFunction(readonlyWrite))
	p.Metatable = meta
	vm.proxies[p] = t
	return p
}

// through returns the table a proxy shows (t itself for an ordinary table).
func (vm *VM) through(t *glua.LTable) *glua.LTable {
	if real, ok := vm.proxies[t]; ok {
		return real
	}
	return t
}

func readonlyWrite(L *glua.LState) int {
	raise(L, "Attempt to modify a readonly table")
	return 0
}

func nonexistentGlobal(L *glua.LState) int {
	name := L.Get(2)
	s, ok := asString(name)
	if L.GetTop() != 2 || !ok {
		raise(L, "Second argument to luaProtectedTableError must be a string or number")
	}
	raise(L, "Script attempted to access nonexistent global variable '"+cString(s)+"'")
	return 0
}

// raise is luaL_error: the message, prefixed with the position of the Lua function that
// called the running Go function (none when that caller is not a Lua function).
func raise(L *glua.LState, msg string) {
	L.Error(glua.LString(where(L, 1)+msg), 0)
}

// where is luaL_where: "source:line: " of the function at level, or "" for a Go function.
func where(L *glua.LState, level int) string {
	dbg, ok := L.GetStack(level)
	if !ok {
		return ""
	}
	if _, err := L.GetInfo("Sl", dbg, glua.LNil); err != nil || dbg.CurrentLine <= 0 || dbg.What == "G" {
		return ""
	}
	return dbg.Source + ":" + itoa(int64(dbg.CurrentLine)) + ": "
}

// argError is luaL_argerror: "bad argument #n to 'fname' (msg)".
func argError(L *glua.LState, n int, fname, msg string) {
	raise(L, "bad argument #"+itoa(int64(n))+" to '"+fname+"' ("+msg+")")
}

// typeError is luaL_typerror: "<expected> expected, got <type>".
func typeError(L *glua.LState, n int, fname, expected string) {
	got := "no value"
	if n <= L.GetTop() {
		got = typeName(L.Get(n))
	}
	argError(L, n, fname, expected+" expected, got "+got)
}

// typeName is Lua 5.1's lua_typename.
func typeName(v glua.LValue) string {
	switch v.(type) {
	case *glua.LNilType:
		return "nil"
	case glua.LBool:
		return "boolean"
	case glua.LNumber:
		return "number"
	case glua.LString:
		return "string"
	case *glua.LTable:
		return "table"
	case *glua.LFunction:
		return "function"
	case *glua.LUserData:
		return "userdata"
	case *glua.LState:
		return "thread"
	}
	return v.Type().String()
}

// checkNumber is luaL_checknumber (strings that convert are numbers).
func checkNumber(L *glua.LState, n int, fname string) float64 {
	v := L.Get(n)
	if f, ok := toNumber(v); ok {
		return f
	}
	typeError(L, n, fname, "number")
	return 0
}

// checkInt is luaL_checkint.
func checkInt(L *glua.LState, n int, fname string) int {
	return int(toInt32(checkNumber(L, n, fname)))
}

// checkString is luaL_checklstring (numbers become their "%.14g" text).
func checkString(L *glua.LState, n int, fname string) string {
	if s, ok := asString(L.Get(n)); ok {
		return s
	}
	typeError(L, n, fname, "string")
	return ""
}

// toNumber is lua_tonumber: numbers, and strings Lua 5.1 converts.
func toNumber(v glua.LValue) (float64, bool) {
	switch x := v.(type) {
	case glua.LNumber:
		return float64(x), true
	case glua.LString:
		return str2number(string(x))
	}
	return 0, false
}

// asString is lua_tolstring: strings, and numbers in "%.14g".
func asString(v glua.LValue) (string, bool) {
	switch x := v.(type) {
	case glua.LString:
		return string(x), true
	case glua.LNumber:
		return formatNumber(float64(x)), true
	}
	return "", false
}

func itoa(n int64) string {
	var b [20]byte
	return string(appendInt(b[:0], n))
}

func appendInt(dst []byte, n int64) []byte {
	if n == 0 {
		return append(dst, '0')
	}
	var b [20]byte
	i := len(b)
	neg := n < 0
	u := uint64(n)
	if neg {
		u = -u
	}
	for u > 0 {
		i--
		b[i] = byte('0' + u%10)
		u /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return append(dst, b[i:]...)
}

// Interrupt stops the running invocation at its next Lua instruction; the Outcome reports
// cause. A VM that is not running ignores it.
func (vm *VM) Interrupt(cause error) {
	vm.mu.Lock()
	if vm.running {
		vm.cancel(cause)
	}
	vm.mu.Unlock()
}

// ctxRuns is how many invocations share one context: a coroutine a script leaves suspended
// keeps a child of the context registered, so the context is renewed (and the children
// released) from time to time.
const ctxRuns = 1024

// errContextRenewed cancels a context that is replaced between invocations.
var errContextRenewed = errors.New("lua: context renewed")

// begin prepares an invocation: a fresh context when the last one was interrupted or has
// served ctxRuns invocations.
func (vm *VM) begin(inv *Invocation) {
	vm.mu.Lock()
	vm.runs++
	if vm.ctx.Err() != nil || vm.runs >= ctxRuns {
		vm.cancel(errContextRenewed)
		vm.ctx, vm.cancel = context.WithCancelCause(context.Background())
		vm.L.SetContext(vm.ctx)
		vm.runs = 0
	}
	vm.running = true
	vm.mu.Unlock()
	vm.run = inv
	vm.resp = 2
	vm.rand.begin(vm.env.Rand)
}

func (vm *VM) end() {
	vm.mu.Lock()
	vm.running = false
	vm.mu.Unlock()
	vm.run = nil
}

// interrupted returns the cause of an interruption of the current invocation, if any.
func (vm *VM) interrupted() error {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	if vm.ctx.Err() == nil {
		return nil
	}
	return context.Cause(vm.ctx)
}

// RewindRandom gives back the numbers the last invocation drew from math.random when no
// other script drew after it (the invocation is being run again from scratch).
func (vm *VM) RewindRandom() { vm.rand.rewind(vm.env.Rand) }

// call runs fn with args under the error handler and turns what happened into an Outcome.
func (vm *VM) call(fn *glua.LFunction, source string, args ...glua.LValue) Outcome {
	L := vm.L
	L.SetTop(0)
	L.Push(fn)
	for _, a := range args {
		L.Push(a)
	}
	err := L.PCall(len(args), 1, vm.errFn)
	out := Outcome{resp: vm.resp}
	if cause := vm.interrupted(); cause != nil {
		out.Interrupted = cause
		if errors.Is(cause, ErrKilled) {
			line := ""
			if ae, ok := err.(*glua.ApiError); ok {
				if t, ok := ae.Object.(*glua.LTable); ok {
					line, _ = asString(t.RawGetString("line"))
				}
			}
			out.Err = "ERR Script killed by user with SCRIPT KILL..."
			if line != "" {
				out.Err += " script: " + vm.run.Name + ", on " + source + ":" + line + "."
			}
			out.CountError = true
		}
		L.SetTop(0)
		return out
	}
	if err != nil {
		out.Err, out.CountError = vm.errorText(err)
		L.SetTop(0)
		return out
	}
	out.value = L.Get(-1)
	L.SetTop(0)
	return out
}

// errorText builds the error reply of a failed invocation as Redis's luaCallFunction does.
func (vm *VM) errorText(err error) (string, bool) {
	ae, ok := err.(*glua.ApiError)
	if !ok {
		return "ERR Error running script " + vm.run.Name + ", " + truncate(err.Error(), 100), true
	}
	t, ok := ae.Object.(*glua.LTable)
	if !ok {
		// The error handler could not run (a stack overflow): what the handler would have
		// made of the message, when it carries the position.
		msg, isStr := asString(ae.Object)
		if !isStr {
			msg = "execution failure"
		}
		if source, line, ok := messagePosition(msg); ok {
			return sanitizeError("ERR " + cString(msg) + " script: " + vm.run.Name + ", on @" + source + ":" + line + "."), true
		}
		return "ERR Error running script " + vm.run.Name + ", " + truncate(msg, 100), true
	}
	msg, _ := asString(t.RawGetString("err"))
	msg = sanitizeError(cString(msg))
	source, hasSource := asString(t.RawGetString("source"))
	line, hasLine := asString(t.RawGetString("line"))
	if hasSource && hasLine {
		msg += " script: " + vm.run.Name + ", on " + cString(source) + ":" + cString(line) + "."
	}
	count := true
	if b, ok := t.RawGetString("ignore_error_stats_update").(glua.LBool); ok && bool(b) {
		count = false
	}
	return msg, count
}

// messagePosition reads the "user_script:12: " position a Lua error message starts with.
func messagePosition(msg string) (source, line string, ok bool) {
	for _, src := range []string{"user_script", "user_function"} {
		rest, found := strings.CutPrefix(msg, src+":")
		if !found {
			continue
		}
		n := 0
		for n < len(rest) && isDigit(rest[n]) {
			n++
		}
		if n > 0 && strings.HasPrefix(rest[n:], ": ") {
			return src, rest[:n], true
		}
	}
	return "", "", false
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// sanitizeError trims CR and LF at both ends and turns the ones inside into spaces, as
// Redis's addReplyErrorFormat does.
func sanitizeError(s string) string {
	s = strings.Trim(s, "\r\n")
	if strings.ContainsAny(s, "\r\n") {
		s = strings.Map(func(r rune) rune {
			if r == '\r' || r == '\n' {
				return ' '
			}
			return r
		}, s)
	}
	return s
}

// errorHandler is Redis's __redis__err__handler: it turns any error into a table with an
// err field ("ERR <text>" for a plain error value) and records the source and line of the
// Lua code where it happened (the caller, when a Go function raised it).
func (vm *VM) errorHandler(L *glua.LState) int {
	e := L.Get(1)
	dbg, ok := frameInfo(L, 1)
	if ok && dbg.What == "G" {
		dbg, ok = frameInfo(L, 2)
	}
	source := ""
	if ok {
		source = luaSource(dbg)
		if full, known := vm.chunks[dbg.Source]; known {
			source = full
		}
	}
	t, isTable := e.(*glua.LTable)
	if !isTable {
		t = L.NewTable()
		t.RawSetString("err", glua.LString("ERR "+luaMessage(tostring(e))))
	}
	if ok {
		t.RawSetString("source", glua.LString(source))
		t.RawSetString("line", glua.LNumber(dbg.CurrentLine))
	}
	L.Push(t)
	return 1
}

// luaMessage rewrites what gopher-lua's own functions raise into Lua 5.1's wording where the
// two differ only in form: "bad argument #1 to f (...)" is "bad argument #1 to 'f' (...)".
func luaMessage(msg string) string {
	i := strings.Index(msg, "bad argument #")
	if i < 0 {
		return msg
	}
	rest := msg[i+len("bad argument #"):]
	j := strings.Index(rest, " to ")
	if j < 0 {
		return msg
	}
	name := rest[j+4:]
	k := strings.Index(name, " (")
	if k <= 0 || strings.HasPrefix(name, "'") {
		return msg
	}
	return msg[:i] + "bad argument #" + rest[:j] + " to '" + name[:k] + "'" + name[k:]
}

// frameInfo is debug.getinfo(level, "Sl").
func frameInfo(L *glua.LState, level int) (*glua.Debug, bool) {
	dbg, ok := L.GetStack(level)
	if !ok {
		return nil, false
	}
	if _, err := L.GetInfo("Sl", dbg, glua.LNil); err != nil {
		return nil, false
	}
	return dbg, true
}

// luaSource is debug.getinfo's source: "@name" for a chunk loaded from Redis's code, "=[C]"
// for Go functions, the chunk name otherwise.
func luaSource(dbg *glua.Debug) string {
	switch {
	case dbg.What == "G":
		return "=[C]"
	case dbg.Source == "user_script" || dbg.Source == "user_function":
		return "@" + dbg.Source
	}
	return dbg.Source
}

// eachPair calls fn with every key and value of t in pairs' order (gopher-lua's ForEach
// walks a Go map, whose order changes from run to run).
func eachPair(t *glua.LTable, fn func(k, v glua.LValue)) {
	for k, v := t.Next(glua.LNil); k != glua.LNil; k, v = t.Next(k) {
		fn(k, v)
	}
}
