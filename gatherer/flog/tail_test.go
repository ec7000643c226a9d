package flog

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"strconv"
	"testing"
	"time"

	"github.com/gatherer/gatherer/foolscap/banana"
	"github.com/gatherer/gatherer/gatherer/flog/pyjson"
)

// buildValue turns a descriptor of testdata/tail.py into a value of the
// model as a gatherer would receive it over the wire.
func buildValue(t *testing.T, raw json.RawMessage) any {
	t.Helper()
	var d []json.RawMessage
	if err := json.Unmarshal(raw, &d); err != nil || len(d) == 0 {
		t.Fatalf("bad descriptor %s", raw)
	}
	var kind string
	arg := func(i int, v any) {
		t.Helper()
		if err := json.Unmarshal(d[i], v); err != nil {
			t.Fatalf("descriptor %s: %v", raw, err)
		}
	}
	arg(0, &kind)
	items := func() []any {
		var raws []json.RawMessage
		arg(1, &raws)
		out := make([]any, len(raws))
		for i, r := range raws {
			out[i] = buildValue(t, r)
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
		n, _ := new(big.Int).SetString(s, 10)
		return n
	case "float":
		var s string
		arg(1, &s)
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatal(err)
		}
		return f
	case "str":
		var s string
		arg(1, &s)
		return s
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
	case "dict":
		var pairs [][2]json.RawMessage
		arg(1, &pairs)
		dict := &banana.Dict{}
		for _, p := range pairs {
			dict.Items = append(dict.Items, banana.DictItem{Key: buildValue(t, p[0]), Value: buildValue(t, p[1])})
		}
		return dict
	case "failure":
		var typ, val, tb string
		arg(1, &typ)
		arg(2, &val)
		arg(3, &tb)
		return &banana.Copyable{Class: pyjson.FailureClass, Attrs: []banana.Attr{
			{Name: "type", Value: []byte(typ)}, {Name: "value", Value: []byte(val)},
			{Name: "traceback", Value: []byte(tb)}, {Name: "parents", Value: banana.List{[]byte(typ)}},
		}}
	}
	t.Fatalf("unknown descriptor kind %q", kind)
	return nil
}

func TestPrinterMatchesLogPrinter(t *testing.T) {
	type row struct {
		Versions json.RawMessage   `json:"versions"`
		Event    json.RawMessage   `json:"event"`
		Out      json.RawMessage   `json:"out"`
		Error    map[string]string `json:"error"`
	}
	rows := readJSONL[row](t, "testdata/tail.jsonl")
	t.Run("versions", func(t *testing.T) {
		var want string
		if err := json.Unmarshal(rows[0].Out, &want); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		p, err := NewPrinter(&buf, PrinterOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Versions(buildValue(t, rows[0].Versions)); err != nil {
			t.Fatal(err)
		}
		if buf.String() != want {
			t.Errorf("Versions printed %q, LogPrinter %q", buf.String(), want)
		}
	})
	modes := []string{TimeShortLocal, TimeLongLocal, TimeUTC, TimeEpoch, "verbose"}
	for i, r := range rows[1:] {
		var outs map[string]string
		if err := json.Unmarshal(r.Out, &outs); err != nil {
			t.Fatal(err)
		}
		for _, mode := range modes {
			t.Run(strconv.Itoa(i)+"/"+mode, func(t *testing.T) {
				opts := PrinterOptions{Timestamps: mode, Location: time.UTC}
				if mode == "verbose" {
					opts = PrinterOptions{Verbose: true, Location: time.UTC}
				}
				var buf bytes.Buffer
				p, err := NewPrinter(&buf, opts)
				if err != nil {
					t.Fatal(err)
				}
				err = p.Event(buildValue(t, r.Event))
				if want, ok := r.Error[mode]; ok {
					if err == nil || err.Error() != want {
						t.Errorf("Event error = %v, LogPrinter raised %s", err, want)
					}
					return
				}
				if err != nil {
					t.Fatalf("Event: %v", err)
				}
				if buf.String() != outs[mode] {
					t.Errorf("Event printed:\n%s", firstDiff(buf.String(), outs[mode]))
				}
			})
		}
	}
}

// TestTailHeaderMatchesFixture: the header flogtool tail --save-to wrote is
// rebuilt byte for byte from its versions and pid.
func TestTailHeaderMatchesFixture(t *testing.T) {
	recs := readAll(t, fixtureDir+"/tail/tail-save.flog")
	h, ok := recs[0].Header()
	if !ok {
		t.Fatal("no header line")
	}
	versions, _ := h.(*banana.Dict).Get("versions")
	pid, _ := h.(*banana.Dict).Get("pid")
	// A Python 2 node sends bytes; ensure_dict_str makes them str.
	wire := &banana.Dict{}
	for _, it := range versions.(*banana.Dict).Items {
		wire.Items = append(wire.Items, banana.DictItem{Key: []byte(it.Key.(string)), Value: []byte(it.Value.(string))})
	}
	hd, err := TailHeader(wire, pid)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pyjson.Marshal(banana.NewDict("header", hd))
	if err != nil {
		t.Fatal(err)
	}
	if want := bytes.TrimSuffix(recs[0].Raw, []byte("\n")); !bytes.Equal(got, want) {
		t.Errorf("TailHeader:\n got %s\nwant %s", got, want)
	}
	from, _ := recs[1].Dict().Get("from")
	if got := TailFrom("k5rxhgobqvfxq6kbr4a7zqzgq2xgq4xh"); got != from {
		t.Errorf("TailFrom = %q, the file says %q", got, from)
	}
}
