package tub

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/gatherer/gatherer/foolscap/banana"
	"github.com/gatherer/gatherer/foolscap/furl"
	"github.com/gatherer/gatherer/foolscap/negotiate"
	"github.com/gatherer/gatherer/foolscap/pb"
)

// Defaults for Options.
const (
	// DefaultConnectTimeout is python-foolscap's CONNECTION_TIMEOUT: the
	// time GetReference may spend dialing and negotiating.
	DefaultConnectTimeout = 120 * time.Second
	// DefaultMaxNegotiating bounds the inbound connections negotiating at
	// once; further ones wait in the kernel's backlog.
	DefaultMaxNegotiating = 256
	// DefaultMaxNegotiatingPerHost bounds the inbound connections from one
	// remote address negotiating at once; further ones are closed at once.
	DefaultMaxNegotiatingPerHost = 32
)

// ErrClosed is returned by operations on a Tub that was shut down.
var ErrClosed = errors.New("tub: shut down")

// Options configures a Tub.
type Options struct {
	// Identity is the Tub's key and certificate (required).
	Identity *negotiate.Identity
	// Logger receives operational logs; nil discards them.
	Logger *slog.Logger
	// Rand supplies randomness for swissnums and the incarnation;
	// nil means crypto/rand.
	Rand io.Reader
	// Backoff is the Reconnector schedule; zero means DefaultBackoff.
	Backoff Backoff
	// ConnectTimeout bounds one GetReference; zero means
	// DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// NegotiationTimeout bounds an inbound negotiation; zero means
	// negotiate.DefaultServerTimeout (120 s).
	NegotiationTimeout time.Duration
	// MaxNegotiating and MaxNegotiatingPerHost bound inbound negotiations
	// (zero: the defaults above).
	MaxNegotiating        int
	MaxNegotiatingPerHost int
	// Limits bounds inbound Banana on every connection.
	Limits banana.Limits
	// KeepaliveTimeout and DisconnectTimeout are passed to every Broker
	// (see pb.BrokerConfig).
	KeepaliveTimeout  time.Duration
	DisconnectTimeout time.Duration
	// MaxInFlight bounds the local calls running at once per connection
	// (see pb.BrokerConfig).
	MaxInFlight int
	// Dial opens TCP connections; nil uses a net.Dialer.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
}

// Tub is a Foolscap Tub. Create it with New and stop it with Shutdown.
type Tub struct {
	opts        Options
	id          *negotiate.Identity
	tubID       string
	incarnation string
	log         *slog.Logger
	rng         *mrand.Rand

	ctx    context.Context // ends at Shutdown; parent of every goroutine's context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	negSem chan struct{}

	mu          sync.Mutex
	closed      bool
	location    []string
	objects     map[string]pb.Referenceable // swissnum -> object
	names       map[pb.Referenceable]string
	conns       map[string]*peerConn  // peer tubid -> live (or being decided) connection
	dials       map[string]*dialState // peer tubid -> connection attempt in progress
	masterTable map[string]int
	slaveTable  map[string]slaveRecord
	listeners   []net.Listener
	perHost     map[string]int
	reconns     map[*Reconnector]struct{}
	// Refusals by the per-host limit, reported at most once per
	// refusalReportEvery so a flood cannot flood the log too.
	refused       int
	refusedReport time.Time
	// attachWait holds, per peer tubid, a channel closed when a broker to
	// that peer is attached: a dial that lost to a simultaneous connection
	// ("Duplicate connection") waits on it for the winner.
	attachWait map[string]chan struct{}
}

// refusalReportEvery spaces out the log lines about connections refused by
// the per-host limit.
const refusalReportEvery = 10 * time.Second

type slaveRecord struct {
	incarnation string
	seqnum      int
}

// peerConn is one connection to a peer, from the moment the master's
// decision was made (broker nil) until its Broker ends.
type peerConn struct {
	peerIncarnation string
	seqnum          int
	broker          *pb.Broker
	replaced        bool
}

// dialState is a connection attempt that GetReference calls for the same
// tubid share.
type dialState struct {
	done   chan struct{}
	broker *pb.Broker
	err    error
}

