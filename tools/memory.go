package tools

import (
	"math"
	"math/bits"
	"strconv"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/rdb"
)

// The memory estimator answers, for one key of a dump, what `MEMORY USAGE key SAMPLES 0`
// would say in a Redis 7.0 (64-bit, jemalloc) that has just loaded the dump. It sees the
// key's elements one at a time and keeps a few counters, never the elements.
//
// MEMORY USAGE (src/object.c, objectComputeSize, and memoryCommand) is
//
//	usage = sds(key) + dictEntry(24) + value
//
// where sds(n) = jemalloc(hdr(n) + n + 1) is a Redis string's allocation (hdr: 1 byte below
// 32 bytes, 3 below 256, 5 below 64 KiB, 9 below 4 GiB) and jemalloc(n) rounds n up to
// jemalloc's size class (8, 16, 32, 48 ... 128, then four classes per doubling: 160, 192,
// 224, 256, 320 ...). The value, by the encoding Redis 7.0 gives it when it loads the key
// with its default limits (not necessarily the encoding in the file):
//
//	string  int (integer text of at most 20 bytes)   robj(16)
//	        embstr (at most 44 bytes)                jemalloc(16 + 3 + len + 1)
//	        raw                                      16 + sds(len)
//	list    quicklist (always, in 7.0)               16 + quicklist(40) + per node:
//	                                                 node(40) + jemalloc(listpack bytes);
//	                                                 nodes filled as RPUSH fills them
//	                                                 (list-max-listpack-size -2: a node takes
//	                                                 an element while its bytes + the
//	                                                 element + 8 stay within 8 KiB), and an
//	                                                 element of 1 GiB or more alone in a
//	                                                 plain node of jemalloc(len)
//	set     intset (all integers, <= 512)            16 + jemalloc(8 + n * width 2/4/8)
//	        hashtable                                16 + dict(56) + 8 * slots +
//	                                                 n * (24 + sds(member))
//	zset    listpack (<= 128, members <= 64 bytes,   16 + jemalloc(listpack bytes)
//	        or stored packed)
//	        skiplist                                 16 + zset(16) + zskiplist(32) + dict(56)
//	                                                 + 8 * slots + header node(640) +
//	                                                 n * (sds(member) + 24 + E[node])
//	hash    listpack (<= 128, fields and values      16 + jemalloc(listpack bytes)
//	        <= 64 bytes, or stored packed)
//	        hashtable                                16 + dict(56) + 8 * slots +
//	                                                 n * (24 + sds(field) + sds(value))
//	stream                                           16 + stream(80) + rax(nodes) +
//	                                                 jemalloc(listpack bytes) per node + per
//	                                                 group: 40 + rax(PEL) + 24 * pending,
//	                                                 per consumer: 24 + len(name) + rax(PEL)
//
// slots is the hash table size after loading: the next power of two >= n, at least 4.
// A listpack's bytes are computed exactly from the elements as Redis encodes them (6-byte
// header, 1-byte end; each entry an integer encoding of 1 to 9 bytes when the element is
// integer text, else a 1, 2 or 5-byte length header and the bytes, plus a 1 to 5-byte
// back-length). A sorted set's listpack stores each score as Redis's d2string spells it
// (an integer, or %.17g). A skiplist node is 24 + 16 * level bytes with a random level
// (p = 1/4, at most 32), so each element is charged the expected jemalloc size, about 53.
// A stream is rebuilt as XADD builds it (stream-node-max-bytes 4096 and -max-entries
// 100, a master entry with the first entry's fields, same-fields flag, delta-encoded IDs),
// and a radix tree of IDs is charged as Redis's streamRadixTreeMemoryUsage charges it,
// 16 per ID plus 244 per node, with the node count of the radix tree those sorted IDs
// build, counted exactly. MEMORY USAGE leaves out the expires entry of a key with a TTL,
// and so does this estimate. Module values are not estimated (0).
//
// Where this differs from a live server: node boundaries of lists and streams in a live
// server depend on the history of the key (LINSERT, LREM, XDEL, XTRIM), which a dump does
// not keep; hash tables may be mid-rehash or larger than needed after deletions. The tests
// compare the estimate with the real redis-server after DEBUG RELOAD (see memory_test.go).

