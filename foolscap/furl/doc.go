// Package furl parses and formats Foolscap FURLs, their connection hints and
// the listen specifications that flogtool and Tahoe-LAFS accept.
//
// Layer: lowest (foolscap/furl imports the standard library only; it must not
// import banana, negotiate, pb or tub).
//
// It follows python-foolscap 21.7's furl.py (decode_furl, encode_furl),
// connections/tcp.py (legacy and tcp: hints), connections/tor.py and
// connections/i2p.py (hint syntax only), and base32.py, as described in
// shared/foolscap/wire-protocol.md §1.2–§1.4. Parse accepts exactly what
// decode_furl accepts and keeps unusable hints, the way Foolscap ignores them
// at connect time; Hint.DialAddress reports why a hint cannot be dialed.
// Tor and I2P hints are recognised but refused for dialing: this package has
// no SOCKS or SAM client.
//
// The corpus in fixtures/furls/ is checked by a Go test and, through
// /usr/bin/python3, by python-foolscap's own parsers, so the two cannot drift.
package furl
