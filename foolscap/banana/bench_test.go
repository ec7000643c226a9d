package banana

import (
	"bytes"
	"fmt"
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

// incidentAnswer is shaped like a get_incident answer as internal/loadnode
// serves it (and python-foolscap's publisher sends it): a (header, events)
// tuple of str-keyed dicts, the trigger event shared by the header and the
// end of the event list, so it goes out the second time as a reference.
func incidentAnswer(events int) any {
	inc := "0123456789abcdef"
	list := make(List, 0, events)
	for j := range events - 1 {
		num, t := int64(j), 1.7e9+float64(j)*0.01
		incarnation := List{inc, nil}
		var ev *Dict
		switch j % 4 {
		case 0:
			ev = NewDict("format", "TubConnector created from %(fromtubid)s to %(totubid)s",
				"fromtubid", "qrrnx55najmpo4kcseajcszexvro4qig", "totubid", "fafh6c7flkglf3use5jrqf3hh3ubwgyb",
				"level", int64(20), "facility", "foolscap.connection", "umid", "pH4QDA",
				"num", num, "time", t, "incarnation", incarnation)
		case 1:
			ev = NewDict("parent", num-1, "facility", "foolscap.connection", "num", num, "level", int64(20),
				"message", "considering hint: tcp:127.0.0.1:31181", "time", t, "incarnation", incarnation)
		case 2:
			ev = NewDict("format", "uploaded %(size)d bytes to %(server)s", "size", int64(1<<20+j),
				"server", "v0-abcdefghijklmnopqrstuvwxyz", "level", int64(20), "facility", "tahoe.upload",
				"num", num, "time", t, "incarnation", incarnation)
		default:
			ev = NewDict("facility", "bench.app", "num", num, "level", int64(23),
				"message", fmt.Sprintf("step %d: caf\u00e9 \u2603 retrying", j), "time", t, "incarnation", incarnation)
		}
		list = append(list, ev)
	}
	trigger := NewDict("format", "%(label)s-weird happened: %(why)s", "label", "bench0", "why", "synthetic load",
		"level", int64(30), "umid", "Ab12Cd", "facility", "bench.app", "num", int64(events), "time", 1.7e9+2,
		"incarnation", List{inc, nil})
	list = append(list, trigger)
	versions := NewDict("twisted", "22.4.0", "foolscap", "21.7.0", "loadnode", "1")
	header := NewDict("type", "incident", "trigger", trigger, "versions", versions, "pid", int64(4242))
	return Tuple{header, list}
}

// loopReader serves the same bytes forever, so that one Decoder (as a
// connection has) reads message after message.
type loopReader struct {
	data []byte
	off  int
}

func (r *loopReader) Read(p []byte) (int, error) {
	n := copy(p, r.data[r.off:])
	r.off = (r.off + n) % len(r.data)
	return n, nil
}

func BenchmarkEncodeIncident(b *testing.B) {
	v := incidentAnswer(200)
	e := NewEncoder(EncoderOptions{VocabIndex: 1})
	b.ReportAllocs()
	for b.Loop() {
		e.Reset()
		e.BeginScope()
		if err := e.Encode(v); err != nil {
			b.Fatal(err)
		}
		e.EndScope()
	}
	b.SetBytes(int64(e.Len()))
}

// BenchmarkDecodeIncident decodes get_incident answers with one Decoder,
// as a gatherer's connection to a node does.
func BenchmarkDecodeIncident(b *testing.B) {
	e := NewEncoder(EncoderOptions{VocabIndex: 1})
	e.BeginScope()
	if err := e.Encode(incidentAnswer(200)); err != nil {
		b.Fatal(err)
	}
	data := e.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	d := NewDecoder(&loopReader{data: data}, DecoderOptions{VocabIndex: 1})
	for b.Loop() {
		d.nextOpen = 0 // every message is the same bytes, numbered from 0
		if _, err := d.ReadMessage(); err != nil {
			b.Fatal(err)
		}
	}
}
