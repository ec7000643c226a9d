package bzip2w

import "math"

// This file sorts suffixes with SA-IS (Nong, Zhang and Chen, "Two
// Efficient Algorithms for Linear Time Suffix Array Construction", 2011),
// the way Ilya Grebnov's libsais does it (github.com/IlyaGrebnov/libsais),
// written for Go: libsais's layouts and naming, scans made of small
// branch-free loops with few bounds checks, and no prefetching (Go has
// none; emulating it with loads cost more than it saved). One level, for
// a text of n symbols:
//
//  1. countAndGatherLMS: one backward scan finds the types of the
//     positions, counts them per symbol and lists the LMS positions.
//  2. layoutPartial, partialLTR, shiftMarks, partialRTL: sort the
//     LMS-substrings by induction from the LMS positions bucketed by first
//     symbol, recognising equal ones as they go.
//  3. nameLMS: if some LMS-substrings are equal, write the reduced string
//     of their names and sort its suffixes (subSorter.sort: the next
//     level, on int32 text, in the memory left over); that sorts the LMS
//     suffixes.
//  4. placeLMS, finalLTR, finalRTL: induce all suffixes from the sorted
//     LMS suffixes.
//
// Two LMS-substrings get the same name when the induction cannot tell them
// apart, which (as in libsais) may also be when they differ only in their
// last symbol, the first of the next LMS-substring, or in running into the
// end of the text. Such names still sort the LMS suffixes: for two suffixes
// whose LMS-substrings share the name, the order is that of the suffixes
// at the next LMS positions, which the reduced string compares next.
// TestSuffixArrayShapes and FuzzSuffixArray check the result against
// prefix doubling.

// mark is the high bit of a suffix array entry, used as a flag.
const mark = math.MinInt32

// b2i is 1 for true and 0 for false (compiled to SETcc, without a branch).
func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// symbol is the type of a text: bytes at the top level, names of
// LMS-substrings in the recursion.
type symbol interface{ ~byte | ~int32 }

// tables are the per-symbol tables of one level of SA-IS, k symbols.
type tables struct {
	// cn holds four pairs per symbol c, at 8c: first the number of
	// positions of each class (see below) holding c at 8c+2·class, then
	// the cursors of the partial induction at 8c+2j and the last name
	// group induced at each at 8c+2j+1 (see layoutPartial).
	cn    []int32
	start []int32 // where the bucket of c starts, then its cursor
	end   []int32 // where it ends, then its cursor
	lms   []int32 // the number of LMS positions holding c
}

// tableSize is the number of int32 the tables of k symbols take.
func tableSize(k int) int { return 11 * k }

func makeTables(ws []int32, k int) tables {
	var t tables
	t.cn, ws = ws[:8*k], ws[8*k:]
	t.start, ws = ws[:k], ws[k:]
	t.end, ws = ws[:k], ws[k:]
	t.lms = ws[:k]
	return t
}

// byteTables is the memory for the tables of byte text, and the count of
// each byte in the text.
type byteTables struct {
	ws    [11 * 256]int32
	count [256]int32
}

// subSorter holds the scratch memory of the recursion.
type subSorter struct {
	spare    []int32 // tables and LMS positions of the levels (see alloc)
	tmp      [512]int32
	oldSpare []int32 // for the old SA-IS (sais_stdlib.go)
}

// saisBytes computes the suffix array of text = ext[1:] into sa (len(sa) ==
// len(text)). Suffixes compare as usual, a proper prefix first. ext[0] may
// be any byte: the scans read it rather than test for position 0. lms must
// have room for len(text)/2 entries.
func saisBytes(ext []byte, sa, lms []int32, b *byteTables, sub *subSorter) {
	text := ext[1:]
	n := len(text)
	if len(sa) != n || len(lms) < n/2 {
		panic("bzip2w: saisBytes: wrong buffer sizes")
	}
	if n < 2 {
		b.count = [256]int32{}
		if n == 1 {
			sa[0] = 0
			b.count[text[0]] = 1
		}
		return
	}
	t := makeTables(b.ws[:], 256)
	cn := (*[8 * 256]int32)(t.cn)
	m := countAndGatherLMS8(text, sa, t)
	for c := range b.count {
		b.count[c] = t.end[c] - t.start[c]
	}
	if m > 1 {
		// Keep the LMS positions, which the layout overwrites, for
		// mapping the suffix array of the reduced string back.
		lms = lms[:m]
		copy(lms, sa[n-m:])
		left, f := layoutPartial(text, sa, m, t)
		d := startPartial(text, sa, t)
		d = partialLTR8(ext, sa[:left], sa, cn, d)
		shiftMarks(sa, left, t)
		partialRTL8(ext, sa[left+1:n-f], sa, cn, d)
		if k := nameLMS(sa, m); k < m {
			sub.sort(sa, m, k, 0)
			for i, j := range sa[:m] {
				sa[i] = lms[j]
			}
		}
	} else if m == 1 {
		sa[0] = sa[n-1]
	}
	placeLMS(sa, m, t)
	finalLTR8(ext, sa, (*[256]int32)(t.start))
	finalRTL8(ext, sa, (*[256]int32)(t.end))
}

