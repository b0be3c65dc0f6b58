package lua

import (
	"encoding/binary"
	"math"
	"strconv"

	glua "github.com/yuin/gopher-lua"
)

// The struct library (Roberto Ierusalimschy's struct 0.2 as Redis embeds it): pack, unpack
// and size of binary records, on an x86-64 host (little-endian native order, 2-byte short,
// 4-byte int, 8-byte long and size_t, default alignment 1, maximum alignment 8).

const (
	structMaxIntSize = 32
	structMaxAlign   = 8
)

func (vm *VM) structLib() *glua.LTable {
	L := vm.L
	t := L.NewTable()
	t.RawSetString("pack", L.NewFunction(structPack))
	t.RawSetString("unpack", L.NewFunction(structUnpack))
	t.RawSetString("size", L.NewFunction(structSize))
	return t
}

type structHeader struct {
	little bool
	align  int
}

type structFormat struct {
	L   *glua.LState
	fn  string
	fmt string
	pos int
	h   structHeader
}

func newStructFormat(L *glua.LState, fn string) *structFormat {
	return &structFormat{L: L, fn: fn, fmt: cString(checkString(L, 1, fn)), h: structHeader{little: true, align: 1}}
}

func (f *structFormat) more() bool { return f.pos < len(f.fmt) }

func (f *structFormat) next() byte {
	c := f.fmt[f.pos]
	f.pos++
	return c
}

// num reads an optional decimal count (getnum).
func (f *structFormat) num(def int) int {
	if !f.more() || !isDigit(f.fmt[f.pos]) {
		return def
	}
	a := 0
	for f.more() && isDigit(f.fmt[f.pos]) {
		d := int(f.fmt[f.pos] - '0')
		if a > math.MaxInt32/10 || a*10 > math.MaxInt32-d {
			raise(f.L, "integral size overflow")
		}
		a = a*10 + d
		f.pos++
	}
	return a
}

// size is optsize: the size of option opt (0 for options without one).
func (f *structFormat) size(opt byte) int {
	switch opt {
	case 'B', 'b', 'x':
		return 1
	case 'H', 'h':
		return 2
	case 'L', 'l', 'T', 'd':
		return 8
	case 'f':
		return 4
	case 'c':
		return f.num(1)
	case 'i', 'I':
		sz := f.num(4)
		if sz > structMaxIntSize {
			raise(f.L, "integral size "+strconv.Itoa(sz)+" is larger than limit of "+strconv.Itoa(structMaxIntSize))
		}
		return sz
	}
	return 0
}

// toAlign is gettoalign: the padding before an element of size at offset length.
func (f *structFormat) toAlign(length, opt, size int) int {
	if size == 0 || opt == 'c' {
		return 0
	}
	align := size
	if size > f.h.align {
		align = f.h.align
	}
	return (align - (length & (align - 1))) & (align - 1)
}

// control handles the endianness and alignment options (controloptions).
func (f *structFormat) control(opt byte) {
	switch opt {
	case ' ':
	case '>':
		f.h.little = false
	case '<':
		f.h.little = true
	case '!':
		a := f.num(structMaxAlign)
		if a <= 0 || a&(a-1) != 0 {
			raise(f.L, "alignment "+strconv.Itoa(a)+" is not a power of 2")
		}
		f.h.align = a
	default:
		argError(f.L, 1, f.fn, "invalid format option '"+string(rune(opt))+"'")
	}
}

// cUint64 is C's (unsigned long long) conversion of a double on x86-64 (gcc's sequence).
func cUint64(n float64) uint64 {
	if n < 9223372036854775808.0 {
		return uint64(toInteger(n))
	}
	return uint64(toInteger(n-9223372036854775808.0)) ^ 1<<63
}

func structPack(L *glua.LState) int {
	f := newStructFormat(L, "pack")
	arg := 2
	var out []byte
	for f.more() {
		opt := f.next()
		size := f.size(opt)
		pad := f.toAlign(len(out), int(opt), size)
		for ; pad > 0; pad-- {
			out = append(out, 0)
		}
		switch opt {
		case 'b', 'B', 'h', 'H', 'l', 'L', 'T', 'i', 'I':
			n := packNumber(L, arg)
			arg++
			var v uint64
			if n < 0 {
				v = uint64(toInteger(n))
			} else {
				v = cUint64(n)
			}
			buf := make([]byte, size)
			for i := 0; i < size; i++ {
				k := i
				if !f.h.little {
					k = size - 1 - i
				}
				buf[k] = byte(v)
				v >>= 8
			}
			out = append(out, buf...)
		case 'x':
			out = append(out, 0)
		case 'f':
			bits := math.Float32bits(float32(packNumber(L, arg)))
			arg++
			out = appendOrder(out, uint64(bits), 4, f.h.little)
		case 'd':
			bits := math.Float64bits(packNumber(L, arg))
			arg++
			out = appendOrder(out, bits, 8, f.h.little)
		case 'c', 's':
			if arg > L.GetTop() {
				argError(L, arg, "pack", "string expected, got nil")
			}
			s := checkString(L, arg, "pack")
			arg++
			if size == 0 {
				size = len(s)
			}
			if len(s) < size {
				argError(L, arg, "pack", "string too short")
			}
			out = append(out, s[:size]...)
			if opt == 's' {
				out = append(out, 0)
			}
		default:
			f.control(opt)
		}
	}
	L.Push(glua.LString(out))
	return 1
}

