package loadnode

import (
	"bufio"
	"compress/bzip2"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatherer/gatherer/internal/pyfoolscap"
	"go.uber.org/goleak"
)

const python = "/usr/bin/python3"

// gathererBinary is our gatherer, built once by TestMain ("" if the build
// failed; tests needing it fail with the build output).
type testEnv struct {
	binary   string
	buildErr error
}

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var envOnce = sync.OnceValue(func() testEnv {
	dir, err := os.MkdirTemp("", "loadnode-gatherer-")
	if err != nil {
		return testEnv{buildErr: err}
	}
	bin := filepath.Join(dir, "gatherer")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/gatherer/gatherer/cmd/gatherer")
	if out, err := cmd.CombinedOutput(); err != nil {
		return testEnv{buildErr: fmt.Errorf("go build ./cmd/gatherer: %w: %s", err, out)}
	}
	return testEnv{binary: bin}
})

func mustGatherer(t *testing.T) string {
	t.Helper()
	env := envOnce()
	if env.buildErr != nil {
		t.Fatal(env.buildErr)
	}
	return env.binary
}

func startGatherer(t *testing.T, ctx context.Context, impl, kind string) *Gatherer {
	t.Helper()
	if impl == ImplPython {
		pyfoolscap.Need(t)
	}
	spec := GathererSpec{Impl: impl, Kind: kind, Dir: filepath.Join(t.TempDir(), "g")}
	if impl == ImplGo {
		spec.Binary = mustGatherer(t)
	}
	g, err := StartGatherer(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := g.Stop(sctx); err != nil {
			t.Error(err)
		}
	})
	return g
}

func newTestNode(t *testing.T, ids *Identities, opts Options) *Node {
	t.Helper()
	id, err := ids.New()
	if err != nil {
		t.Fatal(err)
	}
	opts.Identity = id
	n, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := n.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	return n
}

// waitFor polls cond every 20 ms until it holds or ctx ends.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-tick.C:
		}
	}
}

// readFlog returns the lines of a (possibly bzip2) flogfile, each event
// line with its rx_time removed.
func readFlog(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".bz2") {
		r = bzip2.NewReader(f)
	}
	rxTime := regexp.MustCompile(`"rx_time": [0-9.e+-]+, `)
	var lines []string
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, rxTime.ReplaceAllString(sc.Text(), ""))
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	return lines
}

func testIncidents(t *testing.T, count, events int) []Incident {
	t.Helper()
	incs, err := MakeIncidents(IncidentSpec{Count: count, Events: events, Start: time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC), Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	return incs
}

// TestIncidentGathererLoad runs one Go load node against our incident
// gatherer and python-foolscap's: both must make the same calls
// (subscribe_to_incidents, then one get_incident per incident) and write
// the same files, line for line apart from rx_time.
func TestIncidentGathererLoad(t *testing.T) {
	pyfoolscap.Need(t) // the comparison needs both
	ids, err := NewIdentities(nil)
	if err != nil {
		t.Fatal(err)
	}
	incs := testIncidents(t, 3, 40)
	type result struct {
		calls []string
		files map[string][]string
	}
	results := map[string]result{}
	for _, impl := range []string{ImplGo, ImplPython} {
		t.Run(impl, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
			defer cancel()
			g := startGatherer(t, ctx, impl, KindIncident)
			var mu sync.Mutex
			var calls []string
			n := newTestNode(t, ids, Options{Incidents: incs, Trace: func(m string) {
				mu.Lock()
				calls = append(calls, m)
				mu.Unlock()
			}})
			if err := n.Connect(ctx, g.FURL); err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(g.Spec.Dir, "incidents", n.TubID())
			latest := filepath.Join(dir, "latest")
			want := incs[len(incs)-1].Name + "\n"
			waitFor(t, ctx, "the last incident in "+latest, func() bool {
				b, _ := os.ReadFile(latest)
				return string(b) == want
			})
			files := map[string][]string{}
			for _, inc := range incs {
				files[inc.Name] = readFlog(t, filepath.Join(dir, inc.Name+".flog.bz2"))
				if got := len(files[inc.Name]); got != 2+len(inc.Events) {
					t.Errorf("%s: %d lines, want magic + header + %d events", inc.Name, got, len(inc.Events))
				}
			}
			if st := n.Stats(); st.IncidentSubscriptions != 1 || st.IncidentsAnnounced != 3 || st.IncidentsServed != 3 {
				t.Errorf("node stats %+v: want 1 subscription, 3 announced, 3 served", st)
			}
			mu.Lock()
			results[impl] = result{calls: slices.Clone(calls), files: files}
			mu.Unlock()
		})
	}
	goRes, pyRes := results[ImplGo], results[ImplPython]
	if goRes.files == nil || pyRes.files == nil {
		t.Fatal("a gatherer run failed; nothing to compare")
	}
	wantCalls := []string{"subscribe_to_incidents", "get_incident", "get_incident", "get_incident"}
	for impl, r := range results {
		if !slices.Equal(r.calls, wantCalls) {
			t.Errorf("%s gatherer called %v, want %v", impl, r.calls, wantCalls)
		}
	}
	for name, pyLines := range pyRes.files {
		goLines := goRes.files[name]
		// The "from" field is the node's tubid, which differs between
		// the two runs (one fresh node each).
		norm := regexp.MustCompile(`"from": "[a-z2-7]{32}"`)
		for i := range min(len(goLines), len(pyLines)) {
			g, p := norm.ReplaceAllString(goLines[i], `"from": X`), norm.ReplaceAllString(pyLines[i], `"from": X`)
			if g != p {
				t.Errorf("%s line %d differs:\n go: %s\n py: %s", name, i+1, g, p)
				break
			}
		}
		if len(goLines) != len(pyLines) {
			t.Errorf("%s: ours wrote %d lines, python %d", name, len(goLines), len(pyLines))
		}
	}
}

