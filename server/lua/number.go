package lua

import (
	"math"
	"strconv"
)

// Numbers as Redis's Lua 5.1 prints and reads them. Lua 5.1 formats a number with C's "%.14g"
// (tostring, concatenation, cjson), Redis passes numbers to commands with "%.17g", and a
// number becomes a reply integer through a C cast. gopher-lua prints numbers its own way, so
// every place this package controls goes through these helpers.

// appendG appends f as C's printf("%.<prec>g") prints it with glibc, nan and inf included.
func appendG(dst []byte, f float64, prec int) []byte {
	switch {
	case math.IsNaN(f):
		if math.Signbit(f) {
			return append(dst, "-nan"...)
		}
		return append(dst, "nan"...)
	case math.IsInf(f, 1):
		return append(dst, "inf"...)
	case math.IsInf(f, -1):
		return append(dst, "-inf"...)
	}
	return strconv.AppendFloat(dst, f, 'g', prec, 64)
}

// formatNumber is Lua 5.1's tostring of a number ("%.14g").
func formatNumber(f float64) string {
	var buf [32]byte
	return string(appendG(buf[:0], f, 14))
}

// toInteger converts f as C's (long long) cast does on x86-64: truncation toward zero, and
// the "integer indefinite" value (the most negative int64) for NaN and values out of range.
func toInteger(f float64) int64 {
	if math.IsNaN(f) || f >= 9223372036854775808.0 || f < -9223372036854775808.0 {
		return math.MinInt64
	}
	return int64(f)
}

// toInt32 converts f as C's (int) cast does on x86-64 (luaL_checkint).
func toInt32(f float64) int32 {
	if math.IsNaN(f) || f >= 2147483648.0 || f < -2147483648.0 {
		return math.MinInt32
	}
	return int32(f)
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// strtod parses the longest prefix of s that C's strtod (glibc) accepts: leading white
// space, a sign, then a decimal or hexadecimal float, "inf", "infinity" or "nan" (with an
// optional parenthesised tail), case-insensitively. It returns the value and the number of
// bytes consumed (0 when nothing could be parsed). Out-of-range values become ±Inf or 0, as
// strtod returns them.
func strtod(s []byte) (float64, int) {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	start := i
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	word := func(w string) bool {
		if len(s)-i < len(w) {
			return false
		}
		for k := 0; k < len(w); k++ {
			if lower(s[i+k]) != w[k] {
				return false
			}
		}
		return true
	}
	sign := func(f float64) float64 {
		if neg {
			return -f
		}
		return f
	}
	switch {
	case word("infinity"):
		return sign(math.Inf(1)), i + 8
	case word("inf"):
		return sign(math.Inf(1)), i + 3
	case word("nan"):
		i += 3
		if i < len(s) && s[i] == '(' {
			j := i + 1
			for j < len(s) && (isAlnum(s[j]) || s[j] == '_') {
				j++
			}
			if j < len(s) && s[j] == ')' {
				i = j + 1
			}
		}
		return sign(math.NaN()), i
	}
	if i+1 < len(s) && s[i] == '0' && lower(s[i+1]) == 'x' {
		if f, n, ok := parseHexFloat(s[i+2:]); ok {
			return sign(f), i + 2 + n
		}
		// "0x" without hex digits: strtod takes the "0".
		return sign(0), i + 1
	}
	j := i
	digits := 0
	for j < len(s) && isDigit(s[j]) {
		j++
		digits++
	}
	if j < len(s) && s[j] == '.' {
		j++
		for j < len(s) && isDigit(s[j]) {
			j++
			digits++
		}
	}
	if digits == 0 {
		return 0, 0
	}
	if j < len(s) && lower(s[j]) == 'e' {
		k := j + 1
		if k < len(s) && (s[k] == '+' || s[k] == '-') {
			k++
		}
		if k < len(s) && isDigit(s[k]) {
			for k < len(s) && isDigit(s[k]) {
				k++
			}
			j = k
		}
	}
	// The prefix is well formed, so ParseFloat fails only on range, returning ±Inf or ±0
	// as strtod does.
	f, _ := strconv.ParseFloat(string(s[start:j]), 64)
	return f, j
}

// parseHexFloat parses hex digits, an optional fraction and an optional binary exponent
// (what follows "0x" in a C hexadecimal float).
func parseHexFloat(s []byte) (float64, int, bool) {
	j := 0
	digits := 0
	for j < len(s) && isHex(s[j]) {
		j++
		digits++
	}
	if j < len(s) && s[j] == '.' {
		j++
		for j < len(s) && isHex(s[j]) {
			j++
			digits++
		}
	}
	if digits == 0 {
		return 0, 0, false
	}
	mant := string(s[:j])
	exp := "p0"
	if j < len(s) && lower(s[j]) == 'p' {
		k := j + 1
		if k < len(s) && (s[k] == '+' || s[k] == '-') {
			k++
		}
		if k < len(s) && isDigit(s[k]) {
			for k < len(s) && isDigit(s[k]) {
				k++
			}
			exp = string(s[j:k])
			j = k
		}
	}
	if mant[0] == '.' {
		mant = "0" + mant
	}
	f, _ := strconv.ParseFloat("0x"+mant+exp, 64)
	return f, j, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isHex(c byte) bool   { return isDigit(c) || (lower(c) >= 'a' && lower(c) <= 'f') }
func isAlnum(c byte) bool { return isDigit(c) || (lower(c) >= 'a' && lower(c) <= 'z') }

// cString is s up to its first NUL byte, as C functions see a Lua string.
func cString(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return s[:i]
		}
	}
	return s
}

// str2number is Lua 5.1's luaO_str2d: strtod, then a hexadecimal integer when strtod stopped
// at an 'x', then only white space may follow.
func str2number(s string) (float64, bool) {
	b := []byte(cString(s))
	f, n := strtod(b)
	if n == 0 {
		return 0, false
	}
	if n < len(b) && lower(b[n]) == 'x' {
		v, m := strtoul(b, 16)
		f, n = float64(v), m
	}
	for n < len(b) && isSpace(b[n]) {
		n++
	}
	return f, n == len(b)
}

// strtoul is C's strtoul in base 2..36 (white space, a sign, "0x" in base 16), saturating at
// the maximum on overflow. It returns the value and the bytes consumed (0: none).
func strtoul(s []byte, base int) (uint64, int) {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	if base == 16 && i+1 < len(s) && s[i] == '0' && lower(s[i+1]) == 'x' && i+2 < len(s) && digitValue(s[i+2]) < 16 {
		i += 2
	}
	var v uint64
	overflow := false
	j := i
	for j < len(s) {
		d := digitValue(s[j])
		if d >= base {
			break
		}
		if v > (math.MaxUint64-uint64(d))/uint64(base) {
			overflow = true
		}
		v = v*uint64(base) + uint64(d)
		j++
	}
	if j == i {
		return 0, 0
	}
	if overflow {
		return math.MaxUint64, j
	}
	if neg {
		v = -v
	}
	return v, j
}

func digitValue(c byte) int {
	switch {
	case isDigit(c):
		return int(c - '0')
	case lower(c) >= 'a' && lower(c) <= 'z':
		return int(lower(c)-'a') + 10
	}
	return 99
}
