package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/gatherer/gatherer/gatherer/check"
)

// FURL files the gatherers write, in the order a directory is searched.
var furlFiles = [...]string{"log_gatherer.furl", "stats_gatherer.furl"}

// maxFURLFile bounds how much of a FURL file is read.
const maxFURLFile = 64 << 10

const usage = `usage: gatherer-check [--timeout D] [--json] [--publish-test-incident] FURL|FURLFILE|GATHERERDIR

Probe a Foolscap log, incident or stats gatherer and say what is wrong with it.
A GATHERERDIR means its log_gatherer.furl (else stats_gatherer.furl).

Options:
  --timeout D               bound each hint's connection and each call (default 10s)
  --json                    print one JSON object instead of lines
  --publish-test-incident   act as a node and send one test incident (or event);
                            it STAYS on the gatherer

Exit codes:
  0  healthy
  1  unreachable (resolve, connection refused, no answer in time)
  2  bad FURL or bad arguments
  3  wrong identity (unknown tubid, or certificate does not match the FURL)
  4  not a gatherer (wrong swissnum, other interface)
  5  protocol error (not Foolscap, broken conversation)
  6  --publish-test-incident round trip failed
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type config struct {
	timeout time.Duration
	json    bool
	publish bool
	target  string
}

func parseArgs(args []string, stderr io.Writer) (*config, error) {
	var cfg config
	fs := flag.NewFlagSet("gatherer-check", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.DurationVar(&cfg.timeout, "timeout", check.DefaultTimeout, "")
	fs.BoolVar(&cfg.json, "json", false, "")
	fs.BoolVar(&cfg.publish, "publish-test-incident", false, "")
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	switch {
	case len(pos) == 0:
		return nil, errors.New("missing FURL, FURL file or gatherer directory")
	case len(pos) > 1:
		return nil, fmt.Errorf("one FURL, FURL file or gatherer directory expected, got %d arguments", len(pos))
	case cfg.timeout <= 0:
		return nil, fmt.Errorf("--timeout must be positive, got %s", cfg.timeout)
	}
	cfg.target = pos[0]
	return &cfg, nil
}

func run(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	cfg, err := parseArgs(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usage)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "gatherer-check: %v\n%s(gatherer-check --help explains the options and exit codes)\n", err, usage[:strings.Index(usage, "\n")+1])
		return int(check.BadFURL)
	}
	furlStr, source, err := readTarget(cfg.target)
	if err != nil {
		if cfg.json {
			writeJSON(stdout, stderr, &check.Report{Code: check.BadFURL, Verdict: "bad FURL: " + err.Error()})
		} else {
			fmt.Fprintf(stderr, "gatherer-check: %v\n", err)
		}
		return int(check.BadFURL)
	}
	if cfg.publish {
		fmt.Fprintln(stderr, "gatherer-check: WARNING: --publish-test-incident is on: acting as a node, this check will LEAVE A TEST INCIDENT on the gatherer (incidents/<its throwaway tubid>/), or one test event in a log gatherer's file")
	}
	rep := check.Probe(ctx, furlStr, check.Options{
		Timeout:             cfg.timeout,
		PublishTestIncident: cfg.publish,
		Version:             version(),
	})
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "gatherer-check: interrupted: the steps below were cut short")
	}
	if cfg.json {
		writeJSON(stdout, stderr, rep)
	} else {
		printReport(stdout, rep, source)
	}
	return int(rep.Code)
}

// readTarget returns the FURL the argument stands for, and where it came
// from ("" for a FURL given directly).
func readTarget(arg string) (furlStr, source string, err error) {
	if strings.HasPrefix(arg, "pb:") {
		return arg, "", nil
	}
	st, err := os.Stat(arg)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", "", fmt.Errorf("%q is not a FURL (pb://...), and no file or directory has that name", arg)
		}
		return "", "", fmt.Errorf("reading the FURL: %w", err)
	}
	path := arg
	if st.IsDir() {
		path = ""
		for _, name := range furlFiles {
			p := filepath.Join(arg, name)
			if _, err := os.Stat(p); err == nil {
				path = p
				break
			}
		}
		if path == "" {
			return "", "", fmt.Errorf("directory %s has no %s or %s: is it a gatherer directory, and has the gatherer run once?", arg, furlFiles[0], furlFiles[1])
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return "", "", fmt.Errorf("reading the FURL: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFURLFile+1))
	if err != nil {
		return "", "", fmt.Errorf("reading the FURL from %s: %w", path, err)
	}
	if len(b) > maxFURLFile {
		return "", "", fmt.Errorf("%s is larger than %d bytes: not a FURL file", path, maxFURLFile)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", "", fmt.Errorf("%s is empty: the gatherer has not written its FURL", path)
	}
	return s, path, nil
}

func writeJSON(stdout, stderr io.Writer, rep *check.Report) {
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(rep); err != nil {
		fmt.Fprintf(stderr, "gatherer-check: writing the report: %v\n", err)
	}
}

func printReport(w io.Writer, rep *check.Report, source string) {
	if rep.FURL != "" {
		from := ""
		if source != "" {
			from = " (from " + source + ")"
		}
		fmt.Fprintf(w, "FURL %s%s\n", rep.FURL, from)
	}
	for _, h := range rep.Hints {
		fmt.Fprintf(w, "hint %s\n", h.Hint)
		printSteps(w, h.Steps)
	}
	if len(rep.Steps) > 0 {
		fmt.Fprintf(w, "object via %s\n", rep.UsedHint)
		printSteps(w, rep.Steps)
	}
	if p := rep.Publish; p != nil {
		fmt.Fprintf(w, "test node %s\n", p.TubID)
		printSteps(w, p.Steps)
	}
	fmt.Fprintf(w, "verdict: %s (exit %d, %s)\n", rep.Verdict, rep.Code, rep.Total)
}

func printSteps(w io.Writer, steps []check.Step) {
	for _, s := range steps {
		mark := "ok  "
		if !s.OK {
			mark = "FAIL"
		}
		t := ""
		if s.Elapsed != 0 {
			t = " [" + s.Elapsed.String() + "]"
		}
		fmt.Fprintf(w, "  %s %-9s %s%s\n", mark, s.Name, s.Detail, t)
	}
}
