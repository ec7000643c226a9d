package stats

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gatherer/gatherer/foolscap/banana"
)

// errMalformed marks an answer that is not a dict of dicts of
// number-or-None; such an answer is logged and skipped.
var errMalformed = errors.New("malformed stats")

// sample is one stats value, kept as the JSON text it is written as in
// stats.json and as a float for Prometheus (NaN for None).
type sample struct {
	name string
	text string
	f    float64
}

// category is one named dict of a get_stats() answer ("counters", "stats").
type category struct {
	name    string
	samples []sample
}

// countSamples returns the number of values in cats.
func countSamples(cats []category) int {
	n := 0
	for _, c := range cats {
		n += len(c.samples)
	}
	return n
}

// fromAnswer validates a get_stats() answer from the banana value model and
// converts it: a dict holding at least the dicts "counters" and "stats", each
// mapping names to int, float, bool or None. Keys may be bytes (Python 2
// nodes) or str; bytes must be UTF-8. Order is kept as received.
func fromAnswer(v any, maxKeys int) ([]category, error) {
	top, ok := v.(*banana.Dict)
	if !ok {
		return nil, fmt.Errorf("%w: the answer is a %s, want a dict of dicts", errMalformed, pyType(v))
	}
	cats := make([]category, 0, min(top.Len(), maxKeys))
	catIndex := make(map[string]int, top.Len())
	total := 0
	for _, it := range top.Items {
		cname, err := textKey(it.Key)
		if err != nil {
			return nil, fmt.Errorf("%w: top-level key: %w", errMalformed, err)
		}
		if _, dup := catIndex[cname]; dup {
			return nil, fmt.Errorf("%w: category %s appears twice (as bytes and as str)", errMalformed, quote(cname))
		}
		inner, ok := it.Value.(*banana.Dict)
		if !ok {
			return nil, fmt.Errorf("%w: category %s is a %s, want a dict", errMalformed, quote(cname), pyType(it.Value))
		}
		total += inner.Len()
		if total > maxKeys {
			return nil, fmt.Errorf("%w: more than %d values", errMalformed, maxKeys)
		}
		c := category{name: cname, samples: make([]sample, 0, inner.Len())}
		seen := make(map[string]struct{}, inner.Len())
		for _, kv := range inner.Items {
			name, err := textKey(kv.Key)
			if err != nil {
				return nil, fmt.Errorf("%w: category %s: %w", errMalformed, quote(cname), err)
			}
			if _, dup := seen[name]; dup {
				return nil, fmt.Errorf("%w: category %s: key %s appears twice (as bytes and as str)", errMalformed, quote(cname), quote(name))
			}
			seen[name] = struct{}{}
			text, f, err := numberValue(kv.Value)
			if err != nil {
				return nil, fmt.Errorf("%w: %s.%s: %w", errMalformed, quote(cname), quote(name), err)
			}
			c.samples = append(c.samples, sample{name: name, text: text, f: f})
		}
		catIndex[cname] = len(cats)
		cats = append(cats, c)
	}
	if err := requireTahoeCategories(cats); err != nil {
		return nil, err
	}
	return cats, nil
}

// requireTahoeCategories checks for the two dicts every Tahoe node sends,
// "counters" and "stats" (RIStatsProvider's docstring; consumers such as
// Tahoe's munin plugin index both). Other categories are kept.
func requireTahoeCategories(cats []category) error {
	var counters, stats bool
	for _, c := range cats {
		counters = counters || c.name == "counters"
		stats = stats || c.name == "stats"
	}
	if !counters || !stats {
		return fmt.Errorf("%w: a stats answer needs both a \"counters\" and a \"stats\" dict", errMalformed)
	}
	return nil
}

// textKey accepts a dict key sent as str or as UTF-8 bytes.
func textKey(k any) (string, error) {
	switch k := k.(type) {
	case string:
		if !utf8.ValidString(k) {
			return "", errors.New("key is not valid UTF-8")
		}
		return k, nil
	case []byte:
		if !utf8.Valid(k) {
			return "", fmt.Errorf("bytes key %s is not UTF-8", quote(string(k)))
		}
		return string(k), nil
	}
	return "", fmt.Errorf("key is a %s, want bytes or str", pyType(k))
}

// numberValue converts an int, float, bool or None.
func numberValue(v any) (text string, f float64, err error) {
	switch v := v.(type) {
	case nil:
		return "null", math.NaN(), nil
	case bool:
		// Python's bool is an int; json.dump writes it as true/false.
		if v {
			return "true", 1, nil
		}
		return "false", 0, nil
	case int64:
		return strconv.FormatInt(v, 10), float64(v), nil
	case int:
		return strconv.Itoa(v), float64(v), nil
	case *big.Int:
		if v == nil {
			return "", 0, errors.New("value is a nil integer")
		}
		f, _ := new(big.Float).SetInt(v).Float64()
		return v.String(), f, nil
	case float64:
		return string(appendFloat(nil, v)), v, nil
	}
	return "", 0, fmt.Errorf("value is a %s, want a number or None", pyType(v))
}

