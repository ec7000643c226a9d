package bzip2w

import (
	"bytes"
	"compress/bzip2"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// fixtureBlock is an incident flogfile from the fixtures (13 KB) repeated,
// with a changing byte between copies so that it is not periodic, to
// 54 KB, the size of a typical incident.
func fixtureBlock(b *testing.B) []byte {
	z, err := os.ReadFile(filepath.Join("../../fixtures/flogfiles/incident-gatherer/incidents/qrrnx55najmpo4kcseajcszexvro4qig",
		"incident-2026-11-27--06-08-37Z-dfeow4y.flog.bz2"))
	if err != nil {
		b.Fatal(err)
	}
	raw, err := io.ReadAll(bzip2.NewReader(bytes.NewReader(z)))
	if err != nil {
		b.Fatal(err)
	}
	var in []byte
	for len(in) < 54000 {
		in = append(in, raw...)
		in = append(in, byte(len(in)))
	}
	return in[:54000]
}

// BenchmarkBWT splits the transform into its steps.
func BenchmarkBWT(b *testing.B) {
	in := fixtureBlock(b)
	var s bwtScratch
	dst := make([]byte, len(in))
	b.Run("all", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(in)))
		for b.Loop() {
			var used [256]bool
			s.bwt(dst, in, &used)
		}
	})
	b.Run("leastRotation", func(b *testing.B) {
		b.SetBytes(int64(len(in)))
		for b.Loop() {
			leastRotation(in, slices.Min(in))
		}
	})
	k, _ := leastRotation(in, slices.Min(in))
	w := append(append([]byte{0}, in[k:]...), in[:k]...)
	b.Run("sais", func(b *testing.B) {
		b.SetBytes(int64(len(in)))
		for b.Loop() {
			s.sortSuffixes(w)
		}
	})
}

// BenchmarkMTF times move-to-front on transformed text and random bytes.
func BenchmarkMTF(b *testing.B) {
	inputs := map[string][]byte{"incident": fixtureBlock(b), "random": make([]byte, 64<<10)}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range inputs["random"] {
		inputs["random"][i] = byte(rng.UintN(256))
	}
	for name, in := range inputs {
		var e encoder
		l := make([]byte, len(in))
		var used [256]bool
		e.bwt(l, in, &used)
		seq, n := seqOf(&used)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(l)))
			for b.Loop() {
				e.mtfRLE2(l, &seq, n)
			}
		})
	}
}