// Sizes of Redis 7.0's structures on a 64-bit build.
const (
	robjSize          = 16
	dictEntrySize     = 24
	dictStructSize    = 56
	quicklistSize     = 40
	quicklistNodeSize = 40
	zsetStructSize    = 16
	zskiplistSize     = 32
	zslHeaderAlloc    = 640 // jemalloc(24 + 32 levels * 16)
	streamStructSize  = 80
	streamCGSize      = 40
	streamNACKSize    = 24
	streamConsumer    = 24
	raxIDSize         = 16
	raxNodeCharge     = 4 + 8*30 // sizeof(raxNode) + the "30 longs" of streamRadixTreeMemoryUsage

	embstrMaxLen        = 44
	listNodeMaxBytes    = 8192 // list-max-listpack-size -2
	listNodeOverhead    = 8    // SIZE_ESTIMATE_OVERHEAD
	listPlainThreshold  = 1 << 30
	hashMaxListpackLen  = 128
	hashMaxListpackVal  = 64
	zsetMaxListpackLen  = 128
	zsetMaxListpackVal  = 64
	setMaxIntsetEntries = 512
	streamNodeMaxBytes  = 4096
	streamNodeMaxItems  = 100
	listpackHeaderBytes = 6
	listpackEndBytes    = 1
)

// skiplistNodeExpected is the expected jemalloc size of a skiplist node: level L with
// probability (3/4)(1/4)^(L-1), size 24 + 16L.
var skiplistNodeExpected = func() float64 {
	e, p := 0.0, 0.75
	for level := int64(1); level <= 32; level++ {
		e += p * float64(jemallocSize(24+16*level))
		p /= 4
	}
	return e
}()

// jemallocSize is the size class jemalloc serves a request of n bytes from.
func jemallocSize(n int64) int64 {
	switch {
	case n <= 8:
		return 8
	case n <= 128:
		return (n + 15) &^ 15
	}
	k := bits.Len64(uint64(n-1)) - 1 // 2^k < n <= 2^(k+1)
	step := int64(1) << (k - 2)
	return (n + step - 1) &^ (step - 1)
}

// sdsHeader is the header size of an sds string of n bytes.
func sdsHeader(n int64) int64 {
	switch {
	case n < 32:
		if n == 0 {
			return 3 // an empty string gets type 8
		}
		return 1
	case n < 1<<8:
		return 3
	case n < 1<<16:
		return 5
	case n < 1<<32:
		return 9
	}
	return 17
}

// sdsSize is the allocation of an sds string of n bytes.
func sdsSize(n int64) int64 { return jemallocSize(sdsHeader(n) + n + 1) }

// dictSlots is the table size of a dict presized for n entries.
func dictSlots(n int64) int64 {
	if n <= 4 {
		return 4
	}
	return int64(1) << bits.Len64(uint64(n-1))
}

// The object types whose load path can leave a hash table mid-rehash.
const (
	rdbTypeSet  = 2
	rdbTypeHash = 4
)

// dictSim follows the table sizes of a Redis dict (dict.c) through expansions and adds:
// while it rehashes it holds two tables, and each add moves one non-empty bucket of the
// old one. Which buckets are empty depends on the hash seed, so the count of non-empty
// buckets is its expectation.
type dictSim struct {
	size0, size1 int64
	used         int64
	toMove       float64
}

// expand is _dictExpand: refused while rehashing, below the entries held, or to the same
// size; the first table is set at once, a second one starts a rehash.
func (d *dictSim) expand(n int64) {
	if d.size1 != 0 || d.used > n {
		return
	}
	s := dictSlots(n)
	switch {
	case d.size0 == 0:
		d.size0 = s
	case s != d.size0:
		d.size1 = s
		d.toMove = float64(d.size0) * (1 - math.Pow(1-1/float64(d.size0), float64(d.used)))
	}
}

