package banana

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// The decoder parses tokens in place from a window over its read buffer,
// and decodes the usual children (quickChild, quickText) without the
// general path when they are whole in the window. These tests check that
// how the bytes arrive changes nothing: every stream decodes to the same
// values, errors, offsets and OPEN counts whatever the buffer size and
// read sizes, and a caller's *bufio.Reader is left just past the last
// token consumed.

// countingReader counts the bytes read from r.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// readSetup is one way of handing a stream to a Decoder.
type readSetup struct {
	name    string
	bufSize int                       // DecoderOptions.BufferSize, or the caller's bufio.Reader size
	wrap    func(io.Reader) io.Reader // nil: as is
	ownBuf  bool                      // pass a *bufio.Reader of our own
}

var readSetups = []readSetup{
	{name: "default"},
	{name: "buf16", bufSize: 16},
	{name: "buf17", bufSize: 17},
	{name: "buf100", bufSize: 100},
	{name: "onebyte", bufSize: 4096, wrap: iotest.OneByteReader},
	{name: "onebyte16", bufSize: 16, wrap: iotest.OneByteReader},
	{name: "half", bufSize: 64, wrap: iotest.HalfReader},
	{name: "dataerr", bufSize: 32, wrap: iotest.DataErrReader},
	{name: "ownbuf16", bufSize: 16, ownBuf: true},
	{name: "ownbuf-onebyte", bufSize: 23, ownBuf: true, wrap: iotest.OneByteReader},
	{name: "ownbuf4096", bufSize: 4096, ownBuf: true},
}

// chunkCase is a stream and how to decode it.
type chunkCase struct {
	name    string
	data    []byte
	vocab   int
	lim     Limits
	open    uint64 // the decoder's OPEN count at the start
	unicode bool   // register a handler for "unicode"
	values  bool   // ReadValue instead of ReadMessage
}

// outcome is what decoding a stream gave, step by step.
type outcome []string

func decodeStream(t testing.TB, tc chunkCase, rs readSetup) outcome {
	t.Helper()
	cr := &countingReader{r: bytes.NewReader(tc.data)}
	var r io.Reader = cr
	if rs.wrap != nil {
		r = &countingReader{r: rs.wrap(bytes.NewReader(tc.data))}
		cr = r.(*countingReader)
	}
	var br *bufio.Reader
	if rs.ownBuf {
		br = bufio.NewReaderSize(r, rs.bufSize)
		r = br
	}
	hands := testHandlers()
	if tc.unicode {
		hands["unicode"] = func(s *Seq) (any, error) {
			v, _, err := s.Next()
			return fmt.Sprintf("handled %q", v), err
		}
	}
	var pings []uint64
	d := NewDecoder(r, DecoderOptions{Limits: tc.lim, VocabIndex: tc.vocab, Handlers: hands, BufferSize: rs.bufSize,
		OnPing: func(n uint64) { pings = append(pings, n) }})
	d.nextOpen = tc.open
	var out outcome
	for range 20 {
		var v any
		var err error
		if tc.values {
			v, err = d.ReadValue()
		} else {
			v, err = d.ReadMessage()
		}
		var ce *ConnError
		fatal := errors.As(err, &ce)
		if !fatal && br != nil {
			if consumed := cr.n - int64(br.Buffered()); consumed != d.Offset() {
				t.Fatalf("%s/%s: the caller's bufio.Reader is at %d, the decoder at %d", tc.name, rs.name, consumed, d.Offset())
			}
		}
		out = append(out, fmt.Sprintf("%s | %s | off %d opens %d pings %v", describeValue(v), describeErr(err), d.Offset(), d.OpenCount(), pings))
		if fatal || err != nil && !errors.As(err, new(*Violation)) {
			break
		}
	}
	return out
}

func describeErr(err error) string {
	switch e := err.(type) {
	case nil:
		return "ok"
	case *ConnError:
		return fmt.Sprintf("ConnError %v at %d send=%v", e, e.Offset, e.SendError)
	case *Violation:
		return fmt.Sprintf("Violation %v at %d path %q", e, e.Offset, e.Path)
	}
	return err.Error()
}

