package logport

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/gatherer/gatherer/foolscap/banana"
	"github.com/gatherer/gatherer/foolscap/pb"
	"github.com/gatherer/gatherer/gatherer/flog/pyjson"
	"github.com/gatherer/gatherer/gatherer/incident"
	"github.com/gatherer/gatherer/gatherer/logs"
)

// AnswerMsg runs one msg(event) call on obs and gives RemoteCall's
// answer: a *pb.Deferred resolved once the event is stored when obs is a
// logs.AsyncObserver (the connection goes on with its next call
// meanwhile), otherwise Msg's.
func AnswerMsg(ctx context.Context, obs logs.Observer, ev any) (any, error) {
	if ao, ok := obs.(logs.AsyncObserver); ok {
		d := pb.NewDeferred()
		ao.MsgAsync(ctx, ev, func() { d.Resolve(nil, nil) })
		return d, nil
	}
	return nil, obs.Msg(ctx, ev)
}

// RemoteInterface names of python-foolscap's logging interfaces.
const (
	GathererInterface     = "RILogGatherer.foolscap.lothar.com"
	PublisherInterface    = "RILogPublisher.foolscap.lothar.com"
	ObserverInterface     = "RILogObserver.foolscap.lothar.com"
	SubscriptionInterface = "RISubscription.foolscap.lothar.com"
)

// Handler receives logport(nodeid, publisher). ctx ends when the node's
// connection does. It must return promptly.
type Handler func(ctx context.Context, nodeid any, pub *Publisher) error

// Gatherer is the root object a gatherer registers: nodes call its
// logport method.
type Gatherer struct {
	handle Handler
	log    *slog.Logger
}

// NewGatherer returns a root object passing logport calls to h.
func NewGatherer(h Handler, logger *slog.Logger) *Gatherer {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Gatherer{handle: h, log: logger}
}

// RemoteInterfaceName implements pb.Referenceable.
func (g *Gatherer) RemoteInterfaceName() string { return GathererInterface }

// RemoteCall implements pb.Referenceable.
func (g *Gatherer) RemoteCall(ctx context.Context, c *pb.Call) (any, error) {
	if c.Method != "logport" {
		return nil, violation(fmt.Sprintf("method '%s' not defined in %s", c.Method, GathererInterface))
	}
	nodeid, ok1 := arg(c, 0, "nodeid")
	pubv, ok2 := arg(c, 1, "logport")
	if !ok1 || !ok2 {
		return nil, violation("logport() needs the arguments nodeid and logport")
	}
	ref, ok := pubv.(*pb.RemoteReference)
	if !ok {
		return nil, violation(fmt.Sprintf("logport: the publisher argument is a %s, not a reference", pyjson.TypeName(pubv)))
	}
	if err := g.handle(ctx, nodeid, &Publisher{ref: ref}); err != nil {
		return nil, err
	}
	return nil, nil
}

// Publisher is a node's RILogPublisher reference. It implements
// incident.Publisher and logs.Publisher.
type Publisher struct {
	ref *pb.RemoteReference
}

var (
	_ incident.Publisher = (*Publisher)(nil)
	_ logs.Publisher     = (*Publisher)(nil)
)

// NewPublisher wraps a reference to a node's publisher.
func NewPublisher(ref *pb.RemoteReference) *Publisher { return &Publisher{ref: ref} }

// TubID is the authenticated tubid of the node's connection.
func (p *Publisher) TubID() string { return p.ref.TubID() }

// Ref returns the underlying reference.
func (p *Publisher) Ref() *pb.RemoteReference { return p.ref }

// SubscribeToIncidents calls subscribe_to_incidents(observer,
// catch_up=catchUp, since=<since as bytes>), as python's incident gatherer
// does.
func (p *Publisher) SubscribeToIncidents(ctx context.Context, obs incident.Observer, catchUp bool, since string) error {
	_, err := p.ref.Call(ctx, "subscribe_to_incidents", []any{&observer{inc: obs}},
		pb.KW{"catch_up": catchUp, "since": []byte(since)})
	if err != nil {
		return fmt.Errorf("subscribe_to_incidents: %w", err)
	}
	return nil
}

