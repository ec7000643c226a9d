package logport

import (
	"bytes"
	"compress/bzip2"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gatherer/gatherer/gatherer/incident"
	"github.com/gatherer/gatherer/gatherer/logs"
)

// referenceGatherer runs python-foolscap's own gatherer (flogtool +
// twistd3) of the given kind ("incident" or "log") and returns its
// directory and FURL.
func referenceGatherer(t *testing.T, kind string) (string, string) {
	t.Helper()
	needPython(t)
	if _, err := exec.LookPath("twistd3"); err != nil {
		t.Skipf("twistd3 is not installed (run make deps): %v", err)
	}
	dir := filepath.Join(t.TempDir(), "py-"+kind)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	script := "../../conformance/peers/reference_gatherer.sh"
	create := exec.Command(script, "create", kind, dir,
		"--port", fmt.Sprintf("tcp:%d:interface=127.0.0.1", port),
		"--location", fmt.Sprintf("tcp:127.0.0.1:%d", port))
	if out, err := create.CombinedOutput(); err != nil {
		t.Fatalf("creating the reference %s gatherer: %v\n%s", kind, err, out)
	}
	out, err := exec.Command(script, "start", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("starting the reference %s gatherer: %v\n%s", kind, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command(script, "stop", dir).CombinedOutput(); err != nil {
			t.Errorf("stopping the reference gatherer: %v\n%s", err, out)
		}
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "twistd.log"))
			t.Logf("reference gatherer twistd.log:\n%s", log)
		}
	})
	return dir, strings.TrimSpace(string(out))
}

func bunzip(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(bzip2.NewReader(f))
	if err != nil {
		t.Fatalf("decompressing %s: %v", path, err)
	}
	return b
}

var rxTime = regexp.MustCompile(`"rx_time": [-0-9.e+]+`)

// TestDifferentialIncident: one python-foolscap node publishes to the
// Python reference incident gatherer and to ours at once; the stored
// incidents must be byte-identical after decompression but for rx_time,
// and classified/ must say the same.
func TestDifferentialIncident(t *testing.T) {
	pyDir, pyFURL := referenceGatherer(t, "incident")

	goDir := t.TempDir()
	svc, err := incident.New(incident.Options{Dir: goDir})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer svc.Close(context.Background())
	goFURL := serveGatherer(t, func(ctx context.Context, nodeid any, pub *Publisher) error {
		return svc.Logport(ctx, nodeid, pub)
	})

	node := startNode(t, pyFURL, "--gatherer", goFURL)
	tubid := node.ready["tubid"].(string)
	if m := node.do(t, "wait-subscribed 2"); m["ok"] != true {
		t.Fatalf("the node did not see both gatherers subscribe: %v", m)
	}
	m := node.do(t, "incident differential")
	name, _ := m["incident"].(string)
	if name == "" {
		t.Fatalf("node made no incident: %v", m)
	}
	rel := filepath.Join("incidents", tubid, name+".flog.bz2")
	for _, d := range []string{pyDir, goDir} {
		waitFor(t, filepath.Join(d, "classified", "unknown")+" listing "+rel, func() bool {
			b, _ := os.ReadFile(filepath.Join(d, "classified", "unknown"))
			return strings.Contains(string(b), rel)
		})
	}
	pyBytes := bunzip(t, filepath.Join(pyDir, rel))
	goBytes := bunzip(t, filepath.Join(goDir, rel))
	if n := bytes.Count(pyBytes, []byte("\n")); n < 10 {
		t.Fatalf("the reference incident has only %d lines", n)
	}
	for _, want := range []string{`\ud83d`, "1180591620717411303424", `"@": "Failure"`, strings.Repeat("0123456789", 100)} {
		if !bytes.Contains(pyBytes, []byte(want)) {
			t.Errorf("the incident lacks %q: the node's rich events did not make it in", want[:min(len(want), 20)])
		}
	}
	pyNorm := rxTime.ReplaceAll(pyBytes, []byte(`"rx_time": X`))
	goNorm := rxTime.ReplaceAll(goBytes, []byte(`"rx_time": X`))
	if !bytes.Equal(pyNorm, goNorm) {
		pl := strings.Split(string(pyNorm), "\n")
		gl := strings.Split(string(goNorm), "\n")
		for i := 0; i < len(pl) || i < len(gl); i++ {
			var p, g string
			if i < len(pl) {
				p = pl[i]
			}
			if i < len(gl) {
				g = gl[i]
			}
			if p != g {
				t.Fatalf("incident differs from the reference at line %d:\npython: %s\ngo:     %s", i+1, p, g)
			}
		}
	}
	pyClass, _ := os.ReadFile(filepath.Join(pyDir, "classified", "unknown"))
	goClass, _ := os.ReadFile(filepath.Join(goDir, "classified", "unknown"))
	if !bytes.Equal(pyClass, goClass) {
		t.Errorf("classified/unknown differs:\npython: %q\ngo:     %q", pyClass, goClass)
	}
	pyLatest, _ := os.ReadFile(filepath.Join(pyDir, "incidents", tubid, "latest"))
	goLatest, _ := os.ReadFile(filepath.Join(goDir, "incidents", tubid, "latest"))
	if !bytes.Equal(pyLatest, goLatest) {
		t.Errorf("latest differs: python %q, go %q", pyLatest, goLatest)
	}
}

// TestDifferentialLog: the same for the log gatherer's event lines.
func TestDifferentialLog(t *testing.T) {
	pyDir, pyFURL := referenceGatherer(t, "log")

	goDir := t.TempDir()
	svc, err := logs.New(logs.Options{Dir: goDir})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	goFURL := serveGatherer(t, func(ctx context.Context, nodeid any, pub *Publisher) error {
		return svc.Logport(ctx, nodeid, pub)
	})
	node := startNode(t, pyFURL, "--gatherer", goFURL)
	if m := node.do(t, "wait-subscribed 2"); m["ok"] != true {
		t.Fatalf("the node did not see both gatherers subscribe: %v", m)
	}
	node.do(t, "rich")
	node.do(t, "event end-marker")
	pyFile := func() string {
		matches, _ := filepath.Glob(filepath.Join(pyDir, "from-*---to-present.flog"))
		if len(matches) != 1 {
			return ""
		}
		return matches[0]
	}
	waitFor(t, "the end marker in both log files", func() bool {
		p, _ := os.ReadFile(pyFile())
		g, _ := os.ReadFile(svc.CurrentFile())
		return bytes.Contains(p, []byte("end-marker\"")) && bytes.Contains(g, []byte("end-marker\""))
	})
	final, err := svc.Close(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	pyBytes, _ := os.ReadFile(pyFile())
	goBytes, err := os.ReadFile(final)
	if err != nil {
		t.Fatal(err)
	}
	events := func(b []byte) []string {
		var out []string
		for _, l := range strings.Split(string(rxTime.ReplaceAll(b, []byte(`"rx_time": X`))), "\n") {
			if strings.HasPrefix(l, `{"from": `) {
				out = append(out, l)
			}
		}
		return out
	}
	pe, ge := events(pyBytes), events(goBytes)
	if len(pe) < 5 {
		t.Fatalf("the reference log gatherer stored only %d events", len(pe))
	}
	if len(pe) != len(ge) {
		t.Fatalf("python stored %d events, we stored %d", len(pe), len(ge))
	}
	for i := range pe {
		if pe[i] != ge[i] {
			t.Errorf("event %d differs:\npython: %s\ngo:     %s", i, pe[i], ge[i])
		}
	}
}
