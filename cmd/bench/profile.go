package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/gatherer/gatherer/foolscap/furl"
	"github.com/gatherer/gatherer/foolscap/tub"
	"github.com/gatherer/gatherer/gatherer/classify"
	"github.com/gatherer/gatherer/gatherer/incident"
	"github.com/gatherer/gatherer/gatherer/logport"
	"github.com/gatherer/gatherer/gatherer/logs"
	"github.com/gatherer/gatherer/internal/loadnode"
)

// profileResult is the CPU profile of one workload.
type profileResult struct {
	Workload string `json:"workload"`
	File     string `json:"file"`
	Summary  string `json:"summary"`
	Top      string `json:"top"`
}

// profile runs our gatherer's services in this process, wired to a Tub as
// cmd/gatherer's tubServe does (MaxInFlight 1, logport root), under the
// CPU profiler. The gatherer side runs under the pprof label
// side=gatherer (goroutines inherit it from the Listen and Start calls),
// the load nodes do not, so "-tagfocus side=gatherer" shows the
// gatherer's own costs.
func (b *bench) profile(ctx context.Context, rep *report) {
	for _, kind := range []string{loadnode.KindIncident, loadnode.KindLog, "idle"} {
		p, err := b.profileOne(ctx, kind)
		if err != nil {
			rep.Notes = append(rep.Notes, fmt.Sprintf("profile %s: %v", kind, err))
			continue
		}
		rep.Profiles = append(rep.Profiles, p)
	}
}

func (b *bench) profileOne(ctx context.Context, kind string) (profileResult, error) {
	// Our gatherer runs in this process here: give it the default GOGC it
	// has as a program of its own.
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	res := profileResult{Workload: kind, File: filepath.Join(b.cfg.out, kind+".cpu.pprof")}
	if kind == "idle" {
		res.File = filepath.Join(b.cfg.out, "idle.heap.pprof")
	}
	dir := b.gathererDir("profile-" + kind)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return res, err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	id, err := b.ids.New()
	if err != nil {
		return res, err
	}
	t, err := tub.New(tub.Options{Identity: id, MaxInFlight: 1})
	if err != nil {
		return res, err
	}
	sctx, cancelServices := context.WithCancel(ctx)
	defer cancelServices()
	var handler logport.Handler
	var closeSvc func(context.Context) error
	var startErr error
	pprof.Do(sctx, pprof.Labels("side", "gatherer"), func(lctx context.Context) {
		addr, err := t.Listen(lctx, furl.ListenSpec{Port: 0, Interface: "127.0.0.1"})
		if err != nil {
			startErr = err
			return
		}
		if err := t.SetLocation("tcp:" + addr.String()); err != nil {
			startErr = err
			return
		}
		switch kind {
		case loadnode.KindIncident, "idle":
			rules, err := classify.Load(dir)
			if err != nil {
				startErr = err
				return
			}
			svc, err := incident.New(incident.Options{Dir: dir, Classifier: rules})
			if err != nil {
				startErr = err
				return
			}
			if startErr = svc.Start(lctx); startErr != nil {
				return
			}
			handler = func(ctx context.Context, nodeid any, pub *logport.Publisher) error {
				return svc.Logport(ctx, nodeid, pub)
			}
			closeSvc = svc.Close
		default:
			svc, err := logs.New(logs.Options{Dir: dir, Rotate: logRotate * time.Second, Bzip: true})
			if err != nil {
				startErr = err
				return
			}
			if startErr = svc.Start(lctx); startErr != nil {
				return
			}
			handler = func(ctx context.Context, nodeid any, pub *logport.Publisher) error {
				return svc.Logport(ctx, nodeid, pub)
			}
			closeSvc = func(ctx context.Context) error { _, err := svc.Close(ctx); return err }
		}
	})
	defer func() {
		c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		_ = t.Shutdown(c)
		if closeSvc != nil {
			_ = closeSvc(c)
		}
	}()
	if startErr != nil {
		return res, startErr
	}
	f, err := t.Register(logport.NewGatherer(handler, nil), "")
	if err != nil {
		return res, err
	}
	pf, err := os.Create(res.File)
	if err != nil {
		return res, fmt.Errorf("creating the profile: %w", err)
	}
	defer pf.Close()
	if kind == "idle" {
		return b.profileIdle(ctx, f, pf, res)
	}
	if err := pprof.StartCPUProfile(pf); err != nil {
		return res, fmt.Errorf("starting the CPU profile: %w", err)
	}
	var work string
	switch kind {
	case loadnode.KindIncident:
		work, err = b.profileIncidents(ctx, f, dir)
	default:
		work, err = b.profileLogs(ctx, f)
	}
	pprof.StopCPUProfile()
	if err != nil {
		return res, err
	}
	res.Summary = work
	out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount=25", "-tagfocus=side=gatherer", res.File).CombinedOutput()
	if err != nil {
		return res, fmt.Errorf("go tool pprof: %w: %s", err, shorten(string(out), 300))
	}
	res.Top = trimPprof(string(out))
	return res, nil
}

