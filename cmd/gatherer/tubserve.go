package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/gatherer/gatherer/foolscap/furl"
	"github.com/gatherer/gatherer/foolscap/negotiate"
	"github.com/gatherer/gatherer/foolscap/pb"
	"github.com/gatherer/gatherer/foolscap/tub"
	"github.com/gatherer/gatherer/gatherer/logport"
	"github.com/gatherer/gatherer/internal/atomicfile"
)

// shutdownTimeout bounds the Tub's shutdown after a stop.
const shutdownTimeout = 10 * time.Second

// loadIdentity reads the Tub key in python-foolscap's certFile layout, or
// makes one and stores it (mode 0600) when the file does not exist, as
// Tub(certFile=...) does.
func loadIdentity(path string) (*negotiate.Identity, error) {
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		id, err := negotiate.ParseIdentityPEM(b)
		if err != nil {
			return nil, fmt.Errorf("read the Tub identity %s: %w", path, err)
		}
		return id, nil
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("read the Tub identity: %w", err)
	}
	id, err := negotiate.NewIdentity(rand.Reader, time.Now())
	if err != nil {
		return nil, fmt.Errorf("make a Tub identity: %w", err)
	}
	pem, err := id.MarshalPEM()
	if err != nil {
		return nil, fmt.Errorf("encode the Tub identity: %w", err)
	}
	if err := (atomicfile.Writer{Perm: 0o600}).WriteFile(path, func(w io.Writer) error {
		_, err := w.Write(pem)
		return err
	}); err != nil {
		return nil, err
	}
	return id, nil
}

// tubServe is the production ServeFunc: python-foolscap's GatheringBase on
// foolscap/tub.
func tubServe(ctx context.Context, cfg ServeConfig) error {
	spec, err := furl.ParseListen(cfg.Port)
	if err != nil {
		return fmt.Errorf("DIR/port: %w", err)
	}
	id, err := loadIdentity(cfg.CertFile)
	if err != nil {
		return err
	}
	// One call at a time per connection keeps each node's msg calls in
	// arrival order, as Python's single-threaded reactor does; none of our
	// handlers blocks.
	t, err := tub.New(tub.Options{Identity: id, Logger: cfg.Logger, MaxInFlight: 1,
		Limits: cfg.Limits, MaxNegotiatingPerHost: cfg.MaxPerHost})
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		defer cancel()
		_ = t.Shutdown(sctx)
	}()
	if err := t.SetLocation(splitHints(cfg.Location)...); err != nil {
		return fmt.Errorf("DIR/location: %w", err)
	}
	if _, err := t.Listen(ctx, spec); err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Port, err)
	}
	root := logport.NewGatherer(func(ctx context.Context, nodeid any, pub *logport.Publisher) error {
		if cfg.Logport == nil {
			return nil
		}
		return cfg.Logport(ctx, nodeid, pub)
	}, cfg.Logger)
	f, err := t.RegisterFURLFile(root, cfg.FURLFile)
	if err != nil {
		return err
	}
	cfg.Ready(f)
	<-ctx.Done()
	return ctx.Err()
}

func splitHints(loc string) []string {
	var hs []string
	for _, h := range strings.Split(loc, ",") {
		if h = strings.TrimSpace(h); h != "" {
			hs = append(hs, h)
		}
	}
	return hs
}

// tubConnect is the production ConnectFunc of "tail": an ephemeral Tub and
// a Reconnector, like flogtool tail's.
func tubConnect(ctx context.Context, furlStr string, onConnect func(context.Context, TailPublisher)) error {
	id, err := negotiate.NewIdentity(rand.Reader, time.Now())
	if err != nil {
		return err
	}
	t, err := tub.New(tub.Options{Identity: id, MaxInFlight: 1})
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		defer cancel()
		_ = t.Shutdown(sctx)
	}()
	r, err := t.ConnectTo(furlStr, func(cctx context.Context, ref *pb.RemoteReference) {
		conn, drop := context.WithCancel(cctx)
		defer drop()
		stop := ref.NotifyOnDisconnect(drop)
		defer stop()
		onConnect(conn, logport.NewPublisher(ref))
	})
	if err != nil {
		return err
	}
	<-ctx.Done()
	r.Stop()
	return ctx.Err()
}
