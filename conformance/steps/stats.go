package steps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cucumber/godog"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/gatherer/gatherer/conformance/peers"
)

// statsSteps registers the steps of features/stats_gatherer.feature.
func statsSteps(sc *godog.ScenarioContext) {
	sc.Step(`^a stats gatherer that polls every second has been created and started$`, startPollingStatsGatherer)
	sc.Step(`^a python-foolscap (\S+) node "([^"]+)" whose stats_gatherer\.furl points at the stats gatherer(| and that answers get_stats\(\) with malformed stats| and that sends its names as text)$`, startStatsProvider)
	sc.Step(`^stats\.json holds the stats of "([^"]+)" under its tubid, with its nickname, counters and stats$`, statsRecorded)
	sc.Step(`^the stats gatherer has asked "([^"]+)" for its stats (\d+) times$`, statsAsked)
	sc.Step(`^stats\.json has no entry for "([^"]+)"$`, statsNoEntry)
	sc.Step(`^the stats gatherer's twistd\.log says it skipped a malformed answer from "([^"]+)"$`, statsMalformedLogged)
	sc.Step(`^"([^"]+)" goes away$`, statsProviderGone)
	sc.Step(`^/metrics marks the entry of "([^"]+)" as stale$`, statsMarkedStale)
	sc.Step(`^stats\.json keeps the last entry of "([^"]+)", from before it went away, while the entry of "([^"]+)" is refreshed$`, statsKeptStale)
	sc.Step(`^the stats gatherer is restarted$`, statsGathererRestarted)
	sc.Step(`^the stats gatherer's FURL is unchanged$`, statsFURLUnchanged)
	sc.Step(`^"([^"]+)" provides its stats again: its entry in stats\.json is refreshed after the restart$`, statsProvidedAgain)
	sc.Step(`^an operator reads the stats gatherer's /metrics$`, readMetrics)
	sc.Step(`^the metrics carry the counters and stats of "([^"]+)", labelled with its nickname and tubid$`, metricsCarryNode)
	sc.Step(`^an operator lists the node's web URL in the stats gatherer's web_nodes, with the nickname "([^"]+)"$`, listWebNode)
	sc.Step(`^stats\.json holds the node's /statistics under its web URL, with the nickname "([^"]+)"$`, webNodeRecorded)
}

// What pystats.py answers get_stats() with (its tahoe_stats), as the checks
// expect to find it again in stats.json and /metrics.
const (
	pystatsFilesUploaded = 3
	pystatsDiskAvail     = 83842835968
)

func startPollingStatsGatherer(ctx context.Context) error {
	return getWorld(ctx).startGatherer(ctx, peers.GathererSpec{Name: "stats-gatherer", Kind: peers.KindStats,
		PollInterval: time.Second, Metrics: true})
}

func startStatsProvider(ctx context.Context, foolscap, nickname, behaviour string) error {
	w := getWorld(ctx)
	if w.gatherer == nil || w.gatherer.Kind != peers.KindStats {
		return errors.New("no stats gatherer in this scenario (missing Background step?)")
	}
	spec := peers.StatsProviderSpec{Name: nickname, Foolscap: foolscap, Gatherer: w.gatherer.FURL, Nickname: nickname}
	switch {
	case strings.Contains(behaviour, "malformed"):
		spec.Malformed = "not-a-dict"
	case strings.Contains(behaviour, "as text"):
		spec.StrKeys = true // a Python 3 node; Tahoe on Python 2 sent bytes
	}
	p, err := w.driver.StartStatsProvider(ctx, spec)
	if err != nil {
		return err
	}
	if w.providers == nil {
		w.providers = map[string]*peers.StatsProvider{}
	}
	w.providers[nickname] = p
	return nil
}

func (w *world) provider(nickname string) (*peers.StatsProvider, error) {
	p, ok := w.providers[nickname]
	if !ok {
		return nil, fmt.Errorf("no node %q in this scenario", nickname)
	}
	return p, nil
}

