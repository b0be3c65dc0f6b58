package lua

import (
	"encoding/binary"
	"math"
	"strconv"

	glua "github.com/yuin/gopher-lua"
)

// The cmsgpack library is lua-cmsgpack 0.4.0 as Redis embeds it: MessagePack without the
// bin and ext types, tables as arrays when their keys are exactly 1..n, nesting cut at 16
// levels (deeper tables become nil).

const msgpackMaxNesting = 16

func (vm *VM) cmsgpackLib() *glua.LTable {
	L := vm.L
	t := L.NewTable()
	t.RawSetString("pack", L.NewFunction(vm.msgpackPack))
	t.RawSetString("unpack", L.NewFunction(func(L *glua.LState) int { return msgpackUnpack(L, 0, 0) }))
	t.RawSetString("unpack_one", L.NewFunction(func(L *glua.LState) int {
		offset := 0
		if L.GetTop() >= 2 && L.Get(2) != glua.LNil {
			offset = int(toInteger(checkNumber(L, 2, "unpack_one")))
		}
		L.SetTop(1)
		return msgpackUnpack(L, 1, offset)
	}))
	t.RawSetString("unpack_limit", L.NewFunction(func(L *glua.LState) int {
		limit := int(toInteger(checkNumber(L, 2, "unpack_limit")))
		offset := 0
		if L.GetTop() >= 3 && L.Get(3) != glua.LNil {
			offset = int(toInteger(checkNumber(L, 3, "unpack_limit")))
		}
		L.SetTop(1)
		return msgpackUnpack(L, limit, offset)
	}))
	t.RawSetString("_NAME", glua.LString("cmsgpack"))
	t.RawSetString("_VERSION", glua.LString("lua-cmsgpack 0.4.0"))
	t.RawSetString("_COPYRIGHT", glua.LString("Copyright (C) 2012, Salvatore Sanfilippo"))
	t.RawSetString("_DESCRIPTION", glua.LString("MessagePack C implementation for Lua"))
	return t
}

func (vm *VM) msgpackPack(L *glua.LState) int {
	n := L.GetTop()
	if n == 0 {
		argError(L, 0, "pack", "MessagePack pack needs input.")
	}
	var buf []byte
	for i := 1; i <= n; i++ {
		buf = vm.msgpackEncode(buf, L.Get(i), 0)
	}
	L.SetTop(0)
	L.Push(glua.LString(buf))
	return 1
}

func (vm *VM) msgpackEncode(buf []byte, v glua.LValue, level int) []byte {
	switch x := v.(type) {
	case glua.LString:
		return msgpackBytes(buf, string(x))
	case glua.LBool:
		if x {
			return append(buf, 0xc3)
		}
		return append(buf, 0xc2)
	case glua.LNumber:
		f := float64(x)
		if !math.IsInf(f, 0) && float64(toInteger(f)) == f {
			return msgpackInt(buf, toInteger(f))
		}
		if float64(float32(f)) == f || math.IsInf(f, 0) {
			buf = append(buf, 0xca)
			return binary.BigEndian.AppendUint32(buf, math.Float32bits(float32(f)))
		}
		buf = append(buf, 0xcb)
		return binary.BigEndian.AppendUint64(buf, math.Float64bits(f))
	case *glua.LTable:
		if level == msgpackMaxNesting {
			return append(buf, 0xc0)
		}
		t := vm.through(x)
		if n, ok := arrayLength(t); ok {
			buf = msgpackHeader(buf, 0x90, 0xdc, 0xdd, n)
			for i := 1; i <= n; i++ {
				buf = vm.msgpackEncode(buf, t.RawGetInt(i), level+1)
			}
			return buf
		}
		n := 0
		eachPair(t, func(glua.LValue, glua.LValue) { n++ })
		buf = msgpackHeader(buf, 0x80, 0xde, 0xdf, n)
		eachPair(t, func(k, v glua.LValue) {
			buf = vm.msgpackEncode(buf, k, level+1)
			buf = vm.msgpackEncode(buf, v, level+1)
		})
		return buf
	}
	return append(buf, 0xc0)
}

// arrayLength is table_is_an_array: the keys are exactly the integers 1..n.
func arrayLength(t *glua.LTable) (int, bool) {
	count, maxKey := 0, 0
	array := true
	eachPair(t, func(k, _ glua.LValue) {
		if !array {
			return
		}
		n, ok := k.(glua.LNumber)
		if !ok || n <= 0 || float64(toInt32(float64(n))) != float64(n) {
			array = false
			return
		}
		maxKey = max(maxKey, int(n))
		count++
	})
	return count, array && count == maxKey
}

