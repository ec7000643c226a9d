package check

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gatherer/gatherer/foolscap/furl"
	"github.com/gatherer/gatherer/foolscap/negotiate"
)

// DefaultTimeout bounds each hint's connection attempt and each call.
const DefaultTimeout = 10 * time.Second

// Options configures a probe.
type Options struct {
	// Timeout bounds each hint's resolve, connect and negotiation, and each
	// later call or wait; zero means DefaultTimeout.
	Timeout time.Duration
	// PublishTestIncident makes the probe act as a node and send one
	// synthetic incident (or event), which stays on the gatherer.
	PublishTestIncident bool
	// Logger receives debug records; nil discards them.
	Logger *slog.Logger
	// Rand supplies randomness (incarnation, incident name); nil means
	// crypto/rand.
	Rand io.Reader
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Dial opens TCP connections; nil uses a net.Dialer.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// LookupHost resolves a hint's host; nil uses net.DefaultResolver.
	LookupHost func(ctx context.Context, host string) ([]string, error)
	// Identity is the probe's Tub identity; nil makes a fresh one (the
	// throwaway Tub). Benchmarks pass one to leave key generation out.
	Identity *negotiate.Identity
	// PID is the process id put in the test incident's header; zero means
	// os.Getpid().
	PID int
	// Version is put in the test incident's versions dict.
	Version string
}

