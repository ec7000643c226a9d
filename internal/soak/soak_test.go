package soak

import (
	"bufio"
	"context"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatherer/gatherer/foolscap/negotiate"
	"github.com/gatherer/gatherer/internal/loadnode"
)

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// proc is one run of "gatherer run DIR".
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// startRun runs the gatherer in dir and waits for its FURL line.
func startRun(t *testing.T, bin, dir string) *proc {
	t.Helper()
	cmd := exec.Command(bin, "run", dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		seen := false
		for sc.Scan() {
			if !seen && strings.HasPrefix(sc.Text(), "Gatherer waiting at: ") {
				seen = true
				close(ready)
			}
		}
		_, _ = io.Copy(io.Discard, out)
		_ = cmd.Wait()
		close(p.done)
	}()
	select {
	case <-ready:
	case <-p.done:
		t.Fatalf("the gatherer exited before listening: %v", cmd.ProcessState)
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("the gatherer did not listen within 60 s")
	}
	return p
}

func (p *proc) stop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Errorf("the gatherer did not stop within 60 s of %v", sig)
	}
}

// member is one node of the churn: a stable identity (so a stable tubid)
// and the incidents it will have; joined says how many it holds so far.
type member struct {
	id        *negotiate.Identity
	incidents []loadnode.Incident
	joined    int
	node      *loadnode.Node
}

// TestSoak: N nodes join and leave an incident gatherer, gaining incidents
// while away, for SOAK_DURATION, while the gatherer is restarted three
// times (SIGTERM, SIGKILL, SIGTERM). At the end every node rejoins with all
// its incidents; each must be stored exactly once (one file, one
// classification line), no temporary file may remain, and the gatherer's
// RSS at the end of the last period must not exceed twice the first's plus
// 64 MiB.
func TestSoak(t *testing.T) {
	durText := os.Getenv("SOAK_DURATION")
	if durText == "" {
		t.Skip("skipping the soak test: set SOAK_DURATION (make soak does)")
	}
	dur, err := time.ParseDuration(durText)
	if err != nil || dur <= 0 {
		t.Fatalf("SOAK_DURATION=%q: want a positive Go duration such as 30m", durText)
	}
	runChurn(t, churn{duration: dur, nodes: envInt(t, "SOAK_NODES", 200), perNode: envInt(t, "SOAK_INCIDENTS", 20),
		restarts: []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL, syscall.SIGTERM}})
}

// TestRestartWithFiftyNodes is the short form run by go test: 50 nodes
// over real Foolscap, the gatherer killed (SIGKILL) halfway while nodes hold
// incidents and fetches are in flight; each incident stored exactly once.
func TestRestartWithFiftyNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the 50-node restart in -short mode")
	}
	runChurn(t, churn{duration: 8 * time.Second, nodes: 50, perNode: 5, restarts: []syscall.Signal{syscall.SIGKILL}})
}

// churn sizes one run.
type churn struct {
	duration       time.Duration
	nodes, perNode int
	restarts       []syscall.Signal // one per restart, spread evenly
}

