package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/gatherer/gatherer/foolscap/banana"
	"github.com/gatherer/gatherer/gatherer/incident"
	"github.com/gatherer/gatherer/gatherer/logs"
)

// Publisher is a connected node's logport as the Tub adapter presents it to
// both gatherer kinds (RILogPublisher.foolscap.lothar.com). The production
// adapter is gatherer/logport's Publisher: it passes our observers
// (incident.Observer, logs.Observer) to the node as my-references with
// iname RILogObserver.foolscap.lothar.com, maps new_incident(name,
// trigger), done_with_incident_catchup() and msg(event) onto them, sends
// since and incident names as bytes, and calls subscribe_to_all with the
// observer alone when catch-up is off (python-foolscap's wire form).
type Publisher interface {
	incident.Publisher
	logs.Publisher
}

// ServeConfig is what a Tub needs to run a gatherer. It follows
// python-foolscap's GatheringBase: Tub(certFile=CertFile), listenOn(Port),
// setLocation(Location), registerReference(root, furlFile=FURLFile).
type ServeConfig struct {
	// Dir is the gatherer directory.
	Dir string
	// Port is DIR/port, a listen spec for furl.ParseListen.
	Port string
	// Location is DIR/location: comma-separated connection hints.
	Location string
	// CertFile is DIR/gatherer.pem, the Tub identity in python-foolscap's
	// layout; created on first start.
	CertFile string
	// FURLFile is DIR/log_gatherer.furl. Its swissnum is reused at every
	// start (a new one is made only when the file is missing) and the file
	// is rewritten with the current location (mode 0600 when created).
	FURLFile string
	// Logport is called for every logport(nodeid, publisher) call on the
	// root object. It returns at once; ctx must end when the connection
	// drops.
	Logport func(ctx context.Context, nodeid any, pub Publisher) error
	// Limits bounds what the Tub accepts from a node in one message (the
	// largest incident: --max-incident-size); zero fields mean banana's
	// defaults.
	Limits banana.Limits
	// MaxPerHost bounds the connections negotiating at once from one
	// address (--max-per-host); 0 means tub.DefaultMaxNegotiatingPerHost.
	MaxPerHost int
	// Ready is called once with the gatherer's FURL when listening.
	Ready func(furl string)
	// Logger receives the Tub's own messages.
	Logger *slog.Logger
}

// ServeFunc runs a Tub serving cfg until ctx ends. It is the seam where
// foolscap/tub is plugged in.
type ServeFunc func(ctx context.Context, cfg ServeConfig) error

// errNoTub is what a missing seam reports.
var errNoTub = errors.New("no Foolscap Tub is configured; the gatherer cannot accept connections")

// defaultServe is the production Tub (tubserve.go).
func defaultServe(ctx context.Context, cfg ServeConfig) error { return tubServe(ctx, cfg) }
