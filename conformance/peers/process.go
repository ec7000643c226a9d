package peers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Python is Debian's interpreter, the one with python3-foolscap. The python3
// first on PATH may be another one without it. PYTHON overrides it.
func Python() string {
	if p := os.Getenv("PYTHON"); p != "" {
		return p
	}
	return "/usr/bin/python3"
}

// stopGrace is how long a peer gets between SIGTERM and SIGKILL.
const stopGrace = 10 * time.Second

// processDriver runs peers as local processes on 127.0.0.1. python-foolscap
// 24.9 peers and Tahoe run in a chroot of the trixie root filesystem (see
// conformance/peers/images/chroot.sh), sharing the host's loopback.
type processDriver struct {
	faults
	opts   Options
	procs  []*proc
	chroot string // per-scenario directory inside the trixie rootfs ("" until needed)
}

// NewProcessDriver returns a Driver that runs peers as local processes.
func NewProcessDriver(opts Options) (Driver, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	return &processDriver{opts: opts}, nil
}

func (d *processDriver) Mode() string { return ModeProcess }

// proc is a child process in its own process group.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{} // closed once cmd.Wait returned
	err  error         // cmd.Wait's result, set before done is closed
}

// startProc starts cmd with its output collected; stdin, if non-nil, becomes
// the child's standard input (and stdout goes to stdout as well as out).
func startProc(name string, cmd *exec.Cmd, stdout io.Writer) (*proc, error) {
	p := &proc{name: name, cmd: cmd, out: &lockedBuffer{}, done: make(chan struct{})}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if stdout != nil {
		cmd.Stdout = stdout
	} else {
		cmd.Stdout = p.out
	}
	cmd.Stderr = p.out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (%s): %w", name, cmd.Path, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *proc) output() string { return p.out.String() }

// stop sends SIGTERM to the process group, then SIGKILL after stopGrace or
// when ctx ends, and returns once the process has exited.
func (p *proc) stop(ctx context.Context) error {
	if p.exited() {
		return nil
	}
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	_ = syscall.Kill(-pgid, syscall.SIGCONT) // a paused peer (Faults.Pause) must run to exit
	t := time.NewTimer(stopGrace)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-t.C:
	case <-ctx.Done():
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	<-p.done
	return fmt.Errorf("%s ignored SIGTERM for %s and was killed", p.name, stopGrace)
}

// pause stops every process of the group (SIGSTOP): as docker pause, its
// sockets stay open and the kernel keeps accepting data for them.
func (p *proc) pause(context.Context) error { return p.signal(syscall.SIGSTOP) }

// unpause lets a paused group run again (SIGCONT).
func (p *proc) unpause(context.Context) error { return p.signal(syscall.SIGCONT) }

func (p *proc) signal(sig syscall.Signal) error {
	if p.exited() {
		return fmt.Errorf("%s has exited (%v)", p.name, p.err)
	}
	if err := syscall.Kill(-p.cmd.Process.Pid, sig); err != nil {
		return fmt.Errorf("send %v to %s: %w", sig, p.name, err)
	}
	return nil
}

// kill sends SIGKILL to the process group and returns once the process has
// exited.
func (p *proc) kill(ctx context.Context) error {
	if err := p.signal(syscall.SIGKILL); err != nil {
		return err
	}
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for %s to die of SIGKILL: %w", p.name, ctx.Err())
	}
}

// disconnect and reconnect: process mode has no network to take a peer off.
func (p *proc) disconnect(context.Context) error { return ErrNoNetwork }
func (p *proc) reconnect(context.Context) error  { return ErrNoNetwork }

