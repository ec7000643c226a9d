package stats

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServePythonProviders runs the whole stats gatherer (Serve) against
// several python-foolscap providers at once (conformance/peers/pystats.py,
// playing Tahoe <= 1.15 nodes): one sending bytes like a Python 2 node, one
// sending str, one answering malformed stats, one dropping its connection
// after every answer (its reconnector brings it back and it provides again),
// one that quits mid-run and one restarted with the same key. It checks
// stats.json and /metrics.
func TestServePythonProviders(t *testing.T) {
	requireFoolscap(t)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Second)
	defer cancel()
	dir := newTestGathererDir(ctx, t)
	// A 1 s interval: an entry is stale after 5 intervals, a margin for a
	// loaded machine.
	g := startServe(ctx, t, ServeConfig{Dir: dir, PollInterval: time.Second, MetricsAddr: "127.0.0.1:0"})

	furlFile := strings.TrimSpace(string(mustRead(t, filepath.Join(dir, FURLFile))))
	if furlFile != g.info.FURL {
		t.Fatalf("%s holds %q, Serve reported %q", FURLFile, furlFile, g.info.FURL)
	}
	nodes := t.TempDir()
	peer := func(name string, extra ...string) *pyStats {
		return startPyStats(ctx, t, filepath.Join(nodes, name), g.info.FURL, name, extra...)
	}
	py2 := peer("storage-7")
	py3 := peer("bêta", "--str-keys")
	broken := peer("broken", "--malformed", "string-values")
	flaky := peer("flaky", "--disconnect-after", "1")
	leaving := peer("leaving")
	restarted := peer("restarted")

	// Every provider is polled at once and then every second.
	for _, p := range []*pyStats{py2, py3, broken, leaving, restarted} {
		p.waitCalls(ctx, 2)
	}
	// flaky dropped its connection after its first answer; its reconnector
	// came back and provided again, so the gatherer polls it again.
	flaky.waitEvent(ctx, "disconnected", nil)
	flaky.waitEvent(ctx, "provided", nil)
	flaky.waitCalls(ctx, 2)

	// leaving quits mid-run: its entry must stay with its old timestamp.
	leaving.quit(ctx)
	// restarted crashes and comes back with the same key (same tubid).
	oldTubID := restarted.tubid
	restarted.kill()
	restarted = peer("restarted")
	if restarted.tubid != oldTubID {
		t.Fatalf("restarted peer has tubid %s, was %s", restarted.tubid, oldTubID)
	}
	restarted.waitCalls(ctx, 2)

	// The broken provider was kept after its malformed answers (it is still
	// polled); once it answers properly its entry appears.
	broken.waitCalls(ctx, 4)
	if e, ok := readStatsJSON(t, dir)[broken.tubid]; ok {
		t.Errorf("stats.json has an entry for the malformed provider: %+v", e)
	}

	var leftAt float64
	eventually(ctx, t, func() string {
		m := readStatsJSON(t, dir)
		for _, p := range []*pyStats{py2, py3, flaky, leaving, restarted} {
			if _, ok := m[p.tubid]; !ok {
				return "no stats.json entry for " + p.name
			}
		}
		leftAt = m[leaving.tubid].Timestamp
		return ""
	})

	entries := readStatsJSON(t, dir)
	for _, tc := range []struct {
		name     string
		p        *pyStats
		nickname string
	}{
		{"python2 bytes", py2, "storage-7"},
		{"python3 str", py3, "bêta"},
		{"reconnected", flaky, "flaky"},
		{"restarted", restarted, "restarted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := entries[tc.p.tubid]
			if e.Nickname != tc.nickname {
				t.Errorf("nickname %q, want %q", e.Nickname, tc.nickname)
			}
			if age := float64(time.Now().UnixNano())/1e9 - e.Timestamp; age < 0 || age > 30 {
				t.Errorf("timestamp %f is %f s old", e.Timestamp, age)
			}
			want := map[string]map[string]string{
				"counters": {"uploader.files_uploaded": "3", "uploader.bytes_uploaded": "1099511627776", "downloader.files_downloaded": "0"},
				"stats":    {"cpu_monitor.total": "0.25", "storage_server.disk_avail": "83842835968", "load_monitor.avg_load": "0.0012", "storage_server.accepting_immutable_shares": "1"},
			}
			for cat, kv := range want {
				for k, v := range kv {
					got := e.Stats[cat][k]
					if got == nil || got.String() != v {
						t.Errorf("stats[%q][%q] = %v, want %s", cat, k, got, v)
					}
				}
			}
			if v, ok := e.Stats["stats"]["cpu_monitor.1min_avg"]; !ok || v != nil {
				t.Errorf("stats[stats][cpu_monitor.1min_avg] = %v (present %v), want null", v, ok)
			}
			if len(e.Stats) != 2 || len(e.Stats["counters"]) != 4 || len(e.Stats["stats"]) != 7 {
				t.Errorf("entry holds %d categories (%d counters, %d stats), want 2 (4, 7)",
					len(e.Stats), len(e.Stats["counters"]), len(e.Stats["stats"]))
			}
		})
	}

	broken.command(ctx, "malformed off")
	eventually(ctx, t, func() string {
		if e, ok := readStatsJSON(t, dir)[broken.tubid]; !ok || e.Nickname != "broken" {
			return "the broken provider's entry did not appear after it was repaired"
		}
		return ""
	})

	fams := scrape(ctx, t, g.info.MetricsAddr)
	for _, tc := range []struct {
		name   string
		family string
		labels map[string]string
		want   float64
	}{
		{"py2 counter", "tahoe_counters_uploader_files_uploaded", map[string]string{"nickname": "storage-7", "tubid": py2.tubid}, 3},
		{"py3 counter", "tahoe_counters_uploader_bytes_uploaded", map[string]string{"nickname": "bêta", "tubid": py3.tubid}, 1 << 40},
		{"py2 gauge", "tahoe_stats_storage_server_disk_avail", map[string]string{"nickname": "storage-7", "tubid": py2.tubid}, 83842835968},
		{"flaky gauge", "tahoe_stats_cpu_monitor_total", map[string]string{"nickname": "flaky", "tubid": flaky.tubid}, 0.25},
		{"repaired", "tahoe_counters_uploader_files_uploaded", map[string]string{"nickname": "broken", "tubid": broken.tubid}, 3},
		{"left node stale", "tahoe_node_stale", map[string]string{"tubid": leaving.tubid}, 1},
		{"live node fresh", "tahoe_node_stale", map[string]string{"tubid": py2.tubid}, 0},
		{"left node timestamp", "tahoe_node_last_update_timestamp_seconds", map[string]string{"tubid": leaving.tubid}, leftAt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := metricValue(fams, tc.family, tc.labels)
			if !ok {
				t.Fatalf("no single %s%v sample", tc.family, tc.labels)
			}
			if tc.name == "left node timestamp" {
				if d := got - tc.want; d < -1e-3 || d > 1e-3 {
					t.Errorf("%s = %f, want %f", tc.family, got, tc.want)
				}
				return
			}
			if got != tc.want {
				t.Errorf("%s%v = %g, want %g", tc.family, tc.labels, got, tc.want)
			}
		})
	}
	// storage-7, bêta, broken, restarted, and flaky when it is not between
	// two connections.
	if n, ok := metricValue(fams, "gatherer_connected_nodes", map[string]string{"role": "stats"}); !ok || n < 4 || n > 5 {
		t.Errorf("gatherer_connected_nodes = %g (found %v), want 4 or 5", n, ok)
	}
	if n, ok := metricValue(fams, "gatherer_errors_total", map[string]string{"role": "stats", "kind": "malformed_stats"}); !ok || n < 2 {
		t.Errorf("gatherer_errors_total{kind=malformed_stats} = %g (found %v), want >= 2", n, ok)
	}
	if e := readStatsJSON(t, dir)[leaving.tubid]; e.Timestamp != leftAt {
		t.Errorf("the entry of the node that left changed: timestamp %f, was %f", e.Timestamp, leftAt)
	}
}

