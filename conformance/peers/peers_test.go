package peers

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatherer/gatherer/internal/pyfoolscap"
)

func TestFURLTubID(t *testing.T) {
	tests := []struct {
		name, furl, want string
	}{
		{"tcp hint", "pb://yplskmadhs2fhiqui3nln6uv6fzwhvyd@tcp:127.0.0.1:31190/or44up7g", "yplskmadhs2fhiqui3nln6uv6fzwhvyd"},
		{"legacy hint with newline", "pb://abc@localhost:47239/swiss\n", "abc"},
		{"not a FURL", "http://example/", ""},
		{"no hints", "pb://abc", ""},
		{"empty", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := furlTubID(tc.furl); got != tc.want {
				t.Errorf("furlTubID(%q) = %q, want %q", tc.furl, got, tc.want)
			}
		})
	}
}

func TestSetLogGatherer(t *testing.T) {
	const furl = "pb://abc@tcp:127.0.0.1:3118/swiss"
	tests := []struct {
		name, cfg, want string
		wantErr         bool
	}{
		{
			name: "commented key as tahoe create-node writes it",
			cfg:  "[node]\nnickname = n\n#log_gatherer.furl =\ntub.port = tcp:1\n[client]\n",
			want: "[node]\nnickname = n\nlog_gatherer.furl = " + furl + "\ntub.port = tcp:1\n[client]\n",
		},
		{
			name: "existing key is replaced",
			cfg:  "[node]\nlog_gatherer.furl = pb://old@x:1/y\n",
			want: "[node]\nlog_gatherer.furl = " + furl + "\n",
		},
		{
			name: "no key: added under [node]",
			cfg:  "[client]\nx = 1\n[node]\nnickname = n\n",
			want: "[client]\nx = 1\n[node]\nlog_gatherer.furl = " + furl + "\nnickname = n\n",
		},
		{
			name:    "key in another section only is left alone",
			cfg:     "[client]\n#log_gatherer.furl =\n",
			wantErr: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tahoe.cfg")
			if err := os.WriteFile(path, []byte(tc.cfg), 0o644); err != nil {
				t.Fatal(err)
			}
			err := setLogGatherer(path, furl)
			if tc.wantErr {
				if err == nil {
					t.Fatal("setLogGatherer succeeded, want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(path)
			if string(got) != tc.want {
				t.Errorf("tahoe.cfg =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestCreateArgs(t *testing.T) {
	tests := []struct {
		name    string
		spec    GathererSpec
		want    string
		wantErr bool
	}{
		{"incident", GathererSpec{Kind: KindIncident}, "create-incident-gatherer --port tcp:1 --location tcp:h:1 D", false},
		{"log with options", GathererSpec{Kind: KindLog, CreateArgs: []string{"--bzip", "--rotate", "20"}}, "create-gatherer --port tcp:1 --location tcp:h:1 --bzip --rotate 20 D", false},
		{"stats", GathererSpec{Kind: KindStats}, "create-stats-gatherer --port tcp:1 --location tcp:h:1 D", false},
		{"unknown kind", GathererSpec{Kind: "bogus"}, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := createArgs(tc.spec, "tcp:1", "tcp:h:1", "D")
			if (err != nil) != tc.wantErr {
				t.Fatalf("createArgs error = %v, want error %v", err, tc.wantErr)
			}
			if strings.Join(got, " ") != tc.want {
				t.Errorf("createArgs = %q, want %q", strings.Join(got, " "), tc.want)
			}
		})
	}
}

func TestRunArgs(t *testing.T) {
	tests := []struct {
		name    string
		spec    GathererSpec
		impl    string
		want    string
		wantErr bool
	}{
		{"plain incident gatherer", GathererSpec{Kind: KindIncident}, ImplPython, "", false},
		{"stats, polled every second, with metrics", GathererSpec{Kind: KindStats, PollInterval: time.Second, Metrics: true}, ImplGo, "--poll-interval 1s --metrics A", false},
		{"python has no stats gatherer", GathererSpec{Kind: KindStats}, ImplPython, "", true},
		{"python has no --metrics", GathererSpec{Kind: KindLog, Metrics: true}, ImplPython, "--metrics A", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := strings.Join(runArgs(tc.spec, "A"), " "); got != tc.want {
				t.Errorf("runArgs = %q, want %q", got, tc.want)
			}
			if err := checkGatherer(tc.spec, tc.impl); (err != nil) != tc.wantErr {
				t.Errorf("checkGatherer error = %v, want error %v", err, tc.wantErr)
			}
		})
	}
}

func TestFURLFile(t *testing.T) {
	for kind, want := range map[string]string{KindIncident: "log_gatherer.furl", KindLog: "log_gatherer.furl", KindStats: "stats_gatherer.furl"} {
		if got := (&Gatherer{Kind: kind}).FURLFile(); got != want {
			t.Errorf("FURLFile of a %s gatherer = %q, want %q", kind, got, want)
		}
	}
}

func TestStatsProviderArgs(t *testing.T) {
	tests := []struct {
		name string
		spec StatsProviderSpec
		want string
	}{
		{"defaults: nickname is the name", StatsProviderSpec{Name: "n", Gatherer: "F"}, "P/pystats.py --nodedir D --gatherer F --nickname n"},
		{"every option", StatsProviderSpec{Name: "n", Gatherer: "F", Nickname: "nick", Malformed: "not-a-dict", DisconnectAfter: 2, StrKeys: true},
			"P/pystats.py --nodedir D --gatherer F --nickname nick --malformed not-a-dict --disconnect-after 2 --str-keys"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := strings.Join(tc.spec.args("P", "D"), " "); got != tc.want {
				t.Errorf("args = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestPynodeControl drives the real pynode.py (python-foolscap 21.7) through
// the process driver's control channel, with no gatherer: info, an event, an
// unknown command, and an incident recorded to its log directory.
func TestPynodeControl(t *testing.T) {
	ctx, d := pythonProcessDriver(t)
	n, err := d.StartNode(ctx, NodeSpec{Name: "node", TrailingDelay: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if len(n.TubID) != 32 || furlTubID(n.LogPort) != n.TubID {
		t.Errorf("node announced tubid %q and logport %q", n.TubID, n.LogPort)
	}
	steps := []struct {
		name, line string
		wantErr    bool
		check      func(map[string]any) string
	}{
		{"info", "info", false, func(a map[string]any) string {
			if a["tubid"] != n.TubID || a["foolscap"] != "21.7.0" {
				return "unexpected info"
			}
			return ""
		}},
		{"event", "event hello there", false, nil},
		{"unknown command", "frobnicate", true, nil},
		{"incident", "incident unit-test", false, func(a map[string]any) string {
			name, _ := a["incident"].(string)
			if !strings.HasPrefix(name, "incident-") {
				return "no incident name"
			}
			if _, err := os.Stat(filepath.Join(n.Dir, "logs", "incidents", name+".flog.bz2")); err != nil {
				return err.Error()
			}
			return ""
		}},
	}
	for _, st := range steps {
		ans, err := n.Command(ctx, st.line)
		if (err != nil) != st.wantErr {
			t.Fatalf("%s: error %v, want error %v; output:\n%s", st.name, err, st.wantErr, n.Output())
		}
		if st.check != nil {
			if msg := st.check(ans); msg != "" {
				t.Errorf("%s: %s (answer %v)", st.name, msg, ans)
			}
		}
	}
}

func TestDeadRun(t *testing.T) {
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		labels map[string]string
		want   bool
	}{
		{"this process is alive", map[string]string{labelPID: strconv.Itoa(os.Getpid())}, false},
		{"an exited process", map[string]string{labelPID: strconv.Itoa(gone.ProcessState.Pid())}, true},
		{"no pid label (older suite)", map[string]string{}, true},
		{"garbage pid", map[string]string{labelPID: "x"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := deadRun(tc.labels); got != tc.want {
				t.Errorf("deadRun(%v) = %v, want %v", tc.labels, got, tc.want)
			}
		})
	}
}

// TestPystatsProvides runs pystats.py against a minimal python-foolscap
// stats gatherer: provide() arrives with the nickname and a provider whose
// get_stats() answers in Tahoe's shape, and each malformed mode answers
// what it promises.
func TestPystatsProvides(t *testing.T) {
	pyfoolscap.Need(t)
	tests := []struct {
		name  string
		args  []string
		check func(map[string]any) string
	}{
		{"tahoe shape", nil, func(m map[string]any) string {
			stats, _ := m["stats"].(map[string]any)
			counters, _ := stats["counters"].(map[string]any)
			values, _ := stats["stats"].(map[string]any)
			if m["nickname"] != "conformance" || counters["uploader.files_uploaded"] != 3.0 || values["storage_server.disk_avail"] == nil {
				return "not Tahoe's get_stats shape"
			}
			return ""
		}},
		{"malformed: not a dict", []string{"--malformed", "not-a-dict"}, func(m map[string]any) string {
			if _, ok := m["stats"].([]any); !ok {
				return "want a list answer"
			}
			return ""
		}},
		{"malformed: error", []string{"--malformed", "error"}, func(m map[string]any) string {
			if msg, _ := m["error"].(string); !strings.Contains(msg, "on purpose") {
				return "want the provider's error"
			}
			return ""
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			g := exec.CommandContext(ctx, Python(), "testdata/stats_gatherer_stub.py")
			gin, err := g.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			gout := &lockedBuffer{}
			g.Stdout, g.Stderr = gout, gout
			if err := g.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { gin.Close(); _ = g.Wait() }()
			var furl string
			if err := WaitFor(ctx, "the stub gatherer's FURL", func(context.Context) (bool, error) {
				furl, _, _ = strings.Cut(gout.String(), "\n")
				return strings.HasPrefix(furl, "pb://") && strings.Contains(gout.String(), "\n"), nil
			}); err != nil {
				t.Fatal(err)
			}
			args := append([]string{"pystats.py", "--nodedir", t.TempDir(), "--gatherer", furl, "--nickname", "conformance"}, tc.args...)
			p := exec.CommandContext(ctx, Python(), args...)
			pin, err := p.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			pout := &lockedBuffer{}
			p.Stdout, p.Stderr = pout, pout
			if err := p.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { pin.Close(); _ = p.Wait() }()
			var answer map[string]any
			if err := WaitFor(ctx, "the stub gatherer's get_stats answer", func(context.Context) (bool, error) {
				lines := strings.Split(strings.TrimSpace(gout.String()), "\n")
				if len(lines) < 2 {
					return false, nil
				}
				return json.Unmarshal([]byte(lines[1]), &answer) == nil, nil
			}); err != nil {
				t.Fatalf("%v\ngatherer:\n%s\npystats:\n%s", err, gout, pout)
			}
			if msg := tc.check(answer); msg != "" {
				t.Errorf("%s: %v", msg, answer)
			}
		})
	}
}

// TestProcessFaults inflicts the faults of Faults on a real pynode.py in
// process mode: paused it answers nothing, resumed it answers again, killed
// and run again it keeps its tubid and its incidents, and it cannot be taken
// off a network.
func TestProcessFaults(t *testing.T) {
	ctx, d := pythonProcessDriver(t)
	f := d.(Faults)
	n, err := d.StartNode(ctx, NodeSpec{Name: "node", TrailingDelay: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	ans, err := n.Command(ctx, "incident before-the-kill")
	if err != nil {
		t.Fatal(err)
	}
	incident, _ := ans["incident"].(string)

	if err := f.Pause(ctx, n); err != nil {
		t.Fatal(err)
	}
	short, cancelShort := context.WithTimeout(ctx, 500*time.Millisecond)
	_, err = n.Command(short, "info")
	cancelShort()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a paused node answered info (err %v)", err)
	}
	if err := f.Unpause(ctx, n); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Command(ctx, "info"); err != nil { // the answer to the first info
		t.Fatalf("the resumed node does not answer: %v", err)
	}

	if err := f.Kill(ctx, n); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Command(ctx, "info"); err == nil {
		t.Error("a killed node answered info")
	}
	if err := f.RunNode(ctx, n); err != nil {
		t.Fatal(err)
	}
	ans, err = n.Command(ctx, "info")
	if err != nil || ans["tubid"] != n.TubID {
		t.Errorf("the node run again answers info with %v, %v; want tubid %s", ans, err, n.TubID)
	}
	if _, err := os.Stat(filepath.Join(n.IncidentDir(), incident+".flog.bz2")); err != nil {
		t.Errorf("the node run again lost its incident: %v", err)
	}
	if err := f.Disconnect(ctx, n); !errors.Is(err, ErrNoNetwork) {
		t.Errorf("Disconnect in process mode: %v, want ErrNoNetwork", err)
	}
}

// pythonProcessDriver is a process driver for python peers with a minute's
// context, both ended with the test; it skips without python-foolscap.
func pythonProcessDriver(t *testing.T) (context.Context, Driver) {
	t.Helper()
	pyfoolscap.Need(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewProcessDriver(Options{Impl: ImplPython, Repo: repo, Dir: t.TempDir(), RunID: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return ctx, d
}
