// Package pyjson reads and writes JSON exactly the way CPython's json module
// does for foolscap flogfiles, over the foolscap/banana value model.
//
// Layer: gatherer/flog (below the gatherers, above foolscap/banana). It owns
// the byte rules of one JSON document: Append/Marshal produce what
// json.dumps(obj, cls=foolscap.logging.flogfile.ExtendedEncoder) produces
// (separators ", " and ": ", ensure_ascii with lowercase hex and surrogate
// pairs, float repr, integers of any size, bare NaN/Infinity tokens, dict
// order kept, UnJSONable and Failure objects for values JSON cannot hold);
// Unmarshal reads what json.loads reads (NaN/Infinity tokens, big integers,
// lone surrogate escapes, duplicate keys) and fails with json.loads's own
// error texts. Repr and Str render values the way Python's repr() and str()
// do, which flogtool's output and the UnJSONable objects need.
//
// It must not import anything but the standard library and foolscap/banana;
// it owns no goroutines, files or sockets.
//
// Python sources it follows: Lib/json/encoder.py, Lib/json/decoder.py,
// Lib/json/scanner.py (and their C accelerators), Objects/floatobject.c
// (repr), Objects/unicodeobject.c (repr), foolscap/logging/flogfile.py
// (ExtendedEncoder), foolscap/call.py (CopiedFailure). Spec:
// shared/foolscap/gatherers.md §4.3 and §4.4.
//
// Strings: a Python str may hold lone surrogates (json.loads("\"\\ud800\"")).
// Unmarshal stores such a code point in its 3-byte generalized UTF-8 form
// (WTF-8, bytes ED A0..BF xx), and Append and Repr turn those bytes back into
// \udxxx escapes, so such strings round-trip byte for byte. Any other invalid
// UTF-8 in a Go string is written as U+FFFD, as Python can hold no such str.
package pyjson
