package memtrim

import (
	"context"
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"testing"
	"time"
)

func TestTrimsOncePerBurst(t *testing.T) {
	var trims atomic.Int64
	var alloc atomic.Uint64
	ticks := make(chan time.Time)
	looked := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, Options{
			Quiet:     100,
			allocated: alloc.Load,
			trim:      func() { trims.Add(1) },
			tick:      func(time.Duration) (<-chan time.Time, func()) { return ticks, func() {} },
			looked:    func() { looked <- struct{}{} },
		})
	}()
	defer func() { cancel(); <-done }()
	// step allocates n bytes, ends one interval and waits until Run has
	// dealt with it.
	step := func(n uint64) {
		alloc.Add(n)
		ticks <- time.Time{}
		<-looked
	}
	for _, tc := range []struct {
		alloc uint64
		want  int64 // trims before this interval
	}{
		{10, 0},   // start-up counts as busy: this quiet interval trims
		{10, 1},   // staying quiet trims no more
		{10, 1},   //
		{5000, 1}, // a burst
		{5000, 1}, // still busy: no trim during the burst
		{10, 1},   // quiet again: trims
		{10, 2},   //
		{100, 2},  // at the threshold is quiet
		{101, 2},  // above it is busy
		{0, 2},    // quiet: trims
		{0, 3},    //
	} {
		if got := trims.Load(); got != tc.want {
			t.Fatalf("before an interval allocating %d bytes: %d trims, want %d", tc.alloc, got, tc.want)
		}
		step(tc.alloc)
	}
}

// TestReturnsMemory runs the real trim after a real burst: the heap the
// burst left is given back.
func TestReturnsMemory(t *testing.T) {
	released := func() uint64 {
		s := []metrics.Sample{{Name: "/memory/classes/heap/released:bytes"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, Options{Interval: 50 * time.Millisecond})
	}()
	var keep [][]byte
	for range 64 {
		keep = append(keep, make([]byte, 1<<20))
	}
	runtime.KeepAlive(keep)
	keep = nil
	before := released()
	deadline := time.Now().Add(5 * time.Second)
	for released() < before+32<<20 {
		if time.Now().After(deadline) {
			t.Fatalf("released heap went from %d to %d bytes; want the 64 MiB burst mostly returned", before, released())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
}
