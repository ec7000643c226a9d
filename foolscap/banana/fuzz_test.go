package banana

import (
	"bytes"
	"testing"
)

func FuzzDecoder(f *testing.F) {
	for _, tc := range goldenVectors() {
		f.Add(mustHex(f, tc.hex))
	}
	f.Add(mustHex(f, "0088 0487 0188 0287 0081 0189 0089"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := Limits{MaxStringBytes: 1 << 12, MaxItems: 1 << 10, MaxDepth: 50, MaxMessageBytes: 1 << 16}
		d := NewDecoder(bytes.NewReader(data), DecoderOptions{VocabIndex: 1, Handlers: testHandlers(), Limits: lim})
		for range 8 {
			v, err := d.ReadValue()
			if err != nil {
				if _, ok := asViolation(err); ok {
					continue
				}
				return
			}
			// Property: what decodes re-encodes, and that encoding is a
			// fixed point of decode+encode.
			e1 := NewEncoder(EncoderOptions{VocabIndex: 1})
			e1.BeginScope()
			if err := e1.Encode(v); err != nil {
				t.Fatalf("decoded value does not re-encode: %v (%#v)", err, v)
			}
			v2, err := NewDecoder(bytes.NewReader(e1.Bytes()), DecoderOptions{VocabIndex: 1, Handlers: testHandlers()}).ReadValue()
			if err != nil {
				t.Fatalf("re-encoded value does not decode: %v\n%x", err, e1.Bytes())
			}
			e2 := NewEncoder(EncoderOptions{VocabIndex: 1})
			e2.BeginScope()
			if err := e2.Encode(v2); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(e1.Bytes(), e2.Bytes()) {
				t.Fatalf("encoding is not stable:\n%x\n%x", e1.Bytes(), e2.Bytes())
			}
		}
	})
}
