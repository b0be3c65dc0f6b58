package lua

import (
	"math"
	"strconv"
	"strings"
	"sync"

	glua "github.com/yuin/gopher-lua"
)

// The cjson library is Lua CJSON 2.1.0 as Redis embeds it: numbers in "%.14g" (the
// encode_number_precision setting), "/" escaped, arrays for tables whose keys are 1..n
// unless excessively sparse, cjson.null for JSON null, and its error messages. Its
// settings are shared by every script of the server (Env), as one Lua state shares them
// in Redis.

type jsonConfig struct {
	sparseConvert  bool
	sparseRatio    int
	sparseSafe     int
	encodeMaxDepth int
	decodeMaxDepth int
	encodeInvalid  int // 0 off, 1 on, 2 null
	decodeInvalid  bool
	keepBuffer     bool
	precision      int
}

func defaultJSONConfig() jsonConfig {
	return jsonConfig{sparseRatio: 2, sparseSafe: 10, encodeMaxDepth: 1000, decodeMaxDepth: 1000,
		decodeInvalid: true, keepBuffer: true, precision: 14}
}

// jsonSettings is one cjson instance's settings: the Env's for the cjson global, private
// ones for an instance made by cjson.new.
type jsonSettings struct {
	mu  *sync.Mutex
	cfg *jsonConfig
}

func (s jsonSettings) get() jsonConfig {
	s.mu.Lock()
	defer s.mu.Unlock()
	return *s.cfg
}

func (s jsonSettings) update(fn func(*jsonConfig)) jsonConfig {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(s.cfg)
	return *s.cfg
}

func (vm *VM) cjsonLib() *glua.LTable {
	return vm.cjsonInstance(jsonSettings{mu: &vm.env.mu, cfg: &vm.env.json})
}

func (vm *VM) cjsonInstance(set jsonSettings) *glua.LTable {
	L := vm.L
	t := L.NewTable()
	fns := map[string]glua.LGFunction{
		"encode": func(L *glua.LState) int { return vm.jsonEncode(L, set) },
		"decode": func(L *glua.LState) int { return vm.jsonDecode(L, set) },
		"new": func(L *glua.LState) int {
			cfg := defaultJSONConfig()
			L.Push(vm.cjsonInstance(jsonSettings{mu: &sync.Mutex{}, cfg: &cfg}))
			return 1
		},
		"encode_sparse_array": func(L *glua.LState) int {
			jsonArgs(L, 3, "encode_sparse_array")
			cfg := set.update(func(c *jsonConfig) {
				c.sparseConvert = jsonBoolOption(L, 1, "encode_sparse_array", c.sparseConvert)
				c.sparseRatio = jsonIntOption(L, 2, "encode_sparse_array", c.sparseRatio, 0, math.MaxInt32)
				c.sparseSafe = jsonIntOption(L, 3, "encode_sparse_array", c.sparseSafe, 0, math.MaxInt32)
			})
			L.SetTop(0)
			L.Push(glua.LBool(cfg.sparseConvert))
			L.Push(glua.LNumber(cfg.sparseRatio))
			L.Push(glua.LNumber(cfg.sparseSafe))
			return 3
		},
		"encode_max_depth": func(L *glua.LState) int {
			jsonArgs(L, 1, "encode_max_depth")
			cfg := set.update(func(c *jsonConfig) {
				c.encodeMaxDepth = jsonIntOption(L, 1, "encode_max_depth", c.encodeMaxDepth, 1, math.MaxInt32)
			})
			L.Push(glua.LNumber(cfg.encodeMaxDepth))
			return 1
		},
		"decode_max_depth": func(L *glua.LState) int {
			jsonArgs(L, 1, "decode_max_depth")
			cfg := set.update(func(c *jsonConfig) {
				c.decodeMaxDepth = jsonIntOption(L, 1, "decode_max_depth", c.decodeMaxDepth, 1, math.MaxInt32)
			})
			L.Push(glua.LNumber(cfg.decodeMaxDepth))
			return 1
		},
		"encode_number_precision": func(L *glua.LState) int {
			jsonArgs(L, 1, "encode_number_precision")
			cfg := set.update(func(c *jsonConfig) {
				c.precision = jsonIntOption(L, 1, "encode_number_precision", c.precision, 1, 14)
			})
			L.Push(glua.LNumber(cfg.precision))
			return 1
		},
		"encode_keep_buffer": func(L *glua.LState) int {
			jsonArgs(L, 1, "encode_keep_buffer")
			cfg := set.update(func(c *jsonConfig) {
				c.keepBuffer = jsonBoolOption(L, 1, "encode_keep_buffer", c.keepBuffer)
			})
			L.Push(glua.LBool(cfg.keepBuffer))
			return 1
		},
		"encode_invalid_numbers": func(L *glua.LState) int {
			jsonArgs(L, 1, "encode_invalid_numbers")
			cfg := set.update(func(c *jsonConfig) {
				c.encodeInvalid = jsonEnumOption(L, 1, "encode_invalid_numbers", c.encodeInvalid,
					[]string{"off", "on", "null"})
			})
			if cfg.encodeInvalid == 2 {
				L.Push(glua.LString("null"))
			} else {
				L.Push(glua.LBool(cfg.encodeInvalid == 1))
			}
			return 1
		},
		"decode_invalid_numbers": func(L *glua.LState) int {
			jsonArgs(L, 1, "decode_invalid_numbers")
			cfg := set.update(func(c *jsonConfig) {
				c.decodeInvalid = jsonBoolOption(L, 1, "decode_invalid_numbers", c.decodeInvalid)
			})
			L.Push(glua.LBool(cfg.decodeInvalid))
			return 1
		},
	}
	for name, fn := range fns {
		t.RawSetString(name, L.NewFunction(fn))
	}
	t.RawSetString("null", vm.null)
	t.RawSetString("_NAME", glua.LString("cjson"))
	t.RawSetString("_VERSION", glua.LString("2.1.0"))
	return t
}