// TestLoadsLikePythonNode checks a Go load node against a python-foolscap
// node (conformance/peers/pynode.py), on python's incident gatherer and on
// ours: each gatherer must log the same sequence of steps for both nodes
// and write the same layout of files, with event records carrying the
// same fields.
func TestLoadsLikePythonNode(t *testing.T) {
	pyfoolscap.Need(t)
	for _, impl := range []string{ImplPython, ImplGo} {
		t.Run(impl, func(t *testing.T) { loadsLikePythonNode(t, impl) })
	}
}

func loadsLikePythonNode(t *testing.T, impl string) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()

	// The python node: one incident, then its gatherer's view.
	pyG := startGatherer(t, ctx, impl, KindIncident)
	pynode := exec.CommandContext(ctx, python, "../../conformance/peers/pynode.py",
		"--nodedir", filepath.Join(t.TempDir(), "node"), "--gatherer", pyG.FURL, "--trailing-delay", "0.2")
	stdin, err := pynode.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := pynode.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	pynode.Stderr = os.Stderr
	if err := pynode.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); _ = pynode.Wait() }()
	answers := bufio.NewScanner(stdout)
	ask := func(cmd string) map[string]any {
		t.Helper()
		if _, err := io.WriteString(stdin, cmd+"\n"); err != nil {
			t.Fatal(err)
		}
		for answers.Scan() {
			var m map[string]any
			if json.Unmarshal(answers.Bytes(), &m) == nil && m["event"] == nil {
				return m
			}
		}
		t.Fatalf("pynode ended before answering %q", cmd)
		return nil
	}
	ask("wait-subscribed")
	ask("incident bench")
	pyTubID, _ := ask("info")["tubid"].(string)
	if pyTubID == "" {
		t.Fatal("pynode's info has no tubid")
	}
	waitFor(t, ctx, "python node's incident", func() bool { return classifiedFor(pyG.Spec.Dir, pyTubID) })
	ask("quit")

	// The Go node, one incident, on another gatherer of the same kind.
	goG := startGatherer(t, ctx, impl, KindIncident)
	ids, err := NewIdentities(nil)
	if err != nil {
		t.Fatal(err)
	}
	n := newTestNode(t, ids, Options{Incidents: testIncidents(t, 1, 200)})
	if err := n.Connect(ctx, goG.FURL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "Go node's incident", func() bool { return classifiedFor(goG.Spec.Dir, n.TubID()) })

	layout := func(dir, tubid string) []string {
		var out []string
		name := regexp.MustCompile(`incident-\d{4}-\d\d-\d\d--\d\d-\d\d-\d\dZ-[a-z2-7]{7}`)
		_ = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
			if err != nil || info.IsDir() || filepath.Ext(p) == ".log" || filepath.Ext(p) == ".pid" ||
				strings.HasSuffix(p, ".furl") || strings.HasSuffix(p, ".pem") || strings.HasSuffix(p, ".tac") {
				return nil
			}
			rel, _ := filepath.Rel(dir, p)
			rel = strings.ReplaceAll(rel, tubid, "TUBID")
			out = append(out, name.ReplaceAllString(rel, "NAME"))
			return nil
		})
		sort.Strings(out)
		return out
	}
	if a, b := layout(pyG.Spec.Dir, pyTubID), layout(goG.Spec.Dir, n.TubID()); !slices.Equal(a, b) {
		t.Errorf("files written for a python node %v, for a Go node %v", a, b)
	} else {
		t.Logf("%s gatherer files for either node: %v", impl, a)
	}

	steps := func(dir, tubid string) []string {
		b, err := os.ReadFile(filepath.Join(dir, "twistd.log"))
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, line := range strings.Split(string(b), "\n") {
			for _, step := range []string{"connected to", "fetching incident", "classified"} {
				if strings.Contains(line, step) && strings.Contains(line, tubid) || strings.Contains(line, "] "+step) {
					out = append(out, step)
				}
			}
		}
		return out
	}
	if a, b := steps(pyG.Spec.Dir, pyTubID), steps(goG.Spec.Dir, n.TubID()); !slices.Equal(a, b) || len(a) == 0 {
		t.Errorf("gatherer steps for a python node %v, for a Go node %v", a, b)
	} else {
		t.Logf("%s gatherer steps for either node: %v", impl, a)
	}

	keys := func(dir string) map[string]bool {
		files, _ := filepath.Glob(filepath.Join(dir, "incident-*.flog.bz2"))
		if len(files) == 0 {
			t.Fatalf("no incident file in %s", dir)
		}
		set := map[string]bool{}
		for i, line := range readFlog(t, files[0]) {
			var m map[string]any
			if i == 0 || json.Unmarshal([]byte(line), &m) != nil {
				continue
			}
			for k := range m {
				set[k] = true
			}
			if h, ok := m["header"].(map[string]any); ok {
				for k := range h {
					set["header."+k] = true
				}
			}
		}
		return set
	}
	pyDir := filepath.Join(pyG.Spec.Dir, "incidents", pyTubID)
	goDir := filepath.Join(goG.Spec.Dir, "incidents", n.TubID())
	if a, b := keys(pyDir), keys(goDir); !mapsEqual(a, b) {
		t.Errorf("record fields for a python node %v, for a Go node %v", a, b)
	}
}

