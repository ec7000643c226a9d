package pyjson

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"unicode/utf8"

	"github.com/gatherer/gatherer/foolscap/banana"
)

// DefaultMaxDepth is the nesting limit Unmarshal applies, standing in for
// Python's recursion limit (1000 frames).
const DefaultMaxDepth = 1000

// maxIntDigits is CPython's limit on int("...") conversion
// (sys.get_int_max_str_digits()), which json.loads inherits.
const maxIntDigits = 4300

// ErrIntTooLong is wrapped by the error for an integer literal longer than
// Python's 4300-digit limit.
var ErrIntTooLong = errors.New("integer literal exceeds 4300 digits")

// DecodeError is what json.loads raises for a line: a JSONDecodeError with
// its message and position (Error() gives Python's exact text, e.g.
// "Expecting value: line 1 column 4 (char 3)"), or a plain ValueError (bad
// UTF-8, over-long integer) whose text is Python's too.
type DecodeError struct {
	Msg    string // Python's message, without the position
	Offset int    // byte offset into the input
	Char   int    // code point offset, as Python counts (the "char" of the message)
	Line   int    // 1-based line, as Python counts
	Column int    // 1-based column, as Python counts
	// HasPos is false for errors Python reports without a position.
	HasPos bool
	err    error
}

func (e *DecodeError) Error() string {
	if !e.HasPos {
		return e.Msg
	}
	return fmt.Sprintf("%s: line %d column %d (char %d)", e.Msg, e.Line, e.Column, e.Char)
}

// Unwrap returns the limit sentinel behind the error, if any.
func (e *DecodeError) Unwrap() error { return e.err }

// DefaultMaxLength is the longest document Unmarshal accepts (Python has
// no limit; flogfile readers cap lines before they get here).
const DefaultMaxLength = 64 << 20

// ErrTooLong is wrapped by the error for a document over MaxLength bytes.
var ErrTooLong = errors.New("JSON document too long")

// DecodeOptions tunes Unmarshal.
type DecodeOptions struct {
	// MaxDepth bounds nesting of arrays and objects; 0 means
	// DefaultMaxDepth.
	MaxDepth int
	// MaxLength bounds the document in bytes; 0 means DefaultMaxLength.
	MaxLength int
}

// Unmarshal reads one JSON document the way Python's
// json.loads(data.decode("utf-8")) does, into the value model: objects
// become *banana.Dict in document order (a repeated key keeps its first
// position and its last value), arrays banana.List, strings string (lone
// surrogates in generalized UTF-8), integers int64 or *big.Int, numbers with
// a fraction or exponent float64, and NaN, Infinity, -Infinity are accepted.
func Unmarshal(data []byte) (any, error) {
	return DecodeOptions{}.Unmarshal(data)
}

// Unmarshal is the package-level Unmarshal with these options.
func (o DecodeOptions) Unmarshal(data []byte) (any, error) {
	maxLen := o.MaxLength
	if maxLen <= 0 {
		maxLen = DefaultMaxLength
	}
	if len(data) > maxLen {
		return nil, &DecodeError{Msg: fmt.Sprintf("JSON document of %d bytes exceeds the %d-byte limit", len(data), maxLen), err: ErrTooLong}
	}
	if err := checkUTF8(data); err != nil {
		return nil, err
	}
	d := decoder{data: data, maxDepth: o.MaxDepth}
	if d.maxDepth <= 0 {
		d.maxDepth = DefaultMaxDepth
	}
	if len(data) >= 3 && data[0] == 0xef && data[1] == 0xbb && data[2] == 0xbf {
		return nil, d.errAt("Unexpected UTF-8 BOM (decode using utf-8-sig)", 0)
	}
	pos := d.skipSpace(0)
	v, end, err := d.value(pos, 0)
	if err != nil {
		return nil, err
	}
	end = d.skipSpace(end)
	if end != len(data) {
		return nil, d.errAt("Extra data", end)
	}
	return v, nil
}

type decoder struct {
	data     []byte
	maxDepth int
}

