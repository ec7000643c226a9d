package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"

	"github.com/gatherer/gatherer/gatherer/classify"
	"github.com/gatherer/gatherer/gatherer/incident"
	"github.com/gatherer/gatherer/internal/dirlock"
	"github.com/gatherer/gatherer/internal/twistdlog"
)

const reclassifyUsage = `Usage: gatherer reclassify [options] DIR

Rebuild the incident gatherer's DIR/classified/ from the incident files under
DIR/incidents/ with the rules in DIR/classify.rules ("gatherer help rules").
The new classified/ replaces the old one as a whole. Stop the gatherer first:
it appends to classified/ while it runs (reclassify refuses to start while a
"gatherer run" holds the directory).

Options:
  -q, --quiet   Print only the summary, not one line per incident
  -h, --help    Display this help and exit
`

func runReclassify(ctx context.Context, _ *app, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("reclassify", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var quiet bool
	for _, n := range []string{"q", "quiet"} {
		fs.BoolVar(&quiet, n, false, "")
	}
	dir, code := parseArgs(fs, args, reclassifyUsage, stdout, stderr)
	if code != 0 {
		return max(code, 0)
	}
	cfg, err := readDirConfig(dir)
	if err == nil && cfg.kind != kindIncident {
		err = fmt.Errorf("%s holds a log gatherer, not an incident gatherer", dir)
	}
	if err != nil {
		fmt.Fprintf(stderr, "gatherer reclassify: %v\n", err)
		return exitFailure
	}
	lock, err := dirlock.Acquire(dir)
	if err != nil {
		fmt.Fprintf(stderr, "gatherer reclassify: %v; stop the gatherer first\n", err)
		return exitFailure
	}
	defer lock.Release()
	if _, err := os.Stat(filepath.Join(dir, incident.IncidentsDir)); err != nil {
		fmt.Fprintf(stderr, "gatherer reclassify: %v\n", err)
		return exitFailure
	}
	rules, err := classify.Load(dir)
	if err != nil {
		fmt.Fprintf(stderr, "gatherer reclassify: %v\n", err)
		return exitFailure
	}
	if plugins := classifyPlugins(dir); len(plugins) > 0 {
		fmt.Fprintf(stderr, "gatherer reclassify: warning: ignoring %v (Python plugins); only %s is used\n", plugins, classify.FileName)
	}
	level := slog.LevelInfo
	if quiet {
		level = slog.LevelWarn
	}
	log := slog.New(twistdlog.New(stdout, twistdlog.Options{Plain: true, Level: level}))
	res, err := incident.Reclassify(ctx, dir, nil, rules, log)
	if err != nil {
		fmt.Fprintf(stderr, "gatherer reclassify: %v\n", err)
		return exitFailure
	}
	cats := make([]string, 0, len(res.Categories))
	for c := range res.Categories {
		cats = append(cats, c)
	}
	sort.Strings(cats)
	fmt.Fprintf(stdout, "reclassified %d incidents with %d rules from %s\n", res.Incidents, rules.Len(), classify.FileName)
	for _, c := range cats {
		fmt.Fprintf(stdout, "  %-40s %d\n", c, res.Categories[c])
	}
	return exitOK
}
