package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatherer/gatherer/foolscap/banana"
	"github.com/gatherer/gatherer/foolscap/furl"
	"github.com/gatherer/gatherer/gatherer/flog"
	"github.com/gatherer/gatherer/internal/pyfoolscap"
)

// runOurGatherer runs "gatherer run FLAGS... DIR" with the real Tub (any
// kind) and returns its FURL and a function that stops it and returns its
// output.
func runOurGatherer(t *testing.T, dir string, flags ...string) (string, func() string) {
	t.Helper()
	out := &watchWriter{furls: make(chan string, 1)}
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan int, 1)
	go func() {
		done <- runApp(ctx, &app{serve: defaultServe}, append(append([]string{"run"}, flags...), dir), out, out)
	}()
	select {
	case f := <-out.furls:
		return f, func() string {
			stop()
			if code := <-done; code != 0 {
				t.Errorf("our gatherer exited %d: %s", code, out.String())
			}
			return out.String()
		}
	case code := <-done:
		t.Fatalf("our gatherer exited %d: %s", code, out.String())
	case <-time.After(30 * time.Second):
		stop()
		<-done
		t.Fatalf("our gatherer printed no FURL within 30 s: %s", out.String())
	}
	return "", nil
}

// watchWriter keeps a gatherer's output and passes on the FURL of its
// "... waiting at: FURL" line.
type watchWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	furls chan string
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, l := range strings.Split(string(p), "\n") {
		if _, f, ok := strings.Cut(l, "waiting at: "); ok {
			select {
			case w.furls <- f:
			default:
			}
		}
	}
	return w.buf.Write(p)
}

func (w *watchWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// createOn makes a gatherer directory of the given kind on a free loopback
// port.
func createOn(t *testing.T, kind, dir string) {
	t.Helper()
	port := freePort(t)
	args := []string{kind, "--port", fmt.Sprintf("tcp:%d:interface=127.0.0.1", port), "--location", fmt.Sprintf("tcp:127.0.0.1:%d", port), dir}
	if kind != "create-stats-gatherer" {
		args = append([]string{args[0], "-q"}, args[1:]...)
	}
	var out bytes.Buffer
	if code := runApp(t.Context(), &app{}, args, &out, &out); code != 0 {
		t.Fatalf("%s: exit %d: %s", kind, code, out.String())
	}
}

// TestPrivateFiles runs each gatherer kind with the real Tub and checks the
// mode of every secret it creates: the directory 0700 (made by create-*),
// the Tub key and the FURL file 0600.
func TestPrivateFiles(t *testing.T) {
	tests := []struct {
		kind    string
		private []string
	}{
		{"create-incident-gatherer", []string{"gatherer.pem", "log_gatherer.furl"}},
		{"create-gatherer", []string{"gatherer.pem", "log_gatherer.furl"}},
		{"create-stats-gatherer", []string{"stats_gatherer.pem", "stats_gatherer.furl"}},
	}
	swissnums := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			old := setUmask(0o022)
			defer setUmask(old)
			dir := filepath.Join(t.TempDir(), "g")
			createOn(t, tt.kind, dir)
			_, stop := runOurGatherer(t, dir)
			stop()
			want := map[string]os.FileMode{".": 0o700}
			for _, f := range tt.private {
				want[f] = 0o600
			}
			for name, mode := range want {
				fi, err := os.Stat(filepath.Join(dir, name))
				if err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				if got := fi.Mode().Perm(); got != mode {
					t.Errorf("%s has mode %04o, want %04o", name, got, mode)
				}
			}
			// Swissnums: foolscap's 32 base32 characters (20 random
			// bytes), a new one for every gatherer.
			b, err := os.ReadFile(filepath.Join(dir, tt.private[1]))
			if err != nil {
				t.Fatal(err)
			}
			f, err := furl.Parse(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Name) != 32 || strings.Trim(f.Name, "abcdefghijklmnopqrstuvwxyz234567") != "" {
				t.Errorf("swissnum %d characters long or not base32", len(f.Name))
			}
			if swissnums[f.Name] {
				t.Error("two gatherers got the same swissnum")
			}
			swissnums[f.Name] = true
		})
	}
}

