// Package flog reads and writes foolscap flogfiles and prints them the way
// flogtool does.
//
// Layer: gatherer/flog, below gatherer/{incident,logs,stats} and cmd/*,
// above foolscap/banana (whose value model it uses for events). It owns:
//
//   - the file format (MAGIC line, one JSON document per line, bzip2 decided
//     by the file name): Reader and Writer, in flogfile.go, reader.go and
//     writer.go;
//   - flogtool dump's output (Dump, DumpOptions) in dump.go, and flogtool
//     tail's LogPrinter output (Printer) in tail.go;
//   - the event text rules shared by both: FormatMessage (Python
//     %-formatting of format/args/message, with "[formatting failed]") in
//     message.go and pyformat.go, FormatTime in timefmt.go.
//
// The Python-exact JSON codec lives in the subpackage pyjson.
//
// It must not import the gatherers, the CLIs, or foolscap's connection
// layers (negotiate, pb, tub); it owns no goroutines or sockets.
//
// Python sources it follows (python-foolscap 21.7.0):
// foolscap/logging/flogfile.py, dumper.py, tail.py, log.py (format_message)
// and foolscap/util.py (format_time). Spec: shared/foolscap/gatherers.md
// §4 (format), §3.2 (event fields, formatting rule), §2.4 (tail).
package flog
