package metrics

import (
	"context"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestFamilyName(t *testing.T) {
	tests := []struct {
		name, category, key string
		family, quantile    string
	}{
		{"plain stat", "stats", "node.uptime", "tahoe_stats_node_uptime", ""},
		{"counter", "counters", "uploader.files_uploaded", "tahoe_counters_uploader_files_uploaded", ""},
		{"dash becomes underscore", "counters", "storage_server.add-lease", "tahoe_counters_storage_server_add_lease", ""},
		{"percentile", "stats", "storage_server.latencies.allocate.99_9_percentile", "tahoe_stats_storage_server_latencies_allocate", "0.999"},
		{"percentile 01_0", "stats", "storage_server.latencies.get.01_0_percentile", "tahoe_stats_storage_server_latencies_get", "0.010"},
		{"mean stays a name", "stats", "storage_server.latencies.get.mean", "tahoe_stats_storage_server_latencies_get_mean", ""},
		{"not a percentile form", "stats", "x.9_9_percentile", "tahoe_stats_x_9_9_percentile", ""},
		{"non-ASCII", "stats", "caf\u00e9.load", "tahoe_stats_caf__load", ""},
		{"odd category", "my cat", "v", "tahoe_my_cat_v", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fam, q := FamilyName(tt.category, tt.key)
			if fam != tt.family || q != tt.quantile {
				t.Errorf("FamilyName(%q, %q) = %q, %q; want %q, %q", tt.category, tt.key, fam, q, tt.family, tt.quantile)
			}
			if !model.LegacyValidation.IsValidMetricName(fam) {
				t.Errorf("%q is not a valid legacy metric name", fam)
			}
		})
	}
}

type staticSource []NodeStats

func (s staticSource) NodeStats() []NodeStats { return s }

// scrape serves g through Handler and parses the text exposition strictly.
func scrape(t *testing.T, g prometheus.Gatherer) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(Handler(g, nil))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s\n%s", resp.Status, body)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parsing the exposition: %v\n%s", err, body)
	}
	return fams
}

