package stats

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatherer/gatherer/foolscap/banana"
	"github.com/gatherer/gatherer/foolscap/furl"
	"github.com/gatherer/gatherer/foolscap/negotiate"
	"github.com/gatherer/gatherer/foolscap/pb"
	"github.com/gatherer/gatherer/foolscap/tub"
)

// goProvider is a stats provider on a Go Tub: what a node's StatsProvider
// is, for tests that need many nodes or a node misbehaving on purpose.
type goProvider struct {
	iname  string // RemoteInterface name announced; ProviderInterface unless testing
	answer any
	calls  atomic.Int64
}

func (p *goProvider) RemoteInterfaceName() string { return p.iname }

func (p *goProvider) RemoteCall(_ context.Context, c *pb.Call) (any, error) {
	if c.Method != "get_stats" {
		return nil, banana.Violationf("no method %q", c.Method)
	}
	p.calls.Add(1)
	return p.answer, nil
}

// fastIdentity makes a Tub identity with a 1024-bit key: valid for
// Foolscap (python-foolscap's older Tubs had such keys), and ten times
// quicker to make than the 2048-bit ones when a test needs hundreds.
func fastIdentity(tb testing.TB) *negotiate.Identity {
	tb.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "newpb_thingy"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(365 * 24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	b = append(b, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})...)
	id, err := negotiate.ParseIdentityPEM(b)
	if err != nil {
		tb.Fatal(err)
	}
	return id
}

// newGoNode starts a Tub (no listener, like a node behind NAT) and returns
// a reference to the gatherer at gathererFURL. The Tub is shut down at the
// end of the test.
func newGoNode(ctx context.Context, tb testing.TB, gathererFURL string) (*tub.Tub, *pb.RemoteReference) {
	tb.Helper()
	t, err := tub.New(tub.Options{Identity: fastIdentity(tb)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = t.Shutdown(sctx)
	})
	ref, err := t.GetReference(ctx, gathererFURL)
	if err != nil {
		tb.Fatalf("connecting to the gatherer: %v", err)
	}
	return t, ref
}

// TestGathererProvideArguments sends provide() in the forms a node may use,
// and malformed ones, over a real Foolscap connection from a Go Tub.
func TestGathererProvideArguments(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	dir := newTestGathererDir(ctx, t)
	g := startServe(ctx, t, ServeConfig{Dir: dir, PollInterval: time.Hour})

	stats := tahoeLikeAnswer()
	tests := []struct {
		name    string
		call    func(ref *pb.RemoteReference, prov *goProvider) (any, error)
		iname   string
		wantErr string // "" = accepted and polled at once
	}{
		{"positional, bytes nickname", func(ref *pb.RemoteReference, prov *goProvider) (any, error) {
			return ref.Call(ctx, "provide", []any{prov, []byte("node-a")}, nil)
		}, ProviderInterface, ""},
		{"keywords, str nickname", func(ref *pb.RemoteReference, prov *goProvider) (any, error) {
			return ref.Call(ctx, "provide", nil, pb.KW{"provider": prov, "nickname": "node-b"})
		}, ProviderInterface, ""},
		{"None nickname", func(ref *pb.RemoteReference, prov *goProvider) (any, error) {
			return ref.Call(ctx, "provide", []any{prov, nil}, nil)
		}, ProviderInterface, ""},
		{"missing nickname", func(ref *pb.RemoteReference, prov *goProvider) (any, error) {
			return ref.Call(ctx, "provide", []any{prov}, nil)
		}, ProviderInterface, "needs the arguments"},
		{"provider not a reference", func(ref *pb.RemoteReference, prov *goProvider) (any, error) {
			return ref.Call(ctx, "provide", []any{[]byte("x"), []byte("n")}, nil)
		}, ProviderInterface, "not a reference"},
		{"provider of another interface", func(ref *pb.RemoteReference, prov *goProvider) (any, error) {
			return ref.Call(ctx, "provide", []any{prov, []byte("n")}, nil)
		}, "RIOther.example.com", "does not provide RemoteInterface"},
		{"nickname of the wrong type", func(ref *pb.RemoteReference, prov *goProvider) (any, error) {
			return ref.Call(ctx, "provide", []any{prov, int64(7)}, nil)
		}, ProviderInterface, "nickname is a int"},
		{"unknown method", func(ref *pb.RemoteReference, prov *goProvider) (any, error) {
			return ref.Call(ctx, "get_stats", nil, nil)
		}, ProviderInterface, "not defined in RIStatsGatherer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, ref := newGoNode(ctx, t, g.info.FURL)
			if ref.InterfaceName() != GathererInterface {
				t.Errorf("the gatherer object announces %q, want %q", ref.InterfaceName(), GathererInterface)
			}
			prov := &goProvider{iname: tc.iname, answer: stats}
			v, err := tc.call(ref, prov)
			if tc.wantErr == "" {
				if err != nil || v != nil {
					t.Fatalf("provide: %v, %v; want None", v, err)
				}
				eventually(ctx, t, func() string {
					if prov.calls.Load() == 0 {
						return "the new provider was not polled at once"
					}
					return ""
				})
				return
			}
			var re *pb.RemoteError
			if !errors.As(err, &re) || !strings.Contains(re.Value, tc.wantErr) {
				t.Fatalf("provide: %v; want a remote error containing %q", err, tc.wantErr)
			}
		})
	}
}

