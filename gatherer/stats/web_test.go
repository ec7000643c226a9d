package stats

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatherer/gatherer/gatherer/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func TestParseWebNode(t *testing.T) {
	tests := []struct {
		line, id, get, nick string
		wantErr             bool
	}{
		{line: "http://127.0.0.1:3456/", id: "http://127.0.0.1:3456", get: "http://127.0.0.1:3456/statistics?t=json"},
		{line: "http://127.0.0.1:3456 storage 7", id: "http://127.0.0.1:3456", get: "http://127.0.0.1:3456/statistics?t=json", nick: "storage 7"},
		{line: "HTTP://Node.Example:80/\tgw", id: "http://node.example", get: "http://node.example/statistics?t=json", nick: "gw"},
		{line: "https://u:secret@node.example:443/tahoe/?x=1#f", id: "https://node.example/tahoe", get: "https://u:secret@node.example/tahoe/statistics?t=json"},
		{line: "https://[::1]:8443/", id: "https://[::1]:8443", get: "https://[::1]:8443/statistics?t=json"},
		{line: "ftp://node/", wantErr: true},
		{line: "127.0.0.1:3456", wantErr: true},
		{line: "http:///nohost", wantErr: true},
		{line: "http://a b", id: "http://a", get: "http://a/statistics?t=json", nick: "b"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			n, err := parseWebNode(tt.line)
			if tt.wantErr {
				if err == nil {
					t.Errorf("accepted: %+v", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n.id != tt.id || n.statsURL != tt.get || n.nickname != tt.nick {
				t.Errorf("got id %q get %q nick %q; want %q %q %q", n.id, n.statsURL, n.nickname, tt.id, tt.get, tt.nick)
			}
			if strings.Contains(n.id, "secret") {
				t.Error("the id (written to stats.json) carries the password")
			}
		})
	}
}

// TestWebNodes polls today's Tahoe over HTTP: a server on 127.0.0.1 serves
// the /statistics?t=json body recorded from a real Tahoe 1.20 node, next to
// nodes that fail in every way; each failure stays with its node.
func TestWebNodes(t *testing.T) {
	body := mustRead(t, testdata("tahoe-1.20-statistics.json"))
	var goodDown atomic.Bool
	var gotQuery atomic.Value
	mux := http.NewServeMux()
	serve := func(w http.ResponseWriter, r *http.Request) {
		gotQuery.Store(r.URL.RawQuery)
		if goodDown.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain") // as Tahoe 1.20 does
		w.Write(body)
	}
	mux.HandleFunc("/statistics", serve)
	mux.HandleFunc("/good/statistics", serve)
	mux.HandleFunc("/broken/statistics", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	})
	mux.HandleFunc("/slow/statistics", func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})
	mux.HandleFunc("/huge/statistics", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"stats": {"x": "` + strings.Repeat("a", 5000) + `"}}`))
	})
	mux.HandleFunc("/garbage/statistics", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("<html>Tahoe-LAFS</html>"))
	})
	mux.HandleFunc("/nested/statistics", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"counters": {}, "stats": {"x": {"y": 1}}}`))
	})
	mux.HandleFunc("/partial/statistics", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"counters": {}}`))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	dir := t.TempDir()
	nodes := "# nodes of the test grid\n\n" +
		srv.URL + "/ tahoe-1.20\n" +
		srv.URL + "/good/\n" +
		srv.URL + "/good/ listed twice\n" +
		"ftp://nowhere/\n" +
		srv.URL + "/broken\n" + srv.URL + "/slow\n" + srv.URL + "/huge\n" +
		srv.URL + "/garbage\n" + srv.URL + "/nested\n" + srv.URL + "/partial\n"
	if err := os.WriteFile(filepath.Join(dir, WebNodesFile), []byte(nodes), 0o644); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	inst, err := metrics.NewInstruments(reg, "stats")
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: t1}
	s := newTestService(t, Options{Dir: dir, Now: clock.Now, CallTimeout: 300 * time.Millisecond, MaxBodyBytes: 4096, Metrics: inst})
	reg.MustRegister(metrics.NewStatsCollector(s, nil))

	if err := s.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if q, _ := gotQuery.Load().(string); q != "t=json" {
		t.Errorf("query sent = %q, want t=json", q)
	}
	root, good := srv.URL, srv.URL+"/good"
	got := nodeIDs(s)
	if want := []string{root, good}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("entries = %v, want %v", got, want)
	}
	if n := countErrors(t, reg, "web_poll"); n != 6 {
		t.Errorf("web_poll errors = %v, want 6", n)
	}

	// The entry's "stats" member must be what Python's json.dump writes
	// for the recorded body.
	file := mustRead(t, filepath.Join(dir, StatsFile))
	if havePython() {
		cmd := exec.Command("/usr/bin/python3", "-c", "import json,sys; sys.stdout.write(json.dumps(json.load(sys.stdin)))")
		cmd.Stdin = bytes.NewReader(body)
		want, err := cmd.Output()
		if err != nil {
			t.Fatalf("python3: %v", err)
		}
		frag := `"nickname": "tahoe-1.20", "stats": ` + string(want) + "}"
		if !bytes.Contains(file, []byte(frag)) {
			t.Errorf("stats.json does not hold the recorded body as Python writes it\nfile: %s\nwant: ...%s", file, frag)
		}
	} else {
		t.Log("no /usr/bin/python3: byte comparison with json.dumps skipped")
	}
	var parsed map[string]map[string]any
	if err := json.Unmarshal(file, &parsed); err != nil {
		t.Fatalf("stats.json is not JSON: %v", err)
	}

	// Scrape /metrics and parse it.
	fams := scrapeText(t, reg)
	uptime := sampleValue(fams, "tahoe_stats_node_uptime", root)
	if uptime != 5.744404554367065 {
		t.Errorf("tahoe_stats_node_uptime{tubid=%q} = %v", root, uptime)
	}
	if v := sampleValue(fams, "tahoe_node_stale", root); v != 0 {
		t.Errorf("fresh web node stale = %v", v)
	}

	// The good nodes go down: their entries stay, stale, with the old timestamp.
	goodDown.Store(true)
	clock.Set(t2)
	if err := s.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, n := range s.NodeStats() {
		if !n.Stale || !n.Timestamp.Equal(t1) {
			t.Errorf("%s after failing: stale %v, timestamp %v; want stale, %v", n.ID, n.Stale, n.Timestamp, t1)
		}
	}
	// Back up, and one removed from web_nodes: that one stays stale.
	goodDown.Store(false)
	if err := os.WriteFile(filepath.Join(dir, WebNodesFile), []byte(srv.URL+"/ tahoe-1.20\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, n := range s.NodeStats() {
		if wantStale := n.ID == good; n.Stale != wantStale {
			t.Errorf("%s: stale %v, want %v", n.ID, n.Stale, wantStale)
		}
	}
}

func nodeIDs(s *Service) []string {
	var ids []string
	for _, n := range s.NodeStats() {
		ids = append(ids, n.ID)
	}
	return ids
}

func scrapeText(t *testing.T, reg *prometheus.Registry) map[string]*dtoFamily {
	t.Helper()
	srv := httptest.NewServer(metrics.Handler(reg, nil))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	text, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("parsing /metrics: %v\n%s", err, text)
	}
	return fams
}

// sampleValue returns the gauge or counter value of family fam for tubid,
// or -1.
func sampleValue(fams map[string]*dtoFamily, fam, tubid string) float64 {
	for _, m := range fams[fam].GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == "tubid" && lp.GetValue() == tubid {
				if m.Gauge != nil {
					return m.GetGauge().GetValue()
				}
				return m.GetCounter().GetValue()
			}
		}
	}
	return -1
}
