package stats

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// writeFileAtomic replaces dir/name with data: it writes dir/name.tmp,
// fsyncs it, renames it over dir/name and fsyncs dir, so a reader (or a
// crash) sees the old file or the new one, never a torn one. The temporary
// name is the one Tahoe's stats gatherer used (stats.json.tmp); leftovers are
// removed by removeTemp at start-up.
func writeFileAtomic(dir, name string, data []byte, perm os.FileMode) (err error) {
	final := filepath.Join(dir, name)
	tmp := final + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return fmt.Errorf("creating %s: %w", tmp, err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("flushing %s to disk: %w", tmp, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", tmp, err)
	}
	if err = os.Rename(tmp, final); err != nil {
		return fmt.Errorf("renaming %s to %s: %w", tmp, final, err)
	}
	if err = syncDir(dir); err != nil {
		return fmt.Errorf("flushing directory %s to disk: %w", dir, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	serr := d.Sync()
	cerr := d.Close()
	return errors.Join(serr, cerr)
}

// removeTemp deletes a leftover dir/name.tmp from an interrupted write.
func removeTemp(dir, name string) error {
	err := os.Remove(filepath.Join(dir, name+".tmp"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing leftover %s.tmp: %w", name, err)
	}
	return nil
}