// freePort asks the kernel for a free TCP port on 127.0.0.1. Another process
// may take it before the peer binds it; the peer then fails to start with a
// clear error rather than the test hanging.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// run runs a short command to completion and returns its combined output.
func run(ctx context.Context, dir, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func (d *processDriver) gathererCommand(g *Gatherer) *exec.Cmd {
	if g.Impl == ImplGo {
		args := append(append([]string{"run"}, g.runArgs...), g.Dir)
		return exec.Command(GathererBinary(d.opts.Repo), args...)
	}
	cmd := exec.Command("twistd3", "-n", "--logfile=twistd.log", "--pidfile=twistd.pid", "-y", "gatherer.tac")
	cmd.Dir = g.Dir
	return cmd
}

func (d *processDriver) StartGatherer(ctx context.Context, spec GathererSpec) (*Gatherer, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	impl, err := d.opts.impl(spec)
	if err != nil {
		return nil, err
	}
	if err := checkGatherer(spec, impl); err != nil {
		return nil, err
	}
	g := &Gatherer{Name: spec.Name, Kind: spec.Kind, Impl: impl, Dir: filepath.Join(d.opts.Dir, spec.Name)}
	if spec.Metrics {
		mport, err := freePort()
		if err != nil {
			return nil, err
		}
		addr := fmt.Sprintf("127.0.0.1:%d", mport)
		g.MetricsURL = "http://" + addr + "/metrics"
		g.runArgs = runArgs(spec, addr)
	} else {
		g.runArgs = runArgs(spec, "")
	}
	g.runNear = func(ctx context.Context, argv ...string) (string, int, error) {
		if argv[0] == "gatherer-check" {
			argv[0] = CheckBinary(d.opts.Repo)
		}
		out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return string(out), exit.ExitCode(), nil
		}
		if err != nil {
			return string(out), -1, fmt.Errorf("run %s: %w", argv[0], err)
		}
		return string(out), 0, nil
	}
	host := "127.0.0.1"
	if spec.HostName {
		host = "localhost"
	}
	args, err := createArgs(spec, fmt.Sprintf("tcp:%d:interface=127.0.0.1", port),
		fmt.Sprintf("tcp:%s:%d", host, port), g.Dir)
	if err != nil {
		return nil, err
	}
	prog := "flogtool"
	if impl == ImplGo {
		prog = GathererBinary(d.opts.Repo)
	}
	if _, err := run(ctx, d.opts.Dir, prog, args...); err != nil {
		return nil, fmt.Errorf("create the %s gatherer: %w", spec.Kind, err)
	}
	if err := d.runGatherer(ctx, g); err != nil {
		return nil, err
	}
	return g, nil
}

func (d *processDriver) runGatherer(ctx context.Context, g *Gatherer) error {
	p, err := startProc("gatherer "+g.Name, d.gathererCommand(g), nil)
	if err != nil {
		return err
	}
	d.procs = append(d.procs, p)
	g.proc = p
	furlFile := filepath.Join(g.Dir, g.FURLFile())
	err = WaitFor(ctx, "the gatherer's FURL to answer a Foolscap connection", func(ctx context.Context) (bool, error) {
		if p.exited() {
			return false, fmt.Errorf("the gatherer exited (%v); output:\n%s", p.err, p.output())
		}
		furl, err := readFURLFile(furlFile)
		if err != nil || furl == "" {
			return false, err
		}
		if _, err := run(ctx, "", Python(), filepath.Join(PeersDir(d.opts.Repo), "pyprobe.py"), "--timeout", "5", furl); err != nil {
			return false, err
		}
		g.FURL = furl
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("start the %s gatherer in %s: %w", g.Impl, g.Dir, err)
	}
	return nil
}

func (d *processDriver) RunGatherer(ctx context.Context, g *Gatherer) error {
	p, ok := g.proc.(*proc)
	if !ok {
		return fmt.Errorf("gatherer %s was not started by the process driver", g.Name)
	}
	if !p.exited() {
		return fmt.Errorf("gatherer %s is still running", g.Name)
	}
	return d.runGatherer(ctx, g)
}

// chrootDir returns (creating it) this scenario's directory inside the trixie
// root filesystem, with the Python peers copied in: host path and chroot path.
func (d *processDriver) chrootDir() (host, inside string, err error) {
	root := RootFS(d.opts.Repo, "trixie")
	if _, err := os.Stat(filepath.Join(root, "usr", "bin", "tahoe")); err != nil {
		return "", "", fmt.Errorf("the trixie root filesystem %s is missing or incomplete (run: make rootfs): %w", root, err)
	}
	if d.chroot == "" {
		base := filepath.Join(root, "tmp", "gatherer-conformance")
		if err := os.MkdirAll(base, 0o755); err != nil {
			return "", "", fmt.Errorf("create the chroot scenario directory: %w", err)
		}
		dir, err := os.MkdirTemp(base, d.opts.RunID+"-")
		if err != nil {
			return "", "", fmt.Errorf("create the chroot scenario directory: %w", err)
		}
		for _, f := range []string{"pynode.py", "pystats.py", "peerctl.py", "pyprobe.py"} {
			b, err := os.ReadFile(filepath.Join(PeersDir(d.opts.Repo), f))
			if err != nil {
				return "", "", fmt.Errorf("copy the Python peers into the chroot: %w", err)
			}
			if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
				return "", "", fmt.Errorf("copy the Python peers into the chroot: %w", err)
			}
		}
		d.chroot = dir
	}
	rel, err := filepath.Rel(root, d.chroot)
	if err != nil {
		return "", "", fmt.Errorf("locate the chroot directory: %w", err)
	}
	return d.chroot, "/" + rel, nil
}

