package stats

import (
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/gatherer/gatherer/foolscap/banana"
	"github.com/gatherer/gatherer/gatherer/flog/pyjson"
)

// entry is one node's record, a member of stats.json.
type entry struct {
	id        string
	nickname  string
	timestamp float64 // Unix seconds of the last answer, as in stats.json
	stats     []category
}

// encodeStatsFile renders stats.json in the format of Tahoe's
// JSONStatsGatherer (Tahoe 1.12 to 1.15.1): one JSON object on one line, no
// trailing newline, Python's separators and ASCII escaping,
//
//	{"<id>": {"timestamp": <float>, "nickname": "<str>", "stats": {<category>: {<key>: <number or null>}}}}
//
// Tahoe's key order was Python 2 dict order, i.e. arbitrary; ours is fixed:
// entries sorted by id (the caller sorts), the three entry keys in the order
// above, categories and keys as the node sent them.
func encodeStatsFile(entries []*entry) []byte {
	b := make([]byte, 0, 256*len(entries)+2)
	b = append(b, '{')
	for i, e := range entries {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = pyjson.AppendString(b, e.id)
		b = append(b, `: {"timestamp": `...)
		b = appendFloat(b, e.timestamp)
		b = append(b, `, "nickname": `...)
		b = pyjson.AppendString(b, e.nickname)
		b = append(b, `, "stats": {`...)
		for j, c := range e.stats {
			if j > 0 {
				b = append(b, ", "...)
			}
			b = pyjson.AppendString(b, c.name)
			b = append(b, ": {"...)
			for k, s := range c.samples {
				if k > 0 {
					b = append(b, ", "...)
				}
				b = pyjson.AppendString(b, s.name)
				b = append(b, ": "...)
				b = append(b, s.text...)
			}
			b = append(b, '}')
		}
		b = append(b, "}}"...)
	}
	return append(b, '}')
}

// decodeStatsFile parses a stats.json written by Tahoe or by us, with
// Python's json.load rules (Python wrote NaN and Infinity for non-finite
// floats). Members of an entry other than timestamp, nickname and stats are
// ignored; a missing stats member is an empty one.
func decodeStatsFile(data []byte, maxKeys int) ([]*entry, error) {
	v, err := pyjson.Unmarshal(data)
	if err != nil {
		return nil, err
	}
	top, ok := v.(*banana.Dict)
	if !ok {
		return nil, fmt.Errorf("the file holds a JSON %s, want an object", pyType(v))
	}
	out := make([]*entry, 0, top.Len())
	for _, it := range top.Items {
		id, ok := it.Key.(string)
		if !ok || !utf8.ValidString(id) {
			return nil, fmt.Errorf("entry key %s is not text", pyjson.Repr(it.Key))
		}
		e, err := decodeEntry(id, it.Value, maxKeys)
		if err != nil {
			return nil, fmt.Errorf("entry %s: %w", quote(id), err)
		}
		out = append(out, e)
	}
	return out, nil
}

func decodeEntry(id string, v any, maxKeys int) (*entry, error) {
	d, ok := v.(*banana.Dict)
	if !ok {
		return nil, fmt.Errorf("a JSON %s, want an object", pyType(v))
	}
	e := &entry{id: id}
	if ts, ok := d.Get("timestamp"); ok {
		_, f, err := numberValue(ts)
		if err != nil || math.IsNaN(f) {
			return nil, fmt.Errorf("timestamp is %s, want a number", pyjson.Repr(ts))
		}
		e.timestamp = f
	}
	if nick, ok := d.Get("nickname"); ok {
		switch n := nick.(type) {
		case string:
			e.nickname = strings.ToValidUTF8(n, "\uFFFD")
		case nil:
		default:
			return nil, fmt.Errorf("nickname is %s, want a string", pyjson.Repr(nick))
		}
	}
	if st, ok := d.Get("stats"); ok {
		cats, err := convertStats(st, maxKeys)
		if err != nil {
			return nil, fmt.Errorf("stats: %w", err)
		}
		e.stats = cats
	}
	return e, nil
}
