package incident

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/gatherer/gatherer/foolscap/banana"
	"github.com/gatherer/gatherer/gatherer/flog/pyjson"
	"github.com/gatherer/gatherer/internal/atomicfile"
)

// session is one logport connection: it subscribes and then fetches queued
// incidents. As python-foolscap's gatherer, it asks the node for one
// incident at a time (the node holds an incident's events in memory while
// it sends them); unlike it, it asks for the next one as soon as an answer
// has arrived, while that answer is compressed and written by a goroutine
// of its own (at most pipelineDepth decoded answers per node in the
// gatherer's memory, and every answer holds a fetch slot of the Service's
// bound until its file is on disk). The observer methods only queue.
type session struct {
	svc    *Service
	tubid  string
	pub    Publisher
	cancel context.CancelFunc
	done   chan struct{}
	wake   chan struct{}
	pipe   chan struct{}  // one token per answer asked for and not yet stored
	stores sync.WaitGroup // the goroutines storing answers; run waits for them
	last   chan struct{}  // closed when the newest storing goroutine has settled (run's)

	mu      sync.Mutex
	queue   []wanted
	pending map[string]bool // names offered and not yet stored: queued, being fetched or failed
	dropped string          // smallest name refused by the queue bound ("" = none)

	// smu orders the settling of outcomes, which run and the storing
	// goroutines do: it guards latest, stored and retries, and is held
	// while latest is rewritten so that its writes happen in order.
	smu       sync.Mutex
	latest    string             // the name in the latest file
	unsettled int                // answers handed to storing goroutines and not yet settled
	due       string             // the name latest should hold once written (>= latest)
	stored    map[string]bool    // names stored (or already held) that due has not reached
	retries   map[string]*failed // names waiting for another attempt in this session
}

// pipelineDepth is how many of one node's incidents may be between "asked
// for" and "compressed" at once: one being received while others wait for
// or hold a compression slot. Three keep a node's fetches back to back
// when compressing an incident takes about twice as long as receiving it;
// writing the file (fsyncs) and settling it wait outside the pipeline, so
// a slow disk does not stop the next fetches. Outcomes are settled, and
// incidents classified, in the order they were asked for, as python's
// gatherer does.
const pipelineDepth = 3

type wanted struct {
	name    string
	trigger any
	attempt int // earlier failed attempts
}

// failed is an incident whose fetch or save failed and that waits for its
// next attempt.
type failed struct {
	w  wanted
	at time.Time
}

// outcome is what became of one attempt at an incident.
type outcome int

const (
	outcomeStored  outcome = iota // stored now, or already held: latest may pass it
	outcomeRetry                  // a transient failure: try again after a backoff
	outcomeRefused                // refused (too large, malformed): not retried until the node reconnects
)

func newSession(svc *Service, tubid string, pub Publisher, cancel context.CancelFunc) *session {
	last := make(chan struct{})
	close(last)
	return &session{
		last:    last,
		svc:     svc,
		tubid:   tubid,
		pub:     pub,
		cancel:  cancel,
		done:    make(chan struct{}),
		wake:    make(chan struct{}, 1),
		pipe:    make(chan struct{}, pipelineDepth),
		pending: map[string]bool{},
		stored:  map[string]bool{},
		retries: map[string]*failed{},
	}
}

func (ss *session) nodedir() string {
	return filepath.Join(ss.svc.opts.Dir, IncidentsDir, ss.tubid)
}

func (ss *session) run(ctx context.Context) {
	log := ss.svc.log
	if ctx.Err() != nil {
		return
	}
	if err := os.MkdirAll(ss.nodedir(), 0o755); err != nil {
		log.Error("cannot create the node's incident directory", "tubid", ss.tubid, "err", err)
		return
	}
	if _, err := atomicfile.RemoveTemps(ss.nodedir()); err != nil {
		log.Error("cannot clean the node's incident directory", "tubid", ss.tubid, "err", err)
	}
	latest, err := readLatest(ss.nodedir())
	if err != nil {
		log.Error("cannot read the last known incident; asking for all of them", "tubid", ss.tubid, "err", err)
	}
	ss.latest, ss.due = latest, latest
	defer ss.stores.Wait()
	log.Info(fmt.Sprintf("connected to %s, last known incident is %s", ss.tubid, latest))
	ss.svc.opts.Metrics.AddConnectedNodes(1)
	defer ss.svc.opts.Metrics.AddConnectedNodes(-1)

	sctx, cancel := context.WithTimeout(ctx, ss.svc.opts.FetchTimeout)
	err = ss.pub.SubscribeToIncidents(sctx, &observer{ss}, true, latest)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			log.Error("subscribe_to_incidents failed; no incidents will be gathered from this node until it reconnects",
				"tubid", ss.tubid, "err", err)
		}
		return
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		ss.armRetry(timer)
		select {
		case <-ctx.Done():
			return
		case <-ss.wake:
		case <-timer.C:
			ss.requeueDue()
		}
		for {
			w, ok := ss.next()
			if !ok {
				break
			}
			ss.fetch(ctx, w)
			if ctx.Err() != nil {
				return
			}
		}
	}
}