// add is dictAdd: a rehash step, growth when the table is full, the entry.
func (d *dictSim) add() {
	if d.size1 != 0 {
		if d.toMove--; d.toMove <= 0 {
			d.size0, d.size1 = d.size1, 0
		}
	}
	if d.size0 == 0 {
		d.expand(4)
	} else if d.size1 == 0 && d.used >= d.size0 {
		d.expand(d.used + 1)
	}
	d.used++
}

func (d *dictSim) slots() int64 { return d.size0 + d.size1 }

// loadedSlots is the table size, both tables while rehashing, of a set or hash that Redis
// 7.0 turned into a hash table while loading it. A counted set (type 2) or hash (type 4)
// small enough to start compact is converted at its first loose element: the table is
// presized for the elements so far, then (sets always, hashes when more than 4 remain)
// asked to grow for the rest, and the rest are added one by one. Everything else is
// presized for all its elements.
func (m *memEstimator) loadedSlots(compactMax int64, counted uint8) int64 {
	if m.rdbType != counted || m.declared < 0 || m.declared > compactMax || m.loose < 0 {
		return dictSlots(m.n)
	}
	var d dictSim
	d.expand(m.loose)
	for i := int64(0); i < m.loose; i++ {
		d.add()
	}
	rest := m.n - m.loose - 1
	if counted == rdbTypeSet {
		d.expand(m.declared)
		d.add()
	} else {
		d.add()
		if rest > 4 {
			d.expand(rest)
		}
	}
	for i := int64(0); i < rest; i++ {
		d.add()
	}
	return d.slots()
}

// stringValueSize is the value part of a string key and the encoding Redis gives it.
func stringValueSize(v []byte) (int64, string) {
	n := int64(len(v))
	if _, ok := lpInt(v); ok {
		return robjSize, "int"
	}
	if n <= embstrMaxLen {
		return jemallocSize(robjSize + 3 + n + 1), "embstr"
	}
	return robjSize + sdsSize(n), "raw"
}

// lpEntrySize is the bytes one element takes in a listpack, as Redis encodes it.
func lpEntrySize(s []byte) int64 { return int64(rdb.ListpackEntrySize(s)) }

// lpIntEntrySize is the bytes of an integer entry.
func lpIntEntrySize(v int64) int64 { return int64(rdb.ListpackIntEntrySize(v)) }

func lpInt(s []byte) (int64, bool) {
	if len(s) == 0 || len(s) > 20 {
		return 0, false
	}
	return engine.ParseInt(s)
}

// scoreText spells a score as Redis 7.0's d2string does, into buf.
func scoreText(buf []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(buf, "nan"...)
	case math.IsInf(f, 1):
		return append(buf, "inf"...)
	case math.IsInf(f, -1):
		return append(buf, "-inf"...)
	case f == 0:
		if math.Signbit(f) {
			return append(buf, "-0"...)
		}
		return append(buf, '0')
	case f > -4503599627370495 && f < 4503599627370496 && f == math.Trunc(f):
		return strconv.AppendInt(buf, int64(f), 10)
	}
	return strconv.AppendFloat(buf, f, 'g', 17, 64)
}

// raxCounter counts the nodes of the radix tree that a sorted sequence of distinct 16-byte
// keys builds (Redis's rax.c): a node starts at the root, after every branching point, at
// every key and at every dead end; chains with one child in between are one compressed node.
// It keeps only the current path.
type raxCounter struct {
	n        int64
	nodes    int64
	prev     [16]byte
	children [17]int32 // children of the node at each depth of the current path
	ownKids  [17]int32 // of those, the ones that end a chain by themselves
}

func (r *raxCounter) add(key [16]byte) {
	if r.n == 0 {
		r.startPath(key, 0)
		r.n = 1
		return
	}
	l := 0
	for l < 16 && r.prev[l] == key[l] {
		l++
	}
	if l == 16 {
		return // a duplicate: the tree already holds it
	}
	for d := 16; d > l; d-- {
		r.finish(d)
	}
	r.children[l]++
	r.startPath(key, l+1)
	r.n++
}

