package server_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/stratadb/strata/server/servertest"
)

// The random differential tests run seeded command mixes on a real redis-server and on Strata
// and compare every reply byte for byte. They aim at what scripts cannot enumerate: offsets
// around the inline limit and chunk boundaries, ranges in every combination of signs and
// units, bitfield overflows, LCS walks, and long double arithmetic.

// quoteArg quotes a for a diff script line.
func quoteArg(a string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(a); i++ {
		c := a[i]
		if c >= 0x21 && c < 0x7f && c != '"' && c != '\\' && c != '\'' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "\\x%02x", c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

type scriptGen struct {
	r     *rand.Rand
	lines []string
}

func (g *scriptGen) cmd(args ...string) {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = quoteArg(a)
	}
	g.lines = append(g.lines, strings.Join(q, " "))
}

func (g *scriptGen) pick(xs ...string) string { return xs[g.r.IntN(len(xs))] }

// byteOffset is an offset near an interesting place: the start, chunk boundaries, the
// inline limit, or far out.
func (g *scriptGen) byteOffset() int64 {
	bases := []int64{0, 4096, 8192, 12288, 16384, 16384 + 4096, 100000}
	o := bases[g.r.IntN(len(bases))] + int64(g.r.IntN(41)) - 20
	return max(o, 0)
}

// index is a GETRANGE/BITCOUNT/BITPOS index: small, near an end, negative, or extreme.
func (g *scriptGen) index(scale int64) string {
	switch g.r.IntN(6) {
	case 0:
		return strconv.FormatInt(int64(g.r.IntN(30)), 10)
	case 1:
		return strconv.FormatInt(-int64(g.r.IntN(30))-1, 10)
	case 2:
		return strconv.FormatInt(g.byteOffset()*scale, 10)
	case 3:
		return strconv.FormatInt(-g.byteOffset()*scale-1, 10)
	case 4:
		return g.pick("9223372036854775807", "-9223372036854775808", "100000000", "-100000000")
	}
	return strconv.FormatInt(g.byteOffset()*scale+int64(g.r.IntN(8)), 10)
}

func (g *scriptGen) bytes(n int) string {
	b := make([]byte, n)
	for i := range b {
		switch g.r.IntN(4) {
		case 0:
			b[i] = 0
		case 1:
			b[i] = 0xff
		default:
			b[i] = byte(g.r.IntN(256))
		}
	}
	return string(b)
}

func runGenerated(t *testing.T, name string, lines []string) {
	r := servertest.StartRedis(t)
	s := servertest.StartStrata(t, nil)
	servertest.RunDiff(t, name, strings.Join(lines, "\n"), s.Dial(t), r.Dial(t))
}

func TestStringsRandomDiff(t *testing.T) {
	g := &scriptGen{r: rand.New(rand.NewPCG(7, 1))}
	keys := []string{"a", "b", "c"}
	for i := 0; i < 1500; i++ {
		k := keys[g.r.IntN(len(keys))]
		switch g.r.IntN(20) {
		case 0:
			g.cmd("SET", k, g.bytes(g.r.IntN(20)))
		case 1, 2:
			g.cmd("SETRANGE", k, strconv.FormatInt(g.byteOffset(), 10), g.bytes(g.r.IntN(12)))
		case 3:
			n := g.r.IntN(12)
			if g.r.IntN(8) == 0 {
				n = 4000 + g.r.IntN(9000)
			}
			g.cmd("APPEND", k, g.bytes(n))
		case 4, 5:
			g.cmd("GETRANGE", k, g.index(1), g.index(1))
		case 6, 7:
			g.cmd("SETBIT", k, strconv.FormatInt(g.byteOffset()*8+int64(g.r.IntN(8)), 10), g.pick("0", "1"))
		case 8:
			g.cmd("GETBIT", k, strconv.FormatInt(g.byteOffset()*8+int64(g.r.IntN(8)), 10))
		case 9, 10:
			switch g.r.IntN(3) {
			case 0:
				g.cmd("BITCOUNT", k)
			case 1:
				g.cmd("BITCOUNT", k, g.index(1), g.index(1))
			default:
				unit := g.pick("BIT", "BYTE", "bit")
				scale := int64(1)
				if strings.EqualFold(unit, "bit") {
					scale = 8
				}
				g.cmd("BITCOUNT", k, g.index(scale), g.index(scale), unit)
			}
		case 11, 12:
			bit := g.pick("0", "1")
			switch g.r.IntN(4) {
			case 0:
				g.cmd("BITPOS", k, bit)
			case 1:
				g.cmd("BITPOS", k, bit, g.index(1))
			case 2:
				g.cmd("BITPOS", k, bit, g.index(1), g.index(1))
			default:
				unit := g.pick("BIT", "BYTE")
				scale := int64(1)
				if unit == "BIT" {
					scale = 8
				}
				g.cmd("BITPOS", k, bit, g.index(scale), g.index(scale), unit)
			}
		case 13, 14:
			g.cmd(append([]string{"BITFIELD", k}, g.bitfieldOps()...)...)
		case 15:
			g.cmd("BITFIELD_RO", k, "GET", g.pick("i8", "u7", "i64", "u63", "i13"), g.bitfieldOffset())
		case 16:
			srcs := []string{keys[g.r.IntN(3)], keys[g.r.IntN(3)], "missing"}
			op := g.pick("AND", "OR", "XOR", "NOT")
			if op == "NOT" {
				srcs = srcs[:1]
			}
			g.cmd(append([]string{"BITOP", op, keys[g.r.IntN(3)]}, srcs[:1+g.r.IntN(len(srcs))]...)...)
		case 17:
			g.cmd("STRLEN", k)
		case 18:
			g.cmd("GETRANGE", k, "0", "-1")
		default:
			g.cmd("BITCOUNT", k, "0", "-1", "BIT")
		}
	}
	runGenerated(t, "strings-random", g.lines)
}

func (g *scriptGen) bitfieldOffset() string {
	if g.r.IntN(4) == 0 {
		return "#" + strconv.Itoa(g.r.IntN(3000))
	}
	return strconv.FormatInt(g.byteOffset()*8+int64(g.r.IntN(16)), 10)
}

func (g *scriptGen) bitfieldOps() []string {
	var out []string
	for n := 1 + g.r.IntN(4); n > 0; n-- {
		typ := "i"
		bits := 1 + g.r.IntN(64)
		if g.r.IntN(2) == 0 {
			typ = "u"
			bits = 1 + g.r.IntN(63)
		}
		ft := typ + strconv.Itoa(bits)
		val := strconv.FormatInt(g.r.Int64N(1<<uint(min(bits, 62)))-int64(g.r.IntN(3)), 10)
		switch g.r.IntN(5) {
		case 0:
			val = g.pick("9223372036854775807", "-9223372036854775808", "-1", "1", "0")
		case 1:
			val = strconv.FormatInt(-g.r.Int64N(math.MaxInt64), 10)
		}
		switch g.r.IntN(4) {
		case 0:
			out = append(out, "GET", ft, g.bitfieldOffset())
		case 1:
			out = append(out, "SET", ft, g.bitfieldOffset(), val)
		case 2:
			out = append(out, "INCRBY", ft, g.bitfieldOffset(), val)
		default:
			out = append(out, "OVERFLOW", g.pick("WRAP", "SAT", "FAIL"))
		}
	}
	return out
}

func TestLCSRandomDiff(t *testing.T) {
	g := &scriptGen{r: rand.New(rand.NewPCG(11, 2))}
	word := func() string {
		n := g.r.IntN(40)
		b := make([]byte, n)
		for i := range b {
			b[i] = "abc d"[g.r.IntN(5)]
		}
		return string(b)
	}
	for i := 0; i < 300; i++ {
		g.cmd("SET", "x", word())
		g.cmd("SET", "y", word())
		opts := []string{"LCS", "x", "y"}
		switch g.r.IntN(5) {
		case 0:
			opts = append(opts, "LEN")
		case 1:
			opts = append(opts, "IDX")
		case 2:
			opts = append(opts, "IDX", "WITHMATCHLEN")
		case 3:
			opts = append(opts, "IDX", "MINMATCHLEN", strconv.Itoa(g.r.IntN(5)-1))
		}
		g.cmd(opts...)
		if g.r.IntN(10) == 0 {
			g.lines = append(g.lines, "@skip HELLO 3") // the client ids differ
			g.cmd("LCS", "x", "y", "IDX", "WITHMATCHLEN")
			g.lines = append(g.lines, "@skip HELLO 2")
		}
	}
	runGenerated(t, "lcs-random", g.lines)
}

// TestIncrByFloatDiff compares INCRBYFLOAT on many values, spelled in every way strtold
// reads, with Redis's long double results.
func TestIncrByFloatDiff(t *testing.T) {
	g := &scriptGen{r: rand.New(rand.NewPCG(5, 3))}
	fixed := []string{"0.1", "10.5", "-0.1", "1e400", "-1e400", "1e-400", "1e4932", "1.2e4932",
		"1.18973149535723176e4932", "1.18973149535723177e4932", "3.6e-4951", "1.8e-4951",
		"1.9e-4951", "0x1p-16445", "0x1p-16446", "0x1.8p-16446", "0x1p16383", "0x1.fffffffffffffffep16383",
		"0x1.ffffffffffffffffp16383", "0.000003814697265625", "0.000003814697265635", "1e-17",
		"5e-18", "4.9999999999999999e-18", "-5e-18", "123456789012345678901234567890",
		"9007199254740993", "18446744073709551615", "18446744073709551617", "0x", "0x.8", "0x1.",
		".5e1", "5.e-1", "1e+", "1e+1", "--1", "+-1", "1.2.3", "inf", "-Infinity", "nan",
		"-nan", "1\x00garbage", "\x00", " 1", "1 ", "\t1", "00001", "-0", "+0", "0e0",
		"1_0", "1e99999999999999999999", "1e-99999999999999999999", "0e99999999999999999999",
		"0.30000000000000000001", "2.5", "-2.5", "1.5e-5", "12345.6789e-3"}
	for _, v := range fixed {
		g.cmd("SET", "f", "0")
		g.cmd("INCRBYFLOAT", "f", v)
		g.cmd("SET", "f", v)
		g.cmd("INCRBYFLOAT", "f", "0")
		g.cmd("INCRBYFLOAT", "f", "1.1")
	}
	g.cmd("SET", "f", "0")
	for i := 0; i < 600; i++ {
		var v string
		switch g.r.IntN(6) {
		case 0:
			v = strconv.FormatFloat(g.r.NormFloat64()*1e6, 'f', g.r.IntN(20), 64)
		case 1:
			v = strconv.FormatFloat(g.r.Float64(), 'g', 1+g.r.IntN(25), 64)
		case 2:
			v = fmt.Sprintf("%de%d", g.r.Int64N(1e18)-5e17, g.r.IntN(60)-30)
		case 3:
			v = fmt.Sprintf("0x%xp%d", g.r.Uint64(), g.r.IntN(200)-100)
		case 4:
			v = fmt.Sprintf("%d.%d", g.r.IntN(1000), g.r.Int64N(1e18))
		default:
			v = "-" + strconv.FormatFloat(g.r.ExpFloat64(), 'e', g.r.IntN(30), 64)
		}
		g.cmd("INCRBYFLOAT", "f", v)
		if g.r.IntN(20) == 0 {
			g.cmd("SET", "f", strconv.FormatFloat(g.r.NormFloat64()*1e10, 'g', 17, 64))
		}
	}
	long := "0." + strings.Repeat("0", 5200) + "1"
	g.cmd("INCRBYFLOAT", "f", long)
	g.cmd("INCRBYFLOAT", "f", long[:5119])
	g.cmd("INCRBYFLOAT", "f", long[:5120])
	runGenerated(t, "incrbyfloat", g.lines)
}
