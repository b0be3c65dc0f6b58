package engine

import "encoding/binary"

// murmurHash64A is Austin Appleby's MurmurHash64A as Redis uses it for HyperLogLog: 8-byte
// blocks read little-endian, the tail mixed in byte by byte. Redis's HLL registers depend on
// every bit of it, so that PFADD here builds the same bytes as PFADD there.
func murmurHash64A(key []byte, seed uint64) uint64 {
	const (
		m = 0xc6a4a7935bd1e995
		r = 47
	)
	h := seed ^ (uint64(len(key)) * m)
	for len(key) >= 8 {
		k := binary.LittleEndian.Uint64(key)
		k *= m
		k ^= k >> r
		k *= m
		h ^= k
		h *= m
		key = key[8:]
	}
	if len(key) > 0 {
		for i := len(key) - 1; i >= 0; i-- {
			h ^= uint64(key[i]) << (8 * uint(i))
		}
		h *= m
	}
	h ^= h >> r
	h *= m
	h ^= h >> r
	return h
}
