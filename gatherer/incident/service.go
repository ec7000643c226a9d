package incident

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/gatherer/gatherer/gatherer/classify"
	"github.com/gatherer/gatherer/gatherer/metrics"
	"github.com/gatherer/gatherer/internal/atomicfile"
)

// Directory and file names below BASEDIR.
const (
	IncidentsDir  = "incidents"
	ClassifiedDir = "classified"
	LatestFile    = "latest"
	fileSuffix    = ".flog.bz2"
)

// Defaults for Options.
const (
	DefaultFetchTimeout = 2 * time.Minute
	DefaultMaxQueue     = 1000
	DefaultRetryMin     = 5 * time.Second
	DefaultRetryMax     = 5 * time.Minute
	// DefaultMaxConcurrentFetches: enough to keep every core busy with
	// nodes on the far side of a WAN, few enough that the incidents in
	// flight take a few MB.
	DefaultMaxConcurrentFetches = 16
	DefaultFetchSlotHold        = 10 * time.Second
)

// ErrClosed is returned by Logport after Close.
var ErrClosed = errors.New("incident gatherer is shut down")

// Classifier sorts an incident by its trigger event. *classify.Rules
// implements it.
type Classifier interface {
	Classify(trigger any) []string
}

// Options configure a Service.
type Options struct {
	// Dir is the gatherer's base directory (BASEDIR). Required.
	Dir string
	// Flog writes and reads incident files; nil means PyFlog.
	Flog Flog
	// Classifier sorts incidents; nil classifies everything as "unknown".
	Classifier Classifier
	// Logger receives the operator lines (Info, Python's texts) and
	// errors; nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// KeepDuplicates turns cross-tubid de-duplication off (Python's
	// behaviour: a node that comes back under a new tubid has all its
	// incidents fetched and classified again).
	KeepDuplicates bool
	// FetchTimeout bounds each subscribe_to_incidents and get_incident
	// call; 0 means DefaultFetchTimeout.
	FetchTimeout time.Duration
	// MaxQueue bounds the incidents waiting to be fetched per node; more
	// are logged and dropped (a later reconnection catches them up). 0
	// means DefaultMaxQueue.
	MaxQueue int
	// RetryMin and RetryMax bound the backoff between attempts at an
	// incident whose fetch or save failed (a timeout, a full disk): the
	// wait doubles from RetryMin up to RetryMax, and the incident is
	// retried for as long as the node stays connected (and offered again
	// when it reconnects, as latest never passes it). 0 means
	// DefaultRetryMin / DefaultRetryMax.
	RetryMin, RetryMax time.Duration
	// Create makes temporary files (a test seam); nil means the real
	// file system.
	Create atomicfile.CreateFunc
	// MaxConcurrentFetches bounds the incidents fetched (asked for,
	// received, decoded and written) at once across all nodes, so that
	// 500 nodes connecting together do not hold 500 decoded incidents in
	// memory: the answers wait in the nodes' sockets instead, as they do
	// for Python's single-threaded gatherer. A fetch that has not finished
	// after FetchSlotHold gives its place up and goes on outside the
	// bound, so nodes that never answer cannot stall the others. 0 means
	// DefaultMaxConcurrentFetches.
	MaxConcurrentFetches int
	// FetchSlotHold is how long a fetch keeps its place in the bound; 0
	// means DefaultFetchSlotHold.
	FetchSlotHold time.Duration
	// MaxConcurrentWrites bounds the incidents compressed at once across
	// all nodes (bzip2 is CPU-bound: more compressors than cores only add
	// their memory); writing the file to disk is not bounded by it. 0
	// means GOMAXPROCS.
	MaxConcurrentWrites int
	// Metrics receives the gatherer's own counters (connected nodes,
	// incidents, events and bytes stored, errors, fetch latency); nil
	// counts nothing.
	Metrics *metrics.Instruments
}

// Service is a running incident gatherer. Create it with New, call Start
// before accepting connections, feed it Logport calls, and Close it.
type Service struct {
	opts Options
	log  *slog.Logger

	fetchSlots chan struct{}      // one token per incident being fetched
	writeSlots chan struct{}      // one token per incident being compressed
	buffers    chan *bytes.Buffer // idle buffers for compressed incidents

	mu         sync.Mutex
	closed     bool
	sessions   map[string]*session
	held       map[string][]heldIncident       // incident name -> copies stored
	classified map[string]bool                 // relative paths listed in classified/*
	listed     map[string]map[string]bool      // category -> relative paths in its file
	appenders  map[string]*atomicfile.Appender // category -> its file's appender
	wg         sync.WaitGroup
}

type heldIncident struct {
	tubid       string
	fingerprint string
}

