package encoding

import (
	"bytes"
	"math/rand"
	"reflect"
	"sort"
	"testing"
)

func TestStreamIDOrder(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	ids := []StreamID{{}, {0, 1}, {1, 0}, MaxStreamID, {^uint64(0), 0}, {0, ^uint64(0)}}
	for i := 0; i < 500; i++ {
		ids = append(ids, StreamID{rng.Uint64() >> uint(rng.Intn(64)), rng.Uint64() >> uint(rng.Intn(64))})
	}
	sort.Slice(ids, func(a, b int) bool { return ids[a].Less(ids[b]) })
	for i := 1; i < len(ids); i++ {
		a, b := AppendStreamID(nil, ids[i-1]), AppendStreamID(nil, ids[i])
		if bytes.Compare(a, b) > 0 {
			t.Fatalf("%s sorts after %s as bytes", ids[i-1], ids[i])
		}
		if got, _ := DecodeStreamID(a); got != ids[i-1] {
			t.Fatalf("round trip %s: %s", ids[i-1], got)
		}
	}
	if next, ok := MaxStreamID.Next(); ok || !next.IsZero() {
		t.Fatal("the ID after max-max is 0-0, and not ok")
	}
	if prev, ok := (StreamID{}).Prev(); ok || prev != MaxStreamID {
		t.Fatal("the ID before 0-0 is max-max, and not ok")
	}
	if next, _ := (StreamID{5, ^uint64(0)}).Next(); next != (StreamID{6, 0}) {
		t.Fatalf("next of 5-max: %s", next)
	}
}

func TestStreamRecordsRoundTrip(t *testing.T) {
	f := StreamFields{Length: 3, LastID: StreamID{9, 1}, FirstID: StreamID{1, 0}, MaxDeletedID: StreamID{2, 2},
		EntriesAdded: 7, Groups: 2, Nodes: 1, TailNode: StreamID{1, 0}, NextGroupID: 5}
	var f2 StreamFields
	if err := DecodeStreamFields(AppendStreamFields(nil, &f), &f2); err != nil || f2 != f {
		t.Fatalf("fields: %+v %v", f2, err)
	}
	fv := [][]byte{[]byte("f"), {}, []byte("\x00\xff"), bytes.Repeat([]byte("v"), 300)}
	got, err := DecodeStreamEntry(AppendStreamEntry(nil, fv), nil)
	if err != nil || !reflect.DeepEqual(got, fv) {
		t.Fatalf("entry: %q %v", got, err)
	}
	n := StreamNode{Live: 99, Deleted: 1, Bytes: 4000, LastID: StreamID{7, 7}, Fields: [][]byte{[]byte("a"), []byte("b")}}
	var n2 StreamNode
	if err := DecodeStreamNode(AppendStreamNode(nil, &n), &n2); err != nil || !reflect.DeepEqual(n, n2) {
		t.Fatalf("node: %+v %v", n2, err)
	}
	g := StreamGroup{ID: 3, LastID: StreamID{4, 4}, EntriesRead: -1, Pending: 10, Consumers: 2,
		PELFloor: StreamID{1, 2}, PELCeil: StreamID{3, 4}}
	var g2 StreamGroup
	if err := DecodeStreamGroup(AppendStreamGroup(nil, &g), &g2); err != nil || g2 != g {
		t.Fatalf("group: %+v %v", g2, err)
	}
	p := StreamPending{DeliveryTime: 1700000000000, DeliveryCount: 3, Consumer: []byte("alice")}
	var p2 StreamPending
	if err := DecodeStreamPending(AppendStreamPending(nil, &p), &p2); err != nil || !reflect.DeepEqual(p, p2) {
		t.Fatalf("pending: %+v %v", p2, err)
	}
	c := StreamConsumer{SeenTime: 5, ActiveTime: -1, Pending: 9}
	var c2 StreamConsumer
	if err := DecodeStreamConsumer(AppendStreamConsumer(nil, &c), &c2); err != nil || c2 != c {
		t.Fatalf("consumer: %+v %v", c2, err)
	}
}

// TestStreamConsumerRangesDoNotNest: one consumer's pending range never holds another's, the
// reason for the name length in front of the name.
func TestStreamConsumerRangesDoNotNest(t *testing.T) {
	a := AppendStreamCPELPrefix(nil, 1, []byte("a"))
	ab := AppendStreamID(AppendStreamCPELPrefix(nil, 1, []byte("ab")), StreamID{1, 1})
	if bytes.HasPrefix(ab, a) {
		t.Fatal(`the pending list of consumer "ab" falls inside the range of "a"`)
	}
}

func FuzzStreamDecoders(f *testing.F) {
	f.Add(AppendStreamFields(nil, &StreamFields{Length: 1}))
	f.Add(AppendStreamEntry(nil, [][]byte{[]byte("f"), []byte("v")}))
	f.Add(AppendStreamNode(nil, &StreamNode{Live: 1, Fields: [][]byte{[]byte("f")}}))
	f.Add(AppendStreamGroup(nil, &StreamGroup{EntriesRead: -1}))
	f.Add(AppendStreamPending(nil, &StreamPending{Consumer: []byte("c")}))
	f.Fuzz(func(t *testing.T, b []byte) {
		var sf StreamFields
		DecodeStreamFields(b, &sf)
		DecodeStreamEntry(b, nil) // must not panic; non-minimal varints decode, never written
		var n StreamNode
		DecodeStreamNode(b, &n)
		var g StreamGroup
		DecodeStreamGroup(b, &g)
		var p StreamPending
		DecodeStreamPending(b, &p)
		var c StreamConsumer
		DecodeStreamConsumer(b, &c)
		DecodeStreamID(b)
	})
}
