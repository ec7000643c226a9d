package loadnode

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/gatherer/gatherer/foolscap/furl"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Implementations of a gatherer.
const (
	ImplGo     = "go"     // our bin/gatherer
	ImplPython = "python" // flogtool create-* + twistd3 -n -y gatherer.tac
)

// Kinds of gatherer.
const (
	KindIncident = "incident"
	KindLog      = "log"
)

// GathererSpec says which gatherer process to run.
type GathererSpec struct {
	Impl string // ImplGo or ImplPython
	Kind string // KindIncident or KindLog
	// Dir is the gatherer directory to create (it must not hold one yet).
	Dir string
	// Bzip compresses the log gatherer's rotated files (--bzip).
	Bzip bool
	// Rotate is the log gatherer's --rotate period in seconds (0: none).
	Rotate int
	// Binary is our gatherer executable (ImplGo).
	Binary string
	// Flogtool and Twistd are python-foolscap's tools (ImplPython);
	// empty means "flogtool" and "twistd3" from PATH.
	Flogtool, Twistd string
	// ExtraRunArgs are added to "gatherer run" (ImplGo).
	ExtraRunArgs []string
	// Prepare, if set, is called with Dir after the gatherer directory is
	// created and before the gatherer starts (to put files in it).
	Prepare func(dir string) error
}

// Gatherer is a running gatherer process.
type Gatherer struct {
	Spec GathererSpec
	FURL string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// StartGatherer creates a gatherer directory on a free loopback port and
// runs the gatherer in the foreground as a child process, returning once
// its FURL file is written.
func StartGatherer(ctx context.Context, spec GathererSpec) (*Gatherer, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	portSpec := fmt.Sprintf("tcp:%d:interface=127.0.0.1", port)
	location := fmt.Sprintf("tcp:127.0.0.1:%d", port)
	createCmd := "create-incident-gatherer"
	if spec.Kind == KindLog {
		createCmd = "create-gatherer"
	}
	args := []string{createCmd, "--quiet", "--port", portSpec, "--location", location}
	if spec.Bzip {
		args = append(args, "--bzip")
	}
	if spec.Rotate > 0 {
		args = append(args, "--rotate", strconv.Itoa(spec.Rotate))
	}
	args = append(args, spec.Dir)
	var create, run *exec.Cmd
	switch spec.Impl {
	case ImplGo:
		if spec.Binary == "" {
			return nil, errors.New("loadnode: GathererSpec.Binary is required for our gatherer")
		}
		create = exec.CommandContext(ctx, spec.Binary, args...)
		run = exec.Command(spec.Binary, append(append([]string{"run"}, spec.ExtraRunArgs...), spec.Dir)...)
	case ImplPython:
		flogtool, twistd := spec.Flogtool, spec.Twistd
		if flogtool == "" {
			flogtool = "flogtool"
		}
		if twistd == "" {
			twistd = "twistd3"
		}
		create = exec.CommandContext(ctx, flogtool, args...)
		run = exec.Command(twistd, "-n", "--logfile=twistd.log", "--pidfile=twistd.pid", "-y", "gatherer.tac")
		run.Dir = spec.Dir
	default:
		return nil, fmt.Errorf("loadnode: unknown gatherer implementation %q", spec.Impl)
	}
	if out, err := create.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("loadnode: %s %s: %w: %s", spec.Impl, createCmd, err, bytes.TrimSpace(out))
	}
	if spec.Prepare != nil {
		if err := spec.Prepare(spec.Dir); err != nil {
			return nil, fmt.Errorf("loadnode: preparing %s: %w", spec.Dir, err)
		}
	}
	logf, err := os.Create(filepath.Join(spec.Dir, "stdout.log"))
	if err != nil {
		return nil, fmt.Errorf("loadnode: %w", err)
	}
	run.Stdout, run.Stderr = logf, logf
	if err := run.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("loadnode: starting the %s gatherer: %w", spec.Impl, err)
	}
	g := &Gatherer{Spec: spec, cmd: run, done: make(chan struct{})}
	go func() {
		g.err = run.Wait()
		logf.Close()
		close(g.done)
	}()
	furlPath := filepath.Join(spec.Dir, "log_gatherer.furl")
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(30 * time.Second)
	for {
		// The FURL file can appear before the listener accepts (python
		// writes it while its Tub starts): ready means it also answers.
		if b, err := os.ReadFile(furlPath); err == nil && bytes.HasSuffix(b, []byte("\n")) && listening(ctx, strings.TrimSpace(string(b))) {
			g.FURL = strings.TrimSpace(string(b))
			return g, nil
		}
		select {
		case <-g.done:
			return nil, fmt.Errorf("loadnode: the %s gatherer exited before writing its FURL (%v); see %s", spec.Impl, g.err, logf.Name())
		case <-ctx.Done():
			_ = g.Stop(context.Background())
			return nil, ctx.Err()
		case <-deadline:
			_ = g.Stop(context.Background())
			return nil, fmt.Errorf("loadnode: the %s gatherer wrote no FURL within 30 s; see %s", spec.Impl, logf.Name())
		case <-tick.C:
		}
	}
}

