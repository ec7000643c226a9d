package banana

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// sharedTuple returns t_n where t_0 = 1 and t_i = (t_{i-1}, t_{i-1}): its
// expansion has 2**n leaves, but the Encoder sends each level once and
// then a reference to it.
func sharedTuple(n int) any {
	var v any = int64(1)
	for range n {
		v = Tuple{v, v}
	}
	return v
}

func encodeScoped(t *testing.T, v any) []byte {
	t.Helper()
	e := NewEncoder(EncoderOptions{VocabIndex: 1})
	e.BeginScope()
	if err := e.Encode(v); err != nil {
		t.Fatal(err)
	}
	e.EndScope()
	return e.Bytes()
}

// TestSharedReferenceBomb checks that hashing a set element or dict key
// whose shared references expand to 2**40 leaves fails the message fast
// with ErrValueTooComplex, and leaves the stream usable.
func TestSharedReferenceBomb(t *testing.T) {
	bomb := sharedTuple(40)
	other := Tuple{int64(1), sharedTuple(40)} // compared with bomb, not equal
	for _, tc := range []struct {
		name string
		v    any
	}{
		{"frozenset", FrozenSet{bomb}},
		{"set", Set{int64(1), bomb}},
		{"dict key", NewDict(bomb, int64(1))},
		{"dict key compared", NewDict(bomb, int64(1), other, int64(2))},
		{"large dict key", func() any {
			d := &Dict{}
			for i := range 20 {
				d.Items = append(d.Items, DictItem{Key: int64(i), Value: nil})
			}
			d.Items = append(d.Items, DictItem{Key: bomb, Value: nil})
			return d
		}()},
		{"nested frozenset", List{FrozenSet{FrozenSet{bomb}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := append(encodeScoped(t, tc.v), hexs(t, noneMsg)...)
			if len(in) > 2000 {
				t.Fatalf("test message of %d bytes: the encoder did not share", len(in))
			}
			start := time.Now()
			d := NewDecoder(bytes.NewReader(in), DecoderOptions{VocabIndex: 1})
			_, err := d.ReadMessage()
			if el := time.Since(start); el > 500*time.Millisecond {
				t.Errorf("took %v", el)
			}
			var viol *Violation
			if !errors.Is(err, ErrValueTooComplex) || !errors.As(err, &viol) {
				t.Fatalf("got %v, want a Violation wrapping ErrValueTooComplex", err)
			}
			if v, err := d.ReadMessage(); err != nil || v != nil {
				t.Fatalf("next message: %v %v", v, err)
			}
		})
	}
}

// TestSharedReferencesModest checks that sharing which expands to little
// is still decoded, compared and hashed exactly.
func TestSharedReferencesModest(t *testing.T) {
	small := sharedTuple(10) // 1024 leaves
	in := encodeScoped(t, List{FrozenSet{small, Tuple{small}}, NewDict(small, int64(1), Tuple{small}, int64(2))})
	v, err := NewDecoder(bytes.NewReader(in), DecoderOptions{VocabIndex: 1}).ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	got := v.(List)
	if len(got[0].(FrozenSet)) != 2 || got[1].(*Dict).Len() != 2 {
		t.Fatalf("decoded %v", v)
	}
	dup := encodeScoped(t, &Dict{Items: []DictItem{{Key: small, Value: nil}, {Key: sharedTuple(10), Value: nil}}})
	if _, err := NewDecoder(bytes.NewReader(dup), DecoderOptions{VocabIndex: 1}).ReadMessage(); !errors.Is(err, ErrDuplicateKey) {
		t.Fatalf("equal shared keys: got %v, want ErrDuplicateKey", err)
	}
}
