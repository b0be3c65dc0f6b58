package engine

import (
	"bytes"
	"math/bits"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/stratadb/strata/encoding"
)

// TestStringsWrongType runs every string and bitmap operation on a key holding a list (the
// metadata is written directly: no list commands are needed).
func TestStringsWrongType(t *testing.T) {
	e := openTestEngine(t)
	key, str := []byte("list"), []byte("str")
	inTxn(t, e, 0, func(tx *Txn) error {
		ks, err := tx.lookup(key)
		if err != nil {
			t.Fatal(err)
		}
		m := tx.newMeta(encoding.TypeList)
		m.Count = 1
		m.Rest = encoding.AppendListFields(nil, encoding.ListFields{Head: encoding.ListStart, Tail: encoding.ListStart + 1})
		tx.putMeta(key, &ks, &m)
		if _, err := tx.Set(str, []byte("v"), SetArgs{}); err != nil {
			t.Fatal(err)
		}
		return nil
	})
	inTxn(t, e, 0, func(tx *Txn) error {
		check := func(name string, err error, want error) {
			t.Helper()
			if err != want {
				t.Errorf("%s: got %v, want %v", name, err, want)
			}
		}
		_, _, err := tx.Get(key)
		check("Get", err, ErrWrongType)
		_, err = tx.Set(key, []byte("v"), SetArgs{Get: true})
		check("Set GET", err, ErrWrongType)
		_, _, err = tx.GetDel(key)
		check("GetDel", err, ErrWrongType)
		_, _, err = tx.GetEx(key, GetExArgs{Persist: true})
		check("GetEx", err, ErrWrongType)
		_, err = tx.StrLen(key)
		check("StrLen", err, ErrWrongType)
		_, err = tx.Append(key, []byte("x"), 1<<29)
		check("Append", err, ErrWrongType)
		_, err = tx.GetRange(key, 0, -1)
		check("GetRange", err, ErrWrongType)
		_, err = tx.SetRange(key, 0, []byte("x"), 1<<29)
		check("SetRange", err, ErrWrongType)
		_, err = tx.SetRange(key, 0, nil, 1<<29)
		check("SetRange empty", err, ErrWrongType)
		_, err = tx.IncrBy(key, 1)
		check("IncrBy", err, ErrWrongType)
		_, err = tx.IncrByFloat(key, []byte("1"))
		check("IncrByFloat", err, ErrWrongType)
		_, _, err = tx.LCSInputs(key, str)
		check("LCS first", err, ErrLCSStrings)
		_, _, err = tx.LCSInputs(str, key)
		check("LCS second", err, ErrLCSStrings)
		_, err = tx.SetBit(key, 1, true)
		check("SetBit", err, ErrWrongType)
		_, err = tx.GetBit(key, 1)
		check("GetBit", err, ErrWrongType)
		_, err = tx.BitCount(key, BitCountArgs{Err: ErrSyntax})
		check("BitCount", err, ErrWrongType)
		_, err = tx.BitPos(key, BitPosArgs{Bit: 1, Err: ErrSyntax})
		check("BitPos", err, ErrWrongType)
		_, err = tx.BitOp(BitOr, []byte("dest"), [][]byte{str, key})
		check("BitOp source", err, ErrWrongType)
		_, err = tx.Bitfield(key, []BitfieldOp{{Kind: BitfieldGet, Bits: 8}}, nil)
		check("Bitfield GET", err, ErrWrongType)
		_, err = tx.Bitfield(key, []BitfieldOp{{Kind: BitfieldSet, Bits: 8, Value: 1}}, nil)
		check("Bitfield SET", err, ErrWrongType)
		// MGET answers nil for another type; MSET, SET and BITOP replace it.
		if v, ok, err := tx.GetString(key); v != nil || ok || err != nil {
			t.Errorf("GetString: %q %v %v", v, ok, err)
		}
		if typ, _ := tx.TypeOf(key); typ != encoding.TypeList {
			t.Fatalf("the list changed: %v", typ)
		}
		if n, err := tx.BitOp(BitOr, key, [][]byte{str}); n != 1 || err != nil {
			t.Errorf("BitOp over a list: %d %v", n, err)
		}
		if typ, _ := tx.TypeOf(key); typ != encoding.TypeString {
			t.Errorf("BitOp left type %v", typ)
		}
		return nil
	})
}

