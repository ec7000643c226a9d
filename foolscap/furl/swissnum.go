package furl

import (
	"encoding/base32"
	"fmt"
	"io"
	"strings"
)

// swissnumBytes is the entropy of a swissnum, as pb.py's os.urandom(20).
const swissnumBytes = 20

var lowerBase32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewSwissnum returns a fresh swissnum: 20 bytes from r in lowercase base32,
// 32 characters, exactly as python-foolscap names registered objects.
func NewSwissnum(r io.Reader) (string, error) {
	var b [swissnumBytes]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("reading randomness for a swissnum: %w", err)
	}
	return lowerBase32.EncodeToString(b[:]), nil
}

// IsTubID reports whether s is a well-formed tubid: 32 lowercase base32
// characters.
func IsTubID(s string) bool {
	return len(s) == TubIDLen && strings.Trim(s, "abcdefghijklmnopqrstuvwxyz234567") == ""
}

// errorf wraps a sentinel with detail.
func errorf(sentinel error, detail string) error {
	return fmt.Errorf("%w: %s", sentinel, detail)
}
