package engine

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

// HyperLogLog values are plain strings holding Redis's own representation, byte for byte, so
// that GET, DUMP, replication and RDB files carry them to and from Redis unchanged:
//
//	+------+----------+---------+--------------------------+----------------------------
//	| HYLL | encoding | 3 bytes | cardinality cache (8 LE) | registers
//	|      | 0 dense  | unused  | top bit set = stale      | dense: 16384 × 6 bits
//	|      | 1 sparse |         |                          | sparse: run-length opcodes
//	+------+----------+---------+--------------------------+----------------------------
//
// Sparse opcodes: ZERO 00xxxxxx (1..64 zero registers), XZERO 01xxxxxx yyyyyyyy (1..16384 zero
// registers), VAL 1vvvvvxx (1..4 registers of value 1..32). A sparse value grows opcode by
// opcode and becomes dense when a register exceeds 32 or the string would pass
// hll-sparse-max-bytes (3000). An element's register and value come from Redis's
// MurmurHash64A: the low 14 bits pick the register, the run of zeros above them plus one is
// the value. The count is Ertl's improved estimator, as in Redis 7.
//
// The algorithms below follow Redis's, including the order in which a sparse value is split
// and its neighbouring opcodes merged, since that order decides the bytes.

const (
	hllP              = 14
	hllQ              = 64 - hllP
	hllRegisters      = 1 << hllP
	hllPMask          = hllRegisters - 1
	hllBits           = 6
	hllRegisterMax    = 1<<hllBits - 1
	hllHdrSize        = 16
	hllDenseSize      = hllHdrSize + (hllRegisters*hllBits+7)/8
	hllEncDense       = 0
	hllEncSparse      = 1
	hllSparseMaxBytes = 3000 // Redis's default hll-sparse-max-bytes
	hllHashSeed       = 0xadc83b19
	hllAlphaInf       = 0.721347520444481703680 // 0.5/ln(2)

	hllSparseValMaxValue = 32
	hllSparseValMaxLen   = 4
	hllSparseZeroMaxLen  = 64
	hllSparseXZeroMaxLen = 16384
)

func hllIsZero(b byte) bool  { return b&0xc0 == 0 }
func hllIsXZero(b byte) bool { return b&0xc0 == 0x40 }
func hllIsVal(b byte) bool   { return b&0x80 != 0 }
func hllZeroLen(b byte) int  { return int(b&0x3f) + 1 }
func hllXZeroLen(b0, b1 byte) int {
	return (int(b0&0x3f)<<8 | int(b1)) + 1
}
func hllValValue(b byte) int        { return int(b>>2&0x1f) + 1 }
func hllValLen(b byte) int          { return int(b&0x3) + 1 }
func hllValOp(val, n int) byte      { return byte((val-1)<<2|(n-1)) | 0x80 }
func hllZeroOp(n int) byte          { return byte(n - 1) }
func hllXZeroOp(n int) (byte, byte) { return byte((n-1)>>8) | 0x40, byte(n - 1) }

// at reads s[i] as C reads the byte past an sds string's end: the terminating zero.
func at(s []byte, i int) byte {
	if i < len(s) {
		return s[i]
	}
	return 0
}

// hllSparseRuns walks the opcodes of a sparse value, calling fn with each run: its opcode
// kind ('z' ZERO, 'Z' XZERO, 'v' VAL), its register value (0 for zeros), its first register
// and its length, until fn returns false. It returns the number of registers covered by the
// runs fn accepted.
func hllSparseRuns(s []byte, fn func(kind byte, val, first, n int) bool) int {
	idx := 0
	for p := hllHdrSize; p < len(s); {
		kind, val, n := byte('v'), 0, 0
		switch op := s[p]; {
		case hllIsZero(op):
			kind, n = 'z', hllZeroLen(op)
			p++
		case hllIsXZero(op):
			kind, n = 'Z', hllXZeroLen(op, at(s, p+1))
			p += 2
		default:
			val, n = hllValValue(op), hllValLen(op)
			p++
		}
		if !fn(kind, val, idx, n) {
			break
		}
		idx += n
	}
	return idx
}

