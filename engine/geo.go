package engine

import (
	"bytes"
	"math"
	"sort"
)

// GEO: points on a sorted set, scored with Redis's 52-bit interleaved geohash (26 bits of
// longitude in [-180, 180] and 26 of latitude in [-85.05112878, 85.05112878]). Everything here
// follows Redis's geohash.c, geohash_helper.c and geo.c step for step, in the same float64
// operations and the same order, so that scores, decoded positions, the boxes a search scans and
// the order of unsorted results are Redis's own. Products are wrapped in float64() so that no
// compiler fuses them into an FMA, which C does not do either.
//
// Distances use Go's sin, cos and asin, which differ from glibc's in the last bit for about a
// third of the distances: invisible with the four decimals GEODIST and WITHDIST print (no
// difference in 200,000 random pairs), and a point exactly on the radius could in theory fall
// the other way. Distances stored as scores (STOREDIST) print every digit, so they are computed
// with correctly rounded functions (geo_exact.go), which agree with glibc on 99.7% of random
// pairs (glibc itself is not correctly rounded for the rest).

const (
	geoStepMax  = 26
	geoLatMin   = -85.05112878
	geoLatMax   = 85.05112878
	geoLongMin  = -180.0
	geoLongMax  = 180.0
	earthRadius = 6372797.560856 // meters, as Redis's EARTH_RADIUS_IN_METERS
	mercatorMax = 20037726.37
	degToRad    = math.Pi / 180.0
)

type geoBits struct {
	bits uint64
	step uint8
}

func (h geoBits) zero() bool { return h.bits == 0 && h.step == 0 }

type geoRange struct{ min, max float64 }

type geoArea struct {
	lon, lat geoRange
}

var (
	wgs84Lon = geoRange{geoLongMin, geoLongMax}
	wgs84Lat = geoRange{geoLatMin, geoLatMax}
)

// interleave64 puts the bits of x in the even positions and those of y in the odd ones.
func interleave64(xlo, ylo uint32) uint64 {
	b := [...]uint64{0x5555555555555555, 0x3333333333333333, 0x0F0F0F0F0F0F0F0F, 0x00FF00FF00FF00FF, 0x0000FFFF0000FFFF}
	s := [...]uint{1, 2, 4, 8, 16}
	x, y := uint64(xlo), uint64(ylo)
	for i := 4; i >= 0; i-- {
		x = (x | (x << s[i])) & b[i]
		y = (y | (y << s[i])) & b[i]
	}
	return x | (y << 1)
}

// deinterleave64 undoes interleave64: the even bits in the low half, the odd ones in the high.
func deinterleave64(v uint64) uint64 {
	b := [...]uint64{0x5555555555555555, 0x3333333333333333, 0x0F0F0F0F0F0F0F0F, 0x00FF00FF00FF00FF, 0x0000FFFF0000FFFF, 0x00000000FFFFFFFF}
	s := [...]uint{0, 1, 2, 4, 8, 16}
	x, y := v, v>>1
	for i := 0; i < 6; i++ {
		x = (x | (x >> s[i])) & b[i]
		y = (y | (y >> s[i])) & b[i]
	}
	return x | (y << 32)
}

// geohashEncode is geohashEncode: ok false outside the ranges.
func geohashEncode(lonR, latR geoRange, lon, lat float64, step uint8) (geoBits, bool) {
	if step > 32 || step == 0 {
		return geoBits{}, false
	}
	if lon > geoLongMax || lon < geoLongMin || lat > geoLatMax || lat < geoLatMin {
		return geoBits{}, false
	}
	if lat < latR.min || lat > latR.max || lon < lonR.min || lon > lonR.max {
		return geoBits{step: step}, false
	}
	latOff := (lat - latR.min) / (latR.max - latR.min)
	lonOff := (lon - lonR.min) / (lonR.max - lonR.min)
	latOff *= float64(uint64(1) << step)
	lonOff *= float64(uint64(1) << step)
	return geoBits{bits: interleave64(uint32(latOff), uint32(lonOff)), step: step}, true
}

