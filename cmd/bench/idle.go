package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"time"

	"github.com/gatherer/gatherer/internal/loadnode"
	"github.com/gatherer/gatherer/internal/memtrim"
)

type idleResult struct {
	nodes   int
	base    int64
	rss     int64
	perNode float64 // bytes
	connect time.Duration
	steady  bool // the RSS had stopped moving when read
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
		if !r.steady {
			note = joinNotes(note, "ours: RSS still moving after 30 s")
		}
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
	// Let the catch-up calls finish, then read the RSS once it has
	// stopped moving. An idle gatherer's memory is what a grid operator
	// lives with; the seconds after a connection burst are not: our
	// gatherer hands the burst's heap back after two quiet intervals of
	// internal/memtrim (10 s at most), and Go's runtime would otherwise
	// do it over minutes, so one reading at a fixed moment measured the
	// moment more than the connections.
	if !settle(ctx, idleSettle) {
		res.err = ctx.Err()
		return res
	}
	rss, steady, err := steadyRSS(ctx, g, 500*time.Millisecond, 4, 30*time.Second)
	if err != nil {
		res.err = err
		return res
	}
	res.rss = rss
	res.steady = steady
	res.perNode = float64(rss-u0.RSS) / float64(n)
	b.log.Info("idle case", "impl", impl, "nodes", n, "kib_per_node", res.perNode/1024, "steady", steady)
	return res
}

// idleSettle is the wait before idle RSS readings: past two of
// memtrim.DefaultInterval.
const idleSettle = 2*memtrim.DefaultInterval + 2*time.Second

// steadyRSS reads g's RSS every interval until `window` readings in a row
// lie within 1% of each other (or up to limit) and returns the last one,
// and whether it was steady.
func steadyRSS(ctx context.Context, g *loadnode.Gatherer, interval time.Duration, window int, limit time.Duration) (int64, bool, error) {
	var last []int64
	deadline := time.Now().Add(limit)
	for {
		u, err := g.Usage()
		if err != nil {
			return 0, false, err
		}
		last = append(last, u.RSS)
		if len(last) > window {
			last = last[1:]
		}
		if len(last) == window && slices.Max(last)-slices.Min(last) <= slices.Max(last)/100 {
			return u.RSS, true, nil
		}
		if time.Now().After(deadline) {
			return u.RSS, false, nil
		}
		if !settle(ctx, interval) {
			return 0, false, ctx.Err()
		}
	}
}

func settle(ctx context.Context, d time.Duration) bool {
	select {
	case <-time.After(d):
		return true
	case <-ctx.Done():
		return false
	}
}
