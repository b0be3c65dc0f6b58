package rdb

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// A DUMP payload is one value as DUMP returns it and RESTORE takes it:
//
//	+-------------+-------------------+-------------+---------------------+
//	| object type | value (as in an   | RDB version | CRC64 of everything |
//	| (1 byte)    | RDB file)         | (u16 LE)    | before it (u64 LE)  |
//	+-------------+-------------------+-------------+---------------------+
//
// There is no key name, no expiry and no magic: RESTORE gives the name and the TTL, and
// the version alone tells the reader which type numbers apply (80 and up: Valkey's).

const dumpFooterSize = 10

// DumpEncoder builds DUMP payloads from one key's events at a time: KindKey, its
// elements, KindEndKey, then AppendPayload. It chooses encodings like a Writer of the same
// options, and stamps each payload with the lowest RDB version that knows the encoding it
// chose (never below 9), so that a value Redis 7.0 can hold restores there even when the
// encoder targets a later version.
type DumpEncoder struct {
	w *Writer
}

// NewDumpEncoder returns an encoder; opts are those of a Writer (Version, compression,
// limits, spill directory; the aux and checksum options do not apply).
func NewDumpEncoder(opts *WriterOptions) (*DumpEncoder, error) {
	w, err := newWriter(opts)
	if err != nil {
		return nil, err
	}
	w.dump = true
	return &DumpEncoder{w: w}, nil
}

// Write consumes one event of the key being encoded.
func (d *DumpEncoder) Write(ev *Event) error {
	w := d.w
	if w.err != nil {
		return w.err
	}
	if w.state == wsDone {
		return fmt.Errorf("%w: %s after the key's end; call AppendPayload", ErrEventOrder, ev.Kind)
	}
	if err := w.write(ev); err != nil {
		w.fail(err)
		return err
	}
	return nil
}

// AppendPayload appends the payload of the key just ended to dst and readies the encoder
// for the next key.
func (d *DumpEncoder) AppendPayload(dst []byte) ([]byte, error) {
	w := d.w
	if w.err != nil {
		err := w.err
		d.reset()
		return dst, err
	}
	if w.state != wsDone {
		return dst, fmt.Errorf("%w: AppendPayload before the key's end", ErrEventOrder)
	}
	version := MinWriteVersion
	if info, ok := lookupType(w.lastType, false); ok && info.minVersion > version {
		version = info.minVersion
	}
	start := len(dst)
	dst = append(dst, w.payload...)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(version))
	dst = binary.LittleEndian.AppendUint64(dst, CRC64(0, dst[start:]))
	d.reset()
	return dst, nil
}

func (d *DumpEncoder) reset() {
	w := d.w
	w.payload, w.crc, w.err, w.state = w.payload[:0], 0, nil, wsTop
	for i := range w.sp {
		w.sp[i].reset()
	}
}

// CheckDumpPayload checks a payload's footer as RESTORE does: the RDB version is one this
// package reads (Redis 1 to 12, Valkey 80 and 81) and the CRC64 matches. It returns the
// version, or ErrDumpPayload.
func CheckDumpPayload(payload []byte) (int, error) {
	if len(payload) < dumpFooterSize+1 {
		return 0, ErrDumpPayload
	}
	footer := payload[len(payload)-dumpFooterSize:]
	version := int(binary.LittleEndian.Uint16(footer))
	if version < MinReadVersion || (version > MaxReadVersion && version < valkeyMinVersion) || version > valkeyMaxVersion {
		return version, ErrDumpPayload
	}
	if CRC64(0, payload[:len(payload)-8]) != binary.LittleEndian.Uint64(footer[2:]) {
		return version, ErrDumpPayload
	}
	return version, nil
}

// NewDumpReader checks a DUMP payload (see CheckDumpPayload; with IgnoreChecksum only the
// version is checked) and returns a Reader of its one key: KindKey with the given name,
// the elements, KindEndKey, then io.EOF. Header.Offset and errors count bytes from the
// start of the payload.
func NewDumpReader(key, payload []byte, opts *ReaderOptions) (*Reader, error) {
	version, err := CheckDumpPayload(payload)
	if err != nil && !(opts != nil && opts.IgnoreChecksum && version >= MinReadVersion &&
		(version <= MaxReadVersion || (version >= valkeyMinVersion && version <= valkeyMaxVersion))) {
		return nil, err
	}
	body := payload[:len(payload)-dumpFooterSize]
	r := &Reader{attrOff: -1, idle: -1, freq: -1, dump: true, version: version,
		valkey: version >= valkeyMinVersion, inKey: true}
	if opts != nil {
		r.opts = *opts
	}
	r.in = newInput(bytes.NewReader(body), int64(len(body)))
	r.key = append([]byte(nil), key...)
	return r, nil
}
