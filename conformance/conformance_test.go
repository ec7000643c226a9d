package conformance

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cucumber/godog"

	"github.com/gatherer/gatherer/conformance/peers"
	"github.com/gatherer/gatherer/conformance/steps"
)

// Settings come from the environment, as `make conformance` passes them:
//
//	GATHERER=python|go|both   implementation(s) under test (default python; make conformance passes both)
//	MODE=container|process|auto   auto: container if a Docker engine answers
//	GODOG_TAGS=expr          godog tag expression (e.g. "~@slow")
//	KEEP_WORK=1              keep scenario directories (reports/work)
//
// The godog flags (-godog.tags, -godog.format, ...) work as well.
var godogOpts = godog.Options{Output: os.Stdout, Strict: true, Paths: []string{"features"}}

func init() { godog.BindCommandLineFlags("godog.", &godogOpts) }

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(m.Run())
}

func TestFeatures(t *testing.T) {
	if testing.Short() {
		t.Skip("the conformance suite is not part of -short runs; run it with `make conformance`")
	}
	if out, err := exec.Command(peers.Python(), "-c", "import foolscap").CombinedOutput(); err != nil {
		t.Skipf("python-foolscap is not importable by %s (install python3-foolscap: make deps): %v\n%s", peers.Python(), err, out)
	}
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	impls, err := implementations(os.Getenv("GATHERER"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	mode, err := chooseMode(ctx, os.Getenv("MODE"), repo, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	runID := fmt.Sprintf("gc%x", time.Now().UnixNano()&0xffffffffff)
	reports := filepath.Join(repo, "reports")
	if err := os.MkdirAll(reports, 0o755); err != nil {
		t.Fatal(err)
	}
	newDriver, cleanup, err := driverFactory(ctx, mode, repo, runID)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		cctx, ccancel := context.WithTimeout(context.Background(), time.Minute)
		defer ccancel()
		if err := cleanup(cctx); err != nil {
			t.Errorf("cleanup after the suite: %v", err)
		}
	}()

	var matrix Matrix
	for _, impl := range impls {
		if impl == peers.ImplGo {
			if _, err := os.Stat(peers.GathererBinary(repo)); err != nil {
				t.Errorf("GATHERER=go needs %s (make build): %v", peers.GathererBinary(repo), err)
				continue
			}
		}
		t.Run(impl+"-"+mode, func(t *testing.T) {
			opts := godogOpts
			opts.TestingT = t
			if tags := os.Getenv("GODOG_TAGS"); tags != "" && opts.Tags == "" {
				opts.Tags = tags
			}
			if _, err := os.Stat(peers.GathererBinary(repo)); err != nil {
				// @cross scenarios run ours and the reference side by side.
				t.Logf("NOTICE: skipping @cross scenarios: %s is missing (make build)", peers.GathererBinary(repo))
				opts.Tags = andTags(opts.Tags, "~@cross")
			}
			// Scenarios that do not apply to this implementation or mode
			// are listed as n/a in the matrix, with the reason, not run.
			for _, rule := range notApplicable(impl, mode) {
				na, err := scenariosTagged(opts, rule.tag)
				if err != nil {
					t.Fatal(err)
				}
				for _, sc := range na {
					matrix.Record(Result{Scenario: sc.name, Tags: sc.tags, Impl: impl, Mode: mode, NotApplicable: rule.reason})
				}
				opts.Tags = andTags(opts.Tags, "~"+rule.tag)
			}
			junit := filepath.Join(reports, fmt.Sprintf("junit-%s-%s.xml", impl, mode))
			if opts.Format == "" {
				opts.Format = "pretty"
			}
			opts.Format += ",junit:" + junit
			cfg := steps.Config{
				Impl: impl, Mode: mode, Repo: repo, RunID: runID,
				WorkDir:   filepath.Join(reports, "work", impl+"-"+mode),
				NewDriver: newDriver,
				OnResult: func(name string, tags []string, err error) {
					matrix.Record(Result{Scenario: name, Tags: tags, Impl: impl, Mode: mode, Err: err})
				},
				Logf: t.Logf,
			}
			suite := godog.TestSuite{
				Name:                "gatherer conformance (" + impl + ", " + mode + ")",
				ScenarioInitializer: steps.Initialize(cfg),
				Options:             &opts,
			}
			if status := suite.Run(); status != 0 {
				t.Errorf("godog exited with status %d (JUnit report: %s)", status, junit)
			}
		})
	}

	f, err := os.Create(filepath.Join(reports, "conformance-matrix.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := matrix.WriteMarkdown(f); err != nil {
		t.Errorf("write the conformance matrix: %v", err)
	}
	t.Logf("conformance matrix: %s", f.Name())
}

// goOnlyTag marks scenarios that run against our gatherer only; goOnlyReason
// is what the matrix says for them under python. containerOnlyTag marks
// scenarios that need a Docker network (taking a peer off it); in process
// mode the matrix gives peers.NoNetworkReason.
const (
	goOnlyTag        = "@go-only"
	goOnlyReason     = "no Python reference: python-foolscap has no stats gatherer, and Tahoe-LAFS <= 1.15.1 (the last with one) cannot be installed here"
	containerOnlyTag = "@container-only"
)

// naRule says that the scenarios carrying tag do not apply, and why.
type naRule struct {
	tag, reason string
}

// notApplicable returns the rules that hold for an implementation and mode.
func notApplicable(impl, mode string) []naRule {
	var rules []naRule
	if impl == peers.ImplPython {
		rules = append(rules, naRule{goOnlyTag, goOnlyReason})
	}
	if mode == peers.ModeProcess {
		rules = append(rules, naRule{containerOnlyTag, peers.NoNetworkReason})
	}
	return rules
}

type scenarioRef struct {
	name string
	tags []string
}

// scenariosTagged lists the scenarios carrying tag that opts (with its tag
// expression) would run.
func scenariosTagged(opts godog.Options, tag string) ([]scenarioRef, error) {
	opts.Tags = andTags(opts.Tags, tag)
	opts.Output = io.Discard
	features, err := godog.TestSuite{Options: &opts}.RetrieveFeatures()
	if err != nil {
		return nil, fmt.Errorf("read the features to list the %s scenarios: %w", tag, err)
	}
	var refs []scenarioRef
	for _, f := range features {
		for _, p := range f.Pickles {
			ref := scenarioRef{name: p.Name}
			for _, tag := range p.Tags {
				ref.tags = append(ref.tags, tag.Name)
			}
			refs = append(refs, ref)
		}
	}
	return refs, nil
}

// andTags combines two godog tag expressions.
func andTags(a, b string) string {
	if a == "" {
		return b
	}
	return a + " && " + b // godog binds "," (or) tighter than "&&"
}

// implementations parses GATHERER.
func implementations(v string) ([]string, error) {
	switch strings.TrimSpace(v) {
	case "", peers.ImplPython:
		return []string{peers.ImplPython}, nil
	case peers.ImplGo:
		return []string{peers.ImplGo}, nil
	case "both":
		return []string{peers.ImplGo, peers.ImplPython}, nil
	}
	return nil, fmt.Errorf("GATHERER=%q: want python, go or both", v)
}

// chooseMode parses MODE; auto picks container mode when a Docker engine
// answers and the peer images exist, and says loudly when it falls back.
func chooseMode(ctx context.Context, v, repo string, logf func(string, ...any)) (string, error) {
	switch strings.TrimSpace(v) {
	case peers.ModeProcess:
		return peers.ModeProcess, nil
	case peers.ModeContainer:
		return peers.ModeContainer, nil
	case "", "auto":
		if err := peers.ContainerModeAvailable(ctx, repo); err != nil {
			logf("NOTICE: running the conformance suite in PROCESS mode: container mode is unavailable: %v", err)
			fmt.Fprintf(os.Stderr, "\n*** NOTICE: conformance suite in PROCESS mode (no containers): %v ***\n\n", err)
			return peers.ModeProcess, nil
		}
		return peers.ModeContainer, nil
	}
	return "", fmt.Errorf("MODE=%q: want container, process or auto", v)
}

// driverFactory returns the constructor of per-scenario drivers for mode and
// the cleanup to run after the whole suite.
func driverFactory(ctx context.Context, mode, repo, runID string) (func(peers.Options) (peers.Driver, error), func(context.Context) error, error) {
	if mode == peers.ModeProcess {
		return peers.NewProcessDriver, func(context.Context) error { return nil }, nil
	}
	pool, err := peers.NewContainerPool(ctx, repo, runID)
	if err != nil {
		return nil, nil, err
	}
	return pool.NewDriver, pool.Close, nil
}
