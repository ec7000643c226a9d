package stats

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"
)

var update = flag.Bool("update", false, "regenerate testdata/tahoe-stats.json with /usr/bin/python3 when it does not match")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeProvider is a test double of the node side: a connected
// RIStatsProvider reference.
type fakeProvider struct {
	tubid string

	mu      sync.Mutex
	answer  func(ctx context.Context) (any, error)
	calls   int
	nextID  int
	watches map[int]func()
}

func newFake(tubid string, answer func(ctx context.Context) (any, error)) *fakeProvider {
	return &fakeProvider{tubid: tubid, answer: answer, watches: make(map[int]func())}
}

func (f *fakeProvider) TubID() string { return f.tubid }

func (f *fakeProvider) GetStats(ctx context.Context) (any, error) {
	f.mu.Lock()
	f.calls++
	answer := f.answer
	f.mu.Unlock()
	return answer(ctx)
}

func (f *fakeProvider) NotifyOnDisconnect(fn func()) func() {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := f.nextID
	f.nextID++
	f.watches[id] = fn
	return func() {
		f.mu.Lock()
		delete(f.watches, id)
		f.mu.Unlock()
	}
}

// disconnect fires the disconnect notifications, as a lost connection does.
func (f *fakeProvider) disconnect() {
	f.mu.Lock()
	var fns []func()
	for id, fn := range f.watches {
		fns = append(fns, fn)
		delete(f.watches, id)
	}
	f.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

func (f *fakeProvider) numCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func (f *fakeProvider) numWatches() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.watches)
}

func answer(v any) func(context.Context) (any, error) {
	return func(context.Context) (any, error) { return v, nil }
}

func failing(err error) func(context.Context) (any, error) {
	return func(context.Context) (any, error) { return nil, err }
}

// fakeClock is a settable clock for entry timestamps.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// testLogger sends the service's log to the test log.
func testLogger(t *testing.T) *slog.Logger {
	t.Helper()
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}

func newTestService(t *testing.T, opts Options) *Service {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// havePython reports whether /usr/bin/python3 exists (the json reference;
// foolscap itself is not needed by this package's tests).
func havePython() bool {
	_, err := exec.LookPath("/usr/bin/python3")
	return err == nil
}

func testdata(name string) string { return filepath.Join("testdata", name) }

type dtoFamily = dto.MetricFamily
