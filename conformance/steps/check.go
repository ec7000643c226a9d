package steps

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/cucumber/godog"

	"github.com/gatherer/gatherer/conformance/peers"
)

// checkSteps registers the steps of features/gatherer_check.feature.
func checkSteps(sc *godog.ScenarioContext) {
	sc.Step(`^an? (incident|log|stats) gatherer has been created and started$`, startKindGatherer)
	sc.Step(`^gatherer-check reports (an? [a-z ]+ gatherer)$`, checkReportsKind)
	sc.Step(`^an operator runs gatherer-check on the gatherer's FURL( with a wrong swissnum)?$`, runCheck)
	sc.Step(`^gatherer-check exits with status (\d+)$`, checkExit)
}

func startKindGatherer(ctx context.Context, kind string) error {
	return getWorld(ctx).startGatherer(ctx, peers.GathererSpec{Name: kind + "-gatherer", Kind: kind})
}

func runCheck(ctx context.Context, wrongSwissnum string) error {
	w := getWorld(ctx)
	furl := w.gatherer.FURL
	if wrongSwissnum != "" {
		i := strings.LastIndex(furl, "/")
		if i < 0 {
			return fmt.Errorf("the gatherer's FURL %q has no swissnum", furl)
		}
		furl = furl[:i+1] + "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	}
	out, code, err := w.gatherer.Check(ctx, "--timeout", "20s", furl)
	if err != nil {
		return err
	}
	w.checkOutput, w.checkExit = out, code
	return nil
}

func checkExit(ctx context.Context, want string) error {
	w := getWorld(ctx)
	n, err := strconv.Atoi(want)
	if err != nil {
		return err
	}
	if w.checkExit != n {
		return fmt.Errorf("gatherer-check exited with %d, want %d; it printed:\n%s", w.checkExit, n, w.checkOutput)
	}
	return nil
}

// checkReportsKind checks the kind gatherer-check names in its verdict
// ("verdict: healthy: a stats gatherer").
func checkReportsKind(ctx context.Context, kind string) error {
	w := getWorld(ctx)
	if !strings.Contains(w.checkOutput, "healthy: "+kind) {
		return fmt.Errorf("gatherer-check did not report %q; it printed:\n%s", "healthy: "+kind, w.checkOutput)
	}
	return nil
}
