package pb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatherer/gatherer/foolscap/banana"
)

// Defaults for BrokerConfig.
const (
	DefaultKeepaliveTimeout = 240 * time.Second
	DefaultMaxInFlight      = 32
	DefaultMaxQueued        = 1024
	DefaultWriteTimeout     = 2 * time.Minute
	// errorFlushTimeout bounds how long a fatal ERROR token may take to
	// leave before the connection is closed anyway.
	errorFlushTimeout = 5 * time.Second
	outQueueLen       = 64
)

// Referenceable is a local object that a peer can call: the Go side of a
// python-foolscap Referenceable.
type Referenceable interface {
	// RemoteInterfaceName is the RemoteInterface __remote_name__ sent as
	// the iname of my-reference ("" for none). Python peers check
	// RemoteInterface-typed arguments against it, so it must be exact.
	RemoteInterfaceName() string
	// RemoteCall runs one inbound call. ctx is cancelled when the
	// connection ends. The result must be a value of the banana value
	// model, a Referenceable, a *RemoteReference, or a *Deferred whose
	// answer comes later. A returned error is sent as a Failure: a
	// *RemoteError keeps its Python type, any other error becomes
	// builtins.Exception.
	RemoteCall(ctx context.Context, c *Call) (any, error)
}

// KW holds keyword arguments. Names go on the wire as bytes, sorted.
type KW map[string]any

// Call is one inbound method call.
type Call struct {
	Method string // "" when the target is a bound method
	Args   []any
	Kwargs KW
	Broker *Broker // the connection the call arrived on
}

// BrokerConfig configures NewBroker.
type BrokerConfig struct {
	// Conn is the negotiated connection (TLS in production), positioned at
	// the first Banana byte. The Broker owns it from now on.
	Conn net.Conn
	// PeerTubID is the peer's tubid; FURLs in inbound my-references must
	// name it.
	PeerTubID string
	// VocabIndex is the negotiated initial-vocab-table-index (0 or 1).
	VocabIndex int
	// Local resolves getReferenceByName(name) from the peer. Nil serves no
	// names.
	Local func(name string) (Referenceable, bool)
	// FURLFor returns the FURL under which a Referenceable being sent for
	// the first time can be reached, or "" when the local Tub has no
	// location. Nil means "". It must not call back into the Broker.
	FURLFor func(obj Referenceable) string
	// Logger receives operational logs; nil discards them.
	Logger *slog.Logger
	// Limits bounds inbound Banana; zero fields take banana's defaults.
	Limits banana.Limits
	// KeepaliveTimeout: after this much silence from the peer, send a
	// PING. Zero means DefaultKeepaliveTimeout, negative disables.
	KeepaliveTimeout time.Duration
	// DisconnectTimeout: after this much silence, drop the connection.
	// Zero or negative disables (python-foolscap's default).
	DisconnectTimeout time.Duration
	// MaxInFlight bounds the local calls running at once for this
	// connection; further calls wait, in arrival order. Default 32.
	MaxInFlight int
	// MaxQueued bounds the calls received but not yet started. While the
	// queue is full the broker stops reading from the peer. Default 1024.
	MaxQueued int
	// WriteTimeout bounds one write to the connection. Default 2 minutes.
	WriteTimeout time.Duration
}