// New creates a Tub. It does not listen until Listen is called.
func New(opts Options) (*Tub, error) {
	if opts.Identity == nil {
		return nil, errors.New("tub: Options.Identity is required")
	}
	if opts.Rand == nil {
		opts.Rand = crand.Reader
	}
	if opts.Backoff == (Backoff{}) {
		opts.Backoff = DefaultBackoff()
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = DefaultConnectTimeout
	}
	if opts.MaxNegotiating <= 0 {
		opts.MaxNegotiating = DefaultMaxNegotiating
	}
	if opts.MaxNegotiatingPerHost <= 0 {
		opts.MaxNegotiatingPerHost = DefaultMaxNegotiatingPerHost
	}
	if opts.Dial == nil {
		var d net.Dialer
		opts.Dial = d.DialContext
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	inc, err := negotiate.NewIncarnation(opts.Rand)
	if err != nil {
		return nil, fmt.Errorf("tub: making the incarnation: %w", err)
	}
	var seed [16]byte
	if _, err := io.ReadFull(opts.Rand, seed[:]); err != nil {
		return nil, fmt.Errorf("tub: seeding the backoff jitter: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &Tub{
		opts:        opts,
		id:          opts.Identity,
		tubID:       opts.Identity.TubID(),
		incarnation: inc,
		log:         logger,
		rng:         mrand.New(mrand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:]))),
		ctx:         ctx,
		cancel:      cancel,
		negSem:      make(chan struct{}, opts.MaxNegotiating),
		objects:     map[string]pb.Referenceable{},
		names:       map[pb.Referenceable]string{},
		conns:       map[string]*peerConn{},
		dials:       map[string]*dialState{},
		masterTable: map[string]int{},
		slaveTable:  map[string]slaveRecord{},
		perHost:     map[string]int{},
		reconns:     map[*Reconnector]struct{}{},
		attachWait:  map[string]chan struct{}{},
	}
	return t, nil
}

// TubID returns the Tub's tubid.
func (t *Tub) TubID() string { return t.tubID }

// Incarnation returns the Tub's my-incarnation value.
func (t *Tub) Incarnation() string { return t.incarnation }

// SetLocation sets the connection hints put in the FURLs this Tub makes
// (python's setLocation). Each hint must parse as a FURL hint.
func (t *Tub) SetLocation(hints ...string) error {
	for _, h := range hints {
		if _, err := furl.ParseHint(h); err != nil {
			return fmt.Errorf("tub: location hint %q: %w", h, err)
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.location = append([]string(nil), hints...)
	return nil
}

// Location returns the hints set by SetLocation.
func (t *Tub) Location() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.location...)
}

// Listen starts accepting connections on spec and returns the address
// bound (useful with port 0). The listener stops at Shutdown.
func (t *Tub) Listen(ctx context.Context, spec furl.ListenSpec) (net.Addr, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", spec.Address())
	if err != nil {
		return nil, fmt.Errorf("tub: listening on %s: %w", spec, err)
	}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		ln.Close()
		return nil, ErrClosed
	}
	t.listeners = append(t.listeners, ln)
	t.wg.Add(1)
	t.mu.Unlock()
	go t.acceptLoop(ln)
	t.log.Info("listening", "addr", ln.Addr().String())
	return ln.Addr(), nil
}

func (t *Tub) acceptLoop(ln net.Listener) {
	defer t.wg.Done()
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if t.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Temporary failure (e.g. out of file descriptors): back off
			// rather than spin, as net/http does.
			if delay == 0 {
				delay = 5 * time.Millisecond
			} else if delay *= 2; delay > time.Second {
				delay = time.Second
			}
			t.log.Warn("accept failed", "err", err, "retry_in", delay)
			select {
			case <-time.After(delay):
			case <-t.ctx.Done():
				return
			}
			continue
		}
		delay = 0
		host := remoteHost(c)
		t.mu.Lock()
		if t.perHost[host] >= t.opts.MaxNegotiatingPerHost {
			t.refused++
			now := time.Now()
			report := now.Sub(t.refusedReport) >= refusalReportEvery
			n := t.refused
			if report {
				t.refused, t.refusedReport = 0, now
			}
			t.mu.Unlock()
			if report {
				t.log.Warn("too many negotiating connections from one address; closing", "remote", host,
					"limit", t.opts.MaxNegotiatingPerHost, "refused", n, "reported_every", refusalReportEvery.String())
			}
			c.Close()
			continue
		}
		t.perHost[host]++
		t.wg.Add(1)
		t.mu.Unlock()
		select {
		case t.negSem <- struct{}{}:
		case <-t.ctx.Done():
			c.Close()
			t.releaseHost(host)
			t.wg.Done()
			return
		}
		go t.serveInbound(c, host)
	}
}

func remoteHost(c net.Conn) string {
	host, _, err := net.SplitHostPort(c.RemoteAddr().String())
	if err != nil {
		return c.RemoteAddr().String()
	}
	return host
}

