package main

import (
	"bufio"
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
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gatherer/gatherer/internal/pyfoolscap"
)

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startPythonGatherer runs "twistd3 -n -y gatherer.tac" in dir and returns
// its FURL; the process is stopped at the end of the test.
func startPythonGatherer(t *testing.T, dir string) string {
	t.Helper()
	cmd := exec.Command("twistd3", "-n", "--pidfile=", "-l", "-", "-y", tacFile)
	cmd.Dir = dir
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	furls := make(chan string, 1)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if f, ok := strings.CutPrefix(sc.Text(), "Gatherer waiting at: "); ok {
				furls <- f
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		<-drained
		_ = cmd.Wait()
	})
	select {
	case f := <-furls:
		return f
	case <-time.After(30 * time.Second):
		t.Fatal("the Python gatherer did not start within 30s")
	}
	return ""
}

var rxTimeRE = regexp.MustCompile(`"rx_time": [-0-9.e+]+`)

func decompressFile(t *testing.T, p string) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(bzip2.NewReader(f))
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	return rxTimeRE.ReplaceAllString(string(b), `"rx_time": RX`)
}

func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	sort.Strings(out)
	return out
}

// startOurGatherer runs "gatherer run dir" with the real Tub and returns
// its FURL and a function that stops it.
func startOurGatherer(t *testing.T, dir string) (string, func()) {
	t.Helper()
	furls := make(chan string, 1)
	a := &app{serve: func(ctx context.Context, cfg ServeConfig) error {
		ready := cfg.Ready
		cfg.Ready = func(f string) { ready(f); furls <- f }
		return tubServe(ctx, cfg)
	}}
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan int, 1)
	var out bytes.Buffer
	go func() { done <- runApp(ctx, a, []string{"run", dir}, &out, &out) }()
	select {
	case f := <-furls:
		return f, func() {
			stop()
			if code := <-done; code != 0 {
				t.Errorf("our gatherer exited %d: %s", code, out.String())
			}
		}
	case code := <-done:
		t.Fatalf("our gatherer exited %d: %s", code, out.String())
	}
	return "", nil
}

// createBoth makes a gatherer directory with flogtool and one with ours, on
// free ports.
func createBoth(t *testing.T, root, kind string) (pyDir, goDir string) {
	t.Helper()
	pyDir, goDir = filepath.Join(root, "py-"+kind), filepath.Join(root, "go-"+kind)
	for _, d := range []string{pyDir, goDir} {
		port := freePort(t)
		args := []string{kind, "-q", "--port", fmt.Sprintf("tcp:%d:interface=127.0.0.1", port), "--location", fmt.Sprintf("tcp:127.0.0.1:%d", port), d}
		if d == pyDir {
			if out, err := exec.Command("/usr/bin/flogtool", args...).CombinedOutput(); err != nil {
				t.Fatalf("flogtool: %v\n%s", err, out)
			}
			continue
		}
		var out bytes.Buffer
		if code := runApp(t.Context(), &app{}, args, &out, &out); code != 0 {
			t.Fatal(out.String())
		}
	}
	return pyDir, goDir
}

