package flog

import (
	"math/big"

	"github.com/gatherer/gatherer/foolscap/banana"
)

// pyEqual is Python's == over decoded JSON values (and the wire model):
// numbers by value across int, float and bool, lists and tuples element by
// element (a list never equals a tuple), dicts regardless of order.
func pyEqual(a, b any) bool {
	if na, ok := num(a); ok {
		nb, ok := num(b)
		return ok && na.Cmp(nb) == 0
	}
	switch x := a.(type) {
	case banana.List:
		y, ok := b.(banana.List)
		return ok && seqEqual(x, y)
	case banana.Tuple:
		y, ok := b.(banana.Tuple)
		return ok && seqEqual(x, y)
	case *banana.Dict:
		y, ok := b.(*banana.Dict)
		if !ok || x.Len() != y.Len() {
			return false
		}
		for _, it := range x.Items {
			v, ok := y.Get(it.Key)
			if !ok || !pyEqual(it.Value, v) {
				return false
			}
		}
		return true
	}
	return banana.KeyEqual(a, b)
}

func seqEqual(x, y []any) bool {
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if !pyEqual(x[i], y[i]) {
			return false
		}
	}
	return true
}

func num(v any) (*big.Rat, bool) {
	switch x := v.(type) {
	case bool:
		if x {
			return big.NewRat(1, 1), true
		}
		return new(big.Rat), true
	case int64:
		return new(big.Rat).SetInt64(x), true
	case int:
		return new(big.Rat).SetInt64(int64(x)), true
	case *big.Int:
		if x != nil {
			return new(big.Rat).SetInt(x), true
		}
	case float64:
		if r := new(big.Rat); r.SetFloat64(x) != nil {
			return r, true
		}
	}
	return nil, false
}
