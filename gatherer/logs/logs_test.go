package logs

import (
	"bytes"
	"compress/bzip2"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatherer/gatherer/foolscap/banana"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// lineFlog stands in for gatherer/flog with a readable line format; events
// holding the key "unencodable" fail like Python's json.dumps on bytes keys.
type lineFlog struct{}

func (lineFlog) Preamble(h any) ([]byte, error) {
	d := h.(*banana.Dict)
	typ, _ := d.Get("type")
	start, _ := d.Get("start")
	return fmt.Appendf(nil, "# foolscap flogfile v1\nheader type=%v start=%v\n", typ, start), nil
}

func (lineFlog) EncodeEvent(from string, rx float64, ev any) ([]byte, error) {
	d := ev.(*banana.Dict)
	if _, bad := d.Get("unencodable"); bad {
		return nil, errors.New("keys must be str, int, float, bool or None, not bytes")
	}
	m, _ := d.Get("message")
	return fmt.Appendf(nil, "from=%s rx=%v d=%v\n", from, rx, m), nil
}

// clock advances by step on every call.
type clock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.t
	c.t = c.t.Add(c.step)
	return t
}

type fakeNode struct {
	mu      sync.Mutex
	obs     Observer
	catchUp []bool
	ready   chan struct{}
}

func newFakeNode() *fakeNode { return &fakeNode{ready: make(chan struct{}, 4)} }

func (n *fakeNode) SubscribeToAll(_ context.Context, obs Observer, catchUp bool) error {
	n.mu.Lock()
	n.obs = obs
	n.catchUp = append(n.catchUp, catchUp)
	n.mu.Unlock()
	n.ready <- struct{}{}
	return nil
}

func (n *fakeNode) send(t *testing.T, msg string, extra ...any) {
	t.Helper()
	n.mu.Lock()
	obs := n.obs
	n.mu.Unlock()
	if err := obs.Msg(t.Context(), banana.NewDict(append([]any{"message", msg}, extra...)...)); err != nil {
		t.Fatalf("Msg answered %v; the node would drop the subscription", err)
	}
}

type capture struct {
	mu    sync.Mutex
	lines []string
}

func (c *capture) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }
func (c *capture) WithAttrs([]slog.Attr) slog.Handler           { return c }
func (c *capture) WithGroup(string) slog.Handler                { return c }
func (c *capture) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines = append(c.lines, r.Message)
	return nil
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

