package check

import (
	"context"
	"encoding/base32"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/gatherer/gatherer/foolscap/banana"
	"github.com/gatherer/gatherer/foolscap/negotiate"
	"github.com/gatherer/gatherer/foolscap/pb"
	"github.com/gatherer/gatherer/gatherer/logport"
)

// incidentTimeFormat is python-foolscap's incident TIME_FORMAT
// ("%Y-%m-%d--%H-%M-%S") followed by "Z" (logging/incident.py).
const incidentTimeFormat = "2006-01-02--15-04-05Z"

// foolscapAlphabet is foolscap's base32 alphabet (base32.py): lowercase,
// written without padding.
const foolscapAlphabet = "abcdefghijklmnopqrstuvwxyz234567"

// testUMID marks our synthetic events, so an operator (or a classifier) can
// find and drop them.
const testUMID = "GChk01"

// Level WEIRD (30): what makes a python-foolscap node declare an incident.
const levelWeird = 30

// IncidentName returns a python-foolscap incident name for time now:
// "incident-<%Y-%m-%d--%H-%M-%SZ in UTC>-<base32 of 4 random bytes>".
func IncidentName(now time.Time, r io.Reader) (string, error) {
	var b [4]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("reading randomness for the incident name: %w", err)
	}
	return "incident-" + now.UTC().Format(incidentTimeFormat) + "-" + base32.NewEncoding(foolscapAlphabet).WithPadding(base32.NoPadding).EncodeToString(b[:]), nil
}

// testEvent builds a log event shaped like python-foolscap's (log.py _msg).
func testEvent(now time.Time, incarnation string, num int64, message string) *banana.Dict {
	return banana.NewDict(
		"facility", "gatherer-check",
		"incarnation", banana.Tuple{incarnation, nil},
		"level", int64(levelWeird),
		"message", message,
		"num", num,
		"time", float64(now.UnixNano())/1e9,
		"umid", testUMID,
	)
}

// nodeEvent is something the gatherer did to our test node.
type nodeEvent struct {
	method   string              // the method it called
	observer *pb.RemoteReference // subscribe_*: the observer to send to
	catchUp  bool
	name     string // get_incident: the name asked for
	ok       bool   // get_incident: we had that incident
}

// testNode is the RILogPublisher of the throwaway node. It records what the
// gatherer asks for on events (never blocking: the channel is generous and
// a full one drops, the probe then times out with a clear message).
type testNode struct {
	name    string
	trigger *banana.Dict
	header  *banana.Dict
	events  chan nodeEvent
	pid     int
	version string
}

var _ pb.Referenceable = (*testNode)(nil)

func (n *testNode) RemoteInterfaceName() string { return logport.PublisherInterface }

func (n *testNode) record(ev nodeEvent) {
	select {
	case n.events <- ev:
	default:
	}
}

func (n *testNode) RemoteCall(_ context.Context, c *pb.Call) (any, error) {
	switch c.Method {
	case "subscribe_to_incidents", "subscribe_to_all":
		obs, ok := argument(c, 0, "observer").(*pb.RemoteReference)
		if !ok {
			return nil, banana.Violationf("%s: the observer must be a reference", c.Method)
		}
		catchUp, _ := argument(c, 1, "catch_up").(bool)
		n.record(nodeEvent{method: c.Method, observer: obs, catchUp: catchUp})
		return subscription{}, nil
	case "get_incident":
		name := argument(c, 0, "incident_name")
		var s string
		switch v := name.(type) {
		case []byte:
			s = string(v)
		case string:
			s = v
		}
		ok := s == n.name
		n.record(nodeEvent{method: c.Method, name: s, ok: ok})
		if !ok {
			return nil, &pb.RemoteError{
				Type:      "builtins.KeyError",
				Value:     fmt.Sprintf("'no incident named %.60s'", s),
				Traceback: "Traceback unavailable\n",
				Parents:   []string{"builtins.KeyError", "builtins.LookupError", "builtins.Exception", "builtins.BaseException", "builtins.object"},
			}
		}
		return banana.Tuple{n.header, banana.List{n.trigger}}, nil
	case "list_incidents":
		return banana.NewDict([]byte(n.name), n.trigger), nil
	case "get_versions":
		return banana.NewDict("gatherer-check", n.version), nil
	case "get_pid":
		return int64(n.pid), nil
	case "unsubscribe":
		return nil, nil
	}
	return nil, banana.Violationf("method '%.60s' not defined in %s", c.Method, logport.PublisherInterface)
}

