package furl

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"testing/iotest"
)

func TestParseListen(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    ListenSpec
		wantStr string
		wantErr bool
	}{
		{name: "bare port", in: "3117", want: ListenSpec{Port: 3117}, wantStr: "tcp:3117"},
		{name: "tcp port", in: "tcp:3117", want: ListenSpec{Port: 3117}, wantStr: "tcp:3117"},
		{name: "tcp zero for tests", in: "tcp:0", want: ListenSpec{}, wantStr: "tcp:0"},
		{name: "interface", in: "tcp:31181:interface=127.0.0.1", want: ListenSpec{Port: 31181, Interface: "127.0.0.1"}, wantStr: "tcp:31181:interface=127.0.0.1"},
		{name: "port keyword", in: "tcp:port=80:interface=10.0.0.1", want: ListenSpec{Port: 80, Interface: "10.0.0.1"}, wantStr: "tcp:80:interface=10.0.0.1"},
		{name: "escaped ipv6 interface", in: `tcp:80:interface=\:\:1`, want: ListenSpec{Port: 80, Interface: "::1"}, wantStr: `tcp:80:interface=\:\:1`},
		{name: "max port", in: "tcp:65535", want: ListenSpec{Port: 65535}, wantStr: "tcp:65535"},
		{name: "port too big", in: "tcp:65536", wantErr: true},
		{name: "bare port too big", in: "99999", wantErr: true},
		{name: "ssl refused", in: "ssl:443:privateKey=k.pem", wantErr: true},
		{name: "unix refused", in: "unix:/tmp/s", wantErr: true},
		{name: "empty", in: "", wantErr: true},
		{name: "no port", in: "tcp:interface=127.0.0.1", wantErr: true},
		{name: "port twice", in: "tcp:1:port=2", wantErr: true},
		{name: "hostname interface", in: "tcp:1:interface=localhost", wantErr: true},
		{name: "unknown parameter", in: "tcp:1:backlog=5", wantErr: true},
		{name: "negative", in: "tcp:-1", wantErr: true},
		{name: "hint form is not a listen spec", in: "tcp:127.0.0.1:80", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseListen(tt.in)
			if tt.wantErr {
				if err == nil || !errors.Is(err, ErrListenSpec) {
					t.Fatalf("ParseListen(%q) = %+v, %v; want ErrListenSpec", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseListen(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
			if s := got.String(); s != tt.wantStr {
				t.Errorf("String() = %q, want %q", s, tt.wantStr)
			}
			if back, err := ParseListen(got.String()); err != nil || back != got {
				t.Errorf("round trip of %q = %+v, %v", got.String(), back, err)
			}
		})
	}
}

func TestNewSwissnum(t *testing.T) {
	tests := []struct {
		name    string
		r       func() *bytes.Reader
		want    string
		wantErr bool
	}{
		{name: "zeros", r: func() *bytes.Reader { return bytes.NewReader(make([]byte, 20)) }, want: strings.Repeat("a", 32)},
		{name: "ones", r: func() *bytes.Reader { return bytes.NewReader(bytes.Repeat([]byte{0xff}, 20)) }, want: strings.Repeat("7", 32)},
		{name: "short read", r: func() *bytes.Reader { return bytes.NewReader(make([]byte, 19)) }, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NewSwissnum(tt.r())
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("NewSwissnum = %q, %v; want %q (err %v)", got, err, tt.want, tt.wantErr)
			}
			if err == nil && !IsTubID(got) {
				t.Errorf("%q is not 32 lowercase base32 chars", got)
			}
		})
	}
	if _, err := NewSwissnum(iotest.ErrReader(errors.New("no entropy"))); err == nil {
		t.Error("NewSwissnum ignored a failing reader")
	}
}