// geohashDecode is geohashDecode: the cell of a hash.
func geohashDecode(lonR, latR geoRange, h geoBits) (geoArea, bool) {
	if h.zero() {
		return geoArea{}, false
	}
	sep := deinterleave64(h.bits)
	latScale := latR.max - latR.min
	lonScale := lonR.max - lonR.min
	ilato := uint32(sep)
	ilono := uint32(sep >> 32)
	div := float64(uint64(1) << h.step)
	var a geoArea
	a.lat.min = latR.min + float64(float64(ilato)/div*latScale)
	a.lat.max = latR.min + float64(float64(ilato+1)/div*latScale)
	a.lon.min = lonR.min + float64(float64(ilono)/div*lonScale)
	a.lon.max = lonR.min + float64(float64(ilono+1)/div*lonScale)
	return a, true
}

// areaCenter is geohashDecodeAreaToLongLat: the cell's centre, clamped to the ranges.
func areaCenter(a geoArea) (lon, lat float64) {
	lon = (a.lon.min + a.lon.max) / 2
	lon = math.Min(math.Max(lon, geoLongMin), geoLongMax)
	lat = (a.lat.min + a.lat.max) / 2
	lat = math.Min(math.Max(lat, geoLatMin), geoLatMax)
	return lon, lat
}

// cDoubleToUint64 converts as gcc's code for (uint64_t)d does on x86-64, values outside the
// range included (a score that is not a geohash still decodes to some point, as in Redis).
func cDoubleToUint64(d float64) uint64 {
	const two63 = 9223372036854775808.0
	if d >= two63 {
		d -= two63
		if d >= two63 || math.IsInf(d, 0) {
			return 0 // cvttsd2si's 0x8000... flipped back by the xor
		}
		return uint64(int64(d)) ^ (1 << 63)
	}
	if math.IsNaN(d) || d < -two63 {
		return 1 << 63
	}
	return uint64(int64(d))
}

// GeoDecode returns the longitude and latitude a geo score stands for: the centre of its cell.
func GeoDecode(score float64) (lon, lat float64) {
	a, _ := geohashDecode(wgs84Lon, wgs84Lat, geoBits{bits: cDoubleToUint64(score), step: geoStepMax})
	return areaCenter(a)
}

// GeoLonLatOK says whether a point is inside the ranges GEOADD accepts.
func GeoLonLatOK(lon, lat float64) bool {
	return lon >= geoLongMin && lon <= geoLongMax && lat >= geoLatMin && lat <= geoLatMax
}

// GeoScore is the score GEOADD gives a point (inside the ranges).
func GeoScore(lon, lat float64) float64 {
	h, _ := geohashEncode(wgs84Lon, wgs84Lat, lon, lat, geoStepMax)
	return float64(align52(h))
}

// GeoHashString is GEOHASH's 11-character standard geohash of a geo score: the point decoded,
// then encoded again with the standard latitude range [-90, 90].
func GeoHashString(score float64) string {
	const alphabet = "0123456789bcdefghjkmnpqrstuvwxyz"
	lon, lat := GeoDecode(score)
	h, _ := geohashEncode(geoRange{-180, 180}, geoRange{-90, 90}, lon, lat, 26)
	var buf [11]byte
	for i := 0; i < 11; i++ {
		idx := 0
		if i < 10 {
			idx = int(h.bits>>(52-(i+1)*5)) & 0x1f
		}
		buf[i] = alphabet[idx]
	}
	return string(buf[:])
}

func align52(h geoBits) uint64 { return h.bits << (52 - uint(h.step)*2) }

// move steps a cell one cell along one axis, whose bits are mask (0xaaaa... for the
// longitude, 0x5555... for the latitude): geohash_move_x and geohash_move_y.
func move(h *geoBits, d int, mask uint64) {
	if d == 0 {
		return
	}
	v := h.bits & mask
	other := h.bits &^ mask
	zz := ^mask >> (64 - uint(h.step)*2)
	if d > 0 {
		v = v + (zz + 1)
	} else {
		v = v | zz
		v = v - (zz + 1)
	}
	v &= mask >> (64 - uint(h.step)*2)
	h.bits = v | other
}