func mapsEqual(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

// TestLogGathererLoad streams events from a Go load node to our log
// gatherer and python's: every event logged (fewer than the queue holds)
// is stored once.
func TestLogGathererLoad(t *testing.T) {
	for _, impl := range []string{ImplGo, ImplPython} {
		t.Run(impl, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
			defer cancel()
			g := startGatherer(t, ctx, impl, KindLog)
			ids, err := NewIdentities(nil)
			if err != nil {
				t.Fatal(err)
			}
			n := newTestNode(t, ids, Options{})
			if err := n.Connect(ctx, g.FURL); err != nil {
				t.Fatal(err)
			}
			waitFor(t, ctx, "subscribe_to_all", func() bool { return n.Stats().EventSubscriptions == 1 })
			const events = 500
			for range events {
				n.Log(nil)
			}
			waitFor(t, ctx, "delivery", func() bool { return n.Stats().EventsDelivered == events })
			sctx, scancel := context.WithTimeout(ctx, 20*time.Second)
			defer scancel()
			if err := g.Stop(sctx); err != nil {
				t.Fatal(err)
			}
			files, _ := filepath.Glob(filepath.Join(g.Spec.Dir, "*.flog*"))
			got := 0
			for _, f := range files {
				got += max(0, len(readFlog(t, f))-2)
			}
			if got != events {
				t.Errorf("%s log gatherer stored %d events in %v, want %d", impl, got, files, events)
			}
			if st := n.Stats(); st.EventsDropped != 0 || st.EventErrors != 0 {
				t.Errorf("node stats %+v: want no drops and no errors", st)
			}
		})
	}
}

