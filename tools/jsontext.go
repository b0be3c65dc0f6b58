package tools

import (
	"encoding/base64"
	"math"
	"strconv"
	"unicode/utf8"
)

// Binary-safe text in the outputs. Redis keys and values are bytes; JSON strings and CSV
// cells are text. The rules:
//
//   - A JSON value that is valid UTF-8 is a JSON string; anything else is the object
//     {"base64":"..."} (which no string can be mistaken for).
//   - A JSON object key, or a CSV cell, is the text itself when it is valid UTF-8 and does
//     not start with "base64:"; otherwise it is "base64:" followed by the base64 of the
//     bytes. So a reader decodes exactly the cells that start with "base64:".

const base64Marker = "base64:"

// appendJSONString appends s, which must be valid UTF-8, as a JSON string.
func appendJSONString(dst []byte, s []byte) []byte {
	dst = append(dst, '"')
	dst = appendJSONStringBody(dst, s)
	return append(dst, '"')
}

// appendJSONStringBody appends s escaped for a JSON string, without the quotes.
func appendJSONStringBody(dst []byte, s []byte) []byte {
	const hex = "0123456789abcdef"
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(s[i:])
			if r == '\u2028' || r == '\u2029' {
				dst = append(dst, s[start:i]...)
				dst = append(dst, `\u202`...)
				dst = append(dst, hex[r&0xf])
				i += size
				start = i
				continue
			}
			i += size
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		i++
		start = i
	}
	return append(dst, s[start:]...)
}

// appendJSONValue appends bytes as a JSON value: a string, or {"base64":"..."}.
func appendJSONValue(dst, b []byte) []byte {
	if utf8.Valid(b) {
		return appendJSONString(dst, b)
	}
	dst = append(dst, `{"base64":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, b)
	return append(dst, `"}`...)
}

// textCell is b as a CSV cell or JSON object key: itself, or "base64:" and its base64.
func appendTextCell(dst, b []byte) []byte {
	if utf8.Valid(b) && !(len(b) >= len(base64Marker) && string(b[:len(base64Marker)]) == base64Marker) {
		return append(dst, b...)
	}
	dst = append(dst, base64Marker...)
	return base64.StdEncoding.AppendEncode(dst, b)
}

// appendJSONKey appends b as a JSON object key and the colon.
func appendJSONKey(dst, b []byte, scratch *[]byte) []byte {
	*scratch = appendTextCell((*scratch)[:0], b)
	dst = appendJSONString(dst, *scratch)
	return append(dst, ':')
}

// appendJSONFloat appends a score: a JSON number, or "inf", "-inf", "nan" as strings.
func appendJSONFloat(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, `"nan"`...)
	case math.IsInf(f, 1):
		return append(dst, `"inf"`...)
	case math.IsInf(f, -1):
		return append(dst, `"-inf"`...)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, 64)
}

// displayText is b for a terminal table: itself when it is printable UTF-8, else Go-quoted;
// cut to at most max runes.
func displayText(b []byte, max int) string {
	s := string(b)
	printable := utf8.ValidString(s)
	if printable {
		for _, r := range s {
			if r < 0x20 || r == 0x7f || r == '\u2028' || r == '\u2029' {
				printable = false
				break
			}
		}
	}
	if !printable {
		s = strconv.Quote(s)
	}
	if utf8.RuneCountInString(s) > max {
		r := []rune(s)
		s = string(r[:max-1]) + "…"
	}
	return s
}
