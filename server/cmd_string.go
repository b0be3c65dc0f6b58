package server

import (
	"math"
	"strings"

	"github.com/stratadb/strata/engine"
)

func registerStringCommands(t *Table) {
	t.add(
		&Command{Name: "get", Arity: 2, Flags: "readonly fast", First: 1, Last: 1, Step: 1, ACL: "@string",
			Handler: cmdGet,
			Group:   "string", Since: "1.0.0", Summary: "Get the value of a key", Complexity: "O(1)"},
		&Command{Name: "set", Arity: -3, Flags: "write denyoom", First: 1, Last: 1, Step: 1, ACL: "@string",
			Handler: cmdSet,
			Group:   "string", Since: "1.0.0", Summary: "Set the string value of a key", Complexity: "O(1)"},
	)
}

func cmdGet(x *Ctx) {
	v, ok, err := x.Txn.Get(x.Args[1])
	switch {
	case err != nil:
		x.Error(err)
	case !ok:
		x.Null()
	default:
		x.Bulk(v)
	}
}

// Expiry units and bases of SET, GETEX and friends.
const (
	expireRelative = iota // EX / PX: from now
	expireAbsolute        // EXAT / PXAT: a unix time
)

// expireAt turns an EX/PX/EXAT/PXAT argument into unix milliseconds, with Redis's checks:
// not positive, or overflowing once scaled or added to now, is "invalid expire time in
// '<cmd>' command".
func expireAt(x *Ctx, arg []byte, seconds bool, base int) (int64, error) {
	n, ok := engine.ParseInt(arg)
	if !ok {
		return 0, engine.ErrNotInteger
	}
	if n <= 0 || (seconds && n > math.MaxInt64/1000) {
		return 0, engine.ErrInvalidExpire(x.Cmd.Name)
	}
	if seconds {
		n *= 1000
	}
	if base == expireRelative {
		now := x.Txn.Now()
		if n > math.MaxInt64-now {
			return 0, engine.ErrInvalidExpire(x.Cmd.Name)
		}
		n += now
	}
	return n, nil
}

func cmdSet(x *Ctx) {
	var a engine.SetArgs
	var expArg []byte
	var expSeconds bool
	expBase := -1
	for j := 3; j < len(x.Args); j++ {
		opt := strings.ToUpper(string(x.Args[j]))
		hasNext := j+1 < len(x.Args)
		noExpire := expBase < 0 && !a.KeepTTL
		switch {
		case opt == "NX" && !a.XX:
			a.NX = true
		case opt == "XX" && !a.NX:
			a.XX = true
		case opt == "GET":
			a.Get = true
		case opt == "KEEPTTL" && expBase < 0:
			a.KeepTTL = true
		case (opt == "EX" || opt == "PX" || opt == "EXAT" || opt == "PXAT") && hasNext && !a.KeepTTL &&
			(noExpire || (expBase >= 0 && opt == lastExpireOpt(expSeconds, expBase))):
			expSeconds = opt == "EX" || opt == "EXAT"
			expBase = expireRelative
			if strings.HasSuffix(opt, "AT") {
				expBase = expireAbsolute
			}
			j++
			expArg = x.Args[j]
		default:
			x.Error(engine.ErrSyntax)
			return
		}
	}
	if expArg != nil {
		at, err := expireAt(x, expArg, expSeconds, expBase)
		if err != nil {
			x.Error(err)
			return
		}
		a.ExpireAt = at
	}
	r, err := x.Txn.Set(x.Args[1], x.Args[2], a)
	switch {
	case err != nil:
		x.Error(err)
	case a.Get && r.HadOld:
		x.Bulk(r.Old)
	case a.Get, !r.Done:
		x.Null()
	default:
		x.OK()
	}
}

// lastExpireOpt names the expiry option already given, so that repeating the same one (EX 1
// EX 2) is accepted as Redis accepts it, while mixing two (EX 1 PX 2) is a syntax error.
func lastExpireOpt(seconds bool, base int) string {
	switch {
	case seconds && base == expireRelative:
		return "EX"
	case seconds:
		return "EXAT"
	case base == expireRelative:
		return "PX"
	}
	return "PXAT"
}
