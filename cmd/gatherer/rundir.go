package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gatherer/gatherer/foolscap/banana"
	"github.com/gatherer/gatherer/foolscap/tub"
	"github.com/gatherer/gatherer/gatherer/classify"
	"github.com/gatherer/gatherer/gatherer/incident"
	"github.com/gatherer/gatherer/gatherer/logs"
	"github.com/gatherer/gatherer/gatherer/metrics"
	"github.com/gatherer/gatherer/gatherer/stats"
	"github.com/gatherer/gatherer/internal/dirlock"
	"github.com/gatherer/gatherer/internal/memtrim"
	"github.com/gatherer/gatherer/internal/twistdlog"
)

const runUsage = `Usage: gatherer run [options] DIR

Run the gatherer in DIR (made by "gatherer create-incident-gatherer",
"gatherer create-gatherer", "gatherer create-stats-gatherer" or their
flogtool and tahoe equivalents) in the foreground.
The kind and, for a log gatherer, the rotate and bzip settings are read from
DIR/gatherer.tac; the listening port from DIR/port and the advertised
location from DIR/location. The Tub identity is DIR/gatherer.pem and the
FURL is written to DIR/log_gatherer.furl, keeping its swissnum across
restarts. Events an operator watches for are logged to DIR/twistd.log in
twistd's format.

An incident gatherer classifies incidents with DIR/classify.rules ("gatherer
help rules"); classify_*.py plugins of the Python gatherer cannot run.

A stats gatherer (DIR/tahoe-stats-gatherer.tac) keeps its key in
DIR/stats_gatherer.pem, writes its FURL to DIR/stats_gatherer.furl, polls
every provider's get_stats() and every URL in DIR/web_nodes, and rewrites
DIR/stats.json.

Signals: SIGINT and SIGTERM stop the gatherer cleanly (the log gatherer
closes and renames its current file); SIGHUP makes the log gatherer rotate
its output file and is ignored by the other kinds.

Options:
      --catch-up          Log gatherer: ask nodes for the events they have
                          buffered (the Python gatherer does not)
      --keep-duplicates   Incident gatherer: fetch and classify again an
                          incident already stored under another tubid (the
                          Python gatherer's behaviour)
      --fetch-timeout=D   Incident gatherer: give up on a get_incident call
                          after D [default: 2m0s]
      --max-fetches=N     Incident gatherer: fetch at most N incidents at
                          once across all nodes (the others wait in the
                          nodes' connections, not in the gatherer's
                          memory); a fetch still unanswered after 10s stops
                          counting [default: 16]
      --poll-interval=D   Stats gatherer: call get_stats() on every provider
                          every D [default: 1m0s, Tahoe's interval]
      --max-incident-size=N
                          Incident and log gatherers: refuse a get_incident
                          answer or any other message from a node that
                          carries more than N bytes (strings plus 16 to 32
                          bytes per item); a refused incident is logged,
                          stays unfetched and is offered again when the
                          node reconnects [default: 67108864, 64 MiB]
      --max-per-host=N    Refuse more than N connections negotiating at once
                          from one address [default: 32]
      --metrics=ADDR      Serve Prometheus metrics at http://ADDR/metrics
                          (e.g. 127.0.0.1:9118): the gatherer's own counters
                          and, for a stats gatherer, the collected stats
  -h, --help              Display this help and exit
`

type gathererKind int

const (
	kindIncident gathererKind = iota + 1
	kindLog
	kindStats
)

// dirConfig is what a gatherer directory says about itself.
type dirConfig struct {
	kind     gathererKind
	rotate   time.Duration
	bzip     bool
	port     string
	location string
}

var (
	rotateRE  = regexp.MustCompile(`(?m)^rotate\s*=\s*(\S+)\s*$`)
	bzipRE    = regexp.MustCompile(`(?m)^use_bzip\s*=\s*(\S+)\s*$`)
	literalRE = regexp.MustCompile(`GathererService\(\s*([^,\s()]+)\s*,\s*([^,\s()]+)\s*\)`)
)

const maxTacSize = 1 << 20

