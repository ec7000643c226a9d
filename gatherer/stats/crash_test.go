package stats

import (
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
	for round := range 5 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashMidWrite$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			if fi, err := os.Stat(filepath.Join(dir, StatsFile)); err == nil && fi.Size() > 0 {
				break
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatal("the child never wrote stats.json")
			}
			time.Sleep(5 * time.Millisecond)
		}
		// Let it run into the middle of some later write.
		time.Sleep(time.Duration(20+rand.IntN(200)) * time.Millisecond)
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

const crashProviders = 300

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
	for {
		if err := s.Poll(ctx); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
}
