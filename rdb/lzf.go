package rdb

import "math"

// LZF is the compression Redis applies to strings in RDB files (rdbcompression yes). The
// stream is a sequence of tokens, each starting with a control byte:
//
//	000LLLLL                      literal run: the next L+1 bytes (1..32) are copied as is
//	LLLOOOOO OOOOOOOO             back reference, L in 1..6: copy L+2 bytes (3..8) from
//	                              O+1 bytes back in the output (O is 13 bits)
//	111OOOOO LLLLLLLL OOOOOOOO    long back reference: copy L+9 bytes (9..264)
//
// In the file the compressed form is:
//
//	+------+---------------------+-----------------------+------------------+
//	| 0xC3 | compressed length   | uncompressed length   | compressed bytes |
//	|      | (RDB length)        | (RDB length)          |                  |
//	+------+---------------------+-----------------------+------------------+

const (
	lzfMaxLiteral = 32
	lzfMaxOffset  = 1 << 13
	lzfMaxMatch   = 264
	lzfHashBits   = 14
	// lzfMaxExpansion bounds how many output bytes one input byte can stand for: a long
	// back reference turns 3 bytes into 264. An uncompressed length beyond this ratio of
	// the compressed length is corrupt, and is refused before anything is allocated.
	lzfMaxExpansion = 88
)

// lzfDecompress decompresses src into dst, which must have exactly the uncompressed
// length. It returns a detail string when src is malformed.
func lzfDecompress(dst, src []byte) (ok bool, detail string) {
	ip, op := 0, 0
	for ip < len(src) {
		ctrl := int(src[ip])
		ip++
		if ctrl < 32 {
			n := ctrl + 1
			if ip+n > len(src) {
				return false, errorf("literal run of %d bytes overruns the input at byte %d", n, ip)
			}
			if op+n > len(dst) {
				return false, errorf("literal run of %d bytes overruns the %d-byte output", n, len(dst))
			}
			copy(dst[op:], src[ip:ip+n])
			ip += n
			op += n
			continue
		}
		n := ctrl >> 5
		if n == 7 {
			if ip >= len(src) {
				return false, "truncated back reference"
			}
			n += int(src[ip])
			ip++
		}
		if ip >= len(src) {
			return false, "truncated back reference"
		}
		ref := op - (ctrl&0x1f)<<8 - 1 - int(src[ip])
		ip++
		n += 2
		if ref < 0 {
			return false, errorf("back reference points %d bytes before the output", -ref)
		}
		if op+n > len(dst) {
			return false, errorf("back reference of %d bytes overruns the %d-byte output", n, len(dst))
		}
		// Byte by byte: the source may overlap the bytes being written.
		for i := 0; i < n; i++ {
			dst[op+i] = dst[ref+i]
		}
		op += n
	}
	if op != len(dst) {
		return false, errorf("decompressed to %d bytes, want %d", op, len(dst))
	}
	return true, ""
}

// lzfCompressor holds the hash table of one compressor; a Writer owns one and reuses it.
// Positions are stored offset by the call's base, so that entries left by earlier calls
// (below the base) read as empty without clearing the 64 KiB table for every string: most
// strings are short, and clearing it cost more than compressing them.
type lzfCompressor struct {
	table [1 << lzfHashBits]int32
	next  int32 // base of the next call; 0 before the first
}

func lzfHash(p []byte) uint32 {
	v := uint32(p[0])<<16 | uint32(p[1])<<8 | uint32(p[2])
	return (v * 2654435761) >> (32 - lzfHashBits)
}

// appendCompressed appends the LZF compression of src to dst, giving up (ok false, dst
// unchanged) when the result would exceed limit bytes.
func (c *lzfCompressor) appendCompressed(dst, src []byte, limit int) (out []byte, ok bool) {
	if c.next == 0 || int64(c.next)+int64(len(src))+1 > math.MaxInt32 {
		clear(c.table[:])
		c.next = 1
	}
	base := c.next
	c.next += int32(len(src)) + 1
	start := len(dst)
	litStart := 0 // start in src of the pending literal run
	flushLiterals := func(end int) bool {
		for litStart < end {
			n := end - litStart
			if n > lzfMaxLiteral {
				n = lzfMaxLiteral
			}
			if len(dst)-start+1+n > limit {
				return false
			}
			dst = append(dst, byte(n-1))
			dst = append(dst, src[litStart:litStart+n]...)
			litStart += n
		}
		return true
	}
	ip := 0
	for ip+2 < len(src) {
		h := lzfHash(src[ip:])
		ref := int(c.table[h] - base)
		c.table[h] = base + int32(ip)
		if ref >= 0 && ip-ref-1 < lzfMaxOffset && src[ref] == src[ip] &&
			src[ref+1] == src[ip+1] && src[ref+2] == src[ip+2] {
			maxLen := len(src) - ip
			if maxLen > lzfMaxMatch {
				maxLen = lzfMaxMatch
			}
			n := 3
			for n < maxLen && src[ref+n] == src[ip+n] {
				n++
			}
			if !flushLiterals(ip) {
				return dst[:start], false
			}
			off := ip - ref - 1
			l := n - 2
			if l < 7 {
				if len(dst)-start+2 > limit {
					return dst[:start], false
				}
				dst = append(dst, byte(l<<5|off>>8), byte(off))
			} else {
				if len(dst)-start+3 > limit {
					return dst[:start], false
				}
				dst = append(dst, byte(7<<5|off>>8), byte(l-7), byte(off))
			}
			// Index the positions inside the match too, so later data can refer to them.
			for k := ip + 1; k < ip+n && k+2 < len(src); k++ {
				c.table[lzfHash(src[k:])] = base + int32(k)
			}
			ip += n
			litStart = ip
			continue
		}
		ip++
	}
	if !flushLiterals(len(src)) {
		return dst[:start], false
	}
	return dst, true
}
