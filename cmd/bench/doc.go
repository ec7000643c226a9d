// Command bench runs the gatherer workloads side by side against the
// Python reference (python-foolscap 21.7's flogtool gatherers under
// twistd3) and ours (bin/gatherer) in one run, and reports figures and
// ratios: a table on stdout, reports/bench/bench.md and bench.json, and
// reports/bench/incidents.png (incidents/s against node count).
//
// Layer: command (cmd/*). It drives both gatherers as child processes over
// the wire with internal/loadnode's Go load nodes (and python-foolscap
// nodes for the burst workload), reads their CPU time and RSS from /proc,
// and runs the codec benchmarks of foolscap/banana, foolscap/pb and
// foolscap/furl with "go test -bench" beside python-foolscap's own codec
// (pycodec.py). With -profile it also runs our gatherer's services
// in-process under the CPU profiler (see profile.go).
//
// Workloads (-workloads, comma-separated; default all):
//
//	incident  N nodes x K incidents of 200 events: incidents/s, time to
//	          gather all, CPU seconds, peak RSS
//	log       N nodes streaming msg() as fast as python's flow control
//	          allows, with and without --bzip: events/s; beside it the
//	          machine's parallel bzip2 throughput on the same flog lines
//	burst     python nodes logging 30,000 events at once: events stored
//	idle      RSS per connected idle node
//	codec     Banana encode/decode MB/s, callRemote round trips/s, FURL
//	          parses/s, ours and python-foolscap's
//	check     gatherer-check's time to a verdict (ours and python's gatherer)
//
// -quick runs smaller sizes (about two minutes); the full run stays under
// ten minutes on a two-core machine.
//
// Exit codes: 0 the run completed (figures may show failures of single
// cases, marked in the table); 1 the run could not be done (a gatherer
// would not build or start, the output directory cannot be written);
// 2 bad flags.
package main
