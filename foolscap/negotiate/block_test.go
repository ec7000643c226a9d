package negotiate

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadBlock(t *testing.T) {
	hello := "banana-negotiation-range: 3 3\r\nmy-tub-id: x\r\n\r\n"
	tests := []struct {
		name     string
		in       string
		oneByte  bool
		want     []string // blocks
		wantRest string
		wantErr  error
	}{
		{name: "one block", in: hello, want: []string{strings.TrimSuffix(hello, "\r\n\r\n")}},
		{name: "one byte at a time", in: hello, oneByte: true, want: []string{strings.TrimSuffix(hello, "\r\n\r\n")}},
		{name: "block then banana", in: "a: b\r\n\r\n\x00\x88rest", want: []string{"a: b"}, wantRest: "\x00\x88rest"},
		{name: "two blocks", in: "a: b\r\n\r\nc: d\r\n\r\nxyz", want: []string{"a: b", "c: d"}, wantRest: "xyz"},
		{name: "empty block", in: "\r\n\r\n", want: []string{""}},
		{name: "exactly the cap", in: strings.Repeat("a", MaxHeaderSize-4) + "\r\n\r\n", want: []string{strings.Repeat("a", MaxHeaderSize-4)}},
		{name: "cap plus one", in: strings.Repeat("a", MaxHeaderSize-3) + "\r\n\r\n", wantErr: ErrHeaderTooLong},
		{name: "no terminator within cap", in: strings.Repeat("a", MaxHeaderSize+10), wantErr: ErrHeaderTooLong},
		{name: "eof", in: "", wantErr: io.EOF},
		{name: "truncated", in: "a: b\r\n", wantErr: io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r io.Reader = strings.NewReader(tt.in)
			if tt.oneByte {
				r = iotest.OneByteReader(r)
			}
			br := newBlockReader(r, nil)
			for _, w := range tt.want {
				got, err := br.readBlock()
				if err != nil || string(got) != w {
					t.Fatalf("readBlock = %q, %v; want %q", got, err, w)
				}
			}
			if tt.wantErr != nil {
				if _, err := br.readBlock(); !errors.Is(err, tt.wantErr) {
					t.Fatalf("error %v, want %v", err, tt.wantErr)
				}
				return
			}
			if string(br.pending()) != tt.wantRest {
				t.Errorf("pending %q, want %q", br.pending(), tt.wantRest)
			}
		})
	}
}

// TestReadBlockPrefixes: no strict prefix of a block is a block.
func TestReadBlockPrefixes(t *testing.T) {
	in := "banana-negotiation-range: 3 3\r\ninitial-vocab-table-range: 0 1\r\n\r\n"
	for i := range len(in) {
		br := newBlockReader(strings.NewReader(in[:i]), nil)
		if b, err := br.readBlock(); err == nil {
			t.Fatalf("prefix %q gave block %q", in[:i], b)
		}
	}
}

