package steps

import (
	"context"
	"fmt"
	"strings"

	"github.com/cucumber/godog"

	"github.com/gatherer/gatherer/conformance/peers"
)

// tailSteps registers the steps of features/tail.feature.
func tailSteps(sc *godog.ScenarioContext) {
	sc.Step(`^a Tahoe node$`, startPlainTahoe)
	sc.Step(`^an operator follows the node's log with "tail ([^"]*)" on its private/logport\.furl$`, tailNode)
	sc.Step(`^the tail shows "([^"]*)"$`, tailShows)
}

func startPlainTahoe(ctx context.Context) error {
	w := getWorld(ctx)
	t, err := w.driver.StartTahoe(ctx, peers.TahoeSpec{Name: "tahoe"})
	if err != nil {
		return err
	}
	w.tahoe = t
	return nil
}

// tailNode runs the tail until it shows the line of the following Then step
// (godog has no look-ahead, so the expected text is fixed by the feature:
// the web page report's message). The tool is flogtool's or ours, after the
// implementation under test.
func tailNode(ctx context.Context, args string) error {
	w := getWorld(ctx)
	const want = "User reports incident through web page: "
	out, err := w.tahoe.Tail(ctx, w.cfg.Impl, append(strings.Fields(args), w.tahoe.LogPort), want)
	w.tailOutput = out
	if err != nil {
		return fmt.Errorf("tail: %w; it printed:\n%s", err, out)
	}
	return nil
}

func tailShows(ctx context.Context, text string) error {
	w := getWorld(ctx)
	if !strings.Contains(w.tailOutput, text) {
		return fmt.Errorf("the tail printed no %q; it printed:\n%s", text, w.tailOutput)
	}
	return nil
}