// TestStringEditModel applies random partial writes and reads to one value and compares it
// with a plain byte slice after every step. Offsets gather around chunk boundaries and the
// inline limit, so the value keeps crossing from inline to chunked (SET makes it short again);
// several operations share a Txn so that reads must see the Txn's own writes.
func TestStringEditModel(t *testing.T) {
	e := openTestEngine(t)
	r := rand.New(rand.NewPCG(3, 4))
	key := []byte("k")
	var model []byte
	exists := false
	offset := func() int64 {
		bases := []int64{0, 100, 4096, 8192, 12288, 16384, 20480, 40000}
		return max(0, bases[r.IntN(len(bases))]+int64(r.IntN(64))-32)
	}
	data := func() []byte {
		n := 1 + r.IntN(20)
		if r.IntN(10) == 0 {
			n = 1 + r.IntN(9000)
		}
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(1 + r.IntN(255))
		}
		return b
	}
	grow := func(n int64) {
		if int64(len(model)) < n {
			model = append(model, make([]byte, n-int64(len(model)))...)
		}
	}
	for step := 0; step < 1500; step++ {
		inTxn(t, e, 0, func(tx *Txn) error {
			for n := 1 + r.IntN(3); n > 0; n-- {
				switch op := r.IntN(10); op {
				case 0:
					v := data()
					v = v[:min(len(v), r.IntN(6))]
					if r.IntN(4) == 0 {
						v = bytes.Repeat([]byte{7}, encoding.InlineMax+r.IntN(3)-1)
					}
					if _, err := tx.Set(key, v, SetArgs{}); err != nil {
						t.Fatal(err)
					}
					model, exists = append([]byte(nil), v...), true
				case 1, 2:
					off, v := offset(), data()
					got, err := tx.SetRange(key, off, v, 1<<29)
					grow(off + int64(len(v)))
					copy(model[off:], v)
					exists = true
					if err != nil || got != int64(len(model)) {
						t.Fatalf("step %d SetRange(%d, %d bytes) = %d, %v; want %d", step, off, len(v), got, err, len(model))
					}
				case 3:
					v := data()
					got, err := tx.Append(key, v, 1<<29)
					model = append(model, v...)
					exists = true
					if err != nil || got != int64(len(model)) {
						t.Fatalf("step %d Append = %d, %v; want %d", step, got, err, len(model))
					}
				case 4:
					bit := uint64(offset())*8 + uint64(r.IntN(8))
					on := r.IntN(2) == 1
					old, err := tx.SetBit(key, bit, on)
					grow(int64(bit/8) + 1)
					want := int(model[bit/8]>>(7-bit%8)) & 1
					if on {
						model[bit/8] |= 1 << (7 - bit%8)
					} else {
						model[bit/8] &^= 1 << (7 - bit%8)
					}
					exists = true
					if err != nil || old != want {
						t.Fatalf("step %d SetBit(%d) = %d, %v; want %d", step, bit, old, err, want)
					}
				case 5:
					// An unsigned 16-bit field at a bit offset that may straddle chunks.
					bit := uint64(offset())*8 + uint64(r.IntN(8))
					val := r.Int64N(1 << 16)
					res, err := tx.Bitfield(key, []BitfieldOp{{Kind: BitfieldSet, Bits: 16, Offset: bit, Value: val}}, nil)
					grow(int64((bit+15)/8) + 1)
					var want uint64
					for i := uint64(0); i < 16; i++ {
						p := bit + i
						want = want<<1 | uint64(model[p/8]>>(7-p%8)&1)
						b := byte(val>>(15-i)) & 1
						model[p/8] = model[p/8]&^(1<<(7-p%8)) | b<<(7-p%8)
					}
					exists = true
					if err != nil || len(res) != 1 || res[0].Value != int64(want) {
						t.Fatalf("step %d Bitfield SET u16 %d = %v, %v; want old %d", step, bit, res, err, want)
					}
				case 6:
					start, end := offset(), offset()
					got, err := tx.GetRange(key, start, end)
					var want []byte
					if start <= end && start < int64(len(model)) {
						want = model[start:min(end+1, int64(len(model)))]
					}
					if err != nil || !bytes.Equal(got, want) {
						t.Fatalf("step %d GetRange(%d, %d): %v, differs from model", step, start, end, err)
					}
				case 7:
					start, end := offset(), offset()
					got, err := tx.BitCount(key, BitCountArgs{Range: true, Start: start, End: end})
					var want int64
					for i := start; i <= end && i < int64(len(model)); i++ {
						want += int64(bits.OnesCount8(model[i]))
					}
					if err != nil || got != want {
						t.Fatalf("step %d BitCount(%d, %d) = %d, %v; want %d", step, start, end, got, err, want)
					}
				case 8:
					start := offset()
					got, err := tx.BitPos(key, BitPosArgs{Bit: 1, HasStart: true, Start: start})
					want := int64(-1)
					for i := start; i < int64(len(model)); i++ {
						if model[i] != 0 {
							want = i*8 + int64(bits.LeadingZeros8(model[i]))
							break
						}
					}
					if err != nil || got != want {
						t.Fatalf("step %d BitPos(1, %d) = %d, %v; want %d", step, start, got, err, want)
					}
				default:
					bit := uint64(offset())*8 + uint64(r.IntN(8))
					got, err := tx.GetBit(key, bit)
					want := 0
					if bit/8 < uint64(len(model)) {
						want = int(model[bit/8]>>(7-bit%8)) & 1
					}
					if err != nil || got != want {
						t.Fatalf("step %d GetBit(%d) = %d, %v; want %d", step, bit, got, err, want)
					}
				}
			}
			v, ok, err := tx.Get(key)
			if err != nil || ok != exists || !bytes.Equal(v, model) {
				t.Fatalf("step %d: value differs from the model (len %d, want %d)", step, len(v), len(model))
			}
			return nil
		})
		checkStringLayout(t, e, key, int64(len(model)))
	}
}

