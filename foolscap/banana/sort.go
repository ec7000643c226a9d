package banana

import (
	"bytes"
	"math/big"
	"slices"
	"unicode/utf8"
)

// sortedItems returns the items in the order Python's sorted() gives their
// keys, or in their original order when some keys are not comparable
// (where python-foolscap itself would fail to send the dict).
func sortedItems(items []DictItem) []DictItem {
	if len(items) < 2 {
		return items
	}
	out := slices.Clone(items)
	ok := true
	slices.SortStableFunc(out, func(a, b DictItem) int {
		lt, comparable := pyLess(a.Key, b.Key)
		if !comparable {
			ok = false
			return 0
		}
		if lt {
			return -1
		}
		if gt, _ := pyLess(b.Key, a.Key); gt {
			return 1
		}
		return 0
	})
	if !ok {
		return items
	}
	return out
}

// pyLess reports a < b with Python 3 semantics for the value model;
// comparable is false where Python raises TypeError.
func pyLess(a, b any) (less, comparable bool) {
	if na, ok := numeric(a); ok {
		nb, ok := numeric(b)
		if !ok {
			return false, false
		}
		return na.Cmp(nb) < 0, true
	}
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return ok && x < y, ok
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Compare(x, y) < 0, ok
	case Decimal:
		y, ok := b.(Decimal)
		if !ok {
			return false, false
		}
		rx, okx := new(big.Rat).SetString(string(x))
		ry, oky := new(big.Rat).SetString(string(y))
		if !okx || !oky {
			return false, false
		}
		return rx.Cmp(ry) < 0, true
	case Tuple:
		y, ok := b.(Tuple)
		if !ok {
			return false, false
		}
		for i := 0; i < len(x) && i < len(y); i++ {
			if !KeyEqual(x[i], y[i]) {
				return pyLess(x[i], y[i])
			}
		}
		return len(x) < len(y), true
	}
	return false, false
}

func validUTF8(s string) bool { return utf8.ValidString(s) }
