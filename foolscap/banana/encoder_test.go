package banana

import (
	"bytes"
	"errors"
	"math/big"
	"testing"
)

func TestEncodeErrors(t *testing.T) {
	deep := any(int64(1))
	for range 5 {
		deep = List{deep}
	}
	tests := []struct {
		name string
		v    any
		want error
	}{
		{"unsupported type", map[string]int{}, ErrCannotSerialize},
		{"unsupported inside list", List{int64(1), struct{}{}}, ErrCannotSerialize},
		{"unsupported dict value", NewDict("k", make(chan int)), ErrCannotSerialize},
		{"invalid utf-8 str", "\xff", ErrBadUnicode},
		{"nil big.Int", (*big.Int)(nil), ErrCannotSerialize},
		{"nil copyable", (*Copyable)(nil), ErrCannotSerialize},
		{"too deep", deep, ErrCannotSerialize},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := NewEncoder(EncoderOptions{VocabIndex: 1, MaxDepth: 4})
			id := e.Open("answer")
			err := e.Encode(tc.v)
			var v *Violation
			if !errors.As(err, &v) || !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want a Violation wrapping %v", err, tc.want)
			}
			e.AbortTo(id)
			// The aborted message must still be well formed for the peer:
			// it decodes to an ABORT Violation and leaves the stream usable.
			e.Close(e.Open("none"))
			d := NewDecoder(bytes.NewReader(e.Bytes()), DecoderOptions{VocabIndex: 1, Handlers: testHandlers()})
			if _, err := d.ReadMessage(); !errors.Is(err, ErrAborted) {
				t.Fatalf("peer decoded %v, want ErrAborted", err)
			}
			if v, err := d.ReadMessage(); err != nil || v != nil {
				t.Fatalf("next message: %v %v", v, err)
			}
		})
	}
}

func TestEncodeHook(t *testing.T) {
	type point struct{ x, y int64 }
	e := NewEncoder(EncoderOptions{Marshal: func(e *Encoder, v any) (bool, error) {
		p, ok := v.(point)
		if !ok {
			return false, nil
		}
		return true, e.Encode(Tuple{p.x, p.y})
	}})
	if err := e.Encode(List{point{1, 2}}); err != nil {
		t.Fatal(err)
	}
	v, err := NewDecoder(bytes.NewReader(e.Bytes()), DecoderOptions{}).ReadValue()
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := v.(List); !ok || len(got) != 1 || !KeyEqual(got[0], Tuple{int64(1), int64(2)}) {
		t.Fatalf("decoded %#v", v)
	}
}

func TestOpenCounterNeverResets(t *testing.T) {
	e := NewEncoder(EncoderOptions{VocabIndex: 1})
	for i := range 3 {
		e.BeginScope()
		if err := e.Encode(List{nil}); err != nil {
			t.Fatal(err)
		}
		e.EndScope()
		if got := e.OpenCount(); got != uint64(2*(i+1)) {
			t.Fatalf("after %d messages OpenCount = %d", i+1, got)
		}
	}
	want := mustHex(t, "0088 0487 0188 0087 0189 0089 0288 0487 0388 0087 0389 0289 0488 0487 0588 0087 0589 0489")
	if !bytes.Equal(e.Bytes(), want) {
		t.Fatalf("got %x\nwant %x", e.Bytes(), want)
	}
}

// TestVocabConstants checks the indexes the codec uses without looking
// the words up.
func TestVocabConstants(t *testing.T) {
	for i, w := range map[int]string{vocabNone: "none", vocabBoolean: "boolean", vocabReference: "reference",
		vocabDict: "dict", vocabList: "list", vocabTuple: "tuple", vocabSet: "set",
		vocabImmutableSet: "immutable-set", vocabUnicode: "unicode", vocabCopyable: "copyable"} {
		if vocabWords[i] != w {
			t.Errorf("vocabWords[%d] = %q, want %q", i, vocabWords[i], w)
		}
	}
	for i, w := range vocabWords {
		if j, ok := vocabIndex(w); !ok || j != i {
			t.Errorf("vocabIndex(%q) = %d, %v", w, j, ok)
		}
		if j, ok := vocabIndex([]byte(w)); !ok || j != i {
			t.Errorf("vocabIndex([]byte(%q)) = %d, %v", w, j, ok)
		}
	}
	for _, w := range []string{"", "no", "nonE", "unicodes", "decimal", "their-referencex", "xet"} {
		if _, ok := vocabIndex(w); ok {
			t.Errorf("vocabIndex(%q) found", w)
		}
	}
}

// TestHeaderEncoding checks token prefixes against the definition:
// little-endian base-128 digits, none for 0 but one, then the type byte.
func TestHeaderEncoding(t *testing.T) {
	want := func(v uint64, typ Type) []byte {
		var b []byte
		if v == 0 {
			b = append(b, 0)
		}
		for ; v > 0; v >>= 7 {
			b = append(b, byte(v&0x7f))
		}
		return append(b, byte(typ))
	}
	vals := []uint64{0, 1, 0x7f, ^uint64(0), ^uint64(0) >> 1}
	for k := 1; k < 64; k++ {
		vals = append(vals, 1<<k-1, 1<<k, 1<<k+1, 1<<k|0x55)
	}
	e := NewEncoder(EncoderOptions{})
	for _, v := range vals {
		for _, typ := range []Type{TypeOpen, TypeClose, TypeInt} {
			e.buf = append(e.buf[:0], "prefix"...)
			e.header(v, typ)
			if got, w := e.Bytes()[6:], want(v, typ); !bytes.Equal(got, w) {
				t.Errorf("header(%#x, %v) = %x, want %x", v, typ, got, w)
			}
		}
	}
}
