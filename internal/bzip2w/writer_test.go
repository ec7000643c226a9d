package bzip2w_test

import (
	"bytes"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatherer/gatherer/gatherer/flog"
	"github.com/gatherer/gatherer/internal/bzip2w"
	"github.com/gatherer/gatherer/internal/loadnode"
)

const fixturesDir = "../../fixtures/flogfiles"

// mustCompress compresses in at level, writing it in pieces of chunk bytes
// (all at once if chunk <= 0).
func mustCompress(tb testing.TB, in []byte, level, chunk int) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w, err := bzip2w.NewWriter(&buf, level)
	if err != nil {
		tb.Fatal(err)
	}
	if chunk <= 0 {
		chunk = max(len(in), 1)
	}
	for p := in; len(p) > 0; {
		n := min(chunk, len(p))
		if m, err := w.Write(p[:n]); err != nil || m != n {
			tb.Fatalf("Write(%d bytes) = %d, %v", n, m, err)
		}
		p = p[n:]
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// mustDecompress decodes data with compress/bzip2.
func mustDecompress(tb testing.TB, data []byte) []byte {
	tb.Helper()
	out, err := io.ReadAll(bzip2.NewReader(bytes.NewReader(data)))
	if err != nil {
		tb.Fatalf("compress/bzip2 rejects our stream: %v", err)
	}
	return out
}

// checkRoundTrip compresses in at level and checks that compress/bzip2
// gives it back; it returns the compressed bytes.
func checkRoundTrip(tb testing.TB, in []byte, level, chunk int) []byte {
	tb.Helper()
	z := mustCompress(tb, in, level, chunk)
	if !bytes.HasPrefix(z, []byte(fmt.Sprintf("BZh%d", level))) {
		tb.Fatalf("stream starts %q, want BZh%d", z[:min(4, len(z))], level)
	}
	if out := mustDecompress(tb, z); !bytes.Equal(out, in) {
		tb.Fatalf("round trip of %d bytes at level %d (chunk %d) gives %d different bytes", len(in), level, chunk, len(out))
	}
	return z
}

// countBlocks counts block headers (the 48-bit magic 0x314159265359 at any
// bit offset) in a bzip2 stream.
func countBlocks(z []byte) int {
	const magic, mask = 0x314159265359, 1<<48 - 1
	var win uint64
	n := 0
	for i, b := range z {
		for bit := 7; bit >= 0; bit-- {
			win = (win<<1 | uint64(b>>bit&1)) & mask
			if win == magic && i*8+(7-bit) >= 47 {
				n++
			}
		}
	}
	return n
}

func randomBytes(seed uint64, n, alphabet int) []byte {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.IntN(alphabet))
	}
	return b
}

// text is English-like prose with varied words (not periodic).
func text(n int) []byte {
	words := strings.Fields("the incident gatherer writes each incident it receives as a bzip2 file " +
		"under a directory named after the tub id of the node that reported it and " +
		"classifies it by the trigger event of the incident foolscap log events carry " +
		"a format string facility level and number")
	rng := rand.New(rand.NewPCG(9, 10))
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(words[rng.IntN(len(words))])
		if rng.IntN(12) == 0 {
			b.WriteString(".\n")
		} else {
			b.WriteByte(' ')
		}
	}
	return b.Bytes()[:n]
}

// realisticFlog is an uncompressed incident flogfile like the ones the
// incident gatherer writes (gatherer/incident's WriteIncident: one from
// and rx_time for all events): the header and 200 events of a synthetic
// incident, about 60 KB.
func realisticFlog(tb testing.TB, seed uint64) []byte {
	tb.Helper()
	incs, err := loadnode.MakeIncidents(loadnode.IncidentSpec{
		Count: 1, Events: 200, Start: time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC), Seed: seed,
	})
	if err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	fw, err := flog.NewWriter(&buf, flog.WriterOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	if err := fw.WriteHeader(incs[0].Header); err != nil {
		tb.Fatal(err)
	}
	for _, ev := range incs[0].Events {
		if err := fw.WriteEvent("qrrnx55najmpo4kcseajcszexvro4qig", 1795772583.25, ev); err != nil {
			tb.Fatal(err)
		}
	}
	if err := fw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

type fixture struct {
	name     string
	raw, bz2 []byte // decompressed contents, and the file as Python wrote it
}

func fixtures(tb testing.TB) []fixture {
	tb.Helper()
	var out []fixture
	err := filepath.WalkDir(fixturesDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".bz2") {
			return err
		}
		z, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		out = append(out, fixture{name: strings.TrimPrefix(path, fixturesDir+"/"), raw: mustDecompress(tb, z), bz2: z})
		return nil
	})
	if err != nil {
		tb.Fatalf("reading fixtures: %v", err)
	}
	if len(out) == 0 {
		tb.Fatalf("no .bz2 fixtures under %s", fixturesDir)
	}
	return out
}