// TestRunRefusesWorldWritable: a directory every user may write to is
// refused with a clear message and the Tub never starts; a readable key
// (python-foolscap writes gatherer.pem with the umask) gets a warning.
func TestRunRefusesWorldWritable(t *testing.T) {
	tests := []struct {
		name     string
		dirMode  os.FileMode
		keyMode  os.FileMode
		wantCode int
		wantOut  string
	}{
		{name: "world-writable", dirMode: 0o777, keyMode: 0o600, wantCode: exitFailure, wantOut: "it is writable by every user (mode 0777)"},
		{name: "world-writable and sticky", dirMode: 0o777 | os.ModeSticky, keyMode: 0o600, wantCode: exitFailure, wantOut: "writable by every user"},
		{name: "group-writable is allowed", dirMode: 0o770, keyMode: 0o600, wantCode: exitOK},
		{name: "readable key warns", dirMode: 0o755, keyMode: 0o644, wantCode: exitOK, wantOut: "WARNING: " + "DIR/gatherer.pem holds a secret but other users may access it (mode 0644)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "ig")
			var out bytes.Buffer
			if code := runApp(t.Context(), &app{serve: fakeServe}, []string{"create-incident-gatherer", "-q", "-l", "tcp:h:1", dir}, &out, &out); code != 0 {
				t.Fatal(out.String())
			}
			if err := os.WriteFile(filepath.Join(dir, "gatherer.pem"), []byte("not read by fakeServe"), tt.keyMode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(filepath.Join(dir, "gatherer.pem"), tt.keyMode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, tt.dirMode); err != nil {
				t.Fatal(err)
			}
			out.Reset()
			served := false
			a := &app{serve: func(ctx context.Context, cfg ServeConfig) error { served = true; return fakeServe(ctx, cfg) }}
			code := runApp(t.Context(), a, []string{"run", dir}, &out, &out)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d: %s", code, tt.wantCode, out.String())
			}
			if want := strings.ReplaceAll(tt.wantOut, "DIR", dir); !strings.Contains(out.String(), want) {
				t.Errorf("output %q lacks %q", out.String(), want)
			}
			if served == (tt.wantCode != exitOK) {
				t.Errorf("Tub started = %v", served)
			}
		})
	}
}

func TestRunLimitFlags(t *testing.T) {
	tests := []struct {
		args    []string
		wantOut string
	}{
		{[]string{"--max-incident-size", "1000"}, "--max-incident-size must be at least 1048576 bytes"},
		{[]string{"--max-incident-size", "-1"}, "--max-incident-size must be at least"},
		{[]string{"--max-per-host", "0"}, "--max-per-host must be positive"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out bytes.Buffer
			code := runApp(t.Context(), &app{serve: fakeServe}, append(append([]string{"run"}, tt.args...), t.TempDir()), &out, &out)
			if code != exitUsage || !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("exit %d, %q; want %d and %q", code, out.String(), exitUsage, tt.wantOut)
			}
		})
	}
	if got := limitsFor(2 << 20); got.MaxMessageBytes != 2<<20 || got.MaxStringBytes != 2<<20 {
		t.Errorf("limitsFor(2 MiB) = %+v", got)
	}
	if got := limitsFor(1 << 30); got.MaxStringBytes != banana.DefaultMaxStringBytes {
		t.Errorf("limitsFor(1 GiB) = %+v", got)
	}
}

