// Package incident is the incident gatherer: it receives logport calls from
// Foolscap nodes, subscribes to their incidents, fetches each one, stores it
// as a flogfile and classifies it.
//
// Layer: gatherer. It owns the incident gatherer's directory layout below
// BASEDIR (incidents/, classified/) and the per-node sessions. It must not
// import foolscap/pb or foolscap/tub: the connection is reached through the
// small Publisher interface, which cmd/gatherer adapts to a pb remote
// reference, and incoming observer calls arrive on Observer. Flogfile bytes
// come from gatherer/flog through the Flog interface; classification from
// gatherer/classify.
//
// Python counterpart: foolscap/logging/gatherer.py (IncidentGathererService,
// IncidentObserver) and incident.py (IncidentClassifierBase); behaviour and
// file formats in shared/foolscap/gatherers.md §2.3 and §5.
//
// Same as Python: the directory is incidents/<tubid>/<name>.flog.bz2 with the
// header as received and one {"from": tubid, "rx_time": T, "d": event} line
// per event (one T for all); incidents/<tubid>/latest names the newest saved
// incident and is sent as since= with catch_up=True; classified/<category>
// gets one "incidents/<tubid>/<name>.flog.bz2" line per classification,
// "unknown" when nothing matches; stored but unclassified incidents are
// classified at start; one get_incident call at a time per node (the node
// holds an incident's events in memory while it sends them); incidents are
// classified, and latest moves, in the order they were asked for; the
// operator lines of §5.5 are logged at Info with Python's exact text.
//
// Deliberate differences (documented for operators):
//   - Files appear atomically (temporary file, fsync, rename, fsync of the
//     directory); leftovers of a crash are removed at start. A stored file
//     that cannot be read is reported and skipped instead of aborting start.
//   - latest never moves backwards, and never passes an incident that is
//     not stored yet: it names the newest stored incident below every one
//     still missing. An incident whose fetch or save failed (a timeout, a
//     remote error, a full disk) is retried with a doubling backoff
//     (Options.RetryMin to RetryMax) while the node stays connected; one
//     refused for good in this session (over the connection's size limits,
//     no trigger in its header, over the queue bound) stays missing, and the
//     node offers it again when it next connects. An offered incident whose
//     file already exists is not fetched again, so what was stored past a
//     missing one is gathered exactly once.
//   - A classification line is never written twice for the same file.
//   - Across tubids (Tahoe's log Tub gets a new tubid at every start), an
//     incident with the same name and the same trigger event (incarnation
//     and event number) as one already stored under another tubid is neither
//     fetched nor classified again; Options.KeepDuplicates restores Python's
//     behaviour.
//   - Incident names are validated (they must start with "incident-", use
//     only letters, digits, ".", "_" and "-", contain no ".." and be at most
//     200 bytes); bad ones are logged and ignored.
//   - The next incident is asked for as soon as the answer before it has
//     arrived, while that one is compressed and written (at most three of
//     a node's decoded answers in memory, waiting for or in compression;
//     every answer holds a place in Options.MaxConcurrentFetches until its
//     file is on disk): a node's backlog is gathered with its fetches back
//     to back, and a slow disk does not stop them. So "fetching incident B" may
//     come before "classified ... A" in the log, where Python's order is
//     fetch A, classify A, fetch B.
//   - Each node has its own goroutine and queue (bounded by
//     Options.MaxQueue); get_incident has a timeout (Options.FetchTimeout),
//     so a slow or stuck node never holds up another.
package incident
