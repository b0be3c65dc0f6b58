package engine

import "testing"

func TestGlobMatch(t *testing.T) {
	cases := []struct {
		p, s   string
		nocase bool
		want   bool
	}{
		{"*", "", false, false}, // as Redis: KEYS and SCAN special-case a lone "*"
		{"*", "abc", false, true},
		{"", "", false, true},
		{"", "a", false, false},
		{"a*", "abc", false, true},
		{"a*c", "abc", false, true},
		{"a*c", "abd", false, false},
		{"h?llo", "hello", false, true},
		{"h?llo", "hllo", false, false},
		{"h[ae]llo", "hallo", false, true},
		{"h[ae]llo", "hillo", false, false},
		{"h[^e]llo", "hallo", false, true},
		{"h[^e]llo", "hello", false, false},
		{"h[a-b]llo", "hbllo", false, true},
		{"h[b-a]llo", "hallo", false, true}, // reversed range
		{"h[a-b]llo", "hcllo", false, false},
		{"a\\*b", "a*b", false, true},
		{"a\\*b", "axb", false, false},
		{"[\\]]", "]", false, true},
		{"ab[", "ab", false, false},  // the class is left unconsumed
		{"ab[c", "abc", false, true}, // unterminated class matches its members
		{"ab[c", "abd", false, false},
		{"HELLO", "hello", true, true},
		{"HELLO", "hello", false, false},
		{"[A-C]x", "bx", true, true},
		{"a**", "a", false, true},
		{"*a", "ba", false, true},
		{"\\", "\\", false, true},
		{"foo*bar*baz", "foobarxbaz", false, true},
		{"user:*", "user:1000", false, true},
		{"*user:*", "xx", false, false},
	}
	for _, c := range cases {
		if got := GlobMatch([]byte(c.p), []byte(c.s), c.nocase); got != c.want {
			t.Errorf("GlobMatch(%q, %q, nocase=%v) = %v, want %v", c.p, c.s, c.nocase, got, c.want)
		}
	}
}

// TestGlobMatchPathological checks that a pattern built to backtrack exponentially answers
// quickly, thanks to skipping longer matches as Redis does.
func TestGlobMatchPathological(t *testing.T) {
	p := []byte("a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b")
	s := make([]byte, 1000)
	for i := range s {
		s[i] = 'a'
	}
	if GlobMatch(p, s, false) {
		t.Fatal("unexpected match")
	}
}

func FuzzGlobMatch(f *testing.F) {
	f.Add([]byte("h[a-b]*llo\\"), []byte("hbxllo"))
	f.Add([]byte("[^"), []byte("a"))
	f.Fuzz(func(t *testing.T, p, s []byte) { GlobMatch(p, s, false); GlobMatch(p, s, true) })
}
