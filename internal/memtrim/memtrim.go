// Package memtrim hands a gatherer's free memory back to the operating
// system once a burst of work is over.
//
// Layer: internal helper for cmd/gatherer; it imports only the standard
// library.
//
// Go's runtime keeps the heap a burst left behind for a while: after a
// reconnect storm of thousands of nodes (TLS handshakes, catch-up calls) the
// garbage waits for a collection that an idle process may not run for
// minutes, the background scavenger returns free pages slowly and keeps
// about a tenth more than the heap goal, and goroutine stacks grown during
// the burst only shrink at a collection. A gatherer then sits at well over
// its steady memory per connected node, which is what operators see in top.
//
// Run watches how much the process allocates. When an interval in which it
// was busy is followed by a quiet one, it calls debug.FreeOSMemory once: a
// full collection (which also shrinks the stacks) and the return of every
// free page. It costs one collection per burst, none while the process
// stays busy or stays idle.
package memtrim

import (
	"context"
	"log/slog"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Defaults for Options.
const (
	DefaultInterval = 5 * time.Second
	DefaultQuiet    = 1 << 20
)

// Options configure Run. Zero values take the defaults.
type Options struct {
	// Interval is how often allocation is sampled.
	Interval time.Duration
	// Quiet is the most bytes allocated in one interval for it to count
	// as quiet. An idle gatherer's keepalives allocate a few kilobytes a
	// second, even with thousands of nodes.
	Quiet uint64
	// Logger gets one debug line per trim.
	Logger *slog.Logger

	// Tests replace these.
	allocated func() uint64 // bytes allocated since the process began
	trim      func()
	tick      func(time.Duration) (<-chan time.Time, func())
	looked    func() // called after each interval is dealt with
}

// Run trims after each burst until ctx ends. The first interval counts as
// busy (start-up allocates).
func Run(ctx context.Context, o Options) {
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Quiet == 0 {
		o.Quiet = DefaultQuiet
	}
	if o.allocated == nil {
		o.allocated = heapAllocated
	}
	if o.trim == nil {
		o.trim = debug.FreeOSMemory
	}
	if o.tick == nil {
		o.tick = func(d time.Duration) (<-chan time.Time, func()) {
			t := time.NewTicker(d)
			return t.C, t.Stop
		}
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c, stop := o.tick(o.Interval)
	defer stop()
	armed := true // a busy interval has not been followed by a trim yet
	last := o.allocated()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c:
		}
		now := o.allocated()
		busy := now-last > o.Quiet
		last = now
		switch {
		case busy:
			armed = true
		case armed:
			armed = false
			start := time.Now()
			o.trim()
			log.Debug("returned free memory to the system after a burst", "took", time.Since(start))
			// The trim's own bookkeeping must not count as a burst.
			last = o.allocated()
		}
		if o.looked != nil {
			o.looked()
		}
	}
}

// heapAllocated is the runtime's cumulative count of heap bytes allocated.
func heapAllocated() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
