package bzip2w

import (
	"bytes"
	"cmp"
	"compress/bzip2"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestCRC(t *testing.T) {
	if got := ^crcUpdate(0xffffffff, []byte("123456789")); got != 0xfc891918 {
		t.Fatalf("CRC-32/BZIP2 of 123456789 = %#08x, want 0xfc891918", got)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	p := make([]byte, 1000)
	for i := range p {
		p[i] = byte(rng.UintN(256))
	}
	slow := uint32(0xffffffff)
	for _, b := range p {
		slow = crcRepeat(slow, b, 1)
	}
	for _, cut := range []int{0, 1, 7, 8, 9, 500, 999, 1000} {
		if got := crcUpdate(crcUpdate(0xffffffff, p[:cut]), p[cut:]); got != slow {
			t.Errorf("split at %d: slicing-by-8 CRC %#08x, byte-wise %#08x", cut, got, slow)
		}
	}
	if a, b := crcRepeat(0xffffffff, 'x', 300), crcUpdate(0xffffffff, bytes.Repeat([]byte("x"), 300)); a != b {
		t.Errorf("crcRepeat %#08x, crcUpdate %#08x", a, b)
	}
}

// naiveRotations sorts the rotations of t by direct comparison.
func naiveRotations(t []byte) []int {
	n := len(t)
	rot := func(i int) []byte { return append(slices.Clone(t[i:]), t[:i]...) }
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return bytes.Compare(rot(a), rot(b)) })
	return idx
}

// inverseBWT undoes the transform the way bzip2 decoders do.
func inverseBWT(l []byte, orig int) []byte {
	var count [256]int
	for _, c := range l {
		count[c]++
	}
	var start [256]int
	sum := 0
	for c := range 256 {
		start[c] = sum
		sum += count[c]
	}
	tt := make([]int, len(l))
	for i, c := range l {
		tt[start[c]] = i
		start[c]++
	}
	out := make([]byte, 0, len(l))
	p := tt[orig]
	for range l {
		out = append(out, l[p])
		p = tt[p]
	}
	return out
}

func checkBWT(t *testing.T, s *bwtScratch, in []byte) {
	t.Helper()
	got := make([]byte, len(in))
	var used [256]bool
	orig := s.bwt(got, in, &used)
	for c := range 256 {
		if used[c] != (bytes.IndexByte(in, byte(c)) >= 0) {
			t.Fatalf("bwt(%q) says byte %#x is used: %v", in, c, used[c])
		}
	}
	idx := naiveRotations(in)
	want := make([]byte, len(in))
	for r, i := range idx {
		want[r] = in[(i+len(in)-1)%len(in)]
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("bwt(%q) = %q, want %q", in, got, want)
	}
	rot := append(slices.Clone(in[idx[orig]:]), in[:idx[orig]]...)
	if !bytes.Equal(rot, in) {
		t.Fatalf("bwt(%q): origin pointer %d is row %q, not the input", in, orig, rot)
	}
	if back := inverseBWT(got, orig); !bytes.Equal(back, in) {
		t.Fatalf("bwt(%q): inverse gives %q", in, back)
	}
	// In place, as the encoder calls it.
	inPlace := slices.Clone(in)
	if o := s.bwt(inPlace, inPlace, &used); o != orig || !bytes.Equal(inPlace, got) {
		t.Fatalf("bwt(%q) in place = %q, %d; want %q, %d", in, inPlace, o, got, orig)
	}
}