// readDirConfig detects the gatherer kind from gatherer.tac and reads port
// and location.
func readDirConfig(dir string) (dirConfig, error) {
	var c dirConfig
	if _, err := os.Stat(filepath.Join(dir, stats.TacFile)); err == nil {
		if _, err := os.Stat(filepath.Join(dir, tacFile)); errors.Is(err, os.ErrNotExist) {
			// The stats gatherer reads its own port and location.
			c.kind = kindStats
			return c, nil
		}
	}
	tacPath := filepath.Join(dir, tacFile)
	f, err := os.Open(tacPath)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return c, fmt.Errorf("%s not found: %s is not a gatherer directory (create one with 'gatherer create-incident-gatherer', 'gatherer create-gatherer' or 'gatherer create-stats-gatherer')", tacPath, dir)
		}
		return c, fmt.Errorf("read gatherer.tac: %w", err)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxTacSize))
	f.Close()
	if err != nil {
		return c, fmt.Errorf("read gatherer.tac: %w", err)
	}
	tac := string(b)
	switch {
	case strings.Contains(tac, "IncidentGathererService("):
		c.kind = kindIncident
	case strings.Contains(tac, "GathererService("):
		c.kind = kindLog
		rot, bz := "", ""
		if m := rotateRE.FindStringSubmatch(tac); m != nil {
			rot = m[1]
		}
		if m := bzipRE.FindStringSubmatch(tac); m != nil {
			bz = m[1]
		}
		if m := literalRE.FindStringSubmatch(tac); m != nil && (rot == "" || bz == "") {
			if m[1] != "rotate" {
				rot = m[1]
			}
			if m[2] != "use_bzip" {
				bz = m[2]
			}
		}
		if c.rotate, err = parseRotate(rot); err != nil {
			return c, fmt.Errorf("%s: %w", tacPath, err)
		}
		switch bz {
		case "True", "1":
			c.bzip = true
		case "False", "0", "None", "":
		default:
			return c, fmt.Errorf("%s: cannot understand use_bzip = %.40q (want True or False)", tacPath, bz)
		}
	default:
		return c, fmt.Errorf("%s runs neither an IncidentGathererService nor a GathererService: not a gatherer directory we can run", tacPath)
	}
	obsolete := errors.New("please create a new gatherer, with both --port and --location (DIR/port or DIR/location is missing)")
	for _, x := range []struct {
		name string
		dst  *string
	}{{"port", &c.port}, {"location", &c.location}} {
		b, err := os.ReadFile(filepath.Join(dir, x.name))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return c, obsolete
			}
			return c, fmt.Errorf("read %s: %w", x.name, err)
		}
		*x.dst = strings.TrimSpace(string(b))
		if *x.dst == "" {
			return c, obsolete
		}
	}
	return c, nil
}

