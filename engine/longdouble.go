package engine

import (
	"math/big"
	"strings"
)

// INCRBYFLOAT computes in C's long double, which on x86-64 is the x87 80-bit extended format: a
// 64-bit mantissa, normal exponents from -16382 to 16383, subnormals down to 2^-16445. It parses
// both operands with strtold (correctly rounded), adds them (rounded to nearest even), and
// prints the sum with "%.17Lf" before stripping trailing zeros. Float64 arithmetic gives other
// answers (10.5 + 0.1 is 10.6 in long double, 10.59999999999999964 in float64), so the engine
// emulates the format with math/big: exact rationals rounded once to the x87 grid.

// Limits of the x87 extended format, as exponents of big.Float (mantissa in [0.5, 1)).
const (
	ldPrec        = 64
	ldMaxExp      = 16384 // the largest finite value is below 2^16384
	ldSubnormBits = 16445 // the smallest subnormal is 2^-16445
	ldMinNormal   = 16382 // the smallest normal value is 2^-16382
	// ldMaxChars is Redis's MAX_LONG_DOUBLE_CHARS: longer strings are not floats to it.
	ldMaxChars = 5 * 1024
)

// parseLongDouble parses b as Redis's string2ld does: strtold reading all of b, with no
// leading space, no NaN, and no overflow or underflow to zero. The result is an x87 value
// (±Inf included), or false.
func parseLongDouble(b []byte) (*big.Float, bool) {
	if len(b) == 0 || len(b) >= ldMaxChars {
		return nil, false
	}
	s := string(b)
	if strings.IndexByte(s, 0) >= 0 {
		return nil, false // strtold stops at a NUL, and all of the string must be read
	}
	switch s[0] {
	case ' ', '\t', '\n', '\v', '\f', '\r':
		return nil, false
	}
	neg := false
	if s[0] == '+' || s[0] == '-' {
		neg = s[0] == '-'
		s = s[1:]
	}
	if l := strings.ToLower(s); l == "inf" || l == "infinity" {
		return new(big.Float).SetInf(neg), true
	}
	var p, q *big.Int
	var ok bool
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		p, q, ok = parseHexFloat(s[2:])
	} else {
		p, q, ok = parseDecimalFloat(s)
	}
	if !ok {
		return nil, false
	}
	return roundX87(p, q, neg)
}

// parseDecimalFloat parses digits[.digits][e[sign]digits] into the exact fraction p/q.
func parseDecimalFloat(s string) (p, q *big.Int, ok bool) {
	mant, frac, exp, ok := scanMantExp(s, isDecimalDigit, 'e')
	if !ok {
		return nil, nil, false
	}
	p = new(big.Int)
	p.SetString(mant, 10)
	q = big.NewInt(1)
	if p.Sign() == 0 {
		return p, q, true
	}
	// The value is in [10^(digits-1+e), 10^(digits+e)): settle the far ranges without
	// computing huge powers. The x87 range is about 3.6e-4951 .. 1.19e4932.
	digits := int64(len(strings.TrimLeft(mant, "0")))
	e := exp - int64(frac)
	switch {
	case digits-1+e > 4933:
		return nil, nil, false // overflow
	case digits+e < -4952:
		return nil, nil, false // underflow to zero
	}
	pow := new(big.Int).Exp(big.NewInt(10), big.NewInt(abs64(e)), nil)
	if e >= 0 {
		p.Mul(p, pow)
	} else {
		q = pow
	}
	return p, q, true
}

// parseHexFloat parses hexdigits[.hexdigits][p[sign]digits] (after "0x") into p/q.
func parseHexFloat(s string) (p, q *big.Int, ok bool) {
	mant, frac, exp, ok := scanMantExp(s, isHexDigit, 'p')
	if !ok {
		return nil, nil, false
	}
	p = new(big.Int)
	p.SetString(mant, 16)
	q = big.NewInt(1)
	if p.Sign() == 0 {
		return p, q, true
	}
	e := exp - 4*int64(frac)
	switch bits := int64(p.BitLen()); {
	case bits-1+e > 16383:
		return nil, nil, false
	case bits+e < -ldSubnormBits-1:
		return nil, nil, false
	}
	if e >= 0 {
		p.Lsh(p, uint(e))
	} else {
		q.Lsh(q, uint(-e))
	}
	return p, q, true
}

