package steps

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cucumber/godog"

	"github.com/gatherer/gatherer/conformance/peers"
)

// incidentSteps registers the steps of features/incident_gatherer.feature.
func incidentSteps(sc *godog.ScenarioContext) {
	sc.Step(`^an incident gatherer whose location is a host name has been created and started$`, startHostNameGatherer)
	sc.Step(`^a python-foolscap (\S+) node that offers its logs to the (?:incident|log) gatherer$`, startNode)
	sc.Step(`^the incident gatherer has subscribed to the node's incidents$`, gathererSubscribed)
	sc.Step(`^the node records an incident$`, nodeRecordsIncident)
	sc.Step(`^a Tahoe node whose log_gatherer\.furl points at the incident gatherer$`, startTahoe)
	sc.Step(`^an operator saves an incident report with "curl --data ([^"]*)"$`, reportIncident)
	sc.Step(`^the incident gatherer keeps a copy of that incident under the (?:node's tubid|tubid of the node's log Tub)$`, incidentCopied)
	sc.Step(`^the copy's trigger is the web page's incident report with details "([^"]*)"$`, triggerIsWebReport)
	sc.Step(`^the incident is listed in the "([^"]+)" classification$`, incidentClassified)
	sc.Step(`^the Tahoe node is restarted$`, restartTahoe)
	sc.Step(`^the incident gatherer's twistd\.log says the node connected again under its new tubid$`, reconnectedLogged)
	sc.Step(`^the incident offered again is handled as the implementation documents$`, reofferedIncident)
	sc.Step(`^the incident gatherer's twistd\.log says it connected to the node and fetched the incident$`, twistdLogTells)
	sc.Step(`^the incident gatherer remembers that incident as the node's latest$`, latestIncident)
	sc.Step(`^"ls -lart incidents classified" in the gatherer's directory shows the node's directory, its incident and latest, and the "unknown" classification$`, layoutAsListed)
	sc.Step(`^the incident gatherer is stopped$`, stopGatherer)
	sc.Step(`^the incident gatherer is started again$`, runGatherer)
	sc.Step(`^the other implementation's incident gatherer has been created and started too$`, startOtherGatherer)
	sc.Step(`^a python-foolscap (\S+) node that offers its logs to both incident gatherers$`, startNodeForBoth)
	sc.Step(`^both incident gatherers have subscribed to the node's incidents$`, bothSubscribed)
	sc.Step(`^both incident gatherers keep a copy of that incident under the node's tubid$`, bothCopied)
	sc.Step(`^the two copies are identical apart from their rx_time$`, copiesIdentical)
	sc.Step(`^the operator points the Tahoe node's log_gatherer\.furl at the other incident gatherer and restarts the node$`, moveTahoeToOther)
	sc.Step(`^the other incident gatherer keeps a copy of that incident under the tubid of the node's log Tub$`, otherCopied)
	sc.Step(`^the two copies are identical apart from their rx_time and the log Tub's tubid$`, copiesIdenticalAcrossRestart)
}

func startHostNameGatherer(ctx context.Context) error {
	return getWorld(ctx).startGatherer(ctx, peers.GathererSpec{Name: "incident-gatherer", Kind: peers.KindIncident, HostName: true})
}

func (w *world) startGatherer(ctx context.Context, spec peers.GathererSpec) error {
	g, err := w.driver.StartGatherer(ctx, spec)
	if err != nil {
		return err
	}
	w.gatherer = g
	return nil
}

func stopGatherer(ctx context.Context) error {
	return getWorld(ctx).gatherer.Stop(ctx)
}

func runGatherer(ctx context.Context) error {
	w := getWorld(ctx)
	return w.driver.RunGatherer(ctx, w.gatherer)
}

