package peers

import (
	"bytes"
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
	"sync"
	"syscall"
	"time"

	"github.com/ory/dockertest/v3"
	dc "github.com/ory/dockertest/v3/docker"
)

// Docker labels on every container and network the suite creates.
const (
	labelSuite = "org.gatherer.conformance"        // always "1"
	labelRun   = "org.gatherer.conformance.run-id" // the run that created it
	// labelPID is the process id of the test binary that created it: at
	// start, a run removes the objects of runs whose process is gone
	// (leftovers), never those of a run still going on beside it.
	labelPID = "org.gatherer.conformance.pid"
)

// Ports inside containers (every peer has its own address, so fixed ports).
const (
	containerGathererPort = 3118
	containerNodePort     = 5000
	containerControlPort  = 7000
	containerTahoePort    = 3457
	containerWebPort      = 3456
	containerMetricsPort  = 9118
	// containerExpire stops a container that outlives its run (a crashed
	// test binary leaves nothing running for longer than this).
	containerExpire = 30 * 60
)

// imageTag returns the local image of a peer flavour for the current recipe,
// as conformance/peers/images/build.sh --print-tag computes it.
func imageTag(ctx context.Context, repo, flavour string) (repository, tag string, err error) {
	out, err := exec.CommandContext(ctx, filepath.Join(PeersDir(repo), "images", "build.sh"), "--print-tag", flavour).Output()
	if err != nil {
		return "", "", fmt.Errorf("compute the %s image tag: %w", flavour, err)
	}
	repository, tag, ok := strings.Cut(strings.TrimSpace(string(out)), ":")
	if !ok {
		return "", "", fmt.Errorf("build.sh --print-tag %s printed %q", flavour, out)
	}
	return repository, tag, nil
}

// ContainerModeAvailable reports why container mode cannot run here (nil if
// it can): no Docker engine answering, or peer images missing.
func ContainerModeAvailable(ctx context.Context, repo string) error {
	pool, err := dockertest.NewPool("")
	if err != nil {
		return fmt.Errorf("no Docker client: %w", err)
	}
	if err := pool.Client.PingWithContext(ctx); err != nil {
		return fmt.Errorf("the Docker engine does not answer: %w", err)
	}
	return checkImages(ctx, pool, repo)
}

func checkImages(ctx context.Context, pool *dockertest.Pool, repo string) error {
	for _, flavour := range []string{"bookworm", "trixie"} {
		r, tag, err := imageTag(ctx, repo, flavour)
		if err != nil {
			return err
		}
		if _, err := pool.Client.InspectImage(r + ":" + tag); err != nil {
			return fmt.Errorf("peer image %s:%s is missing (build it with: make image): %w", r, tag, err)
		}
	}
	return nil
}

// ContainerPool is the suite-wide part of container mode: the Docker client,
// the checked images and the cleanup of this run's objects.
type ContainerPool struct {
	pool   *dockertest.Pool
	repo   string
	runID  string
	images map[string]string // flavour -> repository:tag
	mu     sync.Mutex
	seq    int
}

// NewContainerPool connects to the Docker engine, checks the peer images and
// removes whatever earlier runs of the suite left behind.
func NewContainerPool(ctx context.Context, repo, runID string) (*ContainerPool, error) {
	pool, err := dockertest.NewPool("")
	if err != nil {
		return nil, fmt.Errorf("connect to Docker: %w", err)
	}
	if err := pool.Client.PingWithContext(ctx); err != nil {
		return nil, fmt.Errorf("the Docker engine does not answer: %w", err)
	}
	if err := checkImages(ctx, pool, repo); err != nil {
		return nil, err
	}
	p := &ContainerPool{pool: pool, repo: repo, runID: runID, images: map[string]string{}}
	for _, flavour := range []string{"bookworm", "trixie"} {
		r, tag, err := imageTag(ctx, repo, flavour)
		if err != nil {
			return nil, err
		}
		p.images[flavour] = r + ":" + tag
	}
	// Our gatherer runs in a minimal image of its own (when it is built:
	// a python-only run needs none).
	if _, err := os.Stat(GathererBinary(repo)); err == nil {
		name, err := buildGoImage(ctx, pool.Client, repo)
		if err != nil {
			return nil, err
		}
		p.images[GoImageRepository] = name
	}
	if err := p.removeLabelled(ctx, labelSuite+"=1", deadRun); err != nil {
		return nil, fmt.Errorf("remove containers left by earlier runs: %w", err)
	}
	return p, nil
}

