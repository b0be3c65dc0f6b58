package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stratadb/strata/encoding"
)

// textDump records exported keys as sorted lines of text, one per key, for comparisons.
type textDump struct {
	lines []string
	cur   strings.Builder
	elems []string
	typ   encoding.Type
}

func (d *textDump) BeginKey(k *ExportKey) error {
	d.cur.Reset()
	fmt.Fprintf(&d.cur, "db%d %q %s exp=%d len=%d:", k.DB, k.Key, k.Type, k.ExpireAt, k.Len)
	d.elems, d.typ = d.elems[:0], k.Type
	return nil
}
func (d *textDump) String(v []byte) error {
	d.elems = append(d.elems, fmt.Sprintf("%q", v))
	return nil
}
func (d *textDump) ListItem(v []byte) error {
	d.elems = append(d.elems, fmt.Sprintf("%q", v))
	return nil
}
func (d *textDump) SetMember(m []byte) error {
	d.elems = append(d.elems, fmt.Sprintf("%q", m))
	return nil
}
func (d *textDump) HashField(f, v []byte) error {
	d.elems = append(d.elems, fmt.Sprintf("%q=%q", f, v))
	return nil
}
func (d *textDump) ZSetMember(m []byte, score float64) error {
	d.elems = append(d.elems, fmt.Sprintf("%q=%v", m, score))
	return nil
}
func (d *textDump) StreamEntry(id StreamID, fv [][]byte) error {
	d.elems = append(d.elems, fmt.Sprintf("%v%q", id, fv))
	return nil
}
func (d *textDump) StreamMeta(m StreamMeta) error {
	d.elems = append(d.elems, fmt.Sprintf("meta%+v", m))
	return nil
}
func (d *textDump) StreamGroup(g StreamGroupMeta) error {
	d.elems = append(d.elems, fmt.Sprintf("group%q/%v/%d", g.Name, g.LastID, g.EntriesRead))
	return nil
}
func (d *textDump) StreamPending(p PendingEntry) error {
	d.elems = append(d.elems, fmt.Sprintf("pel%v/%d/%d", p.ID, p.DeliveryTime, p.DeliveryCount))
	return nil
}
func (d *textDump) StreamConsumer(c StreamConsumerMeta) error {
	d.elems = append(d.elems, fmt.Sprintf("consumer%q/%d/%d/%v", c.Name, c.SeenTime, c.ActiveTime, c.Pending))
	return nil
}
func (d *textDump) EndKey() error {
	if d.typ != encoding.TypeList && d.typ != encoding.TypeStream {
		slices.Sort(d.elems)
	}
	d.lines = append(d.lines, d.cur.String()+" "+strings.Join(d.elems, " "))
	return nil
}

