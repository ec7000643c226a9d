package tub

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatherer/gatherer/foolscap/furl"
	"github.com/gatherer/gatherer/foolscap/negotiate"
	"github.com/gatherer/gatherer/foolscap/pb"
)

func TestGoToGo(t *testing.T) {
	server := newTestTub(t)
	listenLocal(t, server, "127.0.0.1")
	f, err := server.Register(echo{}, "")
	if err != nil {
		t.Fatal(err)
	}
	client := newTestTub(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ref, err := client.GetReference(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range goValues() {
		got, err := ref.Call(ctx, "echo", []any{v}, nil)
		if err != nil || !equal(v, got) {
			t.Errorf("echo #%d: %#v -> %#v, %v", i, v, got, err)
		}
	}
	// A second GetReference reuses the connection.
	ref2, err := client.GetReference(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if ref2.Broker() != ref.Broker() {
		t.Error("second GetReference opened a second connection")
	}
	// Referenceables passed and called back.
	cb := callback{seen: make(chan any, 1)}
	if _, err := ref.Call(ctx, "call_back", []any{cb, int64(7)}, nil); err != nil {
		t.Fatal(err)
	}
	if v := <-cb.seen; !equal(v, int64(7)) {
		t.Errorf("callback saw %#v", v)
	}
}

func TestWrongSwissnum(t *testing.T) {
	server := newTestTub(t)
	listenLocal(t, server, "127.0.0.1")
	f, err := server.Register(echo{}, "")
	if err != nil {
		t.Fatal(err)
	}
	bad := f[:strings.LastIndex(f, "/")+1] + "nosuchswissnumaaaaaaaaaaaaaaaaaa"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = newTestTub(t).GetReference(ctx, bad)
	var re *pb.RemoteError
	if !errors.As(err, &re) || !re.Check("builtins.KeyError") {
		t.Fatalf("GetReference with a wrong swissnum: %v, want a KeyError from the peer", err)
	}
	if strings.Contains(err.Error(), "nosuchswissnum") {
		t.Errorf("error %q repeats the whole swissnum", err)
	}
}

func TestNoUsableHint(t *testing.T) {
	tb := newTestTub(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := tb.GetReference(ctx, "pb://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@tor:abc.onion:80/swiss")
	if err == nil || !strings.Contains(err.Error(), "no usable connection hints") {
		t.Fatalf("got %v, want a 'no usable connection hints' error", err)
	}
}

func TestDeadPortFailsQuickly(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	tb := newTestTub(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err = tb.GetReference(ctx, "pb://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@tcp:"+addr+"/swiss")
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("got %v, want connection refused", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("a refused connection took %v", time.Since(start))
	}
}

func TestFURLFileKeepsSwissnum(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "log_gatherer.furl")
	id, err := negotiate.NewIdentity(rand.Reader, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	first := newTestTubWith(t, id)
	first.SetLocation("tcp:127.0.0.1:1")
	f1, err := first.RegisterFURLFile(echo{}, path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("furl file mode %v, want 0600", fi.Mode().Perm())
	}
	second := newTestTubWith(t, id)
	second.SetLocation("tcp:127.0.0.1:2")
	f2, err := second.RegisterFURLFile(echo{}, path)
	if err != nil {
		t.Fatal(err)
	}
	p1, _ := furl.Parse(f1)
	p2, _ := furl.Parse(f2)
	if p1.Name != p2.Name || p1.TubID != p2.TubID {
		t.Errorf("restart changed the FURL: %s -> %s", f1, f2)
	}
	if !strings.Contains(f2, "@tcp:127.0.0.1:2/") {
		t.Errorf("FURL %s was not rebuilt with the new location", f2)
	}
	data, _ := os.ReadFile(path)
	if string(data) != f2+"\n" {
		t.Errorf("furl file holds %q, want %q", data, f2+"\n")
	}
	// Another identity must refuse the file rather than silently change
	// the FURL operators pasted into their nodes.
	other := newTestTub(t)
	other.SetLocation("tcp:127.0.0.1:3")
	if _, err := other.RegisterFURLFile(echo{}, path); err == nil || !strings.Contains(err.Error(), "not ours") {
		t.Errorf("foreign furl file accepted: %v", err)
	}
}

func TestReconnectorComesBack(t *testing.T) {
	id, err := negotiate.NewIdentity(rand.Reader, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	spec := furl.ListenSpec{Port: port, Interface: "127.0.0.1"}
	start := func() *Tub {
		s, err := New(Options{Identity: id, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Listen(context.Background(), spec); err != nil {
			t.Fatal(err)
		}
		s.SetLocation(fmt.Sprintf("tcp:127.0.0.1:%d", port))
		if _, err := s.Register(echo{}, "fixed-name"); err != nil {
			t.Fatal(err)
		}
		return s
	}
	server := start()
	f := fmt.Sprintf("pb://%s@tcp:127.0.0.1:%d/fixed-name", id.TubID(), port)

	client, err := New(Options{Identity: mustIdentity(t), Logger: testLogger(t),
		Backoff: Backoff{InitialDelay: 50 * time.Millisecond, Factor: 2, MaxDelay: 200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Shutdown(context.Background())
	connected := make(chan *pb.RemoteReference, 4)
	r, err := client.ConnectTo(f, func(ctx context.Context, ref *pb.RemoteReference) { connected <- ref })
	if err != nil {
		t.Fatal(err)
	}
	defer r.Stop()
	wait := func(what string) *pb.RemoteReference {
		select {
		case ref := <-connected:
			return ref
		case <-time.After(15 * time.Second):
			t.Fatalf("no connection %s (reconnector state %s, last error %v)", what, r.State(), r.LastError())
			return nil
		}
	}
	ref := wait("at first")
	if got, err := ref.Call(context.Background(), "whoami", nil, nil); err != nil || got != "go" {
		t.Fatalf("whoami: %v %v", got, err)
	}
	server.Shutdown(context.Background())
	server = start()
	defer server.Shutdown(context.Background())
	ref = wait("after the server restarted")
	if got, err := ref.Call(context.Background(), "whoami", nil, nil); err != nil || got != "go" {
		t.Fatalf("whoami after reconnect: %v %v", got, err)
	}
}

func mustIdentity(t *testing.T) *negotiate.Identity {
	t.Helper()
	id, err := negotiate.NewIdentity(rand.Reader, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestShutdownWaits(t *testing.T) {
	tb := newTestTub(t)
	listenLocal(t, tb, "127.0.0.1")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tb.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := tb.Listen(ctx, furl.ListenSpec{Interface: "127.0.0.1"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Listen after Shutdown: %v, want ErrClosed", err)
	}
}
