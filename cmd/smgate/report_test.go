package main

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smgate/smgate/allowlist"
	"github.com/smgate/smgate/logs"
)

// reportPolicy writes a gateway config and a small policy into dir and
// returns the config's path. Its log directory is dir/var/logs.
func reportPolicy(t *testing.T, dir string) string {
	t.Helper()
	files := map[string]string{
		"smgate.toml": `[gateway]
name = "gw-test"
data_dir = "./var"

[policy]
registry = "registry.toml"
directory = "directory.toml"
`,
		"registry.toml": `[[account]]
id = "fb-dcf"
agency = "DCF"
platform = "facebook"
handle = "CTDCF"
purpose = "Public education"
approved_by = "Commissioner"
approved_on = 2026-01-15
expires_on = 2099-01-15
status = "active"

[[account]]
id = "x-dcf"
agency = "DCF"
platform = "x"
handle = "CTDCF"
purpose = "Announcements"
approved_by = "Commissioner"
approved_on = 2025-01-01
expires_on = 2026-01-01
status = "active"
`,
		"directory.toml": `[[agency]]
id = "DCF"
name = "Department of Children and Families"

[[role]]
id = "dcf-comms"
agency = "DCF"
accounts = ["fb-dcf", "x-dcf"]

[[user]]
id = "jsmith"
name = "Jane Smith"
agency = "DCF"
roles = ["dcf-comms"]
acknowledged_on = 2026-01-10
ips = ["10.1.2.3"]
`,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "var", "logs"), 0o700); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "smgate.toml")
}

// reportLog writes decisions of the last two days (relative to now, since
// --since defaults to 30d back from the real clock) into dir.
func reportLog(t *testing.T, dir string) {
	t.Helper()
	now := time.Now().UTC()
	writeUsageLog(t, dir,
		logs.Record{Time: now.Add(-48 * time.Hour), ID: "r1", Observer: "gw-test", Action: logs.ActionHTTPRequest, Outcome: logs.OutcomeAllowed, Reason: "allowed-grant", User: "jsmith", Agency: "DCF", Domain: "www.facebook.com", Platform: "facebook", Account: "fb-dcf"},
		logs.Record{Time: now.Add(-47 * time.Hour), ID: "r2", Observer: "gw-test", Action: logs.ActionConnect, Outcome: logs.OutcomeBlocked, Reason: "blocked-no-grant", User: "jsmith", Agency: "DCF", Domain: "www.tiktok.com", Platform: "tiktok"},
		logs.Record{Time: now.Add(-2 * time.Hour), ID: "r3", Observer: "gw-test", Action: logs.ActionConnect, Outcome: logs.OutcomeBlocked, Reason: "blocked-approval-expired", User: "jsmith", Agency: "DCF", Domain: "x.com", Platform: "x", Account: "x-dcf"},
		logs.Record{Time: now.Add(-1 * time.Hour), ID: "r4", Observer: "gw-test", Action: logs.ActionSuspend, Outcome: logs.OutcomeSuccess, By: "admin", Target: "agency:DOT"},
		// Outside the default 30 days.
		logs.Record{Time: now.AddDate(0, 0, -40), ID: "old", Observer: "gw-test", Action: logs.ActionConnect, Outcome: logs.OutcomeBlocked, Reason: "blocked-no-grant", User: "old", Agency: "DOT"},
	)
}

func runReportCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(&env{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut}, args)
	return code, out.String(), errOut.String()
}

func TestReportFromConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := reportPolicy(t, dir)
	reportLog(t, filepath.Join(dir, "var", "logs"))
	code, out, errOut := runReportCmd(t, "report", "--config", cfg, "--format", "csv")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range rows[1:] {
		if r[0] == "account" && r[7] != "" {
			r[7] = "LAST" // the time of r1, relative to the clock
		}
		got[r[0]+" "+r[2]] = strings.Join(r[3:], ",")
	}
	for key, want := range map[string]string{
		"total ":                        "1,2,,,,,,,,",
		"by_agency DCF":                 "1,2,,,,,,,,",
		"blocked_user jsmith":           ",,2,,,,,,,",
		"account fb-dcf":                "1,,,1,LAST,facebook,CTDCF,active,2099-01-15,",
		"account x-dcf":                 "0,,,0,,x,CTDCF,active,2026-01-01,",
		"block_reason blocked-no-grant": ",,1,,,,,,,",
	} {
		if got[key] != want {
			t.Errorf("%s = %q, want %q", key, got[key], want)
		}
	}
	if _, ok := got["expiring x-dcf"]; !ok {
		t.Errorf("the expired approval x-dcf is not listed: %q", rows)
	}
}

