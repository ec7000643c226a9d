package conformance

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
)

// Result is the outcome of one scenario under one implementation and mode.
type Result struct {
	Scenario string
	Tags     []string
	Impl     string
	Mode     string
	Err      error
	// NotApplicable, if set, says why the scenario does not apply to this
	// implementation (it was not run; the matrix shows "n/a").
	NotApplicable string
}

// Matrix collects results from concurrent suite runs and writes them as a
// Markdown table: one row per scenario, one column per implementation x mode.
type Matrix struct {
	mu      sync.Mutex
	results []Result
}

// Record adds one result.
func (m *Matrix) Record(r Result) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.results = append(m.results, r)
}

// Failed reports whether any recorded scenario failed.
func (m *Matrix) Failed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range m.results {
		if r.Err != nil {
			return true
		}
	}
	return false
}

// WriteMarkdown writes the matrix. A scenario that ran several times in one
// column (Scenario Outline examples share a name) shows each outcome.
func (m *Matrix) WriteMarkdown(w io.Writer) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	type key struct{ row, col string }
	cells := map[key][]string{}
	var rows, cols []string
	var failures []string
	// notApplicable groups the n/a cells by column and reason.
	type naKey struct{ col, reason string }
	var naOrder []naKey
	naCount := map[naKey]int{}
	for _, r := range m.results {
		row := r.Scenario
		if tags := exampleTags(r.Tags); tags != "" {
			row += " (" + tags + ")"
		}
		col := r.Impl + " / " + r.Mode
		if !slices.Contains(rows, row) {
			rows = append(rows, row)
		}
		if !slices.Contains(cols, col) {
			cols = append(cols, col)
		}
		status := "pass"
		switch {
		case r.NotApplicable != "":
			status = "n/a"
			k := naKey{col, oneLine(r.NotApplicable)}
			if naCount[k] == 0 {
				naOrder = append(naOrder, k)
			}
			naCount[k]++
		case r.Err != nil:
			status = "**FAIL**"
			failures = append(failures, fmt.Sprintf("- %s, %s: %s", escapeCell(row), col, oneLine(r.Err.Error())))
		}
		cells[key{row, col}] = append(cells[key{row, col}], status)
	}
	var b strings.Builder
	b.WriteString("# Conformance matrix\n\n| scenario |")
	for _, c := range cols {
		fmt.Fprintf(&b, " %s |", c)
	}
	b.WriteString("\n|---|")
	for range cols {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s |", escapeCell(r))
		for _, c := range cols {
			s := strings.Join(cells[key{r, c}], ", ")
			if s == "" {
				s = "not run"
			}
			fmt.Fprintf(&b, " %s |", s)
		}
		b.WriteString("\n")
	}
	if len(naOrder) > 0 {
		b.WriteString("\n## Not applicable (n/a)\n\n")
		for _, k := range naOrder {
			fmt.Fprintf(&b, "- %s, %d scenario(s): %s\n", k.col, naCount[k], k.reason)
		}
	}
	if len(failures) > 0 {
		b.WriteString("\n## Failures\n\n")
		b.WriteString(strings.Join(failures, "\n"))
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// exampleTags keeps the tags that tell Outline examples apart (peer versions).
func exampleTags(tags []string) string {
	var keep []string
	for _, t := range tags {
		if strings.HasPrefix(t, "@foolscap-") || strings.HasPrefix(t, "@tahoe-") {
			keep = append(keep, t)
		}
	}
	return strings.Join(keep, " ")
}

func oneLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return escapeCell(s)
}

func escapeCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
