package bzip2w

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"slices"
)

// Symbols of the MTF/RLE2 alphabet: RUNA and RUNB spell zero runs in
// bijective base 2, MTF position j ≥ 1 is symbol j+1, and the end of block
// is nInUse+1, so the alphabet has nInUse+2 symbols.
const (
	runA = 0
	runB = 1
)

// encoder holds everything one block needs beyond its bytes, reused from
// block to block and across Writer.Reset.
type encoder struct {
	bwtScratch
	huff      huffScratch
	mtfv      []uint16 // MTF/RLE2 symbols of the block, EOB last
	selectors []uint8  // table of each group of groupSize symbols
	mtfFreq   [maxAlphaSize]int32
	rfreq     [maxGroups][maxAlphaSize]int32 // symbol counts of each table
	rfreq2    [maxGroups][maxAlphaSize]int32 // half of them, while counting
	lastFreq  [maxGroups][maxAlphaSize]int32 // the counts of the last pass
	lens      [maxGroups][maxAlphaSize]uint8
	codes     [maxGroups][maxAlphaSize]uint32 // code<<5 | length
	cost      [maxAlphaSize]uint64            // lens[t][v] in bits 10t..10t+9
}

// seqOf lists the bytes that used marks, ascending, and their count.
func seqOf(used *[256]bool) (seq [256]byte, n int) {
	for c, u := range used {
		if u {
			seq[n] = byte(c)
			n++
		}
	}
	return seq, n
}

// encodeBlock appends one compressed block to bw: block is the RLE1 output
// (non-empty; it is overwritten) and crc the block CRC of the input bytes
// it came from.
func (e *encoder) encodeBlock(bw *bitWriter, block []byte, crc uint32) {
	var inUse [256]bool
	origPtr := e.bwt(block, block, &inUse)
	seq, nInUse := seqOf(&inUse) // the initial MTF list

	mtfv := e.mtfRLE2(block, &seq, nInUse)
	alphaSize := nInUse + 2
	nGroups := e.makeTables(mtfv, alphaSize)
	selectors := e.selectors

	// Block header: magic (BCD pi), block CRC, "not randomised", origin.
	bw.write(24, 0x314159)
	bw.write(24, 0x265359)
	bw.write(32, crc)
	bw.write(1, 0)
	bw.write(24, uint32(origPtr))

	// Symbol map: which 16-byte ranges are used, then a bitmap of each.
	var used16 uint32
	for i := range 16 {
		for _, u := range inUse[i*16 : i*16+16] {
			if u {
				used16 |= 1 << (15 - i)
				break
			}
		}
	}
	bw.write(16, used16)
	for i := range 16 {
		if used16&(1<<(15-i)) == 0 {
			continue
		}
		var m uint32
		for j, u := range inUse[i*16 : i*16+16] {
			if u {
				m |= 1 << (15 - j)
			}
		}
		bw.write(16, m)
	}

	// Tables and selectors; selectors are MTF coded in unary.
	bw.write(3, uint32(nGroups))
	bw.write(15, uint32(len(selectors)))
	var pos [maxGroups]uint8
	for i := range pos {
		pos[i] = uint8(i)
	}
	for _, s := range selectors {
		j := 0
		for pos[j] != s {
			j++
		}
		copy(pos[1:j+1], pos[:j])
		pos[0] = s
		bw.write(uint(j+1), 1<<(j+1)-2) // j ones, then a zero
	}
	for t := range nGroups {
		lens := &e.lens[t]
		cur := lens[0]
		bw.write(5, uint32(cur))
		for _, l := range lens[:alphaSize] {
			for cur < l {
				bw.write(2, 2)
				cur++
			}
			for cur > l {
				bw.write(2, 3)
				cur--
			}
			bw.write(1, 0)
		}
	}

	// The symbols, table by table.
	for g, s := range selectors {
		codes := &e.codes[s]
		gs := g * groupSize
		for _, v := range mtfv[gs:min(gs+groupSize, len(mtfv))] {
			c := codes[v]
			bw.write(uint(c&31), c>>5)
		}
	}
}