// Broker runs PB over one connection. Create it with NewBroker and run
// Serve; every RemoteReference it hands out dies with it.
//
// Goroutines: Serve's caller reads and decodes (and is the only user of
// the decoder and of the fields marked reader-owned); a writer goroutine
// owns the socket's write side; a timer goroutine sends keepalives; a
// dispatcher starts queued inbound calls in arrival order, each in its
// own goroutine, at most MaxInFlight at once. The reader never waits for
// a local call, so answers to calls those local calls make keep flowing.
// Shared tables are guarded by mu; wmu serializes encoding, so that OPEN
// ids reach the wire in the order they were numbered.
type Broker struct {
	cfg  BrokerConfig
	conn net.Conn
	log  *slog.Logger
	dec  *banana.Decoder

	limitViolations int // inbound messages refused by the Banana limits; owned by readLoop

	wmu     sync.Mutex // guards enc; held while a message is encoded and queued
	enc     *banana.Encoder
	outq    chan []byte   // whole messages; nil asks the writer to stop
	flushed chan struct{} // closed by the writer when it sees nil

	mu          sync.Mutex
	dead        bool
	deadErr     error
	nextReqID   uint64
	pending     map[uint64]*pendingCall
	nextCLID    int64
	exports     map[int64]*export
	exportByObj map[any]*export
	imports     map[int64]*RemoteReference
	nextGiftID  int64
	gifts       map[*RemoteReference]*gift
	giftByID    map[int64]*RemoteReference
	watchers    map[uint64]func()
	nextWatch   uint64

	expectArgs bool // reader-owned: a call handler is reading its arguments

	lastRecv     atomic.Int64 // unix nanoseconds of the last byte received
	serving      atomic.Bool
	done         chan struct{} // closed by shutdown
	serveDone    chan struct{}
	shutdownOnce sync.Once
	wg           sync.WaitGroup
	sem          chan struct{} // one token per running local call

	// Calls received and not yet started, in arrival order. The queue is
	// a slice that grows only while calls wait (an idle connection holds
	// none); the dispatcher goroutine exists only while it is not empty.
	callMu      sync.Mutex
	calls       []*inboundCall
	dispatching bool
	callSpace   chan struct{} // signalled when a queued call was taken

	// Answers of calls that returned a *Deferred, resolved and waiting for
	// lateLoop, the goroutine that sends them (it exists only while some
	// wait): whoever resolves a Deferred never waits on this connection.
	// deferSlots (made at the first Deferred) bounds the calls answered
	// late and not yet sent.
	lateMu      sync.Mutex
	late        []lateAnswer
	lateRunning bool
	deferSlots  chan struct{}
	callCtx     context.Context
	cancelCalls context.CancelFunc
	root        *RemoteReference
}

type pendingCall struct {
	ch   chan callResult  // buffered, receives exactly one result (Call)
	then func(any, error) // or, for CallAsync, is called with it
}

// deliver hands the call its result, once.
func (p *pendingCall) deliver(res callResult) {
	if p.then != nil {
		p.then(res.v, res.err)
		return
	}
	p.ch <- res
}

type callResult struct {
	v   any
	err error
}

type export struct {
	obj      Referenceable
	clid     int64
	refcount int
}

type gift struct {
	id    int64
	count int
}

