package banana

import (
	"bytes"
	"testing"
)

// benchValue looks like a batch of flog events as a log gatherer gets it.
func benchValue() any {
	var events List
	for i := range 200 {
		events = append(events, NewDict(
			"format", "uploaded %(size)d bytes to %(server)s",
			"level", int64(20),
			"num", int64(1000+i),
			"time", 1.7e9+float64(i)/10,
			"facility", "tahoe.upload",
			"size", int64(1<<20+i),
			"server", str("v0-abcdefghijklmnopqrstuvwxyz"),
			"incarnation", Tuple{str("0123456789abcdef"), nil},
		))
	}
	return events
}

func BenchmarkEncode(b *testing.B) {
	v := benchValue()
	e := NewEncoder(EncoderOptions{VocabIndex: 1})
	e.BeginScope()
	if err := e.Encode(v); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(e.Len()))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		e.Reset()
		e.BeginScope()
		if err := e.Encode(v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	e := NewEncoder(EncoderOptions{VocabIndex: 1})
	e.BeginScope()
	if err := e.Encode(benchValue()); err != nil {
		b.Fatal(err)
	}
	data := e.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	r := bytes.NewReader(data)
	for b.Loop() {
		r.Reset(data)
		if _, err := NewDecoder(r, DecoderOptions{VocabIndex: 1}).ReadMessage(); err != nil {
			b.Fatal(err)
		}
	}
}
