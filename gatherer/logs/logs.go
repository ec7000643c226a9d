package logs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gatherer/gatherer/foolscap/banana"
	"github.com/gatherer/gatherer/gatherer/flog"
	"github.com/gatherer/gatherer/gatherer/flog/pyjson"
	"github.com/gatherer/gatherer/gatherer/metrics"
	"github.com/gatherer/gatherer/internal/atomicfile"
	"github.com/gatherer/gatherer/internal/bzip2w"
)

// TimeFormat is Python's TIME_FORMAT ("%Y-%m-%d--%H-%M-%S"); file names
// add a "Z".
const TimeFormat = "2006-01-02--15-04-05"

// ErrClosed is returned after Close.
var ErrClosed = errors.New("log gatherer is shut down")

// Publisher is what the log gatherer needs from a node's logport
// (RILogPublisher.foolscap.lothar.com).
type Publisher interface {
	// SubscribeToAll calls subscribe_to_all(obs), or
	// subscribe_to_all(obs, True) when catchUp is set; Python's gatherer
	// sends the observer alone. obs must travel as a my-reference with
	// iname RILogObserver.foolscap.lothar.com.
	SubscribeToAll(ctx context.Context, obs Observer, catchUp bool) error
}

// Observer receives msg(event) calls.
type Observer interface {
	// Msg stores one event. It always answers nil: an error answer makes
	// the node drop the subscription for good.
	Msg(ctx context.Context, event any) error
}

// AsyncObserver is an Observer that can also take an event and say later
// that it is stored: MsgAsync returns at once and calls done (once, from
// another goroutine or before it returns) when the event has been written
// to the output file, or dropped. The answer to the node must wait for
// done; the connection goes on with its next call meanwhile, so the events
// that arrive together are written together.
type AsyncObserver interface {
	Observer
	MsgAsync(ctx context.Context, event any, done func())
}

// Flog is what the log gatherer needs from gatherer/flog.
type Flog interface {
	// Preamble returns the magic line followed by the {"header": header}
	// line.
	Preamble(header any) ([]byte, error)
	// EncodeEvent returns one {"from": from, "rx_time": rxTime, "d": event}
	// line, newline included, or an error if event cannot be encoded.
	EncodeEvent(from string, rxTime float64, event any) ([]byte, error)
}

// Options configure a Service.
type Options struct {
	// Dir is the gatherer's base directory. Required.
	Dir string
	// Flog encodes lines; nil means PyFlog.
	Flog Flog
	// Rotate is the rotation period; 0 means rotate only on Rotate calls.
	Rotate time.Duration
	// Bzip compresses each rotated file into FILE.bz2 (bzip2 level 9, the
	// bytes the bzip2 program writes), in the background, one file per CPU
	// at a time; the .bz2 appears atomically and the plain file is then
	// removed.
	Bzip bool
	// CatchUp asks nodes for the events they have buffered (Python never
	// does).
	CatchUp bool
	// Logger receives operator messages; nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Metrics receives the gatherer's own counters (connected nodes,
	// events and bytes stored, errors); nil counts nothing.
	Metrics *metrics.Instruments
	// MaxBacklog bounds the bytes of events kept in memory while the
	// output file cannot be written (a full disk); they are written, in
	// order, as soon as a write succeeds again. Beyond it the oldest kept
	// events are dropped and counted. 0 means DefaultMaxBacklog.
	MaxBacklog int
	// RetryEvery is how often events kept after a failed write are tried
	// again when no new event comes to retry them. 0 means 5 s.
	RetryEvery time.Duration
}

// DefaultMaxBacklog is Options.MaxBacklog's default.
const DefaultMaxBacklog = 16 << 20

