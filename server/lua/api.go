package lua

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"math"
	"strings"

	glua "github.com/yuin/gopher-lua"
)

// Flags are the script flags of a shebang or of redis.register_function.
type Flags uint8

const (
	FlagNoWrites Flags = 1 << iota
	FlagAllowOOM
	FlagAllowStale
	FlagNoCluster
	FlagAllowCrossSlotKeys
)

// flagNames lists the flags in Redis's order (FUNCTION LIST prints them in it).
var flagNames = []struct {
	flag Flags
	name string
}{
	{FlagNoWrites, "no-writes"}, {FlagAllowOOM, "allow-oom"}, {FlagAllowStale, "allow-stale"},
	{FlagNoCluster, "no-cluster"}, {FlagAllowCrossSlotKeys, "allow-cross-slot-keys"},
}

// Names returns the flags' names in Redis's order.
func (f Flags) Names() []string {
	var out []string
	for _, fl := range flagNames {
		if f&fl.flag != 0 {
			out = append(out, fl.name)
		}
	}
	return out
}

func flagByName(name string, fold bool) (Flags, bool) {
	for _, fl := range flagNames {
		if fl.name == name || fold && strings.EqualFold(fl.name, name) {
			return fl.flag, true
		}
	}
	return 0, false
}

// Script is a compiled EVAL script.
type Script struct {
	SHA  string
	Body string
	// Shebang says the script began with "#!lua": its Flags apply. Without one, the script
	// runs in Redis's compatibility mode (it may write, whatever the flags).
	Shebang bool
	Flags   Flags
	proto   *glua.FunctionProto
}