func runChurn(t *testing.T, c churn) {
	dur, nodes, perNode, restarts := c.duration, c.nodes, c.perNode, c.restarts
	ctx := t.Context()
	root := t.TempDir()
	bin := filepath.Join(root, "gatherer")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/gatherer").CombinedOutput(); err != nil {
		t.Fatalf("building the gatherer: %v\n%s", err, out)
	}
	dir := filepath.Join(root, "ig")
	first, err := loadnode.StartGatherer(ctx, loadnode.GathererSpec{Impl: loadnode.ImplGo, Kind: loadnode.KindIncident, Dir: dir, Binary: bin})
	if err != nil {
		t.Fatal(err)
	}
	furl := first.FURL
	pid := first.PID()
	stopCurrent := func(sig syscall.Signal) {
		if sig == syscall.SIGKILL {
			_ = syscall.Kill(first.PID(), syscall.SIGKILL)
		}
		_ = first.Stop(context.Background())
	}
	defer func() { stopCurrent(syscall.SIGTERM) }()

	ids, err := loadnode.NewIdentities(time.Now)
	if err != nil {
		t.Fatal(err)
	}
	base, err := loadnode.MakeIncidents(loadnode.IncidentSpec{Count: perNode, Events: 50, Start: time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC), Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	fleet := make([]*member, nodes)
	for i := range fleet {
		id, err := ids.New()
		if err != nil {
			t.Fatal(err)
		}
		fleet[i] = &member{id: id, incidents: loadnode.ForNode(base, uint64(i+1))}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	join := func(m *member, all bool) {
		if m.node != nil {
			return
		}
		switch {
		case all:
			m.joined = perNode
		case m.joined < perNode:
			m.joined = min(perNode, m.joined+1+rng.IntN(max(1, perNode/4)))
		}
		n, err := loadnode.New(loadnode.Options{Identity: m.id, Incidents: m.incidents[:m.joined]})
		if err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := n.Connect(cctx, furl); err != nil {
			_ = n.Close(context.Background())
			t.Logf("a node could not join (the gatherer may be restarting): %v", err)
			return
		}
		m.node = n
	}
	leave := func(m *member) {
		if m.node == nil {
			return
		}
		if err := m.node.Close(ctx); err != nil {
			t.Errorf("closing a node: %v", err)
		}
		m.node = nil
	}
	defer func() {
		for _, m := range fleet {
			leave(m)
		}
	}()

	var rss []int64
	sample := func() {
		u, err := loadnode.ProcUsage(pid)
		if err != nil {
			t.Errorf("reading the gatherer's memory: %v", err)
			return
		}
		rss = append(rss, u.RSS)
	}
	period := dur / time.Duration(len(restarts)+1)
	pace := max(time.Millisecond, period/time.Duration(4*nodes))
	start := time.Now()
	for phase := 0; phase <= len(restarts); phase++ {
		end := start.Add(period * time.Duration(phase+1))
		for time.Now().Before(end) && ctx.Err() == nil {
			m := fleet[rng.IntN(len(fleet))]
			if m.node != nil {
				leave(m)
			} else {
				join(m, false)
			}
			time.Sleep(pace) // pacing the churn, not synchronisation
		}
		sample()
		if phase == len(restarts) {
			break
		}
		sig := restarts[phase]
		t.Logf("period %d: RSS %d KiB; restarting the gatherer with %v", phase+1, rss[len(rss)-1]>>10, sig)
		stopCurrent(sig)
		for _, m := range fleet {
			leave(m) // their connections died with the gatherer
		}
		p := startRun(t, bin, dir)
		pid = p.cmd.Process.Pid
		stopCurrent = func(sig syscall.Signal) { p.stop(t, sig) }
	}

	// Everyone comes back with everything.
	for _, m := range fleet {
		leave(m)
		join(m, true)
		if m.node == nil {
			join(m, true) // one more try
		}
	}
	want := map[string]bool{}
	for _, m := range fleet {
		for _, inc := range m.incidents {
			want[filepath.Join("incidents", m.id.TubID(), inc.Name+".flog.bz2")] = true
		}
	}
	deadline := time.Now().Add(max(2*time.Minute, dur/4))
	for {
		got, _ := filepath.Glob(filepath.Join(dir, "incidents", "*", "incident-*.flog.bz2"))
		if len(got) >= len(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("only %d of %d incidents stored after the final rejoin", len(got), len(want))
			break
		}
		time.Sleep(200 * time.Millisecond) // polling another process's files
	}
	sample()
	stopCurrent(syscall.SIGTERM)
	stopCurrent = func(syscall.Signal) {}

	// Exactly once: one file per incident, nothing else, one classification.
	var got []string
	_ = filepath.WalkDir(filepath.Join(dir, "incidents"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Base(p) != "latest" {
			rel, _ := filepath.Rel(dir, p)
			got = append(got, rel)
		}
		return nil
	})
	sort.Strings(got)
	for _, g := range got {
		if !want[g] {
			t.Errorf("unexpected file %s", g)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d incident files, want %d", len(got), len(want))
	}
	b, err := os.ReadFile(filepath.Join(dir, "classified", "unknown"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		seen[l]++
	}
	for p, n := range seen {
		if n != 1 || !want[p] {
			t.Errorf("classified/unknown lists %s %d times", p, n)
		}
	}
	if len(seen) != len(want) {
		t.Errorf("classified/unknown lists %d incidents, want %d", len(seen), len(want))
	}
	logb, _ := os.ReadFile(filepath.Join(dir, "twistd.log"))
	fetches := strings.Count(string(logb), "fetching incident ")
	t.Logf("%d nodes x %d incidents over %v with %d restarts: %d stored, %d fetches (a fetch cut by a leave or a restart is repeated), RSS per period (KiB): %v",
		nodes, perNode, dur, len(restarts), len(got), fetches, kib(rss))
	if len(rss) >= 2 && rss[len(rss)-1] > 2*rss[0]+64<<20 {
		t.Errorf("the gatherer's RSS grew from %d KiB to %d KiB", rss[0]>>10, rss[len(rss)-1]>>10)
	}
}

func kib(v []int64) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = x >> 10
	}
	return out
}
