package banana

// Limits bounds what a Decoder accepts before it allocates. A zero field
// means "use the default".
//
// python-foolscap accepts unlimited strings and containers in positions
// without a schema. Our defaults are finite so that one peer cannot exhaust
// memory, and they are large enough for every message the Foolscap and Tahoe
// gatherers exchange (an incident of tens of thousands of events).
type Limits struct {
	// MaxStringBytes bounds one STRING token body (bytes, or the UTF-8 of a
	// str). Default 16 MiB. Exceeding it is a Violation; the body is skipped
	// without being buffered.
	MaxStringBytes int
	// MaxItems bounds the number of children of one sequence: elements of
	// a list, tuple, set or frozenset; keys and values of a dict (each
	// counts, so a dict holds at most MaxItems/2 items); names and values
	// of a copyable. Default 1<<20.
	MaxItems int
	// MaxDepth bounds the nesting of OPEN sequences inside one top-level
	// message. Default 200.
	MaxDepth int
	// MaxLongIntBytes bounds a LONGINT/LONGNEG body, as python-foolscap's
	// Any() constraint does. Default 1000.
	MaxLongIntBytes int
	// MaxMessageBytes bounds the STRING and LONGINT bytes buffered for one
	// top-level message. Default 64 MiB.
	MaxMessageBytes int
	// MaxClassNameBytes bounds a copyable's class name (python-foolscap uses
	// the longest registered name). Default 100.
	MaxClassNameBytes int
}

// Fixed protocol limits of python-foolscap 21.7 (wire-protocol.md §4.6).
const (
	// MaxHeaderBytes is the longest token header: "token prefix is limited
	// to 64 bytes".
	MaxHeaderBytes = 64
	// MaxErrorBytes is the longest ERROR token body.
	MaxErrorBytes = 1000
	// MaxOpenTypeBytes is the longest open-type index token a PB broker
	// accepts ("their-reference").
	MaxOpenTypeBytes = 15
)

// Default values for Limits.
const (
	DefaultMaxStringBytes    = 16 << 20
	DefaultMaxItems          = 1 << 20
	DefaultMaxDepth          = 200
	DefaultMaxLongIntBytes   = 1000
	DefaultMaxMessageBytes   = 64 << 20
	DefaultMaxClassNameBytes = 100
)

// DefaultLimits returns the documented defaults.
func DefaultLimits() Limits {
	return Limits{}.withDefaults()
}

func (l Limits) withDefaults() Limits {
	if l.MaxStringBytes == 0 {
		l.MaxStringBytes = DefaultMaxStringBytes
	}
	if l.MaxItems == 0 {
		l.MaxItems = DefaultMaxItems
	}
	if l.MaxDepth == 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxLongIntBytes == 0 {
		l.MaxLongIntBytes = DefaultMaxLongIntBytes
	}
	if l.MaxMessageBytes == 0 {
		l.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if l.MaxClassNameBytes == 0 {
		l.MaxClassNameBytes = DefaultMaxClassNameBytes
	}
	return l
}
