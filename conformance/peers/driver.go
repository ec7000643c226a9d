package peers

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Modes a Driver runs peers in.
const (
	ModeProcess   = "process"   // local processes on 127.0.0.1; Tahoe in a chroot
	ModeContainer = "container" // one container per peer on a private Docker network
)

// Gatherer implementations a scenario can run against.
const (
	ImplPython = "python" // python-foolscap's flogtool + twistd3 (the reference)
	ImplGo     = "go"     // our bin/gatherer
)

// Foolscap releases a python-foolscap peer can run with.
const (
	Foolscap217 = "21.7" // Debian bookworm: the host's /usr/bin/python3, or the bookworm image
	Foolscap249 = "24.9" // Debian trixie: the trixie chroot or image (Tahoe's foolscap)
)

// Gatherer kinds, named as flogtool names its creation commands.
const (
	KindIncident = "incident" // create-incident-gatherer
	KindLog      = "log"      // create-gatherer
	// KindStats is the Tahoe stats gatherer (our create-stats-gatherer, as
	// "tahoe create-stats-gatherer" of Tahoe 1.12 to 1.15.1). python-foolscap
	// has none, so only ImplGo has this kind.
	KindStats = "stats"
)

// Driver starts the peers of one scenario. A Driver belongs to one scenario and
// is not safe for concurrent use; Close stops every peer it started.
type Driver interface {
	Mode() string
	// StartGatherer creates a gatherer directory with the implementation's
	// create command, runs it, and returns once its FURL answers a real
	// Foolscap connection.
	StartGatherer(ctx context.Context, spec GathererSpec) (*Gatherer, error)
	// RunGatherer runs a stopped gatherer (Gatherer.Stop) again from its
	// directory, and returns once its FURL answers again.
	RunGatherer(ctx context.Context, g *Gatherer) error
	// StartNode runs pynode.py; it returns once the node has its location
	// (so it has started connecting to its gatherers).
	StartNode(ctx context.Context, spec NodeSpec) (*Node, error)
	// StartTahoe creates and runs a real Tahoe-LAFS node; it returns once its
	// web port answers and its logport FURL is written.
	StartTahoe(ctx context.Context, spec TahoeSpec) (*Tahoe, error)
	// RestartTahoe stops the node (SIGTERM) and runs it again; it returns
	// once the node has written a new logport FURL (its log Tub, and so its
	// tubid, is new at every start).
	RestartTahoe(ctx context.Context, t *Tahoe) error
	// StartStatsProvider runs pystats.py, a node that provides its stats to
	// a stats gatherer as Tahoe <= 1.15 did; it returns once the provider
	// has its tubid (so it has started connecting to the gatherer).
	StartStatsProvider(ctx context.Context, spec StatsProviderSpec) (*StatsProvider, error)
	// Close stops every peer and removes what the driver created outside
	// the scenario directory (containers, networks, chroot directories).
	Close(ctx context.Context) error
}

// Options configure a Driver.
type Options struct {
	// Impl is the gatherer implementation (ImplPython or ImplGo).
	Impl string
	// Repo is the repository root: conformance/peers holds the Python peers,
	// bin/gatherer our binary, build/rootfs the peer root filesystems.
	Repo string
	// Dir is the scenario's working directory on the host (peer directories
	// live below it; the driver creates it if missing).
	Dir string
	// RunID labels Docker objects so that they can be cleaned up.
	RunID string
	// Logf, if set, receives progress lines (nil: silent).
	Logf func(format string, args ...any)
}

func (o Options) logf(format string, args ...any) {
	if o.Logf != nil {
		o.Logf(format, args...)
	}
}

// impl is the implementation a gatherer spec asks for.
func (o Options) impl(spec GathererSpec) (string, error) {
	switch spec.Impl {
	case "":
		return o.Impl, nil
	case ImplPython, ImplGo:
		return spec.Impl, nil
	}
	return "", fmt.Errorf("unknown gatherer implementation %q", spec.Impl)
}

