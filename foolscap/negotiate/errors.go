package negotiate

import (
	"errors"
	"strconv"
)

// Sentinel errors; an *Error wraps exactly one of them.
var (
	// ErrHeaderTooLong: a plaintext header or block exceeded 4096 bytes.
	ErrHeaderTooLong = errors.New("negotiation header longer than 4096 bytes")
	// ErrMalformed: the peer sent something that is not Foolscap negotiation.
	ErrMalformed = errors.New("malformed negotiation data")
	// ErrUnknownTubID: a client asked for a tubid we do not serve.
	ErrUnknownTubID = errors.New("unknown tubid requested")
	// ErrEncryptionRequired: a client asked for no tubid ("GET /id/").
	ErrEncryptionRequired = errors.New("client asked for an unauthenticated connection")
	// ErrRefused: the server answered the GET with something other than 101.
	ErrRefused = errors.New("server refused the connection")
	// ErrRemote: the peer reported a negotiation error and hung up.
	ErrRemote = errors.New("peer reported a negotiation error")
	// ErrVersion: no Banana version or vocabulary table both sides support.
	ErrVersion = errors.New("no common protocol version")
	// ErrDuplicateConnection: the master already has a connection to this
	// peer and kept it (wire-protocol.md §3.7).
	ErrDuplicateConnection = errors.New("duplicate connection")
	// ErrTimeout: the server-side negotiation timer (120 s) expired.
	ErrTimeout = errors.New("negotiation timeout")
	// ErrTLS: the TLS handshake failed.
	ErrTLS = errors.New("TLS handshake failed")
)

// internalErrorText is what foolscap tells the peer about any failure that
// is not a NegotiationError.
const internalErrorText = "internal server error, see logs"

// maxQuoted bounds how much peer text an error message repeats.
const maxQuoted = 120

// Error is a failed negotiation. The connection has been closed, after the
// peer was told Sent (empty when nothing was sent).
type Error struct {
	// Phase is "plaintext", "tls", "hello" or "decision".
	Phase string
	// Sent is the message sent to the peer, as python-foolscap words it.
	Sent string
	// Detail explains the failure to an operator.
	Detail string
	// Err is one of the sentinels (possibly wrapping a cause), or the
	// underlying I/O error when the connection itself failed.
	Err error
}

func (e *Error) Error() string {
	s := "foolscap negotiation failed in the " + e.Phase + " phase: "
	if e.Detail != "" {
		s += e.Detail + ": "
	}
	return s + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// failure is an error raised while handling a received block, carrying the
// text python-foolscap would send: str(e) for its NegotiationError cases,
// the internal-error text for everything else.
type failure struct {
	public bool   // a NegotiationError: its text is sent to the peer
	remote bool   // the peer reported it: send nothing
	msg    string // foolscap's exception text
	detail string
	err    error
}

func (f *failure) Error() string { return f.msg }

func negotiationError(sentinel error, msg string) *failure {
	return &failure{public: true, msg: msg, err: sentinel}
}

func internalError(sentinel error, msg, detail string) *failure {
	return &failure{msg: msg, detail: detail, err: sentinel}
}

// wireText returns what we tell the peer about f.
func (f *failure) wireText() string {
	if f.public {
		return f.msg
	}
	return internalErrorText
}

func quote(b []byte) string {
	if len(b) > maxQuoted {
		return strconv.Quote(string(b[:maxQuoted])) + "..."
	}
	return strconv.Quote(string(b))
}
