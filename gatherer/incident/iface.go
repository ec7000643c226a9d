package incident

import (
	"context"
	"io"
)

// Publisher is what the incident gatherer needs from a connected node's
// logport (RILogPublisher.foolscap.lothar.com). cmd/gatherer implements it
// on top of a pb remote reference.
type Publisher interface {
	// TubID is the authenticated tubid of the connection the logport came
	// over (Python: publisher.getRemoteTubID()).
	TubID() string
	// SubscribeToIncidents calls
	// subscribe_to_incidents(obs, catch_up=catchUp, since=<since as bytes>).
	// obs must travel as a my-reference with iname
	// RILogObserver.foolscap.lothar.com.
	SubscribeToIncidents(ctx context.Context, obs Observer, catchUp bool, since string) error
	// GetIncident calls get_incident(<name as bytes>) and returns the
	// (header, events) answer.
	GetIncident(ctx context.Context, name string) (header any, events []any, err error)
}

// Observer receives the node's calls on our RILogObserver. The values are
// those of the banana value model, as received.
type Observer interface {
	// NewIncident is new_incident(name, trigger). It never blocks and
	// never fails: an error answer would make the node drop the
	// subscription.
	NewIncident(ctx context.Context, name, trigger any) error
	// DoneWithIncidentCatchup is done_with_incident_catchup().
	DoneWithIncidentCatchup(ctx context.Context) error
}

// Flog is what the incident gatherer needs from gatherer/flog.
type Flog interface {
	// WriteIncident writes a complete bzip2-compressed flogfile to w: the
	// magic line, {"header": header} and one
	// {"from": from, "rx_time": rxTime, "d": event} line per event.
	WriteIncident(w io.Writer, header any, from string, rxTime float64, events []any) error
	// ReadHeader reads a bzip2-compressed flogfile far enough to return the
	// value of its {"header": ...} line.
	ReadHeader(r io.Reader) (header any, err error)
	// ReadWhole is ReadHeader that also reads the rest of the file and
	// fails unless it is complete (a gatherer that writes in place, as
	// python's does, leaves a truncated file when it is killed mid-write).
	ReadWhole(r io.Reader) (header any, err error)
}
