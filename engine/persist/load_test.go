package persist

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/rdb"
)

// writeDump builds an RDB file of the given version from events.
func writeDump(t *testing.T, version int, evs ...rdb.Event) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := rdb.NewWriter(&buf, &rdb.WriterOptions{Version: version})
	if err != nil {
		t.Fatal(err)
	}
	for i := range evs {
		if err := w.Write(&evs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func key(db int, name string, typ rdb.ValueType, expireAt int64) rdb.Event {
	return rdb.Event{Kind: rdb.KindKey, DB: db, Key: []byte(name),
		Header: rdb.KeyHeader{Type: typ, ExpireAt: expireAt, Idle: -1, Freq: -1, Len: -1}}
}

func TestLoadSkipsAndCounts(t *testing.T) {
	now := time.Now().UnixMilli()
	dump := writeDump(t, 12,
		key(0, "gone", rdb.TypeString, now-1000), rdb.Event{Kind: rdb.KindString, Value: []byte("x")}, rdb.Event{Kind: rdb.KindEndKey},
		key(0, "h", rdb.TypeHash, 0),
		rdb.Event{Kind: rdb.KindHashField, Field: []byte("old"), Value: []byte("1"), ExpireAt: now - 1000},
		rdb.Event{Kind: rdb.KindHashField, Field: []byte("new"), Value: []byte("2"), ExpireAt: now + 3600_000},
		rdb.Event{Kind: rdb.KindHashField, Field: []byte("plain"), Value: []byte("3")},
		rdb.Event{Kind: rdb.KindEndKey},
		key(1, "skip", rdb.TypeString, 0), rdb.Event{Kind: rdb.KindString, Value: []byte("y")}, rdb.Event{Kind: rdb.KindEndKey},
		key(1, "keep", rdb.TypeList, 0), rdb.Event{Kind: rdb.KindListItem, Value: []byte("a")}, rdb.Event{Kind: rdb.KindEndKey},
		rdb.Event{Kind: rdb.KindFunction, Value: []byte("#!lua name=lib\nredis.register_function('f', function() return 1 end)")},
	)
	rd, err := rdb.NewReader(bytes.NewReader(dump), nil)
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.Open(engine.Options{Dir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	l, err := e.NewLoader(engine.LoaderOptions{Bulk: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var aux []string
	st, err := Load(context.Background(), rd, l, LoadOptions{
		Select: func(db int, k []byte, _ rdb.ValueType) bool { return string(k) != "skip" },
		Aux:    func(f, _ []byte) { aux = append(aux, string(f)) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Finish(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := LoadStats{Keys: 2, Expired: 1, Filtered: 1, Functions: 1, FieldTTLs: 1, Bytes: int64(len(dump))}
	if st != want {
		t.Fatalf("stats %+v, want %+v", st, want)
	}
	if len(aux) == 0 || aux[0] != "redis-ver" {
		t.Fatalf("aux fields %q", aux)
	}
	snap, err := e.NewSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	var out bytes.Buffer
	if _, err := WriteRDB(context.Background(), snap, &out, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	rd, _ = rdb.NewReader(&out, nil)
	var cur string
	for {
		ev, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch ev.Kind {
		case rdb.KindKey:
			cur = string(ev.Key)
		case rdb.KindHashField, rdb.KindListItem:
			got[cur] += string(ev.Field) + "=" + string(ev.Value) + " "
		}
	}
	if got["h"] != "new=2 plain=3 " || got["keep"] != "=a " || len(got) != 2 {
		t.Fatalf("loaded %q", got)
	}
}

func TestStampVersion(t *testing.T) {
	e, err := engine.Open(engine.Options{Dir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	tx := e.NewTxn()
	tx.Begin(0, engine.LockGlobal)
	if err := tx.Lock(); err != nil {
		t.Fatal(err)
	}
	defer tx.Abort()
	if err := Restore(tx, []byte("k"), []byte("\x00\x05hello\x0a\x00cr\xdfve4 \x0a"), 0); err != nil {
		t.Fatal(err)
	}
	enc, _ := rdb.NewDumpEncoder(nil)
	payload, ok, err := Dump(tx, []byte("k"), enc, nil)
	if err != nil || !ok || string(payload) != "\x00\x05hello\x0a\x00cr\xdfve4 \x0a" {
		t.Fatalf("DUMP %q %v %v", payload, ok, err)
	}
	if _, ok, _ := Dump(tx, []byte("missing"), enc, nil); ok {
		t.Fatal("DUMP of a missing key")
	}
	if err := Restore(tx, []byte("k"), []byte("\x02\x02\x01a\x01a\x0a\x00W\xbev/\xc2\xd6R:"), 0); !errors.Is(err, ErrBadPayload) {
		t.Fatalf("duplicate set members: %v", err)
	}
	if err := CheckPayload([]byte("k"), []byte("\x00\xff\x0a\x00\xc9H\x85\x1cr'<\x17")); !errors.Is(err, ErrBadPayload) {
		t.Fatalf("bad string encoding: %v", err)
	}
}
