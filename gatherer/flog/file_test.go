package flog

import (
	"bytes"
	"compress/bzip2"
	"context"
	"errors"
	"io"
	"math"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatherer/gatherer/foolscap/banana"
	"github.com/gatherer/gatherer/gatherer/flog/pyjson"
	"github.com/gatherer/gatherer/internal/pyfoolscap"
)

// readAll returns every record of a flogfile.
func readAll(t *testing.T, path string) []*Record {
	t.Helper()
	r, err := Open(path, ReaderOptions{})
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	defer r.Close()
	var recs []*Record
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return recs
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		rec.Raw = bytes.Clone(rec.Raw)
		recs = append(recs, rec)
	}
}

// TestReencodeFixtureLines: every line python-foolscap wrote, decoded with
// pyjson and encoded again, is the same bytes.
func TestReencodeFixtureLines(t *testing.T) {
	for _, f := range fixtureFlogfiles(t) {
		t.Run(f, func(t *testing.T) {
			recs := readAll(t, filepath.Join(fixtureDir, f))
			if len(recs) == 0 {
				t.Fatal("no records")
			}
			for _, rec := range recs {
				got, err := pyjson.Marshal(rec.Value)
				if err != nil {
					t.Fatalf("line %d: Marshal: %v", rec.Line, err)
				}
				if want := bytes.TrimSuffix(rec.Raw, []byte("\n")); !bytes.Equal(got, want) {
					t.Errorf("line %d re-encodes differently:\n got %s\nwant %s", rec.Line, got, want)
				}
			}
		})
	}
}

// decompressed returns a fixture's bytes after bzip2 decompression if its
// name says so.
func decompressed(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !IsCompressedName(path) {
		return b
	}
	out, err := io.ReadAll(bzip2.NewReader(bytes.NewReader(b)))
	if err != nil {
		t.Fatalf("bunzip2 %s: %v", path, err)
	}
	return out
}

// TestCopyThroughWriter: a Reader's raw lines written with WriteRaw give
// back the original file, compressed or not.
func TestCopyThroughWriter(t *testing.T) {
	for _, f := range fixtureFlogfiles(t) {
		t.Run(f, func(t *testing.T) {
			src := filepath.Join(fixtureDir, f)
			var buf bytes.Buffer
			w, err := NewWriter(&buf, WriterOptions{Compress: IsCompressedName(f)})
			if err != nil {
				t.Fatal(err)
			}
			for _, rec := range readAll(t, src) {
				if err := w.WriteRaw(rec.Raw); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			got := buf.Bytes()
			if IsCompressedName(f) {
				if got, err = io.ReadAll(bzip2.NewReader(&buf)); err != nil {
					t.Fatalf("our bzip2 stream does not decompress: %v", err)
				}
			}
			if want := decompressed(t, src); !bytes.Equal(got, want) {
				t.Errorf("copy differs from the original (%d vs %d bytes)", len(got), len(want))
			}
		})
	}
}

// writeSample writes a flogfile with the Writer: a header built like
// flogtool tail's, events of every kind a gatherer meets.
func writeSample(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWriter(f, WriterOptions{Compress: IsCompressedName(path)})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	inc := banana.List{"3d1c2488ab282af8", nil}
	must(w.WriteHeader(NewHeader("incident",
		"trigger", banana.NewDict("incarnation", inc, "level", int64(30), "message", "boom", "num", int64(2), "time", 1795759817.5),
		"versions", banana.NewDict("foolscap", "21.7.0", "twisted", "22.4.0", "my-app", "1.0"),
		"pid", int64(4242))))
	big70, _ := new(big.Int).SetString("1180591620717411303424", 10)
	failure := &banana.Copyable{Class: pyjson.FailureClass, Attrs: []banana.Attr{
		{Name: "type", Value: []byte("builtins.ValueError")}, {Name: "value", Value: []byte("boom")},
		{Name: "traceback", Value: []byte("Traceback (most recent call last):\n  File \"x.py\", line 1, in <module>\nbuiltins.ValueError: boom\n")},
		{Name: "parents", Value: banana.List{[]byte("builtins.ValueError")}},
	}}
	events := []*banana.Dict{
		banana.NewDict("incarnation", inc, "level", int64(20), "message", "caf\u00e9 \u2603 \U0001f600 \x7f", "num", int64(0), "time", 1795759817.860938),
		banana.NewDict("count", int64(3), "format", "count=%(count)d size=%(size)s", "incarnation", inc, "level", int64(23), "num", int64(1), "size", big70, "time", 1795759817.861096),
		banana.NewDict("incarnation", inc, "level", int64(30), "message", "boom", "num", int64(2), "time", 1795759817.5),
		banana.NewDict("failure", failure, "incarnation", inc, "isError", int64(1), "level", int64(28), "message", "", "num", int64(3), "time", 1e9, "why", "while testing"),
		banana.NewDict("args", banana.Tuple{int64(1), "two"}, "incarnation", inc, "level", int64(20), "message", "tuple arg", "num", int64(4), "time", 1795759817.0),
		banana.NewDict("blob", []byte("it's\x00"), "set", banana.FrozenSet{int64(1)}, "incarnation", inc, "level", int64(20), "message", "odd values", "num", int64(5), "time", 1795759818.25),
	}
	for i, ev := range events {
		must(w.WriteEvent("67xgfwcpbiuyd6sviaef4ztfpmnld3a4", 1795759820.125+float64(i), ev))
	}
	// A bytes key fails the whole line, and nothing of it is written.
	var kte *pyjson.KeyTypeError
	if err := w.WriteEvent("x", 1, banana.NewDict([]byte("k"), int64(1))); !errors.As(err, &kte) {
		t.Fatalf("bytes key: error %v, want *pyjson.KeyTypeError", err)
	}
	must(w.Close())
	must(f.Close())
}

// TestFlogtoolReadsOurFiles: the real flogtool dump reads what Writer
// writes (plain and bzip2) and prints what our Dump prints.
func TestFlogtoolReadsOurFiles(t *testing.T) {
	pyfoolscap.Need(t)
	dir := t.TempDir()
	for _, name := range []string{"ours.flog", "ours.flog.bz2"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			writeSample(t, path)
			for _, v := range []struct {
				flags []string
				opts  DumpOptions
			}{
				{flags: []string{"--timestamps=utc", "--rx-time"}, opts: DumpOptions{Timestamps: TimeUTC, RxTime: true}},
				{flags: []string{"--verbose"}, opts: DumpOptions{Verbose: true}},
			} {
				cmd := exec.Command("/usr/bin/flogtool", append(append([]string{"dump"}, v.flags...), path)...)
				cmd.Env = append(os.Environ(), "TZ=UTC")
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				want, err := cmd.Output()
				if err != nil {
					t.Fatalf("flogtool dump %v: %v\n%s", v.flags, err, stderr.String())
				}
				var got bytes.Buffer
				v.opts.Location = time.UTC
				if err := Dump(context.Background(), &got, path, v.opts); err != nil {
					t.Fatal(err)
				}
				if got.String() != string(want) {
					t.Errorf("flogtool dump %v differs from ours:\n%s", v.flags, firstDiff(got.String(), string(want)))
				}
				if !strings.Contains(string(want), "[INCIDENT-TRIGGER]") || !strings.Contains(string(want), " FAILURE:") {
					t.Errorf("flogtool output lacks the trigger or failure lines:\n%s", want)
				}
			}
		})
	}
}