// TestServeRestartKeepsFURL stops the gatherer and starts it again on the
// same directory: the key, the FURL (swissnum included) and stats.json are
// kept, and the python provider's reconnector comes back and provides again.
func TestServeRestartKeepsFURL(t *testing.T) {
	requireFoolscap(t)
	ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
	defer cancel()
	dir := newTestGathererDir(ctx, t)
	g := startServe(ctx, t, ServeConfig{Dir: dir, PollInterval: 300 * time.Millisecond})
	pem := mustRead(t, filepath.Join(dir, KeyFile))
	if fi, err := os.Stat(filepath.Join(dir, KeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: %v, mode %v, want 0600", KeyFile, err, fi.Mode())
	}

	p := startPyStats(ctx, t, filepath.Join(t.TempDir(), "node"), g.info.FURL, "storage-1")
	p.waitCalls(ctx, 1)
	eventually(ctx, t, func() string {
		if _, ok := readStatsJSON(t, dir)[p.tubid]; !ok {
			return "no entry before the restart"
		}
		return ""
	})
	g.shutdown(t)
	before := readStatsJSON(t, dir)[p.tubid]
	p.waitEvent(ctx, "disconnected", nil)

	g2 := startServe(ctx, t, ServeConfig{Dir: dir, PollInterval: 300 * time.Millisecond})
	if g2.info.FURL != g.info.FURL || g2.info.TubID != g.info.TubID {
		t.Errorf("restarted gatherer has FURL %q (tubid %s), was %q (%s)", g2.info.FURL, g2.info.TubID, g.info.FURL, g.info.TubID)
	}
	if string(mustRead(t, filepath.Join(dir, KeyFile))) != string(pem) {
		t.Errorf("%s was rewritten", KeyFile)
	}
	p.waitEvent(ctx, "provided", nil)
	p.waitCalls(ctx, 3)
	eventually(ctx, t, func() string {
		e, ok := readStatsJSON(t, dir)[p.tubid]
		if !ok || e.Timestamp <= before.Timestamp {
			return "the entry was not refreshed after the restart"
		}
		return ""
	})
}

// TestServeRefusesBadDirectory checks the operator-facing errors of Serve
// before it listens.
func TestServeRefusesBadDirectory(t *testing.T) {
	ctx := t.Context()
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  string
	}{
		{"no port file", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, PortFile)) }, "please rebuild"},
		{"bad port", func(t *testing.T, dir string) { writeTestFile(t, dir, PortFile, "ssl:99\n") }, PortFile},
		{"bad location", func(t *testing.T, dir string) { writeTestFile(t, dir, LocationFile, "tcp:\n") }, LocationFile},
		{"corrupt key", func(t *testing.T, dir string) { writeTestFile(t, dir, KeyFile, "not a key") }, KeyFile},
		{"corrupt stats.json", func(t *testing.T, dir string) { writeTestFile(t, dir, StatsFile, "{") }, "load stats file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "g")
			if err := Create(ctx, dir, CreateOptions{Location: "tcp:127.0.0.1:1", Port: "tcp:0:interface=127.0.0.1"}); err != nil {
				t.Fatal(err)
			}
			tc.setup(t, dir)
			err := Serve(ctx, ServeConfig{Dir: dir, Logger: testLogger(t)})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Serve: %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}