func parseRotate(s string) (time.Duration, error) {
	if s == "" || s == "None" || s == "0" {
		return 0, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 || f > 1e9 {
		return 0, fmt.Errorf("cannot understand rotate = %.40q (want a number of seconds or None)", s)
	}
	return time.Duration(f * float64(time.Second)), nil
}

// classifyPlugins lists the Python classifier plugins in dir.
func classifyPlugins(dir string) []string {
	m, _ := filepath.Glob(filepath.Join(dir, "classify_*.py"))
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	return m
}

func runRun(ctx context.Context, a *app, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	catchUp := fs.Bool("catch-up", false, "")
	keepDup := fs.Bool("keep-duplicates", false, "")
	fetchTimeout := fs.Duration("fetch-timeout", incident.DefaultFetchTimeout, "")
	maxFetches := fs.Int("max-fetches", incident.DefaultMaxConcurrentFetches, "")
	pollInterval := fs.Duration("poll-interval", stats.DefaultPollInterval, "")
	metricsAddr := fs.String("metrics", "", "")
	maxSize := fs.Int("max-incident-size", banana.DefaultMaxMessageBytes, "")
	maxPerHost := fs.Int("max-per-host", tub.DefaultMaxNegotiatingPerHost, "")
	dir, code := parseArgs(fs, args, runUsage, stdout, stderr)
	if code != 0 {
		return max(code, 0)
	}
	if *fetchTimeout <= 0 {
		fmt.Fprintf(stderr, "gatherer run: --fetch-timeout must be positive\n")
		return exitUsage
	}
	if *maxFetches <= 0 {
		fmt.Fprintf(stderr, "gatherer run: --max-fetches must be positive\n")
		return exitUsage
	}
	if *pollInterval <= 0 {
		fmt.Fprintf(stderr, "gatherer run: --poll-interval must be positive\n")
		return exitUsage
	}
	if *maxSize < minIncidentSize {
		fmt.Fprintf(stderr, "gatherer run: --max-incident-size must be at least %d bytes\n", minIncidentSize)
		return exitUsage
	}
	if *maxPerHost <= 0 {
		fmt.Fprintf(stderr, "gatherer run: --max-per-host must be positive\n")
		return exitUsage
	}
	if *metricsAddr != "" && metricsExposed(*metricsAddr) {
		fmt.Fprintf(stderr, "WARNING: --metrics=%s serves plain HTTP without authentication beyond this machine; prefer a loopback address (127.0.0.1:PORT) behind a TLS proxy\n", *metricsAddr)
	}
	if err := checkPrivateDir(dir, stderr); err != nil {
		fmt.Fprintf(stderr, "gatherer run: %v\n", err)
		return exitFailure
	}
	cfg, err := readDirConfig(dir)
	if err != nil {
		fmt.Fprintf(stderr, "gatherer run: %v\n", err)
		return exitFailure
	}
	lock, err := dirlock.Acquire(dir)
	if err != nil {
		fmt.Fprintf(stderr, "gatherer run: %v\n", err)
		return exitFailure
	}
	defer lock.Release()
	logf, err := os.OpenFile(filepath.Join(dir, "twistd.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		fmt.Fprintf(stderr, "gatherer run: open twistd.log: %v\n", err)
		return exitFailure
	}
	defer logf.Close()
	th := twistdlog.New(logf, twistdlog.Options{})
	log := slog.New(th)
	tubLog := slog.New(th.WithSystem("foolscap"))

	if a.signals {
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
		defer stop()
	}
	hup := a.hup
	if a.signals {
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGHUP)
		defer signal.Stop(c)
		hup = c
	}

	if err := runGatherer(ctx, a, dir, cfg, runFlags{catchUp: *catchUp, keepDup: *keepDup, fetchTimeout: *fetchTimeout, maxFetches: *maxFetches, pollInterval: *pollInterval, metricsAddr: *metricsAddr,
		limits: limitsFor(*maxSize), maxPerHost: *maxPerHost}, log, tubLog, hup, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "gatherer run: %v\n", err)
		return exitFailure
	}
	return exitOK
}

type runFlags struct {
	catchUp, keepDup bool
	fetchTimeout     time.Duration
	maxFetches       int // incidents fetched at once
	pollInterval     time.Duration
	metricsAddr      string
	limits           banana.Limits // inbound Banana on every connection
	maxPerHost       int           // inbound negotiations at once per address
}