func TestErrorNamesPart(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{name: "tubid", in: "pb://abc-def@h:1/n", want: `bad tubid "abc-def"`},
		{name: "hints", in: "pb://aaaa@a,,b/n", want: `bad hints "a,,b"`},
		{name: "prefix", in: "http://x", want: `bad furl "http://x"`},
		{name: "long input truncated", in: strings.Repeat("x", 200), want: `"...: not a pb`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse(%q) error %v, want it to contain %q", tt.in, err, tt.want)
			}
		})
	}
	_, err := ParseHint("tor:abc.onion:80")
	if err != nil {
		t.Fatal(err)
	}
	h, _ := ParseHint("tor:abc.onion:80")
	if _, err := h.DialAddress(); err == nil || !strings.Contains(err.Error(), "Tor or I2P") {
		t.Errorf("tor DialAddress error %v should say it needs Tor", err)
	}
}

func TestRedacted(t *testing.T) {
	f, err := Parse("pb://ollkjhe3g2hfsdxpotiiwchnbnrbkyv4@tcp:h:1/secret")
	if err != nil {
		t.Fatal(err)
	}
	if r := f.Redacted(); strings.Contains(r, "secret") {
		t.Errorf("Redacted() = %q leaks the swissnum", r)
	}
}

// FuzzParse checks that Parse never panics, that accepted FURLs re-encode to
// a fixed point, and that each hint's Raw survives.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"pb://ollkjhe3g2hfsdxpotiiwchnbnrbkyv4@tcp:127.0.0.1:39783/echo-swiss",
		"pb://ollkjhe3g2hfsdxpotiiwchnbnrbkyv4@/introducer",
		"pb://ollkjhe3g2hfsdxpotiiwchnbnrbkyv4@tcp:[fe80::1%en0]:80,tor:x.onion:1,i2p:y/n\n",
		"pb://a@,/",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := Parse(s)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not a *furl.Error", err)
			}
			return
		}
		enc := u.String()
		v, err := Parse(enc)
		if err != nil {
			t.Fatalf("Parse(%q) ok but its encoding %q fails: %v", s, enc, err)
		}
		if v.String() != enc {
			t.Fatalf("encoding not a fixed point: %q -> %q", enc, v.String())
		}
		for _, h := range u.Hints {
			if h.String() != h.Raw || h.Raw == "" {
				t.Fatalf("hint raw lost: %+v", h)
			}
			_, _ = h.DialAddress()
		}
	})
}

func TestDialAddress(t *testing.T) {
	tests := []struct {
		hint, want, host string
		wantErr          error
	}{
		{hint: "tcp:127.0.0.1:39783", want: "127.0.0.1:39783", host: "127.0.0.1"},
		{hint: "tcp:[::1]:80", want: "[::1]:80", host: "::1"},
		{hint: "tcp:[fe80::1%en0]:80", want: "[fe80::1%en0]:80", host: "fe80::1%en0"},
		{hint: "example.org:0080", want: "example.org:80", host: "example.org"},
		{hint: "tor:abc.onion:80", wantErr: ErrNotDialable, host: "abc.onion"},
		{hint: "i2p:abc.b32.i2p", wantErr: ErrNotDialable, host: "abc.b32.i2p"},
		{hint: "unix:/x", wantErr: ErrUnknownHintType},
		{hint: "tcp:h", wantErr: ErrBadTCPHint},
	}
	for _, tt := range tests {
		t.Run(tt.hint, func(t *testing.T) {
			h, _ := ParseHint(tt.hint)
			got, err := h.DialAddress()
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Fatalf("DialAddress = %q, %v; want %q, %v", got, err, tt.want, tt.wantErr)
			}
			if h.HostHeader() != tt.host {
				t.Errorf("HostHeader = %q, want %q", h.HostHeader(), tt.host)
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	s := "pb://ollkjhe3g2hfsdxpotiiwchnbnrbkyv4@tcp:127.0.0.1:39783,tcp:[::1]:39783,tcp:node.example.org:39783/echo-swiss"
	b.ReportAllocs()
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		if _, err := Parse(s); err != nil {
			b.Fatal(err)
		}
	}
}
