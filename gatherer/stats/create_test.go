package stats

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestCreate(t *testing.T) {
	tests := []struct {
		name         string
		opts         CreateOptions
		wantLocation string // regexp
		wantPort     string // regexp
		wantErr      error
	}{
		{name: "hostname", opts: CreateOptions{Hostname: "stats.example"},
			wantLocation: `^tcp:stats\.example:(\d+)$`, wantPort: `^tcp:(\d+)$`},
		{name: "IPv6 hostname", opts: CreateOptions{Hostname: "::1"},
			wantLocation: `^tcp:\[::1\]:(\d+)$`, wantPort: `^tcp:(\d+)$`},
		{name: "location and port", opts: CreateOptions{Location: "tcp:127.0.0.1:3010", Port: "tcp:3010:interface=127.0.0.1"},
			wantLocation: `^tcp:127\.0\.0\.1:3010$`, wantPort: `^tcp:3010:interface=127\.0\.0\.1$`},
		{name: "nothing", opts: CreateOptions{}, wantErr: ErrNeedLocation},
		{name: "location without port", opts: CreateOptions{Location: "tcp:h:1"}, wantErr: ErrNeedLocation},
		{name: "hostname and location", opts: CreateOptions{Hostname: "h", Location: "tcp:h:1", Port: "tcp:1"}, wantErr: ErrNeedLocation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "sg")
			err := Create(t.Context(), dir, tt.opts)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Create = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{LocationFile, PortFile} {
				if b := mustRead(t, filepath.Join(dir, f)); !strings.HasSuffix(string(b), "\n") || strings.Count(string(b), "\n") != 1 {
					t.Errorf("%s = %q, want one line ending in a newline", f, b)
				}
			}
			for _, f := range []string{TacFile, WebNodesFile} {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Errorf("%s not written: %v", f, err)
				}
			}
			cfg, err := ReadConfig(dir)
			if err != nil {
				t.Fatal(err)
			}
			lm := regexp.MustCompile(tt.wantLocation).FindStringSubmatch(cfg.Location)
			pm := regexp.MustCompile(tt.wantPort).FindStringSubmatch(cfg.Port)
			if lm == nil || pm == nil {
				t.Fatalf("location %q, port %q; want %s, %s", cfg.Location, cfg.Port, tt.wantLocation, tt.wantPort)
			}
			if len(lm) > 1 && lm[1] != pm[1] {
				t.Errorf("location port %s differs from listen port %s", lm[1], pm[1])
			}
			// The new directory opens, and its web_nodes template lists no node.
			s := newTestService(t, Options{Dir: dir})
			if err := s.Poll(t.Context()); err != nil {
				t.Fatal(err)
			}
			if n := len(s.NodeStats()); n != 0 {
				t.Errorf("fresh gatherer has %d entries", n)
			}
		})
	}
}

func TestCreateRefusesNonEmpty(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err := Create(t.Context(), dir, CreateOptions{Hostname: "h"})
	if !errors.Is(err, ErrDirNotEmpty) {
		t.Fatalf("Create(non-empty) = %v, want ErrDirNotEmpty", err)
	}
	// An existing empty directory is fine.
	if err := Create(t.Context(), t.TempDir(), CreateOptions{Hostname: "h"}); err != nil {
		t.Errorf("Create(empty existing dir) = %v", err)
	}
}

func TestReadConfigMissing(t *testing.T) {
	dir := t.TempDir()
	_, err := ReadConfig(dir)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "rebuild") {
		t.Errorf("ReadConfig(empty dir) = %v, want ErrNotExist and a hint to rebuild", err)
	}
	// A Tahoe 1.12 directory: values with a trailing newline.
	os.WriteFile(filepath.Join(dir, LocationFile), []byte("tcp:example.org:3010\n"), 0o644)
	os.WriteFile(filepath.Join(dir, PortFile), []byte("tcp:3010\n"), 0o644)
	cfg, err := ReadConfig(dir)
	if err != nil || cfg != (Config{Location: "tcp:example.org:3010", Port: "tcp:3010"}) {
		t.Errorf("ReadConfig = %+v, %v", cfg, err)
	}
}