func (o Options) check() error {
	if o.Impl != ImplPython && o.Impl != ImplGo {
		return fmt.Errorf("unknown gatherer implementation %q (want %q or %q)", o.Impl, ImplPython, ImplGo)
	}
	if o.Repo == "" || o.Dir == "" {
		return fmt.Errorf("driver options need both Repo and Dir")
	}
	return os.MkdirAll(o.Dir, 0o755)
}

// GathererSpec describes a gatherer to create.
type GathererSpec struct {
	Name string // peer name, unique in the scenario (directory and host name)
	Kind string // KindIncident or KindLog
	// Impl overrides the driver's implementation (for scenarios that run
	// ours and the reference side by side); "" means Options.Impl.
	Impl string
	// Extra arguments for the create command (e.g. "--bzip", "--rotate", "20").
	CreateArgs []string
	// HostName makes the gatherer's location a host name rather than an IP
	// address (the NAT case). Container mode always uses host names.
	HostName bool
	// PollInterval, if set, is the stats gatherer's --poll-interval.
	PollInterval time.Duration
	// Metrics runs the gatherer with --metrics (ours only); its address is
	// then Gatherer.MetricsURL.
	Metrics bool
}

// runArgs are the options of "gatherer run" a spec asks for; metricsAddr is
// where --metrics listens (used only if spec.Metrics).
func runArgs(spec GathererSpec, metricsAddr string) []string {
	var args []string
	if spec.PollInterval > 0 {
		args = append(args, "--poll-interval", spec.PollInterval.String())
	}
	if spec.Metrics {
		args = append(args, "--metrics", metricsAddr)
	}
	return args
}

// checkGatherer refuses what an implementation cannot do.
func checkGatherer(spec GathererSpec, impl string) error {
	if impl != ImplPython {
		return nil
	}
	switch {
	case spec.Kind == KindStats:
		return fmt.Errorf("python-foolscap has no stats gatherer (Tahoe <= 1.15.1 had one; it cannot be installed here): scenarios with one are for GATHERER=go only")
	case spec.Metrics || spec.PollInterval > 0:
		return fmt.Errorf("python-foolscap's gatherers have no --metrics or --poll-interval")
	}
	return nil
}

// NodeSpec describes a pynode.py node.
type NodeSpec struct {
	Name      string
	Foolscap  string   // Foolscap217 (default) or Foolscap249
	Gatherers []string // log-gatherer-furl values
	Ephemeral bool     // fresh Tub key per start, like Tahoe's log Tub
	// TrailingDelay is the incident trailing window in seconds (0: foolscap's 5).
	TrailingDelay float64
}

// TahoeSpec describes a Tahoe-LAFS 1.20 node.
type TahoeSpec struct {
	Name string
	// LogGatherer, if set, becomes log_gatherer.furl in [node] of tahoe.cfg.
	LogGatherer string
}

// Gatherer is a running (or stopped) gatherer.
type Gatherer struct {
	Name string
	Kind string
	Impl string // ImplPython or ImplGo
	Dir  string // the gatherer's base directory on the host
	FURL string // as the gatherer wrote it in its FURL file (FURLFile)
	// MetricsURL is the http://.../metrics URL of a gatherer run with
	// --metrics, reachable from the test process ("" without).
	MetricsURL string
	runArgs    []string // options of "gatherer run"
	proc       stopper
	// runNear runs a command where an operator of the gatherer would (the
	// host, or the gatherer's container) and returns its output and exit code.
	runNear func(ctx context.Context, argv ...string) (string, int, error)
}

// Check runs our gatherer-check with args on the gatherer's host and returns
// its combined output and exit code (a non-zero exit is not an error).
func (g *Gatherer) Check(ctx context.Context, args ...string) (string, int, error) {
	return g.runNear(ctx, append([]string{"gatherer-check"}, args...)...)
}

// FURLFile is the name of the file in Dir where the gatherer writes its
// FURL: stats_gatherer.furl for a stats gatherer, log_gatherer.furl for the
// others.
func (g *Gatherer) FURLFile() string { return furlFileName(g.Kind) }

func furlFileName(kind string) string {
	if kind == KindStats {
		return "stats_gatherer.furl"
	}
	return "log_gatherer.furl"
}