// saisInts computes the suffix array of text = ext[1:], whose symbols are
// in [0, k) (k = len(t.start)), into sa, as saisBytes does. The tables of
// the recursion go to the middle of sa if there is room, else to
// sub.spare[top:].
func saisInts(ext []int32, sa []int32, t tables, sub *subSorter, top int) {
	text := ext[1:]
	n := len(text)
	if n < 2 {
		if n == 1 {
			sa[0] = 0
		}
		return
	}
	m := countAndGatherLMS32(text, sa, t)
	if m > 1 {
		lms := sub.alloc(top, m)
		copy(lms, sa[n-m:])
		left, f := layoutPartial(text, sa, m, t)
		d := startPartial(text, sa, t)
		d = partialLTR32(ext, sa[:left], sa, t.cn, d)
		shiftMarks(sa, left, t)
		partialRTL32(ext, sa[left+1:n-f], sa, t.cn, d)
		if k := nameLMS(sa, m); k < m {
			sub.sort(sa, m, k, top+m)
			for i, j := range sa[:m] {
				sa[i] = lms[j]
			}
		}
	} else if m == 1 {
		sa[0] = sa[n-1]
	}
	placeLMS(sa, m, t)
	finalLTR32(ext, sa, t.start)
	finalRTL32(ext, sa, t.end)
}

// sort computes the suffix array of the reduced string sa[len(sa)-m:]
// (symbols in [0, k)) into sa[:m]. Its tables go to the free middle of sa
// if they fit, else to s.spare[top:] if they are not much larger than the
// string; failing that, the old SA-IS of sais_stdlib.go, which needs less
// memory, does the job.
func (s *subSorter) sort(sa []int32, m, k, top int) {
	n := len(sa)
	// The entry before the string is its ext[0], not free.
	ext, free := sa[n-m-1:], sa[m:n-m-1]
	need := tableSize(k)
	var ws []int32
	switch {
	case need <= len(free):
		ws = free[:need]
	case need <= max(4*m, 1<<14):
		ws = s.alloc(top, need)
		top += need
	default:
		recurse_32(sa, s.tmp[:], m, k, &s.oldSpare)
		return
	}
	saisInts(ext, sa[:m], makeTables(ws, k), s, top)
}

// alloc returns s.spare[top:top+n], growing s.spare if needed. The levels
// of the recursion stack their tables and lists of LMS positions there,
// each level above top. Growing leaves the levels above with the memory
// they have, and the next block gets the larger slice.
func (s *subSorter) alloc(top, n int) []int32 {
	if top+n > len(s.spare) {
		s.spare = make([]int32, max(top+n, 2*len(s.spare), 1<<14))
	}
	return s.spare[top : top+n]
}

// Positions are L-type or S-type, as in SA-IS: position i is S-type if the
// suffix at i is smaller than the suffix at i+1, that is if text[i] <
// text[i+1], or if they are equal and i+1 is S-type; the last position is
// L-type (the empty suffix after it is the smallest). An LMS position is an
// S-type position after an L-type one. The class of a position combines
// its type and its predecessor's (position 0 counts as preceded by S):
//
//	0: S after S
//	1: S after L (LMS)
//	2: L after S
//	3: L after L
//
// Each step of the type scans below is branch-free: with t1 = 1 if i+1 is
// L-type, i is L-type exactly when text[i]+t1 > text[i+1].

// countAndGatherLMS32 counts the positions of each class per symbol into
// t.cn, sets the bucket bounds t.start and t.end and the counts t.lms,
// and writes the LMS positions, ascending, to the end of sa. It returns
// their number.
func countAndGatherLMS32(text []int32, sa []int32, t tables) int {
	cnt := t.cn
	clear(cnt)
	n := len(text)
	w := n - 1
	c1, t1 := int(text[n-1]), 1
	for i := n - 2; i >= 0; i-- {
		c0 := int(text[i])
		t0 := b2i(c0+t1 > c1)
		cnt[c1<<3|t1<<2|t0<<1]++
		// i+1 is LMS if t1 == 0 and t0 == 1; write it anyway and keep it
		// by moving the cursor.
		sa[w] = int32(i + 1)
		w -= t0 &^ t1
		c1, t1 = c0, t0
	}
	cnt[c1<<3|t1<<2]++
	setBuckets(t)
	return n - 1 - w
}

