package steps

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cucumber/godog"

	"github.com/gatherer/gatherer/conformance/peers"
)

// StepTimeout bounds every step: each waits on a real condition, and says
// which one when the deadline passes.
const StepTimeout = 90 * time.Second

// Config is what the suite runner decides once for all scenarios.
type Config struct {
	Impl    string // peers.ImplPython or peers.ImplGo
	Mode    string // peers.ModeProcess or peers.ModeContainer
	Repo    string // repository root
	WorkDir string // scenario directories are created below it
	RunID   string // labels Docker objects of this run
	// NewDriver builds the driver of one scenario.
	NewDriver func(peers.Options) (peers.Driver, error)
	// OnResult, if set, is told each scenario's outcome ("passed", "failed").
	OnResult func(scenario string, tags []string, err error)
	// Logf receives progress and failure reports (nil: discarded).
	Logf func(format string, args ...any)
}

func (c Config) logf(format string, args ...any) {
	if c.Logf != nil {
		c.Logf(format, args...)
	}
}

// world is the state of one scenario; it lives in the scenario's context.
type world struct {
	cfg      Config
	dir      string
	driver   peers.Driver
	gatherer *peers.Gatherer
	// other is the other implementation's gatherer, in scenarios that
	// compare the two side by side.
	other *peers.Gatherer
	node  *peers.Node
	tahoe *peers.Tahoe
	// nodes are the nodes of the fault scenarios, in the order started;
	// last is the incident each recorded last (mu guards it: nodes record
	// side by side).
	nodes []*peers.Node
	mu    sync.Mutex
	last  map[string]string
	// publisher is the tubid the gatherer files the incident under; incident
	// is the incident's name (incident-<time>-<unique>).
	publisher string
	incident  string
	previous  []string // earlier publishers of the same node (Tahoe restarts)
	event     string   // the text of the last event the node logged
	// tailOutput is what the tail tool printed.
	tailOutput string
	// checkOutput and checkExit are gatherer-check's output and exit code.
	checkOutput string
	checkExit   int
	// providers are the stats providers by nickname; goneAt is when the
	// one that went away stopped; oldFURL and restartedAt are the stats
	// gatherer's FURL before and the time of its restart; metricsText is the
	// /metrics an operator read.
	providers   map[string]*peers.StatsProvider
	goneAt      time.Time
	oldFURL     string
	restartedAt time.Time
	metricsText string
	// cancelStep ends the running step's deadline.
	cancelStep context.CancelFunc
}

type worldKey struct{}