// catcher is a root object that keeps the provider reference it is given.
type catcher struct{ refs chan *pb.RemoteReference }

func (c *catcher) RemoteInterfaceName() string { return GathererInterface }

func (c *catcher) RemoteCall(_ context.Context, call *pb.Call) (any, error) {
	ref, _ := call.Args[0].(*pb.RemoteReference)
	c.refs <- ref
	return nil, nil
}

// TestRemoteProviderGone drives the adapter directly: get_stats() answers
// while the node is connected; once the node's Tub goes away the disconnect
// notification fires and get_stats() reports ErrProviderGone wrapping the
// pb.DeadReferenceError.
func TestRemoteProviderGone(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	gt, err := tub.New(tub.Options{Identity: fastIdentity(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer gt.Shutdown(context.WithoutCancel(ctx))
	addr, err := gt.Listen(ctx, mustListenSpec(t, "tcp:0:interface=127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := gt.SetLocation("tcp:" + addr.String()); err != nil {
		t.Fatal(err)
	}
	c := &catcher{refs: make(chan *pb.RemoteReference, 1)}
	f, err := gt.Register(c, "")
	if err != nil {
		t.Fatal(err)
	}
	node, ref := newGoNode(ctx, t, f)
	prov := &goProvider{iname: ProviderInterface, answer: tahoeLikeAnswer()}
	if _, err := ref.Call(ctx, "provide", []any{prov, []byte("n")}, nil); err != nil {
		t.Fatal(err)
	}
	rp := NewRemoteProvider(<-c.refs)
	if rp.TubID() != node.TubID() {
		t.Errorf("TubID() = %s, want the node's %s", rp.TubID(), node.TubID())
	}
	v, err := rp.GetStats(ctx)
	if err != nil {
		t.Fatalf("GetStats: %v", err)
	}
	if _, err := fromAnswer(v, DefaultMaxKeys); err != nil {
		t.Errorf("the answer does not convert: %v", err)
	}
	lost := make(chan struct{})
	rp.NotifyOnDisconnect(func() { close(lost) })
	if err := node.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-lost:
	case <-ctx.Done():
		t.Fatal("no disconnect notification after the node left")
	}
	_, err = rp.GetStats(ctx)
	var dead *pb.DeadReferenceError
	if !errors.Is(err, ErrProviderGone) || !errors.As(err, &dead) {
		t.Errorf("GetStats after the node left: %v; want ErrProviderGone and a DeadReferenceError", err)
	}
}

func mustListenSpec(t *testing.T, s string) furl.ListenSpec {
	t.Helper()
	spec, err := furl.ParseListen(s)
	if err != nil {
		t.Fatal(err)
	}
	return spec
}