func TestBWTMatchesNaive(t *testing.T) {
	var s bwtScratch
	for _, in := range []string{
		"a", "aa", "ab", "ba", "aaaaaaa", "abab", "baba", "abababab", "aab", "aba", "baa",
		"banana", "abracadabra", "mississippi", "abcabcabc", "cabcabcab", "abcabcab",
		"aabaab", "abaaba", "zzzzzzzzzy", "yzzzzzzzzz", "\x00\xff\x00\xff", "\xff\x00\xff",
		"abaabaabaabaaba", "baabaabaabaabaa",
	} {
		checkBWT(t, &s, []byte(in))
	}
	// Every string over {a,b} up to length 12, and over {a,b,c} up to 7:
	// all the periodic and near-periodic shapes.
	for _, alpha := range []string{"ab", "abc"} {
		maxLen := 12
		if len(alpha) == 3 {
			maxLen = 7
		}
		for n := 1; n <= maxLen; n++ {
			total := 1
			for range n {
				total *= len(alpha)
			}
			buf := make([]byte, n)
			for x := range total {
				v := x
				for i := range buf {
					buf[i] = alpha[v%len(alpha)]
					v /= len(alpha)
				}
				checkBWT(t, &s, buf)
			}
		}
	}
	rng := rand.New(rand.NewPCG(2, 3))
	for range 300 {
		n := 1 + rng.IntN(300)
		k := 1 + rng.IntN(4)
		in := make([]byte, n)
		for i := range in {
			in[i] = byte('a' + rng.IntN(k))
		}
		if rng.IntN(3) == 0 { // a power of a random word
			u := in[:1+rng.IntN(min(n, 10))]
			in = bytes.Repeat(u, 1+rng.IntN(20))
		}
		checkBWT(t, &s, in)
	}
}

// smallestPeriod is the least d dividing len(w) with w = (w[:d])^(len(w)/d).
func smallestPeriod(w []byte) int {
	n := len(w)
	for d := 1; d < n; d++ {
		if n%d == 0 && bytes.Equal(w, bytes.Repeat(w[:d], n/d)) {
			return d
		}
	}
	return n
}

func TestLeastRotationAndLyndonRoot(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 5))
	for range 5000 {
		n := 1 + rng.IntN(40)
		in := make([]byte, n)
		for i := range in {
			in[i] = byte('a' + rng.IntN(1+rng.IntN(3)))
		}
		if rng.IntN(2) == 0 {
			in = bytes.Repeat(in[:1+rng.IntN(n)], 1+rng.IntN(5))
			n = len(in)
		}
		k, g := leastRotation(in, slices.Min(in))
		w := append(slices.Clone(in[k:]), in[:k]...)
		for i := range n {
			if r := append(slices.Clone(in[i:]), in[:i]...); bytes.Compare(r, w) < 0 {
				t.Fatalf("leastRotation(%q) = %d (%q), but rotation %d (%q) is smaller", in, k, w, i, r)
			}
		}
		want := smallestPeriod(w)
		if g <= 0 || n%g != 0 || !bytes.Equal(w, bytes.Repeat(w[:g], n/g)) || (g == n) != (want == n) {
			t.Fatalf("leastRotation(%q) gives period %d; the least period is %d", in, g, want)
		}
		if p := lyndonRoot(w[:g]); p != want {
			t.Fatalf("lyndonRoot(%q) = %d, want %d", w[:g], p, want)
		}
	}
	for _, n := range []int{36, 48, 97, 100, 1024, 999} {
		for d := 1; d <= n; d++ {
			if n%d != 0 {
				continue
			}
			u := append(bytes.Repeat([]byte{'a'}, d-1), 'b')
			in := bytes.Repeat(u, n/d)
			k, g := leastRotation(in, 'a')
			if p := lyndonRoot(in[:g]); k%d != 0 || p != d {
				t.Errorf("(a^%d b)^%d: least rotation %d, Lyndon root %d; want a multiple of %d and %d", d-1, n/d, k, p, d, d)
			}
		}
	}
	if p := lyndonRoot([]byte("ba")); p != -1 {
		t.Errorf("lyndonRoot(ba) = %d, want -1 (not a necklace)", p)
	}
}

