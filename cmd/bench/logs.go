package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/gatherer/gatherer/gatherer/flog"
	"github.com/gatherer/gatherer/internal/loadnode"
)

// logRotate is the --rotate period of the log cases, so that --bzip has
// files to compress while the nodes stream.
const logRotate = 2

type logResult struct {
	events    int64   // msg calls answered in the window
	rate      float64 // events/s in the window
	effective float64 // events/s counting the time to compress the backlog (bzip)
	drain     time.Duration
	cpu       float64 // gatherer CPU seconds per second (cores used)
	peakRSS   int64
	err       error
}

func (b *bench) logs(ctx context.Context, rep *report) {
	sample, err := sampleFlog(20000)
	if err != nil {
		rep.Notes = append(rep.Notes, "log workload: "+err.Error())
		return
	}
	lineBytes := float64(len(sample)) / 20000
	for _, bzip := range []bool{false, true} {
		for _, n := range b.cfg.logNodes {
			res := map[string]logResult{}
			for _, impl := range b.impls() {
				if ctx.Err() != nil {
					return
				}
				r := b.runLog(ctx, impl, bzip, n)
				if r.err != nil {
					b.log.Warn("log case failed", "impl", impl, "nodes", n, "bzip", bzip, "err", r.err)
				}
				b.log.Info("log case", "impl", impl, "nodes", n, "bzip", bzip, "events_per_s", r.rate, "effective", r.effective)
				res[impl] = r
			}
			g, p := res[loadnode.ImplGo], res[loadnode.ImplPython]
			cs := fmt.Sprintf("%d nodes, rotate %ds", n, logRotate)
			if bzip {
				cs += ", --bzip"
			}
			rep.add(Row{Workload: "log", Case: cs, Metric: "ingest", Unit: "events/s", Go: g.rate, Python: pyOr(p, p.rate), HigherBetter: true, Note: logNote(g, p)})
			if bzip {
				rep.add(Row{Workload: "log", Case: cs, Metric: "ingest incl. compressing the backlog", Unit: "events/s", Go: g.effective, Python: pyOr(p, p.effective), HigherBetter: true,
					Note: fmt.Sprintf("backlog compressed %.1f s (ours) / %.1f s (python) after the window", g.drain.Seconds(), p.drain.Seconds())})
				rep.add(Row{Workload: "log", Case: cs, Metric: "input compressed", Unit: "MB/s", Go: g.effective * lineBytes / 1e6, Python: pyOr(p, p.effective*lineBytes/1e6), HigherBetter: true,
					Note: fmt.Sprintf("at %.0f bytes per stored line", lineBytes)})
			}
			rep.add(Row{Workload: "log", Case: cs, Metric: "gatherer CPU", Unit: "cores", Go: g.cpu, Python: pyOr(p, p.cpu)})
			cpuNote := "the load nodes share the machine's CPUs"
			if bzip {
				cpuNote = "ours compresses in-process (counted); python's bzip2 children are not counted; " + cpuNote
			}
			rep.add(Row{Workload: "log", Case: cs, Metric: "events per gatherer CPU second", Unit: "events", Go: g.rate / g.cpu, Python: pyOr(p, p.rate/p.cpu), HigherBetter: true,
				Note: cpuNote})
		}
	}
	b.bzipReference(ctx, rep, sample)
}

func pyOr(p logResult, v float64) float64 {
	if p.err != nil || (p.events == 0 && p.rate == 0) {
		return math.NaN()
	}
	return v
}

func logNote(g, p logResult) string {
	var notes []string
	if g.err != nil {
		notes = append(notes, "ours failed: "+shorten(g.err.Error(), 80))
	}
	if p.err != nil {
		notes = append(notes, "python failed: "+shorten(p.err.Error(), 80))
	}
	return strings.Join(notes, "; ")
}