// chrootCommand runs argv inside the trixie root filesystem.
func (d *processDriver) chrootCommand(argv ...string) *exec.Cmd {
	script := filepath.Join(PeersDir(d.opts.Repo), "images", "chroot.sh")
	return exec.Command(script, append([]string{RootFS(d.opts.Repo, "trixie")}, argv...)...)
}

func (d *processDriver) StartNode(ctx context.Context, spec NodeSpec) (*Node, error) {
	args := func(peers, nodedir string) []string {
		a := []string{filepath.Join(peers, "pynode.py"), "--nodedir", nodedir}
		for _, f := range spec.Gatherers {
			a = append(a, "--gatherer", f)
		}
		if spec.Ephemeral {
			a = append(a, "--ephemeral")
		}
		if spec.TrailingDelay > 0 {
			a = append(a, "--trailing-delay", strconv.FormatFloat(spec.TrailingDelay, 'g', -1, 64))
		}
		return a
	}
	n := &Node{Name: spec.Name}
	n.start = func(ctx context.Context) (map[string]any, error) {
		pp, err := d.startPython(ctx, "node "+spec.Name, spec.Name, spec.Foolscap, args)
		if err != nil {
			return nil, err
		}
		n.Dir, n.proc, n.ctl = pp.hostDir, pp.p, pp.ctl
		return pp.ready, nil
	}
	ready, err := n.start(ctx)
	if err != nil {
		return nil, err
	}
	n.TubID, _ = ready["tubid"].(string)
	n.LogPort, _ = ready["logport"].(string)
	return n, nil
}

// RunNode runs a killed node again: the same command line, so the same
// NODEDIR, Tub key and incident directory.
func (d *processDriver) RunNode(ctx context.Context, n *Node) error {
	p, ok := n.proc.(*proc)
	if !ok {
		return fmt.Errorf("node %s was not started by the process driver", n.Name)
	}
	if !p.exited() {
		return fmt.Errorf("node %s is still running", n.Name)
	}
	return rerunNode(ctx, n)
}

