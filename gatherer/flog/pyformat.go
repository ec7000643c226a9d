package flog

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gatherer/gatherer/foolscap/banana"
	"github.com/gatherer/gatherer/gatherer/flog/pyjson"
)

// PyError is a Python exception raised while formatting, by type name
// ("TypeError", "ValueError", "KeyError", "OverflowError", ...) and its
// str(). format_message turns TypeError and ValueError into
// "[formatting failed]"; any other type makes flogtool crash.
type PyError struct {
	Type string
	Msg  string
}

func (e *PyError) Error() string {
	if e.Msg == "" {
		return e.Type
	}
	return e.Type + ": " + e.Msg
}

func typeError(format string, a ...any) *PyError {
	return &PyError{Type: "TypeError", Msg: fmt.Sprintf(format, a...)}
}

func valueError(format string, a ...any) *PyError {
	return &PyError{Type: "ValueError", Msg: fmt.Sprintf(format, a...)}
}

// PercentFormat evaluates Python's `format % args` for a str format and a
// value of the banana model, following CPython's PyUnicode_Format: a
// banana.Tuple supplies positional arguments; a dict, a list or bytes
// (anything with __getitem__) is a "mapping" for %(key)s lookups and
// disables the "not all arguments converted" check; any other value is one
// positional argument.
func PercentFormat(format string, args any) (string, error) {
	f := formatter{fmt: []rune(format), args: args, argLen: -1, argIdx: -2}
	if t, ok := args.(banana.Tuple); ok {
		f.tuple = t
		f.argLen = len(t)
		f.argIdx = 0
	}
	switch args.(type) {
	case *banana.Dict, banana.List, []any, []byte:
		f.dict = args
	}
	out, err := f.run()
	if err != nil {
		return "", err
	}
	return out, nil
}

type formatter struct {
	fmt    []rune
	pos    int
	args   any
	tuple  banana.Tuple
	argLen int
	argIdx int
	dict   any
	out    strings.Builder
}

func (f *formatter) nextArg() (any, *PyError) {
	if f.argIdx < f.argLen {
		i := f.argIdx
		f.argIdx++
		if f.argLen < 0 {
			return f.args, nil
		}
		return f.tuple[i], nil
	}
	return nil, typeError("not enough arguments for format string")
}

type spec struct {
	ljust, sign, blank, alt, zero bool
	width, prec                   int // -1: not given
	ch                            rune
}

func (f *formatter) run() (string, error) {
	for f.pos < len(f.fmt) {
		c := f.fmt[f.pos]
		if c != '%' {
			start := f.pos
			for f.pos < len(f.fmt) && f.fmt[f.pos] != '%' {
				f.pos++
			}
			f.out.WriteString(string(f.fmt[start:f.pos]))
			continue
		}
		f.pos++
		if f.pos < len(f.fmt) && f.fmt[f.pos] == '%' {
			f.pos++
			f.out.WriteByte('%')
			continue
		}
		if err := f.one(); err != nil {
			return "", err
		}
	}
	if f.argIdx < f.argLen && f.dict == nil {
		return "", typeError("not all arguments converted during string formatting")
	}
	return f.out.String(), nil
}

// one handles a conversion whose '%' was just consumed.
func (f *formatter) one() error {
	sp := spec{width: -1, prec: -1}
	if f.pos < len(f.fmt) && f.fmt[f.pos] == '(' {
		if f.dict == nil {
			return typeError("format requires a mapping")
		}
		f.pos++
		start, depth := f.pos, 1
		for f.pos < len(f.fmt) && depth > 0 {
			switch f.fmt[f.pos] {
			case '(':
				depth++
			case ')':
				depth--
			}
			f.pos++
		}
		if depth > 0 {
			return valueError("incomplete format key")
		}
		key := string(f.fmt[start : f.pos-1])
		v, err := getItem(f.dict, key)
		if err != nil {
			return err
		}
		f.args, f.argLen, f.argIdx = v, -1, -2
	}
	for ; f.pos < len(f.fmt); f.pos++ {
		switch f.fmt[f.pos] {
		case '-':
			sp.ljust = true
			continue
		case '+':
			sp.sign = true
			continue
		case ' ':
			sp.blank = true
			continue
		case '#':
			sp.alt = true
			continue
		case '0':
			sp.zero = true
			continue
		}
		break
	}
	w, err := f.number(true)
	if err != nil {
		return err
	}
	if w != nil {
		sp.width = *w
		if sp.width < 0 {
			sp.ljust = true
			sp.width = -sp.width
		}
	}
	if f.pos < len(f.fmt) && f.fmt[f.pos] == '.' {
		f.pos++
		p, err := f.number(false)
		if err != nil {
			return err
		}
		sp.prec = 0
		if p != nil && *p > 0 {
			sp.prec = *p
		}
	}
	for f.pos < len(f.fmt) && (f.fmt[f.pos] == 'h' || f.fmt[f.pos] == 'l' || f.fmt[f.pos] == 'L') {
		f.pos++
	}
	if f.pos >= len(f.fmt) {
		return valueError("incomplete format")
	}
	sp.ch = f.fmt[f.pos]
	f.pos++
	v, perr := f.nextArg()
	if perr != nil {
		return perr
	}
	return f.convert(sp, v)
}