// countAndGatherLMS8 is countAndGatherLMS32 for byte text, whose table has
// a fixed size: the compiler leaves out the bounds checks.
func countAndGatherLMS8(text []byte, sa []int32, t tables) int {
	cnt := (*[8 * 256]int32)(t.cn)
	clear(cnt[:])
	n := len(text)
	w := n - 1
	c1, t1 := int(text[n-1]), 1
	for i := n - 2; i >= 0; i-- {
		c0 := int(text[i])
		t0 := b2i(c0+t1 > c1)
		cnt[(c1<<3|t1<<2|t0<<1)&(8*256-1)]++
		sa[w] = int32(i + 1)
		w -= t0 &^ t1
		c1, t1 = c0, t0
	}
	cnt[(c1<<3|t1<<2)&(8*256-1)]++
	setBuckets(t)
	return n - 1 - w
}

// setBuckets sets t.start, t.end and t.lms from the counts in t.cn.
func setBuckets(t tables) {
	sum := int32(0)
	for c := range t.start {
		cnt := t.cn[c<<3 : c<<3+8]
		t.start[c] = sum
		sum += cnt[0] + cnt[2] + cnt[4] + cnt[6]
		t.end[c] = sum
		t.lms[c] = cnt[2]
	}
}

// The LMS-substrings are sorted by inducing them from the LMS positions
// bucketed by first symbol, with a compact layout (libsais's) that makes
// every entry a scan reads one to induce from, so that no scan tests for
// empty slots. Region A holds, per symbol c, the L-type positions after an
// L-type one, then the LMS positions (seeds, placed at the end); the
// left-to-right scan reads region A and induces L-type positions at
// cursors 0 (in B) and 1 (in A) of their symbol. Region B, after a gap of
// one entry that keeps the sorted LMS-substrings, written to sa[:m] by the
// right-to-left scan, off B, holds per symbol c the L-type positions after
// an S-type one, then the S-type positions after an S-type one; the
// right-to-left scan reads region B and induces S-type positions at
// cursors 2 (in B, from the end) and 3 (the sorted LMS-substrings, from
// the end). Cursor j of c is t.cn[8c+2j]. The positions up to the first
// LMS position f belong to no LMS-substring and are left out (f itself is
// not a seed of region A, but is sorted with the other LMS-substrings).
//
// Equal substrings are recognised while inducing (Nong, Zhang and Chen's
// naming, as libsais does it): entries induced at one cursor from the same
// group of equal entries get the same group; a mark starts a new group in
// scan order, and d counts the groups. The last group induced at cursor j
// of c is t.cn[8c+2j+1].

// layoutPartial sets up the layout for sorting the LMS-substrings of text
// (m > 1 LMS positions, gathered at the end of sa): it places the seeds
// and sets the cursors. It returns the size of region A and f.
func layoutPartial[C symbol](text []C, sa []int32, m int, t tables) (left, f int) {
	n := len(text)
	f = int(sa[n-m])
	cnt := t.cn

	// Leave out the positions up to f.
	c0, t0 := int(text[f]), 0
	for i := f - 1; i >= 0; i-- {
		c1, t1 := c0, t0
		c0 = int(text[i])
		t0 = b2i(c0+t1 > c1)
		cnt[c1<<3|t1<<2|t0<<1]--
	}
	cnt[c0<<3|t0<<2]--

	sumA := int32(0)
	for c := range t.start {
		sumA += cnt[c<<3|6] + cnt[c<<3|2]
	}
	sumA, sumB := int32(0), sumA+1
	for c := range t.start {
		cn := cnt[c<<3 : c<<3+8]
		a, b := cn[6]+cn[2], cn[0]+cn[4]
		cn[2] = sumA
		sumA += a
		cn[6] = sumA // end of c's seeds: the radix cursor
		cn[0] = sumB
		sumB += b
		cn[4] = sumB
		cn[1], cn[3], cn[5], cn[7] = 0, 0, 0, 0
	}
	// The seeds, by first symbol, each section from its end. Keeping the
	// current cursor in a register, though consecutive seeds seldom share
	// a section, makes this scatter faster.
	lms := sa[n-m+1 : n]
	cb := int(text[lms[len(lms)-1]])
	b := cnt[cb<<3|6]
	for i := len(lms) - 1; i >= 0; i-- {
		p := lms[i]
		if c := int(text[p]); c != cb {
			cnt[cb<<3|6] = b
			cb = c
			b = cnt[c<<3|6]
		}
		b--
		sa[b] = p
	}
	sumLMS := int32(0)
	for c, k := range t.lms {
		sumLMS += k
		cnt[c<<3|6] = sumLMS
	}
	return int(sumA), f
}