// subscription is the RISubscription handed back for a subscribe call.
type subscription struct{}

func (subscription) RemoteInterfaceName() string { return logport.SubscriptionInterface }

func (subscription) RemoteCall(_ context.Context, c *pb.Call) (any, error) {
	if c.Method == "unsubscribe" {
		return nil, nil
	}
	return nil, banana.Violationf("method '%.60s' not defined in %s", c.Method, logport.SubscriptionInterface)
}

func argument(c *pb.Call, i int, name string) any {
	if i < len(c.Args) {
		return c.Args[i]
	}
	return c.Kwargs[name]
}

// publish plays a node that publishes one incident (or one event) to the
// gatherer behind ref, and records how far the round trip got.
func publish(ctx context.Context, b *pb.Broker, ref *pb.RemoteReference, swissnum string, local negotiate.Local, rep *Report, opts Options) {
	now := opts.Now()
	tubID := local.Identity.TubID()
	pr := &PublishResult{TubID: tubID}
	rep.Publish = pr
	fail := func(code Code, verdict string) {
		rep.Code = code
		rep.Verdict = verdict
	}
	name, err := IncidentName(now, opts.Rand)
	if err != nil {
		fail(RoundTripFailed, "round trip failed: "+err.Error())
		return
	}
	trigger := testEvent(now, local.Incarnation, 0, "gatherer-check --publish-test-incident: a synthetic incident to test the gatherer; safe to delete")
	node := &testNode{
		name:    name,
		trigger: trigger,
		header: banana.NewDict(
			"type", "incident",
			"trigger", trigger,
			"versions", banana.NewDict("gatherer-check", opts.Version),
			"pid", int64(opts.PID),
		),
		events:  make(chan nodeEvent, 64),
		pid:     opts.PID,
		version: opts.Version,
	}

	// The logport call's goroutine is waited for after ctx is cancelled,
	// which ends the call if it is still waiting for its answer.
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	tr := newTrip(opts.Now)
	defer func() { pr.Steps = tr.steps() }()

	// logport(nodeid, publisher): python's Tub sends its tubid as bytes.
	logportDone := make(chan error, 1)
	wg.Go(func() {
		_, err := ref.Call(ctx, "logport", []any{[]byte(tubID), node}, nil)
		logportDone <- err
	})

	for !tr.logport.done || !tr.result.done {
		select {
		case err := <-logportDone:
			if err != nil {
				tr.logport.end(false, "logport failed: "+err.Error())
				fail(RoundTripFailed, "round trip failed: the gatherer refused logport: "+err.Error())
				return
			}
			tr.logport.end(true, "the gatherer accepted our publisher")
		case ev := <-node.events:
			switch ev.method {
			case "subscribe_to_incidents":
				if tr.subscribe.done {
					continue
				}
				pr.Subscribed = ev.method
				pr.Incident = name
				rep.Kind = KindIncident
				tr.subscribe.end(true, "subscribe_to_incidents: an incident gatherer")
				tr.result.name = StepFetch
				err := ev.observer.CallOnly("new_incident", []any{[]byte(name), trigger}, nil)
				if err == nil && ev.catchUp {
					err = ev.observer.CallOnly("done_with_incident_catchup", nil, nil)
				}
				if err != nil {
					tr.result.end(false, "sending new_incident: "+err.Error())
					fail(RoundTripFailed, "round trip failed: could not announce the incident: "+err.Error())
					return
				}
			case "subscribe_to_all":
				if tr.subscribe.done {
					continue
				}
				pr.Subscribed = ev.method
				rep.Kind = KindLog
				tr.subscribe.end(true, "subscribe_to_all: a log gatherer")
				tr.result.name = StepDeliver
				msg := testEvent(opts.Now(), local.Incarnation, 1, "gatherer-check --publish-test-incident: a synthetic event to test the gatherer")
				if _, err := ev.observer.Call(ctx, "msg", []any{msg}, nil); err != nil {
					tr.result.end(false, "msg failed: "+err.Error())
					fail(RoundTripFailed, "round trip failed: the gatherer's observer did not take our event: "+err.Error())
					return
				}
				pr.Delivered = true
				tr.result.end(true, "the gatherer's observer took one event")
			case "get_incident":
				if !ev.ok {
					tr.wrongName = ev.name
					continue
				}
				pr.Fetched = true
				tr.result.end(true, "the gatherer fetched "+name)
			}
		case <-ctx.Done():
			what := "the gatherer did not answer logport"
			switch {
			case tr.logport.done && !tr.subscribe.done:
				what = "the gatherer took logport but never subscribed to our publisher"
			case tr.subscribe.done && !tr.result.done && tr.wrongName != "":
				what = fmt.Sprintf("the gatherer asked for an incident we do not have (%.80q), not ours", tr.wrongName)
			case tr.subscribe.done && !tr.result.done:
				what = "the gatherer subscribed but did not fetch the incident"
			case tr.result.done:
				what = "the gatherer took the incident but did not answer logport"
			}
			what = fmt.Sprintf("%s within %s", what, opts.Timeout)
			for _, st := range []*tripStep{&tr.logport, &tr.subscribe, &tr.result} {
				if !st.done {
					st.end(false, what)
					break
				}
			}
			fail(RoundTripFailed, "round trip failed: "+what)
			return
		}
	}

	// One more round trip: a gatherer that handles calls in order (python)
	// has now saved what it fetched.
	if _, err := b.GetReferenceByName(ctx, swissnum); err != nil {
		tr.sync.end(false, "after the round trip: "+err.Error())
		fail(RoundTripFailed, "round trip failed: the connection broke at the end: "+err.Error())
		return
	}
	tr.sync.end(true, "the gatherer answers calls after the round trip")
	what := "the test incident " + name + " under incidents/" + tubID + "/"
	if rep.Kind == KindLog {
		what = "one test event from " + tubID + " in its log file"
	}
	rep.Verdict = "healthy: " + article(rep.Kind) + "; the round trip worked and left " + what
}