// statsEntry is one entry of stats.json: {"timestamp", "nickname", "stats"}.
type statsEntry struct {
	Timestamp float64                   `json:"timestamp"`
	Nickname  string                    `json:"nickname"`
	Stats     map[string]map[string]any `json:"stats"`
}

func (e statsEntry) String() string {
	b, _ := json.Marshal(e)
	return string(b)
}

// readStatsFile reads the gatherer's stats.json (nil while it does not exist).
func readStatsFile(g *peers.Gatherer) (map[string]statsEntry, error) {
	b, err := os.ReadFile(filepath.Join(g.Dir, "stats.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read stats.json: %w", err)
	}
	var m map[string]statsEntry
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("stats.json is not the JSON of {id: {timestamp, nickname, stats}}: %w\n%s", err, b)
	}
	return m, nil
}

// waitStatsEntry waits until stats.json has an entry under id for which ok
// holds, and returns it.
func waitStatsEntry(ctx context.Context, g *peers.Gatherer, what, id string, ok func(statsEntry) error) (statsEntry, error) {
	var found statsEntry
	err := peers.WaitFor(ctx, fmt.Sprintf("stats.json to hold %s under %s", what, id), func(context.Context) (bool, error) {
		m, err := readStatsFile(g)
		if err != nil || m == nil {
			return false, err
		}
		e, present := m[id]
		if !present {
			return false, fmt.Errorf("no entry under %s yet", id)
		}
		if err := ok(e); err != nil {
			return false, fmt.Errorf("entry %s: %w", e, err)
		}
		found = e
		return true, nil
	})
	return found, err
}

// isPystatsEntry checks an entry against what pystats.py answers.
func isPystatsEntry(nickname string) func(statsEntry) error {
	return func(e statsEntry) error {
		switch {
		case e.Nickname != nickname:
			return fmt.Errorf("nickname %q, want %q", e.Nickname, nickname)
		case e.Timestamp <= 0:
			return errors.New("no timestamp")
		case e.Stats["counters"]["uploader.files_uploaded"] != float64(pystatsFilesUploaded):
			return fmt.Errorf("counters[uploader.files_uploaded] is %v, want %d", e.Stats["counters"]["uploader.files_uploaded"], pystatsFilesUploaded)
		case e.Stats["stats"]["storage_server.disk_avail"] != float64(pystatsDiskAvail):
			return fmt.Errorf("stats[storage_server.disk_avail] is %v, want %d", e.Stats["stats"]["storage_server.disk_avail"], pystatsDiskAvail)
		}
		return nil
	}
}

func statsRecorded(ctx context.Context, nickname string) error {
	w := getWorld(ctx)
	p, err := w.provider(nickname)
	if err != nil {
		return err
	}
	_, err = waitStatsEntry(ctx, w.gatherer, "the stats of "+nickname, p.TubID, isPystatsEntry(nickname))
	return err
}

func statsAsked(ctx context.Context, nickname, times string) error {
	w := getWorld(ctx)
	p, err := w.provider(nickname)
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(times)
	if err != nil {
		return err
	}
	return peers.WaitFor(ctx, fmt.Sprintf("%s to have answered get_stats() %d times", nickname, n), func(ctx context.Context) (bool, error) {
		calls, err := p.Calls(ctx)
		return err == nil && calls >= n, err
	})
}

func statsNoEntry(ctx context.Context, nickname string) error {
	w := getWorld(ctx)
	p, err := w.provider(nickname)
	if err != nil {
		return err
	}
	m, err := readStatsFile(w.gatherer)
	if err != nil {
		return err
	}
	if e, ok := m[p.TubID]; ok {
		return fmt.Errorf("stats.json has an entry for %s under %s: %s", nickname, p.TubID, e)
	}
	return nil
}

