package loadnode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatherer/gatherer/foolscap/banana"
	"github.com/gatherer/gatherer/foolscap/negotiate"
	"github.com/gatherer/gatherer/foolscap/pb"
	"github.com/gatherer/gatherer/foolscap/tub"
)

// RemoteInterface names of python-foolscap's logging interfaces.
const (
	PublisherInterface    = "RILogPublisher.foolscap.lothar.com"
	SubscriptionInterface = "RISubscription.foolscap.lothar.com"
)

// python-foolscap's publish.Subscription flow control.
const (
	MaxQueue    = 2000
	MaxInFlight = 10
)

// Options configures a Node.
type Options struct {
	// Identity is the node's Tub identity (required); see Identities.
	Identity *negotiate.Identity
	// Incidents are the incidents the node's publisher holds, sorted by
	// name or not (the node sorts its own copy of the slice header).
	Incidents []Incident
	// Flood makes every subscribe_to_all subscription send events as fast
	// as the flow control allows (an application logging faster than the
	// gatherer takes them), from the moment it subscribes.
	Flood bool
	// Trace, if set, is called with the name of every method a gatherer
	// calls on the publisher (from the connection's goroutines).
	Trace func(method string)
	// Logger receives the node's and its Tub's messages; nil discards.
	Logger *slog.Logger
	// Rand feeds the Tub (incarnation); nil is crypto/rand.
	Rand io.Reader
	// Now stamps live events; nil is time.Now.
	Now func() time.Time
}

// Stats are a node's counters.
type Stats struct {
	IncidentSubscriptions int64 // subscribe_to_incidents calls
	EventSubscriptions    int64 // subscribe_to_all calls
	IncidentsAnnounced    int64 // new_incident calls sent
	IncidentsServed       int64 // get_incident calls answered with an incident
	EventsQueued          int64 // events accepted into a subscription's queue
	EventsDropped         int64 // events dropped because the queue was full
	EventsDelivered       int64 // msg calls answered
	EventErrors           int64 // msg calls that failed (the subscription ends)
}

// Node is one synthetic node: a Tub and its log publisher.
type Node struct {
	opts        Options
	tub         *tub.Tub
	log         *slog.Logger
	incidents   []Incident
	byName      map[string]*Incident
	incarnation string

	ctx    context.Context // ends at Close; parent of the msg calls
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu   sync.Mutex
	subs map[*subscription]struct{}
	num  int64

	st struct {
		incSubs, evSubs, announced, served, queued, dropped, delivered, errs atomic.Int64
	}
}

