package banana

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"math"
	"math/big"
	"reflect"
	"strings"
	"testing"
)

// seq is a test stand-in for PB's open types: it encodes as
// OPEN typ index... children... CLOSE and is what testHandlers decode.
type seq struct {
	typ      string
	index    []string
	children []any
}

func (s *seq) MarshalBanana(e *Encoder) error {
	id := e.Open(s.typ)
	for _, ix := range s.index {
		e.WriteBytes([]byte(ix))
	}
	for _, c := range s.children {
		if err := e.Encode(c); err != nil {
			e.AbortTo(id)
			return err
		}
	}
	e.Close(id)
	return nil
}

func testHandlers() map[string]OpenHandler {
	h := map[string]OpenHandler{}
	for _, typ := range []string{"call", "arguments", "answer", "error", "my-reference", "your-reference", "their-reference"} {
		h[typ] = func(s *Seq) (any, error) {
			out := &seq{typ: s.OpenType()}
			for {
				v, ok, err := s.Next()
				if err != nil {
					return nil, err
				}
				if !ok {
					return out, nil
				}
				out.children = append(out.children, v)
			}
		}
	}
	return h
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("bad hex in test: %v", err)
	}
	return b
}

func str(s string) []byte { return []byte(s) }

func bigInt(s string) *big.Int {
	v, ok := new(big.Int).SetString(s, 0)
	if !ok {
		panic("bad big int " + s)
	}
	return v
}

