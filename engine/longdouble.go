package engine

import (
	"math/big"
)

// Redis computes HINCRBYFLOAT (and INCRBYFLOAT) in C's long double, which on x86-64 is the
// x87 80-bit extended format: a 64-bit mantissa and exponents down to 2^-16445 (subnormal)
// and up to just below 2^16384. The functions here reproduce it with math/big.Float at 64-bit
// precision, rounding to nearest even as the x87 does, plus that format's range: overflow is
// infinity, and results below the smallest normal number lose precision as subnormals do.

// Exponent limits of the x87 extended format in big.Float's convention (x = mant × 2^exp with
// 0.5 <= mant < 1).
const (
	ldPrec       = 64
	ldMaxExp     = 16384  // largest finite: (1-2^-64) × 2^16384
	ldMinNormExp = -16381 // smallest normal: 0.5 × 2^-16381 = 2^-16382
	ldMinExp     = -16444 // smallest subnormal: 0.5 × 2^-16444 = 2^-16445
	// ldMaxChars is Redis's MAX_LONG_DOUBLE_CHARS: longer arguments are not numbers.
	ldMaxChars = 5 * 1024
)

// ldFit rounds x (already rounded to 64 bits) into the extended format's range: it reports
// false when x overflows to infinity; a value too small becomes zero or a subnormal.
func ldFit(x *big.Float) bool {
	if x.IsInf() {
		return false
	}
	if x.Sign() == 0 {
		return true
	}
	exp := x.MantExp(nil)
	switch {
	case exp > ldMaxExp:
		return false
	case exp >= ldMinNormExp:
		return true
	}
	// A subnormal keeps only the bits at or above 2^-16445, its last bit.
	bits := exp - ldMinExp + 1
	if bits <= 0 {
		// Below the smallest subnormal: up to half of it (a tie goes to even, zero) is zero.
		half := new(big.Float).SetMantExp(big.NewFloat(0.5), ldMinExp-1)
		if new(big.Float).Abs(x).Cmp(half) > 0 {
			x.SetMantExp(big.NewFloat(sign(x)*0.5), ldMinExp)
		} else {
			x.SetInt64(0)
		}
		return true
	}
	x.SetPrec(uint(bits)).SetPrec(ldPrec)
	return true
}

func sign(x *big.Float) float64 {
	if x.Signbit() {
		return -1
	}
	return 1
}

// ParseLongDouble parses b as Redis's string2ld does: all of b must be a number strtold
// accepts (decimal or hexadecimal, "inf" and "infinity" included, no leading space, no NaN),
// shorter than 5 KiB, and within the long double range (overflow and underflow to zero fail;
// a subnormal result is fine).
func ParseLongDouble(b []byte) (*big.Float, bool) {
	if len(b) == 0 || len(b) >= ldMaxChars {
		return nil, false
	}
	kind, ok := scanStrtold(b)
	if !ok {
		return nil, false
	}
	x := new(big.Float).SetPrec(ldPrec)
	neg := b[0] == '-'
	switch kind {
	case numInf:
		return x.SetInf(neg), true
	case numNaN:
		return nil, false
	}
	s := string(b)
	if s[0] == '+' {
		s = s[1:]
	}
	base := 10
	if kind == numHex {
		base = 0
	}
	if _, _, err := x.Parse(s, base); err != nil {
		// big reports exponents beyond its range as errors: an overflow or an underflow for
		// strtold, except that a zero mantissa is an exact zero.
		if mantissaIsZero(b) {
			x.SetInt64(0)
			if neg {
				x.Neg(x)
			}
			return x, true
		}
		return nil, false
	}
	if !ldFit(x) {
		return nil, false
	}
	if x.Sign() == 0 && !mantissaIsZero(b) {
		return nil, false // underflow to zero: strtold sets ERANGE
	}
	return x, true
}

type numKind uint8

const (
	numDecimal numKind = iota
	numHex
	numInf
	numNaN
)

// scanStrtold reports whether all of b is one number in strtold's grammar (C locale), and
// which kind.
func scanStrtold(b []byte) (numKind, bool) {
	i := 0
	if b[0] == '+' || b[0] == '-' {
		i++
	}
	rest := b[i:]
	if equalFold(rest, "inf") || equalFold(rest, "infinity") {
		return numInf, true
	}
	if len(rest) >= 3 && equalFold(rest[:3], "nan") {
		r := rest[3:]
		if len(r) == 0 {
			return numNaN, true
		}
		if r[0] == '(' && r[len(r)-1] == ')' {
			for _, c := range r[1 : len(r)-1] {
				if !isAlnum(c) && c != '_' {
					return 0, false
				}
			}
			return numNaN, true
		}
		return 0, false
	}
	hex := len(rest) > 2 && rest[0] == '0' && (rest[1] == 'x' || rest[1] == 'X')
	digit, expChar := isDigit, byte('e')
	kind := numDecimal
	if hex {
		rest = rest[2:]
		digit, expChar = isHexDigit, 'p'
		kind = numHex
	}
	j, mant := 0, 0
	for j < len(rest) && digit(rest[j]) {
		j++
		mant++
	}
	if j < len(rest) && rest[j] == '.' {
		j++
		for j < len(rest) && digit(rest[j]) {
			j++
			mant++
		}
	}
	if mant == 0 {
		return 0, false
	}
	if j < len(rest) && (rest[j]|0x20) == expChar {
		j++
		if j < len(rest) && (rest[j] == '+' || rest[j] == '-') {
			j++
		}
		k := j
		for j < len(rest) && isDigit(rest[j]) {
			j++
		}
		if j == k {
			return 0, false
		}
	}
	return kind, j == len(rest)
}

// mantissaIsZero says whether the digits of a number (before any exponent) are all zero.
func mantissaIsZero(b []byte) bool {
	i := 0
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		i++
	}
	expChar := byte('e')
	if len(b) > i+1 && b[i] == '0' && (b[i+1]|0x20) == 'x' {
		i += 2
		expChar = 'p'
	}
	for ; i < len(b) && (b[i]|0x20) != expChar; i++ {
		if b[i] != '0' && b[i] != '.' {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool    { return c >= '0' && c <= '9' }
func isHexDigit(c byte) bool { return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'f') }
func isAlnum(c byte) bool    { return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'z') }

func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if b[i]|0x20 != s[i] {
			return false
		}
	}
	return true
}

// AddLongDouble returns a+b in long double arithmetic; false when the sum is not finite.
func AddLongDouble(a, b *big.Float) (*big.Float, bool) {
	if a.IsInf() || b.IsInf() {
		return nil, false
	}
	z := new(big.Float).SetPrec(ldPrec).Add(a, b)
	if !ldFit(z) {
		return nil, false
	}
	return z, true
}

// AppendLongDoubleHuman appends x as Redis's ld2string in LD_STR_HUMAN mode writes it:
// printf("%.17Lf") with the zeros after the decimal point trimmed (and the point with them),
// and "-0" written as "0".
func AppendLongDoubleHuman(dst []byte, x *big.Float) []byte {
	if x.IsInf() {
		if x.Signbit() {
			return append(dst, "-inf"...)
		}
		return append(dst, "inf"...)
	}
	start := len(dst)
	dst = x.Append(dst, 'f', 17)
	end := len(dst)
	for end > start && dst[end-1] == '0' {
		end--
	}
	if end > start && dst[end-1] == '.' {
		end--
	}
	dst = dst[:end]
	if string(dst[start:]) == "-0" {
		dst = append(dst[:start], '0')
	}
	return dst
}
