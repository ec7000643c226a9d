package incident

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatherer/gatherer/foolscap/banana"
)

// erringNode is a fakeNode whose get_incident fails for chosen names with a
// chosen error, the way a Broker reports an answer it refused.
type erringNode struct {
	*fakeNode
	emu  sync.Mutex
	errs map[string]error
}

func (n *erringNode) setErr(name string, err error) {
	n.emu.Lock()
	defer n.emu.Unlock()
	if err == nil {
		delete(n.errs, name)
		return
	}
	n.errs[name] = err
}

func (n *erringNode) GetIncident(ctx context.Context, name string) (any, []any, error) {
	n.emu.Lock()
	err := n.errs[name]
	n.emu.Unlock()
	if err != nil {
		n.mu.Lock()
		n.fetches[name]++
		n.mu.Unlock()
		return nil, nil, err
	}
	return n.fakeNode.GetIncident(ctx, name)
}

// TestLatestNeverPassesAMissingIncident: whatever makes an incident fail
// (a node that never answers, a transient error, an answer over the size
// limit), latest stays before it while later incidents are stored, and the
// incident is gathered later: by a retry in the same session when the
// failure was transient, at the next connection when it was refused.
func TestLatestNeverPassesAMissingIncident(t *testing.T) {
	tooBig := fmt.Errorf("get_incident: %w", &banana.Violation{Err: fmt.Errorf("%w: over 1024 bytes", banana.ErrMessageTooLarge)})
	tests := []struct {
		name       string
		err        error // nil: get_incident never answers
		wantLog    string
		retried    bool // retried in the same session
		wantFetch1 int  // fetches of inc1 before the node reconnects
	}{
		{name: "node never answers", wantLog: "fetching an incident failed", retried: true},
		{name: "remote error", err: fmt.Errorf("get_incident: KeyError (injected)"), wantLog: "fetching an incident failed", retried: true},
		{name: "over the size limit", err: tooBig, wantLog: "larger than this gatherer accepts", wantFetch1: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			s := h.start(t, func(o *Options) {
				o.FetchTimeout = 100 * time.Millisecond
				o.RetryMin, o.RetryMax = 30*time.Millisecond, 60*time.Millisecond
			})
			node := &erringNode{fakeNode: newFakeNode(tubA), errs: map[string]error{}}
			for i, n := range []string{inc1, inc2, inc3} {
				node.add(n, trigger("a", int64(i)))
			}
			release := make(chan struct{})
			if tt.err == nil {
				node.block[inc1] = release
			} else {
				node.setErr(inc1, tt.err)
			}
			conn, drop := context.WithCancel(t.Context())
			if err := s.Logport(conn, tubA, node); err != nil {
				t.Fatal(err)
			}
			h.rec.waitFor(t, "classified incidents/"+tubA+"/"+inc3, 1)
			h.rec.waitFor(t, tt.wantLog, 1)
			if h.exists("incidents/" + tubA + "/latest") {
				t.Fatalf("latest = %q passed the missing incident", h.read(t, "incidents/"+tubA+"/latest"))
			}
			if tt.retried {
				h.rec.waitFor(t, "will try the incident again later", 2)
				if tt.err == nil {
					close(release)
				} else {
					node.setErr(inc1, nil)
				}
				h.rec.waitFor(t, "classified incidents/"+tubA+"/"+inc1, 1)
			} else {
				h.rec.waitFor(t, "stays unfetched until the node reconnects", 1)
				if got := node.fetchCount(inc1); got != tt.wantFetch1 {
					t.Errorf("refused incident fetched %d times in its session, want %d", got, tt.wantFetch1)
				}
				// The operator raised the limit; the node reconnects.
				node.setErr(inc1, nil)
				drop()
				if err := s.Logport(t.Context(), tubA, node); err != nil {
					t.Fatal(err)
				}
				h.rec.waitFor(t, "classified incidents/"+tubA+"/"+inc1, 1)
				h.rec.waitFor(t, "is already stored; not fetching it again", 2)
			}
			// A new incident after the others: once it is stored, latest
			// names it (nothing before it is missing).
			const inc4 = "incident-2026-11-27--06-10-00Z-zzzzzzz"
			node.declare(t.Context(), inc4, trigger("a", 4))
			h.rec.waitFor(t, "classified incidents/"+tubA+"/"+inc4, 1)
			if got := h.read(t, "incidents/"+tubA+"/latest"); got != inc4+"\n" {
				t.Errorf("latest = %q, want %q once every incident is stored", got, inc4)
			}
			for _, n := range []string{inc2, inc3} {
				if got := node.fetchCount(n); got != 1 {
					t.Errorf("%s fetched %d times, want exactly once", n, got)
				}
			}
			if err := s.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			drop()
			node.wg.Wait()
		})
	}
}

