package pb

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

// laterObj answers "later" with a *Deferred that the test resolves, and
// "now" with one resolved before RemoteCall returns.
type laterObj struct{ got chan *Deferred }

func (o *laterObj) RemoteInterfaceName() string { return "" }

func (o *laterObj) RemoteCall(_ context.Context, c *Call) (any, error) {
	d := NewDeferred()
	if c.Method == "now" {
		d.Resolve(c.Args[0], nil)
		return d, nil
	}
	o.got <- d
	return d, nil
}

// gatedConn stops reading while its gate is shut: a peer that no longer
// reads what it is sent.
type gatedConn struct {
	net.Conn
	mu   sync.Mutex
	gate chan struct{}
}

func (c *gatedConn) shut() {
	c.mu.Lock()
	c.gate = make(chan struct{})
	c.mu.Unlock()
}

func (c *gatedConn) open() {
	c.mu.Lock()
	if c.gate != nil {
		close(c.gate)
		c.gate = nil
	}
	c.mu.Unlock()
}

func (c *gatedConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	g := c.gate
	c.mu.Unlock()
	if g != nil {
		<-g
	}
	return c.Conn.Read(p)
}

// asyncResult is what a CallAsync callback received.
type asyncResult struct {
	i   int
	v   any
	err error
}

// TestDeferredAnswers: calls answered with a *Deferred do not hold the
// connection's one call slot (MaxInFlight 1), are answered when resolved,
// in any order, with values or errors, and CallAsync hands each caller its
// own answer.
// laterPair connects a broker serving obj as "later" (MaxInFlight 1) to one
// on the far end of its pipe, wrapped by wrap, and returns the far end's
// reference to it, the serving broker and a context for the test.
func laterPair(t *testing.T, obj *laterObj, wrap func(net.Conn) net.Conn) (*RemoteReference, *Broker, context.Context) {
	t.Helper()
	ca, cb := net.Pipe()
	a := NewBroker(BrokerConfig{Conn: ca, PeerTubID: pyTubID, VocabIndex: 1, MaxInFlight: 1,
		Local: func(string) (Referenceable, bool) { return obj, true }})
	b := NewBroker(BrokerConfig{Conn: wrap(cb), PeerTubID: goTubID, VocabIndex: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	served := make(chan struct{}, 2)
	go func() { _ = a.Serve(ctx); served <- struct{}{} }()
	go func() { _ = b.Serve(ctx); served <- struct{}{} }()
	t.Cleanup(func() { cancel(); a.Close(); b.Close(); <-served; <-served })
	ref, err := b.GetReferenceByName(ctx, "later")
	if err != nil {
		t.Fatal(err)
	}
	return ref, a, ctx
}

func TestDeferredAnswers(t *testing.T) {
	obj := &laterObj{got: make(chan *Deferred, 10)}
	ref, _, ctx := laterPair(t, obj, func(c net.Conn) net.Conn { return c })

	if v, err := ref.Call(ctx, "now", []any{int64(7)}, nil); err != nil || v != int64(7) {
		t.Fatalf("a Deferred resolved at once: %v, %v", v, err)
	}

	results := make(chan asyncResult, 3)
	for i := range 3 {
		if err := ref.CallAsync("later", nil, nil, func(v any, err error) { results <- asyncResult{i, v, err} }); err != nil {
			t.Fatal(err)
		}
	}
	var ds []*Deferred
	for range 3 {
		select {
		case d := <-obj.got:
			ds = append(ds, d)
		case <-ctx.Done():
			t.Fatalf("only %d of 3 calls started: a Deferred held the call slot", len(ds))
		}
	}
	ds[2].Resolve("third", nil)
	ds[1].Resolve(nil, errors.New("second failed"))
	ds[0].Resolve("first", nil)
	ds[0].Resolve("again", nil) // ignored
	got := map[int]asyncResult{}
	for range 3 {
		r := <-results
		got[r.i] = r
	}
	if got[0].v != "first" || got[0].err != nil || got[2].v != "third" || got[2].err != nil {
		t.Errorf("answers: %+v", got)
	}
	var re *RemoteError
	if !errors.As(got[1].err, &re) || re.Value != "second failed" {
		t.Errorf("second answer: %v, want the RemoteError", got[1].err)
	}
}

// TestResolveNeverWaitsOnThePeer: a peer that stops reading cannot make
// Resolve wait (the log gatherer resolves the answers of every node from
// one goroutine), and its answers go out once it reads again; a
// CallAsync outstanding when the connection is lost gets a
// DeadReferenceError.
func TestResolveNeverWaitsOnThePeer(t *testing.T) {
	obj := &laterObj{got: make(chan *Deferred, maxDeferred)}
	var gated *gatedConn
	ref, a, ctx := laterPair(t, obj, func(c net.Conn) net.Conn { gated = &gatedConn{Conn: c}; return gated })
	t.Cleanup(gated.open) // runs before the pair's cleanup: the reader must not stay shut

	gated.shut()
	const n = 200 // well over what the writer queue holds
	results := make(chan asyncResult, n+1)
	for i := range n {
		if err := ref.CallAsync("later", []any{int64(i)}, nil, func(v any, err error) { results <- asyncResult{i, v, err} }); err != nil {
			t.Fatal(err)
		}
	}
	ds := make([]*Deferred, 0, n)
	for len(ds) < n {
		select {
		case d := <-obj.got:
			ds = append(ds, d)
		case <-ctx.Done():
			t.Fatalf("only %d of %d calls started", len(ds), n)
		}
	}
	start := time.Now()
	for i, d := range ds {
		d.Resolve(fmt.Sprint(i), nil)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("resolving %d answers to a peer that does not read took %s", n, took)
	}
	// (Its reader may have been inside Read when the gate shut: the first
	// write, a batch of answers, can get through; not all of them.)
	time.Sleep(50 * time.Millisecond)
	if k := len(results); k >= n {
		t.Fatalf("all %d answers arrived while the peer was not reading", k)
	}

	gated.open()
	for range n {
		select {
		case r := <-results:
			if r.err != nil || r.v != fmt.Sprint(r.i) {
				t.Fatalf("call %d got %v, %v", r.i, r.v, r.err)
			}
		case <-ctx.Done():
			t.Fatal("the answers did not arrive once the peer read again")
		}
	}

	// One more, never resolved: losing the connection ends it.
	if err := ref.CallAsync("later", []any{int64(-1)}, nil, func(v any, err error) { results <- asyncResult{-1, v, err} }); err != nil {
		t.Fatal(err)
	}
	<-obj.got
	a.Close()
	select {
	case r := <-results:
		var dead *DeadReferenceError
		if !errors.As(r.err, &dead) {
			t.Errorf("outstanding call after the connection was lost: %v, %v", r.v, r.err)
		}
	case <-ctx.Done():
		t.Fatal("an outstanding CallAsync was never told the connection was lost")
	}
}
