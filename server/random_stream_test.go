package server_test

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/stratadb/strata/server/servertest"
)

// streamGen generates stream commands over a few keys with explicit IDs (automatic IDs differ
// in time between the two servers). IDs mostly grow, so that XADD mostly succeeds, with a share
// of stale ones; trims, deletions, groups, reads, acknowledgements and claims mix in, and the
// deterministic introspection replies (XINFO STREAM, XINFO GROUPS, XPENDING's summary, XRANGE)
// check the state as it goes.
type streamGen struct {
	keys   []string
	groups []string
	cons   []string
	next   map[string]uint64   // next ms per key
	added  map[string][]string // IDs recently given to XADD per key
}

func newStreamGen() *streamGen {
	return &streamGen{
		keys:   []string{"s0", "s1", "s2", "{t}a", "str"},
		groups: []string{"g1", "g2", "g3"},
		cons:   []string{"c1", "c2", "c3", ""},
		next:   map[string]uint64{},
		added:  map[string][]string{},
	}
}

func (g *streamGen) key(r *rand.Rand) string {
	if r.IntN(40) == 0 {
		return "str" // a string key: WRONGTYPE everywhere
	}
	return g.keys[r.IntN(len(g.keys)-1)]
}

func (g *streamGen) pick(r *rand.Rand, from []string) string { return from[r.IntN(len(from))] }

// id returns an ID near the key's current position: mostly existing-ish ones for reads and
// deletions, sometimes out of range.
func (g *streamGen) id(r *rand.Rand, key string) string {
	top := g.next[key] + 2
	switch r.IntN(12) {
	case 0:
		return "-"
	case 1:
		return "+"
	case 2:
		return strconv.FormatUint(r.Uint64N(top+1), 10)
	case 3:
		return "(" + strconv.FormatUint(r.Uint64N(top+1), 10) + "-" + strconv.Itoa(r.IntN(3))
	}
	return strconv.FormatUint(r.Uint64N(top+1), 10) + "-" + strconv.Itoa(r.IntN(3))
}

// strictID is a plain ID: half the time one XADD was given recently (so that XDEL, XACK and
// XCLAIM find something), else any near the key's position.
func (g *streamGen) strictID(r *rand.Rand, key string) string {
	if ids := g.added[key]; len(ids) > 0 && r.IntN(2) == 0 {
		return ids[r.IntN(len(ids))]
	}
	return strconv.FormatUint(r.Uint64N(g.next[key]+3), 10) + "-" + strconv.Itoa(r.IntN(3))
}

func (g *streamGen) trimArgs(r *rand.Rand, key string) []string {
	var out []string
	if r.IntN(2) == 0 {
		out = append(out, "MAXLEN")
	} else {
		out = append(out, "MINID")
	}
	approx := false
	switch r.IntN(3) {
	case 0:
		out = append(out, "~")
		approx = true
	case 1:
		out = append(out, "=")
	}
	if out[0] == "MAXLEN" {
		out = append(out, strconv.Itoa(r.IntN(250)))
	} else {
		out = append(out, g.strictID(r, key))
	}
	if approx && r.IntN(3) == 0 {
		out = append(out, "LIMIT", strconv.Itoa(r.IntN(300)))
	}
	return out
}

func (g *streamGen) fields(r *rand.Rand) []string {
	switch r.IntN(6) {
	case 0:
		return []string{"f", servertest.Value(r), "g", servertest.Value(r)}
	case 1:
		return []string{servertest.Value(r), servertest.Value(r)}
	case 2:
		return []string{"big", string(make([]byte, r.IntN(3000)))}
	}
	return []string{"f", strconv.Itoa(r.IntN(1000))}
}