func TestSuffixArray(t *testing.T) {
	var s bwtScratch
	check := func(name string, in []byte) {
		t.Helper()
		sa := s.sortSuffixes(append([]byte{0}, in...))
		want := make([]int32, len(in))
		for i := range want {
			want[i] = int32(i)
		}
		slices.SortFunc(want, func(a, b int32) int { return bytes.Compare(in[a:], in[b:]) })
		if !slices.Equal(sa, want) {
			t.Fatalf("%s: suffix array differs from a direct sort", name)
		}
	}
	rng := rand.New(rand.NewPCG(6, 7))
	for range 200 {
		in := make([]byte, rng.IntN(2000))
		k := 1 + rng.IntN(256)
		for i := range in {
			in[i] = byte(rng.IntN(k))
		}
		check("random", in)
	}
	// index/suffixarray's "forcealloc" input: more than n/3 distinct
	// LMS-substrings make SA-IS take its spare scratch buffer.
	x := make([]byte, 100000)
	lo, hi := byte(1), byte(255)
	for i := range x {
		if i%2 == 0 {
			x[i] = lo
			continue
		}
		x[i] = hi
		hi--
		if hi <= lo {
			lo++
			if lo == 0 {
				lo = 1
			}
			hi = 255
		}
	}
	check("forcealloc", x)
	if cap(s.sub.oldSpare) == 0 {
		t.Error("forcealloc input did not use the spare scratch buffer")
	}
	check("forcealloc again", x) // with the spare buffer reused
}

// refSuffixArray sorts the suffixes of t by prefix doubling, independently
// of SA-IS.
func refSuffixArray(t []byte) []int32 {
	n := len(t)
	sa := make([]int32, n)
	rank, next := make([]int, n), make([]int, n)
	for i := range sa {
		sa[i] = int32(i)
		rank[i] = int(t[i])
	}
	for k := 1; n > 0; k <<= 1 {
		key := func(i int32) [2]int {
			if int(i)+k < n {
				return [2]int{rank[i], rank[int(i)+k]}
			}
			return [2]int{rank[i], -1} // a proper prefix sorts first
		}
		slices.SortFunc(sa, func(a, b int32) int {
			ka, kb := key(a), key(b)
			return cmp.Or(cmp.Compare(ka[0], kb[0]), cmp.Compare(ka[1], kb[1]))
		})
		next[sa[0]] = 0
		for i := 1; i < n; i++ {
			next[sa[i]] = next[sa[i-1]] + b2i(key(sa[i-1]) != key(sa[i]))
		}
		rank, next = next, rank
		if rank[sa[n-1]] == n-1 {
			break
		}
	}
	return sa
}

// sampleText makes inputs of the shapes that exercise SA-IS: random over
// small and large alphabets, mutated repetitions of a word, runs, and
// copies of earlier pieces (like compressible text).
func sampleText(rng *rand.Rand, n int) []byte {
	k := 1 + rng.IntN(1+rng.IntN(256))
	in := make([]byte, n)
	switch rng.IntN(4) {
	case 0:
		for i := range in {
			in[i] = byte(rng.IntN(k))
		}
	case 1:
		u := make([]byte, 1+rng.IntN(50))
		for i := range u {
			u[i] = byte(rng.IntN(k))
		}
		for i := range in {
			in[i] = u[i%len(u)]
			if rng.IntN(200) == 0 {
				in[i] = byte(rng.IntN(k))
			}
		}
	case 2:
		for i := 0; i < n; {
			c := byte(rng.IntN(k))
			for l := 1 + rng.IntN(30); l > 0 && i < n; l-- {
				in[i] = c
				i++
			}
		}
	case 3:
		for i := 0; i < n; {
			if i > 10 && rng.IntN(3) > 0 {
				src := rng.IntN(i)
				for l := 1 + rng.IntN(100); l > 0 && i < n; l-- {
					in[i] = in[src]
					i++
					src++
				}
			} else {
				in[i] = byte(rng.IntN(k))
				i++
			}
		}
	}
	return in
}

