package flog

import (
	"unicode/utf8"

	"github.com/gatherer/gatherer/foolscap/banana"
	"github.com/gatherer/gatherer/gatherer/flog/pyjson"
)

// FormatMessage renders an event's text exactly like python-foolscap's
// log.format_message, which flogtool dump and tail use:
//
//   - "format" present: format % event (the whole event dict is the
//     mapping);
//   - else "args" present: message % args (a JSON list is a mapping to
//     Python, so a stored event with two or more placeholders fails);
//   - else "message" (a str or bytes) as is;
//   - else "".
//
// When formatting raises TypeError or ValueError the result is the message
// (or "[no message]") followed by " [formatting failed]". Anything Python
// would not catch (a KeyError for a missing %(key)s, an AssertionError for
// "args" without "message" or a non-text message) is returned as a
// *PyError: flogtool dies on those.
func FormatMessage(event any) (string, error) {
	d, ok := event.(*banana.Dict)
	if !ok {
		return "", &PyError{Type: "AttributeError", Msg: "'" + pyjson.TypeName(event) + "' object has no attribute 'items'"}
	}
	e := StrKeys(d)
	out, err := formatEvent(e)
	if err == nil {
		return out, nil
	}
	if pe, ok := err.(*PyError); !ok || (pe.Type != "TypeError" && pe.Type != "ValueError") {
		return "", err
	}
	msg := "[no message]"
	if v, ok := e.Get("message"); ok {
		if msg, err = ensureText(v); err != nil {
			return "", err
		}
	}
	return msg + " [formatting failed]", nil
}

func formatEvent(e *banana.Dict) (string, error) {
	if v, ok := e.Get("format"); ok {
		f, err := ensureText(v)
		if err != nil {
			return "", err
		}
		return PercentFormat(f, e)
	}
	if args, ok := e.Get("args"); ok {
		m, ok := e.Get("message")
		if !ok {
			return "", &PyError{Type: "AssertionError"}
		}
		f, err := ensureText(m)
		if err != nil {
			return "", err
		}
		return PercentFormat(f, args)
	}
	if m, ok := e.Get("message"); ok {
		switch m.(type) {
		case string, []byte:
		default:
			return "", &PyError{Type: "AssertionError"}
		}
		s, err := ensureText(m)
		if err != nil {
			return "", err
		}
		return PercentFormat("%(message)s", banana.NewDict("message", s))
	}
	return "", nil
}

// ensureText is six.ensure_str/ensure_text on Python 3: str as is, bytes
// decoded as UTF-8, anything else a TypeError.
func ensureText(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case []byte:
		if !utf8.Valid(x) {
			return "", &PyError{Type: "UnicodeDecodeError", Msg: "'utf-8' codec can't decode bytes"}
		}
		return string(x), nil
	}
	return "", typeError("not expecting type '<class '%s'>'", pyjson.TypeName(v))
}

// StrKeys is foolscap.util.ensure_dict_str_keys: a copy whose bytes keys
// are decoded to str (events from Python 2 senders have bytes keys).
// flogtool tail applies it to every received event before printing and
// before saving it with --save-to.
func StrKeys(d *banana.Dict) *banana.Dict {
	out := &banana.Dict{Items: make([]banana.DictItem, 0, len(d.Items))}
	for _, it := range d.Items {
		k := it.Key
		if b, ok := k.([]byte); ok {
			k = string(b)
		}
		out.Set(k, it.Value)
	}
	return out
}