// hllNew is a new, empty HLL: sparse, all registers in XZERO runs, cardinality 0 cached.
func hllNew() []byte {
	s := make([]byte, hllHdrSize, hllHdrSize+2*((hllRegisters+hllSparseXZeroMaxLen-1)/hllSparseXZeroMaxLen))
	copy(s, "HYLL")
	s[4] = hllEncSparse
	for left := hllRegisters; left > 0; {
		n := min(left, hllSparseXZeroMaxLen)
		b0, b1 := hllXZeroOp(n)
		s = append(s, b0, b1)
		left -= n
	}
	return s
}

// hllValid is Redis's isHLLObjectOrReply test of a string value.
func hllValid(v []byte) bool {
	if len(v) < hllHdrSize || string(v[:4]) != "HYLL" || v[4] > hllEncSparse {
		return false
	}
	return v[4] != hllEncDense || len(v) == hllDenseSize
}

func hllInvalidate(v []byte) { v[15] |= 0x80 }

func hllCacheValid(v []byte) bool { return v[15]&0x80 == 0 }

// hllPatLen returns the register an element goes to and the value it proposes for it.
func hllPatLen(ele []byte) (int, uint8) {
	hash := murmurHash64A(ele, hllHashSeed)
	index := int(hash & hllPMask)
	hash >>= hllP
	hash |= 1 << hllQ
	count := uint8(1)
	for bit := uint64(1); hash&bit == 0; bit <<= 1 {
		count++
	}
	return index, count
}

func hllDenseGet(regs []byte, i int) uint8 {
	b := i * hllBits / 8
	fb := uint(i * hllBits & 7)
	b0, b1 := uint(regs[b]), uint(at(regs, b+1))
	return uint8((b0>>fb | b1<<(8-fb)) & hllRegisterMax)
}

func hllDenseSetReg(regs []byte, i int, val uint8) {
	b := i * hllBits / 8
	fb := uint(i * hllBits & 7)
	v := uint(val)
	regs[b] &^= byte(hllRegisterMax << fb)
	regs[b] |= byte(v << fb)
	if b+1 < len(regs) {
		regs[b+1] &^= byte(hllRegisterMax >> (8 - fb))
		regs[b+1] |= byte(v >> (8 - fb))
	}
}

// hllDenseSet raises register i to count, reporting whether it changed.
func hllDenseSet(regs []byte, i int, count uint8) bool {
	if count > hllDenseGet(regs, i) {
		hllDenseSetReg(regs, i, count)
		return true
	}
	return false
}

// hllSparseToDense converts a sparse value to a dense one (a dense one is returned as is);
// false when the opcodes do not cover exactly the 16384 registers.
func hllSparseToDense(s []byte) ([]byte, bool) {
	if s[4] == hllEncDense {
		return s, true
	}
	d := make([]byte, hllDenseSize)
	copy(d, s[:hllHdrSize]) // magic, unused bytes and cached cardinality
	d[4] = hllEncDense
	regs := d[hllHdrSize:]
	idx := hllSparseRuns(s, func(_ byte, val, first, n int) bool {
		if val == 0 {
			return true
		}
		if first+n > hllRegisters {
			return false // overflow: the count below fails (unless it is exactly full)
		}
		for i := first; i < first+n; i++ {
			hllDenseSetReg(regs, i, uint8(val))
		}
		return true
	})
	if idx != hllRegisters {
		return nil, false
	}
	return d, true
}

