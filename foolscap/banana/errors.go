package banana

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors, wrapped by *ConnError or *Violation; test with errors.Is.
var (
	ErrHeaderTooLong    = errors.New("token prefix is limited to 64 bytes")
	ErrBadTypeByte      = errors.New("invalid type byte")
	ErrLostSync         = errors.New("lost sync: CLOSE does not match OPEN")
	ErrUnknownVocab     = errors.New("unknown VOCAB index")
	ErrOversizedError   = errors.New("oversized ERROR token")
	ErrPeerError        = errors.New("peer sent an ERROR token")
	ErrTopLevelNotOpen  = errors.New("top-level must be OPEN")
	ErrBadToken         = errors.New("token not allowed here")
	ErrStringTooLong    = errors.New("STRING token too large")
	ErrLongIntTooLong   = errors.New("LONGINT token too large")
	ErrTooManyItems     = errors.New("too many items in a sequence")
	ErrTooDeep          = errors.New("sequences nested too deeply")
	ErrMessageTooLarge  = errors.New("message too large")
	ErrOpenTypeTooLong  = errors.New("open type name too long")
	ErrUnknownOpenType  = errors.New("unknown open type")
	ErrAborted          = errors.New("ABORT received")
	ErrBadReference     = errors.New("reference to an unknown object")
	ErrUnhashableKey    = errors.New("unhashable dict key")
	ErrDuplicateKey     = errors.New("duplicate dict key")
	ErrCannotSerialize  = errors.New("cannot serialize")
	ErrBadUnicode       = errors.New("invalid UTF-8 in a unicode sequence")
	ErrUnexpectedToken  = errors.New("unexpected token in sequence")
	ErrUnfinishedObject = errors.New("reference to an unfinished object here")
	// ErrValueTooComplex: a set element or dict key is a tuple or
	// frozenset that, through references to containers sent earlier in
	// the message, expands far beyond the message's size (a few hundred
	// bytes can describe 2**40 leaves); hashing it would hang the
	// decoder, so the message is refused as a Violation.
	ErrValueTooComplex = errors.New("set element or dict key too complex to hash (shared references expand it far beyond the message size)")
)

// ConnError is a fatal protocol error: the Banana stream can no longer be
// trusted and the connection must be closed. When SendError is true the
// local side should first send an ERROR token carrying Error() (truncated to
// MaxErrorBytes), as python-foolscap does for a BananaError; when the peer
// sent the ERROR token itself (errors.Is(err, ErrPeerError)) or the stream
// simply ended, nothing is sent.
type ConnError struct {
	Offset    int64  // stream offset of the offending token
	PeerMsg   string // the peer's ERROR message, when it sent one
	SendError bool   // reply with an ERROR token before closing
	Err       error
}

func (e *ConnError) Error() string {
	if e.PeerMsg != "" {
		return fmt.Sprintf("banana: %v at offset %d: %q", e.Err, e.Offset, e.PeerMsg)
	}
	return fmt.Sprintf("banana: %v at offset %d", e.Err, e.Offset)
}

func (e *ConnError) Unwrap() error { return e.Err }

// Violation is a non-fatal failure of one sub-object: the decoder has
// discarded its remaining tokens, and the connection stays usable. Path
// names the sequences from the outermost inward, as python-foolscap's
// describeReceive does ("<RootUnslicer>.call.arguments.list[2]").
type Violation struct {
	Path   []string
	Offset int64
	Err    error
}

func (v *Violation) Error() string {
	where := "<RootUnslicer>"
	if len(v.Path) > 0 {
		where += "." + strings.Join(v.Path, ".")
	}
	return fmt.Sprintf("Violation (%s): %v", where, v.Err)
}

func (v *Violation) Unwrap() error { return v.Err }

// Where returns the Python-style location of the violation.
func (v *Violation) Where() string {
	if len(v.Path) == 0 {
		return "<RootUnslicer>"
	}
	return "<RootUnslicer>." + strings.Join(v.Path, ".")
}

// NewViolation returns a Violation wrapping err, for open-type handlers.
func NewViolation(err error) *Violation { return &Violation{Err: err} }

// Violationf returns a Violation with a formatted message.
func Violationf(format string, args ...any) *Violation {
	return &Violation{Err: fmt.Errorf(format, args...)}
}

// isViolation reports whether err is (or wraps) a *Violation.
func asViolation(err error) (*Violation, bool) {
	var v *Violation
	if errors.As(err, &v) {
		return v, true
	}
	return nil, false
}
