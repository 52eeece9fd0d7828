package logs

import (
	"bytes"
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// reportNow is when the sample report is made: 2026-11-04 12:00 UTC.
var reportNow = at(3, 12, 0)

// sampleAccounts is the registry of the sample report. x-dot, which the
// sample log uses, is missing from it on purpose.
func sampleAccounts() []AccountInfo {
	d := func(y int, m time.Month, day int) time.Time { return time.Date(y, m, day, 0, 0, 0, 0, time.UTC) }
	return []AccountInfo{
		{ID: "li-dot", Agency: "DOT", Platform: "linkedin", Handle: "state-dot", ExpiresOn: d(2027, 6, 1), Status: "active"},
		{ID: "fb-dcf", Agency: "DCF", Platform: "facebook", Handle: "DCF", ExpiresOn: d(2026, 11, 21), Status: "active"},
		{ID: "ig-dcf", Agency: "DCF", Platform: "instagram", Handle: "dcf", ExpiresOn: d(2026, 10, 31), Status: "active"},
		{ID: "yt-dot", Agency: "DOT", Platform: "youtube", Handle: "@dot", ExpiresOn: d(2026, 11, 4), Status: "active"},
		{ID: "old-dcf", Agency: "DCF", Platform: "x", Handle: "olddcf", ExpiresOn: d(2026, 11, 10), Status: "decommissioned"},
	}
}

func sampleReport(t *testing.T, q Query, by string) *Report {
	t.Helper()
	rep, err := BuildReport(sampleDir(t), q, by, sampleAccounts(), reportNow)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestBuildReportGroups(t *testing.T) {
	tests := []struct {
		by   string
		q    Query
		want []Group
	}{
		{ByAgency, Query{}, []Group{{"DCF", Counts{3, 3}}, {"DOT", Counts{1, 2}}}},
		{ByUser, Query{}, []Group{{"jsmith", Counts{2, 2}}, {"adoe", Counts{1, 2}}, {"bwu", Counts{1, 1}}}},
		{ByPlatform, Query{}, []Group{{"facebook", Counts{2, 3}}, {"x", Counts{1, 1}}, {"", Counts{0, 1}}, {"instagram", Counts{1, 0}}}},
		{ByAccount, Query{}, []Group{{"", Counts{0, 4}}, {"fb-dcf", Counts{2, 1}}, {"ig-dcf", Counts{1, 0}}, {"x-dot", Counts{1, 0}}}},
		{ByAgency, Query{Since: at(1, 0, 0)}, []Group{{"DCF", Counts{2, 2}}, {"DOT", Counts{1, 1}}}},
		{ByUser, Query{Agency: "DOT"}, []Group{{"adoe", Counts{1, 2}}}},
		{ByAgency, Query{Since: at(9, 0, 0)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.by, func(t *testing.T) {
			rep := sampleReport(t, tt.q, tt.by)
			if !reflect.DeepEqual(rep.Groups, tt.want) {
				t.Errorf("groups = %v, want %v", rep.Groups, tt.want)
			}
			var sum Counts
			for _, g := range rep.Groups {
				sum.Allowed += g.Allowed
				sum.Blocked += g.Blocked
			}
			if sum != rep.Total {
				t.Errorf("total %v, groups add up to %v", rep.Total, sum)
			}
		})
	}
}

func TestBuildReportDetails(t *testing.T) {
	rep := sampleReport(t, Query{}, ByAgency)
	if rep.Total != (Counts{4, 5}) || !reflect.DeepEqual(rep.Gateways, []string{"gw-1"}) {
		t.Errorf("total %v, gateways %v", rep.Total, rep.Gateways)
	}
	if !rep.First.Equal(at(0, 8, 0)) || !rep.Last.Equal(at(2, 11, 0).Add(500*time.Millisecond)) {
		t.Errorf("first %v, last %v", rep.First, rep.Last)
	}
	wantBlocks := []AgencyBlocks{
		{"DCF", 3, []Ranked{{"jsmith", 2}, {"bwu", 1}}, []Ranked{{"blocked-action-not-granted", 1}, {"blocked-no-grant", 1}, {"blocked-outside-schedule", 1}}},
		{"DOT", 2, []Ranked{{"adoe", 2}}, []Ranked{{"blocked-agency-suspended", 1}, {"blocked-no-grant", 1}}},
	}
	if !reflect.DeepEqual(rep.Agencies, wantBlocks) {
		t.Errorf("agencies = %+v\nwant %+v", rep.Agencies, wantBlocks)
	}
	type use struct {
		id             string
		registered     bool
		allowed, users int
		last           time.Time
	}
	var got []use
	for _, u := range rep.Accounts {
		got = append(got, use{u.Account.ID, u.Registered, u.Allowed, u.Users, u.LastUsed})
	}
	wantUse := []use{
		{"fb-dcf", true, 2, 1, at(2, 11, 0)},
		{"ig-dcf", true, 1, 1, at(2, 10, 0)},
		{"old-dcf", true, 0, 0, time.Time{}},
		{"li-dot", true, 0, 0, time.Time{}},
		{"yt-dot", true, 0, 0, time.Time{}},
		{"x-dot", false, 1, 1, at(1, 0, 0)},
	}
	if !reflect.DeepEqual(got, wantUse) {
		t.Errorf("accounts = %v\nwant %v", got, wantUse)
	}
	var exp []string
	for _, e := range rep.Expiring {
		exp = append(exp, e.Account.ID+":"+e.Left())
	}
	if got, want := strings.Join(exp, " "), "ig-dcf:expired yt-dot:expired fb-dcf:17"; got != want {
		t.Errorf("expiring = %s, want %s", got, want)
	}
}

func TestBuildReportTopTen(t *testing.T) {
	dir := t.TempDir()
	var recs []Record
	for i := range 15 {
		for range i + 1 {
			recs = append(recs, Record{Time: day0, Action: ActionConnect, Outcome: OutcomeBlocked, Agency: "DCF",
				User: string(rune('a' + i)), Reason: "blocked-" + string(rune('a'+i))})
		}
	}
	writeDayFiles(t, dir, recs)
	rep, err := BuildReport(dir, Query{}, ByAgency, nil, reportNow)
	if err != nil {
		t.Fatal(err)
	}
	a := rep.Agencies[0]
	if len(a.Users) != 10 || a.Users[0] != (Ranked{"o", 15}) || a.Users[9] != (Ranked{"f", 6}) || len(a.Reasons) != 10 || a.Blocked != 120 {
		t.Errorf("top users %v, reasons %v, blocked %d", a.Users, a.Reasons, a.Blocked)
	}
}

func TestBuildReportErrors(t *testing.T) {
	if _, err := BuildReport(t.TempDir(), Query{}, "day", nil, reportNow); err == nil || !strings.Contains(err.Error(), `report by "day": want one of agency, platform, user, account`) {
		t.Errorf("err = %v", err)
	}
	if _, err := BuildReport(filepath.Join(t.TempDir(), "none"), Query{}, ByAgency, nil, reportNow); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want not exist", err)
	}
	dir := sampleDir(t)
	f, err := os.OpenFile(filepath.Join(dir, "usage-2026-11-01.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"@timestamp":"2026-11-01T23:59:59Z","event.action":"connect"` + "\n")
	f.Close()
	rep, err := BuildReport(dir, Query{}, ByAgency, nil, reportNow)
	var le *LineError
	if !errors.As(err, &le) || rep == nil || rep.Total != (Counts{4, 5}) || len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0], "usage-2026-11-01.jsonl:4") {
		t.Errorf("err = %v, report %+v; want the report of the readable lines, naming the damaged one", err, rep)
	}
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it); got:\n%s", path, got)
	}
}

func TestReportTableGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleReport(t, Query{}, ByAgency).WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.golden.txt", buf.Bytes())
}

func TestReportCSVGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleReport(t, Query{Until: at(3, 0, 0)}, ByUser).WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.golden.csv", buf.Bytes())
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if rows[1][0] != "total" || rows[1][3] != "4" || rows[1][4] != "5" {
		t.Errorf("total row = %q", rows[1])
	}
	sections := map[string]int{}
	for _, r := range rows[1:] {
		sections[r[0]]++
	}
	want := map[string]int{"total": 1, "not_enforced": 1, "by_user": 3, "blocked_user": 3, "block_reason": 5, "account": 6, "expiring": 3}
	if !reflect.DeepEqual(sections, want) {
		t.Errorf("sections = %v, want %v", sections, want)
	}
}

func TestReportTextIsSafe(t *testing.T) {
	dir := t.TempDir()
	writeDayFiles(t, dir, []Record{
		{Time: day0, Action: ActionConnect, Outcome: OutcomeBlocked, Agency: "DCF", User: "\x1b[2J=cmd|' /C calc'!A0", Reason: "blocked-unknown-user"},
	})
	rep, err := BuildReport(dir, Query{}, ByUser, nil, reportNow)
	if err != nil {
		t.Fatal(err)
	}
	var txt, csvOut bytes.Buffer
	if err := rep.WriteTable(&txt); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(txt.String(), "\x1b") || !strings.Contains(txt.String(), `"\x1b[2J=cmd|' /C calc'!A0"`) {
		t.Errorf("table does not escape a control character:\n%s", txt.String())
	}
	if err := rep.WriteCSV(&csvOut); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&csvOut).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		for _, c := range r {
			if c != "" && strings.ContainsRune("=+@", rune(c[0])) {
				t.Errorf("csv cell %q could run as a formula", c)
			}
		}
	}
}