func (t *Tub) releaseHost(host string) {
	t.mu.Lock()
	if t.perHost[host]--; t.perHost[host] <= 0 {
		delete(t.perHost, host)
	}
	t.mu.Unlock()
}

func (t *Tub) serveInbound(c net.Conn, host string) {
	defer t.wg.Done()
	arb := &attemptArbiter{t: t}
	res, err := negotiate.Accept(t.ctx, c, negotiate.AcceptConfig{
		Lookup: func(tubID string) (negotiate.Local, bool) {
			if tubID != t.tubID {
				return negotiate.Local{}, false
			}
			return t.local(arb), true
		},
		Timeout: t.opts.NegotiationTimeout,
		Logger:  t.log,
	})
	<-t.negSem
	t.releaseHost(host)
	if err != nil {
		arb.abandon()
		if t.ctx.Err() == nil {
			t.log.Info("inbound negotiation failed", "remote", c.RemoteAddr().String(), "err", err)
		}
		return
	}
	b, err := t.attach(res, arb)
	if err != nil {
		return
	}
	t.log.Info("connection established", "peer", res.PeerTubID, "remote", c.RemoteAddr().String(), "inbound", true)
	// Serve on a fresh goroutine: this one's stack grew deep in the TLS
	// handshake and would stay that size for the life of an idle
	// connection.
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		t.runBroker(res.PeerTubID, b)
	}()
}

func (t *Tub) local(arb negotiate.Arbiter) negotiate.Local {
	return negotiate.Local{Identity: t.id, Incarnation: t.incarnation, Arbiter: arb}
}

// attach installs the Broker of a negotiated connection as the Tub's
// connection to its peer.
func (t *Tub) attach(res *negotiate.Result, arb *attemptArbiter) (*pb.Broker, error) {
	b := pb.NewBroker(pb.BrokerConfig{
		Conn:              res.Conn,
		PeerTubID:         res.PeerTubID,
		VocabIndex:        res.VocabIndex,
		Local:             t.lookup,
		Logger:            t.log,
		Limits:            t.opts.Limits,
		KeepaliveTimeout:  t.opts.KeepaliveTimeout,
		DisconnectTimeout: t.opts.DisconnectTimeout,
		MaxInFlight:       t.opts.MaxInFlight,
	})
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		res.Conn.Close()
		return nil, ErrClosed
	}
	pc := arb.claimed
	if pc == nil || pc.replaced {
		// Slave side (or a master whose decision was superseded at once):
		// this connection replaces whatever we had.
		if old := t.conns[res.PeerTubID]; old != nil && old != pc && old.broker != nil {
			old.replaced = true
			go old.broker.Close()
		}
		pc = &peerConn{}
	}
	pc.peerIncarnation = res.PeerIncarnation
	pc.seqnum = res.Seqnum
	pc.broker = b
	t.conns[res.PeerTubID] = pc
	if ch := t.attachWait[res.PeerTubID]; ch != nil {
		close(ch)
		delete(t.attachWait, res.PeerTubID)
	}
	return b, nil
}

// runBroker serves b until its connection ends, then forgets it.
func (t *Tub) runBroker(peer string, b *pb.Broker) {
	err := b.Serve(t.ctx)
	t.mu.Lock()
	if pc := t.conns[peer]; pc != nil && pc.broker == b {
		delete(t.conns, peer)
	}
	t.mu.Unlock()
	if t.ctx.Err() == nil {
		t.log.Info("connection lost", "peer", peer, "err", err)
	}
}

func (t *Tub) lookup(name string) (pb.Referenceable, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	obj, ok := t.objects[name]
	return obj, ok
}

// attemptArbiter answers negotiate's duplicate-connection questions for one
// connection attempt (python-foolscap's master_table, slave_table and broker
// table, §3.7). When this side is master and accepts, it claims the peer's
// slot at once, so a second connection negotiating in parallel sees it.
type attemptArbiter struct {
	t       *Tub
	claimed *peerConn
}

var _ negotiate.Arbiter = (*attemptArbiter)(nil)

func (a *attemptArbiter) LastConnection(peer string) (string, int, bool) {
	a.t.mu.Lock()
	defer a.t.mu.Unlock()
	r, ok := a.t.slaveTable[peer]
	return r.incarnation, r.seqnum, ok
}

