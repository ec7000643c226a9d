package tub

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/gatherer/gatherer/foolscap/banana"
	"github.com/gatherer/gatherer/foolscap/negotiate"
	"github.com/gatherer/gatherer/foolscap/pb"
)

func bigPow(base, exp int64, neg bool) *big.Int {
	v := new(big.Int).Exp(big.NewInt(base), big.NewInt(exp), nil)
	if neg {
		v.Neg(v)
	}
	return v
}

func nested(n int) any {
	var v any = "core"
	for i := 0; i < n; i++ {
		v = banana.List{int64(i), v}
	}
	return v
}

// goValues covers every type of the value model; each must come back from
// a python-foolscap echo unchanged.
func goValues() []any {
	return []any{
		[]byte("bytes\x00\xff"),
		"unicode é 😀",
		bigPow(2, 100, false), bigPow(2, 100, true), int64(1) << 31, -(int64(1) << 31) - 1, int64(0), int64(-1),
		math.Copysign(0, -1), 1e-5, 1e16, 0.1 + 0.2,
		nil, true, false,
		banana.List{int64(1), banana.List{int64(2), banana.List{int64(3)}}},
		banana.Tuple{int64(1), "two", []byte("three")},
		banana.Set{int64(1), int64(2)},
		banana.FrozenSet{[]byte("x")},
		banana.NewDict(int64(1), "one", int64(2), []byte("two")),
		banana.NewDict(banana.Tuple{int64(3), int64(4)}, banana.List{int64(5)}, banana.Tuple{int64(1), int64(2)}, banana.NewDict([]byte("k"), "v")),
		nested(20),
	}
}

func testGoCallsPython(t *testing.T, host string) {
	p := startPy(t, "serve", host)
	f := mustFURL(t, p)
	if !strings.Contains(f, "@tcp:"+host+":") {
		t.Fatalf("python FURL %s does not carry the %s hint", f, host)
	}
	tb := newTestTub(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ref, err := tb.GetReference(ctx, f)
	if err != nil {
		t.Fatalf("GetReference(%s): %v", f, err)
	}
	if got := ref.InterfaceName(); got != "RIEcho.gatherer.test" {
		t.Errorf("interface name %q, want RIEcho.gatherer.test", got)
	}
	for i, v := range goValues() {
		got, err := ref.Call(ctx, "echo", []any{v}, nil)
		if err != nil {
			t.Errorf("echo #%d (%T): %v", i, v, err)
			continue
		}
		if !equal(v, got) {
			t.Errorf("echo #%d: sent %#v, got back %#v", i, v, got)
		}
	}

	_, err = ref.Call(ctx, "fail", []any{"boom from go"}, nil)
	var re *pb.RemoteError
	if !errors.As(err, &re) {
		t.Fatalf("fail: got %v (%T), want a *pb.RemoteError", err, err)
	}
	if !re.Check("builtins.ValueError") || !strings.Contains(re.Value, "boom from go") {
		t.Errorf("fail: remote error %+v, want builtins.ValueError 'boom from go'", re)
	}

	cb := callback{seen: make(chan any, 1)}
	got, err := ref.Call(ctx, "call_back", []any{cb, "ping"}, nil)
	if err != nil {
		t.Fatalf("call_back: %v", err)
	}
	if !equal(got, banana.Tuple{"go-got", "ping"}) {
		t.Errorf("call_back returned %#v", got)
	}
	select {
	case v := <-cb.seen:
		if v != "ping" {
			t.Errorf("callback saw %#v", v)
		}
	default:
		t.Error("python never called our callback")
	}
}

func TestGoCallsPython(t *testing.T) {
	t.Run("ip-hint", func(t *testing.T) { testGoCallsPython(t, "127.0.0.1") })
	t.Run("hostname-hint", func(t *testing.T) { testGoCallsPython(t, "localhost") })
}

func TestPythonCallsGo(t *testing.T) {
	for _, host := range []string{"127.0.0.1", "localhost"} {
		t.Run(host, func(t *testing.T) {
			tb := newTestTub(t)
			listenLocal(t, tb, host)
			f, err := tb.Register(echo{}, "")
			if err != nil {
				t.Fatal(err)
			}
			p := startPy(t, "call", f)
			ok := 0
			for {
				l, more := p.next(t)
				if !more {
					t.Fatalf("python caller exited without DONE:\n%s", p.errb.String())
				}
				if l == "DONE" {
					break
				}
				t.Logf("python: %s", l)
				if strings.HasPrefix(l, "OK") {
					ok++
				} else {
					t.Errorf("python caller: %s", l)
				}
			}
			// connected + 22 echoes + error + callback
			if ok != 25 {
				t.Errorf("python caller reported %d OK checks, want 25", ok)
			}
		})
	}
}

// TestEphemeralIdentityWithPython checks that python-foolscap accepts the
// ECDSA certificates of negotiate.NewEphemeralIdentity in both TLS roles.
func TestEphemeralIdentityWithPython(t *testing.T) {
	newEphemeral := func(t *testing.T) *Tub {
		id, err := negotiate.NewEphemeralIdentity(crand.Reader, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return newTestTubWith(t, id)
	}
	t.Run("go-client", func(t *testing.T) {
		p := startPy(t, "serve", "127.0.0.1")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		ref, err := newEphemeral(t).GetReference(ctx, mustFURL(t, p))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := ref.Call(ctx, "whoami", nil, nil); err != nil || got != "python" {
			t.Fatalf("whoami: %v, %v", got, err)
		}
	})
	t.Run("go-server", func(t *testing.T) {
		tb := newEphemeral(t)
		listenLocal(t, tb, "127.0.0.1")
		f, err := tb.Register(echo{}, "")
		if err != nil {
			t.Fatal(err)
		}
		p := startPy(t, "call", f)
		for {
			l, more := p.next(t)
			if !more || l == "DONE" {
				break
			}
			if !strings.HasPrefix(l, "OK") {
				t.Errorf("python caller: %s", l)
			}
		}
	})
}

// TestSimultaneousConnections: a Go Tub and a python Tub dial each other
// at the same moment. Foolscap keeps one connection per pair of Tubs (the
// master rejects the other as a duplicate); both calls must still succeed.
func TestSimultaneousConnections(t *testing.T) {
	for i := 0; i < 5; i++ {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			p := startPy(t, "serve-and-call", "127.0.0.1")
			pyFURL := mustFURL(t, p)
			tb := newTestTub(t)
			listenLocal(t, tb, "127.0.0.1")
			goFURL, err := tb.Register(echo{}, "")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if _, err := fmt.Fprintln(p.stdin, goFURL); err != nil {
				t.Fatal(err)
			}
			ref, err := tb.GetReference(ctx, pyFURL)
			if err != nil {
				t.Fatalf("Go's GetReference while python dials us: %v", err)
			}
			if got, err := ref.Call(ctx, "whoami", nil, nil); err != nil || got != "python" {
				t.Fatalf("whoami on python: %v, %v", got, err)
			}
			l, _ := p.next(t)
			if l != "OK whoami go" {
				t.Fatalf("python's call on us: %q", l)
			}
		})
	}
}
