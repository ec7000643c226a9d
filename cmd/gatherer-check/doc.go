// Command gatherer-check probes a live Foolscap gatherer (log, incident or
// Tahoe stats gatherer; ours or python-foolscap's) from the outside and says
// precisely what is wrong with it, in a second, without Twisted tracebacks.
//
// Usage:
//
//	gatherer-check [--timeout D] [--json] [--publish-test-incident] FURL|FURLFILE|GATHERERDIR
//
// The argument is a FURL ("pb://..."), a file holding one, or a gatherer
// directory (its log_gatherer.furl, else its stats_gatherer.furl). Every
// connection hint is tried at once; for each, the resolve, TCP connect,
// Foolscap negotiation (the plaintext GET and its 101 reply), TLS handshake,
// tubid check and hello steps are reported with the time each took. On the
// first hint that gets through, the swissnum is looked up (getReferenceByName)
// and the object's interface tells the kind of gatherer. By default nothing
// else is called: the probe has no side effect on the gatherer.
//
// --publish-test-incident acts as a node under a throwaway tubid: it calls
// logport on the gatherer with a publisher holding one synthetic incident and
// checks that an incident gatherer fetches it (a log gatherer gets one event
// instead). The incident stays on the gatherer, in incidents/<tubid>/; a
// warning says so on stderr.
//
// Output is short human lines, or one JSON object with --json (the
// check.Report fields). Swissnums are never printed.
//
// Exit codes:
//
//	0  healthy: the FURL names a live gatherer (and the round trip worked)
//	1  unreachable: no hint resolved, connected or answered in time
//	2  bad FURL, or bad arguments (usage)
//	3  wrong identity: the server has no Tub with the FURL's tubid (500
//	   unknown TubID), or its TLS certificate does not match the tubid
//	4  not a gatherer: wrong swissnum (KeyError), an object of another
//	   interface, or --publish-test-incident on a stats gatherer
//	5  protocol error: the port does not speak Foolscap (an HTTP or plain TLS
//	   server), or the conversation broke off
//	6  round trip failed: --publish-test-incident's incident (or event) was
//	   not fetched (or taken) in time
//
// Layer: cmd. It imports gatherer/check, which holds the probe logic, and
// foolscap/furl.
package main
