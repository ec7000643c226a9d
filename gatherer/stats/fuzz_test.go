package stats

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/gatherer/gatherer/gatherer/flog/pyjson"
)

// FuzzDecodeStatsFile: no panic on any stats.json, and a file we accept
// re-encodes to a fixed point (encode, decode, encode gives the same bytes).
func FuzzDecodeStatsFile(f *testing.F) {
	if b, err := os.ReadFile(testdata("tahoe-stats.json")); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"x": {"timestamp": 1, "nickname": null, "stats": {"c": {"k": 1e400, "j": -0.0}}, "extra": [1, {"a": []}]}}`))
	f.Add([]byte(`{"x": {"stats": {"c": {"k": 1, "k": 2}}}, "x": {}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := decodeStatsFile(data, 1000)
		if err != nil {
			return
		}
		first := encodeStatsFile(sortEntries(entries))
		again, err := decodeStatsFile(first, 1000)
		if err != nil {
			t.Fatalf("our own output does not decode: %v\n%s", err, first)
		}
		if second := encodeStatsFile(sortEntries(again)); !bytes.Equal(first, second) {
			t.Fatalf("not a fixed point\n first: %s\nsecond: %s", first, second)
		}
		if !json.Valid(first) {
			t.Fatalf("output is not JSON: %s", first)
		}
	})
}

// FuzzStatsBody: no panic on any /statistics?t=json body.
func FuzzStatsBody(f *testing.F) {
	if b, err := os.ReadFile(testdata("tahoe-1.20-statistics.json")); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"counters": {}, "stats": {"a": null, "b": true}}`))
	f.Add([]byte(`{"stats": {"x": {"y": 1}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := pyjson.Unmarshal(data)
		if err != nil {
			return
		}
		cats, err := fromAnswer(v, 100)
		if err == nil && countSamples(cats) > 100 {
			t.Fatalf("%d values accepted with a limit of 100", countSamples(cats))
		}
	})
}

func sortEntries(list []*entry) []*entry {
	s := &Service{entries: make(map[string]*entry)}
	for _, e := range list {
		s.entries[e.id] = e
	}
	return s.sortedEntries()
}