// jsonArgs is json_arg_init: at most n arguments, missing ones are nil.
func jsonArgs(L *glua.LState, n int, fname string) {
	if L.GetTop() > n {
		argError(L, n+1, fname, "found too many arguments")
	}
	for L.GetTop() < n {
		L.Push(glua.LNil)
	}
}

// jsonIntOption is json_integer_option (its range error names argument 1, as cjson's does).
func jsonIntOption(L *glua.LState, i int, fname string, cur, lo, hi int) int {
	if L.Get(i) == glua.LNil {
		return cur
	}
	v := int(toInteger(checkNumber(L, i, fname)))
	if v < lo || v > hi {
		argError(L, 1, fname, "expected integer between "+strconv.Itoa(lo)+" and "+strconv.Itoa(hi))
	}
	return v
}

func jsonBoolOption(L *glua.LState, i int, fname string, cur bool) bool {
	v := 0
	if cur {
		v = 1
	}
	return jsonEnumOption(L, i, fname, v, []string{"off", "on"}) == 1
}

// jsonEnumOption is json_enum_option: a boolean or one of the option names.
func jsonEnumOption(L *glua.LState, i int, fname string, cur int, options []string) int {
	v := L.Get(i)
	if v == glua.LNil {
		return cur
	}
	if b, ok := v.(glua.LBool); ok {
		if b {
			return 1
		}
		return 0
	}
	s := checkString(L, i, fname)
	for k, o := range options {
		if o == s {
			return k
		}
	}
	argError(L, i, fname, "invalid option '"+cString(s)+"'")
	return cur
}

// ---- encoding ----

type jsonEncoder struct {
	vm  *VM
	L   *glua.LState
	cfg jsonConfig
	buf []byte
}

func (vm *VM) jsonEncode(L *glua.LState, set jsonSettings) int {
	if L.GetTop() != 1 {
		argError(L, 1, "encode", "expected 1 argument")
	}
	e := jsonEncoder{vm: vm, L: L, cfg: set.get()}
	e.value(L.Get(1), 0)
	L.Push(glua.LString(e.buf))
	return 1
}

func (e *jsonEncoder) fail(v glua.LValue, reason string) {
	raise(e.L, "Cannot serialise "+typeName(v)+": "+reason)
}

