package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatherer/gatherer/internal/pyfoolscap"
)

// TestCreateMatchesFlogtool runs flogtool's create commands and ours with
// the same arguments and compares printed lines and files.
func TestCreateMatchesFlogtool(t *testing.T) {
	pyfoolscap.Need(t)
	tests := []struct {
		name string
		args []string
	}{
		{"incident gatherer", []string{"create-incident-gatherer", "--location", "tcp:example.org:3118"}},
		{"incident gatherer with port", []string{"create-incident-gatherer", "-l", "tcp:h:1", "-p", "tcp:31181:interface=127.0.0.1"}},
		{"log gatherer", []string{"create-gatherer", "--location", "tcp:example.org:3117"}},
		{"log gatherer rotating", []string{"create-gatherer", "-l", "tcp:h:1", "-r", "20", "-b"}},
		{"quiet", []string{"create-gatherer", "-q", "-l", "tcp:h:1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			py := exec.Command("/usr/bin/flogtool", append(tt.args, "py")...)
			py.Dir = root
			pyOut, err := py.CombinedOutput()
			if err != nil {
				t.Fatalf("flogtool: %v\n%s", err, pyOut)
			}
			var goOut bytes.Buffer
			if code := runApp(t.Context(), &app{serve: fakeServe}, append(tt.args, filepath.Join(root, "go")), &goOut, &goOut); code != 0 {
				t.Fatalf("exit %d: %s", code, goOut.String())
			}
			wantLines := strings.ReplaceAll(string(pyOut), "py", filepath.Join(root, "go"))
			if !strings.HasPrefix(goOut.String(), wantLines) {
				t.Errorf("printed:\n%s\nflogtool printed:\n%s", goOut.String(), wantLines)
			}
			for _, f := range []string{"port", "location", tacFile} {
				want, err := os.ReadFile(filepath.Join(root, "py", f))
				if err != nil {
					t.Fatal(err)
				}
				got, err := os.ReadFile(filepath.Join(root, "go", f))
				if err != nil {
					t.Fatal(err)
				}
				if f == tacFile {
					var keep []string
					for _, l := range strings.SplitAfter(string(want), "\n") {
						if !strings.HasPrefix(l, "  '") {
							keep = append(keep, l)
						}
					}
					want = []byte(strings.Join(keep, ""))
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s:\n%s\nflogtool wrote:\n%s", f, got, want)
				}
			}
		})
	}
}

// TestDirectoryRunsUnderTwistd starts python-foolscap's gatherer with
// twistd on a directory we created, to show the directory stays usable
// with the Python implementation, and then ours on the directory Python
// has used, which must keep its FURL.
func TestDirectoryRunsUnderTwistd(t *testing.T) {
	pyfoolscap.Need(t)
	if _, err := exec.LookPath("twistd3"); err != nil {
		t.Skip("skipping: twistd3 not installed (python3-twisted)")
	}
	for _, kind := range []string{"create-incident-gatherer", "create-gatherer"} {
		t.Run(kind, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "g")
			var out bytes.Buffer
			if code := runApp(t.Context(), &app{serve: fakeServe}, []string{kind, "-q", "-l", "tcp:127.0.0.1:1", dir}, &out, &out); code != 0 {
				t.Fatalf("exit %d: %s", code, out.String())
			}
			// Any free port: twistd may run while other tests do.
			if err := os.WriteFile(filepath.Join(dir, "port"), []byte("tcp:0:interface=127.0.0.1\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			var pyFURL string
			cmd := exec.Command("twistd3", "-n", "--pidfile=", "-l", "twistd.log", "-y", tacFile)
			cmd.Dir = dir
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
			}()
			lines := make(chan string, 1)
			go func() {
				sc := bufio.NewScanner(stdout)
				for sc.Scan() {
					if strings.HasPrefix(sc.Text(), "Gatherer waiting at: pb://") {
						lines <- sc.Text()
						return
					}
				}
				close(lines)
			}()
			select {
			case l, ok := <-lines:
				if !ok {
					log, _ := os.ReadFile(filepath.Join(dir, "twistd.log"))
					t.Fatalf("twistd did not start the gatherer; twistd.log:\n%s", log)
				}
				pyFURL = strings.TrimPrefix(l, "Gatherer waiting at: ")
			case <-time.After(30 * time.Second):
				t.Fatal("twistd did not print the gatherer's FURL within 30s")
			}
			_ = cmd.Process.Kill()
			_ = cmd.Wait()

			// The same directory under our gatherer: same identity
			// (gatherer.pem), same swissnum (log_gatherer.furl), so the
			// same FURL.
			goFURL, stop := startOurGatherer(t, dir)
			stop()
			if goFURL != pyFURL {
				t.Errorf("our gatherer serves %s, the Python one served %s", goFURL, pyFURL)
			}
		})
	}
}

// TestDumpMatchesFlogtool compares "gatherer dump" with "flogtool dump".
func TestDumpMatchesFlogtool(t *testing.T) {
	pyfoolscap.Need(t)
	file := "testdata/flogfiles/incident-2026-11-27--06-08-37Z-dfeow4y.flog.bz2"
	for _, args := range [][]string{{"--timestamps=utc"}, {"-v", "-t", "epoch"}, {"-n"}, {"--rx-time", "-t", "utc"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			want, err := exec.Command("/usr/bin/flogtool", append(append([]string{"dump"}, args...), file)...).CombinedOutput()
			if err != nil {
				t.Fatalf("flogtool: %v\n%s", err, want)
			}
			var got bytes.Buffer
			if code := runApp(t.Context(), &app{}, append(append([]string{"dump"}, args...), file), &got, &got); code != 0 {
				t.Fatalf("exit %d: %s", code, got.String())
			}
			if got.String() != string(want) {
				t.Errorf("gatherer dump:\n%s\nflogtool dump:\n%s", got.String(), want)
			}
		})
	}
}