// hllSparseSet raises register index of the sparse value s to count. It returns the new
// value (possibly promoted to dense) and 1 when it changed, 0 when it did not, -1 when s is
// corrupt.
func hllSparseSet(s []byte, index int, count uint8) ([]byte, int) {
	if count > hllSparseValMaxValue {
		return hllPromote(s, index, count)
	}
	// Step 1: find the opcode covering the register.
	end := len(s)
	p, prev := hllHdrSize, -1
	first, span := 0, 0
	for p < end {
		oplen := 1
		switch op := s[p]; {
		case hllIsZero(op):
			span = hllZeroLen(op)
		case hllIsVal(op):
			span = hllValLen(op)
		default:
			span = hllXZeroLen(op, at(s, p+1))
			oplen = 2
		}
		if index <= first+span-1 {
			break
		}
		prev = p
		p += oplen
		first += span
	}
	if span == 0 || p >= end {
		return s, -1
	}
	op := s[p]
	isZero, isXZero, isVal := hllIsZero(op), hllIsXZero(op), hllIsVal(op)
	var runlen int
	switch {
	case isZero:
		runlen = hllZeroLen(op)
	case isXZero:
		runlen = hllXZeroLen(op, at(s, p+1))
	default:
		runlen = hllValLen(op)
	}

	// Step 2: the trivial updates in place.
	switch {
	case isVal && hllValValue(op) >= int(count):
		return s, 0
	case (isVal || isZero) && runlen == 1:
		s[p] = hllValOp(int(count), 1)
		return hllSparseMerge(s, prev), 1
	}

	// Step 3: split the opcode into up to three: the registers before, ours, those after.
	var seqBuf [5]byte
	seq := seqBuf[:0]
	last := first + span - 1
	zeros := func(n int) {
		if n > hllSparseZeroMaxLen {
			b0, b1 := hllXZeroOp(n)
			seq = append(seq, b0, b1)
		} else {
			seq = append(seq, hllZeroOp(n))
		}
	}
	if isZero || isXZero {
		if index != first {
			zeros(index - first)
		}
		seq = append(seq, hllValOp(int(count), 1))
		if index != last {
			zeros(last - index)
		}
	} else {
		cur := hllValValue(op)
		if index != first {
			seq = append(seq, hllValOp(cur, index-first))
		}
		seq = append(seq, hllValOp(int(count), 1))
		if index != last {
			seq = append(seq, hllValOp(cur, last-index))
		}
	}
	oldlen := 1
	if isXZero {
		oldlen = 2
	}
	delta := len(seq) - oldlen
	if delta > 0 && len(s)+delta > hllSparseMaxBytes {
		return hllPromote(s, index, count)
	}
	if p+oldlen > len(s) {
		// An XZERO cut by the end of the value: C writes the new opcodes and sizes the
		// string to its old length plus delta, dropping what does not fit.
		s = append(s[:p], seq...)[:len(s)+delta]
		return hllSparseMerge(s, prev), 1
	}
	// Splice seq in place of the old opcode, moving the tail (copy handles the overlap).
	n := len(s)
	if delta > 0 {
		s = append(s, seq[:delta]...) // grow; the bytes are overwritten below
	}
	copy(s[p+len(seq):], s[p+oldlen:n])
	s = s[:n+delta]
	copy(s[p:], seq)
	return hllSparseMerge(s, prev), 1
}

// hllSparseMerge is step 4 of a sparse update: starting at the opcode before the changed one,
// up to five opcodes are visited and adjacent VAL runs of equal value merged while they fit
// one opcode. It also marks the cached cardinality stale.
func hllSparseMerge(s []byte, prev int) []byte {
	p := hllHdrSize
	if prev >= 0 {
		p = prev
	}
	for scan := 5; p < len(s) && scan > 0; {
		scan--
		switch {
		case hllIsXZero(s[p]):
			p += 2
			continue
		case hllIsZero(s[p]):
			p++
			continue
		}
		if p+1 < len(s) && hllIsVal(s[p+1]) {
			v1, v2 := hllValValue(s[p]), hllValValue(s[p+1])
			if n := hllValLen(s[p]) + hllValLen(s[p+1]); v1 == v2 && n <= hllSparseValMaxLen {
				s[p+1] = hllValOp(v1, n)
				s = append(s[:p], s[p+1:]...)
				continue
			}
		}
		p++
	}
	hllInvalidate(s)
	return s
}

