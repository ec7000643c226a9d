package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/gatherer/gatherer/internal/loadnode"
)

type idleResult struct {
	nodes   int
	base    int64
	rss     int64
	perNode float64 // bytes
	connect time.Duration
	err     error
}

// idle: RSS per connected, subscribed, idle node of the incident gatherer.
func (b *bench) idle(ctx context.Context, rep *report) {
	for _, n := range b.cfg.idleNodes {
		r := b.runIdle(ctx, loadnode.ImplGo, n)
		b.addIdle(rep, r, math.NaN(), "")
	}
	if b.hasPython && ctx.Err() == nil {
		n := b.cfg.pyIdleNodes
		p := b.runIdle(ctx, loadnode.ImplPython, n)
		// Ours at the same N, for the ratio.
		g := b.runIdle(ctx, loadnode.ImplGo, n)
		b.addIdle(rep, g, p.perNode/1024, errNote(p.err))
	}
}

func errNote(err error) string {
	if err == nil {
		return ""
	}
	return "python failed: " + shorten(err.Error(), 80)
}

func (b *bench) addIdle(rep *report, r idleResult, python float64, note string) {
	g := r.perNode / 1024
	if r.err != nil {
		g = math.NaN()
		note = "ours failed: " + shorten(r.err.Error(), 80)
	} else {
		note = joinNotes(note, fmt.Sprintf("ours: %.0f MiB before, %.0f MiB with the nodes; connected in %.1f s", mib(r.base), mib(r.rss), r.connect.Seconds()))
	}
	rep.add(Row{Workload: "idle", Case: fmt.Sprintf("%d nodes", r.nodes), Metric: "RSS per idle node", Unit: "KiB", Go: g, Python: python, Note: note})
}

func joinNotes(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

func (b *bench) runIdle(ctx context.Context, impl string, n int) (res idleResult) {
	res.nodes = n
	res.perNode = math.NaN()
	g, err := b.startGatherer(ctx, impl, loadnode.KindIncident, false, fmt.Sprintf("idle-%s-%d", impl, n))
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
	nodes, err := b.makeNodes(n, func(int) loadnode.Options { return loadnode.Options{} })
	if err != nil {
		res.err = err
		return res
	}
	defer closeNodes(nodes)
	if !settle(ctx, time.Second) {
		res.err = ctx.Err()
		return res
	}
	u0, err := g.Usage()
	if err != nil {
		res.err = err
		return res
	}
	res.base = u0.RSS
	limit := 5 * time.Minute
	if impl == loadnode.ImplPython {
		limit = b.cfg.pythonCap * 2
	}
	cctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	start := time.Now()
	if err := connectNodes(cctx, nodes, g.FURL); err != nil {
		res.err = err
		return res
	}
	if !waitUntil(cctx, 50*time.Millisecond, func() bool { return sumStats(nodes).IncidentSubscriptions >= int64(n) }) {
		res.err = fmt.Errorf("only %d of %d nodes were subscribed to in %s", sumStats(nodes).IncidentSubscriptions, n, limit)
		return res
	}
	res.connect = time.Since(start)
	// Let the catch-up calls finish and the heap settle.
	if !settle(ctx, 3*time.Second) {
		res.err = ctx.Err()
		return res
	}
	u1, err := g.Usage()
	if err != nil {
		res.err = err
		return res
	}
	res.rss = u1.RSS
	res.perNode = float64(u1.RSS-u0.RSS) / float64(n)
	b.log.Info("idle case", "impl", impl, "nodes", n, "kib_per_node", res.perNode/1024)
	return res
}

func settle(ctx context.Context, d time.Duration) bool {
	select {
	case <-time.After(d):
		return true
	case <-ctx.Done():
		return false
	}
}