// Neighbour slots, in the order Redis searches them.
const (
	geoSelf = iota
	geoNorth
	geoSouth
	geoEast
	geoWest
	geoNorthEast
	geoNorthWest
	geoSouthEast
	geoSouthWest
)

// geoNeighbors returns the cell and its eight neighbours in Redis's search order.
func geoNeighbors(h geoBits) [9]geoBits {
	moves := [9][2]int{{0, 0}, {0, 1}, {0, -1}, {1, 0}, {-1, 0}, {1, 1}, {-1, 1}, {1, -1}, {-1, -1}}
	var n [9]geoBits
	for i, m := range moves {
		n[i] = h
		move(&n[i], m[0], 0xaaaaaaaaaaaaaaaa)
		move(&n[i], m[1], 0x5555555555555555)
	}
	return n
}

func degRad(a float64) float64 { return a * degToRad }
func radDeg(a float64) float64 { return a / degToRad }

// estimateSteps is geohashEstimateStepsByRadius.
func estimateSteps(rangeMeters, lat float64) uint8 {
	if rangeMeters == 0 {
		return 26
	}
	step := 1
	for rangeMeters < mercatorMax {
		rangeMeters *= 2
		step++
	}
	step -= 2
	if lat > 66 || lat < -66 {
		step--
		if lat > 80 || lat < -80 {
			step--
		}
	}
	return uint8(min(max(step, 1), 26))
}

// GeoDistance is the haversine distance in meters, as geohashGetDistance computes it.
func GeoDistance(lon1d, lat1d, lon2d, lat2d float64) float64 {
	lat1r := degRad(lat1d)
	lon1r := degRad(lon1d)
	lat2r := degRad(lat2d)
	lon2r := degRad(lon2d)
	u := math.Sin((lat2r - lat1r) / 2)
	v := math.Sin((lon2r - lon1r) / 2)
	inner := float64(u*u) + float64(float64(float64(math.Cos(lat1r)*math.Cos(lat2r))*v)*v)
	return float64(2.0*earthRadius) * math.Asin(math.Sqrt(inner))
}

// GeoShape is a search area: a circle of Radius or a Width x Height box around (Lon, Lat),
// in the unit whose size in meters is Conversion.
type GeoShape struct {
	Lon, Lat      float64
	Box           bool
	Radius        float64
	Width, Height float64
	Conversion    float64
}

// boundingBox is geohashBoundingBox: min lon, min lat, max lon, max lat.
func (s *GeoShape) boundingBox() [4]float64 {
	height, width := s.Radius, s.Radius
	if s.Box {
		height, width = s.Height/2, s.Width/2
	}
	height *= s.Conversion
	width *= s.Conversion
	latDelta := radDeg(height / earthRadius)
	longDeltaTop := radDeg(width / earthRadius / math.Cos(degRad(s.Lat+latDelta)))
	longDeltaBottom := radDeg(width / earthRadius / math.Cos(degRad(s.Lat-latDelta)))
	var b [4]float64
	if s.Lat < 0 {
		b[0], b[2] = s.Lon-longDeltaBottom, s.Lon+longDeltaBottom
	} else {
		b[0], b[2] = s.Lon-longDeltaTop, s.Lon+longDeltaTop
	}
	b[1], b[3] = s.Lat-latDelta, s.Lat+latDelta
	return b
}

