package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/gatherer/gatherer/internal/loadnode"
)

// connectParallel bounds the connections negotiating at once (the
// gatherer allows 32 per remote host).
const connectParallel = 24

// makeNodes creates n load nodes; opts(i) gives node i's options (the
// identity is filled in).
func (b *bench) makeNodes(n int, opts func(i int) loadnode.Options) ([]*loadnode.Node, error) {
	nodes := make([]*loadnode.Node, 0, n)
	for i := range n {
		id, err := b.ids.New()
		if err != nil {
			closeNodes(nodes)
			return nil, err
		}
		o := opts(i)
		o.Identity = id
		nd, err := loadnode.New(o)
		if err != nil {
			closeNodes(nodes)
			return nil, err
		}
		nodes = append(nodes, nd)
	}
	return nodes, nil
}

// connectNodes connects every node to furl, connectParallel at a time,
// and returns the first error.
func connectNodes(ctx context.Context, nodes []*loadnode.Node, furl string) error {
	sem := make(chan struct{}, connectParallel)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for _, nd := range nodes {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return ctx.Err()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := nd.Connect(ctx, furl); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("%d of %d nodes did not connect; the first: %w", len(errs), len(nodes), errs[0])
	}
	return nil
}

// closeNodes shuts every node down, a few at a time.
func closeNodes(nodes []*loadnode.Node) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for _, nd := range nodes {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			_ = nd.Close(ctx)
		}()
	}
	wg.Wait()
}

// waitUntil polls cond every interval until it holds (true) or ctx ends
// (false).
func waitUntil(ctx context.Context, interval time.Duration, cond func() bool) bool {
	return poll(ctx, func() time.Duration { return interval }, cond)
}

// waitPrecisely is waitUntil for a case whose duration is the figure: it
// checks again after a fiftieth of the time gone so far (1 to 25 ms), so
// that a case of 50 ms is not measured to the next 25-ms tick (a fifth of
// its length) and one of minutes does not spend the shared CPUs checking.
func waitPrecisely(ctx context.Context, start time.Time, cond func() bool) bool {
	return poll(ctx, func() time.Duration {
		return min(max(time.Since(start)/50, time.Millisecond), 25*time.Millisecond)
	}, cond)
}

// poll checks cond, then again after each wait that next gives, until it
// holds (true) or ctx ends (false).
func poll(ctx context.Context, next func() time.Duration, cond func() bool) bool {
	for !cond() {
		t := time.NewTimer(next())
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
	}
	return true
}

func sumStats(nodes []*loadnode.Node) loadnode.Stats {
	var s loadnode.Stats
	for _, nd := range nodes {
		x := nd.Stats()
		s.IncidentSubscriptions += x.IncidentSubscriptions
		s.EventSubscriptions += x.EventSubscriptions
		s.IncidentsAnnounced += x.IncidentsAnnounced
		s.IncidentsServed += x.IncidentsServed
		s.EventsQueued += x.EventsQueued
		s.EventsDropped += x.EventsDropped
		s.EventsDelivered += x.EventsDelivered
		s.EventErrors += x.EventErrors
	}
	return s
}
