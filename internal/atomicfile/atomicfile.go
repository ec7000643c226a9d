package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// TempSuffix ends the name of every temporary file this package creates.
const TempSuffix = ".tmp"

// File is the part of *os.File a write needs. Tests implement it to inject
// faults.
type File interface {
	io.Writer
	Sync() error
	Close() error
	Name() string
}

// CreateFunc creates a new, empty temporary file in dir whose name matches
// pattern in the sense of os.CreateTemp.
type CreateFunc func(dir, pattern string) (File, error)

// OSCreate is the CreateFunc backed by os.CreateTemp.
func OSCreate(dir, pattern string) (File, error) {
	return os.CreateTemp(dir, pattern)
}

// Writer writes files atomically. The zero value uses the real file system.
type Writer struct {
	// Create makes temporary files; nil means OSCreate.
	Create CreateFunc
	// Perm is the mode given to the file; 0 means 0o644. The process umask
	// is not applied (the temporary file is created 0o600 and then chmod'ed).
	Perm os.FileMode
	// NoSync skips both fsyncs, of the file and of its directory, for a
	// file that is only a hint: readers still see the old content or the
	// new, never a mix, but after a power cut the file may hold the old
	// content or be empty. Whoever reads it must cope with that.
	NoSync bool
}

// WriteFile creates path with the bytes that fill writes. Either the whole
// new content is visible under path afterwards, or path is unchanged and no
// temporary file is left behind.
func (w Writer) WriteFile(path string, fill func(io.Writer) error) (err error) {
	create := w.Create
	if create == nil {
		create = OSCreate
	}
	perm := w.Perm
	if perm == 0 {
		perm = 0o644
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := create(dir, "."+base+".*"+TempSuffix)
	if err != nil {
		return fmt.Errorf("create temporary file for %s: %w", path, err)
	}
	tmp := f.Name()
	closed := false
	defer func() {
		if err != nil {
			if !closed {
				_ = f.Close()
			}
			_ = os.Remove(tmp)
		}
	}()
	if err = fill(f); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if !w.NoSync {
		if err = f.Sync(); err != nil {
			return fmt.Errorf("fsync %s: %w", tmp, err)
		}
	}
	closed = true
	if err = f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err = os.Chmod(tmp, perm); err != nil {
		return fmt.Errorf("set mode of %s: %w", tmp, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s into place: %w", path, err)
	}
	if w.NoSync {
		return nil
	}
	return SyncDir(dir)
}

// WriteFile writes data to path atomically with the default Writer.
func WriteFile(path string, data []byte) error {
	return Writer{}.WriteFile(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// Rename renames oldpath to newpath and makes the rename durable by syncing
// both parent directories.
func Rename(oldpath, newpath string) error {
	if err := os.Rename(oldpath, newpath); err != nil {
		return fmt.Errorf("rename %s: %w", oldpath, err)
	}
	if err := SyncDir(filepath.Dir(newpath)); err != nil {
		return err
	}
	if od := filepath.Dir(oldpath); od != filepath.Dir(newpath) {
		return SyncDir(od)
	}
	return nil
}

// AppendLine appends line (which must end in a newline) to path, creating the
// file if needed, and fsyncs it. A single write call is used, so concurrent
// readers see whole lines unless the disk fills up.
func AppendLine(path string, line []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("open %s for append: %w", path, err)
	}
	if _, err := f.Write(line); err != nil {
		_ = f.Close()
		return fmt.Errorf("append to %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("fsync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	return nil
}

// SyncDir fsyncs a directory so that renames and creations in it survive a
// crash.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %s: %w", dir, err)
	}
	err = d.Sync()
	cerr := d.Close()
	if err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	if cerr != nil {
		return fmt.Errorf("close directory %s: %w", dir, cerr)
	}
	return nil
}

// IsTemp reports whether a file name is one of this package's temporary
// files.
func IsTemp(name string) bool {
	return strings.HasPrefix(name, ".") && strings.HasSuffix(name, TempSuffix)
}

// RemoveTemps deletes the temporary files a crash left in dir and returns
// their names. A missing dir is not an error.
func RemoveTemps(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	var removed []string
	for _, e := range entries {
		if e.IsDir() || !IsTemp(e.Name()) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return removed, fmt.Errorf("remove leftover %s: %w", p, err)
		}
		removed = append(removed, e.Name())
	}
	return removed, nil
}
