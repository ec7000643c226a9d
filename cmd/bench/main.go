package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gatherer/gatherer/internal/loadnode"
)

const python = "/usr/bin/python3"

var allWorkloads = []string{"codec", "incident", "log", "burst", "idle", "check"}

type config struct {
	quick     bool
	workloads []string
	out       string
	root      string
	profile   bool
	oursOnly  bool
	goArgs    []string

	incidentNodes []int
	incidents     int
	backlog       int // incidents of the one-node backlog case (0: none)
	repeat        int // runs of our gatherer per incident case; the median is reported
	shortRepeat   int // the same for a case of fewer than shortCase incidents
	events        int
	pythonCap     time.Duration

	logNodes  []int
	logWindow time.Duration

	burstNodes  []int
	burstEvents int

	idleNodes   []int
	pyIdleNodes int

	codecTime time.Duration
}

// loadGCPercent is this process's GOGC. The process is the load
// generator (the gatherers under test run as their own processes), and
// on a two-CPU machine its garbage collection takes CPU the gatherer
// under test would otherwise get; real nodes run elsewhere. The in-process
// profiles go back to the default while they run.
const loadGCPercent = 400

func main() {
	debug.SetGCPercent(loadGCPercent)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "bench:", err)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	b, err := newBench(ctx, cfg, logger)
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	defer b.cleanup()
	rep := b.run(ctx)
	if err := rep.write(cfg.out); err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	rep.printTable(stdout)
	fmt.Fprintf(stdout, "\nreports: %s\n", strings.Join([]string{
		filepath.Join(cfg.out, "bench.md"), filepath.Join(cfg.out, "bench.json"), filepath.Join(cfg.out, "incidents.png")}, ", "))
	return 0
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	workloads := fs.String("workloads", strings.Join(allWorkloads, ","), "comma-separated workloads: "+strings.Join(allWorkloads, ","))
	fs.BoolVar(&cfg.quick, "quick", false, "smaller sizes, about two minutes")
	fs.StringVar(&cfg.out, "out", "reports/bench", "output directory")
	fs.StringVar(&cfg.root, "root", ".", "the gatherer module's root (where go.mod is)")
	fs.BoolVar(&cfg.profile, "profile", false, "also profile our gatherer in-process under the incident and log workloads (writes *.pprof and the top costs)")
	fs.BoolVar(&cfg.oursOnly, "ours-only", false, "measure our gatherer only (quick loops while tuning; the ratios need python)")
	goArgs := fs.String("go-args", "", "space-separated extra arguments for our `gatherer run` (to try its flags, e.g. \"--max-fetches 32\")")
	incNodes := fs.String("incident-nodes", "", "node counts for the incident workload (default 1,10,100,500; quick 1,10,100)")
	fs.IntVar(&cfg.incidents, "incidents", 0, "incidents per node (default 4; quick 2)")
	fs.IntVar(&cfg.backlog, "backlog", -1, "incidents of one more incident case, one node with a backlog (default 40; quick 10; 0 skips it)")
	fs.IntVar(&cfg.events, "events", 200, "events per incident")
	fs.IntVar(&cfg.repeat, "repeat", 0, "runs of our gatherer per incident case, the median reported (default 3, and 5 for a case of fewer than 100 incidents; quick 1); python runs once")
	fs.DurationVar(&cfg.pythonCap, "python-cap", 0, "longest run of one Python case; a case cut short reports what was done (default 30s; quick 20s)")
	logNodes := fs.String("log-nodes", "", "node counts for the log workload (default 1,10,100; quick 10)")
	fs.DurationVar(&cfg.logWindow, "log-seconds", 0, "measurement window of one log case (default 5s; quick 3s)")
	burstNodes := fs.String("burst-nodes", "", "python node counts for the burst workload (default 1,10; quick 1)")
	fs.IntVar(&cfg.burstEvents, "burst-events", 30000, "events each python node logs at once")
	idleNodes := fs.String("idle-nodes", "", "node counts for our idle RSS (default 1000,5000; quick 1000)")
	fs.IntVar(&cfg.pyIdleNodes, "python-idle-nodes", 0, "node count for python's idle RSS (default 200; quick 100)")
	fs.DurationVar(&cfg.codecTime, "codec-seconds", 0, "time per codec measurement (default 2s; quick 1s)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	cfg.goArgs = strings.Fields(*goArgs)
	for _, w := range strings.Split(*workloads, ",") {
		w = strings.TrimSpace(w)
		if w == "" {
			continue
		}
		if !slices.Contains(allWorkloads, w) {
			return cfg, fmt.Errorf("unknown workload %q (have %s)", w, strings.Join(allWorkloads, ","))
		}
		cfg.workloads = append(cfg.workloads, w)
	}
	pick := func(full, quick int) int {
		if cfg.quick {
			return quick
		}
		return full
	}
	pickD := func(full, quick time.Duration) time.Duration {
		if cfg.quick {
			return quick
		}
		return full
	}
	var err error
	if cfg.incidentNodes, err = intList(*incNodes, pickL(cfg.quick, []int{1, 10, 100, 500}, []int{1, 10, 100})); err != nil {
		return cfg, fmt.Errorf("-incident-nodes: %w", err)
	}
	if cfg.logNodes, err = intList(*logNodes, pickL(cfg.quick, []int{1, 10, 100}, []int{10})); err != nil {
		return cfg, fmt.Errorf("-log-nodes: %w", err)
	}
	if cfg.burstNodes, err = intList(*burstNodes, pickL(cfg.quick, []int{1, 10}, []int{1})); err != nil {
		return cfg, fmt.Errorf("-burst-nodes: %w", err)
	}
	if cfg.idleNodes, err = intList(*idleNodes, pickL(cfg.quick, []int{1000, 5000}, []int{1000})); err != nil {
		return cfg, fmt.Errorf("-idle-nodes: %w", err)
	}
	if cfg.incidents == 0 {
		cfg.incidents = pick(4, 2)
	}
	if cfg.backlog < 0 {
		cfg.backlog = pick(40, 10)
	}
	if cfg.repeat == 0 {
		cfg.repeat, cfg.shortRepeat = pick(3, 1), pick(5, 1)
	} else {
		cfg.shortRepeat = cfg.repeat
	}
	if cfg.pyIdleNodes == 0 {
		cfg.pyIdleNodes = pick(200, 100)
	}
	if cfg.pythonCap == 0 {
		cfg.pythonCap = pickD(30*time.Second, 20*time.Second)
	}
	if cfg.logWindow == 0 {
		cfg.logWindow = pickD(5*time.Second, 3*time.Second)
	}
	if cfg.codecTime == 0 {
		cfg.codecTime = pickD(2*time.Second, time.Second)
	}
	if cfg.incidents < 1 || cfg.events < 1 || cfg.burstEvents < 1 || cfg.pyIdleNodes < 1 || cfg.repeat < 1 {
		return cfg, errors.New("-incidents, -events, -burst-events, -python-idle-nodes and -repeat must be at least 1")
	}
	return cfg, nil
}

