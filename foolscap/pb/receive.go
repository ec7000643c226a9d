package pb

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"unicode/utf8"

	"github.com/gatherer/gatherer/foolscap/banana"
)

// inboundCall is a decoded call sequence, ready to run.
type inboundCall struct {
	reqID  uint64
	target Referenceable
	method string
	args   *arguments
}

type arguments struct {
	args   []any
	kwargs KW
}

func topLevelOnly(s *banana.Seq) error {
	if s.Depth() != 0 {
		return banana.Violationf("%w: %q is only allowed at top level", banana.ErrUnexpectedToken, s.OpenType())
	}
	return nil
}

// readCall decodes OPEN "call" reqID clid methodname arguments CLOSE
// (wire-protocol.md §5.2). Once the reqID is known, a Violation is
// answered with an error, except for an ABORTed call and reqID 0.
func (b *Broker) readCall(s *banana.Seq) (any, error) {
	if err := topLevelOnly(s); err != nil {
		return nil, err
	}
	v, ok, err := s.Next()
	if err != nil {
		return nil, err
	}
	n, isInt := v.(int64)
	if !ok || !isInt || n < 0 {
		return nil, b.fatal(s, "request ID must be an INT")
	}
	ic := &inboundCall{reqID: uint64(n)}
	if err := b.readCallBody(s, ic); err != nil {
		if _, isViol := errors.AsType[*banana.Violation](err); isViol && ic.reqID != 0 && !errors.Is(err, banana.ErrAborted) {
			b.sendReply(ic.reqID, nil, failureFor(err))
		}
		return nil, err
	}
	return ic, nil
}

func (b *Broker) readCallBody(s *banana.Seq, ic *inboundCall) error {
	v, ok, err := s.Next()
	if err != nil {
		return err
	}
	clid, isInt := v.(int64)
	if !ok || !isInt {
		return b.fatal(s, "object ID must be an INT/NEG")
	}
	if clid == 0 {
		ic.target = ribroker{b}
	} else {
		b.mu.Lock()
		ex := b.exports[clid]
		b.mu.Unlock()
		if ex == nil {
			return banana.Violationf("unknown CLID %d", clid)
		}
		ic.target = ex.obj
	}
	v, ok, err = s.Next()
	if err != nil {
		return err
	}
	name, isBytes := v.([]byte)
	if !ok || !isBytes {
		return b.fatal(s, "method name must be a STRING")
	}
	if !utf8.Valid(name) {
		return banana.Violationf("method name is not UTF-8")
	}
	ic.method = string(name)
	b.expectArgs = true
	v, ok, err = s.Next()
	b.expectArgs = false
	if err != nil {
		return err
	}
	args, isArgs := v.(*arguments)
	if !ok || !isArgs {
		return b.fatal(s, "arguments must be an 'arguments' sequence")
	}
	ic.args = args
	if _, more, err := s.Next(); err != nil || more {
		if err != nil {
			return err
		}
		return b.fatal(s, "too many objects given to CallUnslicer")
	}
	return nil
}

// fatal returns a protocol error that closes the connection.
func (b *Broker) fatal(s *banana.Seq, msg string) error {
	return &banana.ConnError{Offset: s.Decoder().Offset(), SendError: true, Err: errors.New(msg)}
}