func TestSpreadsheetSafe(t *testing.T) {
	for in, want := range map[string]string{"": "", "jsmith": "jsmith", "=1+1": "'=1+1", "-4": "-4", "-x": "'-x", "@a": "'@a", "+1": "+1", "\tx": "'\tx"} {
		if got := spreadsheetSafe(in); got != want {
			t.Errorf("spreadsheetSafe(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestReportCountsNotEnforced: blocks that report mode let through are
// counted apart, in every format, so a rollout's report is not read as
// traffic refused.
func TestReportCountsNotEnforced(t *testing.T) {
	dir := t.TempDir()
	writeDayFiles(t, dir, []Record{
		{Time: at(1, 9, 0), ID: "a", Action: ActionConnect, Outcome: OutcomeBlocked, Reason: "blocked-no-grant", Agency: "DCF", User: "jsmith", NotEnforced: true},
		{Time: at(1, 9, 1), ID: "b", Action: ActionConnect, Outcome: OutcomeBlocked, Reason: "blocked-no-grant", Agency: "DCF", User: "jsmith"},
		{Time: at(1, 9, 2), ID: "c", Action: ActionConnect, Outcome: OutcomeAllowed, Reason: "allowed-grant", Agency: "DCF", User: "jsmith"},
	})
	rep, err := BuildReport(dir, Query{}, ByAgency, nil, reportNow)
	if err != nil {
		t.Fatal(err)
	}
	if rep.NotEnforced != 1 || rep.Total != (Counts{1, 2}) {
		t.Fatalf("total %v, not enforced %d", rep.Total, rep.NotEnforced)
	}
	var table, csvOut, html bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteCSV(&csvOut); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteHTML(&html); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "3 (1 allowed, 2 blocked, of which 1 not enforced (report mode))") {
		t.Errorf("table:\n%s", table.String())
	}
	if !strings.Contains(csvOut.String(), "\nnot_enforced,,,,1,") {
		t.Errorf("csv:\n%s", csvOut.String())
	}
	if !strings.Contains(html.String(), "of which 1 not enforced (report mode)") {
		t.Errorf("html does not count the blocks not enforced")
	}
}

// TestBuildReportUnterminatedLastLine: a decision without its newline at
// the end of a day file is not counted, and the report returns it.
func TestBuildReportUnterminatedLastLine(t *testing.T) {
	dir := sampleDir(t)
	want := sampleReport(t, Query{}, ByAgency).Total
	files, err := DayFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	newest := files[len(files)-1]
	fake := storedLine(&Record{Time: newest.Day.Add(23 * time.Hour), ID: "fake", Action: ActionHTTPRequest,
		Outcome: OutcomeAllowed, User: "forger", Agency: "DCF"})
	fake = fake[:len(fake)-1]
	f, err := os.OpenFile(newest.Path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(fake); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := BuildReport(dir, Query{}, ByAgency, sampleAccounts(), reportNow)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total != want {
		t.Errorf("total %+v, want %+v without the unterminated record", rep.Total, want)
	}
	if len(rep.Unterminated) != 1 || rep.Unterminated[0].File != newest.Name || rep.Unterminated[0].Bytes != len(fake) {
		t.Errorf("unterminated %+v, want %s with %d bytes", rep.Unterminated, newest.Name, len(fake))
	}
}

// TestReportLeavesOutNotSocial: with proxy.log_not_social or
// dns.log_not_social on, the log also holds allowed-not-social records;
// they are no social-media use, so the report does not count them.
func TestReportLeavesOutNotSocial(t *testing.T) {
	dir := t.TempDir()
	writeDayFiles(t, dir, []Record{
		{Time: at(1, 9, 0), ID: "a", Action: ActionHTTPRequest, Outcome: OutcomeAllowed, Reason: "allowed-grant", Agency: "DCF", User: "jsmith", Platform: "facebook", Observer: "gw-1"},
		{Time: at(1, 9, 1), ID: "b", Action: ActionHTTPRequest, Outcome: OutcomeAllowed, Reason: "allowed-not-social", Domain: "example.org", Observer: "gw-2"},
		{Time: at(1, 9, 2), Action: ActionDNSQuery, Outcome: OutcomeAllowed, Reason: "allowed-not-social", Agency: "DCF", User: "jsmith", Domain: "example.com", Observer: "gw-1"},
	})
	for _, by := range ReportGroupings {
		rep, err := BuildReport(dir, Query{}, by, nil, reportNow)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Total != (Counts{1, 0}) || len(rep.Groups) != 1 || rep.Groups[0].Total() != 1 {
			t.Errorf("by %s: total %v, groups %v: want the one social decision", by, rep.Total, rep.Groups)
		}
		if !reflect.DeepEqual(rep.Gateways, []string{"gw-1"}) || !rep.Last.Equal(at(1, 9, 0)) {
			t.Errorf("by %s: gateways %v, last %v: want only the social decision's", by, rep.Gateways, rep.Last)
		}
	}
}

// TestReportUnverifiedIsNoUnregisteredAccount: "unverified" in
// smgate.account marks an account-level grant applied at platform level
// (no TLS interception); the report must not list it as an account that
// is missing from the registry.
func TestReportUnverifiedIsNoUnregisteredAccount(t *testing.T) {
	dir := t.TempDir()
	writeDayFiles(t, dir, []Record{
		{Time: at(1, 9, 0), Action: ActionDNSQuery, Outcome: OutcomeAllowed, Reason: "allowed-grant", Agency: "DOT", User: "tlee", Platform: "youtube", Account: "unverified"},
		{Time: at(1, 9, 1), ID: "b", Action: ActionHTTPRequest, Outcome: OutcomeAllowed, Reason: "allowed-grant", Agency: "DOT", User: "tlee", Platform: "youtube", Account: "yt-old"},
	})
	rep, err := BuildReport(dir, Query{}, ByAgency, nil, reportNow)
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]string{}
	for _, u := range rep.Accounts {
		status[u.Account.ID] = u.Status()
	}
	if s := status["unverified"]; s == "" || strings.Contains(s, "not in registry") {
		t.Errorf("unverified: status %q", s)
	}
	if s := status["yt-old"]; s != "not in registry" {
		t.Errorf("yt-old: status %q, want not in registry", s)
	}
	var table, csvOut bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteCSV(&csvOut); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{table.String(), csvOut.String()} {
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, "unverified") && strings.Contains(line, "not in registry") {
				t.Errorf("report line %q", line)
			}
		}
	}
}
