package logs

import (
	"errors"
	"strings"
	"testing"
)

// TestHoldPlace: a placed hold is saved unrecorded until MarkRecorded;
// placing the same terms again changes nothing, other terms under the id
// are refused with the terms in force.
func TestHoldPlace(t *testing.T) {
	dir := t.TempDir()
	s := NewHoldStore(dir, newClock(day1).Now)
	h := Hold{ID: "foia-1", Reason: "FOIA 1", Agency: "DCF", From: mustDate("2025-01-01"), To: mustDate("2025-01-31")}
	saved, created, err := s.Place(h)
	if err != nil || !created || !saved.Unrecorded || !saved.CreatedAt.Equal(day1) {
		t.Fatalf("Place = %+v, %v, %v", saved, created, err)
	}
	if got, err := NewHoldStore(dir, nil).Get("foia-1"); err != nil || !got.Unrecorded {
		t.Fatalf("Get before MarkRecorded = %+v, %v", got, err)
	}
	again, created, err := s.Place(h)
	if err != nil || created || !again.Unrecorded {
		t.Errorf("Place again while unrecorded = %+v, %v, %v", again, created, err)
	}
	if err := s.MarkRecorded("foia-1"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get("foia-1"); err != nil || got.Unrecorded {
		t.Errorf("Get after MarkRecorded = %+v, %v", got, err)
	}
	h.CreatedBy = "someone else" // who places it again does not change the terms
	if again, created, err := s.Place(h); err != nil || created || again.Unrecorded {
		t.Errorf("Place again = %+v, %v, %v", again, created, err)
	}
	other := h
	other.To = mustDate("2025-02-28")
	_, _, err = s.Place(other)
	if !errors.Is(err, ErrHoldExists) || !strings.Contains(err.Error(), "2025-01-01 to 2025-01-31") {
		t.Errorf("Place other terms: %v", err)
	}
	if err := s.MarkRecorded("nope"); !errors.Is(err, ErrHoldUnknown) {
		t.Errorf("MarkRecorded unknown: %v", err)
	}
	if _, err := s.Get("nope"); !errors.Is(err, ErrHoldUnknown) {
		t.Errorf("Get unknown: %v", err)
	}
	if hs, err := s.List(); err != nil || len(hs) != 1 {
		t.Errorf("List = %+v, %v", hs, err)
	}
}

func TestHoldValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    Hold
		want string // "" = valid
	}{
		{"ok", Hold{ID: "case 2025-CV-17", Reason: "r"}, ""},
		{"no id", Hold{Reason: "r"}, "needs an id"},
		{"blank id", Hold{ID: "  ", Reason: "r"}, "needs an id"},
		{"slash", Hold{ID: "a/b", Reason: "r"}, "no slash"},
		{"control", Hold{ID: "a\nb", Reason: "r"}, "control"},
		{"long", Hold{ID: strings.Repeat("x", maxHoldIDLen+1), Reason: "r"}, "longer than"},
		{"no reason", Hold{ID: "a", Reason: " "}, "needs a reason"},
		{"from after to", Hold{ID: "a", Reason: "r", From: mustDate("2025-03-02"), To: mustDate("2025-03-01")},
			"from 2025-03-02 is after to 2025-03-01"},
		{"one day", Hold{ID: "a", Reason: "r", From: mustDate("2025-03-02"), To: mustDate("2025-03-02")}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.h.Validate()
			if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Validate = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestHoldDays(t *testing.T) {
	for _, tc := range []struct {
		h    Hold
		want string
	}{
		{Hold{}, "all days (open-ended)"},
		{Hold{From: mustDate("2025-01-01")}, "2025-01-01 on (open-ended)"},
		{Hold{To: mustDate("2025-01-31")}, "up to 2025-01-31"},
		{Hold{From: mustDate("2025-01-01"), To: mustDate("2025-01-31")}, "2025-01-01 to 2025-01-31"},
	} {
		if got := tc.h.Days(); got != tc.want {
			t.Errorf("Days(%v, %v) = %q, want %q", tc.h.From, tc.h.To, got, tc.want)
		}
	}
}
