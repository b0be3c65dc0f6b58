package server

import (
	"slices"
	"strconv"
	"strings"

	"github.com/stratadb/strata/conf"
	"github.com/stratadb/strata/engine"
)

// GEO commands: points in sorted sets under Redis's 52-bit geohash scores (engine/geo.go does
// the geometry), parsed and answered as Redis 7.0's geo.c does. Their keyspace events are
// ZADD's for GEOADD (which runs ZADD in Redis), and georadiusstore/geosearchstore (class z) or
// "del" for the STORE forms.

func registerGeoCommands(t *Table) {
	t.add(
		&Command{Name: "geoadd", Arity: -5, Flags: "write denyoom", First: 1, Last: 1, Step: 1, ACL: "@geo", Specs: keyAt(1, "RW update"),
			Handler: cmdGeoAdd,
			Group:   "geo", Since: "3.2.0", Summary: "Add one or more geospatial items in the geospatial index represented using a sorted set", Complexity: "O(log(N)) for each item added, where N is the number of elements in the sorted set."},
		&Command{Name: "geodist", Arity: -4, Flags: "readonly", First: 1, Last: 1, Step: 1, ACL: "@geo",
			Handler: cmdGeoDist,
			Group:   "geo", Since: "3.2.0", Summary: "Returns the distance between two members of a geospatial index", Complexity: "O(log(N))"},
		&Command{Name: "geohash", Arity: -2, Flags: "readonly", First: 1, Last: 1, Step: 1, ACL: "@geo",
			Handler: cmdGeoHash,
			Group:   "geo", Since: "3.2.0", Summary: "Returns members of a geospatial index as standard geohash strings", Complexity: "O(log(N)) for each member requested, where N is the number of elements in the sorted set."},
		&Command{Name: "geopos", Arity: -2, Flags: "readonly", First: 1, Last: 1, Step: 1, ACL: "@geo",
			Handler: cmdGeoPos,
			Group:   "geo", Since: "3.2.0", Summary: "Returns longitude and latitude of members of a geospatial index", Complexity: "O(N) where N is the number of members requested."},
		&Command{Name: "georadius", Arity: -6, Flags: "write denyoom", First: 1, Last: 1, Step: 1, ACL: "@geo", Specs: slices.Concat(keyAt(1, "RO access"), keywordKey("OW update", "STORE", 6), keywordKey("OW update", "STOREDIST", 6)),
			Handler: func(x *Ctx) { cmdGeoSearchGeneric(x, 1, geoCoords) },
			Group:   "geo", Since: "3.2.0", Summary: "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a point", Complexity: "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index."},
		&Command{Name: "georadius_ro", Arity: -6, Flags: "readonly", First: 1, Last: 1, Step: 1, ACL: "@geo",
			Handler: func(x *Ctx) { cmdGeoSearchGeneric(x, 1, geoCoords|geoNoStore) },
			Group:   "geo", Since: "3.2.10", Summary: "A read-only variant for GEORADIUS", Complexity: "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index."},
		&Command{Name: "georadiusbymember", Arity: -5, Flags: "write denyoom", First: 1, Last: 1, Step: 1, ACL: "@geo", Specs: slices.Concat(keyAt(1, "RO access"), keywordKey("OW update", "STORE", 5), keywordKey("OW update", "STOREDIST", 5)),
			Handler: func(x *Ctx) { cmdGeoSearchGeneric(x, 1, geoMember) },
			Group:   "geo", Since: "3.2.0", Summary: "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a member", Complexity: "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index."},
		&Command{Name: "georadiusbymember_ro", Arity: -5, Flags: "readonly", First: 1, Last: 1, Step: 1, ACL: "@geo",
			Handler: func(x *Ctx) { cmdGeoSearchGeneric(x, 1, geoMember|geoNoStore) },
			Group:   "geo", Since: "3.2.10", Summary: "A read-only variant for GEORADIUSBYMEMBER", Complexity: "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index."},
		&Command{Name: "geosearch", Arity: -7, Flags: "readonly", First: 1, Last: 1, Step: 1, ACL: "@geo",
			Handler: func(x *Ctx) { cmdGeoSearchGeneric(x, 1, geoSearch) },
			Group:   "geo", Since: "6.2.0", Summary: "Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle.", Complexity: "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the shape provided as the filter and M is the number of items inside the shape"},
		&Command{Name: "geosearchstore", Arity: -8, Flags: "write denyoom", First: 1, Last: 2, Step: 1, ACL: "@geo", Specs: append(keyAt(1, "OW update"), keyAt(2, "RO access")...),
			Handler: func(x *Ctx) { cmdGeoSearchGeneric(x, 2, geoSearch|geoSearchStore) },
			Group:   "geo", Since: "6.2.0", Summary: "Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle, and store the result in another key.", Complexity: "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the shape provided as the filter and M is the number of items inside the shape"},
	)
}

