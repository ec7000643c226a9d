package pb

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/gatherer/gatherer/foolscap/banana"
)

// RemoteReference is a peer's object as seen through one connection. It
// is dead forever once that connection ends.
type RemoteReference struct {
	b        *Broker
	clid     int64 // > 0 object, 0 the peer's broker, < 0 a bound method
	iname    string
	furl     string
	received int // my-reference receipts (guarded by b.mu)
}

// Call invokes a method on the remote object and waits for its answer.
// kwargs may be nil. A Python exception arrives as a *RemoteError, a lost
// connection as a *DeadReferenceError, a refused argument as a
// *banana.Violation (nothing is answered then). When ctx ends first, Call
// returns ctx.Err() and the late answer is dropped.
func (r *RemoteReference) Call(ctx context.Context, method string, args []any, kwargs KW) (any, error) {
	return r.b.call(ctx, r.clid, method, args, kwargs)
}

// CallAsync invokes a method on the remote object and returns once the
// call is sent; then is called with the answer, as Call would return it,
// from the connection's reading goroutine (or, when the connection is
// lost, from the one that loses it), the way a Twisted callback runs in the
// reactor: it must not block, and calls it makes (CallAsync again) are sent
// in order, so that answers coming in together start calls that go out
// together. When the call cannot be sent, CallAsync returns the error and
// then is not called.
func (r *RemoteReference) CallAsync(method string, args []any, kwargs KW, then func(any, error)) error {
	return r.b.send(&pendingCall{then: then}, r.clid, method, args, kwargs)
}

// CallOnly sends a call that is never answered (callRemoteOnly, reqID 0).
// It returns an error only when the call could not be sent.
func (r *RemoteReference) CallOnly(method string, args []any, kwargs KW) error {
	return r.b.send(nil, r.clid, method, args, kwargs)
}

// NotifyOnDisconnect arranges for f to run once the connection is lost
// (not when it is closed with Broker.Close). If it is already lost, f runs
// before NotifyOnDisconnect returns. cancel unregisters f.
func (r *RemoteReference) NotifyOnDisconnect(f func()) (cancel func()) {
	b := r.b
	b.mu.Lock()
	if b.dead {
		b.mu.Unlock()
		f()
		return func() {}
	}
	b.nextWatch++
	id := b.nextWatch
	b.watchers[id] = f
	b.mu.Unlock()
	return func() {
		b.mu.Lock()
		delete(b.watchers, id)
		b.mu.Unlock()
	}
}

// TubID returns the tubid of the Tub holding the object.
func (r *RemoteReference) TubID() string { return r.b.cfg.PeerTubID }

// InterfaceName returns the RemoteInterface name the peer announced, or "".
func (r *RemoteReference) InterfaceName() string { return r.iname }

// FURL returns the FURL the peer announced for the object, or "".
func (r *RemoteReference) FURL() string { return r.furl }

// CLID returns the connection-local id of the object.
func (r *RemoteReference) CLID() int64 { return r.clid }

// Broker returns the connection the reference lives on.
func (r *RemoteReference) Broker() *Broker { return r.b }

// IsConnected reports whether the connection is still up.
func (r *RemoteReference) IsConnected() bool {
	r.b.mu.Lock()
	defer r.b.mu.Unlock()
	return !r.b.dead
}

func (r *RemoteReference) String() string {
	return fmt.Sprintf("<RemoteReference at %s clid=%d iname=%q>", shortTubID(r.TubID()), r.clid, r.iname)
}

// marshal is the encoder hook for values outside the value model: local
// Referenceables become my-reference, RemoteReferences your-reference (on
// their own connection) or their-reference (a gift to this peer).
func (b *Broker) marshal(e *banana.Encoder, v any) (bool, error) {
	switch x := v.(type) {
	case *RemoteReference:
		if x.b == b {
			if x.clid < 0 {
				return true, banana.Violationf("%w: a bound-method reference cannot be sent back", banana.ErrCannotSerialize)
			}
			id := e.Open("your-reference")
			e.WriteInt(x.clid)
			e.Close(id)
			return true, nil
		}
		b.mu.Lock()
		g := b.gifts[x]
		if g == nil {
			b.nextGiftID++
			g = &gift{id: b.nextGiftID}
			b.gifts[x] = g
			b.giftByID[g.id] = x
		}
		g.count++
		b.mu.Unlock()
		id := e.Open("their-reference")
		e.WriteInt(g.id)
		e.WriteBytes([]byte(x.furl))
		e.Close(id)
		return true, nil
	case Referenceable:
		if x == nil || !reflect.TypeOf(x).Comparable() {
			return true, banana.Violationf("%w: Referenceable %T is not comparable", banana.ErrCannotSerialize, v)
		}
		b.mu.Lock()
		if b.dead {
			b.mu.Unlock()
			return true, b.deadError()
		}
		ex := b.exportByObj[x]
		if ex == nil {
			b.nextCLID++
			ex = &export{obj: x, clid: b.nextCLID}
			b.exportByObj[x] = ex
			b.exports[ex.clid] = ex
		}
		ex.refcount++
		first := ex.refcount == 1
		b.mu.Unlock()
		id := e.Open("my-reference")
		e.WriteInt(ex.clid)
		if first {
			e.WriteBytes([]byte(x.RemoteInterfaceName()))
			if b.cfg.FURLFor != nil {
				if furl := b.cfg.FURLFor(x); furl != "" {
					e.WriteBytes([]byte(furl))
				}
			}
		}
		e.Close(id)
		return true, nil
	}
	return false, nil
}

