package flog

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatherer/gatherer/internal/pyfoolscap"
)

const sampleHeader = `{"header": {"type": "gatherer", "start": 1795759812.355345}}` + "\n"
const sampleEvent = `{"from": "67xgfwcpbiuyd6sviaef4ztfpmnld3a4", "rx_time": 1795759817.879293, "d": {"facility": "demo.lg", "incarnation": ["3d1c2488ab282af8", null], "level": 20, "message": "hello", "num": 30, "time": 1795759817.860938}}` + "\n"

// TestDumpErrorsMatchFlogtool runs the real flogtool dump on broken files
// and checks that Dump prints the same stdout, the same error text (for the
// errors flogtool handles) or the same last traceback line (for the ones it
// crashes on), and fails where flogtool exits 1.
func TestDumpErrorsMatchFlogtool(t *testing.T) {
	pyfoolscap.Need(t)
	tests := []struct {
		name    string
		file    string // file name inside the temp dir
		content string // "" with missing=true: no file at all
		missing bool
		crash   bool // flogtool dies with a traceback: compare its last line
	}{
		{name: "furl file", file: "logport.furl", content: "pb://k5rxhgobbbbbbbbbbbbbbbbbbbbbbbbb@tcp:127.0.0.1:1234/swiss\n"},
		{name: "pickle flogfile", file: "old.flog", content: "(dp0\nS'header'\np1\n(dp2\n"},
		{name: "not a flogfile", file: "notes.txt", content: "hello, this is not a flogfile at all\n"},
		{name: "empty file", file: "empty.flog", content: ""},
		{name: "magic only", file: "magic.flog", content: Magic},
		{name: "short magic", file: "short.flog", content: "# foolscap flog"},
		{name: "truncated last line", file: "trunc.flog", content: Magic + sampleHeader + sampleEvent + sampleEvent[:60]},
		{name: "blank line", file: "blank.flog", content: Magic + sampleHeader + "\n" + sampleEvent},
		{name: "garbage line", file: "garbage.flog", content: Magic + sampleEvent + "{\"from\": \"x\" \"d\": 1}\n" + sampleEvent},
		{name: "invalid utf-8", file: "utf8.flog", content: Magic + sampleEvent + "{\"from\": \"\xff\"}\n"},
		{name: "last line without newline", file: "nonl.flog", content: Magic + sampleHeader + strings.TrimSuffix(sampleEvent, "\n")},
		{name: "missing file", file: "nope.flog", missing: true, crash: true},
		{name: "missing key", file: "keyerr.flog", crash: true,
			content: Magic + sampleEvent + `{"from": "x", "rx_time": 1.5, "d": {"format": "%(missing)s here", "incarnation": ["a", null], "num": 1, "time": 2.5}}` + "\n" + sampleEvent},
		{name: "event without time", file: "notime.flog", crash: true,
			content: Magic + `{"from": "x", "rx_time": 1.5, "d": {"incarnation": ["a", null], "num": 1}}` + "\n"},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.file)
			if !tt.missing {
				if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command("/usr/bin/flogtool", "dump", path)
			cmd.Env = append(os.Environ(), "TZ=UTC")
			var pyOut, pyErr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &pyOut, &pyErr
			runErr := cmd.Run()
			pyCode := 0
			var exitErr *exec.ExitError
			if errors.As(runErr, &exitErr) {
				pyCode = exitErr.ExitCode()
			} else if runErr != nil {
				t.Fatalf("running flogtool: %v", runErr)
			}

			var out, errOut bytes.Buffer
			err := Dump(context.Background(), &out, path, DumpOptions{Stderr: &errOut, Location: time.UTC})
			if (err != nil) != (pyCode != 0) {
				t.Fatalf("Dump error = %v, flogtool exit status %d (stderr %q)", err, pyCode, pyErr.String())
			}
			if out.String() != pyOut.String() {
				t.Errorf("stdout differs:\n%s", firstDiff(out.String(), pyOut.String()))
			}
			want := pyErr.String()
			if tt.crash {
				lines := strings.Split(strings.TrimRight(want, "\n"), "\n")
				want = lines[len(lines)-1] + "\n"
			}
			if errOut.String() != want {
				t.Errorf("stderr = %q, flogtool printed %q", errOut.String(), want)
			}
			var de *DumpError
			if err != nil && !errors.As(err, &de) {
				t.Errorf("Dump error %T, want *DumpError", err)
			}
		})
	}
}
