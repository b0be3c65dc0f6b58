package lua

import (
	"strings"

	glua "github.com/yuin/gopher-lua"
)

// Conversions between RESP replies and Lua values, as Redis 7.0's script_lua.c does them.
//
//	RESP -> Lua (redis.call's result)        Lua -> RESP (the script's result)
//	integer        number                    number          integer (truncated)
//	bulk           string                    string          bulk
//	null bulk/arr  false                     false           null (RESP2 script) / #f
//	status         {ok=s}                    true            :1 (RESP2 script) / #t
//	error          {err=s}                   {ok=s}          status
//	array          table 1..n                {err=s}         error
//	RESP3 null     nil                       table 1..      array up to the first nil
//	RESP3 boolean  boolean                   {double=n}      double
//	RESP3 double   {double=n}                {map=t}         map
//	RESP3 map      {map={k=v}}               {set=t}         set of t's keys
//	RESP3 set      {set={k=true}}            {big_number=s}  big number
//	big number     {big_number=s}            {verbatim_string={format=, string=}}
//	verbatim       {verbatim_string=...}     anything else   null

// parseReply converts one reply into a Lua value. The reply comes from the server's own
// reply writer; malformed input gives nil rather than a panic.
func parseReply(L *glua.LState, b []byte) glua.LValue {
	p := replyParser{L: L, b: b}
	return p.value()
}

type replyParser struct {
	L   *glua.LState
	b   []byte
	pos int
	bad bool
}

// line returns the text after the type byte up to CRLF.
func (p *replyParser) line() []byte {
	start := p.pos
	for i := start; i+1 < len(p.b); i++ {
		if p.b[i] == '\r' && p.b[i+1] == '\n' {
			p.pos = i + 2
			return p.b[start:i]
		}
	}
	p.bad = true
	p.pos = len(p.b)
	return nil
}

func (p *replyParser) count() int {
	n := 0
	neg := false
	for i, c := range p.line() {
		if i == 0 && c == '-' {
			neg = true
			continue
		}
		if c < '0' || c > '9' {
			p.bad = true
			return -1
		}
		n = n*10 + int(c-'0')
		if n > len(p.b) {
			p.bad = true // no count can exceed the bytes that hold its elements
			return -1
		}
	}
	if neg {
		return -n
	}
	return n
}

func (p *replyParser) bulk() (string, bool) {
	n := p.count()
	if n < 0 || p.pos+n+2 > len(p.b) {
		return "", false
	}
	s := string(p.b[p.pos : p.pos+n])
	p.pos += n + 2
	return s, true
}

func (p *replyParser) value() glua.LValue {
	L := p.L
	if p.bad || p.pos >= len(p.b) {
		p.bad = true
		return glua.LNil
	}
	kind := p.b[p.pos]
	p.pos++
	switch kind {
	case ':':
		f, _ := strtod(p.line())
		return glua.LNumber(f)
	case '$':
		s, ok := p.bulk()
		if !ok {
			return glua.LFalse
		}
		return glua.LString(s)
	case '+':
		t := L.CreateTable(0, 1)
		t.RawSetString("ok", glua.LString(p.line()))
		return t
	case '-':
		t := errorTable(L, "-"+string(p.line()))
		t.RawSetString("ignore_error_stats_update", glua.LTrue)
		return t
	case '*':
		n := p.count()
		if n < 0 {
			return glua.LFalse
		}
		t := L.CreateTable(n, 0)
		for i := 1; i <= n && !p.bad; i++ {
			t.RawSetInt(i, p.value())
		}
		return t
	case '%':
		n := p.count()
		inner := L.CreateTable(0, max(n, 0))
		for i := 0; i < n && !p.bad; i++ {
			k := p.value()
			v := p.value()
			if k != glua.LNil {
				inner.RawSet(k, v)
			}
		}
		t := L.CreateTable(0, 1)
		t.RawSetString("map", inner)
		return t
	case '~':
		n := p.count()
		inner := L.CreateTable(0, max(n, 0))
		for i := 0; i < n && !p.bad; i++ {
			if k := p.value(); k != glua.LNil {
				inner.RawSet(k, glua.LTrue)
			}
		}
		t := L.CreateTable(0, 1)
		t.RawSetString("set", inner)
		return t
	case '_':
		p.line()
		return glua.LNil
	case '#':
		return glua.LBool(string(p.line()) == "t")
	case ',':
		f, _ := strtod(p.line())
		t := L.CreateTable(0, 1)
		t.RawSetString("double", glua.LNumber(f))
		return t
	case '(':
		t := L.CreateTable(0, 1)
		t.RawSetString("big_number", glua.LString(p.line()))
		return t
	case '=':
		s, ok := p.bulk()
		if !ok || len(s) < 4 {
			return glua.LNil
		}
		inner := L.CreateTable(0, 2)
		inner.RawSetString("string", glua.LString(s[4:]))
		inner.RawSetString("format", glua.LString(s[:3]))
		t := L.CreateTable(0, 1)
		t.RawSetString("verbatim_string", inner)
		return t
	case '|':
		n := p.count()
		for i := 0; i < 2*n && !p.bad; i++ {
			p.value()
		}
		return p.value()
	}
	p.bad = true
	return glua.LNil
}