// Service is a running log gatherer.
type Service struct {
	opts  Options
	log   *slog.Logger
	bzips chan *bzip2w.Writer // idle compressors, kept for reuse

	mu      sync.Mutex
	started bool
	closed  bool
	f       *os.File
	path    string    // current ...---to-present.flog
	start   time.Time // current file's start
	off     int64     // end of the last complete line in f

	// While writes fail: the lines waiting, their size, and what was lost.
	backlog      [][]byte
	backlogBytes int
	lost         int
	failingSince time.Time

	// current is the newest subscription per tubid, when the publisher
	// tells its tubid: an older one from the same node is superseded.
	current map[string]*observer

	// Events encoded and waiting to be written (group commit): Msg queues
	// the line under qmu, and writeLoop (or a rotation, or Close) takes
	// everything queued, writes it with one write(2) under mu and then
	// lets the answers go. wbuf is that write's buffer (mu).
	qmu        sync.Mutex
	qspace     *sync.Cond // signalled when the queue is taken
	queue      []queued
	queueBytes int
	qclosed    bool          // Close took the last of the queue: drop what comes
	kick       chan struct{} // the queue has lines
	wbuf       []byte

	compressSem chan struct{}
	stopping    chan struct{} // closed by Close: timer and subscriptions stop
	abort       chan struct{} // closed when Close gives up waiting: compression stops
	wg          sync.WaitGroup
}

// New checks the options; it touches no files.
func New(opts Options) (*Service, error) {
	if opts.Dir == "" {
		return nil, errors.New("log gatherer: no base directory given")
	}
	if opts.Flog == nil {
		opts.Flog = PyFlog{}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxBacklog <= 0 {
		opts.MaxBacklog = DefaultMaxBacklog
	}
	if opts.RetryEvery <= 0 {
		opts.RetryEvery = 5 * time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{opts: opts, log: log, compressSem: make(chan struct{}, runtime.NumCPU()), current: map[string]*observer{},
		stopping: make(chan struct{}), abort: make(chan struct{}), kick: make(chan struct{}, 1)}
	s.qspace = sync.NewCond(&s.qmu)
	if opts.Bzip {
		s.bzips = make(chan *bzip2w.Writer, runtime.NumCPU())
	}
	return s, nil
}

func fileTime(t time.Time) string { return t.UTC().Format(TimeFormat) + "Z" }

func presentName(start time.Time) string {
	return "from-" + fileTime(start) + "---to-present.flog"
}

func rotatedName(from, to string) string {
	return "from-" + from + "---to-" + to + ".flog"
}

func epoch(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

var presentRE = regexp.MustCompile(`^from-(\d{4}-\d{2}-\d{2}--\d{2}-\d{2}-\d{2}Z)---to-present\.flog$`)

// rotatedRE matches a finished, uncompressed output file (freeName's ".N"
// included).
var rotatedRE = regexp.MustCompile(`^from-\d{4}-\d{2}-\d{2}--\d{2}-\d{2}-\d{2}Z---to-\d{4}-\d{2}-\d{2}--\d{2}-\d{2}-\d{2}Z(\.\d+)?\.flog$`)

// Start finishes files a previous run left as ...---to-present.flog, opens
// the output file and starts the rotation timer.
func (s *Service) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("log gatherer: already started")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.finishStale(); err != nil {
		return err
	}
	if err := s.open(s.opts.Now()); err != nil {
		return err
	}
	s.started = true
	if s.opts.Rotate > 0 {
		s.wg.Add(1)
		go s.rotateLoop()
	}
	s.wg.Add(1)
	go s.retryLoop()
	s.wg.Add(1)
	go s.writeLoop()
	return nil
}

// queued is one encoded event waiting to be written, and who waits for it.
type queued struct {
	line []byte
	done func()
}

// maxQueuedBytes bounds the encoded events waiting for writeLoop; Msg
// waits beyond it, and so, in turn, does the node's connection.
const maxQueuedBytes = 4 << 20

// enqueue hands one encoded event to the writer; done is called once it
// is written (or, after Close, at once: the event is dropped).
func (s *Service) enqueue(line []byte, done func()) {
	s.qmu.Lock()
	for s.queueBytes >= maxQueuedBytes && !s.qclosed {
		s.qspace.Wait()
	}
	if s.qclosed {
		s.qmu.Unlock()
		done()
		return
	}
	s.queue = append(s.queue, queued{line: line, done: done})
	s.queueBytes += len(line)
	s.qmu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// writeQueued writes the queued lines, after any kept from a failed
// write, and returns them; closing refuses what comes after. s.mu held:
// the caller calls answer on what it returns once it has released s.mu.
func (s *Service) writeQueued(closing bool) []queued {
	s.qmu.Lock()
	q := s.queue
	s.queue, s.queueBytes = nil, 0
	s.qclosed = s.qclosed || closing
	s.qspace.Broadcast()
	s.qmu.Unlock()
	if s.f == nil {
		return q
	}
	for _, e := range q {
		s.backlog = append(s.backlog, e.line)
		s.backlogBytes += len(e.line)
	}
	s.flushBacklog()
	return q
}

// writeLoop writes the queued events, all that have gathered at each turn,
// until Close starts (Close writes what is left).
func (s *Service) writeLoop() {
	defer s.wg.Done()
	for {
		select {
		case <-s.stopping:
			return
		case <-s.kick:
			s.mu.Lock()
			q := s.writeQueued(false)
			s.mu.Unlock()
			answer(q)
		}
	}
}

// answer lets the nodes' answers for written (or dropped) lines go.
func answer(q []queued) {
	for _, e := range q {
		e.done()
	}
}

// retryLoop writes events kept in memory after a failed write even when no
// new event arrives to trigger it. It stops when Close starts.
func (s *Service) retryLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.RetryEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stopping:
			return
		case <-t.C:
			s.mu.Lock()
			if s.f != nil && len(s.backlog) > 0 {
				s.flushBacklog()
			}
			s.mu.Unlock()
		}
	}
}