// number reads a width or precision: digits, or '*' taking an int argument.
func (f *formatter) number(isWidth bool) (*int, error) {
	if f.pos < len(f.fmt) && f.fmt[f.pos] == '*' {
		f.pos++
		v, err := f.nextArg()
		if err != nil {
			return nil, err
		}
		n, ok := intArg(v)
		if !ok {
			return nil, typeError("* wants int")
		}
		return &n, nil
	}
	start := f.pos
	n := 0
	for f.pos < len(f.fmt) && f.fmt[f.pos] >= '0' && f.fmt[f.pos] <= '9' {
		n = n*10 + int(f.fmt[f.pos]-'0')
		if n > math.MaxInt32 {
			if isWidth {
				return nil, valueError("width too big")
			}
			return nil, valueError("precision too big")
		}
		f.pos++
	}
	if f.pos == start {
		return nil, nil
	}
	return &n, nil
}

func intArg(v any) (int, bool) {
	switch x := v.(type) {
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case int64:
		if x >= math.MinInt32 && x <= math.MaxInt32 {
			return int(x), true
		}
	case int:
		return x, true
	}
	return 0, false
}

// getItem is dict[key] for the mapping argument.
func getItem(m any, key string) (any, error) {
	switch x := m.(type) {
	case *banana.Dict:
		if v, ok := x.Get(key); ok {
			return v, nil
		}
		return nil, &PyError{Type: "KeyError", Msg: pyjson.Repr(key)}
	case []byte:
		return nil, typeError("byte indices must be integers or slices, not str")
	}
	return nil, typeError("list indices must be integers or slices, not str")
}

func (f *formatter) convert(sp spec, v any) error {
	switch sp.ch {
	case 's', 'r', 'a':
		var s string
		switch sp.ch {
		case 's':
			s = pyjson.Str(v)
		case 'r':
			s = pyjson.Repr(v)
		default:
			s = asciiRepr(v)
		}
		if sp.prec >= 0 && utf8.RuneCountInString(s) > sp.prec {
			s = string([]rune(s)[:sp.prec])
		}
		f.pad(sp, "", "", s, false)
		return nil
	case 'd', 'i', 'u', 'o', 'x', 'X':
		n, err := toInt(v, sp.ch)
		if err != nil {
			return err
		}
		f.formatInt(sp, n)
		return nil
	case 'e', 'E', 'f', 'F', 'g', 'G':
		x, err := toFloat(v)
		if err != nil {
			return err
		}
		f.formatFloat(sp, x)
		return nil
	case 'c':
		var s string
		switch x := v.(type) {
		case string:
			if utf8.RuneCountInString(x) != 1 {
				return typeError("%%c requires int or char")
			}
			s = x
		default:
			n, err := toInt(v, 'c')
			if err != nil {
				return typeError("%%c requires int or char")
			}
			if !n.IsInt64() || n.Int64() < 0 || n.Int64() >= 0x110000 {
				return &PyError{Type: "OverflowError", Msg: "%c arg not in range(0x110000)"}
			}
			s = string(rune(n.Int64()))
		}
		f.pad(sp, "", "", s, false)
		return nil
	}
	c := sp.ch
	return valueError("unsupported format character '%c' (0x%x) at index %d", c, c, f.pos-1)
}

// toInt converts an argument for an integer conversion the way
// PyUnicode_Format does: ints and bools as they are, floats truncated for
// d/i/u only.
func toInt(v any, ch rune) (*big.Int, error) {
	switch x := v.(type) {
	case bool:
		if x {
			return big.NewInt(1), nil
		}
		return big.NewInt(0), nil
	case int64:
		return big.NewInt(x), nil
	case int:
		return big.NewInt(int64(x)), nil
	case *big.Int:
		if x != nil {
			return x, nil
		}
	case float64:
		if ch == 'd' || ch == 'i' || ch == 'u' {
			switch {
			case math.IsNaN(x):
				return nil, valueError("cannot convert float NaN to integer")
			case math.IsInf(x, 0):
				return nil, &PyError{Type: "OverflowError", Msg: "cannot convert float infinity to integer"}
			}
			n, _ := big.NewFloat(math.Trunc(x)).Int(nil)
			return n, nil
		}
	}
	if ch == 'd' || ch == 'i' || ch == 'u' {
		return nil, typeError("%%%c format: a real number is required, not %s", ch, pyjson.TypeName(v))
	}
	return nil, typeError("%%%c format: an integer is required, not %s", ch, pyjson.TypeName(v))
}

