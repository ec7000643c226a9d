package incident

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatherer/gatherer/foolscap/banana"
	"github.com/gatherer/gatherer/gatherer/classify"
	"github.com/gatherer/gatherer/internal/atomicfile"
)

const (
	tubA = "qrrnx55najmpo4kcseajcszexvro4qig"
	tubB = "dho2xzugyghpzp7gfyy5recsfeh7xu2s"
	tubC = "q6rimvhfqktpy2b47okkmtugcvhxzhw2"
	inc1 = "incident-2026-11-27--06-08-37Z-dfeow4y"
	inc2 = "incident-2026-11-27--06-08-55Z-4kma6jq"
	inc3 = "incident-2026-11-27--06-09-44Z-hfca3vi"
)

func TestFetchStoreClassify(t *testing.T) {
	h := newHarness(t)
	rules, err := classify.Parse("r", strings.NewReader("demo-weird umid=Ab12Cd\nlevel30 level=30\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := h.start(t, func(o *Options) { o.Classifier = rules })
	node := newFakeNode(tubA)
	node.add(inc1, trigger("e2f51a603e652575", 31))
	node.add(inc2, trigger("e2f51a603e652575", 40))
	ctx := t.Context()
	if err := s.Logport(ctx, []byte(tubA), node); err != nil {
		t.Fatal(err)
	}
	h.rec.waitFor(t, "classified incidents/"+tubA+"/"+inc2, 1)

	// Python's lines, in its order; ours may ask for the next incident
	// before it has classified the one before (it fetches while it
	// stores), so "fetching incident inc2" may come before "classified
	// ... inc1" but after "fetching incident inc1".
	want := []string{
		"classifying stored incidents",
		"0 incidents already classified",
		"done classifying 0 stored incidents",
		"connected to " + tubA + ", last known incident is ",
		"fetching incident " + inc1,
		"classified incidents/" + tubA + "/" + inc1 + ".flog.bz2 as [demo-weird,level30]",
		"fetching incident " + inc2,
		"classified incidents/" + tubA + "/" + inc2 + ".flog.bz2 as [demo-weird,level30]",
	}
	got := h.rec.snapshot()
	if pipelined := slices.Clone(want); len(got) == len(want) {
		pipelined[5], pipelined[6] = pipelined[6], pipelined[5]
		if !reflect.DeepEqual(got, want) && !reflect.DeepEqual(got, pipelined) {
			t.Errorf("log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	} else {
		t.Errorf("log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := h.read(t, "incidents/"+tubA+"/latest"); got != inc2+"\n" {
		t.Errorf("latest = %q", got)
	}
	wantLines := "incidents/" + tubA + "/" + inc1 + ".flog.bz2\nincidents/" + tubA + "/" + inc2 + ".flog.bz2\n"
	for _, c := range []string{"demo-weird", "level30"} {
		if got := h.read(t, "classified/"+c); got != wantLines {
			t.Errorf("classified/%s = %q", c, got)
		}
	}
	w := h.flog.stored(t, h.dir+"/incidents/"+tubA+"/"+inc1+".flog.bz2")
	if w.from != tubA || w.rx != 1795759722.2437553 || len(w.events) != 2 {
		t.Errorf("stored from=%q rx=%v events=%d", w.from, w.rx, len(w.events))
	}
	if typ, _ := w.header.(*banana.Dict).GetStr("type"); typ != "incident" {
		t.Errorf("header not stored as received: %v", w.header)
	}
	if node.since[0] != "" {
		t.Errorf("since = %q, want empty", node.since[0])
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	node.wg.Wait()
}

// TestFetchesWhileStoring: the next incident is asked for while the one
// before is still being written, but never two at once from one node (the
// node holds an incident's events in memory while it sends them), and
// latest and the classified lines still follow the order of the names;
// latest is not rewritten for an incident settled while the next one is
// being stored.
func TestFetchesWhileStoring(t *testing.T) {
	n := gatherWithFirstWriteBlocked(t, []string{inc1, inc2, inc3}, inc2)
	if n < 1 || n > 2 {
		t.Errorf("latest written %d times for 3 incidents; want 1 or 2 (not for the first, settled while the second was stored)", n)
	}
}

// TestSlowWriteDoesNotHoldThePipeline blocks writing a node's first
// incident on the disk: the node's later incidents are still asked for,
// one at a time, because an answer gives its place in the pipeline back
// once compressed; they are settled and classified in order once the
// first is on disk, and latest is written once for them all.
func TestSlowWriteDoesNotHoldThePipeline(t *testing.T) {
	names := []string{inc1, inc2, inc3}
	for i := len(names); i < pipelineDepth+2; i++ {
		names = append(names, fmt.Sprintf("incident-2026-11-27--07-00-%02dZ-aaaaaaa", i))
	}
	if n := gatherWithFirstWriteBlocked(t, names, names[len(names)-1]); n != 1 {
		t.Errorf("latest written %d times; want once, when the first incident settled the others", n)
	}
}

// gatherWithFirstWriteBlocked gathers one node's incidents (names, in
// order) while creating the first one's file waits until waitFor has been
// asked for. It checks that waitFor was asked for meanwhile, that one
// get_incident at a time was in flight and that the incidents were
// classified in order, and returns how many times latest was written.
func gatherWithFirstWriteBlocked(t *testing.T, names []string, waitFor string) int32 {
	t.Helper()
	h := newHarness(t)
	node := newFakeNode(tubA)
	for i, n := range names {
		node.add(n, trigger("aaaa", int64(i)))
	}
	timedOut := make(chan struct{}, 1)
	var latestWrites atomic.Int32
	s := h.start(t, func(o *Options) {
		o.Create = func(dir, pattern string) (atomicfile.File, error) {
			if strings.HasPrefix(pattern, "."+LatestFile+".") {
				latestWrites.Add(1)
			}
			if strings.HasPrefix(pattern, "."+names[0]) {
				deadline := time.Now().Add(5 * time.Second)
				for node.fetchCount(waitFor) == 0 {
					if time.Now().After(deadline) {
						timedOut <- struct{}{}
						break
					}
					time.Sleep(time.Millisecond)
				}
			}
			return atomicfile.OSCreate(dir, pattern)
		}
	})
	h.gatherUntil(t, s, node, names[len(names)-1])
	select {
	case <-timedOut:
		t.Errorf("%s was not asked for while the first incident was being written", waitFor)
	default:
	}
	node.mu.Lock()
	if node.maxFlight != 1 {
		t.Errorf("%d get_incident calls in flight at once, want 1", node.maxFlight)
	}
	node.mu.Unlock()
	h.wantUnknownInOrder(t, tubA, names...)
	return latestWrites.Load()
}

// TestRestart stops the gatherer while it fetches the second of three
// incidents and starts it again: nothing is fetched twice, nothing lost,
// latest is honoured.
func TestRestart(t *testing.T) {
	h := newHarness(t)
	node := newFakeNode(tubA)
	node.add(inc1, trigger("aaaa", 1))
	node.add(inc2, trigger("aaaa", 2))
	node.add(inc3, trigger("aaaa", 3))
	node.block[inc2] = make(chan struct{}) // never answers

	s := h.start(t, nil)
	conn1, drop1 := context.WithCancel(t.Context())
	if err := s.Logport(conn1, tubA, node); err != nil {
		t.Fatal(err)
	}
	h.rec.waitFor(t, "fetching incident "+inc2, 1)
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	drop1()
	node.wg.Wait()
	if h.exists("incidents/" + tubA + "/" + inc2 + ".flog.bz2") {
		t.Fatal("an incident whose fetch was interrupted is on disk")
	}

	node.mu.Lock()
	node.block = map[string]chan struct{}{}
	node.mu.Unlock()
	h.rec = newRecorder()
	s2 := h.start(t, nil)
	h.gatherUntil(t, s2, node, inc3)

	if !reflect.DeepEqual(node.since, []string{"", inc1}) {
		t.Errorf("since values = %q, want latest honoured", node.since)
	}
	for name, want := range map[string]int{inc1: 1, inc2: 2, inc3: 1} {
		if got := node.fetchCount(name); got != want {
			t.Errorf("%s fetched %d times, want %d", name, got, want)
		}
	}
	h.wantUnknownInOrder(t, tubA, inc1, inc2, inc3)
	if lines := h.rec.snapshot(); lines[1] != "1 incidents already classified" {
		t.Errorf("second start: %q", lines[1])
	}
}

// TestDuplicatesAcrossTubIDs: a node that comes back under a new tubid (as
// Tahoe's log Tub does) offers its old incidents again.
func TestDuplicatesAcrossTubIDs(t *testing.T) {
	tests := []struct {
		name      string
		keep      bool
		restart   bool // restart the gatherer between the two connections
		wantFetch int
	}{
		{name: "deduplicated"},
		{name: "deduplicated after a gatherer restart", restart: true},
		{name: "keep duplicates like python", keep: true, wantFetch: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			mod := func(o *Options) { o.KeepDuplicates = tt.keep }
			s := h.start(t, mod)
			first := newFakeNode(tubB)
			first.add(inc1, trigger("cafe", 7))
			if err := s.Logport(t.Context(), tubB, first); err != nil {
				t.Fatal(err)
			}
			h.rec.waitFor(t, "classified incidents/"+tubB+"/"+inc1, 1)
			if tt.restart {
				if err := s.Close(context.Background()); err != nil {
					t.Fatal(err)
				}
				s = h.start(t, mod)
			}
			second := newFakeNode(tubC)
			second.add(inc1, trigger("cafe", 7))
			second.add(inc2, trigger("cafe", 9))
			second.add(inc3, trigger("beef", 7)) // same num, other process: not a duplicate
			if err := s.Logport(t.Context(), tubC, second); err != nil {
				t.Fatal(err)
			}
			h.rec.waitFor(t, "classified incidents/"+tubC+"/"+inc3, 1)
			if got := second.fetchCount(inc1); got != tt.wantFetch {
				t.Errorf("duplicate fetched %d times, want %d", got, tt.wantFetch)
			}
			if got := h.exists("incidents/" + tubC + "/" + inc1 + ".flog.bz2"); got != tt.keep {
				t.Errorf("duplicate stored = %v", got)
			}
			if !tt.keep {
				h.rec.waitFor(t, "incident "+inc1+" is already stored as incidents/"+tubB+"/"+inc1+".flog.bz2", 1)
			}
			if got := h.read(t, "incidents/"+tubC+"/latest"); got != inc3+"\n" {
				t.Errorf("latest = %q", got)
			}
			if err := s.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			first.wg.Wait()
			second.wg.Wait()
		})
	}
}

func TestHostileNames(t *testing.T) {
	h := newHarness(t)
	s := h.start(t, nil)
	node := newFakeNode(tubA)
	if err := s.Logport(t.Context(), tubA, node); err != nil {
		t.Fatal(err)
	}
	<-node.caughtUp
	bad := []any{
		"../../etc/passwd", "incident-../../x", "incident-a/b", "incident-\x00", []byte("incident-\xff"),
		"notincident", "incident-x.tmp", "incident-", strings.Repeat("incident-x", 30), int64(5), nil,
	}
	for _, name := range bad {
		if err := node.obsOf().NewIncident(t.Context(), name, trigger("x", 1)); err != nil {
			t.Errorf("NewIncident(%q) answered an error; the node would unsubscribe", name)
		}
	}
	_ = node.obsOf().NewIncident(t.Context(), inc1, "not a dict")
	node.declare(t.Context(), inc2, trigger("x", 2))
	h.rec.waitFor(t, "classified incidents/"+tubA+"/"+inc2, 1)
	h.rec.waitFor(t, "ignoring an incident", len(bad)+1)
	node.mu.Lock()
	n := len(node.fetches)
	node.mu.Unlock()
	if n != 1 {
		t.Errorf("%d distinct names fetched, want only the valid one", n)
	}
	want := []string{
		"classified/unknown",
		"incidents/" + tubA + "/" + inc2 + ".flog.bz2",
		"incidents/" + tubA + "/latest",
	}
	if got := h.listing(t); !reflect.DeepEqual(got, want) {
		t.Errorf("files = %q", got)
	}
	if err := ValidTubID("../x"); err == nil {
		t.Error("ValidTubID accepted a path")
	}
	if err := s.Logport(t.Context(), nil, newFakeNode("<unauth>")); err == nil {
		t.Error("Logport accepted an unauthenticated tubid")
	}
}

func (n *fakeNode) obsOf() Observer {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.obs
}

// TestSlowNodeIsolation: a node that never answers get_incident does not
// hold up another node, and its own later incidents go on after the timeout.
func TestSlowNodeIsolation(t *testing.T) {
	h := newHarness(t)
	s := h.start(t, func(o *Options) { o.FetchTimeout = 300e6 })
	stuck := newFakeNode(tubB)
	stuck.add(inc1, trigger("s", 1))
	stuck.add(inc2, trigger("s", 2))
	stuck.block[inc1] = make(chan struct{})
	fine := newFakeNode(tubC)
	for i, n := range []string{inc1, inc2, inc3} {
		fine.add(n, trigger("f", int64(i)))
	}
	if err := s.Logport(t.Context(), tubB, stuck); err != nil {
		t.Fatal(err)
	}
	h.rec.waitFor(t, "fetching incident "+inc1, 1)
	if err := s.Logport(t.Context(), tubC, fine); err != nil {
		t.Fatal(err)
	}
	h.rec.waitFor(t, "classified incidents/"+tubC+"/"+inc3, 1)
	if h.exists("incidents/" + tubB + "/" + inc1 + ".flog.bz2") {
		t.Fatal("stuck incident stored")
	}
	// After the timeout the stuck node's next incident is fetched.
	h.rec.waitFor(t, "classified incidents/"+tubB+"/"+inc2, 1)
	h.rec.waitFor(t, "fetching an incident failed", 1)
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	stuck.wg.Wait()
	fine.wg.Wait()
}

// failingFile fails every write: the injected fault for the atomicity test.
type failingFile struct{ *os.File }

func (f failingFile) Write([]byte) (int, error) { return 0, errors.New("disk full (injected)") }

func (f failingFile) WriteString(string) (int, error) { return 0, errors.New("disk full (injected)") }

// TestAtomicWriteFailure is a full disk: saving the first incident fails
// while the second is stored. No partial file is left, latest does not pass
// the missing incident (so a restart would ask for it again), and once space
// returns the retry stores it and latest catches up.
func TestAtomicWriteFailure(t *testing.T) {
	h := newHarness(t)
	var fail atomic.Bool
	fail.Store(true)
	s := h.start(t, func(o *Options) {
		o.RetryMin, o.RetryMax = 20*time.Millisecond, 40*time.Millisecond
		o.Create = func(dir, pattern string) (atomicfile.File, error) {
			f, err := os.CreateTemp(dir, pattern)
			if err != nil || !fail.Load() || !strings.Contains(pattern, inc1) {
				return f, err
			}
			return failingFile{f}, nil
		}
	})
	node := newFakeNode(tubA)
	node.add(inc1, trigger("a", 1))
	node.add(inc2, trigger("a", 2))
	if err := s.Logport(t.Context(), tubA, node); err != nil {
		t.Fatal(err)
	}
	h.rec.waitFor(t, "classified incidents/"+tubA+"/"+inc2, 1)
	h.rec.waitFor(t, "saving an incident failed", 2)
	h.rec.waitFor(t, "will try the incident again later", 2)
	want := []string{
		"classified/unknown",
		"incidents/" + tubA + "/" + inc2 + ".flog.bz2",
	}
	if got := h.listing(t); !reflect.DeepEqual(got, want) {
		t.Errorf("files = %q (no partial or temporary file, and no latest past the missing incident)", got)
	}
	fail.Store(false)
	h.rec.waitFor(t, "classified incidents/"+tubA+"/"+inc1, 1)
	if got := h.read(t, "incidents/"+tubA+"/latest"); got != inc2+"\n" {
		t.Errorf("latest = %q, want %q once both are stored", got, inc2)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	node.wg.Wait()
}

func TestQueueBound(t *testing.T) {
	h := newHarness(t)
	s := h.start(t, func(o *Options) { o.MaxQueue = 2 })
	node := newFakeNode(tubA)
	node.add(inc1, trigger("a", 1))
	release := make(chan struct{})
	node.block[inc1] = release
	if err := s.Logport(t.Context(), tubA, node); err != nil {
		t.Fatal(err)
	}
	h.rec.waitFor(t, "fetching incident "+inc1, 1)
	<-node.caughtUp
	for i := range 3 {
		node.declare(t.Context(), "incident-2026-11-27--07-00-0"+string(rune('0'+i))+"Z-aaaaaaa", trigger("a", int64(10+i)))
	}
	h.rec.waitFor(t, "too many incidents waiting", 1)
	close(release)
	h.rec.waitFor(t, "incident-2026-11-27--07-00-01Z-aaaaaaa.flog.bz2 as", 1)
	if h.exists("incidents/" + tubA + "/incident-2026-11-27--07-00-02Z-aaaaaaa.flog.bz2") {
		t.Error("the incident over the queue bound was fetched")
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestStartClassifiesStoredAndReclassify(t *testing.T) {
	h := newHarness(t)
	s := h.start(t, nil)
	node := newFakeNode(tubA)
	node.add(inc1, trigger("a", 1))
	node.add(inc2, trigger("a", 2))
	h.gatherUntil(t, s, node, inc2)

	// Leftovers of a crash, and classified/ lost.
	for _, p := range []string{"incidents/" + tubA + "/.x.flog.bz2.1.tmp", "classified/.unknown.2.tmp"} {
		if err := os.WriteFile(h.dir+"/"+p, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Remove(h.dir + "/classified/unknown"); err != nil {
		t.Fatal(err)
	}
	h.rec = newRecorder()
	rules, _ := classify.Parse("r", strings.NewReader("demo umid=Ab12Cd\n"))
	s2 := h.start(t, func(o *Options) { o.Classifier = rules })
	want := []string{
		"classifying stored incidents",
		"0 incidents already classified",
		"classified incidents/" + tubA + "/" + inc1 + ".flog.bz2 as [demo]",
		"classified incidents/" + tubA + "/" + inc2 + ".flog.bz2 as [demo]",
		"done classifying 2 stored incidents",
	}
	var got []string
	for _, l := range h.rec.snapshot() {
		if !strings.HasPrefix(l, "WARN") {
			got = append(got, l)
		}
	}
	if !reflect.DeepEqual(got[:len(want)], want) {
		t.Errorf("start log:\n%s", strings.Join(got, "\n"))
	}
	if err := s2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if h.exists("incidents/"+tubA+"/.x.flog.bz2.1.tmp") || h.exists("classified/.unknown.2.tmp") {
		t.Error("temporary leftovers not removed at start")
	}

	rules2, _ := classify.Parse("r", strings.NewReader("n2 num=2\n"))
	res, err := Reclassify(t.Context(), h.dir, h.flog, rules2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Incidents != 2 || res.Categories["n2"] != 1 || res.Categories["unknown"] != 1 {
		t.Errorf("result = %+v", res)
	}
	want2 := []string{"classified/n2", "classified/unknown", "incidents/" + tubA + "/" + inc1 + ".flog.bz2",
		"incidents/" + tubA + "/" + inc2 + ".flog.bz2", "incidents/" + tubA + "/latest"}
	if got := h.listing(t); !reflect.DeepEqual(got, want2) {
		t.Errorf("after reclassify: %q", got)
	}
	if got := h.read(t, "classified/n2"); got != "incidents/"+tubA+"/"+inc2+".flog.bz2\n" {
		t.Errorf("classified/n2 = %q", got)
	}
}

func TestReclassifyRecoversInterruptedSwap(t *testing.T) {
	h := newHarness(t)
	for _, d := range []string{"incidents", ".classified.new"} {
		if err := os.MkdirAll(h.dir+"/"+d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(h.dir+"/.classified.new/unknown", []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := h.start(t, nil)
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := h.read(t, "classified/unknown"); got != "x\n" {
		t.Errorf("interrupted swap not finished: %q", got)
	}
}

// TestFetchBound: with MaxConcurrentFetches 2, five nodes whose incidents
// do not answer yet see two fetches in flight, not five; each answer lets
// the next fetch start, and all five are stored.
func TestFetchBound(t *testing.T) {
	h := newHarness(t)
	s := h.start(t, func(o *Options) { o.MaxConcurrentFetches, o.FetchSlotHold = 2, time.Minute })
	tubs := []string{tubA, tubB, tubC, "dddddddddddddddddddddddddddddddd", "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"}
	var nodes []*fakeNode
	var gates []chan struct{}
	for i, tub := range tubs {
		n := newFakeNode(tub)
		n.add(inc1, trigger(tub[:1], int64(i)))
		gate := make(chan struct{})
		n.block[inc1] = gate
		nodes, gates = append(nodes, n), append(gates, gate)
		if err := s.Logport(t.Context(), tub, n); err != nil {
			t.Fatal(err)
		}
	}
	inFlight := func() (fetching []int) {
		for i, n := range nodes {
			if n.fetchCount(inc1) > 0 {
				fetching = append(fetching, i)
			}
		}
		return fetching
	}
	h.rec.waitFor(t, "fetching incident "+inc1, 2)
	time.Sleep(100 * time.Millisecond) // a third fetch, if the bound leaked, would start within this
	first := inFlight()
	if len(first) != 2 {
		t.Fatalf("%d fetches started with a bound of 2 (nodes %v)", len(first), first)
	}
	released := map[int]bool{}
	for done := 0; done < len(nodes); done++ {
		next := -1
		for _, i := range inFlight() {
			if !released[i] {
				next = i
				break
			}
		}
		released[next] = true
		close(gates[next])
		h.rec.waitFor(t, "classified incidents/"+tubs[next]+"/"+inc1, 1)
		if done+2 < len(nodes) {
			h.rec.waitFor(t, "fetching incident "+inc1, done+3)
		}
		if n := len(inFlight()) - len(released); n > 2 {
			t.Fatalf("%d fetches in flight with a bound of 2", n)
		}
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		n.wg.Wait()
		if c := n.fetchCount(inc1); c != 1 {
			t.Errorf("node %s: fetched %d times", n.tubid, c)
		}
	}
}

// TestFetchSlotHold: a node that never answers keeps its place in the
// bound only for FetchSlotHold; then another node's incident is fetched
// and stored while the first fetch still waits for its own timeout.
func TestFetchSlotHold(t *testing.T) {
	h := newHarness(t)
	s := h.start(t, func(o *Options) {
		o.MaxConcurrentFetches, o.FetchSlotHold, o.FetchTimeout = 1, 50*time.Millisecond, time.Minute
	})
	stuck := newFakeNode(tubB)
	stuck.add(inc1, trigger("s", 1))
	stuck.block[inc1] = make(chan struct{})
	if err := s.Logport(t.Context(), tubB, stuck); err != nil {
		t.Fatal(err)
	}
	h.rec.waitFor(t, "fetching incident "+inc1, 1)
	fine := newFakeNode(tubC)
	fine.add(inc2, trigger("f", 1))
	if err := s.Logport(t.Context(), tubC, fine); err != nil {
		t.Fatal(err)
	}
	h.rec.waitFor(t, "classified incidents/"+tubC+"/"+inc2, 1)
	if h.exists("incidents/" + tubB + "/" + inc1 + ".flog.bz2") {
		t.Fatal("the stuck incident was stored")
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	stuck.wg.Wait()
	fine.wg.Wait()
}
