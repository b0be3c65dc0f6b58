package server_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/stratadb/strata/server/servertest"
)

func parseReply(t *testing.T, raw string) servertest.Reply {
	t.Helper()
	r, err := servertest.ParseReply(raw)
	if err != nil {
		t.Fatalf("bad reply %q: %v", raw, err)
	}
	return r
}

// TestRandomReplies checks the replies of SRANDMEMBER, SPOP and HRANDFIELD, which no script can
// compare byte for byte: their shape in RESP2 and RESP3, that every element belongs to the
// collection, that positive counts never repeat, and that SPOP removes what it returns.
func TestRandomReplies(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	for _, proto := range []string{"2", "3"} {
		t.Run("resp"+proto, func(t *testing.T) {
			c := s.Dial(t)
			c.Do("HELLO", proto)
			setKind := byte('*')
			if proto == "3" {
				setKind = '~'
			}
			key, hkey := "s"+proto, "h"+proto
			members := map[string]bool{}
			for _, n := range []int{5, 300} { // exact ranks, then random walks
				args := []string{"SADD", key}
				hargs := []string{"HSET", hkey}
				for i := len(members); i < n; i++ {
					m := fmt.Sprintf("m%04d", i)
					members[m] = true
					args = append(args, m)
					hargs = append(hargs, m, "v"+m)
				}
				c.Do(args...)
				c.Do(hargs...)
				for _, count := range []int{1, 2, 3, 4, 5, 6, 50, 299, 300, 301, -1, -3, -500} {
					r := parseReply(t, c.Do("SRANDMEMBER", key, strconv.Itoa(count)))
					checkPicks(t, "SRANDMEMBER", r, '*', count, n, members)
					r = parseReply(t, c.Do("HRANDFIELD", hkey, strconv.Itoa(count)))
					checkPicks(t, "HRANDFIELD", r, '*', count, n, members)
					r = parseReply(t, c.Do("HRANDFIELD", hkey, strconv.Itoa(count), "WITHVALUES"))
					var fields servertest.Reply
					fields.Kind = r.Kind
					if proto == "3" {
						for _, pair := range r.Elems {
							if pair.Kind != '*' || len(pair.Elems) != 2 || pair.Elems[1].Text != "v"+pair.Elems[0].Text {
								t.Fatalf("HRANDFIELD %d WITHVALUES: pair %+v", count, pair)
							}
							fields.Elems = append(fields.Elems, pair.Elems[0])
						}
					} else {
						if len(r.Elems)%2 != 0 {
							t.Fatalf("HRANDFIELD %d WITHVALUES: %d elements", count, len(r.Elems))
						}
						for i := 0; i < len(r.Elems); i += 2 {
							if r.Elems[i+1].Text != "v"+r.Elems[i].Text {
								t.Fatalf("HRANDFIELD %d WITHVALUES: %q with %q", count, r.Elems[i].Text, r.Elems[i+1].Text)
							}
							fields.Elems = append(fields.Elems, r.Elems[i])
						}
					}
					checkPicks(t, "HRANDFIELD WITHVALUES", fields, '*', count, n, members)
				}
				for range 5 {
					r := parseReply(t, c.Do("SRANDMEMBER", key))
					if r.Kind != '$' || !members[r.Text] {
						t.Fatalf("SRANDMEMBER: %+v", r)
					}
					r = parseReply(t, c.Do("HRANDFIELD", hkey))
					if r.Kind != '$' || !members[r.Text] {
						t.Fatalf("HRANDFIELD: %+v", r)
					}
				}
			}
			// SPOP takes members away for good.
			left := len(members)
			for _, count := range []int{1, 7, 100} {
				r := parseReply(t, c.Do("SPOP", key, strconv.Itoa(count)))
				checkPicks(t, "SPOP", r, setKind, count, left, members)
				for _, m := range r.Strings() {
					delete(members, m)
					if got := c.Do("SISMEMBER", key, m); got != ":0\r\n" {
						t.Fatalf("popped %q is still a member: %q", m, got)
					}
				}
				left -= count
				if got := c.Do("SCARD", key); got != fmt.Sprintf(":%d\r\n", left) {
					t.Fatalf("SCARD after SPOP: %q, want %d", got, left)
				}
			}
			r := parseReply(t, c.Do("SPOP", key))
			if r.Kind != '$' || !members[r.Text] {
				t.Fatalf("SPOP: %+v", r)
			}
			delete(members, r.Text)
			r = parseReply(t, c.Do("SPOP", key, "1000"))
			checkPicks(t, "SPOP all", r, setKind, 1000, len(members), members)
			if got := c.Do("SCARD", key); got != ":0\r\n" {
				t.Fatalf("SCARD after popping all: %q", got)
			}
		})
	}
}

