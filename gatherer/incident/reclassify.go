package incident

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gatherer/gatherer/gatherer/classify"
	"github.com/gatherer/gatherer/internal/atomicfile"
)

// ReclassifyResult summarises a Reclassify run.
type ReclassifyResult struct {
	Incidents  int            // incident files classified
	Categories map[string]int // incidents per category
}

// Reclassify rebuilds BASEDIR/classified/ from the files under incidents/
// with the given classifier (the workflow Python needs a restart and manual
// deletions for). The new tree is written aside as .classified.new and then
// swapped in with two renames; a crash in between is repaired by the next
// Start or Reclassify. The gatherer must not be running on dir meanwhile.
func Reclassify(ctx context.Context, dir string, fl Flog, c Classifier, log *slog.Logger) (ReclassifyResult, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if c == nil {
		c = (*classify.Rules)(nil)
	}
	if fl == nil {
		fl = PyFlog{}
	}
	res := ReclassifyResult{Categories: map[string]int{}}
	if err := recoverClassified(dir); err != nil {
		return res, err
	}
	lines := map[string][]string{}
	err := walkStored(ctx, dir, fl, log, func(st stored) error {
		cats := c.Classify(st.trigger)
		for _, cat := range cats {
			if err := classify.ValidCategory(cat); err != nil {
				return fmt.Errorf("classifier returned a bad category: %w", err)
			}
			lines[cat] = append(lines[cat], st.rel)
			res.Categories[cat]++
		}
		res.Incidents++
		log.Info(fmt.Sprintf("classified %s as [%s]", st.rel, strings.Join(cats, ",")))
		return nil
	}, nil)
	if err != nil {
		return res, err
	}

	newDir := filepath.Join(dir, classifiedNew)
	if err := os.Mkdir(newDir, 0o755); err != nil {
		return res, fmt.Errorf("create %s: %w", newDir, err)
	}
	cats := make([]string, 0, len(lines))
	for cat := range lines {
		cats = append(cats, cat)
	}
	sort.Strings(cats)
	for _, cat := range cats {
		data := strings.Join(lines[cat], "\n") + "\n"
		if err := atomicfile.WriteFile(filepath.Join(newDir, cat), []byte(data)); err != nil {
			_ = os.RemoveAll(newDir)
			return res, fmt.Errorf("write new classification: %w", err)
		}
	}
	cls := filepath.Join(dir, ClassifiedDir)
	oldDir := filepath.Join(dir, classifiedOld)
	if _, err := os.Stat(cls); err == nil {
		if err := atomicfile.Rename(cls, oldDir); err != nil {
			_ = os.RemoveAll(newDir)
			return res, fmt.Errorf("set the old classification aside: %w", err)
		}
	}
	if err := atomicfile.Rename(newDir, cls); err != nil {
		return res, fmt.Errorf("put the new classification in place (the next start finishes the job): %w", err)
	}
	if err := os.RemoveAll(oldDir); err != nil {
		return res, fmt.Errorf("remove the old classification: %w", err)
	}
	return res, nil
}
