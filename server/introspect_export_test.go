package server

import "math"

// Hooks for introspect_test.go: Redis's digest of sorted sets and streams, which DEBUG
// cannot read yet, computed from plain values.

// DigestZMember is one sorted-set member.
type DigestZMember struct {
	Member string
	Score  float64
}

// DigestStreamEntry is one stream entry.
type DigestStreamEntry struct {
	Ms, Seq      uint64
	FieldsValues []string
}

func zsetValueDigest(d *digest, members []DigestZMember) {
	d.mixUint32(3)
	for _, m := range members {
		e := zsetElementDigest([]byte(m.Member), m.Score)
		d.xor(e[:])
	}
}

func streamValueDigest(d *digest, entries []DigestStreamEntry) {
	d.mixUint32(6)
	for _, e := range entries {
		fv := make([][]byte, len(e.FieldsValues))
		for i, s := range e.FieldsValues {
			fv[i] = []byte(s)
		}
		streamEntryDigest(d, e.Ms, e.Seq, fv)
	}
}

// ZSetDigestForTest is DEBUG DIGEST-VALUE of a sorted set.
func ZSetDigestForTest(members []DigestZMember) string {
	var d digest
	zsetValueDigest(&d, members)
	return d.String()
}

// StreamDigestForTest is DEBUG DIGEST-VALUE of a stream without consumer groups.
func StreamDigestForTest(entries []DigestStreamEntry) string {
	var d digest
	streamValueDigest(&d, entries)
	return d.String()
}

// DatasetDigestForTest is DEBUG DIGEST of database 0 holding the sorted set "z", the stream
// "x" and the string "s" = "v" with a TTL.
func DatasetDigestForTest(members []DigestZMember, entries []DigestStreamEntry) string {
	var final digest
	final.mixUint32(0)
	var z, x, s digest
	z.mix([]byte("z"))
	zsetValueDigest(&z, members)
	x.mix([]byte("x"))
	streamValueDigest(&x, entries)
	s.mix([]byte("s"))
	s.mixUint32(0)
	s.mix([]byte("v"))
	s.xor([]byte("!!expire!!"))
	final.xor(z[:])
	final.xor(x[:])
	final.xor(s[:])
	return final.String()
}

// NegInf is -inf, for sorted-set scores.
func NegInf() float64 { return math.Inf(-1) }