func (b *bench) runLog(ctx context.Context, impl string, bzip bool, n int) (res logResult) {
	res.rate, res.effective, res.cpu = math.NaN(), math.NaN(), math.NaN()
	g, err := loadnode.StartGatherer(ctx, loadnode.GathererSpec{Impl: impl, Kind: loadnode.KindLog, Bzip: bzip, Rotate: logRotate,
		Dir: b.gathererDir(fmt.Sprintf("log-%s-%d-%t", impl, n, bzip)), Binary: b.binary})
	if err != nil {
		res.err = err
		return res
	}
	defer func() {
		if err := stopGatherer(g, 60*time.Second); err != nil {
			b.log.Warn("stopping the gatherer", "impl", impl, "err", err)
		}
		_ = os.RemoveAll(g.Spec.Dir)
	}()
	nodes, err := b.makeNodes(n, func(int) loadnode.Options { return loadnode.Options{Flood: true} })
	if err != nil {
		res.err = err
		return res
	}
	var closeOnce sync.Once
	closeAll := func() { closeOnce.Do(func() { closeNodes(nodes) }) }
	defer closeAll()
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := connectNodes(cctx, nodes, g.FURL); err != nil {
		res.err = err
		return res
	}
	if !waitUntil(cctx, 20*time.Millisecond, func() bool { return sumStats(nodes).EventSubscriptions >= int64(n) }) {
		res.err = fmt.Errorf("only %d of %d nodes were subscribed to", sumStats(nodes).EventSubscriptions, n)
		return res
	}
	select { // warm up
	case <-time.After(500 * time.Millisecond):
	case <-ctx.Done():
		res.err = ctx.Err()
		return res
	}
	u0, err := g.Usage()
	if err != nil {
		res.err = err
		return res
	}
	e0, t0 := sumStats(nodes).EventsDelivered, time.Now()
	select {
	case <-time.After(b.cfg.logWindow):
	case <-ctx.Done():
		res.err = ctx.Err()
		return res
	}
	e1, t1 := sumStats(nodes).EventsDelivered, time.Now()
	u1, err := g.Usage()
	if err != nil {
		res.err = err
		return res
	}
	closeAll()
	window := t1.Sub(t0)
	res.events = e1 - e0
	res.rate = float64(res.events) / window.Seconds()
	res.cpu = (u1.CPU - u0.CPU).Seconds() / window.Seconds()
	res.peakRSS = u1.HWM
	res.effective = res.rate
	if bzip {
		// The backlog: rotated files not compressed yet.
		start := time.Now()
		dctx, dcancel := context.WithTimeout(ctx, 90*time.Second)
		defer dcancel()
		waitUntil(dctx, 50*time.Millisecond, func() bool {
			files, _ := filepath.Glob(filepath.Join(g.Spec.Dir, "from-*---to-*.flog"))
			for _, f := range files {
				if !strings.HasSuffix(f, "---to-present.flog") {
					return false
				}
			}
			return true
		})
		res.drain = time.Since(start)
		res.effective = float64(res.events) / (window + res.drain).Seconds()
	}
	return res
}

