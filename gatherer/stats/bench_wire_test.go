//go:build linux

package stats

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatherer/gatherer/foolscap/tub"
)

// benchChildEnv names the stats gatherer directory the benchmark's child
// process serves (see TestBenchGathererChild).
const benchChildEnv = "GATHERER_STATS_BENCH_DIR"

// benchConnectConcurrency bounds the node Tubs negotiating at once: the
// gatherer's Tub accepts 32 negotiations per remote address at a time and
// all the nodes share 127.0.0.1.
const benchConnectConcurrency = 16

// BenchmarkWire1000PerSecond measures the whole stats gatherer (Serve, in a
// child process) polling 1,000 providers every second over real Foolscap
// on loopback. The providers are Go Tubs, one per node, all in this
// process, each answering a Tahoe-sized get_stats() (about 40 values). One
// op is one second of polling: run it with -benchtime=10x for a 10 s
// window. Reported: the child's CPU share of one core (cpu-share), its
// resident memory at the end and at peak (rss-MiB, peak-rss-MiB), and the
// get_stats() calls answered per second (polls/s, ~1000 when the gatherer
// keeps up).
//
// Set GATHERER_STATS_BENCH_NODES to change the number of providers, and
// GATHERER_STATS_BENCH_MEMPROFILE=FILE for a heap profile of the gatherer
// taken as it stops.
func BenchmarkWire1000PerSecond(b *testing.B) {
	nodes := 1000
	if v := os.Getenv("GATHERER_STATS_BENCH_NODES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("GATHERER_STATS_BENCH_NODES=%q: want a positive number", v)
		}
		nodes = n
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	dir := newTestGathererDir(ctx, b)
	child := startBenchChild(ctx, b, dir)

	// Identities first: key generation is the slow part of the set-up.
	provs := make([]*goProvider, nodes)
	tubs := make([]*tub.Tub, nodes)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2*benchConnectConcurrency)
	var mu sync.Mutex
	var firstErr error
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
	}
	defer func() {
		for _, t := range tubs {
			if t != nil {
				sctx, c := context.WithTimeout(context.Background(), 10*time.Second)
				_ = t.Shutdown(sctx)
				c()
			}
		}
	}()
	ans := tahoeLikeAnswer()
	for i := range nodes {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			t, err := tub.New(tub.Options{Identity: fastIdentity(b)})
			if err != nil {
				fail(err)
				return
			}
			tubs[i] = t
			provs[i] = &goProvider{iname: ProviderInterface, answer: ans}
		})
	}
	wg.Wait()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	sem = make(chan struct{}, benchConnectConcurrency)
	for i := range nodes {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			cctx, c := context.WithTimeout(ctx, time.Minute)
			defer c()
			ref, err := tubs[i].GetReference(cctx, child.furl)
			if err != nil {
				fail(fmt.Errorf("node %d: connecting: %w", i, err))
				return
			}
			if err := ref.CallOnly("provide", []any{provs[i], []byte(fmt.Sprintf("node-%d", i))}, nil); err != nil {
				fail(fmt.Errorf("node %d: provide: %w", i, err))
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	calls := func() int64 {
		var n int64
		for _, p := range provs {
			n += p.calls.Load()
		}
		return n
	}
	// Wait until every provider has been polled once.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		polled := 0
		for _, p := range provs {
			if p.calls.Load() > 0 {
				polled++
			}
		}
		if polled == nodes {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d providers were polled within 2 minutes", polled, nodes)
		}
		time.Sleep(100 * time.Millisecond)
	}

	cpu0, err := procCPU(child.pid)
	if err != nil {
		b.Fatal(err)
	}
	calls0 := calls()
	start := time.Now()
	b.ResetTimer()
	time.Sleep(time.Duration(b.N) * time.Second)
	b.StopTimer()
	wall := time.Since(start)
	cpu1, err := procCPU(child.pid)
	if err != nil {
		b.Fatal(err)
	}
	answered := calls() - calls0
	rss, peak, err := procRSS(child.pid)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric((cpu1-cpu0).Seconds()/wall.Seconds(), "cpu-share")
	b.ReportMetric(float64(rss)/(1<<20), "rss-MiB")
	b.ReportMetric(float64(peak)/(1<<20), "peak-rss-MiB")
	b.ReportMetric(float64(answered)/wall.Seconds(), "polls/s")
	b.ReportMetric(0, "ns/op") // wall time per op is fixed at 1 s by design

	if err := child.stop(); err != nil {
		b.Errorf("the gatherer child: %v", err)
	}
	if e := readStatsJSON(b, dir); len(e) != nodes {
		b.Errorf("stats.json has %d entries, want %d", len(e), nodes)
	}
}

// benchChild is the gatherer running in a child process.
type benchChild struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	pid   int
	furl  string
	done  chan error
}

func startBenchChild(ctx context.Context, b *testing.B, dir string) *benchChild {
	b.Helper()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestBenchGathererChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), benchChildEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	c := &benchChild{cmd: cmd, stdin: stdin, pid: cmd.Process.Pid, done: make(chan error, 1)}
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		if f, ok := strings.CutPrefix(lines.Text(), "FURL "); ok {
			c.furl = f
			break
		}
	}
	go func() {
		_, _ = io.Copy(io.Discard, stdout)
		c.done <- cmd.Wait()
	}()
	if c.furl == "" {
		_ = cmd.Process.Kill()
		<-c.done
		b.Fatalf("the gatherer child did not start:\n%s", stderr.String())
	}
	b.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-c.done
		c.done <- nil
	})
	return c
}

// stop closes the child's stdin (it then stops Serve) and waits for it.
func (c *benchChild) stop() error {
	c.stdin.Close()
	select {
	case err := <-c.done:
		c.done <- err
		return err
	case <-time.After(30 * time.Second):
		return fmt.Errorf("did not exit within 30 s of being told to stop")
	}
}

// TestBenchGathererChild is the gatherer side of BenchmarkWire1000PerSecond,
// run in a child process; it is skipped otherwise. It serves the directory
// named by GATHERER_STATS_BENCH_DIR with a 1 s poll interval, prints
// "FURL <furl>" when ready and stops when its stdin closes.
func TestBenchGathererChild(t *testing.T) {
	dir := os.Getenv(benchChildEnv)
	if dir == "" {
		t.Skip("run by BenchmarkWire1000PerSecond only")
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	err := Serve(ctx, ServeConfig{
		Dir:          dir,
		PollInterval: time.Second,
		Ready:        func(i ServeInfo) { fmt.Printf("FURL %s\n", i.FURL) },
	})
	if p := os.Getenv("GATHERER_STATS_BENCH_MEMPROFILE"); p != "" {
		if err := writeHeapProfile(p); err != nil {
			t.Error(err)
		}
	}
	if err != context.Canceled {
		t.Fatalf("Serve: %v", err)
	}
}

// writeHeapProfile writes a heap profile to path (for
// GATHERER_STATS_BENCH_MEMPROFILE).
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// procCPU returns the user+system CPU time of process pid.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	// Fields after the command name (which is in parentheses and may hold
	// spaces): state is field 3, utime 14, stime 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad utime/stime %q %q", pid, f[11], f[12])
	}
	const clkTck = 100 // USER_HZ on every Linux architecture Go supports
	return time.Duration(ut+st) * time.Second / clkTck, nil
}

// procRSS returns VmRSS and VmHWM (peak) of process pid, in bytes.
func procRSS(pid int) (rss, peak int64, err error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/status: %s: %w", pid, line, err)
		}
		if k == "VmRSS" {
			rss = kb << 10
		} else {
			peak = kb << 10
		}
	}
	return rss, peak, nil
}