func (a *attemptArbiter) Decide(offer negotiate.Offer, myIncarnation string) (int, error) {
	t := a.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if old := t.conns[offer.PeerTubID]; old != nil {
		ex := negotiate.Existing{SlaveIncarnation: old.peerIncarnation, Seqnum: old.seqnum}
		if !negotiate.CompareOffer(offer, ex, myIncarnation) {
			return 0, negotiate.ErrDuplicateConnection
		}
		old.replaced = true
		if old.broker != nil {
			go old.broker.Close()
		}
	}
	t.masterTable[offer.PeerTubID]++
	seq := t.masterTable[offer.PeerTubID]
	a.claimed = &peerConn{peerIncarnation: offer.Incarnation, seqnum: seq}
	t.conns[offer.PeerTubID] = a.claimed
	return seq, nil
}

func (a *attemptArbiter) Decided(peer, masterIncarnation string, seqnum int, hasCurrent bool) {
	t := a.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if old := t.conns[peer]; old != nil {
		old.replaced = true
		if old.broker != nil {
			go old.broker.Close()
		}
		delete(t.conns, peer)
	}
	if hasCurrent {
		t.slaveTable[peer] = slaveRecord{incarnation: masterIncarnation, seqnum: seqnum}
	}
}

// abandon releases a slot claimed by a negotiation that failed after its
// decision.
func (a *attemptArbiter) abandon() {
	if a.claimed == nil {
		return
	}
	a.t.mu.Lock()
	defer a.t.mu.Unlock()
	for peer, pc := range a.t.conns {
		if pc == a.claimed && pc.broker == nil {
			delete(a.t.conns, peer)
		}
	}
}

// Register makes obj reachable under name (a new random swissnum when name
// is "") and returns its FURL. The Tub needs a location first.
func (t *Tub) Register(obj pb.Referenceable, name string) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.location) == 0 {
		return "", errors.New("tub: set a location (SetLocation) before registering objects")
	}
	if name == "" {
		name = t.names[obj]
	}
	if name == "" {
		var err error
		if name, err = furl.NewSwissnum(t.opts.Rand); err != nil {
			return "", fmt.Errorf("tub: making a swissnum: %w", err)
		}
	}
	if other, ok := t.objects[name]; ok && other != obj {
		return "", fmt.Errorf("tub: the name %.2s… is already registered to another object", name)
	}
	t.objects[name] = obj
	t.names[obj] = name
	return t.furlLocked(name), nil
}

// Unregister stops serving obj under its name.
func (t *Tub) Unregister(obj pb.Referenceable) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if name, ok := t.names[obj]; ok {
		delete(t.objects, name)
		delete(t.names, obj)
	}
}

func (t *Tub) furlLocked(name string) string {
	f := furl.FURL{TubID: t.tubID, Name: name}
	for _, h := range t.location {
		hint, _ := furl.ParseHint(h)
		f.Hints = append(f.Hints, hint)
	}
	return f.String()
}

// GetReference connects to the Tub named by furlStr (or reuses the
// connection it has) and returns a reference to the object registered
// there under the FURL's swissnum.
func (t *Tub) GetReference(ctx context.Context, furlStr string) (*pb.RemoteReference, error) {
	f, err := furl.Parse(furlStr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, t.opts.ConnectTimeout)
	defer cancel()
	b, err := t.connection(ctx, f)
	if err != nil {
		return nil, err
	}
	ref, err := b.GetReferenceByName(ctx, f.Name)
	if err != nil {
		return nil, fmt.Errorf("tub %s: looking up the object: %w", short(f.TubID), err)
	}
	return ref, nil
}

// connection returns a live Broker to f's Tub, dialing when there is none.
func (t *Tub) connection(ctx context.Context, f *furl.FURL) (*pb.Broker, error) {
	if f.TubID == t.tubID {
		return nil, errors.New("tub: connecting to ourselves is not supported")
	}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil, ErrClosed
	}
	if pc := t.conns[f.TubID]; pc != nil && pc.broker != nil && !pc.replaced {
		b := pc.broker
		t.mu.Unlock()
		select {
		case <-b.Done():
		default:
			return b, nil
		}
		t.mu.Lock()
	}
	ds := t.dials[f.TubID]
	if ds == nil {
		ds = &dialState{done: make(chan struct{})}
		t.dials[f.TubID] = ds
		t.wg.Add(1)
		go t.dial(f, ds)
	}
	t.mu.Unlock()
	select {
	case <-ds.done:
		return ds.broker, ds.err
	case <-ctx.Done():
		return nil, fmt.Errorf("tub %s: connecting: %w", short(f.TubID), ctx.Err())
	}
}

