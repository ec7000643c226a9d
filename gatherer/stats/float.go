package stats

import (
	"math"

	"github.com/gatherer/gatherer/gatherer/flog/pyjson"
)

// appendFloat appends f as Python's json.dump writes it (repr), except that
// NaN and ±Infinity, which Python writes as non-JSON tokens, become null so
// that every JSON reader can load stats.json.
func appendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	return pyjson.AppendFloat(b, f)
}
