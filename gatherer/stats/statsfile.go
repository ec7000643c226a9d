package stats

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

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

// decodeStatsFile parses a stats.json written by Tahoe or by us. Members of
// an entry other than timestamp, nickname and stats are ignored; a missing
// stats member is an empty one.
func decodeStatsFile(data []byte, maxKeys int) ([]*entry, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := expectDelim(dec, '{'); err != nil {
		return nil, err
	}
	var out []*entry
	seen := make(map[string]int)
	for dec.More() {
		id, err := readKey(dec)
		if err != nil {
			return nil, err
		}
		e, err := decodeEntry(dec, id, maxKeys)
		if err != nil {
			return nil, fmt.Errorf("entry %s: %w", quote(id), err)
		}
		if i, dup := seen[id]; dup {
			out[i] = e
			continue
		}
		seen[id] = len(out)
		out = append(out, e)
	}
	if err := expectDelim(dec, '}'); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("data after the end of the JSON object")
	}
	return out, nil
}

func decodeEntry(dec *json.Decoder, id string, maxKeys int) (*entry, error) {
	if err := expectDelim(dec, '{'); err != nil {
		return nil, err
	}
	e := &entry{id: id}
	for dec.More() {
		k, err := readKey(dec)
		if err != nil {
			return nil, err
		}
		switch k {
		case "timestamp":
			tok, err := dec.Token()
			if err != nil {
				return nil, err
			}
			n, ok := tok.(json.Number)
			if !ok {
				return nil, fmt.Errorf("timestamp is %v, want a number", tok)
			}
			f, err := strconv.ParseFloat(string(n), 64)
			if err != nil {
				return nil, fmt.Errorf("timestamp: %w", err)
			}
			e.timestamp = f
		case "nickname":
			tok, err := dec.Token()
			if err != nil {
				return nil, err
			}
			switch t := tok.(type) {
			case string:
				e.nickname = t
			case nil:
			default:
				return nil, fmt.Errorf("nickname is %v, want a string", tok)
			}
		case "stats":
			cats, err := decodeStatsJSON(dec, maxKeys)
			if err != nil {
				return nil, fmt.Errorf("stats: %w", err)
			}
			e.stats = cats
		default:
			if err := skipValue(dec); err != nil {
				return nil, err
			}
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return nil, err
	}
	return e, nil
}
