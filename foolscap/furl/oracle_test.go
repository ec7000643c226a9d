package furl

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// The regexps Parse and ParseHint followed before they were matched by
// hand, kept as the oracle: Python's `\d` is \p{Nd}, its `$` is `\n?\z`.
const (
	oracleDottedQuad = `\p{Nd}{1,3}\.\p{Nd}{1,3}\.\p{Nd}{1,3}\.\p{Nd}{1,3}`
	oracleColonHex   = `\[[A-Fa-f0-9:]+(?:` + oracleDottedQuad + `|%[a-zA-Z0-9.]+)?\]`
	oracleDNSName    = `[A-Za-z.0-9\-]+`
	oraclePort       = `(\p{Nd}+)`
	oracleEnd        = `\n?\z`
)

type oracle struct {
	furl, legacy, tcp, tor, i2p *regexp.Regexp
}

func newOracle() *oracle {
	return &oracle{
		furl:   regexp.MustCompile(`pb://([^@]+)@([^/]*)/([^\n]+)\n?\z`),
		legacy: regexp.MustCompile(`^(` + oracleDottedQuad + `|` + oracleDNSName + `):` + oraclePort + oracleEnd),
		tcp:    regexp.MustCompile(`^tcp:(` + oracleDottedQuad + `|` + oracleColonHex + `|` + oracleDNSName + `):` + oraclePort + oracleEnd),
		tor:    regexp.MustCompile(`^[^:]*:(` + oracleDottedQuad + `|` + oracleDNSName + `):` + oraclePort + oracleEnd),
		i2p:    regexp.MustCompile(`^i2p:([A-Za-z.0-9\-]+)(?::` + oraclePort + `)?` + oracleEnd),
	}
}

func (o *oracle) hint(s string) Hint {
	h := Hint{Raw: s}
	h.err = func() error {
		if m := o.legacy.FindStringSubmatch(s); m != nil {
			h.Kind, h.Legacy, h.Host = KindTCP, true, m[1]
			port, err := parsePort(m[2])
			h.Port = port
			return err
		}
		kind, _, ok := strings.Cut(s, ":")
		if !ok {
			return &Error{Part: "hint", Input: s, Err: ErrNoColon}
		}
		h.Kind = kind
		var m []string
		switch kind {
		case KindTCP:
			if m = o.tcp.FindStringSubmatch(s); m == nil {
				return &Error{Part: "hint", Input: s, Err: ErrBadTCPHint}
			}
		case KindTor:
			if m = o.tor.FindStringSubmatch(s); m == nil {
				return &Error{Part: "hint", Input: s, Err: ErrBadTorHint}
			}
		case KindI2P:
			if m = o.i2p.FindStringSubmatch(s); m == nil {
				return &Error{Part: "hint", Input: s, Err: ErrBadI2PHint}
			}
		default:
			return &Error{Part: "hint", Input: s, Err: ErrUnknownHintType}
		}
		h.Host = strings.TrimSuffix(strings.TrimPrefix(m[1], "["), "]")
		if m[2] != "" {
			port, err := parsePort(m[2])
			if err != nil {
				return err
			}
			h.Port = port
		}
		return nil
	}()
	return h
}

// search is the oracle of search: the regexp's three groups.
func (o *oracle) search(s string) (string, string, string, bool) {
	m := o.furl.FindStringSubmatch(s)
	if m == nil {
		return "", "", "", false
	}
	return m[1], m[2], m[3], true
}

func sameHint(a, b Hint) bool {
	if a.Raw != b.Raw || a.Kind != b.Kind || a.Legacy != b.Legacy || a.Host != b.Host || a.Port != b.Port {
		return false
	}
	var ea, eb *Error
	if (a.err == nil) != (b.err == nil) {
		return false
	}
	if a.err == nil {
		return true
	}
	return errors.As(a.err, &ea) && errors.As(b.err, &eb) && ea.Part == eb.Part && ea.Input == eb.Input && errors.Is(ea, eb.Err)
}

