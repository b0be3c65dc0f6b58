package lua

import (
	"math"
	"strings"

	glua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

// The base library as Redis's Lua 5.1 has it, where gopher-lua's differs visibly.

func (vm *VM) overrideBase() {
	L := vm.L
	set := func(name string, fn glua.LGFunction) { vm.real.RawSetString(name, L.NewFunction(fn)) }
	set("tostring", baseTostring)
	set("tonumber", baseTonumber)
	set("error", baseError)
	set("pcall", basePcall)
	set("next", vm.baseNext)
	set("gcinfo", baseGcinfo)
	set("collectgarbage", baseCollectgarbage)
	set("rawget", vm.baseRawget)
	set("rawset", vm.baseRawset)
	set("getmetatable", vm.baseGetmetatable)
	set("setmetatable", vm.baseSetmetatable)
	set("loadstring", vm.baseLoadstring)
	set("unpack", vm.baseUnpack)
	next := vm.real.RawGetString("next")
	vm.real.RawSetString("pairs", L.NewClosure(vm.basePairs, next))
	vm.real.RawSetString("ipairs", L.NewClosure(vm.baseIpairs, L.NewFunction(vm.ipairsStep)))
}

// fixLibraries makes string, math and table hold what Lua 5.1's do, with Redis's random.
func (vm *VM) fixLibraries() {
	L := vm.L
	str := vm.real.RawGetString("string").(*glua.LTable)
	// gopher-lua makes the string table its own metatable; Lua's string metatable is a
	// table of its own whose __index is the string table.
	str.RawSetString("__index", glua.LNil)
	strMeta := L.NewTable()
	strMeta.RawSetString("__index", str)
	L.SetMetatable(glua.LString(""), strMeta)
	for _, name := range []string{"find", "match", "gmatch", "gsub"} {
		orig := str.RawGetString(name).(*glua.LFunction)
		upvalues := make([]glua.LValue, len(orig.Upvalues))
		for i, uv := range orig.Upvalues {
			upvalues[i] = uv.Value()
		}
		str.RawSetString(name, L.NewClosure(capturesChecked(orig.GFunction), upvalues...))
	}
	str.RawSetString("gfind", str.RawGetString("gmatch"))
	str.RawSetString("rep", L.NewFunction(stringRep))
	str.RawSetString("format", L.NewFunction(stringFormat))
	vm.stringMeta = strMeta
	mathLib := vm.real.RawGetString("math").(*glua.LTable)
	mathLib.RawSetString("random", L.NewFunction(vm.mathRandom))
	mathLib.RawSetString("randomseed", L.NewFunction(vm.mathRandomseed))
	mathLib.RawSetString("atan2", L.NewFunction(mathAtan2))
	mathLib.RawSetString("log10", L.NewFunction(mathLog10))
	tbl := vm.real.RawGetString("table").(*glua.LTable)
	tbl.RawSetString("foreach", L.NewFunction(vm.tableForeach))
	tbl.RawSetString("foreachi", L.NewFunction(vm.tableForeachi))
	tbl.RawSetString("setn", L.NewFunction(tableSetn))
}

// tostring is Lua's tostring of a value: numbers in "%.14g".
func tostring(v glua.LValue) string {
	switch x := v.(type) {
	case glua.LNumber:
		return formatNumber(float64(x))
	case glua.LString:
		return string(x)
	case glua.LBool:
		if x {
			return "true"
		}
		return "false"
	case *glua.LNilType:
		return "nil"
	}
	return v.String()
}

func baseTostring(L *glua.LState) int {
	if L.GetTop() < 1 {
		argError(L, 1, "tostring", "value expected")
	}
	v := L.Get(1)
	if mm := L.GetMetaField(v, "__tostring"); mm != glua.LNil {
		L.Push(mm)
		L.Push(v)
		L.Call(1, 1)
		return 1
	}
	L.Push(glua.LString(tostring(v)))
	return 1
}

func baseTonumber(L *glua.LState) int {
	base := 10
	if L.GetTop() >= 2 && L.Get(2) != glua.LNil {
		base = checkInt(L, 2, "tonumber")
	}
	if base == 10 {
		if L.GetTop() < 1 {
			argError(L, 1, "tonumber", "value expected")
		}
		if f, ok := toNumber(L.Get(1)); ok {
			L.Push(glua.LNumber(f))
			return 1
		}
		L.Push(glua.LNil)
		return 1
	}
	s := checkString(L, 1, "tonumber")
	if base < 2 || base > 36 {
		argError(L, 2, "tonumber", "base out of range")
	}
	b := []byte(cString(s))
	n, used := strtoul(b, base)
	if used > 0 {
		for used < len(b) && isSpace(b[used]) {
			used++
		}
		if used == len(b) {
			L.Push(glua.LNumber(float64(n)))
			return 1
		}
	}
	L.Push(glua.LNil)
	return 1
}

// error(message [, level]): strings and numbers get the position of the function at level.
func baseError(L *glua.LState) int {
	level := 1
	if L.GetTop() >= 2 && L.Get(2) != glua.LNil {
		level = checkInt(L, 2, "error")
	}
	v := L.Get(1)
	if s, ok := asString(v); ok && level > 0 {
		L.Error(glua.LString(where(L, level)+s), 0)
	}
	L.Error(v, 0)
	return 0
}

// pcall as Redis replaces it: an error table with an err field is returned as that string.
func basePcall(L *glua.LState) int {
	if L.GetTop() < 1 {
		argError(L, 1, "pcall", "value expected")
	}
	fn := L.Get(1)
	if fn.Type() != glua.LTFunction && L.GetMetaField(fn, "__call").Type() != glua.LTFunction {
		L.SetTop(0)
		L.Push(glua.LFalse)
		L.Push(glua.LString("attempt to call a " + typeName(fn) + " value"))
		return 2
	}
	if err := L.PCall(L.GetTop()-1, glua.MultRet, nil); err != nil {
		var obj glua.LValue = glua.LString(err.Error())
		if ae, ok := err.(*glua.ApiError); ok {
			obj = ae.Object
		}
		switch o := obj.(type) {
		case *glua.LTable:
			if s, ok := o.RawGetString("err").(glua.LString); ok {
				obj = s
			}
		case glua.LString:
			obj = glua.LString(luaMessage(string(o)))
		}
		L.SetTop(0)
		L.Push(glua.LFalse)
		L.Push(obj)
		return 2
	}
	L.Insert(glua.LTrue, 1)
	return L.GetTop()
}

func (vm *VM) checkTable(L *glua.LState, n int, fname string) *glua.LTable {
	t, ok := L.Get(n).(*glua.LTable)
	if !ok {
		typeError(L, n, fname, "table")
	}
	return t
}

func (vm *VM) baseNext(L *glua.LState) int {
	t := vm.through(vm.checkTable(L, 1, "next"))
	k, v := t.Next(L.Get(2))
	if k == glua.LNil {
		L.Push(glua.LNil)
		return 1
	}
	L.Push(k)
	L.Push(v)
	return 2
}

func (vm *VM) basePairs(L *glua.LState) int {
	t := vm.checkTable(L, 1, "pairs")
	L.Push(L.Get(glua.UpvalueIndex(1)))
	L.Push(t)
	L.Push(glua.LNil)
	return 3
}

func (vm *VM) baseIpairs(L *glua.LState) int {
	t := vm.checkTable(L, 1, "ipairs")
	L.Push(L.Get(glua.UpvalueIndex(1)))
	L.Push(t)
	L.Push(glua.LNumber(0))
	return 3
}

func (vm *VM) ipairsStep(L *glua.LState) int {
	t := vm.through(vm.checkTable(L, 1, "ipairs"))
	i := checkInt(L, 2, "ipairs") + 1
	v := t.RawGetInt(i)
	if v == glua.LNil {
		return 0
	}
	L.Push(glua.LNumber(i))
	L.Push(v)
	return 2
}

func (vm *VM) baseRawget(L *glua.LState) int {
	t := vm.through(vm.checkTable(L, 1, "rawget"))
	if L.GetTop() < 2 {
		argError(L, 2, "rawget", "value expected")
	}
	L.Push(t.RawGet(L.Get(2)))
	return 1
}

func (vm *VM) baseRawset(L *glua.LState) int {
	t := vm.checkTable(L, 1, "rawset")
	if L.GetTop() < 2 {
		argError(L, 2, "rawset", "value expected")
	}
	if L.GetTop() < 3 {
		argError(L, 3, "rawset", "value expected")
	}
	if _, ro := vm.proxies[t]; ro {
		L.Error(glua.LString("Attempt to modify a readonly table"), 0)
	}
	k := L.Get(2)
	if k == glua.LNil {
		raise(L, "table index is nil")
	}
	if f, ok := k.(glua.LNumber); ok && f != f {
		raise(L, "table index is NaN")
	}
	t.RawSet(k, L.Get(3))
	L.SetTop(1)
	return 1
}

func (vm *VM) baseGetmetatable(L *glua.LState) int {
	if L.GetTop() < 1 {
		argError(L, 1, "getmetatable", "value expected")
	}
	v := L.Get(1)
	if _, ok := v.(glua.LString); ok {
		L.Push(vm.stringMetaRO) // shared by every string: read-only, as Redis protects it
		return 1
	}
	if t, ok := v.(*glua.LTable); ok {
		if _, ro := vm.proxies[t]; ro {
			L.Push(glua.LNil)
			return 1
		}
	}
	mt := L.GetMetatable(v)
	if mt == glua.LNil {
		L.Push(glua.LNil)
		return 1
	}
	if t, ok := mt.(*glua.LTable); ok {
		if protected := t.RawGetString("__metatable"); protected != glua.LNil {
			L.Push(protected)
			return 1
		}
	}
	L.Push(mt)
	return 1
}

func (vm *VM) baseSetmetatable(L *glua.LState) int {
	t := vm.checkTable(L, 1, "setmetatable")
	mt := L.Get(2)
	if _, ok := mt.(*glua.LTable); !ok && mt != glua.LNil {
		typeError(L, 2, "setmetatable", "nil or table")
	}
	if _, ro := vm.proxies[t]; ro {
		L.Error(glua.LString("Attempt to modify a readonly table"), 0)
	}
	if old, ok := t.Metatable.(*glua.LTable); ok && old.RawGetString("__metatable") != glua.LNil {
		raise(L, "cannot change a protected metatable")
	}
	L.SetMetatable(t, mt)
	L.SetTop(1)
	return 1
}

// collectgarbage: Go's collector does the work; the options answer as Lua 5.1's do.
func baseCollectgarbage(L *glua.LState) int {
	opt := "collect"
	if L.GetTop() >= 1 && L.Get(1) != glua.LNil {
		opt = checkString(L, 1, "collectgarbage")
	}
	switch opt {
	case "count":
		L.Push(glua.LNumber(64))
	case "step":
		L.Push(glua.LFalse)
	case "collect", "stop", "restart", "setpause", "setstepmul":
		L.Push(glua.LNumber(0))
	default:
		argError(L, 1, "collectgarbage", "invalid option '"+cString(opt)+"'")
	}
	return 1
}

// unpack(t [, i [, j]]) refuses more results than Lua 5.1's C stack holds (LUAI_MAXCSTACK).
func (vm *VM) baseUnpack(L *glua.LState) int {
	t := vm.through(vm.checkTable(L, 1, "unpack"))
	i := 1
	if L.GetTop() >= 2 && L.Get(2) != glua.LNil {
		i = checkInt(L, 2, "unpack")
	}
	j := t.Len()
	if L.GetTop() >= 3 && L.Get(3) != glua.LNil {
		j = checkInt(L, 3, "unpack")
	}
	if i > j {
		return 0
	}
	n := int64(j) - int64(i) + 1
	if n >= math.MaxInt32 || int64(L.GetTop())+n > luaStackLimit {
		raise(L, "too many results to unpack")
	}
	for k := i; k <= j; k++ {
		L.Push(t.RawGetInt(k))
	}
	return int(n)
}

func baseGcinfo(L *glua.LState) int {
	L.Push(glua.LNumber(64))
	return 1
}

// loadstring(s [, chunkname]) names the chunk as Lua 5.1 does ([string "..."]).
func (vm *VM) baseLoadstring(L *glua.LState) int {
	src := checkString(L, 1, "loadstring")
	name := src
	if L.GetTop() >= 2 && L.Get(2) != glua.LNil {
		name = checkString(L, 2, "loadstring")
	}
	id := chunkID(name)
	vm.rememberChunk(id, name)
	proto, msg := compile(src, id)
	if proto == nil {
		L.Push(glua.LNil)
		L.Push(glua.LString(msg))
		return 2
	}
	L.Push(L.NewFunctionFromProto(proto))
	return 1
}

// rememberChunk records the source name behind a chunk's display name, which is what
// Redis's error replies name ("on <source>:<line>").
func (vm *VM) rememberChunk(id, name string) {
	if len(vm.chunks) > 256 {
		clear(vm.chunks)
	}
	vm.chunks[id] = name
}

// chunkID is Lua 5.1's luaO_chunkid: how a chunk name appears in messages.
func chunkID(name string) string {
	if strings.HasPrefix(name, "=") || strings.HasPrefix(name, "@") {
		return truncate(name[1:], 59)
	}
	n := strings.IndexAny(name, "\n\r")
	if n < 0 {
		n = len(name)
	}
	const room = 60 - 17
	n = min(n, room)
	if n < len(name) {
		return `[string "` + name[:n] + `..."]`
	}
	return `[string "` + name + `"]`
}

// compile compiles Lua source into a prototype; on failure it returns Lua's message:
// "name:line: reason near 'token'".
func compile(src, name string) (*glua.FunctionProto, string) {
	if msg := checkNesting(src, name); msg != "" {
		return nil, msg
	}
	chunk, err := parse.Parse(strings.NewReader(src), name)
	if err != nil {
		if pe, ok := err.(*parse.Error); ok {
			line := pe.Pos.Line
			tok := pe.Token
			if line == parse.EOF || line <= 0 {
				line = strings.Count(src, "\n") + 1
				tok = "<eof>"
			}
			reason := pe.Message
			switch reason {
			case "syntax error":
				reason = "unexpected symbol"
			case "unterminated string":
				reason = "unfinished string"
			}
			return nil, name + ":" + itoa(int64(line)) + ": " + reason + " near '" + tok + "'"
		}
		return nil, name + ": " + err.Error()
	}
	if treeTooDeep(chunk) {
		return nil, name + ":1: chunk has too many syntax levels"
	}
	proto, err := glua.Compile(chunk, name)
	if err != nil {
		if ce, ok := err.(*glua.CompileError); ok {
			return nil, name + ":" + itoa(int64(ce.Line)) + ": " + ce.Message
		}
		return nil, name + ": " + err.Error()
	}
	// A main chunk is vararg but has no implicit "arg" table in Lua 5.1; gopher-lua would
	// build one (unreachable: no local names it) at every call.
	proto.IsVarArg &^= glua.VarArgNeedsArg
	return proto, ""
}

// maxCaptures is Lua 5.1's LUA_MAXCAPTURES.
const maxCaptures = 32

// capturesChecked refuses patterns with more captures than Lua 5.1 allows ("too many
// captures") before gopher-lua's pattern compiler, which recurses on every '(', sees them.
func capturesChecked(fn glua.LGFunction) glua.LGFunction {
	return func(L *glua.LState) int {
		if p, ok := asString(L.Get(2)); ok && countCaptures(p) > maxCaptures {
			raise(L, "too many captures")
		}
		return fn(L)
	}
}

// countCaptures counts the '(' of a pattern outside escapes and sets.
func countCaptures(p string) int {
	n := 0
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '%':
			i++
		case '[':
			i++
			if i < len(p) && p[i] == '^' {
				i++
			}
			for first := true; i < len(p) && (first || p[i] != ']'); first = false {
				if p[i] == '%' {
					i++
				}
				i++
			}
		case '(':
			n++
		}
	}
	return n
}