// NewBroker prepares a Broker on a negotiated connection. Nothing is read
// or written until Serve.
func NewBroker(cfg BrokerConfig) *Broker {
	if cfg.KeepaliveTimeout == 0 {
		cfg.KeepaliveTimeout = DefaultKeepaliveTimeout
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.MaxQueued <= 0 {
		cfg.MaxQueued = DefaultMaxQueued
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &Broker{
		cfg:         cfg,
		conn:        cfg.Conn,
		log:         log.With("tubid", shortTubID(cfg.PeerTubID)),
		outq:        make(chan []byte, outQueueLen),
		pending:     map[uint64]*pendingCall{},
		exports:     map[int64]*export{},
		exportByObj: map[any]*export{},
		imports:     map[int64]*RemoteReference{},
		gifts:       map[*RemoteReference]*gift{},
		giftByID:    map[int64]*RemoteReference{},
		watchers:    map[uint64]func(){},
		done:        make(chan struct{}),
		serveDone:   make(chan struct{}),
		flushed:     make(chan struct{}),
		sem:         make(chan struct{}, cfg.MaxInFlight),
		callSpace:   make(chan struct{}, 1),
	}
	b.callCtx, b.cancelCalls = context.WithCancel(context.Background())
	b.lastRecv.Store(time.Now().UnixNano())
	b.enc = banana.NewEncoder(banana.EncoderOptions{VocabIndex: cfg.VocabIndex, Marshal: b.marshal})
	b.dec = banana.NewDecoder(activityReader{b}, banana.DecoderOptions{
		Limits:     cfg.Limits,
		VocabIndex: cfg.VocabIndex,
		OnPing:     b.onPing,
		Handlers: map[string]banana.OpenHandler{
			"call":            b.readCall,
			"arguments":       b.readArguments,
			"answer":          b.readAnswer,
			"error":           b.readError,
			"my-reference":    b.readMyReference,
			"your-reference":  b.readYourReference,
			"their-reference": b.readTheirReference,
		},
	})
	b.root = &RemoteReference{b: b, clid: 0, iname: "RIBroker"}
	return b
}

func shortTubID(t string) string {
	if len(t) > 8 {
		return t[:8]
	}
	return t
}

// activityReader notes the time of every read that returns bytes, for the
// keepalive and disconnect timers.
type activityReader struct{ b *Broker }

func (r activityReader) Read(p []byte) (int, error) {
	n, err := r.b.conn.Read(p)
	if n > 0 {
		r.b.lastRecv.Store(time.Now().UnixNano())
	}
	return n, err
}

// PeerTubID returns the peer's tubid.
func (b *Broker) PeerTubID() string { return b.cfg.PeerTubID }

// Root returns a reference to the peer's broker object (clid 0), whose
// methods are getReferenceByName, decref and decgift.
func (b *Broker) Root() *RemoteReference { return b.root }

// GetReferenceByName asks the peer for the object registered under name
// (the swissnum part of a FURL), as Tub.getReference does once connected.
func (b *Broker) GetReferenceByName(ctx context.Context, name string) (*RemoteReference, error) {
	v, err := b.root.Call(ctx, "getReferenceByName", nil, KW{"name": []byte(name)})
	if err != nil {
		return nil, err
	}
	ref, ok := v.(*RemoteReference)
	if !ok {
		return nil, fmt.Errorf("getReferenceByName: peer answered with %T, not a reference", v)
	}
	return ref, nil
}

// Done is closed when the connection has ended.
func (b *Broker) Done() <-chan struct{} { return b.done }

// Err returns why the connection ended, or nil while it is up.
func (b *Broker) Err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.deadErr
}

// Serve runs the connection until it ends: when the peer closes it, on a
// fatal protocol error (after sending an ERROR token), when ctx is done or
// when Close is called. It returns the reason (nil after Close), after all
// goroutines of the broker have exited.
func (b *Broker) Serve(ctx context.Context) error {
	if !b.serving.CompareAndSwap(false, true) {
		return errors.New("pb: Serve called twice")
	}
	defer close(b.serveDone)
	b.wg.Add(1)
	go b.writeLoop()
	stopTimers := b.startTimers()
	defer stopTimers()
	stopWatch := context.AfterFunc(ctx, func() {
		b.shutdown(fmt.Errorf("serving stopped: %w", ctx.Err()), true)
	})
	defer stopWatch()
	err := b.readLoop()
	b.shutdown(err, true)
	b.wg.Wait()
	reason := b.Err()
	if errors.Is(reason, ErrClosed) {
		return nil
	}
	return reason
}

// Close ends the connection without firing NotifyOnDisconnect callbacks
// (as python-foolscap's Tub.stopService does) and waits for the broker's
// goroutines, including running local calls, to exit.
func (b *Broker) Close() error {
	b.shutdown(ErrClosed, false)
	if b.serving.Load() {
		<-b.serveDone
	} else {
		b.wg.Wait()
	}
	return nil
}

// maxLoggedViolations is how many over-limit messages per connection are
// logged as warnings; later ones go to Debug, so a hostile peer cannot fill
// the operator's log.
const maxLoggedViolations = 10

// logViolation reports an inbound message that was refused. One over the
// Banana limits (a hostile or broken peer) is a warning an operator should
// see; other schema violations stay at Debug, as before.
func (b *Broker) logViolation(err error) {
	overLimit := false
	for _, lim := range []error{banana.ErrStringTooLong, banana.ErrTooManyItems, banana.ErrTooDeep,
		banana.ErrMessageTooLarge, banana.ErrLongIntTooLong, banana.ErrOpenTypeTooLong} {
		if errors.Is(err, lim) {
			overLimit = true
			break
		}
	}
	if !overLimit {
		b.log.Debug("ignored an inbound message", "err", err)
		return
	}
	b.limitViolations++
	switch {
	case b.limitViolations < maxLoggedViolations:
		b.log.Warn("refused an inbound message over the Banana limits; the connection goes on",
			"peer", b.cfg.PeerTubID, "err", err)
	case b.limitViolations == maxLoggedViolations:
		b.log.Warn("refused an inbound message over the Banana limits; further ones from this peer are logged at debug level only",
			"peer", b.cfg.PeerTubID, "err", err, "count", b.limitViolations)
	default:
		b.log.Debug("refused an inbound message over the Banana limits", "peer", b.cfg.PeerTubID, "err", err)
	}
}

func (b *Broker) readLoop() error {
	for {
		v, err := b.dec.ReadMessage()
		if err != nil {
			var viol *banana.Violation
			if errors.As(err, &viol) {
				b.logViolation(err)
				continue
			}
			var ce *banana.ConnError
			if errors.As(err, &ce) && ce.SendError {
				b.sendFatal(ce)
			}
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("connection closed by peer: %w", err)
			}
			select {
			case <-b.done:
				return b.Err()
			default:
			}
			return err
		}
		if ic, ok := v.(*inboundCall); ok {
			if !b.startCall(ic) {
				return b.Err()
			}
		}
	}
}

