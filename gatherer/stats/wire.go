package stats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/gatherer/gatherer/foolscap/banana"
	"github.com/gatherer/gatherer/foolscap/pb"
)

// Gatherer is the object published under stats_gatherer.furl: Tahoe's
// RIStatsGatherer, whose one method provide(provider, nickname) hands the
// node's RIStatsProvider reference to a Service.
type Gatherer struct {
	svc *Service
	log *slog.Logger
}

var _ pb.Referenceable = (*Gatherer)(nil)

// NewGatherer returns the root object of a stats gatherer Tub, passing
// provide() calls to svc. A nil logger discards.
func NewGatherer(svc *Service, logger *slog.Logger) *Gatherer {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Gatherer{svc: svc, log: logger}
}

// RemoteInterfaceName implements pb.Referenceable.
func (g *Gatherer) RemoteInterfaceName() string { return GathererInterface }

// RemoteCall implements pb.Referenceable: provide(provider, nickname), with
// the arguments positional or by keyword. Like Tahoe's schema
// (provide(provider=RIStatsProvider, nickname=...)), a provider that is not
// a reference announcing RIStatsProvider is refused with a Violation. Nodes
// send provide with callRemoteOnly, so an error is only seen in our log.
func (g *Gatherer) RemoteCall(ctx context.Context, c *pb.Call) (any, error) {
	if c.Method != "provide" {
		return nil, banana.Violationf("method '%s' not defined in %s", c.Method, GathererInterface)
	}
	pv, ok1 := callArg(c, 0, "provider")
	nickname, ok2 := callArg(c, 1, "nickname")
	if !ok1 || !ok2 {
		return nil, banana.Violationf("provide() needs the arguments provider and nickname")
	}
	ref, ok := pv.(*pb.RemoteReference)
	if !ok {
		g.log.Warn("provide() without a provider reference; ignored", "type", pyType(pv))
		return nil, banana.Violationf("provide(): the provider is a %s, not a reference", pyType(pv))
	}
	if iname := ref.InterfaceName(); iname != ProviderInterface {
		g.log.Warn("provide() with a provider that is not an RIStatsProvider; ignored",
			"tubid", ref.TubID(), "iname", quote(iname))
		return nil, banana.Violationf("provide(): the provider does not provide RemoteInterface %s", ProviderInterface)
	}
	if err := g.svc.Provide(ctx, NewRemoteProvider(ref), nickname); err != nil {
		g.log.Warn("provide() refused", "tubid", ref.TubID(), "err", err)
		return nil, err
	}
	return nil, nil
}

// callArg returns positional argument i or keyword argument name.
func callArg(c *pb.Call, i int, name string) (any, bool) {
	if i < len(c.Args) {
		return c.Args[i], true
	}
	v, ok := c.Kwargs[name]
	return v, ok
}

// RemoteProvider is a node's RIStatsProvider reference as a Provider.
type RemoteProvider struct {
	ref *pb.RemoteReference
}

var _ Provider = (*RemoteProvider)(nil)

// NewRemoteProvider wraps a reference to a node's stats provider.
func NewRemoteProvider(ref *pb.RemoteReference) *RemoteProvider {
	return &RemoteProvider{ref: ref}
}

// TubID is the authenticated tubid of the node's connection (its main Tub).
func (p *RemoteProvider) TubID() string { return p.ref.TubID() }

// GetStats calls get_stats(). A lost or closed connection is reported as an
// error wrapping both ErrProviderGone and the *pb.DeadReferenceError.
func (p *RemoteProvider) GetStats(ctx context.Context) (any, error) {
	v, err := p.ref.Call(ctx, "get_stats", nil, nil)
	if err == nil {
		return v, nil
	}
	var dead *pb.DeadReferenceError
	if errors.As(err, &dead) || errors.Is(err, pb.ErrClosed) {
		return nil, fmt.Errorf("get_stats(): %w: %w", ErrProviderGone, err)
	}
	return nil, fmt.Errorf("get_stats(): %w", err)
}

// NotifyOnDisconnect calls f once the node's connection is lost.
func (p *RemoteProvider) NotifyOnDisconnect(f func()) (cancel func()) {
	return p.ref.NotifyOnDisconnect(f)
}
