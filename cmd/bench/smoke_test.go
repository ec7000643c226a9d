package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestSmoke runs every wire workload at tiny sizes against our gatherer
// and python-foolscap's, end to end, and checks the report's figures.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the gatherer and runs both implementations (about 40 s)")
	}
	if err := exec.Command(python, "-c", "import foolscap").Run(); err != nil {
		t.Skipf("%s cannot import foolscap (%v): install python3-foolscap (make deps)", python, err)
	}
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	args := []string{"-root", "../..", "-out", out, "-workloads", "incident,log,burst,idle",
		"-incident-nodes", "3", "-incidents", "2", "-backlog", "3", "-events", "50",
		"-log-nodes", "2", "-log-seconds", "1s",
		"-burst-nodes", "1", "-burst-events", "3000",
		"-idle-nodes", "20", "-python-idle-nodes", "5"}
	if code := run(t.Context(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	js, err := os.ReadFile(filepath.Join(out, "bench.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Rows []struct {
			Workload, Case, Metric string
			Go, Python             *float64
		}
	}
	if err := json.Unmarshal(js, &rep); err != nil {
		t.Fatal(err)
	}
	got := map[string][2]float64{}
	for _, r := range rep.Rows {
		v := [2]float64{math.NaN(), math.NaN()}
		if r.Go != nil {
			v[0] = *r.Go
		}
		if r.Python != nil {
			v[1] = *r.Python
		}
		got[r.Workload+"/"+r.Metric] = v
	}
	tests := []struct {
		key          string
		minGo, minPy float64
	}{
		{key: "incident/ingest", minGo: 1, minPy: 0.1},
		{key: "log/ingest", minGo: 100, minPy: 10},
		// 3,000 logged in one turn: the publisher's queue keeps 2,000.
		{key: "burst/events stored", minGo: 2000, minPy: 2000},
		{key: "idle/RSS per idle node", minGo: 1},
	}
	for _, tc := range tests {
		v, ok := got[tc.key]
		if !ok {
			t.Errorf("no %s row in %s", tc.key, js)
			continue
		}
		if !(v[0] >= tc.minGo) || (tc.minPy > 0 && !(v[1] >= tc.minPy)) {
			t.Errorf("%s = ours %v, python %v; want at least %v and %v", tc.key, v[0], v[1], tc.minGo, tc.minPy)
		}
	}
	if v := got["burst/events stored"]; v[0] > 2010 || v[1] > 2010 {
		t.Errorf("burst stored %v: more than the queue holds", v)
	}
	if _, err := os.Stat(filepath.Join(out, "incidents.png")); err != nil {
		t.Error(err)
	}
}