// tripStep is one step of the round trip, ended at most once.
type tripStep struct {
	name   string
	done   bool
	ok     bool
	at     time.Time
	detail string
	now    func() time.Time
}

func (s *tripStep) end(ok bool, detail string) {
	if s.done {
		return
	}
	s.done, s.ok, s.at, s.detail = true, ok, s.now(), detail
}

// trip times the round trip. The gatherer's answer to logport and its
// subscription race (python answers logport after the catch-up, ours at
// once), so steps are listed in a fixed order and each is timed from its
// cause: logport and subscribe from the logport call, the fetch (or
// delivery) from the subscription, sync from the fetch.
type trip struct {
	now                              func() time.Time
	start                            time.Time
	logport, subscribe, result, sync tripStep
	wrongName                        string
}

func newTrip(now func() time.Time) *trip {
	t := &trip{now: now, start: now()}
	for _, s := range []*tripStep{&t.logport, &t.subscribe, &t.result, &t.sync} {
		s.now = now
	}
	return t
}

func (t *trip) steps() []Step {
	t.logport.name, t.subscribe.name, t.sync.name = StepLogport, StepSubscribe, StepSync
	if t.result.name == "" {
		t.result.name = StepFetch
	}
	from := map[*tripStep]*tripStep{&t.subscribe: nil, &t.result: &t.subscribe, &t.sync: &t.result}
	var out []Step
	for _, s := range []*tripStep{&t.logport, &t.subscribe, &t.result, &t.sync} {
		if !s.done {
			continue
		}
		begin := t.start
		if p := from[s]; p != nil && p.done {
			begin = p.at
		}
		out = append(out, Step{Name: s.name, OK: s.ok, Elapsed: Millis(s.at.Sub(begin)), Detail: s.detail})
	}
	return out
}
