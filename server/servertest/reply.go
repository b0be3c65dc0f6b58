package servertest

import (
	"fmt"
	"strconv"
	"strings"
)

// Reply is a parsed RESP2/RESP3 reply: its type byte, its text (simple, bulk and verbatim
// strings, numbers, errors) and its elements (arrays, sets, pushes, maps as flat key/value).
type Reply struct {
	Kind  byte
	Text  string
	Null  bool
	Elems []Reply
}

// ParseReply parses exactly one raw reply.
func ParseReply(raw string) (Reply, error) {
	r, rest, err := parseOne(raw)
	if err == nil && rest != "" {
		err = fmt.Errorf("%d bytes after the reply", len(rest))
	}
	return r, err
}

func parseOne(s string) (Reply, string, error) {
	line, rest, ok := strings.Cut(s, "\r\n")
	if !ok || line == "" {
		return Reply{}, s, fmt.Errorf("no reply line in %q", s)
	}
	r := Reply{Kind: line[0]}
	body := line[1:]
	switch r.Kind {
	case '+', '-', ':', ',', '#', '(':
		r.Text = body
		return r, rest, nil
	case '_':
		r.Null = true
		return r, rest, nil
	case '$', '=', '!':
		n, err := strconv.Atoi(body)
		if err != nil {
			return r, rest, err
		}
		if n < 0 {
			r.Null = true
			return r, rest, nil
		}
		if len(rest) < n+2 {
			return r, rest, fmt.Errorf("short bulk")
		}
		r.Text = rest[:n]
		if r.Kind == '=' && len(r.Text) >= 4 {
			r.Text = r.Text[4:] // "txt:"
		}
		return r, rest[n+2:], nil
	case '*', '~', '>', '%':
		n, err := strconv.Atoi(body)
		if err != nil {
			return r, rest, err
		}
		if n < 0 {
			r.Null = true
			return r, rest, nil
		}
		if r.Kind == '%' {
			n *= 2
		}
		for i := 0; i < n; i++ {
			var e Reply
			if e, rest, err = parseOne(rest); err != nil {
				return r, rest, err
			}
			r.Elems = append(r.Elems, e)
		}
		return r, rest, nil
	}
	return r, rest, fmt.Errorf("unknown reply type %q", r.Kind)
}

// Strings returns the texts of an aggregate's elements.
func (r Reply) Strings() []string {
	out := make([]string, len(r.Elems))
	for i, e := range r.Elems {
		out[i] = e.Text
	}
	return out
}

// RespError is an error reply's text, as Value returns it.
type RespError string

// Value converts the reply into plain Go values: string for strings, int64 for integers, []any
// for aggregates (maps flattened), nil for nulls and RespError for errors.
func (r Reply) Value() any {
	switch {
	case r.Null:
		return nil
	case r.Kind == '-':
		return RespError(r.Text)
	case r.Kind == ':':
		n, _ := strconv.ParseInt(r.Text, 10, 64)
		return n
	case r.Elems != nil || r.Kind == '*' || r.Kind == '~' || r.Kind == '>' || r.Kind == '%':
		out := make([]any, len(r.Elems))
		for i, e := range r.Elems {
			out[i] = e.Value()
		}
		return out
	}
	return r.Text
}