// SHA1Hex is Redis's sha1hex: the lowercase hex SHA1 of s.
func SHA1Hex(s string) string {
	sum := sha1.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// CompileScript compiles an EVAL script. Errors are Redis's replies (without '-').
func CompileScript(body string) (*Script, error) {
	sc := &Script{SHA: SHA1Hex(body), Body: body}
	code := body
	if strings.HasPrefix(body, "#!") {
		nl := strings.IndexByte(body, '\n')
		if nl < 0 {
			return nil, errors.New("ERR Invalid script shebang")
		}
		parts := splitArgs(body[:nl])
		if len(parts) == 0 || parts[0] != "#!lua" {
			engine := ""
			if len(parts) > 0 {
				engine = parts[0]
			}
			return nil, errors.New("ERR Unexpected engine in script shebang: " + engine)
		}
		for _, p := range parts[1:] {
			list, ok := strings.CutPrefix(p, "flags=")
			if !ok {
				return nil, errors.New("ERR Unknown lua shebang option: " + p)
			}
			if list == "" {
				continue
			}
			for _, name := range strings.Split(list, ",") {
				f, ok := flagByName(name, false)
				if !ok {
					return nil, errors.New("ERR Unexpected flag in script shebang: " + name)
				}
				sc.Flags |= f
			}
		}
		sc.Shebang = true
		code = body[nl:] // keep the newline, so that line numbers stay those of the body
	}
	proto, msg := compile(code, "user_script")
	if proto == nil {
		return nil, errors.New(sanitizeError("ERR Error compiling script (new function): " + msg))
	}
	sc.proto = proto
	return sc, nil
}

// splitArgs splits a shebang line into words as Redis's sdssplitargs does for the simple
// forms a shebang uses: white space separates words; double or single quotes group.
func splitArgs(s string) []string {
	var out []string
	i := 0
	for {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i >= len(s) {
			return out
		}
		var word strings.Builder
		for i < len(s) && !isSpace(s[i]) {
			if q := s[i]; q == '"' || q == '\'' {
				end := strings.IndexByte(s[i+1:], q)
				if end < 0 {
					word.WriteString(s[i:])
					i = len(s)
					break
				}
				word.WriteString(s[i+1 : i+1+end])
				i += end + 2
				continue
			}
			word.WriteByte(s[i])
			i++
		}
		out = append(out, word.String())
	}
}

// RunScript runs an EVAL script. KEYS and ARGV become globals, as in Redis.
func (vm *VM) RunScript(sc *Script, inv *Invocation) Outcome {
	vm.begin(inv)
	defer vm.end()
	if len(vm.fns) > 1024 {
		clear(vm.fns)
	}
	fn, ok := vm.fns[sc.proto]
	if !ok {
		fn = vm.L.NewFunctionFromProto(sc.proto)
		vm.fns[sc.proto] = fn
	}
	vm.real.RawSetString("KEYS", vm.stringArray(inv.Keys))
	vm.real.RawSetString("ARGV", vm.stringArray(inv.Args))
	return vm.call(fn, "@user_script")
}

func (vm *VM) stringArray(items [][]byte) *glua.LTable {
	t := vm.L.CreateTable(len(items), 0)
	for i, it := range items {
		t.RawSetInt(i+1, glua.LString(it))
	}
	return t
}

// redisLib builds the redis table.
func (vm *VM) redisLib() *glua.LTable {
	L := vm.L
	t := L.NewTable()
	fns := map[string]glua.LGFunction{
		"call":               func(L *glua.LState) int { return vm.redisCall(L, true) },
		"pcall":              func(L *glua.LState) int { return vm.redisCall(L, false) },
		"log":                vm.redisLog,
		"setresp":            vm.redisSetresp,
		"sha1hex":            redisSha1hex,
		"error_reply":        redisErrorReply,
		"status_reply":       redisStatusReply,
		"set_repl":           vm.redisSetRepl,
		"acl_check_cmd":      vm.redisACLCheck,
		"breakpoint":         func(L *glua.LState) int { L.Push(glua.LFalse); return 1 },
		"debug":              func(L *glua.LState) int { return 0 },
		"replicate_commands": func(L *glua.LState) int { L.Push(glua.LTrue); return 1 },
	}
	for name, fn := range fns {
		t.RawSetString(name, L.NewFunction(fn))
	}
	vm.setLogAndVersion(t)
	for name, v := range map[string]int{"REPL_NONE": 0, "REPL_AOF": 1, "REPL_SLAVE": 2,
		"REPL_REPLICA": 2, "REPL_ALL": 3} {
		t.RawSetString(name, glua.LNumber(v))
	}
	return t
}

func (vm *VM) setLogAndVersion(t *glua.LTable) {
	t.RawSetString("log", vm.L.NewFunction(vm.redisLog))
	for name, v := range map[string]int{"LOG_DEBUG": LogDebug, "LOG_VERBOSE": LogVerbose,
		"LOG_NOTICE": LogNotice, "LOG_WARNING": LogWarning} {
		t.RawSetString(name, glua.LNumber(v))
	}
	t.RawSetString("REDIS_VERSION", glua.LString(vm.env.Version))
	t.RawSetString("REDIS_VERSION_NUM", glua.LNumber(vm.env.VersionNum))
}

// errorTable is luaPushErrorBuff: "-CODE msg" keeps its code, anything else is an ERR.
func errorTable(L *glua.LState, text string) *glua.LTable {
	code, msg := "ERR", text
	if strings.HasPrefix(text, "-") {
		if sp := strings.IndexByte(text, ' '); sp >= 0 {
			code, msg = text[1:sp], text[sp+1:]
		} else {
			msg = text[1:]
		}
	}
	t := L.CreateTable(0, 2)
	t.RawSetString("err", glua.LString(cString(code+" "+strings.Trim(msg, "\r\n"))))
	return t
}

// convertArgs is luaArgsToRedisArgv: strings as they are, numbers in "%.17g". The slices
// share one buffer, reused by the next call.
func (vm *VM) convertArgs(L *glua.LState) ([][]byte, string) {
	n := L.GetTop()
	if n == 0 {
		return nil, "Please specify at least one argument for this redis lib call"
	}
	buf := vm.argBuf[:0]
	ends := vm.argEnds[:0]
	for i := 1; i <= n; i++ {
		switch v := L.Get(i).(type) {
		case glua.LString:
			buf = append(buf, v...)
		case glua.LNumber:
			buf = appendG(buf, float64(v), 17)
		default:
			return nil, "Lua redis lib command arguments must be strings or integers"
		}
		ends = append(ends, len(buf))
	}
	args := vm.argList[:0]
	start := 0
	for _, e := range ends {
		args = append(args, buf[start:e:e])
		start = e
	}
	vm.argBuf, vm.argEnds, vm.argList = buf, ends, args
	return args, ""
}

// redisCall is redis.call (raise) and redis.pcall.
func (vm *VM) redisCall(L *glua.LState, raise bool) int {
	if vm.run == nil {
		L.Error(errorTable(L, "redis.call/pcall can only be called inside a script invocation"), 0)
	}
	args, bad := vm.convertArgs(L)
	L.SetTop(0)
	if bad != "" {
		t := errorTable(L, bad)
		if raise {
			L.Error(t, 0)
		}
		L.Push(t)
		return 1
	}
	reply, refused := vm.run.Host.Command(args, vm.resp)
	if refused != "" {
		t := errorTable(L, refused)
		t.RawSetString("ignore_error_stats_update", glua.LTrue)
		if raise {
			L.Error(t, 0)
		}
		L.Push(t)
		return 1
	}
	v := parseReply(L, reply)
	if raise && len(reply) > 0 && reply[0] == '-' {
		L.Error(v, 0)
	}
	L.Push(v)
	return 1
}

func (vm *VM) redisLog(L *glua.LState) int {
	argc := L.GetTop()
	if argc < 2 {
		L.Error(errorTable(L, "redis.log() requires two arguments or more."), 0)
	}
	f, ok := toNumber(L.Get(1))
	if !ok {
		L.Error(errorTable(L, "First argument must be a number (log level)."), 0)
	}
	level := int(toInt32(f))
	if level < LogDebug || level > LogWarning {
		L.Error(errorTable(L, "Invalid debug level."), 0)
	}
	if vm.env.Log == nil || vm.env.Verbosity != nil && level < vm.env.Verbosity() {
		return 0
	}
	var msg strings.Builder
	for j := 2; j <= argc; j++ {
		if j != 2 {
			msg.WriteByte(' ')
		}
		if s, ok := asString(L.Get(j)); ok {
			msg.WriteString(s)
		}
	}
	vm.env.Log(level, msg.String())
	return 0
}

func (vm *VM) redisSetresp(L *glua.LState) int {
	if vm.run == nil {
		L.Error(errorTable(L, "redis.setresp can only be called inside a script invocation"), 0)
	}
	if L.GetTop() != 1 {
		L.Error(errorTable(L, "redis.setresp() requires one argument."), 0)
	}
	f, _ := toNumber(L.Get(1))
	resp := int(toInt32(f))
	if resp != 2 && resp != 3 {
		L.Error(errorTable(L, "RESP version must be 2 or 3."), 0)
	}
	vm.resp = resp
	return 0
}

func (vm *VM) redisSetRepl(L *glua.LState) int {
	if vm.run == nil {
		L.Error(errorTable(L, "redis.set_repl can only be called inside a script invocation"), 0)
	}
	if L.GetTop() != 1 {
		L.Error(errorTable(L, "redis.set_repl() requires two arguments."), 0)
	}
	f, _ := toNumber(L.Get(1))
	if int(toInt32(f))&^3 != 0 {
		L.Error(errorTable(L, "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE."), 0)
	}
	return 0
}

func (vm *VM) redisACLCheck(L *glua.LState) int {
	if vm.run == nil {
		L.Error(errorTable(L, "redis.acl_check_cmd can only be called inside a script invocation"), 0)
	}
	args, bad := vm.convertArgs(L)
	if bad != "" {
		L.Error(errorTable(L, bad), 0)
	}
	found, allowed := vm.run.Host.CheckACL(args)
	if !found {
		L.Error(errorTable(L, "Invalid command passed to redis.acl_check_cmd()"), 0)
	}
	L.Push(glua.LBool(allowed))
	return 1
}

func redisSha1hex(L *glua.LState) int {
	if L.GetTop() != 1 {
		L.Error(errorTable(L, "wrong number of arguments"), 0)
	}
	s, _ := asString(L.Get(1))
	L.Push(glua.LString(SHA1Hex(s)))
	return 1
}

func redisErrorReply(L *glua.LState) int {
	s, ok := L.Get(1).(glua.LString)
	if L.GetTop() != 1 || !ok {
		L.Push(errorTable(L, "wrong number or type of arguments"))
		return 1
	}
	text := cString(string(s))
	if !strings.HasPrefix(text, "-") {
		text = "-" + text
	}
	L.Push(errorTable(L, text))
	return 1
}

func redisStatusReply(L *glua.LState) int {
	s, ok := L.Get(1).(glua.LString)
	if L.GetTop() != 1 || !ok {
		L.Push(errorTable(L, "wrong number or type of arguments"))
		return 1
	}
	t := L.CreateTable(0, 1)
	t.RawSetString("ok", s)
	L.Push(t)
	return 1
}

// math.random and math.randomseed on Redis's generator (Lua 5.1's code with redisLrand48).
func (vm *VM) mathRandom(L *glua.LState) int {
	if vm.run == nil {
		raise(L, "math.random can only be called inside a script invocation")
	}
	state, v := vm.env.Rand.next()
	vm.rand.drew(state)
	r := float64(v%randMax) / float64(randMax)
	switch L.GetTop() {
	case 0:
		L.Push(glua.LNumber(r))
	case 1:
		u := checkInt(L, 1, "random")
		if u < 1 {
			argError(L, 1, "random", "interval is empty")
		}
		L.Push(glua.LNumber(math.Floor(r*float64(u)) + 1))
	case 2:
		l := checkInt(L, 1, "random")
		u := checkInt(L, 2, "random")
		if l > u {
			argError(L, 2, "random", "interval is empty")
		}
		L.Push(glua.LNumber(math.Floor(r*float64(u-l+1)) + float64(l)))
	default:
		raise(L, "wrong number of arguments")
	}
	return 1
}

func (vm *VM) mathRandomseed(L *glua.LState) int {
	if vm.run == nil {
		raise(L, "math.randomseed can only be called inside a script invocation")
	}
	vm.rand.drew(vm.env.Rand.seed(int32(checkInt(L, 1, "randomseed"))))
	return 0
}