// maxMetricsBody bounds a /metrics answer read by Metrics.
const maxMetricsBody = 16 << 20

// Metrics fetches the gatherer's /metrics (Prometheus text exposition).
func (g *Gatherer) Metrics(ctx context.Context) (string, error) {
	if g.MetricsURL == "" {
		return "", fmt.Errorf("gatherer %s runs without --metrics", g.Name)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.MetricsURL, nil)
	if err != nil {
		return "", fmt.Errorf("build request for %s: %w", g.MetricsURL, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("GET %s: %w", g.MetricsURL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxMetricsBody+1))
	if err != nil {
		return "", fmt.Errorf("GET %s: %w", g.MetricsURL, err)
	}
	if len(b) > maxMetricsBody {
		return "", fmt.Errorf("GET %s: more than %d bytes", g.MetricsURL, maxMetricsBody)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", g.MetricsURL, resp.Status)
	}
	return string(b), nil
}

// Node is a running pynode.py.
type Node struct {
	Name    string
	Dir     string // NODEDIR on the host
	TubID   string
	LogPort string
	ctl     *control
	proc    stopper
	// start runs the node (again, after a kill: Faults.RunNode), sets ctl
	// and proc, and returns its first answer to "info" or its "ready"
	// announcement.
	start func(ctx context.Context) (map[string]any, error)
	// earlier is what the node printed before it was last started again.
	earlier string
	// local sends a command from where the node runs (inside its
	// container); Command uses it while the node is off the network
	// (offline), where the driver cannot reach its control port.
	local   func(ctx context.Context, line string) (map[string]any, error)
	offline bool
}

// Command sends one control command to the node and returns its answer.
func (n *Node) Command(ctx context.Context, line string) (map[string]any, error) {
	if n.offline && n.local != nil {
		return n.local(ctx, line)
	}
	return n.ctl.command(ctx, line)
}

// Output is what the node printed (announcements, answers, stderr), in
// every run if it was started again.
func (n *Node) Output() string {
	if n.ctl == nil {
		return n.earlier
	}
	return n.earlier + n.ctl.output()
}

// IncidentDir is where the node keeps its incidents on the host (its
// log.setLogDir): the source of truth the gatherer copies from.
func (n *Node) IncidentDir() string { return filepath.Join(n.Dir, "logs", "incidents") }

// Tahoe is a running Tahoe-LAFS node.
type Tahoe struct {
	Name   string
	Dir    string // the node directory on the host
	WebURL string // reachable from the test process
	// PeerWebURL is the web URL as the scenario's other peers (a gatherer)
	// reach it.
	PeerWebURL string
	LogPort    string // contents of private/logport.furl
	// curl runs curl with these arguments where the node runs (host or
	// container), against the node's web port.
	curl func(ctx context.Context, args ...string) (string, error)
	// follow runs a long-lived tool where the node runs until until(output)
	// holds or ctx ends, stops it, and returns its output.
	follow func(ctx context.Context, argv []string, until func(string) bool) (string, error)
	// start runs the (created) node and waits until it is up.
	start func(ctx context.Context) error
	proc  stopper
}

// Tail runs the implementation's "tail" tool (flogtool tail, or our gatherer
// tail) with args where the node runs (the log Tub's FURL names localhost),
// until its output contains want; it returns the output.
func (t *Tahoe) Tail(ctx context.Context, impl string, args []string, want string) (string, error) {
	argv := append([]string{"flogtool", "tail"}, args...)
	if impl == ImplGo {
		argv[0] = "gatherer"
	}
	return t.follow(ctx, argv, func(out string) bool { return strings.Contains(out, want) })
}

// ReportIncident saves an incident report through the node's web page the
// way the operators' recipe does, `curl --data DATA localhost:WEBPORT/report_incident`
// run where the node runs. DATA is sent as is (an urlencoded form body: the
// node reads its field "details"; "flop" carries none). It returns curl's output.
func (t *Tahoe) ReportIncident(ctx context.Context, data string) (string, error) {
	return t.curl(ctx, "--silent", "--show-error", "--fail", "--data", data, "report_incident")
}

// SetLogGatherer points the node's [node] log_gatherer.furl at furl, as an
// operator edits tahoe.cfg; it takes effect at the node's next start.
func (t *Tahoe) SetLogGatherer(furl string) error {
	return setLogGatherer(filepath.Join(t.Dir, "tahoe.cfg"), furl)
}

// LogTubID is the tubid of the node's log Tub (the one gatherers see): the
// tubid of private/logport.furl.
func (t *Tahoe) LogTubID() string { return furlTubID(t.LogPort) }

// stopper stops a peer and reports what it printed.
type stopper interface {
	stop(ctx context.Context) error
	output() string
}

// Stop stops the gatherer (SIGTERM, as an operator would) and returns once
// it has exited; RunGatherer runs it again.
func (g *Gatherer) Stop(ctx context.Context) error {
	if g.proc == nil {
		return nil
	}
	if err := g.proc.stop(ctx); err != nil {
		return fmt.Errorf("stop gatherer %s: %w", g.Name, err)
	}
	return nil
}

// Output is what the gatherer's process printed (its files are in Dir).
func (g *Gatherer) Output() string { return outputOf(g.proc) }

// Output is what the Tahoe node printed.
func (t *Tahoe) Output() string { return outputOf(t.proc) }

func outputOf(s stopper) string {
	if s == nil {
		return ""
	}
	return s.output()
}

// furlTubID returns the tubid of a pb:// FURL ("" if it has none). The
// conformance suite needs only this much of a FURL; foolscap/furl parses
// them for real.
func furlTubID(furl string) string {
	rest, ok := strings.CutPrefix(strings.TrimSpace(furl), "pb://")
	if !ok {
		return ""
	}
	tubid, _, ok := strings.Cut(rest, "@")
	if !ok {
		return ""
	}
	return tubid
}

// readFURLFile returns the first line of a FURL file, or "" while it does not
// exist or is still empty.
func readFURLFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read FURL file: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(line), nil
}

