package checktest

import (
	"bufio"
	"context"
	crand "crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatherer/gatherer/foolscap/furl"
	"github.com/gatherer/gatherer/foolscap/negotiate"
	"github.com/gatherer/gatherer/foolscap/pb"
	"github.com/gatherer/gatherer/foolscap/tub"
	"github.com/gatherer/gatherer/gatherer/incident"
	"github.com/gatherer/gatherer/gatherer/logport"
	"github.com/gatherer/gatherer/gatherer/logs"
	"github.com/gatherer/gatherer/gatherer/stats"
)

// Python is Debian's interpreter, the one python-foolscap is installed for.
const Python = "/usr/bin/python3"

// Gatherer is a running gatherer.
type Gatherer struct {
	Dir   string // its base directory
	FURL  string // its log_gatherer.furl / stats_gatherer.furl content
	TubID string
	Port  int
}

// PythonFoolscap reports why python-foolscap cannot be imported (nil when
// it can). flogtool and twistd3 come with it; their absence then fails the
// tests that need them rather than skipping them.
func PythonFoolscap() error {
	out, err := exec.Command(Python, "-c", "import foolscap").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s cannot import foolscap: %v: %s", Python, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// RequirePython skips the test when python-foolscap is missing.
func RequirePython(t testing.TB) {
	t.Helper()
	if err := PythonFoolscap(); err != nil {
		t.Skipf("skipping: python-foolscap reference gatherers unavailable: %v", err)
	}
}

// goTub starts a listening Tub on 127.0.0.1 with a fresh identity.
func goTub(t testing.TB) (*tub.Tub, int) {
	t.Helper()
	id, err := negotiate.NewIdentity(crand.Reader, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tb, err := tub.New(tub.Options{Identity: id, MaxInFlight: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := tb.Shutdown(ctx); err != nil {
			t.Errorf("shutting the gatherer's Tub down: %v", err)
		}
	})
	addr, err := tb.Listen(context.Background(), furl.ListenSpec{Interface: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	port := addr.(*net.TCPAddr).Port
	if err := tb.SetLocation(fmt.Sprintf("tcp:127.0.0.1:%d", port)); err != nil {
		t.Fatal(err)
	}
	return tb, port
}

func register(t testing.TB, tb *tub.Tub, port int, dir, file string, obj pb.Referenceable) *Gatherer {
	t.Helper()
	f, err := tb.RegisterFURLFile(obj, filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	return &Gatherer{Dir: dir, FURL: f, TubID: tb.TubID(), Port: port}
}

// GoIncidentGatherer runs our incident gatherer in-process in dir.
func GoIncidentGatherer(t testing.TB, dir string) *Gatherer {
	t.Helper()
	mkdir(t, dir)
	svc, err := incident.New(incident.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	tb, port := goTub(t)
	t.Cleanup(func() { _ = svc.Close(context.Background()) }) // runs before the Tub's shutdown
	root := logport.NewGatherer(func(ctx context.Context, nodeid any, pub *logport.Publisher) error {
		return svc.Logport(ctx, nodeid, pub)
	}, nil)
	return register(t, tb, port, dir, "log_gatherer.furl", root)
}

// GoLogGatherer runs our log gatherer in-process in dir.
func GoLogGatherer(t testing.TB, dir string) *Gatherer {
	t.Helper()
	mkdir(t, dir)
	svc, err := logs.New(logs.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	tb, port := goTub(t)
	t.Cleanup(func() { _, _ = svc.Close(context.Background()) })
	root := logport.NewGatherer(func(ctx context.Context, nodeid any, pub *logport.Publisher) error {
		return svc.Logport(ctx, nodeid, pub)
	}, nil)
	return register(t, tb, port, dir, "log_gatherer.furl", root)
}

// GoStatsGatherer runs our stats gatherer's root object in-process in dir
// (nothing is polled: no node connects).
func GoStatsGatherer(t testing.TB, dir string) *Gatherer {
	t.Helper()
	mkdir(t, dir)
	svc, err := stats.New(stats.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	tb, port := goTub(t)
	return register(t, tb, port, dir, stats.FURLFile, stats.NewGatherer(svc, nil))
}

// PythonGatherer creates python-foolscap's reference gatherer of kind
// "incident" or "log" in dir with flogtool and runs it with twistd3 until
// the test ends. It skips the test when python-foolscap is missing.
func PythonGatherer(t testing.TB, kind, dir string) *Gatherer {
	t.Helper()
	RequirePython(t)
	create := map[string]string{"incident": "create-incident-gatherer", "log": "create-gatherer"}[kind]
	if create == "" {
		t.Fatalf("unknown gatherer kind %q", kind)
	}
	port := FreePort(t)
	out, err := exec.Command("flogtool", create, "--quiet",
		fmt.Sprintf("--port=tcp:%d:interface=127.0.0.1", port),
		fmt.Sprintf("--location=tcp:127.0.0.1:%d", port), dir).CombinedOutput()
	if err != nil {
		t.Fatalf("flogtool %s: %v\n%s", create, err, out)
	}
	cmd := exec.Command("twistd3", "-n", "--logfile=twistd.log", "--pidfile=", "-y", "gatherer.tac")
	cmd.Dir = dir
	return startAndWait(t, cmd, kind, dir, port, func() string {
		b, _ := os.ReadFile(filepath.Join(dir, "twistd.log"))
		return string(b)
	})
}

func mkdir(t testing.TB, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

// BuildGatherer builds cmd/gatherer (our gatherer's command) into dir
// and returns the binary's path.
func BuildGatherer(t testing.TB, dir string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("skipping: no go tool to build cmd/gatherer: %v", err)
	}
	bin := filepath.Join(dir, "gatherer")
	out, err := exec.Command(goTool, "build", "-o", bin, "github.com/gatherer/gatherer/cmd/gatherer").CombinedOutput()
	if err != nil {
		t.Fatalf("building cmd/gatherer: %v\n%s", err, out)
	}
	return bin
}

// ProcessGatherer creates a gatherer of kind "incident" or "log" in dir
// with our command bin (gatherer create-incident-gatherer / create-gatherer)
// and runs it ("gatherer run DIR") until the test ends.
func ProcessGatherer(t testing.TB, bin, kind, dir string) *Gatherer {
	t.Helper()
	create := map[string]string{"incident": "create-incident-gatherer", "log": "create-gatherer"}[kind]
	if create == "" {
		t.Fatalf("unknown gatherer kind %q", kind)
	}
	port := FreePort(t)
	out, err := exec.Command(bin, create,
		fmt.Sprintf("--port=tcp:%d:interface=127.0.0.1", port),
		fmt.Sprintf("--location=tcp:127.0.0.1:%d", port), dir).CombinedOutput()
	if err != nil {
		t.Fatalf("gatherer %s: %v\n%s", create, err, out)
	}
	logPath := filepath.Join(t.TempDir(), "run.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logFile.Close() }) // after the process has stopped
	cmd := exec.Command(bin, "run", dir)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	return startAndWait(t, cmd, kind, dir, port, func() string {
		b, _ := os.ReadFile(logPath)
		return string(b)
	})
}

// startAndWait starts a gatherer process, stops it (SIGTERM) when the test
// ends, and waits until its FURL file is written and its port accepts.
func startAndWait(t testing.TB, cmd *exec.Cmd, kind, dir string, port int, logText func() string) *Gatherer {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", cmd.Path, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	furlPath := filepath.Join(dir, "log_gatherer.furl")
	deadline := time.Now().Add(20 * time.Second)
	for {
		if b, err := os.ReadFile(furlPath); err == nil && strings.HasSuffix(string(b), "\n") {
			s := strings.TrimSpace(string(b))
			f, err := furl.Parse(s)
			if err != nil {
				t.Fatalf("the %s gatherer wrote a bad FURL: %v", kind, err)
			}
			// The FURL file may be written before the listener is up: wait
			// until the port accepts.
			if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
				c.Close()
				return &Gatherer{Dir: dir, FURL: s, TubID: f.TubID, Port: port}
			}
		}
		select {
		case err := <-done:
			done <- err // for the cleanup
			t.Fatalf("%s exited early (%v); its log:\n%s", cmd.Path, err, logText())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the %s gatherer wrote no FURL within 20 s; its log:\n%s", kind, logText())
		}
	}
}

// FreePort returns a TCP port on 127.0.0.1 that nothing listens on (it was
// free a moment ago).
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

// HTTPServer starts an HTTP server: TCP works, but it is not Foolscap.
func HTTPServer(t testing.TB) int {
	t.Helper()
	s := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(s.Close)
	return s.Listener.Addr().(*net.TCPAddr).Port
}

// TLSServer starts an HTTPS server: it speaks TLS at once, not Foolscap's
// plaintext GET first.
func TLSServer(t testing.TB) int {
	t.Helper()
	s := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(s.Close)
	return s.Listener.Addr().(*net.TCPAddr).Port
}

// Serve accepts connections on 127.0.0.1 and runs handle on each (closing
// the connection after it) until the test ends; it returns the port.
func Serve(t testing.TB, handle func(net.Conn)) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				handle(c)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().(*net.TCPAddr).Port
}

// SilentServer accepts connections and never answers.
func SilentServer(t testing.TB) int {
	t.Helper()
	return Serve(t, func(c net.Conn) {
		_, _ = c.Read(make([]byte, 4096))
		buf := make([]byte, 1)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	})
}

// FakeTub plays the plaintext phase of a Foolscap server (it answers any
// GET with 101), does TLS with a fresh identity, and hands the TLS
// connection to then (nil: wait for the client to hang up). It returns the
// port and the identity's tubid.
func FakeTub(t testing.TB, then func(*tls.Conn)) (port int, tubID string) {
	t.Helper()
	id, err := negotiate.NewIdentity(crand.Reader, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	port = Serve(t, func(c net.Conn) {
		if !answer101(c) {
			return
		}
		tc := tls.Server(c, id.ServerTLSConfig())
		if err := tc.Handshake(); err != nil {
			return
		}
		if then != nil {
			then(tc)
			return
		}
		_, _ = tc.Read(make([]byte, 1))
	})
	return port, id.TubID()
}

// answer101 reads a request block and answers 101 Switching Protocols.
func answer101(c net.Conn) bool {
	br := bufio.NewReader(c)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return false
		}
		if line == "\r\n" {
			break
		}
	}
	_, err := c.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: TLS/1.0, PB/1.0\r\nConnection: Upgrade\r\n\r\n"))
	return err == nil
}

// WrongCertServer is a FakeTub: any FURL pointing at it but naming another
// tubid meets a certificate that does not match.
func WrongCertServer(t testing.TB) (port int, tubID string) {
	t.Helper()
	return FakeTub(t, nil)
}

// GarbageAfter101Server answers 101 and then sends bytes that are not TLS.
func GarbageAfter101Server(t testing.TB) int {
	t.Helper()
	return Serve(t, func(c net.Conn) {
		if answer101(c) {
			_, _ = c.Write([]byte("this is not a TLS record\r\n"))
		}
	})
}

// WithTubID returns g's FURL naming another tubid (a Tub the server does not
// have).
func WithTubID(furlStr, tubID string) string {
	f, err := furl.Parse(furlStr)
	if err != nil {
		return furlStr
	}
	f.TubID = tubID
	return f.String()
}

// WithName returns the FURL with another swissnum.
func WithName(furlStr, name string) string {
	f, err := furl.Parse(furlStr)
	if err != nil {
		return furlStr
	}
	f.Name = name
	return f.String()
}

// WithHints returns the FURL with other connection hints.
func WithHints(furlStr string, hints ...string) string {
	f, err := furl.Parse(furlStr)
	if err != nil {
		return furlStr
	}
	f.Hints = nil
	for _, h := range hints {
		hint, _ := furl.ParseHint(h)
		f.Hints = append(f.Hints, hint)
	}
	return f.String()
}

// WaitForIncident waits until the gatherer in dir has stored an incident
// from tubID and returns its path relative to dir.
func WaitForIncident(ctx context.Context, dir, tubID string) (string, error) {
	pattern := filepath.Join(dir, "incidents", tubID, "incident-*.flog.bz2")
	for {
		if m, _ := filepath.Glob(pattern); len(m) > 0 {
			return filepath.Rel(dir, m[0])
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("no incident from %s under %s/incidents: %w", tubID, dir, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// WaitForLogEvent waits until a flogfile in dir holds an event from tubID.
func WaitForLogEvent(ctx context.Context, dir, tubID string) (string, error) {
	needle := fmt.Sprintf("%q", tubID)
	for {
		m, _ := filepath.Glob(filepath.Join(dir, "*.flog"))
		for _, p := range m {
			b, err := os.ReadFile(p)
			if err == nil && strings.Contains(string(b), needle) {
				return filepath.Rel(dir, p)
			}
		}
		select {
		case <-ctx.Done():
			return "", errors.Join(fmt.Errorf("no event from %s in %s/*.flog", tubID, dir), ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
