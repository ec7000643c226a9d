package stats

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
)

// CreateOptions are the flags of
// `gatherer create-stats-gatherer (--hostname HOST | --location HINTS --port PORT) DIR`.
type CreateOptions struct {
	// Hostname makes Create pick a free TCP port P and write
	// location "tcp:HOST:P" and port "tcp:P".
	Hostname string
	// Location (connection hints for the FURL) and Port (listen spec) are
	// written as given; both are needed when Hostname is empty.
	Location string
	Port     string
}

// ErrDirNotEmpty is returned by Create for a directory that already has
// files in it.
var ErrDirNotEmpty = errors.New("the base directory is not empty")

// ErrNeedLocation is returned by Create when neither --hostname nor both
// --location and --port were given.
var ErrNeedLocation = errors.New("you must provide --hostname, or --location and --port")

// webNodesTemplate is the initial content of web_nodes.
const webNodesTemplate = `# Tahoe-LAFS nodes to poll over HTTP (GET <URL>/statistics?t=json), for
# nodes too new to call a stats gatherer themselves (Tahoe 1.16 and later).
# One web URL per line, optionally followed by a nickname, e.g.
#   http://127.0.0.1:3456/ storage-7
# This file is re-read at every poll.
`

// tacTemplate stands where Tahoe 1.12 to 1.15.1 put their (obsolete) .tac
// file: `tahoe start` recognised a stats gatherer directory by its name.
// Run by twistd or Python it only says how this directory is meant to run.
const tacTemplate = `# This stats gatherer directory was created by the Go gatherer.
# Start it with:  gatherer run <this directory>
import sys
print("This stats gatherer is run by 'gatherer run', not by twistd or tahoe.")
sys.exit(1)
`

// Create makes a stats gatherer directory the way
// `tahoe create-stats-gatherer` did in Tahoe 1.12 to 1.15.1: it refuses a
// non-empty directory, creates it if missing and writes location, port (each
// value and a newline) and tahoe-stats-gatherer.tac, plus our web_nodes
// template. The Tub key (stats_gatherer.pem), the FURL file
// (stats_gatherer.furl) and stats.json appear when the gatherer first runs.
func Create(ctx context.Context, dir string, opts CreateOptions) error {
	location, port, err := resolveCreate(ctx, opts)
	if err != nil {
		return err
	}
	if err := prepareDir(dir); err != nil {
		return err
	}
	files := []struct {
		name, content string
	}{
		{LocationFile, location + "\n"},
		{PortFile, port + "\n"},
		{TacFile, tacTemplate},
		{WebNodesFile, webNodesTemplate},
	}
	for _, f := range files {
		if err := writeFileAtomic(dir, f.name, []byte(f.content), 0o644); err != nil {
			return fmt.Errorf("stats: creating the gatherer directory: %w", err)
		}
	}
	return nil
}

func resolveCreate(ctx context.Context, opts CreateOptions) (location, port string, err error) {
	for _, v := range []string{opts.Hostname, opts.Location, opts.Port} {
		if strings.ContainsAny(v, "\r\n") {
			return "", "", fmt.Errorf("stats: %q: a value must be a single line", v)
		}
	}
	switch {
	case opts.Hostname != "" && opts.Location == "" && opts.Port == "":
		p, err := freeTCPPort(ctx)
		if err != nil {
			return "", "", err
		}
		host := opts.Hostname
		if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
			host = "[" + host + "]" // IPv6 literal in a hint
		}
		return fmt.Sprintf("tcp:%s:%d", host, p), fmt.Sprintf("tcp:%d", p), nil
	case opts.Hostname == "" && opts.Location != "" && opts.Port != "":
		return opts.Location, opts.Port, nil
	}
	return "", "", fmt.Errorf("stats: %w", ErrNeedLocation)
}

// freeTCPPort asks the kernel for a free TCP port, as Tahoe's
// allocate_tcp_port did.
func freeTCPPort(ctx context.Context) (int, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", ":0")
	if err != nil {
		return 0, fmt.Errorf("stats: picking a free TCP port for --hostname: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func prepareDir(dir string) error {
	ents, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		// Private: it will hold the Tub's key and the FURL.
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("stats: creating the gatherer directory: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("stats: gatherer directory: %w", err)
	case len(ents) > 0:
		return fmt.Errorf("stats: %s: %w", dir, ErrDirNotEmpty)
	}
	return nil
}

// Config is what a stats gatherer directory says about its Tub.
type Config struct {
	Location string // contents of location, the FURL's connection hints
	Port     string // contents of port, the listen spec
}

// ReadConfig reads location and port from a stats gatherer directory made
// by Create or by Tahoe 1.12 to 1.15.1. A missing file is an error that
// wraps fs.ErrNotExist and tells the operator to rebuild the directory.
func ReadConfig(dir string) (Config, error) {
	var c Config
	for _, f := range []struct {
		name string
		dst  *string
	}{{LocationFile, &c.Location}, {PortFile, &c.Port}} {
		data, err := readLimited(filepath.Join(dir, f.name), 64<<10)
		if errors.Is(err, os.ErrNotExist) {
			return Config{}, fmt.Errorf("stats: unable to find %q in %s, please rebuild your stats gatherer: %w", f.name, dir, err)
		}
		if err != nil {
			return Config{}, fmt.Errorf("stats: reading %s: %w", filepath.Join(dir, f.name), err)
		}
		*f.dst = strings.TrimSpace(string(data))
		if *f.dst == "" {
			return Config{}, fmt.Errorf("stats: %s is empty, please rebuild your stats gatherer", filepath.Join(dir, f.name))
		}
	}
	return c, nil
}