// settle records the outcome of one attempt and moves latest as far as it
// may go: up to the newest stored name below every name still unresolved,
// so that latest never passes an incident that is not stored yet and a
// reconnection (or a gatherer restart) offers that incident again.
//
// While other answers of this node are being fetched or stored, the file
// is not rewritten: the last of them to settle writes the newest name
// once. latest is a hint (docs/reliability.md): when it lags,
// the node offers incidents that are already stored, and they are not
// fetched again.
//
// stored says whether the caller is a goroutine that stored an answer.
func (ss *session) settle(w wanted, o outcome, stored bool) {
	log := ss.svc.log
	ss.smu.Lock()
	defer ss.smu.Unlock()
	if stored {
		ss.unsettled--
	}
	switch o {
	case outcomeStored:
		ss.stored[w.name] = true
		ss.mu.Lock()
		delete(ss.pending, w.name)
		ss.mu.Unlock()
		ss.advance()
	case outcomeRetry:
		w.attempt++
		d := ss.svc.backoff(w.attempt)
		ss.retries[w.name] = &failed{w: w, at: time.Now().Add(d)}
		log.Warn("will try the incident again later", "tubid", ss.tubid, "incident", w.name,
			"attempt", w.attempt, "retry_in", d.String())
		ss.poke() // run arms its timer for it
	case outcomeRefused:
		log.Warn("the incident stays unfetched until the node reconnects; latest will not pass it",
			"tubid", ss.tubid, "incident", w.name)
	}
	if ss.due > ss.latest && len(ss.pipe) == 0 && ss.unsettled == 0 {
		ss.writeDue()
	}
}

// advance moves due, the name latest should hold, to the newest stored
// name below every unresolved one (under smu).
func (ss *session) advance() {
	ss.mu.Lock()
	barrier := ss.dropped
	for n := range ss.pending {
		if barrier == "" || n < barrier {
			barrier = n
		}
	}
	ss.mu.Unlock()
	for n := range ss.stored {
		if barrier == "" || n < barrier {
			ss.due = max(ss.due, n)
			delete(ss.stored, n)
		}
	}
}

// armRetry sets the timer to the earliest pending retry, if any.
func (ss *session) armRetry(timer *time.Timer) {
	var first time.Time
	ss.smu.Lock()
	for _, f := range ss.retries {
		if first.IsZero() || f.at.Before(first) {
			first = f.at
		}
	}
	ss.smu.Unlock()
	timer.Stop()
	select {
	case <-timer.C:
	default:
	}
	if !first.IsZero() {
		timer.Reset(max(time.Until(first), 0))
	}
}

// requeueDue puts the incidents whose backoff has ended back on the queue,
// oldest name first.
func (ss *session) requeueDue() {
	now := time.Now()
	var due []wanted
	ss.smu.Lock()
	for n, f := range ss.retries {
		if !f.at.After(now) {
			due = append(due, f.w)
			delete(ss.retries, n)
		}
	}
	ss.smu.Unlock()
	sort.Slice(due, func(i, j int) bool { return due[i].name < due[j].name })
	ss.mu.Lock()
	ss.queue = append(ss.queue, due...)
	ss.mu.Unlock()
}

func (ss *session) next() (wanted, bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if len(ss.queue) == 0 {
		return wanted{}, false
	}
	w := ss.queue[0]
	ss.queue[0] = wanted{}
	ss.queue = ss.queue[1:]
	return w, true
}