// TestSuffixArrayShapes checks SA-IS against prefix doubling on inputs of
// many shapes and sizes, which take the recursion through its three kinds
// of table memory (the free middle of sa, the spare slice, and the old
// SA-IS of sais_stdlib.go), and on the incident fixtures.
func TestSuffixArrayShapes(t *testing.T) {
	var s bwtScratch
	check := func(name string, in []byte) {
		t.Helper()
		// SA-IS must not depend on what the last block left in its
		// buffers.
		for i := range s.sa[:cap(s.sa)] {
			s.sa[:cap(s.sa)][i] = int32(i*7919) ^ -1
		}
		got := s.sortSuffixes(append([]byte{byte(len(in))}, in...))
		if want := refSuffixArray(in); !slices.Equal(got, want) {
			t.Fatalf("%s (%d bytes): suffix array differs from prefix doubling", name, len(in))
		}
	}
	rng := rand.New(rand.NewPCG(11, 12))
	for range 600 {
		check("sample", sampleText(rng, rng.IntN(1<<uint(1+rng.IntN(13)))))
	}
	for range 3 {
		check("large sample", sampleText(rng, 100000+rng.IntN(100000)))
	}
	if len(s.sub.spare) == 0 || len(s.sub.oldSpare) == 0 {
		t.Errorf("spare tables used: %v, old SA-IS's spare used: %v; want both", len(s.sub.spare) > 0, len(s.sub.oldSpare) > 0)
	}
	err := filepath.WalkDir("../../fixtures/flogfiles", func(path string, d fs.DirEntry, err error) error {
		if err != nil || !strings.HasSuffix(path, ".bz2") {
			return err
		}
		z, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		raw, err := io.ReadAll(bzip2.NewReader(bytes.NewReader(z)))
		if err != nil {
			return err
		}
		check(path, raw)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// FuzzSuffixArray checks SA-IS against prefix doubling.
func FuzzSuffixArray(f *testing.F) {
	rng := rand.New(rand.NewPCG(13, 14))
	for range 20 {
		f.Add(sampleText(rng, rng.IntN(3000)))
	}
	var s bwtScratch
	f.Fuzz(func(t *testing.T, in []byte) {
		got := s.sortSuffixes(append([]byte{0}, in...))
		if want := refSuffixArray(in); !slices.Equal(got, want) {
			t.Fatalf("suffix array of %q differs from prefix doubling", in)
		}
	})
}

// TestMTFRLE2 checks mtfRLE2 against a direct move-to-front and zero-run
// coding, on bytes whose positions in the list are small, medium and large.
func TestMTFRLE2(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	var e encoder
	for range 300 {
		k := 1 + rng.IntN(256)
		in := make([]byte, rng.IntN(3000))
		for i := range in {
			switch {
			case i > 0 && rng.IntN(3) == 0:
				in[i] = in[i-1] // runs
			case i > 20 && rng.IntN(2) == 0:
				in[i] = in[i-1-rng.IntN(20)] // near the front
			default:
				in[i] = byte(rng.IntN(k))
			}
		}
		var used [256]bool
		for _, c := range in {
			used[c] = true
		}
		seq, n := seqOf(&used)
		// Direct coding.
		list := slices.Clone(seq[:n])
		var want []uint16
		var freq [maxAlphaSize]int32
		zeros := 0
		flush := func() {
			if zeros > 0 {
				for z := zeros - 1; ; z = (z - 2) / 2 {
					want = append(want, uint16(z&1))
					if z < 2 {
						break
					}
				}
				zeros = 0
			}
		}
		for _, c := range in {
			j := bytes.IndexByte(list, c)
			if j == 0 {
				zeros++
				continue
			}
			flush()
			copy(list[1:j+1], list[:j])
			list[0] = c
			want = append(want, uint16(j+1))
		}
		flush()
		want = append(want, uint16(n+1))
		for _, v := range want {
			freq[v]++
		}
		if got := e.mtfRLE2(in, &seq, n); !slices.Equal(got, want) || e.mtfFreq != freq {
			t.Fatalf("mtfRLE2 of %d bytes over %d symbols differs from direct coding", len(in), n)
		}
	}
}

func TestMinByte(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	for range 2000 {
		p := make([]byte, 1+rng.IntN(40))
		lo := rng.IntN(256)
		for i := range p {
			p[i] = byte(lo + rng.IntN(256-lo))
		}
		if got, want := minByte(p), slices.Min(p); got != want {
			t.Fatalf("minByte(% x) = %#x, want %#x", p, got, want)
		}
	}
}
