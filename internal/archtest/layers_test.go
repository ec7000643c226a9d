package archtest

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/gatherer/gatherer"

// allowed lists, per package prefix (relative to the module), the module
// prefixes its imports may come from. The first matching rule wins.
var rules = []struct {
	pkg   string
	allow []string
}{
	{"foolscap/furl", []string{}},
	{"foolscap/banana", []string{}},
	{"foolscap/negotiate", []string{"foolscap/furl", "internal/"}},
	{"foolscap/pb", []string{"foolscap/banana", "foolscap/furl", "internal/"}},
	{"foolscap/tub", []string{"foolscap/", "internal/"}},
	{"foolscap/", []string{"foolscap/", "internal/"}},
	{"gatherer/flog", []string{"foolscap/banana", "internal/"}},
	{"gatherer/", []string{"gatherer/", "foolscap/", "internal/"}},
	{"cmd/", []string{"gatherer/", "foolscap/", "internal/", "cmd/"}},
	{"internal/", []string{"internal/", "foolscap/", "gatherer/"}},
}

type listedPackage struct {
	ImportPath string
	Imports    []string
}

func TestLayering(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	checked := 0
	for dec.More() {
		var p listedPackage
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("decoding go list output: %v", err)
		}
		rel := strings.TrimPrefix(p.ImportPath, module+"/")
		if strings.HasPrefix(rel, "conformance") || strings.HasPrefix(rel, "internal/archtest") {
			continue
		}
		var allow []string
		matched := false
		for _, r := range rules {
			if rel == r.pkg || strings.HasPrefix(rel, r.pkg) {
				allow, matched = r.allow, true
				break
			}
		}
		if !matched {
			t.Errorf("package %s has no layering rule: add one to internal/archtest", rel)
			continue
		}
		checked++
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			irel := strings.TrimPrefix(imp, module+"/")
			if strings.HasPrefix(irel, rel) { // own subpackages
				continue
			}
			ok := false
			for _, a := range allow {
				if irel == a || strings.HasPrefix(irel, a) {
					ok = true
					break
				}
			}
			if !ok {
				t.Errorf("%s imports %s, which its layer may not depend on", rel, irel)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no packages checked")
	}
}
