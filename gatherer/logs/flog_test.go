package logs

import (
	"bytes"
	"compress/bzip2"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
