package bzip2w

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"slices"
)

// Compression levels: the level is the block size in units of 100 000
// bytes, as for the bzip2 command and Python's bz2 module (whose default,
// and BZ2File's, is 9).
const (
	BestSpeed          = 1
	BestCompression    = 9
	DefaultCompression = -1 // same as BestCompression
)

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("bzip2w: write to a closed bzip2 stream")

// Writer compresses what is written to it into one bzip2 stream.
// It is not safe for concurrent use.
type Writer struct {
	w        io.Writer
	level    int
	maxBlock int    // RLE1 bytes after which the block is ended
	block    []byte // RLE1 output of the block being filled
	runByte  byte   // byte of the RLE1 run in progress
	runLen   int    // its length, 0 to 255 (0: none yet)
	blockCRC uint32 // CRC register over the block's input bytes
	crc      uint32 // combined stream CRC of the finished blocks
	bw       bitWriter
	enc      encoder
	err      error // first write error, returned from then on
	closed   bool
}

// NewWriter returns a Writer compressing at level (1 to 9, or
// DefaultCompression) to w. Nothing is written to w before the first block
// is complete or Close is called.
func NewWriter(w io.Writer, level int) (*Writer, error) {
	if level == DefaultCompression {
		level = BestCompression
	}
	if level < BestSpeed || level > BestCompression {
		return nil, fmt.Errorf("bzip2w: compression level %d is not between %d and %d", level, BestSpeed, BestCompression)
	}
	z := &Writer{level: level}
	z.Reset(w)
	return z, nil
}

// Reset discards the Writer's state and makes it equivalent to a new one
// writing to w at the same level, keeping its buffers: compressing input of
// similar size again allocates nothing.
func (z *Writer) Reset(w io.Writer) {
	z.w = w
	// As in bzip2 1.0.x, a block ends once its RLE1 bytes reach the level's
	// size less 19; closing the last run may add up to 5 bytes past that.
	z.maxBlock = z.level*100000 - 19
	z.block = z.block[:0]
	z.runLen = 0
	z.blockCRC = 0xffffffff
	z.crc = 0
	z.err = nil
	z.closed = false
	z.bw.reset()
	z.bw.write(24, 'B'<<16|'Z'<<8|'h')
	z.bw.write(8, '0'+uint32(z.level))
}

// Write compresses p. Errors from the underlying writer are returned, and
// returned again by every later call.
func (z *Writer) Write(p []byte) (int, error) {
	if z.err != nil {
		return 0, z.err
	}
	if z.closed {
		return 0, ErrClosed
	}
	total := 0
	for len(p) > 0 {
		oldByte, oldRun := z.runByte, z.runLen
		n := z.rle1(p)
		// The block CRC covers the input bytes that went into the block,
		// which are all bytes consumed except the open run: the last
		// z.runLen of them, which the next block may get (see endBlock).
		if z.runLen != oldRun+n { // the old run was closed
			z.blockCRC = crcRepeat(z.blockCRC, oldByte, oldRun)
			z.blockCRC = crcUpdate(z.blockCRC, p[:n-z.runLen])
		}
		p = p[n:]
		total += n
		if len(z.block) >= z.maxBlock {
			if err := z.endBlock(false); err != nil {
				return total, err
			}
		}
	}
	return total, nil
}

