package classify

import (
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gatherer/gatherer/foolscap/banana"
)

// event gives rules access to a trigger event's fields.
type event struct {
	d         *banana.Dict
	m         map[string]any
	formatted *string
}

func newEvent(trigger any) *event {
	switch t := trigger.(type) {
	case *banana.Dict:
		return &event{d: t}
	case map[string]any:
		return &event{m: t}
	}
	return &event{}
}

// get looks a field up; "text" is the formatted message unless the event
// has a real "text" key.
func (e *event) get(field string) (any, bool) {
	if v, ok := e.lookup(field); ok {
		return v, true
	}
	if field == "text" {
		return e.formatText(), true
	}
	return nil, false
}

func (e *event) lookup(field string) (any, bool) {
	switch {
	case e.d != nil:
		return e.d.GetStr(field)
	case e.m != nil:
		v, ok := e.m[field]
		return v, ok
	}
	return nil, false
}

func (e *event) text(field string, v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return pyStr(v)
}

func (e *event) formatText() string {
	if e.formatted == nil {
		s := FormatMessage(e.lookup)
		e.formatted = &s
	}
	return *e.formatted
}

// FormatMessage renders an event the way python-foolscap's
// logging.log.format_message does: "format" %-formatted with the event
// itself, else "message" %-formatted with positional "args", else
// "message". lookup returns an event field. Where Python raises KeyError
// (a format naming a missing key) we return "... [formatting failed]".
func FormatMessage(lookup func(string) (any, bool)) string {
	failed := func() string {
		m, ok := lookup("message")
		if !ok {
			return "[no message] [formatting failed]"
		}
		return pyStr(m) + " [formatting failed]"
	}
	if f, ok := lookup("format"); ok {
		s, err := pyFormat(pyStr(f), lookup, nil)
		if err != nil {
			return failed()
		}
		return s
	}
	if args, ok := lookup("args"); ok {
		m, ok := lookup("message")
		if !ok {
			return failed()
		}
		s, err := pyFormat(pyStr(m), nil, sequence(args))
		if err != nil {
			return failed()
		}
		return s
	}
	if m, ok := lookup("message"); ok {
		return pyStr(m)
	}
	return ""
}

func sequence(v any) []any {
	// Only a tuple spreads over the conversions, as with Python's "%"; a
	// list (which is what a JSON round trip makes of a tuple) is one value.
	if t, ok := v.(banana.Tuple); ok {
		return t
	}
	return []any{v}
}

// pyFormat implements the subset of Python's "%" operator that log formats
// use: %(name)s style with a mapping, or positional %s with a tuple; the
// conversions s, r, d, i, f, x and %%.
func pyFormat(f string, named func(string) (any, bool), pos []any) (string, error) {
	var sb strings.Builder
	next := 0
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c != '%' {
			sb.WriteByte(c)
			continue
		}
		i++
		if i >= len(f) {
			return "", fmt.Errorf("incomplete format")
		}
		if f[i] == '%' {
			sb.WriteByte('%')
			continue
		}
		var v any
		if f[i] == '(' {
			end := strings.IndexByte(f[i:], ')')
			if end < 0 || named == nil {
				return "", fmt.Errorf("bad mapping key")
			}
			key := f[i+1 : i+end]
			var ok bool
			if v, ok = named(key); !ok {
				return "", fmt.Errorf("missing key %q", key)
			}
			i += end + 1
		} else {
			if next >= len(pos) {
				return "", fmt.Errorf("not enough arguments")
			}
			v = pos[next]
			next++
		}
		// Skip flags, width and precision; they change padding only.
		for i < len(f) && strings.IndexByte("#0- +.123456789", f[i]) >= 0 {
			i++
		}
		if i >= len(f) {
			return "", fmt.Errorf("incomplete format")
		}
		switch f[i] {
		case 's':
			sb.WriteString(pyStr(v))
		case 'r', 'a':
			sb.WriteString(pyRepr(v))
		case 'd', 'i', 'u':
			switch n := v.(type) {
			case float64:
				sb.WriteString(strconv.FormatFloat(math.Trunc(n), 'f', 0, 64))
			case bool, int64, int, *big.Int:
				sb.WriteString(pyStr(n))
			default:
				return "", fmt.Errorf("%%d needs a number")
			}
		case 'f', 'F', 'e', 'g', 'x', 'X', 'o', 'c':
			sb.WriteString(pyStr(v))
		default:
			return "", fmt.Errorf("unsupported format character %q", f[i])
		}
	}
	return sb.String(), nil
}