// writeIncident writes an uncompressed incident file as a python-foolscap
// node keeps it, with one event carrying msgSize bytes.
func writeIncident(t *testing.T, dir, name string, num int64, msgSize int) {
	t.Helper()
	var buf bytes.Buffer
	w, err := flog.NewWriter(&buf, flog.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	trig := banana.NewDict("format", "%(label)s-weird happened", "incarnation", banana.Tuple{"e2f51a603e652575", nil},
		"label", name, "level", int64(30), "num", num, "time", 1795759717.5+float64(num), "umid", "Ab12Cd")
	if err := w.WriteHeader(flog.NewHeader("incident", "trigger", trig, "versions", banana.NewDict("foolscap", "21.7.0"), "pid", int64(4242))); err != nil {
		t.Fatal(err)
	}
	ev := banana.NewDict("message", strings.Repeat("x", msgSize), "level", int64(20), "num", num*10, "time", 1795759717.0)
	if err := w.WriteEvent("node", 1795759717.6, ev); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteEvent("node", 1795759717.6, trig); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".flog"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestIncidentOverSizeLimit: a real python-foolscap node holds three
// incidents, the middle one 3 MB. With --max-incident-size=2MiB it is
// refused with a clear line in twistd.log, the node's other incidents are
// stored, and latest stays before the refused one; after a restart with a
// larger limit it is gathered, and nothing else is fetched twice.
func TestIncidentOverSizeLimit(t *testing.T) {
	pyfoolscap.Need(t)
	root := t.TempDir()
	dir, incdir := filepath.Join(root, "ig"), filepath.Join(root, "node")
	if err := os.Mkdir(incdir, 0o700); err != nil {
		t.Fatal(err)
	}
	names := []string{"incident-2026-11-27--06-00-01Z-aaaaaaa", "incident-2026-11-27--06-00-02Z-bbbbbbb", "incident-2026-11-27--06-00-03Z-ccccccc"}
	for i, n := range names {
		size := 100
		if i == 1 {
			size = 3 << 20
		}
		writeIncident(t, incdir, n, int64(i+1), size)
	}
	createOn(t, "create-incident-gatherer", dir)
	furl, stop := runOurGatherer(t, dir, "--max-incident-size", fmt.Sprint(2<<20))
	node := exec.Command("/usr/bin/python3", "testdata/producer/serve_incidents.py", incdir, furl)
	var nodeOut bytes.Buffer
	node.Stdout, node.Stderr = &nodeOut, &nodeOut
	if err := node.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = node.Process.Kill(); _ = node.Wait() })
	stored := filepath.Join(dir, "incidents", "*", "incident-*.flog.bz2")
	logPath := filepath.Join(dir, "twistd.log")
	readLog := func() string { b, _ := os.ReadFile(logPath); return string(b) }
	eventually(t, "the two small incidents", 30*time.Second, func() bool { return countFiles(stored) == 2 })
	eventually(t, "the refusal in twistd.log", 10*time.Second, func() bool {
		return strings.Contains(readLog(), "stays unfetched until the node reconnects")
	})
	log := readLog()
	if !strings.Contains(log, "larger than this gatherer accepts (raise --max-incident-size to gather it)") ||
		!strings.Contains(log, names[1]) {
		t.Errorf("twistd.log does not explain the refusal:\n%s", log)
	}
	latest, _ := filepath.Glob(filepath.Join(dir, "incidents", "*", "latest"))
	if len(latest) != 1 {
		t.Fatalf("latest files: %v", latest)
	}
	if b, _ := os.ReadFile(latest[0]); string(b) != names[0]+"\n" {
		t.Errorf("latest = %q, want %q (before the refused incident)", b, names[0])
	}
	stop()

	_, stop2 := runOurGatherer(t, dir, "--max-incident-size", fmt.Sprint(8<<20))
	eventually(t, "the large incident after the restart", 30*time.Second, func() bool { return countFiles(stored) == 3 })
	eventually(t, "latest past every incident", 10*time.Second, func() bool {
		b, _ := os.ReadFile(latest[0])
		return string(b) == names[2]+"\n"
	})
	stop2()
	log = readLog()
	for i, n := range names {
		want := 1
		if i == 1 {
			want = 2
		}
		if got := strings.Count(log, "fetching incident "+n); got != want {
			t.Errorf("%s fetched %d times, want %d:\n%s", n, got, want, log)
		}
	}
}

