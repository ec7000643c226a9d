// Package stats is a drop-in stats gatherer for Tahoe-LAFS nodes.
//
// Layer: gatherer. It imports foolscap/banana (the value model of get_stats()
// answers), gatherer/flog/pyjson (Python's JSON string and float forms) and
// gatherer/metrics (its own instruments, and the NodeStats
// snapshot the Prometheus collector reads); it must not import foolscap/pb
// or foolscap/tub: the remote references reach it through the small
// Provider interface, which the Foolscap layer adapts. It owns the stats
// gatherer directory and stats.json.
//
// Behaviour follows Tahoe-LAFS 1.15.1's src/allmydata/stats.py
// (StatsGatherer, JSONStatsGatherer) and scripts/stats_gatherer.py; facts in
// shared/foolscap/gatherers.md §1.2 and §8:
//
//   - provide(provider, nickname) (Service.Provide) keys a provider by its
//     tubid; a later provide from the same tubid replaces it. Nicknames and
//     every dict key may be bytes (Python 2 nodes) or str.
//   - get_stats() is called on every provider every poll interval (60 s by
//     default) and at once when a provider arrives. A provider whose call
//     fails is forgotten until it calls provide again; a call that times out
//     (our addition: CallTimeout) is only retried next round.
//   - An answer must be a dict holding (at least) a "counters" and a "stats"
//     dict, each of int, float, bool or None; any other answer is logged and
//     skipped, the provider and its previous entry kept.
//   - stats.json is {id: {"timestamp", "nickname", "stats"}} in Python's
//     json.dump format, rewritten atomically (stats.json.tmp, fsync,
//     rename) at most once per WriteDelay rather than after every answer.
//     It is loaded at start-up, so entries of nodes that went away stay with
//     their old timestamp, as in Tahoe; NodeStats marks them stale.
//   - Non-finite floats are written as null (Python wrote NaN/Infinity, which
//     is not JSON).
//
// Beyond Tahoe 1.15.1: nodes listed in DIR/web_nodes are polled over HTTP at
// /statistics?t=json (Tahoe 1.16 and later) and merged into the same
// stats.json under their normalised URL (see web.go).
//
// Concurrency: Run owns the poll goroutines (at most MaxConcurrent calls in
// progress, each bounded by CallTimeout, at most one per node) and the
// writer goroutine, and returns only after they have exited.
package stats