// describeValue renders a value for comparison. References can make a
// value cyclic, or share containers exponentially often, so it stops after
// a budget of nodes.
func describeValue(v any) string {
	var b strings.Builder
	budget := 10000
	var walk func(v any, depth int)
	walk = func(v any, depth int) {
		if budget--; budget < 0 || depth > 20 {
			b.WriteString("…")
			return
		}
		switch x := v.(type) {
		case List, Tuple, Set, FrozenSet, []any:
			rv := reflect.ValueOf(x)
			fmt.Fprintf(&b, "%T[", x)
			for i := range rv.Len() {
				walk(rv.Index(i).Interface(), depth+1)
				b.WriteString(",")
			}
			b.WriteString("]")
		case *Dict:
			b.WriteString("{")
			for _, it := range x.Items {
				walk(it.Key, depth+1)
				b.WriteString(":")
				walk(it.Value, depth+1)
				b.WriteString(",")
			}
			b.WriteString("}")
		case *seq:
			fmt.Fprintf(&b, "%s(", x.typ)
			for _, c := range x.children {
				walk(c, depth+1)
				b.WriteString(",")
			}
			b.WriteString(")")
		case *Copyable:
			fmt.Fprintf(&b, "%s(", x.Class)
			for _, a := range x.Attrs {
				b.WriteString(a.Name + "=")
				walk(a.Value, depth+1)
			}
			b.WriteString(")")
		default:
			fmt.Fprintf(&b, "%#v", v)
		}
	}
	walk(v, 0)
	return b.String()
}

func encodeForTest(t testing.TB, vocab int, open uint64, vals ...any) []byte {
	t.Helper()
	e := NewEncoder(EncoderOptions{VocabIndex: vocab})
	e.nextOpen = open
	for _, v := range vals {
		e.BeginScope()
		if err := e.Encode(v); err != nil {
			t.Fatal(err)
		}
		e.EndScope()
	}
	return e.Bytes()
}

// strKey is the hex of a str value of one byte, as OPEN number id.
func strKey(id int, s string) string {
	return fmt.Sprintf("%02x88 0887 0182 '%s %02x89", id, s, id)
}