func (d *processDriver) StartStatsProvider(ctx context.Context, spec StatsProviderSpec) (*StatsProvider, error) {
	if err := spec.check(); err != nil {
		return nil, err
	}
	pp, err := d.startPython(ctx, "stats provider "+spec.Name, spec.Name, spec.Foolscap, spec.args)
	if err != nil {
		return nil, err
	}
	sp := &StatsProvider{Name: spec.Name, Nickname: spec.nickname(), Dir: pp.hostDir, proc: pp.p, ctl: pp.ctl}
	sp.TubID, _ = pp.ready["tubid"].(string)
	if sp.TubID == "" {
		return nil, fmt.Errorf("stats provider %s announced no tubid: %v", spec.Name, pp.ready)
	}
	return sp, nil
}

// pythonPeer is a Python peer started by startPython.
type pythonPeer struct {
	p       *proc
	ctl     *control
	hostDir string         // the peer's directory on the host
	ready   map[string]any // its "ready" announcement
}

// startPython runs a Python peer (pynode.py, pystats.py) under the given
// python-foolscap release, with its control channel on stdin/stdout, and
// waits for its "ready" announcement. args builds the command line from the
// directory of the peers and the peer's directory, as the interpreter sees them.
func (d *processDriver) startPython(ctx context.Context, what, name, foolscap string, args func(peers, nodedir string) []string) (*pythonPeer, error) {
	var (
		cmd     *exec.Cmd
		hostDir string
	)
	switch foolscap {
	case "", Foolscap217:
		hostDir = filepath.Join(d.opts.Dir, name)
		cmd = exec.Command(Python(), args(PeersDir(d.opts.Repo), hostDir)...)
	case Foolscap249:
		host, inside, err := d.chrootDir()
		if err != nil {
			return nil, err
		}
		hostDir = filepath.Join(host, name)
		cmd = d.chrootCommand(append([]string{"python3"}, args(inside, inside+"/"+name)...)...)
	default:
		return nil, fmt.Errorf("no python-foolscap %q peer (have %s and %s)", foolscap, Foolscap217, Foolscap249)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	pr, pw := io.Pipe()
	p, err := startProc(what, cmd, pw)
	if err != nil {
		return nil, err
	}
	d.procs = append(d.procs, p)
	go func() { // close the pipe when the peer exits, so the control reader ends
		<-p.done
		pw.Close()
	}()
	pp := &pythonPeer{p: p, ctl: newControl(stdin, pr, p.out), hostDir: hostDir}
	err = WaitFor(ctx, what+" to be ready", func(context.Context) (bool, error) {
		if p.exited() {
			return false, fmt.Errorf("%s exited (%v); output:\n%s", what, p.err, p.output())
		}
		pp.ready = pp.ctl.announcement("ready")
		return pp.ready != nil, nil
	})
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", what, err)
	}
	return pp, nil
}

func (d *processDriver) StartTahoe(ctx context.Context, spec TahoeSpec) (*Tahoe, error) {
	host, inside, err := d.chrootDir()
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	web, err := freePort()
	if err != nil {
		return nil, err
	}
	nodeDir := inside + "/" + spec.Name
	create := d.chrootCommand("tahoe", "create-node",
		fmt.Sprintf("--port=tcp:%d:interface=127.0.0.1", port),
		fmt.Sprintf("--location=tcp:127.0.0.1:%d", port),
		fmt.Sprintf("--webport=tcp:%d:interface=127.0.0.1", web),
		"--nickname="+spec.Name, nodeDir)
	if out, err := create.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("tahoe create-node %s: %w\n%s", spec.Name, err, out)
	}
	t := &Tahoe{Name: spec.Name, Dir: filepath.Join(host, spec.Name), WebURL: fmt.Sprintf("http://127.0.0.1:%d/", web)}
	t.PeerWebURL = t.WebURL // every peer shares the host's loopback
	if spec.LogGatherer != "" {
		if err := setLogGatherer(filepath.Join(t.Dir, "tahoe.cfg"), spec.LogGatherer); err != nil {
			return nil, err
		}
	}
	t.start = func(ctx context.Context) error {
		p, err := startProc("tahoe "+spec.Name, d.chrootCommand("tahoe", "run", "--allow-stdin-close", nodeDir), nil)
		if err != nil {
			return err
		}
		d.procs = append(d.procs, p)
		t.proc = p
		return waitTahoe(ctx, t, p.exited, p.output)
	}
	t.curl = func(ctx context.Context, args ...string) (string, error) {
		// The last argument is a path on the node's web port.
		args[len(args)-1] = fmt.Sprintf("localhost:%d/%s", web, args[len(args)-1])
		return run(ctx, "", "curl", args...)
	}
	t.follow = func(ctx context.Context, argv []string, until func(string) bool) (string, error) {
		if argv[0] == "gatherer" {
			argv[0] = GathererBinary(d.opts.Repo)
		}
		tp, err := startProc(argv[0], exec.Command(argv[0], argv[1:]...), nil)
		if err != nil {
			return "", err
		}
		err = WaitFor(ctx, fmt.Sprintf("%q to print what we look for", argv), func(context.Context) (bool, error) {
			if until(tp.output()) {
				return true, nil
			}
			if tp.exited() {
				return false, fmt.Errorf("%s exited: %v", argv[0], tp.err)
			}
			return false, nil
		})
		_ = tp.stop(context.WithoutCancel(ctx))
		return tp.output(), err
	}
	if err := t.start(ctx); err != nil {
		return nil, err
	}
	return t, nil
}

