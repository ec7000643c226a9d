package tub

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/gatherer/gatherer/foolscap/furl"
	"github.com/gatherer/gatherer/foolscap/pb"
	"github.com/gatherer/gatherer/internal/atomicfile"
)

// RegisterFURLFile registers obj the way python-foolscap's
// registerReference(obj, furlFile=path) does: the swissnum is taken from the
// FURL already in path if there is one (its tubid must be ours), otherwise
// a new one is made; the FURL is rebuilt with the current location and
// written back to path followed by a newline, atomically, mode 0600.
func (t *Tub) RegisterFURLFile(obj pb.Referenceable, path string) (string, error) {
	name := ""
	old, err := os.ReadFile(path)
	switch {
	case err == nil && strings.TrimSpace(string(old)) != "":
		f, perr := furl.Parse(strings.TrimSpace(string(old)))
		if perr != nil {
			return "", fmt.Errorf("tub: %s holds no usable FURL: %w", path, perr)
		}
		if f.TubID != t.tubID {
			return "", fmt.Errorf("tub: cannot keep using the FURL in %s: its tubid %s is not ours (%s); was the key file replaced?", path, f.TubID, t.tubID)
		}
		name = f.Name
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("tub: reading %s: %w", path, err)
	}
	s, err := t.Register(obj, name)
	if err != nil {
		return "", err
	}
	if err := (atomicfile.Writer{Perm: 0o600}).WriteFile(path, func(w io.Writer) error {
		_, err := io.WriteString(w, s+"\n")
		return err
	}); err != nil {
		return "", fmt.Errorf("tub: writing %s: %w", path, err)
	}
	return s, nil
}
