package logs

import (
	"bytes"
	"compress/bzip2"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatherer/gatherer/foolscap/banana"
	"github.com/gatherer/gatherer/gatherer/flog/pyjson"
)

// TestPyFlogMatchesPythonGatherer re-encodes a file the Python log gatherer
// wrote and requires identical bytes.
func TestPyFlogMatchesPythonGatherer(t *testing.T) {
	files, _ := filepath.Glob("testdata/python-foolscap-21.7/*.flog.bz2")
	if len(files) == 0 {
		t.Fatal("no reference log gatherer file in testdata")
	}
	for _, p := range files {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		want, err := io.ReadAll(bzip2.NewReader(f))
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitAfter(string(want), "\n")
		var got []byte
		for i, l := range lines[1:] {
			if l == "" {
				continue
			}
			v, err := pyjson.Unmarshal([]byte(l))
			if err != nil {
				t.Fatal(err)
			}
			d := v.(*banana.Dict)
			var b []byte
			if h, ok := d.Get("header"); ok && i == 0 {
				b, err = PyFlog{}.Preamble(h)
			} else {
				from, _ := d.Get("from")
				rx, _ := d.Get("rx_time")
				ev, _ := d.Get("d")
				b, err = PyFlog{}.EncodeEvent(from.(string), rx.(float64), ev)
			}
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, b...)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: re-encoded bytes differ:\n got  %.400q\n want %.400q", p, got, want)
		}
	}
	if _, err := (PyFlog{}).EncodeEvent("x", 1, banana.NewDict([]byte("k"), 1)); err == nil {
		t.Error("a bytes key encoded; Python's json.dumps refuses it")
	}
}

func TestBytesKeysFromPython2Nodes(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t: time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC), step: time.Second}
	cp := &capture{}
	s, err := New(Options{Dir: dir, Now: c.now, Logger: slog.New(cp)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	node := newFakeNode()
	if err := s.Logport(t.Context(), []byte("py2node"), node); err != nil {
		t.Fatal(err)
	}
	<-node.ready
	for range 2 {
		if err := node.obs.Msg(t.Context(), banana.NewDict([]byte("message"), []byte("hi"), []byte("num"), int64(1))); err != nil {
			t.Fatal(err)
		}
	}
	last, err := s.Close(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(last)
	want := `{"from": "py2node", "rx_time": 1795759201.0, "d": {"message": {"@": "UnJSONable"`
	if !strings.Contains(string(b), want) || strings.Count(string(b), `"from": "py2node"`) != 2 {
		t.Errorf("file:\n%s\nwant lines starting %s", b, want)
	}
	if len(cp.lines) != 1 {
		t.Errorf("log %q, want one warning", cp.lines)
	}
}
