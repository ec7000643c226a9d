package main

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
)

// machine describes where the figures were taken.
type machine struct {
	CPUs     int    `json:"cpus"`
	CPUModel string `json:"cpu_model"`
	MemTotal string `json:"mem_total"`
	Kernel   string `json:"kernel"`
	Go       string `json:"go"`
	Python   string `json:"python"`
	Foolscap string `json:"foolscap"`
	Twisted  string `json:"twisted"`
	Bzip2    string `json:"bzip2_tools"`
}

func describeMachine(ctx context.Context) machine {
	m := machine{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	m.CPUModel = procField("/proc/cpuinfo", "model name")
	m.MemTotal = procField("/proc/meminfo", "MemTotal")
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	out, err := exec.CommandContext(ctx, python, "-c",
		"import sys, foolscap, twisted; print(sys.version.split()[0], foolscap.__version__, twisted.__version__)").Output()
	if err == nil {
		if f := strings.Fields(string(out)); len(f) == 3 {
			m.Python, m.Foolscap, m.Twisted = f[0], f[1], f[2]
		}
	}
	var tools []string
	for _, t := range []string{"bzip2", "pbzip2", "lbzip2"} {
		if _, err := exec.LookPath(t); err == nil {
			tools = append(tools, t)
		}
	}
	m.Bzip2 = strings.Join(tools, ", ")
	if m.Bzip2 == "" {
		m.Bzip2 = "none"
	}
	return m
}

func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func (m machine) markdown() string {
	return fmt.Sprintf("Machine: %d CPUs (%s), %s RAM, Linux %s; %s; Python %s with foolscap %s, Twisted %s; bzip2 tools: %s.\n",
		m.CPUs, m.CPUModel, m.MemTotal, m.Kernel, m.Go, m.Python, m.Foolscap, m.Twisted, m.Bzip2)
}

// cpuTimes is the machine's CPU time so far, from the first line of
// /proc/stat, in clock ticks: busy (all but idle and iowait) and total.
type cpuTimes struct{ busy, total int64 }

func readCPUTimes() (cpuTimes, error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return cpuTimes{}, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return cpuTimes{}, fmt.Errorf("/proc/stat is empty")
	}
	fields := strings.Fields(sc.Text())
	if len(fields) < 5 || fields[0] != "cpu" {
		return cpuTimes{}, fmt.Errorf("/proc/stat starts with %q", sc.Text())
	}
	var t cpuTimes
	for i, f := range fields[1:] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return cpuTimes{}, fmt.Errorf("/proc/stat field %d: %w", i+1, err)
		}
		t.total += n
		if i != 3 && i != 4 { // idle, iowait
			t.busy += n
		}
	}
	return t, nil
}

// busyShare is the share of the machine's CPU time that was busy between
// two readings (1 = every CPU busy), NaN when unknown.
func busyShare(a, b cpuTimes) float64 {
	if b.total <= a.total {
		return math.NaN()
	}
	return float64(b.busy-a.busy) / float64(b.total-a.total)
}
