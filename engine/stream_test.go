package engine

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"testing"

	"github.com/stratadb/strata/encoding"
)

func id(ms, seq uint64) StreamID { return StreamID{Ms: ms, Seq: seq} }

func fv(kv ...string) [][]byte {
	out := make([][]byte, len(kv))
	for i, s := range kv {
		out[i] = []byte(s)
	}
	return out
}

// checkStreamInvariants walks every subkey of the stream's version and checks what the
// metadata and the records say of each other: Count is the number of subkeys, node records
// account for every entry, each group's pending and consumer counts and each consumer's pending
// count match their ranges, and every pending entry is in its owner's list and only there.
func checkStreamInvariants(t *testing.T, tx *Txn, key []byte) {
	t.Helper()
	s, err := tx.streamFor(key, false)
	if err != nil || s == nil {
		t.Fatalf("stream %q: %v", key, err)
	}
	it, err := tx.iter(s.prefix, encoding.PrefixEnd(nil, s.prefix))
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var (
		count   uint64
		entries []StreamID
		nodes   []StreamID
		live    uint64
		groups  = map[uint64]*encoding.StreamGroup{}
		pel     = map[uint64]map[StreamID]string{}
		cons    = map[uint64]map[string]uint64{}
		cpel    = map[uint64]map[string][]StreamID{}
	)
	for ok := it.First(); ok; ok = it.Next() {
		count++
		m := it.Key()[len(s.prefix):]
		v := it.Value()
		switch m[0] {
		case encoding.StreamEntryKind:
			sid, _ := encoding.DecodeStreamID(m[1:])
			entries = append(entries, sid)
		case encoding.StreamNodeKind:
			sid, _ := encoding.DecodeStreamID(m[1:])
			var n encoding.StreamNode
			if err := encoding.DecodeStreamNode(v, &n); err != nil {
				t.Fatal(err)
			}
			s.tailCounters(sid, &n) // the tail's counters are in the metadata
			nodes = append(nodes, sid)
			live += n.Live
		case encoding.StreamGroupKind:
			var g encoding.StreamGroup
			if err := encoding.DecodeStreamGroup(v, &g); err != nil {
				t.Fatal(err)
			}
			groups[g.ID] = &g
		case encoding.StreamPELKind:
			gid := beUint64(m[1:])
			sid, _ := encoding.DecodeStreamID(m[9:])
			var p encoding.StreamPending
			if err := encoding.DecodeStreamPending(v, &p); err != nil {
				t.Fatal(err)
			}
			if pel[gid] == nil {
				pel[gid] = map[StreamID]string{}
			}
			pel[gid][sid] = string(p.Consumer)
		case encoding.StreamConsumerKind:
			gid := beUint64(m[1:])
			var c encoding.StreamConsumer
			if err := encoding.DecodeStreamConsumer(v, &c); err != nil {
				t.Fatal(err)
			}
			if cons[gid] == nil {
				cons[gid] = map[string]uint64{}
			}
			cons[gid][string(m[9:])] = c.Pending
		case encoding.StreamCPELKind:
			gid := beUint64(m[1:])
			n := int(m[9])<<24 | int(m[10])<<16 | int(m[11])<<8 | int(m[12])
			name := string(m[13 : 13+n])
			sid, _ := encoding.DecodeStreamID(m[13+n:])
			if cpel[gid] == nil {
				cpel[gid] = map[string][]StreamID{}
			}
			cpel[gid][name] = append(cpel[gid][name], sid)
		default:
			t.Fatalf("unknown stream subkey kind %q", m[0])
		}
	}
	f := s.f
	if count != s.m.Count {
		t.Fatalf("%q: metadata count %d, %d subkeys", key, s.m.Count, count)
	}
	if uint64(len(entries)) != f.Length || live != f.Length {
		t.Fatalf("%q: length %d, %d entries, nodes hold %d", key, f.Length, len(entries), live)
	}
	if uint64(len(nodes)) != f.Nodes {
		t.Fatalf("%q: %d nodes, metadata says %d", key, len(nodes), f.Nodes)
	}
	if len(nodes) > 0 && (nodes[len(nodes)-1] != f.TailNode || nodes[0] != f.HeadNode) {
		t.Fatalf("%q: nodes %s..%s, metadata says %s..%s", key, nodes[0], nodes[len(nodes)-1], f.HeadNode, f.TailNode)
	}
	if len(entries) > 0 && (entries[0] != f.FirstID || entries[len(entries)-1].Compare(f.LastID) > 0) {
		t.Fatalf("%q: entries %s..%s, first %s last %s", key, entries[0], entries[len(entries)-1], f.FirstID, f.LastID)
	}
	if uint64(len(groups)) != f.Groups {
		t.Fatalf("%q: %d groups, metadata says %d", key, len(groups), f.Groups)
	}
	for gid, g := range groups {
		if uint64(len(pel[gid])) != g.Pending || uint64(len(cons[gid])) != g.Consumers {
			t.Fatalf("%q group %d: pending %d/%d consumers %d/%d", key, gid, len(pel[gid]), g.Pending, len(cons[gid]), g.Consumers)
		}
		for x := range pel[gid] {
			if x.Less(g.PELFloor) {
				t.Fatalf("%q group %d: pending %s below the floor %s", key, gid, x, g.PELFloor)
			}
		}
		owned := 0
		for name, ids := range cpel[gid] {
			if uint64(len(ids)) != cons[gid][name] {
				t.Fatalf("%q group %d consumer %q: %d pending, record says %d", key, gid, name, len(ids), cons[gid][name])
			}
			for _, sid := range ids {
				if pel[gid][sid] != name {
					t.Fatalf("%q group %d: %s in %q's list, owned by %q", key, gid, sid, name, pel[gid][sid])
				}
			}
			owned += len(ids)
		}
		if owned != len(pel[gid]) {
			t.Fatalf("%q group %d: %d pending entries, %d owned", key, gid, len(pel[gid]), owned)
		}
	}
	for gid := range pel {
		if groups[gid] == nil {
			t.Fatalf("%q: pending entries of a group %d that does not exist", key, gid)
		}
	}
}