func (g *streamGen) generate(r *rand.Rand) servertest.Step {
	key := g.key(r)
	group, cons := g.pick(r, g.groups), g.pick(r, g.cons)
	step := func(args ...string) servertest.Step { return servertest.Step{Args: args} }
	switch n := r.IntN(100); {
	case n < 30: // XADD, in bursts so that streams cross node boundaries
		args := []string{"XADD", key}
		if r.IntN(8) == 0 {
			args = append(args, g.trimArgs(r, key)...)
		}
		if r.IntN(20) == 0 {
			args = append(args, "NOMKSTREAM")
		}
		var id string
		switch r.IntN(10) {
		case 0:
			id = g.strictID(r, key) // probably stale
		case 1:
			g.next[key]++
			id = strconv.FormatUint(g.next[key], 10) + "-*"
		default:
			g.next[key] += uint64(1 + r.IntN(2))
			id = strconv.FormatUint(g.next[key], 10) + "-" + strconv.Itoa(r.IntN(3))
		}
		args = append(args, id)
		if !strings.HasSuffix(id, "*") {
			g.added[key] = append(g.added[key], id)
			if len(g.added[key]) > 40 {
				g.added[key] = g.added[key][1:]
			}
		}
		return step(append(args, g.fields(r)...)...)
	case n < 36:
		args := []string{"XDEL", key}
		for i := 0; i <= r.IntN(4); i++ {
			args = append(args, g.strictID(r, key))
		}
		return step(args...)
	case n < 40:
		return step(append([]string{"XTRIM", key}, g.trimArgs(r, key)...)...)
	case n < 45:
		args := []string{"XRANGE", key, g.id(r, key), g.id(r, key)}
		if r.IntN(2) == 0 {
			args[0] = "XREVRANGE"
		}
		if r.IntN(2) == 0 {
			args = append(args, "COUNT", strconv.Itoa(r.IntN(5)-1))
		}
		return step(args...)
	case n < 47:
		return step("XLEN", key)
	case n < 50:
		return step("XINFO", "STREAM", key)
	case n < 54:
		return step("XINFO", "GROUPS", key)
	case n < 58:
		args := []string{"XGROUP", "CREATE", key, group}
		switch r.IntN(4) {
		case 0:
			args = append(args, "$")
		case 1:
			args = append(args, "0")
		default:
			args = append(args, g.strictID(r, key))
		}
		if r.IntN(3) == 0 {
			args = append(args, "MKSTREAM")
		}
		if r.IntN(4) == 0 {
			args = append(args, "ENTRIESREAD", strconv.Itoa(r.IntN(20)-1))
		}
		return step(args...)
	case n < 60:
		args := []string{"XGROUP", "SETID", key, group, g.pick(r, []string{"$", "0", g.strictID(r, key)})}
		if r.IntN(2) == 0 {
			args = append(args, "ENTRIESREAD", strconv.Itoa(r.IntN(20)-1))
		}
		return step(args...)
	case n < 61:
		return step("XGROUP", "DESTROY", key, group)
	case n < 62:
		return step("XGROUP", "CREATECONSUMER", key, group, cons)
	case n < 63:
		return step("XGROUP", "DELCONSUMER", key, group, cons)
	case n < 75:
		args := []string{"XREADGROUP", "GROUP", group, cons}
		if r.IntN(2) == 0 {
			args = append(args, "COUNT", strconv.Itoa(r.IntN(6)))
		}
		if r.IntN(6) == 0 {
			args = append(args, "NOACK")
		}
		id := ">"
		if r.IntN(4) == 0 {
			id = g.pick(r, []string{"0", g.strictID(r, key)})
		}
		return step(append(args, "STREAMS", key, id)...)
	case n < 81:
		args := []string{"XACK", key, group}
		for i := 0; i <= r.IntN(4); i++ {
			args = append(args, g.strictID(r, key))
		}
		return step(args...)
	case n < 86:
		return step("XPENDING", key, group)
	case n < 88:
		args := []string{"XPENDING", key, group, g.id(r, key), g.id(r, key), strconv.Itoa(r.IntN(5))}
		if r.IntN(2) == 0 {
			args = append(args, cons)
		}
		return servertest.Step{Args: args, Compare: servertest.TypeOnly} // idle times
	case n < 92:
		args := []string{"XCLAIM", key, group, cons, "0"}
		for i := 0; i <= r.IntN(3); i++ {
			args = append(args, g.strictID(r, key))
		}
		for _, opt := range []string{"JUSTID", "FORCE"} {
			if r.IntN(3) == 0 {
				args = append(args, opt)
			}
		}
		if r.IntN(4) == 0 {
			args = append(args, "RETRYCOUNT", strconv.Itoa(r.IntN(5)))
		}
		if r.IntN(6) == 0 {
			args = append(args, "LASTID", g.strictID(r, key))
		}
		return step(args...)
	case n < 96:
		args := []string{"XAUTOCLAIM", key, group, cons, "0", g.id(r, key)}
		if r.IntN(2) == 0 {
			args = append(args, "COUNT", strconv.Itoa(1+r.IntN(4)))
		}
		if r.IntN(3) == 0 {
			args = append(args, "JUSTID")
		}
		return step(args...)
	case n < 98:
		k2 := g.key(r)
		return step("XREAD", "COUNT", strconv.Itoa(r.IntN(4)), "STREAMS", key, k2, g.id(r, key), g.pick(r, []string{"$", "0"}))
	case n < 99:
		switch r.IntN(4) {
		case 0:
			return step("SET", "str", "x")
		case 1:
			return step("DEL", key)
		case 2:
			return step("RENAME", key, g.key(r))
		}
		return step("XSETID", key, strconv.FormatUint(g.next[key]+uint64(r.IntN(3)), 10)+"-"+strconv.Itoa(r.IntN(3)))
	}
	return step("XINFO", "STREAM", key)
}

// TestRandomStreams runs seeded random stream workloads against Strata and redis-server and
// compares every reply, then the final keyspace.
func TestRandomStreams(t *testing.T) {
	seeds := []uint64{1, 2, 3, 4, 5, 6, 7, 8}
	if testing.Short() {
		seeds = seeds[:2]
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			g := newStreamGen()
			servertest.RandomDiff(t, seed, 4000, []int{0}, g.generate)
		})
	}
}