func (e *jsonEncoder) value(v glua.LValue, depth int) {
	switch x := v.(type) {
	case glua.LString:
		e.string(string(x))
	case glua.LNumber:
		e.number(v, float64(x))
	case glua.LBool:
		if x {
			e.buf = append(e.buf, "true"...)
		} else {
			e.buf = append(e.buf, "false"...)
		}
	case *glua.LNilType:
		e.buf = append(e.buf, "null"...)
	case *glua.LTable:
		depth++
		if depth > e.cfg.encodeMaxDepth || depth > luaStackLimit/3 {
			raise(e.L, "Cannot serialise, excessive nesting ("+strconv.Itoa(depth)+")")
		}
		t := e.vm.through(x)
		if n := e.arrayLength(t); n > 0 {
			e.buf = append(e.buf, '[')
			for i := 1; i <= n; i++ {
				if i > 1 {
					e.buf = append(e.buf, ',')
				}
				e.value(t.RawGetInt(i), depth)
			}
			e.buf = append(e.buf, ']')
			return
		}
		e.buf = append(e.buf, '{')
		first := true
		eachPair(t, func(k, val glua.LValue) {
			if !first {
				e.buf = append(e.buf, ',')
			}
			first = false
			switch key := k.(type) {
			case glua.LNumber:
				e.buf = append(e.buf, '"')
				e.number(k, float64(key))
				e.buf = append(e.buf, '"', ':')
			case glua.LString:
				e.string(string(key))
				e.buf = append(e.buf, ':')
			default:
				e.fail(k, "table key must be a number or string")
			}
			e.value(val, depth)
		})
		e.buf = append(e.buf, '}')
	case *glua.LUserData:
		if x == e.vm.null {
			e.buf = append(e.buf, "null"...)
			return
		}
		e.fail(v, "type not supported")
	default:
		e.fail(v, "type not supported")
	}
}

// arrayLength is lua_array_length: the highest key when every key is an integer >= 1 (0 for
// an object), refusing excessively sparse arrays.
func (e *jsonEncoder) arrayLength(t *glua.LTable) int {
	maxKey, items := 0, 0
	object := false
	eachPair(t, func(k, _ glua.LValue) {
		if object {
			return
		}
		n, ok := k.(glua.LNumber)
		if !ok || n == 0 || math.Floor(float64(n)) != float64(n) || n < 1 {
			object = true
			return
		}
		if float64(n) > float64(maxKey) {
			maxKey = int(toInt32(float64(n)))
		}
		items++
	})
	if object {
		return -1
	}
	c := e.cfg
	if c.sparseRatio > 0 && maxKey > items*c.sparseRatio && maxKey > c.sparseSafe {
		if !c.sparseConvert {
			e.fail(t, "excessively sparse array")
		}
		return -1
	}
	return maxKey
}

// jsonEscapes is cjson's char2escape table.
var jsonEscapes = func() [256]string {
	var t [256]string
	for i := 0; i < 32; i++ {
		t[i] = `\u00` + string("0123456789abcdef"[i>>4]) + string("0123456789abcdef"[i&15])
	}
	t['\b'], t['\t'], t['\n'], t['\f'], t['\r'] = `\b`, `\t`, `\n`, `\f`, `\r`
	t['"'], t['\\'], t['/'] = `\"`, `\\`, `\/`
	t[127] = `\u007f`
	return t
}()

func (e *jsonEncoder) string(s string) {
	e.buf = append(e.buf, '"')
	for i := 0; i < len(s); i++ {
		if esc := jsonEscapes[s[i]]; esc != "" {
			e.buf = append(e.buf, esc...)
		} else {
			e.buf = append(e.buf, s[i])
		}
	}
	e.buf = append(e.buf, '"')
}

func (e *jsonEncoder) number(v glua.LValue, f float64) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		switch e.cfg.encodeInvalid {
		case 0:
			e.fail(v, "must not be NaN or Inf")
		case 1: // printed as they are: inf, -inf, nan
		default:
			e.buf = append(e.buf, "null"...)
			return
		}
	}
	e.buf = appendG(e.buf, f, e.cfg.precision)
}

// ---- decoding ----

const (
	tokObjBegin = iota
	tokObjEnd
	tokArrBegin
	tokArrEnd
	tokString
	tokNumber
	tokBoolean
	tokNull
	tokColon
	tokComma
	tokEnd
	tokWhitespace
	tokError
	tokUnknown
)

var jsonTokenNames = [...]string{"T_OBJ_BEGIN", "T_OBJ_END", "T_ARR_BEGIN", "T_ARR_END", "T_STRING",
	"T_NUMBER", "T_BOOLEAN", "T_NULL", "T_COLON", "T_COMMA", "T_END", "T_WHITESPACE", "T_ERROR", "T_UNKNOWN"}

var jsonCharTokens = func() [256]int8 {
	var t [256]int8
	for i := range t {
		t[i] = tokError
	}
	t['{'], t['}'], t['['], t[']'], t[','], t[':'] = tokObjBegin, tokObjEnd, tokArrBegin, tokArrEnd, tokComma, tokColon
	t[0] = tokEnd
	t[' '], t['\t'], t['\n'], t['\r'] = tokWhitespace, tokWhitespace, tokWhitespace, tokWhitespace
	for _, c := range "fiInNt\"+-0123456789" {
		t[c] = tokUnknown
	}
	return t
}()