// startPath puts key's nodes from depth from on the path: one child each, a leaf at 16.
func (r *raxCounter) startPath(key [16]byte, from int) {
	for d := from; d < 16; d++ {
		r.children[d], r.ownKids[d] = 1, 0
	}
	r.children[16], r.ownKids[16] = 0, 0
	if from == 0 {
		r.children[0] = 1
	}
	r.prev = key
}

// finish closes the node at depth d: its children are all known.
func (r *raxCounter) finish(d int) {
	c := r.children[d]
	if c >= 2 {
		r.nodes += int64(c)
	} else {
		r.nodes += int64(r.ownKids[d])
	}
	if d == 16 || c != 1 {
		r.ownKids[d-1]++
	}
}

// count is the number of nodes of the tree holding the keys added so far.
func (r *raxCounter) count() int64 {
	if r.n == 0 {
		return 1 // the empty head node
	}
	c := *r
	for d := 16; d >= 1; d-- {
		c.finish(d)
	}
	if c.children[0] >= 2 {
		c.nodes += int64(c.children[0])
	} else {
		c.nodes += int64(c.ownKids[0])
	}
	return c.nodes + 1
}

// memory is what streamRadixTreeMemoryUsage charges for the tree.
func (r *raxCounter) memory() int64 { return r.n*raxIDSize + r.count()*raxNodeCharge }

func streamIDKey(id rdb.StreamID) [16]byte {
	var k [16]byte
	for i := 0; i < 8; i++ {
		k[i] = byte(id.Ms >> (56 - 8*i))
		k[8+i] = byte(id.Seq >> (56 - 8*i))
	}
	return k
}

// memEstimator follows one key's events and estimates its MEMORY USAGE.
type memEstimator struct {
	typ      rdb.ValueType
	rdbType  uint8
	declared int64 // the element count the file states up front, -1 when it does not
	keyLen   int64
	n        int64
	value    int64 // strings: the whole value part
	loose    int64 // index of the first element that rules out the compact encoding, -1

	// hash, zset: the listpack candidate and the hashtable alternative
	compact    bool
	lpBytes    int64
	tableBytes int64

	// set
	allInts  bool
	intWidth int64

	// list: the quicklist being filled
	nodeBytes  int64
	nodeLive   bool
	nodesBytes int64

	strEnc   string
	strm     streamEstimate
	scoreBuf [32]byte
}

// streamEstimate rebuilds a stream's nodes and radix trees.
type streamEstimate struct {
	nodeBytes   int64
	nodeEntries int64
	master      rdb.StreamID
	masterField [][]byte // the current node's master fields
	nodes       raxCounter
	lpTotal     int64
	groups      int64 // memory of finished groups and consumers
	groupPEL    raxCounter
	groupLive   bool
	consumerPEL raxCounter
}

func (m *memEstimator) begin(h *rdb.KeyHeader, keyLen int) {
	fields := m.strm.masterField[:0]
	*m = memEstimator{typ: h.Type, rdbType: h.RDBType, declared: h.Len, keyLen: int64(keyLen),
		compact: true, allInts: true, intWidth: 2, loose: -1}
	m.strm.masterField = fields
	m.lpBytes = listpackHeaderBytes + listpackEndBytes
}

// markLoose records the first element that keeps the value out of its compact encoding.
func (m *memEstimator) markLoose() {
	if m.loose < 0 {
		m.loose = m.n - 1
	}
}

