package incident

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gatherer/gatherer/internal/atomicfile"
)

// session is one logport connection: it subscribes and then fetches queued
// incidents one at a time. Only its own goroutine (run) touches the node
// directory; the observer methods only queue.
type session struct {
	svc    *Service
	tubid  string
	pub    Publisher
	cancel context.CancelFunc
	done   chan struct{}
	wake   chan struct{}

	mu      sync.Mutex
	queue   []wanted
	pending map[string]bool // names queued or being fetched
	latest  string          // owned by run
}

type wanted struct {
	name    string
	trigger any
}

func newSession(svc *Service, tubid string, pub Publisher, cancel context.CancelFunc) *session {
	return &session{
		svc:     svc,
		tubid:   tubid,
		pub:     pub,
		cancel:  cancel,
		done:    make(chan struct{}),
		wake:    make(chan struct{}, 1),
		pending: map[string]bool{},
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
	ss.latest = latest
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
	for {
		select {
		case <-ctx.Done():
			return
		case <-ss.wake:
		}
		for {
			w, ok := ss.next()
			if !ok {
				break
			}
			ss.handle(ctx, w)
			ss.mu.Lock()
			delete(ss.pending, w.name)
			ss.mu.Unlock()
			if ctx.Err() != nil {
				return
			}
		}
	}
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
		ss.mu.Unlock()
		ss.svc.log.Error("too many incidents waiting to be fetched from this node; dropping one (it will be offered again after a reconnection only if it is newer than latest)",
			"tubid", ss.tubid, "incident", name, "max_queue", ss.svc.opts.MaxQueue)
		return
	}
	ss.pending[name] = true
	ss.queue = append(ss.queue, wanted{name: name, trigger: trigger})
	ss.mu.Unlock()
	select {
	case ss.wake <- struct{}{}:
	default:
	}
}

func (ss *session) handle(ctx context.Context, w wanted) {
	svc := ss.svc
	log := svc.log
	if other, dup := svc.heldElsewhere(w.name, ss.tubid, fingerprint(w.trigger)); dup {
		log.Info(fmt.Sprintf("incident %s is already stored as %s (same trigger event); not fetching it again",
			w.name, relPath(other, w.name)), "tubid", ss.tubid)
		ss.advanceLatest(w.name)
		return
	}
	log.Info("fetching incident " + w.name)
	m := svc.opts.Metrics
	fctx, cancel := context.WithTimeout(ctx, svc.opts.FetchTimeout)
	started := time.Now()
	header, events, err := ss.pub.GetIncident(fctx, w.name)
	cancel()
	m.ObserveFetch(time.Since(started))
	if err != nil {
		if ctx.Err() == nil {
			m.Error("fetch_failed")
			log.Error("fetching an incident failed; going on with the next one", "tubid", ss.tubid, "incident", w.name, "err", err)
		}
		return
	}
	trigger, ok := dictGet(header, "trigger")
	if !isDict(header) || !ok {
		log.Error("the node sent an incident without a header trigger; not storing it", "tubid", ss.tubid, "incident", w.name)
		m.Error("bad_incident")
		return
	}
	rel := relPath(ss.tubid, w.name)
	abs := filepath.Join(ss.nodedir(), w.name+fileSuffix)
	rx := float64(svc.opts.Now().UnixNano()) / 1e9
	var written countingWriter
	err = atomicfile.Writer{Create: svc.opts.Create}.WriteFile(abs, func(wr io.Writer) error {
		written.w = wr
		return svc.opts.Flog.WriteIncident(&written, header, ss.tubid, rx, events)
	})
	if err != nil {
		log.Error("saving an incident failed; going on with the next one", "tubid", ss.tubid, "incident", w.name, "err", err)
		m.Error("write_failed")
		return
	}
	m.AddIncidents(1)
	m.AddEvents(len(events))
	m.AddBytesWritten(written.n)
	ss.advanceLatest(w.name)
	svc.mu.Lock()
	svc.remember(w.name, ss.tubid, fingerprint(trigger))
	svc.mu.Unlock()
	if _, err := svc.classifyAndRecord(rel, trigger); err != nil {
		log.Error("classifying an incident failed; `gatherer reclassify` can redo it", "file", rel, "err", err)
	}
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += n
	return n, err
}

// advanceLatest rewrites latest if name sorts after it (Python compares
// names as strings to decide what to offer, so latest never moves back).
func (ss *session) advanceLatest(name string) {
	if name <= ss.latest {
		return
	}
	p := filepath.Join(ss.nodedir(), LatestFile)
	err := atomicfile.Writer{Create: ss.svc.opts.Create}.WriteFile(p, func(w io.Writer) error {
		_, err := io.WriteString(w, name+"\n")
		return err
	})
	if err != nil {
		ss.svc.log.Error("cannot record the last known incident", "tubid", ss.tubid, "err", err)
		return
	}
	ss.latest = name
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
