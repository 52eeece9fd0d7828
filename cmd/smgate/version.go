package main

import (
	"fmt"
	"runtime/debug"
	"strings"
)

func runVersion(e *env, args []string) int {
	fs := newFlags(e, "version", "")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "smgate version: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	bi, _ := debug.ReadBuildInfo()
	fmt.Fprintln(e.stdout, versionString(bi))
	return 0
}

// versionString renders the build information of the binary: the module
// version, the VCS revision and time it was built from (with "modified"
// when the tree had uncommitted changes) and the Go version, as far as
// the build recorded them: "smgate v1.2.0 (rev 1a2b3c4d5e6f, 2026-11-20T09:00:00Z) go1.26.0".
func versionString(bi *debug.BuildInfo) string {
	if bi == nil {
		return "smgate (no build information)"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, at string
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	var vcs []string
	if rev != "" {
		vcs = append(vcs, "rev "+rev[:min(len(rev), 12)])
	}
	if at != "" {
		vcs = append(vcs, at)
	}
	if modified {
		vcs = append(vcs, "modified")
	}
	out := "smgate " + v
	if len(vcs) > 0 {
		out += " (" + strings.Join(vcs, ", ") + ")"
	}
	return out + " " + bi.GoVersion
}
