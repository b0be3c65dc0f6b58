package engine

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/stratadb/strata/encoding"
)

// Sorted sets in and out (see export.go and import.go). A member is written as ZADD writes it
// (zset.go: writeMember): its subkey holds the score's bits, its score key (score, member)
// orders it, and a set past rankBuildAt members gets rank buckets (zrank.go).
//
// Redis decides a loaded set's encoding from its size: a listpack when it has at most 128
// members of at most 64 bytes, a skiplist otherwise; a listpack stores -0 as 0, a skiplist
// keeps it. The importer knows the size only at the end, so members scored -0 are held back
// (a listpack holds few of them) until the encoding is known; once the set is a skiplist for
// sure they are written at once.

// ErrImportNaN means an imported sorted set has a NaN score (Redis refuses one when loading).
var ErrImportNaN = fmt.Errorf("%w: NaN score", ErrImportOrder)

// heldMember is a member scored -0 whose encoding is not known yet.
type heldMember struct{ member []byte }

// ZSetMember adds a member to a sorted-set key.
func (im *KeyImporter) ZSetMember(member []byte, score float64) error {
	if err := im.check(encoding.TypeZSet); err != nil {
		return err
	}
	if math.IsNaN(score) {
		return im.fail(ErrImportNaN)
	}
	im.n++
	if len(member) > listpackValueLen || im.n > listpackEntries {
		im.skiplist = true
	}
	if score == 0 && math.Signbit(score) && !im.skiplist {
		im.held = append(im.held, heldMember{member: append([]byte(nil), member...)})
		return nil
	}
	if im.skiplist && len(im.held) > 0 {
		if err := im.writeHeld(); err != nil {
			return im.fail(err)
		}
	}
	if err := im.writeZMember(member, score); err != nil {
		return im.fail(err)
	}
	return nil
}

// writeZMember writes a member's subkey and score key.
func (im *KeyImporter) writeZMember(member []byte, score float64) error {
	var mark []byte
	if score == 0 && math.Signbit(score) {
		if im.skiplist {
			mark = []byte(encoding.NegZeroMark)
		} else {
			score = 0 // a listpack stores -0 as 0
		}
	}
	im.vbuf = binary.BigEndian.AppendUint64(im.vbuf[:0], math.Float64bits(score))
	im.kbuf = append(append(im.kbuf[:0], im.prefix...), member...)
	if err := im.put(im.kbuf, im.vbuf); err != nil {
		return err
	}
	if im.sc == nil {
		im.sc = encoding.AppendScorePrefix(nil, im.db, im.key, im.m.Version)
	}
	im.kbuf = position(append(im.kbuf[:0], im.sc...), score, member)
	return im.put(im.kbuf, mark)
}

// writeHeld writes the members held back for their -0 score, now that the encoding is known.
func (im *KeyImporter) writeHeld() error {
	for _, h := range im.held {
		if err := im.writeZMember(h.member, math.Copysign(0, -1)); err != nil {
			return err
		}
	}
	im.held = nil
	return nil
}

// finishZSet completes a sorted set's type fields; in a Txn it also writes the rank buckets
// (a bulk load writes them while it merges, bulkLoad.emitRanks).
func (im *KeyImporter) finishZSet() error {
	if err := im.writeHeld(); err != nil {
		return err
	}
	f := encoding.ZSetFields{Skiplist: im.skiplist}
	if im.n <= rankBuildAt {
		im.m.Rest = encoding.AppendZSetFields(nil, f)
		return nil
	}
	if im.bulk != nil {
		f.Ranked, f.Gen = true, im.bulk.e.newVersion()
		im.m.Rest = encoding.AppendZSetFields(nil, f)
		im.bulk.ranked[string(im.sc)] = im.n
		return nil
	}
	// The members are all written (in the Txn's batch and in direct batches): cut them into
	// buckets in one scan, as a set that grows past rankBuildAt does.
	t := im.t
	z := &zset{t: t, key: im.key, ks: im.old, meta: im.m, rank: f, sc: im.sc,
		sub: im.prefix, rkp: encoding.AppendRankPrefix(nil, im.db, im.key, im.m.Version)}
	it, err := t.iter(z.sc, z.rkp)
	if err != nil {
		return err
	}
	defer it.Close()
	i, valid := 0, it.First()
	var posErr error
	z.rankWrite(int(im.n), func(at int) []byte {
		for ; valid && i < at; i++ {
			valid = it.Next()
		}
		if !valid {
			posErr = corruptf("sorted set %q has fewer positions than members", im.key)
			return nil
		}
		return it.Key()[len(z.sc):]
	})
	if posErr != nil {
		return posErr
	}
	z.rankFinish()
	im.m.Rest = encoding.AppendZSetFields(nil, z.rank)
	return nil
}

// rankCutter builds the rank buckets of one big sorted set while a bulk load's merge passes
// over its positions, in order, with the sizes rankWrite gives (zrank.go): k buckets of n/k
// members, the first n%k of them one more.
type rankCutter struct {
	sc         []byte // the set's score prefix
	n, k       int
	i          int      // positions seen
	next       int      // index of the position that starts the next bucket
	b          int      // buckets started
	boundaries [][]byte // the first is empty
}

func newRankCutter(sc []byte, n int) *rankCutter {
	c := &rankCutter{sc: append([]byte(nil), sc...), n: n, k: max(1, (n+rankFill-1)/rankFill)}
	c.boundaries = [][]byte{nil}
	c.b = 1
	c.next = c.size(0)
	return c
}

func (c *rankCutter) size(b int) int {
	s := c.n / c.k
	if b < c.n%c.k {
		s++
	}
	return s
}

// position counts one member position (the part of the score key after the prefix).
func (c *rankCutter) position(pos []byte) {
	if c.i == c.next && c.b < c.k {
		c.boundaries = append(c.boundaries, append([]byte(nil), pos...))
		c.next += c.size(c.b)
		c.b++
	}
	c.i++
}

// buckets calls emit with each bucket record, in key order.
func (c *rankCutter) buckets(emit func(k, v []byte) error) error {
	if c.i != c.n {
		return fmt.Errorf("%w: sorted set with %d positions for %d members", ErrImportDuplicate, c.i, c.n)
	}
	rkp := binary.BigEndian.AppendUint16(append([]byte(nil), c.sc...), encoding.RankMarker)
	var kb, vb []byte
	for b, boundary := range c.boundaries {
		kb = append(append(kb[:0], rkp...), boundary...)
		vb = encoding.AppendRankValue(vb[:0], uint64(c.size(b)))
		if err := emit(kb, vb); err != nil {
			return err
		}
	}
	return nil
}

// scorePrefixOf returns the score prefix of a score key (nil for another record).
func scorePrefixOf(k []byte) []byte {
	if len(k) == 0 || k[0] != encoding.TagScore {
		return nil
	}
	_, _, key, _, _, err := encoding.DecodeElemKey(k)
	if err != nil {
		return nil
	}
	return k[:encoding.ElemPrefixLen(len(key))]
}

// sameSet says whether score key k belongs to the set of cutter c.
func (c *rankCutter) sameSet(k []byte) bool { return bytes.HasPrefix(k, c.sc) }
