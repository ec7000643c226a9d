// Package tub is the Foolscap Tub: one identity (key, certificate, tubid),
// the listeners that accept connections for it, the objects it serves under
// swissnums, and the connections (one pb.Broker per peer tubid) it holds.
//
// Layer: the top of foolscap/. It imports furl, negotiate, banana and pb,
// and nothing from gatherer/ or cmd/.
//
// It follows python-foolscap 21.7's pb.py (Tub: listenOn, setLocation,
// registerReference with furlFile=, getReference, connectTo), connection.py
// (TubConnector: every hint dialed at once, the first negotiated connection
// wins) and reconnector.py (Reconnector: exponential backoff with jitter),
// as described in shared/foolscap/wire-protocol.md §1.4, §1.3, §3.7 and §7.
//
// Goroutines: each listener has an accept loop, each connection a goroutine
// running its Broker, each Reconnector a loop; all are owned by the Tub and
// have ended when Shutdown returns.
package tub