// parseLonLat is extractLongLatOrReply.
func parseLonLat(lonArg, latArg []byte) (lon, lat float64, err error) {
	var ok bool
	if lon, ok = engine.ParseFloat(lonArg); !ok {
		return 0, 0, engine.ErrNotFloat
	}
	if lat, ok = engine.ParseFloat(latArg); !ok {
		return 0, 0, engine.ErrNotFloat
	}
	if !engine.GeoLonLatOK(lon, lat) {
		return 0, 0, engine.ErrInvalidLonLat(lon, lat)
	}
	return lon, lat, nil
}

// parseUnit is extractUnitOrReply: the unit's size in meters.
func parseUnit(b []byte) (float64, error) {
	switch strings.ToLower(string(b)) {
	case "m":
		return 1, nil
	case "km":
		return 1000, nil
	case "ft":
		return 0.3048, nil
	case "mi":
		return 1609.34, nil
	}
	return 0, engine.ErrGeoUnit
}

// parseRadius is extractDistanceOrReply.
func parseRadius(radius, unit []byte, s *engine.GeoShape) error {
	r, ok := engine.ParseFloat(radius)
	if !ok {
		return engine.ErrGeoRadius
	}
	if r < 0 {
		return engine.ErrGeoRadiusNegative
	}
	conv, err := parseUnit(unit)
	if err != nil {
		return err
	}
	s.Box, s.Radius, s.Conversion = false, r, conv
	return nil
}

// parseBox is extractBoxOrReply.
func parseBox(width, height, unit []byte, s *engine.GeoShape) error {
	w, ok := engine.ParseFloat(width)
	if !ok {
		return engine.ErrGeoWidth
	}
	h, ok := engine.ParseFloat(height)
	if !ok {
		return engine.ErrGeoHeight
	}
	if h < 0 || w < 0 {
		return engine.ErrGeoBoxNegative
	}
	conv, err := parseUnit(unit)
	if err != nil {
		return err
	}
	s.Box, s.Width, s.Height, s.Conversion = true, w, h, conv
	return nil
}

// appendHumanDouble is ld2string's human form: "%.17Lf" of the value without trailing zeros.
func appendHumanDouble(dst []byte, f float64) []byte {
	start := len(dst)
	dst = AppendDouble(dst, f)
	if s := string(dst[start:]); s == "inf" || s == "-inf" {
		return dst
	}
	dst = strconv.AppendFloat(dst[:start], f, 'f', 17, 64)
	for dst[len(dst)-1] == '0' {
		dst = dst[:len(dst)-1]
	}
	if dst[len(dst)-1] == '.' {
		dst = dst[:len(dst)-1]
	}
	if string(dst[start:]) == "-0" {
		dst = append(dst[:start], '0')
	}
	return dst
}

// humanDouble is addReplyHumanLongDouble: a bulk string in RESP2, a double in RESP3.
func humanDouble(x *Ctx, f float64) {
	var buf [64]byte
	s := appendHumanDouble(buf[:0], f)
	if x.resp > 2 {
		x.out = append(x.out, ',')
		x.out = append(x.out, s...)
		x.out = append(x.out, '\r', '\n')
		return
	}
	x.Bulk(s)
}

// distance is addReplyDoubleDistance: "%.4f", a bulk string in both protocols.
func distance(x *Ctx, d float64) {
	var buf [64]byte
	x.Bulk(strconv.AppendFloat(buf[:0], d, 'f', 4, 64))
}

func cmdGeoAdd(x *Ctx) {
	var f engine.ZAddFlags
	var ch bool
	i := 2
loop:
	for ; i < len(x.Args); i++ {
		switch strings.ToLower(string(x.Args[i])) {
		case "nx":
			f.NX = true
		case "xx":
			f.XX = true
		case "ch":
			ch = true
		default:
			break loop
		}
	}
	if (len(x.Args)-i)%3 != 0 || (f.NX && f.XX) || i == len(x.Args) {
		x.Error(engine.ErrSyntax)
		return
	}
	n := (len(x.Args) - i) / 3
	scores := make([]float64, n)
	members := make([][]byte, n)
	for j := 0; j < n; j++ {
		a := x.Args[i+3*j:]
		lon, lat, err := parseLonLat(a[0], a[1])
		if err != nil {
			x.Error(err)
			return
		}
		scores[j], members[j] = engine.GeoScore(lon, lat), a[2]
	}
	zaddReply(x, f, ch, scores, members)
}

