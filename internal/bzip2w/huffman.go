package bzip2w

const (
	maxAlphaSize = 258 // RUNA, RUNB, 255 MTF positions, EOB
	maxGroups    = 6   // Huffman tables per block
	groupSize    = 50  // symbols coded with one table
	maxCodeLen   = 17  // what bzip2 1.0.x writes; decoders accept up to 20
	numIters     = 4   // table refinement passes, as in bzip2
)

// huffScratch is the working memory of makeCodeLengths, kept on the
// encoder so that building a table does not touch the heap.
type huffScratch struct {
	// heap holds node weights with their node numbers, weight<<32 | node:
	// the sifts compare the weights alone, as bzip2's do through its
	// weight array, but without the indirection.
	heap   [maxAlphaSize + 2]uint64
	weight [maxAlphaSize + 1]uint32 // of the leaves, 1 to alphaSize
	parent [maxAlphaSize * 2]int32
	depth  [maxAlphaSize * 2]int32
}

// makeCodeLengths sets lens[:alphaSize] to Huffman code lengths for freq,
// at most maxLen bits each, as bzip2's BZ2_hbMakeCodeLengths does: every
// symbol gets a code (a zero frequency counts as one), ties are broken by
// depth so trees stay shallow, and if a code is too long all frequencies
// are halved (rounding up) and the tree is rebuilt. A weight is the
// frequency times 256 plus the depth of the subtree.
func (h *huffScratch) makeCodeLengths(lens []uint8, freq []int32, alphaSize, maxLen int) {
	weight, parent, heap := &h.weight, &h.parent, &h.heap
	for i := range alphaSize {
		f := uint32(max(freq[i], 1))
		weight[i+1] = f << 8
	}
	for {
		nNodes := alphaSize
		nHeap := 0
		heap[0], parent[0] = 0, -2 // heap[0] stops upHeap: no weight is below 0
		for i := 1; i <= alphaSize; i++ {
			parent[i] = -1
			nHeap++
			heap[nHeap] = uint64(weight[i])<<32 | uint64(i)
			h.upHeap(nHeap)
		}
		for nHeap > 1 {
			n1 := heap[1]
			heap[1] = heap[nHeap]
			nHeap--
			h.downHeap(1, nHeap)
			n2 := heap[1]
			heap[1] = heap[nHeap]
			nHeap--
			h.downHeap(1, nHeap)
			nNodes++
			parent[uint32(n1)], parent[uint32(n2)] = int32(nNodes), int32(nNodes)
			w1, w2 := uint32(n1>>32), uint32(n2>>32)
			d := max(w1&0xff, w2&0xff)
			w := (w1 &^ 0xff) + (w2 &^ 0xff) | (1 + d)
			parent[nNodes] = -1
			nHeap++
			heap[nHeap] = uint64(w)<<32 | uint64(nNodes)
			h.upHeap(nHeap)
		}
		// Parents are created after their children: one pass from the
		// root down gives every depth.
		h.depth[nNodes] = 0
		tooLong := false
		for i := nNodes - 1; i >= 1; i-- {
			d := h.depth[parent[i]] + 1
			h.depth[i] = d
			if i <= alphaSize {
				if int(d) > maxLen {
					tooLong = true
				} else {
					lens[i-1] = uint8(d)
				}
			}
		}
		if !tooLong {
			return
		}
		for i := 1; i <= alphaSize; i++ {
			j := weight[i] >> 8
			j = 1 + j/2
			weight[i] = j << 8
		}
	}
}

func (h *huffScratch) upHeap(z int) {
	heap := &h.heap
	tmp := heap[z]
	for tmp>>32 < heap[z>>1]>>32 {
		heap[z] = heap[z>>1]
		z >>= 1
	}
	heap[z] = tmp
}

func (h *huffScratch) downHeap(z, nHeap int) {
	heap := &h.heap
	tmp := heap[z]
	for {
		y := z << 1
		if y > nHeap {
			break
		}
		if y < nHeap && heap[y+1]>>32 < heap[y]>>32 {
			y++
		}
		if tmp>>32 < heap[y]>>32 {
			break
		}
		heap[z] = heap[y]
		z = y
	}
	heap[z] = tmp
}

// assignCodes gives canonical codes for lens, the assignment every bzip2
// decoder rebuilds: by increasing length, then by symbol. It returns each
// symbol's code and length packed as code<<5 | length.
func assignCodes(codes []uint32, lens []uint8, alphaSize int) {
	minLen, maxLen := uint8(32), uint8(0)
	for _, l := range lens[:alphaSize] {
		minLen = min(minLen, l)
		maxLen = max(maxLen, l)
	}
	vec := uint32(0)
	for n := minLen; n <= maxLen; n++ {
		for i, l := range lens[:alphaSize] {
			if l == n {
				codes[i] = vec<<5 | uint32(n)
				vec++
			}
		}
		vec <<= 1
	}
}