// dumpEngine exports every database of e as text.
func dumpEngine(t *testing.T, e *Engine) string {
	t.Helper()
	s, err := e.NewSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var d textDump
	for db := 0; db < s.Databases(); db++ {
		if err := s.Walk(context.Background(), db, &d); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(d.lines)
	return strings.Join(d.lines, "\n")
}

// fillEngine writes keys of every type the engine has into databases 0 and 3.
func fillEngine(t *testing.T, e *Engine) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 3000) // chunked
	sparse := make([]byte, 3*encoding.ChunkSize+10)       // chunked, mostly zeros
	sparse[len(sparse)-1] = 'x'
	future := time.Now().Add(time.Hour).UnixMilli()
	inTxn(t, e, 0, func(tx *Txn) error {
		tx.Set([]byte("s"), []byte("hello"), SetArgs{})
		tx.Set([]byte("empty"), nil, SetArgs{})
		tx.Set([]byte("big"), big, SetArgs{})
		tx.Set([]byte("sparse"), sparse, SetArgs{})
		tx.Set([]byte("ttl"), []byte("v"), SetArgs{ExpireAt: future})
		var items [][]byte
		for i := range 300 {
			items = append(items, []byte(fmt.Sprint("item", i)))
		}
		tx.ListPush([]byte("list"), items, false, false)
		tx.SAdd([]byte("set"), [][]byte{[]byte("a"), []byte("b"), []byte("1")})
		tx.HSet([]byte("hash"), [][]byte{[]byte("f1"), []byte("v1"), []byte("f2"), big})
		negZero := math.Copysign(0, -1)
		tx.ZAdd([]byte("zsmall"), ZAddFlags{}, []float64{1.5, negZero, math.Inf(-1)},
			[][]byte{[]byte("a"), []byte("nz"), []byte("low")})
		var scores []float64
		var members [][]byte
		for i := range 1000 {
			scores = append(scores, float64(i%97)-40)
			members = append(members, []byte(fmt.Sprint("m", i)))
		}
		scores[5] = negZero
		tx.ZAdd([]byte("zbig"), ZAddFlags{}, scores, members)
		tx.ZAdd([]byte("zlong"), ZAddFlags{}, []float64{negZero, 2}, [][]byte{bytes.Repeat([]byte("L"), 100), []byte("s")})
		return nil
	})
	inTxn(t, e, 3, func(tx *Txn) error {
		tx.Set([]byte("s"), []byte("db3"), SetArgs{})
		tx.SAdd([]byte("ints"), [][]byte{[]byte("3"), []byte("-7"), []byte("100000")})
		return nil
	})
}

