package banana

import (
	"bytes"
	"strings"
	"testing"
)

// TestDecoderKeepsLittle checks that after a big message a Decoder keeps
// only small buffers: a gatherer holds thousands of idle connections.
func TestDecoderKeepsLittle(t *testing.T) {
	deep := any("a long str, read through the scratch buffer: " + strings.Repeat("x", 20000))
	for range 50 {
		deep = List{deep}
	}
	data := encodeForTest(t, 1, 0, incidentAnswer(1000), deep, NewDict("small", List{int64(1), "x"}))
	d := NewDecoder(bytes.NewReader(data), DecoderOptions{VocabIndex: 1})
	for range 3 {
		if _, err := d.ReadMessage(); err != nil {
			t.Fatal(err)
		}
		if d.texts.buckets != nil || d.texts.seen != 0 {
			t.Errorf("the str intern table outlives its message")
		}
		if cap(d.items) > maxKeptStaged || cap(d.elems) > maxKeptStaged || cap(d.scopeBuf.objs) > 128 {
			t.Errorf("staging kept: items %d, elems %d, scope %d", cap(d.items), cap(d.elems), cap(d.scopeBuf.objs))
		}
		if d.win != nil || d.pos != 0 {
			t.Errorf("the read window outlives its call")
		}
		if cap(d.scratch) > maxKeptScratch || len(d.seqs) > maxKeptSeqs {
			t.Errorf("scratch of %d bytes and %d Seqs kept", cap(d.scratch), len(d.seqs))
		}
	}
}

// TestDecodeIncidentAllocs bounds the allocations of decoding an incident
// answer: str keys and common values come from the intern table.
func TestDecodeIncidentAllocs(t *testing.T) {
	data := encodeForTest(t, 1, 0, incidentAnswer(200))
	d := NewDecoder(&loopReader{data: data}, DecoderOptions{VocabIndex: 1})
	allocs := testing.AllocsPerRun(10, func() {
		d.nextOpen = 0
		if _, err := d.ReadMessage(); err != nil {
			t.Fatal(err)
		}
	})
	// Per event: the dict and its items, the incarnation list and its
	// box, the time and the num (and the odd unique str): about 1,300;
	// 1,982 before interning.
	if allocs > 1500 {
		t.Errorf("%v allocations to decode a 200-event incident, want at most 1500", allocs)
	}
}

// TestEncoderScopes checks that a container shared within a message is
// sent once and then as a reference, and that the next message, on the
// same Encoder, sends it in full again, whatever the size of the scope.
func TestEncoderScopes(t *testing.T) {
	for _, n := range []int{1, 3, maxKeptRefs + 1, 100} {
		shared := List{"x"}
		d := NewDict("shared", int64(1))
		var vals List
		for range n {
			vals = append(vals, List{"y"}, NewDict("z", int64(0)))
		}
		msg := Tuple{shared, d, vals, shared, d}
		e := NewEncoder(EncoderOptions{VocabIndex: 1})
		var first []byte
		for i := range 3 {
			e.Reset()
			e.nextOpen = 0
			e.BeginScope()
			if err := e.Encode(msg); err != nil {
				t.Fatal(err)
			}
			e.EndScope()
			if i == 0 {
				first = append(first, e.Bytes()...)
				continue
			}
			if !bytes.Equal(e.Bytes(), first) {
				t.Fatalf("n=%d: message %d encodes differently:\n%x\n%x", n, i, e.Bytes(), first)
			}
		}
		v, err := NewDecoder(bytes.NewReader(first), DecoderOptions{VocabIndex: 1}).ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		tup := v.(Tuple)
		if &tup[0].(List)[0] != &tup[3].(List)[0] || tup[1].(*Dict) != tup[4].(*Dict) {
			t.Errorf("n=%d: shared containers were not sent as references", n)
		}
		if big := n > maxKeptRefs; big != (e.dictRefs == nil) || big != (e.seqRefs == nil) {
			t.Errorf("n=%d: reference maps kept %v, %v; want them kept only when small", n, e.dictRefs != nil, e.seqRefs != nil)
		}
	}
}

// TestEncoderSequenceIdentity checks which sequences are the same object:
// those with the same first element, length and kind; a prefix of one, or
// the same array as another kind, is another object.
func TestEncoderSequenceIdentity(t *testing.T) {
	arr := []any{int64(1), int64(2), int64(3)}
	l, prefix, tup := List(arr), List(arr[:2]), Tuple(arr)
	e := NewEncoder(EncoderOptions{VocabIndex: 1})
	e.BeginScope()
	if err := e.Encode(List{l, prefix, tup, l, prefix, tup}); err != nil {
		t.Fatal(err)
	}
	e.EndScope()
	v, err := NewDecoder(bytes.NewReader(e.Bytes()), DecoderOptions{VocabIndex: 1}).ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	got := v.(List)
	if len(got[0].(List)) != 3 || len(got[1].(List)) != 2 || len(got[2].(Tuple)) != 3 {
		t.Fatalf("decoded %v", got)
	}
	if &got[0].(List)[0] == &got[1].(List)[0] || &got[0].(List)[0] == &got[2].(Tuple)[0] {
		t.Errorf("a prefix or another kind was sent as a reference to the first sequence")
	}
	if &got[3].(List)[0] != &got[0].(List)[0] || &got[4].(List)[0] != &got[1].(List)[0] || &got[5].(Tuple)[0] != &got[2].(Tuple)[0] {
		t.Errorf("a repeated sequence was not sent as a reference")
	}
}
