package pyjson

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"unicode/utf8"

	"github.com/gatherer/gatherer/foolscap/banana"
)

// FailureClass is the copyable class name under which python-foolscap sends
// a Failure; the receiver turns it into a foolscap.call.CopiedFailure.
const FailureClass = "twisted.python.failure.Failure"

// UnJSONableMessage is the "message" of the object ExtendedEncoder writes in
// place of a value JSON cannot hold.
const UnJSONableMessage = "log.msg() was given an object that could not be encoded into JSON. I've replaced it with this UnJSONable object. The object's repr is in .repr"

// MaxEncodeDepth bounds the nesting of containers Append accepts, standing in
// for Python's recursion limit (and catching cyclic Go values).
const MaxEncodeDepth = 1000

// ErrTooDeep is returned (wrapped) when a value nests deeper than the limit.
var ErrTooDeep = errors.New("maximum recursion depth exceeded")

// MaxEncodeBytes bounds the JSON text of one value Append writes. A Banana
// message can reference containers it already sent, so a few hundred bytes
// from a node can describe a list whose JSON text would be terabytes
// (json.dumps expands shared references too); no real event comes near
// 64 MiB. The bound is checked between the items of a container, so the
// output may pass it by the size of one scalar item before Append fails.
const MaxEncodeBytes = 64 << 20

// ErrTooLarge is returned (wrapped) when the JSON text of one value would
// exceed MaxEncodeBytes.
var ErrTooLarge = errors.New("value too large to encode as JSON (shared references expand it beyond the limit)")

// KeyTypeError is Python's TypeError for a dict key json.dumps cannot write
// (bytes, tuple, ...): the whole document fails and nothing is written. Its
// text is Python's, e.g. "keys must be str, int, float, bool or None, not
// bytes", which the log gatherer prints after "GATHERER: unable to
// serialize ...: ".
type KeyTypeError struct {
	// Type is the Python type name of the key (bytes, tuple, frozenset,
	// decimal.Decimal, ...).
	Type string
}

func (e *KeyTypeError) Error() string {
	return "keys must be str, int, float, bool or None, not " + e.Type
}

// UnsupportedTypeError reports a Go value outside the banana value model.
type UnsupportedTypeError struct {
	Value any
}

func (e *UnsupportedTypeError) Error() string {
	return fmt.Sprintf("pyjson: Go type %T is not part of the banana value model", e.Value)
}

// Marshal returns json.dumps(v, cls=ExtendedEncoder) as bytes, without a
// trailing newline.
func Marshal(v any) ([]byte, error) {
	return Append(nil, v)
}

// Append appends json.dumps(v, cls=ExtendedEncoder) to dst. On error dst is
// returned unchanged in length: nothing partial is kept, as in Python, where
// the document is built before anything is written.
func Append(dst []byte, v any) ([]byte, error) {
	start := len(dst)
	out, err := appendValue(dst, v, 0, start+MaxEncodeBytes)
	if err == nil && len(out) > start+MaxEncodeBytes {
		err = errTooLarge()
	}
	if err != nil {
		return dst[:start], err
	}
	return out, nil
}

func appendValue(dst []byte, v any, depth, limit int) ([]byte, error) {
	if depth > MaxEncodeDepth {
		return dst, fmt.Errorf("pyjson: %w while encoding a JSON object", ErrTooDeep)
	}
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case bool:
		if x {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case string:
		return AppendString(dst, x), nil
	case float64:
		return AppendJSONFloat(dst, x), nil
	case float32:
		return AppendJSONFloat(dst, float64(x)), nil
	case *big.Int:
		if x == nil {
			return append(dst, "null"...), nil
		}
		return x.Append(dst, 10), nil
	case banana.List:
		return appendArray(dst, x, depth, limit)
	case banana.Tuple:
		return appendArray(dst, x, depth, limit)
	case []any:
		return appendArray(dst, x, depth, limit)
	case *banana.Dict:
		if x == nil {
			return append(dst, "null"...), nil
		}
		return appendObject(dst, x, depth, limit)
	case *banana.Copyable:
		if x == nil {
			return append(dst, "null"...), nil
		}
		if x.Class == FailureClass {
			return appendValue(dst, failureObject(x), depth, limit)
		}
		return appendValue(dst, unJSONable(x, limit-len(dst)), depth, limit)
	case []byte, banana.Set, banana.FrozenSet, banana.Decimal:
		return appendValue(dst, unJSONable(x, limit-len(dst)), depth, limit)
	}
	if b, ok := appendInt(dst, v); ok {
		return b, nil
	}
	return dst, &UnsupportedTypeError{Value: v}
}

