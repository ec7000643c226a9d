package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/gatherer/gatherer/foolscap/banana"
	"github.com/gatherer/gatherer/foolscap/furl"
	"github.com/gatherer/gatherer/foolscap/negotiate"
	"github.com/gatherer/gatherer/foolscap/pb"
	"github.com/gatherer/gatherer/foolscap/tub"
	"github.com/gatherer/gatherer/gatherer/incident"
	"github.com/gatherer/gatherer/gatherer/logport"
	"github.com/gatherer/gatherer/gatherer/logs"
	"github.com/gatherer/gatherer/internal/atomicfile"
)

// observerInterface is the RemoteInterface name nodes require of the
// observers we pass to subscribe_to_* (gatherers.md §1.1).
const observerInterface = "RILogObserver.foolscap.lothar.com"

// shutdownTimeout bounds the Tub's shutdown after a stop.
const shutdownTimeout = 10 * time.Second

// loadIdentity reads the Tub key in python-foolscap's certFile layout, or
// makes one and stores it (mode 0600) when the file does not exist, as
// Tub(certFile=...) does.
func loadIdentity(path string) (*negotiate.Identity, error) {
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		id, err := negotiate.ParseIdentityPEM(b)
		if err != nil {
			return nil, fmt.Errorf("read the Tub identity %s: %w", path, err)
		}
		return id, nil
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("read the Tub identity: %w", err)
	}
	id, err := negotiate.NewIdentity(rand.Reader, time.Now())
	if err != nil {
		return nil, fmt.Errorf("make a Tub identity: %w", err)
	}
	pem, err := id.MarshalPEM()
	if err != nil {
		return nil, fmt.Errorf("encode the Tub identity: %w", err)
	}
	if err := (atomicfile.Writer{Perm: 0o600}).WriteFile(path, func(w io.Writer) error {
		_, err := w.Write(pem)
		return err
	}); err != nil {
		return nil, err
	}
	return id, nil
}

// tubServe is the production ServeFunc: python-foolscap's GatheringBase on
// foolscap/tub.
func tubServe(ctx context.Context, cfg ServeConfig) error {
	spec, err := furl.ParseListen(cfg.Port)
	if err != nil {
		return fmt.Errorf("DIR/port: %w", err)
	}
	id, err := loadIdentity(cfg.CertFile)
	if err != nil {
		return err
	}
	// One call at a time per connection keeps each node's msg calls in
	// arrival order, as Python's single-threaded reactor does; none of our
	// handlers blocks.
	t, err := tub.New(tub.Options{Identity: id, Logger: cfg.Logger, MaxInFlight: 1,
		Limits: cfg.Limits, MaxNegotiatingPerHost: cfg.MaxPerHost})
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		defer cancel()
		_ = t.Shutdown(sctx)
	}()
	if err := t.SetLocation(splitHints(cfg.Location)...); err != nil {
		return fmt.Errorf("DIR/location: %w", err)
	}
	if _, err := t.Listen(ctx, spec); err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Port, err)
	}
	f, err := t.RegisterFURLFile(&gathererRoot{iname: cfg.RootInterface, logport: cfg.Logport}, cfg.FURLFile)
	if err != nil {
		return err
	}
	cfg.Ready(f)
	<-ctx.Done()
	return ctx.Err()
}

func splitHints(loc string) []string {
	var hs []string
	for _, h := range strings.Split(loc, ",") {
		if h = strings.TrimSpace(h); h != "" {
			hs = append(hs, h)
		}
	}
	return hs
}

// tubConnect is the production ConnectFunc of "tail": an ephemeral Tub and
// a Reconnector, like flogtool tail's.
func tubConnect(ctx context.Context, furlStr string, onConnect func(context.Context, TailPublisher)) error {
	id, err := negotiate.NewIdentity(rand.Reader, time.Now())
	if err != nil {
		return err
	}
	t, err := tub.New(tub.Options{Identity: id, MaxInFlight: 1})
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		defer cancel()
		_ = t.Shutdown(sctx)
	}()
	r, err := t.ConnectTo(furlStr, func(cctx context.Context, ref *pb.RemoteReference) {
		conn, drop := context.WithCancel(cctx)
		defer drop()
		stop := ref.NotifyOnDisconnect(drop)
		defer stop()
		onConnect(conn, &remotePublisher{ref: ref})
	})
	if err != nil {
		return err
	}
	<-ctx.Done()
	r.Stop()
	return ctx.Err()
}

// gathererRoot is the object behind log_gatherer.furl
// (RILogGatherer.foolscap.lothar.com).
type gathererRoot struct {
	iname   string
	logport func(ctx context.Context, nodeid any, pub Publisher) error
}

