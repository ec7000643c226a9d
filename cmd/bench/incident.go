package main

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gatherer/gatherer/internal/loadnode"
)

type incidentResult struct {
	gathered int
	wanted   int
	elapsed  time.Duration
	cpu      time.Duration
	peakRSS  int64
	busy     float64       // share of the machine's CPU time busy meanwhile
	loadCPU  time.Duration // CPU time of this process (the load nodes) meanwhile
	partial  bool
	err      error
}

func (r incidentResult) rate() float64 {
	if r.err != nil || r.elapsed <= 0 {
		return math.NaN()
	}
	return float64(r.gathered) / r.elapsed.Seconds()
}

// shortCase is the size, in incidents, under which a case of ours takes
// a fraction of a second: the host's noise moves such a run by a quarter
// either way, and two more runs cost nothing next to the large cases.
const shortCase = 100

// incidentCase is N nodes holding K incidents each.
type incidentCase struct {
	nodes, incidents int
	backlog          bool // the one-node backlog case (not in the plot)
}

// incident runs N nodes x K incidents against each gatherer, for every N,
// and then one node holding a backlog of incidents: the case where what
// one node has, not connecting to it, is the work.
func (b *bench) incident(ctx context.Context, rep *report) {
	var cases []incidentCase
	for _, n := range b.cfg.incidentNodes {
		cases = append(cases, incidentCase{nodes: n, incidents: b.cfg.incidents})
	}
	if b.cfg.backlog > 0 {
		cases = append(cases, incidentCase{nodes: 1, incidents: b.cfg.backlog, backlog: true})
	}
	bases := map[int][]loadnode.Incident{}
	for _, c := range cases {
		if bases[c.incidents] != nil {
			continue
		}
		base, err := loadnode.MakeIncidents(loadnode.IncidentSpec{Count: c.incidents, Events: b.cfg.events,
			Start: time.Now().Add(-time.Hour), Seed: 1})
		if err != nil {
			rep.Notes = append(rep.Notes, "incident workload: "+err.Error())
			return
		}
		bases[c.incidents] = base
	}
	for _, c := range cases {
		n, base := c.nodes, bases[c.incidents]
		res := map[string]incidentResult{}
		var spread string
		for _, impl := range b.impls() {
			runs := 1
			if impl == loadnode.ImplGo {
				runs = b.cfg.repeat
				if n*c.incidents < shortCase {
					runs = b.cfg.shortRepeat
				}
			}
			var rs []incidentResult
			for range runs {
				if ctx.Err() != nil {
					return
				}
				r := b.runIncident(ctx, impl, n, base)
				if r.err != nil {
					b.log.Warn("incident case failed", "impl", impl, "nodes", n, "err", r.err)
				}
				b.log.Info("incident case", "impl", impl, "nodes", n, "gathered", r.gathered, "of", r.wanted,
					"seconds", r.elapsed.Seconds(), "incidents_per_s", r.rate())
				rs = append(rs, r)
			}
			res[impl] = median(rs)
			if len(rs) > 1 && res[impl].err == nil { // the failure is in the note otherwise
				spread = spreadNote(rs)
			}
		}
		g, p := res[loadnode.ImplGo], res[loadnode.ImplPython]
		cs := fmt.Sprintf("%d nodes x %d", n, c.incidents)
		if c.backlog {
			cs = fmt.Sprintf("1 node with a backlog of %d", c.incidents)
		}
		note := incidentNote(g, p)
		if spread != "" {
			note = spread + "; " + note
		}
		rep.add(Row{Workload: "incident", Case: cs, Metric: "ingest", Unit: "incidents/s", Go: g.rate(), Python: orNaN(p, p.rate()), HigherBetter: true, Note: note})
		rep.add(Row{Workload: "incident", Case: cs, Metric: "time to gather all", Unit: "s", Go: g.allTime(), Python: orNaN(p, p.allTime()), Note: "python: extrapolated when cut short"})
		rep.add(Row{Workload: "incident", Case: cs, Metric: "CPU per incident", Unit: "ms", Go: g.cpuPer(), Python: orNaN(p, p.cpuPer())})
		rep.add(Row{Workload: "incident", Case: cs, Metric: "peak RSS", Unit: "MiB", Go: mib(g.peakRSS), Python: orNaN(p, mib(p.peakRSS))})
		if !c.backlog {
			rep.Plot = append(rep.Plot, IncidentPoint{Nodes: n, Go: g.rate(), Python: orNaN(p, p.rate())})
		}
	}
}

// median is the run of median rate (the first failed one, if any failed):
// the host's speed moves one case by a quarter from run to run, and python,
// one steady thread, moves by a few percent.
func median(rs []incidentResult) incidentResult {
	for _, r := range rs {
		if r.err != nil {
			return r
		}
	}
	s := slices.Clone(rs)
	slices.SortFunc(s, func(a, b incidentResult) int { return cmp.Compare(a.rate(), b.rate()) })
	return s[len(s)/2]
}

// spreadNote says how many runs of ours the median is of, and their range.
func spreadNote(rs []incidentResult) string {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, r := range rs {
		lo, hi = min(lo, r.rate()), max(hi, r.rate())
	}
	return fmt.Sprintf("ours: median of %d runs (%.0f to %.0f incidents/s)", len(rs), lo, hi)
}