// PeersDir is the directory of the Python peers within the repository.
func PeersDir(repo string) string { return filepath.Join(repo, "conformance", "peers") }

// GathererBinary is where `make build` puts our gatherer.
func GathererBinary(repo string) string { return filepath.Join(repo, "bin", "gatherer") }

// CheckBinary is where `make build` puts gatherer-check.
func CheckBinary(repo string) string { return filepath.Join(repo, "bin", "gatherer-check") }

// RootFS is the root filesystem of a peer image flavour ("bookworm", "trixie").
func RootFS(repo, flavour string) string {
	if d := os.Getenv("ROOTFS_DIR"); d != "" {
		return filepath.Join(d, flavour)
	}
	return filepath.Join(repo, "build", "rootfs", flavour)
}

// createArgs is the create command line of a gatherer implementation, without
// the program name, as flogtool takes it.
func createArgs(spec GathererSpec, port, location, dir string) ([]string, error) {
	var sub string
	switch spec.Kind {
	case KindIncident:
		sub = "create-incident-gatherer"
	case KindLog:
		sub = "create-gatherer"
	case KindStats:
		sub = "create-stats-gatherer"
	default:
		return nil, fmt.Errorf("unknown gatherer kind %q (want %q, %q or %q)", spec.Kind, KindIncident, KindLog, KindStats)
	}
	args := []string{sub, "--port", port, "--location", location}
	args = append(args, spec.CreateArgs...)
	return append(args, dir), nil
}

// restartTahoe stops the node, forgets its logport FURL (Tahoe rewrites the
// file at start) and starts it again.
func restartTahoe(ctx context.Context, t *Tahoe) error {
	if err := t.proc.stop(ctx); err != nil {
		return fmt.Errorf("stop Tahoe node %s: %w", t.Name, err)
	}
	old := t.LogPort
	t.LogPort = ""
	if err := os.Remove(filepath.Join(t.Dir, "private", "logport.furl")); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("remove the old logport FURL: %w", err)
	}
	if err := t.start(ctx); err != nil {
		return err
	}
	if t.LogPort == old {
		return fmt.Errorf("Tahoe node %s kept its logport FURL across a restart", t.Name)
	}
	return nil
}