func (g *gathererRoot) RemoteInterfaceName() string { return g.iname }

// RemoteCall serves logport(nodeid, logport). ctx lasts as long as the
// connection, which is what Logport wants.
func (g *gathererRoot) RemoteCall(ctx context.Context, c *pb.Call) (any, error) {
	if c.Method != "logport" {
		return nil, fmt.Errorf("no such method %q on RILogGatherer", c.Method)
	}
	nodeid, ok1 := arg(c, 0, "nodeid")
	lp, ok2 := arg(c, 1, "logport")
	ref, ok3 := lp.(*pb.RemoteReference)
	if !ok1 || !ok2 || !ok3 {
		return nil, errors.New("logport(nodeid, logport) needs a nodeid and a logport reference")
	}
	if g.logport == nil {
		return nil, nil
	}
	return nil, g.logport(ctx, nodeid, &remotePublisher{ref: ref})
}

// arg returns a positional argument or its keyword form.
func arg(c *pb.Call, i int, name string) (any, bool) {
	if i < len(c.Args) {
		return c.Args[i], true
	}
	v, ok := c.Kwargs[name]
	return v, ok
}

// remotePublisher is a node's logport (RILogPublisher) behind a
// RemoteReference.
type remotePublisher struct{ ref *pb.RemoteReference }

var (
	_ Publisher     = (*remotePublisher)(nil)
	_ TailPublisher = (*remotePublisher)(nil)
)

func (p *remotePublisher) TubID() string { return p.ref.TubID() }

func (p *remotePublisher) SubscribeToIncidents(ctx context.Context, obs incident.Observer, catchUp bool, since string) error {
	_, err := p.ref.Call(ctx, "subscribe_to_incidents", []any{&observerRef{inc: obs}},
		pb.KW{"catch_up": catchUp, "since": []byte(since)})
	return err
}

func (p *remotePublisher) GetIncident(ctx context.Context, name string) (any, []any, error) {
	res, err := p.ref.Call(ctx, "get_incident", []any{[]byte(name)}, nil)
	if err != nil {
		return nil, nil, err
	}
	pair := sequence(res)
	if len(pair) != 2 {
		return nil, nil, fmt.Errorf("get_incident answered %T, not (header, events)", res)
	}
	events := sequence(pair[1])
	if events == nil {
		if _, ok := pair[1].(banana.List); !ok {
			return nil, nil, fmt.Errorf("get_incident answered events of type %T", pair[1])
		}
	}
	return pair[0], events, nil
}

func (p *remotePublisher) SubscribeToAll(ctx context.Context, obs logs.Observer, catchUp bool) error {
	args := []any{&observerRef{log: obs}}
	if catchUp {
		args = append(args, true)
	}
	_, err := p.ref.Call(ctx, "subscribe_to_all", args, nil)
	return err
}

func (p *remotePublisher) GetPID(ctx context.Context) (any, error) {
	return p.ref.Call(ctx, "get_pid", nil, nil)
}

func (p *remotePublisher) GetVersions(ctx context.Context) (any, error) {
	return p.ref.Call(ctx, "get_versions", nil, nil)
}

func sequence(v any) []any {
	switch t := v.(type) {
	case banana.Tuple:
		return t
	case banana.List:
		return t
	}
	return nil
}

// observerRef is our RILogObserver: it forwards the node's calls.
type observerRef struct {
	inc incident.Observer
	log logs.Observer
}

func (o *observerRef) RemoteInterfaceName() string { return observerInterface }

func (o *observerRef) RemoteCall(ctx context.Context, c *pb.Call) (any, error) {
	switch {
	case c.Method == "msg" && o.log != nil:
		ev, ok := arg(c, 0, "logmsg")
		if !ok {
			return nil, errors.New("msg() needs an event")
		}
		return logport.AnswerMsg(ctx, o.log, ev)
	case c.Method == "new_incident" && o.inc != nil:
		name, ok1 := arg(c, 0, "name")
		trig, ok2 := arg(c, 1, "trigger")
		if !ok1 || !ok2 {
			return nil, errors.New("new_incident() needs a name and a trigger")
		}
		return nil, o.inc.NewIncident(ctx, name, trig)
	case c.Method == "done_with_incident_catchup" && o.inc != nil:
		return nil, o.inc.DoneWithIncidentCatchup(ctx)
	case c.Method == "done":
		return nil, nil
	}
	return nil, fmt.Errorf("no such method %q on this RILogObserver", c.Method)
}
