package main

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gatherer/gatherer/internal/loadnode"
)

//go:embed pyburst.py
var pyburstScript []byte

type burstResult struct {
	logged, stored int
	delivery       float64 // slowest node's seconds to empty its queue
	err            error
}

// burst: python nodes each log burstEvents events at once; count what
// each gatherer stored.
func (b *bench) burst(ctx context.Context, rep *report) {
	if !b.hasPython {
		rep.Notes = append(rep.Notes, "burst workload skipped: it needs python-foolscap nodes")
		return
	}
	script := filepath.Join(b.work, "pyburst.py")
	if err := os.WriteFile(script, pyburstScript, 0o644); err != nil {
		rep.Notes = append(rep.Notes, "burst workload: "+err.Error())
		return
	}
	for _, n := range b.cfg.burstNodes {
		res := map[string]burstResult{}
		for _, impl := range b.impls() {
			if ctx.Err() != nil {
				return
			}
			r := b.runBurst(ctx, script, impl, n)
			if r.err != nil {
				b.log.Warn("burst case failed", "impl", impl, "nodes", n, "err", r.err)
			}
			b.log.Info("burst case", "impl", impl, "nodes", n, "stored", r.stored, "of", r.logged)
			res[impl] = r
		}
		g, p := res[loadnode.ImplGo], res[loadnode.ImplPython]
		cs := fmt.Sprintf("%d python node(s) x %d events at once", n, b.cfg.burstEvents)
		var notes []string
		for name, r := range map[string]burstResult{"ours": g, "python": p} {
			if r.err != nil {
				notes = append(notes, name+" failed: "+shorten(r.err.Error(), 80))
			}
		}
		val := func(r burstResult, v float64) float64 {
			if r.err != nil {
				return math.NaN()
			}
			return v
		}
		rep.add(Row{Workload: "burst", Case: cs, Metric: "events stored", Unit: "events", Go: val(g, float64(g.stored)), Python: val(p, float64(p.stored)), HigherBetter: true,
			Note: strings.Join(append(notes, "python's publisher queues 2,000 per subscriber and drops the rest"), "; ")})
		rep.add(Row{Workload: "burst", Case: cs, Metric: "time to deliver the queue", Unit: "s", Go: val(g, g.delivery), Python: val(p, p.delivery)})
	}
}

func (b *bench) runBurst(ctx context.Context, script, impl string, n int) (res burstResult) {
	g, err := b.startGatherer(ctx, impl, loadnode.KindLog, false, fmt.Sprintf("burst-%s-%d", impl, n))
	if err != nil {
		res.err = err
		return res
	}
	defer func() { _ = os.RemoveAll(g.Spec.Dir) }()
	cctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	type out struct {
		Logged    int     `json:"logged"`
		Delivery  float64 `json:"delivery_s"`
		Error     string  `json:"error"`
		procError error
	}
	outs := make([]out, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.CommandContext(cctx, python, script, g.FURL, fmt.Sprint(b.cfg.burstEvents), fmt.Sprintf("n%d", i))
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			stdout, err := cmd.Output()
			if err != nil {
				outs[i].procError = fmt.Errorf("pyburst.py: %w: %s", err, shorten(stderr.String(), 200))
				return
			}
			if err := json.Unmarshal(lastLine(stdout), &outs[i]); err != nil {
				outs[i].procError = fmt.Errorf("pyburst.py printed %q: %w", shorten(string(stdout), 200), err)
			}
		}()
	}
	wg.Wait()
	if err := stopGatherer(g, 60*time.Second); err != nil {
		res.err = err
		return res
	}
	for _, o := range outs {
		switch {
		case o.procError != nil:
			res.err = o.procError
			return res
		case o.Error != "":
			res.err = fmt.Errorf("pyburst.py: %s", o.Error)
			return res
		}
		res.logged += o.Logged
		res.delivery = max(res.delivery, o.Delivery)
	}
	files, _ := filepath.Glob(filepath.Join(g.Spec.Dir, "*.flog"))
	for _, f := range files {
		c, err := countLines(f, []byte(`"bench.burst"`))
		if err != nil {
			res.err = err
			return res
		}
		res.stored += c
	}
	return res
}

func lastLine(b []byte) []byte {
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	return lines[len(lines)-1]
}

func countLines(path string, needle []byte) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("counting stored events: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	n := 0
	for sc.Scan() {
		if bytes.Contains(sc.Bytes(), needle) {
			n++
		}
	}
	if err := sc.Err(); err != nil {
		return n, fmt.Errorf("reading %s: %w", path, err)
	}
	return n, nil
}
