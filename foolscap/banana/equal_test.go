package banana

import (
	"math"
	"math/big"
	"testing"
)

func TestEqual(t *testing.T) {
	big2_100 := new(big.Int).Lsh(big.NewInt(1), 100)
	tests := []struct {
		name string
		a, b any
		want bool
	}{
		{"int and float", int64(1), 1.0, true},
		{"bool and int", true, int64(1), true},
		{"big int", big2_100, new(big.Int).Set(big2_100), true},
		{"negative zero", 0.0, math.Copysign(0, -1), true},
		{"bytes vs str", []byte("a"), "a", false},
		{"list vs tuple", List{int64(1)}, Tuple{int64(1)}, false},
		{"nested lists", List{List{int64(1)}, "x"}, List{List{1.0}, "x"}, true},
		{"set vs frozenset", Set{int64(1), int64(2)}, FrozenSet{int64(2), int64(1)}, true},
		{"frozenset vs set", FrozenSet{int64(2)}, Set{int64(2)}, true},
		{"dict order", NewDict("a", int64(1), "b", List{}), NewDict("b", List{}, "a", 1.0), true},
		{"dict values differ", NewDict("a", int64(1)), NewDict("a", int64(2)), false},
		{"None", nil, nil, true},
		{"None vs 0", nil, int64(0), false},
		{"NaN", math.NaN(), math.NaN(), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Equal(tc.a, tc.b); got != tc.want {
				t.Errorf("Equal(%#v, %#v) = %v, want %v", tc.a, tc.b, got, tc.want)
			}
			if got := Equal(tc.b, tc.a); got != tc.want {
				t.Errorf("Equal(%#v, %#v) = %v, want %v (not symmetric)", tc.b, tc.a, got, tc.want)
			}
		})
	}
}
