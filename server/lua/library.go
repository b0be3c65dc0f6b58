package lua

import (
	"context"
	"errors"
	"strings"
	"time"

	glua "github.com/yuin/gopher-lua"
)

// Function libraries (FUNCTION LOAD, FCALL), as Redis 7.0's function engine runs them.
//
// A library's code runs once when it is loaded, in an environment that holds only the
// load-time API (redis.register_function, redis.log, the LOG_* levels and the version);
// the callbacks it registers run later, on FCALL, with the full API. Every VM of the pool
// runs a library's code itself the first time it calls one of its functions, so each VM
// holds its own closures: a library that keeps state in upvalues sees one copy per VM.

// Library is a loaded function library.
type Library struct {
	Name      string
	Code      string
	Functions []*Function // in registration order
	proto     *glua.FunctionProto
}

// Function is one registered function.
type Function struct {
	Name string
	// Description is nil when none was given.
	Description *string
	Flags       Flags
	Library     *Library
}

// LoadTimeout bounds how long a library's code may run when it is loaded (Redis's 500 ms).
const LoadTimeout = 500 * time.Millisecond

// ParseLibraryHeader reads a library's "#!<engine> name=<name>" first line. Errors are
// Redis's replies (without '-').
func ParseLibraryHeader(code string) (name string, err error) {
	if !strings.HasPrefix(code, "#!") {
		return "", errors.New("ERR Missing library metadata")
	}
	nl := strings.IndexByte(code, '\n')
	if nl < 0 {
		return "", errors.New("ERR Invalid library metadata")
	}
	parts := splitArgs(code[:nl])
	if len(parts) == 0 {
		return "", errors.New("ERR Invalid library metadata")
	}
	engine := parts[0][2:]
	hasName := false
	for _, p := range parts[1:] {
		if len(p) >= 5 && strings.EqualFold(p[:5], "name=") {
			if hasName {
				return "", errors.New("ERR Invalid metadata value, name argument was given multiple times")
			}
			name, hasName = p[5:], true
			continue
		}
		return "", errors.New("ERR Invalid metadata value given: " + p)
	}
	if !hasName {
		return "", errors.New("ERR Library name was not given")
	}
	if !validName(name) {
		return "", errNameChars
	}
	if !strings.EqualFold(engine, "lua") {
		return "", errors.New("ERR Engine '" + engine + "' not found")
	}
	return name, nil
}

// errNameChars is what Redis 7.0 answers to a bad library or function name (it uses the
// library wording for both).
var errNameChars = errors.New("ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long")

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || isDigit(c) || (lower(c) >= 'a' && lower(c) <= 'z')) {
			return false
		}
	}
	return true
}

// libState is what a VM holds of one library: its registered callbacks, by lowercase name
// (function names ignore case, as in Redis).
type libState struct {
	lib *Library
	fns map[string]*glua.LFunction
}

// LoadLibrary compiles a library named name (see ParseLibraryHeader) and runs its code to
// collect the functions it registers. Errors are Redis's replies (without '-').
func (vm *VM) LoadLibrary(code, name string) (*Library, error) {
	body := code
	if nl := strings.IndexByte(code, '\n'); nl >= 0 {
		body = code[nl:] // without the shebang, keeping its newline so line numbers hold
	}
	proto, msg := compile(body, "user_function")
	if proto == nil {
		return nil, errors.New(sanitizeError("ERR Error compiling function: " + msg))
	}
	lib := &Library{Name: name, Code: code, proto: proto}
	st, err := vm.runLibrary(lib, true)
	if err != nil {
		return nil, err
	}
	if len(lib.Functions) == 0 {
		return nil, errors.New("ERR No functions registered")
	}
	vm.libs[lib] = st
	return lib, nil
}

// runLibrary runs lib's code in load mode. When register is set the functions it registers
// are added to lib; otherwise (a VM catching up with a library loaded elsewhere) only their
// callbacks are collected.
func (vm *VM) runLibrary(lib *Library, register bool) (*libState, error) {
	L := vm.L
	st := &libState{lib: lib, fns: map[string]*glua.LFunction{}}
	vm.loading = &loadCtx{st: st, register: register}
	vm.envMeta.RawSetString("__index", vm.loadAPI)
	ctx, cancel := context.WithTimeout(context.Background(), LoadTimeout)
	L.SetContext(ctx)
	defer func() {
		cancel()
		vm.mu.Lock()
		L.SetContext(vm.ctx)
		vm.mu.Unlock()
		vm.envMeta.RawSetString("__index", vm.real)
		vm.loading = nil
		L.SetTop(0)
	}()
	L.SetTop(0)
	L.Push(L.NewFunctionFromProto(lib.proto))
	if err := L.PCall(0, 0, nil); err != nil {
		if ctx.Err() != nil {
			return nil, errors.New("ERR Error registering functions: ERR FUNCTION LOAD timeout")
		}
		msg := "ERR " + err.Error()
		if ae, ok := err.(*glua.ApiError); ok {
			if t, ok := ae.Object.(*glua.LTable); ok {
				msg, _ = asString(t.RawGetString("err"))
			} else if s, ok := asString(ae.Object); ok {
				msg = "ERR " + s
			}
		}
		return nil, errors.New(sanitizeError("ERR Error registering functions: " + cString(msg)))
	}
	return st, nil
}

