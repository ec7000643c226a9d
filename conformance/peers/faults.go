package peers

import (
	"context"
	"errors"
	"fmt"
)

// NoNetworkReason says why process mode cannot take a peer off the network:
// the conformance matrix shows it for the scenarios that need a network
// (tagged @container-only), and Disconnect's error carries it.
const NoNetworkReason = "process mode runs every peer on the host's loopback: there is no network to take one peer off (docker network disconnect needs container mode)"

// ErrNoNetwork is the error of Disconnect and Reconnect in process mode.
var ErrNoNetwork = errors.New(NoNetworkReason)

// Peer is a running peer that a fault can be inflicted on: a *Gatherer or a
// *Node started by the same driver.
type Peer interface {
	// PeerName is the peer's name in the scenario.
	PeerName() string
	faultable() (faultable, error)
	// setOffline tells the peer it is off the network (or back on it).
	setOffline(bool)
}

// faultable is what process and container peers implement to take the faults
// of [Faults].
type faultable interface {
	pause(ctx context.Context) error
	unpause(ctx context.Context) error
	kill(ctx context.Context) error
	disconnect(ctx context.Context) error
	reconnect(ctx context.Context) error
}

// Faults is implemented by the drivers that can inflict faults on running
// peers (both of ours). The fault scenarios (features/faults.feature) use it.
type Faults interface {
	// Pause freezes every process of the peer (docker pause; SIGSTOP to its
	// process group): its sockets stay open and the kernel still accepts
	// connections and data for it, but it reads and answers nothing.
	Pause(ctx context.Context, p Peer) error
	// Unpause lets a paused peer run again (docker unpause; SIGCONT).
	Unpause(ctx context.Context, p Peer) error
	// Kill kills the peer at once with SIGKILL (docker kill), as a crash or
	// the OOM killer would, and returns once it is gone. RunGatherer and
	// RunNode run it again from its directory.
	Kill(ctx context.Context, p Peer) error
	// Disconnect takes the peer off the scenario's network (docker network
	// disconnect): its address vanishes, its connections stay open but
	// nothing reaches them. Process mode returns ErrNoNetwork.
	Disconnect(ctx context.Context, p Peer) error
	// Reconnect puts a disconnected peer back on the scenario's network with
	// the address it had, so that its open connections carry on; it fails if
	// the peer came back with another address.
	Reconnect(ctx context.Context, p Peer) error
	// RunNode runs a killed node again from its directory, with the same
	// Tub key (so the same tubid) and incident directory, and returns once
	// it answers its control channel. It fails if the node came back under
	// another tubid.
	RunNode(ctx context.Context, n *Node) error
}

var (
	_ Faults = (*processDriver)(nil)
	_ Faults = (*containerDriver)(nil)
)

// PeerName returns the gatherer's name.
func (g *Gatherer) PeerName() string { return g.Name }

func (g *Gatherer) faultable() (faultable, error) {
	f, ok := g.proc.(faultable)
	if !ok {
		return nil, fmt.Errorf("gatherer %s is not running under a driver that can inflict faults", g.Name)
	}
	return f, nil
}

// A gatherer is always reached from where it runs (runNear), never over
// the scenario's network.
func (g *Gatherer) setOffline(bool) {}

func (n *Node) setOffline(off bool) { n.offline = off }

// PeerName returns the node's name.
func (n *Node) PeerName() string { return n.Name }

func (n *Node) faultable() (faultable, error) {
	f, ok := n.proc.(faultable)
	if !ok {
		return nil, fmt.Errorf("node %s is not running under a driver that can inflict faults", n.Name)
	}
	return f, nil
}

// faults implements the peer-level part of Faults for both drivers.
type faults struct{}

func (faults) Pause(ctx context.Context, p Peer) error {
	return inflict(ctx, p, "pause", faultable.pause)
}

func (faults) Unpause(ctx context.Context, p Peer) error {
	return inflict(ctx, p, "resume", faultable.unpause)
}

func (faults) Kill(ctx context.Context, p Peer) error {
	return inflict(ctx, p, "kill", faultable.kill)
}

func (faults) Disconnect(ctx context.Context, p Peer) error {
	if err := inflict(ctx, p, "take off the network", faultable.disconnect); err != nil {
		return err
	}
	p.setOffline(true)
	return nil
}

func (faults) Reconnect(ctx context.Context, p Peer) error {
	if err := inflict(ctx, p, "put back on the network", faultable.reconnect); err != nil {
		return err
	}
	p.setOffline(false)
	return nil
}

func inflict(ctx context.Context, p Peer, what string, f func(faultable, context.Context) error) error {
	fp, err := p.faultable()
	if err != nil {
		return err
	}
	if err := f(fp, ctx); err != nil {
		return fmt.Errorf("%s %s: %w", what, p.PeerName(), err)
	}
	return nil
}

// rerunNode runs a killed node again with start (which sets n.proc and
// n.ctl) and checks that it kept its tubid.
func rerunNode(ctx context.Context, n *Node) error {
	if n.start == nil {
		return fmt.Errorf("node %s cannot be started again by its driver", n.Name)
	}
	old := n.TubID
	n.earlier = n.Output()
	info, err := n.start(ctx)
	if err != nil {
		return fmt.Errorf("start node %s again: %w", n.Name, err)
	}
	tubid, _ := info["tubid"].(string)
	if tubid != old {
		return fmt.Errorf("node %s came back under tubid %q, not %q: its Tub key (node.pem in its directory) did not survive the restart", n.Name, tubid, old)
	}
	return nil
}
