package banana

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"github.com/gatherer/gatherer/internal/pyfoolscap"
)

func nested(depth int) (py string, v any) {
	py = strings.Repeat("[", depth) + "1" + strings.Repeat("]", depth)
	v = int64(1)
	for range depth {
		v = List{v}
	}
	return py, v
}

type parityCase struct {
	name    string
	expr    string // Python expression
	value   any    // what Go encodes
	want    any    // what Go decodes from Python's bytes (default value)
	noPyEq  bool   // skip Python's equality check (cycles)
	pyFails bool   // python-foolscap refuses to encode the value
}

func parityCases() []parityCase {
	pointOne, pointTwo := 0.1, 0.2 // variables: constants would fold to exactly 0.3
	deepPy, deepGo := nested(20)
	shared := List{int64(1)}
	cycle := List{nil}
	cycle[0] = cycle
	return []parityCase{
		{name: "zero", expr: "0", value: int64(0)},
		{name: "small ints", expr: "[1, -1, 127, 128, 300]", value: List{int64(1), int64(-1), int64(127), int64(128), int64(300)}},
		{name: "int32 edges", expr: "[2**31-1, 2**31, -2**31, -2**31-1]", value: List{int64(1<<31 - 1), int64(1 << 31), int64(-1 << 31), int64(-1<<31 - 1)}},
		{name: "int64 edges", expr: "[2**63-1, 2**63, -2**63, -2**63-1]", value: List{int64(math.MaxInt64), bigInt("9223372036854775808"), int64(math.MinInt64), bigInt("-9223372036854775809")}},
		{name: "2**100", expr: "[2**100, -2**100]", value: List{bigInt("1267650600228229401496703205376"), bigInt("-1267650600228229401496703205376")}},
		{name: "go int kinds", expr: "[5, 6, 7]", value: List{5, int32(6), uint8(7)}, want: List{int64(5), int64(6), int64(7)}},
		{name: "floats", expr: "[-0.0, 1e-5, 1e16, 0.1+0.2, 1.5]", value: List{math.Copysign(0, -1), 1e-5, 1e16, pointOne + pointTwo, 1.5}},
		{name: "float specials", expr: "[math.inf, -math.inf]", value: List{math.Inf(1), math.Inf(-1)}},
		{name: "nan", expr: "math.nan", value: math.Float64frombits(0x7ff8000000000000), noPyEq: false},
		{name: "bytes", expr: `[b"", b"hello", b"\x00\xff", b"list", b"their-reference"]`, value: List{str(""), str("hello"), []byte{0, 0xff}, str("list"), str("their-reference")}},
		{name: "str", expr: `["", "list", "h\u00e9llo", "\U0001F600 \U0001D11E non-BMP"]`, value: List{"", "list", "héllo", "😀 𝄞 non-BMP"}},
		{name: "none and bools", expr: "[None, True, False]", value: List{nil, true, false}},
		{name: "containers", expr: "([], (), set(), frozenset(), {}, [1, (2, 3)], (4,), {5, 6}, frozenset({7}))",
			value: Tuple{List{}, Tuple{}, Set{}, FrozenSet{}, &Dict{}, List{int64(1), Tuple{int64(2), int64(3)}}, Tuple{int64(4)}, Set{int64(5), int64(6)}, FrozenSet{int64(7)}}},
		{name: "dict sorted str keys", expr: `{"b": 1, "a": 2, "\u00e9": 3, "B": 4}`, value: NewDict("b", int64(1), "a", int64(2), "é", int64(3), "B", int64(4)),
			want: NewDict("B", int64(4), "a", int64(2), "b", int64(1), "é", int64(3))},
		{name: "dict numeric keys", expr: `{2: "a", 1.5: "b", -3: "c", True: "t", 2**70: "big"}`,
			value: NewDict(int64(2), "a", 1.5, "b", int64(-3), "c", true, "t", bigInt("0x400000000000000000"), "big"),
			want:  NewDict(int64(-3), "c", true, "t", 1.5, "b", int64(2), "a", bigInt("0x400000000000000000"), "big")},
		{name: "dict bytes and tuple keys", expr: `[{b"y": 1, b"x": 2}, {(1, 2): "p", (1, 1): "q", (0, 5, 1): "r"}]`,
			value: List{NewDict(str("y"), int64(1), str("x"), int64(2)), NewDict(Tuple{int64(1), int64(2)}, "p", Tuple{int64(1), int64(1)}, "q", Tuple{int64(0), int64(5), int64(1)}, "r")},
			want:  List{NewDict(str("x"), int64(2), str("y"), int64(1)), NewDict(Tuple{int64(0), int64(5), int64(1)}, "r", Tuple{int64(1), int64(1)}, "q", Tuple{int64(1), int64(2)}, "p")}},
		{name: "dict with None and frozenset keys", expr: `{None: 1}`, value: NewDict(nil, int64(1))},
		{name: "decimal", expr: `decimal.Decimal("1.10")`, value: Decimal("1.10")},
		{name: "nesting 20 deep", expr: deepPy, value: deepGo},
		{name: "shared list", expr: "(lambda x: [x, x, (x,)])([1])", value: List{shared, shared, Tuple{shared}}},
		{name: "cycle", expr: "(lambda c: (c.append(c), c)[1])([])", value: cycle, noPyEq: true},
		{name: "mixed keys python refuses", expr: `{1: "x", "a": "y"}`, value: NewDict(int64(1), "x", "a", "y"), pyFails: true},
	}
}

