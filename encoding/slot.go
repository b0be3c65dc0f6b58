package encoding

// SlotCount is the number of Redis Cluster hash slots.
const SlotCount = 16384

// crc16Table is the CRC16-CCITT (XMODEM, polynomial 0x1021) table Redis Cluster uses.
var crc16Table = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i) << 8
		for j := 0; j < 8; j++ {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// CRC16 is the checksum Redis Cluster hashes keys with.
func CRC16(b []byte) uint16 {
	var c uint16
	for _, x := range b {
		c = c<<8 ^ crc16Table[byte(c>>8)^x]
	}
	return c
}

// Slot is the cluster slot of key: CRC16 of the key, or of its hash tag (the bytes between the
// first '{' and the next '}', when not empty), mod 16384.
func Slot(key []byte) uint16 {
	for i, c := range key {
		if c == '{' {
			for j := i + 1; j < len(key); j++ {
				if key[j] == '}' {
					if j > i+1 {
						key = key[i+1 : j]
					}
					return CRC16(key) & (SlotCount - 1)
				}
			}
			break
		}
	}
	return CRC16(key) & (SlotCount - 1)
}
