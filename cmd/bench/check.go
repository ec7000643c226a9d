package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"slices"
	"time"

	"github.com/gatherer/gatherer/internal/loadnode"
)

// pyConnect is a one-shot python-foolscap client, the work "flogtool
// tail" does before it prints anything: a Tub, getReference, exit.
const pyConnect = `import sys
from foolscap.api import Tub
from twisted.internet import reactor
t = Tub(); t.startService()
def ok(ref): reactor.stop()
def bad(f): print(f, file=sys.stderr); reactor.stop()
t.getReference(sys.argv[1]).addCallbacks(ok, bad)
reactor.run()
`

const checkRuns = 5

// check: gatherer-check's wall-clock time to a verdict against each
// gatherer, beside a python-foolscap client's time to getReference.
func (b *bench) check(ctx context.Context, rep *report) {
	if b.checkBin == "" {
		rep.Notes = append(rep.Notes, "check workload skipped: cmd/gatherer-check does not build")
		return
	}
	for _, impl := range b.impls() {
		g, err := b.startGatherer(ctx, impl, loadnode.KindIncident, false, "check-"+impl)
		if err != nil {
			rep.Notes = append(rep.Notes, "check: "+err.Error())
			continue
		}
		ours := medianRun(ctx, func(ctx context.Context) error {
			return exec.CommandContext(ctx, b.checkBin, "--timeout", "10s", g.FURL).Run()
		})
		pyRef := math.NaN()
		if b.hasPython {
			pyRef = medianRun(ctx, func(ctx context.Context) error {
				return exec.CommandContext(ctx, python, "-c", pyConnect, g.FURL).Run()
			})
		}
		if err := stopGatherer(g, 30*time.Second); err != nil {
			b.log.Warn("stopping the gatherer", "impl", impl, "err", err)
		}
		_ = os.RemoveAll(g.Spec.Dir)
		name := map[string]string{loadnode.ImplGo: "our", loadnode.ImplPython: "python's"}[impl]
		rep.add(Row{Workload: "check", Case: "healthy local " + name + " incident gatherer", Metric: "time to verdict", Unit: "ms",
			Go: ours, Python: pyRef,
			Note: fmt.Sprintf("median of %d; \"python\" = a python-foolscap process connecting (Tub + getReference), as flogtool tail does first", checkRuns)})
	}
}

// medianRun runs f checkRuns times and returns the median wall time in
// milliseconds (NaN when any run fails).
func medianRun(ctx context.Context, f func(context.Context) error) float64 {
	var ms []float64
	for range checkRuns {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		t0 := time.Now()
		err := f(cctx)
		cancel()
		if err != nil {
			return math.NaN()
		}
		ms = append(ms, float64(time.Since(t0).Microseconds())/1000)
	}
	slices.Sort(ms)
	return ms[len(ms)/2]
}
