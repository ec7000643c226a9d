package pb

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"net"
	"os/exec"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/gatherer/gatherer/foolscap/banana"
	"github.com/gatherer/gatherer/internal/pyfoolscap"
)

type pyLine struct {
	Ready  bool   `json:"ready"`
	TubID  string `json:"tubid"`
	Check  string `json:"check"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	Done   bool   `json:"done"`
}

type pyPeer struct {
	broker *Broker
	lines  chan pyLine
	serve  chan error
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	exited chan error
}

// startPython runs testdata/pypeer.py against a Go broker serving objs.
// wrap, if set, wraps the accepted connection (to record a transcript).
func startPython(t *testing.T, mode string, vocab int, objs map[string]Referenceable, wrap func(net.Conn) net.Conn) *pyPeer {
	t.Helper()
	pyfoolscap.Need(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	p := &pyPeer{lines: make(chan pyLine, 100), serve: make(chan error, 1), stderr: &bytes.Buffer{}, exited: make(chan error, 1)}
	p.cmd = exec.Command("/usr/bin/python3", "testdata/pypeer.py", strconv.Itoa(port), goTubID, mode, strconv.Itoa(vocab))
	p.cmd.Stderr = p.stderr
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting python peer: %v", err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var l pyLine
			if json.Unmarshal(sc.Bytes(), &l) == nil {
				p.lines <- l
			}
		}
		close(p.lines)
		p.exited <- p.cmd.Wait()
	}()
	_ = ln.(*net.TCPListener).SetDeadline(time.Now().Add(30 * time.Second))
	conn, err := ln.Accept()
	if err != nil {
		_ = p.cmd.Process.Kill()
		t.Fatalf("python peer did not connect: %v\n%s", err, p.stderr)
	}
	first, ok := <-p.lines
	if !ok || !first.Ready {
		_ = p.cmd.Process.Kill()
		t.Fatalf("python peer did not get ready: %+v\n%s", first, p.stderr)
	}
	if wrap != nil {
		conn = wrap(conn)
	}
	cfg := BrokerConfig{Conn: conn, PeerTubID: first.TubID, VocabIndex: vocab,
		Local: func(n string) (Referenceable, bool) { o, ok := objs[n]; return o, ok }}
	switch mode {
	case "interop":
		// As if our Tub had a location: first sends carry a FURL.
		cfg.FURLFor = func(obj Referenceable) string { return testFURL(obj) }
	case "keepalive":
		cfg.KeepaliveTimeout = 300 * time.Millisecond
	}
	p.broker = NewBroker(cfg)
	go func() { p.serve <- p.broker.Serve(context.Background()) }()
	t.Cleanup(func() {
		p.broker.Close()
		<-p.serve
		select {
		case <-p.exited:
		case <-time.After(20 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("python peer stderr:\n%s", p.stderr)
		}
	})
	return p
}

// waitChecks collects the Python side's checks until it is done.
func (p *pyPeer) waitChecks(t *testing.T) {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("python peer exited before finishing its checks\n%s", p.stderr)
			}
			if l.Done {
				return
			}
			if l.Check != "" {
				if !l.OK {
					t.Errorf("python check %q failed: %s", l.Check, l.Detail)
				} else {
					t.Logf("python check ok: %s", l.Check)
				}
			}
		case <-timeout:
			t.Fatal("timed out waiting for the python checks")
		}
	}
}

func testFURL(obj Referenceable) string {
	return fmt.Sprintf("pb://%s@tcp:127.0.0.1:1/swiss-%p", goTubID, obj)
}

func bigStr(s string) *big.Int {
	v, _ := new(big.Int).SetString(s, 10)
	return v
}

func nestedList(depth int) any {
	var v any = int64(1)
	for range depth {
		v = banana.List{v}
	}
	return v
}

// interopValues are sent by Go to Python's echo; dict keys are in Python's
// sorted order so that the echoed value compares equal.
func interopValues() []struct {
	name string
	v    any
} {
	return []struct {
		name string
		v    any
	}{
		{"bytes", []byte("\x00hello\xff")},
		{"unicode non-BMP", "héllo 😀 𝄞"},
		{"ints", banana.List{int64(0), int64(-1), int64(1<<31 - 1), int64(1 << 31), int64(-1 << 31), int64(-1<<31 - 1), bigStr("1267650600228229401496703205376"), bigStr("-1267650600228229401496703205376")}},
		{"floats", banana.List{math.Copysign(0, -1), 1e-5, 1e16, 0.30000000000000004, math.Inf(-1)}},
		{"none and bools", banana.List{nil, true, false}},
		{"containers", banana.Tuple{banana.List{int64(1)}, banana.Tuple{}, banana.Set{int64(1), int64(2)}, banana.FrozenSet{int64(3)}}},
		{"dict non-string keys", banana.NewDict(int64(-3), "c", int64(1), "a", 2.5, "b")},
		{"dict tuple keys", banana.NewDict(banana.Tuple{int64(1), int64(1)}, []byte("x"), banana.Tuple{int64(1), int64(2)}, nil)},
		{"nesting 20 deep", nestedList(20)},
	}
}

func TestPythonInterop(t *testing.T) {
	for _, vocab := range []int{1, 0} {
		t.Run("vocab"+strconv.Itoa(vocab), func(t *testing.T) { testPythonInterop(t, vocab) })
	}
}

func testPythonInterop(t *testing.T, vocab int) {
	goecho := &echoObj{}
	gothing := &echoObj{iname: "RIGoThing.gatherer.test"}
	p := startPython(t, "interop", vocab, map[string]Referenceable{"goecho": goecho, "gothing": gothing}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	pyecho := mustRef(t, p.broker, "pyecho")
	if pyecho.FURL() == "" {
		t.Errorf("python sent no FURL with its reference")
	}
	for _, tc := range interopValues() {
		t.Run("echo "+tc.name, func(t *testing.T) {
			got, err := pyecho.Call(ctx, "echo", []any{tc.v}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.v) {
				t.Errorf("python echoed %#v\nwant %#v", got, tc.v)
			}
		})
	}
	got, err := pyecho.Call(ctx, "echo_kw", nil, KW{"b": int64(1), "a": []byte("x")})
	if err != nil || !reflect.DeepEqual(got, banana.NewDict("a", []byte("x"), "b", int64(1))) {
		t.Errorf("echo_kw: %#v, %v", got, err)
	}

	errTests := []struct {
		name, method string
		check        func(*RemoteError) bool
	}{
		{"ValueError", "fail", func(e *RemoteError) bool {
			return e.Type == "builtins.ValueError" && e.Value == "boom" &&
				reflect.DeepEqual(e.Parents, []string{"builtins.ValueError", "builtins.Exception", "builtins.BaseException", "builtins.object"}) &&
				bytes.Contains([]byte(e.Traceback), []byte("remote_fail"))
		}},
		{"truncated", "fail_long", func(e *RemoteError) bool { return len(e.Value) == 999 && e.Value[997:] == ".." }},
		{"KeyError", "fail_key", func(e *RemoteError) bool { return e.Check("builtins.LookupError") && e.Value == "'missing'" }},
		{"AttributeError", "nosuch", func(e *RemoteError) bool { return e.Type == "builtins.AttributeError" }},
	}
	for _, tc := range errTests {
		t.Run("error "+tc.name, func(t *testing.T) {
			_, err := pyecho.Call(ctx, tc.method, nil, nil)
			var re *RemoteError
			if !errors.As(err, &re) || !tc.check(re) {
				t.Fatalf("got %#v", err)
			}
		})
	}

	t.Run("python reference", func(t *testing.T) {
		v, err := pyecho.Call(ctx, "give_ref", nil, nil)
		counter, ok := v.(*RemoteReference)
		if err != nil || !ok {
			t.Fatalf("give_ref: %v %v", v, err)
		}
		for want := int64(1); want <= 2; want++ {
			if n, err := counter.Call(ctx, "incr", nil, nil); err != nil || n != want {
				t.Fatalf("incr: %v %v", n, err)
			}
		}
		back, err := pyecho.Call(ctx, "take_back", []any{counter}, nil)
		if err != nil || back != counter {
			t.Fatalf("python's reference sent back: %v %v", back, err)
		}
		v, err = pyecho.Call(ctx, "give_method", nil, nil)
		method, ok := v.(*RemoteReference)
		if err != nil || !ok || method.CLID() >= 0 {
			t.Fatalf("give_method: %v %v", v, err)
		}
		if n, err := method.Call(ctx, "ignored", nil, nil); err != nil || n != int64(1) {
			t.Fatalf("calling a bound method: %v %v", n, err)
		}
	})
	t.Run("go reference", func(t *testing.T) {
		local := &echoObj{}
		back, err := pyecho.Call(ctx, "take_back", []any{local}, nil)
		if err != nil || back != Referenceable(local) {
			t.Fatalf("take_back: %v %v", back, err)
		}
		v, err := pyecho.Call(ctx, "call_me_back", []any{local, "via python"}, nil)
		if err != nil || v != "via python" {
			t.Fatalf("call_me_back: %v %v", v, err)
		}
		iname, err := pyecho.Call(ctx, "iname_of", []any{gothing}, nil)
		if err != nil || iname != "RIGoThing.gatherer.test" {
			t.Fatalf("iname seen by python: %v %v", iname, err)
		}
		fresh := &echoObj{}
		url, err := pyecho.Call(ctx, "url_of", []any{fresh}, nil)
		if err != nil || url != testFURL(fresh) {
			t.Fatalf("FURL seen by python: %v %v", url, err)
		}
	})
	t.Run("remote interface check", func(t *testing.T) {
		target := mustRef(t, p.broker, "pytarget")
		if target.InterfaceName() != "RIPyTarget.gatherer.test" {
			t.Errorf("pytarget iname %q", target.InterfaceName())
		}
		if v, err := target.Call(ctx, "poke", []any{gothing}, nil); err != nil || v != int64(17) {
			t.Fatalf("poke with an RIGoThing: %v %v", v, err)
		}
		_, err := target.Call(ctx, "poke", []any{&echoObj{iname: "RIOther"}}, nil)
		var re *RemoteError
		if !errors.As(err, &re) || re.Type != "foolscap.tokens.Violation" {
			t.Fatalf("poke with the wrong interface: %v", err)
		}
	})
	t.Run("callRemoteOnly", func(t *testing.T) {
		if err := pyecho.CallOnly("record", []any{int64(7)}, nil); err != nil {
			t.Fatal(err)
		}
		v, err := pyecho.Call(ctx, "recorded", nil, nil)
		if err != nil || !reflect.DeepEqual(v, banana.List{int64(7)}) {
			t.Fatalf("recorded: %v %v", v, err)
		}
	})
	t.Run("unknown name", func(t *testing.T) {
		_, err := p.broker.GetReferenceByName(ctx, "nosuch")
		var re *RemoteError
		if !errors.As(err, &re) || re.Type != "builtins.KeyError" {
			t.Fatalf("got %v", err)
		}
	})
	p.waitChecks(t)
}

// TestPythonKeepalive idles a connection whose Python side pings after
// 0.2 s and drops it after 0.6 s of silence: our PONGs (and PINGs) must
// keep it up (wire-protocol.md §7.1).
func TestPythonKeepalive(t *testing.T) {
	p := startPython(t, "keepalive", 1, nil, nil)
	p.waitChecks(t)
	time.Sleep(2 * time.Second) // idle: the behaviour under test, not synchronisation
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ref := mustRef(t, p.broker, "pyecho")
	if v, err := ref.Call(ctx, "echo", []any{int64(1)}, nil); err != nil || v != int64(1) {
		t.Fatalf("call after idling: %v %v", v, err)
	}
}