// Close removes every container and network of this run.
func (p *ContainerPool) Close(ctx context.Context) error {
	return p.removeLabelled(ctx, labelRun+"="+p.runID, func(map[string]string) bool { return true })
}

// deadRun reports whether the run that labelled an object has ended: its
// process is gone (or it carries no process id: an older suite's leftover).
func deadRun(labels map[string]string) bool {
	pid, err := strconv.Atoi(labels[labelPID])
	if err != nil || pid <= 0 {
		return true
	}
	err = syscall.Kill(pid, 0)
	return err != nil && !errors.Is(err, syscall.EPERM)
}

// removeLabelled removes the containers and networks carrying label for
// which remove(labels) holds.
func (p *ContainerPool) removeLabelled(ctx context.Context, label string, remove func(map[string]string) bool) error {
	var errs []error
	cs, err := p.pool.Client.ListContainers(dc.ListContainersOptions{All: true, Filters: map[string][]string{"label": {label}}, Context: ctx})
	if err != nil {
		return fmt.Errorf("list containers: %w", err)
	}
	for _, c := range cs {
		if !remove(c.Labels) {
			continue
		}
		if err := p.pool.Client.RemoveContainer(dc.RemoveContainerOptions{ID: c.ID, Force: true, RemoveVolumes: true, Context: ctx}); err != nil {
			errs = append(errs, fmt.Errorf("remove container %s: %w", c.ID[:12], err))
		}
	}
	nets, err := p.pool.Client.FilteredListNetworks(dc.NetworkFilterOpts{"label": {label: true}})
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("list networks: %w", err))...)
	}
	for _, n := range nets {
		if !remove(n.Labels) {
			continue
		}
		if err := p.pool.Client.RemoveNetwork(n.ID); err != nil {
			errs = append(errs, fmt.Errorf("remove network %s: %w", n.Name, err))
		}
	}
	return errors.Join(errs...)
}

// NewDriver returns the driver of one scenario: a private network of its own.
func (p *ContainerPool) NewDriver(opts Options) (Driver, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.seq++
	prefix := fmt.Sprintf("%s-s%d", p.runID, p.seq)
	p.mu.Unlock()
	labels := map[string]string{labelSuite: "1", labelRun: p.runID, labelPID: strconv.Itoa(os.Getpid())}
	network, err := p.pool.CreateNetwork(prefix, func(o *dc.CreateNetworkOptions) { o.Labels = labels })
	if err != nil {
		return nil, fmt.Errorf("create the scenario's Docker network: %w", err)
	}
	return &containerDriver{p: p, opts: opts, prefix: prefix, labels: labels, network: network}, nil
}

type containerDriver struct {
	faults
	p         *ContainerPool
	opts      Options
	prefix    string
	labels    map[string]string
	network   *dockertest.Network
	resources []*dockertest.Resource
	closers   []func() error // control connections to close
}

func (d *containerDriver) Mode() string { return ModeContainer }

// container is a running peer container; it implements stopper and
// faultable.
type container struct {
	d   *containerDriver
	res *dockertest.Resource
	// addr is the address the container had on the scenario's network when
	// it was taken off it (disconnect), to check reconnect gives it back.
	addr string
}