// sendFatal sends an ERROR token and closes the connection once it has
// been written, as python-foolscap does on a BananaError.
func (b *Broker) sendFatal(ce *banana.ConnError) {
	b.log.Warn("protocol error from peer, dropping the connection", "err", ce)
	b.wmu.Lock()
	b.enc.WriteError(ce.Error())
	msg := append([]byte(nil), b.enc.Bytes()...)
	b.enc.Reset()
	err := b.enqueue(msg)
	b.wmu.Unlock()
	if err == nil {
		select {
		case b.outq <- nil:
		case <-b.done:
		}
	}
	t := time.NewTimer(errorFlushTimeout)
	defer t.Stop()
	select {
	case <-b.flushed:
	case <-b.done:
	case <-t.C:
	}
	b.shutdown(ce, true)
}

// maxBatch bounds how many bytes of queued messages one write coalesces.
const maxBatch = 64 << 10

// gather returns msg followed by the messages already queued behind it, up
// to maxBatch bytes, and whether the close marker (nil) was met.
func (b *Broker) gather(msg []byte) ([]byte, bool) {
	batch := msg
	copied := false
	for len(batch) < maxBatch {
		var next []byte
		select {
		case next = <-b.outq:
		default:
			return batch, false
		}
		if next == nil {
			return batch, true
		}
		if !copied {
			// First extra message: copy, so that msg (owned by its
			// sender until written) is never appended to in place.
			batch = append(make([]byte, 0, 2*(len(msg)+len(next))), msg...)
			copied = true
		}
		batch = append(batch, next...)
	}
	return batch, false
}

// enqueue hands a whole message to the writer.
func (b *Broker) enqueue(msg []byte) error {
	select {
	case b.outq <- msg:
		return nil
	case <-b.done:
		return b.deadError()
	}
}

