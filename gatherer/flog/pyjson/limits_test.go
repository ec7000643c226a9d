package pyjson

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatherer/gatherer/foolscap/banana"
)

func TestDecodeLimits(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		maxDepth int
		maxLen   int
		wantErr  error
	}{
		{name: "length at limit", in: `"abcd"`, maxLen: 6},
		{name: "length limit+1", in: `"abcde"`, maxLen: 6, wantErr: ErrTooLong},
		{name: "depth at limit", in: strings.Repeat("[", 5) + strings.Repeat("]", 5), maxDepth: 5},
		{name: "depth limit+1", in: strings.Repeat("[", 6) + strings.Repeat("]", 6), maxDepth: 5, wantErr: ErrTooDeep},
		{name: "object depth limit+1", in: strings.Repeat(`{"a": `, 6) + "1" + strings.Repeat("}", 6), maxDepth: 5, wantErr: ErrTooDeep},
		{name: "default depth limit+1", in: strings.Repeat("[", DefaultMaxDepth+1) + strings.Repeat("]", DefaultMaxDepth+1), wantErr: ErrTooDeep},
		{name: "int at 4300 digits", in: strings.Repeat("9", 4300)},
		{name: "int at 4301 digits", in: strings.Repeat("9", 4301), wantErr: ErrIntTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeOptions{MaxDepth: tt.maxDepth, MaxLength: tt.maxLen}.Unmarshal([]byte(tt.in))
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Unmarshal: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Unmarshal error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestEncodeLimits(t *testing.T) {
	var v any = 1
	for range MaxEncodeDepth + 1 {
		v = banana.List{v}
	}
	if _, err := Marshal(v); !errors.Is(err, ErrTooDeep) {
		t.Fatalf("Marshal of %d-deep list: error %v, want ErrTooDeep", MaxEncodeDepth+1, err)
	}
	cyclic := &banana.Dict{}
	cyclic.Items = append(cyclic.Items, banana.DictItem{Key: "self", Value: cyclic})
	if _, err := Marshal(cyclic); !errors.Is(err, ErrTooDeep) {
		t.Fatalf("Marshal of a cyclic dict: error %v, want ErrTooDeep", err)
	}
	var ute *UnsupportedTypeError
	if _, err := Marshal(struct{}{}); !errors.As(err, &ute) {
		t.Fatalf("Marshal(struct{}{}) error = %v, want *UnsupportedTypeError", err)
	}
}

// sharedList returns l_n where l_0 = 1 and l_i = [l_{i-1}, l_{i-1}], as a
// Banana message with references decodes: 2**n leaves sharing n+1 slices.
func sharedList(n int) any {
	var v any = int64(1)
	for range n {
		v = banana.List{v, v}
	}
	return v
}

func TestEncodeSharedReferenceBomb(t *testing.T) {
	bomb := sharedList(40)
	for _, tc := range []struct {
		name string
		v    any
	}{
		{"list", bomb},
		{"dict", banana.NewDict("message", "x", "args", banana.NewDict("a", bomb, "b", 1))},
		{"set repr", banana.NewDict("s", banana.Set{banana.Tuple{bomb}})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// About 0.3 s for 64 MiB on an idle machine; the bound is for
			// a loaded one.
			start := time.Now()
			dst := []byte("prefix")
			out, err := Append(dst, tc.v)
			if el := time.Since(start); el > 3*time.Second {
				t.Errorf("took %v", el)
			}
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Append error = %v, want ErrTooLarge", err)
			}
			if string(out) != "prefix" {
				t.Fatalf("Append kept %d bytes of partial output", len(out))
			}
		})
	}
	if r := AppendReprN(nil, bomb, 100); len(r) > 400 || !strings.Contains(string(r), "...") {
		t.Fatalf("AppendReprN(bomb, 100) = %q", r)
	}
	// Shared references that expand to little still encode.
	small := sharedList(3)
	if b, err := Marshal(banana.List{small, small}); err != nil || string(b) != "[[[[1, 1], [1, 1]], [[1, 1], [1, 1]]], [[[1, 1], [1, 1]], [[1, 1], [1, 1]]]]" {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
}