// readArguments decodes OPEN "arguments" npos pos... (name value)* CLOSE.
func (b *Broker) readArguments(s *banana.Seq) (any, error) {
	if !b.expectArgs {
		return nil, banana.Violationf("%w: 'arguments' outside a call", banana.ErrUnexpectedToken)
	}
	b.expectArgs = false
	v, ok, err := s.Next()
	if err != nil {
		return nil, err
	}
	npos, isInt := v.(int64)
	if !ok || !isInt || npos < 0 {
		return nil, b.fatal(s, "posarg count must be an INT")
	}
	if npos > int64(s.Decoder().Limits().MaxItems) {
		return nil, banana.Violationf("%w: %d positional arguments", banana.ErrTooManyItems, npos)
	}
	a := &arguments{args: []any{}, kwargs: KW{}}
	for range npos {
		v, ok, err := s.Next()
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, b.fatal(s, "'arguments' sequence ended too early")
		}
		a.args = append(a.args, v)
	}
	for {
		k, ok, err := s.Next()
		if err != nil {
			return nil, err
		}
		if !ok {
			return a, nil
		}
		name, isBytes := k.([]byte)
		if !isBytes {
			return nil, b.fatal(s, "kwarg name must be a STRING")
		}
		if !utf8.Valid(name) {
			return nil, banana.Violationf("kwarg name is not UTF-8")
		}
		v, ok, err := s.Next()
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, b.fatal(s, "'arguments' sequence ended too early")
		}
		if _, dup := a.kwargs[string(name)]; dup {
			return nil, banana.Violationf("duplicate keyword argument %s", quote(string(name)))
		}
		a.kwargs[string(name)] = v
	}
}

// pendingFor looks up the pending call a reply names.
func (b *Broker) pendingFor(s *banana.Seq) (uint64, *pendingCall, error) {
	v, ok, err := s.Next()
	if err != nil {
		return 0, nil, err
	}
	n, isInt := v.(int64)
	if !ok || !isInt || n <= 0 {
		return 0, nil, b.fatal(s, "request ID must be an INT")
	}
	b.mu.Lock()
	p := b.pending[uint64(n)]
	b.mu.Unlock()
	if p == nil {
		return 0, nil, banana.Violationf("non-existent reqID '%d'", n)
	}
	return uint64(n), p, nil
}

// complete delivers a reply once; a call already completed (or given up
// by its caller) is left alone.
func (b *Broker) complete(reqID uint64, p *pendingCall, res callResult) {
	b.mu.Lock()
	q := b.pending[reqID]
	if q == p {
		delete(b.pending, reqID)
	}
	b.mu.Unlock()
	if q == p {
		p.deliver(res)
	}
}

// readAnswer decodes OPEN "answer" reqID value CLOSE.
func (b *Broker) readAnswer(s *banana.Seq) (any, error) {
	if err := topLevelOnly(s); err != nil {
		return nil, err
	}
	reqID, p, err := b.pendingFor(s)
	if err != nil {
		return nil, err
	}
	v, ok, err := s.Next()
	if err == nil && !ok {
		err = b.fatal(s, "Answer didn't include an answer")
	}
	if err == nil {
		if _, more, err2 := s.Next(); err2 != nil || more {
			err = err2
			if err == nil {
				err = banana.Violationf("%w: answer has more than one value", banana.ErrUnexpectedToken)
			}
		}
	}
	if err != nil {
		if _, isViol := errors.AsType[*banana.Violation](err); isViol {
			b.complete(reqID, p, callResult{err: fmt.Errorf("in the answer: %w", err)})
		}
		return nil, err
	}
	b.complete(reqID, p, callResult{v: v})
	return nil, nil
}

// readError decodes OPEN "error" reqID failure CLOSE.
func (b *Broker) readError(s *banana.Seq) (any, error) {
	if err := topLevelOnly(s); err != nil {
		return nil, err
	}
	reqID, p, err := b.pendingFor(s)
	if err != nil {
		return nil, err
	}
	var re *RemoteError
	v, ok, err := s.Next()
	if err == nil && !ok {
		err = b.fatal(s, "error didn't include a failure")
	}
	if err == nil {
		re, err = remoteErrorFrom(v)
	}
	if err == nil {
		if _, more, err2 := s.Next(); err2 != nil || more {
			err = err2
			if err == nil {
				err = banana.Violationf("%w: error has more than one value", banana.ErrUnexpectedToken)
			}
		}
	}
	if err != nil {
		if _, isViol := errors.AsType[*banana.Violation](err); isViol {
			b.complete(reqID, p, callResult{err: fmt.Errorf("in the error reply: %w", err)})
		}
		return nil, err
	}
	b.complete(reqID, p, callResult{err: re})
	return nil, nil
}

