package stats

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gatherer/gatherer/foolscap/furl"
	"github.com/gatherer/gatherer/foolscap/negotiate"
	"github.com/gatherer/gatherer/foolscap/tub"
	"github.com/gatherer/gatherer/gatherer/metrics"
	"github.com/gatherer/gatherer/internal/atomicfile"
)

// tubShutdownTimeout bounds the Tub's shutdown once Serve is stopping.
const tubShutdownTimeout = 10 * time.Second

// maxKeyFileBytes bounds stats_gatherer.pem; a 4096-bit key and its
// certificate take about 5 KiB.
const maxKeyFileBytes = 1 << 20

// ServeConfig configures Serve. Only Dir is required.
type ServeConfig struct {
	// Dir is a stats gatherer directory made by Create (or by
	// `tahoe create-stats-gatherer` of Tahoe 1.12 to 1.15.1).
	Dir string
	// PollInterval and CallTimeout are passed to the Service (defaults
	// 60 s and 30 s).
	PollInterval time.Duration
	CallTimeout  time.Duration
	// MetricsAddr, if not empty, is the "HOST:PORT" where Prometheus
	// metrics are served under /metrics (the --metrics flag).
	MetricsAddr string
	// Ready, if set, is called once the gatherer listens, its FURL file is
	// written and the metrics endpoint (if any) is up.
	Ready func(ServeInfo)
	// Logger receives the gatherer's operational messages; TubLogger the
	// Tub's (nil: Logger). A nil Logger discards.
	Logger    *slog.Logger
	TubLogger *slog.Logger
	// Rand is the source of swissnums and the Tub's incarnation (nil:
	// crypto/rand).
	Rand io.Reader
	// Now is the clock for entry timestamps and a new key's certificate
	// (nil: time.Now).
	Now func() time.Time
	// MaxPerHost bounds the connections negotiating at once from one
	// address (0: tub.DefaultMaxNegotiatingPerHost).
	MaxPerHost int
}

// ServeInfo describes a running stats gatherer.
type ServeInfo struct {
	TubID       string
	FURL        string   // also in DIR/stats_gatherer.furl
	Addr        net.Addr // where the Tub listens
	MetricsAddr net.Addr // where /metrics is served; nil without MetricsAddr
}

