package bzip2w

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// bzip2's Burrows–Wheeler transform sorts the n cyclic rotations of the
// block, outputs the last byte of each in sorted order and records where
// the unrotated block landed (the origin pointer). The usual way to sort
// rotations with a suffix sorter is to sort the suffixes of the block
// written twice (2n bytes); we sort n bytes instead:
//
//   - Let w = T[k:]+T[:k] be the least rotation of the block T. Then
//     w = u^m for a Lyndon word u (a primitive word strictly smaller than
//     its other rotations). leastRotation finds k in O(n) and tells whether
//     T is primitive (m = 1, u = w); if not, it returns a period g of w
//     dividing n, and lyndonRoot finds |u| = p in w[:g], in O(g).
//   - For a Lyndon word u, the order of its rotations is the order of its
//     suffixes, a proper prefix sorting first (the order suffix arrays use):
//     if suffix j is a proper prefix of suffix i, rotation j continues with
//     u itself and rotation i with another rotation of u, which is larger
//     and, u being primitive, differs within the compared bytes. So the
//     suffix array of u (p entries, SA-IS) is the sorted rotations of u.
//   - Rotation x of w is (rotation x mod p of u)^m, so the sorted rotations
//     of w are the sorted rotations of u, each repeated m times: equal
//     rows, with equal last bytes. Any of the m equal rows holding T is a
//     valid origin pointer (the inverse transform from any of them yields
//     T), and we take the first.
//   - Rotation x of w is rotation (x+k) mod n of T: T itself is rotation
//     (n-k) mod n of w, and the last byte of rotation x of w is
//     u[(x-1) mod p].
//
// TestBWTMatchesNaive checks this against a direct sort of the rotations.

// bwtScratch holds the buffers of the transform, reused between blocks.
type bwtScratch struct {
	root    []byte  // the last byte of u, then the least rotation w = u^m
	sa      []int32 // suffix array of u
	lms     []int32 // the LMS positions of u, for SA-IS
	buckets byteTables
	sub     subSorter
}

// bwt writes the transform of the cyclic block t into dst (len(dst) ==
// len(t) > 0; dst may be t itself), sets used[c] for the bytes c that t
// holds (from the counts SA-IS makes anyway), and returns the origin
// pointer.
func (s *bwtScratch) bwt(dst, t []byte, used *[256]bool) int {
	n := len(t)
	k, p := leastRotation(t, minByte(t))
	// root[1:] is w; root[0] will be the last byte of u, so that the byte
	// before position q of u (cyclically) is root[q].
	s.root = growBytes(s.root, n+1)
	w := s.root[1 : n+1]
	copy(w, t[k:])
	copy(w[n-k:], t[:k])
	if p < n {
		p = lyndonRoot(w[:p])
	}
	m := n / p
	u := w[:p]
	s.root[0] = u[p-1]
	before := s.root[:p]
	sa := s.sortSuffixes(s.root[:p+1])
	for c, k := range s.buckets.count { // u holds the bytes of t
		used[c] = k > 0
	}

	// Row of T: the first copy of rotation ((n-k) mod n) mod p of u.
	x0 := int32(((n - k) % n) % p)
	orig := -1
	if m == 1 {
		dst = dst[:len(sa)]
		for r, q := range sa {
			dst[r] = before[q]
			if q == x0 {
				orig = r
			}
		}
		return orig
	}
	for r, q := range sa {
		c := before[q]
		row := dst[r*m : r*m+m]
		for i := range row {
			row[i] = c
		}
		if q == x0 {
			orig = r * m
		}
	}
	return orig
}

// sortSuffixes returns the suffix array of u = ext[1:] (valid until the
// next call); ext[0] may be any byte.
func (s *bwtScratch) sortSuffixes(ext []byte) []int32 {
	sa, lms := s.buffers(len(ext) - 1)
	saisBytes(ext, sa, lms, &s.buckets, &s.sub)
	return sa
}

// buffers returns the suffix array and LMS list buffers for n bytes, with
// what the last block left in them (SA-IS does not need them cleared).
func (s *bwtScratch) buffers(n int) (sa, lms []int32) {
	if cap(s.sa) < n {
		s.sa = make([]int32, n, n+n/4)
		s.lms = make([]int32, n/2, (n+n/4)/2)
	}
	return s.sa[:n], s.lms[:n/2]
}