func chunkCases(t testing.TB) []chunkCase {
	tiny := Limits{MaxStringBytes: 10, MaxItems: 3, MaxDepth: 3, MaxLongIntBytes: 4, MaxMessageBytes: 64, MaxClassNameBytes: 8}
	cases := []chunkCase{
		{name: "incident", data: encodeForTest(t, 1, 0, incidentAnswer(20), incidentAnswer(20)), vocab: 1},
		{name: "incident, long OPEN ids", data: encodeForTest(t, 1, 1<<30, incidentAnswer(12)), vocab: 1, open: 1 << 30},
		{name: "incident, no vocab", data: encodeForTest(t, 0, 0, incidentAnswer(12)), vocab: 0},
		{name: "bench value", data: encodeForTest(t, 1, 0, benchValue()), vocab: 1},
		{name: "str handler", data: encodeForTest(t, 1, 0, List{"a", "bb", NewDict("k", "v")}), vocab: 1, unicode: true},
		// A str in a list, in unusual forms the quick path leaves to the
		// general one.
		{name: "PING inside a str", data: hexs(t, "0088 0487 0188 008e 0887 0182 'x 0189 0089"), vocab: 1},
		{name: "PING before a str", data: hexs(t, "0088 0487 058e 0188 0887 0182 'x 0189 0089"), vocab: 1},
		{name: "str body as VOCAB", data: hexs(t, "0088 0487 0188 0887 0487 0189 0089"), vocab: 1},
		{name: "str open type as STRING", data: hexs(t, "0088 0487 0188 0782 'unicode 0182 'x 0189 0089"), vocab: 1},
		{name: "str open type as STRING, no vocab", data: hexs(t, "0088 0482 'list 0188 0782 'unicode 0182 'x 0189 0089"), vocab: 0},
		{name: "bad UTF-8 in a str", data: hexs(t, "0088 0487 0188 0887 0182 ff 0189 0089", noneMsg), vocab: 1},
		{name: "str at the string limit", data: hexs(t, "0088 0487 0188 0887 0a82 '0123456789 0189 0089", noneMsg), vocab: 1, lim: tiny},
		{name: "str over the string limit", data: hexs(t, "0088 0487 0188 0887 0b82 '0123456789a 0189 0089", noneMsg), vocab: 1, lim: tiny},
		{name: "strs over the message budget", data: hexs(t, "0088 0487", strings.Repeat("0188 0887 0a82 '0123456789 0189 ", 3),
			"0088 0487", strings.Repeat("0288 0887 0a82 '0123456789 0289 ", 7), "0089 0089", noneMsg), vocab: 1, lim: tiny},
		{name: "str at the depth limit", data: hexs(t, "0088 0487 0188 0487 0288 0887 0182 'x 0289 0189 0089", noneMsg), vocab: 1, lim: tiny},
		{name: "str over the depth limit", data: hexs(t, "0088 0487 0188 0487 0288 0487 0388 0887 0182 'x 0389 0289 0189 0089", noneMsg), vocab: 1, lim: tiny},
		{name: "strs over the item limit", data: hexs(t, "0088 0487", strings.Repeat("0188 0887 0182 'x 0189 ", 4), "0089", noneMsg), vocab: 1, lim: tiny},
		{name: "str CLOSE out of sync", data: hexs(t, "0088 0487 0188 0887 0182 'x 0289 0089"), vocab: 1},
		{name: "str with two bodies", data: hexs(t, "0088 0487 0188 0887 0182 'x 0182 'y 0189 0089", noneMsg), vocab: 1},
		{name: "str truncated", data: hexs(t, "0088 0487 0188 0887 0582 'xy"), vocab: 1},
		// Dicts whose str keys come in order, out of order, repeated.
		{name: "dict with keys in order", data: hexs(t, "0088 0387", strKey(1, "a"), "0181", strKey(2, "b"), "0281", strKey(3, "c"), "0381 0089"), vocab: 1},
		{name: "dict with keys out of order", data: hexs(t, "0088 0387", strKey(1, "b"), "0181", strKey(2, "a"), "0281", strKey(3, "c"), "0381 0089"), vocab: 1},
		{name: "dict with a key repeated after ordered ones", data: hexs(t, "0088 0387", strKey(1, "a"), "0181", strKey(2, "b"), "0281", strKey(3, "a"), "0381 0089"), vocab: 1},
		{name: "dict with a key repeated at once", data: hexs(t, "0088 0387", strKey(1, "a"), "0181", strKey(2, "a"), "0281 0089"), vocab: 1},
		{name: "dict with a key repeated out of order", data: hexs(t, "0088 0387", strKey(1, "b"), "0181", strKey(2, "a"), "0281", strKey(3, "b"), "0381 0089"), vocab: 1},
		{name: "dict with a str key after a bytes key", data: hexs(t, "0088 0387 0182 'a 0181", strKey(1, "a"), "0281", strKey(2, "b"), "0281 0089"), vocab: 1},
		{name: "numbers", data: encodeForTest(t, 1, 0, List{int64(0), int64(127), int64(128), int64(1) << 40, int64(-5), int64(-1) << 40, 1.5, -0.25}), vocab: 1},
		{name: "shared and cyclic containers", data: hexs(t, "0088 0587 0188 0487 0288 0287 0081 0289 0189 0089"), vocab: 1},
	}
	for _, g := range goldenVectors() {
		cases = append(cases, chunkCase{name: "golden " + g.name, data: mustHex(t, g.hex), vocab: 1, open: g.open, values: true})
	}
	return cases
}

func TestChunkingInvariance(t *testing.T) {
	for _, tc := range chunkCases(t) {
		want := decodeStream(t, tc, readSetups[0])
		for _, rs := range readSetups[1:] {
			got := decodeStream(t, tc, rs)
			if rs.name == "dataerr" {
				// The error comes with the last bytes instead of
				// after them: only what precedes it must agree.
				got, want := got[:len(got)-1], want[:min(len(want), len(got)-1)]
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s/%s:\n got %q\nwant %q", tc.name, rs.name, got, want)
				}
				continue
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s/%s:\n got %q\nwant %q", tc.name, rs.name, got, want)
			}
		}
	}
}