// checkPicks checks a random reply of count picks from a collection of size n.
func checkPicks(t *testing.T, name string, r servertest.Reply, kind byte, count, n int, members map[string]bool) {
	t.Helper()
	want := count
	if count < 0 {
		want = -count
	} else if count > n {
		want = n
	}
	if r.Kind != kind || len(r.Elems) != want {
		t.Fatalf("%s %d: reply type %q with %d elements, want %q with %d", name, count, r.Kind, len(r.Elems), kind, want)
	}
	seen := map[string]bool{}
	for _, e := range r.Elems {
		if e.Kind != '$' || !members[e.Text] {
			t.Fatalf("%s %d: %+v is not a member", name, count, e)
		}
		if count > 0 && seen[e.Text] {
			t.Fatalf("%s %d: %q repeated", name, count, e.Text)
		}
		seen[e.Text] = true
	}
}

// TestScanIteration runs HSCAN and SSCAN to the end over collections too big to come back in
// one call, and checks that every element comes back exactly once, with MATCH and COUNT.
func TestScanIteration(t *testing.T) {
	s := servertest.StartStrata(t, nil)
	c := s.Dial(t)
	want := map[string]string{}
	hargs, sargs := []string{"HSET", "h"}, []string{"SADD", "s"}
	for i := 0; i < 1500; i++ {
		f := fmt.Sprintf("field:%d", i)
		want[f] = "v" + strconv.Itoa(i)
		hargs = append(hargs, f, want[f])
		sargs = append(sargs, f)
	}
	c.Do(hargs...)
	c.Do(sargs...)
	for _, match := range []string{"*", "field:1*"} {
		gotH, gotS := map[string]string{}, map[string]int{}
		for _, cmd := range []string{"HSCAN", "SSCAN"} {
			key := map[string]string{"HSCAN": "h", "SSCAN": "s"}[cmd]
			cursor, calls := "0", 0
			for {
				r := parseReply(t, c.Do(cmd, key, cursor, "MATCH", match, "COUNT", "97"))
				if r.Kind != '*' || len(r.Elems) != 2 || r.Elems[1].Kind != '*' {
					t.Fatalf("%s reply %+v", cmd, r)
				}
				els := r.Elems[1].Strings()
				if cmd == "HSCAN" {
					for i := 0; i+1 < len(els); i += 2 {
						if _, dup := gotH[els[i]]; dup {
							t.Fatalf("HSCAN returned %q twice", els[i])
						}
						gotH[els[i]] = els[i+1]
					}
				} else {
					for _, m := range els {
						gotS[m]++
					}
				}
				calls++
				cursor = r.Elems[0].Text
				if cursor == "0" {
					break
				}
			}
			if calls < 1500/97 {
				t.Errorf("%s finished in %d calls with COUNT 97", cmd, calls)
			}
		}
		n := 0
		for f, v := range want {
			if match != "*" && !strings.HasPrefix(f, "field:1") {
				continue
			}
			n++
			if gotH[f] != v || gotS[f] != 1 {
				t.Fatalf("MATCH %s: %q came back as %q from HSCAN and %d times from SSCAN", match, f, gotH[f], gotS[f])
			}
		}
		if len(gotH) != n || len(gotS) != n {
			t.Fatalf("MATCH %s: %d and %d elements, want %d", match, len(gotH), len(gotS), n)
		}
	}
}
