// Package negotiate establishes Foolscap connections: the Tub's TLS identity
// (RSA key and self-signed certificate whose hash is the tubid) and the
// connection negotiation that turns a TCP connection into an authenticated
// TLS connection ready for Banana.
//
// Layer: above foolscap/furl, below foolscap/pb and foolscap/tub. It imports
// only the standard library (furl is allowed, and used by its tests); it must
// not import banana, pb or tub.
// It owns no goroutines beyond the lifetime of a Connect or Accept call.
//
// It follows python-foolscap 21.7's negotiate.py (the Negotiation protocol)
// and crypto.py (certificates, TLS policy), as described in
// shared/foolscap/wire-protocol.md §2 and §3:
//
//   - plaintext.go: the HTTP-like "GET /id/TUBID" request and its 101 or 500
//     reply (§3.1);
//   - block.go: "key: value" blocks, the 4096-byte cap (§3.2);
//   - hello.go: hello and decision blocks and their evaluation (§3.2–§3.4);
//   - arbiter.go: duplicate-connection arbitration (§3.7), asked through
//     the Arbiter interface the Tub implements;
//   - client.go (Connect) and server.go (Accept): the two TCP roles, sharing
//     negotiation.go (the encrypted phase, error replies, context handling);
//   - identity.go, tlsconfig.go: certificates and TLS configuration (§2).
//
// Errors are reported to the peer with python-foolscap's exact texts (a 500
// line in the plaintext phase, an error block once encrypted, a Banana ERROR
// token once the slave has switched to Banana) and returned as *Error, whose
// Err is one of the sentinels for errors.Is.
package negotiate
