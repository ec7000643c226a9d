package flog

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatherer/gatherer/internal/pyfoolscap"
)

// quirks is a flogfile no real node writes but a gatherer may meet:
// number-typed trigger matches, odd versions, failures without "str",
// short and non-ASCII "from", int times, newlines in messages.
const quirks = Magic +
	`{"header": {"type": "incident", "trigger": {"incarnation": ["abc", null], "num": 3}, "versions": {"zz": 1, "\u00e9t\u00e9": "x", "a": null}, "pid": "not-an-int"}}` + "\n" +
	`{"from": "local", "rx_time": 1795759717, "d": {"incarnation": ["abc", null], "num": 3.0, "time": 1795759717, "message": "float num equals the trigger"}}` + "\n" +
	`{"from": "local", "rx_time": 1.5, "d": {"incarnation": ["abc", null], "num": true, "time": 0.999, "message": "bool num"}}` + "\n" +
	`{"from": "x", "rx_time": 1e9, "d": {"incarnation": ["abc", null], "num": 4, "time": 1e9, "message": "two\nlines", "failure": {"no": "str key"}}}` + "\n" +
	`{"from": "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9", "rx_time": -1.25, "d": {"incarnation": "other", "num": 5, "time": -1.25, "format": "%(num)05d|%(x)-4s|%(y).2f|%(z)r", "x": [1], "y": 2.675, "z": "caf\u00e9"}}` + "\n" +
	`{"from": "local", "rx_time": 2.0, "d": {"incarnation": ["abc", null], "num": 6, "time": 2.0005, "failure": {"@": "Failure", "str": "line1\nline2\n", "repr": "r", "traceback": "t"}, "args": [1], "message": "one %s"}}` + "\n" +
	`{"header": {"type": "tail", "versions": {}}, "d": {"incarnation": null, "num": 7, "time": 3.25, "message": "header and event on one line"}, "from": "both", "rx_time": 3.5}` + "\n" +
	`{"neither": true}` + "\n"

func TestDumpQuirksMatchFlogtool(t *testing.T) {
	pyfoolscap.Need(t)
	path := filepath.Join(t.TempDir(), "quirks.flog")
	if err := os.WriteFile(path, []byte(quirks), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, v := range dumpVariants {
		t.Run(v.name, func(t *testing.T) {
			args := []string{"dump"}
			switch {
			case v.opts.Verbose:
				args = append(args, "--verbose")
			case v.opts.JustNumbers:
				args = append(args, "-n")
			}
			if v.opts.RxTime {
				args = append(args, "--rx-time")
			}
			if v.opts.Timestamps != "" {
				args = append(args, "--timestamps="+v.opts.Timestamps)
			}
			cmd := exec.Command("/usr/bin/flogtool", append(args, path)...)
			cmd.Env = append(os.Environ(), "TZ="+v.tz)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			want, err := cmd.Output()
			if err != nil {
				t.Fatalf("flogtool %v: %v\n%s", args, err, stderr.String())
			}
			loc, err := time.LoadLocation(v.tz)
			if err != nil {
				t.Fatal(err)
			}
			opts := v.opts
			opts.Location = loc
			var got bytes.Buffer
			if err := Dump(context.Background(), &got, path, opts); err != nil {
				t.Fatalf("Dump: %v", err)
			}
			if got.String() != string(want) {
				t.Errorf("Dump differs from flogtool %v:\n%s", args, firstDiff(got.String(), string(want)))
			}
		})
	}
}
