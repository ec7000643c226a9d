package metrics

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFamilyNamesMatchTahoe: for every key of a real Tahoe 1.20
// /statistics?t=json body, FamilyName gives the metric name the same node
// exposes in /statistics?t=openmetrics.
func TestFamilyNamesMatchTahoe(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "tahoe-1.20-statistics.json"))
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join("testdata", "tahoe-1.20-statistics.openmetrics"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tahoe := make(map[string]bool)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, _, _ := strings.Cut(line, " ")
		tahoe[name] = true
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	n := 0
	for cat, kv := range body {
		for key := range kv {
			n++
			fam, q := FamilyName(cat, key)
			if q != "" {
				fam += `{quantile="` + q + `"}`
			}
			if !tahoe[fam] {
				t.Errorf("%s.%s: our name %s is not in Tahoe's openmetrics output", cat, key, fam)
			}
		}
	}
	if n != len(tahoe) {
		t.Errorf("%d keys in the JSON body, %d series in the openmetrics body", n, len(tahoe))
	}
}