func run(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }

// cases are the inputs of the round-trip and cross-check tests.
func cases(tb testing.TB) []struct {
	name string
	in   []byte
} {
	tb.Helper()
	cs := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"one byte", []byte{'x'}},
		{"one zero byte", []byte{0}},
		{"two bytes", []byte("ab")},
		{"hello", []byte("hello, world\n")},
		{"all byte values", func() []byte {
			b := make([]byte, 256)
			for i := range b {
				b[i] = byte(i)
			}
			return b
		}()},
		{"text 10k", text(10000)},
		{"random 1k", randomBytes(1, 1000, 256)},
		{"random 100k", randomBytes(2, 100000, 256)},
		{"random 4 letters 50k", randomBytes(3, 50000, 4)},
		{"periodic ab", bytes.Repeat([]byte("ab"), 5000)},
		{"periodic abc", bytes.Repeat([]byte("abc"), 3333)},
		{"periodic ab odd", append(bytes.Repeat([]byte("ab"), 5000), 'a')},
		{"periodic aab", bytes.Repeat([]byte("aab"), 1000)},
		{"periodic word", bytes.Repeat([]byte("incident "), 2000)},
		{"periodic runs", bytes.Repeat([]byte("aaaab"), 2000)},
		{"periodic 0 255", bytes.Repeat([]byte{0, 255}, 777)},
		{"near periodic", append(bytes.Repeat([]byte("ab"), 5000), 'c')},
		{"realistic flog", realisticFlog(tb, 1)},
	}
	for _, b := range []byte{'a', 0, 255} {
		for _, n := range []int{2, 3, 4, 5, 6, 8, 9, 254, 255, 256, 257, 258, 259, 260, 510, 511, 1000, 100000} {
			cs = append(cs, struct {
				name string
				in   []byte
			}{fmt.Sprintf("run of %d x %#02x", n, b), run(b, n)})
		}
	}
	cs = append(cs, struct {
		name string
		in   []byte
	}{"runs of every length", func() []byte {
		var b []byte
		for n := 1; n <= 600; n++ {
			b = append(b, run(byte(n), n)...)
		}
		return b
	}()})
	return cs
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range cases(t) {
		t.Run(tc.name, func(t *testing.T) {
			for _, level := range []int{1, 9} {
				checkRoundTrip(t, tc.in, level, 0)
			}
		})
	}
}

func TestEmptyStream(t *testing.T) {
	// What bzip2 writes for empty input: header, end-of-stream magic,
	// combined CRC 0, padding.
	want := []byte{'B', 'Z', 'h', '9', 0x17, 0x72, 0x45, 0x38, 0x50, 0x90, 0, 0, 0, 0}
	if got := mustCompress(t, nil, 9, 0); !bytes.Equal(got, want) {
		t.Fatalf("empty stream = % x, want % x", got, want)
	}
}

func TestFixtures(t *testing.T) {
	for _, f := range fixtures(t) {
		t.Run(f.name, func(t *testing.T) {
			z := checkRoundTrip(t, f.raw, 9, 0)
			// Python's bz2 module is libbzip2 at level 9: same bytes.
			if !bytes.Equal(z, f.bz2) {
				t.Errorf("recompressed %d bytes to %d bytes that differ from Python's %d", len(f.raw), len(z), len(f.bz2))
			}
		})
	}
}