// GetIncident calls get_incident(<name as bytes>) and splits the
// (header, events) answer.
func (p *Publisher) GetIncident(ctx context.Context, name string) (any, []any, error) {
	v, err := p.ref.Call(ctx, "get_incident", []any{[]byte(name)}, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("get_incident: %w", err)
	}
	pair, ok := v.(banana.Tuple)
	if !ok {
		if l, isList := v.(banana.List); isList {
			pair = banana.Tuple(l)
			ok = true
		}
	}
	if !ok || len(pair) != 2 {
		return nil, nil, fmt.Errorf("get_incident: the node answered a %s, not a (header, events) pair", pyjson.TypeName(v))
	}
	var events []any
	switch ev := pair[1].(type) {
	case banana.List:
		events = ev
	case banana.Tuple:
		events = ev
	default:
		return nil, nil, fmt.Errorf("get_incident: the events are a %s, not a list", pyjson.TypeName(pair[1]))
	}
	return pair[0], events, nil
}

// SubscribeToAll calls subscribe_to_all(observer), or
// subscribe_to_all(observer, True) with catchUp, as flogtool tail does.
func (p *Publisher) SubscribeToAll(ctx context.Context, obs logs.Observer, catchUp bool) error {
	args := []any{&observer{ev: obs}}
	if catchUp {
		args = append(args, true)
	}
	if _, err := p.ref.Call(ctx, "subscribe_to_all", args, nil); err != nil {
		return fmt.Errorf("subscribe_to_all: %w", err)
	}
	return nil
}

// GetVersions calls get_versions().
func (p *Publisher) GetVersions(ctx context.Context) (any, error) {
	return p.ref.Call(ctx, "get_versions", nil, nil)
}

// GetPID calls get_pid().
func (p *Publisher) GetPID(ctx context.Context) (any, error) {
	return p.ref.Call(ctx, "get_pid", nil, nil)
}

// observer is our RILogObserver: the node calls msg, new_incident and
// done_with_incident_catchup on it. Exactly one of inc and ev is set.
type observer struct {
	inc incident.Observer
	ev  logs.Observer
}

func (o *observer) RemoteInterfaceName() string { return ObserverInterface }

func (o *observer) RemoteCall(ctx context.Context, c *pb.Call) (any, error) {
	switch c.Method {
	case "msg":
		ev, ok := arg(c, 0, "logmsg")
		if !ok {
			return nil, violation("msg() needs the argument logmsg")
		}
		if o.ev == nil {
			return nil, nil // an incident subscription gets no events
		}
		return AnswerMsg(ctx, o.ev, ev)
	case "new_incident":
		name, ok1 := arg(c, 0, "name")
		trigger, ok2 := arg(c, 1, "trigger")
		if !ok1 || !ok2 {
			return nil, violation("new_incident() needs the arguments name and trigger")
		}
		if o.inc == nil {
			return nil, nil
		}
		return nil, o.inc.NewIncident(ctx, name, trigger)
	case "done_with_incident_catchup":
		if o.inc == nil {
			return nil, nil
		}
		return nil, o.inc.DoneWithIncidentCatchup(ctx)
	case "done":
		return nil, nil
	}
	return nil, violation(fmt.Sprintf("method '%s' not defined in %s", c.Method, ObserverInterface))
}

// arg returns positional argument i or keyword argument name.
func arg(c *pb.Call, i int, name string) (any, bool) {
	if i < len(c.Args) {
		return c.Args[i], true
	}
	v, ok := c.Kwargs[name]
	return v, ok
}

func violation(msg string) error {
	return banana.Violationf("%s", msg)
}