func readPlainOrBz2(t *testing.T, p string) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(p, ".bz2") {
		r = bzip2.NewReader(f)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func newService(t *testing.T, dir string, c *clock, mod func(*Options)) (*Service, *capture) {
	t.Helper()
	cp := &capture{}
	o := Options{Dir: dir, Flog: lineFlog{}, Now: c.now, Logger: slog.New(cp)}
	if mod != nil {
		mod(&o)
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s, cp
}

func TestRotationNamingAndContent(t *testing.T) {
	tests := []struct {
		name      string
		bzip      bool
		wantFiles []string
	}{
		{name: "plain", wantFiles: []string{
			"from-2026-11-27--06-10-12Z---to-2026-11-27--06-10-32Z.flog",
			"from-2026-11-27--06-10-32Z---to-2026-11-27--06-10-52Z.flog",
		}},
		{name: "bzip", bzip: true, wantFiles: []string{
			"from-2026-11-27--06-10-12Z---to-2026-11-27--06-10-32Z.flog.bz2",
			"from-2026-11-27--06-10-32Z---to-2026-11-27--06-10-52Z.flog.bz2",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			c := &clock{t: time.Date(2026, 11, 27, 6, 10, 12, 355345000, time.UTC), step: 10 * time.Second}
			s, _ := newService(t, dir, c, func(o *Options) { o.Bzip = tt.bzip })
			if got := filepath.Base(s.CurrentFile()); got != "from-2026-11-27--06-10-12Z---to-present.flog" {
				t.Errorf("first file %s", got)
			}
			node := newFakeNode()
			if err := s.Logport(t.Context(), []byte("67xgfwcpbiuyd6sviaef4ztfpmnld3a4"), node); err != nil {
				t.Fatal(err)
			}
			<-node.ready
			node.send(t, "one") // rx 06:10:22
			rotated, err := s.Rotate(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if filepath.Base(rotated) != tt.wantFiles[0] {
				t.Errorf("rotated to %s", filepath.Base(rotated))
			}
			node.send(t, "two") // rx 06:10:42
			last, err := s.Close(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if filepath.Base(last) != tt.wantFiles[1] {
				t.Errorf("last file %s", filepath.Base(last))
			}
			if got := listDir(t, dir); !reflect.DeepEqual(got, tt.wantFiles) {
				t.Errorf("files %q, want %q", got, tt.wantFiles)
			}
			want0 := "# foolscap flogfile v1\nheader type=gatherer start=1.795759812355345e+09\n" +
				"from=67xgfwcpbiuyd6sviaef4ztfpmnld3a4 rx=1.795759822355345e+09 d=one\n"
			if got := readPlainOrBz2(t, filepath.Join(dir, tt.wantFiles[0])); got != want0 {
				t.Errorf("first file:\n%s\nwant:\n%s", got, want0)
			}
			if got := readPlainOrBz2(t, filepath.Join(dir, tt.wantFiles[1])); !strings.HasSuffix(got, "d=two\n") ||
				!strings.Contains(got, "header type=gatherer start=1.795759832355345e+09\n") {
				t.Errorf("second file:\n%s", got)
			}
		})
	}
}

func TestUnencodableEventKeepsSubscription(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t: time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC), step: time.Second}
	s, cp := newService(t, dir, c, nil)
	node := newFakeNode()
	if err := s.Logport(t.Context(), "nodeid-as-str", node); err != nil {
		t.Fatal(err)
	}
	<-node.ready
	node.send(t, "before")
	node.send(t, "bad", "unencodable", true)
	node.send(t, "after")
	last, err := s.Close(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := readPlainOrBz2(t, last)
	if !strings.Contains(got, "d=before\n") || !strings.Contains(got, "d=after\n") || strings.Contains(got, "d=bad") {
		t.Errorf("file:\n%s", got)
	}
	if len(cp.lines) != 1 || !strings.HasPrefix(cp.lines[0], "GATHERER: unable to serialize ") {
		t.Errorf("log %q", cp.lines)
	}
	if !reflect.DeepEqual(node.catchUp, []bool{false}) {
		t.Errorf("catch_up %v, want python's default (none)", node.catchUp)
	}
}

func TestCatchUpOption(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t: time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC), step: time.Second}
	s, _ := newService(t, dir, c, func(o *Options) { o.CatchUp = true })
	node := newFakeNode()
	if err := s.Logport(t.Context(), "n", node); err != nil {
		t.Fatal(err)
	}
	<-node.ready
	if _, err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(node.catchUp, []bool{true}) {
		t.Errorf("catch_up %v", node.catchUp)
	}
	if err := s.Logport(t.Context(), "n", node); !errors.Is(err, ErrClosed) {
		t.Errorf("Logport after Close: %v", err)
	}
	if err := s.Logport(t.Context(), int64(3), node); err == nil {
		t.Error("accepted a nodeid that is not str or bytes")
	}
}

func TestStaleFileAndSameSecond(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "from-2026-11-27--05-00-00Z---to-present.flog")
	if err := os.WriteFile(stale, []byte("# foolscap flogfile v1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mt := time.Date(2026, 11, 27, 5, 30, 0, 0, time.UTC)
	if err := os.Chtimes(stale, mt, mt); err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC), step: 0}
	s, cp := newService(t, dir, c, nil)
	if got, err := s.Rotate(t.Context()); err != nil || got != "" {
		t.Errorf("same-second Rotate = %q, %v; want skipped", got, err)
	}
	if _, err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"from-2026-11-27--05-00-00Z---to-2026-11-27--05-30-00Z.flog",
		"from-2026-11-27--06-00-00Z---to-2026-11-27--06-00-00Z.flog",
	}
	if got := listDir(t, dir); !reflect.DeepEqual(got, want) {
		t.Errorf("files %q", got)
	}
	if len(cp.lines) != 2 {
		t.Errorf("log %q", cp.lines)
	}
}