// checkStringLayout checks how a string is stored: inline up to InlineMax, else in chunks no
// longer than ChunkSize that lie inside its length.
func checkStringLayout(t *testing.T, e *Engine, key []byte, size int64) {
	t.Helper()
	tx := e.NewTxn()
	tx.Begin(0, LockRead)
	tx.AddKey(key)
	if err := tx.Lock(); err != nil {
		t.Fatal(err)
	}
	defer tx.Abort()
	ks, err := tx.lookup(key)
	if err != nil || !ks.live {
		t.Fatalf("lookup: %v %v", ks.live, err)
	}
	m := ks.meta
	if int64(m.Count) != size {
		t.Fatalf("stored length %d, want %d", m.Count, size)
	}
	if m.Flags&encoding.FlagChunked == 0 {
		if size > encoding.InlineMax || int64(len(m.Rest)) != size {
			t.Fatalf("inline value of %d bytes for length %d", len(m.Rest), size)
		}
		return
	}
	if size <= encoding.InlineMax && len(m.Rest) != 0 {
		t.Fatalf("chunked value with inline bytes")
	}
	prefix := encoding.AppendSubPrefix(nil, tx.db, key, m.Version)
	it, err := tx.iter(prefix, encoding.PrefixEnd(nil, prefix))
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		idx := int64(beUint64(it.Key()[len(prefix):]))
		end := idx*encoding.ChunkSize + int64(len(it.Value()))
		if len(it.Value()) > encoding.ChunkSize || end > size {
			t.Fatalf("chunk %d holds %d bytes, past the length %d", idx, len(it.Value()), size)
		}
	}
}

