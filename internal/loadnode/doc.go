// Package loadnode is a synthetic Foolscap "node" for load tests: a Tub
// with its own identity that connects to a gatherer FURL, calls
// logport(nodeid, publisher) the way python-foolscap's Tub does for its
// log-gatherer-furl, and serves an RILogPublisher
// (RILogPublisher.foolscap.lothar.com) holding synthetic incidents and,
// on demand, a stream of log events.
//
// Layer: internal/, used by cmd/bench and its tests only. It imports
// foolscap/{banana,negotiate,pb,tub}, nothing from gatherer/ (it speaks to
// a gatherer only over the wire, so it loads ours and python's alike).
//
// Behaviour follows python-foolscap 21.7's logging/publish.py:
//
//   - subscribe_to_incidents(observer, catch_up, since) answers with an
//     RISubscription, then sends new_incident(name as bytes, trigger) with
//     callRemoteOnly for every incident whose name sorts after since, in
//     name order, then done_with_incident_catchup().
//   - get_incident(name) answers (header, events), the events unwrapped
//     from their flogfile wrappers, as LogPublisher.remote_get_incident
//     does after reading the file back (so lists, not tuples).
//   - subscribe_to_all(observer, catch_up=False) answers with an
//     RISubscription; events then go out as msg(event) calls with
//     Subscription's flow control: at most 10 calls in flight, at most
//     2,000 queued, the newest dropped beyond that.
//
// Many nodes fit in one process: Identities shares one RSA key between
// all of them (each node still has its own self-signed certificate, and
// so its own tubid), and incident contents are read-only values that all
// nodes may share.
//
// Goroutines: each Node's Tub owns its connection goroutines; each msg
// call in flight runs in a goroutine owned by the Node. Close waits for
// all of them.
package loadnode
