package furl

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// Prefix is the only FURL scheme python-foolscap 21.7 knows; "pbu://" was
// removed with unauthenticated Tubs.
const Prefix = "pb://"

// TubIDLen is the length of a tubid: base32 of a SHA-1 digest, unpadded.
const TubIDLen = 32

// furlRE mirrors furl.AUTH_STURDYREF_RE, `pb://([^@]+)@([^/]*)/(.+)$`, used
// with re.search. Python's `.` stops at "\n" and its `$` also matches just
// before a final "\n"; RE2 has neither, so both are spelled out.
var furlRE = regexp.MustCompile(`pb://([^@]+)@([^/]*)/([^\n]+)\n?\z`)

// FURL is a parsed Foolscap reference: pb://TUBID@HINT,HINT/NAME.
type FURL struct {
	// TubID is the first 32 characters of the text between "pb://" and "@";
	// python-foolscap ignores anything after them.
	TubID string
	// Hints are the connection hints, in FURL order. Hints Foolscap could
	// not use are kept (it skips them when connecting); Hint.DialAddress
	// says why.
	Hints []Hint
	// Name is the swissnum (or a fixed name such as "introducer"). It may
	// contain "/".
	Name string
}

// Parse decodes a FURL the way python-foolscap's furl.decode_furl does: the
// FURL may be embedded in other text (the pattern is searched for), the
// tubid is the first 32 characters of its field and must be base32 (case
// insensitive), the hint list may be empty but may not contain an empty
// element, and the name runs to the end of the line.
func Parse(s string) (*FURL, error) {
	if !utf8.ValidString(s) {
		return nil, &Error{Part: "furl", Input: s, Err: ErrEncoding}
	}
	m := furlRE.FindStringSubmatch(s)
	if m == nil {
		return nil, &Error{Part: "furl", Input: s, Err: ErrPrefix}
	}
	tubid := firstRunes(m[1], TubIDLen)
	if !isBase32(tubid) {
		return nil, &Error{Part: "tubid", Input: tubid, Err: ErrTubID}
	}
	f := &FURL{TubID: tubid, Name: m[3]}
	if m[2] != "" {
		for _, raw := range strings.Split(m[2], ",") {
			if raw == "" {
				return nil, &Error{Part: "hints", Input: m[2], Err: ErrEmptyHint}
			}
			h, _ := ParseHint(raw) // unusable hints are kept, as Foolscap does
			f.Hints = append(f.Hints, h)
		}
	}
	return f, nil
}

// String encodes the FURL as encode_furl does. For any text Parse accepted
// that held only the FURL, a 32-character tubid and no trailing newline,
// String returns that text unchanged.
func (f *FURL) String() string {
	var b strings.Builder
	b.WriteString(Prefix)
	b.WriteString(f.TubID)
	b.WriteByte('@')
	for i, h := range f.Hints {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(h.Raw)
	}
	b.WriteByte('/')
	b.WriteString(f.Name)
	return b.String()
}

// Redacted returns the FURL with its name replaced by "<redacted>", for logs
// (a swissnum is a capability and must never be logged).
func (f *FURL) Redacted() string {
	g := *f
	g.Name = "<redacted>"
	return g.String()
}

// firstRunes returns the first n code points of s (Python's s[:n]).
func firstRunes(s string, n int) string {
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}

// isBase32 mirrors base32.is_base32: every character of s.lower() must be in
// the lowercase RFC 4648 alphabet. The one non-ASCII character whose Python
// lower() lands in that alphabet is U+212A KELVIN SIGN ("k").
func isBase32(s string) bool {
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '2' && r <= '7':
		case r == '\u212a':
		default:
			return false
		}
	}
	return true
}
