package tub

import (
	"bufio"
	"bytes"
	"context"
	crand "crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gatherer/gatherer/foolscap/banana"
	"github.com/gatherer/gatherer/foolscap/furl"
	"github.com/gatherer/gatherer/foolscap/negotiate"
	"github.com/gatherer/gatherer/foolscap/pb"
	"github.com/gatherer/gatherer/internal/pyfoolscap"
)

const debianPython = "/usr/bin/python3"

// pyProc is a running testdata/pytub.py.
type pyProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	errb  *bytes.Buffer
}

func startPy(t *testing.T, args ...string) *pyProc {
	t.Helper()
	pyfoolscap.Need(t)
	cmd := exec.Command(debianPython, append([]string{"testdata/pytub.py"}, args...)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &pyProc{cmd: cmd, stdin: stdin, lines: make(chan string, 100), errb: &bytes.Buffer{}}
	cmd.Stderr = p.errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("python stderr:\n%s", p.errb.String())
		}
	})
	return p
}

// next returns the next stdout line, failing the test after a deadline.
func (p *pyProc) next(t *testing.T) (string, bool) {
	t.Helper()
	select {
	case l, ok := <-p.lines:
		return l, ok
	case <-time.After(30 * time.Second):
		t.Fatalf("python peer said nothing for 30 s; stderr:\n%s", p.errb.String())
		return "", false
	}
}

func newTestTub(t *testing.T) *Tub {
	t.Helper()
	id, err := negotiate.NewIdentity(crand.Reader, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return newTestTubWith(t, id)
}

func newTestTubWith(t *testing.T, id *negotiate.Identity) *Tub {
	t.Helper()
	tb, err := New(Options{Identity: id, ConnectTimeout: 20 * time.Second, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := tb.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return tb
}

// listenLocal makes tb listen on an ephemeral loopback port with a
// tcp:HOST:PORT location.
func listenLocal(t *testing.T, tb *Tub, host string) {
	t.Helper()
	addr, err := tb.Listen(context.Background(), furl.ListenSpec{Interface: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := tb.SetLocation(fmt.Sprintf("tcp:%s:%d", host, addr.(*net.TCPAddr).Port)); err != nil {
		t.Fatal(err)
	}
}

// echo is a Go object with the same methods as pytub.py's Echo.
type echo struct{}

func (echo) RemoteInterfaceName() string { return "RIEcho.gatherer.test" }

func (echo) RemoteCall(ctx context.Context, c *pb.Call) (any, error) {
	arg := func(i int, name string) any {
		if i < len(c.Args) {
			return c.Args[i]
		}
		return c.Kwargs[name]
	}
	switch c.Method {
	case "echo":
		return arg(0, "x"), nil
	case "fail":
		return nil, fmt.Errorf("boom from go: %v", arg(0, "msg"))
	case "whoami":
		return "go", nil
	case "call_back":
		ref, ok := arg(0, "ref").(*pb.RemoteReference)
		if !ok {
			return nil, fmt.Errorf("call_back: ref is %T, not a reference", arg(0, "ref"))
		}
		return ref.Call(ctx, "cb", []any{arg(1, "arg")}, nil)
	}
	return nil, fmt.Errorf("no method %q", c.Method)
}

// callback is a Go object that a peer calls back.
type callback struct{ seen chan any }

func (callback) RemoteInterfaceName() string { return "" }

func (cb callback) RemoteCall(ctx context.Context, c *pb.Call) (any, error) {
	if c.Method != "cb" || len(c.Args) != 1 {
		return nil, fmt.Errorf("unexpected call %q", c.Method)
	}
	cb.seen <- c.Args[0]
	return banana.Tuple{"go-got", c.Args[0]}, nil
}

// equal compares values of the banana value model, sets as multisets.
func equal(a, b any) bool {
	switch x := a.(type) {
	case banana.List:
		y, ok := b.(banana.List)
		return ok && seq(x, y)
	case banana.Tuple:
		y, ok := b.(banana.Tuple)
		return ok && seq(x, y)
	case banana.Set:
		y, ok := b.(banana.Set)
		return ok && sameElems(x, y)
	case banana.FrozenSet:
		y, ok := b.(banana.FrozenSet)
		return ok && sameElems(x, y)
	case *banana.Dict:
		y, ok := b.(*banana.Dict)
		if !ok || x.Len() != y.Len() {
			return false
		}
		for _, it := range x.Items {
			v, ok := y.Get(it.Key)
			if !ok || !equal(it.Value, v) {
				return false
			}
		}
		return true
	case float64:
		y, ok := b.(float64)
		return ok && (x == y && (x != 0 || fmt.Sprint(1/x) == fmt.Sprint(1/y)))
	case int:
		return equal(int64(x), b)
	case int64:
		switch y := b.(type) {
		case int64:
			return x == y
		case *big.Int:
			return y.IsInt64() && y.Int64() == x
		}
		return false
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	}
	return banana.KeyEqual(a, b)
}

func seq(x, y []any) bool {
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if !equal(x[i], y[i]) {
			return false
		}
	}
	return true
}

func sameElems(x, y []any) bool {
	if len(x) != len(y) {
		return false
	}
	used := make([]bool, len(y))
outer:
	for _, a := range x {
		for j, b := range y {
			if !used[j] && equal(a, b) {
				used[j] = true
				continue outer
			}
		}
		return false
	}
	return true
}

func mustFURL(t *testing.T, p *pyProc) string {
	t.Helper()
	for {
		l, ok := p.next(t)
		if !ok {
			t.Fatalf("python peer exited before printing its FURL:\n%s", p.errb.String())
		}
		if s, found := strings.CutPrefix(l, "FURL "); found {
			return s
		}
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// testLogger sends the Tub's logs to the test log (shown with -v or on failure).
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
