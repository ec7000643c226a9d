package peers

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	dc "github.com/ory/dockertest/v3/docker"
)

// GoImageRepository is the minimal image our gatherer runs in, in container
// mode: the two static binaries and a static busybox (for the shell the
// driver's start and stop scripts use, and for bzip2, which --bzip runs as
// python-foolscap's log gatherer does). Nothing else: no Python, no libc.
const GoImageRepository = "gatherer-go"

// BusyboxPath is the static busybox of Debian's busybox-static package.
const BusyboxPath = "/bin/busybox"

// busyboxApplets are the commands the driver's scripts and the gatherer
// use inside the image.
var busyboxApplets = []string{"sh", "cat", "rm", "kill", "ls", "test", "[", "sleep", "mkdir", "env"}

// buildGoImage imports (unless it exists) the minimal image for the
// binaries in the repository, tagged with a hash of its contents.
func buildGoImage(ctx context.Context, client *dc.Client, repo string) (string, error) {
	files := []struct{ src, dst string }{
		{GathererBinary(repo), "usr/local/bin/gatherer"},
		{CheckBinary(repo), "usr/local/bin/gatherer-check"},
		{BusyboxPath, "bin/busybox"},
	}
	h := sha256.New()
	contents := make([][]byte, len(files))
	for i, f := range files {
		b, err := os.ReadFile(f.src)
		if err != nil {
			return "", fmt.Errorf("the minimal gatherer image needs %s (make build; busybox-static from make deps): %w", f.src, err)
		}
		contents[i] = b
		fmt.Fprintf(h, "%s %d\n", f.dst, len(b))
		h.Write(b)
	}
	tag := hex.EncodeToString(h.Sum(nil))[:12]
	name := GoImageRepository + ":" + tag
	if _, err := client.InspectImage(name); err == nil {
		return name, nil
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Now()
	dirs := []struct {
		name string
		mode int64
	}{{"bin/", 0o755}, {"usr/", 0o755}, {"usr/bin/", 0o755}, {"usr/local/", 0o755}, {"usr/local/bin/", 0o755}, {"tmp/", 0o1777}, {"etc/", 0o755}}
	for _, d := range dirs {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d.name, Mode: d.mode, ModTime: now}); err != nil {
			return "", err
		}
	}
	for i, f := range files {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.dst, Mode: 0o755, Size: int64(len(contents[i])), ModTime: now}); err != nil {
			return "", err
		}
		if _, err := tw.Write(contents[i]); err != nil {
			return "", err
		}
	}
	for _, a := range busyboxApplets {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + a, Linkname: "busybox", ModTime: now}); err != nil {
			return "", err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "usr/bin/bzip2", Linkname: "/bin/busybox", ModTime: now}); err != nil {
		return "", err
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	err := client.ImportImage(dc.ImportImageOptions{
		Repository:  GoImageRepository,
		Tag:         tag,
		Source:      "-",
		InputStream: &buf,
		Context:     ctx,
	})
	if err != nil {
		return "", fmt.Errorf("import the minimal gatherer image %s: %w", name, err)
	}
	return name, nil
}