// readMyReference decodes OPEN "my-reference" clid [iname [furl]] CLOSE:
// the peer's object, given to us (§5.4).
func (b *Broker) readMyReference(s *banana.Seq) (any, error) {
	v, ok, err := s.Next()
	if err != nil {
		return nil, err
	}
	clid, isInt := v.(int64)
	if !ok || !isInt {
		return nil, b.fatal(s, "reference ID must be an INT or NEG")
	}
	var parts []string
	for {
		v, ok, err := s.Next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		p, isBytes := v.([]byte)
		if !isBytes || len(parts) == 2 {
			return nil, banana.Violationf("too many parameters in my-reference")
		}
		parts = append(parts, strings.ToValidUTF8(string(p), "\uFFFD"))
	}
	var iname, furl string
	if len(parts) > 0 {
		iname = parts[0]
	}
	if len(parts) > 1 {
		furl = parts[1]
		if tubid, ok := furlTubID(furl); !ok || tubid != b.cfg.PeerTubID {
			return nil, b.fatal(s, "inbound reference claims bad tubid")
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	ref := b.imports[clid]
	if ref == nil {
		ref = &RemoteReference{b: b, clid: clid, iname: iname, furl: furl}
		b.imports[clid] = ref
	}
	ref.received++
	return ref, nil
}

// furlTubID extracts the tubid of "pb://TUBID@hints/name".
func furlTubID(furl string) (string, bool) {
	rest, ok := strings.CutPrefix(furl, "pb://")
	if !ok {
		return "", false
	}
	tubid, _, ok := strings.Cut(rest, "@")
	return tubid, ok
}

// readYourReference decodes OPEN "your-reference" clid CLOSE: one of our
// own objects coming back (§5.5). An unknown clid is fatal, as in Python.
func (b *Broker) readYourReference(s *banana.Seq) (any, error) {
	v, ok, err := s.Next()
	if err != nil {
		return nil, err
	}
	clid, isInt := v.(int64)
	if !ok || !isInt || clid < 0 {
		return nil, b.fatal(s, "your-reference ID must be an INT")
	}
	b.mu.Lock()
	ex := b.exports[clid]
	b.mu.Unlock()
	if ex == nil {
		return nil, b.fatal(s, fmt.Sprintf("your-reference to unknown clid %d", clid))
	}
	if _, more, err := s.Next(); err != nil || more {
		if err != nil {
			return nil, err
		}
		return nil, b.fatal(s, "too many parameters in your-reference")
	}
	return ex.obj, nil
}

// readTheirReference refuses a third-party gift, as Tahoe's Tubs do
// (accept-gifts=False): the enclosing call fails, no decgift is sent.
func (b *Broker) readTheirReference(s *banana.Seq) (any, error) {
	for {
		_, ok, err := s.Next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
	}
	return nil, banana.Violationf("gifts are prohibited in this Tub")
}

// startCall queues an inbound call for the dispatcher, waiting while
// MaxQueued calls already wait (backpressure on the peer). It returns false
// if the connection ended meanwhile.
func (b *Broker) startCall(ic *inboundCall) bool {
	for {
		b.callMu.Lock()
		if len(b.calls) < b.cfg.MaxQueued {
			b.calls = append(b.calls, ic)
			if !b.dispatching {
				b.dispatching = true
				b.wg.Add(1)
				go b.dispatch()
			}
			b.callMu.Unlock()
			return true
		}
		b.callMu.Unlock()
		select {
		case <-b.callSpace:
		case <-b.done:
			return false
		}
	}
}

// nextCall takes the oldest queued call; when there is none it marks the
// dispatcher as gone, under the same lock, so that startCall starts a new
// one for the next call.
func (b *Broker) nextCall() (*inboundCall, bool) {
	b.callMu.Lock()
	defer b.callMu.Unlock()
	if len(b.calls) == 0 {
		b.calls = nil // give the backing array back
		b.dispatching = false
		return nil, false
	}
	ic := b.calls[0]
	b.calls[0] = nil
	b.calls = b.calls[1:]
	select {
	case b.callSpace <- struct{}{}:
	default:
	}
	return ic, true
}

// dispatch starts queued calls in arrival order, each in its own goroutine
// once one of MaxInFlight slots is free, and waits for each to have started
// before starting the next. It exits when the queue is empty.
func (b *Broker) dispatch() {
	defer b.wg.Done()
	for {
		ic, ok := b.nextCall()
		if !ok {
			return
		}
		select {
		case b.sem <- struct{}{}:
		case <-b.done:
			b.callMu.Lock()
			b.calls, b.dispatching = nil, false
			b.callMu.Unlock()
			return
		}
		if b.cfg.MaxInFlight == 1 {
			// One call at a time anyway: run it here, on a goroutine
			// whose stack has already grown, instead of a new one.
			b.runCall(b.callCtx, ic)
			<-b.sem
			continue
		}
		started := make(chan struct{})
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			defer func() { <-b.sem }()
			close(started)
			b.runCall(b.callCtx, ic)
		}()
		<-started
	}
}

func (b *Broker) runCall(ctx context.Context, ic *inboundCall) {
	res, err := b.invoke(ctx, ic)
	if d, ok := res.(*Deferred); ok && err == nil {
		slots := b.lateSlots()
		select {
		case slots <- struct{}{}:
		case <-b.done:
			return
		}
		d.whenResolved(func(res any, err error) { b.answerLater(ic, res, err) })
		return
	}
	b.answer(ic, res, err)
}

// maxDeferred bounds a connection's calls that returned a *Deferred and
// whose answer is not sent yet; the next call waits for one of them.
const maxDeferred = 256

type lateAnswer struct {
	ic  *inboundCall
	v   any
	err error
}

func (b *Broker) lateSlots() chan struct{} {
	b.lateMu.Lock()
	defer b.lateMu.Unlock()
	if b.deferSlots == nil {
		b.deferSlots = make(chan struct{}, maxDeferred)
	}
	return b.deferSlots
}

// answerLater queues a Deferred's answer for lateLoop, starting it if it
// is not running; it never blocks.
func (b *Broker) answerLater(ic *inboundCall, v any, err error) {
	b.lateMu.Lock()
	b.late = append(b.late, lateAnswer{ic, v, err})
	start := !b.lateRunning
	b.lateRunning = true
	b.lateMu.Unlock()
	if start {
		go b.lateLoop()
	}
}

// lateLoop sends the queued late answers, in the order they were resolved,
// until none is left. It waits only while the connection is up: once it is
// lost, answering fails at once.
func (b *Broker) lateLoop() {
	for {
		b.lateMu.Lock()
		batch := b.late
		b.late = nil
		if len(batch) == 0 {
			b.lateRunning = false
			b.lateMu.Unlock()
			return
		}
		slots := b.deferSlots
		b.lateMu.Unlock()
		for _, a := range batch {
			b.answer(a.ic, a.v, a.err)
			<-slots
		}
	}
}

// answer sends the outcome of an inbound call, if the caller wants one.
func (b *Broker) answer(ic *inboundCall, res any, err error) {
	if ic.reqID == 0 {
		if err != nil {
			b.log.Info("callRemoteOnly failed", "method", quote(ic.method), "err", err)
		}
		return
	}
	if err != nil {
		b.log.Debug("local call failed", "method", quote(ic.method), "err", err)
		b.sendReply(ic.reqID, nil, failureFor(err))
		return
	}
	b.sendReply(ic.reqID, res, nil)
}

// invoke calls the target, turning a panic into an error.
func (b *Broker) invoke(ctx context.Context, ic *inboundCall) (res any, err error) {
	defer func() {
		if p := recover(); p != nil {
			b.log.Error("panic in a remotely called method", "method", quote(ic.method), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			err = fmt.Errorf("internal error in remote method %s", quote(ic.method))
		}
	}()
	return ic.target.RemoteCall(ctx, &Call{Method: ic.method, Args: ic.args.args, Kwargs: ic.args.kwargs, Broker: b})
}
