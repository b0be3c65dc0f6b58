package engine

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stratadb/strata/encoding"
)

// listTxn runs fn in a write Txn on db 0 holding keys (taking key locks, as commands do),
// and commits.
func listTxn(t *testing.T, e *Engine, fn func(tx *Txn) error, keys ...string) {
	t.Helper()
	tx := e.NewTxn()
	tx.Begin(0, LockWrite)
	for _, k := range keys {
		tx.AddKey([]byte(k))
	}
	if err := tx.Lock(); err != nil {
		t.Fatal(err)
	}
	if err := fn(tx); err != nil {
		tx.Abort()
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// listModel is the reference: a plain slice.
type listModel []string

func (m listModel) pos(i int64) (int64, bool) {
	n := int64(len(m))
	if i < 0 {
		i += n
	}
	return i, i >= 0 && i < n
}

// checkList compares the stored list with the model, and checks the bookkeeping: the count
// and bounds agree, and no element lives outside [Head, Tail) under the current version.
func checkList(t *testing.T, e *Engine, key string, want listModel, step string) {
	t.Helper()
	listTxn(t, e, func(tx *Txn) error {
		got, err := tx.ListRange([]byte(key), 0, -1)
		if err != nil {
			return err
		}
		if len(got) != len(want) {
			t.Fatalf("%s: got %d elements %q, want %d %q", step, len(got), got, len(want), want)
		}
		for i := range got {
			if string(got[i]) != want[i] {
				t.Fatalf("%s: element %d is %q, want %q (list %q, want %q)", step, i, got[i], want[i], got, want)
			}
		}
		n, err := tx.ListLen([]byte(key))
		if err != nil || n != int64(len(want)) {
			t.Fatalf("%s: LLEN %d, %v; want %d", step, n, err, len(want))
		}
		typ, _ := tx.TypeOf([]byte(key))
		if len(want) == 0 {
			if typ != encoding.TypeNone {
				t.Fatalf("%s: an empty list must not exist, TYPE is %v", step, typ)
			}
			return nil
		}
		h, err := tx.openList([]byte(key))
		if err != nil {
			return err
		}
		prefix := encoding.AppendSubPrefix(nil, tx.db, []byte(key), h.ver)
		it, err := tx.iter(prefix, encoding.PrefixEnd(nil, prefix))
		if err != nil {
			return err
		}
		count := 0
		for ok := it.First(); ok; ok = it.Next() {
			i := beUint64(it.Key()[len(prefix):])
			if i < h.f.Head || i >= h.f.Tail {
				t.Errorf("%s: stray element at index %d outside [%d, %d)", step, i, h.f.Head, h.f.Tail)
			}
			count++
		}
		it.Close()
		if count != len(want) {
			t.Fatalf("%s: %d subkeys stored for %d elements", step, count, len(want))
		}
		return nil
	}, key)
}

func TestListAgainstModel(t *testing.T) {
	e := openTestEngine(t)
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, seed*7919))
			key := fmt.Sprintf("list%d", seed)
			var m listModel
			val := func() string { return fmt.Sprintf("v%d", r.IntN(6)) }
			for step := 0; step < 400; step++ {
				var desc string
				listTxn(t, e, func(tx *Txn) error {
					k := []byte(key)
					switch op := r.IntN(11); op {
					case 0, 1: // push several at either end
						left := r.IntN(2) == 0
						n := 1 + r.IntN(4)
						var vals [][]byte
						for range n {
							v := val()
							vals = append(vals, []byte(v))
							if left {
								m = append(listModel{v}, m...)
							} else {
								m = append(m, v)
							}
						}
						desc = fmt.Sprintf("push left=%v %q", left, vals)
						got, err := tx.ListPush(k, vals, left, false)
						if err == nil && got != int64(len(m)) {
							t.Fatalf("%s: length %d, want %d", desc, got, len(m))
						}
						return err
					case 2: // pop with a count at either end
						left := r.IntN(2) == 0
						n := int64(1 + r.IntN(3))
						desc = fmt.Sprintf("pop left=%v %d", left, n)
						got, found, err := tx.ListPop(k, left, n)
						if err != nil {
							return err
						}
						if found != (len(m) > 0) {
							t.Fatalf("%s: found %v with model %q", desc, found, m)
						}
						c := min(int(n), len(m))
						var want []string
						if left {
							want = slices.Clone(m[:c])
							m = m[c:]
						} else {
							for i := 0; i < c; i++ {
								want = append(want, m[len(m)-1-i])
							}
							m = m[:len(m)-c]
						}
						if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", toBytes(want)) {
							t.Fatalf("%s: popped %q, want %q", desc, got, want)
						}
					case 3: // LINSERT around a random pivot
						pivot, v := val(), "ins"+val()
						before := r.IntN(2) == 0
						desc = fmt.Sprintf("linsert before=%v %s %s", before, pivot, v)
						got, err := tx.ListInsert(k, before, []byte(pivot), []byte(v))
						if err != nil {
							return err
						}
						want := int64(0)
						if len(m) > 0 {
							want = -1
							if i := slices.Index(m, pivot); i >= 0 {
								if !before {
									i++
								}
								m = slices.Insert(m, i, v)
								want = int64(len(m))
							}
						}
						if got != want {
							t.Fatalf("%s: got %d want %d", desc, got, want)
						}
					case 4, 5: // LREM from either end or all
						v := val()
						count := int64(r.IntN(5) - 2)
						desc = fmt.Sprintf("lrem %d %s", count, v)
						got, err := tx.ListRem(k, count, []byte(v))
						if err != nil {
							return err
						}
						want := modelRem(&m, count, v)
						if got != want {
							t.Fatalf("%s: removed %d want %d", desc, got, want)
						}
					case 6: // LTRIM
						start, stop := int64(r.IntN(8)-3), int64(r.IntN(10)-4)
						desc = fmt.Sprintf("ltrim %d %d", start, stop)
						if err := tx.ListTrim(k, start, stop); err != nil {
							return err
						}
						if from, to, ok := clipRange(start, stop, int64(len(m))); ok {
							m = slices.Clone(m[from : to+1])
						} else {
							m = nil
						}
					case 7: // LSET
						i := int64(r.IntN(8) - 4)
						v := "set" + val()
						desc = fmt.Sprintf("lset %d %s", i, v)
						err := tx.ListSet(k, i, []byte(v))
						p, ok := m.pos(i)
						switch {
						case len(m) == 0:
							if err != ErrNoSuchKey {
								t.Fatalf("%s: %v, want no such key", desc, err)
							}
						case !ok:
							if err != ErrIndexRange {
								t.Fatalf("%s: %v, want index out of range", desc, err)
							}
						default:
							if err != nil {
								return err
							}
							m[p] = v
						}
					case 8: // LMOVE onto itself (rotation)
						srcLeft, dstLeft := r.IntN(2) == 0, r.IntN(2) == 0
						desc = fmt.Sprintf("lmove self %v %v", srcLeft, dstLeft)
						v, found, err := tx.ListMove(k, k, srcLeft, dstLeft)
						if err != nil {
							return err
						}
						if found != (len(m) > 0) {
							t.Fatalf("%s: found %v", desc, found)
						}
						if found {
							var e string
							if srcLeft {
								e, m = m[0], m[1:]
							} else {
								e, m = m[len(m)-1], m[:len(m)-1]
							}
							if dstLeft {
								m = append(listModel{e}, m...)
							} else {
								m = append(m, e)
							}
							if string(v) != e {
								t.Fatalf("%s: moved %q want %q", desc, v, e)
							}
						}
					case 9: // LINDEX
						i := int64(r.IntN(10) - 5)
						desc = fmt.Sprintf("lindex %d", i)
						v, ok, err := tx.ListIndex(k, i)
						if err != nil {
							return err
						}
						p, in := m.pos(i)
						if ok != in || (ok && string(v) != m[p]) {
							t.Fatalf("%s: %q %v, model %q", desc, v, ok, m)
						}
					case 10: // LPOS
						v := val()
						a := ListPosArgs{Rank: int64(r.IntN(5) - 2), Count: int64(r.IntN(3)), MaxLen: int64(r.IntN(6))}
						if a.Rank == 0 {
							a.Rank = 1
						}
						desc = fmt.Sprintf("lpos %s %+v", v, a)
						got, err := tx.ListPos(k, []byte(v), a)
						if err != nil {
							return err
						}
						if want := modelPos(m, v, a); !slices.Equal(got, want) {
							t.Fatalf("%s: %v want %v (list %q)", desc, got, want, m)
						}
					}
					return nil
				}, key)
				checkList(t, e, key, m, fmt.Sprintf("step %d (%s)", step, desc))
			}
		})
	}
}

