// Package atomicfile makes files appear on disk whole or not at all.
//
// Layer: internal helper, used by the gatherer services (gatherer/incident,
// gatherer/logs) and cmd/gatherer. It imports only the standard library.
//
// The technique follows the project's house rule 16: write into a temporary
// file in the destination directory, fsync it, rename it over the final name,
// then fsync the directory so the rename itself is durable. Temporary files
// are named ".<final name>.<random>.tmp"; RemoveTemps deletes leftovers of a
// crash at start-up. Python's gatherers write in place (foolscap
// logging/gatherer.py), so a crash there can leave a truncated file; ours
// cannot.
//
// File creation goes through the File interface so tests can inject short
// writes and failing fsyncs.
package atomicfile