// call sends a call and waits for its answer.
func (b *Broker) call(ctx context.Context, clid int64, method string, args []any, kwargs KW) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := &pendingCall{ch: make(chan callResult, 1)}
	if err := b.send(p, clid, method, args, kwargs); err != nil {
		return nil, err
	}
	select {
	case res := <-p.ch:
		return res.v, res.err
	case <-ctx.Done():
		b.mu.Lock()
		for id, q := range b.pending {
			if q == p {
				delete(b.pending, id)
			}
		}
		b.mu.Unlock()
		return nil, ctx.Err()
	}
}

// send encodes and queues a call. p nil sends reqID 0 (no answer);
// otherwise a fresh reqID is allocated and p receives the answer. When send
// returns an error, p receives nothing.
func (b *Broker) send(p *pendingCall, clid int64, method string, args []any, kwargs KW) error {
	b.mu.Lock()
	if b.dead {
		b.mu.Unlock()
		return b.deadError()
	}
	var reqID uint64
	if p != nil {
		b.nextReqID++
		reqID = b.nextReqID
		b.pending[reqID] = p
	}
	b.mu.Unlock()

	if clid < 0 {
		method = ""
	}
	names := make([]string, 0, len(kwargs))
	for k := range kwargs {
		names = append(names, k)
	}
	sort.Strings(names)

	b.wmu.Lock()
	e := b.enc
	e.BeginScope()
	id := e.Open("call")
	e.WriteInt(int64(reqID))
	e.WriteInt(clid)
	e.WriteBytes([]byte(method))
	aid := e.Open("arguments")
	e.WriteInt(int64(len(args)))
	var encErr error
	for _, a := range args {
		if encErr = e.Encode(a); encErr != nil {
			break
		}
	}
	for _, k := range names {
		if encErr != nil {
			break
		}
		e.WriteBytes([]byte(k))
		encErr = e.Encode(kwargs[k])
	}
	if encErr != nil {
		e.AbortTo(id)
	} else {
		e.Close(aid)
		e.Close(id)
	}
	e.EndScope()
	msg := append([]byte(nil), e.Bytes()...)
	e.Reset()
	qErr := b.enqueue(msg)
	b.wmu.Unlock()

	if encErr != nil || qErr != nil {
		if p != nil {
			b.mu.Lock()
			_, mine := b.pending[reqID]
			delete(b.pending, reqID)
			b.mu.Unlock()
			if !mine {
				// The connection was lost meanwhile, and shutdown has
				// given the call its DeadReferenceError: one outcome only.
				return nil
			}
		}
		if encErr != nil {
			return fmt.Errorf("calling %s: %w", quote(method), encErr)
		}
		return qErr
	}
	return nil
}

// sendReply sends an answer, or an error when fail is set.
func (b *Broker) sendReply(reqID uint64, result any, fail *RemoteError) {
	b.wmu.Lock()
	e := b.enc
	e.BeginScope()
	var id uint64
	var err error
	if fail != nil {
		id = e.Open("error")
		e.WriteInt(int64(reqID))
		err = e.Encode(fail.copyable())
	} else {
		id = e.Open("answer")
		e.WriteInt(int64(reqID))
		err = e.Encode(result)
	}
	if err != nil {
		// As in python-foolscap, the caller sees the ABORT as a Violation.
		e.AbortTo(id)
		b.log.Warn("could not serialize the result of a call", "reqid", reqID, "err", err)
	} else {
		e.Close(id)
	}
	e.EndScope()
	msg := append([]byte(nil), e.Bytes()...)
	e.Reset()
	_ = b.enqueue(msg) // fails only when the connection is gone
	b.wmu.Unlock()
}

// quote renders a peer-supplied string for logs and messages: quoted and
// truncated.
func quote(s string) string {
	const max = 60
	if len(s) > max {
		s = s[:max] + "..."
	}
	return fmt.Sprintf("%q", strings.ToValidUTF8(s, "\uFFFD"))
}