func runGatherer(ctx context.Context, a *app, dir string, cfg dirConfig, rf runFlags, log, tubLog *slog.Logger, hup <-chan os.Signal, stdout, stderr io.Writer) error {
	// Memory a burst of connections or incidents left behind goes back
	// to the system once the gatherer is quiet (internal/memtrim).
	tctx, stopTrim := context.WithCancel(ctx)
	trimDone := make(chan struct{})
	go func() {
		defer close(trimDone)
		memtrim.Run(tctx, memtrim.Options{Logger: log})
	}()
	defer func() { stopTrim(); <-trimDone }()
	if cfg.kind == kindStats {
		return runStats(ctx, dir, rf, log, tubLog, stdout)
	}
	var instruments *metrics.Instruments
	if rf.metricsAddr != "" {
		reg := metrics.NewRegistry()
		role := "incident"
		if cfg.kind == kindLog {
			role = "log"
		}
		var err error
		if instruments, err = metrics.NewInstruments(reg, role); err != nil {
			return err
		}
		ln, err := net.Listen("tcp", rf.metricsAddr)
		if err != nil {
			return fmt.Errorf("--metrics: %w", err)
		}
		log.Info(fmt.Sprintf("serving metrics at http://%s/metrics", ln.Addr()))
		mctx, mcancel := context.WithCancel(ctx)
		mdone := make(chan struct{})
		go func() {
			defer close(mdone)
			if err := metrics.Serve(mctx, ln, metrics.Handler(reg, log), log); err != nil && mctx.Err() == nil {
				log.Error("the metrics endpoint stopped", "err", err)
			}
		}()
		defer func() { mcancel(); <-mdone }()
	}
	sc := ServeConfig{
		Dir:        dir,
		Port:       cfg.port,
		Location:   cfg.location,
		CertFile:   filepath.Join(dir, "gatherer.pem"),
		FURLFile:   filepath.Join(dir, "log_gatherer.furl"),
		Limits:     rf.limits,
		MaxPerHost: rf.maxPerHost,
		Ready:      func(furl string) { fmt.Fprintln(stdout, "Gatherer waiting at:", furl) },
		Logger:     tubLog,
	}
	var shutdown func(context.Context) error
	var rotate func(context.Context)

	switch cfg.kind {
	case kindIncident:
		log.Info(fmt.Sprintf("gatherer: starting the incident gatherer in %s", dir))
		rules, err := classify.Load(dir)
		if err != nil {
			return err
		}
		if plugins := classifyPlugins(dir); len(plugins) > 0 {
			msg := fmt.Sprintf("WARNING: %s cannot be run by this gatherer (Python classifier plugins); write the equivalent rules in %s (see 'gatherer help rules'); %d rules loaded",
				strings.Join(plugins, ", "), filepath.Join(dir, classify.FileName), rules.Len())
			log.Warn(msg)
			fmt.Fprintln(stderr, msg)
		}
		svc, err := incident.New(incident.Options{Dir: dir, Classifier: rules, Logger: log, Now: a.now,
			KeepDuplicates: rf.keepDup, FetchTimeout: rf.fetchTimeout, MaxConcurrentFetches: rf.maxFetches, Metrics: instruments})
		if err != nil {
			return err
		}
		if err := svc.Start(ctx); err != nil {
			return err
		}
		sc.Logport = func(ctx context.Context, nodeid any, pub Publisher) error { return svc.Logport(ctx, nodeid, pub) }
		shutdown = svc.Close
		rotate = func(context.Context) {
			log.Info("received SIGHUP; the incident gatherer has nothing to rotate")
		}
	case kindLog:
		log.Info(fmt.Sprintf("gatherer: starting the log gatherer in %s (rotate=%s, bzip=%t)", dir, rotateText(cfg.rotate), cfg.bzip))
		svc, err := logs.New(logs.Options{Dir: dir, Rotate: cfg.rotate, Bzip: cfg.bzip, CatchUp: rf.catchUp, Logger: log, Now: a.now, Metrics: instruments})
		if err != nil {
			return err
		}
		if err := svc.Start(ctx); err != nil {
			return err
		}
		sc.Logport = func(ctx context.Context, nodeid any, pub Publisher) error { return svc.Logport(ctx, nodeid, pub) }
		shutdown = func(ctx context.Context) error {
			last, err := svc.Close(ctx)
			if last != "" {
				log.Info("closed the output file as " + filepath.Base(last))
			}
			return err
		}
		rotate = func(ctx context.Context) {
			log.Info("received SIGHUP, rotating the output file")
			done, err := svc.Rotate(ctx)
			switch {
			case err != nil:
				log.Error("rotation failed", "err", err)
			case done != "":
				log.Info("rotated the output file to " + filepath.Base(done))
			}
		}
	}

	serveCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	serveErr := make(chan error, 1)
	go func() { serveErr <- a.serve(serveCtx, sc) }()

	var err error
loop:
	for {
		select {
		case err = <-serveErr:
			if ctx.Err() != nil {
				// Stopped: the Tub saw the stop first.
				log.Info("received a stop signal, shutting down")
				if errors.Is(err, context.Canceled) {
					err = nil
				}
			}
			break loop
		case <-hup:
			// A stop arriving meanwhile must not cut the rotation short.
			rotate(context.WithoutCancel(ctx))
		case <-ctx.Done():
			log.Info("received a stop signal, shutting down")
			cancel()
			err = <-serveErr
			if errors.Is(err, context.Canceled) {
				err = nil
			}
			break loop
		}
	}
	if err != nil {
		log.Error("gatherer stopped on an error", "err", err)
	}
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer scancel()
	if cerr := shutdown(sctx); cerr != nil && err == nil {
		err = cerr
	}
	log.Info("gatherer: shut down")
	return err
}

func rotateText(d time.Duration) string {
	if d == 0 {
		return "None"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
}
