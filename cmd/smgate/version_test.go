package main

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, out, errs := runCmd(t, "", args...)
		if code != 0 || !strings.HasPrefix(out, "smgate ") || !strings.Contains(out, runtime.Version()) {
			t.Errorf("smgate %v: exit %d, stdout %q, stderr %q; want smgate and the Go version", args, code, out, errs)
		}
	}
	if code, _, errs := runCmd(t, "", "version", "x"); code != 2 || !strings.Contains(errs, `unexpected argument "x"`) {
		t.Errorf("version x: exit %d, %s", code, errs)
	}
	if _, out, _ := runCmd(t, "", "help"); !strings.Contains(out, "version") {
		t.Errorf("help does not list version:\n%s", out)
	}
}

func TestVersionString(t *testing.T) {
	tests := []struct {
		name string
		bi   *debug.BuildInfo
		want string
	}{
		{"release", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v1.2.0"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d"}, {Key: "vcs.time", Value: "2026-11-20T09:00:00Z"}, {Key: "vcs.modified", Value: "false"}}},
			"smgate v1.2.0 (rev 1a2b3c4d5e6f, 2026-11-20T09:00:00Z) go1.26.0"},
		{"dirty tree", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "1a2b3c4"}, {Key: "vcs.modified", Value: "true"}}},
			"smgate (devel) (rev 1a2b3c4, modified) go1.26.0"},
		{"no vcs", &debug.BuildInfo{GoVersion: "go1.26.0"}, "smgate (devel) go1.26.0"},
		{"no build info", nil, "smgate (no build information)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := versionString(tc.bi); got != tc.want {
				t.Errorf("versionString = %q, want %q", got, tc.want)
			}
		})
	}
}
