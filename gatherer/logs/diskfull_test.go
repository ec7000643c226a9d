package logs

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gatherer/gatherer/internal/fulldisk"
)

// TestDiskFull: the log gatherer's disk fills up. Events keep arriving;
// none is written half, the file stays a valid flogfile, and when space
// returns the events kept in memory are written in order: nothing is lost
// while the backlog holds. Past the backlog bound the oldest waiting events
// are dropped, and the loss is reported with its count.
func TestDiskFull(t *testing.T) {
	pad := strings.Repeat("x", 500)
	lineLen := len("from=node rx=1.795759722e+09 d=during-00-" + pad + "\n")
	tests := []struct {
		name       string
		maxBacklog int
		wantLost   bool
	}{
		{name: "backlog holds everything", maxBacklog: 1 << 20},
		{name: "backlog overflows", maxBacklog: 10 * lineLen, wantLost: true},
	}
	const during = 60 // events sent while the disk is full (more than a page)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := fulldisk.Mount(t, 256<<10)
			c := &clock{t: time.Unix(1795759722, 0)}
			s, cp := newService(t, dir, c, func(o *Options) { o.MaxBacklog = tt.maxBacklog; o.Now = func() time.Time { return c.t } })
			node := newFakeNode()
			if err := s.Logport(t.Context(), []byte("node"), node); err != nil {
				t.Fatal(err)
			}
			<-node.ready
			node.send(t, "before")
			filler := fulldisk.Fill(t, dir)
			for i := range during {
				node.send(t, fmt.Sprintf("during-%02d-%s", i, pad))
			}
			if err := os.Remove(filler); err != nil {
				t.Fatal(err)
			}
			node.send(t, "after")
			b, err := os.ReadFile(s.CurrentFile())
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
			const prefix = "from=node rx=1.795759722e+09 d="
			if len(lines) < 4 || lines[2] != prefix+"before" || lines[len(lines)-1] != prefix+"after" {
				t.Fatalf("file does not hold before ... after as whole lines:\n%.2000s", b)
			}
			var got []int
			for _, l := range lines[3 : len(lines)-1] {
				var i int
				if _, err := fmt.Sscanf(l, prefix+"during-%02d-", &i); err != nil || l != fmt.Sprintf("%sduring-%02d-%s", prefix, i, pad) {
					t.Fatalf("a torn or foreign line in the file: %.80q", l)
				}
				if len(got) > 0 && i <= got[len(got)-1] {
					t.Fatalf("events out of order: %d after %d", i, got[len(got)-1])
				}
				got = append(got, i)
			}
			lost := during - len(got)
			cp.mu.Lock()
			log := strings.Join(cp.lines, "\n")
			cp.mu.Unlock()
			if !strings.Contains(log, "writing events to the output file failed") {
				t.Errorf("the disk never filled up (no write failed); log:\n%s", log)
			}
			switch {
			case !tt.wantLost && lost != 0:
				t.Errorf("%d events lost with a backlog large enough", lost)
			case !tt.wantLost && !strings.Contains(log, "writing events works again; no event was lost"):
				t.Errorf("no recovery line:\n%s", log)
			case tt.wantLost && (lost == 0 || !strings.Contains(log, fmt.Sprintf("; %d events received since", lost))):
				t.Errorf("%d events lost; the log must count them:\n%s", lost, log)
			}
			if _, err := s.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestDiskFullRetriesWithoutNewEvents: after a failed write, the events kept
// in memory are written once space returns even if the node sends nothing
// more (the retry timer, not the next event, writes them).
func TestDiskFullRetriesWithoutNewEvents(t *testing.T) {
	dir := fulldisk.Mount(t, 256<<10)
	c := &clock{t: time.Unix(1795759722, 0)}
	s, cp := newService(t, dir, c, func(o *Options) { o.RetryEvery = 20 * time.Millisecond; o.Now = func() time.Time { return c.t } })
	node := newFakeNode()
	if err := s.Logport(t.Context(), []byte("node"), node); err != nil {
		t.Fatal(err)
	}
	<-node.ready
	filler := fulldisk.Fill(t, dir)
	pad := strings.Repeat("y", 500)
	for i := range 20 {
		node.send(t, fmt.Sprintf("kept-%02d-%s", i, pad))
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(s.CurrentFile())
		if err != nil {
			t.Fatal(err)
		}
		if strings.Count(string(b), "d=kept-") == 20 {
			break
		}
		if time.Now().After(deadline) {
			cp.mu.Lock()
			t.Fatalf("the kept events were not written within 10 s; log:\n%s", strings.Join(cp.lines, "\n"))
		}
		time.Sleep(10 * time.Millisecond) // the retry timer runs in the Service's goroutine
	}
	cp.mu.Lock()
	log := strings.Join(cp.lines, "\n")
	cp.mu.Unlock()
	if !strings.Contains(log, "writing events to the output file failed") || !strings.Contains(log, "no event was lost") {
		t.Errorf("the disk never filled up, or no recovery was logged:\n%s", log)
	}
	if _, err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
}
