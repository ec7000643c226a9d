package furl

import (
	"errors"
	"fmt"
	"strconv"
)

// Sentinel errors, checked with errors.Is. Each names one class of bad input.
var (
	// ErrPrefix: the text holds no "pb://TUBID@HINTS/NAME" FURL
	// (python: ValueError "unknown FURL prefix").
	ErrPrefix = errors.New("not a pb:// FURL")
	// ErrTubID: the first 32 characters of the tubid are not base32
	// (python: BadFURLError "... is not a valid tubid").
	ErrTubID = errors.New("tubid is not base32")
	// ErrEmptyHint: the hint list has an empty element, as in "a,,b"
	// (python: BadFURLError "no connection hint may be empty").
	ErrEmptyHint = errors.New("connection hint is empty")
	// ErrEncoding: the text is not valid UTF-8.
	ErrEncoding = errors.New("text is not valid UTF-8")

	// ErrNoColon: a hint has no "TYPE:" prefix (python: InvalidHintError "no colon").
	ErrNoColon = errors.New("hint has no colon")
	// ErrUnknownHintType: no handler for the hint type (python: "no handler registered").
	ErrUnknownHintType = errors.New("no handler for hint type")
	// ErrBadTCPHint: a tcp: hint does not match tcp:HOST:PORT
	// (python: "unrecognized TCP hint").
	ErrBadTCPHint = errors.New("unrecognized tcp hint")
	// ErrBadTorHint: a tor: hint does not match tor:HOST:PORT
	// (python: "unrecognized TCP/Tor hint").
	ErrBadTorHint = errors.New("unrecognized tor hint")
	// ErrBadI2PHint: an i2p: hint does not match i2p:ADDR[:PORT]
	// (python: "unrecognized I2P hint").
	ErrBadI2PHint = errors.New("unrecognized i2p hint")
	// ErrPortRange: the port has more digits than a TCP port can hold. Python
	// parses such hints and fails at connect time; we refuse them at parse time.
	ErrPortRange = errors.New("port out of range")
	// ErrNotDialable: a Tor or I2P hint; this implementation cannot dial them.
	ErrNotDialable = errors.New("hint needs a Tor or I2P client, which this implementation does not have")

	// ErrListenSpec: a listen specification this implementation does not accept.
	ErrListenSpec = errors.New("unsupported listen specification")
)

// maxQuoted bounds how much of a bad input an error message repeats.
const maxQuoted = 80

// Error describes a FURL, hint or listen spec that could not be used. Part
// names the offending component ("furl", "tubid", "hints", "hint", "port",
// "listen"); Input is that component (truncated); Err is one of the sentinels.
type Error struct {
	Part  string
	Input string
	Err   error
}

func (e *Error) Error() string {
	return fmt.Sprintf("bad %s %s: %v", e.Part, quote(e.Input), e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

func quote(s string) string {
	if len(s) > maxQuoted {
		return strconv.Quote(s[:maxQuoted]) + "..."
	}
	return strconv.Quote(s)
}
