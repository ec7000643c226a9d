package check_test

import (
	"context"
	crand "crypto/rand"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatherer/gatherer/foolscap/negotiate"
	"github.com/gatherer/gatherer/gatherer/check"
	"github.com/gatherer/gatherer/gatherer/check/checktest"
)

// pyGetReference is the python-foolscap side of the comparison: a one-shot
// script that makes a Tub (a fresh key, as gatherer-check does) and calls
// getReference on the gatherer FURL, the closest python-foolscap comes to
// "connect to this gatherer" (flogtool tail needs a logport FURL, not a
// gatherer's). It prints the seconds spent in Tub() + getReference and in
// getReference alone; interpreter start-up and imports are left out.
const pyGetReference = `
import sys, time
from twisted.internet import reactor
from foolscap.api import Tub
t0 = time.perf_counter()
tub = Tub()
tub.startService()
t1 = time.perf_counter()
d = tub.getReference(sys.argv[1])
def ok(rref):
    t2 = time.perf_counter()
    print("%.6f %.6f" % (t2 - t0, t2 - t1))
    reactor.stop()
def err(f):
    print("ERROR", f.getErrorMessage())
    reactor.stop()
d.addCallbacks(ok, err)
reactor.run()
`

// BenchmarkVerdict measures the time gatherer-check takes to reach a
// verdict on a healthy local gatherer (ns/op; the aim is under 100 ms), with
// a fresh Tub key per probe as the command makes, and with a key made once
// (the network part alone). Against python-foolscap's incident gatherer it
// also runs pyGetReference and reports, per op, python's Tub() +
// getReference time ("py-ms/op") and getReference alone ("py-getref-ms/op");
// ns/op there is the whole python process, start-up included.
func BenchmarkVerdict(b *testing.B) {
	id, err := negotiate.NewIdentity(crand.Reader, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	probe := func(b *testing.B, furlStr string, ident *negotiate.Identity) {
		b.ReportAllocs()
		for b.Loop() {
			r := check.Probe(context.Background(), furlStr, check.Options{Identity: ident})
			if r.Code != check.Healthy {
				b.Fatalf("verdict %v: %s", r.Code, r.Verdict)
			}
		}
	}
	goInc := checktest.GoIncidentGatherer(b, filepath.Join(b.TempDir(), "go"))
	b.Run("go-gatherer/fresh-key", func(b *testing.B) { probe(b, goInc.FURL, nil) })
	b.Run("go-gatherer/key-made-once", func(b *testing.B) { probe(b, goInc.FURL, id) })

	if err := checktest.PythonFoolscap(); err != nil {
		b.Logf("skipping the python-foolscap comparison: %v", err)
		return
	}
	pyInc := checktest.PythonGatherer(b, "incident", filepath.Join(b.TempDir(), "py"))
	b.Run("py-gatherer/fresh-key", func(b *testing.B) { probe(b, pyInc.FURL, nil) })
	b.Run("py-gatherer/key-made-once", func(b *testing.B) { probe(b, pyInc.FURL, id) })
	b.Run("py-gatherer/python-foolscap-getReference", func(b *testing.B) {
		var total, getref float64
		for b.Loop() {
			out, err := exec.Command(checktest.Python, "-c", pyGetReference, pyInc.FURL).CombinedOutput()
			if err != nil {
				b.Fatalf("python getReference: %v\n%s", err, out)
			}
			f := strings.Fields(string(out))
			if len(f) != 2 || f[0] == "ERROR" {
				b.Fatalf("python getReference: %s", out)
			}
			a, err1 := strconv.ParseFloat(f[0], 64)
			g, err2 := strconv.ParseFloat(f[1], 64)
			if err1 != nil || err2 != nil {
				b.Fatalf("python getReference printed %q", out)
			}
			total += a
			getref += g
		}
		b.ReportMetric(total*1000/float64(b.N), "py-ms/op")
		b.ReportMetric(getref*1000/float64(b.N), "py-getref-ms/op")
	})
}
