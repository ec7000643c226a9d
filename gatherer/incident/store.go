package incident

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gatherer/gatherer/internal/atomicfile"
)

// Names used while reclassify swaps classified/ (see Reclassify).
const (
	classifiedNew = ".classified.new"
	classifiedOld = ".classified.old"
)

const maxLatestSize = 4096

// relPath is the path of a stored incident relative to BASEDIR, as written
// into classified/ files (always with forward slashes, like Python on POSIX).
func relPath(tubid, name string) string {
	return path.Join(IncidentsDir, tubid, name+fileSuffix)
}

// recoverClassified finishes or undoes a Reclassify that a crash
// interrupted, and removes temporary files at the top of the tree.
func recoverClassified(dir string) error {
	cls := filepath.Join(dir, ClassifiedDir)
	newDir := filepath.Join(dir, classifiedNew)
	oldDir := filepath.Join(dir, classifiedOld)
	if _, err := os.Stat(cls); errors.Is(err, os.ErrNotExist) {
		if _, err := os.Stat(newDir); err == nil {
			if err := atomicfile.Rename(newDir, cls); err != nil {
				return fmt.Errorf("finish interrupted reclassification: %w", err)
			}
		} else if _, err := os.Stat(oldDir); err == nil {
			if err := atomicfile.Rename(oldDir, cls); err != nil {
				return fmt.Errorf("undo interrupted reclassification: %w", err)
			}
		}
	}
	for _, d := range []string{newDir, oldDir} {
		if err := os.RemoveAll(d); err != nil {
			return fmt.Errorf("remove leftover %s: %w", d, err)
		}
	}
	for _, d := range []string{dir, cls} {
		if _, err := atomicfile.RemoveTemps(d); err != nil {
			return err
		}
	}
	return nil
}

// readClassified returns, per category file, the relative paths it lists.
func readClassified(dir string) (map[string]map[string]bool, error) {
	cls := filepath.Join(dir, ClassifiedDir)
	entries, err := os.ReadDir(cls)
	if err != nil {
		return nil, fmt.Errorf("list classified incidents: %w", err)
	}
	out := map[string]map[string]bool{}
	for _, e := range entries {
		if e.IsDir() || atomicfile.IsTemp(e.Name()) {
			continue
		}
		f, err := os.Open(filepath.Join(cls, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read classified incidents: %w", err)
		}
		set := map[string]bool{}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 4096), 64<<10)
		for sc.Scan() {
			if l := strings.TrimSpace(sc.Text()); l != "" {
				set[l] = true
			}
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", filepath.Join(cls, e.Name()), err)
		}
		out[e.Name()] = set
	}
	return out, nil
}

// stored is one incident file found under incidents/.
type stored struct {
	tubid, name, rel string
	trigger          any
}

// walkStored calls fn for every readable incidents/<tubid>/incident-*.flog.bz2,
// in sorted order, removing temporary files on the way. Unreadable files are
// logged, passed to damaged if it is not nil, and skipped. With damaged set,
// the newest file of each node is also read to its end: it is the one a
// gatherer writing in place (python's) was writing if it was killed.
func walkStored(ctx context.Context, dir string, fl Flog, log *slog.Logger, fn func(stored) error, damaged func(tubid, name string)) error {
	in := filepath.Join(dir, IncidentsDir)
	nodes, err := os.ReadDir(in)
	if err != nil {
		return fmt.Errorf("list stored incidents: %w", err)
	}
	for _, n := range nodes {
		if !n.IsDir() {
			continue
		}
		nodedir := filepath.Join(in, n.Name())
		if removed, err := atomicfile.RemoveTemps(nodedir); err != nil {
			return err
		} else if len(removed) > 0 {
			log.Warn("removed unfinished files left by a crash", "dir", nodedir, "files", strings.Join(removed, ","))
		}
		files, err := os.ReadDir(nodedir)
		if err != nil {
			return fmt.Errorf("list stored incidents: %w", err)
		}
		names := make([]string, 0, len(files))
		for _, f := range files {
			if !f.IsDir() && strings.HasPrefix(f.Name(), "incident-") && strings.HasSuffix(f.Name(), fileSuffix) {
				names = append(names, f.Name())
			}
		}
		sort.Strings(names)
		for i, fname := range names {
			if err := ctx.Err(); err != nil {
				return err
			}
			p := filepath.Join(nodedir, fname)
			name := strings.TrimSuffix(fname, fileSuffix)
			read := fl.ReadHeader
			if damaged != nil && i == len(names)-1 {
				read = fl.ReadWhole
			}
			trig, err := readTrigger(read, p)
			if err != nil {
				log.Error("cannot read stored incident; skipping it", "file", p, "err", err)
				if damaged != nil {
					damaged(n.Name(), name)
				}
				continue
			}
			if err := fn(stored{tubid: n.Name(), name: name, rel: relPath(n.Name(), name), trigger: trig}); err != nil {
				return err
			}
		}
	}
	return nil
}

