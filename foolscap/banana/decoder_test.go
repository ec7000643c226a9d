package banana

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// hexs builds test input from space-separated hex fragments; a fragment
// starting with "'" is literal text.
func hexs(t testing.TB, parts ...string) []byte {
	t.Helper()
	var b []byte
	for _, p := range parts {
		for _, f := range strings.Fields(p) {
			if strings.HasPrefix(f, "'") {
				b = append(b, f[1:]...)
				continue
			}
			b = append(b, mustHex(t, f)...)
		}
	}
	return b
}

// none is a complete top-level message decoding to None, used to show the
// stream is still usable after a Violation.
const noneMsg = "3088 0087 3089"

func TestDecodeErrors(t *testing.T) {
	lim := Limits{MaxStringBytes: 10, MaxItems: 3, MaxDepth: 3, MaxLongIntBytes: 4, MaxMessageBytes: 64, MaxClassNameBytes: 8}
	tests := []struct {
		name  string
		vocab int // -1: no vocab table, else table 1
		in    []byte
		fatal error // want a *ConnError wrapping this
		viol  error // want a *Violation wrapping this, then noneMsg decodes
		ok    bool  // want success, then noneMsg decodes
	}{
		{name: "header 64 bytes", in: hexs(t, "0088", strings.Repeat("00", 64), "87 0089", noneMsg), ok: true},
		{name: "header 65 bytes", in: hexs(t, "0088", strings.Repeat("00", 65), "87 0089"), fatal: ErrHeaderTooLong},
		{name: "type 0x80", in: hexs(t, "0088 0487 0080 0089"), fatal: ErrBadTypeByte},
		{name: "type 0x8b", in: hexs(t, "0088 0487 018b 0089"), fatal: ErrBadTypeByte},
		{name: "type 0x8c", in: hexs(t, "0088 0487 018c 0089"), fatal: ErrBadTypeByte},
		{name: "type 0x90 at top", in: hexs(t, "90"), fatal: ErrBadTypeByte},
		{name: "type 0xff", in: hexs(t, "0088 0487 ff 0089"), fatal: ErrBadTypeByte},
		{name: "stray INT at top", in: hexs(t, "0181"), fatal: ErrTopLevelNotOpen},
		{name: "stray CLOSE at top", in: hexs(t, "0089"), fatal: ErrTopLevelNotOpen},
		{name: "vocab 24 known", in: hexs(t, "0088 0487 1887 0089", noneMsg), ok: true},
		{name: "vocab 25 unknown", in: hexs(t, "0088 0487 1987 0089"), fatal: ErrUnknownVocab},
		{name: "vocab without table", vocab: -1, in: hexs(t, "0088 0087 0089"), fatal: ErrUnknownVocab},
		{name: "lost sync", in: hexs(t, "0088 0487 0189"), fatal: ErrLostSync},
		{name: "lost sync while discarding", in: hexs(t, "0088 0f82 'abcdefghijklmnop 0188 0289"), fatal: ErrLostSync},
		{name: "ERROR 1000 bytes", in: hexs(t, "6807 8d", strings.Repeat("41", 1000)), fatal: ErrPeerError},
		{name: "ERROR 1001 bytes", in: hexs(t, "6907 8d", strings.Repeat("41", 1001)), fatal: ErrOversizedError},
		{name: "string at limit", in: hexs(t, "0088 0487 0a82 '0123456789 0089", noneMsg), ok: true},
		{name: "string over limit", in: hexs(t, "0088 0487 0b82 '0123456789a 0089", noneMsg), viol: ErrStringTooLong},
		{name: "items at limit", in: hexs(t, "0088 0487 0181 0181 0181 0089", noneMsg), ok: true},
		{name: "items over limit", in: hexs(t, "0088 0487 0181 0181 0181 0181 0089", noneMsg), viol: ErrTooManyItems},
		{name: "open items over limit", in: hexs(t, "0088 0487 0181 0181 0181 0188 0487 0189 0089", noneMsg), viol: ErrTooManyItems},
		{name: "depth at limit", in: hexs(t, "0088 0487 0188 0487 0288 0487 0289 0189 0089", noneMsg), ok: true},
		{name: "depth over limit", in: hexs(t, "0088 0487 0188 0487 0288 0487 0388 0487 0389 0289 0189 0089", noneMsg), viol: ErrTooDeep},
		{name: "longint at limit", in: hexs(t, "0088 0487 0485 01020304 0089", noneMsg), ok: true},
		{name: "longint over limit", in: hexs(t, "0088 0487 0585 0102030405 0089", noneMsg), viol: ErrLongIntTooLong},
		{name: "message budget", in: hexs(t, "0088 0487", strings.Repeat("0a82 '0123456789 ", 7), "0089", noneMsg), viol: ErrMessageTooLarge},
		{name: "open type 15 bytes unknown", in: hexs(t, "0088 0f82 'their-referencX 0089", noneMsg), viol: ErrUnknownOpenType},
		{name: "open type 16 bytes", in: hexs(t, "0088 1082 'their-referenceX 0089", noneMsg), viol: ErrOpenTypeTooLong},
		{name: "open type not a string", in: hexs(t, "0088 0181 0089", noneMsg), viol: ErrUnexpectedToken},
		{name: "unknown open type with children", in: hexs(t, "0088 0382 'foo 0188 0382 'bar 0189 0582 'hello 0089", noneMsg), viol: ErrUnknownOpenType},
		{name: "abort", in: hexs(t, "0088 0487 0181 008a 0089", noneMsg), viol: ErrAborted},
		{name: "abort inside child", in: hexs(t, "0088 0487 0188 0487 018a 0189 0089", noneMsg), viol: ErrAborted},
		{name: "unknown reference", in: hexs(t, "0088 0487 0188 0287 0781 0189 0089", noneMsg), viol: ErrBadReference},
		{name: "duplicate dict key", in: hexs(t, "0088 0387 0181 0181 0181 0281 0089"), fatal: ErrDuplicateKey},
		{name: "duplicate dict key across types", in: hexs(t, "0088 0387 0181 0181 0188 0187 0181 0189 0281 0089"), fatal: ErrDuplicateKey},
		{name: "unhashable dict key", in: hexs(t, "0088 0387 0188 0487 0189 0181 0089"), fatal: ErrUnhashableKey},
		{name: "bad utf-8", in: hexs(t, "0088 0887 0182 ff 0089", noneMsg), viol: ErrBadUnicode},
		{name: "surrogate in utf-8", in: hexs(t, "0088 0887 0382 eda080 0089", noneMsg), viol: ErrBadUnicode},
		{name: "boolean 2", in: hexs(t, "0088 0187 0281 0089", noneMsg), viol: ErrUnexpectedToken},
		{name: "unicode with two strings", in: hexs(t, "0088 0887 0182 'a 0182 'b 0089", noneMsg), viol: ErrUnexpectedToken},
		{name: "copyable class at limit", in: hexs(t, "0088 1287 0882 'abcdefgh 0182 'x 0181 0089", noneMsg), ok: true},
		{name: "copyable class over limit", in: hexs(t, "0088 1287 0982 'abcdefghi 0089", noneMsg), viol: ErrOpenTypeTooLong},
		{name: "empty open", in: hexs(t, "0088 0089", noneMsg), viol: ErrUnexpectedToken},
		{name: "truncated header", in: hexs(t, "00"), fatal: io.ErrUnexpectedEOF},
		{name: "truncated body", in: hexs(t, "0088 0482 'ab"), fatal: io.ErrUnexpectedEOF},
		{name: "truncated float", in: hexs(t, "84 3ff8"), fatal: io.ErrUnexpectedEOF},
		{name: "empty stream", in: nil, fatal: io.EOF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vocab := 1
			if tc.vocab < 0 {
				vocab = 0
			}
			d := NewDecoder(bytes.NewReader(tc.in), DecoderOptions{Limits: lim, VocabIndex: vocab})
			_, err := d.ReadMessage()
			switch {
			case tc.fatal != nil:
				var ce *ConnError
				if !errors.As(err, &ce) || !errors.Is(err, tc.fatal) {
					t.Fatalf("got %v, want a *ConnError wrapping %v", err, tc.fatal)
				}
				if _, err2 := d.ReadMessage(); err2 != err {
					t.Fatalf("after a fatal error got %v, want the same error again", err2)
				}
				return
			case tc.viol != nil:
				var v *Violation
				if !errors.As(err, &v) || !errors.Is(err, tc.viol) {
					t.Fatalf("got %v, want a *Violation wrapping %v", err, tc.viol)
				}
			case err != nil:
				t.Fatalf("got %v, want success", err)
			}
			v, err := d.ReadMessage()
			if err != nil || v != nil {
				t.Fatalf("next message: %v, %v; want None", v, err)
			}
		})
	}
}