// TestQueueOverflowOfferedAgain: an incident refused by the queue bound
// keeps latest before it, so the node's next connection offers it again and
// it is fetched; what was stored meanwhile is not fetched twice.
func TestQueueOverflowOfferedAgain(t *testing.T) {
	h := newHarness(t)
	s := h.start(t, func(o *Options) { o.MaxQueue = 1 })
	node := newFakeNode(tubA)
	node.add(inc1, trigger("a", 1))
	release := make(chan struct{})
	node.block[inc1] = release
	conn, drop := context.WithCancel(t.Context())
	if err := s.Logport(conn, tubA, node); err != nil {
		t.Fatal(err)
	}
	h.rec.waitFor(t, "fetching incident "+inc1, 1)
	<-node.caughtUp
	node.declare(t.Context(), inc2, trigger("a", 2))
	node.declare(t.Context(), inc3, trigger("a", 3)) // over the bound
	h.rec.waitFor(t, "too many incidents waiting", 1)
	close(release)
	h.rec.waitFor(t, "classified incidents/"+tubA+"/"+inc2, 1)
	if got := h.read(t, "incidents/"+tubA+"/latest"); got != inc2+"\n" {
		t.Errorf("latest = %q, want %q (before the refused one)", got, inc2)
	}
	drop()
	if err := s.Logport(t.Context(), tubA, node); err != nil {
		t.Fatal(err)
	}
	h.rec.waitFor(t, "classified incidents/"+tubA+"/"+inc3, 1)
	for n, want := range map[string]int{inc1: 1, inc2: 1, inc3: 1} {
		if got := node.fetchCount(n); got != want {
			t.Errorf("%s fetched %d times, want %d", n, got, want)
		}
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	node.wg.Wait()
}

// TestDuplicateLogport: a node that calls logport twice (or reconnects
// before the old connection is noticed as gone) gets one session: the
// second replaces the first, and nothing is fetched twice.
func TestDuplicateLogport(t *testing.T) {
	h := newHarness(t)
	s := h.start(t, nil)
	node := newFakeNode(tubA)
	node.add(inc1, trigger("a", 1))
	release := make(chan struct{})
	node.block[inc1] = release
	for range 5 {
		if err := s.Logport(t.Context(), tubA, node); err != nil {
			t.Fatal(err)
		}
	}
	h.rec.waitFor(t, "fetching incident "+inc1, 1)
	close(release)
	h.rec.waitFor(t, "classified incidents/"+tubA+"/"+inc1, 1)
	s.mu.Lock()
	n := len(s.sessions)
	s.mu.Unlock()
	if n != 1 {
		t.Errorf("%d sessions for one tubid, want 1", n)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	node.wg.Wait()
	n = 0
	for _, l := range h.rec.snapshot() {
		if strings.HasPrefix(l, "classified incidents/"+tubA+"/"+inc1) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("incident stored and classified %d times, want once", n)
	}
}

// TestRestartWithManyNodes: the gatherer restarts while 50 nodes hold
// incidents, some of them mid-fetch; at the end each incident is stored
// exactly once, and nothing stored before the restart is fetched again.
func TestRestartWithManyNodes(t *testing.T) {
	const nodes, per = 50, 4
	h := newHarness(t)
	fleet := make([]*fakeNode, nodes)
	names := make([]string, per)
	for i := range names {
		names[i] = fmt.Sprintf("incident-2026-11-27--07-00-%02dZ-aaaaaaa", i)
	}
	for i := range fleet {
		fleet[i] = newFakeNode(fakeTubID(i))
		for j, n := range names {
			fleet[i].add(n, trigger(fmt.Sprintf("n%d", i), int64(j)))
		}
		fleet[i].block[names[2]] = make(chan struct{}) // never answers before the restart
	}
	// Every node has a fetch in flight at the restart: no bound below that.
	everyNode := func(o *Options) { o.MaxConcurrentFetches = nodes }
	s := h.start(t, everyNode)
	for _, n := range fleet {
		if err := s.Logport(t.Context(), n.tubid, n); err != nil {
			t.Fatal(err)
		}
	}
	h.rec.waitFor(t, "fetching incident "+names[2], nodes)
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, n := range fleet {
		n.wg.Wait()
		n.mu.Lock()
		n.block = map[string]chan struct{}{}
		n.mu.Unlock()
	}
	h.rec = newRecorder()
	s2 := h.start(t, everyNode)
	for _, n := range fleet {
		if err := s2.Logport(t.Context(), n.tubid, n); err != nil {
			t.Fatal(err)
		}
	}
	h.rec.waitFor(t, "classified incidents/", nodes*2)
	if err := s2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, n := range fleet {
		n.wg.Wait()
		want := map[string]int{names[0]: 1, names[1]: 1, names[2]: 2, names[3]: 1}
		got := map[string]int{}
		for _, name := range names {
			got[name] = n.fetchCount(name)
			if !h.exists("incidents/" + n.tubid + "/" + name + ".flog.bz2") {
				t.Errorf("%s/%s not stored", n.tubid, name)
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s fetches = %v, want %v (the interrupted one twice, the rest once)", n.tubid, got, want)
		}
		if l := h.read(t, "incidents/"+n.tubid+"/latest"); l != names[3]+"\n" {
			t.Errorf("%s latest = %q", n.tubid, l)
		}
	}
}

// fakeTubID is a valid tubid (32 lowercase base32 characters) for node i.
func fakeTubID(i int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	b := []byte("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
	for k := 0; i > 0; k++ {
		b[len(b)-1-k] = alphabet[i%32]
		i /= 32
	}
	return string(b)
}

// TestNodeLostMidIncident: the connection drops while get_incident is in
// flight. Nothing partial is stored and latest stays before the incident;
// when the node reconnects the incident is offered again and fetched, and
// what was stored before is not fetched again.
func TestNodeLostMidIncident(t *testing.T) {
	h := newHarness(t)
	s := h.start(t, nil)
	node := newFakeNode(tubA)
	node.add(inc1, trigger("a", 1))
	node.add(inc2, trigger("a", 2))
	node.block[inc2] = make(chan struct{}) // in flight when the node goes
	conn, drop := context.WithCancel(t.Context())
	if err := s.Logport(conn, tubA, node); err != nil {
		t.Fatal(err)
	}
	h.rec.waitFor(t, "fetching incident "+inc2, 1)
	// The line is logged just before get_incident is called: wait until
	// the node holds the call, or the block below may be lifted first
	// and the incident answered whole (then rightly stored).
	for deadline := time.Now().Add(10 * time.Second); node.fetchCount(inc2) == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("get_incident of the second incident never reached the node")
		}
	}
	drop()
	<-node.caughtUp
	if h.exists("incidents/" + tubA + "/" + inc2 + ".flog.bz2") {
		t.Fatal("an incident whose fetch was cut is on disk")
	}
	node.mu.Lock()
	node.block = map[string]chan struct{}{}
	node.mu.Unlock()
	h.gatherUntil(t, s, node, inc2)
	if !reflect.DeepEqual(node.since, []string{"", inc1}) {
		t.Errorf("since = %q, want latest at the last stored incident", node.since)
	}
	for n, want := range map[string]int{inc1: 1, inc2: 2} {
		if got := node.fetchCount(n); got != want {
			t.Errorf("%s fetched %d times, want %d", n, got, want)
		}
	}
}

// TestDamagedNewestFileFetchedAgain: a directory taken over from python's
// gatherer, which writes incident files in place, holds the incident it was
// writing when it was killed, cut short, with latest already naming it. At
// start the damaged file is set aside as .damaged and latest moved back
// before it, so the node offers it again: it is stored whole, classified
// once, and the node's other incidents are not fetched again.
func TestDamagedNewestFileFetchedAgain(t *testing.T) {
	h := newHarness(t)
	real := func(o *Options) { o.Flog = NewPyFlog(1) }
	node := newFakeNode(tubA)
	for i, n := range []string{inc1, inc2, inc3} {
		node.add(n, trigger("a", int64(i)))
	}
	s := h.start(t, real)
	h.gatherUntil(t, s, node, inc3)
	p := filepath.Join(h.dir, relPath(tubA, inc3))
	whole, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, whole[:len(whole)/2], 0o644); err != nil { // killed mid-write
		t.Fatal(err)
	}

	h.rec = newRecorder()
	s2 := h.start(t, real)
	h.rec.waitFor(t, "set aside the damaged incident file", 1)
	if got := h.read(t, "incidents/"+tubA+"/latest"); got != inc2+"\n" {
		t.Errorf("latest = %q, want %q", got, inc2+"\n")
	}
	if !h.exists("incidents/" + tubA + "/" + inc3 + fileSuffix + DamagedSuffix) {
		t.Error("the damaged file was not kept as .damaged")
	}
	h.gatherUntil(t, s2, node, inc3)
	if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, whole) {
		t.Errorf("the incident fetched again differs from the first copy (%d vs %d bytes, %v)", len(got), len(whole), err)
	}
	for n, want := range map[string]int{inc1: 1, inc2: 1, inc3: 2} {
		if got := node.fetchCount(n); got != want {
			t.Errorf("%s fetched %d times, want %d", n, got, want)
		}
	}
	if got := h.read(t, "incidents/"+tubA+"/latest"); got != inc3+"\n" {
		t.Errorf("latest at the end = %q", got)
	}
	cls := h.read(t, "classified/unknown")
	if c := strings.Count(cls, inc3); c != 1 {
		t.Errorf("classified/unknown lists %s %d times:\n%s", inc3, c, cls)
	}
}