// stop sends SIGTERM, as an operator's stop would, and waits stopGrace for
// the container to exit before killing it. Not "docker stop": dockertest
// gives every container the stop signal SIGWINCH (so that Expire ends in
// SIGKILL), which the peers ignore, so docker stop always killed them after
// its timeout and no peer ever shut down cleanly.
func (c *container) stop(ctx context.Context) error {
	client := c.d.p.pool.Client
	id, name := c.res.Container.ID, c.res.Container.Name
	var notRunning *dc.ContainerNotRunning
	if err := client.KillContainer(dc.KillContainerOptions{ID: id, Signal: dc.SIGTERM, Context: ctx}); err != nil {
		if errors.As(err, &notRunning) {
			return nil
		}
		return fmt.Errorf("send SIGTERM to container %s: %w", name, err)
	}
	wctx, cancel := context.WithTimeout(ctx, stopGrace)
	_, werr := client.WaitContainerWithContext(id, wctx)
	cancel()
	if werr == nil {
		return nil
	}
	kctx, kcancel := context.WithTimeout(context.WithoutCancel(ctx), stopGrace)
	defer kcancel()
	if err := client.KillContainer(dc.KillContainerOptions{ID: id, Signal: dc.SIGKILL, Context: kctx}); err != nil && !errors.As(err, &notRunning) {
		return fmt.Errorf("kill container %s: %w", name, err)
	}
	if _, err := client.WaitContainerWithContext(id, kctx); err != nil {
		return fmt.Errorf("wait for container %s to exit: %w", name, err)
	}
	return fmt.Errorf("container %s ignored SIGTERM for %s and was killed (%v)", name, stopGrace, werr)
}

// pause freezes the container's processes (docker pause: the cgroup
// freezer). The Docker client's pause and unpause take no context.
func (c *container) pause(context.Context) error {
	if err := c.d.p.pool.Client.PauseContainer(c.res.Container.ID); err != nil {
		return fmt.Errorf("docker pause %s: %w", c.res.Container.Name, err)
	}
	return nil
}

func (c *container) unpause(context.Context) error {
	if err := c.d.p.pool.Client.UnpauseContainer(c.res.Container.ID); err != nil {
		return fmt.Errorf("docker unpause %s: %w", c.res.Container.Name, err)
	}
	return nil
}

// kill is docker kill (SIGKILL); it returns once the container has stopped.
func (c *container) kill(ctx context.Context) error {
	client := c.d.p.pool.Client
	id, name := c.res.Container.ID, c.res.Container.Name
	if err := client.KillContainer(dc.KillContainerOptions{ID: id, Signal: dc.SIGKILL, Context: ctx}); err != nil {
		return fmt.Errorf("docker kill %s: %w", name, err)
	}
	if _, err := client.WaitContainerWithContext(id, ctx); err != nil {
		return fmt.Errorf("wait for container %s to stop: %w", name, err)
	}
	return nil
}

// disconnect takes the container off the scenario's network (and no other:
// it is on no other) and remembers its address there.
func (c *container) disconnect(ctx context.Context) error {
	ip, err := c.ip(ctx)
	if err != nil {
		return err
	}
	nw := c.d.network.Network
	if err := c.d.p.pool.Client.DisconnectNetwork(nw.ID, dc.NetworkConnectionOptions{Container: c.res.Container.ID, Context: ctx}); err != nil {
		return fmt.Errorf("docker network disconnect %s %s: %w", nw.Name, c.res.Container.Name, err)
	}
	c.addr = ip
	return nil
}

// reconnect puts the container back on the scenario's network and checks
// it has the address it had, without which its TCP connections cannot go
// on. Docker gives a static address only on networks created with a subnet
// of the creator's choosing, which would mean guessing a free range; its
// allocator gives the lowest free address instead, which on the scenario's
// private network, where nothing else starts meanwhile, is the one the
// container left.
func (c *container) reconnect(ctx context.Context) error {
	if c.addr == "" {
		return fmt.Errorf("container %s was not taken off the network", c.res.Container.Name)
	}
	nw := c.d.network.Network
	if err := c.d.p.pool.Client.ConnectNetwork(nw.ID, dc.NetworkConnectionOptions{Container: c.res.Container.ID, Context: ctx}); err != nil {
		return fmt.Errorf("docker network connect %s %s: %w", nw.Name, c.res.Container.Name, err)
	}
	ip, err := c.ip(ctx)
	if err != nil {
		return err
	}
	if ip != c.addr {
		return fmt.Errorf("container %s came back on network %s with address %s, not %s: its open connections cannot go on", c.res.Container.Name, nw.Name, ip, c.addr)
	}
	c.addr = ""
	return nil
}