func TestSmallWrites(t *testing.T) {
	inputs := [][]byte{realisticFlog(t, 2), run('q', 1000), bytes.Repeat([]byte("aaaab"), 300), randomBytes(4, 3000, 3)}
	for i, in := range inputs {
		want := checkRoundTrip(t, in, 9, 0)
		for _, chunk := range []int{1, 2, 3, 4, 5, 7, 255, 256, 4096} {
			if got := checkRoundTrip(t, in, 9, chunk); !bytes.Equal(got, want) {
				t.Errorf("input %d: writes of %d bytes give another stream than one write", i, chunk)
			}
		}
	}
}

func TestMultiBlock(t *testing.T) {
	big := bytes.Repeat(text(600000), 4) // 2.4 MB
	tests := []struct {
		name   string
		in     []byte
		level  int
		chunk  int
		blocks int
	}{
		{"level 1 text", big[:350000], 1, 0, 4},
		{"level 1 text, odd writes", big[:350000], 1, 9999, 4},
		{"level 1 exactly one block", big[:99981], 1, 0, 1},
		{"level 1 one byte more", big[:99982], 1, 0, 2},
		{"level 9 text", big, 9, 0, 3},
		{"level 2 random", randomBytes(5, 450000, 256), 2, 65536, 3},
		// A run of 4 equal bytes takes 5 after RLE1: 95 000 input bytes are
		// 114 000 block bytes, too many for one level-1 block.
		{"level 1 RLE1 expansion", bytes.Repeat([]byte("aaaab"), 19000), 1, 0, 2},
		// Runs open when a block fills go to the next block, as in bzip2.
		{"level 1 long runs", func() []byte {
			var b []byte
			for i := 0; len(b) < 2000000; i++ {
				b = append(b, run(byte(i), 1+i%20)...)
			}
			return b
		}(), 1, 777, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			z := checkRoundTrip(t, tc.in, tc.level, tc.chunk)
			n := countBlocks(z)
			if tc.blocks > 0 && n != tc.blocks {
				t.Errorf("%d blocks, want %d", n, tc.blocks)
			}
			if tc.blocks == 0 && n < 2 {
				t.Errorf("%d blocks, want several", n)
			}
		})
	}
}

// TestSameAsBzip2Command checks our output against the bzip2 command byte
// for byte. Our stream should be identical whenever no block is a
// repetition of a shorter string: for those, bzip2 may list equal
// rotations in another order and so pick another origin pointer.
func TestSameAsBzip2Command(t *testing.T) {
	bz, err := exec.LookPath("bzip2")
	if err != nil {
		t.Skip("bzip2 command not found: skipping the byte-for-byte comparison with it")
	}
	inputs := map[string][]byte{
		"realistic flog":  realisticFlog(t, 3),
		"text 1.2M":       text(1200000),
		"random 300k":     randomBytes(6, 300000, 256),
		"random 3 letter": randomBytes(7, 200000, 3),
		"one byte":        {'x'},
		"runs": func() []byte {
			var b []byte
			for i := range 1000 {
				b = append(append(b, run('a', 250+i%13)...), run('b', 1+i%11)...)
			}
			return b
		}(),
		"near periodic": append(bytes.Repeat([]byte("ab"), 5000), 'c'),
		// Runs of every length among text, across many level-1 blocks.
		"text with runs": func() []byte {
			rng := rand.New(rand.NewPCG(15, 16))
			t := text(400000)
			var b []byte
			for len(t) > 0 {
				k := min(len(t), rng.IntN(40))
				b = append(append(b, t[:k]...), run(t[0], rng.IntN(12))...)
				t = t[k:]
			}
			return b
		}(),
	}
	for name, in := range inputs {
		for _, level := range []int{1, 9} {
			cmd := exec.Command(bz, "-c", fmt.Sprintf("-%d", level))
			cmd.Stdin = bytes.NewReader(in)
			want, err := cmd.Output()
			if err != nil {
				t.Fatalf("bzip2 -%d: %v", level, err)
			}
			if got := mustCompress(t, in, level, 0); !bytes.Equal(got, want) {
				t.Errorf("%s, level %d: %d bytes, bzip2 writes %d other bytes", name, level, len(got), len(want))
			}
		}
	}
}

