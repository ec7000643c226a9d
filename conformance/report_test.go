package conformance

import (
	"errors"
	"strings"
	"testing"
)

func TestMatrixMarkdown(t *testing.T) {
	tests := []struct {
		name    string
		results []Result
		want    []string // lines that must appear
		failed  bool
	}{
		{
			name: "outline examples are told apart by their version tags",
			results: []Result{
				{Scenario: "a node's incident is gathered", Tags: []string{"@incident", "@foolscap-21.7"}, Impl: "go", Mode: "process"},
				{Scenario: "a node's incident is gathered", Tags: []string{"@incident", "@foolscap-24.9"}, Impl: "go", Mode: "process"},
				{Scenario: "a node's incident is gathered", Tags: []string{"@incident", "@foolscap-21.7"}, Impl: "python", Mode: "process"},
			},
			want: []string{
				"| scenario | go / process | python / process |",
				"| a node's incident is gathered (@foolscap-21.7) | pass | pass |",
				"| a node's incident is gathered (@foolscap-24.9) | pass | not run |",
			},
		},
		{
			name: "a scenario the implementation cannot run is n/a, with the reason listed, and no failure",
			results: []Result{
				{Scenario: "stats", Tags: []string{"@go-only"}, Impl: "go", Mode: "process"},
				{Scenario: "stats", Tags: []string{"@go-only"}, Impl: "python", Mode: "process", NotApplicable: "no reference"},
			},
			want: []string{
				"| stats | pass | n/a |",
				"## Not applicable (n/a)",
				"- python / process, 1 scenario(s): no reference",
			},
		},
		{
			name: "failures are marked and listed with the first line of the error",
			results: []Result{
				{Scenario: "x | y", Impl: "go", Mode: "container", Err: errors.New("waited for a|b\nlong log")},
			},
			want: []string{
				`| x \| y | **FAIL** |`,
				"## Failures",
				`- x \| y, go / container: waited for a\|b`,
			},
			failed: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var m Matrix
			for _, r := range tc.results {
				m.Record(r)
			}
			var b strings.Builder
			if err := m.WriteMarkdown(&b); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(b.String(), "\n")
			for _, w := range tc.want {
				found := false
				for _, l := range lines {
					if l == w {
						found = true
					}
				}
				if !found {
					t.Errorf("missing line %q in:\n%s", w, b.String())
				}
			}
			if m.Failed() != tc.failed {
				t.Errorf("Failed() = %v, want %v", m.Failed(), tc.failed)
			}
		})
	}
}