// sampleFlog is n stored lines as the log gatherer writes them.
func sampleFlog(n int) ([]byte, error) {
	var buf bytes.Buffer
	w, err := flog.NewWriter(&buf, flog.WriterOptions{})
	if err != nil {
		return nil, err
	}
	now := time.Now()
	for i := range n {
		ev := loadnode.LiveEvent(int64(i), now.Add(time.Duration(i)*time.Millisecond), "0123456789abcdef")
		if err := w.WriteEvent("qrrnx55najmpo4kcseajcszexvro4qig", float64(now.UnixNano())/1e9, ev); err != nil {
			return nil, fmt.Errorf("writing the sample flogfile: %w", err)
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// bzipReference measures the machine's bzip2 throughput on the sample:
// one `bzip2 -9` process, and one per CPU at once. Python's gatherer runs
// that program on each rotated file; ours compresses in-process with
// internal/bzip2w, which makes the same bytes. The program's parallel
// throughput is the reference the --bzip aim is stated against.
func (b *bench) bzipReference(ctx context.Context, rep *report, sample []byte) {
	path := filepath.Join(b.work, "sample.flog")
	// About 16 MB, so one run takes a few seconds.
	data := bytes.Repeat(sample, max(1, 16<<20/len(sample)))
	if err := os.WriteFile(path, data, 0o644); err != nil {
		rep.Notes = append(rep.Notes, "bzip2 reference: "+err.Error())
		return
	}
	one := func() error {
		cmd := exec.CommandContext(ctx, "bzip2", "-9", "-c", path)
		cmd.Stdout = nil
		return cmd.Run()
	}
	t0 := time.Now()
	if err := one(); err != nil {
		rep.Notes = append(rep.Notes, "bzip2 reference: bzip2: "+err.Error())
		return
	}
	single := float64(len(data)) / time.Since(t0).Seconds() / 1e6
	procs := runtime.NumCPU()
	var wg sync.WaitGroup
	t0 = time.Now()
	for range procs {
		wg.Add(1)
		go func() { defer wg.Done(); _ = one() }()
	}
	wg.Wait()
	parallel := float64(procs*len(data)) / time.Since(t0).Seconds() / 1e6
	rep.add(Row{Workload: "log", Case: "bzip2 -9 reference", Metric: "one process", Unit: "MB/s", Go: single, Python: math.NaN(), HigherBetter: true,
		Note: "input bytes of stored flog lines"})
	rep.add(Row{Workload: "log", Case: "bzip2 -9 reference", Metric: fmt.Sprintf("%d processes at once", procs), Unit: "MB/s", Go: parallel, Python: math.NaN(), HigherBetter: true,
		Note: "python's gatherer runs this program on each rotated file, one at a time"})
	// On a busy machine two processes may do no better than one: compare
	// with the best the machine did.
	best := max(single, parallel)
	if stage, err := b.bzipStage(ctx, data, 2*procs); err != nil {
		rep.Notes = append(rep.Notes, "log --bzip compression stage: "+err.Error())
	} else {
		rep.add(Row{Workload: "log", Case: fmt.Sprintf("--bzip, %d rotated files waiting", 2*procs), Metric: "compression stage", Unit: "MB/s", Go: stage, Python: single, HigherBetter: true,
			Note: fmt.Sprintf("ours: %.0f%% of the machine's best bzip2 throughput measured just before (%.1f MB/s); python: its gatherer runs one bzip2 at a time, the one-process figure", 100*stage/best, best)})
	}
	for _, row := range rep.Rows {
		if row.Workload == "log" && row.Metric == "input compressed" && ok(row.Go) {
			rep.Notes = append(rep.Notes, fmt.Sprintf("log %s: ours compressed %.1f MB/s, %.0f%% of the machine's best bzip2 throughput in this run (%.1f MB/s; %d processes at once: %.1f MB/s, one: %.1f MB/s)",
				row.Case, row.Go, 100*row.Go/best, best, procs, parallel, single))
		}
	}
}

// bzipStage times our log gatherer's compression stage alone: files rotated
// files of data each wait uncompressed in a --bzip gatherer's directory (as
// a crash or a burst leaves them), and the gatherer, started on it, works
// through them. It returns the input MB/s from the start of "gatherer run"
// until no plain rotated file is left.
func (b *bench) bzipStage(ctx context.Context, data []byte, files int) (float64, error) {
	dir := b.gathererDir("log-bzip-stage")
	var t0 time.Time
	spec := loadnode.GathererSpec{Impl: loadnode.ImplGo, Kind: loadnode.KindLog, Bzip: true, Dir: dir, Binary: b.binary,
		Prepare: func(dir string) error {
			for i := range files {
				name := fmt.Sprintf("from-2026-01-01--00-%02d-00Z---to-2026-01-01--00-%02d-30Z.flog", i, i)
				if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
					return err
				}
			}
			t0 = time.Now()
			return nil
		}}
	g, err := loadnode.StartGatherer(ctx, spec)
	if err != nil {
		return 0, err
	}
	defer func() {
		if err := stopGatherer(g, 60*time.Second); err != nil {
			b.log.Warn("stopping the gatherer", "case", "bzip stage", "err", err)
		}
		_ = os.RemoveAll(g.Spec.Dir)
	}()
	dctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	plain := func() int {
		m, _ := filepath.Glob(filepath.Join(dir, "from-2026-01-01--*---to-*.flog"))
		return len(m)
	}
	waitUntil(dctx, 20*time.Millisecond, func() bool { return plain() == 0 })
	elapsed := time.Since(t0)
	if n := plain(); n > 0 {
		return 0, fmt.Errorf("%d of %d files still uncompressed after %v", n, files, elapsed.Round(time.Second))
	}
	bz, _ := filepath.Glob(filepath.Join(dir, "from-2026-01-01--*---to-*.flog.bz2"))
	if len(bz) != files {
		return 0, fmt.Errorf("%d compressed files, want %d", len(bz), files)
	}
	return float64(files*len(data)) / elapsed.Seconds() / 1e6, nil
}
