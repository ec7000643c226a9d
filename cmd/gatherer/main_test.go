package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatherer/gatherer/gatherer/classify"
	"github.com/gatherer/gatherer/internal/dirlock"
	"github.com/google/go-cmdtest"
)

var fileTimeRE = regexp.MustCompile(`\d{4}-\d{2}-\d{2}--\d{2}-\d{2}-\d{2}Z`)

var update = flag.Bool("update", false, "rewrite the .ct golden files from this program's output")

// fakeServe stands in for the Tub: it reports a FURL built from the
// directory's location and returns, as if the gatherer were stopped at once.
func fakeServe(ctx context.Context, cfg ServeConfig) error {
	cfg.Ready("pb://tubid@" + cfg.Location + "/swissnum")
	return nil
}

func TestCLI(t *testing.T) {
	ts, err := cmdtest.Read("testdata/ct")
	if err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs("testdata/flogfiles")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("FLOGFILES", abs)
	ts.Commands["gatherer"] = func(args []string, inputFile string) ([]byte, error) {
		var out bytes.Buffer
		code := runApp(context.Background(), &app{serve: fakeServe}, args, &out, &out)
		if code != 0 {
			return out.Bytes(), &cmdtest.ExitCodeErr{Msg: fmt.Sprintf("exit status %d", code), Code: code}
		}
		return out.Bytes(), nil
	}
	// Lines with times from twistd.log are compared without their stamp.
	ts.Commands["logtail"] = func(args []string, _ string) ([]byte, error) {
		b, err := os.ReadFile(args[0])
		if err != nil {
			return nil, err
		}
		var sb strings.Builder
		for _, l := range strings.SplitAfter(string(b), "\n") {
			if _, rest, ok := strings.Cut(l, " "); ok {
				sb.WriteString(fileTimeRE.ReplaceAllString(rest, "<T>"))
			}
		}
		return []byte(sb.String()), nil
	}
	ts.Commands["ls"] = func(args []string, _ string) ([]byte, error) {
		es, err := os.ReadDir(args[0])
		if err != nil {
			return nil, err
		}
		var sb strings.Builder
		for _, e := range es {
			name := e.Name()
			if strings.HasPrefix(name, "from-") {
				name = "from-<T>..." + name[strings.Index(name, ".flog"):]
			}
			sb.WriteString(name + "\n")
		}
		return []byte(sb.String()), nil
	}
	ts.Run(t, *update)
}

func TestReadDirConfig(t *testing.T) {
	tests := []struct {
		name, tac string
		want      dirConfig
		wantErr   string
	}{
		{name: "flogtool incident gatherer", tac: "testdata/flogtool-21.7/incident-gatherer.tac",
			want: dirConfig{kind: kindIncident, port: "tcp:3118", location: "tcp:h:3118"}},
		{name: "flogtool log gatherer", tac: "testdata/flogtool-21.7/log-gatherer-rotate20-bzip.tac",
			want: dirConfig{kind: kindLog, rotate: 20 * time.Second, bzip: true, port: "tcp:3118", location: "tcp:h:3118"}},
		{name: "old style literal arguments", tac: "literal:gs = gatherer.GathererService(3600, False)\n",
			want: dirConfig{kind: kindLog, rotate: time.Hour, port: "tcp:3118", location: "tcp:h:3118"}},
		{name: "no rotation", tac: "literal:rotate = None\nuse_bzip = False\ngs = gatherer.GathererService(rotate, use_bzip)\n",
			want: dirConfig{kind: kindLog, port: "tcp:3118", location: "tcp:h:3118"}},
		{name: "bad rotate", tac: "literal:rotate = soon\nuse_bzip = False\ngs = gatherer.GathererService(rotate, use_bzip)\n",
			wantErr: "cannot understand rotate"},
		{name: "something else", tac: "literal:application = service.Application('x')\n", wantErr: "neither"},
		{name: "no tac", wantErr: "not a gatherer directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for n, v := range map[string]string{"port": "tcp:3118\n", "location": "tcp:h:3118\n"} {
				if err := os.WriteFile(filepath.Join(dir, n), []byte(v), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var tac []byte
			switch {
			case strings.HasPrefix(tt.tac, "literal:"):
				tac = []byte(strings.TrimPrefix(tt.tac, "literal:"))
			case tt.tac != "":
				var err error
				if tac, err = os.ReadFile(tt.tac); err != nil {
					t.Fatal(err)
				}
			}
			if tac != nil {
				if err := os.WriteFile(filepath.Join(dir, tacFile), tac, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := readDirConfig(dir)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestCreatedFiles compares the gatherer.tac files we write with
// flogtool 21.7's (whose sys.path entries we leave out) and checks
// classify.rules.
func TestCreatedFiles(t *testing.T) {
	tests := []struct {
		name, reference string
		args            []string
		file            string
	}{
		{name: "incident gatherer", reference: "testdata/flogtool-21.7/incident-gatherer.tac",
			args: []string{"create-incident-gatherer", "-q", "-l", "tcp:h:1"}, file: tacFile},
		{name: "log gatherer", reference: "testdata/flogtool-21.7/log-gatherer-rotate20-bzip.tac",
			args: []string{"create-gatherer", "-q", "-l", "tcp:h:1", "--rotate", "20", "--bzip"}, file: tacFile},
		{name: "rules template", args: []string{"create-incident-gatherer", "-q", "-l", "tcp:h:1"}, file: "classify.rules"},
		{name: "tahoe rules", args: []string{"create-incident-gatherer", "-q", "-l", "tcp:h:1", "--tahoe-rules"}, file: "classify.rules"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "g")
			var out bytes.Buffer
			if code := runApp(t.Context(), &app{serve: fakeServe}, append(tt.args, dir), &out, &out); code != 0 {
				t.Fatalf("exit %d: %s", code, out.String())
			}
			got, err := os.ReadFile(filepath.Join(dir, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			var want string
			switch {
			case tt.reference != "":
				ref, err := os.ReadFile(tt.reference)
				if err != nil {
					t.Fatal(err)
				}
				for _, l := range strings.SplitAfter(string(ref), "\n") {
					if !strings.HasPrefix(l, "  '") {
						want += l
					}
				}
			case slices.Contains(tt.args, "--tahoe-rules"):
				want = string(classify.TahoeRules())
			default:
				want = rulesTemplate
			}
			if string(got) != want {
				t.Errorf("%s differs:\n%s\nwant:\n%s", tt.file, got, want)
			}
			if _, err := classify.Parse(tt.file, bytes.NewReader(got)); tt.file == "classify.rules" && err != nil {
				t.Errorf("written rules do not parse: %v", err)
			}
		})
	}
}

func TestRunRefusesLockedDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ig")
	var out bytes.Buffer
	if code := runApp(t.Context(), &app{serve: fakeServe}, []string{"create-incident-gatherer", "-q", "-l", "tcp:h:1", dir}, &out, &out); code != 0 {
		t.Fatal(out.String())
	}
	l, err := dirlock.Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	for _, cmd := range []string{"run", "reclassify"} {
		out.Reset()
		if code := runApp(t.Context(), &app{serve: fakeServe}, []string{cmd, dir}, &out, &out); code != exitFailure ||
			!strings.Contains(out.String(), "in use by another gatherer process") {
			t.Errorf("%s on a locked directory: exit %d, %q", cmd, code, out.String())
		}
	}
}