// TestQuickPathValues checks what the unusual str forms and dicts decode
// to (the results python-foolscap's rules give, as before the quick paths).
func TestQuickPathValues(t *testing.T) {
	want := map[string]string{
		"str handler":                                 `banana.List["handled \"a\"","handled \"bb\"",{"handled \"k\"":"handled \"v\"",},] | ok | off 49 opens 6 pings []`,
		"PING inside a str":                           `banana.List["x",] | ok | off 17 opens 2 pings [0]`,
		"PING before a str":                           `banana.List["x",] | ok | off 17 opens 2 pings [5]`,
		"str body as VOCAB":                           `banana.List["list",] | ok | off 14 opens 2 pings []`,
		"str open type as STRING":                     `banana.List["x",] | ok | off 22 opens 2 pings []`,
		"str open type as STRING, no vocab":           `banana.List["x",] | ok | off 26 opens 2 pings []`,
		"bad UTF-8 in a str":                          `<nil> | Violation Violation (<RootUnslicer>.list[0].unicode): invalid UTF-8 in a unicode sequence at 0 path ["list[0]" "unicode"] | off 15 opens 2 pings []`,
		"str over the string limit":                   `<nil> | Violation Violation (<RootUnslicer>.list[0].unicode): STRING token too large: 11>10 at 8 path ["list[0]" "unicode"] | off 25 opens 2 pings []`,
		"strs over the message budget":                `<nil> | Violation Violation (<RootUnslicer>.list[3]): message too large: over 64 bytes at 58 path ["list[3]"] | off 192 opens 12 pings []`,
		"str at the depth limit":                      `banana.List[banana.List["x",],] | ok | off 21 opens 3 pings []`,
		"str over the depth limit":                    `<nil> | Violation Violation (<RootUnslicer>.list[0].list[0].list[0].unicode): sequences nested too deeply: more than 3 levels at 12 path ["list[0]" "list[0]" "list[0]" "unicode"] | off 27 opens 4 pings []`,
		"strs over the item limit":                    `<nil> | Violation Violation (<RootUnslicer>.list[3]): too many items in a sequence: more than 3 at 31 path ["list[3]"] | off 42 opens 5 pings []`,
		"str CLOSE out of sync":                       `<nil> | ConnError banana: lost sync: CLOSE does not match OPEN: got CLOSE(2) but expecting 1 at offset 11 at 11 send=true | off 13 opens 2 pings []`,
		"str with two bodies":                         `<nil> | Violation Violation (<RootUnslicer>.list[0].unicode): unexpected token in sequence: too many children in unicode at 11 path ["list[0]" "unicode"] | off 18 opens 2 pings []`,
		"str truncated":                               `<nil> | ConnError banana: reading the Banana stream: unexpected EOF at offset 10 at 10 send=false | off 10 opens 2 pings []`,
		"dict with keys in order":                     `{"a":1,"b":2,"c":3,} | ok | off 39 opens 4 pings []`,
		"dict with keys out of order":                 `{"b":1,"a":2,"c":3,} | ok | off 39 opens 4 pings []`,
		"dict with a key repeated after ordered ones": `<nil> | ConnError banana: duplicate dict key in dict at offset 35 at 35 send=true | off 35 opens 4 pings []`,
		"dict with a key repeated at once":            `<nil> | ConnError banana: duplicate dict key in dict at offset 24 at 24 send=true | off 24 opens 3 pings []`,
		"dict with a key repeated out of order":       `<nil> | ConnError banana: duplicate dict key in dict at offset 35 at 35 send=true | off 35 opens 4 pings []`,
		"dict with a str key after a bytes key":       `{[]byte{0x61}:1,"a":2,"b":2,} | ok | off 33 opens 3 pings []`,
	}
	for _, tc := range chunkCases(t) {
		w, ok := want[tc.name]
		if !ok {
			continue
		}
		if got := decodeStream(t, tc, readSetups[0])[0]; got != w {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, w)
		}
	}
}

// maxChunkFuzz bounds FuzzDecoderChunking's inputs: a few windows of the
// smallest buffers are enough to split tokens anywhere.
const maxChunkFuzz = 2048

// FuzzDecoderChunking decodes the same bytes through differently sized
// buffers and reads, which must agree.
func FuzzDecoderChunking(f *testing.F) {
	for _, tc := range chunkCases(f) {
		if len(tc.data) <= maxChunkFuzz {
			f.Add(tc.data, uint8(tc.vocab), uint8(0))
		}
	}
	f.Add(encodeForTest(f, 1, 0, incidentAnswer(3)), uint8(1), uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, vocab, setup uint8) {
		if len(data) > maxChunkFuzz {
			return // big inputs only slow the fuzzer down (minimizing them)
		}
		tc := chunkCase{name: "fuzz", data: data, vocab: int(vocab & 1), values: vocab&2 != 0,
			lim: Limits{MaxStringBytes: 1 << 10, MaxItems: 1 << 8, MaxDepth: 20, MaxMessageBytes: 1 << 14}}
		if vocab&4 != 0 {
			tc.lim = Limits{MaxStringBytes: 10, MaxItems: 3, MaxDepth: 3, MaxLongIntBytes: 4, MaxMessageBytes: 64, MaxClassNameBytes: 8}
		}
		rs := readSetups[1+int(setup)%(len(readSetups)-1)]
		if rs.name == "dataerr" {
			return
		}
		want := decodeStream(t, tc, readSetups[0])
		if got := decodeStream(t, tc, rs); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s:\n got %q\nwant %q", rs.name, got, want)
		}
	})
}