// ReplyWriter receives the script's reply in the client's protocol.
type ReplyWriter interface {
	ArrayLen(n int)
	MapLen(n int)
	SetLen(n int)
	Bulk(b []byte)
	Int(n int64)
	Double(f float64)
	Bool(b bool)
	Null()
	// Status writes a status reply (+s).
	Status(s string)
	// ErrorReply writes "-msg" verbatim; count says whether it counts in the error stats.
	ErrorReply(msg string, count bool)
	BigNumber(s string)
	Verbatim(format, s string)
}

// luaStackLimit is Lua 5.1's LUAI_MAXCSTACK: converting a reply needs 4 free slots of
// the C stack at each level, and Redis answers "reached lua stack limit" where a level
// would exceed it. replyBaseDepth is what the stack holds when the conversion starts (the
// error handler and the result).
const (
	luaStackLimit  = 8000
	replyBaseDepth = 2
)

// WriteReply writes a successful invocation's result.
func (vm *VM) WriteReply(w ReplyWriter, out *Outcome) {
	c := replyConverter{vm: vm, w: w, resp: out.resp}
	c.write(out.value, replyBaseDepth)
	out.value = nil
}

type replyConverter struct {
	vm   *VM
	w    ReplyWriter
	resp int
}

func (c *replyConverter) write(v glua.LValue, depth int) {
	w := c.w
	if depth+4 > luaStackLimit {
		w.ErrorReply("ERR reached lua stack limit", true)
		return
	}
	switch x := v.(type) {
	case glua.LString:
		w.Bulk([]byte(x))
	case glua.LBool:
		switch {
		case c.resp == 3:
			w.Bool(bool(x))
		case bool(x):
			w.Int(1)
		default:
			w.Null()
		}
	case glua.LNumber:
		w.Int(toInteger(float64(x)))
	case *glua.LTable:
		c.table(x, depth)
	default:
		w.Null()
	}
}

func (c *replyConverter) table(t *glua.LTable, depth int) {
	w := c.w
	t = c.vm.through(t)
	if s, ok := t.RawGetString("err").(glua.LString); ok {
		count := true
		if b, ok := t.RawGetString("ignore_error_stats_update").(glua.LBool); ok && bool(b) {
			count = false
		}
		w.ErrorReply(sanitizeError("-" + cString(string(s)))[1:], count)
		return
	}
	if s, ok := t.RawGetString("ok").(glua.LString); ok {
		w.Status(strings.Map(crlfToSpace, cString(string(s))))
		return
	}
	if f, ok := t.RawGetString("double").(glua.LNumber); ok {
		w.Double(float64(f))
		return
	}
	if s, ok := t.RawGetString("big_number").(glua.LString); ok {
		w.BigNumber(strings.Map(crlfToSpace, string(s)))
		return
	}
	if vt, ok := t.RawGetString("verbatim_string").(*glua.LTable); ok {
		format, okf := vt.RawGetString("format").(glua.LString)
		s, oks := vt.RawGetString("string").(glua.LString)
		if okf && oks {
			w.Verbatim(verbatimFormat(cString(string(format))), string(s))
			return
		}
	}
	if m, ok := t.RawGetString("map").(*glua.LTable); ok {
		m = c.vm.through(m)
		n := 0
		eachPair(m, func(glua.LValue, glua.LValue) { n++ })
		w.MapLen(n)
		eachPair(m, func(k, v glua.LValue) {
			c.write(k, depth+4)
			c.write(v, depth+3)
		})
		return
	}
	if s, ok := t.RawGetString("set").(*glua.LTable); ok {
		s = c.vm.through(s)
		n := 0
		eachPair(s, func(glua.LValue, glua.LValue) { n++ })
		w.SetLen(n)
		eachPair(s, func(k, _ glua.LValue) { c.write(k, depth+3) })
		return
	}
	n := 0
	for t.RawGetInt(n+1) != glua.LNil {
		n++
	}
	w.ArrayLen(n)
	for i := 1; i <= n; i++ {
		c.write(t.RawGetInt(i), depth+1)
	}
}

func crlfToSpace(r rune) rune {
	if r == '\r' || r == '\n' {
		return ' '
	}
	return r
}

// verbatimFormat is the three characters addReplyVerbatim writes: the format's first three,
// padded with spaces.
func verbatimFormat(f string) string {
	b := []byte("   ")
	copy(b, f)
	return string(b)
}