// appendInt appends any Go integer type in decimal.
func appendInt(dst []byte, v any) ([]byte, bool) {
	switch x := v.(type) {
	case int:
		return strconv.AppendInt(dst, int64(x), 10), true
	case int8:
		return strconv.AppendInt(dst, int64(x), 10), true
	case int16:
		return strconv.AppendInt(dst, int64(x), 10), true
	case int32:
		return strconv.AppendInt(dst, int64(x), 10), true
	case int64:
		return strconv.AppendInt(dst, x, 10), true
	case uint:
		return strconv.AppendUint(dst, uint64(x), 10), true
	case uint8:
		return strconv.AppendUint(dst, uint64(x), 10), true
	case uint16:
		return strconv.AppendUint(dst, uint64(x), 10), true
	case uint32:
		return strconv.AppendUint(dst, uint64(x), 10), true
	case uint64:
		return strconv.AppendUint(dst, x, 10), true
	}
	return dst, false
}

func appendArray(dst []byte, xs []any, depth, limit int) ([]byte, error) {
	dst = append(dst, '[')
	var err error
	for i, e := range xs {
		if len(dst) > limit {
			return dst, errTooLarge()
		}
		if i > 0 {
			dst = append(dst, ", "...)
		}
		if dst, err = appendValue(dst, e, depth+1, limit); err != nil {
			return dst, err
		}
	}
	return append(dst, ']'), nil
}