// New checks the options and returns a Service; it touches no files.
func New(opts Options) (*Service, error) {
	if opts.Dir == "" {
		return nil, errors.New("incident gatherer: no base directory given")
	}
	if opts.MaxConcurrentFetches <= 0 {
		opts.MaxConcurrentFetches = DefaultMaxConcurrentFetches
	}
	if opts.FetchSlotHold <= 0 {
		opts.FetchSlotHold = DefaultFetchSlotHold
	}
	if opts.MaxConcurrentWrites <= 0 {
		opts.MaxConcurrentWrites = runtime.GOMAXPROCS(0)
	}
	if opts.Flog == nil {
		opts.Flog = NewPyFlog(opts.MaxConcurrentWrites)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.FetchTimeout <= 0 {
		opts.FetchTimeout = DefaultFetchTimeout
	}
	if opts.MaxQueue <= 0 {
		opts.MaxQueue = DefaultMaxQueue
	}
	if opts.RetryMin <= 0 {
		opts.RetryMin = DefaultRetryMin
	}
	if opts.RetryMax <= 0 {
		opts.RetryMax = DefaultRetryMax
	}
	opts.RetryMax = max(opts.RetryMax, opts.RetryMin)
	if opts.Classifier == nil {
		opts.Classifier = (*classify.Rules)(nil)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{
		opts:       opts,
		log:        log,
		fetchSlots: make(chan struct{}, opts.MaxConcurrentFetches),
		writeSlots: make(chan struct{}, opts.MaxConcurrentWrites),
		buffers:    make(chan *bytes.Buffer, opts.MaxConcurrentFetches),
		sessions:   map[string]*session{},
		held:       map[string][]heldIncident{},
		classified: map[string]bool{},
		listed:     map[string]map[string]bool{},
		appenders:  map[string]*atomicfile.Appender{},
	}, nil
}

// Start prepares the directory and classifies stored incidents that no
// classified/ file lists yet, printing Python's lines. Call it once, before
// the Tub starts listening (Python's order).
func (s *Service) Start(ctx context.Context) error {
	if err := recoverClassified(s.opts.Dir); err != nil {
		return err
	}
	for _, d := range []string{IncidentsDir, ClassifiedDir} {
		if err := os.MkdirAll(filepath.Join(s.opts.Dir, d), 0o755); err != nil {
			return fmt.Errorf("create %s directory: %w", d, err)
		}
	}
	s.log.Info("classifying stored incidents")
	listed, err := readClassified(s.opts.Dir)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.listed = listed
	for _, rels := range listed {
		for rel := range rels {
			s.classified[rel] = true
		}
	}
	n := len(s.classified)
	s.mu.Unlock()
	s.log.Info(fmt.Sprintf("%d incidents already classified", n))

	count := 0
	good := map[string][]string{}    // tubid -> readable stored incidents
	damaged := map[string][]string{} // tubid -> unreadable ones
	err = walkStored(ctx, s.opts.Dir, s.opts.Flog, s.log, func(st stored) error {
		good[st.tubid] = append(good[st.tubid], st.name)
		s.mu.Lock()
		s.remember(st.name, st.tubid, fingerprint(st.trigger))
		done := s.classified[st.rel]
		s.mu.Unlock()
		if done {
			return nil
		}
		if _, err := s.classifyAndRecord(st.rel, st.trigger); err != nil {
			return err
		}
		count++
		return nil
	}, func(tubid, name string) { damaged[tubid] = append(damaged[tubid], name) })
	if err != nil {
		return err
	}
	for tubid, names := range damaged {
		nodedir := filepath.Join(s.opts.Dir, IncidentsDir, tubid)
		for _, name := range names {
			if err := setAside(nodedir, name, good[tubid], s.opts.Create, s.log); err != nil {
				return err
			}
		}
	}
	s.log.Info(fmt.Sprintf("done classifying %d stored incidents", count))
	return nil
}

// Logport handles logport(nodeid, publisher). It returns at once; the
// session with the node runs until ctx (the connection's lifetime) ends or
// the Service is closed. nodeid is ignored, as in Python: the directory is
// named after the authenticated tubid.
func (s *Service) Logport(ctx context.Context, nodeid any, pub Publisher) error {
	_ = nodeid
	tubid := pub.TubID()
	if err := ValidTubID(tubid); err != nil {
		s.log.Error("refusing logport", "err", err)
		return fmt.Errorf("logport: %w", err)
	}
	sctx, cancel := context.WithCancel(ctx)
	sess := newSession(s, tubid, pub, cancel)

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		cancel()
		return ErrClosed
	}
	prev := s.sessions[tubid]
	if prev != nil {
		// The node reconnected: the old connection is gone or going.
		prev.cancel()
	}
	s.sessions[tubid] = sess
	s.wg.Add(1)
	s.mu.Unlock()

	go func() {
		defer s.wg.Done()
		defer cancel()
		if prev != nil {
			select {
			case <-prev.done:
			case <-sctx.Done():
			}
		}
		sess.run(sctx)
		close(sess.done)
		s.mu.Lock()
		if s.sessions[tubid] == sess {
			delete(s.sessions, tubid)
		}
		s.mu.Unlock()
	}()
	return nil
}

// Close stops every session and waits for their goroutines, or for ctx.
func (s *Service) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	for _, sess := range s.sessions {
		sess.cancel()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("incident gatherer: waiting for node sessions to stop: %w", ctx.Err())
	}
}

