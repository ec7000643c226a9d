package bzip2w

import (
	"math/rand/v2"
	"testing"
)

func TestRun4(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for range 20000 {
		q := make([]byte, rng.IntN(60))
		k := 1 + rng.IntN(4)
		for i := range q {
			q[i] = byte('a' + rng.IntN(k))
		}
		want := max(len(q)-3, 0)
		for i := 0; i+4 <= len(q); i++ {
			if q[i] == q[i+1] && q[i] == q[i+2] && q[i] == q[i+3] {
				want = i
				break
			}
		}
		if got := run4(q); got != want {
			t.Fatalf("run4(%q) = %d, want %d", q, got, want)
		}
	}
}