func (b *bench) profileIncidents(ctx context.Context, furlStr, dir string) (string, error) {
	n, k := 100, b.cfg.incidents
	base, err := loadnode.MakeIncidents(loadnode.IncidentSpec{Count: k, Events: b.cfg.events, Start: time.Now().Add(-time.Hour), Seed: 2})
	if err != nil {
		return "", err
	}
	nodes, err := b.makeNodes(n, func(i int) loadnode.Options {
		return loadnode.Options{Incidents: loadnode.ForNode(base, uint64(i)+1000)}
	})
	if err != nil {
		return "", err
	}
	defer closeNodes(nodes)
	start := time.Now()
	cctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if err := connectNodes(cctx, nodes, furlStr); err != nil {
		return "", err
	}
	want := n * k
	waitUntil(cctx, 50*time.Millisecond, func() bool {
		files, _ := filepath.Glob(filepath.Join(dir, "incidents", "*", "incident-*.flog.bz2"))
		return len(files) >= want
	})
	return fmt.Sprintf("%d Go nodes x %d incidents of %d events, gathered in %.1f s (connections included).", n, k, b.cfg.events, time.Since(start).Seconds()), cctx.Err()
}

func (b *bench) profileLogs(ctx context.Context, furlStr string) (string, error) {
	n := 10
	nodes, err := b.makeNodes(n, func(int) loadnode.Options { return loadnode.Options{Flood: true} })
	if err != nil {
		return "", err
	}
	defer closeNodes(nodes)
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := connectNodes(cctx, nodes, furlStr); err != nil {
		return "", err
	}
	waitUntil(cctx, 20*time.Millisecond, func() bool { return sumStats(nodes).EventSubscriptions >= int64(n) })
	e0 := sumStats(nodes).EventsDelivered
	d := 5 * time.Second
	settle(ctx, d)
	e := sumStats(nodes).EventsDelivered - e0
	return fmt.Sprintf("%d Go nodes streaming for %s (--bzip, rotate %d s): %d events, %.0f events/s in-process (nodes and gatherer share the CPUs).",
		n, d, logRotate, e, float64(e)/d.Seconds()), nil
}

// profileIdle connects idle nodes to the in-process gatherer and writes
// a heap profile. Both ends of every connection live in this process, so
// the per-connection figures hold the gatherer's side and the node's side
// (the same pb and tub code).
func (b *bench) profileIdle(ctx context.Context, furlStr string, pf *os.File, res profileResult) (profileResult, error) {
	const n = 1000
	runtime.GC()
	g0 := runtime.NumGoroutine()
	var m0 runtime.MemStats
	runtime.ReadMemStats(&m0)
	nodes, err := b.makeNodes(n, func(int) loadnode.Options { return loadnode.Options{} })
	if err != nil {
		return res, err
	}
	defer closeNodes(nodes)
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := connectNodes(cctx, nodes, furlStr); err != nil {
		return res, err
	}
	waitUntil(cctx, 50*time.Millisecond, func() bool { return sumStats(nodes).IncidentSubscriptions >= n })
	settle(ctx, 2*time.Second)
	runtime.GC()
	var m1 runtime.MemStats
	runtime.ReadMemStats(&m1)
	goroutines := runtime.NumGoroutine() - g0
	if err := pprof.Lookup("heap").WriteTo(pf, 0); err != nil {
		return res, fmt.Errorf("writing the heap profile: %w", err)
	}
	res.Summary = fmt.Sprintf("%d idle Go nodes connected to the in-process incident gatherer: %d goroutines per connection (both ends), "+
		"heap in use %.1f KiB per connection, goroutine stacks %.1f KiB per connection (both ends).",
		n, goroutines/n, float64(m1.HeapInuse-m0.HeapInuse)/1024/n, float64(m1.StackInuse-m0.StackInuse)/1024/n)
	out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount=20", "-sample_index=inuse_space", res.File).CombinedOutput()
	if err != nil {
		return res, fmt.Errorf("go tool pprof: %w: %s", err, shorten(string(out), 300))
	}
	res.Top = trimPprof(string(out))
	return res, nil
}

// trimPprof keeps pprof's table and drops the build and file lines.
func trimPprof(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "File:") || strings.HasPrefix(l, "Build ID:") || strings.HasPrefix(l, "Type:") || strings.HasPrefix(l, "Time:") {
			continue
		}
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}