func TestRotateTimer(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t: time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC), step: time.Second}
	rotated := make(chan struct{}, 1)
	cp := &capture{}
	s, err := New(Options{Dir: dir, Flog: lineFlog{}, Now: func() time.Time {
		select {
		case rotated <- struct{}{}:
		default:
		}
		return c.now()
	}, Logger: slog.New(cp), Rotate: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	<-rotated // consumed by Start's open
	deadline := time.After(10 * time.Second)
	for len(listDir(t, dir)) < 2 {
		select {
		case <-rotated:
		case <-deadline:
			t.Fatal("the rotation timer never rotated")
		}
	}
	if _, err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, n := range listDir(t, dir) {
		if strings.Contains(n, "to-present") {
			t.Errorf("%s left after Close", n)
		}
	}
}

// TestSameSecondAsPreviousRun: a previous run (Python's, say) started in the
// same second as ours; no file may be overwritten.
func TestSameSecondAsPreviousRun(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	stale := filepath.Join(dir, "from-2026-11-27--06-00-00Z---to-present.flog")
	if err := os.WriteFile(stale, []byte("previous run\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(stale, at, at); err != nil {
		t.Fatal(err)
	}
	s, _ := newService(t, dir, &clock{t: at}, nil)
	last, err := s.Close(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"from-2026-11-27--06-00-00Z---to-2026-11-27--06-00-00Z.1.flog",
		"from-2026-11-27--06-00-00Z---to-2026-11-27--06-00-00Z.flog",
	}
	if got := listDir(t, dir); !reflect.DeepEqual(got, want) {
		t.Errorf("files %q, want %q", got, want)
	}
	if filepath.Base(last) != want[0] {
		t.Errorf("last = %s", last)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, want[1])); string(b) != "previous run\n" {
		t.Errorf("the previous run's file was overwritten: %q", b)
	}
}

// TestLeftoverRotatedFilesCompressed: with --bzip, a start compresses the
// rotated files a previous run left uncompressed (a bzip2 program killed
// with python's gatherer leaves its input and a partial .bz2: the partial
// one is replaced), and touches nothing else.
func TestLeftoverRotatedFilesCompressed(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"from-2026-11-27--05-00-00Z---to-2026-11-27--05-10-00Z.flog":     "# foolscap flogfile v1\n{\"a\": 1}\n",
		"from-2026-11-27--05-00-00Z---to-2026-11-27--05-10-00Z.flog.bz2": "BZh9 cut short",
		"from-2026-11-27--05-10-00Z---to-2026-11-27--05-20-00Z.1.flog":   "# foolscap flogfile v1\n{\"b\": 2}\n",
		"from-2026-11-27--04-00-00Z---to-2026-11-27--04-10-00Z.flog.bz2": "already compressed, left alone",
		"notes.flog": "not ours",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c := &clock{t: time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC), step: 0}
	s, cp := newService(t, dir, c, func(o *Options) { o.Bzip = true })
	if _, err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{
		"from-2026-11-27--05-00-00Z---to-2026-11-27--05-10-00Z.flog",
		"from-2026-11-27--05-10-00Z---to-2026-11-27--05-20-00Z.1.flog",
	} {
		if exists(filepath.Join(dir, name)) {
			t.Errorf("%s is still uncompressed", name)
		}
		f, err := os.Open(filepath.Join(dir, name+".bz2"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(bzip2.NewReader(f))
		_ = f.Close()
		if err != nil || string(got) != files[name] {
			t.Errorf("%s.bz2 holds %q (%v), want %q", name, got, err, files[name])
		}
	}
	for _, name := range []string{"from-2026-11-27--04-00-00Z---to-2026-11-27--04-10-00Z.flog.bz2", "notes.flog"} {
		if got, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(got) != files[name] {
			t.Errorf("%s changed: %q, %v", name, got, err)
		}
	}
	var partial, leftover int
	cp.mu.Lock()
	lines := append([]string(nil), cp.lines...)
	cp.mu.Unlock()
	for _, l := range lines {
		partial += strings.Count(l, "removed the partial output of an interrupted bzip2")
		leftover += strings.Count(l, "compressing a rotated file a previous run left uncompressed")
	}
	if partial != 1 || leftover != 2 {
		t.Errorf("log lines: %d partial outputs removed, %d leftovers compressed; want 1 and 2:\n%s", partial, leftover, strings.Join(lines, "\n"))
	}
}

// TestCompressedLikeBzip2Program: a rotated file is compressed in-process
// into the very bytes `bzip2 -9` (what python's gatherer runs) makes of it,
// the plain file is removed and no temporary file is left.
func TestCompressedLikeBzip2Program(t *testing.T) {
	bzip2Prog, err := exec.LookPath("bzip2")
	if err != nil {
		t.Skip("skipping the comparison with the bzip2 program: not on PATH (make deps installs it)")
	}
	dir := t.TempDir()
	name := "from-2026-11-27--05-00-00Z---to-2026-11-27--05-10-00Z.flog"
	var body strings.Builder
	body.WriteString("# foolscap flogfile v1\n")
	for i := range 5000 {
		fmt.Fprintf(&body, "{\"from\": \"67xgfwcpbiuyd6sviaef4ztfpmnld3a4\", \"rx_time\": %d.25, \"d\": {\"message\": \"event %d\", \"num\": %d}}\n", 1795759817+i, i*7919%5000, i)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	want, err := exec.Command(bzip2Prog, "-9", "-c", filepath.Join(dir, name)).Output()
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC), step: 0}
	s, _ := newService(t, dir, c, func(o *Options) { o.Bzip = true })
	if _, err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, name+".bz2"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("our %d compressed bytes differ from bzip2 -9's %d", len(got), len(want))
	}
	for _, n := range listDir(t, dir) {
		if n == name || strings.HasSuffix(n, ".tmp") {
			t.Errorf("left behind: %s", n)
		}
	}
}

