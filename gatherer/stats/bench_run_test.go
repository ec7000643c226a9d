//go:build linux

package stats

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"syscall"
	"testing"
	"time"
)

// BenchmarkRun1000PerSecond runs the service with 1,000 providers and a 1 s
// poll interval for b.N seconds (use -benchtime=10x for ten seconds) and
// reports the process's CPU share of one core and its peak RSS: the numbers
// issue 4 asks `make bench` for. The fake providers answer at once, so this
// is the gatherer's own cost, Foolscap excluded.
func BenchmarkRun1000PerSecond(b *testing.B) {
	ans := tahoeLikeAnswer()
	s, err := New(Options{Dir: b.TempDir(), PollInterval: time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	for i := range 1000 {
		p := newFake(fmt.Sprintf("%032d", i), func(context.Context) (any, error) { return ans, nil })
		if err := s.Provide(ctx, p, []byte(fmt.Sprintf("node-%d", i))); err != nil {
			b.Fatal(err)
		}
	}
	var before syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &before); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	time.Sleep(time.Duration(b.N) * time.Second)
	cancel()
	<-done
	wall := time.Since(start)
	var after syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &after); err != nil {
		b.Fatal(err)
	}
	cpu := tv(after.Utime) + tv(after.Stime) - tv(before.Utime) - tv(before.Stime)
	b.ReportMetric(cpu.Seconds()/wall.Seconds(), "cpu-share")
	b.ReportMetric(float64(after.Maxrss)/1024, "peak-rss-MiB")
}

func tv(t syscall.Timeval) time.Duration {
	return time.Duration(t.Sec)*time.Second + time.Duration(t.Usec)*time.Microsecond
}