// leastRotation returns a k such that t[k:]+t[:k] is the lexicographically
// least rotation of t (len(t) > 0), given the least byte cmin of t, and a
// period of t's rotations: len(t) if t is primitive, else a proper divisor
// g of len(t) with t = (t[:g])^(len(t)/g) (g need not be the least period).
//
// It is the two-pointer minimum-expression algorithm. Candidates i < n and
// j < n are compared over k bytes; on a mismatch at k, if rotation i is the
// larger, so is rotation i+l for each l ≤ k (than rotation j+l), so none of
// i..i+k starts a least rotation, and i moves past them (likewise j).
// Positions not holding cmin cannot start one either and are skipped with
// bytes.IndexByte. Invariant: no position below max(i, j) other than i and
// j starts a least rotation. So when one candidate passes n, the other is
// the only least rotation, and t is primitive (a periodic t has one least
// rotation per period). When k reaches n, rotations i and j are equal, so t
// has the cyclic periods |i-j| and n, hence gcd(|i-j|, n); all positions
// below max(i, j) but i and j are eliminated, which covers a whole period,
// so min(i, j) is a least rotation. Each step advances i, j or k: O(n) byte
// comparisons, equal stretches being skipped eight bytes at a time
// (matchLen).
func leastRotation(t []byte, cmin byte) (k, period int) {
	n := len(t)
	next := func(x int) int { // the first position ≥ x holding cmin, or n
		if x >= n {
			return n
		}
		if d := bytes.IndexByte(t[x:], cmin); d >= 0 {
			return x + d
		}
		return n
	}
	i := next(0)
	j := next(i + 1)
	k = 0
	for i < n && j < n && k < n {
		a, b := i+k, j+k
		if a >= n {
			a -= n
		}
		if b >= n {
			b -= n
		}
		seg := min(n-a, n-b, n-k) // ≥ 1: up to the next wrap or k == n
		l := matchLen(t[a:a+seg], t[b:b+seg])
		k += l
		if l == seg {
			continue
		}
		if t[a+l] > t[b+l] {
			i = next(i + k + 1)
		} else {
			j = next(j + k + 1)
		}
		if i == j {
			j = next(j + 1)
		}
		k = 0
	}
	if k < n {
		return min(i, j), n
	}
	g, d := n, max(i, j)-min(i, j)
	for d != 0 { // g = gcd(n, |i-j|)
		g, d = d, g%d
	}
	return min(i, j), g
}

// lyndonRoot returns the length p of the Lyndon word u with v = u^(len(v)/p)
// for a necklace v (a string no greater than any of its rotations, such as
// a period of a least rotation). It runs the first step of Duval's
// factorisation: the scan keeps v[:j] = u^q u' with |u| = j-k and u' a
// prefix of u, and never stops early on a necklace, every prefix of which
// is a prenecklace; and for a necklace, |u| divides len(v). It returns -1
// if v is not a necklace.
func lyndonRoot(v []byte) int {
	n := len(v)
	k, j := 0, 1
	for j < n {
		switch {
		case v[k] < v[j]:
			k = 0
		case v[k] == v[j]:
			k++
		default:
			return -1
		}
		j++
	}
	return j - k
}

// matchLen returns the length of the common prefix of a and b.
func matchLen(a, b []byte) int {
	n := min(len(a), len(b))
	a, b = a[:n], b[:n]
	i := 0
	for ; i+8 <= n; i += 8 {
		if x := binary.LittleEndian.Uint64(a[i:]) ^ binary.LittleEndian.Uint64(b[i:]); x != 0 {
			return i + bits.TrailingZeros64(x)/8
		}
	}
	for i < n && a[i] == b[i] {
		i++
	}
	return i
}

// minByte returns the least byte of p (len(p) > 0), eight at a time.
func minByte(p []byte) byte {
	const h = 0x8080808080808080
	acc := ^uint64(0)
	for ; len(p) >= 8; p = p[8:] {
		a, b := acc, binary.LittleEndian.Uint64(p)
		// The high bit of each byte of d tells whether the low 7 bits of
		// a's byte are at least b's; ge tells whether a's byte is at
		// least b's, and acc keeps the smaller.
		d := (a | h) - (b &^ h)
		ge := (a&^b | ^(a^b)&d) & h
		acc = a ^ (a^b)&(ge>>7*0xff)
	}
	lo := byte(0xff)
	for i := range 8 {
		lo = min(lo, byte(acc>>(8*i)))
	}
	for _, c := range p {
		lo = min(lo, c)
	}
	return lo
}

// growBytes returns b resliced to length n, reallocated if too small.
func growBytes(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n, n+n/4)
	}
	return b[:n]
}
