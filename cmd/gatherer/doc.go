// Command gatherer is a drop-in replacement for python-foolscap's incident
// gatherer and log gatherer ("flogtool create-incident-gatherer",
// "flogtool create-gatherer" and "twistd -y gatherer.tac") and for the
// Tahoe-LAFS stats gatherer ("tahoe create-stats-gatherer", Tahoe 1.12 to
// 1.15.1).
//
// Layer: command (cmd/*). It wires gatherer/incident, gatherer/logs,
// gatherer/classify and gatherer/flog to a Foolscap Tub through the Serve
// seam (serve.go), reads and writes the gatherer directory's small files
// (port, location, gatherer.tac, classify.rules), logs to DIR/twistd.log in
// twistd's line format (internal/twistdlog) and handles signals. Nothing
// imports it.
//
// Subcommands (see "gatherer help" and "gatherer COMMAND --help"):
//
//	create-incident-gatherer  as flogtool's; default port tcp:3118
//	create-gatherer           as flogtool's; default port tcp:3117
//	create-stats-gatherer     as tahoe's: --hostname, or --location and --port
//	run DIR                   run the gatherer DIR holds, in the foreground
//	reclassify DIR            rebuild DIR/classified/ from DIR/incidents/
//	dump FILE                 print a flogfile as "flogtool dump" does
//	tail FURL|FILE|DIR        follow a node's events as "flogtool tail" does
//	help [COMMAND|rules]      usage, and the classification rules syntax
//
// Directories made by flogtool run too: the kind is detected from
// gatherer.tac (IncidentGathererService or GathererService), and the log
// gatherer's rotate/use_bzip settings are read from its "rotate = ..." and
// "use_bzip = ..." lines. classify_*.py plugins cannot run; "run" says so
// and points at DIR/classify.rules. Directories we create still run under
// "twistd -y gatherer.tac".
//
// A stats gatherer directory is recognised by its tahoe-stats-gatherer.tac;
// "run --poll-interval D" sets how often get_stats() is called (Tahoe: 60 s).
// "run --metrics ADDR" serves Prometheus metrics for every kind.
//
// "run" and "reclassify" lock the directory (internal/dirlock,
// DIR/.gatherer.lock), so neither runs twice on one directory at once.
//
// Exit codes: 0 success; 1 a runtime failure (a directory that cannot be
// read or written, a bad gatherer.tac, a failed Tub); 2 a usage error (unknown
// command or flag, missing argument, --location missing, bad --port or
// --rotate).
//
// Python sources followed: foolscap/logging/gatherer.py
// (create_log_gatherer, create_incident_gatherer, GatheringBase);
// shared/foolscap/gatherers.md §5 and §6.
package main
