package check

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/gatherer/gatherer/foolscap/furl"
	"github.com/gatherer/gatherer/foolscap/negotiate"
	"github.com/gatherer/gatherer/foolscap/pb"
	"github.com/gatherer/gatherer/gatherer/logport"
)

// StatsGathererInterface is the RemoteInterface name of Tahoe's stats
// gatherer (gatherer/stats.GathererInterface; a test keeps them equal, so
// that this package need not link the stats service).
const StatsGathererInterface = "RIStatsGatherer.tahoe.allmydata.com"

// Gatherer kinds in reports.
const (
	KindLogOrIncident = "log or incident gatherer"
	KindIncident      = "incident gatherer"
	KindLog           = "log gatherer"
	KindStats         = "stats gatherer"
)

// probeObject runs PB on the winning connection: the swissnum lookup, the
// interface check and, if asked, the test incident.
func probeObject(ctx context.Context, f *furl.FURL, res *negotiate.Result, local negotiate.Local, rep *Report, opts Options) {
	b := pb.NewBroker(pb.BrokerConfig{
		Conn:       res.Conn,
		PeerTubID:  res.PeerTubID,
		VocabIndex: res.VocabIndex,
		Logger:     opts.Logger,
	})
	var wg sync.WaitGroup
	wg.Go(func() { _ = b.Serve(ctx) })
	defer func() {
		_ = b.Close()
		wg.Wait()
	}()

	mark := opts.Now()
	step := func(name string, ok bool, detail string) {
		t := opts.Now()
		rep.Steps = append(rep.Steps, Step{Name: name, OK: ok, Elapsed: Millis(t.Sub(mark)), Detail: detail})
		mark = t
	}

	cctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	ref, err := b.GetReferenceByName(cctx, f.Name)
	cancel()
	if err != nil {
		var re *pb.RemoteError
		switch {
		case errors.As(err, &re) && re.Check("builtins.KeyError"):
			step(StepReference, false, "wrong swissnum: the Tub has no object under this FURL's name (it answered KeyError "+re.Value+")")
			rep.Code = NotGatherer
			rep.Verdict = "not a gatherer: the Tub is up but the FURL's swissnum names no object there (wrong or stale FURL)"
		case errors.Is(err, context.DeadlineExceeded):
			step(StepReference, false, fmt.Sprintf("no answer to getReferenceByName within %s", opts.Timeout))
			rep.Code = ProtocolError
			rep.Verdict = "protocol error: the Tub does not answer calls"
		default:
			step(StepReference, false, "getReferenceByName failed: "+err.Error())
			rep.Code = ProtocolError
			rep.Verdict = "protocol error: getReferenceByName failed: " + err.Error()
		}
		return
	}
	step(StepReference, true, "the swissnum names a live object")

	rep.Interface = ref.InterfaceName()
	switch rep.Interface {
	case logport.GathererInterface:
		rep.Kind = KindLogOrIncident
	case StatsGathererInterface:
		rep.Kind = KindStats
	}
	if rep.Kind == "" {
		why := fmt.Sprintf("the object's interface is %q", rep.Interface)
		if rep.Interface == "" {
			why = "the object announces no RemoteInterface"
		}
		rep.Steps = append(rep.Steps, Step{Name: StepInterface, OK: false, Detail: why + ", not " + logport.GathererInterface + " or " + StatsGathererInterface})
		rep.Code = NotGatherer
		rep.Verdict = "not a gatherer: " + why
		return
	}
	rep.Steps = append(rep.Steps, Step{Name: StepInterface, OK: true, Detail: rep.Interface + ": " + article(rep.Kind)})
	rep.Code = Healthy
	rep.Verdict = "healthy: " + article(rep.Kind)

	if !opts.PublishTestIncident {
		return
	}
	if rep.Kind == KindStats {
		rep.Code = NotGatherer
		rep.Verdict = "not a log or incident gatherer: this is a stats gatherer, which takes no incidents (drop --publish-test-incident)"
		return
	}
	publish(ctx, b, ref, f.Name, local, rep, opts)
}

// article prefixes a kind with "a" or "an".
func article(kind string) string {
	if kind != "" && strings.ContainsRune("aeiou", rune(kind[0])) {
		return "an " + kind
	}
	return "a " + kind
}