// Serve runs the stats gatherer of cfg.Dir until ctx ends, like Tahoe's
// StatsGathererService: the Tub key is DIR/stats_gatherer.pem
// (python-foolscap's certFile layout; made on first run, reused after), the
// Tub listens on DIR/port and puts DIR/location in its FURL, and the
// gatherer object is registered under DIR/stats_gatherer.furl, whose
// swissnum is kept across restarts so that nodes keep their configured
// stats_gatherer.furl. The Service polls the providers and writes
// DIR/stats.json; with cfg.MetricsAddr, /metrics serves the gatherer's own
// instruments and the nodes' values.
//
// Serve does not lock the directory (cmd/gatherer does). It returns
// ctx.Err() after a normal stop, once the last stats.json is written and
// the Tub has shut down, or the first error that stopped it.
func Serve(ctx context.Context, cfg ServeConfig) error {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tubLog := cfg.TubLogger
	if tubLog == nil {
		tubLog = log
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	dcfg, err := ReadConfig(cfg.Dir)
	if err != nil {
		return err
	}
	spec, err := furl.ParseListen(dcfg.Port)
	if err != nil {
		return fmt.Errorf("stats: %s: %w", filepath.Join(cfg.Dir, PortFile), err)
	}
	id, err := loadIdentity(filepath.Join(cfg.Dir, KeyFile), now())
	if err != nil {
		return err
	}

	var inst *metrics.Instruments
	reg := metrics.NewRegistry()
	if cfg.MetricsAddr != "" {
		if inst, err = metrics.NewInstruments(reg, "stats"); err != nil {
			return fmt.Errorf("stats: %w", err)
		}
	}
	svc, err := New(Options{
		Dir:          cfg.Dir,
		PollInterval: cfg.PollInterval,
		CallTimeout:  cfg.CallTimeout,
		Now:          now,
		Logger:       log,
		Metrics:      inst,
	})
	if err != nil {
		return err
	}
	if cfg.MetricsAddr != "" {
		if err := reg.Register(metrics.NewStatsCollector(svc, log)); err != nil {
			return fmt.Errorf("stats: registering the stats collector: %w", err)
		}
	}

	t, err := tub.New(tub.Options{Identity: id, Logger: tubLog, Rand: cfg.Rand, MaxNegotiatingPerHost: cfg.MaxPerHost})
	if err != nil {
		return fmt.Errorf("stats: %w", err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), tubShutdownTimeout)
		defer cancel()
		if err := t.Shutdown(sctx); err != nil {
			log.Warn("the Tub did not shut down cleanly", "err", err)
		}
	}()
	if err := t.SetLocation(splitHints(dcfg.Location)...); err != nil {
		return fmt.Errorf("stats: %s: %w", filepath.Join(cfg.Dir, LocationFile), err)
	}
	addr, err := t.Listen(ctx, spec)
	if err != nil {
		return fmt.Errorf("stats: listening on %q (from %s): %w", dcfg.Port, filepath.Join(cfg.Dir, PortFile), err)
	}
	var mln net.Listener
	if cfg.MetricsAddr != "" {
		var lc net.ListenConfig
		if mln, err = lc.Listen(ctx, "tcp", cfg.MetricsAddr); err != nil {
			return fmt.Errorf("stats: cannot listen on --metrics address %q: %w", cfg.MetricsAddr, err)
		}
	}
	furlPath := filepath.Join(cfg.Dir, FURLFile)
	f, err := t.RegisterFURLFile(NewGatherer(svc, log), furlPath)
	if err != nil {
		if mln != nil {
			mln.Close()
		}
		return fmt.Errorf("stats: registering the gatherer object: %w", err)
	}
	log.Info("stats gatherer running", "tubid", t.TubID(), "listen", addr.String(), "file", furlPath)

	rctx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	wg.Go(func() {
		errc <- svc.Run(rctx)
		stop()
	})
	info := ServeInfo{TubID: t.TubID(), FURL: f, Addr: addr}
	if mln != nil {
		info.MetricsAddr = mln.Addr()
		wg.Go(func() {
			errc <- metrics.Serve(rctx, mln, metrics.Handler(reg, log), log)
			stop()
		})
	}
	if cfg.Ready != nil {
		cfg.Ready(info)
	}
	wg.Wait()
	close(errc)
	var first error
	for err := range errc {
		if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) && first == nil {
			first = err
		}
	}
	if first != nil {
		return first
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return context.Canceled
}

// splitHints splits a location ("tcp:HOST:PORT,tcp:HOST2:PORT") into its
// hints, as Tub.setLocation does.
func splitHints(loc string) []string {
	var hints []string
	for _, h := range strings.Split(loc, ",") {
		if h = strings.TrimSpace(h); h != "" {
			hints = append(hints, h)
		}
	}
	return hints
}

// loadIdentity reads the Tub key in python-foolscap's certFile layout, or
// makes one and stores it (mode 0600, atomically) when the file does not
// exist, as Tub(certFile=path) does.
func loadIdentity(path string, now time.Time) (*negotiate.Identity, error) {
	b, err := readLimited(path, maxKeyFileBytes)
	switch {
	case err == nil:
		id, err := negotiate.ParseIdentityPEM(b)
		if err != nil {
			return nil, fmt.Errorf("stats: reading the Tub key %s: %w", path, err)
		}
		return id, nil
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("stats: reading the Tub key %s: %w", path, err)
	}
	id, err := negotiate.NewIdentity(rand.Reader, now)
	if err != nil {
		return nil, fmt.Errorf("stats: making a Tub key: %w", err)
	}
	pem, err := id.MarshalPEM()
	if err != nil {
		return nil, fmt.Errorf("stats: encoding the Tub key: %w", err)
	}
	if err := (atomicfile.Writer{Perm: 0o600}).WriteFile(path, func(w io.Writer) error {
		_, err := w.Write(pem)
		return err
	}); err != nil {
		return nil, fmt.Errorf("stats: writing the Tub key: %w", err)
	}
	return id, nil
}