// TestStrictPrefixes checks that no strict prefix of a valid message
// decodes: each must end in an error, never a value or a panic.
func TestStrictPrefixes(t *testing.T) {
	for _, tc := range goldenVectors() {
		full := mustHex(t, tc.hex)
		for n := 0; n < len(full); n++ {
			d := newTestDecoder(full[:n], tc.open)
			d.scope = &scope{base: d.nextOpen}
			var err error
			for range tc.vals {
				if _, err = d.ReadValue(); err != nil {
					break
				}
			}
			if err == nil {
				t.Errorf("%s: prefix of %d/%d bytes decoded without error", tc.name, n, len(full))
			}
		}
	}
}

// TestNoReadAhead decodes from a net.Pipe: the decoder must return a
// complete message without waiting for more bytes.
func TestNoReadAhead(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	msg := mustHex(t, "0088 0487 0181 0588 0887 0282 c3bc 0589 0089")
	go func() { _, _ = a.Write(msg) }()
	done := make(chan error, 1)
	go func() {
		v, err := NewDecoder(b, DecoderOptions{VocabIndex: 1}).ReadMessage()
		if err == nil && len(v.(List)) != 2 {
			err = errors.New("wrong value")
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("decoder blocked waiting for bytes past the end of the message")
	}
}

func TestCycleIdentity(t *testing.T) {
	// t = ([t],): a tuple reached through a list while still open.
	in := mustHex(t, "0088 0587 0188 0487 0288 0287 0081 0289 0189 0089")
	v, err := NewDecoder(bytes.NewReader(in), DecoderOptions{VocabIndex: 1}).ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	tup := v.(Tuple)
	inner := tup[0].(List)
	if got := inner[0].(Tuple); &got[0] != &tup[0] {
		t.Fatal("the reference did not resolve to the enclosing tuple")
	}
}

// TestDictDuplicatesLarge checks duplicate detection past the small-dict
// scan, across number types (1 == 1.0 == True in Python).
func TestDictDuplicatesLarge(t *testing.T) {
	for _, tc := range []struct {
		name string
		dup  string
		want error
	}{
		{"distinct", "0582 'other 0181", nil},
		{"int again", "0581 0181", ErrDuplicateKey},
		{"float equal to an int", "84 4014000000000000 0181", ErrDuplicateKey},
		{"list key", "0188 0487 0189 0181", ErrUnhashableKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var parts []string
			parts = append(parts, "0088 0387")
			for i := range 20 {
				parts = append(parts, fmt.Sprintf("%02x81 0181", i))
			}
			parts = append(parts, tc.dup, "0089", noneMsg)
			d := NewDecoder(bytes.NewReader(hexs(t, parts...)), DecoderOptions{VocabIndex: 1})
			v, err := d.ReadMessage()
			if tc.want == nil {
				if err != nil || v.(*Dict).Len() != 21 {
					t.Fatalf("got %v %v", v, err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}
