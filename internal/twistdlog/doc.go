// Package twistdlog writes log records in the line format of Twisted's
// twistd.log, so operators who grep a Python gatherer's twistd.log can grep
// ours the same way.
//
// Layer: internal helper for cmd/gatherer; standard library only.
//
// A line is "<local time as %Y-%m-%dT%H:%M:%S%z> [<system>] <text>", for
// example
//
//	2026-11-27T06:08:35+0000 [stdout#info] connected to qrrnx55n..., last known incident is
//
// Python's gatherers print their operator messages to stdout, which twistd
// logs under the system "stdout#info"; we use that system for Info records
// so such lines are byte-identical. Other levels use "gatherer#debug",
// "gatherer#warn" and "gatherer#error". Attributes follow the message as
// " key=value" pairs (values quoted when they contain spaces or quotes). A
// message with several lines becomes several log lines, as in Twisted.
package twistdlog