func (c *container) output() string {
	var b bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := c.d.p.pool.Client.Logs(dc.LogsOptions{Context: ctx, Container: c.res.Container.ID,
		OutputStream: &b, ErrorStream: &b, Stdout: true, Stderr: true})
	if err != nil {
		fmt.Fprintf(&b, "\n(reading the container's log failed: %v)", err)
	}
	return b.String()
}

// ip is the container's current address on the scenario's network.
func (c *container) ip(ctx context.Context) (string, error) {
	ct, err := c.d.p.pool.Client.InspectContainerWithContext(c.res.Container.ID, ctx)
	if err != nil {
		return "", fmt.Errorf("inspect container %s: %w", c.res.Container.Name, err)
	}
	if n, ok := ct.NetworkSettings.Networks[c.d.network.Network.Name]; ok && n.IPAddress != "" {
		return n.IPAddress, nil
	}
	return "", fmt.Errorf("container %s has no address on network %s", c.res.Container.Name, c.d.network.Network.Name)
}

func (c *container) running() bool {
	ct, err := c.d.p.pool.Client.InspectContainer(c.res.Container.ID)
	return err == nil && ct.State.Running
}

// exec runs argv in the container and returns its output and exit code.
func (c *container) exec(ctx context.Context, argv ...string) (string, int, error) {
	var out bytes.Buffer
	_, code, err := c.execTo(ctx, &out, argv...)
	return out.String(), code, err
}

// execTo runs argv in the container with its output going to w.
func (c *container) execTo(ctx context.Context, w io.Writer, argv ...string) (string, int, error) {
	client := c.d.p.pool.Client
	ex, err := client.CreateExec(dc.CreateExecOptions{Container: c.res.Container.ID, Cmd: argv,
		AttachStdout: true, AttachStderr: true, Context: ctx})
	if err != nil {
		return "", -1, fmt.Errorf("exec %q in %s: %w", argv, c.res.Container.Name, err)
	}
	if err := client.StartExec(ex.ID, dc.StartExecOptions{OutputStream: w, ErrorStream: w, Context: ctx}); err != nil {
		return ex.ID, -1, fmt.Errorf("exec %q in %s: %w", argv, c.res.Container.Name, err)
	}
	in, err := client.InspectExec(ex.ID)
	if err != nil {
		return ex.ID, -1, fmt.Errorf("exec %q in %s: %w", argv, c.res.Container.Name, err)
	}
	return ex.ID, in.ExitCode, nil
}

// followLimit bounds a followed tool's life in the container, in case the
// suite dies before stopping it.
const followLimit = "300"

// follow runs argv in the container until until(output) holds or ctx ends,
// then kills it by the process id it recorded, and waits for the exec to end.
func (c *container) follow(ctx context.Context, argv []string, until func(string) bool) (string, error) {
	pidFile := fmt.Sprintf("/tmp/follow-%d.pid", time.Now().UnixNano())
	script := fmt.Sprintf("echo $$ > %s; exec timeout %s %s", pidFile, followLimit, shellJoin(argv))
	out := &lockedBuffer{}
	done := make(chan error, 1)
	go func() {
		_, _, err := c.execTo(context.WithoutCancel(ctx), out, "sh", "-c", script)
		done <- err
	}()
	err := WaitFor(ctx, fmt.Sprintf("%q to print what we look for", argv), func(context.Context) (bool, error) {
		if until(out.String()) {
			return true, nil
		}
		select {
		case e := <-done:
			done <- e
			return false, fmt.Errorf("%s exited early (%v)", argv[0], e)
		default:
			return false, nil
		}
	})
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopGrace)
	defer cancel()
	if _, code, kerr := c.exec(stopCtx, "sh", "-c", "kill $(cat "+pidFile+") 2>/dev/null; rm -f "+pidFile); kerr != nil || code != 0 {
		c.d.opts.logf("stopping %s in %s: exit %d, %v", argv[0], c.res.Container.Name, code, kerr)
	}
	<-done
	return out.String(), err
}

