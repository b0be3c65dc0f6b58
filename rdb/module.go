package rdb

// Module data (type 7 values and MODULE_AUX records) is a 64-bit module type ID followed
// by a self-describing sequence of opcodes, each an RDB length:
//
//	1 signed int   (an RDB length)
//	2 unsigned int (an RDB length)
//	3 float        (4 bytes)
//	4 double       (8 bytes)
//	5 string       (an RDB string)
//	0 end of the value
//
// which is what lets a reader without the module step over it. This package skips module
// data and reports the module's name (KindModuleSkipped).

// skipModuleValue reads a module type ID and steps over the opcodes after it.
func (r *Reader) skipModuleValue(what string) (string, error) {
	id, err := r.readLen("module type id")
	if err != nil {
		return "", err
	}
	name, _ := ModuleName(id)
	return name, r.skipModuleOpcodes(what)
}

func (r *Reader) skipModuleOpcodes(what string) error {
	for {
		off := r.in.off
		op, err := r.readLen(what)
		if err != nil {
			return err
		}
		switch op {
		case moduleOpEOF:
			return nil
		case moduleOpSInt, moduleOpUInt:
			_, err = r.readLen(what)
		case moduleOpFloat:
			err = r.discard(4, what)
		case moduleOpDouble:
			err = r.discard(8, what)
		case moduleOpString:
			err = r.skipString(what)
		default:
			return r.corrupt(off, what, "unknown module opcode %d", op)
		}
		if err != nil {
			return err
		}
	}
}

// readModuleAux steps over a MODULE_AUX record: module ID, the "when" opcode (always 2,
// unsigned) and value (before or after the keys), then the module's opcodes.
func (r *Reader) readModuleAux(ev *Event) error {
	id, err := r.readLen("module aux")
	if err != nil {
		return err
	}
	off := r.in.off
	whenOp, err := r.readLen("module aux")
	if err != nil {
		return err
	}
	if whenOp != moduleOpUInt {
		return r.corrupt(off, "module aux", "when opcode %d, want %d", whenOp, moduleOpUInt)
	}
	if _, err := r.readLen("module aux"); err != nil {
		return err
	}
	if err := r.skipModuleOpcodes("module aux"); err != nil {
		return err
	}
	name, _ := ModuleName(id)
	*ev = Event{Kind: KindModuleSkipped, DB: r.db, Module: name}
	return nil
}
