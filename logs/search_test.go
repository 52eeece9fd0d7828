package logs

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// storedLine returns r as the writer stores it: AppendRecord's object with
// a chain field last (its value is not checked by Search).
func storedLine(r *Record) []byte {
	b := AppendRecord(nil, r)
	b = append(b[:len(b)-1], `,"`+KeyChain+`":"`...)
	b = append(b, strings.Repeat("ab", 32)...)
	return append(b, '"', '}', '\n')
}

// writeDayFiles appends each record to the daily file of its UTC date in
// dir, in the order given.
func writeDayFiles(t testing.TB, dir string, recs []Record) {
	t.Helper()
	files := map[string][]byte{}
	var names []string
	for i := range recs {
		name := DayFileName(recs[i].Time)
		if _, ok := files[name]; !ok {
			names = append(names, name)
		}
		files[name] = append(files[name], storedLine(&recs[i])...)
	}
	for _, name := range names {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(files[name]); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// day0 is the first day of the sample log.
var day0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// at returns day0 plus d days and the given clock time.
func at(d, h, m int) time.Time {
	return day0.AddDate(0, 0, d).Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
}

// sampleRecords is a small log over three days, in time order, for tests
// that check exact results. IDs are e1, e2, ...
func sampleRecords() []Record {
	recs := []Record{
		{Time: at(0, 8, 0), Action: ActionHTTPRequest, Outcome: OutcomeAllowed, Reason: "allowed-grant", User: "jsmith", Agency: "DCF", Domain: "www.facebook.com", Path: "/DCF", Platform: "facebook", Account: "fb-dcf", Role: "comms", Mode: "intercept"},
		{Time: at(0, 9, 30), Action: ActionConnect, Outcome: OutcomeBlocked, Reason: "blocked-no-grant", User: "jsmith", Agency: "DCF", Domain: "m.facebook.com", Platform: "facebook", Mode: "explicit"},
		{Time: at(0, 23, 59), Action: ActionDNSQuery, Outcome: OutcomeBlocked, Reason: "blocked-no-grant", User: "adoe", Agency: "DOT", Domain: "facebook.com", Platform: "facebook", Mode: "dns"},
		{Time: at(1, 0, 0), Action: ActionConnect, Outcome: OutcomeAllowed, Reason: "allowed-grant", User: "adoe", Agency: "DOT", Domain: "x.com", Platform: "x", Account: "x-dot", Role: "press", Mode: "explicit"},
		{Time: at(1, 12, 0), Action: ActionConnect, Outcome: OutcomeBlocked, Reason: "blocked-outside-schedule", User: "jsmith", Agency: "DCF", Domain: "notfacebook.com", Mode: "explicit"},
		{Time: at(1, 13, 0), Action: ActionSuspend, Outcome: OutcomeSuccess, By: "admin", Target: "agency:DOT", Message: "audit"},
		{Time: at(1, 14, 0), Action: ActionConnect, Outcome: OutcomeBlocked, Reason: "blocked-agency-suspended", User: "adoe", Agency: "DOT", Domain: "x.com", Platform: "x", Mode: "explicit", NotEnforced: true},
		{Time: at(2, 10, 0), Action: ActionHTTPRequest, Outcome: OutcomeAllowed, Reason: "allowed-grant", User: "bwu", Agency: "DCF", Domain: "www.instagram.com", Path: "/dcf", Platform: "instagram", Account: "ig-dcf", Role: "comms", Mode: "intercept"},
		{Time: at(2, 11, 0), Action: ActionHTTPRequest, Outcome: OutcomeAllowed, Reason: "allowed-grant", User: "jsmith", Agency: "DCF", Domain: "www.facebook.com", Path: "/DCF/posts", Platform: "facebook", Account: "fb-dcf", Role: "comms", Mode: "intercept"},
		{Time: at(2, 11, 0).Add(500 * time.Millisecond), Action: ActionHTTPRequest, Outcome: OutcomeBlocked, Reason: "blocked-action-not-granted", User: "bwu", Agency: "DCF", Domain: "www.facebook.com", Path: "/DCF/posts", Method: "POST", Platform: "facebook", Account: "fb-dcf", Mode: "intercept"},
	}
	for i := range recs {
		recs[i].ID = fmt.Sprintf("e%d", i+1)
		recs[i].Observer = "gw-1"
		if recs[i].User != "" {
			recs[i].SourceIP = netip.MustParseAddr("10.0.0.1")
		}
	}
	return recs
}

// sampleDir writes sampleRecords into a new directory.
func sampleDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	writeDayFiles(t, dir, sampleRecords())
	return dir
}

// searchIDs returns the event.id of every record Search yields.
func searchIDs(t *testing.T, dir string, q Query) []string {
	t.Helper()
	var ids []string
	_, err := Search(dir, q, func(line []byte, r *Record) error {
		ids = append(ids, r.ID)
		return nil
	})
	if err != nil {
		t.Fatalf("Search: %v", err)
	}
	return ids
}

func TestSearchFilters(t *testing.T) {
	dir := sampleDir(t)
	tests := []struct {
		name string
		q    Query
		want string
	}{
		{"all", Query{}, "e1 e2 e3 e4 e5 e6 e7 e8 e9 e10"},
		{"user", Query{User: "jsmith"}, "e1 e2 e5 e9"},
		{"user none", Query{User: "jsmit"}, ""},
		{"agency", Query{Agency: "DOT"}, "e3 e4 e7"},
		{"platform", Query{Platform: "x"}, "e4 e7"},
		{"account", Query{Account: "fb-dcf"}, "e1 e9 e10"},
		{"domain and subdomains", Query{Domain: "facebook.com"}, "e1 e2 e3 e9 e10"},
		{"domain exact leaf", Query{Domain: "m.facebook.com"}, "e2"},
		{"domain upper case and dot", Query{Domain: "FaceBook.COM."}, "e1 e2 e3 e9 e10"},
		{"domain not a suffix of a label", Query{Domain: "book.com"}, ""},
		{"domain other", Query{Domain: "notfacebook.com"}, "e5"},
		{"outcome allowed", Query{Outcome: OutcomeAllowed}, "e1 e4 e8 e9"},
		{"outcome blocked", Query{Outcome: OutcomeBlocked}, "e2 e3 e5 e7 e10"},
		{"outcome success", Query{Outcome: OutcomeSuccess}, "e6"},
		{"reason", Query{Reason: "blocked-no-grant"}, "e2 e3"},
		{"one action", Query{Actions: []string{ActionConnect}}, "e2 e4 e5 e7"},
		{"actions", Query{Actions: []string{ActionDNSQuery, ActionSuspend}}, "e3 e6"},
		{"user and outcome", Query{User: "jsmith", Outcome: OutcomeBlocked}, "e2 e5"},
		{"agency platform outcome", Query{Agency: "DCF", Platform: "facebook", Outcome: OutcomeAllowed}, "e1 e9"},
		{"domain and user", Query{Domain: "facebook.com", User: "bwu"}, "e10"},
		{"reason and actions", Query{Reason: "blocked-no-grant", Actions: []string{ActionConnect}}, "e2"},
		{"contradiction", Query{User: "jsmith", Agency: "DOT"}, ""},
		{"since", Query{Since: at(2, 0, 0)}, "e8 e9 e10"},
		{"until", Query{Until: at(1, 0, 0)}, "e1 e2 e3"},
		{"since and until across days", Query{Since: at(0, 23, 0), Until: at(2, 10, 30)}, "e3 e4 e5 e6 e7 e8"},
		{"since inclusive", Query{Since: at(1, 12, 0)}, "e5 e6 e7 e8 e9 e10"},
		{"until exclusive", Query{Until: at(1, 12, 0)}, "e1 e2 e3 e4"},
		{"sub-second bounds", Query{Since: at(2, 11, 0).Add(time.Millisecond), Until: at(2, 11, 0).Add(501 * time.Millisecond)}, "e10"},
		{"time and user", Query{User: "jsmith", Since: at(1, 0, 0), Until: at(3, 0, 0)}, "e5 e9"},
		{"bounds in another zone", Query{Since: at(1, 0, 0).In(time.FixedZone("EST", -5*3600))}, "e4 e5 e6 e7 e8 e9 e10"},
		{"empty period", Query{Since: at(5, 0, 0)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := strings.Join(searchIDs(t, dir, tt.q), " ")
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSearchYieldsStoredLine(t *testing.T) {
	dir := sampleDir(t)
	recs := sampleRecords()
	_, err := Search(dir, Query{User: "bwu", Outcome: OutcomeBlocked}, func(line []byte, r *Record) error {
		if want := strings.TrimSuffix(string(storedLine(&recs[9])), "\n"); string(line) != want {
			t.Errorf("line = %s, want %s", line, want)
		}
		if r.Method != "POST" || r.Path != "/DCF/posts" {
			t.Errorf("record = %+v", r)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestSearchReadsOnlyDaysInPeriod(t *testing.T) {
	dir := sampleDir(t)
	// Damaged files for days outside the period: reading them would fail.
	for _, day := range []string{"2026-10-31", "2026-11-05"} {
		if err := os.WriteFile(filepath.Join(dir, "usage-"+day+".jsonl"), []byte("not json\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// Files that are not daily files are never read.
	for _, name := range []string{"usage-2026-11-02.jsonl.gz", "chain.head", "usage-today.jsonl"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("not json\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	got := searchIDs(t, dir, Query{Since: at(0, 0, 0), Until: at(3, 0, 0)})
	if len(got) != 10 {
		t.Errorf("got %v, want the 10 records", got)
	}
	tests := []struct {
		since, until time.Time
		want         string
	}{
		{at(1, 0, 0), time.Time{}, "02 03 05"},
		{at(1, 12, 0), at(1, 20, 0), "02 03"}, // and the next day, for records filed late
		{time.Time{}, at(0, 1, 0), "31 01 02"},
		{at(0, 23, 59), at(1, 0, 0), "01 02"},
	}
	for _, tt := range tests {
		files, err := searchDayFiles(dir, tt.since, tt.until)
		if err != nil {
			t.Fatal(err)
		}
		var days []string
		for _, f := range files {
			days = append(days, strings.TrimSuffix(filepath.Base(f), ".jsonl")[len("usage-2026-11-"):])
		}
		if got := strings.Join(days, " "); got != tt.want {
			t.Errorf("[%v, %v): read days %s, want %s", tt.since, tt.until, got, tt.want)
		}
	}
}

// TestSearchRecordFiledLate finds a record the writer put in the next
// day's file because it was stamped before midnight and logged after.
func TestSearchRecordFiledLate(t *testing.T) {
	dir := sampleDir(t)
	late := Record{Time: at(0, 22, 0), ID: "late", User: "jsmith"}
	f, err := os.OpenFile(filepath.Join(dir, DayFileName(at(1, 0, 0))), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(storedLine(&late))
	f.Close()
	if got := strings.Join(searchIDs(t, dir, Query{User: "jsmith", Until: at(1, 0, 0)}), " "); got != "e1 e2 late" {
		t.Errorf("got %s, want e1 e2 late", got)
	}
}

func TestSearchDamagedLines(t *testing.T) {
	dir := sampleDir(t)
	name := "usage-2026-11-02.jsonl"
	path := filepath.Join(dir, name)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Line 2 of the file loses its closing brace; a torn last line follows.
	lines := strings.SplitAfter(string(data), "\n")
	lines[1] = strings.Replace(lines[1], `"}`+"\n", `"`+"\n", 1)
	torn := string(storedLine(&Record{Time: at(1, 23, 0), User: "jsmith"}))
	data = []byte(strings.Join(lines, "") + torn[:40])
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	var ids []string
	unterminated, err := Search(dir, Query{}, func(_ []byte, r *Record) error {
		ids = append(ids, r.ID)
		return nil
	})
	if got := strings.Join(ids, " "); got != "e1 e2 e3 e4 e6 e7 e8 e9 e10" {
		t.Errorf("records = %q, want all but the damaged e5", got)
	}
	var le *LineError
	if !errors.As(err, &le) || le.File != name || le.Line != 2 || strings.Contains(err.Error(), name+":5") {
		t.Fatalf("err = %v, want a LineError at %s:2 only", err, name)
	}
	if want := []Unterminated{{File: name, Line: 5, Bytes: 40}}; !slices.Equal(unterminated, want) {
		t.Errorf("unterminated %+v, want the torn line %+v", unterminated, want)
	}
}

// TestSearchUnterminatedLastLine: a whole record appended without its
// newline is not verified (being written, or torn), so Search leaves it
// out and returns it, in any day file; the lines before it are found as
// usual.
func TestSearchUnterminatedLastLine(t *testing.T) {
	dir := sampleDir(t)
	files, err := DayFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	var want []Unterminated
	for _, f := range files {
		fake := storedLine(&Record{Time: f.Day.Add(23 * time.Hour), ID: "fake", User: "jsmith"})
		fake = fake[:len(fake)-1] // no newline
		fh, err := os.OpenFile(f.Path, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fh.Write(fake); err != nil {
			t.Fatal(err)
		}
		if err := fh.Close(); err != nil {
			t.Fatal(err)
		}
		want = append(want, Unterminated{File: f.Name, Line: len(readLines(t, f.Path)), Bytes: len(fake)})
	}
	for _, q := range []Query{{}, {User: "jsmith"}} {
		var ids []string
		unterminated, err := Search(dir, q, func(_ []byte, r *Record) error {
			ids = append(ids, r.ID)
			return nil
		})
		if err != nil || slices.Contains(ids, "fake") || len(ids) == 0 {
			t.Errorf("Search(%+v) = %v, %v; want the records without the fake one", q, ids, err)
		}
		if !slices.Equal(unterminated, want) {
			t.Errorf("Search(%+v) unterminated %+v, want %+v", q, unterminated, want)
		}
	}
}

func TestSearchManyDamagedLines(t *testing.T) {
	dir := t.TempDir()
	junk := strings.Repeat("{\n", maxLineErrors+5)
	if err := os.WriteFile(filepath.Join(dir, "usage-2026-11-01.jsonl"), []byte(junk), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Search(dir, Query{}, func([]byte, *Record) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "and 5 more lines") {
		t.Errorf("err = %v, want the first %d and a count of the rest", err, maxLineErrors)
	}
}

func TestSearchStops(t *testing.T) {
	dir := sampleDir(t)
	n := 0
	_, err := Search(dir, Query{}, func([]byte, *Record) error {
		n++
		if n == 3 {
			return ErrStop
		}
		return nil
	})
	if err != nil || n != 3 {
		t.Errorf("err = %v after %d records, want nil after 3", err, n)
	}
	boom := errors.New("boom")
	_, err = Search(dir, Query{}, func([]byte, *Record) error { return boom })
	if !errors.Is(err, boom) {
		t.Errorf("err = %v, want the callback's error", err)
	}
}

func TestSearchDirectoryErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	_, err := Search(missing, Query{}, func([]byte, *Record) error { return nil })
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("err = %v, want not-exist naming %s", err, missing)
	}
	if runtime.GOOS == "windows" || os.Geteuid() == 0 {
		t.Skip("permissions do not apply")
	}
	dir := sampleDir(t)
	path := filepath.Join(dir, "usage-2026-11-02.jsonl")
	if err := os.Chmod(path, 0); err != nil {
		t.Fatal(err)
	}
	_, err = Search(dir, Query{}, func([]byte, *Record) error { return nil })
	if !errors.Is(err, os.ErrPermission) || !strings.Contains(err.Error(), path) {
		t.Errorf("err = %v, want permission denied naming %s", err, path)
	}
}

func TestSearchEmptyDirectory(t *testing.T) {
	if got := searchIDs(t, t.TempDir(), Query{}); len(got) != 0 {
		t.Errorf("got %v", got)
	}
}

// TestSearchBlockBoundaries scans with tiny buffers, so that lines and
// needles straddle reads and the buffer has to grow.
func TestSearchBlockBoundaries(t *testing.T) {
	dir := sampleDir(t)
	recs := sampleRecords()
	long := Record{Time: at(2, 12, 0), ID: "long", User: "jsmith", Message: strings.Repeat("x", 5000)}
	writeDayFiles(t, dir, []Record{long})
	files, err := searchDayFiles(dir, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	all := append(recs, long)
	for _, q := range []Query{{}, {User: "jsmith"}, {Domain: "facebook.com"}, {Since: at(0, 9, 0)}} {
		want := bruteForce(t, all, q)
		for _, size := range []int{1, 7, 64, 300, 1 << 16} {
			var got []string
			s := &lineScan{f: newFilter(q), buf: make([]byte, size), fn: func(_ []byte, r *Record) error {
				got = append(got, r.ID)
				return nil
			}}
			for _, f := range files {
				if err := s.file(f); err != nil {
					t.Fatalf("buffer %d: %v", size, err)
				}
			}
			if !slices.Equal(got, want) || s.damage() != nil {
				t.Errorf("query %+v, buffer %d: got %v (%v), want %v", q, size, got, s.damage(), want)
			}
		}
	}
}

// bruteForce returns the IDs of the records q matches, tested one by one.
func bruteForce(t *testing.T, recs []Record, q Query) []string {
	t.Helper()
	f := newFilter(q)
	var ids []string
	for i := range recs {
		if f.match(&recs[i]) {
			ids = append(ids, recs[i].ID)
		}
	}
	return ids
}

// TestSearchDecodesOnlyCandidates checks that the prefilter does its job:
// lines without the query's bytes are not decoded.
func TestSearchDecodesOnlyCandidates(t *testing.T) {
	dir := sampleDir(t)
	files, err := searchDayFiles(dir, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		q       Query
		decoded int
	}{
		{Query{User: "nobody"}, 0},
		{Query{User: "jsmith"}, 4},
		{Query{User: "jsmith", Outcome: OutcomeBlocked}, 2},
		{Query{Domain: "facebook.com"}, 6}, // notfacebook.com too: the exact test drops it
		{Query{Actions: []string{ActionSuspend}}, 1},
		{Query{Since: at(2, 0, 0)}, 3},
		{Query{}, 10},
	}
	for _, tt := range tests {
		s := &lineScan{f: newFilter(tt.q), buf: make([]byte, scanBufSize), fn: func([]byte, *Record) error { return nil }}
		for _, f := range files {
			if err := s.file(f); err != nil {
				t.Fatal(err)
			}
		}
		if s.nlines != tt.decoded {
			t.Errorf("%+v: decoded %d lines, want %d", tt.q, s.nlines, tt.decoded)
		}
	}
}

// TestSearchWriterLog searches a log written by the Writer itself, over
// three days.
func TestSearchWriterLog(t *testing.T) {
	dir, state := filepath.Join(t.TempDir(), "logs"), t.TempDir()
	clock := day0
	w, err := Open(Options{Dir: dir, StateDir: state, Observer: "gw-w", Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	recs := sampleRecords()
	for i := range recs {
		clock = recs[i].Time
		r := recs[i]
		if err := w.Log(&r); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	files, err := DayFiles(dir)
	if err != nil || len(files) != 3 {
		t.Fatalf("day files %v, %v; want three", files, err)
	}
	if got := strings.Join(searchIDs(t, dir, Query{Domain: "facebook.com", Since: at(0, 9, 0), Until: at(2, 11, 0)}), " "); got != "e2 e3" {
		t.Errorf("got %q, want e2 e3", got)
	}
	if got := strings.Join(searchIDs(t, dir, Query{User: "bwu"}), " "); got != "e8 e10" {
		t.Errorf("got %q, want e8 e10", got)
	}
}
