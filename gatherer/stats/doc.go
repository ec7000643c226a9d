// Package stats is a drop-in stats gatherer for Tahoe-LAFS nodes.
//
// Layer: gatherer. It imports foolscap/banana (the value model of get_stats()
// answers), gatherer/flog/pyjson (Python's JSON string and float forms),
// gatherer/metrics (its own instruments, and the NodeStats snapshot the
// Prometheus collector reads) and, for its wire side only, foolscap/pb,
// foolscap/tub, foolscap/negotiate, foolscap/furl and internal/atomicfile;
// it must not import cmd/ or the other gatherer services. It owns the stats
// gatherer directory and stats.json.
//
// The Service sees nodes only through the small Provider interface. The
// wire side (wire.go, serve.go) adapts Foolscap to it: Gatherer is the root
// object (RIStatsGatherer.tahoe.allmydata.com) whose provide() hands a
// RemoteProvider (the node's *pb.RemoteReference) to Service.Provide, and
// Serve runs the whole gatherer from its directory: Tub key
// stats_gatherer.pem, listener from port, FURL hints from location, FURL
// file stats_gatherer.furl (swissnum kept across restarts), the Service, and
// optionally /metrics.
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
// Concurrency: Serve owns the Tub, the Service's Run and the metrics server,
// and returns only after all three have stopped. Run owns the poll goroutines (at most MaxConcurrent calls in
// progress, each bounded by CallTimeout, at most one per node) and the
// writer goroutine, and returns only after they have exited.
package stats
