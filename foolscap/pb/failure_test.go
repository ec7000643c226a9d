package pb

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gatherer/gatherer/foolscap/banana"
)

func TestFailureTruncation(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	tests := []struct {
		name   string
		in     *RemoteError
		attr   string
		want   int  // wanted length in bytes
		elided bool // the traceback carries the ELIDED marker
	}{
		{"value at limit", &RemoteError{Value: long(1000)}, "value", 1000, false},
		{"value over limit", &RemoteError{Value: long(1001)}, "value", 999, false},
		{"type at limit", &RemoteError{Type: long(200)}, "type", 200, false},
		{"type over limit", &RemoteError{Type: long(201)}, "type", 199, false},
		{"traceback at 1900", &RemoteError{Traceback: long(1900)}, "traceback", 1900, false},
		{"traceback over 1900", &RemoteError{Traceback: long(1901)}, "traceback", 700 + len("\n\n-- TRACEBACK ELIDED --\n\n") + 1200, true},
		{"multibyte value over limit in bytes", &RemoteError{Value: strings.Repeat("é", 600)}, "value", 1000, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.in.copyable()
			v, ok := c.Attr(tc.attr)
			if !ok {
				t.Fatalf("no %s attribute", tc.attr)
			}
			b := v.([]byte)
			if len(b) > tc.want || (len(b) != tc.want && !strings.Contains(tc.name, "multibyte")) {
				t.Errorf("%s is %d bytes, want %d", tc.attr, len(b), tc.want)
			}
			if !utf8.Valid(b) {
				t.Errorf("%s is not valid UTF-8 after truncation", tc.attr)
			}
			if got := strings.Contains(string(b), "\n\n-- TRACEBACK ELIDED --\n\n"); got != tc.elided {
				t.Errorf("ELIDED marker present = %v, want %v", got, tc.elided)
			}
		})
	}
	c := (&RemoteError{Parents: []string{long(201), "builtins.object"}}).copyable()
	v, _ := c.Attr("parents")
	ps := v.(banana.List)
	if len(ps[0].([]byte)) != 199 || string(ps[1].([]byte)) != "builtins.object" {
		t.Errorf("parents truncated to %d and %q", len(ps[0].([]byte)), ps[1])
	}
	// The attribute order is python-foolscap's.
	var names []string
	for _, a := range c.Attrs {
		names = append(names, a.Name)
	}
	if strings.Join(names, ",") != "value,type,traceback,parents" {
		t.Errorf("attribute order %v", names)
	}
}

func TestFailureFor(t *testing.T) {
	re := failureFor(errors.New("plain"))
	if re.Type != "builtins.Exception" || re.Value != "plain" || !re.Check("builtins.BaseException") {
		t.Errorf("plain error as %+v", re)
	}
	v := failureFor(banana.Violationf("bad argument"))
	if v.Type != "foolscap.tokens.Violation" || !v.Check("builtins.Exception") {
		t.Errorf("violation as %+v", v)
	}
	typed := &RemoteError{Type: "builtins.KeyError", Value: "'k'"}
	if got := failureFor(errors.Join(errors.New("context"), typed)); got != typed {
		t.Errorf("wrapped RemoteError not relayed: %+v", got)
	}
}
