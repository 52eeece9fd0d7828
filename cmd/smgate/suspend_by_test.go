package main

import (
	"os"
	"os/user"
	"strconv"
	"strings"
	"testing"

	"github.com/smgate/smgate/logs"
)

// osUser is what whoami falls back to without $SUDO_USER and $USER.
func osUser(t *testing.T) string {
	t.Helper()
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "uid " + strconv.Itoa(os.Getuid())
}

func TestWhoami(t *testing.T) {
	for _, tc := range []struct {
		name, sudo, user, want string
	}{
		{"sudo first", "carol", "root", "carol"},
		{"then USER", "", "dave", "dave"},
		{"then the OS user", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("SUDO_USER", tc.sudo)
			t.Setenv("USER", tc.user)
			want := tc.want
			if want == "" {
				want = osUser(t)
			}
			if got := whoami(); got != want {
				t.Errorf("whoami() = %q, want %q", got, want)
			}
		})
	}
}

// TestCLISuspendByOSUser: with $SUDO_USER and $USER unset, suspend and
// reinstate record the OS user, not the API's default "admin-api".
func TestCLISuspendByOSUser(t *testing.T) {
	path := adminConfig(t, true)
	g, _ := runGateway(t, path)
	cli := cliConfig(t, path, g.ls.admin.Addr().String())
	t.Setenv("SUDO_USER", "")
	t.Setenv("USER", "")
	want := osUser(t)
	runOK(t, 0, "suspended agency DOT at", "suspend", "DOT", "--reason", "R", "--config", cli)
	runOK(t, 0, "reinstated agency DOT", "reinstate", "DOT", "--config", cli)
	var got []string
	for _, r := range usageRecords(t, g) {
		if r.Action == logs.ActionSuspend || r.Action == logs.ActionReinstate {
			got = append(got, r.Action+" by "+r.By)
		}
	}
	if s := strings.Join(got, ", "); s != "suspend by "+want+", reinstate by "+want {
		t.Errorf("records: %s; want by %q", s, want)
	}
	runOK(t, 0, "then the user the command runs as", "suspend", "-h")
}
