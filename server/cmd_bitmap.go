package server

import (
	"bytes"
	"strings"

	"github.com/stratadb/strata/conf"
	"github.com/stratadb/strata/engine"
)

func registerBitmapCommands(t *Table) {
	t.add(
		&Command{Name: "setbit", Arity: 4, Flags: "write denyoom", First: 1, Last: 1, Step: 1, ACL: "@bitmap", Handler: cmdSetBit,
			Group: "bitmap", Since: "2.2.0", Summary: "Sets or clears the bit at offset in the string value stored at key", Complexity: "O(1)"},
		&Command{Name: "getbit", Arity: 3, Flags: "readonly fast", First: 1, Last: 1, Step: 1, ACL: "@bitmap", Handler: cmdGetBit,
			Group: "bitmap", Since: "2.2.0", Summary: "Returns the bit value at offset in the string value stored at key", Complexity: "O(1)"},
		&Command{Name: "bitcount", Arity: -2, Flags: "readonly", First: 1, Last: 1, Step: 1, ACL: "@bitmap", Handler: cmdBitCount,
			Group: "bitmap", Since: "2.6.0", Summary: "Count set bits in a string", Complexity: "O(N)"},
		&Command{Name: "bitpos", Arity: -3, Flags: "readonly", First: 1, Last: 1, Step: 1, ACL: "@bitmap", Handler: cmdBitPos,
			Group: "bitmap", Since: "2.8.7", Summary: "Find first bit set or clear in a string", Complexity: "O(N)"},
		&Command{Name: "bitop", Arity: -4, Flags: "write denyoom", First: 2, Last: -1, Step: 1, ACL: "@bitmap", Handler: cmdBitOp,
			Group: "bitmap", Since: "2.6.0", Summary: "Perform bitwise operations between strings", Complexity: "O(N)"},
		&Command{Name: "bitfield", Arity: -2, Flags: "write denyoom", First: 1, Last: 1, Step: 1, ACL: "@bitmap", Handler: cmdBitfield,
			Group: "bitmap", Since: "3.2.0", Summary: "Perform arbitrary bitfield integer operations on strings", Complexity: "O(1) for each subcommand specified"},
		&Command{Name: "bitfield_ro", Arity: -2, Flags: "readonly fast", First: 1, Last: 1, Step: 1, ACL: "@bitmap", Handler: cmdBitfield,
			Group: "bitmap", Since: "6.0.0", Summary: "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD", Complexity: "O(1) for each subcommand specified"},
	)
}

// parseBitOffset parses a bit offset as Redis's getBitOffsetFromArgument does: a string2ll
// integer, or with hash (BITFIELD) "#n", meaning n fields of bits bits (multiplied with C's
// wrap-around); negative offsets and those past proto-max-bulk-len bytes are refused.
func parseBitOffset(arg []byte, hash bool, bits int, maxBulk int64) (uint64, error) {
	if hash && bits > 0 && len(arg) > 0 && arg[0] == '#' {
		n, ok := engine.ParseInt(arg[1:])
		if !ok {
			return 0, engine.ErrBitOffset
		}
		return checkBitOffset(n*int64(bits), maxBulk)
	}
	n, ok := engine.ParseInt(arg)
	if !ok {
		return 0, engine.ErrBitOffset
	}
	return checkBitOffset(n, maxBulk)
}

func checkBitOffset(n, maxBulk int64) (uint64, error) {
	if n < 0 || n>>3 >= maxBulk {
		return 0, engine.ErrBitOffset
	}
	return uint64(n), nil
}

func cmdSetBit(x *Ctx) {
	off, err := parseBitOffset(x.Args[2], false, 0, x.maxBulk())
	if err != nil {
		x.Error(err)
		return
	}
	on, ok := engine.ParseInt(x.Args[3])
	if !ok || on&^1 != 0 {
		x.Error(engine.ErrBitValue)
		return
	}
	grows := false
	if x.notifying(conf.NotifyString) {
		n, err := x.Txn.StrLen(x.Args[1])
		grows = err == nil && int64(off>>3) >= n
	}
	old, err := x.Txn.SetBit(x.Args[1], off, on == 1)
	if err == nil && (grows || int64(old) != on) {
		// Redis reports a bit that changed, or a string created or grown.
		x.Notify(conf.NotifyString, "setbit", x.Args[1])
	}
	replyInt(x, int64(old), err)
}

