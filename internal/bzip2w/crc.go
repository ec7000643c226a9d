package bzip2w

// bzip2's CRC is CRC-32 with polynomial 0x04c11db7 processed most
// significant bit first (not reflected, unlike hash/crc32's IEEE table),
// initial value 0xffffffff and the result inverted: CRC-32/BZIP2, whose
// check value for "123456789" is 0xfc891918.
const crcPoly = 0x04c11db7

// crcTable is the read-only slicing-by-8 table: crcTable[k][b] is the CRC
// register contribution of byte b followed by k zero bytes.
var crcTable = makeCRCTable()

func makeCRCTable() (t [8][256]uint32) {
	for i := range 256 {
		c := uint32(i) << 24
		for range 8 {
			if c&0x80000000 != 0 {
				c = c<<1 ^ crcPoly
			} else {
				c <<= 1
			}
		}
		t[0][i] = c
	}
	for k := 1; k < 8; k++ {
		for i := range 256 {
			c := t[k-1][i]
			t[k][i] = c<<8 ^ t[0][c>>24]
		}
	}
	return t
}

// crcUpdate feeds p into the CRC register crc (start from 0xffffffff and
// invert at the end).
func crcUpdate(crc uint32, p []byte) uint32 {
	t := &crcTable
	for len(p) >= 8 {
		x := crc ^ (uint32(p[0])<<24 | uint32(p[1])<<16 | uint32(p[2])<<8 | uint32(p[3]))
		crc = t[7][x>>24] ^ t[6][x>>16&0xff] ^ t[5][x>>8&0xff] ^ t[4][x&0xff] ^
			t[3][p[4]] ^ t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]]
		p = p[8:]
	}
	for _, b := range p {
		crc = crc<<8 ^ t[0][byte(crc>>24)^b]
	}
	return crc
}

// crcRepeat feeds n copies of b into the CRC register crc.
func crcRepeat(crc uint32, b byte, n int) uint32 {
	t := &crcTable[0]
	for range n {
		crc = crc<<8 ^ t[byte(crc>>24)^b]
	}
	return crc
}
