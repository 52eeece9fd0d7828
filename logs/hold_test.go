package logs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func mustDate(s string) time.Time {
	t, err := time.Parse(dayLayout, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestHoldCovers(t *testing.T) {
	tests := []struct {
		name string
		h    Hold
		day  string
		want bool
	}{
		{"no range", Hold{}, "2020-01-01", true},
		{"inside", Hold{From: mustDate("2025-03-02"), To: mustDate("2025-03-04")}, "2025-03-03", true},
		{"first day", Hold{From: mustDate("2025-03-02"), To: mustDate("2025-03-04")}, "2025-03-02", true},
		{"last day", Hold{From: mustDate("2025-03-02"), To: mustDate("2025-03-04")}, "2025-03-04", true},
		{"before", Hold{From: mustDate("2025-03-02"), To: mustDate("2025-03-04")}, "2025-03-01", false},
		{"after", Hold{From: mustDate("2025-03-02"), To: mustDate("2025-03-04")}, "2025-03-05", false},
		{"open end", Hold{From: mustDate("2025-03-02")}, "2030-01-01", true},
		{"open start", Hold{To: mustDate("2025-03-02")}, "2001-01-01", true},
		{"open start after", Hold{To: mustDate("2025-03-02")}, "2025-03-03", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.h.Covers(mustDate(tt.day).Add(23 * time.Hour)); got != tt.want {
				t.Errorf("Covers(%s) = %v", tt.day, got)
			}
		})
	}
}

func TestHoldStore(t *testing.T) {
	dir := t.TempDir()
	clock := newClock(day1)
	s := NewHoldStore(dir, clock.Now)
	if hs, err := s.List(); err != nil || len(hs) != 0 {
		t.Fatalf("empty store: %v, %v", hs, err)
	}
	for _, id := range []string{"lit-2", "lit-1"} {
		h, err := s.Add(Hold{ID: id, Reason: "case 42", Agency: "DCF"})
		if err != nil {
			t.Fatal(err)
		}
		if !h.CreatedAt.Equal(day1) {
			t.Errorf("CreatedAt %v", h.CreatedAt)
		}
	}
	if _, err := s.Add(Hold{ID: "lit-1", Reason: "again"}); !errors.Is(err, ErrHoldExists) {
		t.Errorf("duplicate Add: %v", err)
	}
	hs, err := NewHoldStore(dir, nil).List() // another store reads the file
	if err != nil || len(hs) != 2 || hs[0].ID != "lit-1" || hs[1].Agency != "DCF" {
		t.Fatalf("List %+v, %v", hs, err)
	}
	if h, err := s.Release("lit-1"); err != nil || h.ID != "lit-1" {
		t.Errorf("Release: %+v, %v", h, err)
	}
	if _, err := s.Release("lit-1"); !errors.Is(err, ErrHoldUnknown) {
		t.Errorf("Release unknown: %v", err)
	}
	if hs, _ := s.List(); len(hs) != 1 || hs[0].ID != "lit-2" {
		t.Errorf("after Release: %+v", hs)
	}
}

func TestHoldStoreRejects(t *testing.T) {
	s := NewHoldStore(t.TempDir(), nil)
	for name, h := range map[string]Hold{
		"no id":     {Reason: "r"},
		"no reason": {ID: "a"},
		"backwards": {ID: "a", Reason: "r", From: mustDate("2025-03-02"), To: mustDate("2025-03-01")},
	} {
		if _, err := s.Add(h); err == nil {
			t.Errorf("%s: Add accepted %+v", name, h)
		}
	}
}

func TestHoldStoreCorrupt(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, HoldsFile), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewHoldStore(dir, nil).List(); err == nil {
		t.Error("List read a corrupt holds file")
	}
}

func TestHoldRecord(t *testing.T) {
	h := Hold{ID: "lit-1", Reason: "case 42", Agency: "DCF", User: "jdoe", From: mustDate("2025-01-01")}
	r := h.Record("add", "counsel")
	if r.Action != ActionHold || r.Target != "hold:lit-1" || r.By != "counsel" || r.Agency != "DCF" ||
		!strings.Contains(r.Message, "add hold lit-1: case 42; agency DCF; user jdoe; days 2025-01-01 on (open-ended)") {
		t.Errorf("record %+v", r)
	}
}

// TestHoldsFromTwoStoresAtOnce: holds saved at the same moment through
// two stores on one state directory, as serve's admin API and a CLI
// command are, are all kept: each change reads and writes under the holds
// lock.
func TestHoldsFromTwoStoresAtOnce(t *testing.T) {
	dir := t.TempDir()
	stores := []*HoldStore{NewHoldStore(dir, nil), NewHoldStore(dir, nil)}
	const each = 20
	var wg sync.WaitGroup
	for si, s := range stores {
		for i := range each {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := s.Add(Hold{ID: fmt.Sprintf("s%d-%d", si, i), Reason: "subpoena"}); err != nil {
					t.Error(err)
				}
			}()
		}
	}
	wg.Wait()
	holds, err := stores[0].List()
	if err != nil {
		t.Fatal(err)
	}
	if len(holds) != 2*each {
		t.Errorf("%d holds kept of %d saved", len(holds), 2*each)
	}
}
