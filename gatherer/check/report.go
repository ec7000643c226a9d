package check

import (
	"strconv"
	"time"
)

// Code is a probe's verdict, used as gatherer-check's exit status.
type Code int

// Verdicts, from best to worst for an operator.
const (
	// Healthy: the FURL names a live gatherer (and, when asked, the test
	// incident or event made the round trip).
	Healthy Code = 0
	// Unreachable: no hint gave a Foolscap answer: name resolution
	// failed, the connection was refused, or nothing answered in time.
	Unreachable Code = 1
	// BadFURL: the FURL (or the file or directory holding it) is unusable.
	BadFURL Code = 2
	// WrongIdentity: a Foolscap server answered but is not the Tub the
	// FURL names: it has no such tubid, or its certificate hashes to
	// another one.
	WrongIdentity Code = 3
	// NotGatherer: the Tub is there but the swissnum names no object
	// (KeyError), or the object is not a log, incident or stats gatherer.
	NotGatherer Code = 4
	// ProtocolError: the port does not speak Foolscap (an HTTP or TLS
	// server, say), or the conversation broke off.
	ProtocolError Code = 5
	// RoundTripFailed: with PublishTestIncident, the gatherer took the
	// logport call but did not fetch the incident (or take the event).
	RoundTripFailed Code = 6
)

// String names the code for reports.
func (c Code) String() string {
	switch c {
	case Healthy:
		return "healthy"
	case Unreachable:
		return "unreachable"
	case BadFURL:
		return "bad FURL"
	case WrongIdentity:
		return "wrong identity"
	case NotGatherer:
		return "not a gatherer"
	case ProtocolError:
		return "protocol error"
	case RoundTripFailed:
		return "round trip failed"
	}
	return "code " + strconv.Itoa(int(c))
}

// rank orders failures of different hints: the most telling one decides
// the verdict when no hint gets through.
func (c Code) rank() int {
	switch c {
	case WrongIdentity:
		return 4
	case ProtocolError:
		return 3
	case BadFURL:
		return 2
	case Unreachable:
		return 1
	}
	return 0
}

// Millis is a duration shown in milliseconds (JSON: a number with
// microsecond precision).
type Millis time.Duration

// MarshalJSON writes the duration as milliseconds.
func (m Millis) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, float64(time.Duration(m).Microseconds())/1000, 'f', 3, 64), nil
}

// String formats the duration as "1.234ms".
func (m Millis) String() string {
	return strconv.FormatFloat(float64(time.Duration(m).Microseconds())/1000, 'f', 1, 64) + "ms"
}

// Step names, in the order they run.
const (
	StepParse     = "parse"
	StepResolve   = "resolve"
	StepConnect   = "connect"
	StepNegotiate = "negotiate"
	StepTLS       = "tls"
	StepTubID     = "tubid"
	StepHello     = "hello"
	StepReference = "reference"
	StepInterface = "interface"
	StepLogport   = "logport"
	StepSubscribe = "subscribe"
	StepFetch     = "fetch"
	StepDeliver   = "deliver"
	StepSync      = "sync"
)

// Step is one timed step of a probe.
type Step struct {
	Name string `json:"step"`
	OK   bool   `json:"ok"`
	// Elapsed is the step's own time (zero for checks made within
	// another step, such as the tubid pin during TLS).
	Elapsed Millis `json:"ms"`
	// Detail says what was found, or why the step failed.
	Detail string `json:"detail,omitempty"`
}

// HintResult is what happened on one connection hint.
type HintResult struct {
	Hint string `json:"hint"`
	// Address is the address connected to (or last tried).
	Address string `json:"address,omitempty"`
	OK      bool   `json:"ok"`
	Steps   []Step `json:"steps"`
	// Code is the verdict for this hint alone.
	Code Code `json:"code"`
}

// PublishResult is the outcome of the --publish-test-incident round trip.
type PublishResult struct {
	// TubID is the throwaway Tub's tubid: the gatherer files the incident
	// under incidents/<TubID>/.
	TubID string `json:"tubid"`
	// Incident is the synthetic incident's name (incident gatherers).
	Incident string `json:"incident,omitempty"`
	// Subscribed is the subscription the gatherer made:
	// "subscribe_to_incidents" or "subscribe_to_all".
	Subscribed string `json:"subscribed,omitempty"`
	// Fetched: the gatherer called get_incident and got the incident.
	Fetched bool `json:"fetched"`
	// Delivered: the gatherer's observer answered our msg call.
	Delivered bool   `json:"delivered"`
	Steps     []Step `json:"steps"`
}

// Report is the full result of a probe, printed by gatherer-check.
type Report struct {
	// FURL is the probed FURL with its swissnum redacted ("" when it did
	// not parse).
	FURL  string `json:"furl,omitempty"`
	TubID string `json:"tubid,omitempty"`
	// Hints has one entry per hint, in FURL order.
	Hints []HintResult `json:"hints,omitempty"`
	// UsedHint is the hint the object checks ran on.
	UsedHint string `json:"used_hint,omitempty"`
	// Steps are the object checks (reference, interface).
	Steps []Step `json:"steps,omitempty"`
	// Interface is the RemoteInterface name the object announced.
	Interface string `json:"interface,omitempty"`
	// Kind is "log or incident gatherer", "incident gatherer", "log
	// gatherer" or "stats gatherer".
	Kind    string         `json:"kind,omitempty"`
	Publish *PublishResult `json:"publish,omitempty"`
	Code    Code           `json:"exit_code"`
	// Verdict is a one-line summary for an operator.
	Verdict string `json:"verdict"`
	Total   Millis `json:"total_ms"`
}
