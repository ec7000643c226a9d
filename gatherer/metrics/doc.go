// Package metrics exposes the gatherers over Prometheus text exposition.
//
// Layer: gatherer (above foolscap/* and flog, below cmd/*). It depends only on
// the standard library and the Prometheus Go client; the gatherer services
// (gatherer/stats, gatherer/incident, gatherer/logs) import it, never the
// other way round, so it must not import any other package of this module.
//
// It owns three things:
//
//   - Instruments: the gatherer's own metrics (connected nodes, incidents and
//     events gathered, bytes written, errors by kind, fetch latency), one set
//     per gatherer role, registered on a Registerer the caller passes in. All
//     methods are safe on a nil *Instruments, so a service built without
//     metrics simply passes nil.
//   - StatsCollector: a prometheus.Collector over the node statistics a stats
//     gatherer holds (Tahoe's get_stats() answers and /statistics?t=json
//     pages). Families are named the way Tahoe 1.20 names them in
//     /statistics?t=openmetrics (tahoe_<category>_<key>, dots to
//     underscores, "_NN_N_percentile" suffixes turned into a quantile label),
//     with any other character that Prometheus forbids replaced by '_', and
//     every sample labelled with the node's nickname and tubid (for a node
//     polled over HTTP, "tubid" holds its stats.json key: the node's URL).
//   - Handler and Serve: the HTTP endpoint behind --metrics ADDR.
//
// Staleness: Tahoe's stats gatherer keeps the entries of nodes that went away
// with their old timestamp. The collector still exports their last values and
// marks them with tahoe_node_stale{nickname,tubid} = 1, next to
// tahoe_node_last_update_timestamp_seconds, so that a query can drop them:
//
//	tahoe_stats_node_uptime unless on(tubid) (tahoe_node_stale == 1)
//
// There is no python-foolscap counterpart; the naming follows Tahoe-LAFS
// 1.20's src/allmydata/web/status.py (Statistics.render_OPENMETRICS).
// Reference: shared/foolscap/gatherers.md §8.
package metrics
