package stats

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gatherer/gatherer/gatherer/metrics"
)

// Names of the files in a stats gatherer directory.
const (
	StatsFile    = "stats.json"          // the collected stats, Tahoe's format
	WebNodesFile = "web_nodes"           // node web URLs to poll over HTTP (ours)
	FURLFile     = "stats_gatherer.furl" // FURL of the gatherer object (written by the Tub)
	KeyFile      = "stats_gatherer.pem"  // the Tub's key and certificate
	LocationFile = "location"            // connection hints, "tcp:HOST:PORT"
	PortFile     = "port"                // listen spec, "tcp:PORT"
	TacFile      = "tahoe-stats-gatherer.tac"
)

// Remote interface names of Tahoe's stats protocol (Tahoe <= 1.15.1).
const (
	// GathererInterface is the name the gatherer object is published under;
	// it has one method, provide(provider, nickname).
	GathererInterface = "RIStatsGatherer.tahoe.allmydata.com"
	// ProviderInterface is the name of the node's provider reference; it has
	// one method, get_stats().
	ProviderInterface = "RIStatsProvider.tahoe.allmydata.com"
)

// Defaults of Options.
const (
	DefaultPollInterval  = 60 * time.Second // Tahoe's poll_interval
	DefaultCallTimeout   = 30 * time.Second
	DefaultMaxConcurrent = 32
	DefaultWriteDelay    = time.Second
	DefaultMaxKeys       = 10000
	DefaultMaxBodyBytes  = 1 << 20
	// maxNicknameBytes bounds a nickname; Tahoe's are a few words.
	maxNicknameBytes = 1024
	// maxStatsFileBytes bounds stats.json read at start-up.
	maxStatsFileBytes = 256 << 20
)

// ErrProviderGone is what a Provider adapter wraps when get_stats() failed
// because the connection is gone (pb.DeadReferenceError). The provider is
// dropped as for any failure, but quietly, as Tahoe did.
var ErrProviderGone = errors.New("stats provider connection is gone")

// ErrNoTubID is returned by Provide for a provider without an authenticated
// tubid (Tahoe refused these too).
var ErrNoTubID = errors.New("stats provider has no authenticated tubid")

// Provider is a connected RIStatsProvider reference, as seen by the
// gatherer. The Foolscap layer adapts its remote references to it.
type Provider interface {
	// TubID is the tubid of the node's main Tub, the key of its entry.
	TubID() string
	// GetStats calls get_stats() and returns the answer in the banana value
	// model. It must return when ctx ends.
	GetStats(ctx context.Context) (any, error)
	// NotifyOnDisconnect arranges for f to be called once when the
	// connection is lost; cancel undoes it.
	NotifyOnDisconnect(f func()) (cancel func())
}

// Options configure a Service. Only Dir is required.
type Options struct {
	// Dir is the stats gatherer directory (see Create).
	Dir string
	// PollInterval is the time between two polls of every node (default
	// 60 s). A new provider is also polled at once.
	PollInterval time.Duration
	// CallTimeout bounds one get_stats() call or one HTTP poll (default
	// 30 s). A call that times out is counted and retried next round; the
	// provider is kept.
	CallTimeout time.Duration
	// MaxConcurrent bounds the polls in progress at once (default 32).
	MaxConcurrent int
	// StaleAfter is the age after which an entry is reported stale even if
	// its node is still connected (default 5 poll intervals, the 300 s
	// Tahoe's munin plugin used).
	StaleAfter time.Duration
	// WriteDelay is how long answers are collected before stats.json is
	// rewritten (default 1 s), so a round of many answers costs one write.
	WriteDelay time.Duration
	// MaxKeys bounds the number of values accepted from one node (default
	// 10000).
	MaxKeys int
	// MaxBodyBytes bounds an HTTP /statistics body (default 1 MiB).
	MaxBodyBytes int64
	// HTTPClient polls web nodes (default: a client with no timeout of its
	// own; CallTimeout applies).
	HTTPClient *http.Client
	// Now is the clock for entry timestamps (default time.Now).
	Now func() time.Time
	// Logger receives operational messages (nil discards).
	Logger *slog.Logger
	// Metrics counts connected nodes, errors, bytes written and fetch
	// latency (nil: not counted).
	Metrics *metrics.Instruments
}