// backoff is the wait before attempt number attempt+1 at a failed incident.
func (s *Service) backoff(attempt int) time.Duration {
	d := s.opts.RetryMin
	for i := 1; i < attempt && d < s.opts.RetryMax; i++ {
		d *= 2
	}
	return min(d, s.opts.RetryMax)
}

// remember notes a stored copy; s.mu must be held.
func (s *Service) remember(name, tubid, fp string) {
	for _, h := range s.held[name] {
		if h.tubid == tubid {
			return
		}
	}
	s.held[name] = append(s.held[name], heldIncident{tubid: tubid, fingerprint: fp})
}

// heldElsewhere returns the tubid of another copy of the same incident.
func (s *Service) heldElsewhere(name, tubid, fp string) (string, bool) {
	if s.opts.KeepDuplicates {
		return "", false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range s.held[name] {
		if h.tubid != tubid && h.fingerprint == fp {
			return h.tubid, true
		}
	}
	return "", false
}

// classifyAndRecord classifies one stored incident, appends its path to each
// category file that does not list it yet, and prints Python's line. The
// categories to write are claimed under s.mu and written outside it: an
// fsync must not stall every other node's session, and concurrent
// incidents of one category share one fsync (atomicfile.Appender).
func (s *Service) classifyAndRecord(rel string, trigger any) ([]string, error) {
	cats := s.opts.Classifier.Classify(trigger)
	for _, c := range cats {
		if err := classify.ValidCategory(c); err != nil {
			return nil, fmt.Errorf("classifier returned a bad category: %w", err)
		}
	}
	var claimed []string
	var files []*atomicfile.Appender
	s.mu.Lock()
	for _, c := range cats {
		if s.listed[c][rel] {
			continue
		}
		if s.listed[c] == nil {
			s.listed[c] = map[string]bool{}
		}
		s.listed[c][rel] = true
		claimed = append(claimed, c)
		files = append(files, s.appenderLocked(c))
	}
	s.mu.Unlock()
	line := []byte(rel + "\n")
	for i, a := range files {
		if err := a.Append(line); err != nil {
			s.mu.Lock()
			for _, c := range claimed[i:] {
				delete(s.listed[c], rel)
			}
			s.mu.Unlock()
			return nil, fmt.Errorf("record classification: %w", err)
		}
	}
	s.mu.Lock()
	s.classified[rel] = true
	s.mu.Unlock()
	s.log.Info(fmt.Sprintf("classified %s as [%s]", rel, strings.Join(cats, ",")))
	return cats, nil
}

// appenderLocked returns the Appender of category c's file; s.mu is held.
func (s *Service) appenderLocked(c string) *atomicfile.Appender {
	a, ok := s.appenders[c]
	if !ok {
		a = atomicfile.NewAppender(filepath.Join(s.opts.Dir, ClassifiedDir, c))
		s.appenders[c] = a
	}
	return a
}

// maxIdleBuffer is the largest buffer kept for reuse; a rare huge incident
// does not pin its memory afterwards.
const maxIdleBuffer = 1 << 20

// buffer returns an empty buffer for one compressed incident.
func (svc *Service) buffer() *bytes.Buffer {
	select {
	case b := <-svc.buffers:
		return b
	default:
		return new(bytes.Buffer)
	}
}

// giveBack keeps b for reuse unless it is large or enough are idle.
func (svc *Service) giveBack(b *bytes.Buffer) {
	if b.Cap() > maxIdleBuffer {
		return
	}
	b.Reset()
	select {
	case svc.buffers <- b:
	default:
	}
}

// fetchSlot waits for a place among the fetches in flight and returns the
// function that gives it up (idempotent; called at the latest after
// FetchSlotHold, whatever the fetch is doing). ok is false if ctx ended
// first.
func (svc *Service) fetchSlot(ctx context.Context) (release func(), ok bool) {
	select {
	case svc.fetchSlots <- struct{}{}:
	case <-ctx.Done():
		return nil, false
	}
	free := sync.OnceFunc(func() { <-svc.fetchSlots })
	t := time.AfterFunc(svc.opts.FetchSlotHold, free)
	return func() {
		t.Stop()
		free()
	}, true
}
