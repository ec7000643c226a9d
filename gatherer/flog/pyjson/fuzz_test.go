package pyjson

import (
	"bytes"
	"testing"
)

// FuzzRoundTrip checks that whatever Unmarshal accepts re-encodes to a
// document that decodes to the same value and re-encodes to the same bytes
// (our output is canonical), and that nothing panics.
func FuzzRoundTrip(f *testing.F) {
	seeds := []string{
		`{"header": {"type": "gatherer", "start": 1795759812.355345}}`,
		`{"from": "local", "rx_time": 1795759717.131025, "d": {"format": "%(a)s", "a": "caf\u00e9 \ud83d\ude00", "num": 0, "incarnation": ["e2f51a603e652575", null]}}`,
		`[NaN, Infinity, -Infinity, -0.0, 1e-05, 1e+16, 5e-324, 1180591620717411303424, -1180591620717411303424]`,
		`"\ud800 \udc00 \u007f \u0000 \/ \b\f\n\r\t"`,
		`{"a": 1, "a": 2, "b": {"c": [[], {}]}}`,
		`[1, 2`, `"\u12`, `01`, ` `,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		v, err := Unmarshal(in)
		if err != nil {
			return
		}
		out, err := Marshal(v)
		if err != nil {
			t.Fatalf("Marshal of decoded %q: %v", in, err)
		}
		v2, err := Unmarshal(out)
		if err != nil {
			t.Fatalf("re-decoding %q (from %q): %v", out, in, err)
		}
		out2, err := Marshal(v2)
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("not canonical: %q -> %q -> %q (%v)", in, out, out2, err)
		}
		if Repr(v) != Repr(v2) {
			t.Fatalf("repr changed: %s vs %s", Repr(v), Repr(v2))
		}
	})
}
