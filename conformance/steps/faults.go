package steps

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/cucumber/godog"

	"github.com/gatherer/gatherer/conformance/peers"
)

// faultSteps registers the steps of features/faults.feature.
func faultSteps(sc *godog.ScenarioContext) {
	sc.Step(`^two python-foolscap (\S+) nodes, "([^"]+)" and "([^"]+)", that offer their incidents to the incident gatherer$`, startTwoNodes)
	sc.Step(`^the incident gatherer has subscribed to the incidents of both nodes$`, subscribedToAll)
	sc.Step(`^each node has recorded an incident that the incident gatherer has stored$`, eachNodeRecordedOne)
	sc.Step(`^each node records (\d+) incidents$`, eachNodeRecords)
	sc.Step(`^"([^"]+)" records (\d+) incidents$`, oneNodeRecords)
	sc.Step(`^"([^"]+)" records an incident$`, oneNodeRecordsOne)
	sc.Step(`^"([^"]+)" holds back its answers to the gatherer's fetches$`, nodeCommandStep("hold-fetches"))
	sc.Step(`^"([^"]+)" answers the gatherer's fetches again$`, nodeCommandStep("release-fetches"))
	sc.Step(`^the incident gatherer's twistd\.log says it is fetching the last incident of "([^"]+)"$`, fetchingLast)
	sc.Step(`^the incident gatherer's twistd\.log says it fetched the last incident of "([^"]+)" twice: the fetch cut short was repeated$`, fetchedTwice)
	sc.Step(`^the incident gatherer is (paused|resumed|killed|taken off the network|put back on the network)$`, faultGatherer)
	sc.Step(`^"([^"]+)" is (paused|resumed|killed|taken off the network|put back on the network)$`, faultNode)
	sc.Step(`^"([^"]+)" is started again$`, runNodeAgain)
	sc.Step(`^"([^"]+)" is back under the tubid it had, holding all (\d+) of its incidents$`, nodeBack)
	sc.Step(`^every incident the nodes hold is stored exactly once$`, storedExactlyOnce)
	sc.Step(`^the incident gatherer's twistd\.log says each node connected once: no connection was lost$`, connectedOnce)
}

// faultTrailingDelay is the nodes' incident trailing window in the fault
// scenarios: short, so that recording an incident takes about a second, and
// a whole second, so that incidents recorded one after the other have names
// (which carry the time to the second) in the order they were recorded.
const faultTrailingDelay = 1.0

func (w *world) faults() (peers.Faults, error) {
	f, ok := w.driver.(peers.Faults)
	if !ok {
		return nil, fmt.Errorf("the %s driver cannot inflict faults on peers", w.driver.Mode())
	}
	return f, nil
}

func (w *world) nodeNamed(name string) (*peers.Node, error) {
	for _, n := range w.nodes {
		if n.Name == name {
			return n, nil
		}
	}
	return nil, fmt.Errorf("no node %q in this scenario", name)
}

func startTwoNodes(ctx context.Context, foolscap, first, second string) error {
	w := getWorld(ctx)
	if w.gatherer == nil {
		return errNoGatherer
	}
	for _, name := range []string{first, second} {
		n, err := w.driver.StartNode(ctx, peers.NodeSpec{Name: name, Foolscap: foolscap,
			Gatherers: []string{w.gatherer.FURL}, TrailingDelay: faultTrailingDelay})
		if err != nil {
			return err
		}
		w.nodes = append(w.nodes, n)
	}
	return nil
}

func subscribedToAll(ctx context.Context) error {
	w := getWorld(ctx)
	return eachNode(w.nodes, func(n *peers.Node) error {
		_, err := n.Command(ctx, "wait-subscribed 1")
		return err
	})
}