// TestPartialWritesTouchOnlyTheirChunks looks into the Txn's batch after each partial write
// to a 100-chunk value: only the chunks the range covers, and the metadata, are written.
func TestPartialWritesTouchOnlyTheirChunks(t *testing.T) {
	e := openTestEngine(t)
	key := []byte("big")
	const size = 100 * encoding.ChunkSize
	inTxn(t, e, 0, func(tx *Txn) error {
		ks, _ := tx.lookup(key)
		tx.writeString(key, &ks, bytes.Repeat([]byte{0x5a}, size), 0)
		return nil
	})
	cases := []struct {
		name   string
		op     func(tx *Txn) error
		chunks []uint64 // the chunk indexes written
	}{
		{"SETBIT", func(tx *Txn) error { _, err := tx.SetBit(key, 50*encoding.ChunkSize*8+2, true); return err }, []uint64{50}},
		// 0x5a has bit 3 set already: no change, nothing written (as Redis 7.0, no WATCH touch).
		{"SETBIT unchanged", func(tx *Txn) error { _, err := tx.SetBit(key, 50*encoding.ChunkSize*8+3, true); return err }, nil},
		{"SETRANGE inside", func(tx *Txn) error {
			_, err := tx.SetRange(key, 20*encoding.ChunkSize+10, []byte("abc"), 1<<29)
			return err
		}, []uint64{20}},
		{"SETRANGE across", func(tx *Txn) error {
			_, err := tx.SetRange(key, 11*encoding.ChunkSize-2, []byte("abcd"), 1<<29)
			return err
		}, []uint64{10, 11}},
		{"APPEND", func(tx *Txn) error { _, err := tx.Append(key, []byte("tail"), 1<<29); return err }, []uint64{100}},
		{"BITFIELD across", func(tx *Txn) error {
			_, err := tx.Bitfield(key, []BitfieldOp{{Kind: BitfieldIncrBy, Bits: 16, Offset: 30*encoding.ChunkSize*8 - 4, Value: 1}}, nil)
			return err
		}, []uint64{29, 30}},
		{"SETRANGE far", func(tx *Txn) error {
			_, err := tx.SetRange(key, 1000*encoding.ChunkSize, []byte("x"), 1<<29)
			return err
		}, []uint64{1000}},
		{"GETRANGE", func(tx *Txn) error { _, err := tx.GetRange(key, 5, 100000); return err }, nil},
		{"BITCOUNT", func(tx *Txn) error {
			_, err := tx.BitCount(key, BitCountArgs{Range: true, Start: 4000, End: 9000})
			return err
		}, nil},
	}
	for _, c := range cases {
		tx := e.NewTxn()
		tx.Begin(0, LockWrite)
		tx.AddKey(key)
		if err := tx.Lock(); err != nil {
			t.Fatal(err)
		}
		if err := c.op(tx); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var written []uint64
		metaWrites := 0
		if tx.batch != nil {
			metaKey := encoding.AppendMetaKey(nil, tx.db, key)
			r := tx.batch.Reader()
			for {
				kind, k, v, ok, err := r.Next()
				if err != nil {
					t.Fatal(err)
				}
				if !ok {
					break
				}
				if kind != pebble.InternalKeyKindSet {
					t.Fatalf("%s: unexpected %v record", c.name, kind)
				}
				switch {
				case bytes.Equal(k, metaKey):
					metaWrites++
				case k[0] == encoding.TagSub:
					if len(v) > encoding.ChunkSize {
						t.Fatalf("%s: a chunk of %d bytes", c.name, len(v))
					}
					written = append(written, beUint64(k[len(k)-8:]))
				default:
					t.Fatalf("%s: unexpected key %q", c.name, k)
				}
			}
		}
		if len(written) != len(c.chunks) || (len(c.chunks) > 0 && metaWrites != 1) {
			t.Errorf("%s: wrote chunks %v and metadata %d times; want chunks %v and the metadata once", c.name, written, metaWrites, c.chunks)
		}
		for i := range written {
			if i < len(c.chunks) && written[i] != c.chunks[i] {
				t.Errorf("%s: wrote chunks %v, want %v", c.name, written, c.chunks)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLCSExamples(t *testing.T) {
	r, err := LCS([]byte("ohmytext"), []byte("mynewtext"), 1<<29, true, true, 0)
	if err != nil || string(r.Seq) != "mytext" || r.Len != 6 {
		t.Fatalf("LCS: %+v %v", r, err)
	}
	want := []LCSMatch{{4, 7, 5, 8}, {2, 3, 0, 1}}
	if len(r.Matches) != 2 || r.Matches[0] != want[0] || r.Matches[1] != want[1] {
		t.Fatalf("matches %+v, want %+v", r.Matches, want)
	}
	if _, err := LCS(make([]byte, 600), make([]byte, 600), 1<<20, true, false, 0); err != ErrLCSTableSize {
		t.Fatalf("table limit: %v", err)
	}
	// Both table widths give the same answer.
	a, b := bytes.Repeat([]byte("ab"), 40000), bytes.Repeat([]byte("ba"), 3)
	r, err = LCS(a, b, 1<<40, true, true, 0)
	if err != nil || string(r.Seq) != "bababa" {
		t.Fatalf("wide LCS: %q %v", r.Seq, err)
	}
	n := newLCSTable[uint32](b, a)
	if int64(n.at(len(b), len(a))) != r.Len {
		t.Fatalf("uint32 table disagrees")
	}
}

func TestLongDouble(t *testing.T) {
	for _, c := range []struct{ a, b, want string }{
		{"10.5", "0.1", "10.6"},
		{"0", "0.000003814697265625", "0.00000381469726562"},
		{"-0", "0", "0"},
		{"0", "-1e-30", "0"},
	} {
		a, ok1 := ParseLongDouble([]byte(c.a))
		b, ok2 := ParseLongDouble([]byte(c.b))
		if !ok1 || !ok2 {
			t.Fatalf("parse %q %q", c.a, c.b)
		}
		s, ok := AddLongDouble(a, b)
		if !ok {
			t.Fatalf("%s + %s overflowed", c.a, c.b)
		}
		if got := string(AppendLongDoubleHuman(nil, s)); got != c.want {
			t.Errorf("%s + %s = %s, want %s", c.a, c.b, got, c.want)
		}
	}
	for _, bad := range []string{"", " 1", "1 ", "nan", "1e5000", "1e-5000", "0x", "1\x001", "0x1p-16446", "1.2e4932"} {
		if _, ok := ParseLongDouble([]byte(bad)); ok {
			t.Errorf("%q parsed", bad)
		}
	}
	for _, good := range []string{"inf", "-Infinity", "0x1p-16445", "1.18973149535723176e4932", "0e999999999999"} {
		if _, ok := ParseLongDouble([]byte(good)); !ok {
			t.Errorf("%q did not parse", good)
		}
	}
	maxLD, _ := ParseLongDouble([]byte("0x1.fffffffffffffffep16383"))
	if _, ok := AddLongDouble(maxLD, maxLD); ok {
		t.Errorf("max + max did not overflow")
	}
}

// FuzzLongDouble checks that parsing any input neither panics nor accepts what it cannot
// print back: a parsed finite value formats to a string that parses again.
func FuzzLongDouble(f *testing.F) {
	for _, s := range []string{"10.5", "-0", "0x1p-16445", "1e4932", "1.2e-4950", "inf", ".5e+3", "0X.8P1", "1e99999999999"} {
		f.Add([]byte(s), []byte("0.1"))
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		x, ok := ParseLongDouble(a)
		if !ok {
			return
		}
		y, ok := ParseLongDouble(b)
		if !ok {
			return
		}
		sum, ok := AddLongDouble(x, y)
		if !ok {
			return
		}
		out := AppendLongDoubleHuman(nil, sum)
		if _, ok := ParseLongDouble(out); !ok {
			t.Fatalf("%q + %q printed %q, which does not parse", a, b, out)
		}
	})
}
