package main

import (
	"bytes"
	"compress/bzip2"
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatherer/gatherer/gatherer/check/checktest"
	"github.com/google/go-cmdtest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// wrongTubID is a well-formed tubid no test server has.
const wrongTubID = "aaaabbbbccccddddeeeeffffgggghhhh"

var update = flag.Bool("update", false, "rewrite the .ct golden files from this program's output")

// fixups make the output stable: the names of the servers started for the
// test replace their tubids, ports and directories, then generic patterns
// replace what stays random (the probe's tubid, times, incident names).
type fixups struct {
	named   *strings.Replacer
	mu      sync.Mutex
	lastTub string // the throwaway tubid of the last --publish-test-incident
}

var (
	publishTubRE = regexp.MustCompile(`(?m)^test node ([a-z2-7]{32})$|"tubid": "([a-z2-7]{32})",\n\s+"incident"`)
	genericRE    = []struct {
		re   *regexp.Regexp
		repl string
	}{
		{regexp.MustCompile(`\b[a-z2-7]{32}\b`), "<tubid>"},
		{regexp.MustCompile(`incident-\d{4}-\d\d-\d\d--\d\d-\d\d-\d\dZ-[a-z2-7]{7}`), "incident-<T>-<rand>"},
		{regexp.MustCompile(`\d{4}-\d\d-\d\d--\d\d-\d\d-\d\dZ`), "<T>"},
		{regexp.MustCompile(`\[\d+\.\dms\]`), "[<ms>]"},
		{regexp.MustCompile(`, \d+\.\dms\)`), ", <ms>)"},
		{regexp.MustCompile(`"(ms|total_ms)": \d+\.\d+`), `"$1": <ms>`},
		{regexp.MustCompile(`(127\.0\.0\.1|localhost):\d+`), "$1:<port>"},
		{regexp.MustCompile(`\[::1\]:\d+`), "[::1]:<port>"},
	}
)

func (f *fixups) apply(out []byte) []byte {
	s := string(out)
	if m := publishTubRE.FindStringSubmatch(s); m != nil {
		f.mu.Lock()
		f.lastTub = m[1] + m[2]
		f.mu.Unlock()
	}
	s = f.named.Replace(s)
	for _, g := range genericRE {
		s = g.re.ReplaceAllString(s, g.repl)
	}
	return []byte(s)
}

func (f *fixups) publishedTubID() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastTub
}

// env exports name=value for the .ct files and records fixups that print
// the value back as ${name}.
type env struct {
	t     *testing.T
	pairs []string
}

func (e *env) set(name, value string, fixup bool) {
	e.t.Setenv(name, value)
	if fixup {
		e.pairs = append(e.pairs, value, "${"+name+"}")
	}
}

func (e *env) gatherer(prefix string, g *checktest.Gatherer) {
	e.set(prefix+"_DIR", g.Dir, true)
	e.set(prefix+"_FURL", g.FURL, false)
	e.set(prefix+"_TUBID", g.TubID, true)
	e.port(prefix+"_PORT", g.Port)
}

// port exports a port and prints it back as ${name} after 127.0.0.1: or
// localhost:.
func (e *env) port(name string, port int) {
	e.t.Setenv(name, strconv.Itoa(port))
	for _, host := range []string{"127.0.0.1:", "localhost:"} {
		e.pairs = append(e.pairs, fmt.Sprintf("%s%d", host, port), host+"${"+name+"}")
	}
}

func (e *env) replacer() *strings.Replacer {
	// Longest first, so a directory wins over its parent.
	type pair struct{ from, to string }
	var ps []pair
	for i := 0; i < len(e.pairs); i += 2 {
		ps = append(ps, pair{e.pairs[i], e.pairs[i+1]})
	}
	sort.SliceStable(ps, func(i, j int) bool { return len(ps[i].from) > len(ps[j].from) })
	var flat []string
	for _, p := range ps {
		flat = append(flat, p.from, p.to)
	}
	return strings.NewReplacer(flat...)
}

