package incident

import (
	"strings"
	"testing"
	"time"

	"github.com/gatherer/gatherer/foolscap/banana"
)

// TestFingerprintOfHostileTriggers: a trigger arrives from the node with
// new_incident, and Banana references let it hold itself or describe an
// exponential expansion in a few hundred bytes. Its fingerprint must come
// back at once, bounded and the same every time, never recurse forever
// (a stack overflow kills the whole gatherer) or expand the value.
func TestFingerprintOfHostileTriggers(t *testing.T) {
	cyclic := banana.List{nil, "x"}
	cyclic[0] = cyclic
	shared := banana.List{"leaf"}
	for range 40 {
		shared = banana.List{shared, shared}
	}
	selfDict := banana.NewDict("a", nil)
	selfDict.Set("a", selfDict)
	for name, v := range map[string]any{"list holding itself": cyclic, "40 levels shared": shared, "dict holding itself": selfDict} {
		t.Run(name, func(t *testing.T) {
			for _, trig := range []*banana.Dict{
				banana.NewDict("incarnation", v, "num", int64(1), "time", 1.5, "level", int64(30)),
				banana.NewDict("format", "x", "args", v), // no incarnation: every field counts
			} {
				done := make(chan string, 1)
				go func() { done <- fingerprint(trig) }()
				var fp string
				select {
				case fp = <-done:
				case <-time.After(5 * time.Second):
					t.Fatal("fingerprint did not return within 5 s")
				}
				if len(fp) > maxCanonBytes+1024 || !strings.HasSuffix(fp, "\x00cut") {
					t.Fatalf("fingerprint is %d bytes, cut=%v; want at most about %d and marked as cut",
						len(fp), strings.HasSuffix(fp, "\x00cut"), maxCanonBytes)
				}
				if again := fingerprint(trig); again != fp {
					t.Fatal("the fingerprint of one trigger differs between calls")
				}
			}
		})
	}
	ordinary := banana.NewDict("incarnation", banana.Tuple{"0123456789abcdef", nil}, "num", int64(7), "time", 1.5, "level", int64(30))
	if fp := fingerprint(ordinary); strings.Contains(fp, "\x00cut") {
		t.Fatalf("an ordinary trigger's fingerprint %q is marked as cut", fp)
	}
}
