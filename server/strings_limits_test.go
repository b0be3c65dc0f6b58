package server_test

import (
	"testing"

	"github.com/stratadb/strata/conf"
	"github.com/stratadb/strata/server/servertest"
)

// TestStringLimitsDiff runs both servers with proto-max-bulk-len at its minimum (1 MB), so the
// size limits of APPEND, SETRANGE, SETBIT, BITFIELD and LCS are reached cheaply.
func TestStringLimitsDiff(t *testing.T) {
	r := servertest.StartRedis(t, "--proto-max-bulk-len", "1mb")
	s := servertest.StartStrata(t, func(c *conf.Config) { c.ProtoMaxBulkLen = 1 << 20 })
	script := `
SETRANGE k 1048575 x
STRLEN k
SETRANGE k 1048576 x
SETRANGE k2 1048570 0123456789
SETRANGE k2 1048566 0123456789
APPEND k x
APPEND k ""
SETBIT k 8388607 1
SETBIT k 8388608 1
GETBIT k 8388608
GETBIT k 8388607
BITFIELD k GET u8 8388600 GET u8 8388601
BITFIELD k GET u8 8388608
BITFIELD k SET u8 #1048576 1
BITFIELD k SET u8 8388607 255
STRLEN k
GETRANGE k -3 -1
BITFIELD_RO k GET i16 8388600
SETRANGE a 599 x
SETRANGE b 599 y
LCS a b LEN
LCS a b IDX
SETRANGE c 499 x
SETRANGE d 499 x
LCS c d LEN
LCS a b FOO
`
	servertest.RunDiff(t, "limits", script, s.Dial(t), r.Dial(t))
}

// TestBitmapMaxOffset checks the largest offsets the default limit allows (a 512 MB value).
// Redis's answers are known; Strata stores such a value as the one chunk written, so this
// costs little here, unlike on redis-server.
func TestBitmapMaxOffset(t *testing.T) {
	c := servertest.StartStrata(t, nil).Dial(t)
	for _, step := range []struct{ cmd, want string }{
		{"SETBIT k 4294967295 1", ":0\r\n"},
		{"STRLEN k", ":536870912\r\n"},
		{"GETBIT k 4294967295", ":1\r\n"},
		{"GETBIT k 4294967294", ":0\r\n"},
		{"BITCOUNT k", ":1\r\n"},
		{"BITCOUNT k -1 -1", ":1\r\n"},
		{"BITPOS k 1", ":4294967295\r\n"},
		{"BITPOS k 0", ":0\r\n"},
		{"BITPOS k 1 -1 -1 BIT", ":4294967295\r\n"},
		{"SETBIT k 4294967296 1", "-ERR bit offset is not an integer or out of range\r\n"},
		{"SETRANGE r 536870911 x", ":536870912\r\n"},
		{"GETRANGE r -2 -1", "$2\r\n\x00x\r\n"},
		{"APPEND r y", "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n"},
		{"SETRANGE r 536870912 x", "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n"},
		{"BITFIELD f SET u8 4294967288 255", "*1\r\n:0\r\n"},
		{"STRLEN f", ":536870912\r\n"},
		{"BITFIELD f GET u8 4294967288 GET i64 4294967295", "*2\r\n:255\r\n:-9223372036854775808\r\n"},
	} {
		args, err := servertest.SplitArgs(step.cmd)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Do(args...); got != step.want {
			t.Errorf("%s: got %q, want %q", step.cmd, got, step.want)
		}
	}
}
