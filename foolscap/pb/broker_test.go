package pb

import (
	"context"
	"errors"
	"math/big"
	"net"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/gatherer/gatherer/foolscap/banana"
)

func TestGoToGo(t *testing.T) {
	obj := &echoObj{iname: "RIEcho.gatherer.test"}
	p := newTestPair(t, map[string]Referenceable{"echo": obj})
	ref := mustRef(t, p.b, "echo")
	if ref.InterfaceName() != "RIEcho.gatherer.test" || ref.CLID() != 1 {
		t.Fatalf("reference %v", ref)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	big100, _ := new(big.Int).SetString("1267650600228229401496703205376", 10)
	values := []any{nil, true, int64(-5), big100, 1.5, []byte("b"), "s😀", banana.List{int64(1)}, banana.Tuple{}, banana.NewDict(int64(1), "x")}
	for _, v := range values {
		got, err := ref.Call(ctx, "echo", []any{v}, nil)
		if err != nil {
			t.Fatalf("echo(%v): %v", v, err)
		}
		if !reflect.DeepEqual(got, v) {
			t.Errorf("echo(%#v) = %#v", v, got)
		}
	}
	got, err := ref.Call(ctx, "echo_kw", nil, KW{"b": int64(2), "a": "x"})
	if err != nil || !reflect.DeepEqual(got, banana.NewDict("a", "x", "b", int64(2))) {
		t.Fatalf("echo_kw: %#v %v", got, err)
	}

	tests := []struct {
		name   string
		method string
		check  func(*RemoteError) bool
	}{
		{"plain error", "fail", func(e *RemoteError) bool { return e.Type == "builtins.Exception" && e.Value == "go failure" }},
		{"typed error", "fail_typed", func(e *RemoteError) bool { return e.Check("builtins.ValueError") && e.Check("builtins.Exception") }},
		{"truncated", "fail_long", func(e *RemoteError) bool {
			return len(e.Value) == 999 && e.Value[997:] == ".." && len(e.Traceback) == 700+len("\n\n-- TRACEBACK ELIDED --\n\n")+1200
		}},
		{"panic", "panic", func(e *RemoteError) bool { return e.Type == "builtins.Exception" }},
		{"unknown method", "nosuch", func(e *RemoteError) bool { return e.Type == "builtins.AttributeError" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ref.Call(ctx, tc.method, nil, nil)
			var re *RemoteError
			if !errors.As(err, &re) || !tc.check(re) {
				t.Fatalf("got %#v", err)
			}
		})
	}

	// An unserializable answer is ABORTed: the caller sees a Violation.
	_, err = ref.Call(ctx, "unserializable", nil, nil)
	if !errors.Is(err, banana.ErrAborted) {
		t.Fatalf("unserializable answer: got %v, want ErrAborted", err)
	}
	// An unserializable argument fails locally; the connection survives.
	_, err = ref.Call(ctx, "echo", []any{struct{}{}}, nil)
	if !errors.Is(err, banana.ErrCannotSerialize) {
		t.Fatalf("unserializable argument: got %v", err)
	}

	// References: pass b's own object to a, which calls it back; a
	// reference coming back is the original object.
	local := &echoObj{}
	got, err = ref.Call(ctx, "call_back", []any{local, int64(42)}, nil)
	if err != nil || got != int64(42) {
		t.Fatalf("call_back: %v %v", got, err)
	}
	got, err = ref.Call(ctx, "echo", []any{local}, nil)
	if err != nil || got != Referenceable(local) {
		t.Fatalf("echo(local ref) = %v, %v; want the local object back", got, err)
	}
	got, err = ref.Call(ctx, "echo", []any{ref}, nil)
	if err != nil || got != ref {
		t.Fatalf("echo(remote ref) = %v, %v; want the same RemoteReference", got, err)
	}

	// callRemoteOnly, then an ordinary call sees its effect: calls start
	// in arrival order.
	if err := ref.CallOnly("record", []any{int64(7)}, nil); err != nil {
		t.Fatal(err)
	}
	got, err = ref.Call(ctx, "recorded", nil, nil)
	if err != nil || !reflect.DeepEqual(got, banana.List{int64(7)}) {
		t.Fatalf("recorded: %v %v", got, err)
	}

	// Answers complete out of order.
	slow := make(chan error, 1)
	go func() {
		v, err := ref.Call(ctx, "slow", []any{int64(300), "late"}, nil)
		if err == nil && v != "late" {
			err = errors.New("wrong answer")
		}
		slow <- err
	}()
	if v, err := ref.Call(ctx, "slow", []any{int64(0), "early"}, nil); err != nil || v != "early" {
		t.Fatalf("fast call: %v %v", v, err)
	}
	if err := <-slow; err != nil {
		t.Fatal(err)
	}

	// Unknown names give Python's KeyError.
	_, err = p.b.GetReferenceByName(ctx, "nosuch")
	var re *RemoteError
	if !errors.As(err, &re) || re.Type != "builtins.KeyError" {
		t.Fatalf("unknown name: %v", err)
	}
}

func TestDisconnect(t *testing.T) {
	p := newTestPair(t, map[string]Referenceable{"echo": &echoObj{}})
	ref := mustRef(t, p.b, "echo")
	fired := make(chan struct{})
	ref.NotifyOnDisconnect(func() { close(fired) })
	cancelled := ref.NotifyOnDisconnect(func() { t.Error("cancelled callback fired") })
	cancelled()
	ctx := context.Background()
	res := make(chan error, 1)
	go func() {
		_, err := ref.Call(ctx, "slow", []any{int64(60000), nil}, nil)
		res <- err
	}()
	// Wait until the call is on the wire before cutting the connection.
	for deadline := time.Now().Add(5 * time.Second); ; {
		p.b.mu.Lock()
		n := len(p.b.pending)
		p.b.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("call never became pending")
		}
		runtime.Gosched()
	}
	p.a.Close()
	var dead *DeadReferenceError
	if err := <-res; !errors.As(err, &dead) {
		t.Fatalf("pending call: got %v, want DeadReferenceError", err)
	}
	select {
	case <-fired:
	case <-time.After(5 * time.Second):
		t.Fatal("NotifyOnDisconnect callback did not fire")
	}
	if _, err := ref.Call(ctx, "echo", []any{int64(1)}, nil); !errors.As(err, &dead) {
		t.Fatalf("call after loss: %v", err)
	}
	err := <-p.errB
	p.errB <- err // for the cleanup
	if err == nil {
		t.Fatal("Serve returned nil after the peer went away")
	}
}

