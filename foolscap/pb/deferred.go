package pb

import "sync"

// Deferred is an answer that is not ready when RemoteCall returns, as a
// remote method in python-foolscap returns a Twisted Deferred. A RemoteCall
// that returns a *Deferred gives its place among Config.MaxInFlight back at
// once, so that the broker starts the next call; the answer (or the error,
// sent as a Failure) goes to the peer when Resolve is called. Answers may
// so reach the peer in another order than the calls; Foolscap matches them
// by request id.
//
// Whoever makes a Deferred must resolve it: until then the caller waits.
type Deferred struct {
	mu       sync.Mutex
	resolved bool
	v        any
	err      error
	then     func(any, error)
}

// NewDeferred returns an unresolved Deferred.
func NewDeferred() *Deferred { return &Deferred{} }

// Resolve gives the answer, from any goroutine; only the first call counts.
func (d *Deferred) Resolve(v any, err error) {
	d.mu.Lock()
	if d.resolved {
		d.mu.Unlock()
		return
	}
	d.resolved = true
	then := d.then
	d.then = nil
	if then == nil {
		d.v, d.err = v, err
	}
	d.mu.Unlock()
	if then != nil {
		then(v, err)
	}
}

// whenResolved calls f with the answer: at once if it is already there,
// otherwise from Resolve.
func (d *Deferred) whenResolved(f func(any, error)) {
	d.mu.Lock()
	if d.resolved {
		v, err := d.v, d.err
		d.v, d.err = nil, nil
		d.mu.Unlock()
		f(v, err)
		return
	}
	d.then = f
	d.mu.Unlock()
}
