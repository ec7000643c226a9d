package furl

import (
	"strings"
	"unicode/utf8"
)

// Prefix is the only FURL scheme python-foolscap 21.7 knows; "pbu://" was
// removed with unauthenticated Tubs.
const Prefix = "pb://"

// TubIDLen is the length of a tubid: base32 of a SHA-1 digest, unpadded.
const TubIDLen = 32

// search finds what furl.AUTH_STURDYREF_RE, `pb://([^@]+)@([^/]*)/(.+)$`,
// finds with re.search: the leftmost "pb://" followed by a non-empty field
// up to the next "@", hints up to the next "/", and a non-empty name that
// runs to the end of s (Python's `.` stops at "\n"; its `$` also matches
// just before a final "\n"). It is linear: as the start moves right, the
// "@" and "/" it leads to only move right too.
func search(s string) (tubid, hints, name string, ok bool) {
	body := strings.TrimSuffix(s, "\n")
	// The name runs from after the "/" to the end of body, so it may not
	// hold a "\n": only a "/" after the last one can start it.
	afterNL := strings.LastIndexByte(body, '\n') + 1
	at, slash := -1, -1
	for off := 0; ; {
		i := strings.Index(s[off:], Prefix)
		if i < 0 {
			return "", "", "", false
		}
		start := off + i + len(Prefix)
		off += i + 1
		if at < start {
			j := strings.IndexByte(s[start:], '@')
			if j < 0 {
				return "", "", "", false // no later start has an "@" either
			}
			at = start + j
		}
		if at == start {
			continue // an empty field before "@"
		}
		if slash <= at {
			j := strings.IndexByte(s[at:], '/')
			if j < 0 {
				return "", "", "", false
			}
			slash = at + j
		}
		// Every later start leads to this "@" or a later one, hence to
		// this "/" or a later one.
		if slash+1 >= len(body) {
			return "", "", "", false // an empty name, and so for them all
		}
		if slash+1 < afterNL {
			continue // a "\n" inside the name: only a later "/" can do better
		}
		return s[start:at], s[at+1 : slash], body[slash+1:], true
	}
}

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
	field, hints, name, ok := search(s)
	if !ok {
		return nil, &Error{Part: "furl", Input: s, Err: ErrPrefix}
	}
	tubid := firstRunes(field, TubIDLen)
	if !isBase32(tubid) {
		return nil, &Error{Part: "tubid", Input: tubid, Err: ErrTubID}
	}
	f := &FURL{TubID: tubid, Name: name}
	if hints != "" {
		f.Hints = make([]Hint, 0, strings.Count(hints, ",")+1)
		for raw := range strings.SplitSeq(hints, ",") {
			if raw == "" {
				return nil, &Error{Part: "hints", Input: hints, Err: ErrEmptyHint}
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
