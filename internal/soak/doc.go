// Package soak holds the gatherer's soak test (make soak): a bounded churn
// on loopback in which synthetic Foolscap nodes (internal/loadnode, real
// Foolscap over TCP) join and leave an incident gatherer process
// (bin/gatherer run) that is restarted three times, once with SIGKILL.
// At the end every incident of every node must be stored exactly once and
// the gatherer's resident memory must not have grown with time.
//
// Layer: tests only. The package has no code besides this comment; the test
// imports internal/loadnode and runs cmd/gatherer as a child process, so it
// exercises the wire, the files and the restarts as an operator's
// installation would.
//
// TestHundredMegabyteIncident has such a node offer a 100 MB incident to
// the gatherer process and checks it is refused without being buffered.
//
// TestRestartWithFiftyNodes is the soak's short form, run by every go test (not
// -short): 50 nodes, the gatherer killed with SIGKILL halfway.
//
// TestSoak runs only when SOAK_DURATION is set (a Go duration, e.g. 30m); the
// Makefile's soak target sets it (30 minutes, 2 minutes when CI=true).
// SOAK_NODES (default 200) and SOAK_INCIDENTS (default 20, per node) size
// the churn.
package soak
