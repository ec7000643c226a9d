package soak

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatherer/gatherer/foolscap/banana"
	"github.com/gatherer/gatherer/internal/loadnode"
)

// TestHundredMegabyteIncident: a node over real Foolscap holds three
// incidents, the middle one carrying a 100 MB event. Our gatherer process,
// with the default limits (64 MiB per message, 16 MiB per string), refuses
// it with a clear line in twistd.log, stores the other two, and never holds
// the 100 MB: its peak resident memory stays under 100 MB.
func TestHundredMegabyteIncident(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the 100 MB incident in -short mode")
	}
	ctx := t.Context()
	root := t.TempDir()
	bin := filepath.Join(root, "gatherer")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/gatherer").CombinedOutput(); err != nil {
		t.Fatalf("building the gatherer: %v\n%s", err, out)
	}
	dir := filepath.Join(root, "ig")
	g, err := loadnode.StartGatherer(ctx, loadnode.GathererSpec{Impl: loadnode.ImplGo, Kind: loadnode.KindIncident, Dir: dir, Binary: bin})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = g.Stop(context.Background()) }()

	incs, err := loadnode.MakeIncidents(loadnode.IncidentSpec{Count: 3, Events: 5, Start: time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC), Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	huge := banana.NewDict("message", strings.Repeat("x", 100<<20), "level", int64(20), "num", int64(1), "time", 1795759717.0)
	incs[1].Events = append(banana.List{huge}, incs[1].Events...)
	ids, err := loadnode.NewIdentities(time.Now)
	if err != nil {
		t.Fatal(err)
	}
	id, err := ids.New()
	if err != nil {
		t.Fatal(err)
	}
	node, err := loadnode.New(loadnode.Options{Identity: id, Incidents: incs})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = node.Close(context.Background()) }()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := node.Connect(cctx, g.FURL); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "twistd.log")
	deadline := time.Now().Add(2 * time.Minute)
	for {
		b, _ := os.ReadFile(logPath)
		m, _ := filepath.Glob(filepath.Join(dir, "incidents", "*", "incident-*.flog.bz2"))
		if len(m) == 2 && strings.Contains(string(b), "larger than this gatherer accepts") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 2 minutes %d incidents stored; twistd.log:\n%s", len(m), b)
		}
		time.Sleep(100 * time.Millisecond) // polling another process's files
	}
	u, err := g.Usage()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("gatherer peak RSS %d KiB while refusing a 100 MB incident", u.HWM>>10)
	if u.HWM > 100<<20 {
		t.Errorf("the gatherer's peak RSS reached %d MiB: the refused incident was buffered", u.HWM>>20)
	}
	if _, err := os.Stat(filepath.Join(dir, "incidents", id.TubID(), incs[1].Name+".flog.bz2")); err == nil {
		t.Error("the 100 MB incident was stored")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "incidents", id.TubID(), "latest")); string(b) != incs[0].Name+"\n" {
		t.Errorf("latest = %q, want %q (before the refused incident)", b, incs[0].Name)
	}
}
