// Package banana is the Banana serialization codec used by Foolscap: the
// token framing (wire-protocol.md §4.1), OPEN numbering and references
// (§4.2), open types (§4.3), the negotiated VOCAB table (§4.4) and the
// receive-side violation rules (§4.5), following python-foolscap's
// banana.py, tokens.py, vocab.py and slicers/*.py.
//
// Layer: lowest Foolscap layer beside furl. It imports only the standard
// library and must never import pb, negotiate or tub. It owns no goroutines
// and no sockets: a Decoder parses from an io.Reader under Limits, an
// Encoder appends tokens to a buffer that its owner writes out. All
// per-connection protocol state above the token stream (reqIDs, clids,
// references to remote objects) belongs to package pb.
//
// The value model maps Python types onto explicit Go types (value.go).
// Errors are typed by consequence: a *ConnError means the connection must be
// closed (after sending an ERROR token when Fatal.SendError is set), a
// *Violation abandons one sub-object, which the decoder has already skipped
// up to its CLOSE token. Limits are reported with sentinel errors such as
// ErrStringTooLong, checked with errors.Is.
package banana