// startPartial starts the left-to-right scan: the empty suffix at n comes
// first, and induces n-1. It returns d.
func startPartial[C symbol](text []C, sa []int32, t tables) int32 {
	n := len(text)
	c, l := int(text[n-1]), b2i(text[n-2] >= text[n-1])
	j := c<<3 | l<<1
	sa[t.cn[j]] = int32(n-1) | mark
	t.cn[j]++
	t.cn[j+1] = 1
	return 1
}

// partialLTR8 is the left-to-right scan of region A (scan, in sa) for byte
// text (= ext[1:]). It returns d.
func partialLTR8(ext []byte, scan, sa []int32, cn *[8 * 256]int32, d int32) int32 {
	for _, p := range scan {
		d += int32(uint32(p) >> 31)
		p &= math.MaxInt32
		// text[p-2], text[p-1]; p-1 is L-type, and so is p-2 if its
		// symbol is not smaller. (Two loads cost less than one 16-bit
		// load from a subslice.)
		c0, c1 := ext[p-1], ext[p]
		c, l := int(c1), b2i(c0 >= c1)
		j := (c<<3 | l<<1) & (8*256 - 2)
		e := cn[j : j+2 : j+2]
		q := e[0]
		sa[q] = (p - 1) | int32(b2i(e[1] != d))<<31
		e[0], e[1] = q+1, d
	}
	return d
}

// partialLTR32 is partialLTR8 for int32 text.
func partialLTR32(ext []int32, scan, sa []int32, cn []int32, d int32) int32 {
	for _, p := range scan {
		d += int32(uint32(p) >> 31)
		p &= math.MaxInt32
		c0, c1 := ext[p-1], ext[p]
		c, l := int(c1), b2i(c0 >= c1)
		j := c<<3 | l<<1
		e := cn[j : j+2 : j+2]
		q := e[0]
		sa[q] = (p - 1) | int32(b2i(e[1] != d))<<31
		e[0], e[1] = q+1, d
	}
	return d
}

// shiftMarks prepares region B for the right-to-left scan, which wants a
// mark on the last entry of each group of its L-type entries rather than
// the first: it shifts the marks down by one within each section.
func shiftMarks(sa []int32, left int, t tables) {
	lo := left + 1
	for c := range t.start {
		s := int32(mark)
		for i := int(t.cn[c<<3]) - 1; i >= lo; i-- {
			p := sa[i]
			q := (p & mark) ^ s
			s ^= q
			sa[i] = p ^ q
		}
		lo = int(t.cn[c<<3|4])
	}
}

// partialRTL8 is the right-to-left scan of region B (scan, in sa) for byte
// text (= ext[1:]).
func partialRTL8(ext []byte, scan, sa []int32, cn *[8 * 256]int32, d int32) {
	for i := len(scan) - 1; i >= 0; i-- {
		p := scan[i]
		d += int32(uint32(p) >> 31)
		p &= math.MaxInt32
		// p-1 is S-type; if p-2 is L-type, p-1 is an LMS position.
		c0, c1 := ext[p-1], ext[p]
		c, l := int(c1), b2i(c0 > c1)
		j := (c<<3 | 4 | l<<1) & (8*256 - 2)
		e := cn[j : j+2 : j+2]
		q := e[0] - 1
		sa[q] = (p - 1) | int32(b2i(e[1] != d))<<31
		e[0], e[1] = q, d
	}
}

// partialRTL32 is partialRTL8 for int32 text.
func partialRTL32(ext []int32, scan, sa []int32, cn []int32, d int32) {
	for i := len(scan) - 1; i >= 0; i-- {
		p := scan[i]
		d += int32(uint32(p) >> 31)
		p &= math.MaxInt32
		c0, c1 := ext[p-1], ext[p]
		c, l := int(c1), b2i(c0 > c1)
		j := c<<3 | 4 | l<<1
		e := cn[j : j+2 : j+2]
		q := e[0] - 1
		sa[q] = (p - 1) | int32(b2i(e[1] != d))<<31
		e[0], e[1] = q, d
	}
}