var jsonUnescape = func() [256]byte {
	var t [256]byte
	t['"'], t['\\'], t['/'] = '"', '\\', '/'
	t['b'], t['t'], t['n'], t['f'], t['r'], t['u'] = '\b', '\t', '\n', '\f', '\r', 'u'
	return t
}()

type jsonToken struct {
	kind  int
	index int
	str   string
	num   float64
	b     bool
	err   string
}

type jsonDecoder struct {
	vm    *VM
	L     *glua.LState
	cfg   jsonConfig
	data  string // up to the first NUL, which ends the input as in C
	pos   int
	depth int
	tmp   []byte
}

func (vm *VM) jsonDecode(L *glua.LState, set jsonSettings) int {
	if L.GetTop() != 1 {
		argError(L, 1, "decode", "expected 1 argument")
	}
	s := checkString(L, 1, "decode")
	if len(s) >= 2 && (s[0] == 0 || s[1] == 0) {
		raise(L, "JSON parser does not support UTF-16 or UTF-32")
	}
	d := jsonDecoder{vm: vm, L: L, cfg: set.get(), data: cString(s)}
	tok := d.next()
	v := d.value(&tok)
	tok = d.next()
	if tok.kind != tokEnd {
		d.fail("the end", &tok)
	}
	L.Push(v)
	return 1
}

func (d *jsonDecoder) fail(expected string, tok *jsonToken) {
	found := tok.err
	if tok.kind != tokError {
		found = jsonTokenNames[tok.kind]
	}
	raise(d.L, "Expected "+expected+" but found "+found+" at character "+strconv.Itoa(tok.index+1))
}

func (d *jsonDecoder) at(i int) byte {
	if i < len(d.data) {
		return d.data[i]
	}
	return 0
}

func (d *jsonDecoder) next() jsonToken {
	var tok jsonToken
	for {
		tok.kind = int(jsonCharTokens[d.at(d.pos)])
		if tok.kind != tokWhitespace {
			break
		}
		d.pos++
	}
	tok.index = d.pos
	switch tok.kind {
	case tokError:
		tok.err = "invalid token"
		return tok
	case tokEnd:
		return tok
	case tokUnknown:
	default:
		d.pos++
		return tok
	}
	c := d.at(d.pos)
	rest := d.data[d.pos:]
	switch {
	case c == '"':
		d.stringToken(&tok)
	case c == '-' || isDigit(c):
		if !d.cfg.decodeInvalid && d.invalidNumber() {
			tok.kind, tok.err = tokError, "invalid number"
			return tok
		}
		d.numberToken(&tok)
	case strings.HasPrefix(rest, "true"):
		tok.kind, tok.b = tokBoolean, true
		d.pos += 4
	case strings.HasPrefix(rest, "false"):
		tok.kind, tok.b = tokBoolean, false
		d.pos += 5
	case strings.HasPrefix(rest, "null"):
		tok.kind = tokNull
		d.pos += 4
	case d.cfg.decodeInvalid && d.invalidNumber():
		d.numberToken(&tok)
	default:
		tok.kind, tok.err = tokError, "invalid token"
	}
	return tok
}

// invalidNumber is json_is_invalid_number: a leading '+', hex, leading zeros, inf or nan.
func (d *jsonDecoder) invalidNumber() bool {
	p := d.pos
	if d.at(p) == '+' {
		return true
	}
	if d.at(p) == '-' {
		p++
	}
	if d.at(p) == '0' {
		c2 := d.at(p + 1)
		return c2|0x20 == 'x' || isDigit(c2)
	}
	if d.at(p) <= '9' {
		return false
	}
	rest := strings.ToLower(d.data[p:min(p+3, len(d.data))])
	return rest == "inf" || rest == "nan"
}

func (d *jsonDecoder) numberToken(tok *jsonToken) {
	f, n := strtod([]byte(d.data[d.pos:]))
	if n == 0 {
		tok.kind, tok.err, tok.index = tokError, "invalid number", d.pos
		return
	}
	tok.kind, tok.num = tokNumber, f
	d.pos += n
}