type loadCtx struct {
	st       *libState
	register bool
}

// libraryAPI builds what library code sees while it is loaded.
func (vm *VM) libraryAPI() *glua.LTable {
	L := vm.L
	redis := L.NewTable()
	redis.RawSetString("register_function", L.NewFunction(vm.registerFunction))
	vm.setLogAndVersion(redis)
	errMeta := L.NewTable()
	errMeta.RawSetString("__index", L.NewFunction(nonexistentGlobal))
	redis.Metatable = errMeta
	api := L.NewTable()
	api.RawSetString("redis", vm.readonly(redis))
	api.Metatable = errMeta
	return api
}

func (vm *VM) registerFunction(L *glua.LState) int {
	if vm.loading == nil {
		L.Error(errorTable(L, "redis.register_function can only be called on FUNCTION LOAD command"), 0)
	}
	fail := func(msg string) { L.Error(errorTable(L, msg), 0) }
	var (
		name, desc string
		hasName    bool
		hasDesc    bool
		callback   *glua.LFunction
		flags      Flags
	)
	switch L.GetTop() {
	case 1:
		t, ok := L.Get(1).(*glua.LTable)
		if !ok {
			fail("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).")
		}
		t = vm.through(t)
		for k, v := t.Next(glua.LNil); k != glua.LNil; k, v = t.Next(k) {
			key, ok := asString(k)
			if !ok {
				fail("named argument key given to redis.register_function is not a string")
			}
			switch strings.ToLower(cString(key)) {
			case "function_name":
				if name, hasName = asString(v); !hasName {
					fail("function_name argument given to redis.register_function must be a string")
				}
			case "description":
				if desc, hasDesc = asString(v); !hasDesc {
					fail("description argument given to redis.register_function must be a string")
				}
			case "callback":
				fn, ok := v.(*glua.LFunction)
				if !ok {
					fail("callback argument given to redis.register_function must be a function")
				}
				callback = fn
			case "flags":
				ft, ok := v.(*glua.LTable)
				if !ok {
					fail("flags argument to redis.register_function must be a table representing function flags")
				}
				f, ok := readFlags(vm.through(ft))
				if !ok {
					fail("unknown flag given")
				}
				flags = f
			default:
				fail("unknown argument given to redis.register_function")
			}
		}
		if !hasName {
			fail("redis.register_function must get a function name argument")
		}
		if callback == nil {
			fail("redis.register_function must get a callback argument")
		}
	case 2:
		if name, hasName = asString(L.Get(1)); !hasName {
			fail("first argument to redis.register_function must be a string")
		}
		fn, ok := L.Get(2).(*glua.LFunction)
		if !ok {
			fail("second argument to redis.register_function must be a function")
		}
		callback = fn
	default:
		fail("wrong number of arguments to redis.register_function")
	}
	if !validName(name) {
		fail(errNameChars.Error()[4:])
	}
	st := vm.loading.st
	key := strings.ToLower(name)
	if _, dup := st.fns[key]; dup {
		fail("Function already exists in the library")
	}
	st.fns[key] = callback
	if vm.loading.register {
		f := &Function{Name: name, Flags: flags, Library: st.lib}
		if hasDesc {
			d := desc
			f.Description = &d
		}
		st.lib.Functions = append(st.lib.Functions, f)
	}
	return 0
}

func readFlags(t *glua.LTable) (Flags, bool) {
	var flags Flags
	for i := 1; ; i++ {
		v := t.RawGetInt(i)
		if v == glua.LNil {
			return flags, true
		}
		s, ok := asString(v)
		if !ok {
			return 0, false
		}
		f, ok := flagByName(cString(s), true)
		if !ok {
			return 0, false
		}
		flags |= f
	}
}

// RunFunction runs a registered function with the keys and arguments tables. gen names the
// set of libraries the server holds: a VM that last saw another set forgets its callbacks.
func (vm *VM) RunFunction(fn *Function, gen uint64, inv *Invocation) Outcome {
	if gen != vm.libGen {
		clear(vm.libs)
		vm.libGen = gen
	}
	st, ok := vm.libs[fn.Library]
	if !ok {
		var err error
		if st, err = vm.runLibrary(fn.Library, false); err != nil {
			return Outcome{Err: err.Error(), CountError: true}
		}
		vm.libs[fn.Library] = st
	}
	callback := st.fns[strings.ToLower(fn.Name)]
	vm.begin(inv)
	defer vm.end()
	return vm.call(callback, "@user_function", vm.stringArray(inv.Keys), vm.stringArray(inv.Args))
}
