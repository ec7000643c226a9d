package flog

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatherer/gatherer/foolscap/banana"
	"github.com/gatherer/gatherer/gatherer/flog/pyjson"
)

// readBytes reads every record of an in-memory flogfile; it returns the
// records read before the first error and that error (nil at EOF).
func readBytes(data []byte, opts ReaderOptions) ([]*Record, error) {
	r, err := NewReader(bytes.NewReader(data), opts)
	if err != nil {
		return nil, err
	}
	var recs []*Record
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return recs, nil
		}
		if err != nil {
			return recs, err
		}
		rec.Raw = bytes.Clone(rec.Raw)
		recs = append(recs, rec)
	}
}

func TestReader(t *testing.T) {
	line := `{"from": "local", "rx_time": 1.5, "d": {"num": 1}}` + "\n"
	tests := []struct {
		name    string
		data    string
		opts    ReaderOptions
		records int
		wantErr error // matched with errors.Is; nil: none
		anyErr  bool  // some error expected (a *pyjson.DecodeError)
	}{
		{name: "magic only", data: Magic},
		{name: "header and event", data: Magic + sampleHeader + line, records: 2},
		{name: "no final newline", data: Magic + strings.TrimSuffix(line, "\n"), records: 1},
		{name: "empty", data: "", wantErr: ErrBadMagic},
		{name: "short magic", data: Magic[:10], wantErr: ErrBadMagic},
		{name: "wrong magic", data: "# foolscap flogfile v2\n", wantErr: ErrBadMagic},
		{name: "pickle", data: "(dp0\nS'x'\n", wantErr: ErrPickleFile},
		{name: "furl", data: "pb://x@tcp:h:1/y", wantErr: ErrFURLFile},
		{name: "line at limit", data: Magic + line, opts: ReaderOptions{MaxLineSize: len(line)}, records: 1},
		{name: "line limit+1", data: Magic + line, opts: ReaderOptions{MaxLineSize: len(line) - 1}, wantErr: ErrLineTooLong},
		{name: "long line over buffer at limit", data: Magic + `"` + strings.Repeat("x", 200<<10) + `"` + "\n", opts: ReaderOptions{MaxLineSize: 200<<10 + 3}, records: 1},
		{name: "long line over buffer limit+1", data: Magic + `"` + strings.Repeat("x", 200<<10) + `"` + "\n", opts: ReaderOptions{MaxLineSize: 200<<10 + 2}, wantErr: ErrLineTooLong},
		{name: "depth at limit", data: Magic + "[[[1]]]\n", opts: ReaderOptions{MaxDepth: 3}, records: 1},
		{name: "depth limit+1", data: Magic + "[[[[1]]]]\n", opts: ReaderOptions{MaxDepth: 3}, wantErr: pyjson.ErrTooDeep},
		{name: "bad json", data: Magic + line + "{\n", records: 1, anyErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := readBytes([]byte(tt.data), tt.opts)
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error = %v, want %v", err, tt.wantErr)
				}
			case tt.anyErr:
				var de *pyjson.DecodeError
				if !errors.As(err, &de) {
					t.Fatalf("error = %v, want a *pyjson.DecodeError", err)
				}
			case err != nil:
				t.Fatalf("error: %v", err)
			}
			if len(recs) != tt.records {
				t.Fatalf("read %d records, want %d", len(recs), tt.records)
			}
		})
	}
}

// TestReaderStrictPrefixes: every strict prefix of a real flogfile either
// fails or yields a prefix of its records, never more, never a panic.
func TestReaderStrictPrefixes(t *testing.T) {
	data := decompressed(t, filepath.Join(fixtureDir, "log-gatherer/from-2026-11-27--06-10-12Z---to-2026-11-27--06-10-32Z.flog.bz2"))
	full, err := readBytes(data, ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(data); n++ {
		recs, err := readBytes(data[:n], ReaderOptions{})
		if len(recs) > len(full) {
			t.Fatalf("prefix %d: %d records, the whole file has %d", n, len(recs), len(full))
		}
		for i, rec := range recs {
			if i == len(recs)-1 && err == nil && !bytes.HasSuffix(rec.Raw, []byte("\n")) {
				continue // a cut line that still parses (e.g. "12" of "123")
			}
			if !bytes.Equal(rec.Raw, full[i].Raw) {
				t.Fatalf("prefix %d: record %d differs from the whole file's", n, i)
			}
		}
		if n < len(Magic) && !errors.Is(err, ErrBadMagic) {
			t.Fatalf("prefix %d of the magic: error %v, want ErrBadMagic", n, err)
		}
	}
}

// TestWriterReproducesFixtures: decoding every line and writing it again
// with WriteHeader/WriteEvent gives back python-foolscap's bytes.
func TestWriterReproducesFixtures(t *testing.T) {
	for _, f := range fixtureFlogfiles(t) {
		t.Run(f, func(t *testing.T) {
			src := filepath.Join(fixtureDir, f)
			var buf bytes.Buffer
			w, err := NewWriter(&buf, WriterOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, rec := range readAll(t, src) {
				if h, ok := rec.Header(); ok {
					err = w.WriteHeader(h)
				} else {
					d := rec.Dict()
					from, _ := d.Get("from")
					rx, _ := d.Get("rx_time")
					ev, _ := d.Get("d")
					err = w.WriteEvent(from.(string), rx.(float64), ev)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if want := decompressed(t, src); !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("rewritten file differs:\n%s", firstDiff(buf.String(), string(want)))
			}
		})
	}
}

func TestNewHeaderOrder(t *testing.T) {
	h := NewHeader("tail", "versions", banana.NewDict("foolscap", "21.7.0"), "pid", int64(7))
	got, err := pyjson.Marshal(banana.NewDict("header", h))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"header": {"type": "tail", "versions": {"foolscap": "21.7.0"}, "pid": 7}}`; string(got) != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// FuzzReader: no panic and bounded work on any input; every record read
// re-encodes to a document that decodes again.
func FuzzReader(f *testing.F) {
	f.Add([]byte(Magic + sampleHeader + sampleEvent))
	f.Add([]byte(Magic + "{\n" + sampleEvent))
	f.Add([]byte("(dp0\n"))
	f.Add([]byte("pb://x"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data), ReaderOptions{MaxLineSize: 1 << 16, MaxDepth: 64})
		if err != nil {
			return
		}
		for range 1000 {
			rec, err := r.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				if rec == nil {
					return // permanent error
				}
				continue
			}
			out, err := pyjson.Marshal(rec.Value)
			if err != nil {
				t.Fatalf("record %q does not re-encode: %v", rec.Raw, err)
			}
			if _, err := pyjson.Unmarshal(out); err != nil {
				t.Fatalf("re-encoded %q does not decode: %v", out, err)
			}
		}
	})
}

func BenchmarkReader(b *testing.B) {
	data, err := readFileForBench(filepath.Join(fixtureDir, "decompressed/node_logs_incidents_incident-2026-11-27--06-08-37Z-dfeow4y.flog"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := readBytes(data, ReaderOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func readFileForBench(path string) ([]byte, error) {
	return os.ReadFile(path)
}

func BenchmarkDump(b *testing.B) {
	path := filepath.Join(fixtureDir, "node/logs/incidents/incident-2026-11-27--06-08-37Z-dfeow4y.flog.bz2")
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(st.Size())
	for b.Loop() {
		if err := Dump(context.Background(), io.Discard, path, DumpOptions{Verbose: true}); err != nil {
			b.Fatal(err)
		}
	}
}
