package stats

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatherer/gatherer/foolscap/banana"
)

const crashChildEnv = "GATHERER_STATS_CRASH_CHILD_DIR"

// TestCrashMidWrite kills (SIGKILL) a child process that rewrites a large
// stats.json as fast as it can, several times at random moments, and checks
// that the directory always opens again: stats.json is the old or the new
// file, never a torn one, and a leftover stats.json.tmp is cleaned up.
func TestCrashMidWrite(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	if testing.Short() {
		t.Skip("re-runs the test binary as a child process")
	}
	dir := t.TempDir()
	for round := range 10 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashMidWrite$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// The child prints a line once its first stats.json is written.
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil || line != crashReady+"\n" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("child: %q, %v", line, err)
		}
		// Not synchronisation: a random moment, likely inside a later write.
		time.Sleep(time.Duration(rand.IntN(200)) * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()

		s, err := New(Options{Dir: dir})
		if err != nil {
			t.Fatalf("round %d: reopening after SIGKILL: %v", round, err)
		}
		if n := len(s.NodeStats()); n != crashProviders {
			t.Fatalf("round %d: %d entries after SIGKILL, want %d", round, n, crashProviders)
		}
		if _, err := os.Stat(filepath.Join(dir, StatsFile+".tmp")); err == nil {
			t.Fatalf("round %d: stats.json.tmp survived New", round)
		}
	}
}

const (
	crashProviders = 300
	crashReady     = "first stats.json written"
)

// crashChild rewrites stats.json in dir until it is killed.
func crashChild(dir string) {
	s, err := New(Options{Dir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx := context.Background()
	var tick atomic.Int64
	for i := range crashProviders {
		p := newFake(fmt.Sprintf("%032d", i), func(context.Context) (any, error) {
			a := tahoeLikeAnswer()
			a.Set([]byte("counters"), banana.NewDict([]byte("tick"), tick.Add(1)))
			return a, nil
		})
		if err := s.Provide(ctx, p, "crash"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	for i := 0; ; i++ {
		if err := s.Poll(ctx); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		if i == 0 {
			fmt.Println(crashReady)
		}
	}
}
