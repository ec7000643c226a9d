package flog

import (
	"bufio"
	"encoding/json"
	"os"
	"testing"

	"github.com/gatherer/gatherer/foolscap/banana"
	"github.com/gatherer/gatherer/gatherer/flog/pyjson"
)

// readJSONL reads a golden table written by testdata/pyformat.py, skipping
// its header line.
func readJSONL[T any](t *testing.T, path string) []T {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("golden table missing (run go test -update): %v", err)
	}
	defer f.Close()
	var rows []T
	sc := bufio.NewScanner(f)
	for first := true; sc.Scan(); first = false {
		if first {
			continue
		}
		var r T
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil || len(rows) == 0 {
		t.Fatalf("%s: %d rows, %v", path, len(rows), err)
	}
	return rows
}

func mustDecode(t *testing.T, s string) any {
	t.Helper()
	v, err := pyjson.Unmarshal([]byte(s))
	if err != nil {
		t.Fatalf("decoding %q: %v", s, err)
	}
	return v
}

func TestPercentFormatGolden(t *testing.T) {
	type row struct {
		Format string  `json:"format"`
		Args   string  `json:"args"`
		Tuple  bool    `json:"tuple"`
		Out    *string `json:"out"`
		Error  *string `json:"error"`
	}
	for _, r := range readJSONL[row](t, "testdata/pyformat.jsonl") {
		name := r.Format + " % " + r.Args
		if r.Tuple {
			name += " (tuple)"
		}
		t.Run(name, func(t *testing.T) {
			args := mustDecode(t, r.Args)
			if r.Tuple {
				args = banana.Tuple(args.(banana.List))
			}
			got, err := PercentFormat(r.Format, args)
			if r.Error != nil {
				if err == nil || err.Error() != *r.Error {
					t.Errorf("PercentFormat = %q, %v; Python raised %s", got, err, *r.Error)
				}
				return
			}
			if err != nil || got != *r.Out {
				t.Errorf("PercentFormat = %q, %v; Python: %q", got, err, *r.Out)
			}
		})
	}
}

func TestFormatMessageGolden(t *testing.T) {
	type row struct {
		Event string  `json:"event"`
		Out   *string `json:"out"`
		Error *string `json:"error"`
	}
	for _, r := range readJSONL[row](t, "testdata/message.jsonl") {
		t.Run(r.Event, func(t *testing.T) {
			got, err := FormatMessage(mustDecode(t, r.Event))
			if r.Error != nil {
				if err == nil || err.Error() != *r.Error {
					t.Errorf("FormatMessage = %q, %v; Python raised %s", got, err, *r.Error)
				}
				return
			}
			if err != nil || got != *r.Out {
				t.Errorf("FormatMessage = %q, %v; Python: %q", got, err, *r.Out)
			}
		})
	}
}
