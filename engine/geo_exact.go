package engine

import "math"

// Correctly rounded sin, cos and asin, for the distances GEO stores with STOREDIST.
//
// Redis computes distances with glibc's sin, cos and asin, which return the correctly rounded
// result for all but about one argument in a thousand; Go's math package is faster and looser,
// and its last bit differs from glibc's in about a third of the distances. A distance shown
// with four decimals never notices, but one stored as a score is printed with 17 digits. So
// stored distances are computed again here in double-double arithmetic (about 106 bits) and
// rounded once, which matches glibc wherever glibc is correctly rounded.

// dd is an unevaluated sum hi + lo with |lo| <= ulp(hi)/2.
type dd struct{ hi, lo float64 }

func twoSum(a, b float64) dd {
	s := a + b
	bb := s - a
	return dd{s, (a - (s - bb)) + (b - bb)}
}

func quickTwoSum(a, b float64) dd {
	s := a + b
	return dd{s, b - (s - a)}
}

// twoProd is a*b exactly, with the fused multiply-add.
func twoProd(a, b float64) dd {
	p := a * b
	return dd{p, math.FMA(a, b, -p)}
}

func (a dd) add(b dd) dd {
	s := twoSum(a.hi, b.hi)
	t := twoSum(a.lo, b.lo)
	s = quickTwoSum(s.hi, s.lo+t.hi)
	return quickTwoSum(s.hi, s.lo+t.lo)
}

func (a dd) neg() dd { return dd{-a.hi, -a.lo} }

func (a dd) mul(b dd) dd {
	p := twoProd(a.hi, b.hi)
	p.lo += a.hi*b.lo + a.lo*b.hi
	return quickTwoSum(p.hi, p.lo)
}

func (a dd) mulf(b float64) dd {
	p := twoProd(a.hi, b)
	p.lo += a.lo * b
	return quickTwoSum(p.hi, p.lo)
}

func (a dd) div(b dd) dd {
	q1 := a.hi / b.hi
	r := a.add(b.mulf(q1).neg())
	q2 := r.hi / b.hi
	r = r.add(b.mulf(q2).neg())
	q3 := r.hi / b.hi
	return quickTwoSum(q1, q2).add(dd{q3, 0})
}

// round is the double nearest to hi + lo.
func (a dd) round() float64 { return a.hi + a.lo }

// piOver2 is pi/2 to about 107 bits.
var piOver2 = dd{1.5707963267948966, 6.123233995736766e-17}

// taylorSteps[i] is 1/((2i+1)(2i+2)) and 1/((2i+2)(2i+3)) in double-double: the factors from
// one term of the cosine and sine series to the next. A constant table, built once.
var taylorSteps = func() (t [32][2]dd) {
	for i := range t {
		n := float64(2*i + 1)
		t[i][0] = dd{1, 0}.div(dd{n * (n + 1), 0})
		t[i][1] = dd{1, 0}.div(dd{(n + 1) * (n + 2), 0})
	}
	return t
}()

// sinCosDD returns sin and cos of x (|x| <= 8) in double-double: x is brought within pi/4 of
// a multiple of pi/2, and Taylor series do the rest.
func sinCosDD(x dd) (sin, cos dd) {
	k := math.Round(x.hi / piOver2.hi)
	r := x.add(piOver2.mulf(k).neg())
	r2 := r.mul(r).neg()
	// sin r = r - r^3/3! + ...; cos r = 1 - r^2/2! + ...
	s, c := r, dd{1, 0}
	sterm, cterm := r, dd{1, 0}
	for _, step := range taylorSteps {
		cterm = cterm.mul(r2).mul(step[0])
		sterm = sterm.mul(r2).mul(step[1])
		c = c.add(cterm)
		s = s.add(sterm)
		if math.Abs(cterm.hi) < 1e-36 && math.Abs(sterm.hi) < 1e-36*math.Abs(s.hi) {
			break
		}
	}
	switch int(k) & 3 {
	case 1:
		return c, s.neg()
	case 2:
		return s.neg(), c.neg()
	case 3:
		return c.neg(), s
	}
	return s, c
}

func exactSin(x float64) float64 {
	if math.Abs(x) < 0x1p-26 || math.Abs(x) > 8 {
		return math.Sin(x)
	}
	s, _ := sinCosDD(dd{x, 0})
	return s.round()
}

func exactCos(x float64) float64 {
	if math.Abs(x) < 0x1p-27 {
		return 1
	}
	if math.Abs(x) > 8 {
		return math.Cos(x)
	}
	_, c := sinCosDD(dd{x, 0})
	return c.round()
}

// exactAsin refines math.Asin with Newton steps on sin in double-double.
func exactAsin(y float64) float64 {
	a := math.Abs(y)
	switch {
	case a < 0x1p-26 || a > 1 || math.IsNaN(y):
		return math.Asin(y)
	case a == 1:
		return math.Copysign(piOver2.hi, y)
	}
	z := dd{math.Asin(a), 0}
	for i := 0; i < 2; i++ {
		s, c := sinCosDD(z)
		z = z.add(s.add(dd{-a, 0}).div(c).neg())
	}
	return math.Copysign(z.round(), y)
}

// GeoDistanceExact is GeoDistance with correctly rounded sin, cos and asin: the distance
// Redis stores with STOREDIST (see the top of this file).
func GeoDistanceExact(lon1d, lat1d, lon2d, lat2d float64) float64 {
	lat1r := degRad(lat1d)
	lon1r := degRad(lon1d)
	lat2r := degRad(lat2d)
	lon2r := degRad(lon2d)
	u := exactSin((lat2r - lat1r) / 2)
	v := exactSin((lon2r - lon1r) / 2)
	inner := float64(u*u) + float64(float64(float64(exactCos(lat1r)*exactCos(lat2r))*v)*v)
	return float64(2.0*earthRadius) * exactAsin(math.Sqrt(inner))
}
