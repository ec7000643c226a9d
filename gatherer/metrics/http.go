package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Path is where Serve answers scrapes.
const Path = "/metrics"

// shutdownGrace bounds how long Serve waits for scrapes in progress once its
// context ends.
const shutdownGrace = 5 * time.Second

// NewRegistry returns a registry holding the Go runtime and process
// collectors (CPU seconds, resident memory, goroutines), to which the
// gatherer services add their own instruments and collectors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// Handler serves the text exposition of everything g gathers. A collector
// that fails is logged and left out; the rest is still served. A nil logger
// discards.
func Handler(g prometheus.Gatherer, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorLog:      slogPrinter{logger},
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// slogPrinter adapts a slog.Logger to promhttp's Logger.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Println(v ...any) {
	p.log.Warn("prometheus exposition", "err", fmt.Sprint(v...))
}

// ListenAndServe listens on addr (the value of --metrics, "HOST:PORT") and
// serves h under Path until ctx ends; see Serve.
func ListenAndServe(ctx context.Context, addr string, h http.Handler, logger *slog.Logger) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics: cannot listen on --metrics address %q: %w", addr, err)
	}
	return Serve(ctx, ln, h, logger)
}

// Serve serves h under Path on ln until ctx ends, then shuts the server down
// (waiting up to 5 s for scrapes in progress) and returns ctx.Err(). It
// closes ln. Any other error from the server is returned wrapped.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	mux.Handle(Path, h)
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	logger.Info("serving Prometheus metrics", "addr", ln.Addr().String(), "path", Path)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("metrics: HTTP server on %s stopped: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		logger.Warn("metrics server did not shut down cleanly", "err", err)
		_ = srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("metrics: HTTP server on %s stopped: %w", ln.Addr(), err)
	}
	return ctx.Err()
}