func pickL(quick bool, full, q []int) []int {
	if quick {
		return q
	}
	return full
}

func intList(s string, def []int) ([]int, error) {
	if s == "" {
		return def, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 20000 {
			return nil, fmt.Errorf("%q is not a count from 1 to 20000", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// bench holds what every workload shares.
type bench struct {
	cfg       config
	log       *slog.Logger
	work      string // scratch directory for gatherer directories
	binary    string // our gatherer
	checkBin  string // gatherer-check ("" when it does not build)
	ids       *loadnode.Identities
	hasPython bool
	pyErr     string
}

func newBench(ctx context.Context, cfg config, logger *slog.Logger) (*bench, error) {
	if err := os.MkdirAll(cfg.out, 0o755); err != nil {
		return nil, fmt.Errorf("creating the output directory: %w", err)
	}
	work, err := os.MkdirTemp(cfg.out, "work-")
	if err != nil {
		return nil, fmt.Errorf("creating a scratch directory: %w", err)
	}
	b := &bench{cfg: cfg, log: logger, work: work}
	b.binary, err = filepath.Abs(filepath.Join(work, "gatherer"))
	if err != nil {
		return nil, err
	}
	logger.Info("building our gatherer", "file", b.binary)
	if out, err := goCmd(ctx, cfg.root, "build", "-o", b.binary, "./cmd/gatherer").CombinedOutput(); err != nil {
		b.cleanup()
		return nil, fmt.Errorf("go build ./cmd/gatherer: %w: %s", err, out)
	}
	if slices.Contains(cfg.workloads, "check") {
		cb, _ := filepath.Abs(filepath.Join(work, "gatherer-check"))
		if out, err := goCmd(ctx, cfg.root, "build", "-o", cb, "./cmd/gatherer-check").CombinedOutput(); err != nil {
			logger.Warn("gatherer-check does not build; the check workload is skipped", "err", err, "output", string(out))
		} else {
			b.checkBin = cb
		}
	}
	if cfg.oursOnly {
		b.pyErr = "-ours-only was given"
	} else if out, err := exec.CommandContext(ctx, python, "-c", "import foolscap").CombinedOutput(); err != nil {
		b.pyErr = fmt.Sprintf("%s cannot import foolscap: %v %s", python, err, strings.TrimSpace(string(out)))
		logger.Warn("python-foolscap is missing: only our figures are measured", "err", b.pyErr)
	} else {
		b.hasPython = true
	}
	b.ids, err = loadnode.NewIdentities(nil)
	if err != nil {
		b.cleanup()
		return nil, err
	}
	return b, nil
}

func (b *bench) cleanup() { _ = os.RemoveAll(b.work) }

func goCmd(ctx context.Context, root string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	return cmd
}

// impls lists the implementations to measure: ours, and python's when
// python-foolscap is installed.
func (b *bench) impls() []string {
	if b.hasPython {
		return []string{loadnode.ImplGo, loadnode.ImplPython}
	}
	return []string{loadnode.ImplGo}
}

// gathererDir returns a fresh directory name for one case.
func (b *bench) gathererDir(name string) string {
	return filepath.Join(b.work, fmt.Sprintf("%s-%d", name, time.Now().UnixNano()))
}

func (b *bench) startGatherer(ctx context.Context, impl, kind string, bzip bool, name string) (*loadnode.Gatherer, error) {
	return loadnode.StartGatherer(ctx, loadnode.GathererSpec{Impl: impl, Kind: kind, Bzip: bzip,
		Dir: b.gathererDir(name), Binary: b.binary, ExtraRunArgs: b.cfg.goArgs})
}

func stopGatherer(g *loadnode.Gatherer, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return g.Stop(ctx)
}

func (b *bench) run(ctx context.Context) *report {
	start := time.Now()
	rep := &report{Started: start.UTC(), Machine: describeMachine(ctx), Quick: b.cfg.quick, Workloads: b.cfg.workloads}
	if !b.hasPython {
		rep.Notes = append(rep.Notes, "python-foolscap missing: "+b.pyErr)
	}
	steps := map[string]func(context.Context, *report){
		"codec":    b.codec,
		"incident": b.incident,
		"log":      b.logs,
		"burst":    b.burst,
		"idle":     b.idle,
		"check":    b.check,
	}
	for _, w := range allWorkloads {
		if !slices.Contains(b.cfg.workloads, w) || ctx.Err() != nil {
			continue
		}
		t0 := time.Now()
		b.log.Info("workload starts", "workload", w)
		steps[w](ctx, rep)
		b.log.Info("workload done", "workload", w, "seconds", time.Since(t0).Round(time.Millisecond).Seconds())
	}
	if b.cfg.profile && ctx.Err() == nil {
		b.profile(ctx, rep)
	}
	rep.Seconds = time.Since(start).Seconds()
	return rep
}