// DamagedSuffix is added to the name of a stored incident file found
// unreadable at start; the file is kept for the operator.
const DamagedSuffix = ".damaged"

// setAside renames a damaged stored incident out of the way and moves the
// node's latest back before it, so that the node offers the incident again
// and it is fetched whole (the node still has it unless it was deleted
// there). good lists the node's readable stored incidents; those are not
// fetched again, as a stored file's name is never fetched twice.
func setAside(nodedir, name string, good []string, create atomicfile.CreateFunc, log *slog.Logger) error {
	p := filepath.Join(nodedir, name+fileSuffix)
	if err := atomicfile.Rename(p, p+DamagedSuffix); err != nil {
		return fmt.Errorf("set aside damaged incident %s: %w", p, err)
	}
	latest, err := readLatest(nodedir)
	if err != nil {
		return err
	}
	if latest == "" || latest < name {
		log.Warn(fmt.Sprintf("set aside the damaged incident file %s as %s; it will be fetched again if the node still has it", p, filepath.Base(p+DamagedSuffix)))
		return nil
	}
	back := ""
	for _, g := range good {
		if g < name && g > back {
			back = g
		}
	}
	if back == "" {
		// Durably gone, for the reason writeLatest fsyncs a move back.
		if err = os.Remove(filepath.Join(nodedir, LatestFile)); err == nil {
			err = atomicfile.SyncDir(nodedir)
		}
	} else {
		err = writeLatest(nodedir, back, create, false)
	}
	if err != nil {
		return fmt.Errorf("move latest back before damaged incident %s: %w", p, err)
	}
	if back == "" {
		back = "(none)"
	}
	log.Warn(fmt.Sprintf("set aside the damaged incident file %s as %s and moved latest back from %s to %s; it will be fetched again if the node still has it",
		p, filepath.Base(p+DamagedSuffix), latest, back))
	return nil
}

// readTrigger returns the trigger of the header that read (a Flog's
// ReadHeader or ReadWhole) finds in the file p.
func readTrigger(read func(io.Reader) (any, error), p string) (any, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h, err := read(f)
	if err != nil {
		return nil, err
	}
	trig, ok := dictGet(h, "trigger")
	if !ok {
		return nil, errors.New("header has no trigger")
	}
	return trig, nil
}

func readLatest(nodedir string) (string, error) {
	f, err := os.Open(filepath.Join(nodedir, LatestFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", nil
		}
		return "", fmt.Errorf("read latest: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxLatestSize))
	if err != nil {
		return "", fmt.Errorf("read latest: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// writeLatest records name as the node's last known incident, atomically.
//
// Moving latest forward (forward true) is not fsynced: latest only says
// where to start asking, and the incident it names was fsynced, with its
// directory, before it is written. A power cut can leave the previous name
// or an empty file, and both only make the node offer incidents again that
// fetch finds already stored. Python does not fsync it either; ours saves
// two fsyncs per incident. Moving it back (setAside) is fsynced: a power cut
// that kept the old, later name would let the node never offer the
// incident again.
func writeLatest(nodedir, name string, create atomicfile.CreateFunc, forward bool) error {
	return atomicfile.Writer{Create: create, NoSync: forward}.WriteFile(filepath.Join(nodedir, LatestFile), func(w io.Writer) error {
		_, err := io.WriteString(w, name+"\n")
		return err
	})
}