// finishStale renames leftover ---to-present files after their modification
// time and, with --bzip, compresses them and every rotated file a previous
// run left uncompressed (bzip2 killed with the gatherer, or a run without
// --bzip); s.mu held.
func (s *Service) finishStale() error {
	entries, err := os.ReadDir(s.opts.Dir)
	if err != nil {
		return fmt.Errorf("list gatherer directory: %w", err)
	}
	var stale []string
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		if presentRE.MatchString(e.Name()) {
			stale = append(stale, e.Name())
		} else if s.opts.Bzip && rotatedRE.MatchString(e.Name()) {
			s.compressLeftover(filepath.Join(s.opts.Dir, e.Name()))
		}
	}
	sort.Strings(stale)
	for _, name := range stale {
		p := filepath.Join(s.opts.Dir, name)
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("inspect leftover output file: %w", err)
		}
		from := presentRE.FindStringSubmatch(name)[1]
		to, err := s.freeName(from, fileTime(fi.ModTime()))
		if err != nil {
			return err
		}
		if err := atomicfile.Rename(p, to); err != nil {
			return fmt.Errorf("finish a previous run's output file: %w", err)
		}
		s.log.Info("renamed a previous run's unfinished output file", "file", name, "to", filepath.Base(to))
		s.compress(to)
	}
	return nil
}

// compressLeftover compresses a rotated file found uncompressed at start.
// A .bz2 beside it is the partial output of a bzip2 program that was
// killed (python's gatherer, or ours before it compressed in-process, ran
// bzip2, which removes its input only after the output is whole), or a
// whole one whose plain file was not removed yet: either way it is made
// again.
func (s *Service) compressLeftover(p string) {
	if exists(p + ".bz2") {
		if err := os.Remove(p + ".bz2"); err != nil {
			s.log.Error("cannot remove an earlier compressed copy; leaving the file uncompressed", "file", p+".bz2", "err", err)
			return
		}
		s.log.Info("removed the partial output of an interrupted bzip2", "file", filepath.Base(p)+".bz2")
	}
	s.log.Info("compressing a rotated file a previous run left uncompressed", "file", filepath.Base(p))
	s.compress(p)
}

// freeName returns the path for a finished file from..to. If that name (or
// its .bz2) is taken, which happens only when runs or rotations share a
// second, ".1", ".2", ... go before ".flog".
func (s *Service) freeName(from, to string) (string, error) {
	base := strings.TrimSuffix(rotatedName(from, to), ".flog")
	for i := 0; i < 1000; i++ {
		name := base + ".flog"
		if i > 0 {
			name = fmt.Sprintf("%s.%d.flog", base, i)
		}
		p := filepath.Join(s.opts.Dir, name)
		if !exists(p) && !exists(p+".bz2") {
			return p, nil
		}
	}
	return "", fmt.Errorf("no free name for the output file %s", rotatedName(from, to))
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// open starts a new output file; s.mu held.
func (s *Service) open(now time.Time) error {
	p := filepath.Join(s.opts.Dir, presentName(now))
	pre, err := s.opts.Flog.Preamble(banana.NewDict("type", "gatherer", "start", epoch(now)))
	if err != nil {
		return fmt.Errorf("encode the output file header: %w", err)
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("open the output file: %w", err)
	}
	if _, err := f.Write(pre); err != nil {
		_ = f.Close()
		return fmt.Errorf("write the output file header: %w", err)
	}
	s.f, s.path, s.start, s.off = f, p, now, int64(len(pre))
	return nil
}

// CurrentFile returns the path of the file being written.
func (s *Service) CurrentFile() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.path
}