// streamModel is the plain model the engine is checked against.
type streamModel struct {
	entries map[StreamID]string
	last    StreamID
	groups  map[string]*groupModel
}

type groupModel struct {
	last    StreamID
	pending map[StreamID]string // id -> consumer
}

func (m *streamModel) sorted() []StreamID {
	ids := make([]StreamID, 0, len(m.entries))
	for k := range m.entries {
		ids = append(ids, k)
	}
	sort.Slice(ids, func(a, b int) bool { return ids[a].Less(ids[b]) })
	return ids
}

// TestStreamModel runs random operations on one stream and checks every reply against a plain
// model, and the stored records against each other, after each step.
func TestStreamModel(t *testing.T) {
	e := openTestEngine(t)
	key := []byte("s")
	m := &streamModel{entries: map[StreamID]string{}, groups: map[string]*groupModel{}}
	r := rand.New(rand.NewPCG(7, 11))
	names := []string{"a", "b", "c"}
	const steps = 3000
	for step := 0; step < steps; step++ {
		gname := []byte("g" + strconv.Itoa(r.IntN(2)))
		cname := []byte(names[r.IntN(len(names))])
		g := m.groups[string(gname)]
		inTxn(t, e, 0, func(tx *Txn) error {
			op := r.IntN(20)
			switch {
			case op < 10:
				op = 0
			case op < 19:
				op -= 7 // 3 .. 11
			}
			switch op {
			case 0, 1, 2: // XADD, big values now and then so nodes close by bytes too
				nid := id(m.last.Ms+uint64(r.IntN(3)), uint64(r.IntN(3)))
				val := strconv.Itoa(step)
				if r.IntN(10) == 0 {
					val = string(bytes.Repeat([]byte("x"), 1500))
				}
				got, _, err := tx.XAdd(key, &XAddArgs{ID: nid, IDGiven: true, SeqGiven: true}, fv("f", val))
				if nid.Compare(m.last) <= 0 {
					if err != ErrStreamIDSmall {
						return fmt.Errorf("step %d: XADD %s after %s: %v", step, nid, m.last, err)
					}
					return nil
				}
				if err != nil || got != nid {
					return fmt.Errorf("step %d: XADD %s: %s %v", step, nid, got, err)
				}
				m.entries[nid], m.last = val, nid
			case 3: // XDEL of existing and missing IDs
				ids := m.sorted()
				var del []StreamID
				for i := 0; i < 1 && len(ids) > 0; i++ {
					del = append(del, ids[r.IntN(len(ids))])
				}
				del = append(del, id(m.last.Ms+1, 0))
				n, err := tx.XDel(key, del)
				want := 0
				for _, d := range del {
					if _, ok := m.entries[d]; ok {
						delete(m.entries, d)
						want++
					}
				}
				if err != nil || n != int64(want) {
					return fmt.Errorf("step %d: XDEL %v: %d %v, want %d", step, del, n, err, want)
				}
			case 4: // exact trims; their counts are exact
				a := XTrimArgs{Strategy: TrimMaxLen, MaxLen: int64(r.IntN(600))}
				ids := m.sorted()
				want := max(len(ids)-int(a.MaxLen), 0)
				if r.IntN(2) == 0 && len(ids) > 0 {
					a = XTrimArgs{Strategy: TrimMinID, MinID: ids[r.IntN(len(ids)/4+1)]}
					want = 0
					for _, x := range ids {
						if x.Less(a.MinID) {
							want++
						}
					}
				}
				n, err := tx.XTrim(key, &a)
				if err != nil || n != int64(want) {
					return fmt.Errorf("step %d: XTRIM %+v: %d %v, want %d", step, a, n, err, want)
				}
				for _, x := range ids[:want] {
					delete(m.entries, x)
				}
			case 5: // groups come and go
				if g == nil {
					if err := tx.XGroupCreate(key, gname, StreamID{}, false, true, EntriesReadUnknown); err != nil {
						return err
					}
					m.groups[string(gname)] = &groupModel{pending: map[StreamID]string{}}
				} else if r.IntN(4) == 0 {
					if _, err := tx.XGroupDestroy(key, gname); err != nil {
						return err
					}
					delete(m.groups, string(gname))
				}
			case 6, 7, 10, 11: // XREADGROUP >, or a consumer's history
				if g == nil {
					return nil
				}
				history := r.IntN(3) == 0
				count := int64(r.IntN(40))
				var got []StreamID
				_, err := tx.XReadGroup(key, &XReadGroupArgs{Group: gname, Consumer: cname, History: history, Count: count},
					func(sid StreamID, f [][]byte) error { got = append(got, sid); return nil })
				if err != nil {
					return err
				}
				var want []StreamID
				if history {
					for _, x := range m.sortedPending(g, string(cname)) {
						if count == 0 || int64(len(want)) < count {
							want = append(want, x)
						}
					}
				} else {
					for _, x := range m.sorted() {
						if g.last.Less(x) && (count == 0 || int64(len(want)) < count) {
							want = append(want, x)
						}
					}
					if len(want) > 0 {
						g.last = want[len(want)-1]
					}
					for _, x := range want {
						g.pending[x] = string(cname)
					}
				}
				if !slices.Equal(got, want) {
					return fmt.Errorf("step %d: XREADGROUP history=%v: %v, want %v", step, history, got, want)
				}
			case 8: // XACK
				if g == nil {
					return nil
				}
				var ids []StreamID
				for x := range g.pending {
					ids = append(ids, x)
					if len(ids) == 2 {
						break
					}
				}
				ids = append(ids, id(0, 0))
				n, err := tx.XAck(key, gname, ids)
				want := 0
				for _, x := range ids {
					if _, ok := g.pending[x]; ok {
						delete(g.pending, x)
						want++
					}
				}
				if err != nil || n != int64(want) {
					return fmt.Errorf("step %d: XACK: %d %v, want %d", step, n, err, want)
				}
			case 9: // XAUTOCLAIM everything to one consumer, dropping deleted entries
				if g == nil {
					return nil
				}
				var claimed []StreamID
				_, deleted, err := tx.XAutoClaim(key, gname, cname, 0, StreamID{}, 1000, r.IntN(2) == 0,
					func(sid StreamID, f [][]byte) error { claimed = append(claimed, sid); return nil })
				if err != nil {
					return err
				}
				for _, x := range deleted {
					if _, ok := m.entries[x]; ok {
						return fmt.Errorf("step %d: XAUTOCLAIM dropped %s, which exists", step, x)
					}
					delete(g.pending, x)
				}
				for _, x := range claimed {
					g.pending[x] = string(cname)
				}
				if len(claimed) != len(g.pending) {
					return fmt.Errorf("step %d: XAUTOCLAIM claimed %d of %d", step, len(claimed), len(g.pending))
				}
			}
			return nil
		})
		inTxn(t, e, 0, func(tx *Txn) error {
			if _, ok, _ := tx.StreamLastID(key); !ok {
				return nil
			}
			if step%20 == 0 || step == steps-1 {
				checkStreamInvariants(t, tx, key) // a walk of the whole stream
			}
			n, _ := tx.XLen(key)
			if n != int64(len(m.entries)) {
				return fmt.Errorf("step %d: XLEN %d, model %d", step, n, len(m.entries))
			}
			for name, g := range m.groups {
				sum, err := tx.XPendingSummary(key, []byte(name))
				if err != nil {
					return err
				}
				if sum.Count != uint64(len(g.pending)) {
					return fmt.Errorf("step %d: group %s has %d pending, model %d", step, name, sum.Count, len(g.pending))
				}
			}
			return nil
		})
	}
}