func TestParseBlock(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    map[string]string
		wantErr bool
	}{
		{name: "hello", in: "banana-negotiation-range: 3 3\r\nmy-tub-id: abc", want: map[string]string{"banana-negotiation-range": "3 3", "my-tub-id": "abc"}},
		{name: "keys lowercased, values left-stripped", in: "My-Tub-ID:  \tabc ", want: map[string]string{"my-tub-id": "abc "}},
		{name: "value with colons", in: "a: b:c", want: map[string]string{"a": "b:c"}},
		{name: "later duplicate wins", in: "a: 1\r\na: 2", want: map[string]string{"a": "2"}},
		{name: "empty key", in: ": v", want: map[string]string{"": "v"}},
		{name: "no colon", in: "a: b\r\nbanana", wantErr: true},
		{name: "empty block", in: "", wantErr: true},
		{name: "blank line inside", in: "a: b\r\n\r\nc: d", wantErr: true},
		{name: "not utf-8", in: "a: \xff", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, f := parseBlock([]byte(tt.in))
			if (f != nil) != tt.wantErr {
				t.Fatalf("parseBlock error %v, wantErr %v", f, tt.wantErr)
			}
			if f != nil {
				if f.wireText() != internalErrorText {
					t.Errorf("malformed block must be reported as %q", internalErrorText)
				}
				return
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%q = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

func TestFormatBlockSorted(t *testing.T) {
	got := formatBlock(map[string]string{"my-tub-id": "t", "banana-negotiation-range": "3 3", "last-connection": "none 0"})
	want := "banana-negotiation-range: 3 3\r\nlast-connection: none 0\r\nmy-tub-id: t\r\n\r\n"
	if string(got) != want {
		t.Errorf("formatBlock = %q, want %q", got, want)
	}
}

func TestBananaErrorToken(t *testing.T) {
	tests := []struct {
		name string
		msg  string
		want []byte
	}{
		{"short", "boom", append([]byte{4, 0x8d}, "boom"...)},
		{"two header bytes", strings.Repeat("x", 200), append([]byte{200 & 0x7f, 1, 0x8d}, strings.Repeat("x", 200)...)},
		{"truncated at the size limit", strings.Repeat("y", 1200), append([]byte{990 & 0x7f, 990 >> 7, 0x8d}, strings.Repeat("y", 990)+"..."...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := bananaErrorToken(tt.msg)
			if tt.name == "truncated at the size limit" {
				tt.want[0], tt.want[1] = byte(993&0x7f), byte(993>>7)
			}
			if !bytes.Equal(got, tt.want) {
				t.Errorf("token % x..., want % x...", got[:min(8, len(got))], tt.want[:min(8, len(tt.want))])
			}
		})
	}
}

// FuzzReadHeaderBlock: the negotiation reader and block parser never panic,
// never buffer past the cap, and every parsed block re-encodes to a block
// that parses to the same fields.
func FuzzReadHeaderBlock(f *testing.F) {
	for _, s := range []string{
		"GET /id/ollkjhe3g2hfsdxpotiiwchnbnrbkyv4 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: TLS/1.0\r\nConnection: Upgrade\r\n\r\n",
		switchingProtocols,
		"banana-negotiation-range: 3 3\r\ninitial-vocab-table-range: 0 1\r\nmy-incarnation: 95b3f0348252feec\r\nmy-tub-id: ollkjhe3g2hfsdxpotiiwchnbnrbkyv4\r\n\r\n",
		"banana-decision-version: 3\r\ncurrent-connection: 0417c53d83bec9d4 1\r\ninitial-vocab-table-index: 1 bb33\r\n\r\n\x00\x88\x0b\x87",
		"banana-decision-version: 1\r\nerror: Duplicate connection\r\n\r\n",
		"HTTP/1.1 500 Internal Server Error: unknown TubID x\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	// Every recorded flow of a real negotiation is a seed too.
	files, _ := filepath.Glob(filepath.Join(transcriptDir, "*.txt"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		tr, err := parseTranscript(data)
		if err != nil {
			f.Fatal(err)
		}
		for _, fl := range tr.flows {
			f.Add(fl.b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		br := newBlockReader(iotest.HalfReader(bytes.NewReader(data)), nil)
		for {
			blk, err := br.readBlock()
			if len(br.buf) > MaxHeaderSize || cap(br.buf) > MaxHeaderSize {
				t.Fatalf("buffer grew to %d", cap(br.buf))
			}
			if err != nil {
				return
			}
			_, _ = parseRequest(blk)
			_ = parseResponse(blk)
			fields, fl := parseBlock(blk)
			if fl != nil {
				continue
			}
			again, fl := parseBlock(bytes.TrimSuffix(formatBlock(fields), endOfBlock))
			if fl != nil && len(fields) > 0 {
				t.Fatalf("re-encoded block does not parse: %v", fl)
			}
			for k, v := range fields {
				if strings.ContainsAny(k, "\r\n") || strings.HasPrefix(v, " ") {
					continue // such fields cannot survive a round trip
				}
				if again[k] != v && !strings.ContainsAny(v, "\r\n") {
					t.Fatalf("field %q: %q became %q", k, v, again[k])
				}
			}
			_, _ = evaluateHello(fields, tls.ConnectionState{}, "a", "")
			_, _ = acceptDecision(fields)
		}
	})
}
