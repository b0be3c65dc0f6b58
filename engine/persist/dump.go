package persist

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/rdb"
)

// Dump appends the DUMP payload of key, as t sees it, to dst. It reports false when the key
// does not exist.
func Dump(t *engine.Txn, key []byte, enc *rdb.DumpEncoder, dst []byte) ([]byte, bool, error) {
	x := &exporter{sink: enc}
	ok, err := t.ExportKey(key, x)
	if err != nil || !ok {
		return dst, ok, err
	}
	start := len(dst)
	if dst, err = enc.AppendPayload(dst); err != nil {
		return dst, false, err
	}
	stampVersion(dst[start:], rdb.DefaultWriteVersion)
	return dst, true, nil
}

// stampVersion raises a payload's RDB version to at least v (and recomputes its CRC64).
// The encoder stamps the lowest version that knows the payload's encoding, so that it also
// restores into older Redis; Redis 7.0 stamps its own version, 10, on every payload, and
// DUMP answers byte for byte as it does.
func stampVersion(payload []byte, v int) {
	footer := payload[len(payload)-10:]
	if int(binary.LittleEndian.Uint16(footer)) >= v {
		return
	}
	binary.LittleEndian.PutUint16(footer, uint16(v))
	binary.LittleEndian.PutUint64(footer[2:], rdb.CRC64(0, payload[:len(payload)-8]))
}

// ErrBadPayload means a DUMP payload passed its checksum but does not hold a value Strata can
// take: RESTORE answers "ERR Bad data format".
var ErrBadPayload = errors.New("persist: bad DUMP payload")

// Restore reads payload, a DUMP payload whose footer has been checked, and imports its value as
// key in t's current database, expiring at expireAt (unix ms, 0 = never), replacing whatever
// key holds. The value streams from the payload into the engine (a big value is not decoded
// into memory first). On error nothing changes.
func Restore(t *engine.Txn, key, payload []byte, expireAt int64) error {
	rd, err := rdb.NewDumpReader(key, payload, &rdb.ReaderOptions{IgnoreChecksum: true})
	if err != nil {
		return err
	}
	var im *engine.KeyImporter
	fail := func(err error) error {
		if im != nil {
			im.Discard()
		}
		return fmt.Errorf("%w: %v", ErrBadPayload, err)
	}
	for {
		ev, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fail(err)
		}
		switch ev.Kind {
		case rdb.KindKey:
			if im != nil {
				return fail(errors.New("a second key"))
			}
			if im, err = t.ImportKey(key, typeFromRDB(ev.Header.Type), expireAt); err != nil {
				return fail(err)
			}
		case rdb.KindEndKey:
			if im == nil {
				return fail(errors.New("no key"))
			}
			created, err := im.Finish()
			im = nil
			if err != nil {
				return fail(err)
			}
			if !created {
				return fail(errors.New("an empty value"))
			}
		case rdb.KindModuleSkipped:
			return fail(errors.New("a module value"))
		default:
			if im == nil {
				return fail(fmt.Errorf("%s outside the value", ev.Kind))
			}
			if ev.Kind == rdb.KindHashField && ev.ExpireAt != 0 {
				return fail(errors.New("a hash field with a TTL"))
			}
			if err := importElement(im, &ev); err != nil {
				return fail(err)
			}
		}
	}
	return nil
}

// CheckPayload reads a whole DUMP payload without importing it, for a RESTORE whose TTL has
// already passed: Redis decodes the value before it looks at the time.
func CheckPayload(key, payload []byte) error {
	rd, err := rdb.NewDumpReader(key, payload, &rdb.ReaderOptions{IgnoreChecksum: true})
	if err != nil {
		return err
	}
	for {
		ev, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrBadPayload, err)
		}
		if ev.Kind == rdb.KindModuleSkipped {
			return fmt.Errorf("%w: a module value", ErrBadPayload)
		}
	}
}
