package engine

// GlobMatch reports whether s matches the glob pattern p with the semantics of Redis's
// stringmatchlen (KEYS, SCAN MATCH, PSUBSCRIBE, CONFIG GET): '*', '?', '[...]' with '^'
// negation, ranges (reversed ranges swap) and '\' escapes, a '\' escaping the next byte, and an
// unterminated '[' class ending the pattern. nocase folds ASCII case.
func GlobMatch(p, s []byte, nocase bool) bool {
	skip := false
	return globMatch(p, s, nocase, &skip, 0)
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func globMatch(p, s []byte, nocase bool, skipLonger *bool, nesting int) bool {
	// Redis refuses to recurse deeper than this, so a hostile pattern cannot exhaust the stack.
	if nesting > 1000 {
		return false
	}
	at := func(i int) byte { // pattern byte i, 0 past the end as C's NUL terminator reads
		if i < len(p) {
			return p[i]
		}
		return 0
	}
	eq := func(a, b byte) bool {
		if nocase {
			return lower(a) == lower(b)
		}
		return a == b
	}
	for len(p) > 0 && len(s) > 0 {
		switch p[0] {
		case '*':
			for len(p) > 1 && p[1] == '*' {
				p = p[1:]
			}
			if len(p) == 1 {
				return true
			}
			for len(s) > 0 {
				if globMatch(p[1:], s, nocase, skipLonger, nesting+1) {
					return true
				}
				if *skipLonger {
					return false
				}
				s = s[1:]
			}
			*skipLonger = true
			return false
		case '?':
			s = s[1:]
		case '[':
			p = p[1:]
			not := at(0) == '^'
			if not {
				p = p[1:]
			}
			match := false
			for {
				if at(0) == '\\' && len(p) >= 2 {
					p = p[1:]
					if p[0] == s[0] {
						match = true
					}
				} else if at(0) == ']' {
					break
				} else if len(p) == 0 {
					// Unterminated class: step back so the advance below ends the pattern.
					p = append([]byte{0}, p...)
					break
				} else if len(p) >= 3 && p[1] == '-' {
					start, end, c := p[0], p[2], s[0]
					if start > end {
						start, end = end, start
					}
					if nocase {
						start, end, c = lower(start), lower(end), lower(c)
					}
					p = p[2:]
					if c >= start && c <= end {
						match = true
					}
				} else if eq(p[0], s[0]) {
					match = true
				}
				p = p[1:]
			}
			if not {
				match = !match
			}
			if !match {
				return false
			}
			s = s[1:]
		case '\\':
			if len(p) >= 2 {
				p = p[1:]
			}
			fallthrough
		default:
			if !eq(p[0], s[0]) {
				return false
			}
			s = s[1:]
		}
		p = p[1:]
		if len(s) == 0 {
			for len(p) > 0 && p[0] == '*' {
				p = p[1:]
			}
			break
		}
	}
	return len(p) == 0 && len(s) == 0
}