// dial tries every hint of f at once; the first connection to finish
// negotiation wins and the others are abandoned (connection.py's
// TubConnector).
func (t *Tub) dial(f *furl.FURL, ds *dialState) {
	defer t.wg.Done()
	ctx, cancel := context.WithTimeout(t.ctx, t.opts.ConnectTimeout)
	defer cancel()
	type outcome struct {
		hint string
		res  *negotiate.Result
		arb  *attemptArbiter
		err  error
	}
	var usable []furl.Hint
	var errs []error
	for _, h := range f.Hints {
		if _, err := h.DialAddress(); err != nil {
			errs = append(errs, fmt.Errorf("hint %s: %w", h, err))
			continue
		}
		usable = append(usable, h)
	}
	finish := func(b *pb.Broker, err error) {
		t.mu.Lock()
		delete(t.dials, f.TubID)
		t.mu.Unlock()
		ds.broker, ds.err = b, err
		close(ds.done)
	}
	if len(usable) == 0 {
		errs = append([]error{fmt.Errorf("tub %s: no usable connection hints", short(f.TubID))}, errs...)
		finish(nil, errors.Join(errs...))
		return
	}
	results := make(chan outcome, len(usable))
	var hw sync.WaitGroup
	for _, h := range usable {
		hw.Add(1)
		go func(h furl.Hint) {
			defer hw.Done()
			addr, _ := h.DialAddress()
			arb := &attemptArbiter{t: t}
			conn, err := t.opts.Dial(ctx, "tcp", addr)
			if err != nil {
				results <- outcome{hint: h.String(), err: err}
				return
			}
			res, err := negotiate.Connect(ctx, conn, negotiate.ConnectConfig{
				Local:       t.local(arb),
				TargetTubID: f.TubID,
				Host:        h.HostHeader(),
				Logger:      t.log,
			})
			if err != nil {
				arb.abandon()
			}
			results <- outcome{hint: h.String(), res: res, arb: arb, err: err}
		}(h)
	}
	var winner *pb.Broker
	duplicate := false
	for range usable {
		o := <-results
		if o.err != nil {
			duplicate = duplicate || errors.Is(o.err, negotiate.ErrDuplicateConnection)
			errs = append(errs, fmt.Errorf("hint %s: %w", o.hint, o.err))
			continue
		}
		if winner != nil {
			// A slower hint also got through: the first one is kept.
			o.res.Conn.Close()
			o.arb.abandon()
			continue
		}
		b, err := t.attach(o.res, o.arb)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		winner = b
		t.log.Info("connection established", "peer", f.TubID, "hint", o.hint, "inbound", false)
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			t.runBroker(f.TubID, b)
		}()
		finish(b, nil)
		cancel() // abandon the other hints
	}
	hw.Wait()
	if winner != nil {
		return
	}
	if duplicate {
		// The peer dialed us at the same moment and the master kept the
		// other connection (python-foolscap's getReference then waits
		// for that broker too).
		if b, err := t.awaitBroker(ctx, f.TubID); err == nil {
			finish(b, nil)
			return
		}
	}
	finish(nil, fmt.Errorf("tub %s: could not connect: %w", short(f.TubID), errors.Join(errs...)))
}

// awaitBroker returns the live broker to peer, waiting for one to be
// attached until ctx ends.
func (t *Tub) awaitBroker(ctx context.Context, peer string) (*pb.Broker, error) {
	for {
		t.mu.Lock()
		if pc := t.conns[peer]; pc != nil && pc.broker != nil && !pc.replaced {
			t.mu.Unlock()
			return pc.broker, nil
		}
		ch := t.attachWait[peer]
		if ch == nil {
			ch = make(chan struct{})
			t.attachWait[peer] = ch
		}
		t.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Shutdown stops listening, stops every Reconnector, closes every
// connection and waits for the Tub's goroutines, or for ctx.
func (t *Tub) Shutdown(ctx context.Context) error {
	t.mu.Lock()
	if !t.closed {
		t.closed = true
		for _, ln := range t.listeners {
			ln.Close()
		}
		for _, pc := range t.conns {
			if pc.broker != nil {
				go pc.broker.Close()
			}
		}
		for r := range t.reconns {
			r.stopLocked()
		}
	}
	t.mu.Unlock()
	t.cancel()
	done := make(chan struct{})
	go func() {
		t.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("tub: shutting down: %w", ctx.Err())
	}
}

func short(tubID string) string {
	if len(tubID) > 8 {
		return tubID[:8]
	}
	return tubID
}
