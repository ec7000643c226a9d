package incident

import (
	"bytes"
	"compress/bzip2"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatherer/gatherer/foolscap/banana"
	"github.com/gatherer/gatherer/gatherer/flog/pyjson"
	"github.com/gatherer/gatherer/internal/bzip2w"
)

func decompress(t *testing.T, b []byte) []byte {
	t.Helper()
	out, err := io.ReadAll(bzip2.NewReader(bytes.NewReader(b)))
	if err != nil {
		t.Fatalf("decompress: %v", err)
	}
	return out
}

// TestPyFlogMatchesPythonGatherer re-encodes incident files the Python
// incident gatherer stored and requires identical bytes, decompressed and
// compressed, from a new writer each time and from one writer reused file
// after file.
func TestPyFlogMatchesPythonGatherer(t *testing.T) {
	pooled := NewPyFlog(1)
	files, err := filepath.Glob("testdata/python-foolscap-21.7/incident-*.flog.bz2")
	if err != nil || len(files) == 0 {
		t.Fatalf("no reference incident files in testdata (%v)", err)
	}
	for _, p := range files {
		t.Run(filepath.Base(p), func(t *testing.T) {
			raw, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			want := decompress(t, raw)
			lines := strings.Split(strings.TrimSuffix(string(want), "\n"), "\n")
			hv, err := pyjson.Unmarshal([]byte(lines[1]))
			if err != nil {
				t.Fatal(err)
			}
			header, _ := dictGet(hv, "header")
			var events []any
			var from string
			var rx float64
			for _, l := range lines[2:] {
				v, err := pyjson.Unmarshal([]byte(l))
				if err != nil {
					t.Fatal(err)
				}
				d, _ := dictGet(v, "d")
				f, _ := dictGet(v, "from")
				r, _ := dictGet(v, "rx_time")
				from, rx = f.(string), r.(float64)
				events = append(events, d)
			}
			for _, pf := range []PyFlog{{}, pooled, pooled} {
				var buf bytes.Buffer
				if err := pf.WriteIncident(&buf, header, from, rx, events); err != nil {
					t.Fatal(err)
				}
				if got := decompress(t, buf.Bytes()); !bytes.Equal(got, want) {
					t.Errorf("re-encoded incident (pooled %v) differs from Python's:\n got  %.300q\n want %.300q", pf.idle != nil, got, want)
				}
				// internal/bzip2w makes the bytes of bzip2 1.0.8, which
				// Python's bz2 module is: the compressed file is Python's too.
				if !bytes.Equal(buf.Bytes(), raw) {
					t.Errorf("compressed incident (pooled %v): %d bytes differ from Python's %d", pf.idle != nil, buf.Len(), len(raw))
				}
			}
			h2, err := (PyFlog{}).ReadHeader(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			if fingerprint(mustTrigger(t, h2)) != fingerprint(mustTrigger(t, header)) {
				t.Error("ReadHeader gave another trigger")
			}
		})
	}
}

func mustTrigger(t *testing.T, h any) any {
	t.Helper()
	trig, ok := dictGet(h, "trigger")
	if !ok {
		t.Fatal("no trigger in header")
	}
	return trig
}

// TestStoredFileReadByFlogtool gathers an incident with the default writer
// and has python-foolscap's flogtool dump it.
func TestStoredFileReadByFlogtool(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import foolscap").Run(); err != nil {
		t.Skip("skipping: /usr/bin/python3 cannot import foolscap (install python3-foolscap)")
	}
	h := newHarness(t)
	s, err := New(Options{Dir: h.dir, Logger: nil})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	node := newFakeNode(tubA)
	trig := banana.NewDict("format", "%(label)s-weird happened: caf\u00e9 \U0001F600", "incarnation", banana.Tuple{"e2f51a603e652575", nil},
		"label", "first", "level", int64(30), "num", int64(31), "time", 1795759717.1268744, "umid", "Ab12Cd")
	node.add(inc1, trig)
	rec := newRecorder()
	s.log = slogNew(rec)
	if err := s.Logport(t.Context(), tubA, node); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "classified incidents/", 1)
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	node.wg.Wait()
	out, err := exec.Command("/usr/bin/flogtool", "dump", "--timestamps=utc", filepath.Join(h.dir, relPath(tubA, inc1))).CombinedOutput()
	if err != nil {
		t.Fatalf("flogtool dump failed: %v\n%s", err, out)
	}
	for _, want := range []string{"PID: 4242", "qrrnx55n#1 ", ": e1", "qrrnx55n#2 "} {
		if !strings.Contains(string(out), want) {
			t.Errorf("flogtool dump output lacks %q:\n%s", want, out)
		}
	}
}

// TestReadWhole: ReadWhole gives ReadHeader's header for a whole file, and
// refuses a file whose header reads but whose stream is cut short or whose
// last line is cut in the middle, as an in-place writer killed mid-write
// leaves them.
func TestReadWhole(t *testing.T) {
	var whole bytes.Buffer
	header := banana.NewDict("type", "incident", "trigger", trigger("a", 1))
	events := make([]any, 400)
	for i := range events {
		events[i] = banana.NewDict("message", fmt.Sprintf("event %d of a long enough incident", i), "num", int64(i))
	}
	if err := (PyFlog{}).WriteIncident(&whole, header, tubA, 1.5, events); err != nil {
		t.Fatal(err)
	}
	h, err := (PyFlog{}).ReadWhole(bytes.NewReader(whole.Bytes()))
	if err != nil || fingerprint(mustTrigger(t, h)) != fingerprint(trigger("a", 1)) {
		t.Fatalf("whole file: header %v, error %v", h, err)
	}

	// Lines cut in the middle, but a bzip2 stream of its own: the header
	// reads, the rest does not end a line.
	plain := decompress(t, whole.Bytes())
	var cut bytes.Buffer
	bz, err := bzip2w.NewWriter(&cut, 9)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bz.Write(plain[:len(plain)-10]); err != nil {
		t.Fatal(err)
	}
	if err := bz.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := (PyFlog{}).ReadHeader(bytes.NewReader(cut.Bytes())); err != nil {
		t.Fatalf("ReadHeader of the cut file: %v", err)
	}
	if _, err := (PyFlog{}).ReadWhole(bytes.NewReader(cut.Bytes())); err == nil || !strings.Contains(err.Error(), "middle of a line") {
		t.Errorf("ReadWhole of a file cut mid-line: %v", err)
	}
	// The compressed stream cut short.
	if _, err := (PyFlog{}).ReadWhole(bytes.NewReader(whole.Bytes()[:whole.Len()-20])); err == nil {
		t.Error("ReadWhole accepted a truncated bzip2 stream")
	}
}