func toBytes(ss []string) [][]byte {
	out := make([][]byte, 0, len(ss))
	for _, s := range ss {
		out = append(out, []byte(s))
	}
	return out
}

func modelRem(m *listModel, count int64, v string) int64 {
	l := *m
	var removed int64
	var out listModel
	if count >= 0 {
		for _, e := range l {
			if e == v && (count == 0 || removed < count) {
				removed++
				continue
			}
			out = append(out, e)
		}
	} else {
		for i := len(l) - 1; i >= 0; i-- {
			if l[i] == v && removed < -count {
				removed++
				continue
			}
			out = append(listModel{l[i]}, out...)
		}
	}
	*m = out
	return removed
}

func modelPos(m listModel, v string, a ListPosArgs) []int64 {
	var out []int64
	rank := a.Rank
	idx := make([]int, len(m))
	for i := range m {
		idx[i] = i
	}
	if rank < 0 {
		rank = -rank
		slices.Reverse(idx)
	}
	matches := int64(0)
	for n, i := range idx {
		if a.MaxLen != 0 && int64(n) >= a.MaxLen {
			break
		}
		if m[i] != v {
			continue
		}
		matches++
		if matches >= rank {
			out = append(out, int64(i))
			if a.Count != 0 && int64(len(out)) >= a.Count {
				break
			}
		}
	}
	return out
}

