// Package archtest holds no code: its test checks that the packages of the
// module depend on each other only downwards (docs/design.md):
// foolscap knows nothing of gatherers, gatherer nothing of the commands,
// and nothing below conformance imports it.
package archtest