// rle1 run-length codes a prefix of p into the block, as bzip2 does before
// the transform: runs of 4 to 255 equal bytes become the first 4 and a
// count byte of the rest. It stops once the block is full and returns how
// many bytes of p it consumed; the last run stays open (z.runByte,
// z.runLen) and is not yet in the block.
func (z *Writer) rle1(p []byte) int {
	// A closed run of r bytes takes at most 1.25r bytes, and the block
	// overshoots maxBlock by at most one closed run (5 bytes); the loop
	// below also stores 3 bytes for a shorter run.
	need := min(len(z.block)+len(p)+len(p)/4+8, z.maxBlock+8)
	if cap(z.block) < need {
		z.block = slices.Grow(z.block, need-len(z.block))
	}
	blk := z.block[:cap(z.block)]
	w := len(z.block)
	limit := z.maxBlock
	b, run := z.runByte, z.runLen // run 0: b is unset, and c == b starts a run
	i := 0
	for i < len(p) {
		c := p[i]
		i++
		if c == b && run < 255 {
			run++
			continue
		}
		if run < 4 {
			blk[w], blk[w+1], blk[w+2] = b, b, b
			w += run
		} else {
			blk[w], blk[w+1], blk[w+2], blk[w+3], blk[w+4] = b, b, b, b, byte(run-4)
			w += 5
		}
		b, run = c, 1
		if w >= limit {
			break
		}
		// Text seldom has runs of 4: copy the bytes before the next one
		// as they are (not past the end of the block), leaving their last
		// run open.
		q := p[i-1 : min(len(p), i-1+limit-w)]
		if j := run4(q); j > 1 {
			e := j - 1
			for e > 0 && q[e-1] == q[j-1] {
				e--
			}
			w += copy(blk[w:], q[:e])
			b, run = q[e], j-e
			i += j - 1
		}
	}
	z.block = blk[:w]
	z.runByte, z.runLen = b, run
	return i
}

// run4 returns the index of the first run of 4 equal bytes in q, or
// max(len(q)-3, 0) if there is none.
func run4(q []byte) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+11 <= len(q); i += 8 {
		w := q[i : i+11 : i+11]
		x := binary.LittleEndian.Uint64(w)
		// Byte k of d is 0 where q[i+k] == q[i+k+3], which is rare in
		// text: only then test the bytes between.
		d := x ^ binary.LittleEndian.Uint64(w[3:])
		if (d-ones)&^d&highs == 0 {
			continue
		}
		// Now byte k of d is 0 where q[i+k:i+k+4] are equal; the lowest
		// byte flagged by the zero-byte test is the first such k.
		d |= (x ^ binary.LittleEndian.Uint64(w[1:])) | (x ^ binary.LittleEndian.Uint64(w[2:]))
		if z := (d - ones) &^ d & highs; z != 0 {
			return i + bits.TrailingZeros64(z)/8
		}
	}
	for ; i+4 <= len(q); i++ {
		if c := q[i]; q[i+1] == c && q[i+2] == c && q[i+3] == c {
			return i
		}
	}
	return max(len(q)-3, 0)
}

// appendRun appends the RLE1 code of run copies of b.
func appendRun(blk []byte, b byte, run int) []byte {
	if run < 4 {
		for range run {
			blk = append(blk, b)
		}
		return blk
	}
	return append(blk, b, b, b, b, byte(run-4))
}

// endBlock compresses the block if it is not empty and hands the whole
// bytes produced so far to the underlying writer. Like bzip2, it leaves the
// open run for the next block unless this is the last block, so that our
// blocks end where bzip2's do.
func (z *Writer) endBlock(last bool) error {
	if last {
		z.block = appendRun(z.block, z.runByte, z.runLen)
		z.blockCRC = crcRepeat(z.blockCRC, z.runByte, z.runLen)
		z.runLen = 0
	}
	if len(z.block) == 0 {
		return nil
	}
	crc := ^z.blockCRC
	z.crc = (z.crc<<1 | z.crc>>31) ^ crc
	z.enc.encodeBlock(&z.bw, z.block, crc)
	z.block = z.block[:0]
	z.blockCRC = 0xffffffff
	return z.output()
}

// output writes bw's whole bytes to the underlying writer.
func (z *Writer) output() error {
	if len(z.bw.buf) == 0 {
		return nil
	}
	_, err := z.w.Write(z.bw.buf)
	z.bw.buf = z.bw.buf[:0]
	if err != nil {
		z.err = fmt.Errorf("bzip2w: writing compressed data: %w", err)
		return z.err
	}
	return nil
}

// Close compresses the last block and ends the stream (end-of-stream
// marker and combined CRC). It does not close the underlying writer.
// Closing a closed Writer does nothing.
func (z *Writer) Close() error {
	if z.err != nil {
		return z.err
	}
	if z.closed {
		return nil
	}
	z.closed = true
	if err := z.endBlock(true); err != nil {
		return err
	}
	z.bw.write(24, 0x177245) // end of stream: BCD sqrt(pi)
	z.bw.write(24, 0x385090)
	z.bw.write(32, z.crc)
	z.bw.flush()
	return z.output()
}
