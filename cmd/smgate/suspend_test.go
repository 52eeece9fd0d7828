package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smgate/smgate/allowlist"
	"github.com/smgate/smgate/logs"
)

// cliConfig writes, next to the gateway file at path, a copy whose
// admin.listen is addr (the gateway binds port 0; the CLI needs the real
// one) and returns it.
func cliConfig(t *testing.T, path, addr string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cli := filepath.Join(filepath.Dir(path), "cli.toml")
	if err := os.WriteFile(cli, b, 0o600); err != nil {
		t.Fatal(err)
	}
	editFile(t, cli, "[admin]\nlisten = \"127.0.0.1:0\"", "[admin]\nlisten = \""+addr+"\"")
	return cli
}

// TestCLISuspendReinstate drives a running gateway with the CLI.
func TestCLISuspendReinstate(t *testing.T) {
	path := adminConfig(t, true)
	g, _ := runGateway(t, path)
	cli := cliConfig(t, path, g.ls.admin.Addr().String())
	t.Setenv("SUDO_USER", "carol")
	steps := []struct {
		name    string
		args    []string
		code    int
		out     string
		blocked bool // tlee's next request to YouTube
	}{
		{"suspend agency", []string{"suspend", "DOT", "--reason", "phishing campaign", "--config", cli}, 0, "suspended agency DOT", true},
		{"again", []string{"suspend", "--config", cli, "DOT", "--reason", "again"}, 1, "already suspended (since", true},
		{"reinstate agency", []string{"reinstate", "DOT", "--config", cli}, 0, "reinstated agency DOT", false},
		{"reinstate again", []string{"reinstate", "DOT", "--config", cli}, 1, "not suspended (HTTP 409)", false},
		{"suspend platform", []string{"suspend", "--platform", "youtube", "--reason", "outage", "--by", "dave", "--config", cli}, 0, "suspended platform youtube", true},
		{"reinstate platform", []string{"reinstate", "--platform", "youtube", "--config", cli}, 0, "reinstated platform youtube", false},
		{"suspend account", []string{"suspend", "--account", "dot-youtube", "--reason", "compromised", "--config", cli}, 0, "suspended account dot-youtube", true},
		{"reinstate account", []string{"reinstate", "--account", "dot-youtube", "--config", cli}, 0, "reinstated account dot-youtube", false},
		{"unknown agency", []string{"suspend", "NOPE", "--reason", "x", "--config", cli}, 1, `agency "NOPE": not found (HTTP 404)`, false},
	}
	for _, st := range steps {
		code, out, errs := runCmd(t, "", st.args...)
		if code != st.code || !strings.Contains(out+errs, st.out) {
			t.Fatalf("%s: smgate %s = exit %d\n%s%s\nwant exit %d with %q", st.name, strings.Join(st.args, " "), code, out, errs, st.code, st.out)
		}
		if d := decideTLee(g, "www.youtube.com"); d.Allow == st.blocked {
			t.Errorf("%s: decision %+v, want blocked %v", st.name, d, st.blocked)
		}
	}
	var got []string
	for _, r := range usageRecords(t, g) {
		if r.Action != logs.ActionReload {
			got = append(got, r.Action+" "+r.Target+" by "+r.By)
		}
	}
	want := "suspend agency:DOT by carol,reinstate agency:DOT by carol,suspend platform:youtube by dave," +
		"reinstate platform:youtube by carol,suspend account:dot-youtube by carol,reinstate account:dot-youtube by carol"
	if strings.Join(got, ",") != want {
		t.Errorf("usage records:\n%s\nwant\n%s", strings.Join(got, ","), want)
	}
}