func runSuite(t *testing.T, dir string, e *env) {
	ts, err := cmdtest.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	fx := &fixups{named: e.replacer()}
	ts.Commands["gatherer-check"] = func(args []string, _ string) ([]byte, error) {
		var out bytes.Buffer
		code := run(context.Background(), args, nil, &out, &out)
		b := fx.apply(out.Bytes())
		if code != 0 {
			return b, &cmdtest.ExitCodeErr{Msg: fmt.Sprintf("exit status %d", code), Code: code}
		}
		return b, nil
	}
	// stored-incident DIR: the incident the last probe published is on disk.
	ts.Commands["stored-incident"] = func(args []string, _ string) ([]byte, error) {
		return storedIncident(args, fx)
	}
	// stored-event DIR: the event the last probe published is in a log file.
	ts.Commands["stored-event"] = func(args []string, _ string) ([]byte, error) {
		if len(args) != 1 {
			return nil, fmt.Errorf("usage: stored-event DIR")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		rel, err := checktest.WaitForLogEvent(ctx, args[0], fx.publishedTubID())
		if err != nil {
			return nil, err
		}
		return fx.apply([]byte(fmt.Sprintf("event from the test node in %s\n", rel))), nil
	}
	ts.Run(t, *update)
}

func storedIncident(args []string, fx *fixups) ([]byte, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("usage: stored-incident DIR")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	tubID := fx.publishedTubID()
	if tubID == "" {
		return nil, fmt.Errorf("no --publish-test-incident ran before")
	}
	rel, err := checktest.WaitForIncident(ctx, args[0], tubID)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(args[0], rel))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(bzip2.NewReader(f), 1<<20))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", rel, err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s\n", rel)
	fmt.Fprintf(&sb, "%d lines; header incident: %t; trigger from gatherer-check: %t\n", len(lines),
		len(lines) > 1 && strings.Contains(lines[1], `"type": "incident"`),
		len(lines) > 1 && strings.Contains(lines[1], `"facility": "gatherer-check"`))
	return fx.apply([]byte(sb.String())), nil
}

