// Package fulldisk gives tests a real file system that fills up: a small
// tmpfs, and a file that takes all of its space. Tests of what the
// gatherers do on a full disk use it (docs/reliability.md).
//
// Layer: internal test support; it imports only the standard library.
package fulldisk

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// Mount mounts a tmpfs of size bytes on a fresh directory for the test
// (unmounted at the end), or skips when this process may not mount one.
func Mount(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	if err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).Run(); err != nil {
		t.Skipf("skipping: cannot mount a %d-byte tmpfs to fill (needs root or CAP_SYS_ADMIN): %v", size, err)
	}
	t.Cleanup(func() { _ = exec.Command("umount", dir).Run() })
	return dir
}

// Fill writes a file in dir until the file system is full, its last
// partial block included, and returns the file's path; removing it gives
// the space back.
func Fill(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "filler")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling the disk: %v", err)
			}
			break
		}
	}
	for {
		if _, err := f.Write(buf[:1]); err != nil {
			return p
		}
	}
}
