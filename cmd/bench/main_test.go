package main

import (
	"bytes"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
		check   func(t *testing.T, c config)
	}{
		{name: "defaults", check: func(t *testing.T, c config) {
			if len(c.workloads) != len(allWorkloads) || c.incidents != 4 || c.backlog != 40 || c.pythonCap != 30*time.Second {
				t.Errorf("got %+v", c)
			}
			if got := c.incidentNodes; len(got) != 4 || got[2] != 100 || got[3] != 500 {
				t.Errorf("incident nodes %v", got)
			}
		}},
		{name: "quick", args: []string{"-quick"}, check: func(t *testing.T, c config) {
			if c.incidents != 2 || c.backlog != 10 || c.logWindow != 3*time.Second || len(c.idleNodes) != 1 {
				t.Errorf("got %+v", c)
			}
		}},
		{name: "no backlog case", args: []string{"-backlog", "0"}, check: func(t *testing.T, c config) {
			if c.backlog != 0 {
				t.Errorf("backlog %d", c.backlog)
			}
		}},
		{name: "select workloads", args: []string{"-workloads", "codec, idle"}, check: func(t *testing.T, c config) {
			if strings.Join(c.workloads, ",") != "codec,idle" {
				t.Errorf("workloads %v", c.workloads)
			}
		}},
		{name: "no workloads", args: []string{"-workloads="}, check: func(t *testing.T, c config) {
			if len(c.workloads) != 0 {
				t.Errorf("workloads %v", c.workloads)
			}
		}},
		{name: "node list", args: []string{"-incident-nodes", "2,3"}, check: func(t *testing.T, c config) {
			if len(c.incidentNodes) != 2 || c.incidentNodes[1] != 3 {
				t.Errorf("nodes %v", c.incidentNodes)
			}
		}},
		{name: "unknown workload", args: []string{"-workloads", "speed"}, wantErr: `unknown workload "speed"`},
		{name: "bad count", args: []string{"-idle-nodes", "0"}, wantErr: "-idle-nodes"},
		{name: "too many", args: []string{"-idle-nodes", "20001"}, wantErr: "-idle-nodes"},
		{name: "not a number", args: []string{"-log-nodes", "ten"}, wantErr: "-log-nodes"},
		{name: "argument", args: []string{"extra"}, wantErr: "unexpected argument"},
		{name: "zero incidents", args: []string{"-incidents", "-1"}, wantErr: "at least 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseFlags(tc.args, io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

func TestRun(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want int
	}{
		{name: "bad flag", args: []string{"-nope"}, want: 2},
		{name: "help", args: []string{"-h"}, want: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := run(t.Context(), tc.args, io.Discard, io.Discard); got != tc.want {
				t.Errorf("exit %d, want %d", got, tc.want)
			}
		})
	}
}

func TestRatio(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name   string
		row    Row
		want   float64
		wantOK bool
	}{
		{name: "higher better", row: Row{Go: 100, Python: 5, HigherBetter: true}, want: 20, wantOK: true},
		{name: "lower better", row: Row{Go: 2, Python: 40}, want: 20, wantOK: true},
		{name: "python missing", row: Row{Go: 2, Python: nan}},
		{name: "zero", row: Row{Go: 0, Python: 3, HigherBetter: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r report
			r.add(tc.row)
			got := r.Rows[0].Ratio
			if ok(got) != tc.wantOK || (tc.wantOK && got != tc.want) {
				t.Errorf("ratio %v, want %v", got, tc.want)
			}
		})
	}
}

func TestReportWrite(t *testing.T) {
	dir := t.TempDir()
	r := &report{Started: time.Unix(0, 0).UTC(), Workloads: []string{"incident"}}
	r.add(Row{Workload: "incident", Case: "1 nodes x 2", Metric: "ingest", Unit: "incidents/s", Go: 100, Python: math.NaN(), HigherBetter: true})
	r.Plot = []IncidentPoint{{Nodes: 1, Go: 60, Python: 18}, {Nodes: 10, Go: 110, Python: math.NaN()}, {Nodes: 100, Go: 98, Python: 19}}
	if err := r.write(dir); err != nil {
		t.Fatal(err)
	}
	js, err := os.ReadFile(filepath.Join(dir, "bench.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(js, []byte(`"python": null`)) || !bytes.Contains(js, []byte(`"python_incidents_per_s": null`)) {
		t.Errorf("NaN is not null in bench.json:\n%s", js)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "bench.md"))
	if !bytes.Contains(md, []byte("| incident | 1 nodes x 2 | ingest (incidents/s) | 100 | - | - |")) {
		t.Errorf("bench.md lacks the row:\n%s", md)
	}
	f, err := os.Open(filepath.Join(dir, "incidents.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != plotW || b.Dy() != plotH {
		t.Errorf("plot is %v", b)
	}
}

func TestPlotEmpty(t *testing.T) {
	b, err := plotIncidents(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
}

func TestFmt(t *testing.T) {
	tests := []struct {
		in         float64
		num, ratio string
	}{
		{math.NaN(), "-", "-"},
		{0, "0", "0.00x"},
		{0.0123, "0.0123", "0.01x"},
		{3.456, "3.46", "3.46x"},
		{42.42, "42.4", "42x"},
		{12345.6, "12346", "12346x"},
	}
	for _, tc := range tests {
		if got := fmtNum(tc.in); got != tc.num {
			t.Errorf("fmtNum(%v) = %q, want %q", tc.in, got, tc.num)
		}
		if got := fmtRatio(tc.in); got != tc.ratio {
			t.Errorf("fmtRatio(%v) = %q, want %q", tc.in, got, tc.ratio)
		}
	}
}

func TestTrimPprof(t *testing.T) {
	in := "File: bench\nBuild ID: x\nType: cpu\nTime: now\nDuration: 1s\n      flat  flat%\n"
	if got := trimPprof(in); got != "Duration: 1s\n      flat  flat%" {
		t.Errorf("got %q", got)
	}
}

func TestSampleFlog(t *testing.T) {
	b, err := sampleFlog(10)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 11 || !strings.HasPrefix(lines[1], `{"from": "qrrnx55najmpo4kcseajcszexvro4qig", "rx_time": `) {
		t.Errorf("sample:\n%s", b)
	}
}

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