// scanMantExp reads digits[.digits][<expLetter>[sign]digits] (at least one digit, the letter
// in either case) and returns the digits without the point, the count of digits after it, and
// the exponent.
func scanMantExp(s string, isDigit func(byte) bool, expLetter byte) (mant string, frac int, exp int64, ok bool) {
	var sb strings.Builder
	i, seen, point := 0, false, false
	for ; i < len(s); i++ {
		c := s[i]
		if isDigit(c) {
			sb.WriteByte(c)
			seen = true
			if point {
				frac++
			}
		} else if c == '.' && !point {
			point = true
		} else {
			break
		}
	}
	if !seen {
		return "", 0, 0, false
	}
	if i < len(s) {
		if s[i]|0x20 != expLetter {
			return "", 0, 0, false
		}
		if exp, ok = scanExponent(s[i+1:]); !ok {
			return "", 0, 0, false
		}
	}
	return sb.String(), frac, exp, true
}

// scanExponent reads [sign]digits, saturating far beyond any exponent that matters.
func scanExponent(s string) (int64, bool) {
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if !isDecimalDigit(s[i]) {
			return 0, false
		}
		if n < 1e9 {
			n = n*10 + int64(s[i]-'0')
		}
	}
	if neg {
		n = -n
	}
	return n, true
}

func isDecimalDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHexDigit(c byte) bool {
	return isDecimalDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func abs64(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// roundX87 rounds the exact value ±p/q to the nearest x87 extended value (ties to even). It
// fails, as strtold's ERANGE does for Redis, when the value overflows or underflows to zero.
func roundX87(p, q *big.Int, neg bool) (*big.Float, bool) {
	z := new(big.Float).SetPrec(ldPrec)
	if p.Sign() == 0 {
		if neg {
			z.Neg(z)
		}
		return z, true
	}
	minNormal := new(big.Int).Lsh(p, ldMinNormal)
	if minNormal.Cmp(q) < 0 {
		// Subnormal: the grid is 2^-16445 whatever the magnitude.
		num := new(big.Int).Lsh(p, ldSubnormBits)
		k, rem := new(big.Int).QuoRem(num, q, new(big.Int))
		switch c := new(big.Int).Lsh(rem, 1).Cmp(q); {
		case c > 0, c == 0 && k.Bit(0) == 1:
			k.Add(k, big.NewInt(1))
		}
		if k.Sign() == 0 {
			return nil, false
		}
		z.SetInt(k)
		z.SetMantExp(z, -ldSubnormBits)
	} else {
		var a, b big.Float
		a.SetInt(p)
		b.SetInt(q)
		z.Quo(&a, &b)
		if z.MantExp(nil) > ldMaxExp {
			return nil, false
		}
	}
	if neg {
		z.Neg(z)
	}
	return z, true
}

// addLongDouble adds two x87 values as the FPU does; false when the sum is NaN or infinite.
// (The exact sum of two values on the x87 grid that falls in the subnormal range is itself on
// the grid, so rounding to 64 bits there is exact and no subnormal rounding is needed.)
func addLongDouble(a, b *big.Float) (*big.Float, bool) {
	if a.IsInf() || b.IsInf() {
		return nil, false
	}
	z := new(big.Float).SetPrec(ldPrec).Add(a, b)
	if z.Sign() != 0 && z.MantExp(nil) > ldMaxExp {
		return nil, false
	}
	return z, true
}

// formatLongDouble prints z as Redis's ld2string(LD_STR_HUMAN) does: "%.17Lf", then trailing
// zeros (and a trailing point) removed, and "-0" printed as "0".
func formatLongDouble(dst []byte, z *big.Float) []byte {
	start := len(dst)
	dst = z.Append(dst, 'f', 17)
	if strings.IndexByte(string(dst[start:]), '.') >= 0 {
		for dst[len(dst)-1] == '0' {
			dst = dst[:len(dst)-1]
		}
		if dst[len(dst)-1] == '.' {
			dst = dst[:len(dst)-1]
		}
	}
	if string(dst[start:]) == "-0" {
		dst = append(dst[:start], '0')
	}
	return dst
}