// pyStr approximates Python's str() for the banana value model and for
// values read back from flogfiles.
func pyStr(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case []byte:
		if utf8.Valid(t) {
			return string(t)
		}
		return strings.ToValidUTF8(string(t), "\uFFFD")
	case *banana.Copyable:
		if strings.HasSuffix(t.Class, "Failure") {
			tb, _ := t.Attr("traceback")
			return "[CopiedFailure instance: Traceback from remote host -- " + pyStr(tb) + "]"
		}
	case *banana.Dict:
		// A Failure written to a flogfile comes back as {"@": "Failure", "str": ...}.
		if at, ok := t.GetStr("@"); ok && pyStr(at) == "Failure" {
			if s, ok := t.GetStr("str"); ok {
				return pyStr(s)
			}
		}
	case map[string]any:
		if at, ok := t["@"]; ok && pyStr(at) == "Failure" {
			if s, ok := t["str"]; ok {
				return pyStr(s)
			}
		}
	}
	return pyRepr(v)
}

// pyRepr approximates Python's repr(); exact only for scalars.
func pyRepr(v any) string {
	switch t := v.(type) {
	case nil:
		return "None"
	case bool:
		if t {
			return "True"
		}
		return "False"
	case string:
		return "'" + strings.ReplaceAll(t, "'", `\'`) + "'"
	case []byte:
		return "b" + pyRepr(string(t))
	case int64:
		return strconv.FormatInt(t, 10)
	case int:
		return strconv.Itoa(t)
	case *big.Int:
		return t.String()
	case float64:
		return pyFloat(t)
	case fmt.Stringer:
		return t.String()
	case banana.List:
		return "[" + joinRepr(t) + "]"
	case []any:
		return "[" + joinRepr(t) + "]"
	case banana.Tuple:
		if len(t) == 1 {
			return "(" + pyRepr(t[0]) + ",)"
		}
		return "(" + joinRepr(t) + ")"
	case banana.Set:
		return "{" + joinRepr(t) + "}"
	case banana.FrozenSet:
		return "frozenset({" + joinRepr(t) + "})"
	case *banana.Dict:
		parts := make([]string, 0, t.Len())
		for _, it := range t.Items {
			parts = append(parts, pyRepr(it.Key)+": "+pyRepr(it.Value))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, 0, len(t))
		for _, k := range keys {
			parts = append(parts, pyRepr(k)+": "+pyRepr(t[k]))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case *banana.Copyable:
		return "<" + t.Class + ">"
	}
	return fmt.Sprint(v)
}

func joinRepr(vs []any) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = pyRepr(v)
	}
	return strings.Join(parts, ", ")
}

// pyFloat renders a float as Python's repr does.
func pyFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	exp := 0
	if f != 0 {
		exp = int(math.Floor(math.Log10(math.Abs(f))))
	}
	if exp >= -4 && exp < 16 {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.ContainsAny(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(f, 'e', -1, 64)
	return s
}

// truthy is Python's bool() for the value model.
func truthy(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case bool:
		return t
	case string:
		return t != ""
	case []byte:
		return len(t) > 0
	case int64:
		return t != 0
	case int:
		return t != 0
	case float64:
		return t != 0
	case *big.Int:
		return t.Sign() != 0
	case banana.List:
		return len(t) > 0
	case banana.Tuple:
		return len(t) > 0
	case banana.Set:
		return len(t) > 0
	case banana.FrozenSet:
		return len(t) > 0
	case []any:
		return len(t) > 0
	case *banana.Dict:
		return t.Len() > 0
	case map[string]any:
		return len(t) > 0
	case fmt.Stringer:
		// json.Number and similar numeric strings.
		s := t.String()
		f, err := strconv.ParseFloat(s, 64)
		return err != nil || f != 0
	}
	return true
}