// geoEach answers GEOPOS and GEOHASH: one reply per member asked for, in order.
func geoEach(x *Ctx, missing func(), found func(score float64)) {
	scores, ok, err := x.Txn.ZMScore(x.Args[1], x.Args[2:])
	if err != nil {
		x.Error(err)
		return
	}
	x.ArrayLen(len(scores))
	for i, f := range scores {
		if ok[i] {
			found(f)
		} else {
			missing()
		}
	}
}

func cmdGeoPos(x *Ctx) {
	geoEach(x, x.NullArray, func(f float64) {
		lon, lat := engine.GeoDecode(f)
		x.ArrayLen(2)
		humanDouble(x, lon)
		humanDouble(x, lat)
	})
}

func cmdGeoHash(x *Ctx) {
	geoEach(x, x.Null, func(f float64) { x.BulkString(engine.GeoHashString(f)) })
}

func cmdGeoDist(x *Ctx) {
	toMeter := 1.0
	if len(x.Args) == 5 {
		var err error
		if toMeter, err = parseUnit(x.Args[4]); err != nil {
			x.Error(err)
			return
		}
	} else if len(x.Args) > 5 {
		x.Error(engine.ErrSyntax)
		return
	}
	scores, ok, err := x.Txn.ZMScore(x.Args[1], x.Args[2:4])
	switch {
	case err != nil:
		x.Error(err)
	case !ok[0] || !ok[1]:
		x.Null()
	default:
		lon1, lat1 := engine.GeoDecode(scores[0])
		lon2, lat2 := engine.GeoDecode(scores[1])
		distance(x, engine.GeoDistance(lon1, lat1, lon2, lat2)/toMeter)
	}
}

// Variants of the search (Redis's RADIUS_COORDS, RADIUS_MEMBER, RADIUS_NOSTORE, GEOSEARCH,
// GEOSEARCHSTORE).
const (
	geoCoords = 1 << iota
	geoMember
	geoNoStore
	geoSearch
	geoSearchStore
)

// Result orders.
const (
	sortNone = iota
	sortAsc
	sortDesc
)

// geoMemberPos is longLatFromMember.
func geoMemberPos(x *Ctx, key, member []byte, s *engine.GeoShape) error {
	f, ok, err := x.Txn.ZScore(key, member)
	if err != nil {
		return err
	}
	if !ok {
		return engine.ErrGeoMember
	}
	s.Lon, s.Lat = engine.GeoDecode(f)
	return nil
}

