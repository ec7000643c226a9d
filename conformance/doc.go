// Package conformance is the godog suite that checks a gatherer against the
// operators' recipes (features/*.feature), run against our gatherer and
// python-foolscap's reference gatherers, with real python-foolscap and
// Tahoe-LAFS peers, in process or container mode.
//
// Layer: conformance (top of the tree; it may import anything, nothing
// imports it). This package holds the runner (conformance_test.go: one godog
// suite per implementation, Strict, JUnit reports in reports/) and the
// Markdown matrix writer (report.go). Steps live in conformance/steps, peers
// and drivers in conformance/peers. Run it with `make conformance
// GATHERER=go|python|both MODE=container|process|auto`; `go test -short`
// skips it.
//
// Scenarios tagged @go-only (the stats gatherer: python-foolscap has none and
// Tahoe-LAFS <= 1.15.1, which had one, cannot be installed here) run against
// our gatherer only; under GATHERER=python the runner leaves them out and the
// matrix shows them as "n/a" with that reason, neither failed nor passed.
// Scenarios tagged @container-only (taking a peer off its Docker network, in
// features/faults.feature) are n/a the same way in process mode, where every
// peer shares the host's loopback. notApplicable holds these rules.
package conformance
