package logs

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// heldPrune writes tenDays under a key, holds 2025-03-03 and prunes with
// a retention of 3 days: 03-03 and 03-07 to 03-10 stay, with anchors for
// 03-01 to 03-02 and 03-04 to 03-06.
func heldPrune(t *testing.T) *testLog {
	t.Helper()
	l := heldLog(t)
	if _, err := l.prune(t, nil); err != nil {
		t.Fatal(err)
	}
	if got, want := l.fileNames(t), dayNames(3, 7, 8, 9, 10); !slices.Equal(got, want) {
		t.Fatalf("kept %v, want %v", got, want)
	}
	var days []string
	for _, a := range l.anchors(t) {
		days = append(days, a.days())
	}
	if want := []string{"2025-03-01 to 2025-03-02", "2025-03-04 to 2025-03-06"}; !slices.Equal(days, want) {
		t.Fatalf("anchors %v, want %v", days, want)
	}
	if res := l.mustVerify(t); len(res.Given) != 0 {
		t.Fatalf("sealed anchors taken as given: %v", res.Given)
	}
	return l
}

func (l *testLog) anchors(t *testing.T) []anchor {
	t.Helper()
	as, err := readAnchors(filepath.Join(l.state, AnchorFile))
	if err != nil {
		t.Fatal(err)
	}
	return as
}

// editAnchors applies fn to the anchor file as stored.
func (l *testLog) editAnchors(t *testing.T, fn func([]Anchor) []Anchor) {
	t.Helper()
	path := filepath.Join(l.state, AnchorFile)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc anchorsDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	doc.Anchors = fn(doc.Anchors)
	if b, err = json.Marshal(doc); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o640); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyHeldDayBeforePrunedRun: a kept day before a pruned run is
// bound to the anchor's From, so cutting its tail or deleting it fails
// verification naming the file, with the key and the checkpoint intact.
func TestVerifyHeldDayBeforePrunedRun(t *testing.T) {
	held := dayNames(3)[0]
	tests := []struct {
		name    string
		tamper  func(t *testing.T, l *testLog)
		file    string
		problem string
	}{
		{"tail cut", func(t *testing.T, l *testLog) {
			editLines(t, filepath.Join(l.dir, held), func(s []string) []string { return s[:len(s)-1] })
		}, held, "ends after 1 records, but the days pruned after it (2025-03-04 to 2025-03-06) continued from another chain value"},
		{"deleted", func(t *testing.T, l *testLog) {
			if err := os.Remove(filepath.Join(l.dir, held)); err != nil {
				t.Fatal(err)
			}
		}, held, "missing: the days pruned after it (2025-03-04 to 2025-03-06) continued from another chain value"},
		{"tail cut and anchor moved to the cut", func(t *testing.T, l *testLog) {
			path := filepath.Join(l.dir, held)
			editLines(t, path, func(s []string) []string { return s[:len(s)-1] })
			cut, _, err := lastSum(path)
			if err != nil {
				t.Fatal(err)
			}
			l.editAnchors(t, func(as []Anchor) []Anchor { as[1].From = cut.String(); return as })
		}, AnchorFile, "prune anchor of 2025-03-04 to 2025-03-06 does not match its seal"},
		{"deleted and anchors merged", func(t *testing.T, l *testLog) {
			if err := os.Remove(filepath.Join(l.dir, held)); err != nil {
				t.Fatal(err)
			}
			l.editAnchors(t, func(as []Anchor) []Anchor {
				as[1].First, as[1].From = as[0].First, as[0].From
				return as[1:]
			})
		}, AnchorFile, "prune anchor of 2025-03-01 to 2025-03-06 does not match its seal"},
		{"kept day after the run deleted", func(t *testing.T, l *testLog) {
			if err := os.Remove(filepath.Join(l.dir, dayNames(7)[0])); err != nil {
				t.Fatal(err)
			}
		}, dayNames(8)[0], "file " + dayNames(7)[0] + " missing or chain broken"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := heldPrune(t)
			tt.tamper(t, l)
			_, err := Verify(l.verifyOptions())
			var ve *VerifyError
			if !errors.As(err, &ve) || ve.File != tt.file || !strings.Contains(ve.Problem, tt.problem) {
				t.Fatalf("Verify: %v; want a VerifyError for %s: %s", err, tt.file, tt.problem)
			}
		})
	}
}