// TestCloseGivesUpOnCompression: when Close's context ends before a
// compression does, the compression stops at its next read, the plain
// file stays whole and no .bz2 or temporary file appears.
func TestCloseGivesUpOnCompression(t *testing.T) {
	dir := t.TempDir()
	name := "from-2026-11-27--05-00-00Z---to-2026-11-27--05-10-00Z.flog"
	body := bytes.Repeat([]byte("{\"d\": {\"message\": \"x\"}}\n"), 2<<20) // 50 MB: seconds to compress
	if err := os.WriteFile(filepath.Join(dir, name), body, 0o644); err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC), step: 0}
	s, _ := newService(t, dir, c, func(o *Options) { o.Bzip = true })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.Close(ctx); err == nil {
		t.Fatal("Close waited for a 50 MB compression within 50 ms; make the file bigger")
	}
	s.wg.Wait() // the compression goroutine stops at its next read
	got, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("the plain file did not stay whole (%d bytes, %v)", len(got), err)
	}
	for _, n := range listDir(t, dir) {
		if n == name+".bz2" || strings.HasSuffix(n, ".tmp") {
			t.Errorf("left behind: %s", n)
		}
	}
}

// TestEventsStoredBeforeTheirAnswer: MsgAsync returns at once and calls
// done only once the event's line is in the file, the events of several
// nodes are written in the order they came, and Close writes and answers
// what is still queued, then answers later events at once without
// storing them.
func TestEventsStoredBeforeTheirAnswer(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t: time.Date(2026, 11, 27, 6, 10, 12, 0, time.UTC), step: time.Millisecond}
	s, _ := newService(t, dir, c, nil)
	nodes := []*fakeNode{newFakeNode(), newFakeNode()}
	for i, n := range nodes {
		if err := s.Logport(t.Context(), []byte(fmt.Sprintf("node%d", i)), n); err != nil {
			t.Fatal(err)
		}
		<-n.ready
	}
	const perNode = 500
	var wg sync.WaitGroup
	var mu sync.Mutex
	var missing []string
	for i := range perNode {
		for k, n := range nodes {
			msg := fmt.Sprintf("n%d-%d", k, i)
			wg.Add(1)
			n.obs.(AsyncObserver).MsgAsync(t.Context(), banana.NewDict("message", msg), func() {
				defer wg.Done()
				b, err := os.ReadFile(s.CurrentFile())
				if err != nil || !bytes.Contains(b, []byte("d="+msg+"\n")) {
					mu.Lock()
					missing = append(missing, msg)
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if len(missing) > 0 {
		t.Errorf("%d events answered before they were in the file, e.g. %s", len(missing), missing[0])
	}
	b, err := os.ReadFile(s.CurrentFile())
	if err != nil {
		t.Fatal(err)
	}
	next := []int{0, 0}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n")[2:] {
		var k, i int
		if _, err := fmt.Sscanf(line[strings.Index(line, "d=")+2:], "n%d-%d", &k, &i); err != nil || i != next[k] {
			t.Fatalf("line %q out of order (want n%d-%d next)", line, k, next[k])
		}
		next[k]++
	}
	if next[0] != perNode || next[1] != perNode {
		t.Errorf("stored %v events per node, want %d each", next, perNode)
	}

	// Queued but not yet written when Close starts: written and answered.
	answered := make(chan struct{}, 2)
	s.qmu.Lock() // the writer cannot take the queue meanwhile
	s.queue = append(s.queue, queued{line: []byte("from=node0 rx=0 d=last\n"), done: func() { answered <- struct{}{} }})
	s.qmu.Unlock()
	last, err := s.Close(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	<-answered
	if got := readPlainOrBz2(t, last); !strings.HasSuffix(got, "d=last\n") {
		t.Errorf("the event queued at Close is not the last line: %q", got[max(0, len(got)-80):])
	}
	nodes[0].obs.(AsyncObserver).MsgAsync(t.Context(), banana.NewDict("message", "late"), func() { answered <- struct{}{} })
	select {
	case <-answered:
	case <-time.After(5 * time.Second):
		t.Fatal("an event after Close was never answered")
	}
}
