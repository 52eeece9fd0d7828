package logs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// tenDays writes 2 records on each of ten days from day1 and leaves the
// clock on the last.
func tenDays(t *testing.T, l *testLog) {
	t.Helper()
	for i := range 10 {
		l.clock.Set(day1.AddDate(0, 0, i))
		l.write(t, fmt.Sprintf("d%d", i+1), 2)
	}
}

// dayNames returns the day file names of days n of March 2025.
func dayNames(days ...int) []string {
	var out []string
	for _, d := range days {
		out = append(out, DayFileName(time.Date(2025, 3, d, 0, 0, 0, 0, time.UTC)))
	}
	return out
}

func (l *testLog) prune(t *testing.T, mod func(*PruneOptions)) (PruneResult, error) {
	t.Helper()
	w := l.open(t)
	o := PruneOptions{Dir: l.dir, StateDir: l.state, HMACKey: l.key, RetentionDays: 3,
		Now: l.clock.Now, Writer: w, By: "ops"}
	if mod != nil {
		mod(&o)
	}
	res, err := Prune(o)
	if cerr := w.Close(); cerr != nil {
		t.Fatal(cerr)
	}
	return res, err
}

func (l *testLog) fileNames(t *testing.T) []string {
	t.Helper()
	files, err := DayFiles(l.dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		out = append(out, f.Name)
	}
	return out
}

func TestPruneRespectsHolds(t *testing.T) {
	tests := []struct {
		name  string
		holds []Hold
		force bool
		kept  []int // days of March kept, besides 7 to 10
	}{
		{"no holds", nil, false, nil},
		{"date range", []Hold{{ID: "h", Reason: "r", From: mustDate("2025-03-02"), To: mustDate("2025-03-03")}}, false, []int{2, 3}},
		{"agency only", []Hold{{ID: "h", Reason: "r", Agency: "DCF"}}, false, []int{1, 2, 3, 4, 5, 6}},
		{"user with end", []Hold{{ID: "h", Reason: "r", User: "jdoe", To: mustDate("2025-03-01")}}, false, []int{1}},
		{"open ended", []Hold{{ID: "h", Reason: "r", From: mustDate("2025-03-05")}}, false, []int{5, 6}},
		{"forced", []Hold{{ID: "h", Reason: "r", From: mustDate("2025-03-02"), To: mustDate("2025-03-03")}}, true, []int{2, 3}},
		{"two holds", []Hold{
			{ID: "a", Reason: "r", From: mustDate("2025-03-02"), To: mustDate("2025-03-02")},
			{ID: "b", Reason: "r", User: "x", From: mustDate("2025-03-04"), To: mustDate("2025-03-04")},
		}, false, []int{2, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newTestLog(t)
			tenDays(t, l)
			store := NewHoldStore(l.state, l.clock.Now)
			for _, h := range tt.holds {
				if _, err := store.Add(h); err != nil {
					t.Fatal(err)
				}
			}
			res, err := l.prune(t, func(o *PruneOptions) { o.Force = tt.force })
			if err != nil {
				t.Fatal(err)
			}
			want := dayNames(append(tt.kept, 7, 8, 9, 10)...)
			if got := l.fileNames(t); strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("kept %v, want %v", got, want)
			}
			if len(res.Held) != len(tt.kept) {
				t.Errorf("held %v, want %v", res.Held, tt.kept)
			}
			l.mustVerify(t)
			checkPruneRecord(t, l, res.Deleted)
		})
	}
}

func checkPruneRecord(t *testing.T, l *testLog, deleted []string) {
	t.Helper()
	var msgs []string
	for _, r := range l.records(t) {
		if r.Action == ActionPrune {
			msgs = append(msgs, r.Message)
		}
	}
	if len(deleted) == 0 {
		if len(msgs) != 0 {
			t.Errorf("prune records %q, want none", msgs)
		}
		return
	}
	want := fmt.Sprintf("deleted %d day files older than 3 days: %s", len(deleted), strings.Join(deleted, ", "))
	if len(msgs) != 1 || !strings.HasPrefix(msgs[0], want) {
		t.Errorf("prune records %q, want %q", msgs, want)
	}
}