// TestExternalDecoders has Python's bz2 module and bzip2 -t check our
// streams.
func TestExternalDecoders(t *testing.T) {
	dir := t.TempDir()
	var list strings.Builder
	n := 0
	add := func(name string, in []byte, level int) {
		raw := filepath.Join(dir, fmt.Sprintf("%03d.raw", n))
		z := filepath.Join(dir, fmt.Sprintf("%03d.bz2", n))
		n++
		if err := os.WriteFile(raw, in, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(z, mustCompress(t, in, level, 0), 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&list, "%s\t%s\t%s\n", z, raw, name)
	}
	for _, tc := range cases(t) {
		add(tc.name, tc.in, 9)
	}
	for _, f := range fixtures(t) {
		add(f.name, f.raw, 9)
	}
	add("multi-block level 1", text(350000), 1)
	add("RLE1 expansion level 1", bytes.Repeat([]byte("aaaab"), 19000), 1)
	add("periodic multi-block level 1", bytes.Repeat([]byte("abc"), 100000), 1)
	if err := os.WriteFile(filepath.Join(dir, "list"), []byte(list.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("python bz2", func(t *testing.T) {
		py := "/usr/bin/python3"
		if _, err := os.Stat(py); err != nil {
			if py, err = exec.LookPath("python3"); err != nil {
				t.Skip("python3 not found (neither /usr/bin/python3 nor on PATH): skipping the check with Python's bz2.decompress")
			}
		}
		const script = `import bz2, sys
bad = 0
for line in open(sys.argv[1]):
    z, raw, name = line.rstrip("\n").split("\t")
    try:
        ok = bz2.decompress(open(z, "rb").read()) == open(raw, "rb").read()
    except Exception as e:
        print("%s: %s" % (name, e)); bad += 1; continue
    if not ok:
        print("%s: decompresses to other bytes" % name); bad += 1
sys.exit(1 if bad else 0)
`
		out, err := exec.Command(py, "-c", script, filepath.Join(dir, "list")).CombinedOutput()
		if err != nil {
			t.Fatalf("python bz2.decompress: %v\n%s", err, out)
		}
	})
	t.Run("bzip2 -t", func(t *testing.T) {
		bz, err := exec.LookPath("bzip2")
		if err != nil {
			t.Skip("bzip2 command not found: skipping bzip2 -t")
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*.bz2"))
		if out, err := exec.Command(bz, append([]string{"-t"}, files...)...).CombinedOutput(); err != nil {
			t.Fatalf("bzip2 -t: %v\n%s", err, out)
		}
	})
}

func TestResetAllocs(t *testing.T) {
	in := realisticFlog(t, 4)
	other := text(len(in))
	w, err := bzip2w.NewWriter(io.Discard, 9)
	if err != nil {
		t.Fatal(err)
	}
	compress := func(p []byte) {
		w.Reset(io.Discard)
		if _, err := w.Write(p); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	compress(in)
	compress(other)
	if a := testing.AllocsPerRun(20, func() { compress(in); compress(other) }); a != 0 {
		t.Errorf("%.1f allocations per compress after Reset, want 0", a/2)
	}
	// The same holds across blocks of a multi-block stream.
	w2, _ := bzip2w.NewWriter(io.Discard, 1)
	big := text(250000)
	w = w2
	compress(big)
	if a := testing.AllocsPerRun(3, func() { compress(big) }); a != 0 {
		t.Errorf("%.1f allocations per multi-block compress after Reset, want 0", a)
	}

	// Reset really starts a new stream.
	var b1, b2 bytes.Buffer
	w.Reset(&b1)
	w.Write([]byte("half a stream, abandoned"))
	w.Reset(&b2)
	w.Write(in)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if b1.Len() != 0 {
		t.Errorf("an abandoned stream wrote %d bytes before any block was complete", b1.Len())
	}
	if !bytes.Equal(b2.Bytes(), mustCompress(t, in, 1, 0)) {
		t.Error("a reset Writer writes another stream than a new one")
	}
}

type failingWriter struct{ n int }

var errDiskFull = errors.New("disk full")

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errDiskFull
	}
	f.n--
	return len(p), nil
}

func TestErrors(t *testing.T) {
	for _, level := range []int{0, 10, -2} {
		if _, err := bzip2w.NewWriter(io.Discard, level); err == nil {
			t.Errorf("NewWriter at level %d: no error", level)
		}
	}
	if w, err := bzip2w.NewWriter(io.Discard, bzip2w.DefaultCompression); err != nil {
		t.Errorf("NewWriter(DefaultCompression): %v", err)
	} else {
		var buf bytes.Buffer
		w.Reset(&buf)
		w.Close()
		if !bytes.HasPrefix(buf.Bytes(), []byte("BZh9")) {
			t.Errorf("DefaultCompression writes %q, want level 9", buf.Bytes()[:4])
		}
	}

	w, _ := bzip2w.NewWriter(io.Discard, 9)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, bzip2w.ErrClosed) {
		t.Errorf("Write after Close: %v, want ErrClosed", err)
	}

	// A failing destination: the error is wrapped, kept and returned again.
	w, _ = bzip2w.NewWriter(&failingWriter{n: 1}, 1)
	_, err := w.Write(text(300000)) // three blocks: the second write fails
	if !errors.Is(err, errDiskFull) {
		t.Fatalf("Write to a failing writer: %v, want disk full", err)
	}
	if _, err2 := w.Write([]byte("more")); !errors.Is(err2, errDiskFull) {
		t.Errorf("Write after a failure: %v", err2)
	}
	if err2 := w.Close(); !errors.Is(err2, errDiskFull) {
		t.Errorf("Close after a failure: %v", err2)
	}
	if !strings.Contains(err.Error(), "writing compressed data") {
		t.Errorf("error %q does not say what failed", err)
	}
}

// FuzzRoundTrip compresses the input at the given level in writes of chunk
// bytes and checks that compress/bzip2 gives it back and that the stream
// does not depend on how the input was split. With expand, the input is
// read as (byte, run length - 1) pairs, which makes inputs of up to 2 MB
// from 16 KB: several blocks, with runs across block boundaries.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte(""), uint8(9), uint16(0), false)
	f.Add([]byte("a"), uint8(1), uint16(1), false)
	f.Add([]byte("abababababab"), uint8(9), uint16(3), false)
	f.Add(run('a', 300), uint8(1), uint16(0), false)
	f.Add(bytes.Repeat([]byte("aaaab"), 50), uint8(1), uint16(4), false)
	f.Add(text(2000), uint8(9), uint16(100), false)
	f.Add(randomBytes(8, 500, 256), uint8(5), uint16(0), false)
	f.Add(realisticFlog(f, 5)[:4000], uint8(9), uint16(0), false)
	f.Add(randomBytes(9, 2000, 256), uint8(0), uint16(5000), true)
	f.Add(bytes.Repeat([]byte{'a', 3, 'b', 0}, 300), uint8(0), uint16(0), true)
	f.Fuzz(func(t *testing.T, in []byte, level uint8, chunk uint16, expand bool) {
		if expand {
			var b []byte
			for i := 0; i+1 < len(in); i += 2 {
				b = append(b, run(in[i], 1+int(in[i+1]))...)
			}
			in = b
		}
		lvl := 1 + int(level%9)
		z := checkRoundTrip(t, in, lvl, int(chunk))
		if chunk > 0 && int(chunk) < len(in) {
			if whole := mustCompress(t, in, lvl, 0); !bytes.Equal(z, whole) {
				t.Fatalf("writes of %d bytes give another stream than one write", chunk)
			}
		}
	})
}

// benchInputs are incident-sized flog text, synthetic ("incident", 60 KB)
// and real ("fixtures": the fixture flogfiles end to end, 42 KB), and two
// contrasting inputs.
func benchInputs(b *testing.B) []struct {
	name string
	in   []byte
} {
	var real []byte
	for _, f := range fixtures(b) {
		real = append(real, f.raw...)
	}
	return []struct {
		name string
		in   []byte
	}{
		{"incident", realisticFlog(b, 1)},
		{"fixtures", real},
		{"text1M", text(1 << 20)},
		{"random64k", randomBytes(9, 64<<10, 256)},
	}
}