func (d *jsonDecoder) stringToken(tok *jsonToken) {
	d.pos++ // the opening quote
	d.tmp = d.tmp[:0]
	for {
		c := d.at(d.pos)
		if c == '"' {
			break
		}
		if c == 0 {
			tok.kind, tok.err, tok.index = tokError, "unexpected end of string", d.pos
			return
		}
		if c == '\\' {
			esc := jsonUnescape[d.at(d.pos+1)]
			if esc == 'u' {
				if !d.unicodeEscape() {
					tok.kind, tok.err, tok.index = tokError, "invalid unicode escape code", d.pos
					return
				}
				continue
			}
			if esc == 0 {
				tok.kind, tok.err, tok.index = tokError, "invalid escape code", d.pos
				return
			}
			c = esc
			d.pos++
		}
		d.tmp = append(d.tmp, c)
		d.pos++
	}
	d.pos++ // the closing quote
	tok.kind, tok.str = tokString, string(d.tmp)
}

func (d *jsonDecoder) hex4(p int) int {
	v := 0
	for i := 0; i < 4; i++ {
		c := d.at(p + i)
		dv := digitValue(c)
		if dv >= 16 {
			return -1
		}
		v = v<<4 | dv
	}
	return v
}

func (d *jsonDecoder) unicodeEscape() bool {
	cp := d.hex4(d.pos + 2)
	if cp < 0 {
		return false
	}
	n := 6
	if cp&0xF800 == 0xD800 {
		if cp&0x400 != 0 || d.at(d.pos+6) != '\\' || d.at(d.pos+7) != 'u' {
			return false
		}
		low := d.hex4(d.pos + 8)
		if low < 0 || low&0xFC00 != 0xDC00 {
			return false
		}
		cp = ((cp&0x3FF)<<10 | low&0x3FF) + 0x10000
		n = 12
	}
	switch {
	case cp <= 0x7F:
		d.tmp = append(d.tmp, byte(cp))
	case cp <= 0x7FF:
		d.tmp = append(d.tmp, byte(0xC0|cp>>6), byte(0x80|cp&0x3F))
	case cp <= 0xFFFF:
		d.tmp = append(d.tmp, byte(0xE0|cp>>12), byte(0x80|(cp>>6)&0x3F), byte(0x80|cp&0x3F))
	default:
		d.tmp = append(d.tmp, byte(0xF0|cp>>18), byte(0x80|(cp>>12)&0x3F), byte(0x80|(cp>>6)&0x3F), byte(0x80|cp&0x3F))
	}
	d.pos += n
	return true
}

func (d *jsonDecoder) value(tok *jsonToken) glua.LValue {
	switch tok.kind {
	case tokString:
		return glua.LString(tok.str)
	case tokNumber:
		return glua.LNumber(tok.num)
	case tokBoolean:
		return glua.LBool(tok.b)
	case tokNull:
		return d.vm.null
	case tokObjBegin:
		return d.object()
	case tokArrBegin:
		return d.array()
	}
	d.fail("value", tok)
	return glua.LNil
}

func (d *jsonDecoder) descend() {
	d.depth++
	if d.depth > d.cfg.decodeMaxDepth || d.depth > luaStackLimit/3 {
		raise(d.L, "Found too many nested data structures ("+strconv.Itoa(d.depth)+") at character "+strconv.Itoa(d.pos))
	}
}

func (d *jsonDecoder) object() glua.LValue {
	d.descend()
	t := d.L.NewTable()
	tok := d.next()
	if tok.kind == tokObjEnd {
		d.depth--
		return t
	}
	for {
		if tok.kind != tokString {
			d.fail("object key string", &tok)
		}
		key := tok.str
		if tok = d.next(); tok.kind != tokColon {
			d.fail("colon", &tok)
		}
		tok = d.next()
		t.RawSetString(key, d.value(&tok))
		tok = d.next()
		if tok.kind == tokObjEnd {
			break
		}
		if tok.kind != tokComma {
			d.fail("comma or object end", &tok)
		}
		tok = d.next()
	}
	d.depth--
	return t
}

func (d *jsonDecoder) array() glua.LValue {
	d.descend()
	t := d.L.NewTable()
	tok := d.next()
	if tok.kind == tokArrEnd {
		d.depth--
		return t
	}
	for i := 1; ; i++ {
		t.RawSetInt(i, d.value(&tok))
		tok = d.next()
		if tok.kind == tokArrEnd {
			break
		}
		if tok.kind != tokComma {
			d.fail("comma or array end", &tok)
		}
		tok = d.next()
	}
	d.depth--
	return t
}
