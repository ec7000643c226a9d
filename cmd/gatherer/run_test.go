package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// steppingClock advances one second per reading.
type steppingClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *steppingClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

// TestRunSignals runs a gatherer directory until a stop, delivering SIGHUP
// in between; the stand-in Tub serves until the stop.
func TestRunSignals(t *testing.T) {
	tests := []struct {
		name      string
		create    []string
		wantLog   []string
		wantFiles []string
	}{
		{
			name:   "log gatherer rotates on SIGHUP and finishes its file on stop",
			create: []string{"create-gatherer", "-q", "-l", "tcp:127.0.0.1:3117"},
			wantLog: []string{
				"[stdout#info] gatherer: starting the log gatherer in DIR (rotate=None, bzip=false)",
				"[stdout#info] received SIGHUP, rotating the output file",
				"[stdout#info] rotated the output file to from-2026-11-27--06-00-01Z---to-2026-11-27--06-00-02Z.flog",
				"[stdout#info] received a stop signal, shutting down",
				"[stdout#info] closed the output file as from-2026-11-27--06-00-02Z---to-2026-11-27--06-00-03Z.flog",
				"[stdout#info] gatherer: shut down",
			},
			wantFiles: []string{
				"from-2026-11-27--06-00-01Z---to-2026-11-27--06-00-02Z.flog",
				"from-2026-11-27--06-00-02Z---to-2026-11-27--06-00-03Z.flog",
			},
		},
		{
			name:   "incident gatherer ignores SIGHUP",
			create: []string{"create-incident-gatherer", "-q", "-l", "tcp:127.0.0.1:3118"},
			wantLog: []string{
				"[stdout#info] gatherer: starting the incident gatherer in DIR",
				"[stdout#info] classifying stored incidents",
				"[stdout#info] 0 incidents already classified",
				"[stdout#info] done classifying 0 stored incidents",
				"[stdout#info] received SIGHUP; the incident gatherer has nothing to rotate",
				"[stdout#info] received a stop signal, shutting down",
				"[stdout#info] gatherer: shut down",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "g")
			var out bytes.Buffer
			if code := runApp(t.Context(), &app{}, append(tt.create, dir), &out, &out); code != 0 {
				t.Fatal(out.String())
			}
			ready := make(chan struct{})
			hup := make(chan os.Signal) // unbuffered: a send returns once run has taken it
			a := &app{
				hup: hup,
				now: (&steppingClock{t: time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)}).now,
				serve: func(ctx context.Context, cfg ServeConfig) error {
					cfg.Ready("pb://x@" + cfg.Location + "/y")
					close(ready)
					<-ctx.Done()
					return ctx.Err()
				},
			}
			ctx, stop := context.WithCancel(t.Context())
			done := make(chan int)
			var runOut bytes.Buffer
			go func() { done <- runApp(ctx, a, []string{"run", dir}, &runOut, &runOut) }()
			<-ready
			hup <- syscall.SIGHUP
			stop() // run handles the SIGHUP completely before it sees the stop
			if code := <-done; code != 0 {
				t.Fatalf("run exited %d: %s", code, runOut.String())
			}
			b, err := os.ReadFile(filepath.Join(dir, "twistd.log"))
			if err != nil {
				t.Fatal(err)
			}
			stamp := regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} `)
			got := strings.Split(strings.TrimSpace(stamp.ReplaceAllString(string(b), "")), "\n")
			for i := range tt.wantLog {
				tt.wantLog[i] = strings.ReplaceAll(tt.wantLog[i], "DIR", dir)
			}
			if strings.Join(got, "\n") != strings.Join(tt.wantLog, "\n") {
				t.Errorf("twistd.log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.wantLog, "\n"))
			}
			for _, f := range tt.wantFiles {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Errorf("missing %s: %v", f, err)
				}
			}
			if m, _ := filepath.Glob(filepath.Join(dir, "*to-present*")); len(m) != 0 {
				t.Errorf("left behind: %v", m)
			}
		})
	}
}