// errAt builds a positioned error, converting the byte offset into Python's
// code point offset, line and column.
func (d *decoder) errAt(msg string, off int) *DecodeError {
	if off > len(d.data) {
		off = len(d.data)
	}
	e := &DecodeError{Msg: msg, Offset: off, HasPos: true, Line: 1}
	lastNL := -1 // code point index of the last newline before off
	char := 0
	for i := 0; i < off; {
		if d.data[i] == '\n' {
			e.Line++
			lastNL = char
		}
		_, size := decodeRune(string(d.data[i:min(i+4, len(d.data))]))
		i += size
		char++
	}
	e.Char = char
	e.Column = char - lastNL
	return e
}

// stop is Python's StopIteration inside the scanner, which json.loads turns
// into "Expecting value" at the given offset.
func (d *decoder) stop(off int) error {
	return d.errAt("Expecting value", off)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (d *decoder) skipSpace(i int) int {
	for i < len(d.data) && isSpace(d.data[i]) {
		i++
	}
	return i
}

// value scans one value starting exactly at i (Python's scan_once).
func (d *decoder) value(i, depth int) (any, int, error) {
	if i >= len(d.data) {
		return nil, i, d.stop(i)
	}
	switch c := d.data[i]; c {
	case '"':
		return d.str(i + 1)
	case '{':
		if depth >= d.maxDepth {
			return nil, i, &DecodeError{Msg: "maximum recursion depth exceeded while decoding a JSON object from a unicode string", Offset: i, err: ErrTooDeep}
		}
		return d.object(i+1, depth+1)
	case '[':
		if depth >= d.maxDepth {
			return nil, i, &DecodeError{Msg: "maximum recursion depth exceeded while decoding a JSON array from a unicode string", Offset: i, err: ErrTooDeep}
		}
		return d.array(i+1, depth+1)
	case 'n':
		if d.literal(i, "null") {
			return nil, i + 4, nil
		}
	case 't':
		if d.literal(i, "true") {
			return true, i + 4, nil
		}
	case 'f':
		if d.literal(i, "false") {
			return false, i + 5, nil
		}
	case 'N':
		if d.literal(i, "NaN") {
			return math.NaN(), i + 3, nil
		}
	case 'I':
		if d.literal(i, "Infinity") {
			return math.Inf(1), i + 8, nil
		}
	case '-':
		if d.literal(i, "-Infinity") {
			return math.Inf(-1), i + 9, nil
		}
	}
	return d.number(i)
}

// literal reports whether lit starts at i. CPython's C scanner demands one
// more character after the literal (idx + len - 1 < length, i.e. the
// literal fits), which is the plain prefix check.
func (d *decoder) literal(i int, lit string) bool {
	return len(d.data)-i >= len(lit) && string(d.data[i:i+len(lit)]) == lit
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// number follows CPython's _match_number_unicode: an optional '-', 0 or a
// nonzero digit run, an optional fraction (only if a digit follows the
// '.'), an optional exponent (backtracked if it has no digits).
func (d *decoder) number(start int) (any, int, error) {
	b, i := d.data, start
	if i < len(b) && b[i] == '-' {
		i++
		if i >= len(b) {
			return nil, start, d.stop(start)
		}
	}
	switch {
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i++
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	case i < len(b) && b[i] == '0':
		i++
	default:
		return nil, start, d.stop(start)
	}
	isFloat := false
	if i+1 < len(b) && b[i] == '.' && isDigit(b[i+1]) {
		isFloat = true
		i += 2
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i+1 < len(b) && (b[i] == 'e' || b[i] == 'E') {
		eStart := i
		i++
		if i+1 < len(b) && (b[i] == '-' || b[i] == '+') {
			i++
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
		if isDigit(b[i-1]) {
			isFloat = true
		} else {
			i = eStart
		}
	}
	lit := string(b[start:i])
	if isFloat {
		f, err := strconv.ParseFloat(lit, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return nil, start, d.stop(start)
		}
		return f, i, nil // out of range: ±Inf or 0, as Python's float()
	}
	if n, err := strconv.ParseInt(lit, 10, 64); err == nil {
		return n, i, nil
	}
	digits := len(lit)
	if lit[0] == '-' {
		digits--
	}
	if digits > maxIntDigits {
		return nil, start, &DecodeError{
			Msg:    fmt.Sprintf("Exceeds the limit (%d digits) for integer string conversion: value has %d digits; use sys.set_int_max_str_digits() to increase the limit", maxIntDigits, digits),
			Offset: start,
			err:    ErrIntTooLong,
		}
	}
	n, ok := new(big.Int).SetString(lit, 10)
	if !ok {
		return nil, start, d.stop(start)
	}
	return n, i, nil
}

// str scans a string whose opening quote is at i-1 (CPython's
// scanstring_unicode with strict=True).
func (d *decoder) str(i int) (any, int, error) {
	s, end, err := d.scanString(i)
	if err != nil {
		return nil, end, err
	}
	return s, end, nil
}

func (d *decoder) scanString(i int) (string, int, error) {
	b := d.data
	begin := i - 1
	// Fast path: no escapes.
	j := i
	for j < len(b) && b[j] != '"' && b[j] != '\\' && b[j] > 0x1f {
		j++
	}
	if j < len(b) && b[j] == '"' {
		return string(b[i:j]), j + 1, nil
	}
	var out []byte
	for {
		next := i
		for next < len(b) && b[next] != '"' && b[next] != '\\' {
			if b[next] <= 0x1f {
				return "", next, d.errAt("Invalid control character at", next)
			}
			next++
		}
		out = append(out, b[i:next]...)
		if next >= len(b) {
			return "", begin, d.errAt("Unterminated string starting at", begin)
		}
		if b[next] == '"' {
			return string(out), next + 1, nil
		}
		next++ // skip the backslash
		if next == len(b) {
			return "", begin, d.errAt("Unterminated string starting at", begin)
		}
		c := b[next]
		if c != 'u' {
			end := next + 1
			switch c {
			case '"', '\\', '/':
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			default:
				return "", end - 2, d.errAt("Invalid \\escape", end-2)
			}
			out = append(out, c)
			i = end
			continue
		}
		next++
		end := next + 4
		if end >= len(b) {
			return "", next - 1, d.errAt("Invalid \\uXXXX escape", next-1)
		}
		r, ok := hex4(b[next:end])
		if !ok {
			return "", end - 5, d.errAt("Invalid \\uXXXX escape", end-5)
		}
		if r >= 0xd800 && r <= 0xdbff && end+6 < len(b) && b[end] == '\\' && b[end+1] == 'u' {
			r2, ok := hex4(b[end+2 : end+6])
			if !ok {
				return "", end + 1, d.errAt("Invalid \\uXXXX escape", end+1)
			}
			if r2 >= 0xdc00 && r2 <= 0xdfff {
				r = 0x10000 + (r-0xd800)<<10 + (r2 - 0xdc00)
				end += 6
			}
		}
		if r >= 0xd800 && r <= 0xdfff {
			out = appendSurrogate(out, r)
		} else {
			out = utf8.AppendRune(out, r)
		}
		i = end
	}
}

func hex4(b []byte) (rune, bool) {
	var r rune
	for _, c := range b {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c-'a') + 10
		case c >= 'A' && c <= 'F':
			r |= rune(c-'A') + 10
		default:
			return 0, false
		}
	}
	return r, true
}

func (d *decoder) object(i, depth int) (any, int, error) {
	b := d.data
	obj := &banana.Dict{}
	var index map[string]int
	i = d.skipSpace(i)
	if i >= len(b) || b[i] != '}' {
		for {
			if i >= len(b) || b[i] != '"' {
				return nil, i, d.errAt("Expecting property name enclosed in double quotes", i)
			}
			key, next, err := d.scanString(i + 1)
			if err != nil {
				return nil, next, err
			}
			i = d.skipSpace(next)
			if i >= len(b) || b[i] != ':' {
				return nil, i, d.errAt("Expecting ':' delimiter", i)
			}
			i = d.skipSpace(i + 1)
			val, next, err := d.value(i, depth)
			if err != nil {
				return nil, next, err
			}
			if at := findKey(obj, index, key); at >= 0 {
				obj.Items[at].Value = val // Python: last value, first position
			} else {
				if index != nil {
					index[key] = len(obj.Items)
				} else if len(obj.Items) >= smallDict {
					index = make(map[string]int, 2*smallDict)
					for i, it := range obj.Items {
						index[it.Key.(string)] = i
					}
					index[key] = len(obj.Items)
				}
				obj.Items = append(obj.Items, banana.DictItem{Key: key, Value: val})
			}
			i = d.skipSpace(next)
			if i < len(b) && b[i] == '}' {
				break
			}
			if i >= len(b) || b[i] != ',' {
				return nil, i, d.errAt("Expecting ',' delimiter", i)
			}
			i = d.skipSpace(i + 1)
		}
	}
	return obj, i + 1, nil
}

// smallDict is the size below which duplicate keys are found by a scan
// rather than a map.
const smallDict = 16

// findKey returns the position of key in obj, or -1.
func findKey(obj *banana.Dict, index map[string]int, key string) int {
	if index != nil {
		if at, ok := index[key]; ok {
			return at
		}
		return -1
	}
	for i, it := range obj.Items {
		if it.Key.(string) == key {
			return i
		}
	}
	return -1
}

func (d *decoder) array(i, depth int) (any, int, error) {
	b := d.data
	list := banana.List{}
	i = d.skipSpace(i)
	if i >= len(b) || b[i] != ']' {
		for {
			val, next, err := d.value(i, depth)
			if err != nil {
				return nil, next, err
			}
			list = append(list, val)
			i = d.skipSpace(next)
			if i < len(b) && b[i] == ']' {
				break
			}
			if i >= len(b) || b[i] != ',' {
				return nil, i, d.errAt("Expecting ',' delimiter", i)
			}
			i = d.skipSpace(i + 1)
		}
	}
	return list, i + 1, nil
}

// checkUTF8 mirrors bytes.decode("utf-8") (strict): the first bad sequence
// fails the line with Python's UnicodeDecodeError text.
func checkUTF8(b []byte) error {
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r != utf8.RuneError || size != 1 {
			i += size
			continue
		}
		reason := "invalid start byte"
		n := 1
		if want := expectedLen(b[i]); want > 0 {
			n = validPrefixLen(b[i:])
			reason = "invalid continuation byte"
			if n == len(b)-i {
				reason = "unexpected end of data"
			}
		}
		msg := fmt.Sprintf("'utf-8' codec can't decode byte 0x%02x in position %d: %s", b[i], i, reason)
		if n > 1 {
			msg = fmt.Sprintf("'utf-8' codec can't decode bytes in position %d-%d: %s", i, i+n-1, reason)
		}
		return &DecodeError{Msg: msg, Offset: i}
	}
	return nil
}

// expectedLen is the sequence length a UTF-8 lead byte announces, 0 for a
// byte that cannot start a sequence.
func expectedLen(c byte) int {
	switch {
	case c >= 0xc2 && c <= 0xdf:
		return 2
	case c >= 0xe0 && c <= 0xef:
		return 3
	case c >= 0xf0 && c <= 0xf4:
		return 4
	}
	return 0
}

// validPrefixLen returns how many bytes of b (which starts with a lead byte
// of an incomplete or broken sequence) form a valid sequence prefix.
func validPrefixLen(b []byte) int {
	want := expectedLen(b[0])
	k := 1
	for ; k < len(b) && k < want; k++ {
		lo, hi := byte(0x80), byte(0xbf)
		if k == 1 {
			switch b[0] {
			case 0xe0:
				lo = 0xa0
			case 0xed:
				hi = 0x9f
			case 0xf0:
				lo = 0x90
			case 0xf4:
				hi = 0x8f
			}
		}
		if b[k] < lo || b[k] > hi {
			break
		}
	}
	return k
}