func (m *streamModel) sortedPending(g *groupModel, consumer string) []StreamID {
	var out []StreamID
	for x, c := range g.pending {
		if c == consumer {
			out = append(out, x)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Less(out[b]) })
	return out
}

// TestStreamLagAccounting: while a stream only grows and groups only read, entries-read is the
// number of entries up to the group's last-delivered ID and lag the number after it, exactly.
func TestStreamLagAccounting(t *testing.T) {
	e := openTestEngine(t)
	key := []byte("s")
	r := rand.New(rand.NewPCG(3, 4))
	var ids []StreamID
	read := map[string]int{} // entries each group has been delivered
	for step := 0; step < 600; step++ {
		inTxn(t, e, 0, func(tx *Txn) error {
			switch r.IntN(4) {
			case 0, 1:
				sid := id(uint64(step+1), 0)
				if _, _, err := tx.XAdd(key, &XAddArgs{ID: sid, IDGiven: true, SeqGiven: true}, fv("f", "v")); err != nil {
					return err
				}
				ids = append(ids, sid)
			case 2:
				g := "g" + strconv.Itoa(r.IntN(3))
				if _, ok := read[g]; !ok {
					read[g] = 0
					return tx.XGroupCreate(key, []byte(g), StreamID{}, false, true, 0)
				}
			case 3:
				g := "g" + strconv.Itoa(r.IntN(3))
				if _, ok := read[g]; !ok {
					return nil
				}
				count := int64(1 + r.IntN(5))
				n := 0
				_, err := tx.XReadGroup(key, &XReadGroupArgs{Group: []byte(g), Consumer: []byte("c"), Count: count, NoAck: true},
					func(StreamID, [][]byte) error { n++; return nil })
				read[g] += n
				return err
			}
			return nil
		})
		inTxn(t, e, 0, func(tx *Txn) error {
			if len(read) == 0 {
				return nil
			}
			groups, err := tx.XInfoGroups(key)
			if err != nil {
				return err
			}
			for _, g := range groups {
				want := read[string(g.Name)]
				if g.EntriesRead != int64(want) || !g.LagKnown || g.Lag != int64(len(ids)-want) {
					return fmt.Errorf("step %d group %s: entries-read %d lag %d (%v), want %d and %d",
						step, g.Name, g.EntriesRead, g.Lag, g.LagKnown, want, len(ids)-want)
				}
				if want > 0 && g.LastID != ids[want-1] {
					return fmt.Errorf("step %d group %s: last-delivered %s, want %s", step, g.Name, g.LastID, ids[want-1])
				}
			}
			return nil
		})
	}
}

