package servertest

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// Compare says how a random command's replies are compared.
type Compare uint8

const (
	// Exact: byte for byte.
	Exact Compare = iota
	// Unordered: an array reply compared as a multiset of its elements (SMEMBERS, KEYS).
	Unordered
	// TypeOnly: only the reply's type byte (TTL, nondeterministic picks).
	TypeOnly
)

// Step is one generated command.
type Step struct {
	Args    []string
	Compare Compare
}

// Generator produces the next command from the seeded source. Generators for each area (strings,
// keys, hashes ...) live with that area's tests; RandomDiff mixes them.
type Generator func(r *rand.Rand) Step

// Pool is the set of key names and values generators draw from: few enough keys that commands
// collide on them often (type errors, overwrites), and values that exercise integers, empty and
// binary strings.
type Pool struct {
	Keys []string
}

// NewPool makes a pool of n keys named k0..kn-1 plus a few awkward names.
func NewPool(n int) *Pool {
	p := &Pool{}
	for i := 0; i < n; i++ {
		p.Keys = append(p.Keys, "k"+strconv.Itoa(i))
	}
	p.Keys = append(p.Keys, "", "{tag}a", "{tag}b", "key with spaces", "k\x00nul")
	return p
}

// Key returns a random key of the pool.
func (p *Pool) Key(r *rand.Rand) string { return p.Keys[r.IntN(len(p.Keys))] }

// Value returns a random value: small integers, big integers, floats, empty, text, binary.
func Value(r *rand.Rand) string {
	switch r.IntN(10) {
	case 0:
		return ""
	case 1, 2:
		return strconv.Itoa(r.IntN(200) - 100)
	case 3:
		return strconv.FormatInt(r.Int64()-r.Int64(), 10)
	case 4:
		return strconv.FormatFloat(r.NormFloat64()*1000, 'f', r.IntN(5), 64)
	case 5:
		b := make([]byte, r.IntN(20))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return string(b)
	default:
		return "v" + strconv.Itoa(r.IntN(50))
	}
}

// RandomDiff runs n commands from gens (picked uniformly) on a fresh Strata and a fresh
// redis-server, compares every reply as its Step says, then compares the final keyspace of
// every database in dbs with Dump. Failures name the seed, so a run can be replayed.
func RandomDiff(t *testing.T, seed uint64, n int, dbs []int, gens ...Generator) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	redis := StartRedis(t)
	strata := StartStrata(t, nil)
	rc, sc := redis.Dial(t), strata.Dial(t)
	var history []string
	for i := 0; i < n; i++ {
		st := gens[r.IntN(len(gens))](r)
		history = append(history, quoteArgs(st.Args))
		if len(history) > 30 {
			history = history[1:]
		}
		want := rc.Do(st.Args...)
		got := sc.Do(st.Args...)
		ok := true
		switch st.Compare {
		case Exact:
			ok = got == want
		case Unordered:
			ok = sameElements(got, want)
		case TypeOnly:
			ok = len(got) > 0 && len(want) > 0 && got[0] == want[0]
		}
		if !ok {
			t.Fatalf("seed %d, command %d: %s\n  redis:  %q\n  strata: %q\nlast commands:\n  %s",
				seed, i, quoteArgs(st.Args), want, got, strings.Join(history, "\n  "))
		}
	}
	for _, db := range dbs {
		rc.Do("SELECT", strconv.Itoa(db))
		sc.Do("SELECT", strconv.Itoa(db))
		want, got := Dump(t, rc), Dump(t, sc)
		if want != got {
			t.Fatalf("seed %d: final keyspace of db %d differs\n  redis:\n%s\n  strata:\n%s", seed, db, want, got)
		}
	}
}

func quoteArgs(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = strconv.Quote(a)
	}
	return strings.Join(q, " ")
}

// Dump describes every key of the connection's current database in a canonical text form:
// name, type, whether it has a TTL, and its contents read with the type's own commands
// (collections sorted where their order is not part of the value).
func Dump(t *testing.T, c *Conn) string {
	t.Helper()
	keys, ok := topElements(c.Do("KEYS", "*"))
	if !ok {
		t.Fatal("KEYS * did not return an array")
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, kr := range keys {
		k := bulkText(kr)
		typ := strings.TrimSpace(strings.TrimPrefix(c.Do("TYPE", k), "+"))
		ttl := c.Do("PTTL", k)
		hasTTL := !strings.HasPrefix(ttl, ":-")
		fmt.Fprintf(&b, "%q %s ttl=%v ", k, typ, hasTTL)
		switch typ {
		case "string":
			b.WriteString(c.Do("GET", k))
		case "list":
			b.WriteString(c.Do("LRANGE", k, "0", "-1"))
		case "set":
			b.WriteString(sortedReply(c.Do("SMEMBERS", k)))
		case "zset":
			b.WriteString(c.Do("ZRANGE", k, "0", "-1", "WITHSCORES"))
		case "hash":
			b.WriteString(sortedPairs(c.Do("HGETALL", k)))
		case "stream":
			b.WriteString(c.Do("XRANGE", k, "-", "+"))
		}
		b.WriteString("\n")
	}
	return b.String()
}

func bulkText(reply string) string {
	_, rest, _ := strings.Cut(reply, "\r\n")
	return strings.TrimSuffix(rest, "\r\n")
}

func sortedReply(reply string) string {
	e, ok := topElements(reply)
	if !ok {
		return reply
	}
	sort.Strings(e)
	return strings.Join(e, "")
}

func sortedPairs(reply string) string {
	e, ok := topElements(reply)
	if !ok || len(e)%2 != 0 {
		return reply
	}
	pairs := make([]string, 0, len(e)/2)
	for i := 0; i < len(e); i += 2 {
		pairs = append(pairs, e[i]+e[i+1])
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "")
}