// copyEngine loads src's keys into dst through a Loader.
func copyEngine(t *testing.T, src, dst *Engine, o LoaderOptions) LoadStats {
	t.Helper()
	s, err := src.NewSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l, err := dst.NewLoader(o)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c := &loadCopier{l: l}
	for db := 0; db < s.Databases(); db++ {
		if err := s.Walk(context.Background(), db, c); err != nil {
			t.Fatal(err)
		}
	}
	st, err := l.Finish(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// loadCopier is an ExportVisitor that imports what it is given into a Loader.
type loadCopier struct {
	l  *Loader
	im *KeyImporter
}

func (c *loadCopier) BeginKey(k *ExportKey) (err error) {
	c.im, err = c.l.Key(k.DB, k.Key, k.Type, k.ExpireAt)
	return err
}
func (c *loadCopier) String(v []byte) error                      { return c.im.String(v) }
func (c *loadCopier) ListItem(v []byte) error                    { return c.im.ListItem(v) }
func (c *loadCopier) SetMember(m []byte) error                   { return c.im.SetMember(m) }
func (c *loadCopier) HashField(f, v []byte) error                { return c.im.HashField(f, v) }
func (c *loadCopier) ZSetMember(m []byte, s float64) error       { return c.im.ZSetMember(m, s) }
func (c *loadCopier) StreamEntry(id StreamID, fv [][]byte) error { return c.im.StreamEntry(id, fv) }
func (c *loadCopier) StreamMeta(m StreamMeta) error              { return c.im.StreamMeta(m) }
func (c *loadCopier) StreamGroup(g StreamGroupMeta) error        { return c.im.StreamGroup(g) }
func (c *loadCopier) StreamPending(p PendingEntry) error         { return c.im.StreamPending(p) }
func (c *loadCopier) StreamConsumer(m StreamConsumerMeta) error  { return c.im.StreamConsumer(m) }
func (c *loadCopier) EndKey() error {
	_, err := c.im.Finish()
	return err
}

func TestExportImportRoundTrip(t *testing.T) {
	src := openTestEngine(t)
	fillEngine(t, src)
	want := dumpEngine(t, src)
	if n := strings.Count(want, "\n") + 1; n != 13 {
		t.Fatalf("source holds %d keys, want 13:\n%s", n, want)
	}
	var ranks []string
	for _, tc := range []struct {
		name string
		o    LoaderOptions
		runs bool
	}{
		{"batch", LoaderOptions{}, false},
		{"bulk-memory", LoaderOptions{Bulk: true}, false},
		{"bulk-runs", LoaderOptions{Bulk: true, MemoryLimit: 16 << 10}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := openTestEngine(t)
			st := copyEngine(t, src, dst, tc.o)
			if got := dumpEngine(t, dst); got != want {
				t.Fatalf("copy differs\n got: %s\nwant: %s", got, want)
			}
			if st.Keys != 13 || (st.Runs > 0) != tc.runs {
				t.Fatalf("stats %+v", st)
			}
			// The commands read what was imported, through the hot tier and counts.
			inTxn(t, dst, 0, func(tx *Txn) error {
				if n := tx.DBSize(); n != 11 {
					return fmt.Errorf("dbsize %d", n)
				}
				v, ok, err := tx.Get([]byte("big"))
				if err != nil || !ok || len(v) != 48000 {
					return fmt.Errorf("big: %d %v %v", len(v), ok, err)
				}
				items, err := tx.ListRange([]byte("list"), 298, -1)
				if err != nil || len(items) != 2 || string(items[1]) != "item299" {
					return fmt.Errorf("list: %q %v", items, err)
				}
				if at, _ := tx.ExpireTime([]byte("ttl")); at <= 0 {
					return fmt.Errorf("ttl lost: %d", at)
				}
				return nil
			})
			// Ranks of the big sorted set (its buckets were built by the import).
			for _, e := range []*Engine{src, dst} {
				inTxn(t, e, 0, func(tx *Txn) error {
					r, ok, err := tx.ZRank([]byte("zbig"), []byte("m500"), false)
					ranks = append(ranks, fmt.Sprint(r, ok, err))
					got, err := tx.ZRange([]byte("zbig"), ZRangeSpec{Start: 700, Stop: 702})
					ranks = append(ranks, fmt.Sprint(got, err))
					return nil
				})
			}
			if ranks[0] != ranks[2] || ranks[1] != ranks[3] {
				t.Fatalf("ranks differ: %q", ranks)
			}
			ranks = ranks[:0]
			if ks := dst.KeyspaceStats(3); ks.Keys != 2 {
				t.Fatalf("db 3 stats %+v", ks)
			}
			if ks := dst.KeyspaceStats(0); ks.Expires != 1 {
				t.Fatalf("db 0 stats %+v", ks)
			}
		})
	}
}

func TestSnapshotIsolation(t *testing.T) {
	e := openTestEngine(t)
	inTxn(t, e, 0, func(tx *Txn) error {
		_, err := tx.HSet([]byte("h"), [][]byte{[]byte("a"), []byte("1")})
		return err
	})
	s, err := e.NewSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	inTxn(t, e, 0, func(tx *Txn) error {
		tx.HSet([]byte("h"), [][]byte{[]byte("b"), []byte("2")})
		tx.Set([]byte("new"), []byte("x"), SetArgs{})
		tx.SwapDB(0, 1)
		return nil
	})
	var d textDump
	if err := s.Walk(context.Background(), 0, &d); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(d.lines, "\n"); got != `db0 "h" hash exp=0 len=1: "a"="1"` {
		t.Fatalf("snapshot sees %s", got)
	}
	if n, _ := s.KeyCounts(0); n != 1 {
		t.Fatalf("snapshot counts %d keys", n)
	}
}

func TestImportDuplicateMember(t *testing.T) {
	for _, bulk := range []bool{false, true} {
		t.Run(fmt.Sprint("bulk=", bulk), func(t *testing.T) {
			e := openTestEngine(t)
			if !bulk {
				inTxn(t, e, 0, func(tx *Txn) error {
					_, err := tx.SAdd([]byte("s"), [][]byte{[]byte("old")})
					return err
				})
			}
			l, err := e.NewLoader(LoaderOptions{Bulk: bulk})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			im, err := l.Key(0, []byte("s"), encoding.TypeSet, 0)
			if err != nil {
				t.Fatal(err)
			}
			im.SetMember([]byte("x"))
			im.SetMember([]byte("y"))
			im.SetMember([]byte("x"))
			_, err = im.Finish()
			if err == nil {
				_, err = l.Finish(context.Background())
			}
			if !errors.Is(err, ErrImportDuplicate) {
				t.Fatalf("err %v, want a duplicate", err)
			}
			if !bulk {
				l.Finish(context.Background())
				if got := dumpEngine(t, e); got != `db0 "s" set exp=0 len=1: "old"` {
					t.Fatalf("after a failed import: %s", got)
				}
			}
		})
	}
}

// TestImportBigDirect imports a collection big enough to leave the Txn's batch, then one that
// fails after that point: the first is whole, the second leaves nothing behind once swept.
func TestImportBigDirect(t *testing.T) {
	e := openTestEngine(t)
	value := bytes.Repeat([]byte("v"), 1000)
	n := keyImportInline/1000 + 500
	run := func(key string, dup bool) error {
		tx := e.NewTxn()
		tx.Begin(0, LockWrite)
		tx.AddKey([]byte(key))
		if err := tx.Lock(); err != nil {
			t.Fatal(err)
		}
		im, err := tx.ImportKey([]byte(key), encoding.TypeHash, 0)
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			im.HashField([]byte(fmt.Sprint(i)), value)
		}
		if dup {
			im.HashField([]byte("7"), value)
		}
		_, err = im.Finish()
		if cerr := tx.Commit(); cerr != nil {
			t.Fatal(cerr)
		}
		return err
	}
	if err := run("good", false); err != nil {
		t.Fatal(err)
	}
	if err := run("bad", true); !errors.Is(err, ErrImportDuplicate) {
		t.Fatalf("err %v", err)
	}
	inTxn(t, e, 0, func(tx *Txn) error {
		if typ, _ := tx.TypeOf([]byte("bad")); typ != encoding.TypeNone {
			return fmt.Errorf("bad exists: %s", typ)
		}
		v, ok, err := tx.HGet([]byte("good"), []byte(fmt.Sprint(n-1)))
		if !ok || err != nil || !bytes.Equal(v, value) {
			return fmt.Errorf("good: %v %v", ok, err)
		}
		return nil
	})
	if err := e.sweep(); err != nil {
		t.Fatal(err)
	}
	// Only the good hash's elements remain in the subkey family.
	it, _ := e.pdb.NewIter(nil)
	elems := 0
	for ok := it.First(); ok; ok = it.Next() {
		if it.Key()[0] == encoding.TagSub {
			_, _, key, _, _, err := encoding.DecodeElemKey(it.Key())
			if err != nil || string(key) != "good" {
				t.Fatalf("stray element %q", it.Key())
			}
			elems++
		}
	}
	it.Close()
	if elems != n {
		t.Fatalf("%d elements, want %d", elems, n)
	}
}