func TestReportFormats(t *testing.T) {
	dir := t.TempDir()
	cfg := reportPolicy(t, dir)
	logDir := filepath.Join(dir, "var", "logs")
	reportLog(t, logDir)
	t.Run("table", func(t *testing.T) {
		code, out, errOut := runReportCmd(t, "report", "--config", cfg, "--by", "user")
		if code != 0 || !strings.Contains(out, "Social media usage report by user") || !strings.Contains(out, "USER    ALLOWED  BLOCKED") {
			t.Errorf("exit %d, stderr %s, table:\n%s", code, errOut, out)
		}
	})
	t.Run("html to file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "report.html")
		code, out, errOut := runReportCmd(t, "report", "--config", cfg, "--format", "html", "--out", path, "--since", "7d")
		if code != 0 || out != "" || errOut != "wrote "+path+"\n" {
			t.Fatalf("exit %d, stdout %q, stderr %q; want only \"wrote %s\" on stderr", code, out, errOut, path)
		}
		page, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(page, []byte("<!DOCTYPE html>")) || !bytes.Contains(page, []byte("gw-test")) || bytes.Contains(page, []byte("<script")) {
			t.Errorf("page:\n%s", page)
		}
		if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".report.html.*")); len(left) > 0 {
			t.Errorf("temporary files left: %v", left)
		}
	})
	t.Run("dir without config", func(t *testing.T) {
		code, out, errOut := runReportCmd(t, "report", "--dir", logDir, "--config", filepath.Join(dir, "none.toml"), "--format", "csv")
		if code != 1 || !strings.Contains(errOut, "load policy") {
			t.Errorf("explicit --config that fails: exit %d, stderr %q", code, errOut)
		}
		e := &env{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
		f := reportFlags{logFlags: logFlags{config: filepath.Join(dir, "none.toml"), dir: logDir, since: "30d"}, by: "agency", format: "csv"}
		if err := f.run(e, nil, time.Now()); err != nil {
			t.Fatal(err)
		}
		out = e.stdout.(*bytes.Buffer).String()
		if !strings.Contains(out, "total,,,1,2") || !strings.Contains(out, "account,,fb-dcf,1,,,1,") || !strings.Contains(out, ",not in registry,") {
			t.Errorf("report without registry:\n%s", out)
		}
		if !strings.Contains(e.stderr.(*bytes.Buffer).String(), "no registry") {
			t.Errorf("no note that accounts are left out: %q", e.stderr)
		}
	})
}

func TestReportErrors(t *testing.T) {
	dir := t.TempDir()
	cfg := reportPolicy(t, dir)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown flag", []string{"--group", "x"}, 2, "flag provided but not defined: -group"},
		{"bad by", []string{"--by", "day"}, 2, `--by "day": want one of agency, platform, user, account`},
		{"bad format", []string{"--format", "pdf"}, 2, `--format "pdf": want table, csv or html`},
		{"bad since", []string{"--since", "a month"}, 2, `--since "a month": want a span back from now`},
		{"argument", []string{"DCF"}, 2, `unexpected argument "DCF"`},
		{"missing config", []string{"--config", filepath.Join(dir, "nope.toml")}, 1, "load policy (or give the log directory with --dir)"},
		{"log dir missing", []string{"--config", cfg}, 1, "read log directory"},
		{"unwritable out", []string{"--config", cfg, "--dir", dir, "--out", filepath.Join(dir, "no", "such", "r.html")}, 1, "write report"},
	}
	os.Remove(filepath.Join(dir, "var", "logs"))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runReportCmd(t, append([]string{"report"}, tt.args...)...)
			if code != tt.code || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errOut, tt.code, tt.want)
			}
		})
	}
}

// TestReportWarnsUnknownFilter: report warns as search does about an
// --agency or --platform that the policy does not know.
func TestReportWarnsUnknownFilter(t *testing.T) {
	dir := t.TempDir()
	cfg := reportPolicy(t, dir)
	reportLog(t, filepath.Join(dir, "var", "logs"))
	code, _, errOut := runReportCmd(t, "report", "--config", cfg, "--agency", "dcf", "--platform", "Facebook")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{`warning: no agency "dcf" in the directory (did you mean "DCF"?)`, `warning: no platform "Facebook" in the catalogue (did you mean "facebook"?)`} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr %q, want %q", errOut, want)
		}
	}
	if code, _, errOut := runReportCmd(t, "report", "--config", cfg, "--agency", "DCF"); code != 0 || errOut != "" {
		t.Errorf("known agency: exit %d, stderr %q", code, errOut)
	}
}

