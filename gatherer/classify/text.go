package classify

import (
	"math/big"
	"strings"
	"unicode/utf8"

	"github.com/gatherer/gatherer/foolscap/banana"
	"github.com/gatherer/gatherer/gatherer/flog"
	"github.com/gatherer/gatherer/gatherer/flog/pyjson"
)

// event gives rules access to a trigger event's fields.
type event struct {
	d         *banana.Dict
	formatted *string
}

func newEvent(trigger any) *event {
	switch t := trigger.(type) {
	case *banana.Dict:
		return &event{d: t}
	case map[string]any:
		d := &banana.Dict{}
		for k, v := range t {
			d.Items = append(d.Items, banana.DictItem{Key: k, Value: v})
		}
		return &event{d: d}
	}
	return &event{d: &banana.Dict{}}
}

// get looks a field up (str or bytes key); "text" is the formatted message
// unless the event has a real "text" key.
func (e *event) get(field string) (any, bool) {
	if v, ok := e.d.GetStr(field); ok {
		return v, true
	}
	if field == "text" {
		return e.formatText(), true
	}
	return nil, false
}

func (e *event) text(_ string, v any) string { return pyStr(v) }

// formatText is flogtool's rendering of the event (log.format_message).
// Where Python would raise, the text is the message followed by
// " [formatting failed]".
func (e *event) formatText() string {
	if e.formatted == nil {
		s, err := flog.FormatMessage(e.d)
		if err != nil {
			s = "[formatting failed]"
			if m, ok := e.d.GetStr("message"); ok {
				s = pyStr(m) + " " + s
			}
		}
		e.formatted = &s
	}
	return *e.formatted
}

// pyStr is Python's str() for the value model, except that bytes are
// decoded as UTF-8 (Python 2 nodes send bytes where Python 3 ones send str)
// and a failure read back from a flogfile ({"@": "Failure", "str": ...}) is
// its "str" field, as it was before it was stored.
func pyStr(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case []byte:
		if utf8.Valid(t) {
			return string(t)
		}
		return strings.ToValidUTF8(string(t), "\uFFFD")
	case *banana.Dict:
		if at, ok := t.GetStr("@"); ok && pyStr(at) == "Failure" {
			if s, ok := t.GetStr("str"); ok {
				return pyStr(s)
			}
		}
	}
	return pyjson.Str(v)
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
	case *banana.Dict:
		return t.Len() > 0
	}
	return true
}
