package pb

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gatherer/gatherer/foolscap/banana"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	goTubID = "gogogogogogogogogogogogogogogogo"
	pyTubID = "pypypypypypypypypypypypypypypypy"
)

// echoObj is a test Referenceable: echo returns its first argument (or
// the kwargs), fail returns errors, call_back calls a reference it is
// given, record/recorded test callRemoteOnly.
type echoObj struct {
	iname string
	mu    sync.Mutex
	rec   []any
	cond  chan struct{} // closed by the first record
}

func (o *echoObj) RemoteInterfaceName() string { return o.iname }

func (o *echoObj) RemoteCall(ctx context.Context, c *Call) (any, error) {
	switch c.Method {
	case "echo":
		if x, ok := c.Kwargs["x"]; ok && len(c.Args) == 0 && len(c.Kwargs) == 1 {
			return x, nil
		}
		if len(c.Args) != 1 {
			return nil, errors.New("echo takes one argument")
		}
		return c.Args[0], nil
	case "echo_kw":
		d := &banana.Dict{}
		for _, k := range sortedKeys(c.Kwargs) {
			d.Set(k, c.Kwargs[k])
		}
		return d, nil
	case "echo_all":
		return banana.Tuple{banana.List(c.Args), len(c.Kwargs)}, nil
	case "fail":
		return nil, errors.New("go failure")
	case "fail_typed":
		return nil, &RemoteError{Type: "builtins.ValueError", Value: "bad value", Parents: []string{"builtins.ValueError", "builtins.Exception", "builtins.BaseException", "builtins.object"}}
	case "fail_long":
		long := make([]byte, 5000)
		for i := range long {
			long[i] = 'x'
		}
		return nil, &RemoteError{Type: "builtins.ValueError", Value: string(long), Traceback: string(long), Parents: []string{"builtins.ValueError", "builtins.Exception", "builtins.BaseException", "builtins.object"}}
	case "panic":
		panic("boom")
	case "call_back":
		ref, ok := c.Args[0].(*RemoteReference)
		if !ok {
			return nil, errors.New("call_back needs a reference")
		}
		return ref.Call(ctx, "echo", c.Args[1:], nil)
	case "poke_target":
		target, ok := c.Args[0].(*RemoteReference)
		if !ok {
			return nil, errors.New("poke_target needs a reference")
		}
		return target.Call(ctx, "poke", c.Args[1:], nil)
	case "record":
		o.mu.Lock()
		o.rec = append(o.rec, c.Args...)
		if o.cond == nil {
			o.cond = make(chan struct{})
		}
		select {
		case <-o.cond:
		default:
			close(o.cond)
		}
		o.mu.Unlock()
		return nil, nil
	case "recorded":
		// Calls start in arrival order but run concurrently: wait for
		// the callRemoteOnly that came first to have run.
		o.mu.Lock()
		if o.cond == nil {
			o.cond = make(chan struct{})
		}
		ch := o.cond
		o.mu.Unlock()
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
		}
		o.mu.Lock()
		defer o.mu.Unlock()
		return banana.List(append([]any{}, o.rec...)), nil
	case "slow":
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Duration(c.Args[0].(int64)) * time.Millisecond):
			return c.Args[1], nil
		}
	case "unserializable":
		return struct{}{}, nil
	}
	return nil, &RemoteError{Type: "builtins.AttributeError", Value: "no method " + quote(c.Method), Parents: []string{"builtins.AttributeError", "builtins.Exception", "builtins.BaseException", "builtins.object"}}
}

func sortedKeys(kw KW) []string {
	keys := make([]string, 0, len(kw))
	for k := range kw {
		keys = append(keys, k)
	}
	for i := range keys {
		for j := i + 1; j < len(keys); j++ {
			if keys[j] < keys[i] {
				keys[i], keys[j] = keys[j], keys[i]
			}
		}
	}
	return keys
}

type testPair struct {
	a, b   *Broker
	errA   chan error
	errB   chan error
	cancel context.CancelFunc
}

// newTestPair connects two Go brokers over net.Pipe; a serves "echo".
func newTestPair(t *testing.T, objs map[string]Referenceable) *testPair {
	t.Helper()
	ca, cb := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	p := &testPair{errA: make(chan error, 1), errB: make(chan error, 1), cancel: cancel}
	p.a = NewBroker(BrokerConfig{Conn: ca, PeerTubID: pyTubID, VocabIndex: 1, Local: func(n string) (Referenceable, bool) {
		o, ok := objs[n]
		return o, ok
	}})
	p.b = NewBroker(BrokerConfig{Conn: cb, PeerTubID: goTubID, VocabIndex: 1})
	go func() { p.errA <- p.a.Serve(ctx) }()
	go func() { p.errB <- p.b.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		p.a.Close()
		p.b.Close()
		<-p.errA
		<-p.errB
	})
	return p
}

func mustRef(t *testing.T, b *Broker, name string) *RemoteReference {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ref, err := b.GetReferenceByName(ctx, name)
	if err != nil {
		t.Fatalf("getReferenceByName(%q): %v", name, err)
	}
	return ref
}