func (m *memEstimator) add(ev *rdb.Event) {
	switch ev.Kind {
	case rdb.KindString:
		m.value, m.strEnc = stringValueSize(ev.Value)
	case rdb.KindListItem:
		m.n++
		m.addListItem(ev.Value)
	case rdb.KindSetMember:
		m.n++
		m.addSetMember(ev.Value)
	case rdb.KindZSetMember:
		m.n++
		if m.n <= zsetMaxListpackLen { // past that the listpack's size no longer matters
			m.lpBytes += lpEntrySize(ev.Value) + lpEntrySize(scoreText(m.scoreBuf[:0], ev.Score))
		}
		if len(ev.Value) > zsetMaxListpackVal {
			m.compact = false
			m.markLoose()
		}
		m.tableBytes += sdsSize(int64(len(ev.Value))) + dictEntrySize
	case rdb.KindHashField:
		m.n++
		if m.n <= hashMaxListpackLen {
			m.lpBytes += lpEntrySize(ev.Field) + lpEntrySize(ev.Value)
		}
		if len(ev.Field) > hashMaxListpackVal || len(ev.Value) > hashMaxListpackVal {
			m.compact = false
			m.markLoose()
		}
		m.tableBytes += dictEntrySize + sdsSize(int64(len(ev.Field))) + sdsSize(int64(len(ev.Value)))
	case rdb.KindStreamEntry:
		m.n++
		m.addStreamEntry(ev)
	case rdb.KindStreamGroup:
		m.closeGroup()
		m.strm.groupLive = true
		m.strm.groupPEL = raxCounter{}
		m.strm.consumerPEL = raxCounter{}
		m.strm.groups += streamCGSize
	case rdb.KindStreamPending:
		m.strm.groupPEL.add(streamIDKey(ev.Pending.ID))
	case rdb.KindStreamConsumer:
		c := &m.strm.consumerPEL
		*c = raxCounter{}
		for _, id := range ev.Consumer.Pending {
			c.add(streamIDKey(id))
		}
		m.strm.groups += streamConsumer + int64(len(ev.Consumer.Name)) + c.memory()
	}
}

func (m *memEstimator) addListItem(v []byte) {
	n := int64(len(v))
	if n >= listPlainThreshold {
		m.closeListNode()
		m.nodesBytes += quicklistNodeSize + jemallocSize(n)
		return
	}
	if !m.nodeLive || m.nodeBytes+n+listNodeOverhead > listNodeMaxBytes {
		m.closeListNode()
		m.nodeLive = true
		m.nodeBytes = listpackHeaderBytes + listpackEndBytes
	}
	m.nodeBytes += lpEntrySize(v)
}

func (m *memEstimator) closeListNode() {
	if m.nodeLive {
		m.nodesBytes += quicklistNodeSize + jemallocSize(m.nodeBytes)
		m.nodeLive = false
	}
}

func (m *memEstimator) addSetMember(v []byte) {
	m.tableBytes += dictEntrySize + sdsSize(int64(len(v)))
	if !m.allInts {
		return
	}
	x, ok := lpInt(v)
	if !ok {
		m.allInts = false
		m.markLoose()
		return
	}
	switch {
	case x >= math.MinInt16 && x <= math.MaxInt16:
	case x >= math.MinInt32 && x <= math.MaxInt32:
		m.intWidth = max(m.intWidth, 4)
	default:
		m.intWidth = 8
	}
}

func (m *memEstimator) addStreamEntry(ev *rdb.Event) {
	s := &m.strm
	fields := ev.Fields
	numFields := int64(len(fields) / 2)
	var totLen int64
	for _, f := range fields {
		totLen += int64(len(f))
	}
	if s.nodeEntries > 0 && (s.nodeBytes+totLen >= streamNodeMaxBytes || s.nodeEntries >= streamNodeMaxItems) {
		m.closeStreamNode()
	}
	same := false
	if s.nodeEntries == 0 {
		s.master = ev.StreamID
		s.nodes.add(streamIDKey(ev.StreamID))
		s.masterField = s.masterField[:0]
		// count, deleted, number of fields, the fields, a zero terminator
		s.nodeBytes = listpackHeaderBytes + listpackEndBytes + lpIntEntrySize(1) + lpIntEntrySize(0) +
			lpIntEntrySize(numFields) + lpIntEntrySize(0)
		for i := 0; i+1 < len(fields); i += 2 {
			s.masterField = append(s.masterField, append([]byte(nil), fields[i]...))
			s.nodeBytes += lpEntrySize(fields[i])
		}
		same = true
	} else if int(numFields) == len(s.masterField) {
		same = true
		for i := range s.masterField {
			if string(s.masterField[i]) != string(fields[2*i]) {
				same = false
				break
			}
		}
	}
	s.nodeEntries++
	flags := int64(0)
	if same {
		flags = 2
	}
	b := lpIntEntrySize(flags) + lpIntEntrySize(int64(ev.StreamID.Ms-s.master.Ms)) +
		lpIntEntrySize(int64(ev.StreamID.Seq-s.master.Seq))
	lpCount := numFields + 3
	if !same {
		b += lpIntEntrySize(numFields)
		lpCount += numFields + 1
	}
	for i := 0; i+1 < len(fields); i += 2 {
		if !same {
			b += lpEntrySize(fields[i])
		}
		b += lpEntrySize(fields[i+1])
	}
	b += lpIntEntrySize(lpCount)
	s.nodeBytes += b
}