// goldenVectors are the hex captures of wire-protocol.md §4-§6, all with
// vocab index 1. open is the sender's (and receiver's) OPEN count before
// the first token.
func goldenVectors() []struct {
	name string
	open uint64
	hex  string
	vals []any // top-level values, in one reference scope
} {
	cycle := List{nil}
	cycle[0] = cycle
	x := List{int64(1)}
	return []struct {
		name string
		open uint64
		hex  string
		vals []any
	}{
		{"int 300", 0, "2c02 81", []any{int64(300)}},
		{"int 0", 0, "00 81", []any{int64(0)}},
		{"int 2^31-1", 0, "7f7f7f7f07 81", []any{int64(1<<31 - 1)}},
		{"longint 2^31", 0, "04 85 80000000", []any{int64(1 << 31)}},
		{"neg -2^31", 0, "0000000008 83", []any{int64(-1 << 31)}},
		{"longneg -2^31-1", 0, "04 86 80000001", []any{int64(-1<<31 - 1)}},
		{"longint 2^70", 0, "09 85 40 0000000000000000", []any{bigInt("0x400000000000000000")}},
		{"float 1.5", 0, "84 3ff8000000000000", []any{1.5}},
		{"neg -5", 0, "05 83", []any{int64(-5)}},
		{"bytes", 0, "05 82 68656c6c6f", []any{str("hello")}},
		{"vocab bytes", 0, "0b 87", []any{str("call")}},
		{"shared list", 4, "0488 0487 0588 0487 0181 0589 0688 0287 0581 0689 0489 0788 0287 0581 0789",
			[]any{List{x, x}, x}},
		{"cycle", 10, "0a88 0487 0b88 0287 0a81 0b89 0a89", []any{cycle}},
		{"my-reference first", 8, "0888 0f87 0181 0082 0889",
			[]any{&seq{typ: "my-reference", children: []any{int64(1), str("")}}}},
		{"my-reference again", 11, "0b88 0f87 0181 0b89",
			[]any{&seq{typ: "my-reference", children: []any{int64(1)}}}},
		{"their-reference", 7, "0788 1187 0181 3f82" + hex.EncodeToString([]byte("pb://5aajinn4nmknmsomctdtly5xue2u43ho@tcp:127.0.0.1:42879/thing")) + "0789",
			[]any{&seq{typ: "their-reference", children: []any{int64(1), str("pb://5aajinn4nmknmsomctdtly5xue2u43ho@tcp:127.0.0.1:42879/thing")}}}},
		{"decgift", 2, "0288 0b87 0081 0081 0782" + hex.EncodeToString(str("decgift")) + "0388 0c87 0081 0582" + hex.EncodeToString(str("count")) + "0181 0682" + hex.EncodeToString(str("giftID")) + "0181 0389 0289",
			[]any{&seq{typ: "call", children: []any{int64(0), int64(0), str("decgift"),
				&seq{typ: "arguments", children: []any{int64(0), str("count"), int64(1), str("giftID"), int64(1)}}}}}},
		{"decref", 23, "1788 0b87 0981 0081 0682" + hex.EncodeToString(str("decref")) + "1888 0c87 0081 0482" + hex.EncodeToString(str("clid")) + "0281 0582" + hex.EncodeToString(str("count")) + "0281 1889 1789",
			[]any{&seq{typ: "call", children: []any{int64(9), int64(0), str("decref"),
				&seq{typ: "arguments", children: []any{int64(0), str("clid"), int64(2), str("count"), int64(2)}}}}}},
		{"decref answer", 23, "1788 0d87 0981 1888 0087 1889 1789",
			[]any{&seq{typ: "answer", children: []any{int64(9), nil}}}},
		{"getReferenceByName", 0, "00880b870181008112826765745265666572656e636542794e616d6501880c87008104826e616d650a826563686f2d737769737301890089",
			[]any{&seq{typ: "call", children: []any{int64(1), int64(0), str("getReferenceByName"),
				&seq{typ: "arguments", children: []any{int64(0), str("name"), str("echo-swiss")}}}}}},
		{"answer my-reference with url", 0, "00880d87018101880f8701810082448270623a2f2f6f6c6c6b6a68653367326866736478706f7469697763686e626e72626b797634407463703a3132372e302e302e313a33393738332f6563686f2d737769737301890089",
			[]any{&seq{typ: "answer", children: []any{int64(1), &seq{typ: "my-reference", children: []any{int64(1), str(""),
				str("pb://ollkjhe3g2hfsdxpotiiwchnbnrbkyv4@tcp:127.0.0.1:39783/echo-swiss")}}}}}},
		{"echo call", 2, "02880b870281018104826563686f03880c870281058268656c6c6f2a810182640488038701826b058808870182760589048903890289",
			[]any{&seq{typ: "call", children: []any{int64(2), int64(1), str("echo"),
				&seq{typ: "arguments", children: []any{int64(2), str("hello"), int64(42), str("d"), NewDict(str("k"), "v")}}}}}},
		{"echo answer", 2, "02880d8702810388048704880587058268656c6c6f2a810489058803870688088701826406890788038701826b0888088701827608890789058903890289",
			[]any{&seq{typ: "answer", children: []any{int64(2), List{Tuple{str("hello"), int64(42)}, NewDict("d", NewDict(str("k"), "v"))}}}}},
		{"take(t)", 6, "06880b8703810181048274616b6507880c87018108880f8701810082088907890689",
			[]any{&seq{typ: "call", children: []any{int64(3), int64(1), str("take"),
				&seq{typ: "arguments", children: []any{int64(1), &seq{typ: "my-reference", children: []any{int64(1), str("")}}}}}}}},
		{"your-reference answer", 9, "09880d8703810a88108701810a890989",
			[]any{&seq{typ: "answer", children: []any{int64(3), &seq{typ: "your-reference", children: []any{int64(1)}}}}}},
		{"take(t) again", 9, "09880b8704810181048274616b650a880c8701810b880f8701810b890a890989",
			[]any{&seq{typ: "call", children: []any{int64(4), int64(1), str("take"),
				&seq{typ: "arguments", children: []any{int64(1), &seq{typ: "my-reference", children: []any{int64(1)}}}}}}}},
		{"scalars answer", 25, "19880d870a811a8804871b8800871b891c88018701811c891d88018700811d89843ff8000000000000058304858000000000000000088304868000000109854000000000000000001e8808870282c3bc1e891f88058701811f89208806870181208921880787028121891a891989",
			[]any{&seq{typ: "answer", children: []any{int64(10), List{nil, true, false, 1.5, int64(-5), int64(1 << 31), int64(-1 << 31), int64(-1<<31 - 1),
				bigInt("0x400000000000000000"), "ü", Tuple{int64(1)}, Set{int64(1)}, FrozenSet{int64(2)}}}}}},
		{"callRemoteOnly", 31, "1f880b870081018106826f6e6577617920880c870181078120891f89",
			[]any{&seq{typ: "call", children: []any{int64(0), int64(1), str("oneway"),
				&seq{typ: "arguments", children: []any{int64(1), int64(7)}}}}}},
		{"bound method my-reference", 15, "0f88 0f87 0183 0082 0f89",
			[]any{&seq{typ: "my-reference", children: []any{int64(-1), str("")}}}},
		{"call bound method", 10, "0a880b870181018300820b880c87008101827801810b890a89",
			[]any{&seq{typ: "call", children: []any{int64(1), int64(-1), str(""),
				&seq{typ: "arguments", children: []any{int64(0), str("x"), int64(1)}}}}}},
		{"answer 2", 26, "1a880d87018102811a89",
			[]any{&seq{typ: "answer", children: []any{int64(1), int64(2)}}}},
	}
}

