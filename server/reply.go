package server

import (
	"math"
	"strconv"

	"github.com/tidwall/redcon"
)

// Replies are appended to the client's output buffer in the protocol it speaks (RESP2 unless
// HELLO 3). Each method writes one reply or the header of an aggregate; aggregates are written
// as a header followed by their elements. RESP3-only types degrade to what Redis sends a RESP2
// client: maps become flat arrays, sets arrays, doubles bulk strings, booleans integers, nulls
// the null bulk (or the null array where Redis sends one).

// OK writes +OK.
func (c *Client) OK() { c.out = append(c.out, "+OK\r\n"...) }

// Simple writes a simple string.
func (c *Client) Simple(s string) { c.out = redcon.AppendString(c.out, s) }

// Error writes an error reply (err's text must start with Redis's error code, e.g. "ERR ").
func (c *Client) Error(err error) {
	c.s.stats.countError(err.Error())
	c.out = append(c.out, '-')
	c.out = append(c.out, err.Error()...)
	c.out = append(c.out, '\r', '\n')
}

// Int writes an integer.
func (c *Client) Int(n int64) { c.out = redcon.AppendInt(c.out, n) }

// Bulk writes a bulk string.
func (c *Client) Bulk(b []byte) { c.out = redcon.AppendBulk(c.out, b) }

// BulkString writes a bulk string.
func (c *Client) BulkString(s string) { c.out = redcon.AppendBulkString(c.out, s) }

// BulkInt writes an integer as a bulk string.
func (c *Client) BulkInt(n int64) { c.out = redcon.AppendBulkInt(c.out, n) }

// Null writes the null reply: $-1 in RESP2, _ in RESP3.
func (c *Client) Null() {
	if c.resp == 3 {
		c.out = append(c.out, "_\r\n"...)
	} else {
		c.out = append(c.out, "$-1\r\n"...)
	}
}

// NullArray writes the null array: *-1 in RESP2, _ in RESP3.
func (c *Client) NullArray() {
	if c.resp == 3 {
		c.out = append(c.out, "_\r\n"...)
	} else {
		c.out = append(c.out, "*-1\r\n"...)
	}
}

// ArrayLen writes the header of an array of n elements.
func (c *Client) ArrayLen(n int) { c.out = redcon.AppendArray(c.out, n) }

// MapLen writes the header of a map of n pairs (an array of 2n in RESP2).
func (c *Client) MapLen(n int) {
	if c.resp == 3 {
		c.out = appendHeader(c.out, '%', n)
	} else {
		c.out = redcon.AppendArray(c.out, 2*n)
	}
}

// SetLen writes the header of a set of n members (an array in RESP2).
func (c *Client) SetLen(n int) {
	if c.resp == 3 {
		c.out = appendHeader(c.out, '~', n)
	} else {
		c.out = redcon.AppendArray(c.out, n)
	}
}

// PushLen writes the header of an out-of-band push of n elements (an array in RESP2).
func (c *Client) PushLen(n int) {
	if c.resp == 3 {
		c.out = appendHeader(c.out, '>', n)
	} else {
		c.out = redcon.AppendArray(c.out, n)
	}
}

// Bool writes a boolean: #t/#f in RESP3, 1/0 in RESP2.
func (c *Client) Bool(b bool) {
	if c.resp == 3 {
		if b {
			c.out = append(c.out, "#t\r\n"...)
		} else {
			c.out = append(c.out, "#f\r\n"...)
		}
		return
	}
	if b {
		c.out = append(c.out, ":1\r\n"...)
	} else {
		c.out = append(c.out, ":0\r\n"...)
	}
}

// Double writes a double as Redis 7.0 does: "%.17g" (inf and -inf spelled out), a bulk string
// in RESP2 and a ',' double in RESP3.
func (c *Client) Double(f float64) {
	var tmp [32]byte
	s := AppendDouble(tmp[:0], f)
	if c.resp == 3 {
		c.out = append(c.out, ',')
		c.out = append(c.out, s...)
		c.out = append(c.out, '\r', '\n')
		return
	}
	c.out = redcon.AppendBulk(c.out, s)
}

// Verbatim writes a verbatim string (format "txt" or "mkd"): '=' in RESP3, bulk in RESP2.
func (c *Client) Verbatim(format, s string) {
	if c.resp != 3 {
		c.out = redcon.AppendBulkString(c.out, s)
		return
	}
	c.out = appendHeader(c.out, '=', len(s)+4)
	c.out = append(c.out, format...)
	c.out = append(c.out, ':')
	c.out = append(c.out, s...)
	c.out = append(c.out, '\r', '\n')
}

// BulkStrings writes an array of bulk strings.
func (c *Client) BulkStrings(ss ...string) {
	c.ArrayLen(len(ss))
	for _, s := range ss {
		c.BulkString(s)
	}
}

// AppendDouble appends f formatted as Redis 7.0's "%.17g", with inf, -inf and nan spelled as
// Redis spells them.
func AppendDouble(dst []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(dst, "inf"...)
	case math.IsInf(f, -1):
		return append(dst, "-inf"...)
	case math.IsNaN(f):
		return append(dst, "nan"...)
	}
	return strconv.AppendFloat(dst, f, 'g', 17, 64)
}

func appendHeader(dst []byte, kind byte, n int) []byte {
	dst = append(dst, kind)
	dst = strconv.AppendInt(dst, int64(n), 10)
	return append(dst, '\r', '\n')
}
