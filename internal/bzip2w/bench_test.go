package bzip2w_test

import (
	"io"
	"testing"

	dsbzip2 "github.com/dsnet/compress/bzip2"

	"github.com/gatherer/gatherer/internal/bzip2w"
)

// BenchmarkCompress compares bzip2w with github.com/dsnet/compress/bzip2
// (what gatherer/flog uses until it switches) at level 9, each either with
// a new Writer per stream or with one Writer Reset per stream (as
// gatherer/incident's writer pool does). Inputs: "incident" is a synthetic
// 200-event incident flogfile (60 KB), "fixtures" the real fixture
// flogfiles end to end (42 KB), text1M a megabyte of prose (two blocks),
// random64k incompressible bytes. On a shared machine, interleave the runs
// (each -count repeats one sub-benchmark back to back), e.g.
//
//	go test -c -o /tmp/bzw.test ./internal/bzip2w
//	for i in 1 2 3 4 5 6 7 8; do /tmp/bzw.test -test.run '^$' -test.bench Compress/incident; done
func BenchmarkCompress(b *testing.B) {
	for _, in := range benchInputs(b) {
		b.Run(in.name+"/bzip2w-new", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in.in)))
			for b.Loop() {
				w, err := bzip2w.NewWriter(io.Discard, 9)
				if err != nil {
					b.Fatal(err)
				}
				compressTo(b, w, in.in)
			}
		})
		b.Run(in.name+"/bzip2w-reset", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in.in)))
			w, err := bzip2w.NewWriter(io.Discard, 9)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				w.Reset(io.Discard)
				compressTo(b, w, in.in)
			}
		})
		b.Run(in.name+"/dsnet-new", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in.in)))
			for b.Loop() {
				w, err := dsbzip2.NewWriter(io.Discard, &dsbzip2.WriterConfig{Level: 9})
				if err != nil {
					b.Fatal(err)
				}
				compressTo(b, w, in.in)
			}
		})
		b.Run(in.name+"/dsnet-reset", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in.in)))
			w, err := dsbzip2.NewWriter(io.Discard, &dsbzip2.WriterConfig{Level: 9})
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if err := w.Reset(io.Discard); err != nil {
					b.Fatal(err)
				}
				compressTo(b, w, in.in)
			}
		})
	}
}

func compressTo(b *testing.B, w io.WriteCloser, p []byte) {
	if _, err := w.Write(p); err != nil {
		b.Fatal(err)
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
}

// TestCompressedSizes logs our sizes next to dsnet's (go test -v -run Sizes).
func TestCompressedSizes(t *testing.T) {
	inputs := map[string][]byte{"incident": realisticFlog(t, 1), "text1M": text(1 << 20), "random64k": randomBytes(9, 64<<10, 256)}
	for _, f := range fixtures(t) {
		inputs[f.name] = f.raw
	}
	for name, in := range inputs {
		ours := len(mustCompress(t, in, 9, 0))
		var ds countWriter
		w, err := dsbzip2.NewWriter(&ds, &dsbzip2.WriterConfig{Level: 9})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(in)
		w.Close()
		t.Logf("%-60s %8d bytes: bzip2w %6d, dsnet %6d (%+.1f%%)", name, len(in), ours, ds.n, 100*float64(ours-ds.n)/float64(ds.n))
		if float64(ours) > 1.03*float64(ds.n) {
			t.Errorf("%s: %d bytes, more than 3%% over dsnet's %d", name, ours, ds.n)
		}
	}
}

type countWriter struct{ n int }

func (c *countWriter) Write(p []byte) (int, error) { c.n += len(p); return len(p), nil }