func getWorld(ctx context.Context) *world {
	w, _ := ctx.Value(worldKey{}).(*world)
	return w
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// Initialize returns the godog scenario initializer for cfg.
func Initialize(cfg Config) func(*godog.ScenarioContext) {
	return func(sc *godog.ScenarioContext) {
		sc.Before(func(ctx context.Context, s *godog.Scenario) (context.Context, error) {
			name := strings.Trim(unsafeName.ReplaceAllString(s.Name, "-"), "-")
			if len(name) > 60 {
				name = name[:60]
			}
			if err := os.MkdirAll(cfg.WorkDir, 0o755); err != nil {
				return ctx, fmt.Errorf("create the work directory: %w", err)
			}
			dir, err := os.MkdirTemp(cfg.WorkDir, name+"-")
			if err != nil {
				return ctx, fmt.Errorf("create the scenario directory: %w", err)
			}
			d, err := cfg.NewDriver(peers.Options{Impl: cfg.Impl, Repo: cfg.Repo, Dir: dir, RunID: cfg.RunID, Logf: cfg.Logf})
			if err != nil {
				return ctx, fmt.Errorf("set up the %s driver: %w", cfg.Mode, err)
			}
			return context.WithValue(ctx, worldKey{}, &world{cfg: cfg, dir: dir, driver: d}), nil
		})
		sc.StepContext().Before(func(ctx context.Context, st *godog.Step) (context.Context, error) {
			w := getWorld(ctx)
			if w == nil {
				return ctx, nil
			}
			// godog hands each step the context the previous one returned,
			// whose deadline the previous step's After has cancelled: keep
			// its values, not its cancellation.
			ctx, w.cancelStep = context.WithTimeout(context.WithoutCancel(ctx), StepTimeout)
			return ctx, nil
		})
		sc.StepContext().After(func(ctx context.Context, st *godog.Step, _ godog.StepResultStatus, err error) (context.Context, error) {
			if w := getWorld(ctx); w != nil && w.cancelStep != nil {
				w.cancelStep()
				w.cancelStep = nil
			}
			return ctx, err
		})
		sc.After(func(ctx context.Context, s *godog.Scenario, err error) (context.Context, error) {
			w := getWorld(ctx)
			if w == nil {
				return ctx, nil
			}
			if err != nil {
				cfg.logf("scenario %q failed under %s/%s: %v\n%s", s.Name, cfg.Impl, cfg.Mode, err, w.report())
			}
			if cfg.OnResult != nil {
				tags := make([]string, 0, len(s.Tags))
				for _, t := range s.Tags {
					tags = append(tags, t.Name)
				}
				cfg.OnResult(s.Name, tags, err)
			}
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			if cerr := w.driver.Close(stopCtx); cerr != nil {
				cfg.logf("scenario %q: stopping its peers: %v", s.Name, cerr)
			}
			if err == nil && os.Getenv("KEEP_WORK") == "" {
				_ = os.RemoveAll(w.dir)
			}
			return ctx, nil
		})
		incidentSteps(sc)
		logSteps(sc)
		tailSteps(sc)
		checkSteps(sc)
		statsSteps(sc)
		faultSteps(sc)
	}
}

// report is what a failed scenario attaches: each peer's output and the
// gatherer's directory listing.
func (w *world) report() string {
	var b strings.Builder
	fmt.Fprintf(&b, "scenario directory: %s\n", w.dir)
	if w.gatherer != nil {
		fmt.Fprintf(&b, "--- gatherer %s output:\n%s\n", w.gatherer.Name, w.gatherer.Output())
		fmt.Fprintf(&b, "--- gatherer directory %s:\n%s", w.gatherer.Dir, listing(w.gatherer.Dir))
		if log, err := os.ReadFile(filepath.Join(w.gatherer.Dir, "twistd.log")); err == nil {
			fmt.Fprintf(&b, "--- twistd.log:\n%s\n", log)
		}
	}
	if w.other != nil {
		fmt.Fprintf(&b, "--- other gatherer %s (%s) output:\n%s\n", w.other.Name, w.other.Impl, w.other.Output())
		fmt.Fprintf(&b, "--- other gatherer directory %s:\n%s", w.other.Dir, listing(w.other.Dir))
	}
	if w.node != nil {
		fmt.Fprintf(&b, "--- node %s output:\n%s\n", w.node.Name, w.node.Output())
	}
	for _, n := range w.nodes {
		fmt.Fprintf(&b, "--- node %s (%s) output:\n%s\n", n.Name, n.TubID, n.Output())
		fmt.Fprintf(&b, "--- node %s incident directory %s:\n%s", n.Name, n.IncidentDir(), listing(n.IncidentDir()))
	}
	if w.tahoe != nil {
		fmt.Fprintf(&b, "--- tahoe %s output:\n%s\n", w.tahoe.Name, w.tahoe.Output())
	}
	for _, name := range slices.Sorted(maps.Keys(w.providers)) {
		p := w.providers[name]
		fmt.Fprintf(&b, "--- stats provider %s (%s) output:\n%s\n", name, p.TubID, p.Output())
	}
	if w.gatherer != nil && w.gatherer.Kind == peers.KindStats {
		if st, err := os.ReadFile(filepath.Join(w.gatherer.Dir, "stats.json")); err == nil {
			fmt.Fprintf(&b, "--- stats.json:\n%s\n", st)
		}
	}
	return b.String()
}

// listing is an `ls -R`-like listing of dir (relative paths and sizes).
func listing(dir string) string {
	var b strings.Builder
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			fmt.Fprintf(&b, "  %s: %v\n", path, err)
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		if info, ierr := d.Info(); ierr == nil && !d.IsDir() {
			fmt.Fprintf(&b, "  %s (%d bytes)\n", rel, info.Size())
		} else {
			fmt.Fprintf(&b, "  %s/\n", rel)
		}
		return nil
	})
	return b.String()
}

var errNoGatherer = errors.New("no gatherer in this scenario (missing Background step?)")
