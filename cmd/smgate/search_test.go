package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smgate/smgate/logs"
)

// writeUsageLog appends records to the daily files of dir as the writer
// stores them (with a chain field, which search does not check).
func writeUsageLog(t *testing.T, dir string, recs ...logs.Record) {
	t.Helper()
	for i := range recs {
		line := logs.AppendRecord(nil, &recs[i])
		line = append(line[:len(line)-1], `,"smgate.chain":"`+strings.Repeat("0f", 32)+`"}`+"\n"...)
		name := filepath.Join(dir, "usage-"+recs[i].Time.UTC().Format(time.DateOnly)+".jsonl")
		f, err := os.OpenFile(name, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(line); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

var searchDay = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// searchLog writes five records over three days into a new directory:
// s1..s5.
func searchLog(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	ip := netip.MustParseAddr("10.1.2.3")
	writeUsageLog(t, dir,
		logs.Record{Time: searchDay.Add(8 * time.Hour), ID: "s1", Action: logs.ActionHTTPRequest, Outcome: logs.OutcomeAllowed, Reason: "allowed-grant", User: "jsmith", Agency: "DCF", SourceIP: ip, Domain: "www.facebook.com", Path: "/DCF", Platform: "facebook", Account: "fb-dcf", Role: "comms", Mode: "intercept", Status: 502},
		logs.Record{Time: searchDay.Add(9 * time.Hour), ID: "s2", Action: logs.ActionConnect, Outcome: logs.OutcomeBlocked, Reason: "blocked-no-grant", User: "jsmith", Agency: "DCF", SourceIP: ip, Domain: "m.facebook.com", Platform: "facebook", Mode: "explicit", NotEnforced: true},
		logs.Record{Time: searchDay.Add(30 * time.Hour), ID: "s3", Action: logs.ActionConnect, Outcome: logs.OutcomeBlocked, Reason: "blocked-outside-schedule", User: "adoe", Agency: "DOT", Domain: "notfacebook.com", Mode: "explicit"},
		logs.Record{Time: searchDay.Add(31 * time.Hour), ID: "s4", Action: logs.ActionSuspend, Outcome: logs.OutcomeSuccess, By: "admin", Target: "agency:DOT", Message: "audit"},
		logs.Record{Time: searchDay.Add(50 * time.Hour), ID: "s5", Action: logs.ActionDNSQuery, Outcome: logs.OutcomeAllowed, Reason: "allowed-grant", User: "adoe", Agency: "DOT", Domain: "x.com", Platform: "x", Account: "x-dot", Mode: "dns"},
	)
	return dir
}

// runSearch runs smgate logs search with args and returns its exit status,
// stdout and stderr.
func runSearch(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(&env{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut}, append([]string{"logs", "search"}, args...))
	return code, out.String(), errOut.String()
}

// jsonIDs decodes newline-delimited records and returns their event.id.
func jsonIDs(t *testing.T, out string) []string {
	t.Helper()
	var ids []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		r, err := logs.DecodeRecord(sc.Bytes())
		if err != nil {
			t.Fatalf("output line %q: %v", sc.Text(), err)
		}
		ids = append(ids, r.ID)
	}
	return ids
}

func TestLogsSearchFilters(t *testing.T) {
	dir := searchLog(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"everything", nil, "s1 s2 s3 s4 s5"},
		{"user", []string{"--user", "jsmith"}, "s1 s2"},
		{"agency", []string{"--agency", "DOT"}, "s3 s5"},
		{"platform", []string{"--platform", "facebook"}, "s1 s2"},
		{"account", []string{"--account", "x-dot"}, "s5"},
		{"domain and subdomains", []string{"--domain", "facebook.com"}, "s1 s2"},
		{"outcome", []string{"--outcome", "blocked"}, "s2 s3"},
		{"reason", []string{"--reason", "blocked-no-grant"}, "s2"},
		{"actions", []string{"--action", "connect, suspend"}, "s2 s3 s4"},
		{"combined", []string{"--agency", "DCF", "--outcome", "allowed", "--domain", "facebook.com"}, "s1"},
		{"since date", []string{"--since", "2026-11-02"}, "s3 s4 s5"},
		{"until date is the whole day", []string{"--until", "2026-11-02"}, "s1 s2 s3 s4"},
		{"one day", []string{"--since", "2026-11-02", "--until", "2026-11-02"}, "s3 s4"},
		{"RFC 3339", []string{"--since", "2026-11-01T08:30:00Z", "--until", "2026-11-02T06:00:00.5Z"}, "s2 s3"},
		{"RFC 3339 with offset", []string{"--since", "2026-11-01T03:30:00-05:00"}, "s2 s3 s4 s5"},
		{"limit", []string{"--limit", "2"}, "s1 s2"},
		{"nothing", []string{"--user", "nobody"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runSearch(t, append([]string{"--dir", dir, "--format", "json"}, tt.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if got := strings.Join(jsonIDs(t, out), " "); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLogsSearchJSONIsStoredLines(t *testing.T) {
	dir := searchLog(t)
	code, out, errOut := runSearch(t, "--dir", dir, "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var stored []byte
	for _, day := range []string{"2026-11-01", "2026-11-02", "2026-11-03"} {
		b, err := os.ReadFile(filepath.Join(dir, "usage-"+day+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, b...)
	}
	if out != string(stored) {
		t.Errorf("json output differs from the stored lines:\n%s\nwant\n%s", out, stored)
	}
}

func TestLogsSearchCSV(t *testing.T) {
	dir := searchLog(t)
	code, out, errOut := runSearch(t, "--dir", dir, "--format", "csv", "--user", "jsmith")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"@timestamp", "event.id", "event.action", "event.outcome", "event.reason", "user.name", "organization.id", "source.ip", "url.domain", "url.path", "smgate.platform", "smgate.account", "smgate.role", "smgate.mode",
			"http.response.status_code", "smgate.by", "smgate.target", "message", "smgate.enforced"},
		{"2026-11-01T08:00:00Z", "s1", "http_request", "allowed", "allowed-grant", "jsmith", "DCF", "10.1.2.3", "www.facebook.com", "/DCF", "facebook", "fb-dcf", "comms", "intercept", "502", "", "", "", ""},
		{"2026-11-01T09:00:00Z", "s2", "connect", "blocked", "blocked-no-grant", "jsmith", "DCF", "10.1.2.3", "m.facebook.com", "", "facebook", "", "", "explicit", "", "", "", "", "false"},
	}
	if !slices.EqualFunc(rows, want, slices.Equal) {
		t.Errorf("csv =\n%q\nwant\n%q", rows, want)
	}
}

// TestLogsSearchCSVAdmin: admin records say who did what to what and why,
// and a hold placed and a hold released differ.
func TestLogsSearchCSVAdmin(t *testing.T) {
	dir := searchLog(t)
	h := logs.Hold{ID: "case-8", Reason: "litigation", Agency: "DOT"}
	add, release := h.Record("add", "counsel"), h.Record("release", "counsel")
	add.Time, add.ID = searchDay.Add(60*time.Hour), "h1"
	release.Time, release.ID = searchDay.Add(61*time.Hour), "h2"
	writeUsageLog(t, dir, *add, *release)
	code, out, errOut := runSearch(t, "--dir", dir, "--format", "csv", "--action", "suspend,hold")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var got [][]string
	for _, r := range rows[1:] {
		got = append(got, []string{r[1], r[2], r[15], r[16], r[17]})
	}
	want := [][]string{
		{"s4", "suspend", "admin", "agency:DOT", "audit"},
		{"h1", "hold", "counsel", "hold:case-8", "add hold case-8: litigation; agency DOT; days all days (open-ended)"},
		{"h2", "hold", "counsel", "hold:case-8", "release hold case-8: litigation; agency DOT; days all days (open-ended)"},
	}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("admin rows (id, action, by, target, message) =\n%q\nwant\n%q", got, want)
	}
}

func TestLogsSearchTable(t *testing.T) {
	dir := searchLog(t)
	code, out, errOut := runSearch(t, "--dir", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 6 {
		t.Fatalf("got %d lines, want a header and 5 rows:\n%s", len(lines), out)
	}
	if f := strings.Fields(lines[0]); !slices.Equal(f, []string{"TIME", "ID", "ACTION", "OUTCOME", "STATUS", "REASON", "USER", "AGENCY", "PLATFORM", "ACCOUNT", "URL"}) {
		t.Errorf("header = %q", lines[0])
	}
	if f := strings.Fields(lines[1]); !slices.Equal(f, []string{"2026-11-01T08:00:00Z", "s1", "http_request", "allowed", "502", "allowed-grant", "jsmith", "DCF", "facebook", "fb-dcf", "www.facebook.com/DCF"}) {
		t.Errorf("row 1 = %q", lines[1])
	}
	// A block that report mode let through says so.
	if f := strings.Fields(lines[2]); f[1] != "s2" || f[3] != "blocked(not-enforced)" {
		t.Errorf("row 2 = %q", lines[2])
	}
	// An admin event shows who acted and on what.
	if f := strings.Fields(lines[4]); f[6] != "admin" || f[10] != "agency:DOT" || f[5] != "-" || f[4] != "-" {
		t.Errorf("row 4 = %q", lines[4])
	}
	// Columns line up.
	col := strings.Index(lines[0], "URL")
	for _, l := range lines[1:] {
		if len(l) < col || l[col-1] != ' ' {
			t.Errorf("row %q does not line up with the header", l)
		}
	}
}

func TestLogsSearchHostileValues(t *testing.T) {
	dir := t.TempDir()
	writeUsageLog(t, dir, logs.Record{
		Time: searchDay, ID: "h1", Action: logs.ActionHTTPRequest, Outcome: logs.OutcomeBlocked,
		Reason: "blocked-unknown-user", User: "\x1b[2J=HYPERLINK(\"http://evil\")", Domain: "x.com", Path: "/a\tb",
	})
	_, out, _ := runSearch(t, "--dir", dir)
	if strings.ContainsAny(out, "\x1b") || !strings.Contains(out, `"\x1b[2J=HYPERLINK(\"http://evil\")"`) || !strings.Contains(out, `"x.com/a\tb"`) {
		t.Errorf("table does not escape control characters:\n%q", out)
	}
	writeUsageLog(t, dir, logs.Record{Time: searchDay.Add(time.Hour), ID: "h2", User: "=1+1", Path: "@SUM(A1)"})
	_, out, _ = runSearch(t, "--dir", dir, "--format", "csv", "--user", "=1+1")
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(rows) != 2 || rows[1][5] != "'=1+1" || rows[1][9] != "'@SUM(A1)" {
		t.Errorf("csv does not neutralise formulas: %q, %v", rows, err)
	}
}

func TestLogsSearchErrors(t *testing.T) {
	dir := searchLog(t)
	missing := filepath.Join(t.TempDir(), "missing")
	tests := []struct {
		name string
		args []string
		code int
		want []string // in stderr
	}{
		{"unknown flag", []string{"--dir", dir, "--usr", "x"}, 2, []string{"flag provided but not defined: -usr", "usage: smgate logs search"}},
		{"bad since", []string{"--dir", dir, "--since", "yesterday"}, 2, []string{`--since "yesterday"`, "want a span back from now (24h, 30d), a date (2026-11-01)"}},
		{"bad until date", []string{"--dir", dir, "--until", "2026-13-01"}, 2, []string{`--until "2026-13-01": no such date (month out of range); want`}},
		{"no Feb 29 in 2026", []string{"--dir", dir, "--since", "2026-02-29"}, 2, []string{`--since "2026-02-29": no such date (day out of range); want`}},
		{"no Feb 30 with a time", []string{"--dir", dir, "--since", "2026-02-30T08:00:00Z"}, 2, []string{`--since "2026-02-30T08:00:00Z": no such date (day out of range); want`}},
		{"negative span", []string{"--dir", dir, "--since", "-24h"}, 2, []string{`--since "-24h"`}},
		{"since after until", []string{"--dir", dir, "--since", "2026-11-03", "--until", "2026-11-01"}, 2, []string{"--since 2026-11-03 is not before --until 2026-11-01"}},
		{"unknown format", []string{"--dir", dir, "--format", "xml"}, 2, []string{`--format "xml": want table, json or csv`}},
		{"unknown outcome", []string{"--dir", dir, "--outcome", "denied"}, 2, []string{`--outcome "denied": want one of allowed, blocked, success, failure`}},
		{"unknown action", []string{"--dir", dir, "--action", "connect,post"}, 2, []string{`--action "post"`}},
		{"negative limit", []string{"--dir", dir, "--limit", "-1"}, 2, []string{"--limit -1"}},
		{"argument", []string{"--dir", dir, "jsmith"}, 2, []string{`unexpected argument "jsmith"`}},
		{"missing directory", []string{"--dir", missing}, 1, []string{"read log directory", missing, "no such file or directory"}},
		{"missing directory, csv", []string{"--dir", missing, "--format", "csv"}, 1, []string{"read log directory", missing}},
		{"not a directory", []string{"--dir", filepath.Join(dir, "usage-2026-11-01.jsonl")}, 1, []string{"read log directory", "not a directory"}},
		{"missing config", []string{"--config", filepath.Join(missing, "smgate.toml")}, 1, []string{"load config (or give the log directory with --dir)", "smgate.toml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runSearch(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr: %s", code, tt.code, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr %q does not contain %q", errOut, w)
				}
			}
			if out != "" {
				t.Errorf("a search that failed before any record printed %q", out)
			}
		})
	}
}

// TestLogsSearchNoMatch: a search that matches nothing prints the header
// of a table or csv, and nothing as json.
func TestLogsSearchNoMatch(t *testing.T) {
	dir := searchLog(t)
	for format, want := range map[string]string{"table": "TIME", "csv": "@timestamp", "json": ""} {
		code, out, errOut := runSearch(t, "--dir", dir, "--user", "nobody", "--format", format)
		if code != 0 || !strings.HasPrefix(out, want) || strings.Count(out, "\n") != min(len(want), 1) {
			t.Errorf("--format %s matching nothing: exit %d, stdout %q, stderr %q; want only the header", format, code, out, errOut)
		}
	}
}

func TestLogsSearchUnreadable(t *testing.T) {
	if runtime.GOOS == "windows" || os.Geteuid() == 0 {
		t.Skip("permissions do not apply")
	}
	dir := searchLog(t)
	if err := os.Chmod(dir, 0o300); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o700) })
	code, _, errOut := runSearch(t, "--dir", dir)
	if code != 1 || !strings.Contains(errOut, "permission denied") {
		t.Errorf("exit %d, stderr %q; want 1 and permission denied", code, errOut)
	}
}

func TestLogsSearchDamagedLine(t *testing.T) {
	dir := searchLog(t)
	f, err := os.OpenFile(filepath.Join(dir, "usage-2026-11-03.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, `{"@timestamp":"2026-11-03T05:00:00Z",`)
	f.Close()
	code, out, errOut := runSearch(t, "--dir", dir, "--format", "json")
	if code != 1 || !strings.Contains(errOut, "usage-2026-11-03.jsonl:2: decode record") {
		t.Errorf("exit %d, stderr %q; want 1 naming the file and line", code, errOut)
	}
	if got := strings.Join(jsonIDs(t, out), " "); got != "s1 s2 s3 s4 s5" {
		t.Errorf("records = %q, want all the readable ones", got)
	}
}

func TestLogsSearchConfig(t *testing.T) {
	dir := t.TempDir()
	logDir := filepath.Join(dir, "var", "usage")
	if err := os.MkdirAll(logDir, 0o700); err != nil {
		t.Fatal(err)
	}
	writeUsageLog(t, logDir, logs.Record{Time: searchDay, ID: "c1", User: "jsmith"})
	cfg := filepath.Join(dir, "smgate.toml")
	toml := "[logs]\ndir = \"var/usage\"\n\n[policy]\nregistry = \"registry.toml\"\ndirectory = \"directory.toml\"\n"
	if err := os.WriteFile(cfg, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runSearch(t, "--config", cfg, "--format", "json")
	if code != 0 || strings.Join(jsonIDs(t, out), " ") != "c1" {
		t.Errorf("exit %d, out %q, stderr %q; want c1 from the config's log directory", code, out, errOut)
	}
}

func TestParseWhen(t *testing.T) {
	now := time.Date(2026, 11, 20, 15, 30, 0, 0, time.UTC)
	tests := []struct {
		v    string
		end  bool
		want time.Time
	}{
		{"", false, time.Time{}},
		{"24h", false, now.Add(-24 * time.Hour)},
		{"90m", false, now.Add(-90 * time.Minute)},
		{"30d", false, now.AddDate(0, 0, -30)},
		{"0d", false, now},
		{"2026-11-01", false, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)},
		{"2026-11-01", true, time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)},
		{"2026-11-01T08:00:00Z", true, time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)},
		{"2026-11-01T08:00:00.25+01:00", false, time.Date(2026, 11, 1, 7, 0, 0, 25e7, time.UTC)},
	}
	for _, tt := range tests {
		got, err := parseWhen("--since", tt.v, now, tt.end)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("parseWhen(%q, end=%v) = %v, %v; want %v", tt.v, tt.end, got, err, tt.want)
		}
	}
	for _, v := range []string{"d", "-3d", "3w", "1.5d", "2026-11-01 08:00", "2026-11-01T08:00:00", "yesterday"} {
		if _, err := parseWhen("--since", v, now, false); err == nil {
			t.Errorf("parseWhen(%q) accepted it", v)
		}
	}
}

// TestLogsSearchWarnsUnknownFilter: a filter naming a platform, agency,
// user or account the policy does not know gets a warning on stderr, with
// the id that differs only in case, and a --reason that is no reason code
// one with the nearest code; the search itself stays exact.
func TestLogsSearchWarnsUnknownFilter(t *testing.T) {
	dir := searchLog(t)
	cfg := copyConfigs(t, "smgate.toml", `name = "gw-1"`, `name = "gw-1"`)
	tests := []struct {
		name string
		args []string
		warn string // "" for none
		ids  string
	}{
		{"platform in another case", []string{"--platform", "Facebook"}, `warning: no platform "Facebook" in the catalogue (did you mean "facebook"?)`, ""},
		{"user in another case", []string{"--user", "TLEE"}, `warning: no user "TLEE" in the directory (did you mean "tlee"?)`, ""},
		{"agency in another case", []string{"--agency", "dot"}, `warning: no agency "dot" in the directory (did you mean "DOT"?)`, ""},
		{"unknown account", []string{"--account", "nope"}, `warning: no account "nope" in the registry` + "\n", ""},
		{"known platform", []string{"--platform", "facebook"}, "", "s1 s2"},
		{"unverified account grants", []string{"--account", "unverified"}, "", ""},
		{"reason missing a hyphen", []string{"--reason", "blocked-nogrant"}, `warning: no reason code "blocked-nogrant" (did you mean "blocked-no-grant"?)`, ""},
		{"reason in another case", []string{"--reason", "Blocked-No-Grant"}, `warning: no reason code "Blocked-No-Grant" (did you mean "blocked-no-grant"?)`, ""},
		{"reason without its prefix", []string{"--reason", "no-grant"}, `warning: no reason code "no-grant" (did you mean "blocked-no-grant"?)`, ""},
		{"reason without its prefix, other case", []string{"--reason", "Agency-Suspended"}, `warning: no reason code "Agency-Suspended" (did you mean "blocked-agency-suspended"?)`, ""},
		{"reason far from any", []string{"--reason", "denied"}, `warning: no reason code "denied"` + "\n", ""},
		{"known reason", []string{"--reason", "blocked-no-grant"}, "", "s2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runSearch(t, append([]string{"--config", cfg, "--dir", dir, "--format", "json"}, tc.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if tc.warn == "" && errOut != "" || tc.warn != "" && !strings.Contains(errOut, tc.warn) {
				t.Errorf("stderr = %q, want %q", errOut, tc.warn)
			}
			if got := strings.Join(jsonIDs(t, out), " "); got != tc.ids {
				t.Errorf("records %q, want %q: the search is exact", got, tc.ids)
			}
		})
	}
	// Without --config there is no policy to compare with.
	if code, _, errOut := runSearch(t, "--dir", dir, "--platform", "Facebook"); code != 0 || errOut != "" {
		t.Errorf("--dir only: exit %d, stderr %q; want no warning", code, errOut)
	}
	// The reason codes are the build's own: no policy is needed.
	if code, _, errOut := runSearch(t, "--dir", dir, "--reason", "blocked-outside-schedul"); code != 0 ||
		!strings.Contains(errOut, `warning: no reason code "blocked-outside-schedul" (did you mean "blocked-outside-schedule"?)`) {
		t.Errorf("--dir only, misspelt --reason: exit %d, stderr %q; want the warning", code, errOut)
	}
}

