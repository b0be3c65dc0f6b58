package lua

import (
	"fmt"
	"math"
	"strings"

	glua "github.com/yuin/gopher-lua"
)

// string.format as Lua 5.1's str_format: C's printf conversions (c d i o u x X e E f g G q s
// and %%) with the flags "-+ #0", a width and a precision of at most two digits each.
// gopher-lua hands the format to Go's fmt, whose %g, %s widths and missing arguments differ.
func stringFormat(L *glua.LState) int {
	format := checkString(L, 1, "format")
	var out []byte
	arg := 1
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			out = append(out, c)
			continue
		}
		i++
		if i < len(format) && format[i] == '%' {
			out = append(out, '%')
			continue
		}
		arg++
		spec, n := scanFormat(L, format[i:])
		i += n
		if i >= len(format) {
			raise(L, "invalid option '%' to 'format'")
		}
		if arg > L.GetTop() {
			argError(L, arg, "format", "no value")
		}
		conv := format[i]
		switch conv {
		case 'c':
			out = spec.pad(out, string([]byte{byte(toInt32(checkNumber(L, arg, "format")))}))
		case 'd', 'i':
			out = append(out, fmt.Sprintf(spec.goVerb('d'), toInteger(checkNumber(L, arg, "format")))...)
		case 'o', 'u', 'x', 'X':
			v := cUint64(checkNumber(L, arg, "format"))
			verb := conv
			if conv == 'u' {
				verb = 'd'
			}
			out = append(out, fmt.Sprintf(spec.goVerb(verb), v)...)
		case 'e', 'E', 'f', 'g', 'G':
			f := checkNumber(L, arg, "format")
			if math.IsInf(f, 0) || math.IsNaN(f) {
				out = spec.pad(out, spec.special(f, conv))
				continue
			}
			if conv == 'g' || conv == 'G' {
				if spec.prec < 0 {
					spec.prec = 6
				} else if spec.prec == 0 {
					spec.prec = 1
				}
			}
			out = append(out, fmt.Sprintf(spec.goVerb(conv), f)...)
		case 'q':
			out = appendQuoted(out, checkString(L, arg, "format"))
		case 's':
			s := checkString(L, arg, "format")
			if spec.prec < 0 && len(s) >= 100 {
				out = append(out, s...) // kept whole, as Lua does for long strings
				continue
			}
			s = cString(s)
			if spec.prec >= 0 && len(s) > spec.prec {
				s = s[:spec.prec]
			}
			out = spec.pad(out, s)
		default:
			raise(L, "invalid option '%"+string(conv)+"' to 'format'")
		}
	}
	L.Push(glua.LString(out))
	return 1
}

type formatSpec struct {
	flags string
	width int
	prec  int // -1: none
}

// scanFormat reads flags, width and precision (Lua's scanformat) and returns how many bytes
// they took.
func scanFormat(L *glua.LState, s string) (formatSpec, int) {
	spec := formatSpec{prec: -1}
	i := 0
	for i < len(s) && strings.IndexByte("-+ #0", s[i]) >= 0 {
		i++
	}
	if i >= 6 {
		raise(L, "invalid format (repeated flags)")
	}
	spec.flags = s[:i]
	digits := func() (int, bool) {
		n, start := 0, i
		for i < len(s) && isDigit(s[i]) {
			n = n*10 + int(s[i]-'0')
			i++
		}
		return n, i > start
	}
	start := i
	spec.width, _ = digits()
	if i-start > 2 {
		raise(L, "invalid format (width or precision too long)")
	}
	if i < len(s) && s[i] == '.' {
		i++
		start = i
		spec.prec, _ = digits()
		if i-start > 2 {
			raise(L, "invalid format (width or precision too long)")
		}
	}
	return spec, i
}

// goVerb is the spec as a Go format verb (Go's flags, width and precision mean what C's do
// for these conversions).
func (s formatSpec) goVerb(verb byte) string {
	var b strings.Builder
	b.WriteByte('%')
	b.WriteString(s.flags)
	if s.width > 0 {
		fmt.Fprintf(&b, "%d", s.width)
	}
	if s.prec >= 0 {
		fmt.Fprintf(&b, ".%d", s.prec)
	}
	b.WriteByte(verb)
	return b.String()
}

// pad writes s padded to the width with spaces (C pads strings and inf/nan with spaces).
func (s formatSpec) pad(out []byte, str string) []byte {
	fill := s.width - len(str)
	left := strings.IndexByte(s.flags, '-') >= 0
	if !left {
		for ; fill > 0; fill-- {
			out = append(out, ' ')
		}
	}
	out = append(out, str...)
	for ; fill > 0; fill-- {
		out = append(out, ' ')
	}
	return out
}

// special is how glibc prints inf and nan: lowercase or uppercase by the conversion, with
// the sign (and a '+' or ' ' flag).
func (s formatSpec) special(f float64, conv byte) string {
	text := "inf"
	if math.IsNaN(f) {
		text = "nan"
	}
	if conv == 'E' || conv == 'G' {
		text = strings.ToUpper(text)
	}
	switch {
	case math.Signbit(f):
		text = "-" + text
	case strings.IndexByte(s.flags, '+') >= 0:
		text = "+" + text
	case strings.IndexByte(s.flags, ' ') >= 0:
		text = " " + text
	}
	return text
}

// appendQuoted is Lua's addquoted: a double-quoted string Lua can read back.
func appendQuoted(out []byte, s string) []byte {
	out = append(out, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\', '\n':
			out = append(out, '\\', c)
		case '\r':
			out = append(out, '\\', 'r')
		case 0:
			out = append(out, '\\', '0', '0', '0')
		default:
			out = append(out, c)
		}
	}
	return append(out, '"')
}
