package stats

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
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
	cats, err := convertStats(v, maxKeys)
	if err != nil {
		return nil, err
	}
	if err := requireTahoeCategories(cats); err != nil {
		return nil, err
	}
	return cats, nil
}

// convertStats is fromAnswer without the check for "counters" and "stats".
func convertStats(v any, maxKeys int) ([]category, error) {
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
