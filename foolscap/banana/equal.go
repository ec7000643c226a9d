package banana

import (
	"bytes"
	"math/big"
)

// KeyEqual reports whether two dict keys are equal the way Python compares
// hashable values of the value model. Numbers compare by value across int64,
// *big.Int, float64 and bool (Python: True == 1 == 1.0); bytes and str never
// equal each other; tuples and frozensets compare element by element.
func KeyEqual(a, b any) bool { return keyEqual(a, b, nil) }

// keyEqual is KeyEqual charging w (nil: unlimited); its result means
// nothing once w is exhausted.
func keyEqual(a, b any, w *keyWork) bool {
	if !w.take(1) {
		return false
	}
	if na, ok := numeric(a); ok {
		nb, ok := numeric(b)
		return ok && na.Cmp(nb) == 0
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	case Decimal:
		y, ok := b.(Decimal)
		return ok && x == y
	case Tuple:
		y, ok := b.(Tuple)
		return ok && seqEqual(x, y, w)
	case FrozenSet:
		y, ok := b.(FrozenSet)
		return ok && len(x) == len(y) && subset(x, y, w) && subset(y, x, w)
	}
	return false
}

func seqEqual(x, y []any, w *keyWork) bool {
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if !keyEqual(x[i], y[i], w) {
			return false
		}
	}
	return true
}

func subset(x, y []any, w *keyWork) bool {
outer:
	for _, a := range x {
		for _, b := range y {
			if keyEqual(a, b, w) {
				continue outer
			}
		}
		return false
	}
	return true
}

// numeric returns v as an exact rational if it is a number of the model.
func numeric(v any) (*big.Rat, bool) {
	switch x := v.(type) {
	case bool:
		if x {
			return big.NewRat(1, 1), true
		}
		return new(big.Rat), true
	case int:
		return new(big.Rat).SetInt64(int64(x)), true
	case int64:
		return new(big.Rat).SetInt64(x), true
	case *big.Int:
		return new(big.Rat).SetInt(x), true
	case float64:
		r := new(big.Rat)
		if r.SetFloat64(x) == nil { // NaN or Inf
			return nil, false
		}
		return r, true
	}
	return nil, false
}

// Equal is Python's == over the value model: numbers by value across int,
// float and bool, lists and tuples element by element (a list never equals
// a tuple), sets and frozensets as sets, dicts regardless of item order,
// bytes and str never equal to each other.
func Equal(a, b any) bool {
	if na, ok := numeric(a); ok {
		nb, ok := numeric(b)
		return ok && na.Cmp(nb) == 0
	}
	switch x := a.(type) {
	case List:
		y, ok := b.(List)
		return ok && deepSeqEqual(x, y)
	case Tuple:
		y, ok := b.(Tuple)
		return ok && deepSeqEqual(x, y)
	case Set, FrozenSet:
		xs, _ := setElems(x)
		ys, ok := setElems(b)
		return ok && len(xs) == len(ys) && subset(xs, ys, nil) && subset(ys, xs, nil)
	case *Dict:
		y, ok := b.(*Dict)
		if !ok || x.Len() != y.Len() {
			return false
		}
		for _, it := range x.Items {
			v, ok := y.Get(it.Key)
			if !ok || !Equal(it.Value, v) {
				return false
			}
		}
		return true
	}
	return KeyEqual(a, b)
}

func deepSeqEqual(x, y []any) bool {
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if !Equal(x[i], y[i]) {
			return false
		}
	}
	return true
}

// setElems returns the elements of a Set or FrozenSet.
func setElems(v any) ([]any, bool) {
	switch x := v.(type) {
	case Set:
		return x, true
	case FrozenSet:
		return x, true
	}
	return nil, false
}
