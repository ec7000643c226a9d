package stats

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// pythonWithFoolscap is Debian's interpreter, the one with python-foolscap.
const pythonWithFoolscap = "/usr/bin/python3"

// requireFoolscap skips the test when python-foolscap cannot be imported.
func requireFoolscap(t *testing.T) {
	t.Helper()
	if err := exec.Command(pythonWithFoolscap, "-c", "import foolscap").Run(); err != nil {
		t.Skipf("skipping: %s cannot import foolscap (%v); install python3-foolscap to run the interop tests", pythonWithFoolscap, err)
	}
}

// pyStats is a running conformance/peers/pystats.py: a Tahoe <= 1.15 node's
// stats provider on python-foolscap.
type pyStats struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	events chan map[string]any // announcements ({"event": ...})
	resps  chan map[string]any // answers to commands
	exited chan struct{}
	tubid  string
}

// startPyStats starts pystats.py with its key in nodedir, pointed at
// gathererFURL, and waits for its "ready" announcement.
func startPyStats(ctx context.Context, t *testing.T, nodedir, gathererFURL, nickname string, extra ...string) *pyStats {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("..", "..", "conformance", "peers", "pystats.py"))
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"-u", script, "--nodedir", nodedir, "--gatherer", gathererFURL, "--nickname", nickname}, extra...)
	cmd := exec.Command(pythonWithFoolscap, args...)
	cmd.Stderr = prefixWriter{t: t, prefix: nickname + " stderr: "}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting pystats.py: %v", err)
	}
	p := &pyStats{
		t: t, name: nickname, cmd: cmd, stdin: stdin,
		events: make(chan map[string]any, 1000),
		resps:  make(chan map[string]any, 10),
		exited: make(chan struct{}),
	}
	var reader sync.WaitGroup
	reader.Go(func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Logf("%s stdout: %s", nickname, sc.Text())
				continue
			}
			if _, ok := m["event"]; ok {
				select {
				case p.events <- m:
				default:
				}
				continue
			}
			p.resps <- m
		}
	})
	go func() {
		reader.Wait()
		_ = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(p.kill)
	ready := p.waitEvent(ctx, "ready", nil)
	p.tubid, _ = ready["tubid"].(string)
	if p.tubid == "" {
		t.Fatalf("%s: ready without a tubid: %v", nickname, ready)
	}
	return p
}

// waitEvent waits for the next announcement named name for which ok (if
// given) is true; other announcements are skipped.
func (p *pyStats) waitEvent(ctx context.Context, name string, ok func(map[string]any) bool) map[string]any {
	p.t.Helper()
	for {
		select {
		case m := <-p.events:
			if m["event"] == name && (ok == nil || ok(m)) {
				return m
			}
		case <-p.exited:
			for {
				select {
				case m := <-p.events:
					if m["event"] == name && (ok == nil || ok(m)) {
						return m
					}
					continue
				default:
				}
				break
			}
			p.t.Fatalf("%s exited while the test waited for %q", p.name, name)
		case <-ctx.Done():
			p.t.Fatalf("%s: no %q announcement: %v", p.name, name, ctx.Err())
		}
	}
}

// waitCalls waits until the provider has answered at least n get_stats().
func (p *pyStats) waitCalls(ctx context.Context, n int) {
	p.t.Helper()
	p.waitEvent(ctx, "get_stats", func(m map[string]any) bool {
		c, _ := m["calls"].(float64)
		return int(c) >= n
	})
}

// command sends a control command and returns its answer.
func (p *pyStats) command(ctx context.Context, line string) map[string]any {
	p.t.Helper()
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		p.t.Fatalf("%s: sending %q: %v", p.name, line, err)
	}
	select {
	case m := <-p.resps:
		if e, bad := m["error"]; bad {
			p.t.Fatalf("%s: %q failed: %v", p.name, line, e)
		}
		return m
	case <-p.exited:
		p.t.Fatalf("%s exited before answering %q", p.name, line)
	case <-ctx.Done():
		p.t.Fatalf("%s: no answer to %q: %v", p.name, line, ctx.Err())
	}
	return nil
}

