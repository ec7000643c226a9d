package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/gatherer/gatherer/gatherer/stats"
)

const createStatsUsage = `Usage: gatherer create-stats-gatherer (--hostname=HOST | --location=HINTS --port=STRPORT) [options] DIR

Create a stats gatherer directory, like "tahoe create-stats-gatherer" of
Tahoe-LAFS 1.12 to 1.15.1: writes DIR/location, DIR/port,
DIR/tahoe-stats-gatherer.tac (the name marks the directory's kind) and a
commented DIR/web_nodes. DIR must be empty or missing. Start it with
"gatherer run DIR"; it writes DIR/stats_gatherer.furl, the FURL to put in
"[client] stats_gatherer.furl" of each node's tahoe.cfg, and DIR/stats.json.

Tahoe 1.16 and later have no stats push; list their web URLs in
DIR/web_nodes (one per line, optionally followed by a nickname) and the
gatherer polls their /statistics?t=json into the same stats.json.

Options:
      --hostname=HOST   Pick a free TCP port P and use location tcp:HOST:P
                        and port tcp:P
  -l, --location=HINTS  Tub location hints to use in the FURL
  -p, --port=STRPORT    TCP port to listen on: tcp:PORT[:interface=ADDR]
  -q, --quiet           Don't print instructions to stdout
  -h, --help            Display this help and exit
`

func runCreateStats(ctx context.Context, _ *app, args []string, stdout, stderr io.Writer) int {
	const name = "create-stats-gatherer"
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var opts stats.CreateOptions
	var quiet bool
	fs.StringVar(&opts.Hostname, "hostname", "", "")
	for _, n := range []string{"l", "location"} {
		fs.StringVar(&opts.Location, n, "", "")
	}
	for _, n := range []string{"p", "port"} {
		fs.StringVar(&opts.Port, n, "", "")
	}
	for _, n := range []string{"q", "quiet"} {
		fs.BoolVar(&quiet, n, false, "")
	}
	dir, code := parseArgs(fs, args, createStatsUsage, stdout, stderr)
	if code != 0 {
		return max(code, 0)
	}
	switch {
	case opts.Hostname != "" && (opts.Location != "" || opts.Port != ""):
		fmt.Fprintf(stderr, "gatherer %s: --hostname cannot be combined with --location or --port\n\n%s", name, createStatsUsage)
		return exitUsage
	case opts.Hostname == "" && (opts.Location == "" || opts.Port == ""):
		fmt.Fprintf(stderr, "gatherer %s: you must provide --hostname, or --location and --port\n\n%s", name, createStatsUsage)
		return exitUsage
	}
	if err := stats.Create(ctx, dir, opts); err != nil {
		fmt.Fprintf(stderr, "gatherer %s: %v\n", name, err)
		if errors.Is(err, stats.ErrNeedLocation) {
			return exitUsage
		}
		return exitFailure
	}
	if !quiet {
		fmt.Fprintf(stdout, "Stats gatherer created in directory %s\n", dir)
		fmt.Fprintf(stdout, "Now run 'gatherer run %s' to launch it\n", dir)
	}
	return exitOK
}

// runStats runs the stats gatherer in dir until ctx ends.
func runStats(ctx context.Context, dir string, rf runFlags, log, tubLog *slog.Logger, stdout io.Writer) error {
	log.Info(fmt.Sprintf("gatherer: starting the stats gatherer in %s (poll interval %s)", dir, rf.pollInterval))
	err := stats.Serve(ctx, stats.ServeConfig{
		Dir:          dir,
		PollInterval: rf.pollInterval,
		MetricsAddr:  rf.metricsAddr,
		MaxPerHost:   rf.maxPerHost,
		Logger:       log,
		TubLogger:    tubLog,
		Ready: func(info stats.ServeInfo) {
			fmt.Fprintln(stdout, "Stats gatherer waiting at:", info.FURL)
			if info.MetricsAddr != nil {
				log.Info(fmt.Sprintf("serving metrics at http://%s/metrics", info.MetricsAddr))
			}
		},
	})
	if errors.Is(err, context.Canceled) {
		log.Info("received a stop signal, shutting down")
		err = nil
	}
	log.Info("gatherer: shut down")
	return err
}