func (m *memEstimator) closeStreamNode() {
	s := &m.strm
	if s.nodeEntries == 0 {
		return
	}
	// The master entry's count grew from 1 to nodeEntries.
	s.lpTotal += jemallocSize(s.nodeBytes - lpIntEntrySize(1) + lpIntEntrySize(s.nodeEntries))
	s.nodeEntries = 0
}

func (m *memEstimator) closeGroup() {
	s := &m.strm
	if !s.groupLive {
		return
	}
	s.groups += s.groupPEL.memory() + streamNACKSize*s.groupPEL.n
	s.groupLive = false
}

// staysCompact reports whether Redis 7.0 keeps a hash or sorted set in a listpack. A value
// stored as a ziplist or listpack blob is converted only when it has too many entries (it
// "only checks the length and not max element size as this is an O(N) scan"); a counted
// one, or a zipmap, also when an element is too long.
func (m *memEstimator) staysCompact(maxLen int64) bool {
	if m.n > maxLen {
		return false
	}
	switch m.rdbType {
	case 12, 13, 16, 17: // zset and hash ziplists and listpacks
		return true
	}
	return m.compact
}

// total finishes the estimate: MEMORY USAGE of the key.
func (m *memEstimator) total() int64 {
	return sdsSize(m.keyLen) + dictEntrySize + m.valueSize()
}

// encoding names the encoding Redis 7.0 gives the value when it loads it.
func (m *memEstimator) encoding() string {
	switch m.typ {
	case rdb.TypeString:
		return m.strEnc
	case rdb.TypeList:
		return "quicklist"
	case rdb.TypeSet:
		if m.allInts && m.n <= setMaxIntsetEntries {
			return "intset"
		}
		return "hashtable"
	case rdb.TypeZSet:
		if m.staysCompact(zsetMaxListpackLen) {
			return "listpack"
		}
		return "skiplist"
	case rdb.TypeHash:
		if m.staysCompact(hashMaxListpackLen) {
			return "listpack"
		}
		return "hashtable"
	case rdb.TypeStream:
		return "stream"
	}
	return ""
}

func (m *memEstimator) valueSize() int64 {
	switch m.typ {
	case rdb.TypeString:
		return m.value
	case rdb.TypeList:
		m.closeListNode()
		return robjSize + quicklistSize + m.nodesBytes
	case rdb.TypeSet:
		if m.allInts && m.n <= setMaxIntsetEntries {
			return robjSize + jemallocSize(8+m.n*m.intWidth)
		}
		return robjSize + dictStructSize + 8*m.loadedSlots(setMaxIntsetEntries, rdbTypeSet) + m.tableBytes
	case rdb.TypeZSet:
		if m.staysCompact(zsetMaxListpackLen) {
			return robjSize + jemallocSize(m.lpBytes)
		}
		return robjSize + zsetStructSize + zskiplistSize + dictStructSize + 8*dictSlots(m.n) +
			zslHeaderAlloc + m.tableBytes + int64(math.Round(skiplistNodeExpected*float64(m.n)))
	case rdb.TypeHash:
		if m.staysCompact(hashMaxListpackLen) {
			return robjSize + jemallocSize(m.lpBytes)
		}
		return robjSize + dictStructSize + 8*m.loadedSlots(hashMaxListpackLen, rdbTypeHash) + m.tableBytes
	case rdb.TypeStream:
		m.closeStreamNode()
		m.closeGroup()
		return robjSize + streamStructSize + m.strm.nodes.memory() + m.strm.lpTotal + m.strm.groups
	}
	return 0
}
