package pyjson

import (
	"math/big"
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/gatherer/gatherer/foolscap/banana"
)

// Repr returns Python's repr(v) for a value of the banana value model:
// 'str' with Python's quoting and escapes, b'bytes', [lists], (tuples,),
// {dicts} in their order, {sets}, frozenset({...}), Decimal('...'), float
// repr, None/True/False, and the repr of a received Failure. Sets are
// rendered in their stored order (Python's hash order cannot be reproduced).
func Repr(v any) string {
	return string(AppendRepr(nil, v))
}

// Str returns Python's str(v): a str is itself, a received Failure is
// "[CopiedFailure instance: ...]", anything else is its repr.
func Str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case *banana.Copyable:
		if x != nil && x.Class == FailureClass {
			return CopiedFailureOf(x).Str()
		}
	}
	return Repr(v)
}

// AppendRepr appends Repr(v) to dst. Shared references can make a small
// received value's repr huge: past MaxEncodeBytes, containers end their
// items with "..." (see AppendReprN).
func AppendRepr(dst []byte, v any) []byte {
	return appendRepr(dst, v, 0, len(dst)+MaxEncodeBytes)
}

// AppendReprN appends Repr(v) to dst, cut short with "..." inside the
// containers once about max bytes have been appended (the last item may
// pass it by the size of one scalar), so that a log line can show the
// beginning of a value without building all of it.
func AppendReprN(dst []byte, v any, max int) []byte {
	return appendRepr(dst, v, 0, len(dst)+max)
}

func appendRepr(dst []byte, v any, depth, limit int) []byte {
	if depth > MaxEncodeDepth {
		return append(dst, "..."...)
	}
	switch x := v.(type) {
	case nil:
		return append(dst, "None"...)
	case bool:
		if x {
			return append(dst, "True"...)
		}
		return append(dst, "False"...)
	case string:
		return AppendStrRepr(dst, x)
	case []byte:
		return AppendBytesRepr(dst, x)
	case float64:
		return AppendFloat(dst, x)
	case float32:
		return AppendFloat(dst, float64(x))
	case *big.Int:
		if x == nil {
			return append(dst, "None"...)
		}
		return x.Append(dst, 10)
	case banana.List:
		return appendSeqRepr(dst, "[", "]", x, depth, limit)
	case []any:
		return appendSeqRepr(dst, "[", "]", x, depth, limit)
	case banana.Tuple:
		if len(x) == 1 {
			dst = append(dst, '(')
			dst = appendRepr(dst, x[0], depth+1, limit)
			return append(dst, ",)"...)
		}
		return appendSeqRepr(dst, "(", ")", x, depth, limit)
	case banana.Set:
		if len(x) == 0 {
			return append(dst, "set()"...)
		}
		return appendSeqRepr(dst, "{", "}", x, depth, limit)
	case banana.FrozenSet:
		if len(x) == 0 {
			return append(dst, "frozenset()"...)
		}
		return appendSeqRepr(dst, "frozenset({", "})", x, depth, limit)
	case banana.Decimal:
		dst = append(dst, "Decimal("...)
		dst = AppendStrRepr(dst, string(x))
		return append(dst, ')')
	case *banana.Dict:
		if x == nil {
			return append(dst, "None"...)
		}
		dst = append(dst, '{')
		for i, it := range x.Items {
			if len(dst) > limit {
				dst = append(dst, "..."...)
				break
			}
			if i > 0 {
				dst = append(dst, ", "...)
			}
			dst = appendRepr(dst, it.Key, depth+1, limit)
			dst = append(dst, ": "...)
			dst = appendRepr(dst, it.Value, depth+1, limit)
		}
		return append(dst, '}')
	case *banana.Copyable:
		if x == nil {
			return append(dst, "None"...)
		}
		if x.Class == FailureClass {
			return append(dst, CopiedFailureOf(x).Repr()...)
		}
		return append(dst, "<RemoteCopy of "+x.Class+">"...)
	}
	if b, ok := appendInt(dst, v); ok {
		return b
	}
	return append(dst, "<"+TypeName(v)+" object>"...)
}

func appendSeqRepr(dst []byte, open, close string, xs []any, depth, limit int) []byte {
	dst = append(dst, open...)
	for i, e := range xs {
		if len(dst) > limit {
			dst = append(dst, "..."...)
			break
		}
		if i > 0 {
			dst = append(dst, ", "...)
		}
		dst = appendRepr(dst, e, depth+1, limit)
	}
	return append(dst, close...)
}

// AppendStrRepr appends Python's repr of a str: single quotes unless the
// text holds ' and no ", backslash escapes for the quote, \\, \t, \n, \r,
// \xhh for other control characters and DEL, non-printable non-ASCII as
// \xhh, \uhhhh or \Uhhhhhhhh, printable characters as they are.
func AppendStrRepr(dst []byte, s string) []byte {
	quote := byte('\'')
	if containsByte(s, '\'') && !containsByte(s, '"') {
		quote = '"'
	}
	dst = append(dst, quote)
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			dst = appendASCIIRepr(dst, c, quote)
			i++
			continue
		}
		r, size := decodeRune(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, "\\ufffd"...)
		case r >= 0xd800 && r <= 0xdfff:
			dst = appendHexEscape(dst, 'u', uint32(r), 4)
		case unicode.IsPrint(r):
			dst = append(dst, s[i:i+size]...)
		case r <= 0xff:
			dst = appendHexEscape(dst, 'x', uint32(r), 2)
		case r <= 0xffff:
			dst = appendHexEscape(dst, 'u', uint32(r), 4)
		default:
			dst = appendHexEscape(dst, 'U', uint32(r), 8)
		}
		i += size
	}
	return append(dst, quote)
}

// AppendBytesRepr appends Python's repr of bytes: b'...' (or b"..." when the
// value holds ' and no "), printable ASCII as is, \\ \t \n \r and the quote
// escaped, every other byte as \xhh.
func AppendBytesRepr(dst []byte, b []byte) []byte {
	quote := byte('\'')
	if containsByte(string(b), '\'') && !containsByte(string(b), '"') {
		quote = '"'
	}
	dst = append(dst, 'b', quote)
	for _, c := range b {
		if c >= utf8.RuneSelf {
			dst = appendHexEscape(dst, 'x', uint32(c), 2)
			continue
		}
		dst = appendASCIIRepr(dst, c, quote)
	}
	return append(dst, quote)
}

func appendASCIIRepr(dst []byte, c, quote byte) []byte {
	switch {
	case c == quote || c == '\\':
		return append(dst, '\\', c)
	case c == '\t':
		return append(dst, `\t`...)
	case c == '\n':
		return append(dst, `\n`...)
	case c == '\r':
		return append(dst, `\r`...)
	case c < 0x20 || c == 0x7f:
		return appendHexEscape(dst, 'x', uint32(c), 2)
	}
	return append(dst, c)
}

func appendHexEscape(dst []byte, kind byte, v uint32, width int) []byte {
	dst = append(dst, '\\', kind)
	h := strconv.FormatUint(uint64(v), 16)
	for i := len(h); i < width; i++ {
		dst = append(dst, '0')
	}
	return append(dst, h...)
}

func containsByte(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}