// twistdLogTells checks the lines python-foolscap's incident gatherer prints
// (shared/foolscap/gatherers.md 5.5), whatever the logging system prefix.
func twistdLogTells(ctx context.Context) error {
	w := getWorld(ctx)
	for _, line := range []string{
		"connected to " + w.publisher + ", last known incident is ",
		"fetching incident " + w.incident,
		"classified incidents/" + w.publisher + "/" + w.incident + ".flog.bz2 as [unknown]",
	} {
		if err := waitTwistdLog(ctx, w.gatherer, line); err != nil {
			return err
		}
	}
	return nil
}

func startNode(ctx context.Context, foolscap string) error {
	w := getWorld(ctx)
	if w.gatherer == nil {
		return errNoGatherer
	}
	return w.startNode(ctx, foolscap, w.gatherer.FURL)
}

func (w *world) startNode(ctx context.Context, foolscap string, furls ...string) error {
	n, err := w.driver.StartNode(ctx, peers.NodeSpec{Name: "node", Foolscap: foolscap, Gatherers: furls})
	if err != nil {
		return err
	}
	w.node = n
	w.publisher = n.TubID
	return nil
}

func gathererSubscribed(ctx context.Context) error {
	_, err := getWorld(ctx).node.Command(ctx, "wait-subscribed 1")
	return err
}

func startOtherGatherer(ctx context.Context) error {
	w := getWorld(ctx)
	other := peers.ImplGo
	if w.cfg.Impl == peers.ImplGo {
		other = peers.ImplPython
	}
	g, err := w.driver.StartGatherer(ctx, peers.GathererSpec{Name: "other-incident-gatherer", Kind: peers.KindIncident, Impl: other})
	if err != nil {
		return err
	}
	w.other = g
	return nil
}

func startNodeForBoth(ctx context.Context, foolscap string) error {
	w := getWorld(ctx)
	if w.gatherer == nil || w.other == nil {
		return errNoGatherer
	}
	return w.startNode(ctx, foolscap, w.gatherer.FURL, w.other.FURL)
}

func bothSubscribed(ctx context.Context) error {
	_, err := getWorld(ctx).node.Command(ctx, "wait-subscribed 2")
	return err
}

func bothCopied(ctx context.Context) error {
	w := getWorld(ctx)
	for _, g := range []*peers.Gatherer{w.gatherer, w.other} {
		if err := waitCopy(ctx, g, w.publisher, w.incident); err != nil {
			return err
		}
	}
	return nil
}

func copiesIdentical(ctx context.Context) error {
	w := getWorld(ctx)
	a, err := normalizedFlog(copyPath(w.gatherer, w.publisher, w.incident))
	if err != nil {
		return err
	}
	b, err := normalizedFlog(copyPath(w.other, w.publisher, w.incident))
	if err != nil {
		return err
	}
	return sameLines(w.gatherer.Impl, a, w.other.Impl, b)
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

func reportIncident(ctx context.Context, data string) error {
	w := getWorld(ctx)
	out, err := w.tahoe.ReportIncident(ctx, data)
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
	return waitCopy(ctx, w.gatherer, w.publisher, w.incident)
}

// copyPath is where a gatherer keeps its copy of a publisher's incident.
func copyPath(g *peers.Gatherer, publisher, incident string) string {
	return filepath.Join(g.Dir, "incidents", publisher, incident+".flog.bz2")
}

// waitCopy waits until g's copy of the incident is complete: it decompresses
// and holds a header (a gatherer may still be writing it when it appears).
func waitCopy(ctx context.Context, g *peers.Gatherer, publisher, incident string) error {
	path := copyPath(g, publisher, incident)
	return peers.WaitFor(ctx, fmt.Sprintf("the %s gatherer to write %s", g.Impl, path), func(context.Context) (bool, error) {
		if _, err := os.Stat(path); err != nil {
			return false, nil
		}
		_, err := readFlog(path)
		return err == nil, err
	})
}

func triggerIsWebReport(ctx context.Context, details string) error {
	w := getWorld(ctx)
	h, err := readFlogHeader(copyPath(w.gatherer, w.publisher, w.incident))
	if err != nil {
		return err
	}
	tr := h.Header.Trigger
	const format = "User reports incident through web page: %(details)s"
	if tr.Umid != "LkD9Pw" || tr.Format != format || tr.Details == nil || *tr.Details != details || h.Header.Type != "incident" {
		return fmt.Errorf("the copy's header is %+v; want an incident triggered by umid LkD9Pw, format %q, details %q", h.Header, format, details)
	}
	return nil
}

func restartTahoe(ctx context.Context) error {
	w := getWorld(ctx)
	old := w.publisher
	if err := w.driver.RestartTahoe(ctx, w.tahoe); err != nil {
		return err
	}
	w.publisher = w.tahoe.LogTubID()
	if w.publisher == old {
		return fmt.Errorf("the node's log Tub kept its tubid %s across the restart", old)
	}
	w.previous = append(w.previous, old)
	return nil
}

// latestIncident checks incidents/<tubid>/latest: the name of the last
// incident saved for that publisher and a newline (gatherers.md 5.1).
func latestIncident(ctx context.Context) error {
	w := getWorld(ctx)
	path := filepath.Join(w.gatherer.Dir, "incidents", w.publisher, "latest")
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read the publisher's latest file: %w", err)
	}
	if string(b) != w.incident+"\n" {
		return fmt.Errorf("%s holds %q, want %q", path, b, w.incident+"\n")
	}
	return nil
}