// string.rep refuses results that could not be allocated, where Lua reports "not enough
// memory".
func stringRep(L *glua.LState) int {
	s := checkString(L, 1, "rep")
	n := checkInt(L, 2, "rep")
	if n <= 0 || s == "" {
		L.Push(glua.LString(""))
		return 1
	}
	if int64(len(s))*int64(n) > maxLuaString {
		L.Error(glua.LString("not enough memory"), 0)
	}
	L.Push(glua.LString(strings.Repeat(s, n)))
	return 1
}

// maxLuaString bounds the strings a script may build in one step (Redis's proto-max-bulk-len
// default), so that a script cannot exhaust the server's memory with one call.
const maxLuaString = 512 << 20

func mathAtan2(L *glua.LState) int {
	y := checkNumber(L, 1, "atan2")
	x := checkNumber(L, 2, "atan2")
	L.Push(glua.LNumber(math.Atan2(y, x)))
	return 1
}

func mathLog10(L *glua.LState) int {
	L.Push(glua.LNumber(math.Log10(checkNumber(L, 1, "log10"))))
	return 1
}

func (vm *VM) tableForeach(L *glua.LState) int {
	t := vm.through(vm.checkTable(L, 1, "foreach"))
	fn := L.CheckFunction(2)
	k, v := t.Next(glua.LNil)
	for k != glua.LNil {
		L.Push(fn)
		L.Push(k)
		L.Push(v)
		L.Call(2, 1)
		if r := L.Get(-1); r != glua.LNil {
			return 1
		}
		L.Pop(1)
		k, v = t.Next(k)
	}
	return 0
}

func (vm *VM) tableForeachi(L *glua.LState) int {
	t := vm.through(vm.checkTable(L, 1, "foreachi"))
	fn := L.CheckFunction(2)
	n := t.Len()
	for i := 1; i <= n; i++ {
		L.Push(fn)
		L.Push(glua.LNumber(i))
		L.Push(t.RawGetInt(i))
		L.Call(2, 1)
		if r := L.Get(-1); r != glua.LNil {
			return 1
		}
		L.Pop(1)
	}
	return 0
}

func tableSetn(L *glua.LState) int {
	raise(L, "'setn' is obsolete")
	return 0
}