func TestPythonParity(t *testing.T) {
	pyfoolscap.Need(t)
	cases := parityCases()
	var in bytes.Buffer
	goHex := make([]string, len(cases))
	for i, tc := range cases {
		e := NewEncoder(EncoderOptions{VocabIndex: 1})
		e.BeginScope()
		if err := e.Encode(tc.value); err != nil {
			t.Fatalf("%s: encode: %v", tc.name, err)
		}
		goHex[i] = hex.EncodeToString(e.Bytes())
		line, _ := json.Marshal(map[string]string{"expr": tc.expr, "go": goHex[i]})
		in.Write(append(line, '\n'))
	}
	cmd := exec.Command("/usr/bin/python3", "testdata/pyvalues.py")
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("running pyvalues.py: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for i := 0; sc.Scan(); i++ {
		tc := cases[i]
		var resp struct {
			Py           string `json:"py"`
			DecodedEqual bool   `json:"decoded_equal"`
			Error        string `json:"error"`
		}
		if err := json.Unmarshal(sc.Bytes(), &resp); err != nil {
			t.Fatal(err)
		}
		t.Run(tc.name, func(t *testing.T) {
			if tc.pyFails {
				if resp.Py != "" {
					t.Errorf("python encoded a value we expected it to refuse: %s", resp.Py)
				}
				return
			}
			if resp.Py != goHex[i] {
				t.Errorf("encoding differs from python-foolscap:\n go %s\n py %s\n(%s)", goHex[i], resp.Py, resp.Error)
			}
			if !tc.noPyEq && !resp.DecodedEqual {
				t.Errorf("python decoded Go's bytes to a different value: %s", resp.Error)
			}
			want := tc.want
			if want == nil {
				want = tc.value
			}
			data, _ := hex.DecodeString(resp.Py)
			got, err := NewDecoder(bytes.NewReader(data), DecoderOptions{VocabIndex: 1}).ReadValue()
			if err != nil {
				t.Fatalf("decoding python's bytes: %v", err)
			}
			if f, ok := want.(float64); ok && math.IsNaN(f) {
				if g, ok := got.(float64); !ok || math.Float64bits(g) != math.Float64bits(f) {
					t.Errorf("decoded %v, want NaN", got)
				}
				return
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("decoded python's bytes to %#v\nwant %#v", got, want)
			}
		})
	}
}