func toFloat(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case int64:
		return float64(x), nil
	case int:
		return float64(x), nil
	case *big.Int:
		if x != nil {
			f, acc := new(big.Float).SetInt(x).Float64()
			if math.IsInf(f, 0) && acc != big.Exact {
				return 0, &PyError{Type: "OverflowError", Msg: "int too large to convert to float"}
			}
			return f, nil
		}
	}
	return 0, typeError("must be real number, not %s", pyjson.TypeName(v))
}

func (f *formatter) formatInt(sp spec, n *big.Int) {
	neg := n.Sign() < 0
	abs := new(big.Int).Abs(n)
	var digits, prefix string
	switch sp.ch {
	case 'o':
		digits = abs.Text(8)
		if sp.alt {
			prefix = "0o"
		}
	case 'x':
		digits = abs.Text(16)
		if sp.alt {
			prefix = "0x"
		}
	case 'X':
		digits = strings.ToUpper(abs.Text(16))
		if sp.alt {
			prefix = "0X"
		}
	default:
		digits = abs.Text(10)
	}
	if sp.prec > len(digits) {
		digits = strings.Repeat("0", sp.prec-len(digits)) + digits
	}
	f.pad(sp, signOf(sp, neg), prefix, digits, true)
}

func signOf(sp spec, neg bool) string {
	switch {
	case neg:
		return "-"
	case sp.sign:
		return "+"
	case sp.blank:
		return " "
	}
	return ""
}

func (f *formatter) formatFloat(sp spec, x float64) {
	prec := sp.prec
	if prec < 0 {
		prec = 6
	}
	neg := math.Signbit(x) && !math.IsNaN(x)
	a := math.Abs(x)
	var body string
	upper := sp.ch == 'E' || sp.ch == 'F' || sp.ch == 'G'
	switch {
	case math.IsNaN(x):
		body = "nan"
	case math.IsInf(x, 0):
		body = "inf"
	default:
		switch sp.ch {
		case 'e', 'E':
			body = strconv.FormatFloat(a, 'e', prec, 64)
			if sp.alt && prec == 0 {
				body = body[:1] + "." + body[1:]
			}
		case 'f', 'F':
			body = strconv.FormatFloat(a, 'f', prec, 64)
			if sp.alt && prec == 0 {
				body += "."
			}
		default:
			body = formatG(a, prec, sp.alt)
		}
	}
	if upper {
		body = strings.ToUpper(body)
	}
	f.pad(sp, signOf(sp, neg), "", body, true)
}

// formatG is C's %g: precision P (0 means 1), scientific notation when the
// exponent is below -4 or at least P, trailing zeros removed unless alt.
func formatG(a float64, prec int, alt bool) string {
	if prec == 0 {
		prec = 1
	}
	e := strconv.FormatFloat(a, 'e', prec-1, 64)
	exp, _ := strconv.Atoi(e[strings.IndexByte(e, 'e')+1:])
	var s string
	if exp < -4 || exp >= prec {
		s = e
	} else {
		s = strconv.FormatFloat(a, 'f', prec-1-exp, 64)
	}
	if alt {
		if !strings.Contains(s, ".") {
			if i := strings.IndexByte(s, 'e'); i >= 0 {
				s = s[:i] + "." + s[i:]
			} else {
				s += "."
			}
		}
		return s
	}
	mant, tail := s, ""
	if i := strings.IndexByte(s, 'e'); i >= 0 {
		mant, tail = s[:i], s[i:]
	}
	if strings.Contains(mant, ".") {
		mant = strings.TrimRight(mant, "0")
		mant = strings.TrimSuffix(mant, ".")
	}
	return mant + tail
}

// pad writes sign+prefix+body within the spec's width: left-justified with
// '-', zero-filled after the sign and prefix for numbers with '0',
// right-justified with spaces otherwise.
func (f *formatter) pad(sp spec, sign, prefix, body string, numeric bool) {
	n := utf8.RuneCountInString(sign) + utf8.RuneCountInString(prefix) + utf8.RuneCountInString(body)
	fill := sp.width - n
	switch {
	case fill <= 0:
		f.out.WriteString(sign + prefix + body)
	case sp.ljust:
		f.out.WriteString(sign + prefix + body + strings.Repeat(" ", fill))
	case sp.zero && numeric:
		f.out.WriteString(sign + prefix + strings.Repeat("0", fill) + body)
	default:
		f.out.WriteString(strings.Repeat(" ", fill) + sign + prefix + body)
	}
}

// asciiRepr is Python's ascii(v): repr with non-ASCII escaped.
func asciiRepr(v any) string {
	r := pyjson.Repr(v)
	var b strings.Builder
	for _, c := range r {
		switch {
		case c < utf8.RuneSelf:
			b.WriteRune(c)
		case c <= 0xff:
			fmt.Fprintf(&b, "\\x%02x", c)
		case c <= 0xffff:
			fmt.Fprintf(&b, "\\u%04x", c)
		default:
			fmt.Fprintf(&b, "\\U%08x", c)
		}
	}
	return b.String()
}