func msgpackHeader(buf []byte, fix, b16, b32 byte, n int) []byte {
	switch {
	case n <= 15:
		return append(buf, fix|byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(buf, b16), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(buf, b32), uint32(n))
}

func msgpackBytes(buf []byte, s string) []byte {
	n := len(s)
	switch {
	case n < 32:
		buf = append(buf, 0xa0|byte(n))
	case n <= 0xff:
		buf = append(buf, 0xd9, byte(n))
	case n <= 0xffff:
		buf = binary.BigEndian.AppendUint16(append(buf, 0xda), uint16(n))
	default:
		buf = binary.BigEndian.AppendUint32(append(buf, 0xdb), uint32(n))
	}
	return append(buf, s...)
}

func msgpackInt(buf []byte, n int64) []byte {
	if n >= 0 {
		switch {
		case n <= 127:
			return append(buf, byte(n))
		case n <= 0xff:
			return append(buf, 0xcc, byte(n))
		case n <= 0xffff:
			return binary.BigEndian.AppendUint16(append(buf, 0xcd), uint16(n))
		case n <= 0xffffffff:
			return binary.BigEndian.AppendUint32(append(buf, 0xce), uint32(n))
		}
		return binary.BigEndian.AppendUint64(append(buf, 0xcf), uint64(n))
	}
	switch {
	case n >= -32:
		return append(buf, byte(int8(n)))
	case n >= -128:
		return append(buf, 0xd0, byte(int8(n)))
	case n >= -32768:
		return binary.BigEndian.AppendUint16(append(buf, 0xd1), uint16(int16(n)))
	case n >= -2147483648:
		return binary.BigEndian.AppendUint32(append(buf, 0xd2), uint32(int32(n)))
	}
	return binary.BigEndian.AppendUint64(append(buf, 0xd3), uint64(n))
}

// msgpackUnpack is mp_unpack_full: every value (limit and offset 0), or up to limit values
// from offset, preceded by the offset to continue from (-1 at the end).
func msgpackUnpack(L *glua.LState, limit, offset int) int {
	decodeAll := limit == 0 && offset == 0
	s := checkString(L, 1, "unpack")
	if offset < 0 || limit < 0 {
		raise(L, "Invalid request to unpack with offset of "+strconv.Itoa(offset)+
			" and limit of "+strconv.Itoa(len(s))+".")
	}
	if offset > len(s) {
		raise(L, "Start offset "+strconv.Itoa(offset)+" greater than input length "+strconv.Itoa(len(s))+".")
	}
	if decodeAll {
		limit = math.MaxInt32
	}
	d := msgpackDecoder{L: L, b: s, pos: offset}
	var out []glua.LValue
	for cnt := 0; d.pos < len(s) && cnt < limit; cnt++ {
		v := d.value(1 + len(out)) // the string argument and the values so far
		switch d.err {
		case errMissingBytes:
			raise(L, "Missing bytes in input.")
		case errBadFormat:
			raise(L, "Bad data format in input.")
		}
		out = append(out, v)
	}
	L.SetTop(0)
	if !decodeAll {
		next := d.pos
		if d.pos >= len(s) {
			next = -1
		}
		L.Push(glua.LNumber(next))
	}
	for _, v := range out {
		L.Push(v)
	}
	return L.GetTop()
}

const (
	errMissingBytes = 1
	errBadFormat    = 2
)

type msgpackDecoder struct {
	L   *glua.LState
	b   string
	pos int
	err int
}

func (d *msgpackDecoder) need(n int) bool {
	if len(d.b)-d.pos < n {
		d.err = errMissingBytes
		return false
	}
	return true
}

func (d *msgpackDecoder) uint(off, size int) uint64 {
	var v uint64
	for i := 0; i < size; i++ {
		v = v<<8 | uint64(d.b[d.pos+off+i])
	}
	return v
}

// value decodes one value; depth is what Lua's C stack holds at that point in Redis's
// decoder (each nesting level takes two slots), which refuses to go past LUAI_MAXCSTACK.
func (d *msgpackDecoder) value(depth int) glua.LValue {
	if depth+1 > luaStackLimit {
		raise(d.L, "stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)")
	}
	if !d.need(1) {
		return glua.LNil
	}
	c := d.b[d.pos]
	fixed := func(size int, conv func(uint64) glua.LValue) glua.LValue {
		if !d.need(1 + size) {
			return glua.LNil
		}
		v := d.uint(1, size)
		d.pos += 1 + size
		return conv(v)
	}
	unsigned := func(v uint64) glua.LValue { return glua.LNumber(float64(v)) }
	str := func(hdr, size int) glua.LValue {
		if !d.need(hdr + size) {
			return glua.LNil
		}
		s := d.b[d.pos+hdr : d.pos+hdr+size]
		d.pos += hdr + size
		return glua.LString(s)
	}
	counted := func(size int, fn func(n, depth int) glua.LValue) glua.LValue {
		if !d.need(1 + size) {
			return glua.LNil
		}
		n := int(d.uint(1, size))
		d.pos += 1 + size
		return fn(n, depth)
	}
	switch {
	case c == 0xcc:
		return fixed(1, unsigned)
	case c == 0xcd:
		return fixed(2, unsigned)
	case c == 0xce:
		return fixed(4, unsigned)
	case c == 0xcf:
		return fixed(8, unsigned)
	case c == 0xd0:
		return fixed(1, func(v uint64) glua.LValue { return glua.LNumber(int8(v)) })
	case c == 0xd1:
		return fixed(2, func(v uint64) glua.LValue { return glua.LNumber(int16(v)) })
	case c == 0xd2:
		return fixed(4, func(v uint64) glua.LValue { return glua.LNumber(int32(v)) })
	case c == 0xd3:
		return fixed(8, func(v uint64) glua.LValue { return glua.LNumber(float64(int64(v))) })
	case c == 0xc0:
		d.pos++
		return glua.LNil
	case c == 0xc3:
		d.pos++
		return glua.LTrue
	case c == 0xc2:
		d.pos++
		return glua.LFalse
	case c == 0xca:
		return fixed(4, func(v uint64) glua.LValue { return glua.LNumber(math.Float32frombits(uint32(v))) })
	case c == 0xcb:
		return fixed(8, func(v uint64) glua.LValue { return glua.LNumber(math.Float64frombits(v)) })
	case c == 0xd9:
		if !d.need(2) {
			return glua.LNil
		}
		return str(2, int(d.uint(1, 1)))
	case c == 0xda:
		if !d.need(3) {
			return glua.LNil
		}
		return str(3, int(d.uint(1, 2)))
	case c == 0xdb:
		if !d.need(5) {
			return glua.LNil
		}
		return str(5, int(d.uint(1, 4)))
	case c == 0xdc:
		return counted(2, d.array)
	case c == 0xdd:
		return counted(4, d.array)
	case c == 0xde:
		return counted(2, d.hash)
	case c == 0xdf:
		return counted(4, d.hash)
	case c&0x80 == 0:
		d.pos++
		return glua.LNumber(c)
	case c&0xe0 == 0xe0:
		d.pos++
		return glua.LNumber(int8(c))
	case c&0xe0 == 0xa0:
		return str(1, int(c&0x1f))
	case c&0xf0 == 0x90:
		d.pos++
		return d.array(int(c&0xf), depth)
	case c&0xf0 == 0x80:
		d.pos++
		return d.hash(int(c&0xf), depth)
	}
	d.err = errBadFormat
	return glua.LNil
}

func (d *msgpackDecoder) array(n, depth int) glua.LValue {
	t := d.L.CreateTable(min(n, 1024), 0)
	depth++ // the table
	if depth+1 > luaStackLimit {
		raise(d.L, "stack overflow (in function mp_decode_to_lua_array)")
	}
	for i := 1; i <= n; i++ {
		v := d.value(depth + 1) // after the index
		if d.err != 0 {
			return t
		}
		if v != glua.LNil {
			t.RawSetInt(i, v)
		}
	}
	return t
}

func (d *msgpackDecoder) hash(n, depth int) glua.LValue {
	t := d.L.NewTable()
	depth++ // the table
	for i := 0; i < n; i++ {
		k := d.value(depth)
		if d.err != 0 {
			return t
		}
		v := d.value(depth + 1) // after the key
		if d.err != 0 {
			return t
		}
		if k == glua.LNil {
			raise(d.L, "table index is nil")
		}
		t.RawSet(k, v)
	}
	return t
}