// enqueue is called from the observer; it never blocks.
func (ss *session) enqueue(name string, trigger any) {
	ss.mu.Lock()
	switch {
	case ss.pending[name]:
		ss.mu.Unlock()
		return
	case len(ss.queue) >= ss.svc.opts.MaxQueue:
		if ss.dropped == "" || name < ss.dropped {
			ss.dropped = name
		}
		ss.mu.Unlock()
		ss.svc.log.Error("too many incidents waiting to be fetched from this node; leaving one for the next connection (latest stays before it, so the node offers it again when it reconnects)",
			"tubid", ss.tubid, "incident", name, "max_queue", ss.svc.opts.MaxQueue)
		return
	}
	ss.pending[name] = true
	ss.queue = append(ss.queue, wanted{name: name, trigger: trigger})
	ss.mu.Unlock()
	ss.poke()
}

// poke wakes run without blocking.
func (ss *session) poke() {
	select {
	case ss.wake <- struct{}{}:
	default:
	}
}

// fetch asks the node for one incident and returns once the answer has
// arrived (or the attempt has ended): a goroutine of its own then stores
// and classifies it, and settles the outcome, while run asks for the next.
func (ss *session) fetch(ctx context.Context, w wanted) {
	svc := ss.svc
	log := svc.log
	rel := relPath(ss.tubid, w.name)
	abs := filepath.Join(ss.nodedir(), w.name+fileSuffix)
	if _, err := os.Stat(abs); err == nil {
		// Offered again because latest had not reached it (an earlier
		// incident was still missing when it was stored).
		log.Info(fmt.Sprintf("incident %s is already stored; not fetching it again", rel), "tubid", ss.tubid)
		ss.settle(w, outcomeStored, false)
		return
	}
	if other, dup := svc.heldElsewhere(w.name, ss.tubid, fingerprint(w.trigger)); dup {
		log.Info(fmt.Sprintf("incident %s is already stored as %s (same trigger event); not fetching it again",
			w.name, relPath(other, w.name)), "tubid", ss.tubid)
		ss.settle(w, outcomeStored, false)
		return
	}
	select {
	case ss.pipe <- struct{}{}:
	case <-ctx.Done():
		ss.settle(w, outcomeRetry, false)
		return
	}
	release, ok := svc.fetchSlot(ctx)
	if !ok {
		<-ss.pipe
		ss.settle(w, outcomeRetry, false)
		return
	}
	header, trigger, events, o := ss.receive(ctx, w)
	if o != outcomeStored {
		release()
		<-ss.pipe
		ss.settle(w, o, false)
		return
	}
	ss.smu.Lock()
	ss.unsettled++
	ss.smu.Unlock()
	prev, mine := ss.last, make(chan struct{})
	ss.last = mine
	ss.stores.Add(1)
	go func() {
		defer ss.stores.Done()
		defer close(mine)
		// Once the answer is compressed, its decoded events and its
		// place in the pipeline go back, so that the node's next
		// incident is asked for while this one is written; the fetch
		// slot goes back once the file is on disk (it bounds the
		// compressed files waiting for the disk too). A settle that
		// sees places taken leaves the latest file to them.
		o := ss.store(w, abs, header, trigger, events, func() {
			header, events = nil, nil
			<-ss.pipe
		})
		release()
		// Settled in the order asked for; latest moves before
		// classification, as in Python.
		<-prev
		ss.settle(w, o, true)
		if o == outcomeStored {
			if _, err := svc.classifyAndRecord(rel, trigger); err != nil {
				log.Error("classifying an incident failed; `gatherer reclassify` can redo it", "file", rel, "err", err)
			}
		}
	}()
}

// receive calls get_incident and checks the answer's header, which must
// hold the trigger; the outcome is outcomeStored when there is an
// incident to store.
func (ss *session) receive(ctx context.Context, w wanted) (header, trigger any, events []any, o outcome) {
	svc := ss.svc
	log := svc.log
	log.Info("fetching incident " + w.name)
	m := svc.opts.Metrics
	fctx, cancel := context.WithTimeout(ctx, svc.opts.FetchTimeout)
	started := time.Now()
	header, events, err := ss.pub.GetIncident(fctx, w.name)
	cancel()
	m.ObserveFetch(time.Since(started))
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, nil, outcomeRetry
		}
		if tooLarge(err) {
			m.Error("incident_too_large")
			log.Error("the node's incident is larger than this gatherer accepts (raise --max-incident-size to gather it); going on with the next one",
				"tubid", ss.tubid, "incident", w.name, "err", err)
			return nil, nil, nil, outcomeRefused
		}
		m.Error("fetch_failed")
		log.Error("fetching an incident failed; going on with the next one", "tubid", ss.tubid, "incident", w.name, "err", err)
		return nil, nil, nil, outcomeRetry
	}
	trigger, ok := dictGet(header, "trigger")
	if !isDict(header) || !ok {
		log.Error("the node sent an incident without a header trigger; not storing it", "tubid", ss.tubid, "incident", w.name)
		m.Error("bad_incident")
		return nil, nil, nil, outcomeRefused
	}
	return header, trigger, events, outcomeStored
}