// listening reports whether some hint of the FURL accepts a TCP connection.
func listening(ctx context.Context, furlStr string) bool {
	f, err := furl.Parse(furlStr)
	if err != nil {
		return false
	}
	for _, h := range f.Hints {
		addr, err := h.DialAddress()
		if err != nil {
			continue
		}
		dctx, cancel := context.WithTimeout(ctx, time.Second)
		c, err := (&net.Dialer{}).DialContext(dctx, "tcp", addr)
		cancel()
		if err == nil {
			c.Close()
			return true
		}
	}
	return false
}

// PID is the gatherer process's pid.
func (g *Gatherer) PID() int { return g.cmd.Process.Pid }

// Stop sends SIGTERM and waits for the process to exit (SIGKILL when ctx
// ends first).
func (g *Gatherer) Stop(ctx context.Context) error {
	select {
	case <-g.done:
		return nil
	default:
	}
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.done:
		return nil
	case <-ctx.Done():
		_ = g.cmd.Process.Kill()
		<-g.done
		return fmt.Errorf("loadnode: the %s gatherer did not stop on SIGTERM: %w", g.Spec.Impl, ctx.Err())
	}
}

// Usage is a process's resource use read from /proc.
type Usage struct {
	RSS     int64         // resident set, bytes (VmRSS)
	HWM     int64         // peak resident set, bytes (VmHWM)
	CPU     time.Duration // user + system time (see ProcUsage)
	Threads int
}

// Usage reads the gatherer's resource use (see ProcUsage).
func (g *Gatherer) Usage() (Usage, error) { return ProcUsage(g.PID()) }

// ProcUsage reads a process's resource use from /proc. CPU is the time
// the scheduler counted for the process's threads (schedstat, in
// nanoseconds), which resolves the few milliseconds of a short case;
// where schedstat is missing it is utime+stime, in 10-ms clock ticks.
// Threads that have exited are not in schedstat: the gatherers measured
// keep theirs (Go's runtime and Twisted's reactor do).
func ProcUsage(pid int) (Usage, error) {
	var u Usage
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u, fmt.Errorf("loadnode: reading process %d's status: %w", pid, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(fields[0], 10, 64)
		switch k {
		case "VmRSS":
			u.RSS = n << 10
		case "VmHWM":
			u.HWM = n << 10
		case "Threads":
			u.Threads = int(n)
		}
	}
	if cpu, ok := schedCPU(pid); ok {
		u.CPU = cpu
		return u, nil
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return u, fmt.Errorf("loadnode: reading process %d's stat: %w", pid, err)
	}
	// Fields after the parenthesised command name; utime and stime are
	// fields 14 and 15 of the whole line, in clock ticks (100 per second
	// on Linux).
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return u, fmt.Errorf("loadnode: process %d's stat is malformed", pid)
	}
	fs := strings.Fields(string(stat[i+1:]))
	if len(fs) < 13 {
		return u, fmt.Errorf("loadnode: process %d's stat is too short", pid)
	}
	ut, _ := strconv.ParseInt(fs[11], 10, 64)
	st, _ := strconv.ParseInt(fs[12], 10, 64)
	u.CPU = time.Duration(ut+st) * 10 * time.Millisecond
	return u, nil
}

// schedCPU sums the on-CPU time of pid's threads from
// /proc/<pid>/task/*/schedstat; ok is false when that cannot be read.
func schedCPU(pid int) (cpu time.Duration, ok bool) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, err := os.ReadDir(dir)
	if err != nil || len(tasks) == 0 {
		return 0, false
	}
	for _, t := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, t.Name(), "schedstat"))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // the thread exited meanwhile
			}
			return 0, false
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			return 0, false
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, false
		}
		cpu += time.Duration(ns)
	}
	return cpu, true
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("loadnode: finding a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