// TestBzip2ToolDecompresses: the system bzip2 accepts our stream.
func TestBzip2ToolDecompresses(t *testing.T) {
	bz, err := exec.LookPath("bzip2")
	if err != nil {
		t.Skip("no bzip2 program on PATH")
	}
	dir := t.TempDir()
	plain, comp := filepath.Join(dir, "a.flog"), filepath.Join(dir, "a.flog.bz2")
	writeSample(t, plain)
	writeSample(t, comp)
	out, err := exec.Command(bz, "-d", "-c", comp).Output()
	if err != nil {
		t.Fatalf("bzip2 -d: %v", err)
	}
	want, err := os.ReadFile(plain)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, want) {
		t.Errorf("bzip2 -d gives %d bytes, the plain file has %d", len(out), len(want))
	}
}

// TestWriterReset: a Writer reused with Reset writes, file after file, the
// same bytes (compressed and plain) as a new Writer does, whatever the file
// before it left behind.
func TestWriterReset(t *testing.T) {
	for _, compress := range []bool{false, true} {
		var reused *Writer
		for _, f := range fixtureFlogfiles(t) {
			recs := readAll(t, filepath.Join(fixtureDir, f))
			write := func(w *Writer) {
				t.Helper()
				for _, rec := range recs {
					if err := w.WriteRaw(rec.Raw); err != nil {
						t.Fatal(err)
					}
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
			}
			var fresh, again bytes.Buffer
			w, err := NewWriter(&fresh, WriterOptions{Compress: compress})
			if err != nil {
				t.Fatal(err)
			}
			write(w)
			if reused == nil {
				reused = w
				continue
			}
			if err := reused.Reset(&again); err != nil {
				t.Fatal(err)
			}
			write(reused)
			if !bytes.Equal(fresh.Bytes(), again.Bytes()) {
				t.Errorf("compress=%v %s: a reset Writer wrote %d bytes, a new one %d", compress, f, again.Len(), fresh.Len())
			}
		}
	}
}

// TestWriteEventBytes: WriteEvent's piecewise encoding gives the bytes of
// the wrapper dict python's gatherer dumps, and writes nothing when the
// event cannot be encoded.
func TestWriteEventBytes(t *testing.T) {
	events := []any{
		banana.NewDict("message", "caf\u00e9", "level", int64(20), "num", int64(0), "time", 1795759817.860938),
		banana.NewDict("args", banana.Tuple{int64(1), "two"}, "nested", banana.List{banana.NewDict("a", nil)}),
		"not a dict", int64(7), nil,
	}
	for _, from := range []string{"67xgfwcpbiuyd6sviaef4ztfpmnld3a4", "caf\u00e9\"\n"} {
		for _, rx := range []float64{1795759820.125, 0, math.Copysign(0, -1), 1e16, 1.5e-7} {
			for _, ev := range events {
				var got, want bytes.Buffer
				w, _ := NewWriter(&got, WriterOptions{})
				if err := w.WriteEvent(from, rx, ev); err != nil {
					t.Fatal(err)
				}
				_ = w.Close()
				w, _ = NewWriter(&want, WriterOptions{})
				if err := w.WriteDoc(banana.NewDict("from", from, "rx_time", rx, "d", ev)); err != nil {
					t.Fatal(err)
				}
				_ = w.Close()
				if got.String() != want.String() {
					t.Errorf("WriteEvent wrote %q, want %q", got.String(), want.String())
				}
			}
		}
	}
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, WriterOptions{})
	if err := w.WriteEvent("x", 1, banana.NewDict([]byte("k"), int64(1))); err == nil {
		t.Fatal("an event with a bytes key was written")
	}
	_ = w.Close()
	if buf.String() != Magic {
		t.Errorf("a failed event left %q", buf.String())
	}
}