// hllPromote converts s to dense and sets the register there.
func hllPromote(s []byte, index int, count uint8) ([]byte, int) {
	d, ok := hllSparseToDense(s)
	if !ok {
		return s, -1
	}
	hllDenseSet(d[hllHdrSize:], index, count)
	return d, 1
}

// hllAdd adds one element: 1 when a register changed, 0 when none did, -1 when corrupt.
func hllAdd(s []byte, ele []byte) ([]byte, int) {
	index, count := hllPatLen(ele)
	switch s[4] {
	case hllEncDense:
		if hllDenseSet(s[hllHdrSize:], index, count) {
			return s, 1
		}
		return s, 0
	case hllEncSparse:
		return hllSparseSet(s, index, count)
	}
	return s, -1
}

// hllHisto counts the registers of each value of a dense or sparse value; invalid when a
// sparse value does not cover exactly the 16384 registers.
func hllHisto(s []byte, h *[64]int) (invalid bool) {
	if s[4] == hllEncDense {
		regs := s[hllHdrSize:]
		for i := 0; i < hllRegisters; i++ {
			h[hllDenseGet(regs, i)]++
		}
		return false
	}
	idx := hllSparseRuns(s, func(_ byte, val, _, n int) bool {
		h[val] += n
		return true
	})
	return idx != hllRegisters
}

// hllMerge raises max[i] to each register of s; false when s is a corrupt sparse value.
func hllMerge(max []uint8, s []byte) bool {
	if s[4] == hllEncDense {
		regs := s[hllHdrSize:]
		for i := 0; i < hllRegisters; i++ {
			if v := hllDenseGet(regs, i); v > max[i] {
				max[i] = v
			}
		}
		return true
	}
	i := hllSparseRuns(s, func(_ byte, val, first, n int) bool {
		if val == 0 {
			return true
		}
		if first+n > hllRegisters {
			return false
		}
		for j := first; j < first+n; j++ {
			if uint8(val) > max[j] {
				max[j] = uint8(val)
			}
		}
		return true
	})
	return i == hllRegisters
}

// hllSigma and hllTau are the series of Ertl's estimator, evaluated as Redis evaluates them
// (float64(...) keeps Go from fusing a multiply and an add, which C does not do here).
func hllSigma(x float64) float64 {
	if x == 1 {
		return math.Inf(1)
	}
	y, z := 1.0, x
	for {
		x *= x
		prev := z
		z += float64(x * y)
		y += y
		if prev == z {
			return z
		}
	}
}

func hllTau(x float64) float64 {
	if x == 0 || x == 1 {
		return 0
	}
	y, z := 1.0, 1-x
	for {
		x = math.Sqrt(x)
		prev := z
		y *= 0.5
		d := 1 - x
		z -= float64(float64(d*d) * y)
		if prev == z {
			return z / 3
		}
	}
}

// hllEstimate is the cardinality estimate from a register histogram.
func hllEstimate(h *[64]int) uint64 {
	const m = float64(hllRegisters)
	z := m * hllTau((m-float64(h[hllQ+1]))/m)
	for j := hllQ; j >= 1; j-- {
		z += float64(h[j])
		z *= 0.5
	}
	z += m * hllSigma(float64(h[0])/m)
	return uint64(math.Round(hllAlphaInf * m * m / z))
}

// ---- commands ----

// hllState reads key as a HyperLogLog: found is false when the key does not exist; a value
// of another type is ErrWrongType and a string that is not an HLL ErrNotHLL. The returned
// value is the Txn's own copy, free to modify.
func (t *Txn) hllState(key []byte) (ks keyState, v []byte, found bool, err error) {
	ks, found, err = t.stringState(key)
	if !found {
		return ks, nil, false, err
	}
	cur, err := t.stringValue(key, &ks.meta)
	if err != nil {
		return ks, nil, false, err
	}
	if !hllValid(cur) {
		return ks, nil, false, ErrNotHLL
	}
	v = make([]byte, len(cur), len(cur)+8)
	copy(v, cur)
	return ks, v, true, nil
}

