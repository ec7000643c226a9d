// Package logs is the log gatherer: every connected node's events go, in
// arrival order, into one flogfile in the gatherer's base directory, which is
// rotated on a timer and on demand (SIGHUP).
//
// Layer: gatherer. It owns the output files in BASEDIR and the rotation and
// compression goroutines. It must not import foolscap/pb or foolscap/tub:
// nodes are reached through the small Publisher interface (adapted from a pb
// remote reference by cmd/gatherer) and call back on Observer. Flogfile
// bytes come from gatherer/flog through the Flog interface.
//
// Python counterpart: foolscap/logging/gatherer.py (GathererService,
// Observer); files and behaviour in shared/foolscap/gatherers.md §2.2 and §6.
//
// Same as Python: the current file is from-<T>---to-present.flog (T in UTC as
// 2006-01-02--15-04-05 plus "Z"), starting with the magic line and
// {"header": {"type": "gatherer", "start": <float>}}; each event is one line
// {"from": <nodeid as sent in logport, as str>, "rx_time": <float>, "d":
// <event>}; rotation closes the file, renames it
// from-<T1>Z---to-<T2>Z.flog, opens from-<T2>Z---to-present.flog and, with
// bzip, runs the external bzip2 on the closed file (Python does the same);
// subscribe_to_all is called without catch-up unless asked.
//
// Deliberate differences (documented for operators):
//   - Close (SIGINT/SIGTERM) closes AND renames the last file, and
//     compresses it with bzip; a ---to-present file left by a crash or by
//     the Python gatherer is renamed after its modification time (and
//     compressed) at start.
//   - An event that cannot be encoded is logged ("GATHERER: unable to
//     serialize ...") and dropped, but Msg still answers None, so the node
//     keeps the subscription. Python behaves the same for encoding errors;
//     it is the node that drops a subscription after any failed msg.
//   - An event with bytes keys (every event of a Python 2 node, foolscap
//     issues #68 and #88) is stored with its top-level keys decoded as UTF-8,
//     as "flogtool tail --save-to" does; the Python gatherer drops it. A
//     warning is logged once per connection.
//   - Compression runs in the background, one bzip2 at a time; ingest never
//     waits for it. A rotation within the same second as the previous one
//     is skipped; when a finished file's name is taken anyway (runs that
//     share a second), ".1", ".2", ... go before ".flog".
//   - A node that calls logport again while its first subscription is still
//     alive (same authenticated tubid, when the Publisher tells it through a
//     TubID method) has its events written once: the older subscription's
//     events are ignored from the moment the newer one is in place. Python
//     writes them twice.
//   - The events that arrive together, from one node or many, are written
//     together, with a single write call (group commit: one goroutine takes
//     every line queued since its last write), and each msg is answered
//     once its line is written, as Python answers after its unbuffered
//     write: an answered event is in the file. The connection does not
//     wait for the answer before it starts the next call
//     (AsyncObserver, a pb.Deferred), so one node's window of calls in
//     flight is written at once; at most 4 MiB of lines wait to be
//     written, beyond which Msg waits. Events still waiting when Close
//     starts are written to the last file.
//   - A batch of lines is written with a single write call. When a write fails (a full
//     disk), the file is cut back to its last complete line, so it stays a
//     valid flogfile, and the event is kept in memory with the ones that
//     follow (Options.MaxBacklog, 16 MiB by default); they are written in
//     arrival order as soon as a write succeeds again (every new event
//     retries, and a timer every Options.RetryEvery, 5 s). Past the bound the oldest kept events are dropped; the first
//     failure, the recovery and the number of events lost are logged, and
//     each drop is counted (metric error "event_dropped"). Python logs a
//     traceback per event and loses them all. Delivery is at most once: a
//     node sends each live event once and never resends it.
package logs