// run starts a container on the scenario's network with the scenario
// directory at /scenario and the Python peers at /peers.
func (d *containerDriver) run(name, flavour string, cmd []string) (*container, error) {
	mounts := []string{
		d.opts.Dir + ":/scenario",
		PeersDir(d.opts.Repo) + ":/peers:ro",
	}
	for _, bin := range []string{GathererBinary(d.opts.Repo), CheckBinary(d.opts.Repo)} {
		if _, err := os.Stat(bin); err == nil {
			mounts = append(mounts, bin+":/usr/local/bin/"+filepath.Base(bin)+":ro")
		}
	}
	repository, tag, _ := strings.Cut(d.p.images[flavour], ":")
	res, err := d.p.pool.RunWithOptions(&dockertest.RunOptions{
		Name:       d.prefix + "-" + name,
		Hostname:   name,
		Repository: repository,
		Tag:        tag,
		Cmd:        cmd,
		Env:        []string{"LANG=C.UTF-8", "PYTHONUNBUFFERED=1", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		Mounts:     mounts,
		Networks:   []*dockertest.Network{d.network},
		Labels:     d.labels,
	}, func(hc *dc.HostConfig) {
		hc.RestartPolicy = dc.RestartPolicy{Name: "no"}
	})
	if err != nil {
		return nil, fmt.Errorf("start container %s from %s: %w", name, d.p.images[flavour], err)
	}
	d.resources = append(d.resources, res)
	if err := res.Expire(containerExpire); err != nil {
		d.opts.logf("container %s: cannot set its expiry: %v", name, err)
	}
	return &container{d: d, res: res}, nil
}

// host is the name other containers reach a peer by (its container name).
func (d *containerDriver) host(name string) string { return d.prefix + "-" + name }

func (d *containerDriver) StartGatherer(ctx context.Context, spec GathererSpec) (*Gatherer, error) {
	impl, err := d.opts.impl(spec)
	if err != nil {
		return nil, err
	}
	if err := checkGatherer(spec, impl); err != nil {
		return nil, err
	}
	g := &Gatherer{Name: spec.Name, Kind: spec.Kind, Impl: impl, Dir: filepath.Join(d.opts.Dir, spec.Name)}
	// /metrics listens on every interface of the container, so that the
	// test process reaches it at the container's address.
	g.runArgs = runArgs(spec, fmt.Sprintf("0.0.0.0:%d", containerMetricsPort))
	inside := "/scenario/" + spec.Name
	args, err := createArgs(spec, fmt.Sprintf("tcp:%d", containerGathererPort),
		fmt.Sprintf("tcp:%s:%d", d.host(spec.Name), containerGathererPort), inside)
	if err != nil {
		return nil, err
	}
	// twistd refuses to start while twistd.pid names a live process; in a
	// restarted container the stale pid (1) is always "live", so drop it.
	create, runCmd := "flogtool", "cd "+inside+" && rm -f twistd.pid && exec twistd3 -n --logfile=twistd.log --pidfile=twistd.pid -y gatherer.tac"
	if impl == ImplGo {
		create, runCmd = "gatherer", "exec gatherer run "+shellJoin(append(g.runArgs, inside))
	}
	// Create once; a restarted container only runs the gatherer again.
	script := fmt.Sprintf("[ -f %s/port ] || %s %s || exit 1; %s", inside, create, shellJoin(args), runCmd)
	image := "bookworm"
	if impl == ImplGo {
		image = GoImageRepository
		if d.p.images[image] == "" {
			return nil, fmt.Errorf("no minimal image for our gatherer: %s was not built when the suite started", GathererBinary(d.opts.Repo))
		}
	}
	c, err := d.run(spec.Name, image, []string{"sh", "-c", script})
	if err != nil {
		return nil, err
	}
	g.proc = c
	g.runNear = c.exec
	if spec.Metrics {
		g.MetricsURL = metricsURL(c.res.GetIPInNetwork(d.network))
	}
	if err := d.waitGatherer(ctx, g, c); err != nil {
		return nil, err
	}
	return g, nil
}

func (d *containerDriver) waitGatherer(ctx context.Context, g *Gatherer, c *container) error {
	furlFile := filepath.Join(g.Dir, g.FURLFile())
	err := WaitFor(ctx, "the gatherer's FURL to answer a Foolscap connection", func(ctx context.Context) (bool, error) {
		if !c.running() {
			return false, fmt.Errorf("the gatherer's container stopped; its log:\n%s", c.output())
		}
		furl, err := readFURLFile(furlFile)
		if err != nil || furl == "" {
			return false, err
		}
		// A real Foolscap connection from inside the gatherer's container:
		// python-foolscap's pyprobe in the Debian image, gatherer-check in
		// our minimal one (which has no Python).
		probe := []string{"python3", "/peers/pyprobe.py", "--timeout", "5", furl}
		if g.Impl == ImplGo {
			probe = []string{"gatherer-check", "--timeout", "5s", furl}
		}
		out, code, err := c.exec(ctx, probe...)
		if err != nil || code != 0 {
			return false, fmt.Errorf("%s: exit %d, %v: %s", probe[0], code, err, out)
		}
		g.FURL = furl
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("start the %s gatherer in a container: %w", g.Impl, err)
	}
	return nil
}

func (d *containerDriver) RunGatherer(ctx context.Context, g *Gatherer) error {
	c, ok := g.proc.(*container)
	if !ok {
		return fmt.Errorf("gatherer %s was not started by the container driver", g.Name)
	}
	if err := d.p.pool.Client.StartContainerWithContext(c.res.Container.ID, nil, ctx); err != nil {
		return fmt.Errorf("start gatherer %s again: %w", g.Name, err)
	}
	if g.MetricsURL != "" {
		// The address may change when a container restarts.
		ip, err := c.ip(ctx)
		if err != nil {
			return err
		}
		g.MetricsURL = metricsURL(ip)
	}
	return d.waitGatherer(ctx, g, c)
}

func metricsURL(ip string) string {
	return "http://" + net.JoinHostPort(ip, strconv.Itoa(containerMetricsPort)) + "/metrics"
}

func flavourOf(foolscap string) (string, error) {
	switch foolscap {
	case "", Foolscap217:
		return "bookworm", nil
	case Foolscap249:
		return "trixie", nil
	}
	return "", fmt.Errorf("no python-foolscap %q peer (have %s and %s)", foolscap, Foolscap217, Foolscap249)
}

func (d *containerDriver) StartNode(ctx context.Context, spec NodeSpec) (*Node, error) {
	argv := []string{"/peers/pynode.py", "--nodedir", "/scenario/" + spec.Name}
	for _, f := range spec.Gatherers {
		argv = append(argv, "--gatherer", f)
	}
	if spec.Ephemeral {
		argv = append(argv, "--ephemeral")
	}
	if spec.TrailingDelay > 0 {
		argv = append(argv, "--trailing-delay", strconv.FormatFloat(spec.TrailingDelay, 'g', -1, 64))
	}
	what := "node " + spec.Name
	c, ctl, info, err := d.startPython(ctx, what, spec.Name, spec.Foolscap, argv)
	if err != nil {
		return nil, err
	}
	n := &Node{Name: spec.Name, Dir: filepath.Join(d.opts.Dir, spec.Name), proc: c, ctl: ctl}
	n.TubID, _ = info["tubid"].(string)
	n.LogPort, _ = info["logport"].(string)
	// Off the network, the node's control port is reached from inside its
	// container, over its loopback.
	n.local = func(ctx context.Context, line string) (map[string]any, error) {
		out, code, err := c.exec(ctx, "python3", "/peers/peerctl.py", "send",
			fmt.Sprintf("127.0.0.1:%d", containerControlPort), line)
		if err != nil || code != 0 {
			return nil, fmt.Errorf("send %q to %s inside its container: exit %d, %v: %s", line, what, code, err, out)
		}
		fmt.Fprintf(n.ctl.log, "%s", out)
		return parseAnswer(out, line)
	}
	// Started again (RunNode), the container runs the same command on the
	// same bind-mounted NODEDIR: same Tub key, same incident directory.
	n.start = func(ctx context.Context) (map[string]any, error) {
		if err := d.p.pool.Client.StartContainerWithContext(c.res.Container.ID, nil, ctx); err != nil {
			return nil, fmt.Errorf("docker start %s: %w", c.res.Container.Name, err)
		}
		ctl, info, err := d.connectControl(ctx, what, c)
		if err != nil {
			return nil, err
		}
		n.ctl = ctl
		return info, nil
	}
	return n, nil
}

// RunNode starts a killed node's container again.
func (d *containerDriver) RunNode(ctx context.Context, n *Node) error {
	c, ok := n.proc.(*container)
	if !ok {
		return fmt.Errorf("node %s was not started by the container driver", n.Name)
	}
	if c.running() {
		return fmt.Errorf("node %s is still running", n.Name)
	}
	return rerunNode(ctx, n)
}

func (d *containerDriver) StartStatsProvider(ctx context.Context, spec StatsProviderSpec) (*StatsProvider, error) {
	if err := spec.check(); err != nil {
		return nil, err
	}
	what := "stats provider " + spec.Name
	c, ctl, info, err := d.startPython(ctx, what, spec.Name, spec.Foolscap, spec.args("/peers", "/scenario/"+spec.Name))
	if err != nil {
		return nil, err
	}
	sp := &StatsProvider{Name: spec.Name, Nickname: spec.nickname(), Dir: filepath.Join(d.opts.Dir, spec.Name), proc: c, ctl: ctl}
	sp.TubID, _ = info["tubid"].(string)
	if sp.TubID == "" {
		return nil, fmt.Errorf("%s answered info without a tubid: %v", what, info)
	}
	return sp, nil
}

// startPython runs a Python peer (argv: the script and its own options) in
// the image of the python-foolscap release, listening on the scenario's
// network under its host name, and waits until its control port answers
// "info" (the Tub then has its location). It returns the control channel
// and that answer.
func (d *containerDriver) startPython(ctx context.Context, what, name, foolscap string, argv []string) (*container, *control, map[string]any, error) {
	flavour, err := flavourOf(foolscap)
	if err != nil {
		return nil, nil, nil, err
	}
	cmd := append([]string{"python3"}, argv...)
	cmd = append(cmd, "--port", strconv.Itoa(containerNodePort), "--listen-interface", "0.0.0.0",
		"--location-host", d.host(name),
		"--control", fmt.Sprintf("tcp:%d", containerControlPort), "--allow-stdin-close")
	c, err := d.run(name, flavour, cmd)
	if err != nil {
		return nil, nil, nil, err
	}
	ctl, info, err := d.connectControl(ctx, what, c)
	if err != nil {
		return nil, nil, nil, err
	}
	return c, ctl, info, nil
}

// connectControl waits until the peer in c answers "info" on its control
// port (at its current address: a restarted container may have another).
func (d *containerDriver) connectControl(ctx context.Context, what string, c *container) (*control, map[string]any, error) {
	var (
		ctl  *control
		info map[string]any
	)
	ip, err := c.ip(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("start %s: %w", what, err)
	}
	addr := net.JoinHostPort(ip, strconv.Itoa(containerControlPort))
	err = WaitFor(ctx, what+" to answer on its control port "+addr, func(ctx context.Context) (bool, error) {
		if !c.running() {
			return false, fmt.Errorf("the container of %s stopped; its log:\n%s", what, c.output())
		}
		var dialer net.Dialer
		conn, err := dialer.DialContext(ctx, "tcp", addr)
		if err != nil {
			return false, err
		}
		cc := newControl(conn, conn, &lockedBuffer{})
		ans, err := cc.command(ctx, "info")
		if err != nil {
			conn.Close()
			return false, err // not located yet: the peer answers with an error
		}
		ctl, info = cc, ans
		d.closers = append(d.closers, conn.Close)
		return true, nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("start %s: %w", what, err)
	}
	return ctl, info, nil
}

func (d *containerDriver) StartTahoe(ctx context.Context, spec TahoeSpec) (*Tahoe, error) {
	inside := "/scenario/" + spec.Name
	create, err := d.run(spec.Name+"-create", "trixie", []string{"tahoe", "create-node",
		fmt.Sprintf("--port=tcp:%d", containerTahoePort),
		fmt.Sprintf("--location=tcp:%s:%d", d.host(spec.Name), containerTahoePort),
		fmt.Sprintf("--webport=tcp:%d:interface=0.0.0.0", containerWebPort),
		"--nickname=" + spec.Name, inside})
	if err != nil {
		return nil, err
	}
	code, err := d.p.pool.Client.WaitContainerWithContext(create.res.Container.ID, ctx)
	if err != nil || code != 0 {
		return nil, fmt.Errorf("tahoe create-node %s: exit %d, %v\n%s", spec.Name, code, err, create.output())
	}
	t := &Tahoe{Name: spec.Name, Dir: filepath.Join(d.opts.Dir, spec.Name)}
	if spec.LogGatherer != "" {
		if err := setLogGatherer(filepath.Join(t.Dir, "tahoe.cfg"), spec.LogGatherer); err != nil {
			return nil, err
		}
	}
	// Tahoe refuses to start while running.process names a live process;
	// in a restarted container the stale pid (1) is always live.
	c, err := d.run(spec.Name, "trixie", []string{"sh", "-c",
		"rm -f " + inside + "/running.process && exec tahoe run --allow-stdin-close " + inside})
	if err != nil {
		return nil, err
	}
	t.proc = c
	started := false
	t.start = func(ctx context.Context) error {
		if started { // a restart: the container exists, stopped
			if err := d.p.pool.Client.StartContainerWithContext(c.res.Container.ID, nil, ctx); err != nil {
				return fmt.Errorf("start Tahoe node %s again: %w", spec.Name, err)
			}
			// The address may change when a container restarts.
			ip, err := c.ip(ctx)
			if err != nil {
				return err
			}
			t.WebURL = fmt.Sprintf("http://%s/", net.JoinHostPort(ip, strconv.Itoa(containerWebPort)))
		}
		started = true
		return waitTahoe(ctx, t, func() bool { return !c.running() }, c.output)
	}
	t.WebURL = fmt.Sprintf("http://%s/", net.JoinHostPort(c.res.GetIPInNetwork(d.network), strconv.Itoa(containerWebPort)))
	t.PeerWebURL = fmt.Sprintf("http://%s/", net.JoinHostPort(d.host(spec.Name), strconv.Itoa(containerWebPort)))
	t.curl = func(ctx context.Context, args ...string) (string, error) {
		// The last argument is a path on the node's web port.
		args[len(args)-1] = fmt.Sprintf("localhost:%d/%s", containerWebPort, args[len(args)-1])
		out, code, err := c.exec(ctx, append([]string{"curl"}, args...)...)
		if err != nil || code != 0 {
			return out, fmt.Errorf("curl %s in the node's container: exit %d, %v: %s", strings.Join(args, " "), code, err, out)
		}
		return out, nil
	}
	t.follow = func(ctx context.Context, argv []string, until func(string) bool) (string, error) {
		return c.follow(ctx, argv, until)
	}
	if err := t.start(ctx); err != nil {
		return nil, err
	}
	return t, nil
}

func (d *containerDriver) RestartTahoe(ctx context.Context, t *Tahoe) error {
	return restartTahoe(ctx, t)
}

func (d *containerDriver) Close(ctx context.Context) error {
	var errs []error
	for _, f := range d.closers {
		_ = f()
	}
	for i := len(d.resources) - 1; i >= 0; i-- {
		if err := d.p.pool.Client.RemoveContainer(dc.RemoveContainerOptions{ID: d.resources[i].Container.ID,
			Force: true, RemoveVolumes: true, Context: ctx}); err != nil {
			errs = append(errs, fmt.Errorf("remove container %s: %w", d.resources[i].Container.Name, err))
		}
	}
	if err := d.p.pool.Client.RemoveNetwork(d.network.Network.ID); err != nil {
		errs = append(errs, fmt.Errorf("remove network %s: %w", d.network.Network.Name, err))
	}
	return errors.Join(errs...)
}

// shellJoin quotes args for sh -c.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}