// packNumber is luaL_checknumber in struct.pack, whose arguments are followed by a nil (its
// marker on the stack): a missing argument is a nil.
func packNumber(L *glua.LState, arg int) float64 {
	if arg > L.GetTop() {
		argError(L, arg, "pack", "number expected, got nil")
	}
	return checkNumber(L, arg, "pack")
}

func appendOrder(dst []byte, v uint64, size int, little bool) []byte {
	var b [8]byte
	if little {
		binary.LittleEndian.PutUint64(b[:], v)
		return append(dst, b[:size]...)
	}
	binary.BigEndian.PutUint64(b[:], v)
	return append(dst, b[8-size:]...)
}

// getInteger is struct's getinteger: size bytes in the given order, sign-extended for the
// signed formats (with x86's shift masking for sizes above 8).
func getInteger(b []byte, little, signed bool) float64 {
	var l uint64
	size := len(b)
	for i := 0; i < size; i++ {
		k := i
		if little {
			k = size - 1 - i
		}
		l = l<<8 | uint64(b[k])
	}
	if !signed {
		return float64(l)
	}
	mask := ^uint64(0) << (uint(size*8-1) & 63)
	if l&mask != 0 {
		l |= mask
	}
	return float64(int64(l))
}

func structUnpack(L *glua.LState) int {
	f := newStructFormat(L, "unpack")
	data := checkString(L, 2, "unpack")
	ld := len(data)
	start := int64(1)
	if L.GetTop() >= 3 && L.Get(3) != glua.LNil {
		start = toInteger(checkNumber(L, 3, "unpack"))
	}
	if start == 0 {
		argError(L, 3, "unpack", "offset must be 1 or greater")
	}
	pos := int(start - 1)
	if start < 0 || start-1 > int64(ld) {
		pos = ld + 1 // past the end (a negative offset is a huge size_t in C): "too short"
	}
	var results []glua.LValue
	for f.more() {
		opt := f.next()
		size := f.size(opt)
		pos += f.toAlign(pos, int(opt), size)
		if size > ld || pos > ld-size {
			argError(L, 2, "unpack", "data string too short")
		}
		switch opt {
		case 'b', 'B', 'h', 'H', 'l', 'L', 'T', 'i', 'I':
			signed := opt >= 'a'
			results = append(results, glua.LNumber(getInteger([]byte(data[pos:pos+size]), f.h.little, signed)))
		case 'x':
		case 'f':
			bits := readOrder(data[pos:pos+4], f.h.little)
			results = append(results, glua.LNumber(float64(math.Float32frombits(uint32(bits)))))
		case 'd':
			bits := readOrder(data[pos:pos+8], f.h.little)
			results = append(results, glua.LNumber(math.Float64frombits(bits)))
		case 'c':
			if size == 0 {
				var prev float64
				ok := false
				if n := len(results); n > 0 {
					prev, ok = toNumber(results[n-1])
				}
				if !ok {
					raise(L, "format 'c0' needs a previous size")
				}
				results = results[:len(results)-1]
				size = int(cUint64(prev))
				if size < 0 || size > ld || pos > ld-size {
					argError(L, 2, "unpack", "data string too short")
				}
			}
			results = append(results, glua.LString(data[pos:pos+size]))
		case 's':
			end := -1
			for i := pos; i < ld; i++ {
				if data[i] == 0 {
					end = i
					break
				}
			}
			if end < 0 {
				raise(L, "unfinished string in data")
			}
			size = end - pos + 1
			results = append(results, glua.LString(data[pos:end]))
		default:
			f.control(opt)
		}
		pos += size
	}
	for _, r := range results {
		L.Push(r)
	}
	L.Push(glua.LNumber(pos + 1))
	return len(results) + 1
}

func readOrder(b string, little bool) uint64 {
	var v uint64
	for i := 0; i < len(b); i++ {
		k := i
		if little {
			k = len(b) - 1 - i
		}
		v = v<<8 | uint64(b[k])
	}
	return v
}

func structSize(L *glua.LState) int {
	f := newStructFormat(L, "size")
	pos := 0
	for f.more() {
		opt := f.next()
		size := f.size(opt)
		pos += f.toAlign(pos, int(opt), size)
		if opt == 's' {
			argError(L, 1, "size", "option 's' has no fixed size")
		} else if opt == 'c' && size == 0 {
			argError(L, 1, "size", "option 'c0' has no fixed size")
		}
		if !isAlnum(opt) {
			f.control(opt)
		}
		pos += size
	}
	L.Push(glua.LNumber(pos))
	return 1
}
