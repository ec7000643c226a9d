package flog

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fixtureDir holds real flogfiles from python-foolscap 21.7.0 and Tahoe
// 1.20.0 and, in dumps/, what flogtool dump printed for each (regen.sh).
const fixtureDir = "../../fixtures/flogfiles"

// dumpVariants mirrors VARIANTS in fixtures/flogfiles/regen.sh.
var dumpVariants = []struct {
	name string
	tz   string
	opts DumpOptions
}{
	{name: "dump", tz: "UTC"},
	{name: "dump-verbose", tz: "UTC", opts: DumpOptions{Verbose: true}},
	{name: "dump-n", tz: "UTC", opts: DumpOptions{JustNumbers: true}},
	{name: "dump-utc-rx", tz: "UTC", opts: DumpOptions{Timestamps: TimeUTC, RxTime: true}},
	{name: "dump-long-local", tz: "UTC", opts: DumpOptions{Timestamps: TimeLongLocal}},
	{name: "dump-epoch-rx", tz: "UTC", opts: DumpOptions{Timestamps: TimeEpoch, RxTime: true}},
	{name: "dump-long-local-kolkata", tz: "Asia/Kolkata", opts: DumpOptions{Timestamps: TimeLongLocal}},
	{name: "dump-short-local-kolkata-rx", tz: "Asia/Kolkata", opts: DumpOptions{RxTime: true}},
}

// fixtureFlogfiles lists the flogfiles under fixtureDir, relative to it.
func fixtureFlogfiles(t testing.TB) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(fixtureDir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "dumps" {
			return filepath.SkipDir
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".flog") || strings.HasSuffix(p, ".flog.bz2")) {
			rel, err := filepath.Rel(fixtureDir, p)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("listing fixtures: %v", err)
	}
	if len(files) < 20 {
		t.Fatalf("found only %d fixture flogfiles under %s", len(files), fixtureDir)
	}
	sort.Strings(files)
	return files
}

func TestDumpMatchesFlogtool(t *testing.T) {
	for _, f := range fixtureFlogfiles(t) {
		for _, v := range dumpVariants {
			t.Run(f+"/"+v.name, func(t *testing.T) {
				golden := filepath.Join(fixtureDir, "dumps", strings.ReplaceAll(f, "/", "_")+"."+v.name+".txt")
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("missing golden dump (run fixtures/flogfiles/regen.sh): %v", err)
				}
				loc, err := time.LoadLocation(v.tz)
				if err != nil {
					t.Fatalf("zone %s: %v", v.tz, err)
				}
				opts := v.opts
				opts.Location = loc
				var out, errOut bytes.Buffer
				opts.Stderr = &errOut
				if err := Dump(context.Background(), &out, filepath.Join(fixtureDir, f), opts); err != nil {
					t.Fatalf("Dump: %v (stderr %q)", err, errOut.String())
				}
				if got := out.String(); got != string(want) {
					t.Errorf("Dump output differs from flogtool's %s:\n%s", golden, firstDiff(got, string(want)))
				}
			})
		}
	}
}

// firstDiff describes the first differing line of two texts.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl || i >= len(g) || i >= len(w) {
			return "line " + strconv.Itoa(i+1) + ":\n got: " + gl + "\nwant: " + wl
		}
	}
	return "(no line differs)"
}
