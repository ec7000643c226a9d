package incident

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatherer/gatherer/foolscap/banana"
	"github.com/gatherer/gatherer/internal/atomicfile"
)

const crashChildEnv = "GATHERER_INCIDENT_CRASH_CHILD_DIR"

// TestCrashChild is the child of TestKilledMidWrite: it gathers incidents
// with many events forever, printing a line per stored incident, until it
// is killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashChildEnv)
	if dir == "" {
		t.Skip("helper process for TestKilledMidWrite")
	}
	rec := newRecorder()
	n := 0
	create := func(dir, pattern string) (atomicfile.File, error) {
		f, err := os.CreateTemp(dir, pattern)
		if err != nil || !strings.Contains(pattern, fileSuffix) {
			return f, err
		}
		// From the fourth incident on, announce the temporary file and
		// write it slowly, so that the parent's SIGKILL lands mid-write.
		n++
		if n < 4 {
			return f, nil
		}
		fmt.Println("writing", f.Name())
		return slowFile{f}, nil
	}
	s, err := New(Options{Dir: dir, Logger: slog.New(rec), Create: create})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	node := &bigNode{fakeNode: newFakeNode(tubA)}
	if err := s.Logport(context.Background(), tubA, node); err != nil {
		t.Fatal(err)
	}
	<-node.caughtUp
	for i := 0; ; i++ {
		name := fmt.Sprintf("incident-2026-11-27--06-%02d-%02dZ-aaaaaaa", i/60%60, i%60)
		node.declare(context.Background(), name, trigger("crash", int64(i)))
		rec.waitFor(t, "classified incidents/"+tubA+"/"+name, 1)
		fmt.Println("stored", name)
	}
}

type slowFile struct{ *os.File }

func (f slowFile) Write(p []byte) (int, error) {
	time.Sleep(time.Millisecond) // fault injection, not synchronisation
	return f.File.Write(p)
}

// bigNode answers get_incident at once with many events, so that most of
// the time goes into writing the file.
type bigNode struct {
	*fakeNode
	events []any
}

func (n *bigNode) GetIncident(ctx context.Context, name string) (any, []any, error) {
	h, _, err := n.fakeNode.GetIncident(ctx, name)
	if n.events == nil {
		n.events = make([]any, 5000)
		for i := range n.events {
			n.events[i] = banana.NewDict("format", "event %(n)d of a big incident", "n", int64(i), "num", int64(i),
				"time", 1795759715.121158+float64(i), "incarnation", banana.Tuple{"crash", nil}, "pad", strings.Repeat("x", i%300))
		}
	}
	return h, n.events, err
}

// TestKilledMidWrite kills (SIGKILL) a gatherer process while it writes
// incident files, then starts a gatherer on the same directory: every
// incident file present must be complete, and no temporary file may remain.
func TestKilledMidWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping crash test in -short mode")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	writing := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if name, ok := strings.CutPrefix(sc.Text(), "writing "); ok {
				writing <- name
			}
		}
		close(writing)
	}()
	var tmp string
	select {
	case name, ok := <-writing:
		if !ok {
			t.Fatal("child exited early")
		}
		tmp = name
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("child did not reach its fourth incident within 30s")
	}
	// The child is now writing the fourth incident, slowly.
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	for range writing {
	}
	if _, err := os.Stat(tmp); err != nil {
		t.Fatalf("the half-written temporary file is not there: %v", err)
	}

	rec := newRecorder()
	s, err := New(Options{Dir: dir, Logger: slog.New(rec)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, l := range rec.snapshot() {
		if strings.Contains(l, "cannot read stored incident") {
			t.Errorf("a truncated incident is visible after the crash: %s", l)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "incidents", tubA, "*"))
	var incidents int
	for _, f := range files {
		switch {
		case strings.HasSuffix(f, ".tmp"):
			t.Errorf("temporary file left after restart: %s", f)
		case strings.HasSuffix(f, fileSuffix):
			incidents++
		}
	}
	if incidents != 3 {
		t.Errorf("%d incidents on disk, want the 3 completed before the kill", incidents)
	}
	// Resuming: latest names the last complete incident, so the node offers
	// the one cut short again at the next connection.
	if l, err := readLatest(filepath.Join(dir, "incidents", tubA)); err != nil || l != "incident-2026-11-27--06-00-02Z-aaaaaaa" {
		t.Errorf("latest after the crash = %q, %v; want the third incident", l, err)
	}
	if !strings.Contains(filepath.Base(tmp), "incident-2026-11-27--06-00-03Z-aaaaaaa") {
		t.Errorf("the file cut short was %s, not the fourth incident", tmp)
	}
}