func cmdGetBit(x *Ctx) {
	off, err := parseBitOffset(x.Args[2], false, 0, x.maxBulk())
	if err != nil {
		x.Error(err)
		return
	}
	bit, err := x.Txn.GetBit(x.Args[1], off)
	replyInt(x, int64(bit), err)
}

// parseBitUnit parses the BYTE|BIT word of BITCOUNT and BITPOS: true for BIT.
func parseBitUnit(arg []byte) (bool, error) {
	switch strings.ToLower(string(arg)) {
	case "bit":
		return true, nil
	case "byte":
		return false, nil
	}
	return false, engine.ErrSyntax
}

// BITCOUNT key [start end [BYTE|BIT]]
func cmdBitCount(x *Ctx) {
	var a engine.BitCountArgs
	switch len(x.Args) {
	case 2:
	case 4, 5:
		a.Range = true
		if n, err := parseInts(x.Args[2], x.Args[3]); err != nil {
			a.Err = err
		} else {
			a.Start, a.End = n[0], n[1]
		}
		if len(x.Args) == 5 {
			a.Bit, a.UnitErr = parseBitUnit(x.Args[4])
		}
	default:
		a.Err = engine.ErrSyntax
	}
	n, err := x.Txn.BitCount(x.Args[1], a)
	replyInt(x, n, err)
}

// BITPOS key bit [start [end [BYTE|BIT]]]
func cmdBitPos(x *Ctx) {
	bit, ok := engine.ParseInt(x.Args[2])
	if !ok {
		x.Error(engine.ErrNotInteger)
		return
	}
	if bit != 0 && bit != 1 {
		x.Error(engine.ErrBitPosBit)
		return
	}
	a := engine.BitPosArgs{Bit: int(bit)}
	switch n := len(x.Args); {
	case n == 3:
	case n <= 6:
		// Redis's order: start, then the unit, then end; the first error wins.
		a.HasStart = true
		var ok bool
		if a.Start, ok = engine.ParseInt(x.Args[3]); !ok {
			a.Err = engine.ErrNotInteger
		}
		if n == 6 && a.Err == nil {
			a.IsBit, a.Err = parseBitUnit(x.Args[5])
		}
		if n >= 5 {
			a.HasEnd = true
			if a.End, ok = engine.ParseInt(x.Args[4]); !ok && a.Err == nil {
				a.Err = engine.ErrNotInteger
			}
		}
	default:
		a.Err = engine.ErrSyntax
	}
	pos, err := x.Txn.BitPos(x.Args[1], a)
	replyInt(x, pos, err)
}

// BITOP AND|OR|XOR|NOT destkey key [key ...]
func cmdBitOp(x *Ctx) {
	var op engine.BitOpKind
	switch strings.ToLower(string(x.Args[1])) {
	case "and":
		op = engine.BitAnd
	case "or":
		op = engine.BitOr
	case "xor":
		op = engine.BitXor
	case "not":
		op = engine.BitNot
	default:
		x.Error(engine.ErrSyntax)
		return
	}
	if op == engine.BitNot && len(x.Args) != 4 {
		x.Error(engine.ErrBitopNot)
		return
	}
	x.NotifyMisses(x.Args[3:]...)
	dest := x.watchDel(x.Args[2])
	n, err := x.Txn.BitOp(op, x.Args[2], x.Args[3:])
	switch {
	case err != nil:
	case n > 0:
		x.Notify(conf.NotifyString, "set", x.Args[2])
	default:
		x.reportDel(dest)
	}
	replyInt(x, n, err)
}