// TestCLIGo runs testdata/go/*.ct against our gatherers and broken servers.
func TestCLIGo(t *testing.T) {
	e := &env{t: t}
	base := t.TempDir()
	mk := func(name string) string {
		d := filepath.Join(base, name)
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	inc := checktest.GoIncidentGatherer(t, mk("go-incident"))
	lg := checktest.GoLogGatherer(t, mk("go-log"))
	st := checktest.GoStatsGatherer(t, mk("go-stats"))
	e.gatherer("GO_INCIDENT", inc)
	e.gatherer("GO_LOG", lg)
	e.gatherer("GO_STATS", st)
	commonServers(t, e, inc)
	e.set("EMPTY_DIR", mk("empty"), true)
	e.set("GO_INCIDENT_FURLFILE", filepath.Join(inc.Dir, "log_gatherer.furl"), false)
	e.set("GO_LOCALHOST_FURL", checktest.WithHints(inc.FURL, fmt.Sprintf("tcp:localhost:%d", inc.Port)), false)
	e.set("GO_TWO_HINTS_FURL", checktest.WithHints(inc.FURL,
		fmt.Sprintf("tcp:127.0.0.1:%s", os.Getenv("DEAD_PORT")), fmt.Sprintf("tcp:127.0.0.1:%d", inc.Port)), false)
	e.set("GO_WRONG_SWISSNUM_FURL", checktest.WithName(inc.FURL, "ntbsw3unmvumbg7hu4ubblnxinjlhnez"), false)
	e.set("WRONG_TUBID", wrongTubID, true)
	e.set("GO_WRONG_TUBID_FURL", checktest.WithTubID(inc.FURL, wrongTubID), false)
	runSuite(t, "testdata/go", e)
}

// TestCLIPython runs testdata/python/*.ct against python-foolscap's
// reference incident and log gatherers (flogtool + twistd3).
func TestCLIPython(t *testing.T) {
	checktest.RequirePython(t)
	e := &env{t: t}
	base := t.TempDir()
	var inc, lg *checktest.Gatherer
	var wg sync.WaitGroup
	// Both take a second or two to start: start them together.
	wg.Go(func() { inc = checktest.PythonGatherer(t, "incident", filepath.Join(base, "py-incident")) })
	wg.Go(func() { lg = checktest.PythonGatherer(t, "log", filepath.Join(base, "py-log")) })
	wg.Wait()
	if inc == nil || lg == nil {
		t.FailNow()
	}
	e.gatherer("PY_INCIDENT", inc)
	e.gatherer("PY_LOG", lg)
	e.set("PY_WRONG_SWISSNUM_FURL", checktest.WithName(inc.FURL, "ntbsw3unmvumbg7hu4ubblnxinjlhnez"), false)
	e.set("WRONG_TUBID", wrongTubID, true)
	e.set("PY_WRONG_TUBID_FURL", checktest.WithTubID(inc.FURL, wrongTubID), false)
	e.set("PY_LOCALHOST_FURL", checktest.WithHints(inc.FURL, fmt.Sprintf("tcp:localhost:%d", inc.Port)), false)
	runSuite(t, "testdata/python", e)
}

// TestCLIProcess runs testdata/process/*.ct against our gatherer command
// itself (cmd/gatherer built, then "gatherer create-*-gatherer" and
// "gatherer run" as separate processes), as an operator runs it.
func TestCLIProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: builds and runs cmd/gatherer (-short)")
	}
	e := &env{t: t}
	base := t.TempDir()
	bin := checktest.BuildGatherer(t, base)
	var inc, lg *checktest.Gatherer
	var wg sync.WaitGroup
	wg.Go(func() { inc = checktest.ProcessGatherer(t, bin, "incident", filepath.Join(base, "bin-incident")) })
	wg.Go(func() { lg = checktest.ProcessGatherer(t, bin, "log", filepath.Join(base, "bin-log")) })
	wg.Wait()
	if inc == nil || lg == nil {
		t.FailNow()
	}
	e.gatherer("BIN_INCIDENT", inc)
	e.gatherer("BIN_LOG", lg)
	e.set("BIN_WRONG_SWISSNUM_FURL", checktest.WithName(inc.FURL, "ntbsw3unmvumbg7hu4ubblnxinjlhnez"), false)
	runSuite(t, "testdata/process", e)
}

// commonServers starts the servers that are not gatherers.
func commonServers(t *testing.T, e *env, g *checktest.Gatherer) {
	dead := checktest.FreePort(t)
	e.port("DEAD_PORT", dead)
	e.set("DEAD_FURL", checktest.WithHints(g.FURL, fmt.Sprintf("tcp:127.0.0.1:%d", dead)), false)
	e.set("HTTP_FURL", checktest.WithHints(g.FURL, fmt.Sprintf("tcp:127.0.0.1:%d", checktest.HTTPServer(t))), false)
	e.set("TLS_FURL", checktest.WithHints(g.FURL, fmt.Sprintf("tcp:127.0.0.1:%d", checktest.TLSServer(t))), false)
	e.set("SILENT_FURL", checktest.WithHints(g.FURL, fmt.Sprintf("tcp:127.0.0.1:%d", checktest.SilentServer(t))), false)
	port, certTubID := checktest.WrongCertServer(t)
	e.set("WRONG_CERT_FURL", checktest.WithHints(g.FURL, fmt.Sprintf("tcp:127.0.0.1:%d", port)), false)
	e.set("WRONG_CERT_TUBID", certTubID, true)
	e.set("NOT_TLS_FURL", checktest.WithHints(g.FURL, fmt.Sprintf("tcp:127.0.0.1:%d", checktest.GarbageAfter101Server(t))), false)
	hangPort, hangTubID := checktest.FakeTub(t, func(c *tls.Conn) { c.Close() })
	e.set("HANG_UP_TUBID", hangTubID, true)
	e.set("HANG_UP_FURL", fmt.Sprintf("pb://%s@tcp:127.0.0.1:%d/%s", hangTubID, hangPort, "ntbsw3unmvumbg7hu4ubblnxinjlhnez"), false)
	e.set("NO_SUCH_HOST_FURL", checktest.WithHints(g.FURL, "tcp:no-such-host.invalid:3117"), false)
}
