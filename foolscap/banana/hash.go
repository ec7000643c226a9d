package banana

import (
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
)

// hashKey returns a string that is equal for two values exactly when
// KeyEqual holds, and false for values Python cannot hash (list, set,
// dict, copyable, and tuples containing them).
func hashKey(v any) (string, bool) {
	var b strings.Builder
	if !appendHashKey(&b, v) {
		return "", false
	}
	return b.String(), true
}

// hashable reports whether Python could use v as a dict key.
func hashable(v any) bool {
	switch x := v.(type) {
	case nil, bool, int, int64, *big.Int, float64, string, []byte, Decimal:
		return true
	case Tuple:
		for _, e := range x {
			if !hashable(e) {
				return false
			}
		}
		return true
	case FrozenSet:
		for _, e := range x {
			if !hashable(e) {
				return false
			}
		}
		return true
	}
	return false
}

func appendHashKey(b *strings.Builder, v any) bool {
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
		b.WriteString("s" + strconv.Itoa(len(x)) + ":" + x)
	case []byte:
		b.WriteString("b" + strconv.Itoa(len(x)) + ":")
		b.Write(x)
	case Decimal:
		b.WriteString("d" + strconv.Itoa(len(x)) + ":" + string(x))
	case Tuple:
		b.WriteString("t" + strconv.Itoa(len(x)) + "(")
		for _, e := range x {
			if !appendHashKey(b, e) {
				return false
			}
		}
		b.WriteString(")")
	case FrozenSet:
		keys := make([]string, 0, len(x))
		for _, e := range x {
			k, ok := hashKey(e)
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