// mtfRLE2 move-to-front codes the transformed block L over the nInUse
// bytes of seq and spells zero runs with RUNA/RUNB, as bzip2's
// generateMTFValues does. It returns the symbols (ending with EOB) and
// leaves their frequencies in e.mtfFreq.
func (e *encoder) mtfRLE2(L []byte, seq *[256]byte, nInUse int) []uint16 {
	if cap(e.mtfv) < len(L)+1 {
		e.mtfv = make([]uint16, len(L)+1, len(L)+1+len(L)/4)
	}
	out := e.mtfv[:len(L)+1]
	freq := &e.mtfFreq
	clear(freq[:])
	list := *seq
	wr := 0
	zPend := 0
	for i := 0; i < len(L); {
		c := L[i]
		if list[0] == c {
			// The transform of repetitive text has long runs: measure
			// this one eight bytes at a time.
			r := runLen(L[i:], c)
			zPend += r
			i += r
			continue
		}
		i++
		if zPend > 0 {
			wr = putRun(out, wr, zPend, freq)
			zPend = 0
		}
		// Move c to the front, shifting the bytes before it down by one.
		// On text c is mostly among the first 16: find and move it with a
		// few operations on the first two 8-byte words of the list (the
		// front in the low byte of the first). Beyond, as on random data,
		// IndexByte and copy (both vectorised) do it.
		const ones, highs = 0x0101010101010101, 0x8080808080808080
		x := uint64(c) * ones
		w0 := binary.LittleEndian.Uint64(list[0:8])
		w1 := binary.LittleEndian.Uint64(list[8:16])
		var j int
		// The lowest byte flagged by the zero-byte test is the first
		// byte equal to c.
		if z := ((w0 ^ x) - ones) &^ (w0 ^ x) & highs; z != 0 {
			b := bits.TrailingZeros64(z) &^ 7 // 8 times c's index
			keep := ^uint64(0) << b << 8      // the bytes after c's
			binary.LittleEndian.PutUint64(list[0:8], (w0<<8|uint64(c))&^keep|w0&keep)
			j = b / 8
		} else if z := ((w1 ^ x) - ones) &^ (w1 ^ x) & highs; z != 0 {
			b := bits.TrailingZeros64(z) &^ 7
			keep := ^uint64(0) << b << 8
			binary.LittleEndian.PutUint64(list[0:8], w0<<8|uint64(c))
			binary.LittleEndian.PutUint64(list[8:16], (w1<<8|w0>>56)&^keep|w1&keep)
			j = 8 + b/8
		} else {
			j = 16 + bytes.IndexByte(list[16:nInUse], c)
			copy(list[1:j+1], list[:j])
			list[0] = c
		}
		out[wr] = uint16(j + 1)
		freq[j+1]++
		wr++
	}
	if zPend > 0 {
		wr = putRun(out, wr, zPend, freq)
	}
	out[wr] = uint16(nInUse + 1)
	freq[nInUse+1]++
	wr++
	return out[:wr]
}

// runLen returns the length of the run of c at the start of p (p[0] == c).
func runLen(p []byte, c byte) int {
	x := uint64(c) * 0x0101010101010101
	i := 1
	for ; i+8 <= len(p); i += 8 {
		if d := binary.LittleEndian.Uint64(p[i:]) ^ x; d != 0 {
			return i + bits.TrailingZeros64(d)/8
		}
	}
	for i < len(p) && p[i] == c {
		i++
	}
	return i
}

// putRun writes a run of n ≥ 1 zeros (repeats of the front byte) as
// bijective base-2 digits, least significant first: RUNA is 1, RUNB is 2.
func putRun(out []uint16, wr, n int, freq *[maxAlphaSize]int32) int {
	n--
	for {
		s := uint16(runA)
		if n&1 != 0 {
			s = runB
		}
		out[wr] = s
		freq[s]++
		wr++
		if n < 2 {
			return wr
		}
		n = (n - 2) / 2
	}
}