// eachNode runs f for every node at once (nodes record incidents one after
// the other, each taking its trailing window: side by side is quicker).
func eachNode(nodes []*peers.Node, f func(*peers.Node) error) error {
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() {
			if err := f(n); err != nil {
				errs[i] = fmt.Errorf("node %s: %w", n.Name, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// record makes n record count incidents, one after the other.
func (w *world) record(ctx context.Context, n *peers.Node, count int) error {
	for i := range count {
		ans, err := n.Command(ctx, fmt.Sprintf("incident fault-%d", i+1))
		if err != nil {
			return err
		}
		name, _ := ans["incident"].(string)
		if name == "" {
			return fmt.Errorf("the node answered the incident command without a name: %v", ans)
		}
		w.mu.Lock()
		if w.last == nil {
			w.last = map[string]string{}
		}
		w.last[n.Name] = name
		w.mu.Unlock()
	}
	return nil
}

// nodeCommandStep is a step that sends one control command to a node.
func nodeCommandStep(line string) func(context.Context, string) error {
	return func(ctx context.Context, name string) error {
		n, err := getWorld(ctx).nodeNamed(name)
		if err != nil {
			return err
		}
		_, err = n.Command(ctx, line)
		return err
	}
}

func oneNodeRecordsOne(ctx context.Context, name string) error {
	return oneNodeRecords(ctx, name, 1)
}

// lastIncident is the name of the incident a node recorded last.
func (w *world) lastIncident(node string) (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	name, ok := w.last[node]
	if !ok {
		return "", fmt.Errorf("node %q has recorded no incident in this scenario", node)
	}
	return name, nil
}

// fetchingLast waits until the gatherer logs that it asks the node for its
// last incident ("fetching incident NAME", printed by both implementations
// as they send get_incident).
func fetchingLast(ctx context.Context, node string) error {
	w := getWorld(ctx)
	name, err := w.lastIncident(node)
	if err != nil {
		return err
	}
	return waitTwistdLog(ctx, w.gatherer, "fetching incident "+name)
}

func fetchedTwice(ctx context.Context, node string) error {
	w := getWorld(ctx)
	name, err := w.lastIncident(node)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(filepath.Join(w.gatherer.Dir, "twistd.log"))
	if err != nil {
		return fmt.Errorf("read the gatherer's twistd.log: %w", err)
	}
	if c := strings.Count(string(b), "fetching incident "+name+"\n"); c != 2 {
		return fmt.Errorf("the gatherer's twistd.log says %d times that it fetches %s, want twice (once cut short by the kill, once after the restart)", c, name)
	}
	return nil
}

func eachNodeRecordedOne(ctx context.Context) error {
	w := getWorld(ctx)
	if err := eachNode(w.nodes, func(n *peers.Node) error { return w.record(ctx, n, 1) }); err != nil {
		return err
	}
	return w.waitExactlyOnce(ctx)
}

func eachNodeRecords(ctx context.Context, count int) error {
	w := getWorld(ctx)
	return eachNode(w.nodes, func(n *peers.Node) error { return w.record(ctx, n, count) })
}

func oneNodeRecords(ctx context.Context, name string, count int) error {
	w := getWorld(ctx)
	n, err := w.nodeNamed(name)
	if err != nil {
		return err
	}
	return w.record(ctx, n, count)
}

// inflict applies a fault named as the feature names it to p.
func (w *world) inflict(ctx context.Context, p peers.Peer, fault string) error {
	f, err := w.faults()
	if err != nil {
		return err
	}
	switch fault {
	case "paused":
		return f.Pause(ctx, p)
	case "resumed":
		return f.Unpause(ctx, p)
	case "killed":
		return f.Kill(ctx, p)
	case "taken off the network":
		return f.Disconnect(ctx, p)
	case "put back on the network":
		return f.Reconnect(ctx, p)
	}
	return fmt.Errorf("no fault %q", fault)
}

func faultGatherer(ctx context.Context, fault string) error {
	w := getWorld(ctx)
	if w.gatherer == nil {
		return errNoGatherer
	}
	return w.inflict(ctx, w.gatherer, fault)
}

func faultNode(ctx context.Context, name, fault string) error {
	w := getWorld(ctx)
	n, err := w.nodeNamed(name)
	if err != nil {
		return err
	}
	return w.inflict(ctx, n, fault)
}

func runNodeAgain(ctx context.Context, name string) error {
	w := getWorld(ctx)
	n, err := w.nodeNamed(name)
	if err != nil {
		return err
	}
	f, err := w.faults()
	if err != nil {
		return err
	}
	return f.RunNode(ctx, n)
}

// nodeBack checks that a node started again kept its identity (the tubid
// it answers with) and its incident directory.
func nodeBack(ctx context.Context, name string, count int) error {
	w := getWorld(ctx)
	n, err := w.nodeNamed(name)
	if err != nil {
		return err
	}
	info, err := n.Command(ctx, "info")
	if err != nil {
		return err
	}
	if tubid, _ := info["tubid"].(string); tubid != n.TubID {
		return fmt.Errorf("node %s answers with tubid %q, it had %q", name, tubid, n.TubID)
	}
	names, err := nodeIncidents(n)
	if err != nil {
		return err
	}
	if len(names) != count {
		return fmt.Errorf("node %s holds %d incidents, want %d: %q", name, len(names), count, names)
	}
	return nil
}

// nodeIncidents lists the incidents a node holds: the names of the whole
// incident files in its incident directory (the one the node offers them
// from), sorted.
func nodeIncidents(n *peers.Node) ([]string, error) {
	m, err := filepath.Glob(filepath.Join(n.IncidentDir(), "incident-*.flog.bz2"))
	if err != nil {
		return nil, fmt.Errorf("list the incidents of node %s: %w", n.Name, err)
	}
	names := make([]string, len(m))
	for i, p := range m {
		names[i] = strings.TrimSuffix(filepath.Base(p), incidentSuffix)
	}
	slices.Sort(names)
	return names, nil
}

const incidentSuffix = ".flog.bz2"

func storedExactlyOnce(ctx context.Context) error {
	return getWorld(ctx).waitExactlyOnce(ctx)
}

// permanent marks a finding of the exactly-once check that waiting cannot
// undo (a second copy, a second listing).
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// waitExactlyOnce waits until the gatherer holds every incident of every
// node exactly once, failing at once on a finding that cannot go away.
func (w *world) waitExactlyOnce(ctx context.Context) error {
	var verdict error
	err := peers.WaitFor(ctx, "every incident of every node to be stored exactly once", func(context.Context) (bool, error) {
		err := w.checkExactlyOnce()
		var p permanent
		if errors.As(err, &p) {
			verdict = err
			return true, nil
		}
		return err == nil, err
	})
	if verdict != nil {
		return verdict
	}
	return err
}

// checkExactlyOnce is the operator's exactly-once check: for every node,
// each incident in its incident directory is stored under
// incidents/<tubid>/ as <name>.flog.bz2, whole (its events all there), and
// listed once in classified/; latest names the newest; and the gatherer's
// incidents/ and classified/ hold nothing else (no temporary file, no
// directory of a tubid no node has, no incident no node holds).
func (w *world) checkExactlyOnce() error {
	g := w.gatherer
	if g == nil {
		return errNoGatherer
	}
	want := map[string][]string{} // tubid -> incident names
	nodeOf := map[string]*peers.Node{}
	for _, n := range w.nodes {
		names, err := nodeIncidents(n)
		if err != nil {
			return err
		}
		want[n.TubID] = names
		nodeOf[n.TubID] = n
	}
	incidents := filepath.Join(g.Dir, "incidents")
	dirs, err := os.ReadDir(incidents)
	if err != nil {
		return fmt.Errorf("read the gatherer's incidents directory: %w", err)
	}
	for _, d := range dirs {
		if _, ok := want[d.Name()]; !ok || !d.IsDir() {
			return permanent{fmt.Errorf("incidents/%s: no node has that tubid (a node stored under a second identity, or a stray file)", d.Name())}
		}
	}
	listed, err := classifiedCounts(filepath.Join(g.Dir, "classified"))
	if err != nil {
		return err
	}
	stored := map[string]bool{}
	for _, tubid := range slices.Sorted(maps.Keys(want)) {
		names := want[tubid]
		dir := filepath.Join(incidents, tubid)
		entries, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("node %s: %w", nodeOf[tubid].Name, err)
		}
		for _, e := range entries {
			name, isIncident := strings.CutSuffix(e.Name(), incidentSuffix)
			switch {
			case e.Name() == "latest":
			case isIncident && strings.HasPrefix(name, "incident-") && slices.Contains(names, name):
				stored["incidents/"+tubid+"/"+e.Name()] = true
			case isIncident && strings.HasPrefix(name, "incident-"):
				return permanent{fmt.Errorf("incidents/%s/%s: node %s holds no such incident", tubid, e.Name(), nodeOf[tubid].Name)}
			default:
				return fmt.Errorf("incidents/%s/%s: a file that is neither an incident nor latest (a temporary file left behind?)", tubid, e.Name())
			}
		}
		for _, name := range names {
			rel := "incidents/" + tubid + "/" + name + incidentSuffix
			if !stored[rel] {
				return fmt.Errorf("node %s: incident %s is not stored (want %s)", nodeOf[tubid].Name, name, rel)
			}
			if err := sameEvents(filepath.Join(nodeOf[tubid].IncidentDir(), name+incidentSuffix), filepath.Join(g.Dir, filepath.FromSlash(rel))); err != nil {
				return fmt.Errorf("node %s: %w", nodeOf[tubid].Name, err)
			}
			if n := listed[rel]; n != 1 {
				return fmt.Errorf("%s is listed %d times in classified/, want once", rel, n)
			}
		}
		if len(names) > 0 {
			b, err := os.ReadFile(filepath.Join(dir, "latest"))
			if err != nil {
				return fmt.Errorf("node %s: read latest: %w", nodeOf[tubid].Name, err)
			}
			if newest := names[len(names)-1]; string(b) != newest+"\n" {
				return fmt.Errorf("incidents/%s/latest holds %q, want the newest incident %q", tubid, b, newest+"\n")
			}
		}
	}
	for _, rel := range slices.Sorted(maps.Keys(listed)) {
		if !stored[rel] {
			return fmt.Errorf("classified/ lists %s, which is not stored", rel)
		}
	}
	return nil
}

// classifiedCounts counts how many times classified/* lists each path. A
// path listed twice is a permanent failure; a file in classified/ that is
// not a category (a temporary file) is reported until it goes.
func classifiedCounts(dir string) (map[string]int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read the gatherer's classified directory: %w", err)
	}
	counts := map[string]int{}
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") || strings.Contains(e.Name(), "tmp") {
			return nil, fmt.Errorf("classified/%s: not a category file (a temporary file left behind?)", e.Name())
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read classified/%s: %w", e.Name(), err)
		}
		seen := map[string]bool{}
		for _, l := range strings.Split(string(b), "\n") {
			if l == "" {
				continue
			}
			if seen[l] {
				return nil, permanent{fmt.Errorf("classified/%s lists %s twice", e.Name(), l)}
			}
			seen[l] = true
			counts[l]++
		}
	}
	return counts, nil
}

