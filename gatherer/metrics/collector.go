package metrics

import (
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// NodeStats is one node's entry as a stats gatherer holds it.
type NodeStats struct {
	// ID is the key of the entry in stats.json: the node's tubid, or the id
	// of a node polled over HTTP. It becomes the "tubid" label.
	ID string
	// Nickname is the node's nickname ("" if unknown).
	Nickname string
	// Timestamp is when the values were received; zero if never.
	Timestamp time.Time
	// Stale is set when the values are no longer refreshed: the node went
	// away, its last poll failed, or they are older than the gatherer allows.
	Stale bool
	// Categories are the node's stats dicts ("counters", "stats", ...) in the
	// order the node sent them.
	Categories []Category
}

// Category is one named dict of a get_stats() answer.
type Category struct {
	Name    string
	Samples []Sample
}

// Sample is one value of a Category. Value is NaN where the node sent None.
type Sample struct {
	Name  string
	Value float64
}

// StatsSource is what the collector reads on every scrape. Implementations
// return a snapshot the collector may keep using without locks.
type StatsSource interface {
	NodeStats() []NodeStats
}

const (
	labelNickname = "nickname"
	labelTubID    = "tubid"
	labelQuantile = "quantile"

	staleName     = "tahoe_node_stale"
	timestampName = "tahoe_node_last_update_timestamp_seconds"

	// sampleHelp is the same for every family: a family name can come from
	// several (category, key) pairs once sanitized, and Prometheus insists
	// that one family has one help text.
	sampleHelp = "Value reported by a Tahoe node (get_stats() or /statistics?t=json), collected by the stats gatherer."
)

// StatsCollector is a prometheus.Collector over the statistics of a stats
// gatherer. It is unchecked (Describe sends nothing) because its families
// depend on what the nodes report.
type StatsCollector struct {
	src StatsSource
	log *slog.Logger
}

// NewStatsCollector returns a collector reading src on every scrape. A nil
// logger discards.
func NewStatsCollector(src StatsSource, logger *slog.Logger) *StatsCollector {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &StatsCollector{src: src, log: logger}
}

// Describe sends nothing: the collector is unchecked.
func (c *StatsCollector) Describe(chan<- *prometheus.Desc) {}

// point is one sample about to be exported.
type point struct {
	family   string
	quantile string
	value    float64
	node     *NodeStats
}

// Collect exports every node's samples plus its staleness and timestamp.
func (c *StatsCollector) Collect(ch chan<- prometheus.Metric) {
	nodes := c.src.NodeStats()
	nodeLabels := []string{labelNickname, labelTubID}
	staleDesc := prometheus.NewDesc(staleName,
		"1 if the node's values are no longer refreshed (node gone, last poll failed, or too old), else 0.",
		nodeLabels, nil)
	tsDesc := prometheus.NewDesc(timestampName,
		"Unix time at which the node's values were received.", nodeLabels, nil)

	var points []point
	withQuantile := make(map[string]bool)
	for i := range nodes {
		n := &nodes[i]
		nick, id := labelValue(n.Nickname), labelValue(n.ID)
		stale := 0.0
		if n.Stale {
			stale = 1
		}
		c.send(ch, staleDesc, prometheus.GaugeValue, stale, nick, id)
		if !n.Timestamp.IsZero() {
			ts := float64(n.Timestamp.UnixNano()) / 1e9
			c.send(ch, tsDesc, prometheus.GaugeValue, ts, nick, id)
		}
		for _, cat := range n.Categories {
			for _, s := range cat.Samples {
				fam, q := FamilyName(cat.Name, s.Name)
				if q != "" {
					withQuantile[fam] = true
				}
				points = append(points, point{family: fam, quantile: q, value: s.Value, node: n})
			}
		}
	}

	descs := make(map[string]*prometheus.Desc)
	seen := make(map[string]struct{}, len(points))
	for _, p := range points {
		hasQ := withQuantile[p.family]
		nick, id := labelValue(p.node.Nickname), labelValue(p.node.ID)
		key := p.family + "\xff" + id + "\xff" + p.quantile
		if _, dup := seen[key]; dup {
			c.log.Debug("two stats keys of one node map to the same metric; keeping the first",
				"family", p.family, "tubid", id)
			continue
		}
		seen[key] = struct{}{}
		desc, ok := descs[p.family]
		if !ok {
			labels := nodeLabels
			if hasQ {
				labels = []string{labelNickname, labelTubID, labelQuantile}
			}
			desc = prometheus.NewDesc(p.family, sampleHelp, labels, nil)
			descs[p.family] = desc
		}
		vt := prometheus.GaugeValue
		if strings.HasPrefix(p.family, "tahoe_counters_") {
			vt = prometheus.CounterValue
		}
		if hasQ {
			c.send(ch, desc, vt, p.value, nick, id, p.quantile)
		} else {
			c.send(ch, desc, vt, p.value, nick, id)
		}
	}
}

func (c *StatsCollector) send(ch chan<- prometheus.Metric, d *prometheus.Desc, vt prometheus.ValueType, v float64, labels ...string) {
	if vt == prometheus.CounterValue && (math.IsNaN(v) || v < 0) {
		// A counter is a non-negative number: a None (NaN) or negative
		// counter is left out rather than exported as an invalid sample.
		return
	}
	m, err := prometheus.NewConstMetric(d, vt, v, labels...)
	if err != nil {
		c.log.Debug("skipping a stats sample Prometheus cannot represent", "err", err)
		return
	}
	ch <- m
}

// labelValue makes s a valid label value (UTF-8).
func labelValue(s string) string {
	return strings.ToValidUTF8(s, "\uFFFD")
}

// FamilyName returns the Prometheus family name for stats key `key` of
// category `category`, and the quantile label value when the key ends in
// Tahoe's "_NN_N_percentile" form. It follows Tahoe 1.20's
// /statistics?t=openmetrics: "tahoe_" + category + "_" + key with dots
// turned into underscores, "..._99_9_percentile" becoming
// "...{quantile="0.999"}"; characters Prometheus does not allow in a name
// become '_' as well.
func FamilyName(category, key string) (family, quantile string) {
	name := "tahoe_" + category + "_" + key
	name = strings.ReplaceAll(name, ".", "_")
	if base, q, ok := cutPercentile(name); ok {
		name, quantile = base, q
	}
	return sanitizeName(name), quantile
}

// cutPercentile splits "x_NN_N_percentile" into "x" and "0.NNN".
func cutPercentile(name string) (base, quantile string, ok bool) {
	const suffix = "_percentile"
	rest, found := strings.CutSuffix(name, suffix)
	// rest must end in "_DD_D".
	if !found || len(rest) < 5 {
		return "", "", false
	}
	t := rest[len(rest)-5:]
	if t[0] != '_' || !isDigit(t[1]) || !isDigit(t[2]) || t[3] != '_' || !isDigit(t[4]) {
		return "", "", false
	}
	return rest[:len(rest)-5], "0." + t[1:3] + t[4:], true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// sanitizeName replaces every rune outside [a-zA-Z0-9_:] with '_'.
func sanitizeName(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == ':':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}
