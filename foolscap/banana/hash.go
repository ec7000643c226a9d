package banana

import (
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
)

// keyWork is a budget for hashing and comparing set elements and dict
// keys. A message can reference a container it already sent, so a few
// hundred bytes can describe a tuple whose expansion has 2**40 leaves;
// walking it would hang the decoder. Every node visited costs one unit,
// and every 16 bytes of a string or bytes one more. A nil *keyWork is
// unlimited. Once left goes negative the walk stops and the caller must
// report ErrValueTooComplex rather than the walk's (meaningless) result.
type keyWork struct{ left int }

// take charges n units and reports whether the budget still holds.
func (w *keyWork) take(n int) bool {
	if w == nil {
		return true
	}
	w.left -= n
	return w.left >= 0
}

// exhausted reports whether a walk was cut short.
func (w *keyWork) exhausted() bool { return w != nil && w.left < 0 }

// hashKey returns a string that is equal for two values exactly when
// KeyEqual holds, and false for values Python cannot hash (list, set,
// dict, copyable, and tuples containing them), or when w runs out.
func hashKey(v any, w *keyWork) (string, bool) {
	var b strings.Builder
	if !appendHashKey(&b, v, w) {
		return "", false
	}
	return b.String(), true
}

// hashable reports whether Python could use v as a dict key (false too
// when w runs out).
func hashable(v any, w *keyWork) bool {
	if !w.take(1) {
		return false
	}
	switch x := v.(type) {
	case nil, bool, int, int64, *big.Int, float64, string, []byte, Decimal:
		return true
	case Tuple:
		for _, e := range x {
			if !hashable(e, w) {
				return false
			}
		}
		return true
	case FrozenSet:
		for _, e := range x {
			if !hashable(e, w) {
				return false
			}
		}
		return true
	}
	return false
}

func appendHashKey(b *strings.Builder, v any, w *keyWork) bool {
	if !w.take(1) {
		return false
	}
	switch x := v.(type) {
	case nil:
		b.WriteString("N;")
	case bool:
		if x {
			b.WriteString("i1;")
		} else {
			b.WriteString("i0;")
		}
	case int:
		b.WriteString("i" + strconv.FormatInt(int64(x), 10) + ";")
	case int64:
		b.WriteString("i" + strconv.FormatInt(x, 10) + ";")
	case *big.Int:
		b.WriteString("i" + x.String() + ";")
	case float64:
		if !math.IsInf(x, 0) && !math.IsNaN(x) && x == math.Trunc(x) {
			bf := new(big.Float).SetFloat64(x)
			i, _ := bf.Int(nil)
			b.WriteString("i" + i.String() + ";")
		} else {
			b.WriteString("f" + strconv.FormatUint(math.Float64bits(x), 16) + ";")
		}
	case string:
		if !w.take(len(x) >> 4) {
			return false
		}
		b.WriteString("s" + strconv.Itoa(len(x)) + ":" + x)
	case []byte:
		if !w.take(len(x) >> 4) {
			return false
		}
		b.WriteString("b" + strconv.Itoa(len(x)) + ":")
		b.Write(x)
	case Decimal:
		if !w.take(len(x) >> 4) {
			return false
		}
		b.WriteString("d" + strconv.Itoa(len(x)) + ":" + string(x))
	case Tuple:
		b.WriteString("t" + strconv.Itoa(len(x)) + "(")
		for _, e := range x {
			if !appendHashKey(b, e, w) {
				return false
			}
		}
		b.WriteString(")")
	case FrozenSet:
		keys := make([]string, 0, len(x))
		for _, e := range x {
			k, ok := hashKey(e, w)
			if !ok {
				return false
			}
			keys = append(keys, k)
		}
		slices.Sort(keys)
		keys = slices.Compact(keys)
		b.WriteString("z" + strconv.Itoa(len(keys)) + "(")
		for _, k := range keys {
			b.WriteString(k)
		}
		b.WriteString(")")
	default:
		return false
	}
	return true
}