// TestVerifyAnchorOtherKey: anchors sealed under one key do not pass
// under another, even where the files are not read.
func TestVerifyAnchorOtherKey(t *testing.T) {
	l := heldPrune(t)
	o := l.verifyOptions()
	o.HMACKey = []byte("another key")
	_, err := Verify(o)
	var ve *VerifyError
	if !errors.As(err, &ve) || ve.File != AnchorFile {
		t.Fatalf("Verify under another key: %v; want the anchor file named", err)
	}
}

// TestVerifyLegacyAnchors: an anchor written by an older smgate (day and
// head only) at the start of the log still verifies the kept files;
// Verify names it as taken as given. One after a kept day cannot be
// checked and fails.
func TestVerifyLegacyAnchors(t *testing.T) {
	l := heldPrune(t)
	l.editAnchors(t, func(as []Anchor) []Anchor {
		as[0] = Anchor{Day: as[0].Day, Head: as[0].Head}
		return as
	})
	res := l.mustVerify(t)
	if want := []string{"days up to 2025-03-02"}; !slices.Equal(res.Given, want) || res.Files != 5 {
		t.Errorf("Verify %+v; want 5 files and anchors given %v", res, want)
	}
	l.editAnchors(t, func(as []Anchor) []Anchor {
		as[1] = Anchor{Day: as[1].Day, Head: as[1].Head}
		return as
	})
	_, err := Verify(l.verifyOptions())
	var ve *VerifyError
	if !errors.As(err, &ve) || ve.File != AnchorFile || !strings.Contains(ve.Problem, "days up to 2025-03-06 has no seal") {
		t.Errorf("Verify with a legacy anchor after a kept day: %v; want it named", err)
	}
}

