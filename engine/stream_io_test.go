package engine

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/stratadb/strata/encoding"
)

// streamRecorder is a StreamVisitor that writes what it is given as text lines.
type streamRecorder struct{ lines []string }

func (r *streamRecorder) add(format string, args ...any) error {
	r.lines = append(r.lines, fmt.Sprintf(format, args...))
	return nil
}
func (r *streamRecorder) StreamEntry(id StreamID, fv [][]byte) error {
	return r.add("entry %s %q", id, fv)
}
func (r *streamRecorder) StreamMeta(m StreamMeta) error { return r.add("meta %+v", m) }
func (r *streamRecorder) StreamGroup(g StreamGroupMeta) error {
	return r.add("group %q %s %d", g.Name, g.LastID, g.EntriesRead)
}
func (r *streamRecorder) StreamPending(p PendingEntry) error {
	return r.add("pending %s %q %d %d", p.ID, p.Consumer, p.DeliveryTime, p.DeliveryCount)
}
func (r *streamRecorder) StreamConsumer(c StreamConsumerMeta) error {
	return r.add("consumer %q %d %d %v", c.Name, c.SeenTime, c.ActiveTime, c.Pending)
}

// streamCopier feeds an export straight into an importer.
type streamCopier struct{ im *StreamImporter }

func (c streamCopier) StreamEntry(id StreamID, fv [][]byte) error { return c.im.Entry(id, fv) }
func (c streamCopier) StreamMeta(m StreamMeta) error              { return c.im.Meta(m) }
func (c streamCopier) StreamGroup(g StreamGroupMeta) error        { return c.im.Group(g) }
func (c streamCopier) StreamPending(p PendingEntry) error         { return c.im.Pending(p) }
func (c streamCopier) StreamConsumer(m StreamConsumerMeta) error  { return c.im.Consumer(m) }

// TestStreamExportImport: a stream with deleted entries, groups, pending entries with set
// delivery times and counts, and consumers exports, imports under another key (replacing a
// string there) and exports again to the same parts; the imported stream answers the same.
func TestStreamExportImport(t *testing.T) {
	e := openTestEngine(t)
	src, dst := []byte("src"), []byte("dst")
	inTxn(t, e, 0, func(tx *Txn) error {
		for i := 1; i <= 350; i++ {
			f := fv("f", fmt.Sprint(i))
			if i%7 == 0 {
				f = fv("other", "x", "y", strings.Repeat("z", 500))
			}
			if _, _, err := tx.XAdd(src, &XAddArgs{ID: id(uint64(i), uint64(i%3)), IDGiven: true, SeqGiven: true}, f); err != nil {
				return err
			}
		}
		if _, err := tx.XDel(src, []StreamID{id(10, 1), id(200, 2), id(350, 2)}); err != nil {
			return err
		}
		for _, g := range []string{"g1", "g2"} {
			if err := tx.XGroupCreate(src, []byte(g), StreamID{}, false, false, EntriesReadUnknown); err != nil {
				return err
			}
		}
		for _, c := range []string{"alice", "bob"} {
			if _, err := tx.XReadGroup(src, &XReadGroupArgs{Group: []byte("g1"), Consumer: []byte(c), Count: 20},
				func(StreamID, [][]byte) error { return nil }); err != nil {
				return err
			}
		}
		if _, err := tx.XGroupCreateConsumer(src, []byte("g2"), []byte("idle")); err != nil {
			return err
		}
		err := tx.XClaim(src, []byte("g1"), []byte("carol"), &XClaimArgs{IDs: []StreamID{id(3, 0), id(25, 1)},
			DeliveryTime: 1234, RetryCount: 9}, func(StreamID, [][]byte) error { return nil })
		if err != nil {
			return err
		}
		_, err = tx.Set(dst, []byte("a string to replace"), SetArgs{})
		return err
	})
	var before, after streamRecorder
	inTxn(t, e, 0, func(tx *Txn) error {
		if ok, err := tx.ExportStream(src, &before); !ok || err != nil {
			return fmt.Errorf("export: %v %v", ok, err)
		}
		im, err := tx.ImportStream(dst, 0)
		if err != nil {
			return err
		}
		if _, err := tx.ExportStream(src, streamCopier{im}); err != nil {
			im.Discard()
			return err
		}
		return im.Finish()
	})
	inTxn(t, e, 0, func(tx *Txn) error {
		if _, err := tx.ExportStream(dst, &after); err != nil {
			return err
		}
		checkStreamInvariants(t, tx, dst)
		a, err := tx.XInfoGroups(src)
		if err != nil {
			return err
		}
		b, err := tx.XInfoGroups(dst)
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(a, b) {
			return fmt.Errorf("groups differ:\n%+v\n%+v", a, b)
		}
		return nil
	})
	if !reflect.DeepEqual(before.lines, after.lines) {
		t.Fatalf("the imported stream exports differently:\n%s\n---\n%s",
			strings.Join(before.lines, "\n"), strings.Join(after.lines, "\n"))
	}
	if len(before.lines) < 350 || !strings.Contains(strings.Join(before.lines, "\n"), `consumer "carol" `) {
		t.Fatalf("the export looks short: %d lines", len(before.lines))
	}
}

