package tub

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestBackoffSeriesWithoutJitter(t *testing.T) {
	b := DefaultBackoff()
	// python-foolscap's series: 2.7, 7.4, 20, 55, 148, 403, 1097, 2981, 3600 s
	want := []float64{2.718, 7.389, 20.09, 54.60, 148.4, 403.4, 1096.6, 2981.0, 3600, 3600}
	d := b.InitialDelay
	for i, w := range want {
		d = b.next(d, nil)
		if got := d.Seconds(); got < w*0.999 || got > w*1.001 {
			t.Fatalf("step %d: delay %.3fs, want %.3fs", i+1, got, w)
		}
	}
}

func TestBackoffJitterStaysBounded(t *testing.T) {
	b := DefaultBackoff()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 10000; i++ {
		d := b.next(b.MaxDelay, rng)
		if d <= 0 || d > 2*b.MaxDelay {
			t.Fatalf("delay %v out of bounds", d)
		}
	}
	// The spread is about 12 %: over many draws from 100 s the mean stays near 271.8 s.
	var sum time.Duration
	for i := 0; i < 10000; i++ {
		sum += b.next(100*time.Second, rng)
	}
	mean := (sum / 10000).Seconds()
	if mean < 265 || mean > 278 {
		t.Fatalf("mean delay %.1fs, want about 271.8s", mean)
	}
}