// Rotate closes the current file, renames it
// from-<start>Z---to-<now>Z.flog, opens a new one and, with bzip, compresses
// the old one in the background. It returns the rotated file's final path
// (with .bz2 when it will be compressed), or "" if the rotation was skipped.
func (s *Service) Rotate(ctx context.Context) (string, error) {
	var written []queued
	defer func() { answer(written) }() // runs after the Unlock below
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started || s.closed || s.f == nil {
		return "", ErrClosed
	}
	now := s.opts.Now()
	if fileTime(now) == fileTime(s.start) {
		s.log.Info("not rotating: the current file was opened less than a second ago", "file", filepath.Base(s.path))
		return "", nil
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	// The events received before the rotation go to the file it closes.
	written = s.writeQueued(false)
	done, err := s.finish(now)
	if err != nil {
		return "", err
	}
	if err := s.open(now); err != nil {
		return done, err
	}
	return done, nil
}

// finish closes and renames the current file and queues its compression;
// s.mu held.
func (s *Service) finish(now time.Time) (string, error) {
	to, err := s.freeName(fileTime(s.start), fileTime(now))
	if err != nil {
		return "", err
	}
	err = s.f.Sync()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	s.f = nil
	if err != nil {
		s.log.Error("closing the output file failed", "file", s.path, "err", err)
	}
	if err := atomicfile.Rename(s.path, to); err != nil {
		return "", fmt.Errorf("rotate: %w", err)
	}
	s.path = ""
	if s.compress(to) {
		return to + ".bz2", nil
	}
	return to, nil
}

// compress compresses p into p.bz2 in the background, at most one file per
// CPU at a time (python-foolscap runs the bzip2 program on one file after
// the other), so that a backlog of rotated files uses every core. It
// reports whether compression was started. The .bz2 appears atomically
// (temporary file, fsync, rename, fsync of the directory) before p is
// removed, so a crash leaves p whole and perhaps a whole .bz2, never a
// partial one. Close waits for it; if Close gives up, compression stops
// and p stays.
func (s *Service) compress(p string) bool {
	if !s.opts.Bzip {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		select {
		case s.compressSem <- struct{}{}:
		case <-s.abort:
			return
		}
		defer func() { <-s.compressSem }()
		if err := s.compressFile(p); err != nil {
			s.log.Error("compressing a rotated file failed; it stays uncompressed (the next start tries again)", "file", p, "err", err)
		}
	}()
	return true
}

// compressFile writes p.bz2 and removes p.
func (s *Service) compressFile(p string) error {
	in, err := os.Open(p)
	if err != nil {
		return err
	}
	defer in.Close()
	var bz *bzip2w.Writer
	select {
	case bz = <-s.bzips:
	default:
	}
	err = atomicfile.Writer{}.WriteFile(p+".bz2", func(w io.Writer) error {
		if bz == nil {
			var err error
			if bz, err = bzip2w.NewWriter(w, bzip2w.BestCompression); err != nil {
				return err
			}
		} else {
			bz.Reset(w)
		}
		if _, err := io.Copy(bz, abortReader{r: in, abort: s.abort}); err != nil {
			return err
		}
		return bz.Close()
	})
	if err == nil && bz != nil {
		select {
		case s.bzips <- bz:
		default:
		}
	}
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil {
		return fmt.Errorf("remove the plain file after compressing it: %w", err)
	}
	return nil
}

// errAborted stops a compression when Close gives up waiting.
var errAborted = errors.New("the gatherer is shutting down")

// abortReader fails once abort is closed, so that a long compression stops
// at the next read.
type abortReader struct {
	r     io.Reader
	abort <-chan struct{}
}

func (a abortReader) Read(p []byte) (int, error) {
	select {
	case <-a.abort:
		return 0, errAborted
	default:
	}
	return a.r.Read(p)
}

func (s *Service) rotateLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.Rotate)
	defer t.Stop()
	for {
		select {
		case <-s.stopping:
			return
		case <-t.C:
			if _, err := s.Rotate(context.Background()); err != nil && !errors.Is(err, ErrClosed) {
				s.log.Error("rotating the output file failed", "err", err)
			}
		}
	}
}

