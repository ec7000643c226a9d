package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/gatherer/gatherer/gatherer/flog"
)

const dumpUsage = `Usage: gatherer dump [options] DUMPFILE.flog[.bz2]

Print a flogfile (an incident, a log gatherer's output, a "flogtool tail
--save-to" file) exactly as "flogtool dump" does.

Options:
  -n, --just-numbers       Show only event numbers
  -r, --rx-time            Show event receipt time (in addition to emit time)
  -t, --timestamps=FORMAT  Format for timestamps: short-local long-local utc
                           epoch [default: short-local]
  -v, --verbose            Show all event arguments
  -h, --help               Display this help and exit
`

func runDump(ctx context.Context, _ *app, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dump", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var o flog.DumpOptions
	for _, n := range []string{"n", "just-numbers"} {
		fs.BoolVar(&o.JustNumbers, n, false, "")
	}
	for _, n := range []string{"r", "rx-time"} {
		fs.BoolVar(&o.RxTime, n, false, "")
	}
	for _, n := range []string{"t", "timestamps"} {
		fs.StringVar(&o.Timestamps, n, flog.TimeShortLocal, "")
	}
	for _, n := range []string{"v", "verbose"} {
		fs.BoolVar(&o.Verbose, n, false, "")
	}
	path, code := parseArgs(fs, args, dumpUsage, stdout, stderr)
	if code != 0 {
		return max(code, 0)
	}
	if err := flog.CheckTimeMode(o.Timestamps); err != nil {
		fmt.Fprintf(stderr, "gatherer dump: %v\n", err)
		return exitUsage
	}
	o.Stderr = stderr
	if err := flog.Dump(ctx, stdout, path, o); err != nil {
		var de *flog.DumpError
		if !errors.As(err, &de) {
			fmt.Fprintf(stderr, "gatherer dump: %v\n", err)
		}
		return exitFailure
	}
	return exitOK
}
