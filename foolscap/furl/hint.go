package furl

import (
	"net"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Hint kinds this package understands.
const (
	KindTCP = "tcp"
	KindTor = "tor"
	KindI2P = "i2p"
)

// maxPort is the largest TCP port.
const maxPort = 65535

// The hint grammars are those of connections/tcp.py, tor.py and i2p.py:
//
//	legacy: ^(DOTTEDQUAD|DNSNAME):(\d+)$
//	tcp:    ^tcp:(DOTTEDQUAD|\[COLONHEX\]|DNSNAME):(\d+)$
//	tor:    ^[^:]*:(DOTTEDQUAD|DNSNAME):(\d+)$
//	i2p:    ^i2p:(DNSNAME)(?::(\d+))?$
//
// with DOTTEDQUAD \d{1,3}(\.\d{1,3}){3}, DNSNAME [A-Za-z.0-9\-]+ and
// COLONHEX [A-Fa-f0-9:]+(DOTTEDQUAD|%[a-zA-Z0-9.]+)?. Python's \d matches
// any Unicode decimal digit (\p{Nd}) and its $ also matches before a final
// "\n". They are matched by hand below, about ten times faster than with
// package regexp; hint_test.go fuzzes them against the regexps.

// Hint is one connection hint from a FURL.
type Hint struct {
	// Raw is the hint exactly as written in the FURL; String returns it.
	Raw string
	// Kind is the hint type: KindTCP (also for legacy HOST:PORT hints),
	// KindTor, KindI2P, another type prefix Foolscap has no handler for, or
	// "" when the hint has no colon.
	Kind string
	// Legacy is true for an old-style "HOST:PORT" hint.
	Legacy bool
	// Host is the host part, IPv6 brackets removed (zone kept).
	Host string
	// Port is the port; 0 when absent (an i2p hint may omit it).
	Port int

	err error // why the hint cannot be used, if it cannot
}

// ParseHint parses one connection hint the way python-foolscap 21.7 does when
// connecting (connection.get_endpoint and the tcp, tor and i2p handlers):
// a legacy "HOST:PORT" hint becomes "tcp:HOST:PORT" first, then the text
// before the first colon picks the handler. It returns the Hint even with an
// error, so callers can keep and report hints they cannot use.
func ParseHint(s string) (Hint, error) {
	h := Hint{Raw: s}
	h.err = h.parse()
	return h, h.err
}

func (h *Hint) parse() error {
	s := h.Raw
	if host, port, ok := hostPort(s); ok && (isDottedQuad(host) || isDNSName(host)) {
		h.Kind, h.Legacy, h.Host = KindTCP, true, host
		n, err := parsePort(port)
		h.Port = n
		return err
	}
	kind, rest, ok := strings.Cut(s, ":")
	if !ok {
		return &Error{Part: "hint", Input: s, Err: ErrNoColon}
	}
	h.Kind = kind
	var host, port string
	switch kind {
	case KindTCP:
		if host, port, ok = tcpHost(rest); !ok {
			return &Error{Part: "hint", Input: s, Err: ErrBadTCPHint}
		}
	case KindTor:
		if host, port, ok = hostPort(rest); !ok || !(isDottedQuad(host) || isDNSName(host)) {
			return &Error{Part: "hint", Input: s, Err: ErrBadTorHint}
		}
	case KindI2P:
		body := strings.TrimSuffix(rest, "\n")
		host, port, _ = strings.Cut(body, ":")
		if !isDNSName(host) || (len(host) < len(body) && !isDigits(port)) {
			return &Error{Part: "hint", Input: s, Err: ErrBadI2PHint}
		}
	default:
		return &Error{Part: "hint", Input: s, Err: ErrUnknownHintType}
	}
	h.Host = host
	if port != "" {
		n, err := parsePort(port)
		if err != nil {
			return err
		}
		h.Port = n
	}
	return nil
}

// hostPort splits "HOST:DIGITS" with an optional final "\n" at the first
// colon; the caller checks HOST.
func hostPort(s string) (host, port string, ok bool) {
	host, port, ok = strings.Cut(s, ":")
	port = strings.TrimSuffix(port, "\n")
	return host, port, ok && isDigits(port)
}

// tcpHost matches what follows "tcp:", returning the host without IPv6
// brackets.
func tcpHost(s string) (host, port string, ok bool) {
	if !strings.HasPrefix(s, "[") {
		host, port, ok = hostPort(s)
		return host, port, ok && (isDottedQuad(host) || isDNSName(host))
	}
	end := strings.IndexByte(s, ']')
	if end < 0 || !isColonHex(s[1:end]) || !strings.HasPrefix(s[end+1:], ":") {
		return "", "", false
	}
	port = strings.TrimSuffix(s[end+2:], "\n")
	return s[1:end], port, isDigits(port)
}

// isColonHex matches COLONHEX, inside the brackets.
func isColonHex(s string) bool {
	n := 0 // length of the leading [A-Fa-f0-9:] run
	for n < len(s) && isHexColon(s[n]) {
		n++
	}
	switch {
	case n == 0:
		return false
	case n == len(s):
		return true
	case s[n] == '%':
		zone := s[n+1:]
		if zone == "" {
			return false
		}
		for i := 0; i < len(zone); i++ {
			if c := zone[i]; !(isAlnum(c) || c == '.') {
				return false
			}
		}
		return true
	}
	// A dotted quad ends it; its first digits may also be hex digits of
	// the run, so each split the regexp could backtrack to is tried.
	for k := n; k >= 1; k-- {
		if len(s)-k > maxDottedQuadBytes {
			break
		}
		if isDottedQuad(s[k:]) {
			return true
		}
	}
	return false
}

// maxDottedQuadBytes is the longest DOTTEDQUAD in bytes: twelve digits of
// up to four bytes each and three dots.
const maxDottedQuadBytes = 12*utf8.UTFMax + 3

// isDottedQuad matches DOTTEDQUAD.
func isDottedQuad(s string) bool {
	groups, digits := 1, 0
	for _, r := range s {
		switch {
		case r == '.':
			if digits == 0 || groups == 4 {
				return false
			}
			groups++
			digits = 0
		case unicode.IsDigit(r):
			if digits++; digits > 3 {
				return false
			}
		default:
			return false
		}
	}
	return groups == 4 && digits > 0
}

// isDNSName matches DNSNAME.
func isDNSName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(isAlnum(c) || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// isDigits matches \d+ (Unicode decimal digits).
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !unicode.IsDigit(r) {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isHexColon(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == ':'
}

// Err reports why the hint cannot be used at all (nil for a well-formed
// tcp, tor or i2p hint).
func (h Hint) Err() error { return h.err }

// String returns the hint as written in the FURL.
func (h Hint) String() string { return h.Raw }

// DialAddress returns "host:port" for net.Dial. Tor and I2P hints, and hints
// Foolscap could not use either, give an error naming the hint.
func (h Hint) DialAddress() (string, error) {
	if h.err != nil {
		return "", h.err
	}
	if h.Kind != KindTCP {
		return "", &Error{Part: "hint", Input: h.Raw, Err: ErrNotDialable}
	}
	return net.JoinHostPort(h.Host, strconv.Itoa(h.Port)), nil
}

// HostHeader returns the value python-foolscap puts in the negotiation
// request's Host: header for this hint: the host with IPv6 brackets removed.
func (h Hint) HostHeader() string { return h.Host }

// parsePort converts a run of Unicode decimal digits (Python int()).
func parsePort(digits string) (int, error) {
	n := 0
	for _, r := range digits {
		n = n*10 + digitValue(r)
		if n > maxPort {
			return 0, &Error{Part: "port", Input: digits, Err: ErrPortRange}
		}
	}
	return n, nil
}

// digitValue returns the value of a Unicode decimal digit. Unicode assigns
// decimal digits in contiguous runs of complete 0-9 sets, so the value is the
// distance from the start of the run, modulo 10.
func digitValue(r rune) int {
	if r >= '0' && r <= '9' {
		return int(r - '0')
	}
	k := 0
	for unicode.IsDigit(r - rune(k) - 1) {
		k++
	}
	return k % 10
}