var oracleSeeds = []string{
	"tcp:127.0.0.1:39783", "tcp:[::1]:80", "tcp:[fe80::1%en0]:80", "tcp:[::ffff:1.2.3.4]:1", "tcp:[::1.2.3.4]:1",
	"tcp:[1234::5.6.7.8]:9", "tcp:[abc]:1\n", "tcp:[]:1", "tcp:[::1%]:1", "tcp:[::1]x:1", "tcp:[::1]:", "tcp:[::1:80",
	"example.org:0080", "example.org:80\n", "example.org:80\n\n", "tcp:80", "tor:abc.onion:80", "tor:1.2.3.4:80",
	"tor::80", ":x:1", "i2p:abc.b32.i2p", "i2p:abc:12", "i2p:abc:", "i2p:abc\n", "i2p:abc:1\n", "i2p:", "unix:/x",
	"tcp:h", "tcp:h:99999", "tcp:\u0661.\u0662.\u0663.\u0664:\u0668\u0660", "\u0661.\u0662.\u0663.\u0664:80",
	"tcp:1.2.3:4", "tcp:1.2.3.4.5:6", "tcp:1111.2.3.4:5", "tcp:a b:1", "nocolon", "", "tcp:[1:2]:3:4",
	"tcp:[::\u0661.2.3.4]:5", "tcp:[a%b.c]:1", "tcp:[a%b/c]:1",
}

func TestHandMatchersAgreeWithTheRegexps(t *testing.T) {
	o := newOracle()
	for _, s := range oracleSeeds {
		if got, want := mustHint(s), o.hint(s); !sameHint(got, want) {
			t.Errorf("ParseHint(%q) = %+v, the regexps give %+v", s, got, want)
		}
	}
	for _, s := range []string{
		"pb://a@b/c", "xpb://a@b/c", "pb://@pb://a@b/c", "pb://a@b/c\n", "pb://a@b/c\nd", "pb://a@b/c\nd\n",
		"pb://a@b/", "pb://a@b/\n", "pb://a@b", "pb://a/b@c/d", "pb://a@b/c/d", "pb://a\n@b\n/c",
		"pb://a@b/c\npb://d@e/f", "pb://a@b/\npb://d@e/f", "pb://pb://a@b/c", "pb://a@@b/c", "",
	} {
		a1, b1, c1, ok1 := search(s)
		a2, b2, c2, ok2 := o.search(s)
		if a1 != a2 || b1 != b2 || c1 != c2 || ok1 != ok2 {
			t.Errorf("search(%q) = %q %q %q %v, the regexp gives %q %q %q %v", s, a1, b1, c1, ok1, a2, b2, c2, ok2)
		}
	}
}

func mustHint(s string) Hint {
	h, _ := ParseHint(s)
	return h
}

// FuzzHandMatchers checks the hand-written matchers against the regexps
// they replaced, on hints and on whole FURL texts.
func FuzzHandMatchers(f *testing.F) {
	for _, s := range oracleSeeds {
		f.Add(s)
		f.Add("pb://ollkjhe3g2hfsdxpotiiwchnbnrbkyv4@" + s + "/name")
	}
	o := newOracle()
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := mustHint(s), o.hint(s); !sameHint(got, want) {
			t.Fatalf("ParseHint(%q) = %+v, the regexps give %+v", s, got, want)
		}
		if !utf8.ValidString(s) {
			return // Parse refuses it before searching
		}
		a1, b1, c1, ok1 := search(s)
		a2, b2, c2, ok2 := o.search(s)
		if a1 != a2 || b1 != b2 || c1 != c2 || ok1 != ok2 {
			t.Fatalf("search(%q) = %q %q %q %v, the regexp gives %q %q %q %v", s, a1, b1, c1, ok1, a2, b2, c2, ok2)
		}
	})
}
