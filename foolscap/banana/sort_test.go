package banana

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"unicode/utf8"
)

// TestSortOrderFastPaths checks the orders of the fast paths for keys of
// one kind against pyLess's, with repeated keys (where stability shows)
// and keys already in order.
func TestSortOrderFastPaths(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"", "a", "b", "ab", "abc", "caf\u00e9", "format", "num", "zz", "\u2603"}
	key := func(kind int) any {
		switch kind {
		case 0:
			return words[rng.IntN(len(words))]
		case 1:
			return []byte(words[rng.IntN(len(words))])
		default:
			return rng.Int64N(7) - 3
		}
	}
	apply := func(items []DictItem, order []int32) []DictItem {
		if order == nil {
			return items
		}
		out := make([]DictItem, len(order))
		for i, j := range order {
			out[i] = items[j]
		}
		return out
	}
	for n := range 2000 {
		kind := n % 3
		items := make([]DictItem, rng.IntN(30))
		for i := range items {
			items[i] = DictItem{Key: key(kind), Value: int64(i)}
		}
		if n%5 == 0 {
			slices.SortStableFunc(items, func(a, b DictItem) int {
				if lt, _ := pyLess(a.Key, b.Key); lt {
					return -1
				}
				if gt, _ := pyLess(b.Key, a.Key); gt {
					return 1
				}
				return 0
			})
		}
		var buf []int32
		fast := apply(items, sortOrder(items, &buf))
		buf = buf[:0]
		slow := apply(items, pyOrder(items, &buf))
		if fmt.Sprint(fast) != fmt.Sprint(slow) {
			t.Fatalf("keys %v:\nfast %v\n  py %v", items, fast, slow)
		}
	}
}

func TestValidUTF8(t *testing.T) {
	for _, s := range []string{"", "a", "abcdefg", "abcdefgh", "abcdefghi", "caf\u00e9", "abcdefg\u00e9", "\xff", "abcdefgh\xff",
		"abcdefghijklmno\x80", "\xed\xa0\x80", "abcdefgh\xed\xa0\x80", "\u2603\u2603\u2603", "abcdefghijklmnop"} {
		if got, want := validUTF8(s), utf8.ValidString(s); got != want {
			t.Errorf("validUTF8(%q) = %v, want %v", s, got, want)
		}
	}
}