func (r incidentResult) allTime() float64 {
	if r.err != nil || r.gathered == 0 {
		return math.NaN()
	}
	return r.elapsed.Seconds() * float64(r.wanted) / float64(r.gathered)
}

func (r incidentResult) cpuPer() float64 {
	if r.err != nil || r.gathered == 0 {
		return math.NaN()
	}
	return float64(r.cpu.Milliseconds()) / float64(r.gathered)
}

// incidentNote says what cut a case short and how busy the machine was:
// ours is CPU-bound when the machine was busy throughout, and the load
// nodes' share of it is CPU our gatherer did not get.
func incidentNote(g, p incidentResult) string {
	var notes []string
	var busy []string
	for _, x := range []struct {
		name string
		r    incidentResult
	}{{"ours", g}, {"python", p}} {
		if x.r.err == nil && x.r.gathered > 0 && ok(x.r.busy) {
			busy = append(busy, fmt.Sprintf("%s %.0f%% (load nodes %.2f ms/incident)", x.name, 100*x.r.busy,
				float64(x.r.loadCPU.Microseconds())/1000/float64(x.r.gathered)))
		}
	}
	if len(busy) > 0 {
		notes = append(notes, "machine CPU busy: "+strings.Join(busy, ", "))
	}
	for _, x := range []struct {
		name string
		r    incidentResult
	}{{"ours", g}, {"python", p}} {
		switch {
		case x.r.err != nil:
			notes = append(notes, x.name+" failed: "+shorten(x.r.err.Error(), 80))
		case x.r.partial:
			notes = append(notes, fmt.Sprintf("%s cut short: %d of %d in %.0f s", x.name, x.r.gathered, x.r.wanted, x.r.elapsed.Seconds()))
		}
	}
	return strings.Join(notes, "; ")
}

// orNaN is NaN when the python side was not run (zero result).
func orNaN(r incidentResult, v float64) float64 {
	if r.wanted == 0 {
		return math.NaN()
	}
	return v
}

func mib(b int64) float64 {
	if b <= 0 {
		return math.NaN()
	}
	return float64(b) / (1 << 20)
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func (b *bench) runIncident(ctx context.Context, impl string, n int, base []loadnode.Incident) (res incidentResult) {
	k := len(base)
	res.wanted = n * k
	g, err := b.startGatherer(ctx, impl, loadnode.KindIncident, false, fmt.Sprintf("incident-%s-%d", impl, n))
	if err != nil {
		res.err = err
		return res
	}
	defer func() {
		if err := stopGatherer(g, 30*time.Second); err != nil {
			b.log.Warn("stopping the gatherer", "impl", impl, "err", err)
		}
		// The directory stays until the run ends (b.cleanup): on a
		// filesystem without a journal, ext4 skips every inode freed in
		// the last 30 s when it allocates one, so removing a case's
		// thousands of files would slow the file creation of the next
		// few cases, of whichever gatherer comes next.
	}()
	perNode := make([][]loadnode.Incident, n)
	last := make([]string, n) // each node's last incident, as "latest" will hold it
	for i := range perNode {
		perNode[i] = loadnode.ForNode(base, uint64(i)+1)
		last[i] = perNode[i][k-1].Name + "\n"
	}
	nodes, err := b.makeNodes(n, func(i int) loadnode.Options {
		return loadnode.Options{Incidents: perNode[i]}
	})
	if err != nil {
		res.err = err
		return res
	}
	defer closeNodes(nodes)
	u0, err := g.Usage()
	if err != nil {
		res.err = err
		return res
	}
	limit := 10 * time.Minute
	if impl == loadnode.ImplPython {
		limit = b.cfg.pythonCap
	}
	cctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	c0, _ := readCPUTimes()
	l0, _ := loadnode.ProcUsage(os.Getpid())
	start := time.Now()
	if err := connectNodes(cctx, nodes, g.FURL); err != nil && cctx.Err() == nil {
		res.err = err
		return res
	}
	done := make([]bool, n)
	remaining := n
	finished := waitPrecisely(cctx, start, func() bool {
		for i, nd := range nodes {
			if done[i] || nd.Stats().IncidentsServed < int64(k) {
				continue
			}
			bs, _ := os.ReadFile(filepath.Join(g.Spec.Dir, "incidents", nd.TubID(), "latest"))
			if string(bs) == last[i] {
				done[i] = true
				remaining--
			}
		}
		return remaining == 0
	})
	res.elapsed = time.Since(start)
	c1, _ := readCPUTimes()
	l1, _ := loadnode.ProcUsage(os.Getpid())
	res.busy = busyShare(c0, c1)
	res.loadCPU = l1.CPU - l0.CPU
	u1, err := g.Usage()
	if err != nil {
		res.err = err
		return res
	}
	res.cpu = u1.CPU - u0.CPU
	res.peakRSS = u1.HWM
	if finished {
		res.gathered = res.wanted
		return res
	}
	res.partial = true
	for _, nd := range nodes {
		files, _ := filepath.Glob(filepath.Join(g.Spec.Dir, "incidents", nd.TubID(), "incident-*.flog.bz2"))
		res.gathered += len(files)
	}
	if ctx.Err() != nil {
		res.err = ctx.Err()
	}
	return res
}
