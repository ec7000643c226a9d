package steps

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/cucumber/godog"

	"github.com/gatherer/gatherer/conformance/peers"
)

// logSteps registers the steps of features/log_gatherer.feature.
func logSteps(sc *godog.ScenarioContext) {
	sc.Step(`^a log gatherer created with "([^"]*)" has been started$`, startLogGatherer)
	sc.Step(`^the log gatherer has subscribed to the node's events$`, gathererSubscribed)
	sc.Step(`^the node logs the event "([^"]*)"$`, nodeLogsEvent)
	sc.Step(`^a compressed file of the log gatherer holds that event, from the node's tubid$`, eventInRotatedFile)
}

func startLogGatherer(ctx context.Context, args string) error {
	return getWorld(ctx).startGatherer(ctx, peers.GathererSpec{Name: "log-gatherer", Kind: peers.KindLog, CreateArgs: strings.Fields(args)})
}

func nodeLogsEvent(ctx context.Context, text string) error {
	w := getWorld(ctx)
	if strings.ContainsAny(text, "'\"\\") {
		return fmt.Errorf("event text %q: quotes and backslashes are not supported by this step", text)
	}
	if _, err := w.node.Command(ctx, "event "+text); err != nil {
		return err
	}
	w.event = text
	return nil
}

// wrapper is one event line of a gatherer's flogfile.
type wrapper struct {
	From string `json:"from"`
	D    struct {
		Message string `json:"message"`
	} `json:"d"`
}

func eventInRotatedFile(ctx context.Context) error {
	w := getWorld(ctx)
	pattern := filepath.Join(w.gatherer.Dir, "from-*---to-*.flog.bz2")
	return peers.WaitFor(ctx, fmt.Sprintf("a file %s holding the event %q from %s", pattern, w.event, w.publisher), func(context.Context) (bool, error) {
		files, err := filepath.Glob(pattern)
		if err != nil {
			return false, err
		}
		for _, f := range files {
			lines, err := readFlog(f)
			if err != nil {
				continue // bzip2 may still be writing it
			}
			for _, l := range lines[1:] {
				var e wrapper
				if json.Unmarshal([]byte(l), &e) == nil && e.From == w.publisher && e.D.Message == w.event {
					return true, nil
				}
			}
		}
		return false, nil
	})
}