func reconnectedLogged(ctx context.Context) error {
	w := getWorld(ctx)
	return waitTwistdLog(ctx, w.gatherer, "connected to "+w.publisher+", last known incident is ")
}

// reofferedIncident checks what each implementation documents for an
// incident offered again by the same node under a new tubid.
func reofferedIncident(ctx context.Context) error {
	w := getWorld(ctx)
	if len(w.previous) == 0 {
		return fmt.Errorf("no earlier publisher in this scenario")
	}
	first := "incidents/" + w.previous[len(w.previous)-1] + "/" + w.incident + ".flog.bz2"
	second := "incidents/" + w.publisher + "/" + w.incident + ".flog.bz2"
	unknown := filepath.Join(w.gatherer.Dir, "classified", "unknown")
	if w.gatherer.Impl == peers.ImplPython {
		// python-foolscap: a second copy, listed a second time.
		if err := waitCopy(ctx, w.gatherer, w.publisher, w.incident); err != nil {
			return err
		}
		return waitLines(ctx, unknown, first, second)
	}
	// Ours: recognised as the copy it holds, so neither fetched nor listed again.
	if err := waitTwistdLog(ctx, w.gatherer, "incident "+w.incident+" is already stored as "+first); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(w.gatherer.Dir, filepath.FromSlash(second))); err == nil {
		return fmt.Errorf("our gatherer stored a second copy %s", second)
	}
	b, err := os.ReadFile(unknown)
	if err != nil {
		return fmt.Errorf("read the classification: %w", err)
	}
	if n := strings.Count(string(b), w.incident); n != 1 {
		return fmt.Errorf("classified/unknown names the incident %d times, want once:\n%s", n, b)
	}
	return nil
}

// waitTwistdLog waits until g's twistd.log holds a line containing text.
func waitTwistdLog(ctx context.Context, g *peers.Gatherer, text string) error {
	path := filepath.Join(g.Dir, "twistd.log")
	return peers.WaitFor(ctx, fmt.Sprintf("%s to hold %q", path, text), func(context.Context) (bool, error) {
		b, err := os.ReadFile(path)
		return err == nil && strings.Contains(string(b), text), nil
	})
}