// appendUnterminated appends a well-formed record without its newline to
// the day file of r, as a forger or a write in progress would leave it.
func appendUnterminated(t *testing.T, dir string, r logs.Record) (name string, n int) {
	t.Helper()
	line := logs.AppendRecord(nil, &r)
	line = append(line[:len(line)-1], `,"smgate.chain":"`+strings.Repeat("0f", 32)+`"}`...)
	name = logs.DayFileName(r.Time)
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(line); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return name, len(line)
}

// TestLogsSearchUnterminatedLastLine: a record without its newline at the
// end of the newest file is left out of every format, with a note on
// stderr naming the file and its size, and the search succeeds.
func TestLogsSearchUnterminatedLastLine(t *testing.T) {
	dir := searchLog(t)
	name, n := appendUnterminated(t, dir, logs.Record{Time: searchDay.Add(51 * time.Hour), ID: "forged",
		Action: logs.ActionHTTPRequest, Outcome: logs.OutcomeAllowed, User: "jsmith", Agency: "DCF"})
	note := fmt.Sprintf("left out the unterminated last line of %s (line 2, %d bytes)", name, n)
	for _, format := range []string{"table", "csv", "json"} {
		t.Run(format, func(t *testing.T) {
			code, out, errOut := runSearch(t, "--dir", dir, "--format", format)
			if code != 0 || strings.Contains(out, "forged") || !strings.Contains(out, "s5") {
				t.Errorf("exit %d, stdout:\n%s\nwant 0 and s1..s5 without the unterminated record", code, out)
			}
			if !strings.Contains(errOut, note) {
				t.Errorf("stderr %q, want %q", errOut, note)
			}
		})
	}
}

