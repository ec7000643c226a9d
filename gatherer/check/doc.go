// Package check probes a live Foolscap gatherer from the outside and says
// precisely what is wrong with it: the probe logic behind cmd/gatherer-check.
//
// Layer: gatherer. It imports foolscap/furl, foolscap/negotiate,
// foolscap/pb, foolscap/banana and gatherer/logport (interface names); it
// must not import cmd/ or the gatherer services. It owns no state between
// calls: every Probe makes a throwaway Tub identity, dials, and closes
// everything it opened before it returns.
//
// A probe runs, for every connection hint of the FURL at once (each step
// timed, with Options.Timeout per hint):
//
//   - resolve: the hint's host to addresses (hostnames too: the NAT case);
//   - connect: TCP to each address in turn until one answers;
//   - negotiate: the plaintext "GET /id/TUBID" and its "101 Switching
//     Protocols" reply (wire-protocol.md §3.1); a 500 "unknown TubID" means a
//     Foolscap server without that Tub, any other answer means the port is not
//     Foolscap;
//   - tls: the TLS handshake; tubid: the server's certificate must hash to
//     the FURL's tubid (it is pinned during the handshake, §2);
//   - hello: the hello and decision blocks (§3.2–§3.4).
//
// The TLS step ends when our first TLS application-data record goes out (a
// conn wrapper reads the record headers we write), so "tls" and "hello" are
// timed apart although negotiate.Connect runs both.
//
// Then, on the first hint (in FURL order) that got through, it calls
// getReferenceByName(swissnum) on the peer's broker: a KeyError answer means a
// wrong swissnum; otherwise the my-reference's interface name tells the kind
// (RILogGatherer: a log or incident gatherer; RIStatsGatherer: a Tahoe stats
// gatherer). Nothing else is called on the gatherer, so a probe leaves no
// trace there beyond a connection in its log.
//
// With Options.PublishTestIncident it then acts as a Foolscap node, the way
// python-foolscap's Tub does with log-gatherer-furl (pb.py
// _log_gatherer_connected, logging/publish.py): it calls logport(tubid,
// publisher) with a publisher (RILogPublisher.foolscap.lothar.com) holding one
// synthetic incident. An incident gatherer subscribes to incidents, hears
// new_incident and fetches the incident with get_incident; a log gatherer
// subscribes to all events and is sent one msg. The probe waits for that, then
// makes one more round trip so that a gatherer that handles calls in order
// (python's) has saved what it got. This leaves a file on the gatherer:
// incidents/<probe tubid>/<name>.flog.bz2, or one event in the log file.
//
// Time to a verdict (BenchmarkVerdict, which `make bench` runs; 2-core AMD
// EPYC sandbox shared with other builds, 2026-11-27): on a healthy local
// gatherer a probe takes 55 ms against ours and 80 ms against
// python-foolscap 21.7's on an idle machine (143 and 225 ms while other test
// suites loaded both cores). Nearly all of it is making the throwaway
// RSA-2048 key, which runs while the hints resolve and connect: with the key
// made once (Options.Identity) the same probes take 2.6–3.2 ms and
// 3.9–7.3 ms. For comparison, a one-shot python-foolscap script (the
// benchmark's pyGetReference) spends 282–330 ms in Tub() plus getReference of
// the same gatherer FURL, 19–29 ms in getReference alone, and 760–900 ms as a
// whole process with interpreter start-up. flogtool tail was not timed: it
// takes a logport FURL, not a gatherer's.
//
// Verdicts map to the exit codes in Code (0 healthy, 1 unreachable, 2 bad
// FURL, 3 wrong identity, 4 not a gatherer or wrong swissnum, 5 protocol error,
// 6 the test incident or event did not make the round trip).
package check