// Logport handles logport(nodeid, publisher): it subscribes to all the
// node's events in the background and returns at once.
func (s *Service) Logport(ctx context.Context, nodeid any, pub Publisher) error {
	from, err := nodeText(nodeid)
	if err != nil {
		s.log.Error("refusing logport: bad nodeid", "err", err)
		return fmt.Errorf("logport: %w", err)
	}
	s.mu.Lock()
	if s.closed || !s.started {
		s.mu.Unlock()
		return ErrClosed
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			select {
			case <-s.stopping:
				cancel()
			case <-ctx.Done():
			}
		}()
		obs := &observer{s: s, from: from}
		if err := pub.SubscribeToAll(ctx, obs, s.opts.CatchUp); err != nil {
			if ctx.Err() == nil {
				s.log.Error("subscribe_to_all failed; no events from this node until it reconnects", "from", from, "err", err)
				s.opts.Metrics.Error("subscribe_failed")
			}
			return
		}
		if tp, ok := pub.(interface{ TubID() string }); ok && tp.TubID() != "" {
			tubid := tp.TubID()
			s.mu.Lock()
			prev := s.current[tubid]
			s.current[tubid] = obs
			s.mu.Unlock()
			if prev != nil {
				// Only now that the new subscription is in place, so that
				// no event falls between the two.
				prev.superseded.Store(true)
				s.log.Info("the node called logport again; its events are written once, from the newest subscription", "from", from, "tubid", tubid)
			}
			defer func() {
				s.mu.Lock()
				if s.current[tubid] == obs {
					delete(s.current, tubid)
				}
				s.mu.Unlock()
			}()
		}
		// Count the node as connected until its connection ends.
		s.opts.Metrics.AddConnectedNodes(1)
		<-ctx.Done()
		s.opts.Metrics.AddConnectedNodes(-1)
	}()
	return nil
}

// nodeText is Python's six.ensure_text(nodeid).
func nodeText(v any) (string, error) {
	switch t := v.(type) {
	case string:
		return t, nil
	case []byte:
		if !utf8.Valid(t) {
			return strings.ToValidUTF8(string(t), "\uFFFD"), nil
		}
		return string(t), nil
	}
	return "", fmt.Errorf("nodeid is %T, not str or bytes", v)
}

type observer struct {
	s           *Service
	from        string
	warnedBytes atomic.Bool
	superseded  atomic.Bool // a newer logport from the same tubid took over
}

func (o *observer) Msg(ctx context.Context, event any) error {
	stored := make(chan struct{})
	o.MsgAsync(ctx, event, func() { close(stored) })
	<-stored
	return nil
}

func (o *observer) MsgAsync(_ context.Context, event any, done func()) {
	if o.superseded.Load() {
		// The node sends the same event to its newer subscription.
		done()
		return
	}
	line, ok := o.s.encode(o, event)
	if !ok {
		done()
		return
	}
	o.s.enqueue(line, done)
}

// hasBytesKey reports whether a dict has a top-level bytes key (every event
// from a Python 2 node: foolscap issues #68, #88).
func hasBytesKey(event any) (*banana.Dict, bool) {
	d, ok := event.(*banana.Dict)
	if !ok {
		return nil, false
	}
	for _, it := range d.Items {
		if _, ok := it.Key.([]byte); ok {
			return d, true
		}
	}
	return nil, false
}

// encode makes an event's line; false when it cannot be stored (logged).
func (s *Service) encode(o *observer, event any) ([]byte, bool) {
	from := o.from
	rx := epoch(s.opts.Now())
	line, err := s.opts.Flog.EncodeEvent(from, rx, event)
	if d, ok := hasBytesKey(event); err != nil && ok {
		// Python's gatherer drops such events; like flogtool tail, we decode
		// the keys as UTF-8 (ensure_dict_str_keys) and keep the event.
		if line, err = s.opts.Flog.EncodeEvent(from, rx, flog.StrKeys(d)); err == nil && !o.warnedBytes.Swap(true) {
			s.log.Warn("this node sends events with bytes keys (Python 2); storing them with the keys decoded as UTF-8, where the Python gatherer drops them", "from", from)
		}
	}
	if err != nil {
		// Python prints the whole repr; we cap it, an event can be large.
		// (AppendReprN, not Repr: the repr of a value built from shared
		// references can be huge, which is why encoding failed.)
		r := string(pyjson.AppendReprN(nil, event, 2000))
		if len(r) > 2000 {
			r = r[:2000] + "..."
		}
		s.log.Error(fmt.Sprintf("GATHERER: unable to serialize %s: %v", r, err), "from", from)
		s.opts.Metrics.Error("unencodable_event")
		return nil, false
	}
	return line, true
}

