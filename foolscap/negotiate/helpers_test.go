package negotiate

import (
	"bufio"
	"context"
	"crypto/rand"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const pythonPath = "/usr/bin/python3"

// runPython runs a testdata script to completion and returns its stdout.
func runPython(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, pythonPath, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python %v: %v\n%s", args, err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// mustIdentity returns a fresh identity.
func mustIdentity(t *testing.T) *Identity {
	t.Helper()
	id, err := NewIdentity(rand.Reader, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// mustIdentityWhere returns a fresh identity whose tubid satisfies ok
// (one that sorts above or below a peer's, to pick master or slave),
// trying up to 512 keys.
func mustIdentityWhere(t *testing.T, ok func(tubid string) bool) *Identity {
	t.Helper()
	for range 512 {
		if id := mustIdentity(t); ok(id.TubID()) {
			return id
		}
	}
	t.Fatal("could not generate an identity with the wanted tubid order")
	return nil
}

// mustOrderedPair returns two identities, the first with the greater tubid.
func mustOrderedPair(t *testing.T) (hi, lo *Identity) {
	t.Helper()
	hi, lo = mustIdentity(t), mustIdentity(t)
	if hi.TubID() < lo.TubID() {
		hi, lo = lo, hi
	}
	return hi, lo
}

func mustIncarnation(t *testing.T) string {
	t.Helper()
	s, err := NewIncarnation(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// pyTub is a running testdata/pytub.py.
type pyTub struct {
	t     *testing.T
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	done  chan struct{}
	mu    sync.Mutex
	log   []string
	TubID string
	FURL  string
}

// startPyTub starts python-foolscap as "server" or "client" with the
// identity in certFile (created by Python if missing).
func startPyTub(t *testing.T, mode, certFile string, args ...string) *pyTub {
	t.Helper()
	cmd := exec.Command(pythonPath, append([]string{"testdata/pytub.py", mode, certFile}, args...)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &pyTub{t: t, cmd: cmd, stdin: stdin, lines: make(chan string, 100), done: make(chan struct{})}
	go func() { // owner: Cleanup below waits on p.done
		defer close(p.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.log = append(p.log, line)
			p.mu.Unlock()
			select {
			case p.lines <- line:
			default:
			}
		}
	}()
	t.Cleanup(p.stop)
	p.TubID = strings.TrimPrefix(p.expect("TUBID "), "TUBID ")
	if mode == "server" {
		p.FURL = strings.TrimPrefix(p.expect("FURL "), "FURL ")
	}
	return p
}

// expect waits for a stdout line starting with prefix.
func (p *pyTub) expect(prefix string) string {
	p.t.Helper()
	return p.expectLine(prefix, func(l string) bool { return strings.HasPrefix(l, prefix) })
}

// expectContaining waits for a stdout line containing s.
func (p *pyTub) expectContaining(s string) string {
	p.t.Helper()
	return p.expectLine(s, func(l string) bool { return strings.Contains(l, s) })
}

func (p *pyTub) expectLine(what string, match func(string) bool) string {
	p.t.Helper()
	prefix := what
	timeout := time.After(20 * time.Second)
	for {
		select {
		case l := <-p.lines:
			if match(l) {
				return l
			}
		case <-p.done:
			p.t.Fatalf("python exited before printing %q; output:\n%s", prefix, p.output())
		case <-timeout:
			p.t.Fatalf("python did not print %q in time; output:\n%s", prefix, p.output())
		}
	}
}

func (p *pyTub) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.log, "\n")
}

func (p *pyTub) stop() {
	_ = p.stdin.Close()
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	_ = p.cmd.Wait()
}

// pyCertFile makes Python create an identity file and returns its path
// and tubid.
func pyCertFile(t *testing.T) (string, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "py.pem")
	tubid := runPython(t, "testdata/pyident.py", "tub-create", path)
	return path, tubid
}

// pyCertFileMidway is pyCertFile with a tubid in the middle half of the
// tubid order (first character 'c' to 'r'; tubids compare as strings, so
// the digits '2' to '7' of base32 come before the letters), so that
// mustIdentityWhere finds a Go tubid on either side of it within a few
// keys. Against a tubid anywhere, its 512 tries all land on the wrong
// side in about one lookup in 513 (the integral of q^512), as one did in
// CI after 38 s of key generation.
func pyCertFileMidway(t *testing.T) (string, string) {
	t.Helper()
	for range 40 { // each try lands in the middle half with probability 1/2
		path, tubid := pyCertFile(t)
		if tubid[0] >= 'c' && tubid[0] <= 'r' {
			return path, tubid
		}
	}
	t.Fatal("python made 40 tubids outside the middle half of the tubid order")
	return "", ""
}

// writePEM writes id to a file for Python.
func writePEM(t *testing.T, id *Identity) string {
	t.Helper()
	b, err := id.MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "go.pem")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