func newTestDecoder(data []byte, open uint64) *Decoder {
	d := NewDecoder(bytes.NewReader(data), DecoderOptions{VocabIndex: 1, Handlers: testHandlers()})
	d.nextOpen = open
	return d
}

func TestGoldenDecode(t *testing.T) {
	for _, tc := range goldenVectors() {
		t.Run(tc.name, func(t *testing.T) {
			data := mustHex(t, tc.hex)
			d := newTestDecoder(data, tc.open)
			var got []any
			if len(tc.vals) == 1 {
				v, err := d.ReadValue()
				if err != nil {
					t.Fatalf("decode: %v", err)
				}
				got = []any{v}
			} else {
				// Several values share one scope: wrap them as a test sequence.
				d.scope = &scope{base: d.nextOpen}
				for range tc.vals {
					tok, err := d.nextData()
					if err != nil {
						t.Fatal(err)
					}
					v, err := d.readOpen(tok, 0)
					if err != nil {
						t.Fatalf("decode: %v", err)
					}
					got = append(got, v)
				}
			}
			if !reflect.DeepEqual(got, tc.vals) {
				t.Errorf("decoded %#v\nwant %#v", got, tc.vals)
			}
			if _, err := d.Next(); !errors.Is(err, io.EOF) {
				t.Errorf("trailing data or wrong error after value: %v", err)
			}
		})
	}
}

func TestGoldenEncode(t *testing.T) {
	for _, tc := range goldenVectors() {
		t.Run(tc.name, func(t *testing.T) {
			e := NewEncoder(EncoderOptions{VocabIndex: 1})
			e.nextOpen = tc.open
			e.BeginScope()
			for _, v := range tc.vals {
				if err := e.Encode(v); err != nil {
					t.Fatalf("encode: %v", err)
				}
			}
			e.EndScope()
			want := mustHex(t, tc.hex)
			if !bytes.Equal(e.Bytes(), want) {
				t.Errorf("encoded %x\nwant    %x", e.Bytes(), want)
			}
		})
	}
}

func TestGoldenAbort(t *testing.T) {
	// §4.5: echo([1, object()]) fails to serialize after the list opened.
	want := mustHex(t, "0288 0b87 0281 0181 0482 6563686f 0388 0c87 0181 0488 0487 0181 048a 0489 038a 0389 028a 0289")
	e := NewEncoder(EncoderOptions{VocabIndex: 1})
	e.nextOpen = 2
	call := e.Open("call")
	e.WriteInt(2)
	e.WriteInt(1)
	e.WriteBytes(str("echo"))
	e.Open("arguments")
	e.WriteInt(1)
	err := e.Encode(List{int64(1), struct{}{}})
	if !errors.Is(err, ErrCannotSerialize) {
		t.Fatalf("Encode of an unsupported type: got %v, want ErrCannotSerialize", err)
	}
	e.AbortTo(call)
	if !bytes.Equal(e.Bytes(), want) {
		t.Fatalf("abort bytes %x\nwant        %x", e.Bytes(), want)
	}
	// The receiver sees a Violation and the stream stays usable.
	d := newTestDecoder(append(want, mustHex(t, "0588 0087 0589")...), 2)
	_, err = d.ReadMessage()
	if !errors.Is(err, ErrAborted) {
		t.Fatalf("decode aborted call: got %v, want ErrAborted", err)
	}
	v, err := d.ReadMessage()
	if err != nil || v != nil {
		t.Fatalf("message after abort: %v, %v", v, err)
	}
}