// radixNodesBruteForce counts the nodes of a compressed radix tree of 16-byte keys by listing
// the prefixes that are nodes: the root, the keys, the branching prefixes and their children.
// (Checked against redis-server's radix-tree-nodes while this was written.)
func radixNodesBruteForce(keys [][]byte) uint64 {
	set := map[string]bool{"": true}
	sort.Slice(keys, func(a, b int) bool { return bytes.Compare(keys[a], keys[b]) < 0 })
	for i, k := range keys {
		set[string(k)] = true
		if i == 0 {
			continue
		}
		p := keys[i-1]
		d := 0
		for p[d] == k[d] {
			d++
		}
		set[string(k[:d])] = true
		set[string(p[:d+1])] = true
		set[string(k[:d+1])] = true
	}
	return uint64(len(set))
}

func TestStreamRadixNodes(t *testing.T) {
	e := openTestEngine(t)
	r := rand.New(rand.NewPCG(5, 6))
	big := bytes.Repeat([]byte("x"), 4000) // one entry per node
	for round := 0; round < 20; round++ {
		key := []byte("r" + strconv.Itoa(round))
		var live []StreamID
		last := id(uint64(r.IntN(3))<<uint(r.IntN(48)), 0)
		for i := 0; i < 1+r.IntN(60); i++ {
			if r.IntN(2) == 0 {
				last.Ms += []uint64{1, 255, 256, 1 << 20, 1 << 40}[r.IntN(5)]
			} else {
				last.Seq += []uint64{1, 255, 256, 1 << 33}[r.IntN(4)]
			}
			sid := last
			inTxn(t, e, 0, func(tx *Txn) error {
				_, _, err := tx.XAdd(key, &XAddArgs{ID: sid, IDGiven: true, SeqGiven: true}, [][]byte{[]byte("f"), big})
				return err
			})
			live = append(live, sid)
		}
		for len(live) > 0 {
			inTxn(t, e, 0, func(tx *Txn) error {
				info, err := tx.XInfoStream(key, false, 0)
				if err != nil {
					return err
				}
				var keys [][]byte
				for _, sid := range live {
					keys = append(keys, encoding.AppendStreamID(nil, sid))
				}
				if want := radixNodesBruteForce(keys); info.RadixNodes != want || info.RadixKeys != uint64(len(live)) {
					return fmt.Errorf("round %d: radix-tree-nodes %d keys %d, want %d and %d", round, info.RadixNodes, info.RadixKeys, want, len(live))
				}
				i := r.IntN(len(live))
				_, err = tx.XDel(key, []StreamID{live[i]})
				live = append(live[:i], live[i+1:]...)
				return err
			})
		}
	}
}

