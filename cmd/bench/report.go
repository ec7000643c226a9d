package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"

	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatherer/gatherer/internal/atomicfile"
)

// Row is one figure, ours beside python's.
type Row struct {
	Workload string `json:"workload"`
	Case     string `json:"case"`
	Metric   string `json:"metric"`
	Unit     string `json:"unit"`
	// Go and Python are the figures; NaN (null in JSON) when not measured.
	Go     float64 `json:"go"`
	Python float64 `json:"python"`
	// HigherBetter says which way the ratio reads.
	HigherBetter bool `json:"higher_better"`
	// Ratio is how many times better ours is (ours/python when higher is
	// better, python/ours otherwise); NaN when either side is missing.
	Ratio float64 `json:"ratio"`
	Note  string  `json:"note,omitempty"`
}

// IncidentPoint is one point of the plot.
type IncidentPoint struct {
	Nodes  int     `json:"nodes"`
	Go     float64 `json:"go_incidents_per_s"`
	Python float64 `json:"python_incidents_per_s"`
}

type report struct {
	Started   time.Time       `json:"started"`
	Seconds   float64         `json:"seconds"`
	Quick     bool            `json:"quick"`
	Workloads []string        `json:"workloads"`
	Machine   machine         `json:"machine"`
	Rows      []Row           `json:"rows"`
	Plot      []IncidentPoint `json:"incident_plot"`
	Profiles  []profileResult `json:"profiles,omitempty"`
	Notes     []string        `json:"notes,omitempty"`
}

func (r *report) add(row Row) {
	row.Ratio = math.NaN()
	if ok(row.Go) && ok(row.Python) && row.Go > 0 && row.Python > 0 {
		if row.HigherBetter {
			row.Ratio = row.Go / row.Python
		} else {
			row.Ratio = row.Python / row.Go
		}
	}
	r.Rows = append(r.Rows, row)
}

func ok(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// jsonFloat writes NaN as null.
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	if !ok(float64(f)) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(f))
}

func (r Row) MarshalJSON() ([]byte, error) {
	type plain Row
	return json.Marshal(struct {
		plain
		Go     jsonFloat `json:"go"`
		Python jsonFloat `json:"python"`
		Ratio  jsonFloat `json:"ratio"`
	}{plain(r), jsonFloat(r.Go), jsonFloat(r.Python), jsonFloat(r.Ratio)})
}

func (p IncidentPoint) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Nodes  int       `json:"nodes"`
		Go     jsonFloat `json:"go_incidents_per_s"`
		Python jsonFloat `json:"python_incidents_per_s"`
	}{p.Nodes, jsonFloat(p.Go), jsonFloat(p.Python)})
}

func fmtNum(f float64) string {
	switch {
	case !ok(f):
		return "-"
	case f == 0:
		return "0"
	case math.Abs(f) >= 100:
		return fmt.Sprintf("%.0f", f)
	case math.Abs(f) >= 10:
		return fmt.Sprintf("%.1f", f)
	case math.Abs(f) >= 0.1:
		return fmt.Sprintf("%.2f", f)
	}
	return fmt.Sprintf("%.3g", f)
}

func fmtRatio(f float64) string {
	if !ok(f) {
		return "-"
	}
	if f >= 10 {
		return fmt.Sprintf("%.0fx", f)
	}
	return fmt.Sprintf("%.2fx", f)
}

func (r *report) printTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKLOAD\tCASE\tMETRIC\tOURS\tPYTHON\tOURS BETTER BY\tNOTE")
	for _, row := range r.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s (%s)\t%s\t%s\t%s\t%s\n", row.Workload, row.Case, row.Metric, row.Unit,
			fmtNum(row.Go), fmtNum(row.Python), fmtRatio(row.Ratio), row.Note)
	}
	_ = tw.Flush()
}

func (r *report) markdown() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "# Gatherer benchmark, %s\n\n", r.Started.Format(time.RFC3339))
	fmt.Fprintf(&sb, "Run: `make bench`%s; %.0f s; workloads %s.\n\n", map[bool]string{true: " (-quick)", false: ""}[r.Quick], r.Seconds, strings.Join(r.Workloads, ", "))
	sb.WriteString(r.Machine.markdown())
	sb.WriteString("\n| workload | case | metric | ours | python | ours better by | note |\n|---|---|---|---:|---:|---:|---|\n")
	for _, row := range r.Rows {
		fmt.Fprintf(&sb, "| %s | %s | %s (%s) | %s | %s | %s | %s |\n", row.Workload, row.Case, row.Metric, row.Unit,
			fmtNum(row.Go), fmtNum(row.Python), fmtRatio(row.Ratio), row.Note)
	}
	for _, p := range r.Profiles {
		fmt.Fprintf(&sb, "\n## Profile: our gatherer, %s workload\n\n%s\n\n```\n%s\n```\n", p.Workload, p.Summary, p.Top)
	}
	if len(r.Notes) > 0 {
		sb.WriteString("\n## Notes\n\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&sb, "- %s\n", n)
		}
	}
	return sb.String()
}

func (r *report) write(dir string) error {
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the report: %w", err)
	}
	w := atomicfile.Writer{Perm: 0o644}
	if err := w.WriteFile(filepath.Join(dir, "bench.json"), func(f io.Writer) error {
		_, err := f.Write(append(js, '\n'))
		return err
	}); err != nil {
		return fmt.Errorf("writing bench.json: %w", err)
	}
	if err := w.WriteFile(filepath.Join(dir, "bench.md"), func(f io.Writer) error {
		_, err := io.WriteString(f, r.markdown())
		return err
	}); err != nil {
		return fmt.Errorf("writing bench.md: %w", err)
	}
	png, err := plotIncidents(r.Plot)
	if err != nil {
		return fmt.Errorf("drawing the plot: %w", err)
	}
	if err := w.WriteFile(filepath.Join(dir, "incidents.png"), func(f io.Writer) error {
		_, err := f.Write(png)
		return err
	}); err != nil {
		return fmt.Errorf("writing incidents.png: %w", err)
	}
	return nil
}