func TestGoldenErrorToken(t *testing.T) {
	msg := "BananaError(in <RootUnslicer>): ('top-level must be OPEN',)"
	data := append(mustHex(t, "3b8d"), msg...)
	d := newTestDecoder(data, 0)
	_, err := d.ReadMessage()
	var ce *ConnError
	if !errors.As(err, &ce) || !errors.Is(err, ErrPeerError) || ce.PeerMsg != msg || ce.SendError {
		t.Fatalf("got %v, want peer ERROR %q", err, msg)
	}
	e := NewEncoder(EncoderOptions{})
	e.WriteError(msg)
	if !bytes.Equal(e.Bytes(), data) {
		t.Fatalf("WriteError %x, want %x", e.Bytes(), data)
	}
}

func TestGoldenPingPong(t *testing.T) {
	e := NewEncoder(EncoderOptions{})
	e.WritePing(0)
	e.WritePong(0)
	e.WritePing(300)
	if got, want := e.Bytes(), mustHex(t, "8e 8f 2c028e"); !bytes.Equal(got, want) {
		t.Fatalf("ping/pong %x, want %x", got, want)
	}
	var pings []uint64
	data := mustHex(t, "8e 0088 8e 0087 2c028e 8f 0089 8e")
	d := NewDecoder(bytes.NewReader(data), DecoderOptions{VocabIndex: 1, OnPing: func(n uint64) { pings = append(pings, n) }})
	v, err := d.ReadMessage()
	if err != nil || v != nil {
		t.Fatalf("none with pings inside: %v %v", v, err)
	}
	if !reflect.DeepEqual(pings, []uint64{0, 0, 300}) {
		t.Fatalf("pings %v", pings)
	}
}

func TestFloatSpecials(t *testing.T) {
	for _, f := range []float64{math.Copysign(0, -1), math.Inf(1), math.Inf(-1), math.NaN(), 1e-5, 1e16, 0.1 + 0.2, math.SmallestNonzeroFloat64} {
		e := NewEncoder(EncoderOptions{})
		if err := e.Encode(f); err != nil {
			t.Fatal(err)
		}
		v, err := NewDecoder(bytes.NewReader(e.Bytes()), DecoderOptions{}).ReadValue()
		if err != nil {
			t.Fatal(err)
		}
		if math.Float64bits(v.(float64)) != math.Float64bits(f) {
			t.Errorf("float %v round trip gave %v", f, v)
		}
	}
}

// TestGoldenErrorHead checks the head of §6's error reply (remote_fail
// raising ValueError("boom")): everything up to the traceback's STRING
// header, whose body (1261 bytes) the spec does not reproduce.
func TestGoldenErrorHead(t *testing.T) {
	head := mustHex(t, "22880e870b81238812871e82747769737465642e707974686f6e2e6661696c7572652e4661696c757265058276616c75650482626f6f6d04827479706513826275696c74696e732e56616c75654572726f72098274726163656261636b6d0982")
	tb := strings.Repeat("t", 1261)
	failure := &Copyable{Class: "twisted.python.failure.Failure", Attrs: []Attr{
		{Name: "value", Value: str("boom")},
		{Name: "type", Value: str("builtins.ValueError")},
		{Name: "traceback", Value: str(tb)},
		{Name: "parents", Value: List{str("builtins.ValueError"), str("builtins.Exception"), str("builtins.BaseException"), str("builtins.object")}},
	}}
	e := NewEncoder(EncoderOptions{VocabIndex: 1})
	e.nextOpen = 34
	e.BeginScope()
	if err := e.Encode(&seq{typ: "error", children: []any{int64(11), failure}}); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(e.Bytes(), head) {
		t.Fatalf("error reply starts %x\nwant           %x", e.Bytes()[:len(head)], head)
	}
	d := newTestDecoder(e.Bytes(), 34)
	v, err := d.ReadValue()
	if err != nil {
		t.Fatal(err)
	}
	got := v.(*seq).children[1].(*Copyable)
	if !reflect.DeepEqual(got, failure) {
		t.Fatalf("decoded %#v", got)
	}
}
