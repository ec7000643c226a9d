package pyjson

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"unicode/utf8"

	"github.com/gatherer/gatherer/foolscap/banana"
)

var update = flag.Bool("update", false, "regenerate testdata/*.jsonl with /usr/bin/python3 (python3-foolscap)")

const python = "/usr/bin/python3"

// TestMain regenerates the golden tables from the real Python json module
// before the tests run, when -update is given.
func TestMain(m *testing.M) {
	flag.Parse()
	if *update {
		cmd := exec.Command(python, "testdata/golden.py", "testdata")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "pyjson: regenerating golden tables with %s failed: %v\n", python, err)
			os.Exit(1)
		}
	}
	os.Exit(m.Run())
}

type encodeRow struct {
	Name  string          `json:"name"`
	Value json.RawMessage `json:"value"`
	JSON  *string         `json:"json"`
	Error *string         `json:"error"`
	Repr  *string         `json:"repr"`
}

type decodeRow struct {
	Name  string          `json:"name"`
	Input *string         `json:"input"`
	Hex   *string         `json:"hex"`
	Value json.RawMessage `json:"value"`
	JSON  *string         `json:"json"`
	Repr  *string         `json:"repr"`
	Error *string         `json:"error"`
}

// readGolden reads a JSON-lines golden table, skipping its header line.
func readGolden[T any](t *testing.T, path string) []T {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("golden table missing (run go test -update): %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	var rows []T
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
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		t.Fatalf("%s: no rows", path)
	}
	return rows
}

// build turns a golden.py descriptor into a value of the model.
func build(t *testing.T, raw json.RawMessage) any {
	t.Helper()
	var d []json.RawMessage
	if err := json.Unmarshal(raw, &d); err != nil || len(d) == 0 {
		t.Fatalf("bad descriptor %s", raw)
	}
	var kind string
	mustJSON(t, d[0], &kind)
	arg := func(i int, v any) { mustJSON(t, d[i], v) }
	items := func() []any {
		var raws []json.RawMessage
		arg(1, &raws)
		out := make([]any, len(raws))
		for i, r := range raws {
			out[i] = build(t, r)
		}
		return out
	}
	switch kind {
	case "none":
		return nil
	case "bool":
		var b bool
		arg(1, &b)
		return b
	case "int":
		var s string
		arg(1, &s)
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n
		}
		n, ok := new(big.Int).SetString(s, 10)
		if !ok {
			t.Fatalf("bad int %q", s)
		}
		return n
	case "float":
		var s string
		arg(1, &s)
		return mustParseHexFloat(t, s)
	case "str":
		var s string
		arg(1, &s)
		return s
	case "strcp":
		var cps []rune
		arg(1, &cps)
		var b []byte
		for _, r := range cps {
			if r >= 0xd800 && r <= 0xdfff {
				b = appendSurrogate(b, r)
			} else {
				b = utf8.AppendRune(b, r)
			}
		}
		return string(b)
	case "bytes":
		var s string
		arg(1, &s)
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	case "list":
		return banana.List(items())
	case "tuple":
		return banana.Tuple(items())
	case "set":
		return banana.Set(items())
	case "frozenset":
		return banana.FrozenSet(items())
	case "decimal":
		var s string
		arg(1, &s)
		return banana.Decimal(s)
	case "dict":
		var pairs [][2]json.RawMessage
		arg(1, &pairs)
		dict := &banana.Dict{}
		for _, p := range pairs {
			dict.Items = append(dict.Items, banana.DictItem{Key: build(t, p[0]), Value: build(t, p[1])})
		}
		return dict
	case "failure":
		var typ, val, tb string
		arg(1, &typ)
		arg(2, &val)
		arg(3, &tb)
		// Sent over the wire as bytes by python-foolscap's FailureSlicer.
		return &banana.Copyable{Class: FailureClass, Attrs: []banana.Attr{
			{Name: "type", Value: []byte(typ)}, {Name: "value", Value: []byte(val)},
			{Name: "traceback", Value: []byte(tb)}, {Name: "parents", Value: banana.List{[]byte(typ)}},
		}}
	}
	t.Fatalf("unknown descriptor kind %q", kind)
	return nil
}