func appendObject(dst []byte, d *banana.Dict, depth, limit int) ([]byte, error) {
	dst = append(dst, '{')
	var err error
	for i, it := range d.Items {
		if len(dst) > limit {
			return dst, errTooLarge()
		}
		if i > 0 {
			dst = append(dst, ", "...)
		}
		if dst, err = appendKey(dst, it.Key); err != nil {
			return dst, err
		}
		dst = append(dst, ": "...)
		if dst, err = appendValue(dst, it.Value, depth+1, limit); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

func errTooLarge() error {
	return fmt.Errorf("pyjson: %w: over %d MiB of JSON for one value", ErrTooLarge, MaxEncodeBytes>>20)
}

// appendKey writes a dict key the way json.dumps converts it to a string:
// str as is, float as repr (NaN/Infinity tokens), bool and None as
// true/false/null, int in decimal; anything else is a KeyTypeError.
func appendKey(dst []byte, k any) ([]byte, error) {
	switch x := k.(type) {
	case string:
		return AppendString(dst, x), nil
	case float64:
		dst = append(dst, '"')
		dst = AppendJSONFloat(dst, x)
		return append(dst, '"'), nil
	case float32:
		dst = append(dst, '"')
		dst = AppendJSONFloat(dst, float64(x))
		return append(dst, '"'), nil
	case bool:
		if x {
			return append(dst, `"true"`...), nil
		}
		return append(dst, `"false"`...), nil
	case nil:
		return append(dst, `"null"`...), nil
	case *big.Int:
		if x != nil {
			dst = append(dst, '"')
			dst = x.Append(dst, 10)
			return append(dst, '"'), nil
		}
	}
	mark := len(dst)
	if b, ok := appendInt(append(dst, '"'), k); ok {
		return append(b, '"'), nil
	}
	return dst[:mark], &KeyTypeError{Type: TypeName(k)}
}

// AppendString appends s as a JSON string with Python's ensure_ascii rules:
// short escapes for \" \\ \n \r \t \b \f, everything else outside U+0020 to
// U+007E as lowercase \uxxxx, characters beyond the BMP as surrogate pairs.
func AppendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c <= 0x7e && c != '"' && c != '\\' {
			i++
			continue
		}
		dst = append(dst, s[start:i]...)
		if c < utf8.RuneSelf {
			switch c {
			case '"':
				dst = append(dst, `\"`...)
			case '\\':
				dst = append(dst, `\\`...)
			case '\n':
				dst = append(dst, `\n`...)
			case '\r':
				dst = append(dst, `\r`...)
			case '\t':
				dst = append(dst, `\t`...)
			case '\b':
				dst = append(dst, `\b`...)
			case '\f':
				dst = append(dst, `\f`...)
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := decodeRune(s[i:])
		i += size
		start = i
		if r >= 0x10000 {
			r -= 0x10000
			hi, lo := 0xd800+(r>>10), 0xdc00+(r&0x3ff)
			dst = append(dst, '\\', 'u', hex[hi>>12], hex[hi>>8&0xf], hex[hi>>4&0xf], hex[hi&0xf])
			dst = append(dst, '\\', 'u', hex[lo>>12], hex[lo>>8&0xf], hex[lo>>4&0xf], hex[lo&0xf])
			continue
		}
		dst = append(dst, '\\', 'u', hex[r>>12], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// decodeRune decodes one code point of s, which must not be empty. Besides
// valid UTF-8 it accepts the 3-byte form of a surrogate (how Unmarshal keeps
// Python's lone surrogates); other invalid bytes decode as U+FFFD, one byte
// at a time.
func decodeRune(s string) (rune, int) {
	r, size := utf8.DecodeRuneInString(s)
	if r != utf8.RuneError || size != 1 {
		return r, size
	}
	if len(s) >= 3 && s[0] == 0xed && s[1] >= 0xa0 && s[1] <= 0xbf && s[2] >= 0x80 && s[2] <= 0xbf {
		return rune(s[0]&0x0f)<<12 | rune(s[1]&0x3f)<<6 | rune(s[2]&0x3f), 3
	}
	return utf8.RuneError, 1
}

// appendSurrogate appends the generalized UTF-8 form of a surrogate code
// point (0xd800-0xdfff).
func appendSurrogate(dst []byte, r rune) []byte {
	return append(dst, 0xe0|byte(r>>12), 0x80|byte(r>>6)&0x3f, 0x80|byte(r)&0x3f)
}

// TypeName returns the Python type name of a value of the model, as Python's
// error messages spell it.
func TypeName(v any) string {
	switch x := v.(type) {
	case nil:
		return "NoneType"
	case bool:
		return "bool"
	case string:
		return "str"
	case []byte:
		return "bytes"
	case float32, float64:
		return "float"
	case *big.Int:
		return "int"
	case banana.List, []any:
		return "list"
	case banana.Tuple:
		return "tuple"
	case banana.Set:
		return "set"
	case banana.FrozenSet:
		return "frozenset"
	case *banana.Dict:
		return "dict"
	case banana.Decimal:
		return "decimal.Decimal"
	case *banana.Copyable:
		if x != nil && x.Class == FailureClass {
			return "CopiedFailure"
		}
		return "RemoteCopy"
	}
	if _, ok := appendInt(nil, v); ok {
		return "int"
	}
	return fmt.Sprintf("%T", v)
}

// unJSONable is the UnJSONable object for v; its repr is cut short past
// room bytes (more than would fit in the output anyway).
func unJSONable(v any, room int) *banana.Dict {
	return banana.NewDict("@", "UnJSONable", "message", UnJSONableMessage, "repr", string(AppendReprN(nil, v, max(room, 0))))
}

func failureObject(c *banana.Copyable) *banana.Dict {
	f := CopiedFailureOf(c)
	return banana.NewDict("@", "Failure", "str", f.Str(), "repr", f.Repr(), "traceback", f.Traceback())
}

// CopiedFailure is the state of a Failure received over the wire (class
// twisted.python.failure.Failure), as python-foolscap's CopiedFailure holds
// it: every field decoded to str.
type CopiedFailure struct {
	Type   string
	Value  string
	Remote string // the remote traceback text (or "Traceback unavailable\n")
}

// CopiedFailureOf reads the type, value and traceback attributes of a
// received Failure copyable; bytes are decoded as UTF-8, missing fields are
// empty.
func CopiedFailureOf(c *banana.Copyable) CopiedFailure {
	get := func(name string) string {
		v, _ := c.Attr(name)
		switch x := v.(type) {
		case string:
			return x
		case []byte:
			return string(x)
		case nil:
			return ""
		}
		return Str(v)
	}
	return CopiedFailure{Type: get("type"), Value: get("value"), Remote: get("traceback")}
}

// Traceback returns f.getTraceback().
func (f CopiedFailure) Traceback() string {
	return "Traceback from remote host -- " + f.Remote
}

// Str returns str(f).
func (f CopiedFailure) Str() string {
	return "[CopiedFailure instance: " + f.Traceback() + "]"
}

// Repr returns repr(f): the class, the qualified exception type (Twisted's
// reflect.qual of the stand-in class CopiedFailure builds from the dotted
// type name) and the value.
func (f CopiedFailure) Repr() string {
	mod, name := "", f.Type
	for i := len(f.Type) - 1; i >= 0; i-- {
		if f.Type[i] == '.' {
			mod, name = f.Type[:i], f.Type[i+1:]
			break
		}
	}
	return "<foolscap.call.CopiedFailure " + mod + "." + name + ": " + f.Value + ">"
}