func (o *Options) fill() {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Rand == nil {
		o.Rand = crand.Reader
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Dial == nil {
		var d net.Dialer
		o.Dial = d.DialContext
	}
	if o.LookupHost == nil {
		o.LookupHost = net.DefaultResolver.LookupHost
	}
	if o.PID == 0 {
		o.PID = os.Getpid()
	}
	if o.Version == "" {
		o.Version = "devel"
	}
}

// identityResult is the throwaway identity, made while the hints connect.
type identityResult struct {
	local negotiate.Local
	err   error
}

// Probe checks the gatherer named by furlStr and reports every step. It
// never returns an error: failures are the report's Code and Verdict.
func Probe(ctx context.Context, furlStr string, opts Options) *Report {
	opts.fill()
	start := opts.Now()
	rep := &Report{}
	defer func() { rep.Total = Millis(opts.Now().Sub(start)) }()

	f, err := furl.Parse(furlStr)
	if err != nil {
		rep.Code = BadFURL
		rep.Verdict = fmt.Sprintf("bad FURL: %v", err)
		return rep
	}
	rep.FURL = f.Redacted()
	rep.TubID = f.TubID
	if len(f.Hints) == 0 {
		rep.Code = BadFURL
		rep.Verdict = "bad FURL: it has no connection hints, so the gatherer cannot be reached"
		return rep
	}

	// The key takes tens of milliseconds to make: do it while the hints
	// resolve and connect.
	idc := make(chan identityResult, 1)
	var idwg sync.WaitGroup
	idwg.Go(func() { idc <- makeLocal(opts) })
	identity := sync.OnceValue(func() identityResult { return <-idc })
	defer idwg.Wait()

	results := make([]HintResult, len(f.Hints))
	conns := make([]*negotiate.Result, len(f.Hints))
	var wg sync.WaitGroup
	for i, h := range f.Hints {
		wg.Go(func() {
			results[i], conns[i] = probeHint(ctx, f.TubID, h, identity, opts)
		})
	}
	wg.Wait()
	rep.Hints = results
	ident := identity() // consumed even when no hint needed it

	var win *negotiate.Result
	for i, r := range results {
		if r.OK && win == nil {
			win = conns[i]
			rep.UsedHint = r.Hint
			continue
		}
		if conns[i] != nil {
			conns[i].Conn.Close()
		}
	}
	if win == nil {
		rep.Code, rep.Verdict = hintsVerdict(results)
		return rep
	}
	probeObject(ctx, f, win, ident.local, rep, opts)
	return rep
}

func makeLocal(opts Options) identityResult {
	id := opts.Identity
	if id == nil {
		var err error
		if id, err = negotiate.NewEphemeralIdentity(opts.Rand, opts.Now()); err != nil {
			return identityResult{err: fmt.Errorf("making a throwaway Tub identity: %w", err)}
		}
	}
	inc, err := negotiate.NewIncarnation(opts.Rand)
	if err != nil {
		return identityResult{err: err}
	}
	return identityResult{local: negotiate.Local{Identity: id, Incarnation: inc}}
}

// hintsVerdict sums up hints that all failed.
func hintsVerdict(results []HintResult) (Code, string) {
	best := -1
	for i, r := range results {
		if best < 0 || r.Code.rank() > results[best].Code.rank() {
			best = i
		}
	}
	r := results[best]
	why := ""
	if n := len(r.Steps); n > 0 {
		why = r.Steps[n-1].Detail
	}
	prefix := r.Code.String()
	if len(results) == 1 {
		return r.Code, fmt.Sprintf("%s: %s", prefix, why)
	}
	return r.Code, fmt.Sprintf("%s: no hint got through; hint %s: %s", prefix, r.Hint, why)
}

// hintRun records the steps of one hint.
type hintRun struct {
	res  HintResult
	now  func() time.Time
	mark time.Time
}

func (h *hintRun) step(name string, ok bool, detail string) {
	t := h.now()
	h.res.Steps = append(h.res.Steps, Step{Name: name, OK: ok, Elapsed: Millis(t.Sub(h.mark)), Detail: detail})
	h.mark = t
}

// stepAt records a step that ended at t (zero: now).
func (h *hintRun) stepAt(name string, t time.Time, ok bool, detail string) {
	if t.IsZero() || t.Before(h.mark) {
		t = h.now()
	}
	h.res.Steps = append(h.res.Steps, Step{Name: name, OK: ok, Elapsed: Millis(t.Sub(h.mark)), Detail: detail})
	h.mark = t
}

func (h *hintRun) fail(code Code) (HintResult, *negotiate.Result) {
	h.res.Code = code
	return h.res, nil
}

// probeHint resolves, connects and negotiates on one hint.
func probeHint(ctx context.Context, tubID string, h furl.Hint, identity func() identityResult, opts Options) (HintResult, *negotiate.Result) {
	run := &hintRun{res: HintResult{Hint: h.String()}, now: opts.Now, mark: opts.Now()}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()

	if err := h.Err(); err != nil {
		run.step(StepParse, false, fmt.Sprintf("bad hint: %v", err))
		return run.fail(BadFURL)
	}
	if _, err := h.DialAddress(); err != nil {
		run.step(StepParse, false, fmt.Sprintf("hint cannot be used: %v", err))
		return run.fail(Unreachable)
	}
	addrs, err := resolve(ctx, h.Host, opts)
	if err != nil {
		run.step(StepResolve, false, describeNetError(ctx, "resolving "+h.Host, err, opts.Timeout))
		return run.fail(Unreachable)
	}
	run.step(StepResolve, true, joinAddrs(addrs))

	var conn net.Conn
	var errs []string
	for _, a := range addrs {
		addr := net.JoinHostPort(a, fmt.Sprint(h.Port))
		run.res.Address = addr
		c, err := opts.Dial(ctx, "tcp", addr)
		if err == nil {
			conn = c
			break
		}
		errs = append(errs, describeNetError(ctx, addr, err, opts.Timeout))
		if ctx.Err() != nil {
			break
		}
	}
	if conn == nil {
		run.step(StepConnect, false, joinErrs(errs))
		return run.fail(Unreachable)
	}
	run.step(StepConnect, true, run.res.Address)

	id := identity()
	if id.err != nil {
		conn.Close()
		run.step(StepNegotiate, false, id.err.Error())
		return run.fail(ProtocolError)
	}
	run.mark = opts.Now() // key generation is not the server's time
	sc := &stepConn{Conn: conn, now: opts.Now}
	res, err := negotiate.Connect(ctx, sc, negotiate.ConnectConfig{
		Local:       id.local,
		TargetTubID: tubID,
		Host:        h.HostHeader(),
		Logger:      opts.Logger,
	})
	replyAt, appAt := sc.marks()
	if err != nil {
		return negotiationFailure(ctx, run, err, replyAt, appAt, tubID, opts.Timeout)
	}
	run.stepAt(StepNegotiate, replyAt, true, "101 Switching Protocols")
	run.stepAt(StepTLS, appAt, true, tlsVersion(res.TLS.Version))
	run.res.Steps = append(run.res.Steps, Step{Name: StepTubID, OK: true, Detail: "certificate matches the FURL's tubid"})
	run.step(StepHello, true, fmt.Sprintf("banana vocab table %d", res.VocabIndex))
	run.res.OK = true
	return run.res, res
}

func resolve(ctx context.Context, host string, opts Options) ([]string, error) {
	if ip := net.ParseIP(host); ip != nil {
		return []string{host}, nil
	}
	if _, _, ok := cutZone(host); ok {
		return []string{host}, nil
	}
	addrs, err := opts.LookupHost(ctx, host)
	if err != nil {
		return nil, err
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("%s has no addresses", host)
	}
	return addrs, nil
}

// cutZone splits an IPv6 literal with a zone ("fe80::1%eth0").
func cutZone(host string) (string, string, bool) {
	for i := len(host) - 1; i >= 0; i-- {
		if host[i] == '%' {
			if net.ParseIP(host[:i]) != nil {
				return host[:i], host[i+1:], true
			}
			return "", "", false
		}
	}
	return "", "", false
}

// negotiationFailure turns a negotiate.Connect error into the failed step
// and the hint's verdict.
func negotiationFailure(ctx context.Context, run *hintRun, err error, replyAt, appAt time.Time, tubID string, timeout time.Duration) (HintResult, *negotiate.Result) {
	var ne *negotiate.Error
	phase := ""
	if errors.As(err, &ne) {
		phase = ne.Phase
	}
	if phase == "" {
		// Cancelled or timed out: the phase is the first mark not reached.
		switch {
		case replyAt.IsZero():
			phase = "plaintext"
		case appAt.IsZero():
			phase = "tls"
		default:
			phase = "hello"
		}
	}
	timedOut := ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || isTimeout(err)
	switch phase {
	case "plaintext":
		switch {
		case timedOut:
			run.step(StepNegotiate, false, fmt.Sprintf("the server accepted the connection but sent no answer to the Foolscap request within %s", timeout))
			return run.fail(Unreachable)
		case errors.Is(err, negotiate.ErrRefused) && isUnknownTubID(ne):
			run.step(StepNegotiate, false, fmt.Sprintf("a Foolscap server answered, but it has no Tub with the FURL's tubid %s: %s", tubID, ne.Detail))
			return run.fail(WrongIdentity)
		case errors.Is(err, negotiate.ErrRefused), errors.Is(err, negotiate.ErrMalformed), errors.Is(err, negotiate.ErrHeaderTooLong):
			run.step(StepNegotiate, false, "not a Foolscap server: "+detailOf(ne, err))
			return run.fail(ProtocolError)
		}
		run.step(StepNegotiate, false, "not a Foolscap server: the connection ended before a Foolscap answer: "+detailOf(ne, err))
		return run.fail(ProtocolError)
	case "tls":
		run.stepAt(StepNegotiate, replyAt, true, "101 Switching Protocols")
		if errors.Is(err, negotiate.ErrWrongTubID) {
			run.step(StepTLS, true, "the server sent its certificate")
			run.res.Steps = append(run.res.Steps, Step{Name: StepTubID, OK: false, Detail: wrongTubIDText(err)})
			return run.fail(WrongIdentity)
		}
		if timedOut {
			run.step(StepTLS, false, fmt.Sprintf("no TLS handshake within %s", timeout))
			return run.fail(Unreachable)
		}
		cause := err.Error()
		if ne != nil {
			cause = strings.TrimPrefix(ne.Err.Error(), negotiate.ErrTLS.Error()+": ")
		}
		run.step(StepTLS, false, "the server answered 101 but the TLS handshake failed: "+cause)
		return run.fail(ProtocolError)
	}
	run.stepAt(StepNegotiate, replyAt, true, "101 Switching Protocols")
	run.stepAt(StepTLS, appAt, true, "handshake done")
	run.res.Steps = append(run.res.Steps, Step{Name: StepTubID, OK: true, Detail: "certificate matches the FURL's tubid"})
	if timedOut {
		run.step(StepHello, false, fmt.Sprintf("no Foolscap hello or decision within %s", timeout))
		return run.fail(Unreachable)
	}
	run.step(StepHello, false, "the Foolscap hello exchange failed: "+innerText(ne, err))
	return run.fail(ProtocolError)
}

// isUnknownTubID recognises python-foolscap's (and our Tub's) refusal of a
// tubid it does not serve: "HTTP/1.1 500 Internal Server Error: unknown
// TubID ...". negotiate keeps the reply line only in Detail.
func isUnknownTubID(ne *negotiate.Error) bool {
	return ne != nil && strings.Contains(ne.Detail, " 500 ") && strings.Contains(ne.Detail, "unknown TubID")
}

func wrongTubIDText(err error) string {
	// negotiate's text: "...: expected X, peer's certificate hashes to Y".
	s := err.Error()
	if i := strings.LastIndex(s, "expected "); i >= 0 {
		return "the server's certificate does not match the FURL: " + s[i:]
	}
	return s
}

func detailOf(ne *negotiate.Error, err error) string {
	if ne != nil && ne.Detail != "" {
		return ne.Detail
	}
	return err.Error()
}

// innerText is a negotiation error without negotiate's "failed in the X
// phase" preamble, which the step name already says.
func innerText(ne *negotiate.Error, err error) string {
	if ne == nil {
		return err.Error()
	}
	if ne.Detail != "" {
		return ne.Detail + ": " + ne.Err.Error()
	}
	return ne.Err.Error()
}

func tlsVersion(v uint16) string {
	switch v {
	case 0x0303:
		return "TLS 1.2"
	case 0x0304:
		return "TLS 1.3"
	}
	return fmt.Sprintf("TLS version 0x%04x", v)
}
