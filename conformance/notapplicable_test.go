package conformance

import (
	"slices"
	"testing"

	"github.com/gatherer/gatherer/conformance/peers"
)

func TestNotApplicable(t *testing.T) {
	tests := []struct {
		name, impl, mode string
		want             []string // tags
	}{
		{"ours in containers runs everything", peers.ImplGo, peers.ModeContainer, nil},
		{"the reference has no stats gatherer", peers.ImplPython, peers.ModeContainer, []string{goOnlyTag}},
		{"process mode has no network to cut", peers.ImplGo, peers.ModeProcess, []string{containerOnlyTag}},
		{"both", peers.ImplPython, peers.ModeProcess, []string{goOnlyTag, containerOnlyTag}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, r := range notApplicable(tc.impl, tc.mode) {
				if r.reason == "" {
					t.Errorf("rule %s has no reason for the matrix", r.tag)
				}
				got = append(got, r.tag)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("notApplicable(%s, %s) = %q, want %q", tc.impl, tc.mode, got, tc.want)
			}
		})
	}
}