// makeTables chooses the number of Huffman tables, the table of each group
// of 50 symbols (e.selectors) and the code lengths and codes of each table,
// the way bzip2's sendMTFValues does: start from tables that each favour a
// band of symbols of about equal total frequency, then numIters times give
// each group the table that codes it shortest and rebuild every table from
// the symbols it got. It returns the number of tables.
func (e *encoder) makeTables(mtfv []uint16, alphaSize int) int {
	nMTF := len(mtfv)
	var nGroups int
	switch {
	case nMTF < 200:
		nGroups = 2
	case nMTF < 600:
		nGroups = 3
	case nMTF < 1200:
		nGroups = 4
	case nMTF < 2400:
		nGroups = 5
	default:
		nGroups = 6
	}

	// Initial tables: table nPart-1 makes symbols gs..ge cheap.
	remF := nMTF
	gs := 0
	for nPart := nGroups; nPart > 0; nPart-- {
		tFreq := remF / nPart
		ge := gs - 1
		aFreq := 0
		for aFreq < tFreq && ge < alphaSize-1 {
			ge++
			aFreq += int(e.mtfFreq[ge])
		}
		if ge > gs && nPart != nGroups && nPart != 1 && (nGroups-nPart)%2 == 1 {
			aFreq -= int(e.mtfFreq[ge])
			ge--
		}
		lens := &e.lens[nPart-1]
		for v := range alphaSize {
			if v >= gs && v <= ge {
				lens[v] = 0
			} else {
				lens[v] = 15
			}
		}
		gs = ge + 1
		remF -= aFreq
	}

	nSel := (nMTF + groupSize - 1) / groupSize
	if cap(e.selectors) < nSel {
		e.selectors = make([]uint8, nSel, nSel+nSel/4)
	}
	selectors := e.selectors[:nSel]
	e.selectors = selectors
	cost := &e.cost
	for it := range numIters {
		for v := range alphaSize {
			var c uint64
			for t := range nGroups {
				c |= uint64(e.lens[t][v]) << (10 * t)
			}
			cost[v] = c
		}
		// The counts of each table are kept in two halves, for the even
		// and odd symbols of the groups: runs of RUNA and RUNB make long
		// chains of increments of one counter, which this halves.
		rfreq := &e.rfreq
		rf2 := &e.rfreq2
		for t := range nGroups {
			rfreq[t], e.lastFreq[t] = e.lastFreq[t], rfreq[t] // keep the last pass's
			clear(rfreq[t][:alphaSize])
			clear(rf2[t][:alphaSize])
		}
		for g := range selectors {
			gs := g * groupSize
			group := mtfv[gs:min(gs+groupSize, nMTF)]
			// At most 50 symbols of at most 17 bits: 10 bits per table.
			// Two sums, of the even and odd symbols, halve the chain of
			// additions.
			var sum, sum2 uint64
			i := 0
			for ; i+1 < len(group); i += 2 {
				sum += cost[group[i]]
				sum2 += cost[group[i+1]]
			}
			if i < len(group) {
				sum += cost[group[i]]
			}
			sum += sum2
			bt, best := 0, sum&1023
			for t := 1; t < nGroups; t++ {
				if c := sum >> (10 * t) & 1023; c < best {
					bt, best = t, c
				}
			}
			selectors[g] = uint8(bt)
			rf, rg := &rfreq[bt], &rf2[bt]
			for i = 0; i+1 < len(group); i += 2 {
				rf[group[i]]++
				rg[group[i+1]]++
			}
			if i < len(group) {
				rf[group[i]]++
			}
		}
		for t := range nGroups {
			f := &rfreq[t]
			for v := range alphaSize {
				f[v] += rf2[t][v]
			}
			// Counts as in the last pass give the same code lengths.
			if it == 0 || !slices.Equal(f[:alphaSize], e.lastFreq[t][:alphaSize]) {
				e.huff.makeCodeLengths(e.lens[t][:], f[:], alphaSize, maxCodeLen)
			}
		}
	}
	for t := range nGroups {
		assignCodes(e.codes[t][:], e.lens[t][:], alphaSize)
	}
	return nGroups
}