// flushBacklog writes the waiting lines, in order and with one write(2),
// as python's unbuffered file writes each line before it answers. A
// failed write is cut back to the last complete line, so the file stays a
// valid flogfile; the lines stay in the backlog, and the backlog is bounded
// by dropping its oldest lines (counted, and reported when writing works
// again). s.mu held.
func (s *Service) flushBacklog() {
	if len(s.backlog) > 0 {
		buf := s.wbuf[:0]
		for _, line := range s.backlog {
			buf = append(buf, line...)
		}
		err := s.writeLine(buf)
		if cap(buf) <= 1<<20 {
			s.wbuf = buf[:0]
		} else {
			s.wbuf = nil // after a large backlog: do not keep its size
		}
		if err != nil {
			s.opts.Metrics.Error("write_failed")
			if s.failingSince.IsZero() {
				s.failingSince = s.opts.Now()
				s.log.Error("writing events to the output file failed; keeping them in memory and retrying with every new event",
					"file", s.path, "err", err, "max_backlog", s.opts.MaxBacklog)
			}
			for s.backlogBytes > s.opts.MaxBacklog && len(s.backlog) > 0 {
				s.backlogBytes -= len(s.backlog[0])
				s.backlog[0] = nil
				s.backlog = s.backlog[1:]
				s.lost++
				s.opts.Metrics.Error("event_dropped")
			}
			return
		}
		s.opts.Metrics.AddEvents(len(s.backlog))
		s.opts.Metrics.AddBytesWritten(len(buf))
		clear(s.backlog)
		s.backlog, s.backlogBytes = s.backlog[:0], 0
		if cap(s.backlog) > 4096 {
			s.backlog = nil
		}
	}
	if !s.failingSince.IsZero() {
		if s.lost > 0 {
			s.log.Error(fmt.Sprintf("writing events works again; %d events received since %s were lost (the backlog in memory was full)",
				s.lost, s.failingSince.UTC().Format(time.RFC3339)), "file", s.path)
		} else {
			s.log.Warn("writing events works again; no event was lost", "file", s.path)
		}
		s.failingSince, s.lost = time.Time{}, 0
	}
}

// writeLine appends whole lines; on failure the file is cut back to its
// last complete line. s.mu held.
func (s *Service) writeLine(line []byte) error {
	n, err := s.f.Write(line)
	if err == nil {
		s.off += int64(n)
		return nil
	}
	if n > 0 {
		if terr := s.f.Truncate(s.off); terr != nil {
			return fmt.Errorf("%w (and cutting back the partial line failed: %w)", err, terr)
		}
	}
	if _, serr := s.f.Seek(s.off, io.SeekStart); serr != nil {
		return fmt.Errorf("%w (and seeking back failed: %w)", err, serr)
	}
	return err
}

// Close stops the rotation timer, closes and renames the last file (a
// difference from Python, which leaves it as ---to-present), waits for the
// background compressions and subscriptions, or for ctx. It returns the last
// file's final path.
func (s *Service) Close(ctx context.Context) (string, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return "", nil
	}
	s.closed = true
	close(s.stopping)
	var last string
	var err error
	written := s.writeQueued(true)
	if s.f != nil {
		if n := len(s.backlog) + s.lost; n > 0 {
			s.log.Error(fmt.Sprintf("shutting down with %d events that could not be written; they are lost", n), "file", s.path)
			s.backlog, s.backlogBytes, s.lost = nil, 0, 0
		}
		last, err = s.finish(s.opts.Now())
	}
	s.mu.Unlock()
	answer(written)

	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		close(s.abort)
		<-done
		return last, fmt.Errorf("log gatherer: background compression cut short: %w", ctx.Err())
	}
	return last, err
}