// putHLL writes the HLL value v to key, keeping its expiry.
func (t *Txn) putHLL(key []byte, ks *keyState, v []byte) {
	var expireAt int64
	if ks.live {
		expireAt = ks.meta.ExpireAt
	}
	t.writeString(key, ks, v, expireAt)
}

// PFAdd adds elements to the HLL at key (creating it) and says whether the value changed.
func (t *Txn) PFAdd(key []byte, elements [][]byte) (bool, error) {
	ks, v, found, err := t.hllState(key)
	if err != nil {
		return false, err
	}
	updated := 0
	if !found {
		v = hllNew()
		updated++
	}
	for _, e := range elements {
		var r int
		v, r = hllAdd(v, e)
		switch r {
		case 1:
			updated++
		case -1:
			if updated > 0 {
				t.putHLL(key, &ks, v) // Redis keeps what it changed in place before the error
			}
			return false, ErrHLLCorrupt
		}
	}
	if updated == 0 {
		return false, nil
	}
	hllInvalidate(v)
	t.putHLL(key, &ks, v)
	return true, nil
}

// PFCount estimates the cardinality of the union of the HLLs at keys. With one key the
// cached cardinality is used, or computed and written back into the value as Redis does
// (which makes PFCOUNT a write).
func (t *Txn) PFCount(keys [][]byte) (int64, error) {
	if len(keys) > 1 {
		max := make([]uint8, hllRegisters)
		for _, k := range keys {
			_, v, found, err := t.hllState(k)
			if err != nil {
				return 0, err
			}
			if found && !hllMerge(max, v) {
				return 0, ErrHLLCorrupt
			}
		}
		var h [64]int
		for _, r := range max {
			h[r]++
		}
		return int64(hllEstimate(&h)), nil
	}
	ks, v, found, err := t.hllState(keys[0])
	if err != nil || !found {
		return 0, err
	}
	if hllCacheValid(v) {
		return int64(binary.LittleEndian.Uint64(v[8:16])), nil
	}
	var h [64]int
	if hllHisto(v, &h) {
		return 0, ErrHLLCorrupt
	}
	card := hllEstimate(&h)
	binary.LittleEndian.PutUint64(v[8:16], card)
	if t.mode != LockRead {
		t.putHLL(keys[0], &ks, v)
	}
	return int64(card), nil
}

// PFMerge merges the HLLs at keys into dst (itself part of the union when it exists).
func (t *Txn) PFMerge(dst []byte, keys [][]byte) error {
	max := make([]uint8, hllRegisters)
	useDense := false
	merge := func(k []byte) error {
		_, v, found, err := t.hllState(k)
		if err != nil || !found {
			return err
		}
		if v[4] == hllEncDense {
			useDense = true
		}
		if !hllMerge(max, v) {
			return ErrHLLCorrupt
		}
		return nil
	}
	if err := merge(dst); err != nil {
		return err
	}
	for _, k := range keys {
		if err := merge(k); err != nil {
			return err
		}
	}
	ks, v, found, err := t.hllState(dst)
	if err != nil {
		return err
	}
	if !found {
		v = hllNew()
	}
	if useDense {
		var ok bool
		if v, ok = hllSparseToDense(v); !ok {
			return ErrHLLCorrupt
		}
	}
	for i, r := range max {
		if r == 0 {
			continue
		}
		if v[4] == hllEncDense {
			hllDenseSet(v[hllHdrSize:], i, r)
		} else {
			v, _ = hllSparseSet(v, i, r)
		}
	}
	hllInvalidate(v)
	t.putHLL(dst, &ks, v)
	return nil
}

// PFDebugResult is what PFDEBUG answers: registers (GETREG), a text (DECODE, ENCODING) or a
// number (TODENSE).
type PFDebugResult struct {
	Registers []uint8
	Text      string
	Status    bool // Text is a status reply (ENCODING)
	Int       int64
}