func writeTestFile(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestServePythonProviderFailures checks Tahoe's rules for failing
// providers against python-foolscap: one whose get_stats() raises is
// forgotten until it calls provide() again (after a reconnection), one that
// never answers is only timed out (CallTimeout, our addition) and kept.
func TestServePythonProviderFailures(t *testing.T) {
	requireFoolscap(t)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Second)
	defer cancel()
	dir := newTestGathererDir(ctx, t)
	g := startServe(ctx, t, ServeConfig{Dir: dir, PollInterval: time.Second, CallTimeout: 500 * time.Millisecond})
	nodes := t.TempDir()
	raising := startPyStats(ctx, t, filepath.Join(nodes, "raising"), g.info.FURL, "raising", "--malformed", "error")
	hanging := startPyStats(ctx, t, filepath.Join(nodes, "hanging"), g.info.FURL, "hanging", "--malformed", "hang")

	raising.waitCalls(ctx, 1)
	// Three more rounds for the hanging provider: it is still polled.
	hanging.waitCalls(ctx, 4)
	if n := raising.command(ctx, "info")["calls"]; n != 1.0 {
		t.Errorf("the provider whose get_stats() raised was called %v times, want 1 (dropped)", n)
	}
	if m := readStatsJSON(t, dir); len(m) != 0 {
		t.Errorf("stats.json has entries before any good answer: %v", m)
	}

	// Repaired, the raising node is still forgotten until it provides again:
	// its reconnector does that after a lost connection.
	raising.command(ctx, "malformed off")
	raising.command(ctx, "disconnect")
	raising.waitEvent(ctx, "provided", nil)
	raising.waitCalls(ctx, 2)
	hanging.command(ctx, "malformed off")
	eventually(ctx, t, func() string {
		m := readStatsJSON(t, dir)
		if m[raising.tubid].Nickname != "raising" || m[hanging.tubid].Nickname != "hanging" {
			return "no entries for the two repaired providers"
		}
		return ""
	})
}