// find returns the value of the sample of family fam whose labels include
// all of want, and whether there was exactly one.
func find(fams map[string]*dto.MetricFamily, fam string, want map[string]string) (float64, bool) {
	f, ok := fams[fam]
	if !ok {
		return 0, false
	}
	var vals []float64
	for _, m := range f.GetMetric() {
		got := make(map[string]string)
		for _, lp := range m.GetLabel() {
			got[lp.GetName()] = lp.GetValue()
		}
		match := true
		for k, v := range want {
			if got[k] != v {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Gauge != nil:
			vals = append(vals, m.Gauge.GetValue())
		case m.Counter != nil:
			vals = append(vals, m.Counter.GetValue())
		case m.Untyped != nil:
			vals = append(vals, m.Untyped.GetValue())
		}
	}
	if len(vals) != 1 {
		return 0, false
	}
	return vals[0], true
}

func TestStatsCollector(t *testing.T) {
	ts := time.Unix(1616500000, 500000000)
	src := staticSource{
		{
			ID: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", Nickname: "storage-7", Timestamp: ts,
			Categories: []Category{
				{Name: "counters", Samples: []Sample{
					{"uploader.files_uploaded", 3},
					{"storage_server.add-lease", 2},
					{"none.counter", math.NaN()},
				}},
				{Name: "stats", Samples: []Sample{
					{"node.uptime", 86400.5},
					{"cpu_monitor.1min_avg", math.NaN()},
					{"storage_server.latencies.get.mean", 0.01},
					{"storage_server.latencies.get.99_9_percentile", 0.5},
					{"storage_server.latencies.get.50_0_percentile", 0.02},
					{"a.b", 1},
					{"a-b", 2}, // same family and labels as a.b: dropped
				}},
			},
		},
		{
			ID: "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", Nickname: "gone \xff", Timestamp: ts, Stale: true,
			Categories: []Category{{Name: "stats", Samples: []Sample{{"node.uptime", 10}}}},
		},
		{ID: "http://127.0.0.1:3456", Nickname: "", Categories: nil},
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewStatsCollector(src, nil))
	fams := scrape(t, reg)

	a := map[string]string{"tubid": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "nickname": "storage-7"}
	b := map[string]string{"tubid": "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "nickname": "gone \uFFFD"}
	withQ := func(l map[string]string, q string) map[string]string {
		m := map[string]string{"quantile": q}
		for k, v := range l {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name   string
		family string
		labels map[string]string
		want   float64
		typ    dto.MetricType
	}{
		{"counter", "tahoe_counters_uploader_files_uploaded", a, 3, dto.MetricType_COUNTER},
		{"sanitized counter", "tahoe_counters_storage_server_add_lease", a, 2, dto.MetricType_COUNTER},
		{"gauge", "tahoe_stats_node_uptime", a, 86400.5, dto.MetricType_GAUGE},
		{"stale node keeps its values", "tahoe_stats_node_uptime", b, 10, dto.MetricType_GAUGE},
		{"mean", "tahoe_stats_storage_server_latencies_get_mean", a, 0.01, dto.MetricType_GAUGE},
		{"quantile 0.999", "tahoe_stats_storage_server_latencies_get", withQ(a, "0.999"), 0.5, dto.MetricType_GAUGE},
		{"quantile 0.500", "tahoe_stats_storage_server_latencies_get", withQ(a, "0.500"), 0.02, dto.MetricType_GAUGE},
		{"first of a name clash wins", "tahoe_stats_a_b", a, 1, dto.MetricType_GAUGE},
		{"fresh node not stale", "tahoe_node_stale", a, 0, dto.MetricType_GAUGE},
		{"stale node marked", "tahoe_node_stale", b, 1, dto.MetricType_GAUGE},
		{"web node", "tahoe_node_stale", map[string]string{"tubid": "http://127.0.0.1:3456", "nickname": ""}, 0, dto.MetricType_GAUGE},
		{"timestamp", "tahoe_node_last_update_timestamp_seconds", a, 1616500000.5, dto.MetricType_GAUGE},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := find(fams, tt.family, tt.labels)
			if !ok {
				t.Fatalf("no single sample %s%v in the scrape", tt.family, tt.labels)
			}
			if got != tt.want {
				t.Errorf("%s%v = %v, want %v", tt.family, tt.labels, got, tt.want)
			}
			if typ := fams[tt.family].GetType(); typ != tt.typ {
				t.Errorf("%s has type %v, want %v", tt.family, typ, tt.typ)
			}
		})
	}
	if v, ok := find(fams, "tahoe_stats_cpu_monitor_1min_avg", a); !ok || !math.IsNaN(v) {
		t.Errorf("None stat: got %v, %v; want NaN", v, ok)
	}
	if _, ok := fams["tahoe_counters_none_counter"]; ok {
		t.Errorf("a None counter was exported; counters must be numbers")
	}
	if _, ok := find(fams, "tahoe_node_last_update_timestamp_seconds", map[string]string{"tubid": "http://127.0.0.1:3456"}); ok {
		t.Errorf("a node that never answered has a timestamp")
	}
}

func TestInstruments(t *testing.T) {
	reg := prometheus.NewRegistry()
	stats, err := NewInstruments(reg, "stats")
	if err != nil {
		t.Fatal(err)
	}
	incident, err := NewInstruments(reg, "incident")
	if err != nil {
		t.Fatalf("a second role on the same registry: %v", err)
	}
	if _, err := NewInstruments(reg, "stats"); err == nil {
		t.Fatal("registering the same role twice succeeded")
	}
	stats.SetConnectedNodes(3)
	stats.AddBytesWritten(100)
	stats.AddBytesWritten(-5)
	stats.Error("get_stats")
	stats.Error("get_stats")
	stats.Error("Bad Kind from a peer")
	stats.ObserveFetch(20 * time.Millisecond)
	incident.AddConnectedNodes(2)
	incident.AddConnectedNodes(-1)
	incident.AddIncidents(2)
	incident.AddEvents(7)

	var none *Instruments // services built without metrics
	none.SetConnectedNodes(1)
	none.AddConnectedNodes(1)
	none.AddIncidents(1)
	none.AddEvents(1)
	none.AddBytesWritten(1)
	none.Error("x")
	none.ObserveFetch(time.Second)

	fams := scrape(t, reg)
	s := map[string]string{"role": "stats"}
	inc := map[string]string{"role": "incident"}
	tests := []struct {
		name   string
		family string
		labels map[string]string
		want   float64
	}{
		{"connected", "gatherer_connected_nodes", s, 3},
		{"other role counted apart", "gatherer_connected_nodes", inc, 1},
		{"bytes", "gatherer_written_bytes_total", s, 100},
		{"errors by kind", "gatherer_errors_total", map[string]string{"role": "stats", "kind": "get_stats"}, 2},
		{"unknown kind", "gatherer_errors_total", map[string]string{"role": "stats", "kind": "other"}, 1},
		{"incidents", "gatherer_incidents_gathered_total", inc, 2},
		{"events", "gatherer_events_gathered_total", inc, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := find(fams, tt.family, tt.labels)
			if !ok || got != tt.want {
				t.Errorf("%s%v = %v (found %v), want %v", tt.family, tt.labels, got, ok, tt.want)
			}
		})
	}
	var h *dto.Histogram
	for _, m := range fams["gatherer_fetch_duration_seconds"].GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == "role" && lp.GetValue() == "stats" {
				h = m.GetHistogram()
			}
		}
	}
	if h == nil || h.GetSampleCount() != 1 || math.Abs(h.GetSampleSum()-0.02) > 1e-9 {
		t.Errorf("fetch histogram = %v, want one 20 ms sample", h)
	}
}

func TestServe(t *testing.T) {
	reg := NewRegistry()
	if _, err := NewInstruments(reg, "log"); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, Handler(reg, nil), nil) }()

	resp, err := http.Get("http://" + ln.Addr().String() + Path)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parsing: %v", err)
	}
	var names []string
	for n := range fams {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, want := range []string{"gatherer_connected_nodes", "go_goroutines", "process_resident_memory_bytes"} {
		if _, ok := fams[want]; !ok {
			t.Errorf("family %s missing; got %v", want, names)
		}
	}
	resp, err = http.Get("http://" + ln.Addr().String() + "/other")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /other: %s, want 404", resp.Status)
	}

	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Serve returned %v, want context.Canceled", err)
	}
}

func TestListenAndServeBadAddress(t *testing.T) {
	err := ListenAndServe(t.Context(), "127.0.0.1:notaport", http.NotFoundHandler(), nil)
	if err == nil || !strings.Contains(err.Error(), "--metrics") {
		t.Errorf("ListenAndServe(bad address) = %v, want an error naming --metrics", err)
	}
}
