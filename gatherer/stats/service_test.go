package stats

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatherer/gatherer/foolscap/banana"
	"github.com/gatherer/gatherer/gatherer/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

const (
	tubA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	tubB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	tubC = "cccccccccccccccccccccccccccccccc"
	tubD = "dddddddddddddddddddddddddddddddd"
	tubE = "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
)

var (
	t1 = time.Unix(1616500000, 125000000)
	t2 = time.Unix(1616500060, 123000000)
)

// py2Answer is a get_stats() answer as a Python 2 Tahoe node sends it:
// every key bytes.
func py2Answer() *banana.Dict {
	b := func(s string) []byte { return []byte(s) }
	return banana.NewDict(
		b("counters"), banana.NewDict(
			b("storage_server.allocate"), int64(12),
			b("uploader.files_uploaded"), int64(3)),
		b("stats"), banana.NewDict(
			b("node.uptime"), 86400.5,
			b("cpu_monitor.total"), 12.3,
			b("cpu_monitor.1min_avg"), nil,
			b("load_monitor.avg_load"), 0.0012,
			b("load_monitor.max_load"), 1.5e-05,
			b("storage_server.disk_avail"), int64(83842835968),
			b("storage_server.accepting_immutable_shares"), int64(1),
			b("storage_server.disk_total"), new(big.Int).Lsh(big.NewInt(1), 70)),
	)
}