func mustJSON(t *testing.T, raw json.RawMessage, v any) {
	t.Helper()
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("descriptor %s: %v", raw, err)
	}
}

// mustParseHexFloat parses Python's float.hex() output.
func mustParseHexFloat(t *testing.T, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("bad float.hex %q: %v", s, err)
	}
	return f
}

func TestEncodeGolden(t *testing.T) {
	for _, row := range readGolden[encodeRow](t, "testdata/encode.jsonl") {
		t.Run(row.Name, func(t *testing.T) {
			v := build(t, row.Value)
			got, err := Marshal(v)
			switch {
			case row.Error != nil:
				if err == nil || err.Error() != *row.Error {
					t.Errorf("Marshal error = %v, Python raised %q", err, *row.Error)
				}
				if len(got) != 0 {
					t.Errorf("Marshal left partial output %q", got)
				}
			case err != nil:
				t.Errorf("Marshal: %v; Python wrote %s", err, *row.JSON)
			case string(got) != *row.JSON:
				t.Errorf("Marshal:\n got %s\nwant %s", got, *row.JSON)
			}
			if row.Repr != nil {
				if got := Repr(v); got != *row.Repr {
					t.Errorf("Repr:\n got %s\nwant %s", got, *row.Repr)
				}
			}
		})
	}
}

func TestDecodeGolden(t *testing.T) {
	for _, row := range readGolden[decodeRow](t, "testdata/decode.jsonl") {
		t.Run(row.Name, func(t *testing.T) {
			var in []byte
			switch {
			case row.Input != nil:
				in = []byte(*row.Input)
			case row.Hex != nil:
				var err error
				if in, err = hex.DecodeString(*row.Hex); err != nil {
					t.Fatal(err)
				}
			}
			v, err := Unmarshal(in)
			if row.Error != nil {
				if err == nil || err.Error() != *row.Error {
					t.Errorf("Unmarshal(%q) error = %v, Python raised %q", in, err, *row.Error)
				}
				return
			}
			if err != nil {
				t.Fatalf("Unmarshal(%q): %v", in, err)
			}
			want := build(t, row.Value)
			if !sameValue(v, want) {
				t.Errorf("Unmarshal(%q) = %#v, want %#v", in, v, want)
			}
			if got, err := Marshal(v); err != nil || string(got) != *row.JSON {
				t.Errorf("re-encoded = %s (%v), Python: %s", got, err, *row.JSON)
			}
			if got := Repr(v); got != *row.Repr {
				t.Errorf("Repr = %s, Python: %s", got, *row.Repr)
			}
		})
	}
}

// sameValue compares two values of the model exactly: same Go types, same
// order, floats by bits (so NaN equals NaN and -0.0 differs from 0.0).
func sameValue(a, b any) bool {
	ja, errA := Marshal(a)
	jb, errB := Marshal(b)
	if errA != nil || errB != nil || !bytes.Equal(ja, jb) {
		return false
	}
	return fmt.Sprintf("%T", a) == fmt.Sprintf("%T", b) && Repr(a) == Repr(b) && typesMatch(a, b)
}

func typesMatch(a, b any) bool {
	if fmt.Sprintf("%T", a) != fmt.Sprintf("%T", b) {
		return false
	}
	switch x := a.(type) {
	case banana.List:
		y := b.(banana.List)
		for i := range x {
			if !typesMatch(x[i], y[i]) {
				return false
			}
		}
	case *banana.Dict:
		y := b.(*banana.Dict)
		for i := range x.Items {
			if !typesMatch(x.Items[i].Key, y.Items[i].Key) || !typesMatch(x.Items[i].Value, y.Items[i].Value) {
				return false
			}
		}
	}
	return true
}