// nameLMS names the m sorted LMS-substrings in sa[:m] (marked as by the
// partial scans) 0, 1, ... and returns the number of names. If it is less
// than m, it writes the names in text order to sa[n-m:], the reduced
// string; otherwise the order of the LMS-substrings is that of the LMS
// suffixes, and it just clears the marks.
func nameLMS(sa []int32, m int) int {
	n := len(sa)
	// LMS positions are at least two apart: position p's name goes to
	// sa[m+p/2], with a mark that tells it from an empty slot (name 0).
	names := sa[m : m+n/2]
	clear(names)
	k := int32(0)
	for _, p := range sa[:m] {
		names[(p&math.MaxInt32)>>1] = k | mark
		k += int32(uint32(p) >> 31)
	}
	if int(k) == m {
		for i, p := range sa[:m] {
			sa[i] = p & math.MaxInt32
		}
		return m
	}
	w := n - 1
	for i := len(names) - 1; i >= 0; i-- {
		s := names[i]
		sa[w] = s & math.MaxInt32
		w -= int(uint32(s) >> 31)
	}
	return int(k)
}

// placeLMS moves the m sorted LMS suffixes from sa[:m] to the ends of their
// buckets and clears the rest of sa.
func placeLMS(sa []int32, m int, t tables) {
	j := m
	hi := len(sa)
	for c := len(t.end) - 1; c >= 0 && j > 0; c-- {
		k := int(t.lms[c])
		if k == 0 {
			continue
		}
		e := int(t.end[c])
		clear(sa[e:hi])
		copy(sa[e-k:e], sa[j-k:j])
		hi = e - k
		j -= k
	}
	clear(sa[:hi])
}

// The final scans induce the order of all suffixes from the sorted LMS
// suffixes at the ends of their buckets. The left-to-right scan induces
// the L-type predecessors of the positive entries, and the right-to-left
// scan the S-type predecessors of the negative ones; an induced entry is
// marked negative when its predecessor is S-type and the right-to-left
// scan has to induce it. So the left-to-right scan only reads the entries
// it skips. The empty suffix at n comes first and induces n-1.
//
// On repetitive text, most entries induce into the same bucket as the
// entry before (runs in the transform): the cursor of that bucket is kept
// in a register, which saves a store and a load on the critical path.

// finalLTR8 is the left-to-right scan for byte text (= ext[1:]); start
// holds the bucket starts.
func finalLTR8(ext []byte, sa []int32, start *[256]int32) {
	n := len(sa)
	cb := ext[n]
	b := start[cb]
	sa[b] = int32(n-1) | int32(b2i(ext[n-1] < cb))<<31
	b++
	for _, p := range sa {
		if p > 0 {
			c0, c := ext[p-1], ext[p] // text[p-2], text[p-1]
			if c != cb {
				start[cb] = b
				cb = c
				b = start[cb]
			}
			sa[b] = (p - 1) | int32(b2i(c0 < c))<<31
			b++
		}
	}
}

// finalRTL8 is the right-to-left scan for byte text (= ext[1:]); end holds
// the bucket ends.
func finalRTL8(ext []byte, sa []int32, end *[256]int32) {
	cb := byte(0)
	b := end[cb]
	for i := len(sa) - 1; i >= 0; i-- {
		p := sa[i]
		if p < 0 {
			p &= math.MaxInt32
			sa[i] = p
			if p == 0 { // position 0, marked after ext[0]
				continue
			}
			c0, c := ext[p-1], ext[p]
			if c != cb {
				end[cb] = b
				cb = c
				b = end[cb]
			}
			b--
			sa[b] = (p - 1) | int32(b2i(c0 <= c))<<31
		}
	}
}

// finalLTR32 is finalLTR8 for int32 text.
func finalLTR32(ext []int32, sa []int32, start []int32) {
	n := len(sa)
	cb := ext[n]
	b := start[cb]
	sa[b] = int32(n-1) | int32(b2i(ext[n-1] < cb))<<31
	b++
	for _, p := range sa {
		if p > 0 {
			c0, c := ext[p-1], ext[p]
			if c != cb {
				start[cb] = b
				cb = c
				b = start[cb]
			}
			sa[b] = (p - 1) | int32(b2i(c0 < c))<<31
			b++
		}
	}
}

// finalRTL32 is finalRTL8 for int32 text.
func finalRTL32(ext []int32, sa []int32, end []int32) {
	cb := int32(0)
	b := end[cb]
	for i := len(sa) - 1; i >= 0; i-- {
		p := sa[i]
		if p < 0 {
			p &= math.MaxInt32
			sa[i] = p
			if p == 0 {
				continue
			}
			c0, c := ext[p-1], ext[p]
			if c != cb {
				end[cb] = b
				cb = c
				b = end[cb]
			}
			b--
			sa[b] = (p - 1) | int32(b2i(c0 <= c))<<31
		}
	}
}
