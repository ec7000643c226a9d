// Package steps holds the godog step definitions of the conformance suite.
//
// Layer: conformance (top). Steps are thin: each is a few lines calling
// conformance/peers, in the operators' words of features/*.feature. One file
// per domain (incident.go for the incident gatherer). Scenario state is one
// world struct in the scenario's context; every step runs under StepTimeout
// and waits on real conditions only. On failure the After hook reports each
// peer's output and the gatherer's directory listing.
package steps
