package flog

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"testing"
)

var update = flag.Bool("update", false, "regenerate testdata/*.jsonl with /usr/bin/python3 (python3-foolscap)")

const python = "/usr/bin/python3"

func TestMain(m *testing.M) {
	flag.Parse()
	if *update {
		for _, args := range [][]string{
			{"testdata/pyformat.py", "testdata"},
			{"testdata/tail.py", "testdata", fixtureDir},
		} {
			cmd := exec.Command(python, args...)
			cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
			if err := cmd.Run(); err != nil {
				fmt.Fprintf(os.Stderr, "flog: regenerating golden tables with %s %s failed: %v\n", python, args[0], err)
				os.Exit(1)
			}
		}
	}
	os.Exit(m.Run())
}
