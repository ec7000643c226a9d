package steps

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cucumber/godog"

	"github.com/gatherer/gatherer/conformance/peers"
)

// incidentSteps registers the steps of features/incident_gatherer.feature.
func incidentSteps(sc *godog.ScenarioContext) {
	sc.Step(`^an incident gatherer has been created and started$`, startIncidentGatherer)
	sc.Step(`^a python-foolscap (\S+) node that offers its logs to the incident gatherer$`, startNode)
	sc.Step(`^the incident gatherer has subscribed to the node's incidents$`, gathererSubscribed)
	sc.Step(`^the node records an incident$`, nodeRecordsIncident)
	sc.Step(`^a Tahoe node whose log_gatherer\.furl points at the incident gatherer$`, startTahoe)
	sc.Step(`^an operator saves an incident report on the node's web page$`, reportIncident)
	sc.Step(`^the incident gatherer keeps a copy of that incident under the (?:node's tubid|tubid of the node's log Tub)$`, incidentCopied)
	sc.Step(`^the incident is listed in the "([^"]+)" classification$`, incidentClassified)
}

func startIncidentGatherer(ctx context.Context) error {
	w := getWorld(ctx)
	g, err := w.driver.StartGatherer(ctx, peers.GathererSpec{Name: "incident-gatherer", Kind: peers.KindIncident})
	if err != nil {
		return err
	}
	w.gatherer = g
	return nil
}

func startNode(ctx context.Context, foolscap string) error {
	w := getWorld(ctx)
	if w.gatherer == nil {
		return errNoGatherer
	}
	n, err := w.driver.StartNode(ctx, peers.NodeSpec{Name: "node", Foolscap: foolscap, Gatherers: []string{w.gatherer.FURL}})
	if err != nil {
		return err
	}
	w.node = n
	w.publisher = n.TubID
	return nil
}

func gathererSubscribed(ctx context.Context) error {
	w := getWorld(ctx)
	_, err := w.node.Command(ctx, "wait-subscribed")
	return err
}

func nodeRecordsIncident(ctx context.Context) error {
	w := getWorld(ctx)
	ans, err := w.node.Command(ctx, "incident conformance")
	if err != nil {
		return err
	}
	name, _ := ans["incident"].(string)
	if name == "" {
		return fmt.Errorf("the node answered the incident command without a name: %v", ans)
	}
	w.incident = name
	return nil
}

func startTahoe(ctx context.Context) error {
	w := getWorld(ctx)
	if w.gatherer == nil {
		return errNoGatherer
	}
	t, err := w.driver.StartTahoe(ctx, peers.TahoeSpec{Name: "tahoe", LogGatherer: w.gatherer.FURL})
	if err != nil {
		return err
	}
	w.tahoe = t
	w.publisher = t.LogTubID()
	return nil
}

func reportIncident(ctx context.Context) error {
	w := getWorld(ctx)
	out, err := w.tahoe.ReportIncident(ctx, "disk made a funny noise")
	if err != nil {
		return err
	}
	if !strings.Contains(out, "An incident report has been saved") {
		return fmt.Errorf("the node's answer to the incident report was %q", out)
	}
	// The node writes the incident once its trailing window closes; its
	// name is what the gatherer files the copy under.
	dir := filepath.Join(w.tahoe.Dir, "logs", "incidents")
	return peers.WaitFor(ctx, "the node to write the incident in "+dir, func(context.Context) (bool, error) {
		m, err := filepath.Glob(filepath.Join(dir, "incident-*.flog.bz2"))
		if err != nil || len(m) == 0 {
			return false, err
		}
		w.incident = strings.TrimSuffix(filepath.Base(m[0]), ".flog.bz2")
		return true, nil
	})
}

func incidentCopied(ctx context.Context) error {
	w := getWorld(ctx)
	path := filepath.Join(w.gatherer.Dir, "incidents", w.publisher, w.incident+".flog.bz2")
	return peers.WaitFor(ctx, "the gatherer to write "+path, func(context.Context) (bool, error) {
		st, err := os.Stat(path)
		if err != nil {
			return false, nil
		}
		return st.Size() > 0, nil
	})
}

func incidentClassified(ctx context.Context, category string) error {
	w := getWorld(ctx)
	path := filepath.Join(w.gatherer.Dir, "classified", category)
	want := "incidents/" + w.publisher + "/" + w.incident + ".flog.bz2"
	return peers.WaitFor(ctx, fmt.Sprintf("the line %q in %s", want, path), func(context.Context) (bool, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return false, nil
		}
		for _, line := range strings.Split(string(b), "\n") {
			if line == want {
				return true, nil
			}
		}
		return false, nil
	})
}
