package bzip2w

import "encoding/binary"

// bitWriter packs bits most significant first, as bzip2 does, into buf.
// Whole 32-bit words go to buf as soon as they are complete; up to 31 bits
// wait in acc, so bzip2's unaligned block boundaries need no special case.
type bitWriter struct {
	buf []byte
	acc uint64 // the low n bits are pending output
	n   uint
}

// write appends the low nbits (≤ 32) of v, which must have no higher bits set.
func (b *bitWriter) write(nbits uint, v uint32) {
	b.acc = b.acc<<nbits | uint64(v)
	b.n += nbits
	if b.n >= 32 {
		b.n -= 32
		b.buf = binary.BigEndian.AppendUint32(b.buf, uint32(b.acc>>b.n))
	}
}

// flush pads the pending bits with zeros to a whole byte and moves them to
// buf. Only the end of a stream is byte aligned.
func (b *bitWriter) flush() {
	for b.n >= 8 {
		b.n -= 8
		b.buf = append(b.buf, byte(b.acc>>b.n))
	}
	if b.n > 0 {
		b.buf = append(b.buf, byte(b.acc<<(8-b.n)))
		b.n = 0
	}
	b.acc = 0
}

func (b *bitWriter) reset() {
	b.buf = b.buf[:0]
	b.acc = 0
	b.n = 0
}