func TestBulkLoadNeedsEmptyEngine(t *testing.T) {
	e := openTestEngine(t)
	inTxn(t, e, 0, func(tx *Txn) error { _, err := tx.Set([]byte("k"), []byte("v"), SetArgs{}); return err })
	if _, err := e.NewLoader(LoaderOptions{Bulk: true}); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("err %v", err)
	}
}

func TestBulkLoadDuplicateKey(t *testing.T) {
	e := openTestEngine(t)
	l, err := e.NewLoader(LoaderOptions{Bulk: true, MemoryLimit: 1 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for range 2 {
		im, _ := l.Key(0, []byte("twice"), encoding.TypeString, 0)
		im.String(bytes.Repeat([]byte("x"), 2000))
		if _, err := im.Finish(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Finish(context.Background()); !errors.Is(err, ErrImportDuplicate) || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("err %v", err)
	}
}

func TestReadOnlyDir(t *testing.T) {
	dir := t.TempDir()
	e, err := Open(Options{Dir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	fillEngine(t, e)
	want := dumpEngine(t, e)
	if _, err := OpenReadOnly(dir); !errors.Is(err, ErrDirInUse) {
		t.Fatalf("open while in use: %v", err)
	}
	e.Close()
	d, err := OpenReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if got := dumpEngine(t, d.e); got != want {
		t.Fatalf("read-only view differs:\n%s\n%s", got, want)
	}
	if _, err := OpenReadOnly(t.TempDir()); err == nil {
		t.Fatal("an empty directory opened")
	}
}

// TestBulkLoadPipeline loads enough records through many sorted runs to fill many of the
// merge's chunks (writeTables hands them from the merging goroutine to the sstable writer),
// then reads every key back. A duplicate that only shows after many chunks fails the load,
// and so does a cancelled context, without leaving keys behind.
func TestBulkLoadPipeline(t *testing.T) {
	const keys = 3000
	value := func(i int) []byte { return bytes.Repeat([]byte{byte('a' + i%26)}, 1500+i%700) }
	load := func(e *Engine, ctx context.Context, dupAt int) error {
		l, err := e.NewLoader(LoaderOptions{Bulk: true, MemoryLimit: 256 << 10})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		for i := range keys {
			im, err := l.Key(0, fmt.Appendf(nil, "key:%05d", i), encoding.TypeString, 0)
			if err != nil {
				t.Fatal(err)
			}
			im.String(value(i))
			if _, err := im.Finish(); err != nil {
				t.Fatal(err)
			}
			if i == dupAt {
				im, _ := l.Key(0, fmt.Appendf(nil, "key:%05d", i), encoding.TypeString, 0)
				im.String(value(i))
				if _, err := im.Finish(); err != nil {
					t.Fatal(err)
				}
			}
		}
		h, _ := l.Key(0, []byte("hash"), encoding.TypeHash, 0)
		for i := range 20000 {
			h.HashField(fmt.Appendf(nil, "f%d", i), fmt.Appendf(nil, "v%d", i))
		}
		if _, err := h.Finish(); err != nil {
			t.Fatal(err)
		}
		st, err := l.Finish(ctx)
		if err == nil && st.Runs < 10 {
			t.Fatalf("%d runs: the test should merge many", st.Runs)
		}
		return err
	}

	e := openTestEngine(t)
	if err := load(e, context.Background(), -1); err != nil {
		t.Fatal(err)
	}
	inTxn(t, e, 0, func(tx *Txn) error {
		for i := range keys {
			v, ok, err := tx.Get(fmt.Appendf(nil, "key:%05d", i))
			if err != nil || !ok || !bytes.Equal(v, value(i)) {
				return fmt.Errorf("key:%05d: %d bytes, %v, %v", i, len(v), ok, err)
			}
		}
		v, ok, err := tx.HGet([]byte("hash"), []byte("f19999"))
		if err != nil || !ok || string(v) != "v19999" {
			return fmt.Errorf("hash field: %q %v %v", v, ok, err)
		}
		return nil
	})
	if n := e.KeyspaceStats(0).Keys; n != keys+1 {
		t.Fatalf("%d keys, want %d", n, keys+1)
	}

	for _, c := range []struct {
		name  string
		dupAt int
		ctx   func() context.Context
		want  error
	}{
		{"duplicate late", keys - 10, context.Background, ErrImportDuplicate},
		{"cancelled", -1, func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}, context.Canceled},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := openTestEngine(t)
			if err := load(e, c.ctx(), c.dupAt); !errors.Is(err, c.want) {
				t.Fatalf("err %v, want %v", err, c.want)
			}
			if n := e.KeyspaceStats(0).Keys; n != 0 {
				t.Fatalf("%d keys after a failed load", n)
			}
			inTxn(t, e, 0, func(tx *Txn) error {
				if _, ok, err := tx.Get([]byte("key:00000")); ok || err != nil {
					return fmt.Errorf("a key of the failed load reads back: %v, %v", ok, err)
				}
				return nil
			})
		})
	}
}