// TestDifferentialGatherers: one python-foolscap node publishes to the
// Python reference incident gatherer and log gatherer and to ours at once.
// Stored incident files must be identical after decompression except for
// rx_time, and so must latest and classified/; the log gatherers' files must
// hold the same lines (but rx_time) from the moment all are subscribed.
func TestDifferentialGatherers(t *testing.T) {
	pyfoolscap.Need(t)
	if _, err := exec.LookPath("twistd3"); err != nil {
		t.Skip("skipping: twistd3 not installed (python3-twisted)")
	}
	if testing.Short() {
		t.Skip("skipping the 15 s differential test in -short mode")
	}
	root := t.TempDir()
	nodeDir := filepath.Join(root, "node")
	pyDir, goDir := createBoth(t, root, "create-incident-gatherer")
	pyLog, goLog := createBoth(t, root, "create-gatherer")
	plugin, err := os.ReadFile("testdata/producer/classify_demo.py")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pyDir, "classify_demo.py"), plugin, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(goDir, "classify.rules"), []byte("demo-weird umid=Ab12Cd\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	furls := []string{startPythonGatherer(t, pyDir), startPythonGatherer(t, pyLog)}
	goIncidentFURL, stopIncident := startOurGatherer(t, goDir)
	goLogFURL, stopLog := startOurGatherer(t, goLog)
	furls = append(furls, goIncidentFURL, goLogFURL)

	furlFile := filepath.Join(root, "gatherers.furls")
	if err := os.WriteFile(furlFile, []byte(strings.Join(furls, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The node lingers well past its incident (declared ~2 s in, recorded
	// ~5 s later, then fetched by both gatherers at once) and its late
	// events (~8 s in).
	node := exec.Command("/usr/bin/python3", "testdata/producer/emit_rich.py", nodeDir, furlFile, "14")
	nodeOut, err := node.CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, nodeOut)
	}
	stopIncident()
	stopLog()

	pyFiles, goFiles := listTree(t, filepath.Join(pyDir, "incidents")), listTree(t, filepath.Join(goDir, "incidents"))
	if len(pyFiles) < 2 || strings.Join(pyFiles, " ") != strings.Join(goFiles, " ") {
		t.Fatalf("incident files differ:\npython: %q\nours:   %q\nnode said: %s", pyFiles, goFiles, nodeOut)
	}
	for _, f := range pyFiles {
		p, g := filepath.Join(pyDir, "incidents", f), filepath.Join(goDir, "incidents", f)
		var want, got string
		if strings.HasSuffix(f, ".flog.bz2") {
			want, got = decompressFile(t, p), decompressFile(t, g)
			for _, must := range []string{`\ud83d\ude00`, "1180591620717411303424", "1e+22", `"@": "Failure"`, strings.Repeat("x", 5000)} {
				if !strings.Contains(want, must) {
					t.Errorf("the reference incident lacks %.40q: the node did not log what the test expects", must)
				}
			}
		} else {
			wb, _ := os.ReadFile(p)
			gb, _ := os.ReadFile(g)
			want, got = string(wb), string(gb)
		}
		if got != want {
			t.Errorf("%s differs from the Python gatherer's:\n ours   %.600q\n python %.600q", f, got, want)
		}
	}
	pyCls, _ := os.ReadFile(filepath.Join(pyDir, "classified", "demo-weird"))
	goCls, _ := os.ReadFile(filepath.Join(goDir, "classified", "demo-weird"))
	if len(pyCls) == 0 || string(pyCls) != string(goCls) {
		t.Errorf("classified/demo-weird: ours %q, python %q", goCls, pyCls)
	}

	compareLogGatherers(t, pyLog, goLog)
}

// compareLogGatherers compares the lines both log gatherers wrote from the
// marker event on.
func compareLogGatherers(t *testing.T, pyDir, goDir string) {
	t.Helper()
	fromMarker := func(dir string) []string {
		m, _ := filepath.Glob(filepath.Join(dir, "from-*.flog"))
		if len(m) != 1 {
			t.Fatalf("%s holds %d output files, want 1", dir, len(m))
		}
		b, err := os.ReadFile(m[0])
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(rxTimeRE.ReplaceAllString(string(b), `"rx_time": RX`), "\n")
		for i, l := range lines {
			if strings.Contains(l, `"message": "marker: `) {
				return lines[i:]
			}
		}
		t.Fatalf("%s: no marker event in %s", dir, m[0])
		return nil
	}
	py, got := fromMarker(pyDir), fromMarker(goDir)
	if strings.Join(py, "\n") != strings.Join(got, "\n") {
		t.Errorf("log gatherer lines differ:\n ours   %.2000q\n python %.2000q", strings.Join(got, "\n"), strings.Join(py, "\n"))
	}
	joined := strings.Join(got, "\n")
	if !strings.Contains(joined, "after the unserializable event") || strings.Contains(joined, "bytes-key") {
		t.Errorf("want the unencodable event dropped and the next one kept:\n%.3000s", joined)
	}
}

// TestDifferentialTail follows one python-foolscap node with flogtool tail
// and with ours at once: from the marker event on, both print the same lines
// and save the same flogfile lines (but rx_time).
func TestDifferentialTail(t *testing.T) {
	pyfoolscap.Need(t)
	if testing.Short() {
		t.Skip("skipping the 10 s differential test in -short mode")
	}
	root := t.TempDir()
	nodeDir := filepath.Join(root, "node")
	furlFile := filepath.Join(root, "no-gatherers.furls")
	if err := os.WriteFile(furlFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	node := exec.Command("/usr/bin/python3", "testdata/producer/emit_rich.py", nodeDir, furlFile, "11")
	nodeOut, err := node.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := node.Start(); err != nil {
		t.Fatal(err)
	}
	nodeDone := make(chan struct{})
	go func() {
		// The node prints its tubid once its logport FURL is written.
		sc := bufio.NewScanner(nodeOut)
		for sc.Scan() {
		}
		_ = node.Wait()
		close(nodeDone)
	}()
	t.Cleanup(func() { _ = node.Process.Kill(); <-nodeDone })
	// Wait for the "tubid" line: the first line the node prints.
	var logport string
	for logport == "" {
		select {
		case <-nodeDone:
			t.Fatal("the node exited before writing logport.furl")
		case <-time.After(100 * time.Millisecond): // polling another process's file
			if b, err := os.ReadFile(filepath.Join(nodeDir, "logport.furl")); err == nil && len(b) > 0 {
				logport = strings.TrimSpace(string(b))
			}
		}
	}
	pySave, goSave := filepath.Join(root, "py.flog"), filepath.Join(root, "go.flog")
	py := exec.Command("/usr/bin/flogtool", "tail", "--save-to", pySave, logport)
	var pyOut bytes.Buffer
	py.Stdout = &pyOut
	if err := py.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(t.Context())
	var goOut bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- runApp(ctx, &app{}, []string{"tail", "--save-to", goSave, logport}, &goOut, &goOut) }()
	<-nodeDone
	stop()
	if code := <-done; code != 0 {
		t.Errorf("our tail exited %d: %s", code, goOut.String())
	}
	_ = py.Process.Signal(os.Interrupt)
	_ = py.Wait()

	from := func(s, marker string) string {
		i := strings.Index(s, marker)
		if i < 0 {
			t.Fatalf("no %q in:\n%.3000s", marker, s)
		}
		s = s[i:]
		// Up to the end of the node's events (flogtool prints nothing on
		// disconnect; we print "Disconnected").
		if j := strings.Index(s, "after the unserializable event"); j >= 0 {
			s = s[:j]
		}
		return rxTimeRE.ReplaceAllString(s, `"rx_time": RX`)
	}
	const marker = "marker: events from here on"
	if got, want := from(goOut.String(), marker), from(pyOut.String(), marker); got != want {
		t.Errorf("printed lines differ: %s", firstDiff(got, want))
	}
	if head := strings.SplitAfterN(pyOut.String(), "\n", 4); !strings.HasPrefix(goOut.String(), strings.Join(head[:3], "")) {
		t.Errorf("first lines: ours %.200q, flogtool %.200q", goOut.String(), strings.Join(head[:3], ""))
	}
	pb, _ := os.ReadFile(pySave)
	gb, _ := os.ReadFile(goSave)
	// flogtool's saver is a buffered file that is not flushed when tail is
	// interrupted, so its file may end early; ours is flushed per line.
	if got, want := from(string(gb), marker), from(string(pb), marker); !strings.HasPrefix(got, want) || len(want) < 1000 {
		t.Errorf("saved lines differ: %s", firstDiff(got, want))
	}
}

// firstDiff shows where two texts part.
func firstDiff(got, want string) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	lo := max(i-200, 0)
	return fmt.Sprintf("at byte %d:\n ours      %q\n reference %q", i, got[lo:min(i+300, len(got))], want[lo:min(i+300, len(want))])
}

// eventually polls cond (state kept by other processes) until it holds.
func eventually(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond) // polling another process's files
	}
}

