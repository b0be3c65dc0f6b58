package rdb

// CRC64 as Redis computes it (src/crc64.c): the "Jones" polynomial 0xad93d23594c935a9,
// reflected input and output, initial value 0 and no final xor. The check value of
// "123456789" is 0xe9c6d914c4b8d9ca. An RDB file (version 5 and later) ends with the CRC of
// every byte before it, stored little-endian; a DUMP payload likewise.
//
// This is a slicing-by-8 table implementation: eight lookups per eight input bytes.

// crc64JonesReflected is the Jones polynomial bit-reversed, as the reflected algorithm
// uses it.
const crc64JonesReflected = 0x95ac9329ac4bc9b5

// crcTables is constant after package initialisation.
var crcTables = makeCRCTables()

func makeCRCTables() *[8][256]uint64 {
	t := new([8][256]uint64)
	for i := 0; i < 256; i++ {
		c := uint64(i)
		for k := 0; k < 8; k++ {
			if c&1 == 1 {
				c = c>>1 ^ crc64JonesReflected
			} else {
				c >>= 1
			}
		}
		t[0][i] = c
	}
	for i := 0; i < 256; i++ {
		c := t[0][i]
		for k := 1; k < 8; k++ {
			c = t[0][c&0xff] ^ c>>8
			t[k][i] = c
		}
	}
	return t
}

// CRC64 returns Redis's crc64 of p continued from crc (start with 0).
func CRC64(crc uint64, p []byte) uint64 {
	t := crcTables
	for len(p) >= 8 {
		crc ^= uint64(p[0]) | uint64(p[1])<<8 | uint64(p[2])<<16 | uint64(p[3])<<24 |
			uint64(p[4])<<32 | uint64(p[5])<<40 | uint64(p[6])<<48 | uint64(p[7])<<56
		crc = t[7][crc&0xff] ^ t[6][crc>>8&0xff] ^ t[5][crc>>16&0xff] ^ t[4][crc>>24&0xff] ^
			t[3][crc>>32&0xff] ^ t[2][crc>>40&0xff] ^ t[1][crc>>48&0xff] ^ t[0][crc>>56]
		p = p[8:]
	}
	for _, b := range p {
		crc = t[0][byte(crc)^b] ^ crc>>8
	}
	return crc
}