// quit closes stdin (the peer stops its reactor) and waits for the exit.
func (p *pyStats) quit(ctx context.Context) {
	p.t.Helper()
	p.stdin.Close()
	select {
	case <-p.exited:
	case <-ctx.Done():
		p.t.Fatalf("%s did not exit after its stdin closed", p.name)
	}
}

// kill stops the process at once (a crash, or the end of the test).
func (p *pyStats) kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

type prefixWriter struct {
	t      *testing.T
	prefix string
}

func (w prefixWriter) Write(b []byte) (int, error) {
	w.t.Log(w.prefix + strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// runningGatherer is a Serve in progress.
type runningGatherer struct {
	info ServeInfo
	stop context.CancelFunc
	done chan error
}

// newTestGathererDir makes a stats gatherer directory listening on a free
// loopback port.
func newTestGathererDir(ctx context.Context, t testing.TB) string {
	t.Helper()
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := filepath.Join(t.TempDir(), "stats-gatherer")
	if err := Create(ctx, dir, CreateOptions{
		Location: fmt.Sprintf("tcp:127.0.0.1:%d", port),
		Port:     fmt.Sprintf("tcp:%d:interface=127.0.0.1", port),
	}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// startServe runs Serve on dir and waits until it is ready.
func startServe(ctx context.Context, t *testing.T, cfg ServeConfig) *runningGatherer {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	sctx, stop := context.WithCancel(ctx)
	ready := make(chan ServeInfo, 1)
	cfg.Ready = func(i ServeInfo) { ready <- i }
	g := &runningGatherer{stop: stop, done: make(chan error, 1)}
	go func() { g.done <- Serve(sctx, cfg) }()
	select {
	case g.info = <-ready:
	case err := <-g.done:
		stop()
		t.Fatalf("Serve: %v", err)
	case <-ctx.Done():
		stop()
		t.Fatalf("Serve did not become ready: %v", ctx.Err())
	}
	t.Cleanup(func() { g.shutdown(t) })
	return g
}

// shutdown stops Serve and waits for it; a second call does nothing.
func (g *runningGatherer) shutdown(t *testing.T) {
	t.Helper()
	g.stop()
	if err, ok := <-g.done; ok {
		close(g.done)
		if err != context.Canceled {
			t.Errorf("Serve returned %v, want context.Canceled", err)
		}
	}
}

// statsEntry is one node's entry in stats.json.
type statsEntry struct {
	Timestamp float64                            `json:"timestamp"`
	Nickname  string                             `json:"nickname"`
	Stats     map[string]map[string]*json.Number `json:"stats"`
}

func readStatsJSON(t testing.TB, dir string) map[string]statsEntry {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, StatsFile))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var m map[string]statsEntry
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("stats.json is not a JSON object of entries: %v\n%s", err, b)
	}
	return m
}

// eventually calls cond every 100 ms until it returns "" (success) or ctx
// ends, then fails with cond's last complaint.
func eventually(ctx context.Context, t *testing.T, cond func() string) {
	t.Helper()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		why := cond()
		if why == "" {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting: %s", why)
		case <-tick.C:
		}
	}
}

// scrape fetches and parses /metrics.
func scrape(ctx context.Context, t *testing.T, addr net.Addr) map[string]*dtoFamily {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr.String()+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("scraping /metrics: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scraping /metrics: %s\n%s", resp.Status, body)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("/metrics does not parse as Prometheus text: %v\n%s", err, body)
	}
	return fams
}

// metricValue returns the value of the one sample of family fam whose labels
// include want; ok is false unless there is exactly one.
func metricValue(fams map[string]*dtoFamily, fam string, want map[string]string) (v float64, ok bool) {
	f := fams[fam]
	if f == nil {
		return 0, false
	}
	n := 0
	for _, m := range f.GetMetric() {
		got := make(map[string]string)
		for _, lp := range m.GetLabel() {
			got[lp.GetName()] = lp.GetValue()
		}
		match := true
		for k, w := range want {
			if got[k] != w {
				match = false
			}
		}
		if !match {
			continue
		}
		n++
		switch {
		case m.GetGauge() != nil:
			v = m.GetGauge().GetValue()
		case m.GetCounter() != nil:
			v = m.GetCounter().GetValue()
		case m.GetUntyped() != nil:
			v = m.GetUntyped().GetValue()
		default:
			v = math.NaN()
		}
	}
	return v, n == 1
}
