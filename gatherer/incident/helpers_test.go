package incident

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatherer/gatherer/foolscap/banana"
)

// fakeFlog stands in for gatherer/flog: it writes a token per file and keeps
// what the real writer would have serialised, so tests can inspect it.
type fakeFlog struct {
	mu    sync.Mutex
	files map[string]written
	n     int
}

type written struct {
	header any
	from   string
	rx     float64
	events []any
}

func newFakeFlog() *fakeFlog { return &fakeFlog{files: map[string]written{}} }

func (f *fakeFlog) WriteIncident(w io.Writer, header any, from string, rx float64, events []any) error {
	f.mu.Lock()
	f.n++
	tok := fmt.Sprintf("fakeflog-%d", f.n)
	f.files[tok] = written{header, from, rx, events}
	f.mu.Unlock()
	_, err := io.WriteString(w, tok+"\n")
	return err
}

func (f *fakeFlog) ReadHeader(r io.Reader) (any, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("truncated: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	w, ok := f.files[strings.TrimSpace(line)]
	if !ok {
		return nil, errors.New("not a flogfile")
	}
	return w.header, nil
}

func (f *fakeFlog) ReadWhole(r io.Reader) (any, error) { return f.ReadHeader(r) }

// stored returns what was written to a file on disk.
func (f *fakeFlog) stored(t *testing.T, path string) written {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read stored incident: %v", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	w, ok := f.files[strings.TrimSpace(string(b))]
	if !ok {
		t.Fatalf("%s holds %q, not a file our writer made", path, b)
	}
	return w
}

// fakeNode is a test double of a Foolscap node's logport: it has incident
// files and answers like foolscap/logging/publish.py does.
type fakeNode struct {
	tubid string

	mu        sync.Mutex
	incidents map[string]*banana.Dict // name -> header
	obs       Observer
	since     []string
	fetches   map[string]int
	block     map[string]chan struct{} // get_incident waits on these
	inflight  int                      // get_incident calls not yet answered
	maxFlight int                      // the most of them at once
	wg        sync.WaitGroup
	caughtUp  chan struct{} // one value per finished catch-up
}

func newFakeNode(tubid string) *fakeNode {
	return &fakeNode{tubid: tubid, incidents: map[string]*banana.Dict{}, fetches: map[string]int{}, block: map[string]chan struct{}{}, caughtUp: make(chan struct{}, 16)}
}

func trigger(incarnation string, num int64) *banana.Dict {
	return banana.NewDict("facility", "demo.app", "format", "%(label)s-weird happened", "incarnation",
		banana.Tuple{incarnation, nil}, "label", "x", "level", int64(30), "num", num, "time", 1795759717.1268744, "umid", "Ab12Cd")
}

func (n *fakeNode) add(name string, trig *banana.Dict) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.incidents[name] = banana.NewDict("pid", int64(4242), "trigger", trig, "type", "incident",
		"versions", banana.NewDict("foolscap", []byte("21.7.0")))
}

// declare records an incident and announces it live, as the node does after
// the incident's trailing window.
func (n *fakeNode) declare(ctx context.Context, name string, trig *banana.Dict) {
	n.add(name, trig)
	n.mu.Lock()
	obs := n.obs
	n.mu.Unlock()
	if obs != nil {
		_ = obs.NewIncident(ctx, []byte(name), trig)
	}
}

func (n *fakeNode) TubID() string { return n.tubid }

