package furl

import (
	"net"
	"strconv"
	"strings"
)

// ListenSpec is a TCP listening address, from the port specifications that
// flogtool ("--port") and Tahoe ("tub.port") take.
type ListenSpec struct {
	// Port is the TCP port; 0 asks the kernel for a free one (tests).
	Port int
	// Interface is the address to bind; "" means all interfaces.
	Interface string
}

// ParseListen parses "PORT", "tcp:PORT", "tcp:port=PORT" and either of the
// last two followed by ":interface=ADDR", as Twisted's endpoint syntax
// (with "\:" escaping a colon inside ADDR, e.g. "interface=\:\:1"). Other
// endpoint types (ssl:, unix:, tor:) and other parameters are refused.
func ParseListen(s string) (ListenSpec, error) {
	bad := func(why string) (ListenSpec, error) {
		return ListenSpec{}, &Error{Part: "listen", Input: s, Err: errorf(ErrListenSpec, why)}
	}
	if s == "" {
		return bad("empty")
	}
	if isASCIIDigits(s) {
		p, err := parseListenPort(s)
		if err != nil {
			return bad(err.Error())
		}
		return ListenSpec{Port: p}, nil
	}
	fields := splitEscaped(s)
	if fields[0] != "tcp" {
		return bad("only tcp: endpoints are supported, not " + strconv.Quote(fields[0]))
	}
	var spec ListenSpec
	havePort := false
	for i, f := range fields[1:] {
		key, val, hasKey := strings.Cut(f, "=")
		if !hasKey {
			if i != 0 {
				return bad("unexpected positional argument " + strconv.Quote(f))
			}
			key, val = "port", f
		}
		switch key {
		case "port":
			if havePort {
				return bad("port given twice")
			}
			p, err := parseListenPort(val)
			if err != nil {
				return bad(err.Error())
			}
			spec.Port, havePort = p, true
		case "interface":
			if val != "" && net.ParseIP(strings.SplitN(val, "%", 2)[0]) == nil {
				return bad("interface must be an IP address, not " + strconv.Quote(val))
			}
			spec.Interface = val
		default:
			return bad("unsupported parameter " + strconv.Quote(key))
		}
	}
	if !havePort {
		return bad("no port")
	}
	return spec, nil
}

// String formats the spec in Twisted endpoint syntax ("tcp:PORT" or
// "tcp:PORT:interface=ADDR", colons in ADDR escaped).
func (l ListenSpec) String() string {
	s := "tcp:" + strconv.Itoa(l.Port)
	if l.Interface != "" {
		s += ":interface=" + strings.ReplaceAll(l.Interface, ":", `\:`)
	}
	return s
}

// Address returns the "host:port" to pass to net.Listen("tcp", ...).
func (l ListenSpec) Address() string {
	return net.JoinHostPort(l.Interface, strconv.Itoa(l.Port))
}

func parseListenPort(s string) (int, error) {
	if !isASCIIDigits(s) || len(s) > 5 {
		return 0, errorf(ErrPortRange, "port "+strconv.Quote(s)+" is not a number from 0 to 65535")
	}
	p, err := strconv.Atoi(s)
	if err != nil || p > maxPort {
		return 0, errorf(ErrPortRange, "port "+strconv.Quote(s)+" is not a number from 0 to 65535")
	}
	return p, nil
}

func isASCIIDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// splitEscaped splits on ":" not preceded by a backslash and removes the
// escaping backslashes, like Twisted's endpoint-string tokenizer.
func splitEscaped(s string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case c == ':':
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(out, cur.String())
}