// TestListBigShifts checks LINSERT and LREM on lists long enough that the shorter side and
// range deletions matter, and that a long LTRIM and a pop of many elements keep the bounds.
func TestListBigShifts(t *testing.T) {
	e := openTestEngine(t)
	k := []byte("big")
	var m listModel
	listTxn(t, e, func(tx *Txn) error {
		var vals [][]byte
		for i := 0; i < 3000; i++ {
			v := fmt.Sprintf("e%d", i%10)
			vals = append(vals, []byte(v))
			m = append(m, v)
		}
		_, err := tx.ListPush(k, vals, false, false)
		return err
	}, "big")
	steps := []func(tx *Txn) error{
		func(tx *Txn) error { // near the tail: the tail side moves
			_, err := tx.ListInsert(k, false, []byte("e7"), []byte("x"))
			m = slices.Insert(m, 8, "x")
			return err
		},
		func(tx *Txn) error {
			_, err := tx.ListRem(k, -2, []byte("e3"))
			modelRem(&m, -2, "e3")
			return err
		},
		func(tx *Txn) error {
			_, err := tx.ListRem(k, 0, []byte("e5"))
			modelRem(&m, 0, "e5")
			return err
		},
		func(tx *Txn) error {
			err := tx.ListTrim(k, 700, -700)
			m = slices.Clone(m[700 : len(m)-699])
			return err
		},
		func(tx *Txn) error {
			_, _, err := tx.ListPop(k, true, 600)
			m = m[600:]
			return err
		},
	}
	for i, s := range steps {
		listTxn(t, e, s, "big")
		checkList(t, e, "big", m, fmt.Sprintf("step %d", i))
	}
}

// TestListExpiredReplaced checks that a push onto an expired key of another type makes a fresh
// list (the old value is not visible and its TTL is gone).
func TestListExpiredReplaced(t *testing.T) {
	e := openTestEngine(t)
	k := []byte("k")
	listTxn(t, e, func(tx *Txn) error {
		_, err := tx.Set(k, bytes.Repeat([]byte("x"), 20000), SetArgs{ExpireAt: tx.Now() - 1})
		return err
	}, "k")
	listTxn(t, e, func(tx *Txn) error {
		n, err := tx.ListPush(k, [][]byte{[]byte("a")}, true, false)
		if n != 1 {
			t.Fatalf("push onto an expired key: length %d", n)
		}
		return err
	}, "k")
	checkList(t, e, "k", listModel{"a"}, "after push")
	listTxn(t, e, func(tx *Txn) error {
		ks, err := tx.lookup(k)
		if ks.meta.ExpireAt != 0 {
			t.Fatal("the new list kept the old TTL")
		}
		return err
	}, "k")
}

func TestListEach(t *testing.T) {
	e := openTestEngine(t)
	listTxn(t, e, func(tx *Txn) error {
		if _, err := tx.ListPush([]byte("k"), toBytes([]string{"a", "b", "c"}), false, false); err != nil {
			return err
		}
		var got []string
		err := tx.ListEach([]byte("k"), func(v []byte) bool {
			got = append(got, string(v))
			return len(got) < 2
		})
		if fmt.Sprint(got) != "[a b]" {
			t.Fatalf("ListEach stopped with %q", got)
		}
		return err
	}, "k")
}

func BenchmarkListPushPop(b *testing.B) {
	e, err := Open(Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	tx := e.NewTxn()
	k := []byte("bench")
	v := [][]byte{[]byte("value")}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		tx.Begin(0, LockWrite)
		tx.AddKey(k)
		if err := tx.Lock(); err != nil {
			b.Fatal(err)
		}
		if i%2 == 0 {
			_, err = tx.ListPush(k, v, true, false)
		} else {
			_, _, err = tx.ListPop(k, false, 1)
		}
		if err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
}
