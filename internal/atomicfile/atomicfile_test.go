package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// faultyFile wraps a real temporary file and fails after limit bytes or on
// Sync.
type faultyFile struct {
	*os.File
	limit    int
	failSync bool
}

func (f *faultyFile) Write(p []byte) (int, error) {
	if len(p) > f.limit {
		n, _ := f.File.Write(p[:f.limit])
		f.limit = 0
		return n, io.ErrShortWrite
	}
	f.limit -= len(p)
	return f.File.Write(p)
}

func (f *faultyFile) Sync() error {
	if f.failSync {
		return errors.New("injected fsync failure")
	}
	return f.File.Sync()
}

func TestWriteFileFaults(t *testing.T) {
	tests := []struct {
		name     string
		limit    int
		failSync bool
		fillErr  error
	}{
		{name: "short write", limit: 5},
		{name: "fsync fails", limit: 1 << 20, failSync: true},
		{name: "fill fails", limit: 1 << 20, fillErr: errors.New("encoder refused")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "out.flog.bz2")
			if err := os.WriteFile(path, []byte("old content"), 0o644); err != nil {
				t.Fatal(err)
			}
			w := Writer{Create: func(dir, pattern string) (File, error) {
				f, err := os.CreateTemp(dir, pattern)
				if err != nil {
					return nil, err
				}
				return &faultyFile{File: f, limit: tt.limit, failSync: tt.failSync}, nil
			}}
			err := w.WriteFile(path, func(w io.Writer) error {
				if _, err := w.Write([]byte("new content that is long")); err != nil {
					return err
				}
				return tt.fillErr
			})
			if err == nil {
				t.Fatal("WriteFile succeeded despite the injected fault")
			}
			got, rerr := os.ReadFile(path)
			if rerr != nil || string(got) != "old content" {
				t.Errorf("destination = %q, %v; want the old content untouched", got, rerr)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 {
				t.Errorf("directory holds %d entries, want only the destination", len(entries))
			}
		})
	}
}

func TestWriteFileAndRemoveTemps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "latest")
	if err := WriteFile(path, []byte("incident-x\n")); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != "incident-x\n" {
		t.Fatalf("content = %q", got)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode = %v, want 0644", fi.Mode().Perm())
	}
	for _, n := range []string{".latest.123.tmp", ".x.flog.bz2.9.tmp", "keep.tmp", "incident-a.flog.bz2"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := RemoveTemps(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 2 {
		t.Errorf("removed %v, want the two dot-tmp files", removed)
	}
	if _, err := os.Stat(filepath.Join(dir, "keep.tmp")); err != nil {
		t.Errorf("a file that is not ours was removed: %v", err)
	}
	if r, err := RemoveTemps(filepath.Join(dir, "missing")); err != nil || r != nil {
		t.Errorf("missing dir: %v, %v", r, err)
	}
}

func TestAppendLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "unknown")
	for _, l := range []string{"a\n", "b\n"} {
		if err := AppendLine(path, []byte(l)); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := os.ReadFile(path); string(got) != "a\nb\n" {
		t.Errorf("content = %q", got)
	}
}

func TestAppenderGroupsConcurrentLines(t *testing.T) {
	p := filepath.Join(t.TempDir(), "classified")
	a := NewAppender(p)
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() { errs <- a.Append(fmt.Appendf(nil, "line %03d\n", i)) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(got), "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("%d lines, want %d, each once and none torn", len(lines), n)
	}
	slices.Sort(lines)
	for i, l := range lines {
		if want := fmt.Sprintf("line %03d", i); l != want {
			t.Fatalf("line %d is %q, want %q", i, l, want)
		}
	}
}

func TestAppenderReportsTheFailureToEveryLineOfTheBatch(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing")
	a := NewAppender(filepath.Join(dir, "classified")) // its directory does not exist
	if err := a.Append([]byte("x\n")); err == nil || !strings.Contains(err.Error(), "classified") {
		t.Fatalf("append into a missing directory: %v, want an error naming the file", err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := a.Append([]byte("y\n")); err != nil {
		t.Fatalf("a later batch, once the fault is gone: %v", err)
	}
	got, err := os.ReadFile(a.Path())
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "y\n" {
		t.Fatalf("file holds %q, want only the later line: a failed line is not written behind its caller's back", got)
	}
}

// TestNoSyncSkipsFsync: a hint written with NoSync never calls Sync (a
// failing fsync would fail it otherwise) and still replaces the file whole.
func TestNoSyncSkipsFsync(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "latest")
	if err := os.WriteFile(path, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w := Writer{NoSync: true, Create: func(dir, pattern string) (File, error) {
		f, err := os.CreateTemp(dir, pattern)
		if err != nil {
			return nil, err
		}
		return &faultyFile{File: f, limit: 1 << 20, failSync: true}, nil
	}}
	if err := w.WriteFile(path, func(w io.Writer) error {
		_, err := io.WriteString(w, "new\n")
		return err
	}); err != nil {
		t.Fatalf("WriteFile with NoSync called Sync or failed: %v", err)
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != "new\n" {
		t.Fatalf("latest = %q, %v; want the new content", got, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("directory holds %d entries, want only the file", len(entries))
	}
}
