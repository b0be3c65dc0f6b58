package engine

import "math"

// LCSMatch is one matching range of an LCS IDX reply: A[AStart..AEnd] equals B[BStart..BEnd].
type LCSMatch struct {
	AStart, AEnd, BStart, BEnd int64
}

// Len is the match's length.
func (m LCSMatch) Len() int64 { return m.AEnd - m.AStart + 1 }

// LCSResult is the longest common subsequence of two strings.
type LCSResult struct {
	Len int64
	// Seq is the subsequence itself (when asked for).
	Seq []byte
	// Matches are its ranges, from the end of the strings to their start, as Redis lists them
	// (when asked for), without those shorter than the minimum match length.
	Matches []LCSMatch
}

// LCS computes the longest common subsequence of a and b as Redis 7.0's LCS command does: the
// dynamic-programming table of prefix LCS lengths, then a walk back from its corner that
// prefers to drop a byte of b on ties, so the subsequence and ranges are Redis's own. The
// table is refused when it would take more than maxTable bytes at Redis's 4 bytes per cell
// (proto-max-bulk-len). wantSeq asks for the subsequence, wantMatches for the ranges of at
// least minMatchLen bytes.
func LCS(a, b []byte, maxTable int64, wantSeq, wantMatches bool, minMatchLen int64) (*LCSResult, error) {
	if int64(len(a)) >= math.MaxUint32-1 || int64(len(b)) >= math.MaxUint32-1 {
		return nil, ErrLCSTooLong
	}
	cells := uint64(len(a)+1) * uint64(len(b)+1)
	if cells > math.MaxUint64/4 || cells*4 > uint64(max(maxTable, 0)) {
		return nil, ErrLCSTableSize
	}
	// Lengths never exceed the shorter string, so a narrower cell does when it is short.
	if min(len(a), len(b)) <= math.MaxUint16 {
		return lcsWalk(newLCSTable[uint16](a, b), a, b, wantSeq, wantMatches, minMatchLen), nil
	}
	return lcsWalk(newLCSTable[uint32](a, b), a, b, wantSeq, wantMatches, minMatchLen), nil
}

// lcsTable holds at (i, j) the LCS length of a[:i] and b[:j].
type lcsTable[T uint16 | uint32] struct {
	cells []T
	width int
}

func (l *lcsTable[T]) at(i, j int) T { return l.cells[i*l.width+j] }

func newLCSTable[T uint16 | uint32](a, b []byte) *lcsTable[T] {
	w := len(b) + 1
	l := &lcsTable[T]{cells: make([]T, (len(a)+1)*w), width: w}
	for i := 1; i <= len(a); i++ {
		row, prev := l.cells[i*w:(i+1)*w], l.cells[(i-1)*w:i*w]
		ai := a[i-1]
		for j := 1; j <= len(b); j++ {
			switch {
			case ai == b[j-1]:
				row[j] = prev[j-1] + 1
			case prev[j] > row[j-1]:
				row[j] = prev[j]
			default:
				row[j] = row[j-1]
			}
		}
	}
	return l
}

func lcsWalk[T uint16 | uint32](l *lcsTable[T], a, b []byte, wantSeq, wantMatches bool, minMatchLen int64) *LCSResult {
	res := &LCSResult{Len: int64(l.at(len(a), len(b)))}
	if !wantSeq && !wantMatches {
		return res
	}
	seq := make([]byte, res.Len)
	k := res.Len
	var cur LCSMatch
	inRange := false
	emit := func() {
		if wantMatches && (minMatchLen == 0 || cur.Len() >= minMatchLen) {
			res.Matches = append(res.Matches, cur)
		}
		inRange = false
	}
	i, j := len(a), len(b)
	for i > 0 && j > 0 {
		done := false
		if a[i-1] == b[j-1] {
			k--
			seq[k] = a[i-1]
			switch {
			case !inRange:
				cur = LCSMatch{AStart: int64(i - 1), AEnd: int64(i - 1), BStart: int64(j - 1), BEnd: int64(j - 1)}
				inRange = true
			case cur.AStart == int64(i) && cur.BStart == int64(j):
				cur.AStart--
				cur.BStart--
			default:
				// Not contiguous with the range so far (Redis never gets here: a mismatch
				// step always closes the range first); like Redis, close it.
				done = true
			}
			// A range that reached the start of either string cannot grow.
			done = done || cur.AStart == 0 || cur.BStart == 0
			i--
			j--
		} else {
			if l.at(i-1, j) > l.at(i, j-1) {
				i--
			} else {
				j--
			}
			done = inRange
		}
		if done && inRange {
			emit()
		}
	}
	if wantSeq {
		res.Seq = seq
	}
	return res
}