// TestDecref checks that a decref from the peer is answered and retires
// the clid: the object then gets a new clid and its iname again (§5.8).
func TestDecref(t *testing.T) {
	obj := &echoObj{iname: "RIEcho.gatherer.test"}
	p := newTestPair(t, map[string]Referenceable{"echo": obj})
	ref := mustRef(t, p.b, "echo")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := p.b.Root().Call(ctx, "decref", nil, KW{"clid": ref.CLID(), "count": int64(1)})
	if err != nil || v != nil {
		t.Fatalf("decref: %v %v", v, err)
	}
	// b's import table still holds clid 1; a new getReferenceByName gets
	// a fresh export on a's side.
	p.b.mu.Lock()
	delete(p.b.imports, ref.CLID())
	p.b.mu.Unlock()
	again := mustRef(t, p.b, "echo")
	if again.CLID() != 2 || again.InterfaceName() != "RIEcho.gatherer.test" {
		t.Fatalf("after decref: clid %d iname %q, want a new clid 2 with its iname", again.CLID(), again.InterfaceName())
	}
}

func BenchmarkCallRemote(b *testing.B) {
	ca, cb := net.Pipe()
	obj := &echoObj{}
	server := NewBroker(BrokerConfig{Conn: ca, PeerTubID: pyTubID, VocabIndex: 1, Local: func(string) (Referenceable, bool) { return obj, true }})
	client := NewBroker(BrokerConfig{Conn: cb, PeerTubID: goTubID, VocabIndex: 1})
	ctx := context.Background()
	done := make(chan struct{}, 2)
	go func() { _ = server.Serve(ctx); done <- struct{}{} }()
	go func() { _ = client.Serve(ctx); done <- struct{}{} }()
	defer func() { server.Close(); client.Close(); <-done; <-done }()
	ref, err := client.GetReferenceByName(ctx, "echo")
	if err != nil {
		b.Fatal(err)
	}
	arg := banana.NewDict("format", "event %(n)d", "num", int64(7), "time", 1.7e9, "facility", "tahoe.upload")
	e := banana.NewEncoder(banana.EncoderOptions{VocabIndex: 1})
	_ = e.Encode(arg)
	b.SetBytes(int64(2 * e.Len()))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ref.Call(ctx, "echo", []any{arg}, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCallbacksBeyondMaxInFlight runs more concurrent inbound calls than
// MaxInFlight, each calling back to the peer: the reader must keep
// delivering the answers to those callbacks.
func TestCallbacksBeyondMaxInFlight(t *testing.T) {
	ca, cb := net.Pipe()
	obj := &echoObj{}
	a := NewBroker(BrokerConfig{Conn: ca, PeerTubID: pyTubID, VocabIndex: 1, MaxInFlight: 2,
		Local: func(string) (Referenceable, bool) { return obj, true }})
	b := NewBroker(BrokerConfig{Conn: cb, PeerTubID: goTubID, VocabIndex: 1, MaxInFlight: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan struct{}, 2)
	go func() { _ = a.Serve(ctx); done <- struct{}{} }()
	go func() { _ = b.Serve(ctx); done <- struct{}{} }()
	defer func() { a.Close(); b.Close(); <-done; <-done }()
	ref, err := b.GetReferenceByName(ctx, "echo")
	if err != nil {
		t.Fatal(err)
	}
	local := &echoObj{}
	errs := make(chan error, 10)
	for i := range 10 {
		go func() {
			v, err := ref.Call(ctx, "call_back", []any{local, int64(i)}, nil)
			if err == nil && v != int64(i) {
				err = errors.New("wrong answer")
			}
			errs <- err
		}()
	}
	for range 10 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func TestContexts(t *testing.T) {
	p := newTestPair(t, map[string]Referenceable{"echo": &echoObj{}})
	ref := mustRef(t, p.b, "echo")

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := ref.Call(ctx, "slow", []any{int64(2000), "late"}, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Call past its deadline: %v", err)
	}
	// The late answer is dropped and the connection is still fine.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	if v, err := ref.Call(ctx2, "echo", []any{int64(1)}, nil); err != nil || v != int64(1) {
		t.Fatalf("call after a timed-out call: %v %v", v, err)
	}
}

func TestServeContextCancel(t *testing.T) {
	ca, cb := net.Pipe()
	a := NewBroker(BrokerConfig{Conn: ca, PeerTubID: pyTubID, VocabIndex: 1})
	b := NewBroker(BrokerConfig{Conn: cb, PeerTubID: goTubID, VocabIndex: 1})
	ctxA, cancelA := context.WithCancel(context.Background())
	errA, errB := make(chan error, 1), make(chan error, 1)
	go func() { errA <- a.Serve(ctxA) }()
	go func() { errB <- b.Serve(context.Background()) }()
	defer func() { a.Close(); b.Close(); <-errB }()
	cancelA()
	select {
	case err := <-errA:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Serve returned %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its context was cancelled")
	}
}
