package banana

import (
	"bytes"
	"cmp"
	"math/big"
	"slices"
	"unicode/utf8"
)

// sortOrder returns the indexes of items in the order Python's sorted()
// gives their keys, appended to *buf (which the caller truncates when done
// with them), or nil for the items' own order: when they are in order
// already, or when some keys are not comparable (where python-foolscap
// itself would fail to send the dict). Sorting indexes rather than a copy
// of the items moves no pointers, so it costs no write barriers.
func sortOrder(items []DictItem, buf *[]int32) []int32 {
	if len(items) < 2 {
		return nil
	}
	// Nearly every dict has keys of one kind (str, or bytes from Python 2
	// peers, sometimes ints), which compare without pyLess's big.Rat
	// conversions, and a dict that we decoded (python-foolscap sends them
	// sorted) is in order already. The comparators agree with pyLess for
	// their kind, and a stable sort of a non-decreasing slice is itself.
	switch items[0].Key.(type) {
	case string:
		if order, ok := orderOrdered[string](items, buf); ok {
			return order
		}
	case int64:
		if order, ok := orderOrdered[int64](items, buf); ok {
			return order
		}
	case []byte:
		if allKeys[[]byte](items) {
			return orderBy(items, buf, func(a, b any) int { return bytes.Compare(a.([]byte), b.([]byte)) })
		}
	}
	return pyOrder(items, buf)
}

// pyOrder is sortOrder for any keys, compared with pyLess.
func pyOrder(items []DictItem, buf *[]int32) []int32 {
	order := identity(len(items), buf)
	ok := true
	slices.SortStableFunc(order, func(i, j int32) int {
		a, b := items[i].Key, items[j].Key
		lt, comparable := pyLess(a, b)
		if !comparable {
			ok = false
			return 0
		}
		if lt {
			return -1
		}
		if gt, _ := pyLess(b, a); gt {
			return 1
		}
		return 0
	})
	if !ok {
		return nil
	}
	return order
}

// orderOrdered is sortOrder for keys that are all K, which < orders as
// pyLess does; ok is false when some key is not a K.
func orderOrdered[K string | int64](items []DictItem, buf *[]int32) (order []int32, ok bool) {
	sorted := true
	prev, _ := items[0].Key.(K)
	for _, it := range items[1:] {
		k, isK := it.Key.(K)
		if !isK {
			return nil, false
		}
		if k < prev {
			sorted = false
		}
		prev = k
	}
	if sorted {
		return nil, true
	}
	order = identity(len(items), buf)
	key := func(i int32) K { return items[i].Key.(K) }
	if len(order) > 12 {
		slices.SortStableFunc(order, func(i, j int32) int { return cmp.Compare(key(i), key(j)) })
		return order, true
	}
	// An insertion sort, stable as it moves a key only past greater ones,
	// is the quickest for the few keys of a usual dict.
	for i := 1; i < len(order); i++ {
		for j := i; j > 0 && key(order[j]) < key(order[j-1]); j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
	return order, true
}

// orderBy is sortOrder for keys that keyCmp totally orders.
func orderBy(items []DictItem, buf *[]int32, keyCmp func(a, b any) int) []int32 {
	for i := 1; i < len(items); i++ {
		if keyCmp(items[i-1].Key, items[i].Key) > 0 {
			order := identity(len(items), buf)
			slices.SortStableFunc(order, func(i, j int32) int { return keyCmp(items[i].Key, items[j].Key) })
			return order
		}
	}
	return nil
}

// identity appends 0..n-1 to *buf and returns them.
func identity(n int, buf *[]int32) []int32 {
	start := len(*buf)
	for i := range n {
		*buf = append(*buf, int32(i))
	}
	return (*buf)[start:]
}

// allKeys reports whether every key is a K.
func allKeys[K any](items []DictItem) bool {
	for _, it := range items {
		if _, ok := it.Key.(K); !ok {
			return false
		}
	}
	return true
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

// validUTF8 is utf8.ValidString with a quicker answer for ASCII, which
// nearly every key and value is: utf8.ValidString looks at the last (or
// only) 7 bytes of a string one by one, through a table, and keys are
// short.
func validUTF8(s string) bool {
	t := s
	for len(t) >= 8 {
		// The compiler makes this one 8-byte load.
		w := uint64(t[0]) | uint64(t[1])<<8 | uint64(t[2])<<16 | uint64(t[3])<<24 |
			uint64(t[4])<<32 | uint64(t[5])<<40 | uint64(t[6])<<48 | uint64(t[7])<<56
		if w&0x8080808080808080 != 0 {
			return utf8.ValidString(s)
		}
		t = t[8:]
	}
	var b byte
	for i := 0; i < len(t); i++ {
		b |= t[i]
	}
	return b < 0x80 || utf8.ValidString(s)
}