func TestPruneTwice(t *testing.T) {
	l := newTestLog(t)
	tenDays(t, l)
	store := NewHoldStore(l.state, l.clock.Now)
	if _, err := store.Add(Hold{ID: "h", Reason: "r", From: mustDate("2025-03-02"), To: mustDate("2025-03-03")}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.prune(t, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Release("h"); err != nil {
		t.Fatal(err)
	}
	for _, d := range []int{11, 12} {
		l.clock.Set(time.Date(2025, 3, d, 9, 0, 0, 0, time.UTC))
		l.write(t, fmt.Sprint(d), 1)
	}
	res, err := l.prune(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(res.Deleted, " "), strings.Join(dayNames(2, 3, 7, 8), " "); got != want {
		t.Errorf("deleted %s, want %s", got, want)
	}
	l.mustVerify(t)
	anchors, err := readAnchors(filepath.Join(l.state, AnchorFile))
	if err != nil || len(anchors) != 1 || anchors[0].days() != "2025-03-01 to 2025-03-08" || anchors[0].from != genesis {
		t.Errorf("anchors %+v, %v; want one of 2025-03-01 to 2025-03-08, from genesis", anchors, err)
	}
}

func TestPruneRefusesUnverified(t *testing.T) {
	l := newTestLog(t)
	tenDays(t, l)
	editLines(t, l.path(day1.AddDate(0, 0, 2)), func(s []string) []string {
		s[1] = strings.Replace(s[1], `"user.name":"u"`, `"user.name":"v"`, 1)
		return s
	})
	for _, dryRun := range []bool{false, true} {
		res, err := l.prune(t, func(o *PruneOptions) { o.DryRun = dryRun })
		var ve *VerifyError
		if !errors.As(err, &ve) || ve.File != dayNames(3)[0] || ve.Line != 2 {
			t.Fatalf("Prune (dry run %v): %v, want a verification error at %s line 2", dryRun, err, dayNames(3)[0])
		}
		if len(res.Deleted) != 0 {
			t.Errorf("Prune (dry run %v) refused, but its result says deleted %v", dryRun, res.Deleted)
		}
		if n := len(l.fileNames(t)); n != 10 {
			t.Fatalf("%d files left, want 10", n)
		}
	}
	res, err := l.prune(t, func(o *PruneOptions) { o.Force = true })
	if err != nil || res.Unverified == nil || len(res.Deleted) != 6 {
		t.Fatalf("forced Prune: %+v, %v", res, err)
	}
	l.mustVerify(t) // the altered record went with its day
}

func TestPruneDryRun(t *testing.T) {
	l := newTestLog(t)
	tenDays(t, l)
	res, err := Prune(PruneOptions{Dir: l.dir, StateDir: l.state, RetentionDays: 3, Now: l.clock.Now, DryRun: true})
	if err != nil || len(res.Deleted) != 6 {
		t.Fatalf("dry run: %+v, %v", res, err)
	}
	if n := len(l.fileNames(t)); n != 10 {
		t.Errorf("%d files left, want 10", n)
	}
	if _, err := os.Stat(l.state + "/" + AnchorFile); err == nil {
		t.Error("dry run wrote anchors")
	}
}

func TestPruneKeepsNewest(t *testing.T) {
	l := newTestLog(t)
	l.write(t, "old", 2)
	l.clock.Set(day1.AddDate(1, 0, 0))
	res, err := l.prune(t, nil)
	if err != nil || len(res.Deleted) != 0 {
		t.Fatalf("Prune: %+v, %v", res, err)
	}
	l.mustVerify(t)
}

func TestPruneBadOptions(t *testing.T) {
	l := newTestLog(t)
	if _, err := Prune(PruneOptions{Dir: l.dir, StateDir: l.state}); err == nil {
		t.Error("Prune without retention")
	}
	if _, err := Prune(PruneOptions{Dir: l.dir, StateDir: l.state, RetentionDays: 1}); err == nil {
		t.Error("Prune without a writer")
	}
}

// TestPruneSeesHoldPlacedMeanwhile: a hold placed after prune read the
// holds, while it checked the files, still keeps its days: prune reads
// the holds again under the lock that saving one takes, deletes nothing,
// and says so. The next prune keeps the held day and deletes the rest.
func TestPruneSeesHoldPlacedMeanwhile(t *testing.T) {
	l := newTestLog(t)
	tenDays(t, l)
	store := NewHoldStore(l.state, l.clock.Now)
	late := Hold{ID: "late", Reason: "subpoena", From: mustDate("2025-03-02"), To: mustDate("2025-03-02")}
	_, err := l.prune(t, func(o *PruneOptions) {
		o.beforeDelete = func() {
			if _, err := store.Add(late); err != nil {
				t.Error(err)
			}
		}
	})
	if err == nil || !strings.Contains(err.Error(), "hold late, placed while the files were checked, covers "+dayNames(2)[0]) {
		t.Fatalf("prune with a hold placed meanwhile: %v", err)
	}
	if got := l.fileNames(t); len(got) != 10 {
		t.Fatalf("files after the refused prune: %v", got)
	}
	l.mustVerify(t)
	res, err := l.prune(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(res.Deleted, " "), strings.Join(dayNames(1, 3, 4, 5, 6), " "); got != want {
		t.Errorf("deleted %s, want %s", got, want)
	}
	l.mustVerify(t)
}

// TestForcedPruneKeepsBreakInHeldDay: a forced prune of the days around a
// held day whose end was cut does not hide the cut: the anchor of the
// run after it says that its first record did not link, and verify still
// fails there.
func TestForcedPruneKeepsBreakInHeldDay(t *testing.T) {
	l := heldLog(t)
	held := dayNames(3)[0]
	editLines(t, filepath.Join(l.dir, held), func(s []string) []string { return s[:1] })
	res, err := l.prune(t, func(o *PruneOptions) { o.Force = true })
	if err != nil || res.Unverified == nil {
		t.Fatalf("forced Prune: %+v, %v", res, err)
	}
	if got, want := strings.Join(res.Deleted, " "), strings.Join(dayNames(1, 2, 4, 5, 6), " "); got != want {
		t.Fatalf("deleted %s, want %s", got, want)
	}
	_, err = Verify(l.verifyOptions())
	var ve *VerifyError
	if !errors.As(err, &ve) || ve.File != dayNames(4)[0] || !strings.Contains(ve.Problem, "did not link from the end of "+held) {
		t.Fatalf("Verify after the forced prune: %v; want the cut end of %s still seen", err, held)
	}
}

// TestPruneRecordedAfterLogOutage: a prune that deletes day files while
// the usage log cannot be written (serve's daily prune on a full disk)
// has deleted them whatever becomes of its record: the record is queued,
// not refused and lost, and written once the log can be written again.
func TestPruneRecordedAfterLogOutage(t *testing.T) {
	l := newTestLog(t)
	tenDays(t, l)
	w := l.open(t)
	day11 := day1.AddDate(0, 0, 10)
	l.clock.Set(day11)
	if err := os.Mkdir(l.path(day11), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := w.Log(&Record{ID: "d11-1"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err == nil {
		t.Fatal("Flush succeeded with an unwritable day file")
	}
	res, err := Prune(PruneOptions{Dir: l.dir, StateDir: l.state, RetentionDays: 3,
		Now: l.clock.Now, Writer: w, By: "ops"})
	if err == nil {
		t.Error("Prune reported its record written during the outage")
	}
	if len(res.Deleted) == 0 {
		t.Fatalf("Prune deleted nothing: %+v, %v", res, err)
	}
	remove(t, l.path(day11))
	if err := w.Flush(); err != nil {
		t.Fatalf("Flush once the log can be written: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range l.records(t) {
		if r.Action == ActionPrune {
			got = append(got, r.Message)
		}
	}
	if len(got) != 1 || !strings.Contains(got[0], res.Deleted[0]) {
		t.Errorf("prune records %q; want the one that deleted %v", got, res.Deleted)
	}
	l.mustVerify(t)
}

// TestPruneKeepsLateRecordsOfHeldDays: a record stamped on the last day
// of a hold but filed the next day (a tunnel logged when it closes,
// stamped when it opened; see lateSlack) is a record of a held day, so
// prune keeps the file it is in.
func TestPruneKeepsLateRecordsOfHeldDays(t *testing.T) {
	l := newTestLog(t)
	for i := range 10 {
		l.clock.Set(day1.AddDate(0, 0, i))
		w := l.open(t)
		if err := w.Log(&Record{ID: fmt.Sprintf("d%d", i+1), Action: ActionHTTPRequest, User: "u"}); err != nil {
			t.Fatal(err)
		}
		if i == 3 {
			tunnel := &Record{ID: "tunnel", Action: ActionConnect, User: "u",
				Time: time.Date(2025, 3, 3, 23, 30, 0, 0, time.UTC)}
			if err := w.Log(tunnel); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := NewHoldStore(l.state, l.clock.Now).Add(Hold{ID: "h", Reason: "r",
		From: mustDate("2025-03-02"), To: mustDate("2025-03-03")}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.prune(t, nil); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range l.records(t) {
		found = found || r.ID == "tunnel"
	}
	if !found {
		t.Fatalf("prune deleted the record of held day 2025-03-03 filed on 03-04; kept %v", l.fileNames(t))
	}
	if want := dayNames(2, 3, 4, 7, 8, 9, 10); !slices.Equal(l.fileNames(t), want) {
		t.Errorf("kept %v, want %v", l.fileNames(t), want)
	}
	l.mustVerify(t)
}