// TestFlowControl checks Subscription's bounds without a network: a burst
// larger than the queue keeps the queue's worth and drops the rest.
func TestFlowControl(t *testing.T) {
	tests := []struct {
		name        string
		burst       int
		wantQueued  int64
		wantDropped int64
	}{
		{name: "fits", burst: 100, wantQueued: 100},
		{name: "exactly the queue", burst: MaxQueue, wantQueued: MaxQueue},
		{name: "overflow", burst: 30000, wantQueued: MaxQueue, wantDropped: 30000 - MaxQueue},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := &Node{subs: map[*subscription]struct{}{}}
			// A stopped-in-flight subscription: every slot is taken, so
			// nothing leaves the queue during the burst.
			s := &subscription{n: n, inFlight: MaxInFlight}
			n.subs[s] = struct{}{}
			for range tc.burst {
				n.Log(struct{}{})
			}
			st := n.Stats()
			if st.EventsQueued != tc.wantQueued || st.EventsDropped != tc.wantDropped {
				t.Errorf("queued %d dropped %d, want %d and %d", st.EventsQueued, st.EventsDropped, tc.wantQueued, tc.wantDropped)
			}
			if len(s.queue) != int(tc.wantQueued) {
				t.Errorf("queue holds %d", len(s.queue))
			}
		})
	}
}

func TestMakeIncidents(t *testing.T) {
	tests := []struct {
		name    string
		spec    IncidentSpec
		wantErr bool
	}{
		{name: "typical", spec: IncidentSpec{Count: 4, Events: 200}},
		{name: "none", spec: IncidentSpec{Count: 0, Events: 1}},
		{name: "no events", spec: IncidentSpec{Count: 1, Events: 0}, wantErr: true},
		{name: "negative", spec: IncidentSpec{Count: -1, Events: 10}, wantErr: true},
	}
	nameRE := regexp.MustCompile(`^incident-\d{4}-\d\d-\d\d--\d\d-\d\d-\d\dZ-[a-z2-7]{7}$`)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			incs, err := MakeIncidents(tc.spec)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if len(incs) != tc.spec.Count {
				t.Fatalf("%d incidents", len(incs))
			}
			mine := ForNode(incs, 1)
			for i, inc := range incs {
				if !nameRE.MatchString(inc.Name) || !nameRE.MatchString(mine[i].Name) {
					t.Errorf("bad names %q %q", inc.Name, mine[i].Name)
				}
				if len(inc.Events) != tc.spec.Events || inc.Events[len(inc.Events)-1] != any(inc.Trigger) {
					t.Errorf("incident %d: %d events, trigger last: %v", i, len(inc.Events), inc.Events[len(inc.Events)-1] == any(inc.Trigger))
				}
				if mine[i].Name == inc.Name || mine[i].Events[len(mine[i].Events)-1] != any(mine[i].Trigger) {
					t.Errorf("ForNode kept the name or lost the trigger")
				}
				if i > 0 && incs[i-1].Name >= inc.Name {
					t.Errorf("names do not sort by time")
				}
			}
		})
	}
}

// classifiedFor reports whether the gatherer in dir has logged the
// classification of an incident of tubid: both gatherers move latest
// before they classify, so latest alone does not say the log is complete.
func classifiedFor(dir, tubid string) bool {
	b, _ := os.ReadFile(filepath.Join(dir, "twistd.log"))
	return strings.Contains(string(b), "classified incidents/"+tubid+"/")
}

// TestProcUsageResolvesMilliseconds: a case of a few milliseconds is
// measured in CPU time finer than the 10-ms clock tick.
func TestProcUsageResolvesMilliseconds(t *testing.T) {
	u0, err := ProcUsage(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	x := 0
	for start := time.Now(); time.Since(start) < 3*time.Millisecond; {
		x++
	}
	u1, err := ProcUsage(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if d := u1.CPU - u0.CPU; d <= 0 || d >= time.Second || d%(10*time.Millisecond) == 0 {
		t.Errorf("3 ms of spinning (%d turns) measured as %v of CPU; want a figure finer than clock ticks", x, d)
	}
}
