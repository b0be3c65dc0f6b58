package rdb

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// dumpModel is the logical content of a dump, independent of encodings: one canonical text
// per key, keyed by "db/key".
type dumpModel struct {
	keys      map[string]string
	functions []string
	aux       map[string]string
}

// modelOf reads a whole RDB and builds its model.
func modelOf(t testing.TB, data []byte) dumpModel {
	t.Helper()
	m, err := modelFrom(mustReader(t, data))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func modelFrom(r *Reader) (dumpModel, error) {
	m := dumpModel{keys: map[string]string{}, aux: map[string]string{}}
	var cur []string
	var hdr KeyHeader
	var name string
	for {
		ev, err := r.Next()
		if err == io.EOF {
			return m, nil
		}
		if err != nil {
			return m, err
		}
		switch ev.Kind {
		case KindAux:
			m.aux[string(ev.Field)] = string(ev.Value)
		case KindFunction:
			m.functions = append(m.functions, string(ev.Value))
		case KindKey:
			cur, hdr, name = cur[:0], ev.Header, fmt.Sprintf("%d/%s", ev.DB, ev.Key)
		case KindEndKey:
			if hdr.Type == TypeSet || hdr.Type == TypeHash {
				sort.Strings(cur)
			}
			if hdr.Type == TypeZSet {
				sort.Strings(cur)
			}
			m.keys[name] = fmt.Sprintf("%s expire=%d\n%s", hdr.Type, hdr.ExpireAt, strings.Join(cur, "\n"))
		case KindModuleSkipped:
			if ev.Key != nil {
				m.keys[fmt.Sprintf("%d/%s", ev.DB, ev.Key)] = "module " + ev.Module
			}
		case KindString, KindListItem, KindSetMember:
			cur = append(cur, strconv.Quote(string(ev.Value)))
		case KindZSetMember:
			cur = append(cur, strconv.Quote(string(ev.Value))+" "+strconv.FormatFloat(ev.Score, 'g', -1, 64))
		case KindStreamConsumer:
			if ev.Consumer.ActiveTime < 0 {
				ev.Consumer.ActiveTime = ev.Consumer.SeenTime // as Redis 7.2 loads older files
			}
			cur = append(cur, formatEvent(ev))
		case KindHashField, KindStreamEntry, KindStreamMeta, KindStreamGroup, KindStreamPending:
			cur = append(cur, formatEvent(ev))
		}
	}
}

func (m dumpModel) diff(o dumpModel) string {
	var out []string
	for k, v := range m.keys {
		if ov, ok := o.keys[k]; !ok {
			out = append(out, "missing "+k)
		} else if ov != v {
			out = append(out, fmt.Sprintf("key %s differs:\n--- want\n%s\n--- got\n%s", k, v, ov))
		}
	}
	for k := range o.keys {
		if _, ok := m.keys[k]; !ok {
			out = append(out, "extra "+k)
		}
	}
	if strings.Join(m.functions, "\n") != strings.Join(o.functions, "\n") {
		out = append(out, "functions differ")
	}
	sort.Strings(out)
	if len(out) > 5 {
		out = append(out[:5], fmt.Sprintf("... %d more", len(out)-5))
	}
	return strings.Join(out, "\n")
}

// copyDump pipes every event of src into a Writer (functions are dropped for versions
// that cannot hold them).
func copyDump(t testing.TB, src []byte, opts *WriterOptions) ([]byte, error) {
	t.Helper()
	var out bytes.Buffer
	w, err := NewWriter(&out, opts)
	if err != nil {
		t.Fatal(err)
	}
	err = eachEvent(t, mustReader(t, src), func(ev *Event) error {
		if ev.Kind == KindFunction && w.Version() < 10 {
			return nil
		}
		return w.Write(ev)
	})
	if err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