func (n *fakeNode) SubscribeToIncidents(ctx context.Context, obs Observer, catchUp bool, since string) error {
	n.mu.Lock()
	n.obs = obs
	n.since = append(n.since, since)
	var names []string
	for name := range n.incidents {
		if catchUp && name > since {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	triggers := make([]any, len(names))
	for i, name := range names {
		triggers[i], _ = n.incidents[name].GetStr("trigger")
	}
	n.mu.Unlock()
	// Catch-up runs in a later turn and uses callRemoteOnly.
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		for i, name := range names {
			_ = obs.NewIncident(context.Background(), []byte(name), triggers[i])
		}
		_ = obs.DoneWithIncidentCatchup(context.Background())
		n.caughtUp <- struct{}{}
	}()
	return nil
}

func (n *fakeNode) GetIncident(ctx context.Context, name string) (any, []any, error) {
	n.mu.Lock()
	n.fetches[name]++
	n.inflight++
	n.maxFlight = max(n.maxFlight, n.inflight)
	h, ok := n.incidents[name]
	b := n.block[name]
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		n.inflight--
		n.mu.Unlock()
	}()
	if b != nil {
		select {
		case <-b:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
	if !ok {
		return nil, nil, fmt.Errorf("KeyError: %s", name)
	}
	evs := []any{banana.NewDict("message", "e1", "num", int64(1), "time", 1795759715.121158, "incarnation", banana.Tuple{"e2f51a603e652575", nil}), banana.NewDict("message", "e2", "num", int64(2), "time", 1795759716.5, "incarnation", banana.Tuple{"e2f51a603e652575", nil})}
	return h, evs, nil
}

func (n *fakeNode) fetchCount(name string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.fetches[name]
}

// recorder is a slog.Handler keeping the messages, with a way to wait for
// one without sleeping.
type recorder struct {
	mu      sync.Mutex
	lines   []string
	changed chan struct{}
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{})} }

func (r *recorder) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler           { return r }
func (r *recorder) WithGroup(string) slog.Handler                { return r }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	line := rec.Message
	if rec.Level >= slog.LevelWarn {
		line = rec.Level.String() + ": " + line
		rec.Attrs(func(a slog.Attr) bool { line += " " + a.String(); return true })
	}
	r.mu.Lock()
	r.lines = append(r.lines, line)
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
	return nil
}

func (r *recorder) snapshot() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lines...)
}

// waitFor waits until a logged line contains substr n times in total.
func (r *recorder) waitFor(t *testing.T, substr string, n int) {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		c := 0
		for _, l := range r.lines {
			if strings.Contains(l, substr) {
				c++
			}
		}
		ch := r.changed
		r.mu.Unlock()
		if c >= n {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %d log lines containing %q; log:\n%s", n, substr, strings.Join(r.snapshot(), "\n"))
		}
	}
}

type harness struct {
	dir  string
	flog *fakeFlog
	rec  *recorder
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	return &harness{dir: t.TempDir(), flog: newFakeFlog(), rec: newRecorder()}
}

// start makes and starts a Service on the harness directory; it is closed
// at the end of the test.
func (h *harness) start(t *testing.T, mod func(*Options)) *Service {
	t.Helper()
	opts := Options{Dir: h.dir, Flog: h.flog, Logger: slog.New(h.rec), FetchTimeout: 5 * time.Second,
		Now: func() time.Time { return time.Unix(1795759722, 243755300) }}
	if mod != nil {
		mod(&opts)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// gatherUntil hands node's logport to s, waits until s has logged the
// classification of node's incident last, then closes s and waits for the
// node's calls to end.
func (h *harness) gatherUntil(t *testing.T, s *Service, node *fakeNode, last string) {
	t.Helper()
	if err := s.Logport(t.Context(), node.tubid, node); err != nil {
		t.Fatal(err)
	}
	h.rec.waitFor(t, "classified incidents/"+node.tubid+"/"+last, 1)
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	node.wg.Wait()
}

// wantUnknownInOrder checks that classified/unknown lists tubid's incidents
// names, in that order, and that latest names the last of them.
func (h *harness) wantUnknownInOrder(t *testing.T, tubid string, names ...string) {
	t.Helper()
	want := ""
	for _, n := range names {
		want += relPath(tubid, n) + "\n"
	}
	if got := h.read(t, "classified/unknown"); got != want {
		t.Errorf("classified/unknown = %q, want %q", got, want)
	}
	if got := h.read(t, "incidents/"+tubid+"/latest"); got != names[len(names)-1]+"\n" {
		t.Errorf("latest = %q, want %q", got, names[len(names)-1])
	}
}

func (h *harness) read(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(h.dir, rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (h *harness) exists(rel string) bool {
	_, err := os.Stat(filepath.Join(h.dir, rel))
	return err == nil
}

func (h *harness) listing(t *testing.T) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(h.dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(h.dir, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func slogNew(h slog.Handler) *slog.Logger { return slog.New(h) }