// Service is a stats gatherer: it keeps the providers that called provide(),
// polls them and the configured web nodes, and keeps stats.json up to date.
// Its methods are safe for concurrent use.
type Service struct {
	dir        string
	interval   time.Duration
	timeout    time.Duration
	staleAfter time.Duration
	writeDelay time.Duration
	maxKeys    int
	maxBody    int64
	client     *http.Client
	now        func() time.Time
	log        *slog.Logger
	m          *metrics.Instruments

	sem   chan struct{} // one token per poll in progress
	wake  chan struct{} // a provider arrived (pending is not empty)
	dirty chan struct{} // entries changed since the last write

	writeMu sync.Mutex // serialises writes of stats.json

	mu        sync.Mutex
	entries   map[string]*entry // by id; an entry is never modified once stored
	providers map[string]*providerState
	pending   map[string]struct{} // tubids to poll at once
	web       map[string]*webState
	webFile   []byte // content of web_nodes at the last read
	gen       uint64
	version   uint64 // bumped on every change of entries
	written   uint64 // version last written to stats.json
}

type providerState struct {
	p        Provider
	tubid    string
	nickname string
	gen      uint64
	cancel   func() // stops the disconnect notification
	inflight bool
}

// New opens a stats gatherer directory: it removes a leftover
// stats.json.tmp and loads stats.json if present, so entries of nodes that
// never come back stay, with their old timestamps, as in Tahoe. A corrupt
// stats.json is an error (Tahoe refused to start too).
func New(opts Options) (*Service, error) {
	if opts.Dir == "" {
		return nil, errors.New("stats: no gatherer directory given")
	}
	fi, err := os.Stat(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("stats: gatherer directory: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("stats: %s is not a directory", opts.Dir)
	}
	s := &Service{
		dir:        opts.Dir,
		interval:   opts.PollInterval,
		timeout:    opts.CallTimeout,
		staleAfter: opts.StaleAfter,
		writeDelay: opts.WriteDelay,
		maxKeys:    opts.MaxKeys,
		maxBody:    opts.MaxBodyBytes,
		client:     opts.HTTPClient,
		now:        opts.Now,
		log:        opts.Logger,
		m:          opts.Metrics,
		wake:       make(chan struct{}, 1),
		dirty:      make(chan struct{}, 1),
		entries:    make(map[string]*entry),
		providers:  make(map[string]*providerState),
		pending:    make(map[string]struct{}),
		web:        make(map[string]*webState),
	}
	if s.interval <= 0 {
		s.interval = DefaultPollInterval
	}
	if s.timeout <= 0 {
		s.timeout = DefaultCallTimeout
	}
	if s.staleAfter <= 0 {
		s.staleAfter = 5 * s.interval
	}
	if s.writeDelay <= 0 {
		s.writeDelay = DefaultWriteDelay
	}
	if s.maxKeys <= 0 {
		s.maxKeys = DefaultMaxKeys
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	if s.client == nil {
		s.client = &http.Client{}
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	n := opts.MaxConcurrent
	if n <= 0 {
		n = DefaultMaxConcurrent
	}
	s.sem = make(chan struct{}, n)

	if err := removeTemp(s.dir, StatsFile); err != nil {
		return nil, fmt.Errorf("stats: %w", err)
	}
	if err := s.load(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Service) load() error {
	path := filepath.Join(s.dir, StatsFile)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stats: error while attempting to load stats file %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stats: error while attempting to load stats file %s: %w", path, err)
	}
	if fi.Size() > maxStatsFileBytes {
		return fmt.Errorf("stats: error while attempting to load stats file %s: larger than %d bytes", path, maxStatsFileBytes)
	}
	data := make([]byte, fi.Size())
	if _, err := io.ReadFull(f, data); err != nil {
		return fmt.Errorf("stats: error while attempting to load stats file %s: %w", path, err)
	}
	list, err := decodeStatsFile(data, s.maxKeys)
	if err != nil {
		return fmt.Errorf("stats: error while attempting to load stats file %s: %w (move it away to start afresh)", path, err)
	}
	for _, e := range list {
		s.entries[e.id] = e
	}
	s.log.Info("loaded stats file", "file", path, "entries", len(list))
	return nil
}

// Provide is the gatherer's provide(provider, nickname) method: it records
// the provider under its tubid (replacing an earlier one from the same
// tubid), asks the running service to poll it at once, and arranges for it
// to be forgotten when its connection drops. The nickname may be bytes
// (Python 2 Tahoe; decoded as UTF-8), str or None. Provide does not wait for
// the network: it is safe to call from a connection's dispatch goroutine.
func (s *Service) Provide(ctx context.Context, p Provider, nickname any) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if p == nil {
		return errors.New("stats: provide() without a provider reference")
	}
	nick, err := decodeNickname(nickname)
	if err != nil {
		return fmt.Errorf("stats: provide(): %w", err)
	}
	tubid := p.TubID()
	if tubid == "" || tubid == "<unauth>" {
		return fmt.Errorf("stats: provide() from %s: %w", quote(nick), ErrNoTubID)
	}

	s.mu.Lock()
	s.gen++
	ps := &providerState{p: p, tubid: tubid, nickname: nick, gen: s.gen}
	var oldCancel func()
	if old := s.providers[tubid]; old != nil {
		oldCancel, old.cancel = old.cancel, nil
	}
	s.providers[tubid] = ps
	s.pending[tubid] = struct{}{}
	connected := len(s.providers)
	s.mu.Unlock()

	if oldCancel != nil {
		oldCancel()
	}
	s.m.SetConnectedNodes(connected)
	s.log.Info("stats provider connected", "nickname", truncate(nick), "tubid", tubid)

	gen := ps.gen
	cancel := p.NotifyOnDisconnect(func() { s.dropProvider(tubid, gen, nil) })
	s.mu.Lock()
	if s.providers[tubid] == ps {
		ps.cancel = cancel
		cancel = nil
	}
	s.mu.Unlock()
	if cancel != nil {
		cancel() // already replaced or disconnected
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// decodeNickname accepts the nickname as bytes (UTF-8), str or None.
func decodeNickname(v any) (string, error) {
	var s string
	switch v := v.(type) {
	case nil:
		return "", nil
	case []byte:
		s = string(v)
	case string:
		s = v
	default:
		return "", fmt.Errorf("nickname is a %s, want bytes or str", pyType(v))
	}
	if len(s) > maxNicknameBytes {
		return "", fmt.Errorf("nickname longer than %d bytes", maxNicknameBytes)
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return s, nil
}

// dropProvider forgets the provider of generation gen, if it is still the
// current one for tubid. cause is nil for a disconnection.
func (s *Service) dropProvider(tubid string, gen uint64, cause error) {
	s.mu.Lock()
	ps := s.providers[tubid]
	if ps == nil || ps.gen != gen {
		s.mu.Unlock()
		return
	}
	delete(s.providers, tubid)
	delete(s.pending, tubid)
	cancel := ps.cancel
	ps.cancel = nil
	connected := len(s.providers)
	s.mu.Unlock()

	s.m.SetConnectedNodes(connected)
	if cause == nil {
		s.log.Info("stats provider disconnected", "nickname", truncate(ps.nickname), "tubid", tubid)
		return
	}
	if cancel != nil {
		cancel()
	}
}

// Run polls every provider and web node at once and then every poll
// interval, polls new providers as they arrive, and rewrites stats.json
// after answers come in. It returns when ctx ends, after its polls have
// finished and stats.json has been written a last time: with ctx.Err(), or
// the error of that last write. Run must not be called twice at once.
func (s *Service) Run(ctx context.Context) error {
	var polls sync.WaitGroup
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		s.writeLoop(ctx)
	}()
	s.startPolls(ctx, &polls, true)
	tick := time.NewTicker(s.interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			polls.Wait()
			<-writerDone
			if err := s.flush(); err != nil {
				return err
			}
			return ctx.Err()
		case <-tick.C:
			s.startPolls(ctx, &polls, true)
		case <-s.wake:
			s.startPolls(ctx, &polls, false)
		}
	}
}

// Poll polls every provider and web node once, waits for the answers (or
// their timeouts) and writes stats.json. Nodes whose poll is already in
// progress (by Run) are skipped.
func (s *Service) Poll(ctx context.Context) error {
	var polls sync.WaitGroup
	s.startPolls(ctx, &polls, true)
	polls.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.flush()
}

// startPolls starts one goroutine per node to poll, each added to wg. With
// all, every provider and web node is polled (and web_nodes is re-read);
// otherwise only providers waiting for their first poll.
func (s *Service) startPolls(ctx context.Context, wg *sync.WaitGroup, all bool) {
	if all {
		s.readWebNodes()
	}
	var provs []*providerState
	var webs []*webState
	s.mu.Lock()
	for tubid, ps := range s.providers {
		if _, pending := s.pending[tubid]; !all && !pending {
			continue
		}
		if !ps.inflight {
			ps.inflight = true
			provs = append(provs, ps)
		}
	}
	clear(s.pending)
	if all {
		for _, ws := range s.web {
			if !ws.inflight {
				ws.inflight = true
				webs = append(webs, ws)
			}
		}
	}
	s.mu.Unlock()
	for _, ps := range provs {
		wg.Go(func() { s.pollProvider(ctx, ps) })
	}
	for _, ws := range webs {
		wg.Go(func() { s.pollWeb(ctx, ws) })
	}
}

// acquire takes a poll slot; false if ctx ended first.
func (s *Service) acquire(ctx context.Context) bool {
	select {
	case s.sem <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (s *Service) release() { <-s.sem }

func (s *Service) pollProvider(ctx context.Context, ps *providerState) {
	defer func() {
		s.mu.Lock()
		ps.inflight = false
		s.mu.Unlock()
	}()
	if !s.acquire(ctx) {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	start := time.Now()
	ans, err := ps.p.GetStats(cctx)
	s.m.ObserveFetch(time.Since(start))
	timedOut := errors.Is(cctx.Err(), context.DeadlineExceeded)
	cancel()
	s.release()
	log := s.log.With("nickname", truncate(ps.nickname), "tubid", ps.tubid)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return // shutting down; not the provider's fault
	case timedOut:
		s.m.Error("get_stats_timeout")
		log.Warn("get_stats() timed out; will ask again next round", "timeout", s.timeout)
		return
	case errors.Is(err, ErrProviderGone):
		s.m.Error("get_stats")
		log.Info("provider gone during get_stats(); dropped until it calls provide() again")
		s.dropProvider(ps.tubid, ps.gen, err)
		return
	default:
		s.m.Error("get_stats")
		log.Warn("error in get_stats(); provider dropped until it calls provide() again", "err", err)
		s.dropProvider(ps.tubid, ps.gen, err)
		return
	}
	cats, err := fromAnswer(ans, s.maxKeys)
	if err != nil {
		s.m.Error("malformed_stats")
		log.Warn("skipping a malformed get_stats() answer", "err", err)
		return
	}
	s.store(&entry{id: ps.tubid, nickname: ps.nickname, timestamp: s.unixNow(), stats: cats})
}

// unixNow is time.time(): Unix seconds as a float.
func (s *Service) unixNow() float64 {
	t := s.now()
	return float64(t.Unix()) + float64(t.Nanosecond())/1e9
}

// store records a new entry and asks for a write.
func (s *Service) store(e *entry) {
	s.mu.Lock()
	s.entries[e.id] = e
	s.version++
	s.mu.Unlock()
	select {
	case s.dirty <- struct{}{}:
	default:
	}
}

// writeLoop writes stats.json WriteDelay after a change, until ctx ends.
func (s *Service) writeLoop(ctx context.Context) {
	t := time.NewTimer(s.writeDelay)
	t.Stop()
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.dirty:
		}
		t.Reset(s.writeDelay)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.flush(); err != nil {
			s.log.Error("cannot write the stats file", "err", err)
		}
	}
}

// flush writes stats.json if entries changed since the last write.
func (s *Service) flush() error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.mu.Lock()
	if s.version == s.written {
		s.mu.Unlock()
		return nil
	}
	v := s.version
	list := s.sortedEntries()
	s.mu.Unlock()

	data := encodeStatsFile(list)
	if err := writeFileAtomic(s.dir, StatsFile, data, 0o644); err != nil {
		s.m.Error("write_stats")
		return fmt.Errorf("stats: %w", err)
	}
	s.m.AddBytesWritten(len(data))
	s.mu.Lock()
	s.written = max(s.written, v)
	s.mu.Unlock()
	return nil
}

// sortedEntries lists the entries by id; s.mu must be held.
func (s *Service) sortedEntries() []*entry {
	list := make([]*entry, 0, len(s.entries))
	for _, e := range s.entries {
		list = append(list, e)
	}
	slices.SortFunc(list, func(a, b *entry) int { return strings.Compare(a.id, b.id) })
	return list
}

// NodeStats returns a snapshot of every entry for the Prometheus collector,
// sorted by id. An entry is stale when no connected provider or working web
// node refreshes it, or when it is older than StaleAfter.
func (s *Service) NodeStats() []metrics.NodeStats {
	now := s.now()
	s.mu.Lock()
	list := s.sortedEntries()
	live := make(map[string]bool, len(s.providers)+len(s.web))
	for id := range s.providers {
		live[id] = true
	}
	for id, ws := range s.web {
		if !ws.failed {
			live[id] = true
		}
	}
	s.mu.Unlock()

	out := make([]metrics.NodeStats, 0, len(list))
	for _, e := range list {
		ts := unixTime(e.timestamp)
		ns := metrics.NodeStats{
			ID:         e.id,
			Nickname:   e.nickname,
			Timestamp:  ts,
			Stale:      !live[e.id] || now.Sub(ts) > s.staleAfter,
			Categories: make([]metrics.Category, 0, len(e.stats)),
		}
		for _, c := range e.stats {
			mc := metrics.Category{Name: c.name, Samples: make([]metrics.Sample, len(c.samples))}
			for i, smp := range c.samples {
				mc.Samples[i] = metrics.Sample{Name: smp.name, Value: smp.f}
			}
			ns.Categories = append(ns.Categories, mc)
		}
		out = append(out, ns)
	}
	return out
}

// Connected returns the tubids of the providers currently known, sorted.
func (s *Service) Connected() []string {
	s.mu.Lock()
	ids := make([]string, 0, len(s.providers))
	for id := range s.providers {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	slices.Sort(ids)
	return ids
}

func unixTime(sec float64) time.Time {
	if sec == 0 || math.IsNaN(sec) || math.IsInf(sec, 0) {
		return time.Time{}
	}
	// A float64 of today's Unix time holds about 0.2 µs; round to the
	// microsecond, the resolution of Python's time.time() on Tahoe's hosts.
	whole, frac := math.Modf(sec)
	return time.Unix(int64(whole), int64(math.Round(frac*1e6))*1e3)
}