func statsMalformedLogged(ctx context.Context, nickname string) error {
	w := getWorld(ctx)
	p, err := w.provider(nickname)
	if err != nil {
		return err
	}
	return waitTwistdLine(ctx, w.gatherer, "skipping a malformed get_stats() answer", p.TubID)
}

// waitTwistdLine waits until one line of g's twistd.log contains every part.
func waitTwistdLine(ctx context.Context, g *peers.Gatherer, parts ...string) error {
	path := filepath.Join(g.Dir, "twistd.log")
	return peers.WaitFor(ctx, fmt.Sprintf("a line of %s holding %q", path, parts), func(context.Context) (bool, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return false, nil
		}
	lines:
		for _, line := range strings.Split(string(b), "\n") {
			for _, p := range parts {
				if !strings.Contains(line, p) {
					continue lines
				}
			}
			return true, nil
		}
		return false, nil
	})
}

func statsProviderGone(ctx context.Context, nickname string) error {
	w := getWorld(ctx)
	p, err := w.provider(nickname)
	if err != nil {
		return err
	}
	if err := p.Stop(ctx); err != nil {
		return err
	}
	w.goneAt = time.Now()
	return nil
}

// metricValue returns the value of family's sample labelled tubid, parsing
// text with the Prometheus text parser.
func metricValue(text, family, tubid string) (float64, string, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		return 0, "", fmt.Errorf("parse /metrics: %w", err)
	}
	f, ok := fams[family]
	if !ok {
		return 0, "", fmt.Errorf("/metrics has no family %s", family)
	}
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["tubid"] == tubid {
			return sampleValue(m), labels["nickname"], nil
		}
	}
	return 0, "", fmt.Errorf("/metrics family %s has no sample labelled tubid=%q", family, tubid)
}

func sampleValue(m *dto.Metric) float64 {
	switch {
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetUntyped() != nil:
		return m.GetUntyped().GetValue()
	}
	return math.NaN()
}

func statsMarkedStale(ctx context.Context, nickname string) error {
	w := getWorld(ctx)
	p, err := w.provider(nickname)
	if err != nil {
		return err
	}
	return peers.WaitFor(ctx, "/metrics to mark "+nickname+" stale (tahoe_node_stale 1)", func(ctx context.Context) (bool, error) {
		text, err := w.gatherer.Metrics(ctx)
		if err != nil {
			return false, err
		}
		v, nick, err := metricValue(text, "tahoe_node_stale", p.TubID)
		if err != nil {
			return false, err
		}
		if nick != nickname {
			return false, fmt.Errorf("tahoe_node_stale of %s is labelled nickname=%q", p.TubID, nick)
		}
		return v == 1, nil
	})
}