// store writes one received incident to abs and says what became of it.
// An answer received is stored even when the connection or the gatherer
// is stopping: that takes no more than one compression. compressed is
// called once the file is in memory, before it is written: header and
// events are not used after that.
func (ss *session) store(w wanted, abs string, header, trigger any, events []any, compressed func()) outcome {
	svc := ss.svc
	log := svc.log
	m := svc.opts.Metrics
	nevents := len(events) // events is not used after WriteIncident: it stays collectable
	svc.writeSlots <- struct{}{}
	// The file is compressed into memory under a write slot, and written,
	// fsynced and renamed after the slot is given back: the slots bound
	// the CPU-bound compression, and a writer waiting on the disk must not
	// keep another incident from being compressed meanwhile.
	rx := float64(svc.opts.Now().UnixNano()) / 1e9
	buf := svc.buffer()
	defer svc.giveBack(buf)
	err := svc.opts.Flog.WriteIncident(buf, header, ss.tubid, rx, events)
	<-svc.writeSlots
	compressed()
	if unencodable(err) {
		// Fetching it again would give the same events: refuse it.
		m.Error("bad_incident")
		log.Error("the node's incident cannot be written as a flogfile (json.dumps would fail on it too); not storing it",
			"tubid", ss.tubid, "incident", w.name, "err", err)
		return outcomeRefused
	}
	if err == nil {
		err = atomicfile.Writer{Create: svc.opts.Create}.WriteFile(abs, func(wr io.Writer) error {
			_, err := wr.Write(buf.Bytes())
			return err
		})
	}
	if err != nil {
		log.Error("saving an incident failed; going on with the next one", "tubid", ss.tubid, "incident", w.name, "err", err)
		m.Error("write_failed")
		return outcomeRetry
	}
	m.AddIncidents(1)
	m.AddEvents(nevents)
	m.AddBytesWritten(buf.Len())
	svc.mu.Lock()
	svc.remember(w.name, ss.tubid, fingerprint(trigger))
	svc.mu.Unlock()
	return outcomeStored
}

// unencodable reports whether WriteIncident failed on the events
// themselves (too deep, too large once shared references are expanded, a
// key or value JSON cannot hold) rather than on writing them.
func unencodable(err error) bool {
	var kt *pyjson.KeyTypeError
	var ut *pyjson.UnsupportedTypeError
	return errors.Is(err, pyjson.ErrTooDeep) || errors.Is(err, pyjson.ErrTooLarge) ||
		errors.As(err, &kt) || errors.As(err, &ut)
}

// tooLarge reports whether a fetch failed because the answer is over the
// connection's Banana limits (the gatherer's maximum incident size).
func tooLarge(err error) bool {
	return errors.Is(err, banana.ErrMessageTooLarge) || errors.Is(err, banana.ErrStringTooLong) ||
		errors.Is(err, banana.ErrTooManyItems)
}

// writeDue rewrites latest with due (under smu); Python compares names as
// strings to decide what to offer, so latest never moves back.
func (ss *session) writeDue() {
	if err := writeLatest(ss.nodedir(), ss.due, ss.svc.opts.Create, true); err != nil {
		ss.svc.log.Error("cannot record the last known incident", "tubid", ss.tubid, "err", err)
		return
	}
	ss.latest = ss.due
}

// observer is our RILogObserver for one session.
type observer struct{ ss *session }

var _ Observer = (*observer)(nil)

func (o *observer) NewIncident(_ context.Context, name, trigger any) error {
	n, err := text(name)
	if err == nil {
		err = ValidName(n)
	}
	if err != nil {
		o.ss.svc.log.Error("ignoring an incident with a bad name", "tubid", o.ss.tubid, "err", err)
		return nil
	}
	if !isDict(trigger) {
		o.ss.svc.log.Error("ignoring an incident whose trigger is not a dict", "tubid", o.ss.tubid, "incident", n)
		return nil
	}
	o.ss.enqueue(n, trigger)
	return nil
}

func (o *observer) DoneWithIncidentCatchup(context.Context) error {
	o.ss.svc.log.Debug("node finished incident catch-up", "tubid", o.ss.tubid)
	return nil
}