func (d *processDriver) RestartTahoe(ctx context.Context, t *Tahoe) error {
	return restartTahoe(ctx, t)
}

// waitTahoe waits until the node's web port answers and its logport FURL is
// written (the log Tub is then up and connecting to its gatherer).
func waitTahoe(ctx context.Context, t *Tahoe, exited func() bool, output func() string) error {
	err := WaitFor(ctx, "Tahoe node "+t.Name+" to serve its web page and write private/logport.furl", func(ctx context.Context) (bool, error) {
		if exited() {
			return false, fmt.Errorf("tahoe exited; output:\n%s", output())
		}
		furl, err := readFURLFile(filepath.Join(t.Dir, "private", "logport.furl"))
		if err != nil || furl == "" {
			return false, err
		}
		if err := httpOK(ctx, t.WebURL); err != nil {
			return false, err
		}
		t.LogPort = furl
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("start Tahoe node %s: %w", t.Name, err)
	}
	return nil
}

// setLogGatherer sets log_gatherer.furl in the [node] section of tahoe.cfg.
func setLogGatherer(cfg, furl string) error {
	b, err := os.ReadFile(cfg)
	if err != nil {
		return fmt.Errorf("read tahoe.cfg: %w", err)
	}
	var out []string
	inNode, done := false, false
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "[") {
			inNode = trimmed == "[node]"
		}
		if inNode && !done && (strings.HasPrefix(trimmed, "#log_gatherer.furl") || strings.HasPrefix(trimmed, "log_gatherer.furl")) {
			line, done = "log_gatherer.furl = "+furl, true
		}
		out = append(out, line)
		if trimmed == "[node]" && !done && !strings.Contains(string(b), "log_gatherer.furl") {
			out = append(out, "log_gatherer.furl = "+furl)
			done = true
		}
	}
	if !done {
		return errors.New("tahoe.cfg has no [node] section to put log_gatherer.furl in")
	}
	if err := os.WriteFile(cfg, []byte(strings.Join(out, "\n")), 0o644); err != nil {
		return fmt.Errorf("write tahoe.cfg: %w", err)
	}
	return nil
}

func (d *processDriver) Close(ctx context.Context) error {
	var errs []error
	for i := len(d.procs) - 1; i >= 0; i-- {
		if err := d.procs[i].stop(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if d.chroot != "" && os.Getenv("KEEP_WORK") == "" {
		if err := os.RemoveAll(d.chroot); err != nil {
			errs = append(errs, fmt.Errorf("remove the chroot scenario directory: %w", err))
		}
	}
	return errors.Join(errs...)
}
