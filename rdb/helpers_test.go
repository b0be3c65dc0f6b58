package rdb

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// quote shows a value for test output, cut short when long.
func quote(b []byte) string {
	const max = 48
	if len(b) > max {
		return strconv.Quote(string(b[:max])) + fmt.Sprintf("...(%d bytes)", len(b))
	}
	return strconv.Quote(string(b))
}

func fmtID(id StreamID) string { return fmt.Sprintf("%d-%d", id.Ms, id.Seq) }

// formatEvent renders an event as one readable line.
func formatEvent(ev Event) string {
	switch ev.Kind {
	case KindAux:
		return fmt.Sprintf("aux %s=%s", quote(ev.Field), quote(ev.Value))
	case KindSelectDB:
		return fmt.Sprintf("selectdb %d", ev.DB)
	case KindResizeDB:
		return fmt.Sprintf("resizedb size=%d expires=%d", ev.DBSize, ev.ExpiresSize)
	case KindSlotInfo:
		return fmt.Sprintf("slotinfo slot=%d size=%d expires=%d", ev.Slot, ev.SlotSize, ev.SlotExpiresSize)
	case KindKey:
		h := ev.Header
		s := fmt.Sprintf("key %s db=%d type=%s enc=%s rdbtype=%d len=%d off=%d", quote(ev.Key), ev.DB,
			h.Type, h.Encoding, h.RDBType, h.Len, h.Offset)
		if h.ExpireAt != 0 {
			s += fmt.Sprintf(" expire=%d", h.ExpireAt)
		}
		if h.Idle >= 0 {
			s += fmt.Sprintf(" idle=%d", h.Idle)
		}
		if h.Freq >= 0 {
			s += fmt.Sprintf(" freq=%d", h.Freq)
		}
		return s
	case KindString:
		return "  string " + quote(ev.Value)
	case KindListItem:
		return "  item " + quote(ev.Value)
	case KindSetMember:
		return "  member " + quote(ev.Value)
	case KindZSetMember:
		return fmt.Sprintf("  member %s score=%s", quote(ev.Value), strconv.FormatFloat(ev.Score, 'g', -1, 64))
	case KindHashField:
		s := fmt.Sprintf("  field %s=%s", quote(ev.Field), quote(ev.Value))
		if ev.ExpireAt != 0 {
			s += fmt.Sprintf(" expire=%d", ev.ExpireAt)
		}
		return s
	case KindStreamEntry:
		parts := make([]string, len(ev.Fields))
		for i, f := range ev.Fields {
			parts[i] = quote(f)
		}
		return fmt.Sprintf("  entry %s %s", fmtID(ev.StreamID), strings.Join(parts, " "))
	case KindStreamMeta:
		m := ev.Stream
		return fmt.Sprintf("  meta length=%d last=%s first=%s maxdeleted=%s added=%d", m.Length,
			fmtID(m.LastID), fmtID(m.FirstID), fmtID(m.MaxDeletedID), m.EntriesAdded)
	case KindStreamGroup:
		g := ev.Group
		return fmt.Sprintf("  group %s last=%s read=%d", quote(g.Name), fmtID(g.LastID), g.EntriesRead)
	case KindStreamPending:
		p := ev.Pending
		return fmt.Sprintf("    pending %s time=%d count=%d", fmtID(p.ID), p.DeliveryTime, p.DeliveryCount)
	case KindStreamConsumer:
		c := ev.Consumer
		ids := make([]string, len(c.Pending))
		for i, id := range c.Pending {
			ids[i] = fmtID(id)
		}
		return fmt.Sprintf("    consumer %s seen=%d active=%d pending=[%s]", quote(c.Name), c.SeenTime,
			c.ActiveTime, strings.Join(ids, " "))
	case KindEndKey:
		return fmt.Sprintf("end %s size=%d", quote(ev.Key), ev.Size)
	case KindFunction:
		return "function " + quote(ev.Value)
	case KindModuleSkipped:
		if ev.Key != nil {
			return fmt.Sprintf("module-skipped %s key=%s size=%d", ev.Module, quote(ev.Key), ev.Size)
		}
		return "module-skipped " + ev.Module
	case KindEOF:
		return fmt.Sprintf("eof checksum=%#x", ev.Checksum)
	}
	return ev.Kind.String()
}

// readEvents reads a whole file, formatting events; limit caps the element lines shown
// per key (0 = all).
func readEvents(data []byte, opts *ReaderOptions, limit int) (lines []string, err error) {
	r, err := NewReader(bytes.NewReader(data), opts)
	if err != nil {
		return nil, err
	}
	lines = append(lines, fmt.Sprintf("version %d valkey=%v", r.Version(), r.Valkey()))
	hidden := 0
	shown := 0
	for {
		ev, err := r.Next()
		if err == io.EOF {
			return lines, nil
		}
		if err != nil {
			return lines, err
		}
		switch ev.Kind {
		case KindKey:
			shown, hidden = 0, 0
		case KindEndKey:
			if hidden > 0 {
				lines = append(lines, fmt.Sprintf("  ... %d more", hidden))
			}
		case KindListItem, KindSetMember, KindZSetMember, KindHashField, KindStreamEntry:
			if limit > 0 && shown >= limit {
				hidden++
				continue
			}
			shown++
		}
		lines = append(lines, formatEvent(ev))
	}
}

// eachEvent calls fn with every event of r up to io.EOF and returns the first error fn
// returns; a read error fails the test.
func eachEvent(t testing.TB, r *Reader, fn func(ev *Event) error) error {
	t.Helper()
	for {
		ev, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := fn(&ev); err != nil {
			return err
		}
	}
}

// mustReader opens a reader on data, failing the test on a bad header.
func mustReader(t testing.TB, data []byte) *Reader {
	t.Helper()
	r, err := NewReader(bytes.NewReader(data), nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// fixtureFiles lists the RDB fixtures copied into testdata.
func fixtureFiles(t testing.TB) []string {
	files, err := filepath.Glob("testdata/*/*.rdb")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	sort.Strings(files)
	return files
}

func readFile(t testing.TB, path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// asCorrupt returns the CorruptError in err.
func asCorrupt(err error) *CorruptError {
	var ce *CorruptError
	if errors.As(err, &ce) {
		return ce
	}
	return nil
}
