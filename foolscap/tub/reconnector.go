package tub

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/gatherer/gatherer/foolscap/pb"
)

// Reconnector keeps a connection to one FURL: it calls GetReference, hands
// each new reference to its callback, and after a failure or a lost
// connection tries again on the Backoff schedule (python-foolscap's
// Reconnector, created by Tub.ConnectTo).
type Reconnector struct {
	t      *Tub
	furl   string
	cb     func(ctx context.Context, ref *pb.RemoteReference)
	ctx    context.Context
	cancel context.CancelFunc
	reset  chan struct{}

	mu      sync.Mutex
	lastErr error
	state   string
}

// ConnectTo starts a Reconnector for furlStr. cb runs (in the Reconnector's
// goroutine) for every new connection; ctx passed to it ends when the
// Reconnector stops. It is the Go form of Tub.connectTo.
func (t *Tub) ConnectTo(furlStr string, cb func(ctx context.Context, ref *pb.RemoteReference)) (*Reconnector, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, ErrClosed
	}
	ctx, cancel := context.WithCancel(t.ctx)
	r := &Reconnector{t: t, furl: furlStr, cb: cb, ctx: ctx, cancel: cancel, reset: make(chan struct{}, 1), state: "connecting"}
	t.reconns[r] = struct{}{}
	t.wg.Add(1)
	go r.loop()
	return r, nil
}

// Stop stops future attempts; a live connection is left alone, as in
// python-foolscap's stopConnecting.
func (r *Reconnector) Stop() {
	r.t.mu.Lock()
	defer r.t.mu.Unlock()
	r.stopLocked()
}

func (r *Reconnector) stopLocked() {
	r.cancel()
	delete(r.t.reconns, r)
}

// Reset makes the next attempt happen soon, with the delay back at its
// initial value.
func (r *Reconnector) Reset() {
	select {
	case r.reset <- struct{}{}:
	default:
	}
}

// LastError returns the error of the last failed attempt (nil after a
// success).
func (r *Reconnector) LastError() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastErr
}

// State is "connecting", "connected", "waiting" or "stopped".
func (r *Reconnector) State() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state
}

func (r *Reconnector) setState(s string, err error) {
	r.mu.Lock()
	r.state, r.lastErr = s, err
	r.mu.Unlock()
}

func (r *Reconnector) loop() {
	defer r.t.wg.Done()
	defer r.setState("stopped", nil)
	b := r.t.opts.Backoff
	delay := b.InitialDelay
	for r.ctx.Err() == nil {
		r.setState("connecting", r.LastError())
		ref, err := r.t.GetReference(r.ctx, r.furl)
		if err != nil {
			if r.ctx.Err() != nil {
				return
			}
			r.setState("waiting", err)
			r.t.log.Debug("reconnector: attempt failed", "peer", furlTubID(r.furl), "err", err)
			r.t.mu.Lock()
			delay = b.next(delay, r.t.rng)
			r.t.mu.Unlock()
		} else {
			r.setState("connected", nil)
			lost := make(chan struct{})
			cancel := ref.NotifyOnDisconnect(func() { close(lost) })
			r.cb(r.ctx, ref)
			select {
			case <-lost:
			case <-r.ctx.Done():
				cancel()
				return
			}
			delay = b.InitialDelay
			r.setState("waiting", errors.New("connection lost"))
		}
		timer := time.NewTimer(delay)
		select {
		case <-timer.C:
		case <-r.reset:
			timer.Stop()
			delay = b.InitialDelay
		case <-r.ctx.Done():
			timer.Stop()
			return
		}
	}
}

func furlTubID(s string) string {
	const p = "pb://"
	if len(s) >= len(p)+8 && s[:len(p)] == p {
		return s[len(p) : len(p)+8]
	}
	return ""
}
