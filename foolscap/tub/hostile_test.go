package tub

import (
	"context"
	crand "crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatherer/gatherer/foolscap/furl"
	"github.com/gatherer/gatherer/foolscap/negotiate"
	"github.com/gatherer/gatherer/foolscap/pb"
)

// TestThousandsOfConnectionsFromOneAddress: 2,000 connections from one
// address that never finish negotiating (a slow-loris flood) hold at most
// MaxNegotiatingPerHost server slots; the rest are closed at once. A node
// on another address connects and calls meanwhile, and once the flood goes
// away the flooding address can connect again.
func TestThousandsOfConnectionsFromOneAddress(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the 2,000-connection flood in -short mode")
	}
	const flood, perHost = 2000, 8
	id, err := negotiate.NewIdentity(crand.Reader, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	logged := &countingHandler{}
	server, err := New(Options{Identity: id, Logger: slog.New(logged), MaxNegotiatingPerHost: perHost,
		NegotiationTimeout: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = server.Shutdown(ctx)
	})
	addr, err := server.Listen(t.Context(), furl.ListenSpec{Interface: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := server.SetLocation("tcp:127.0.0.1:" + portOf(addr)); err != nil {
		t.Fatal(err)
	}
	f, err := server.Register(echo{}, "")
	if err != nil {
		t.Fatal(err)
	}

	// The flood, from 127.0.0.1: each sends half a request line and waits.
	conns := make([]net.Conn, 0, flood)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range flood {
		c, err := net.Dial("tcp", addr.String())
		if err != nil {
			t.Fatalf("dial %d: %v", len(conns), err)
		}
		_, _ = c.Write([]byte("GET /id/"))
		conns = append(conns, c)
	}
	// Count the connections the server keeps open: a refused one reads EOF
	// (or a reset) at once; a kept one times out.
	var mu sync.Mutex
	kept := 0
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() {
			_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
			_, err := c.Read(make([]byte, 1))
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				mu.Lock()
				kept++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if kept > perHost {
		t.Errorf("%d flooding connections kept negotiating, want at most %d", kept, perHost)
	}
	if kept == 0 {
		t.Errorf("no flooding connection was kept; the per-host limit refused everything")
	}
	if n := logged.count("too many negotiating connections"); n < 1 || n > 2 {
		t.Errorf("%d log lines about the refused flood, want one (a flood must not flood the log)", n)
	}

	// A node on another address is not affected.
	other, err := New(Options{Identity: mustNewIdentity(t), Logger: testLogger(t), ConnectTimeout: 20 * time.Second,
		Dial: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}).DialContext})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Shutdown(context.Background()) })
	callEcho(t, other, f)

	// The flood ends; the address may connect again.
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	callEcho(t, newTestTub(t), f)
}

// countingHandler counts log messages.
type countingHandler struct {
	mu   sync.Mutex
	msgs []string
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *countingHandler) WithGroup(string) slog.Handler            { return h }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs = append(h.msgs, r.Message)
	return nil
}

func (h *countingHandler) count(sub string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, m := range h.msgs {
		if strings.Contains(m, sub) {
			n++
		}
	}
	return n
}

func portOf(a net.Addr) string {
	_, p, _ := net.SplitHostPort(a.String())
	return p
}