// TestTahoeScenario runs several providers through two poll rounds: a
// Python 2 style one (bytes everywhere), a str one, one that disconnects
// after the first round, one answering malformed stats, and one whose
// get_stats() fails, which then calls provide() again. stats.json must equal
// what Tahoe's JSONStatsGatherer writes for the same answers
// (testdata/tahoe-stats.json, produced by python3's json.dump).
func TestTahoeScenario(t *testing.T) {
	ctx := t.Context()
	clock := &fakeClock{t: t1}
	reg := prometheus.NewRegistry()
	inst, err := metrics.NewInstruments(reg, "stats")
	if err != nil {
		t.Fatal(err)
	}
	s := newTestService(t, Options{Now: clock.Now, Metrics: inst})

	a := newFake(tubA, answer(py2Answer()))
	b := newFake(tubB, answer(banana.NewDict(
		"counters", banana.NewDict(),
		"stats", banana.NewDict("node.uptime", 5.744404554367065))))
	c := newFake(tubC, answer(banana.NewDict(
		[]byte("counters"), banana.NewDict([]byte("downloader.files_downloaded"), int64(1)),
		[]byte("stats"), banana.NewDict())))
	d := newFake(tubD, answer(banana.NewDict([]byte("counters"), []byte("not a dict"))))
	e := newFake(tubE, failing(errors.New("remote exception: KeyError")))

	provides := []struct {
		p    *fakeProvider
		nick any
	}{
		{a, []byte("storage-7 \xc3\xa9")},
		{b, "client-\U0001F600"},
		{c, `gateway "c" \`},
		{d, nil},
		{e, []byte("old e")},
	}
	for _, pr := range provides {
		if err := s.Provide(ctx, pr.p, pr.nick); err != nil {
			t.Fatalf("Provide(%s): %v", pr.p.tubid, err)
		}
	}
	if err := s.Poll(ctx); err != nil {
		t.Fatalf("round 1: %v", err)
	}
	if got, want := s.Connected(), []string{tubA, tubB, tubC, tubD}; !slices.Equal(got, want) {
		t.Errorf("after round 1, connected = %v, want %v (e dropped after its get_stats failed)", got, want)
	}
	if e.numWatches() != 0 {
		t.Errorf("the dropped provider still has %d disconnect watches", e.numWatches())
	}

	c.disconnect() // mid-run
	e2 := newFake(tubE, answer(banana.NewDict("counters", banana.NewDict(), "stats", banana.NewDict("node.uptime", 1.0))))
	if err := s.Provide(ctx, e2, []byte("reborn")); err != nil {
		t.Fatal(err)
	}
	clock.Set(t2)
	if err := s.Poll(ctx); err != nil {
		t.Fatalf("round 2: %v", err)
	}
	if got, want := s.Connected(), []string{tubA, tubB, tubD, tubE}; !slices.Equal(got, want) {
		t.Errorf("after round 2, connected = %v, want %v", got, want)
	}
	if c.numCalls() != 1 {
		t.Errorf("disconnected provider was called %d times, want 1", c.numCalls())
	}
	if d.numCalls() != 2 {
		t.Errorf("malformed provider was called %d times, want 2 (kept, answers skipped)", d.numCalls())
	}

	golden := testdata("tahoe-stats.json")
	got := mustRead(t, filepath.Join(s.dir, StatsFile))
	want := mustRead(t, golden)
	if !bytes.Equal(got, want) && *update {
		if !havePython() {
			t.Fatal("-update needs /usr/bin/python3")
		}
		out, err := exec.Command("/usr/bin/python3", testdata("tahoe_stats_json.py"), golden).CombinedOutput()
		if err != nil {
			t.Fatalf("regenerating %s: %v\n%s", golden, err, out)
		}
		want = mustRead(t, golden)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("stats.json differs from Tahoe's format\n got: %s\nwant: %s", got, want)
	}
	if _, err := os.Stat(filepath.Join(s.dir, StatsFile+".tmp")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stats.json.tmp left behind: %v", err)
	}

	stale := make(map[string]bool)
	for _, n := range s.NodeStats() {
		stale[n.ID] = n.Stale
	}
	wantStale := map[string]bool{tubA: false, tubB: false, tubC: true, tubE: false}
	if !maps(stale, wantStale) {
		t.Errorf("stale = %v, want %v", stale, wantStale)
	}
	clock.Set(t2.Add(5*DefaultPollInterval + time.Second))
	for _, n := range s.NodeStats() {
		if !n.Stale {
			t.Errorf("%s not stale %v after its last answer", n.ID, 5*DefaultPollInterval)
		}
	}

	if n := gathered(t, reg, "gatherer_connected_nodes", "", ""); n != 4 {
		t.Errorf("connected nodes = %v, want 4", n)
	}
	if n := countErrors(t, reg, "get_stats"); n != 1 {
		t.Errorf("get_stats errors = %v, want 1", n)
	}
	if n := countErrors(t, reg, "malformed_stats"); n != 2 {
		t.Errorf("malformed_stats errors = %v, want 2", n)
	}
}

func maps(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// gathered returns the value of the sample of family name carrying label
// key=value (any sample if key is empty), or -1.
func gathered(t *testing.T, reg *prometheus.Registry, name, key, value string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			match := key == ""
			for _, lp := range m.GetLabel() {
				if lp.GetName() == key && lp.GetValue() == value {
					match = true
				}
			}
			if !match {
				continue
			}
			switch {
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			}
		}
	}
	return -1
}

func countErrors(t *testing.T, reg *prometheus.Registry, kind string) float64 {
	t.Helper()
	return gathered(t, reg, "gatherer_errors_total", "kind", kind)
}

// TestReload starts a gatherer on the directory a previous one left: the old
// entries stay (stale) and are written back unchanged.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	golden := mustRead(t, testdata("tahoe-stats.json"))
	if err := os.WriteFile(filepath.Join(dir, StatsFile), golden, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, StatsFile+".tmp"), []byte("{torn"), 0o644); err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: t2}
	s := newTestService(t, Options{Dir: dir, Now: clock.Now})
	if _, err := os.Stat(filepath.Join(dir, StatsFile+".tmp")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("leftover stats.json.tmp not removed: %v", err)
	}
	nodes := s.NodeStats()
	if len(nodes) != 4 {
		t.Fatalf("loaded %d entries, want 4", len(nodes))
	}
	for _, n := range nodes {
		if !n.Stale {
			t.Errorf("%s: a loaded entry with no provider must be stale", n.ID)
		}
	}
	if got := nodes[0].Timestamp; !got.Equal(t2) {
		t.Errorf("timestamp of %s = %v, want %v", nodes[0].ID, got, t2)
	}
	// A new answer from b rewrites the file; the others keep their bytes.
	b := newFake(tubB, answer(banana.NewDict("counters", banana.NewDict(), "stats", banana.NewDict("node.uptime", 5.744404554367065))))
	if err := s.Provide(t.Context(), b, "client-\U0001F600"); err != nil {
		t.Fatal(err)
	}
	if err := s.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, filepath.Join(dir, StatsFile)); !bytes.Equal(got, golden) {
		t.Errorf("reloaded and rewritten stats.json changed\n got: %s\nwant: %s", got, golden)
	}
}

func TestLoadCorrupt(t *testing.T) {
	tests := []struct {
		name string
		data string
	}{
		{"truncated", `{"aaaa": {"timestamp": 1.0, "nickname": "x", "stats": {"counters": {`},
		{"not an object", `[1, 2]`},
		{"string value", `{"aaaa": {"timestamp": 1.0, "stats": {"stats": {"x": "y"}}}}`},
		{"trailing data", `{} {}`},
		{"timestamp not a number", `{"aaaa": {"timestamp": "now"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, StatsFile), []byte(tt.data), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := New(Options{Dir: dir})
			if err == nil {
				t.Fatal("New accepted a corrupt stats.json")
			}
			t.Log(err)
		})
	}
}

// TestSlowProviderDoesNotDelayOthers: a provider that never answers is cut
// off by CallTimeout, kept (a timeout is not a failure), and the others'
// answers are stored meanwhile.
func TestSlowProviderDoesNotDelayOthers(t *testing.T) {
	s := newTestService(t, Options{CallTimeout: 200 * time.Millisecond, MaxConcurrent: 2})
	ctx := t.Context()
	slow := newFake(tubA, func(ctx context.Context) (any, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	if err := s.Provide(ctx, slow, "slow"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{tubB, tubC, tubD, tubE} {
		if err := s.Provide(ctx, newFake(id, answer(banana.NewDict("counters", banana.NewDict(), "stats", banana.NewDict("x", int64(1))))), id[:1]); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	if err := s.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a round took %v with a 200 ms call timeout", d)
	}
	if got := len(s.NodeStats()); got != 4 {
		t.Errorf("%d entries stored, want the 4 fast providers", got)
	}
	if !slices.Contains(s.Connected(), tubA) {
		t.Error("a provider that timed out was dropped; it should be asked again next round")
	}
}

// TestConcurrencyBound: no more than MaxConcurrent get_stats calls at once.
func TestConcurrencyBound(t *testing.T) {
	const limit = 3
	s := newTestService(t, Options{MaxConcurrent: limit})
	ctx := t.Context()
	var cur, peak atomic.Int32
	var mu sync.Mutex
	gate := make(chan struct{})
	arrived := make(chan struct{}, 20)
	for i := range 12 {
		id := string(rune('a'+i)) + "234567234567234567234567234567"
		err := s.Provide(ctx, newFake(id, func(ctx context.Context) (any, error) {
			n := cur.Add(1)
			mu.Lock()
			if n > peak.Load() {
				peak.Store(n)
			}
			mu.Unlock()
			arrived <- struct{}{}
			<-gate
			cur.Add(-1)
			return banana.NewDict("counters", banana.NewDict(), "stats", banana.NewDict()), nil
		}), nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error)
	go func() { done <- s.Poll(ctx) }()
	for range limit {
		<-arrived
	}
	close(gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if p := peak.Load(); p > limit {
		t.Errorf("%d calls in progress at once, limit %d", p, limit)
	}
	if n := len(s.NodeStats()); n != 12 {
		t.Errorf("%d entries, want 12", n)
	}
}

// TestRun: a provider arriving while Run runs is polled at once (not after
// the 1 h interval); cancelling Run writes stats.json and returns.
func TestRun(t *testing.T) {
	s := newTestService(t, Options{PollInterval: time.Hour, WriteDelay: time.Millisecond})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	polled := make(chan struct{}, 1)
	p := newFake(tubA, func(context.Context) (any, error) {
		select {
		case polled <- struct{}{}:
		default:
		}
		return banana.NewDict("counters", banana.NewDict(), "stats", banana.NewDict("node.uptime", 1.5)), nil
	})
	if err := s.Provide(ctx, p, "n"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-polled:
	case <-time.After(10 * time.Second):
		t.Fatal("a new provider was not polled at once")
	}
	// Replacing it: the old reference's disconnect must not drop the new one.
	p2 := newFake(tubA, answer(banana.NewDict("counters", banana.NewDict(), "stats", banana.NewDict("node.uptime", 2.5))))
	if err := s.Provide(ctx, p2, "n"); err != nil {
		t.Fatal(err)
	}
	if p.numWatches() != 0 {
		t.Error("the replaced provider's disconnect watch was not cancelled")
	}
	p.disconnect()
	if !slices.Contains(s.Connected(), tubA) {
		t.Error("the old reference's disconnect dropped its replacement")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v, want context.Canceled", err)
	}
	got := mustRead(t, filepath.Join(s.dir, StatsFile))
	if !bytes.Contains(got, []byte(`"node.uptime": `)) {
		t.Errorf("stats.json after Run: %s", got)
	}
}

func TestProvideRejects(t *testing.T) {
	s := newTestService(t, Options{})
	tests := []struct {
		name  string
		tubid string
		nick  any
	}{
		{"unauthenticated", "<unauth>", "x"},
		{"no tubid", "", "x"},
		{"nickname not a string", tubA, int64(3)},
		{"nickname too long", tubA, bytes.Repeat([]byte("n"), maxNicknameBytes+1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.Provide(t.Context(), newFake(tt.tubid, answer(nil)), tt.nick); err == nil {
				t.Error("accepted")
			}
		})
	}
	if got := s.Connected(); len(got) != 0 {
		t.Errorf("connected after rejected provides: %v", got)
	}
	// limit itself is fine; invalid UTF-8 is repaired, not refused.
	if err := s.Provide(t.Context(), newFake(tubA, answer(nil)), append(bytes.Repeat([]byte("n"), maxNicknameBytes-1), 0xff)); err != nil {
		t.Errorf("nickname of exactly %d bytes: %v", maxNicknameBytes, err)
	}
}

func TestFromAnswer(t *testing.T) {
	d := banana.NewDict
	// tahoe wraps one stats dict the way a node sends it: bytes keys, with
	// an empty counters dict.
	tahoe := func(stats any) *banana.Dict { return d([]byte("counters"), d(), []byte("stats"), stats) }
	tests := []struct {
		name    string
		in      any
		want    string // category.name=text ...
		wantErr bool
	}{
		{"bytes keys", tahoe(d([]byte("k"), int64(1))), "stats.k=1", false},
		{"str keys", d("counters", d("n", int64(2)), "stats", d("k", 2.5)), "counters.n=2 stats.k=2.5", false},
		{"mixed", d([]byte("counters"), d("k", nil), "stats", d([]byte("x"), true)), "counters.k=null stats.x=true", false},
		{"extra category kept", d("counters", d(), "stats", d(), "helper", d("h", int64(1))), "helper.h=1", false},
		{"big int", tahoe(d("k", new(big.Int).Lsh(big.NewInt(1), 64))), "stats.k=18446744073709551616", false},
		{"NaN float", tahoe(d("k", math.NaN())), "stats.k=null", false},
		{"tiny float", tahoe(d("k", 1e-7)), "stats.k=1e-07", false},
		{"whole float", tahoe(d("k", 3.0)), "stats.k=3.0", false},
		{"empty dicts", tahoe(d()), "", false},
		{"empty answer", d(), "", true},
		{"stats missing", d([]byte("counters"), d()), "", true},
		{"counters missing", d("stats", d()), "", true},
		{"not a dict", banana.List{[]byte("counters"), int64(1)}, "", true},
		{"None", nil, "", true},
		{"inner not a dict", d("counters", int64(1), "stats", d()), "", true},
		{"str value", tahoe(d("k", "1")), "", true},
		{"bytes value", tahoe(d("k", []byte("not a number"))), "", true},
		{"list value", tahoe(d("k", banana.List{int64(1), int64(2)})), "", true},
		{"tuple key", d(banana.Tuple{"a"}, d(), "counters", d(), "stats", d()), "", true},
		{"int key", tahoe(d(int64(1), int64(1))), "", true},
		{"non-UTF-8 bytes key", tahoe(d([]byte{0xff}, int64(1))), "", true},
		{"same key as bytes and str", tahoe(d("k", int64(1), []byte("k"), int64(2))), "", true},
		{"same category as bytes and str", d("stats", d(), []byte("stats"), d(), "counters", d()), "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cats, err := fromAnswer(tt.in, 100)
			if tt.wantErr {
				if err == nil || !errors.Is(err, errMalformed) {
					t.Errorf("err = %v, want errMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := flatten(cats); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFromAnswerMaxKeys(t *testing.T) {
	mk := func(n int) *banana.Dict {
		inner := banana.NewDict()
		for i := range n {
			inner.Items = append(inner.Items, banana.DictItem{Key: string(rune('a' + i)), Value: int64(i)})
		}
		return banana.NewDict("counters", banana.NewDict(), "stats", inner)
	}
	if _, err := fromAnswer(mk(5), 5); err != nil {
		t.Errorf("at the limit: %v", err)
	}
	if _, err := fromAnswer(mk(6), 5); err == nil {
		t.Error("limit+1 accepted")
	}
}

func flatten(cats []category) string {
	var b []byte
	for _, c := range cats {
		for _, s := range c.samples {
			if len(b) > 0 {
				b = append(b, ' ')
			}
			b = append(b, c.name+"."+s.name+"="+s.text...)
		}
	}
	return string(b)
}

// TestRunPollsEveryInterval: Run keeps polling, and stats.json follows.
func TestRunPollsEveryInterval(t *testing.T) {
	s := newTestService(t, Options{PollInterval: 20 * time.Millisecond, WriteDelay: time.Millisecond})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	calls := make(chan struct{}, 100)
	var n atomic.Int64
	p := newFake(tubA, func(context.Context) (any, error) {
		calls <- struct{}{}
		return banana.NewDict("counters", banana.NewDict("ticks", n.Add(1)), "stats", banana.NewDict()), nil
	})
	if err := s.Provide(ctx, p, "n"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	for i := range 3 {
		select {
		case <-calls:
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d polls", i)
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	got := mustRead(t, filepath.Join(s.dir, StatsFile))
	want := []byte(`"ticks": ` + strconv.FormatInt(n.Load(), 10) + `}`)
	if !bytes.Contains(got, want) {
		t.Errorf("stats.json after Run = %s, want the last answer (%s)", got, want)
	}
}

// TestLoadPythonNonFinite: Python's json.dump wrote NaN and Infinity for
// non-finite floats; such a stats.json must still open (and is rewritten
// with null).
func TestLoadPythonNonFinite(t *testing.T) {
	dir := t.TempDir()
	in := `{"aaaa": {"timestamp": 1616500000, "nickname": "n", "stats": {"counters": {}, "stats": {"x": NaN, "y": Infinity, "z": -Infinity}}}}`
	if err := os.WriteFile(filepath.Join(dir, StatsFile), []byte(in), 0o644); err != nil {
		t.Fatal(err)
	}
	s := newTestService(t, Options{Dir: dir})
	nodes := s.NodeStats()
	if len(nodes) != 1 || len(nodes[0].Categories) != 2 {
		t.Fatalf("loaded %+v", nodes)
	}
	st := nodes[0].Categories[1].Samples
	if !math.IsNaN(st[0].Value) || !math.IsInf(st[1].Value, 1) || !math.IsInf(st[2].Value, -1) {
		t.Errorf("values = %+v, want NaN, +Inf, -Inf", st)
	}
	s.store(s.entries["aaaa"]) // force a rewrite
	if err := s.flush(); err != nil {
		t.Fatal(err)
	}
	want := `{"aaaa": {"timestamp": 1616500000.0, "nickname": "n", "stats": {"counters": {}, "stats": {"x": null, "y": null, "z": null}}}}`
	if got := mustRead(t, filepath.Join(dir, StatsFile)); string(got) != want {
		t.Errorf("rewritten as %s\nwant %s", got, want)
	}
}
