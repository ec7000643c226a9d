package stats_test

import (
	"context"
	"log/slog"

	"github.com/gatherer/gatherer/gatherer/metrics"
	"github.com/gatherer/gatherer/gatherer/stats"
)

// Example wires the pieces of a stats gatherer by hand: a root object
// (stats.NewGatherer, published under stats.GathererInterface) forwards each
// provide(provider, nickname) call to Service.Provide. ExampleServe does all
// of it from a directory.
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logger := slog.Default()

	reg := metrics.NewRegistry()
	inst, err := metrics.NewInstruments(reg, "stats")
	if err != nil {
		logger.Error("metrics", "err", err)
		return
	}
	svc, err := stats.New(stats.Options{Dir: "/var/lib/stats-gatherer", Logger: logger, Metrics: inst})
	if err != nil {
		logger.Error("cannot start the stats gatherer", "err", err)
		return
	}
	reg.MustRegister(metrics.NewStatsCollector(svc, logger))

	served := make(chan error, 1)
	go func() {
		served <- metrics.ListenAndServe(ctx, "127.0.0.1:9464", metrics.Handler(reg, logger), logger)
	}()
	// Register stats.NewGatherer(svc, logger) on a Tub; its provide() calls
	// svc.Provide(ctx, stats.NewRemoteProvider(ref), nickname).
	err = svc.Run(ctx) // until ctx ends
	cancel()
	<-served
	logger.Info("stats gatherer stopped", "err", err)
}

// ExampleServe runs the stats gatherer of a directory made by stats.Create
// (`gatherer create-stats-gatherer`) until ctx ends, with Prometheus metrics
// on 127.0.0.1:9464, as `gatherer run --metrics 127.0.0.1:9464 DIR` does.
func ExampleServe() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logger := slog.Default()
	err := stats.Serve(ctx, stats.ServeConfig{
		Dir:         "/var/lib/stats-gatherer",
		MetricsAddr: "127.0.0.1:9464",
		Logger:      logger,
		Ready: func(i stats.ServeInfo) {
			logger.Info("give nodes stats_gatherer.furl", "tubid", i.TubID, "listen", i.Addr.String())
		},
	})
	logger.Info("stats gatherer stopped", "err", err)
}
