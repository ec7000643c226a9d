package main

import "runtime/debug"

// version is the module version recorded in the binary ("devel" when built
// from a work tree), put in the test incident's versions dict.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}
