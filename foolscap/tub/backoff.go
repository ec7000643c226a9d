package tub

import (
	"math"
	"math/rand/v2"
	"time"
)

// Backoff is the reconnection schedule of python-foolscap's Reconnector
// (reconnector.py): start at InitialDelay, multiply by Factor after every
// failed attempt up to MaxDelay, then draw the delay from a normal
// distribution around it with a standard deviation of Jitter times the
// delay. After an established connection is lost the delay starts over.
type Backoff struct {
	InitialDelay time.Duration
	Factor       float64
	MaxDelay     time.Duration
	Jitter       float64
}

// DefaultBackoff is python-foolscap's schedule: 1 s, ×e, at most 3600 s,
// ±12 % (one sigma).
func DefaultBackoff() Backoff {
	return Backoff{
		InitialDelay: time.Second,
		Factor:       math.E,
		MaxDelay:     time.Hour,
		Jitter:       0.11962656492,
	}
}

// next returns the delay that follows cur after a failed attempt. rng may be
// nil, in which case no jitter is applied.
func (b Backoff) next(cur time.Duration, rng *rand.Rand) time.Duration {
	d := math.Min(float64(cur)*b.Factor, float64(b.MaxDelay))
	if b.Jitter > 0 && rng != nil {
		d = d + rng.NormFloat64()*d*b.Jitter
	}
	// A normal draw can in principle go negative or huge; keep the delay
	// within (0, 2×MaxDelay] so a pathological draw never spins or stalls.
	d = math.Max(d, float64(b.InitialDelay)/10)
	d = math.Min(d, 2*float64(b.MaxDelay))
	return time.Duration(d)
}