// cmdGeoSearchGeneric is georadiusGeneric: GEORADIUS, GEORADIUSBYMEMBER and their _RO forms,
// GEOSEARCH and GEOSEARCHSTORE.
func cmdGeoSearchGeneric(x *Ctx, srcIdx int, flags int) {
	key := x.Args[srcIdx]
	if x.Cmd.Has(FlagWrite) {
		// GEORADIUS, GEORADIUSBYMEMBER and GEOSEARCHSTORE read their key first, whatever
		// follows; the read-only forms get their "keymiss" from dispatch.
		x.NotifyMisses(key)
	}
	found, err := x.Txn.ZSetExists(key)
	if err != nil {
		x.Error(err)
		return
	}
	var shape engine.GeoShape
	var storeKey []byte
	var storeDist bool
	base := 0
	switch {
	case flags&geoCoords != 0:
		base = 6
		if shape.Lon, shape.Lat, err = parseLonLat(x.Args[2], x.Args[3]); err == nil {
			err = parseRadius(x.Args[4], x.Args[5], &shape)
		}
	case flags&geoMember != 0 && !found:
		base = 5
	case flags&geoMember != 0:
		base = 5
		if err = geoMemberPos(x, key, x.Args[2], &shape); err == nil {
			err = parseRadius(x.Args[3], x.Args[4], &shape)
		}
	default:
		base = 2
		if flags&geoSearchStore != 0 {
			base = 3
			storeKey = x.Args[1]
		}
	}
	if err != nil {
		x.Error(err)
		return
	}
	var withDist, withHash, withCoord, any bool
	var fromMember, fromLoc, byRadius, byBox bool
	order := sortNone
	var count int64
	search := flags&geoSearch != 0
	storeOK := flags&geoNoStore == 0 && !search
	for i := base; i < len(x.Args); i++ {
		arg := strings.ToLower(string(x.Args[i]))
		more := len(x.Args) - 1 - i
		switch {
		case arg == "withdist":
			withDist = true
		case arg == "withhash":
			withHash = true
		case arg == "withcoord":
			withCoord = true
		case arg == "any":
			any = true
		case arg == "asc":
			order = sortAsc
		case arg == "desc":
			order = sortDesc
		case arg == "count" && more >= 1:
			if count, err = parseLong(x.Args[i+1]); err == nil && count <= 0 {
				err = engine.ErrGeoCount
			}
			i++
		case (arg == "store" || arg == "storedist") && more >= 1 && storeOK:
			storeKey, storeDist = x.Args[i+1], arg == "storedist"
			i++
		case arg == "storedist" && flags&geoSearchStore != 0:
			storeDist = true
		case arg == "frommember" && more >= 1 && search && !fromLoc:
			if found {
				err = geoMemberPos(x, key, x.Args[i+1], &shape)
			}
			fromMember = true
			i++
		case arg == "fromlonlat" && more >= 2 && search && !fromMember:
			shape.Lon, shape.Lat, err = parseLonLat(x.Args[i+1], x.Args[i+2])
			fromLoc = true
			i += 2
		case arg == "byradius" && more >= 2 && search && !byBox:
			err = parseRadius(x.Args[i+1], x.Args[i+2], &shape)
			byRadius = true
			i += 2
		case arg == "bybox" && more >= 3 && search && !byRadius:
			err = parseBox(x.Args[i+1], x.Args[i+2], x.Args[i+3], &shape)
			byBox = true
			i += 3
		default:
			err = engine.ErrSyntax
		}
		if err != nil {
			x.Error(err)
			return
		}
	}
	switch {
	case storeKey != nil && (withDist || withHash || withCoord):
		what := "STORE option in GEORADIUS"
		if flags&geoSearchStore != 0 {
			what = "GEOSEARCHSTORE"
		}
		err = engine.ErrGeoStoreOptions(what)
	case search && !fromMember && !fromLoc:
		err = engine.ErrGeoFrom(string(x.Args[0]))
	case search && !byRadius && !byBox:
		err = engine.ErrGeoBy(string(x.Args[0]))
	case any && count == 0:
		err = engine.ErrGeoAny
	}
	if err != nil {
		x.Error(err)
		return
	}
	if !found {
		if storeKey != nil {
			dst := x.watchDel(storeKey)
			if _, err := x.Txn.ZStore(storeKey, nil); err != nil {
				x.Error(err)
				return
			}
			x.reportDel(dst)
			x.Int(0)
		} else {
			x.ArrayLen(0)
		}
		return
	}
	if count != 0 && order == sortNone && !any {
		order = sortAsc
	}
	limit := 0
	if any {
		limit = int(min(count, 1<<31))
	}
	points, err := x.Txn.GeoSearch(key, &shape, limit)
	if err != nil {
		x.Error(err)
		return
	}
	if len(points) == 0 && storeKey == nil {
		x.ArrayLen(0)
		return
	}
	returned := len(points)
	if count != 0 && int64(returned) > count {
		returned = int(count)
	}
	if order != sortNone {
		engine.GeoSort(points, order == sortDesc, returned)
	}
	points = points[:returned]
	if storeKey != nil {
		ms := make([]engine.ScoredMember, len(points))
		for i, p := range points {
			ms[i].Member, ms[i].Score = p.Member, p.Score
			if storeDist {
				// The stored score shows every digit: computed as glibc would (geo_exact.go).
				ms[i].Score = engine.GeoDistanceExact(shape.Lon, shape.Lat, p.Lon, p.Lat) / shape.Conversion
			}
		}
		dst := x.watchDel(storeKey)
		if _, err := x.Txn.ZStore(storeKey, ms); err != nil {
			x.Error(err)
			return
		}
		// Before the reply, as in Redis: the store's event (class z), or "del" when nothing
		// was found and the destination went away.
		if returned > 0 {
			event := "georadiusstore"
			if flags&geoSearchStore != 0 {
				event = "geosearchstore"
			}
			x.Notify(conf.NotifyZSet, event, storeKey)
		} else {
			x.reportDel(dst)
		}
		x.Int(int64(returned))
		return
	}
	options := 0
	for _, on := range []bool{withDist, withHash, withCoord} {
		if on {
			options++
		}
	}
	x.ArrayLen(returned)
	for _, p := range points {
		if options > 0 {
			x.ArrayLen(options + 1)
		}
		x.Bulk(p.Member)
		if withDist {
			distance(x, p.Dist/shape.Conversion)
		}
		if withHash {
			x.Int(int64(p.Score))
		}
		if withCoord {
			x.ArrayLen(2)
			humanDouble(x, p.Lon)
			humanDouble(x, p.Lat)
		}
	}
}