func statsKeptStale(ctx context.Context, gone, live string) error {
	w := getWorld(ctx)
	pg, err := w.provider(gone)
	if err != nil {
		return err
	}
	pl, err := w.provider(live)
	if err != nil {
		return err
	}
	if w.goneAt.IsZero() {
		return fmt.Errorf("%s has not gone away in this scenario", gone)
	}
	goneAt := float64(w.goneAt.UnixNano()) / 1e9
	// A rewrite of stats.json after the node went away...
	_, err = waitStatsEntry(ctx, w.gatherer, "an entry of "+live+" refreshed after "+gone+" went away", pl.TubID, func(e statsEntry) error {
		if e.Timestamp <= goneAt {
			return fmt.Errorf("timestamp %f is not after %f", e.Timestamp, goneAt)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// ...still holds the gone node's last entry, with its old timestamp.
	m, err := readStatsFile(w.gatherer)
	if err != nil {
		return err
	}
	e, ok := m[pg.TubID]
	if !ok {
		return fmt.Errorf("stats.json lost the entry of %s (%s) once it went away", gone, pg.TubID)
	}
	if err := isPystatsEntry(gone)(e); err != nil {
		return fmt.Errorf("the kept entry of %s: %w", gone, err)
	}
	if e.Timestamp >= goneAt {
		return fmt.Errorf("the kept entry of %s has timestamp %f, not before it went away (%f)", gone, e.Timestamp, goneAt)
	}
	return nil
}

func statsGathererRestarted(ctx context.Context) error {
	w := getWorld(ctx)
	w.oldFURL = w.gatherer.FURL
	if err := w.gatherer.Stop(ctx); err != nil {
		return err
	}
	w.restartedAt = time.Now()
	return w.driver.RunGatherer(ctx, w.gatherer)
}

func statsFURLUnchanged(ctx context.Context) error {
	w := getWorld(ctx)
	if w.oldFURL == "" || w.gatherer.FURL != w.oldFURL {
		return fmt.Errorf("the stats gatherer's FURL was %q before the restart and is %q after", w.oldFURL, w.gatherer.FURL)
	}
	return nil
}

func statsProvidedAgain(ctx context.Context, nickname string) error {
	w := getWorld(ctx)
	p, err := w.provider(nickname)
	if err != nil {
		return err
	}
	after := float64(w.restartedAt.UnixNano()) / 1e9
	_, err = waitStatsEntry(ctx, w.gatherer, "the stats of "+nickname+" refreshed after the restart", p.TubID, func(e statsEntry) error {
		if err := isPystatsEntry(nickname)(e); err != nil {
			return err
		}
		if e.Timestamp <= after {
			return fmt.Errorf("timestamp %f is from before the restart (%f)", e.Timestamp, after)
		}
		return nil
	})
	return err
}

func readMetrics(ctx context.Context) error {
	w := getWorld(ctx)
	text, err := w.gatherer.Metrics(ctx)
	if err != nil {
		return err
	}
	w.metricsText = text
	return nil
}

func metricsCarryNode(ctx context.Context, nickname string) error {
	w := getWorld(ctx)
	p, err := w.provider(nickname)
	if err != nil {
		return err
	}
	for _, want := range []struct {
		family string
		value  float64
	}{
		{"tahoe_counters_uploader_files_uploaded", pystatsFilesUploaded},
		{"tahoe_stats_storage_server_disk_avail", pystatsDiskAvail},
		{"tahoe_node_stale", 0},
	} {
		v, nick, err := metricValue(w.metricsText, want.family, p.TubID)
		if err != nil {
			return fmt.Errorf("%w; /metrics was:\n%s", err, w.metricsText)
		}
		if v != want.value || nick != nickname {
			return fmt.Errorf("%s{nickname=%q,tubid=%q} is %v, want %v labelled nickname=%q", want.family, nick, p.TubID, v, want.value, nickname)
		}
	}
	return nil
}

func listWebNode(ctx context.Context, nickname string) error {
	w := getWorld(ctx)
	if w.tahoe == nil {
		return errors.New("no Tahoe node in this scenario")
	}
	path := filepath.Join(w.gatherer.Dir, "web_nodes")
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("open the web nodes file: %w", err)
	}
	_, err = fmt.Fprintf(f, "%s %s\n", w.tahoe.PeerWebURL, nickname)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write the web nodes file: %w", err)
	}
	return nil
}

func webNodeRecorded(ctx context.Context, nickname string) error {
	w := getWorld(ctx)
	// The gatherer files a web node under its URL, without the final slash.
	id := strings.TrimRight(strings.ToLower(w.tahoe.PeerWebURL), "/")
	_, err := waitStatsEntry(ctx, w.gatherer, "the Tahoe node's /statistics", id, func(e statsEntry) error {
		switch {
		case e.Nickname != nickname:
			return fmt.Errorf("nickname %q, want %q", e.Nickname, nickname)
		case e.Stats["counters"] == nil:
			return errors.New(`no "counters" dict`)
		}
		if up, ok := e.Stats["stats"]["node.uptime"].(float64); !ok || up <= 0 {
			return fmt.Errorf(`stats["node.uptime"] is %v, want Tahoe's uptime in seconds`, e.Stats["stats"]["node.uptime"])
		}
		return nil
	})
	return err
}
