package pyjson

import (
	"math"
	"strconv"
)

// AppendFloat appends Python's repr(f): the shortest digits that round-trip,
// fixed notation for decimal exponents -4 to 15 (with ".0" on whole numbers),
// scientific notation with a signed exponent of at least two digits
// otherwise, and the tokens nan, inf and -inf. JSON output uses
// AppendJSONFloat instead, which writes NaN, Infinity and -Infinity.
func AppendFloat(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "nan"...)
	case math.IsInf(f, 1):
		return append(dst, "inf"...)
	case math.IsInf(f, -1):
		return append(dst, "-inf"...)
	}
	return appendFiniteFloat(dst, f)
}

// AppendJSONFloat appends f the way json.dumps writes a float: repr for
// finite values, NaN, Infinity or -Infinity otherwise.
func AppendJSONFloat(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	}
	return appendFiniteFloat(dst, f)
}

// FormatFloat returns Python's repr(f).
func FormatFloat(f float64) string {
	return string(AppendFloat(nil, f))
}

func appendFiniteFloat(dst []byte, f float64) []byte {
	if f == 0 {
		if math.Signbit(f) {
			return append(dst, "-0.0"...)
		}
		return append(dst, "0.0"...)
	}
	exp := decimalExponent(f)
	if exp < -4 || exp >= 16 {
		// strconv's 'e' format already writes at least two exponent
		// digits with a sign, like Python: 1e+16, 1e-05, 5e-324.
		return strconv.AppendFloat(dst, f, 'e', -1, 64)
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, 'f', -1, 64)
	for _, c := range dst[start:] {
		if c == '.' {
			return dst
		}
	}
	return append(dst, ".0"...)
}

// decimalExponent returns the exponent of f in shortest scientific notation.
func decimalExponent(f float64) int {
	var buf [32]byte
	b := strconv.AppendFloat(buf[:0], f, 'e', -1, 64)
	i := len(b) - 1
	for i >= 0 && b[i] != 'e' {
		i--
	}
	n, err := strconv.Atoi(string(b[i+1:]))
	if err != nil { // cannot happen: strconv always writes an exponent
		return 0
	}
	return n
}