func (b *Broker) writeLoop() {
	defer b.wg.Done()
	for {
		select {
		case msg := <-b.outq:
			if msg == nil {
				close(b.flushed) // everything before the marker is written
				return
			}
			// Coalesce what else is queued into one write: one TLS record
			// and one system call for a burst of answers, instead of one
			// each. Yielding once first lets calls already read finish
			// their answers. A nil marker ends the batch and the loop.
			if len(b.outq) == 0 {
				runtime.Gosched()
			}
			batch, flush := b.gather(msg)
			if err := b.conn.SetWriteDeadline(time.Now().Add(b.cfg.WriteTimeout)); err != nil {
				b.shutdown(fmt.Errorf("setting write deadline: %w", err), true)
				return
			}
			if _, err := b.conn.Write(batch); err != nil {
				b.shutdown(fmt.Errorf("writing to peer: %w", err), true)
				return
			}
			if flush {
				close(b.flushed)
				return
			}
		case <-b.done:
			return
		}
	}
}

func (b *Broker) onPing(n uint64) {
	e := banana.NewEncoder(banana.EncoderOptions{})
	e.WritePong(n)
	select {
	case b.outq <- e.Bytes():
	default: // the writer is backed up; the peer sees our traffic anyway
	}
}

// startTimers arms the keepalive and disconnect timers (python-foolscap's
// Broker timers, which check every timeout + 0.1 s): after KeepaliveTimeout
// of silence from the peer a PING is sent, after DisconnectTimeout the
// connection is dropped. The timers run as time.AfterFunc callbacks, so an
// idle connection holds no goroutine for them. The returned func stops
// them.
func (b *Broker) startTimers() (stop func()) {
	var mu sync.Mutex
	stopped := false
	var timers []*time.Timer
	idle := func() time.Duration { return time.Since(time.Unix(0, b.lastRecv.Load())) }
	arm := func(every time.Duration, fire func() bool) {
		var t *time.Timer
		t = time.AfterFunc(every, func() {
			select {
			case <-b.done:
				return
			default:
			}
			if !fire() {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if !stopped {
				t.Reset(every)
			}
		})
		timers = append(timers, t)
	}
	mu.Lock()
	defer mu.Unlock()
	if k := b.cfg.KeepaliveTimeout; k > 0 {
		arm(k+100*time.Millisecond, func() bool {
			if idle() > k {
				select {
				case b.outq <- []byte{byte(banana.TypePing)}:
				default:
				}
			}
			return true
		})
	}
	if d := b.cfg.DisconnectTimeout; d > 0 {
		arm(d+100*time.Millisecond, func() bool {
			if idle() > d {
				b.shutdown(errors.New("banana timeout: connection dropped"), true)
				return false
			}
			return true
		})
	}
	return func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		for _, t := range timers {
			t.Stop()
		}
	}
}

// shutdown ends the connection once: pending calls fail with
// DeadReferenceError, tables are cleared, local calls are cancelled and,
// if fire is set, NotifyOnDisconnect callbacks run.
func (b *Broker) shutdown(reason error, fire bool) {
	b.shutdownOnce.Do(func() {
		if reason == nil {
			reason = errors.New("connection ended")
		}
		b.mu.Lock()
		b.dead = true
		b.deadErr = reason
		pending := b.pending
		b.pending = map[uint64]*pendingCall{}
		watchers := b.watchers
		b.watchers = map[uint64]func(){}
		b.exports = map[int64]*export{}
		b.exportByObj = map[any]*export{}
		b.imports = map[int64]*RemoteReference{}
		b.mu.Unlock()

		close(b.done)
		_ = b.conn.Close()
		b.cancelCalls()
		dead := &DeadReferenceError{TubID: shortTubID(b.cfg.PeerTubID), Reason: reason}
		for _, p := range pending {
			p.deliver(callResult{err: dead})
		}
		if errors.Is(reason, ErrClosed) {
			b.log.Debug("connection closed")
		} else {
			b.log.Info("connection lost", "err", reason)
		}
		if fire && len(watchers) > 0 {
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				for _, f := range watchers {
					f()
				}
			}()
		}
	})
}

func (b *Broker) deadError() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return &DeadReferenceError{TubID: shortTubID(b.cfg.PeerTubID), Reason: b.deadErr}
}