// sameEvents checks that the gatherer's copy is whole: it decompresses, and
// holds the header and as many events as the node's own file.
func sameEvents(original, copied string) error {
	a, err := readFlog(original)
	if err != nil {
		return fmt.Errorf("read the node's incident: %w", err)
	}
	b, err := readFlog(copied)
	if err != nil {
		return fmt.Errorf("read the gatherer's copy: %w", err)
	}
	if len(a) != len(b) {
		return fmt.Errorf("%s holds %d lines, the node's incident %d", copied, len(b), len(a))
	}
	return nil
}

// connectedOnce checks that each node reached the gatherer on one
// connection only: both implementations log "connected to <tubid>, last
// known incident is ..." at every connection of a node.
func connectedOnce(ctx context.Context) error {
	w := getWorld(ctx)
	b, err := os.ReadFile(filepath.Join(w.gatherer.Dir, "twistd.log"))
	if err != nil {
		return fmt.Errorf("read the gatherer's twistd.log: %w", err)
	}
	for _, n := range w.nodes {
		if c := strings.Count(string(b), "connected to "+n.TubID+", last known incident is "); c != 1 {
			return fmt.Errorf("the gatherer's twistd.log says node %s (%s) connected %d times, want once", n.Name, n.TubID, c)
		}
	}
	return nil
}