// searchBoxes is geohashCalculateAreasByShapeWGS84: the centre cell and its neighbours at a
// step that covers the shape, with the neighbours the shape cannot reach zeroed.
func (s *GeoShape) searchBoxes() [9]geoBits {
	b := s.boundingBox()
	minLon, minLat, maxLon, maxLat := b[0], b[1], b[2], b[3]
	radius := s.Radius
	if s.Box {
		radius = math.Sqrt(float64((s.Width/2)*(s.Width/2)) + float64((s.Height/2)*(s.Height/2)))
	}
	radius *= s.Conversion
	steps := estimateSteps(radius, s.Lat)
	hash, _ := geohashEncode(wgs84Lon, wgs84Lat, s.Lon, s.Lat, steps)
	n := geoNeighbors(hash)
	area, _ := geohashDecode(wgs84Lon, wgs84Lat, hash)
	north, _ := geohashDecode(wgs84Lon, wgs84Lat, n[geoNorth])
	south, _ := geohashDecode(wgs84Lon, wgs84Lat, n[geoSouth])
	east, _ := geohashDecode(wgs84Lon, wgs84Lat, n[geoEast])
	west, _ := geohashDecode(wgs84Lon, wgs84Lat, n[geoWest])
	decrease := north.lat.max < maxLat || south.lat.min > minLat || east.lon.max < maxLon || west.lon.min > minLon
	if steps > 1 && decrease {
		steps--
		hash, _ = geohashEncode(wgs84Lon, wgs84Lat, s.Lon, s.Lat, steps)
		n = geoNeighbors(hash)
		area, _ = geohashDecode(wgs84Lon, wgs84Lat, hash)
	}
	if steps >= 2 {
		if area.lat.min < minLat {
			n[geoSouth], n[geoSouthWest], n[geoSouthEast] = geoBits{}, geoBits{}, geoBits{}
		}
		if area.lat.max > maxLat {
			n[geoNorth], n[geoNorthEast], n[geoNorthWest] = geoBits{}, geoBits{}, geoBits{}
		}
		if area.lon.min < minLon {
			n[geoWest], n[geoSouthWest], n[geoNorthWest] = geoBits{}, geoBits{}, geoBits{}
		}
		if area.lon.max > maxLon {
			n[geoEast], n[geoSouthEast], n[geoNorthEast] = geoBits{}, geoBits{}, geoBits{}
		}
	}
	return n
}

// contains decides whether the point (lon, lat) is in the shape and returns its distance from
// the centre in meters (geoAppendIfWithinShape).
func (s *GeoShape) contains(lon, lat float64) (float64, bool) {
	if !s.Box {
		d := GeoDistance(s.Lon, s.Lat, lon, lat)
		return d, d <= s.Radius*s.Conversion
	}
	w, h := s.Width*s.Conversion, s.Height*s.Conversion
	lonDist := GeoDistance(lon, lat, s.Lon, lat)
	latDist := GeoDistance(lon, lat, lon, s.Lat)
	if lonDist > w/2 || latDist > h/2 {
		return 0, false
	}
	return GeoDistance(s.Lon, s.Lat, lon, lat), true
}

// GeoPoint is a member found by a search; Dist is in meters.
type GeoPoint struct {
	Member   []byte
	Score    float64
	Lon, Lat float64
	Dist     float64
}

// GeoSearch returns the members of the sorted set at key inside the shape, in the order Redis
// finds them: cell by cell (centre, N, S, E, W, NE, NW, SE, SW), each cell one bounded scan of
// its score range. limit > 0 stops once that many are found (ANY). A missing key gives none.
func (t *Txn) GeoSearch(key []byte, s *GeoShape, limit int) ([]GeoPoint, error) {
	z, found, err := t.openZSet(key, false)
	if err != nil || !found {
		return nil, err
	}
	defer z.close()
	boxes := s.searchBoxes()
	var out []GeoPoint
	last := 0
	for i, b := range boxes {
		if b.zero() {
			continue
		}
		if last != 0 && b == boxes[last] {
			continue
		}
		if len(out) > 0 && limit > 0 && len(out) >= limit {
			break
		}
		lo := float64(align52(b))
		b.bits++
		hi := float64(align52(b))
		sp, _ := z.spanOf(ZByScore, ScoreRange{Min: lo, Max: hi, MaxEx: true}, LexRange{}, false)
		it, err := z.seekPos(sp.lo, true)
		if err != nil {
			return nil, err
		}
		err = z.walk(it, true, func(pos []byte) (bool, error) {
			if bytes.Compare(pos, sp.hi) >= 0 {
				return false, nil
			}
			score, member, err := z.posScore(pos)
			if err != nil {
				return false, err
			}
			lon, lat := GeoDecode(score)
			if d, in := s.contains(lon, lat); in {
				out = append(out, GeoPoint{Member: t.keep(member), Score: score, Lon: lon, Lat: lat, Dist: d})
			}
			return !(len(out) > 0 && limit > 0 && len(out) >= limit), nil
		})
		if err != nil {
			return nil, err
		}
		last = i
	}
	return out, nil
}