// TestReportUnterminatedLastLine: report does not count a record without
// its newline at the end of a day file, and says so on stderr.
func TestReportUnterminatedLastLine(t *testing.T) {
	dir := t.TempDir()
	cfg := reportPolicy(t, dir)
	logDir := filepath.Join(dir, "var", "logs")
	reportLog(t, logDir)
	name, n := appendUnterminated(t, logDir, logs.Record{Time: time.Now().UTC().Add(-time.Hour), ID: "forged",
		Observer: "gw-test", Action: logs.ActionHTTPRequest, Outcome: logs.OutcomeAllowed, Reason: "allowed-grant",
		User: "forger", Agency: "DCF", Domain: "www.facebook.com", Platform: "facebook", Account: "fb-dcf"})
	code, out, errOut := runReportCmd(t, "report", "--config", cfg, "--format", "csv", "--by", "user")
	if code != 0 || strings.Contains(out, "forger") || !strings.Contains(out, "total,,,1,2") {
		t.Errorf("exit %d, report:\n%s\nwant 0 and the counts without the unterminated record", code, out)
	}
	if note := fmt.Sprintf("smgate report: left out the unterminated last line of %s", name); !strings.Contains(errOut, note) ||
		!strings.Contains(errOut, fmt.Sprintf("%d bytes", n)) {
		t.Errorf("stderr %q, want %q and the byte count", errOut, note)
	}
}

// TestReportKnowsTheGatewaysValues: the report leaves out the records of
// the reason code the gateway writes for hosts that are no social media,
// and tells the account marker of unverified grants from accounts.
func TestReportKnowsTheGatewaysValues(t *testing.T) {
	if logs.ReasonNotSocial != string(allowlist.ReasonAllowedNotSocial) {
		t.Errorf("logs.ReasonNotSocial %q, the gateway writes %q", logs.ReasonNotSocial, allowlist.ReasonAllowedNotSocial)
	}
	if logs.UnverifiedAccount != allowlist.UnverifiedAccount {
		t.Errorf("logs.UnverifiedAccount %q, the gateway writes %q", logs.UnverifiedAccount, allowlist.UnverifiedAccount)
	}
}

// TestReportExpiryInGatewayZone: the report counts the days left of an
// approval from today in gateway.timezone, as the gateway decides, not
// from the date of the machine's zone. At 23:30 in New York on the day
// before expires_on (03:30 UTC on expires_on) the gateway still allows
// the account, so the report must not call it expired.
func TestReportExpiryInGatewayZone(t *testing.T) {
	dir := t.TempDir()
	cfg := reportPolicy(t, dir)
	body, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	body = bytes.Replace(body, []byte(`name = "gw-test"`), []byte("name = \"gw-test\"\ntimezone = \"America/New_York\""), 1)
	if err := os.WriteFile(cfg, body, 0o600); err != nil {
		t.Fatal(err)
	}
	reg := filepath.Join(dir, "registry.toml")
	body, err = os.ReadFile(reg)
	if err != nil {
		t.Fatal(err)
	}
	body = bytes.Replace(body, []byte("expires_on = 2026-01-01"), []byte("expires_on = 2026-03-10"), 1)
	if err := os.WriteFile(reg, body, 0o600); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 10, 3, 30, 0, 0, time.UTC) // 2026-03-09 23:30 EDT
	loaded, err := allowlist.LoadAt(cfg, now)
	if err != nil {
		t.Fatal(err)
	}
	d := loaded.Snapshot.Decide(&allowlist.Request{ClientIP: netip.MustParseAddr("10.1.2.3"), Host: "x.com", Port: 443,
		Source: allowlist.SourceExplicit, Time: now})
	if !d.Allow {
		t.Fatalf("the gateway blocks x-dcf at %s: %+v", now, d)
	}
	var out, errOut bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut}
	var f reportFlags
	fs := newFlags(e, "report", reportSynopsis)
	f.define(fs)
	if err := fs.Parse([]string{"--config", cfg, "--format", "csv", "--since", "2026-03-01"}); err != nil {
		t.Fatal(err)
	}
	f.configSet = true
	if err := f.run(e, nil, now); err != nil {
		t.Fatalf("report: %v (%s)", err, errOut.String())
	}
	rows, err := csv.NewReader(strings.NewReader(out.String())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r[0] == "expiring" && r[2] == "x-dcf" {
			if left := r[len(r)-1]; left != "1" {
				t.Fatalf("x-dcf has %q days left in the report, want 1 (the gateway allows it until midnight in New York): %q", left, r)
			}
			return
		}
	}
	t.Fatalf("x-dcf is not listed as expiring: %q", rows)
}