func countFiles(pattern string) int {
	m, _ := filepath.Glob(pattern)
	return len(m)
}

// TestRestartCatchUp stops our incident gatherer between two incidents of a
// real node and starts it again: the node catches it up with exactly the
// incident it missed (latest honoured), nothing is fetched twice, and the
// FURL survives the restart.
func TestRestartCatchUp(t *testing.T) {
	pyfoolscap.Need(t)
	if testing.Short() {
		t.Skip("skipping the 8 s restart test in -short mode")
	}
	root := t.TempDir()
	dir, nodeDir := filepath.Join(root, "ig"), filepath.Join(root, "node")
	port := freePort(t)
	var out bytes.Buffer
	if code := runApp(t.Context(), &app{}, []string{"create-incident-gatherer", "-q",
		"--port", fmt.Sprintf("tcp:%d:interface=127.0.0.1", port), "--location", fmt.Sprintf("tcp:127.0.0.1:%d", port), dir}, &out, &out); code != 0 {
		t.Fatal(out.String())
	}
	if err := os.WriteFile(filepath.Join(dir, "classify.rules"), []byte("demo-weird umid=Ab12Cd\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	furl1, stop := startOurGatherer(t, dir)
	node := exec.Command("/usr/bin/python3", "testdata/producer/emit_two.py", nodeDir, furl1, "1.5", "3", "10")
	var nodeOut bytes.Buffer
	node.Stdout, node.Stderr = &nodeOut, &nodeOut
	if err := node.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = node.Process.Kill(); _ = node.Wait() })
	stored := filepath.Join(dir, "incidents", "*", "incident-*.flog.bz2")
	eventually(t, "the first incident", 10*time.Second, func() bool { return countFiles(stored) == 1 })
	stop()
	eventually(t, "the node's second incident", 10*time.Second, func() bool {
		return countFiles(filepath.Join(nodeDir, "logs", "incidents", "incident-*.flog.bz2")) == 2
	})
	furl2, stop2 := startOurGatherer(t, dir)
	if furl2 != furl1 {
		t.Errorf("FURL changed across the restart: %s, then %s", furl1, furl2)
	}
	eventually(t, "the caught-up incident", 15*time.Second, func() bool { return countFiles(stored) == 2 })
	stop2()

	logb, _ := os.ReadFile(filepath.Join(dir, "twistd.log"))
	log := string(logb)
	names, _ := filepath.Glob(stored)
	sort.Strings(names)
	first := strings.TrimSuffix(filepath.Base(names[0]), ".flog.bz2")
	for _, want := range []string{"last known incident is \n", "last known incident is " + first + "\n"} {
		if !strings.Contains(log, want) {
			t.Errorf("twistd.log lacks %q:\n%s", want, log)
		}
	}
	if n := strings.Count(log, "fetching incident "); n != 2 {
		t.Errorf("%d fetches, want 2:\n%s", n, log)
	}
	cls, _ := os.ReadFile(filepath.Join(dir, "classified", "demo-weird"))
	if strings.Count(string(cls), "\n") != 2 {
		t.Errorf("classified/demo-weird = %q", cls)
	}
	latest, _ := filepath.Glob(filepath.Join(dir, "incidents", "*", "latest"))
	if len(latest) == 1 {
		b, _ := os.ReadFile(latest[0])
		if want := strings.TrimSuffix(filepath.Base(names[1]), ".flog.bz2") + "\n"; string(b) != want {
			t.Errorf("latest = %q, want %q", b, want)
		}
	}
}
