package lua

import (
	"math"

	glua "github.com/yuin/gopher-lua"
)

// The bit library is LuaBitOp 1.0.2 as Redis embeds it: operations on 32-bit integers
// whose results are signed.

func (vm *VM) bitLib() *glua.LTable {
	L := vm.L
	t := L.NewTable()
	unary := func(name string, op func(uint32) uint32) {
		t.RawSetString(name, L.NewFunction(func(L *glua.LState) int {
			return pushBits(L, op(bitArg(L, 1, name)))
		}))
	}
	fold := func(name string, op func(a, b uint32) uint32) {
		t.RawSetString(name, L.NewFunction(func(L *glua.LState) int {
			b := bitArg(L, 1, name)
			for i := L.GetTop(); i > 1; i-- {
				b = op(b, bitArg(L, i, name))
			}
			return pushBits(L, b)
		}))
	}
	shift := func(name string, op func(b, n uint32) uint32) {
		t.RawSetString(name, L.NewFunction(func(L *glua.LState) int {
			b := bitArg(L, 1, name)
			n := bitArg(L, 2, name) & 31
			return pushBits(L, op(b, n))
		}))
	}
	unary("tobit", func(b uint32) uint32 { return b })
	unary("bnot", func(b uint32) uint32 { return ^b })
	unary("bswap", func(b uint32) uint32 {
		return b>>24 | (b>>8)&0xff00 | (b&0xff00)<<8 | b<<24
	})
	fold("band", func(a, b uint32) uint32 { return a & b })
	fold("bor", func(a, b uint32) uint32 { return a | b })
	fold("bxor", func(a, b uint32) uint32 { return a ^ b })
	shift("lshift", func(b, n uint32) uint32 { return b << n })
	shift("rshift", func(b, n uint32) uint32 { return b >> n })
	shift("arshift", func(b, n uint32) uint32 { return uint32(int32(b) >> n) })
	shift("rol", func(b, n uint32) uint32 { return b<<n | b>>(32-n) })
	shift("ror", func(b, n uint32) uint32 { return b>>n | b<<(32-n) })
	t.RawSetString("tohex", L.NewFunction(bitTohex))
	return t
}

// bitArg is LuaBitOp's barg: the number's low 32 bits after adding 2^52+2^51, which rounds
// it to an integer (ties to even) and wraps it modulo 2^32.
func bitArg(L *glua.LState, n int, fname string) uint32 {
	f, ok := toNumber(L.Get(n))
	b := uint32(math.Float64bits(f + 6755399441055744.0))
	if b == 0 && !ok {
		typeError(L, n, fname, "number")
	}
	return b
}

func pushBits(L *glua.LState, b uint32) int {
	L.Push(glua.LNumber(int32(b)))
	return 1
}

func bitTohex(L *glua.LState) int {
	b := bitArg(L, 1, "tohex")
	n := int32(8)
	if L.GetTop() >= 2 {
		n = int32(bitArg(L, 2, "tohex"))
	}
	digits := "0123456789abcdef"
	if n < 0 {
		n = -n
		digits = "0123456789ABCDEF"
	}
	if n > 8 || n < 0 { // n < 0: -MinInt32, which C would not survive either
		n = 8
	}
	buf := make([]byte, n)
	for i := n - 1; i >= 0; i-- {
		buf[i] = digits[b&15]
		b >>= 4
	}
	L.Push(glua.LString(buf))
	return 1
}
