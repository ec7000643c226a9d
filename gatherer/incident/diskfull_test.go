package incident

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gatherer/gatherer/internal/fulldisk"
)

// TestDiskFullRealFileSystem: the incident gatherer's disk is full (a real
// tmpfs, filled up) when a node offers two incidents. Each save fails with
// a clear error and is retried with backoff; no partial file shows, latest
// is not written past a missing incident; once space returns both are
// stored, once each.
func TestDiskFullRealFileSystem(t *testing.T) {
	h := &harness{dir: fulldisk.Mount(t, 256<<10), flog: newFakeFlog(), rec: newRecorder()}
	s := h.start(t, func(o *Options) { o.RetryMin, o.RetryMax = 20*time.Millisecond, 50*time.Millisecond })
	if err := os.MkdirAll(filepath.Join(h.dir, IncidentsDir, tubA), 0o755); err != nil {
		t.Fatal(err)
	}
	filler := fulldisk.Fill(t, h.dir)
	node := newFakeNode(tubA)
	node.add(inc1, trigger("a", 1))
	node.add(inc2, trigger("a", 2))
	if err := s.Logport(t.Context(), tubA, node); err != nil {
		t.Fatal(err)
	}
	h.rec.waitFor(t, "no space left on device", 2)
	h.rec.waitFor(t, "will try the incident again later", 3)
	// A retry may be writing its temporary file right now (the backoff
	// is 20-50 ms): only the hidden ".*.tmp" names of atomicfile may show
	// beside the filler, never an incident file or latest.
	want := []string{"filler"}
	if got := withoutTemps(h.listing(t)); !reflect.DeepEqual(got, want) {
		t.Errorf("files on the full disk = %q, want only %q", got, want)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	h.rec.waitFor(t, "classified incidents/"+tubA+"/"+inc1, 1)
	h.rec.waitFor(t, "classified incidents/"+tubA+"/"+inc2, 1)
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	node.wg.Wait()
	if got := h.read(t, "incidents/"+tubA+"/latest"); got != inc2+"\n" {
		t.Errorf("latest = %q", got)
	}
	for _, n := range []string{inc1, inc2} {
		if c := len(filterLines(h.rec.snapshot(), "classified incidents/"+tubA+"/"+n)); c != 1 {
			t.Errorf("%s classified %d times", n, c)
		}
	}
}

// withoutTemps drops atomicfile's hidden temporary files from a listing.
func withoutTemps(names []string) []string {
	var out []string
	for _, n := range names {
		base := filepath.Base(n)
		if strings.HasPrefix(base, ".") && strings.HasSuffix(base, ".tmp") {
			continue
		}
		out = append(out, n)
	}
	return out
}

func filterLines(lines []string, prefix string) []string {
	var out []string
	for _, l := range lines {
		if len(l) >= len(prefix) && l[:len(prefix)] == prefix {
			out = append(out, l)
		}
	}
	return out
}
