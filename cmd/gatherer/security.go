package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"

	"github.com/gatherer/gatherer/foolscap/banana"
)

// minIncidentSize is the smallest --max-incident-size: below it even the
// logport handshake and small incidents would be refused.
const minIncidentSize = 1 << 20

// privateFiles are the files of a gatherer directory that hold a secret: the
// Tub's private key (its identity) and the FURLs (their swissnum lets anyone
// publish to the gatherer).
var privateFiles = [...]string{"gatherer.pem", "stats_gatherer.pem", "log_gatherer.furl", "stats_gatherer.furl"}

// limitsFor returns the Banana limits of a gatherer that accepts messages
// (incidents) of up to maxSize bytes.
func limitsFor(maxSize int) banana.Limits {
	return banana.Limits{MaxMessageBytes: maxSize, MaxStringBytes: min(maxSize, banana.DefaultMaxStringBytes)}
}

// checkPrivateDir refuses a gatherer directory that every user may write
// to (anyone could replace the key, the FURL or the stored incidents), and
// warns about secret files that other users can read. Python-made
// directories keep python's modes (the key is often 0644), so those are a
// warning, not a refusal. A missing directory is left to readDirConfig.
func checkPrivateDir(dir string, stderr io.Writer) error {
	fi, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("check the gatherer directory: %w", err)
	}
	if perm := fi.Mode().Perm(); fi.IsDir() && perm&0o002 != 0 {
		return fmt.Errorf("refusing to run in %s: it is writable by every user (mode %04o), so anyone on this machine could replace its key, its FURL or what it gathered; run 'chmod o-w %s' (or 'chmod 700 %s') and start again",
			dir, perm, dir, dir)
	}
	for _, name := range privateFiles {
		p := filepath.Join(dir, name)
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			fmt.Fprintf(stderr, "WARNING: %s holds a secret but other users may access it (mode %04o); run 'chmod 600 %s'\n", p, perm, p)
		}
	}
	return nil
}

// metricsExposed reports whether a --metrics address listens beyond the
// local machine: the endpoint has neither TLS nor authentication, so the
// gatherer warns about it (the counters hold no secret, but they show the
// grid's activity).
func metricsExposed(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false // net.Listen reports the bad address
	}
	if host == "localhost" {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}