// TestVerifyForgedLegacyAnchor: deleting a kept day file and writing a
// legacy anchor for it (no key needed) fails verify, naming the anchor,
// and stops prune, forced or not.
func TestVerifyForgedLegacyAnchor(t *testing.T) {
	for _, d := range []int{3, 8} { // held; recent
		t.Run(dayNames(d)[0], func(t *testing.T) {
			l := heldPrune(t)
			path := filepath.Join(l.dir, dayNames(d)[0])
			head, _, err := lastSum(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			day := strings.TrimSuffix(strings.TrimPrefix(dayNames(d)[0], "usage-"), ".jsonl")
			l.editAnchors(t, func(as []Anchor) []Anchor { return append(as, Anchor{Day: day, Head: head.String()}) })
			_, err = Verify(l.verifyOptions())
			var ve *VerifyError
			if !errors.As(err, &ve) || ve.File != AnchorFile ||
				!strings.Contains(ve.Problem, "days up to "+day+" has no seal") || !strings.Contains(ve.Problem, "cannot be checked") {
				t.Fatalf("Verify: %v; want the forged anchor named", err)
			}
			before := l.fileNames(t)
			l.clock.Set(day1.AddDate(0, 0, 11))
			for _, force := range []bool{false, true} {
				if _, err := l.prune(t, func(o *PruneOptions) { o.Force = force }); err == nil ||
					!strings.Contains(err.Error(), "cannot be checked") {
					t.Errorf("Prune (force %v): %v; want it refused", force, err)
				}
			}
			if got := l.fileNames(t); !slices.Equal(got, before) {
				t.Errorf("files %v after a refused prune, want %v", got, before)
			}
		})
	}
}

// TestPruneRefusesCutHeldDay: prune checks the anchors it crosses before
// it builds on them: a held day cut before the next prune stops it.
func TestPruneRefusesCutHeldDay(t *testing.T) {
	l := heldPrune(t)
	held := dayNames(3)[0]
	editLines(t, filepath.Join(l.dir, held), func(s []string) []string { return s[:len(s)-1] })
	l.clock.Set(day1.AddDate(0, 0, 11))
	l.write(t, "d12", 1)
	before := l.fileNames(t)
	_, err := l.prune(t, nil)
	var ve *VerifyError
	if !errors.As(err, &ve) || ve.File != held || !strings.Contains(err.Error(), "nothing deleted") {
		t.Fatalf("Prune: %v; want it refused naming %s", err, held)
	}
	if got := l.fileNames(t); !slices.Equal(got, before) {
		t.Errorf("files %v after a refused prune, want %v", got, before)
	}
}

// TestPruneAnchorsVerifyAtEveryStep: while prune deletes, the anchor file
// holds the old anchors and one per file deleted; the log verifies with
// any newest part of the deletion done, so that a crash leaves a log
// that verifies.
func TestPruneAnchorsVerifyAtEveryStep(t *testing.T) {
	l, del, all, need := secondPrune(t)
	if err := writeAnchors(l.state, all); err != nil {
		t.Fatal(err)
	}
	for n := len(del) - 1; n >= 0; n-- {
		if err := os.Remove(del[n].Path); err != nil {
			t.Fatal(err)
		}
		l.mustVerify(t)
	}
	if err := writeAnchors(l.state, need); err != nil {
		t.Fatal(err)
	}
	as := l.anchors(t)
	if len(as) != 1 || as[0].days() != "2025-03-01 to 2025-03-08" || as[0].from != genesis {
		t.Errorf("anchors kept %+v; want one of 2025-03-01 to 2025-03-08 from genesis", as)
	}
	l.mustVerify(t)
}

// heldLog writes tenDays under a key and holds 2025-03-03 (hold "h").
func heldLog(t *testing.T) *testLog {
	t.Helper()
	l := newTestLog(t)
	l.key = []byte("chain key")
	tenDays(t, l)
	if _, err := NewHoldStore(l.state, l.clock.Now).Add(Hold{ID: "h", Reason: "r",
		From: mustDate("2025-03-03"), To: mustDate("2025-03-03")}); err != nil {
		t.Fatal(err)
	}
	return l
}

// secondPrune is heldPrune's log a day later with the hold released, and
// the anchors that a prune of it (03-03, 03-07 and 03-08) saves while it
// deletes (all) and keeps after (need), with the files it deletes.
func secondPrune(t *testing.T) (l *testLog, del []DayFile, all, need []anchor) {
	t.Helper()
	l = heldPrune(t)
	if _, err := NewHoldStore(l.state, l.clock.Now).Release("h"); err != nil {
		t.Fatal(err)
	}
	l.clock.Set(day1.AddDate(0, 0, 11))
	l.write(t, "d12", 1)
	files, err := DayFiles(l.dir)
	if err != nil {
		t.Fatal(err)
	}
	o := PruneOptions{Dir: l.dir, StateDir: l.state, HMACKey: l.key, RetentionDays: 3, Now: l.clock.Now}
	if del, err = o.plan(files, nil, &PruneResult{}); err != nil {
		t.Fatal(err)
	}
	if got, want := len(del), 3; got != want { // 03-03, 03-07, 03-08
		t.Fatalf("plan deletes %d files, want %d", got, want)
	}
	all, need, err = o.anchors(files, del, l.anchors(t), mustDate("2025-03-09"), true)
	if err != nil {
		t.Fatal(err)
	}
	return l, del, all, need
}

// copyDayFiles copies the day files of l to a new directory, as an
// archive of the log without its state directory.
func copyDayFiles(t *testing.T, l *testLog) string {
	t.Helper()
	dir := t.TempDir()
	files, err := DayFiles(l.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f.Name), b, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestVerifyCopyOfPrunedLog: a copy of a pruned log verifies with a copy
// of its anchors; without them, OpenStart takes the first record as
// given and says so, and a gap between kept days is still a break.
func TestVerifyCopyOfPrunedLog(t *testing.T) {
	t.Run("no hold", func(t *testing.T) {
		l := newTestLog(t)
		l.key = []byte("chain key")
		tenDays(t, l)
		if _, err := l.prune(t, nil); err != nil {
			t.Fatal(err)
		}
		dir := copyDayFiles(t, l)
		o := VerifyOptions{Dir: dir, HMACKey: l.key}
		var ve *VerifyError
		if _, err := Verify(o); !errors.As(err, &ve) || ve.File != dayNames(7)[0] || ve.Line != 1 {
			t.Errorf("Verify of the copy without OpenStart: %v; want a break at %s line 1", err, dayNames(7)[0])
		}
		o.OpenStart = true
		res, err := Verify(o)
		if err != nil || res.OpenStart != dayNames(7)[0] || res.Records != 8 {
			t.Errorf("Verify with OpenStart: %+v, %v; want 8 records after the first of %s", res, err, dayNames(7)[0])
		}
		o.OpenStart, o.Anchors = false, filepath.Join(l.state, AnchorFile)
		if res, err := Verify(o); err != nil || res.OpenStart != "" || res.Records != 9 {
			t.Errorf("Verify with the anchors: %+v, %v; want all 9 records", res, err)
		}
	})
	t.Run("held day", func(t *testing.T) {
		l := heldPrune(t)
		dir := copyDayFiles(t, l)
		o := VerifyOptions{Dir: dir, HMACKey: l.key, OpenStart: true}
		var ve *VerifyError
		if _, err := Verify(o); !errors.As(err, &ve) || ve.File != dayNames(7)[0] ||
			!strings.Contains(ve.Problem, "usage-2025-03-04.jsonl to usage-2025-03-06.jsonl missing") {
			t.Errorf("Verify of the copy without anchors: %v; want the pruned days named missing", err)
		}
		o.OpenStart, o.Anchors = false, filepath.Join(l.state, AnchorFile)
		if _, err := Verify(o); err != nil {
			t.Errorf("Verify with the anchors: %v", err)
		}
		editLines(t, filepath.Join(dir, dayNames(3)[0]), func(s []string) []string { return s[:1] })
		if _, err := Verify(o); !errors.As(err, &ve) || ve.File != dayNames(3)[0] {
			t.Errorf("Verify of the copy with its held day cut: %v; want %s named", err, dayNames(3)[0])
		}
		o.Anchors = filepath.Join(dir, "none")
		if _, err := Verify(o); err == nil || !strings.Contains(err.Error(), "prune anchors") {
			t.Errorf("Verify with a missing anchor file: %v", err)
		}
	})
}

// interruptedPrune leaves heldPrune's log as a prune of 03-03, 03-07 and
// 03-08 (the hold released, a day later) leaves it when it stops after
// saving its anchors, having deleted the newest n of those files.
func interruptedPrune(t *testing.T, n int) *testLog {
	t.Helper()
	l, del, all, _ := secondPrune(t)
	if err := writeAnchors(l.state, all); err != nil {
		t.Fatal(err)
	}
	for _, f := range del[len(del)-n:] {
		if err := os.Remove(f.Path); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

// TestPruneAfterInterruptedPrune: the next prune leaves out the anchors
// of the files an interrupted prune did not delete, and completes it.
func TestPruneAfterInterruptedPrune(t *testing.T) {
	for _, n := range []int{0, 1, 2} {
		t.Run(fmt.Sprintf("%d deleted", n), func(t *testing.T) {
			l := interruptedPrune(t, n)
			if res := l.mustVerify(t); res.Files != 6-n {
				t.Fatalf("Verify walked %d files, want %d: an anchor stood in for a day file", res.Files, 6-n)
			}
			if _, err := l.prune(t, nil); err != nil {
				t.Fatal(err)
			}
			if got, want := l.fileNames(t), dayNames(9, 10, 12); !slices.Equal(got, want) {
				t.Errorf("kept %v, want %v", got, want)
			}
			as := l.anchors(t)
			if len(as) != 1 || as[0].days() != "2025-03-01 to 2025-03-08" || as[0].from != genesis {
				t.Errorf("anchors %+v; want one of 2025-03-01 to 2025-03-08 from genesis", as)
			}
			l.mustVerify(t)
		})
	}
}

// TestInterruptedPruneHeldDay: a day that an interrupted prune left with
// an anchor, held since, cannot be deleted unnoticed once prune has run
// again (serve prunes at start).
func TestInterruptedPruneHeldDay(t *testing.T) {
	l := interruptedPrune(t, 0)
	if _, err := NewHoldStore(l.state, l.clock.Now).Add(Hold{ID: "h2", Reason: "r",
		From: mustDate("2025-03-03"), To: mustDate("2025-03-03")}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.prune(t, nil); err != nil {
		t.Fatal(err)
	}
	held := dayNames(3)[0]
	if err := os.Remove(filepath.Join(l.dir, held)); err != nil {
		t.Fatal(err)
	}
	_, err := Verify(l.verifyOptions())
	var ve *VerifyError
	if !errors.As(err, &ve) || ve.File != held {
		t.Fatalf("Verify with the held day deleted: %v; want %s named", err, held)
	}
}

// TestVerifyUnkeyedAnchors: anchors on a log without a key are reported,
// not failed: anyone can seal them; with a key they are not.
func TestVerifyUnkeyedAnchors(t *testing.T) {
	l := newTestLog(t)
	tenDays(t, l)
	if res := l.mustVerify(t); res.Unkeyed {
		t.Error("Unkeyed reported before any anchor")
	}
	if _, err := l.prune(t, nil); err != nil {
		t.Fatal(err)
	}
	if res := l.mustVerify(t); !res.Unkeyed {
		t.Errorf("Verify %+v: anchors without a key not reported", res)
	}
	if res := heldPrune(t).mustVerify(t); res.Unkeyed {
		t.Error("Unkeyed reported with a key")
	}
}
