package metrics

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Instruments are the gatherer's own metrics for one role ("stats",
// "incident", "log"), labelled role=<role>. Several roles may share one
// registry. Every method is safe for concurrent use and on a nil receiver.
type Instruments struct {
	connected prometheus.Gauge
	incidents prometheus.Counter
	events    prometheus.Counter
	written   prometheus.Counter
	errors    *prometheus.CounterVec
	fetch     prometheus.Histogram
}

// NewInstruments creates the instruments of one gatherer role and registers
// them on reg. Registering the same role twice on one registry fails.
func NewInstruments(reg prometheus.Registerer, role string) (*Instruments, error) {
	if reg == nil {
		return nil, fmt.Errorf("metrics: no registry given for the %q gatherer's own metrics", role)
	}
	cl := prometheus.Labels{"role": role}
	m := &Instruments{
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name:        "gatherer_connected_nodes",
			Help:        "Nodes currently connected to the gatherer.",
			ConstLabels: cl,
		}),
		incidents: prometheus.NewCounter(prometheus.CounterOpts{
			Name:        "gatherer_incidents_gathered_total",
			Help:        "Incidents fetched from nodes and stored.",
			ConstLabels: cl,
		}),
		events: prometheus.NewCounter(prometheus.CounterOpts{
			Name:        "gatherer_events_gathered_total",
			Help:        "Log events received from nodes.",
			ConstLabels: cl,
		}),
		written: prometheus.NewCounter(prometheus.CounterOpts{
			Name:        "gatherer_written_bytes_total",
			Help:        "Bytes written to the gatherer's output files.",
			ConstLabels: cl,
		}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name:        "gatherer_errors_total",
			Help:        "Errors met by the gatherer, by kind.",
			ConstLabels: cl,
		}, []string{"kind"}),
		fetch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:        "gatherer_fetch_duration_seconds",
			Help:        "Time taken by one fetch from a node (get_stats, get_incident, an HTTP poll).",
			ConstLabels: cl,
			// 1 ms to about 65 s, a factor of 4 apart: a local get_stats()
			// answer as well as a large incident over a slow link.
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 9),
		}),
	}
	for _, c := range []prometheus.Collector{m.connected, m.incidents, m.events, m.written, m.errors, m.fetch} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: registering the %q gatherer's own metrics: %w", role, err)
		}
	}
	return m, nil
}

// SetConnectedNodes sets the number of currently connected nodes.
func (m *Instruments) SetConnectedNodes(n int) {
	if m == nil {
		return
	}
	m.connected.Set(float64(n))
}

// AddConnectedNodes adds delta (negative when nodes leave) to the number of
// connected nodes, for services that track connections one at a time.
func (m *Instruments) AddConnectedNodes(delta int) {
	if m == nil {
		return
	}
	m.connected.Add(float64(delta))
}

// AddIncidents counts n incidents gathered.
func (m *Instruments) AddIncidents(n int) {
	if m == nil || n <= 0 {
		return
	}
	m.incidents.Add(float64(n))
}

// AddEvents counts n log events gathered.
func (m *Instruments) AddEvents(n int) {
	if m == nil || n <= 0 {
		return
	}
	m.events.Add(float64(n))
}

// AddBytesWritten counts n bytes written to output files.
func (m *Instruments) AddBytesWritten(n int) {
	if m == nil || n <= 0 {
		return
	}
	m.written.Add(float64(n))
}

// Error counts one error of the given kind. Kinds are short snake_case tokens
// chosen by the caller ("get_stats", "malformed_stats", "write_stats"); any
// other string is counted as "other" so that a peer can never grow the
// label's cardinality.
func (m *Instruments) Error(kind string) {
	if m == nil {
		return
	}
	if !isToken(kind) {
		kind = "other"
	}
	m.errors.WithLabelValues(kind).Inc()
}

// ObserveFetch records the duration of one fetch from a node.
func (m *Instruments) ObserveFetch(d time.Duration) {
	if m == nil {
		return
	}
	m.fetch.Observe(d.Seconds())
}

// isToken reports whether s is a short snake_case token: 1 to 40 characters
// from [a-z0-9_].
func isToken(s string) bool {
	if len(s) == 0 || len(s) > 40 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}
