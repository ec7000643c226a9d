package stats

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/gatherer/gatherer/foolscap/banana"
)

// BenchmarkPoll1000 is one poll round of 1,000 providers answering a
// Tahoe-sized get_stats() (about 40 values), stats.json written included.
// At a 1 s poll interval, ns/op divided by 1e9 is the share of one core the
// gatherer needs (the Foolscap calls themselves excluded).
func BenchmarkPoll1000(b *testing.B) {
	ans := tahoeLikeAnswer()
	s, err := New(Options{Dir: b.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for i := range 1000 {
		p := newFake(fmt.Sprintf("%032d", i), func(context.Context) (any, error) { return ans, nil })
		if err := s.Provide(ctx, p, []byte(fmt.Sprintf("node-%d", i))); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Poll(ctx); err != nil {
		b.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(s.dir, StatsFile))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(fi.Size())
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := s.Poll(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func tahoeLikeAnswer() *banana.Dict {
	counters := banana.NewDict()
	for _, k := range []string{"allocate", "write", "close", "abort", "get", "read", "readv", "writev", "add-lease", "renew", "cancel", "bytes_freed", "bytes_added"} {
		counters.Set([]byte("storage_server."+k), int64(12345))
	}
	stats := banana.NewDict(
		[]byte("node.uptime"), 86400.5, []byte("cpu_monitor.total"), 12.3,
		[]byte("cpu_monitor.1min_avg"), 0.01, []byte("load_monitor.avg_load"), 0.0012,
		[]byte("storage_server.disk_avail"), int64(83842835968))
	for _, q := range []string{"mean", "01_0_percentile", "10_0_percentile", "50_0_percentile", "90_0_percentile", "95_0_percentile", "99_0_percentile", "99_9_percentile"} {
		for _, op := range []string{"allocate", "get", "read"} {
			stats.Set([]byte("storage_server.latencies."+op+"."+q), 0.000123)
		}
	}
	return banana.NewDict([]byte("counters"), counters, []byte("stats"), stats)
}
