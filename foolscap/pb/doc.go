// Package pb is Foolscap's PB layer: the Broker that runs on one
// negotiated connection and carries remote method calls, answers, errors
// and object references (wire-protocol.md §5 and §7.1), following
// python-foolscap's broker.py, call.py and referenceable.py.
//
// Layer: above banana (and furl); below tub. It must not import negotiate
// or tub: the Tub hands it an already-negotiated net.Conn through
// NewBroker. pb owns the per-connection state: request ids (from 1),
// exported clids (from 1; clid 0 is the peer's RIBroker), the import table
// of RemoteReferences, pending calls, keepalive timers and the goroutines
// that read, write and run local methods.
//
// Differences from python-foolscap, on purpose: inbound gifts
// (their-reference) are refused as Tahoe does ("gifts are prohibited in
// this Tub"); RemoteReferences are never decref'd (the peer frees them at
// disconnect); bound methods cannot be exported (but RemoteReferences to
// a peer's bound methods work); RemoteInterface schemas are not checked:
// a Referenceable validates its own arguments.
package pb