// TestStreamSweep: a deleted stream's entries, nodes, groups and pending lists all go.
func TestStreamSweep(t *testing.T) {
	e := openTestEngine(t)
	key := []byte("s")
	var prefix []byte
	inTxn(t, e, 0, func(tx *Txn) error {
		for i := 1; i <= 1000; i++ {
			if _, _, err := tx.XAdd(key, &XAddArgs{ID: id(uint64(i), 0), IDGiven: true, SeqGiven: true}, fv("f", "v")); err != nil {
				return err
			}
		}
		if err := tx.XGroupCreate(key, []byte("g"), StreamID{}, false, false, EntriesReadUnknown); err != nil {
			return err
		}
		_, err := tx.XReadGroup(key, &XReadGroupArgs{Group: []byte("g"), Consumer: []byte("c"), Count: 600},
			func(StreamID, [][]byte) error { return nil })
		s, _ := tx.streamFor(key, false)
		prefix = s.prefix
		return err
	})
	inTxn(t, e, 0, func(tx *Txn) error { _, err := tx.Delete(key); return err })
	if err := e.sweep(); err != nil {
		t.Fatal(err)
	}
	it, err := e.pdb.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	for ok := it.SeekGE(prefix); ok && bytes.HasPrefix(it.Key(), prefix); ok = it.Next() {
		t.Fatalf("subkey %x survived the sweep", it.Key())
	}
}

// TestStreamTrimInOneTxn: the range deletions of a trim are seen by reads in the same command
// (XADD with MAXLEN ~ then recomputing the first entry).
func TestStreamTrimInOneTxn(t *testing.T) {
	e := openTestEngine(t)
	key := []byte("s")
	inTxn(t, e, 0, func(tx *Txn) error {
		for i := 1; i <= 450; i++ {
			a := &XAddArgs{ID: id(uint64(i), 0), IDGiven: true, SeqGiven: true,
				Trim: XTrimArgs{Strategy: TrimMaxLen, Approx: true, MaxLen: 120, Limit: StreamApproxLimit}}
			if _, _, err := tx.XAdd(key, a, fv("f", "v")); err != nil {
				return err
			}
		}
		info, err := tx.XInfoStream(key, false, 0)
		if err != nil {
			return err
		}
		// Nodes of 100 go once 120 entries remain without them: 400 entries gone, 50 left.
		if info.Length != 150 || info.FirstID != id(301, 0) || info.First.ID != id(301, 0) || info.RadixKeys != 2 {
			return fmt.Errorf("after trimming: length %d first %s/%s nodes %d", info.Length, info.FirstID, info.First.ID, info.RadixKeys)
		}
		checkStreamInvariants(t, tx, key)
		return nil
	})
}