// TestCLIErrors: usage errors exit 2; a gateway that cannot be reached or
// refuses the token exits 1 with a message that says what to do.
func TestCLIErrors(t *testing.T) {
	path := adminConfig(t, true)
	g, _ := runGateway(t, path)
	cli := cliConfig(t, path, g.ls.admin.Addr().String())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	down := filepath.Join(t.TempDir(), "down.toml")
	copyFile(t, cli, down)
	editFile(t, down, g.ls.admin.Addr().String(), closed, `token_file = "admin.token"`, `token_file = "`+filepath.Join(filepath.Dir(path), "admin.token")+`"`)
	wrongTok := filepath.Join(t.TempDir(), "wrong.toml")
	copyFile(t, down, wrongTok)
	tokPath := filepath.Join(filepath.Dir(wrongTok), "other.token")
	if err := os.WriteFile(tokPath, []byte("not-the-token"), 0o600); err != nil {
		t.Fatal(err)
	}
	editFile(t, wrongTok, closed, g.ls.admin.Addr().String(), filepath.Join(filepath.Dir(path), "admin.token"), tokPath)
	noTok := filepath.Join(t.TempDir(), "notoken.toml")
	copyFile(t, down, noTok)
	editFile(t, noTok, `token_file = "`+filepath.Join(filepath.Dir(path), "admin.token")+`"`, `token_file = ""`)

	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"help", []string{"suspend", "-h"}, 0, "--reason"},
		{"no target", []string{"suspend", "--reason", "x", "--config", cli}, 2, "name an AGENCY"},
		{"two targets", []string{"suspend", "DOT", "--platform", "youtube", "--reason", "x", "--config", cli}, 2, "only one"},
		{"two agencies", []string{"suspend", "DOT", "DCF", "--reason", "x", "--config", cli}, 2, "one agency at a time"},
		{"no reason", []string{"suspend", "DOT", "--config", cli}, 2, "--reason is required"},
		{"empty by", []string{"suspend", "DOT", "--reason", "x", "--by", " ", "--config", cli}, 2, "--by is empty; name who orders it"},
		{"bad flag", []string{"reinstate", "DOT", "--nope", "x", "--config", cli}, 2, "flag provided but not defined"},
		{"gateway down", []string{"suspend", "DOT", "--reason", "x", "--config", down}, 1, "cannot reach the admin API at http://" + closed + ": is smgate serve running?"},
		{"wrong token", []string{"suspend", "DOT", "--reason", "x", "--config", wrongTok}, 1, "refused the token in " + tokPath},
		{"no token file", []string{"reinstate", "DOT", "--config", noTok}, 1, "admin.token_file is not set in " + noTok + ": the admin API is disabled; give --config (or $SMGATE_CONFIG) the file the running gateway was started with"},
		{"no config", []string{"reinstate", "DOT", "--config", filepath.Join(t.TempDir(), "none.toml")}, 1, "none.toml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runCmd(t, "", tc.args...)
			if code != tc.code || !strings.Contains(out+errs, tc.msg) {
				t.Errorf("smgate %s = exit %d\n%s%s\nwant exit %d with %q", strings.Join(tc.args, " "), code, out, errs, tc.code, tc.msg)
			}
		})
	}
	if n := len(g.engine.Suspensions()); n != 0 {
		t.Errorf("%d suspensions after failed commands", n)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestAdminBaseURL(t *testing.T) {
	for _, tc := range []struct {
		listen, want string
		wantErr      bool
	}{
		{"127.0.0.1:8088", "http://127.0.0.1:8088", false},
		{"0.0.0.0:8088", "http://127.0.0.1:8088", false},
		{"[::]:8088", "http://127.0.0.1:8088", false},
		{":8088", "http://127.0.0.1:8088", false},
		{"10.1.2.3:9000", "http://10.1.2.3:9000", false},
		{"[::1]:8088", "http://[::1]:8088", false},
		{"gw.example:8088", "http://gw.example:8088", false},
		{"", "", true},
		{"127.0.0.1:0", "", true},
		{"127.0.0.1", "", true},
	} {
		t.Run(tc.listen, func(t *testing.T) {
			got, err := adminBaseURL(tc.listen)
			if got != tc.want || (err != nil) != tc.wantErr {
				t.Errorf("adminBaseURL(%q) = %q, %v; want %q, error %v", tc.listen, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestSuspensionTarget(t *testing.T) {
	for _, tc := range []struct {
		name              string
		pos               []string
		platform, account string
		scope             allowlist.Scope
		id                string
		wantErr           bool
	}{
		{"agency", []string{"DCF"}, "", "", allowlist.ScopeAgency, "DCF", false},
		{"platform", nil, "tiktok", "", allowlist.ScopePlatform, "tiktok", false},
		{"account", nil, "", "dcf-x", allowlist.ScopeAccount, "dcf-x", false},
		{"none", nil, "", "", "", "", true},
		{"agency and account", []string{"DCF"}, "", "dcf-x", "", "", true},
		{"blank agency", []string{" "}, "", "", "", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var a suspensionArgs
			err := a.setTarget(tc.pos, tc.platform, tc.account)
			if (err != nil) != tc.wantErr || (!tc.wantErr && (a.scope != tc.scope || a.id != tc.id)) {
				t.Errorf("setTarget = %s %q, %v", a.scope, a.id, err)
			}
		})
	}
}

// TestCLISuspendInReportMode: in report mode a suspension blocks nothing;
// the API and the CLI say so rather than let the security unit believe
// the agency is cut off. A reinstate may say why, and its record keeps
// why the suspension was made.
func TestCLISuspendInReportMode(t *testing.T) {
	path := adminConfig(t, true)
	editFile(t, path, `mode = "enforce"`, `mode = "report"`)
	g, _ := runGateway(t, path)
	cli := cliConfig(t, path, g.ls.admin.Addr().String())
	code, out, errs := runCmd(t, "", "suspend", "DOT", "--reason", "phishing", "--by", "carol", "--config", cli)
	if code != 0 || !strings.Contains(out, "suspended agency DOT") || !strings.Contains(errs, "warning: gateway.mode is report") {
		t.Fatalf("suspend in report mode: exit %d\n%s%s", code, out, errs)
	}
	if d := decideTLee(g, "www.youtube.com"); d.Allow || d.Reason != allowlist.ReasonAgencySuspended || !d.Pass() {
		t.Errorf("decision %+v: want blocked-agency-suspended, not enforced", d)
	}
	code, out, errs = runCmd(t, "", "reinstate", "DOT", "--reason", "false alarm", "--by", "carol", "--config", cli)
	if code != 0 || !strings.Contains(out, "reinstated agency DOT") || errs != "" {
		t.Fatalf("reinstate: exit %d\n%s%s", code, out, errs)
	}
	recs := usageRecords(t, g)
	if last := recs[len(recs)-1]; last.Action != logs.ActionReinstate || last.Message != "false alarm (suspended for: phishing)" {
		t.Errorf("reinstate record %+v", last)
	}
}