// TestLogsSearchDomainAsTheGatewayWritesIt: --domain is normalised as the
// gateway normalises the hosts it records (IDNA to ASCII, lower case, no
// trailing dot, IP literals in their canonical form), so that a name typed
// as users see it finds the records of it.
func TestLogsSearchDomainAsTheGatewayWritesIt(t *testing.T) {
	dir := t.TempDir()
	rec := func(id, domain string, minute int) logs.Record {
		return logs.Record{Time: searchDay.Add(time.Duration(minute) * time.Minute), ID: id, Action: logs.ActionHTTPRequest,
			Outcome: logs.OutcomeAllowed, Reason: "allowed-grant", Domain: domain, Platform: "facebook", Mode: "explicit"}
	}
	writeUsageLog(t, dir,
		rec("idn", "xn--and-6ma2c.facebook.com", 1),
		rec("www", "www.facebook.com", 2),
		rec("v4", "157.240.1.35", 3),
		rec("v6", "2a03:2880:f10c:83:face:b00c:0:25de", 4),
		rec("de", "xn--bcher-kva.de", 5),
	)
	tests := []struct {
		domain, want string
	}{
		{"ñandú.facebook.com", "idn"},
		{"ÑANDÚ.Facebook.COM.", "idn"},
		{"xn--and-6ma2c.facebook.com", "idn"},
		{"facebook.com", "idn www"},
		{"bücher.de", "de"},
		{"157.240.1.35", "v4"},
		{"157.240.291", "v4"}, // an inet_aton spelling of the same address
		{"[2a03:2880:f10c:83:face:b00c:0:25de]", "v6"},
		{"2A03:2880:F10C:0083:FACE:B00C:0000:25DE", "v6"},
	}
	for _, tt := range tests {
		t.Run(tt.domain, func(t *testing.T) {
			code, out, errOut := runSearch(t, "--dir", dir, "--format", "json", "--domain", tt.domain)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if got := strings.Join(jsonIDs(t, out), " "); got != tt.want {
				t.Errorf("--domain %q: got %q, want %q", tt.domain, got, tt.want)
			}
		})
	}
}

// TestLogsSearchOrderAsDocumented: a tunnel's record is stamped when the
// tunnel opened and written when it closed, so search, which prints in
// the order written, prints it after records stamped later; the help
// says so rather than promising oldest first.
func TestLogsSearchOrderAsDocumented(t *testing.T) {
	dir := t.TempDir()
	writeUsageLog(t, dir,
		logs.Record{Time: searchDay.Add(9 * time.Hour), ID: "later", Action: logs.ActionHTTPRequest, Outcome: logs.OutcomeAllowed},
		logs.Record{Time: searchDay.Add(8 * time.Hour), ID: "tunnel", Action: logs.ActionConnect, Outcome: logs.OutcomeAllowed},
	)
	code, out, errOut := runSearch(t, "--dir", dir, "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if got := strings.Join(jsonIDs(t, out), " "); got != "later tunnel" {
		t.Fatalf("got %q, want the order written", got)
	}
	_, _, help := runSearch(t, "-h")
	if strings.Contains(help, "oldest first") || !strings.Contains(help, "in the order\nwritten") {
		t.Errorf("help does not say the order search prints in:\n%s", help)
	}
}
