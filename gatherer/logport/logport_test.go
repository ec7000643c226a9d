package logport

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatherer/gatherer/foolscap/furl"
	"github.com/gatherer/gatherer/foolscap/negotiate"
	"github.com/gatherer/gatherer/foolscap/tub"
	"github.com/gatherer/gatherer/gatherer/flog"
	"github.com/gatherer/gatherer/gatherer/incident"
	"github.com/gatherer/gatherer/gatherer/logs"
	"github.com/gatherer/gatherer/internal/pyfoolscap"
)

const debianPython = "/usr/bin/python3"

// serveGatherer runs a Go Tub whose root object passes logport calls to h.
func serveGatherer(t *testing.T, h Handler) string {
	t.Helper()
	id, err := negotiate.NewIdentity(rand.Reader, time.Now())
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
		tb.Shutdown(ctx)
	})
	addr, err := tb.Listen(context.Background(), furl.ListenSpec{Interface: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := tb.SetLocation(fmt.Sprintf("tcp:127.0.0.1:%d", addr.(*net.TCPAddr).Port)); err != nil {
		t.Fatal(err)
	}
	f, err := tb.Register(NewGatherer(h, nil), "")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// pynode drives conformance/peers/pynode.py.
type pynode struct {
	stdin io.WriteCloser
	out   *bufio.Scanner
	ready map[string]any
}

func startNode(t *testing.T, gathererFURL string, extra ...string) *pynode {
	t.Helper()
	pyfoolscap.Need(t)
	args := append([]string{"../../conformance/peers/pynode.py", "--nodedir", t.TempDir(), "--gatherer", gathererFURL, "--trailing-delay", "0.2"}, extra...)
	cmd := exec.Command(debianPython, args...)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
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
			t.Logf("pynode stderr:\n%s", stderr.String())
		}
	})
	n := &pynode{stdin: stdin, out: bufio.NewScanner(stdout)}
	n.out.Buffer(make([]byte, 1<<20), 1<<20)
	for {
		m := n.read(t)
		if m["event"] == "ready" {
			n.ready = m
			return n
		}
	}
}

func (n *pynode) read(t *testing.T) map[string]any {
	t.Helper()
	lines := make(chan string, 1)
	go func() {
		if n.out.Scan() {
			lines <- n.out.Text()
		}
		close(lines)
	}()
	select {
	case l, ok := <-lines:
		if !ok {
			t.Fatal("pynode exited")
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("pynode said %q: %v", l, err)
		}
		return m
	case <-time.After(60 * time.Second):
		t.Fatal("pynode said nothing for 60 s")
		return nil
	}
}

func (n *pynode) do(t *testing.T, cmd string) map[string]any {
	t.Helper()
	if _, err := fmt.Fprintln(n.stdin, cmd); err != nil {
		t.Fatal(err)
	}
	for {
		m := n.read(t)
		if _, isAnnouncement := m["event"]; !isAnnouncement {
			return m
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestIncidentGatheredFromPythonNode(t *testing.T) {
	dir := t.TempDir()
	svc, err := incident.New(incident.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer svc.Close(context.Background())
	f := serveGatherer(t, func(ctx context.Context, nodeid any, pub *Publisher) error {
		return svc.Logport(ctx, nodeid, pub)
	})
	node := startNode(t, f)
	tubid := node.ready["tubid"].(string)
	if m := node.do(t, "wait-subscribed"); m["ok"] != true {
		t.Fatalf("node never saw our subscription: %v", m)
	}
	m := node.do(t, "incident first")
	name, _ := m["incident"].(string)
	if !strings.HasPrefix(name, "incident-") {
		t.Fatalf("node made no incident: %v", m)
	}
	path := filepath.Join(dir, "incidents", tubid, name+".flog.bz2")
	waitFor(t, "the incident file "+path, func() bool { _, err := os.Stat(path); return err == nil })
	waitFor(t, "classified/unknown", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "classified", "unknown"))
		return strings.Contains(string(b), "incidents/"+tubid+"/"+name+".flog.bz2")
	})
	latest, _ := os.ReadFile(filepath.Join(dir, "incidents", tubid, "latest"))
	if string(latest) != name+"\n" {
		t.Errorf("latest holds %q, want %q", latest, name+"\n")
	}
	// flogtool dump must read what we wrote.
	out, err := exec.Command("/usr/bin/flogtool", "dump", path).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "[INCIDENT-TRIGGER]") {
		t.Errorf("flogtool dump %s: %v\n%s", path, err, out)
	}
}

func TestEventsGatheredFromPythonNode(t *testing.T) {
	dir := t.TempDir()
	svc, err := logs.New(logs.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	f := serveGatherer(t, func(ctx context.Context, nodeid any, pub *Publisher) error {
		return svc.Logport(ctx, nodeid, pub)
	})
	node := startNode(t, f)
	if m := node.do(t, "wait-subscribed"); m["ok"] != true {
		t.Fatalf("node never saw our subscription: %v", m)
	}
	node.do(t, "event marker-one")
	node.do(t, "rich")
	node.do(t, "event marker-two")
	current := svc.CurrentFile()
	waitFor(t, "marker-two in "+current, func() bool {
		b, _ := os.ReadFile(current)
		return strings.Contains(string(b), "marker-two")
	})
	final, err := svc.Close(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r, err := flog.Open(final, flog.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	events := 0
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := rec.Event(); ok {
			events++
		}
	}
	if events < 3 {
		t.Errorf("%s holds %d events, want at least 3", final, events)
	}
	out, err := exec.Command("/usr/bin/flogtool", "dump", final).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "marker-two") {
		t.Errorf("flogtool dump %s: %v\n%s", final, err, out)
	}
}
