package check_test

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gatherer/gatherer/foolscap/furl"
	"github.com/gatherer/gatherer/foolscap/negotiate"
	"github.com/gatherer/gatherer/foolscap/pb"
	"github.com/gatherer/gatherer/foolscap/tub"
	"github.com/gatherer/gatherer/gatherer/check"
	"github.com/gatherer/gatherer/gatherer/check/checktest"
	"github.com/gatherer/gatherer/gatherer/logport"
	"github.com/gatherer/gatherer/gatherer/stats"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestStatsInterfaceName(t *testing.T) {
	if check.StatsGathererInterface != stats.GathererInterface {
		t.Fatalf("check.StatsGathererInterface = %q, gatherer/stats says %q", check.StatsGathererInterface, stats.GathererInterface)
	}
}

func TestIncidentName(t *testing.T) {
	now := time.Date(2026, 11, 27, 6, 8, 37, 999, time.FixedZone("CET", 3600))
	tests := []struct {
		name string
		rand []byte
		want string
	}{
		{"zeros", []byte{0, 0, 0, 0}, "incident-2026-11-27--05-08-37Z-aaaaaaa"},
		{"ones", []byte{0xff, 0xff, 0xff, 0xff}, "incident-2026-11-27--05-08-37Z-777777y"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := check.IncidentName(now, bytes.NewReader(tt.rand))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("IncidentName = %q, want %q", got, tt.want)
			}
		})
	}
	// Python: "incident-%s-%s" % (TIME_FORMAT + "Z", base32(os.urandom(4))).
	got, err := check.IncidentName(time.Now(), crand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^incident-\d{4}-\d\d-\d\d--\d\d-\d\d-\d\dZ-[a-z2-7]{7}$`).MatchString(got) {
		t.Errorf("IncidentName = %q: not python-foolscap's form", got)
	}
	if _, err := check.IncidentName(now, bytes.NewReader([]byte{1, 2})); err == nil {
		t.Error("IncidentName with 2 random bytes: no error")
	}
}

// otherObject is a Referenceable that is not a gatherer.
type otherObject struct{ iname string }

func (o otherObject) RemoteInterfaceName() string { return o.iname }
func (o otherObject) RemoteCall(context.Context, *pb.Call) (any, error) {
	return nil, nil
}

// mute is an RILogGatherer that accepts logport and does nothing more.
type mute struct{}

func (mute) RemoteInterfaceName() string { return logport.GathererInterface }
func (mute) RemoteCall(context.Context, *pb.Call) (any, error) {
	return nil, nil
}

// refuser is an RILogGatherer whose logport fails.
type refuser struct{}

func (refuser) RemoteInterfaceName() string { return logport.GathererInterface }
func (refuser) RemoteCall(context.Context, *pb.Call) (any, error) {
	return nil, errors.New("no thanks")
}

// deafObserver hears about incidents and fetches none.
type deafObserver struct{}

func (deafObserver) NewIncident(context.Context, any, any) error   { return nil }
func (deafObserver) DoneWithIncidentCatchup(context.Context) error { return nil }

// tubWith serves obj from a fresh in-process Tub and returns its FURL.
func tubWith(t *testing.T, obj pb.Referenceable) string {
	t.Helper()
	id, err := negotiate.NewIdentity(crand.Reader, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tb, err := tub.New(tub.Options{Identity: id})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = tb.Shutdown(ctx)
	})
	addr, err := tb.Listen(context.Background(), furl.ListenSpec{Interface: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := tb.SetLocation(fmt.Sprintf("tcp:127.0.0.1:%d", addr.(*net.TCPAddr).Port)); err != nil {
		t.Fatal(err)
	}
	f, err := tb.Register(obj, "")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func hintFURL(base string, port int) string {
	return checktest.WithHints(base, fmt.Sprintf("tcp:127.0.0.1:%d", port))
}

// lastStep returns the last step of the report (object steps, else the
// first hint's).
func lastStep(r *check.Report) check.Step {
	if p := r.Publish; p != nil && len(p.Steps) > 0 {
		return p.Steps[len(p.Steps)-1]
	}
	if len(r.Steps) > 0 {
		return r.Steps[len(r.Steps)-1]
	}
	if len(r.Hints) > 0 && len(r.Hints[0].Steps) > 0 {
		s := r.Hints[0].Steps
		return s[len(s)-1]
	}
	return check.Step{}
}

func TestProbe(t *testing.T) {
	dir := t.TempDir()
	inc := checktest.GoIncidentGatherer(t, filepath.Join(dir, "incident"))
	lg := checktest.GoLogGatherer(t, filepath.Join(dir, "log"))
	st := checktest.GoStatsGatherer(t, filepath.Join(dir, "stats"))
	wrongCertPort, _ := checktest.WrongCertServer(t)
	hangUpPort, hangUpTubID := checktest.FakeTub(t, func(c *tls.Conn) { c.Close() })
	hangUp := fmt.Sprintf("pb://%s@tcp:127.0.0.1:%d/x", hangUpTubID, hangUpPort)
	other := tubWith(t, otherObject{iname: "RIOther.example.com"})
	noIname := tubWith(t, otherObject{})
	silentLogport := tubWith(t, mute{})
	refusing := tubWith(t, refuser{})
	noFetch := tubWith(t, logport.NewGatherer(func(ctx context.Context, _ any, pub *logport.Publisher) error {
		return pub.SubscribeToIncidents(ctx, deafObserver{}, true, "")
	}, nil))

	tests := []struct {
		name      string
		furl      string
		publish   bool
		timeout   time.Duration
		want      check.Code
		kind      string
		failStep  string // the last step, when it failed
		published bool
	}{
		{name: "incident", furl: inc.FURL, want: check.Healthy, kind: check.KindLogOrIncident},
		{name: "log", furl: lg.FURL, want: check.Healthy, kind: check.KindLogOrIncident},
		{name: "stats", furl: st.FURL, want: check.Healthy, kind: check.KindStats},
		{name: "publish incident", furl: inc.FURL, publish: true, want: check.Healthy, kind: check.KindIncident, published: true},
		{name: "publish log", furl: lg.FURL, publish: true, want: check.Healthy, kind: check.KindLog, published: true},
		{name: "publish stats", furl: st.FURL, publish: true, want: check.NotGatherer, kind: check.KindStats},
		{name: "publish to a gatherer that never subscribes", furl: silentLogport, publish: true, timeout: 300 * time.Millisecond,
			want: check.RoundTripFailed, kind: check.KindLogOrIncident, failStep: check.StepSubscribe},
		{name: "publish to a gatherer that refuses logport", furl: refusing, publish: true,
			want: check.RoundTripFailed, kind: check.KindLogOrIncident, failStep: check.StepLogport},
		{name: "publish to a gatherer that never fetches", furl: noFetch, publish: true, timeout: 300 * time.Millisecond,
			want: check.RoundTripFailed, kind: check.KindIncident, failStep: check.StepFetch},
		{name: "bad furl", furl: "pb://x", want: check.BadFURL},
		{name: "no hints", furl: checktest.WithHints(inc.FURL), want: check.BadFURL},
		{name: "bad hint", furl: checktest.WithHints(inc.FURL, "tcp:nope"), want: check.BadFURL, failStep: check.StepParse},
		{name: "tor hint", furl: checktest.WithHints(inc.FURL, "tor:abc.onion:80"), want: check.Unreachable, failStep: check.StepParse},
		{name: "dead port", furl: hintFURL(inc.FURL, checktest.FreePort(t)), want: check.Unreachable, failStep: check.StepConnect},
		{name: "silent server", furl: hintFURL(inc.FURL, checktest.SilentServer(t)), timeout: 200 * time.Millisecond,
			want: check.Unreachable, failStep: check.StepNegotiate},
		{name: "http server", furl: hintFURL(inc.FURL, checktest.HTTPServer(t)), want: check.ProtocolError, failStep: check.StepNegotiate},
		{name: "tls server", furl: hintFURL(inc.FURL, checktest.TLSServer(t)), want: check.ProtocolError, failStep: check.StepNegotiate},
		{name: "unknown tubid", furl: checktest.WithTubID(inc.FURL, "aaaabbbbccccddddeeeeffffgggghhhh"), want: check.WrongIdentity, failStep: check.StepNegotiate},
		{name: "not tls after 101", furl: hintFURL(inc.FURL, checktest.GarbageAfter101Server(t)), want: check.ProtocolError, failStep: check.StepTLS},
		{name: "hang up after tls", furl: hangUp, want: check.ProtocolError, failStep: check.StepHello},
		{name: "ipv6 loopback, nothing there", furl: checktest.WithHints(inc.FURL, fmt.Sprintf("tcp:[::1]:%d", checktest.FreePort(t))),
			want: check.Unreachable, failStep: check.StepConnect},
		{name: "wrong certificate", furl: hintFURL(inc.FURL, wrongCertPort), want: check.WrongIdentity, failStep: check.StepTubID},
		{name: "wrong swissnum", furl: checktest.WithName(inc.FURL, "ntbsw3unmvumbg7hu4ubblnxinjlhnez"), want: check.NotGatherer, failStep: check.StepReference},
		{name: "other interface", furl: other, want: check.NotGatherer, failStep: check.StepInterface},
		{name: "no interface", furl: noIname, want: check.NotGatherer, failStep: check.StepInterface},
		{name: "wrong identity beats unreachable", furl: checktest.WithHints(inc.FURL,
			fmt.Sprintf("tcp:127.0.0.1:%d", checktest.FreePort(t)), fmt.Sprintf("tcp:127.0.0.1:%d", wrongCertPort)),
			want: check.WrongIdentity},
		{name: "dead hint then good hint", furl: checktest.WithHints(inc.FURL,
			fmt.Sprintf("tcp:127.0.0.1:%d", checktest.FreePort(t)), fmt.Sprintf("tcp:127.0.0.1:%d", inc.Port)),
			want: check.Healthy, kind: check.KindLogOrIncident},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := check.Probe(context.Background(), tt.furl, check.Options{Timeout: tt.timeout, PublishTestIncident: tt.publish})
			if r.Code != tt.want {
				t.Fatalf("Code = %v (%q), want %v", r.Code, r.Verdict, tt.want)
			}
			if r.Kind != tt.kind {
				t.Errorf("Kind = %q, want %q", r.Kind, tt.kind)
			}
			if r.Verdict == "" {
				t.Error("empty verdict")
			}
			if tt.failStep != "" {
				if s := lastStep(r); s.Name != tt.failStep || s.OK {
					t.Errorf("last step = %+v, want %s failed", s, tt.failStep)
				}
			}
			if tt.published {
				p := r.Publish
				if p == nil || !(p.Fetched || p.Delivered) {
					t.Fatalf("Publish = %+v: nothing made the round trip", p)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if tt.kind == check.KindIncident {
					if _, err := checktest.WaitForIncident(ctx, inc.Dir, p.TubID); err != nil {
						t.Error(err)
					}
				} else if _, err := checktest.WaitForLogEvent(ctx, lg.Dir, p.TubID); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// TestProbeCancel: cancelling the context ends a probe stuck on a silent
// server at once.
func TestProbeCancel(t *testing.T) {
	port := checktest.SilentServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan *check.Report, 1)
	go func() {
		done <- check.Probe(ctx, fmt.Sprintf("pb://aaaabbbbccccddddeeeeffffgggghhhh@tcp:127.0.0.1:%d/x", port), check.Options{Timeout: time.Minute})
	}()
	cancel()
	select {
	case r := <-done:
		if r.Code == check.Healthy {
			t.Errorf("cancelled probe is healthy: %+v", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Probe did not return within 10 s of cancellation")
	}
}