// PFDebug runs PFDEBUG sub on key: GETREG (which makes the value dense), DECODE, ENCODING,
// TODENSE.
func (t *Txn) PFDebug(sub string, key []byte) (PFDebugResult, error) {
	var r PFDebugResult
	ks, v, found, err := t.hllState(key)
	if err != nil {
		return r, err
	}
	if !found {
		return r, ErrPFDebugNoKey
	}
	switch strings.ToLower(sub) {
	case "getreg", "todense":
		sparse := v[4] == hllEncSparse
		if sparse {
			d, ok := hllSparseToDense(v)
			if !ok {
				return r, ErrHLLCorrupt
			}
			t.putHLL(key, &ks, d)
			v = d
		}
		if strings.EqualFold(sub, "todense") {
			if sparse {
				r.Int = 1
			}
			return r, nil
		}
		r.Registers = make([]uint8, hllRegisters)
		for i := range r.Registers {
			r.Registers[i] = hllDenseGet(v[hllHdrSize:], i)
		}
	case "decode":
		if v[4] != hllEncSparse {
			return r, ErrHLLNotSparse
		}
		var b []byte
		hllSparseRuns(v, func(kind byte, val, _, n int) bool {
			b = append(b, kind, ':')
			if kind == 'v' {
				b = strconv.AppendInt(b, int64(val), 10)
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(n), 10)
			b = append(b, ' ')
			return true
		})
		r.Text = strings.Trim(string(b), " ")
	case "encoding":
		r.Text, r.Status = "sparse", true
		if v[4] == hllEncDense {
			r.Text = "dense"
		}
	default:
		return r, ErrPFDebugUnknown(sub)
	}
	return r, nil
}

// HLLSelfTest is PFSELFTEST: it checks that every dense register keeps what is written to it,
// and that the sparse and dense representations of the same elements estimate the same
// cardinality within HyperLogLog's error as they grow. It fails with a TESTFAILED error.
func HLLSelfTest() error {
	regs := make([]byte, hllDenseSize-hllHdrSize)
	want := make([]uint8, hllRegisters)
	for round := 0; round < 4; round++ {
		for i := range want {
			want[i] = uint8(rand.IntN(hllRegisterMax + 1))
			hllDenseSetReg(regs, i, want[i])
		}
		for i := range want {
			if got := hllDenseGet(regs, i); got != want[i] {
				return fmt.Errorf("TESTFAILED Register error at %d", i)
			}
		}
	}
	sparse, dense := hllNew(), hllNew()
	dense, _ = hllSparseToDense(dense)
	relErr := 1.04 / math.Sqrt(hllRegisters)
	seed := rand.Uint64()
	checkpoint := 1
	var ele [8]byte
	for j := 1; j <= 100000; j++ {
		binary.LittleEndian.PutUint64(ele[:], seed+uint64(j))
		sparse, _ = hllAdd(sparse, ele[:])
		dense, _ = hllAdd(dense, ele[:])
		if j != checkpoint {
			continue
		}
		checkpoint *= 10
		var hs, hd [64]int
		hllHisto(sparse, &hs)
		hllHisto(dense, &hd)
		cs, cd := hllEstimate(&hs), hllEstimate(&hd)
		if cs != cd {
			return fmt.Errorf("TESTFAILED dense/sparse disagree: %d != %d", cd, cs)
		}
		// Redis's tolerance: ceil(relerr*6*card), and 1 at cardinality 10, where collisions
		// make a bigger error statistically likely from time to time.
		maxErr := math.Ceil(relErr * 6 * float64(j))
		if j == 10 {
			maxErr = 1
		}
		if math.Abs(float64(j)-float64(cd)) > maxErr {
			return fmt.Errorf("TESTFAILED Too big error. card:%d abserr:%f", j, math.Abs(float64(j)-float64(cd)))
		}
	}
	return nil
}
