package furl

import (
	"net"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// Hint kinds this package understands.
const (
	KindTCP = "tcp"
	KindTor = "tor"
	KindI2P = "i2p"
)

// maxPort is the largest TCP port.
const maxPort = 65535

// The hint grammars of connections/tcp.py, tor.py and i2p.py. Python's `\d`
// matches any Unicode decimal digit (\p{Nd}); its `$` also matches before a
// final "\n". Python's `(\d+){1,5}` captures the whole digit run, like `(\d+)`.
const (
	dottedQuadRE = `\p{Nd}{1,3}\.\p{Nd}{1,3}\.\p{Nd}{1,3}\.\p{Nd}{1,3}`
	colonHexRE   = `\[[A-Fa-f0-9:]+(?:` + dottedQuadRE + `|%[a-zA-Z0-9.]+)?\]`
	dnsNameRE    = `[A-Za-z.0-9\-]+`
	portRE       = `(\p{Nd}+)`
	pyEnd        = `\n?\z`
)

var (
	legacyHintRE = regexp.MustCompile(`^(` + dottedQuadRE + `|` + dnsNameRE + `):` + portRE + pyEnd)
	tcpHintRE    = regexp.MustCompile(`^tcp:(` + dottedQuadRE + `|` + colonHexRE + `|` + dnsNameRE + `):` + portRE + pyEnd)
	torHintRE    = regexp.MustCompile(`^[^:]*:(` + dottedQuadRE + `|` + dnsNameRE + `):` + portRE + pyEnd)
	i2pHintRE    = regexp.MustCompile(`^i2p:([A-Za-z.0-9\-]+)(?::` + portRE + `)?` + pyEnd)
)

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
	if m := legacyHintRE.FindStringSubmatch(s); m != nil {
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
		if m = tcpHintRE.FindStringSubmatch(s); m == nil {
			return &Error{Part: "hint", Input: s, Err: ErrBadTCPHint}
		}
	case KindTor:
		if m = torHintRE.FindStringSubmatch(s); m == nil {
			return &Error{Part: "hint", Input: s, Err: ErrBadTorHint}
		}
	case KindI2P:
		if m = i2pHintRE.FindStringSubmatch(s); m == nil {
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
