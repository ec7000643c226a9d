package loadnode

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/gatherer/gatherer/foolscap/banana"
)

// Foolscap log levels (foolscap/logging/levels.py).
const (
	levelOperational = 20
	levelUnusual     = 23
	levelWeird       = 30
)

// Incident is one incident as a python node's publisher holds it in its
// incidents directory: the name (the file name without .flog[.bz2]), the
// header of the file and the events, unwrapped. Values are read-only once
// made: many nodes may serve the same Incident.
type Incident struct {
	Name    string
	Header  *banana.Dict // {"type": "incident", "trigger", "versions", "pid"}
	Trigger *banana.Dict // the WEIRD event, also the last of Events
	Events  banana.List
}

// IncidentSpec describes a set of synthetic incidents.
type IncidentSpec struct {
	// Count is the number of incidents; Events the events in each
	// (at least 1: the trigger is the last one). About 200 is typical of
	// foolscap's incident reporter (its buffer plus the trailing window).
	Count, Events int
	// Start is the time of the first incident; the others follow one
	// second apart (names sort by time, as python's do).
	Start time.Time
	// Seed makes names and contents reproducible.
	Seed uint64
}

// MakeIncidents builds the incidents spec describes, shaped like the ones
// python-foolscap 21.7 writes (see shared/fixtures-reference/decompressed).
func MakeIncidents(spec IncidentSpec) ([]Incident, error) {
	if spec.Count < 0 || spec.Events < 1 {
		return nil, fmt.Errorf("loadnode: an incident set needs a count >= 0 and at least one event per incident (got %d, %d)", spec.Count, spec.Events)
	}
	rng := rand.New(rand.NewPCG(spec.Seed, spec.Seed^0x9e3779b97f4a7c15))
	incarnation := hexString(rng, 16)
	versions := sortedDict("twisted", "22.4.0", "foolscap", "21.7.0", "loadnode", "1")
	out := make([]Incident, 0, spec.Count)
	num := int64(0)
	for i := range spec.Count {
		when := spec.Start.Add(time.Duration(i) * time.Second).UTC()
		name := "incident-" + when.Format("2006-01-02--15-04-05Z") + "-" + base32String(rng, 7)
		t0 := float64(when.UnixNano())/1e9 - 2
		events := make(banana.List, 0, spec.Events)
		for j := range spec.Events - 1 {
			events = append(events, incidentEvent(num, t0+float64(j)*0.01, incarnation, j))
			num++
		}
		trigger := sortedDict(
			"format", "%(label)s-weird happened: %(why)s",
			"label", fmt.Sprintf("bench%d", i),
			"why", "synthetic load",
			"level", int64(levelWeird),
			"umid", "Ab12Cd",
			"facility", "bench.app",
			"num", num,
			"time", t0+2,
			"incarnation", banana.List{incarnation, nil},
		)
		num++
		events = append(events, trigger)
		header := sortedDict(
			"type", "incident",
			"trigger", trigger,
			"versions", versions,
			"pid", int64(4242),
		)
		out = append(out, Incident{Name: name, Header: header, Trigger: trigger, Events: events})
	}
	return out, nil
}

// incidentEvent is event j of an incident: a mix of the format= and
// message= events a Tub and an application log, with parents.
func incidentEvent(num int64, t float64, incarnation string, j int) *banana.Dict {
	inc := banana.List{incarnation, nil}
	switch j % 4 {
	case 0:
		return sortedDict(
			"format", "TubConnector created from %(fromtubid)s to %(totubid)s",
			"fromtubid", "qrrnx55najmpo4kcseajcszexvro4qig",
			"totubid", "fafh6c7flkglf3use5jrqf3hh3ubwgyb",
			"level", int64(levelOperational),
			"facility", "foolscap.connection",
			"umid", "pH4QDA",
			"num", num,
			"time", t,
			"incarnation", inc,
		)
	case 1:
		return sortedDict(
			"parent", num-1,
			"facility", "foolscap.connection",
			"num", num,
			"level", int64(levelOperational),
			"message", "considering hint: tcp:127.0.0.1:31181",
			"time", t,
			"incarnation", inc,
		)
	case 2:
		return sortedDict(
			"format", "uploaded %(size)d bytes to %(server)s",
			"size", int64(1<<20+j),
			"server", "v0-abcdefghijklmnopqrstuvwxyz",
			"level", int64(levelOperational),
			"facility", "tahoe.upload",
			"num", num,
			"time", t,
			"incarnation", inc,
		)
	default:
		return sortedDict(
			"facility", "bench.app",
			"num", num,
			"level", int64(levelUnusual),
			"message", fmt.Sprintf("step %d: caf\u00e9 \u2603 retrying", j),
			"time", t,
			"incarnation", inc,
		)
	}
}

// sortedDict is banana.NewDict with the items in key order. python-foolscap
// sends every dict with its keys sorted, and so does our Encoder, which
// then has no sorting left to do for a load node's events: the load nodes
// share the CPUs with the gatherer being measured.
func sortedDict(kv ...any) *banana.Dict {
	d := banana.NewDict(kv...)
	slices.SortFunc(d.Items, func(a, b banana.DictItem) int { return strings.Compare(a.Key.(string), b.Key.(string)) })
	return d
}

// LiveEvent is an event as python-foolscap's log.msg hands it to a
// subscription: message= form, a float time, the incarnation as a
// (hex, None) tuple.
func LiveEvent(num int64, now time.Time, incarnation string) *banana.Dict {
	return sortedDict(
		"format", "request %(n)d served in %(ms)d ms",
		"n", num,
		"ms", num%97,
		"facility", "bench.live",
		"level", int64(levelOperational),
		"num", num,
		"time", float64(now.UnixNano())/1e9,
		"incarnation", banana.Tuple{incarnation, nil},
	)
}

func hexString(rng *rand.Rand, n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[rng.IntN(len(digits))]
	}
	return string(b)
}

func base32String(rng *rand.Rand, n int) string {
	const digits = "abcdefghijklmnopqrstuvwxyz234567"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[rng.IntN(len(digits))]
	}
	return string(b)
}

// ForNode returns base with a node's own names and incarnation: the
// events are shared with base, but each incident gets a new random name
// suffix and a trigger (and header) carrying the node's incarnation, as
// two real nodes' incidents never share a name and trigger. (Our
// gatherer skips an incident whose name and trigger it already holds
// under another tubid; identical copies would measure that shortcut.)
func ForNode(base []Incident, seed uint64) []Incident {
	rng := rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d))
	incarnation := hexString(rng, 16)
	out := make([]Incident, len(base))
	for i, inc := range base {
		name := inc.Name
		if len(name) > 7 {
			name = name[:len(name)-7] + base32String(rng, 7)
		}
		trigger := &banana.Dict{Items: append([]banana.DictItem(nil), inc.Trigger.Items...)}
		trigger.Set("incarnation", banana.List{incarnation, nil})
		header := &banana.Dict{Items: append([]banana.DictItem(nil), inc.Header.Items...)}
		header.Set("trigger", trigger)
		events := make(banana.List, len(inc.Events))
		copy(events, inc.Events)
		events[len(events)-1] = trigger
		out[i] = Incident{Name: name, Header: header, Trigger: trigger, Events: events}
	}
	return out
}