// hostileIncidents is run by /usr/bin/python3 to write incident files a
// python-foolscap node will offer: two ordinary ones around a trigger nested
// 300 deep (over banana's depth limit of 200) and a trigger holding a
// 17 MiB string (over the 16 MiB string limit).
const hostileIncidents = `
import json, sys, os
d = sys.argv[1]
def write(name, trigger):
    with open(os.path.join(d, name + ".flog"), "w") as f:
        f.write("# foolscap flogfile v1\n")
        f.write(json.dumps({"header": {"type": "incident", "trigger": trigger, "versions": {}, "pid": 1}}) + "\n")
        f.write(json.dumps({"from": "node", "rx_time": 1.0, "d": trigger}) + "\n")
def ev(num, **kw):
    e = {"format": "%(label)s-weird happened", "label": "x", "level": 30, "num": num,
         "time": 1795759717.5 + num, "umid": "Ab12Cd", "incarnation": ["e2f51a603e652575", None]}
    e.update(kw)
    return e
deep = []
for _ in range(300):
    deep = [deep]
write("incident-2026-11-27--06-00-01Z-aaaaaaa", ev(1))
write("incident-2026-11-27--06-00-02Z-bbbbbbb", ev(2, deep=deep))
write("incident-2026-11-27--06-00-03Z-ccccccc", ev(3, big="x" * (17 << 20)))
write("incident-2026-11-27--06-00-04Z-ddddddd", ev(4))
`

// TestHostilePythonNode: a real python-foolscap node offers incidents whose
// triggers are over the Banana limits (nested 300 deep, a 17 MiB string).
// Each is refused with a logged error and skipped without being buffered;
// the node keeps its connection and its ordinary incidents are stored.
func TestHostilePythonNode(t *testing.T) {
	pyfoolscap.Need(t)
	root := t.TempDir()
	dir, incdir := filepath.Join(root, "ig"), filepath.Join(root, "node")
	if err := os.Mkdir(incdir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("/usr/bin/python3", "-c", hostileIncidents, incdir).CombinedOutput(); err != nil {
		t.Fatalf("writing the hostile incidents: %v\n%s", err, out)
	}
	createOn(t, "create-incident-gatherer", dir)
	furl, stop := runOurGatherer(t, dir)
	node := exec.Command("/usr/bin/python3", "testdata/producer/serve_incidents.py", incdir, furl)
	var nodeOut bytes.Buffer
	node.Stdout, node.Stderr = &nodeOut, &nodeOut
	if err := node.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = node.Process.Kill(); _ = node.Wait() })
	stored := filepath.Join(dir, "incidents", "*", "incident-*.flog.bz2")
	eventually(t, "the two ordinary incidents", 60*time.Second, func() bool { return countFiles(stored) == 2 })
	stop()
	b, _ := os.ReadFile(filepath.Join(dir, "twistd.log"))
	log := string(b)
	for _, want := range []string{"classified incidents/", "06-00-01Z-aaaaaaa", "06-00-04Z-ddddddd",
		"refused an inbound message over the Banana limits; the connection goes on",
		"sequences nested too deeply", "STRING token too large"} {
		if !strings.Contains(log, want) {
			t.Errorf("twistd.log lacks %q:\n%.3000s", want, log)
		}
	}
	for _, bad := range []string{"06-00-02Z-bbbbbbb", "06-00-03Z-ccccccc"} {
		if m, _ := filepath.Glob(filepath.Join(dir, "incidents", "*", "incident-2026-11-27--"+bad+"*")); len(m) != 0 {
			t.Errorf("a hostile incident was stored: %v", m)
		}
	}
}

func TestMetricsExposed(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:9118", false},
		{"[::1]:9118", false},
		{"localhost:9118", false},
		{":9118", true},
		{"0.0.0.0:9118", true},
		{"192.0.2.7:9118", true},
		{"example.org:9118", true},
		{"no port", false},
	}
	for _, tt := range tests {
		if got := metricsExposed(tt.addr); got != tt.want {
			t.Errorf("metricsExposed(%q) = %v, want %v", tt.addr, got, tt.want)
		}
	}
}