// New creates a node; it connects nowhere until Connect.
func New(opts Options) (*Node, error) {
	if opts.Identity == nil {
		return nil, errors.New("loadnode: Options.Identity is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	t, err := tub.New(tub.Options{Identity: opts.Identity, Logger: opts.Logger, Rand: opts.Rand})
	if err != nil {
		return nil, fmt.Errorf("loadnode: %w", err)
	}
	incs := append([]Incident(nil), opts.Incidents...)
	sort.Slice(incs, func(i, j int) bool { return incs[i].Name < incs[j].Name })
	byName := make(map[string]*Incident, len(incs))
	for i := range incs {
		byName[incs[i].Name] = &incs[i]
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Node{
		opts:        opts,
		tub:         t,
		log:         opts.Logger.With("tubid", opts.Identity.TubID()[:8]),
		incidents:   incs,
		byName:      byName,
		incarnation: t.Incarnation(),
		ctx:         ctx,
		cancel:      cancel,
		subs:        map[*subscription]struct{}{},
	}, nil
}

// TubID is the node's tubid.
func (n *Node) TubID() string { return n.tub.TubID() }

// Connect connects to the gatherer at gathererFURL and offers the
// publisher with callRemoteOnly("logport", tubid, publisher), as
// python-foolscap's Tub does once its log-gatherer-furl connects.
func (n *Node) Connect(ctx context.Context, gathererFURL string) error {
	ref, err := n.tub.GetReference(ctx, gathererFURL)
	if err != nil {
		return fmt.Errorf("loadnode %s: connecting to the gatherer: %w", n.TubID()[:8], err)
	}
	if err := ref.CallOnly("logport", []any{n.TubID(), &publisher{n: n}}, nil); err != nil {
		return fmt.Errorf("loadnode %s: calling logport: %w", n.TubID()[:8], err)
	}
	return nil
}

// Log hands one event to every event subscription, as log.msg does
// through the publisher's immediate observers. A nil event is a fresh
// LiveEvent.
func (n *Node) Log(ev any) {
	if ev == nil {
		ev = n.nextEvent()
	}
	n.mu.Lock()
	subs := make([]*subscription, 0, len(n.subs))
	for s := range n.subs {
		subs = append(subs, s)
	}
	n.mu.Unlock()
	for _, s := range subs {
		s.send(ev)
	}
}

func (n *Node) nextEvent() any {
	n.mu.Lock()
	num := n.num
	n.num++
	n.mu.Unlock()
	return LiveEvent(num, n.opts.Now(), n.incarnation)
}

// Stats returns the node's counters.
func (n *Node) Stats() Stats {
	return Stats{
		IncidentSubscriptions: n.st.incSubs.Load(),
		EventSubscriptions:    n.st.evSubs.Load(),
		IncidentsAnnounced:    n.st.announced.Load(),
		IncidentsServed:       n.st.served.Load(),
		EventsQueued:          n.st.queued.Load(),
		EventsDropped:         n.st.dropped.Load(),
		EventsDelivered:       n.st.delivered.Load(),
		EventErrors:           n.st.errs.Load(),
	}
}

// Close stops the event streams, shuts the Tub down and waits for every
// goroutine of the node.
func (n *Node) Close(ctx context.Context) error {
	n.mu.Lock()
	subs := make([]*subscription, 0, len(n.subs))
	for s := range n.subs {
		subs = append(subs, s)
	}
	n.mu.Unlock()
	for _, s := range subs {
		s.stop()
	}
	n.cancel()
	err := n.tub.Shutdown(ctx)
	done := make(chan struct{})
	go func() { n.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("loadnode %s: waiting for msg calls: %w", n.TubID()[:8], ctx.Err())
	}
	if err != nil {
		return fmt.Errorf("loadnode %s: shutting the Tub down: %w", n.TubID()[:8], err)
	}
	return nil
}

func (n *Node) trace(method string) {
	if n.opts.Trace != nil {
		n.opts.Trace(method)
	}
}

// publisher is the node's RILogPublisher.
type publisher struct{ n *Node }

func (p *publisher) RemoteInterfaceName() string { return PublisherInterface }

func (p *publisher) RemoteCall(ctx context.Context, c *pb.Call) (any, error) {
	n := p.n
	n.trace(c.Method)
	switch c.Method {
	case "get_versions":
		// ensure_dict_binary: keys and values as bytes.
		return banana.NewDict([]byte("foolscap"), []byte("21.7.0"), []byte("loadnode"), []byte("1")), nil
	case "get_pid":
		return int64(4242), nil
	case "subscribe_to_incidents":
		obs, err := observerArg(c)
		if err != nil {
			return nil, err
		}
		catchUp := truthy(argOr(c, 1, "catch_up", false))
		since := textArg(argOr(c, 2, "since", ""))
		n.st.incSubs.Add(1)
		s := &subscription{n: n, obs: obs}
		if catchUp {
			// After the answer, like python's eventually(s.subscribe, ...):
			// the sends are callRemoteOnly, so nothing waits for them.
			n.wg.Add(1)
			go func() {
				defer n.wg.Done()
				n.catchUp(obs, since)
			}()
		}
		return s, nil
	case "list_incidents":
		since := textArg(argOr(c, 0, "since", ""))
		d := &banana.Dict{}
		for i := range n.incidents {
			if n.incidents[i].Name > since {
				d.Set(n.incidents[i].Name, n.incidents[i].Trigger)
			}
		}
		return d, nil
	case "get_incident":
		name := textArg(argOr(c, 0, "name", nil))
		inc, ok := n.byName[name]
		if !ok {
			return nil, &pb.RemoteError{Type: "builtins.KeyError", Value: fmt.Sprintf("'no incident named %s'", name),
				Parents: []string{"builtins.KeyError", "builtins.LookupError", "builtins.Exception", "builtins.BaseException", "builtins.object"}}
		}
		n.st.served.Add(1)
		return banana.Tuple{inc.Header, inc.Events}, nil
	case "subscribe_to_all":
		obs, err := observerArg(c)
		if err != nil {
			return nil, err
		}
		n.st.evSubs.Add(1)
		s := &subscription{n: n, obs: obs, flood: n.opts.Flood}
		n.mu.Lock()
		n.subs[s] = struct{}{}
		n.mu.Unlock()
		cancel := obs.NotifyOnDisconnect(s.stop)
		s.mu.Lock()
		s.cancelNotify = cancel
		s.mu.Unlock()
		if s.flood {
			s.pump()
		}
		return s, nil
	case "unsubscribe":
		if s, ok := argOr(c, 0, "s", nil).(*subscription); ok {
			s.stop()
		}
		return nil, nil
	}
	return nil, banana.Violationf("method '%s' not defined in %s", c.Method, PublisherInterface)
}

// catchUp is IncidentSubscription.catch_up.
func (n *Node) catchUp(obs *pb.RemoteReference, since string) {
	for i := range n.incidents {
		inc := &n.incidents[i]
		if inc.Name <= since {
			continue
		}
		if err := obs.CallOnly("new_incident", []any{[]byte(inc.Name), inc.Trigger}, nil); err != nil {
			n.log.Debug("new_incident not sent", "err", err)
			return
		}
		n.st.announced.Add(1)
	}
	if err := obs.CallOnly("done_with_incident_catchup", nil, nil); err != nil {
		n.log.Debug("done_with_incident_catchup not sent", "err", err)
	}
}

// subscription is publish.Subscription (and, without events, the marker
// IncidentSubscription returns): a bounded queue of events and at most
// MaxInFlight msg calls outstanding.
type subscription struct {
	n     *Node
	obs   *pb.RemoteReference
	flood bool

	mu           sync.Mutex
	queue        []any
	inFlight     int
	stopped      bool
	cancelNotify func()
}

func (s *subscription) RemoteInterfaceName() string { return SubscriptionInterface }

func (s *subscription) RemoteCall(ctx context.Context, c *pb.Call) (any, error) {
	if c.Method == "unsubscribe" {
		s.stop()
		return nil, nil
	}
	return nil, banana.Violationf("method '%s' not defined in %s", c.Method, SubscriptionInterface)
}

// send is Subscription.send: queue the event unless the queue is full.
func (s *subscription) send(ev any) {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	if len(s.queue) < MaxQueue {
		s.queue = append(s.queue, ev)
		s.n.st.queued.Add(1)
	} else {
		s.n.st.dropped.Add(1)
	}
	s.mu.Unlock()
	s.pump()
}

// pump is Subscription.start_sending: start msg calls while fewer than
// MaxInFlight are outstanding.
func (s *subscription) pump() {
	for {
		s.mu.Lock()
		if s.stopped || s.inFlight >= MaxInFlight {
			s.mu.Unlock()
			return
		}
		var ev any
		switch {
		case len(s.queue) > 0:
			ev = s.queue[0]
			s.queue[0] = nil
			s.queue = s.queue[1:]
			if len(s.queue) == 0 {
				s.queue = s.queue[:0:0]
			}
		case s.flood:
			s.mu.Unlock()
			ev = s.n.nextEvent()
			s.n.st.queued.Add(1)
			s.mu.Lock()
			if s.stopped {
				s.mu.Unlock()
				return
			}
		default:
			s.mu.Unlock()
			return
		}
		s.inFlight++
		s.mu.Unlock()
		// As python's publisher: the answer's callback sends the next
		// event, in the connection's reading goroutine, so the answers
		// that arrive together start calls that leave together.
		if err := s.obs.CallAsync("msg", []any{ev}, nil, s.answered); err != nil {
			s.answered(nil, err)
		}
	}
}

// answered is the callback of one msg call.
func (s *subscription) answered(_ any, err error) {
	s.mu.Lock()
	s.inFlight--
	s.mu.Unlock()
	if err != nil {
		// Subscription._error: the subscription ends.
		s.n.st.errs.Add(1)
		s.stop()
		return
	}
	s.n.st.delivered.Add(1)
	s.pump()
}

// stop is Subscription.unsubscribe.
func (s *subscription) stop() {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.stopped = true
	s.queue = nil
	cancel := s.cancelNotify
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	s.n.mu.Lock()
	delete(s.n.subs, s)
	s.n.mu.Unlock()
}

func observerArg(c *pb.Call) (*pb.RemoteReference, error) {
	v := argOr(c, 0, "observer", nil)
	ref, ok := v.(*pb.RemoteReference)
	if !ok {
		return nil, banana.Violationf("%s: the observer argument is a %T, not a reference", c.Method, v)
	}
	return ref, nil
}

func argOr(c *pb.Call, i int, name string, def any) any {
	if i < len(c.Args) {
		return c.Args[i]
	}
	if v, ok := c.Kwargs[name]; ok {
		return v
	}
	return def
}

func textArg(v any) string {
	switch x := v.(type) {
	case []byte:
		return string(x)
	case string:
		return x
	}
	return ""
}

func truthy(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case int64:
		return x != 0
	case nil:
		return false
	}
	return true
}
