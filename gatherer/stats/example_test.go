package stats_test

import (
	"context"
	"log/slog"

	"github.com/gatherer/gatherer/gatherer/metrics"
	"github.com/gatherer/gatherer/gatherer/stats"
)

// Example wires a stats gatherer the way `gatherer run --metrics ADDR DIR`
// does: the Foolscap root object (published under stats.GathererInterface)
// forwards each provide(provider, nickname) call to Service.Provide.
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
	// In the remote_provide handler: svc.Provide(ctx, adapter(providerRef), nickname)
	err = svc.Run(ctx) // until ctx ends
	cancel()
	<-served
	logger.Info("stats gatherer stopped", "err", err)
}
