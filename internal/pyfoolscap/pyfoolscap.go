// Package pyfoolscap finds the reference implementation for tests:
// python-foolscap 21.7 from Debian, run with Debian's /usr/bin/python3 (the
// python3 first on PATH may be another interpreter without it).
//
// Layer: internal test support; it imports only the standard library.
package pyfoolscap

import (
	"os/exec"
	"testing"
)

// Python is the interpreter that has Debian's python3-foolscap.
const Python = "/usr/bin/python3"

// Need skips the test, with a message saying how to fix it, when Python
// cannot import foolscap (make deps installs it).
func Need(t testing.TB) {
	t.Helper()
	if out, err := exec.Command(Python, "-c", "import foolscap").CombinedOutput(); err != nil {
		t.Skipf("%s cannot import foolscap (%v %s): install python3-foolscap (make deps) to run the tests against the reference", Python, err, out)
	}
}