func mustNewIdentity(t *testing.T) *negotiate.Identity {
	t.Helper()
	id, err := negotiate.NewIdentity(crand.Reader, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func callEcho(t *testing.T, client *Tub, f string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	ref, err := client.GetReference(ctx, f)
	if err != nil {
		t.Fatalf("GetReference: %v", err)
	}
	got, err := ref.Call(ctx, "echo", []any{int64(7)}, nil)
	if err != nil || got != int64(7) {
		t.Fatalf("echo: %v, %v", got, err)
	}
}

// TestWrongSwissnumLearnsNothing: whatever the wrong name (random, sharing
// all but the last character with the real swissnum, empty, very long), the
// answer is the same KeyError, naming at most the first two characters of
// the caller's own guess; nothing about the registered names leaks.
func TestWrongSwissnumLearnsNothing(t *testing.T) {
	server := newTestTub(t)
	listenLocal(t, server, "127.0.0.1")
	f, err := server.Register(echo{}, "")
	if err != nil {
		t.Fatal(err)
	}
	real := f[strings.LastIndex(f, "/")+1:]
	if len(real) != 32 {
		t.Fatalf("swissnum %d characters long, want foolscap's 32", len(real))
	}
	base := f[:strings.LastIndex(f, "/")+1]
	flip := func(c byte) string {
		if c == 'a' {
			return "b"
		}
		return "a"
	}
	tests := []struct{ name, guess string }{
		{"random", "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"},
		{"all but the last character", real[:31] + flip(real[31])},
		{"prefix of the real one", real[:16]},
		{"real one plus a character", real + "a"},
		{"very long", strings.Repeat("q", 10000)},
	}
	client := newTestTub(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	// One connection for all the guesses, as an attacker would reuse it.
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := client.GetReference(ctx, base+tt.guess)
			var re *pb.RemoteError
			if !errors.As(err, &re) || !re.Check("builtins.KeyError") {
				t.Fatalf("answer %v, want a KeyError", err)
			}
			want := "\"unable to find reference for name starting with '" + tt.guess[:2] + "'\""
			if re.Value != want {
				t.Errorf("KeyError value %q, want %q (the same for every wrong name)", re.Value, want)
			}
			if strings.Contains(err.Error(), real[2:10]) {
				t.Errorf("the answer %q shows part of the real swissnum", err)
			}
		})
	}
	// The connection still works for the real name.
	callEcho(t, client, f)

	// Timing: a guess sharing all but its last character with the real
	// swissnum is answered as fast as a random one. Calls alternate so that
	// machine load affects both alike; only a gross difference fails.
	near, far := base+real[:31]+flip(real[31]), base+"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"
	const rounds = 200
	var dn, df []time.Duration
	for range rounds {
		for _, g := range []string{near, far} {
			start := time.Now()
			if _, err := client.GetReference(ctx, g); err == nil {
				t.Fatal("a wrong swissnum was accepted")
			}
			if g == near {
				dn = append(dn, time.Since(start))
			} else {
				df = append(df, time.Since(start))
			}
		}
	}
	mn, mf := median(dn), median(df)
	t.Logf("median answer to a wrong swissnum: %v when 31 of 32 characters match, %v for a random one", mn, mf)
	if d := mn - mf; d > time.Millisecond || d < -time.Millisecond {
		t.Errorf("median answer times differ by %v", d)
	}
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	slices.Sort(s)
	return s[len(s)/2]
}

// TestNoPlaintextAfterNegotiation: a client that completes the HTTP-style
// negotiation request but then speaks plaintext instead of TLS gets no
// Banana: the server closes the connection.
func TestNoPlaintextAfterNegotiation(t *testing.T) {
	server := newTestTub(t)
	listenLocal(t, server, "127.0.0.1")
	f, err := server.Register(echo{}, "")
	if err != nil {
		t.Fatal(err)
	}
	u, err := furl.Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	a, err := u.Hints[0].DialAddress()
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", a)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	req := "GET /id/" + u.TubID + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: TLS/1.0\r\nConnection: Upgrade\r\n\r\n"
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	// Banana instead of a TLS ClientHello: an OPEN list (banana bytes).
	_, _ = c.Write([]byte("\x01\x80\x04\x82list\x01\x81\x81"))
	all, err := io.ReadAll(c)
	if err != nil && !isReset(err) {
		t.Fatalf("read: %v (the server neither answered nor closed)", err)
	}
	s := string(all)
	if i := strings.Index(s, "\r\n\r\n"); i >= 0 {
		s = s[i+4:]
	}
	if strings.Contains(s, "list") || strings.Contains(s, "foolscap") {
		t.Errorf("the server answered in plaintext after the negotiation: %q", s)
	}
}

func isReset(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "reset") || errors.Is(err, net.ErrClosed))
}