// pyType names the Python type a value of the banana model stands for.
func pyType(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case bool:
		return "bool"
	case int, int64, *big.Int:
		return "int"
	case float64:
		return "float"
	case []byte:
		return "bytes"
	case string:
		return "str"
	case banana.List:
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
		return "Decimal"
	case *banana.Copyable:
		return "copyable " + quote(v.Class)
	}
	return fmt.Sprintf("%T", v)
}

// quote quotes a string that came from a peer, cut to 64 bytes, for an
// error message.
func quote(s string) string {
	t := truncate(s)
	if len(t) < len(s) {
		return strconv.Quote(t[:len(t)-3]) + "..."
	}
	return strconv.Quote(s)
}

// truncate cuts a string that came from a peer to 64 bytes (plus "..."),
// for a log attribute; the log handler does the quoting.
func truncate(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// decodeStatsJSON reads a JSON object of objects of number-or-null (Tahoe's
// /statistics?t=json body, or the "stats" member of a stats.json entry) from
// dec, whose next token must be '{'. dec must have UseNumber set. Order is
// kept; a repeated key keeps its first position and its last value, as a
// Python dict would.
func decodeStatsJSON(dec *json.Decoder, maxKeys int) ([]category, error) {
	if err := expectDelim(dec, '{'); err != nil {
		return nil, err
	}
	var cats []category
	catIndex := make(map[string]int)
	total := 0
	for dec.More() {
		cname, err := readKey(dec)
		if err != nil {
			return nil, err
		}
		if err := expectDelim(dec, '{'); err != nil {
			return nil, fmt.Errorf("category %s: %w", quote(cname), err)
		}
		ci, ok := catIndex[cname]
		if !ok {
			ci = len(cats)
			catIndex[cname] = ci
			cats = append(cats, category{name: cname})
		}
		index := make(map[string]int)
		for i, s := range cats[ci].samples {
			index[s.name] = i
		}
		for dec.More() {
			name, err := readKey(dec)
			if err != nil {
				return nil, fmt.Errorf("category %s: %w", quote(cname), err)
			}
			tok, err := dec.Token()
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %w", quote(cname), quote(name), err)
			}
			text, f, err := jsonNumber(tok)
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %w", quote(cname), quote(name), err)
			}
			s := sample{name: name, text: text, f: f}
			if i, ok := index[name]; ok {
				cats[ci].samples[i] = s
				continue
			}
			total++
			if total > maxKeys {
				return nil, fmt.Errorf("more than %d values", maxKeys)
			}
			index[name] = len(cats[ci].samples)
			cats[ci].samples = append(cats[ci].samples, s)
		}
		if err := expectDelim(dec, '}'); err != nil {
			return nil, err
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return nil, err
	}
	return cats, nil
}

// jsonNumber converts a JSON scalar token into a stats value. Integers keep
// their digits; other numbers are rewritten as Python's repr would.
func jsonNumber(tok json.Token) (text string, f float64, err error) {
	switch t := tok.(type) {
	case nil:
		return "null", math.NaN(), nil
	case bool:
		return numberValue(t)
	case json.Number:
		s := string(t)
		if !strings.ContainsAny(s, ".eE") {
			if i, ok := new(big.Int).SetString(s, 10); ok {
				return numberValue(i)
			}
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return "", 0, fmt.Errorf("number %s: %w", quote(s), err)
		}
		return numberValue(f)
	case string:
		return "", 0, fmt.Errorf("value is a string %s, want a number or null", quote(t))
	case json.Delim:
		if t == '[' {
			return "", 0, errors.New("value is an array, want a number or null")
		}
		return "", 0, errors.New("value is an object, want a number or null")
	}
	return "", 0, fmt.Errorf("unexpected JSON token %v", tok)
}

func readKey(dec *json.Decoder) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", err
	}
	k, ok := tok.(string)
	if !ok {
		return "", fmt.Errorf("expected an object key, got %v", tok)
	}
	return k, nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("expected %q: %w", want, io.ErrUnexpectedEOF)
		}
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("expected %q, got %v", want, tok)
	}
	return nil
}

// skipValue consumes one JSON value of any shape.
func skipValue(dec *json.Decoder) error {
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
			} else {
				depth--
			}
		}
		if depth == 0 {
			return nil
		}
	}
}