// GeoSort orders search results by distance as Redis does: all of them with glibc's qsort
// (a stable merge sort) when all are returned, or only the first n with Redis's pqsort (a
// partial quicksort, whose order among equal distances this reproduces).
func GeoSort(points []GeoPoint, desc bool, n int) {
	cmp := func(a, b *GeoPoint) int {
		r := 0
		switch {
		case a.Dist > b.Dist:
			r = 1
		case a.Dist < b.Dist:
			r = -1
		}
		if desc {
			return -r
		}
		return r
	}
	if n >= len(points) {
		sort.SliceStable(points, func(i, j int) bool { return cmp(&points[i], &points[j]) < 0 })
		return
	}
	pqsort(points, 0, len(points), cmp, 0, n-1)
}

// pqsort is Redis's _pqsort (NetBSD's qsort that only recurses into the parts overlapping
// [lrange, rrange]) on points[lo:lo+n].
func pqsort(a []GeoPoint, lo, n int, cmp func(a, b *GeoPoint) int, lrange, rrange int) {
	swap := func(i, j int) { a[i], a[j] = a[j], a[i] }
	vecswap := func(i, j, k int) {
		for ; k > 0; k-- {
			swap(i, j)
			i++
			j++
		}
	}
	med3 := func(x, y, z int) int {
		if cmp(&a[x], &a[y]) < 0 {
			if cmp(&a[y], &a[z]) < 0 {
				return y
			}
			if cmp(&a[x], &a[z]) < 0 {
				return z
			}
			return x
		}
		if cmp(&a[y], &a[z]) > 0 {
			return y
		}
		if cmp(&a[x], &a[z]) < 0 {
			return x
		}
		return z
	}
	for {
		if n < 7 {
			for pm := lo + 1; pm < lo+n; pm++ {
				for pl := pm; pl > lo && cmp(&a[pl-1], &a[pl]) > 0; pl-- {
					swap(pl, pl-1)
				}
			}
			return
		}
		pm := lo + n/2
		if n > 7 {
			pl, pn := lo, lo+n-1
			if n > 40 {
				d := n / 8
				pl = med3(pl, pl+d, pl+2*d)
				pm = med3(pm-d, pm, pm+d)
				pn = med3(pn-2*d, pn-d, pn)
			}
			pm = med3(pl, pm, pn)
		}
		swap(lo, pm)
		pa, pb := lo+1, lo+1
		pc, pd := lo+n-1, lo+n-1
		for {
			for pb <= pc {
				r := cmp(&a[pb], &a[lo])
				if r > 0 {
					break
				}
				if r == 0 {
					swap(pa, pb)
					pa++
				}
				pb++
			}
			for pb <= pc {
				r := cmp(&a[pc], &a[lo])
				if r < 0 {
					break
				}
				if r == 0 {
					swap(pc, pd)
					pd--
				}
				pc--
			}
			if pb > pc {
				break
			}
			swap(pb, pc)
			pb++
			pc--
		}
		pn := lo + n
		r := min(pa-lo, pb-pa)
		vecswap(lo, pb-r, r)
		r = min(pd-pc, pn-pd-1)
		vecswap(pb, pn-r, r)
		if r = pb - pa; r > 1 && !(rrange < lo || lrange >= lo+r) {
			pqsort(a, lo, r, cmp, lrange, rrange)
		}
		r = pd - pc
		if r <= 1 {
			return
		}
		lo, n = pn-r, r
		if rrange < lo || lrange >= lo+n {
			return
		}
	}
}