// parseBitfieldType parses "i<bits>" (1..64) or "u<bits>" (1..63); as in Redis, the letter is
// lowercase and the number ends at the first NUL.
func parseBitfieldType(arg []byte) (signed bool, bits int, err error) {
	if len(arg) == 0 || (arg[0] != 'i' && arg[0] != 'u') {
		return false, 0, engine.ErrBitfieldType
	}
	signed = arg[0] == 'i'
	num := arg[1:]
	if i := bytes.IndexByte(num, 0); i >= 0 {
		num = num[:i]
	}
	n, ok := engine.ParseInt(num)
	if !ok || n < 1 || (signed && n > 64) || (!signed && n > 63) {
		return false, 0, engine.ErrBitfieldType
	}
	return signed, int(n), nil
}

// parseBitfieldOps parses BITFIELD's subcommands: GET type offset, SET type offset value,
// INCRBY type offset increment, OVERFLOW WRAP|SAT|FAIL (for the operations after it).
func parseBitfieldOps(args [][]byte, maxBulk int64) ([]engine.BitfieldOp, error) {
	var ops []engine.BitfieldOp
	overflow := engine.OverflowWrap
	for j := 0; j < len(args); j++ {
		rest := len(args) - j - 1
		var op engine.BitfieldOp
		switch sub := strings.ToLower(string(args[j])); {
		case sub == "get" && rest >= 2:
			op.Kind = engine.BitfieldGet
		case sub == "set" && rest >= 3:
			op.Kind = engine.BitfieldSet
		case sub == "incrby" && rest >= 3:
			op.Kind = engine.BitfieldIncrBy
		case sub == "overflow" && rest >= 1:
			j++
			switch strings.ToLower(string(args[j])) {
			case "wrap":
				overflow = engine.OverflowWrap
			case "sat":
				overflow = engine.OverflowSat
			case "fail":
				overflow = engine.OverflowFail
			default:
				return nil, engine.ErrBitfieldOverflow
			}
			continue
		default:
			return nil, engine.ErrSyntax
		}
		var err error
		if op.Signed, op.Bits, err = parseBitfieldType(args[j+1]); err != nil {
			return nil, err
		}
		if op.Offset, err = parseBitOffset(args[j+2], true, op.Bits, maxBulk); err != nil {
			return nil, err
		}
		j += 2
		if op.Kind != engine.BitfieldGet {
			j++
			var ok bool
			if op.Value, ok = engine.ParseInt(args[j]); !ok {
				return nil, engine.ErrNotInteger
			}
		}
		op.Overflow = overflow
		ops = append(ops, op)
	}
	return ops, nil
}

// cmdBitfield is BITFIELD and BITFIELD_RO (GET only).
func cmdBitfield(x *Ctx) {
	ops, err := parseBitfieldOps(x.Args[2:], x.maxBulk())
	if err != nil {
		x.Error(err)
		return
	}
	if x.Cmd.Name == "bitfield_ro" {
		for _, op := range ops {
			if op.Kind != engine.BitfieldGet {
				x.Error(engine.ErrBitfieldRO)
				return
			}
		}
	}
	writes := false
	for _, op := range ops {
		writes = writes || op.Kind != engine.BitfieldGet
	}
	if !writes && x.Cmd.Name == "bitfield" {
		x.NotifyMisses(x.Args[1]) // only GETs: Redis reads the key as BITFIELD_RO does
	}
	res, err := x.Txn.Bitfield(x.Args[1], ops, nil)
	if err != nil {
		x.Error(err)
		return
	}
	x.NotifyCreated(x.Args[1]) // created before the reply, reported after it
	x.ArrayLen(len(res))
	for _, r := range res {
		if r.Nil {
			x.Null()
		} else {
			x.Int(r.Value)
		}
	}
	for i, op := range ops {
		if op.Kind != engine.BitfieldGet && !res[i].Nil {
			// Redis reports one "setbit" when any SET or INCRBY took effect.
			x.Notify(conf.NotifyString, "setbit", x.Args[1])
			break
		}
	}
}