// waitLines waits until every one of lines is a line of the file at path.
func waitLines(ctx context.Context, path string, lines ...string) error {
	return peers.WaitFor(ctx, fmt.Sprintf("the lines %q in %s", lines, path), func(context.Context) (bool, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return false, nil
		}
		have := strings.Split(string(b), "\n")
		for _, l := range lines {
			if !slices.Contains(have, l) {
				return false, nil
			}
		}
		return true, nil
	})
}

func incidentClassified(ctx context.Context, category string) error {
	w := getWorld(ctx)
	return waitLines(ctx, filepath.Join(w.gatherer.Dir, "classified", category),
		"incidents/"+w.publisher+"/"+w.incident+".flog.bz2")
}

// moveTahoeToOther is the operator moving a Tahoe node from one gatherer to
// the other: a Tahoe node takes a single log_gatherer.furl.
func moveTahoeToOther(ctx context.Context) error {
	w := getWorld(ctx)
	if w.other == nil || w.tahoe == nil {
		return fmt.Errorf("the scenario needs a Tahoe node and the other implementation's gatherer")
	}
	if err := w.tahoe.SetLogGatherer(w.other.FURL); err != nil {
		return err
	}
	return restartTahoe(ctx)
}

func otherCopied(ctx context.Context) error {
	w := getWorld(ctx)
	return waitCopy(ctx, w.other, w.publisher, w.incident)
}

// copiesIdenticalAcrossRestart compares the first gatherer's copy (made
// under the log Tub's tubid before the restart) with the other's (under the
// new one): the same node file, so the same lines but for rx_time and the
// "from" tubid each gatherer saw.
func copiesIdenticalAcrossRestart(ctx context.Context) error {
	w := getWorld(ctx)
	if len(w.previous) == 0 {
		return fmt.Errorf("no earlier publisher in this scenario")
	}
	before := w.previous[len(w.previous)-1]
	a, err := normalizedFlog(copyPath(w.gatherer, before, w.incident))
	if err != nil {
		return err
	}
	b, err := normalizedFlog(copyPath(w.other, w.publisher, w.incident))
	if err != nil {
		return err
	}
	for i := range a {
		a[i] = strings.ReplaceAll(a[i], `"from": "`+before+`"`, `"from": "TUBID"`)
	}
	for i := range b {
		b[i] = strings.ReplaceAll(b[i], `"from": "`+w.publisher+`"`, `"from": "TUBID"`)
	}
	return sameLines(w.gatherer.Impl, a, w.other.Impl, b)
}

// layoutAsListed runs the operators' "ls -lart incidents classified" in the
// gatherer's directory and checks what it shows: incidents/ holding one
// directory per publisher tubid, which holds the incident file and latest
// (plain files), and classified/ holding the category file. Nothing else
// (no temporary files) may be left there.
func layoutAsListed(ctx context.Context) error {
	w := getWorld(ctx)
	cmd := exec.CommandContext(ctx, "ls", "-lart", "incidents", "classified", filepath.Join("incidents", w.publisher))
	cmd.Dir = w.gatherer.Dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("ls -lart incidents classified: %w\n%s", err, out)
	}
	// Entries per listed directory: "name type", type d or -.
	got := map[string][]string{}
	section := ""
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasSuffix(l, ":") {
			section = strings.TrimSuffix(l, ":")
			continue
		}
		f := strings.Fields(l)
		if len(f) < 9 || f[8] == "." || f[8] == ".." {
			continue
		}
		got[section] = append(got[section], f[8]+" "+f[0][:1])
	}
	want := map[string][]string{
		"incidents":                {w.publisher + " d"},
		"classified":               {"unknown -"},
		"incidents/" + w.publisher: {w.incident + ".flog.bz2 -", "latest -"},
	}
	for dir, entries := range want {
		have := append([]string(nil), got[dir]...)
		slices.Sort(have)
		if !slices.Equal(have, entries) {
			return fmt.Errorf("ls -lart shows %s holding %q, want %q; the listing:\n%s", dir, have, entries, out)
		}
	}
	return nil
}