// TestStreamImportRejects: parts that do not fit together are refused, and nothing appears.
func TestStreamImportRejects(t *testing.T) {
	e := openTestEngine(t)
	for name, feed := range map[string]func(im *StreamImporter) error{
		"entries out of order": func(im *StreamImporter) error {
			im.Entry(id(2, 0), fv("f", "v"))
			return im.Entry(id(1, 0), fv("f", "v"))
		},
		"length mismatch": func(im *StreamImporter) error {
			im.Entry(id(1, 0), fv("f", "v"))
			return im.Meta(StreamMeta{Length: 2, LastID: id(1, 0), EntriesAdded: 2})
		},
		"unowned pending": func(im *StreamImporter) error {
			im.Entry(id(1, 0), fv("f", "v"))
			im.Meta(StreamMeta{Length: 1, LastID: id(1, 0), EntriesAdded: 1})
			im.Group(StreamGroupMeta{Name: []byte("g"), EntriesRead: -1})
			im.Pending(PendingEntry{ID: id(1, 0)})
			return im.Finish()
		},
		"unknown owned": func(im *StreamImporter) error {
			im.Meta(StreamMeta{})
			im.Group(StreamGroupMeta{Name: []byte("g"), EntriesRead: -1})
			return im.Consumer(StreamConsumerMeta{Name: []byte("c"), Pending: []StreamID{id(1, 0)}})
		},
		"no meta": func(im *StreamImporter) error { return im.Finish() },
	} {
		inTxn(t, e, 0, func(tx *Txn) error {
			im, err := tx.ImportStream([]byte("k"), 0)
			if err != nil {
				return err
			}
			err = feed(im)
			if err == nil {
				err = im.Finish()
			} else {
				im.Discard()
			}
			if !errors.Is(err, ErrStreamImport) {
				return fmt.Errorf("%s: got %v", name, err)
			}
			if _, ok, _ := tx.StreamLastID([]byte("k")); ok {
				return fmt.Errorf("%s: the key appeared", name)
			}
			return nil
		})
	}
	if err := e.sweep(); err != nil {
		t.Fatal(err)
	}
	it, _ := e.pdb.NewIter(nil)
	defer it.Close()
	prefix := []byte{encoding.TagSub}
	for ok := it.SeekGE(prefix); ok && it.Key()[0] == encoding.TagSub; ok = it.Next() {
		t.Fatalf("a discarded import left %x", it.Key())
	}
}

// TestStreamImportLarge crosses the import's batch size, so part of the stream is in Pebble
// before the metadata commits.
func TestStreamImportLarge(t *testing.T) {
	e := openTestEngine(t)
	val := strings.Repeat("v", 1000)
	const n = 5000 // 5 MB: more than one of the import's batches
	inTxn(t, e, 0, func(tx *Txn) error {
		im, err := tx.ImportStream([]byte("big"), 0)
		if err != nil {
			return err
		}
		for i := 1; i <= n; i++ {
			if err := im.Entry(id(uint64(i), 0), fv("f", val)); err != nil {
				return err
			}
			if _, _, err := tx.XAdd([]byte("ref"), &XAddArgs{ID: id(uint64(i), 0), IDGiven: true, SeqGiven: true}, fv("f", val)); err != nil {
				return err
			}
		}
		if err := im.Meta(StreamMeta{Length: n, LastID: id(n, 0), FirstID: id(1, 0), EntriesAdded: n}); err != nil {
			return err
		}
		return im.Finish()
	})
	inTxn(t, e, 0, func(tx *Txn) error {
		checkStreamInvariants(t, tx, []byte("big"))
		info, err := tx.XInfoStream([]byte("big"), false, 0)
		if err != nil {
			return err
		}
		ref, err := tx.XInfoStream([]byte("ref"), false, 0)
		if err != nil {
			return err
		}
		// An import places entries in nodes as XADD does.
		if info.Length != n || info.RadixKeys != ref.RadixKeys || info.RadixNodes != ref.RadixNodes {
			return fmt.Errorf("length %d nodes %d/%d, XADD made %d/%d", info.Length, info.RadixKeys, info.RadixNodes, ref.RadixKeys, ref.RadixNodes)
		}
		return nil
	})
}
