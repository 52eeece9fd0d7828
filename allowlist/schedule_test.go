package allowlist

import (
	"testing"
	"time"
)

func TestSchedule(t *testing.T) {
	at := func(day, h, m int) time.Time { return time.Date(2026, 11, 22+day, h, m, 0, 0, nyc) } // 22 = Sunday
	tests := []struct {
		spec string
		in   []time.Time
		out  []time.Time
	}{
		{"Mon-Fri 07:00-19:00", []time.Time{at(1, 7, 0), at(5, 18, 59)}, []time.Time{at(1, 6, 59), at(1, 19, 0), at(6, 10, 0), at(0, 10, 0)}},
		{"Mon-Fri 07:00-12:00,13:00-18:00; Sat 09:00-13:00", []time.Time{at(2, 11, 0), at(2, 13, 0), at(6, 9, 30)}, []time.Time{at(2, 12, 30), at(6, 13, 0)}},
		{"Fri 22:00-06:00", []time.Time{at(5, 23, 0), at(6, 5, 59)}, []time.Time{at(5, 21, 59), at(6, 6, 0), at(1, 23, 0)}},
		{"Sat-Mon 00:00-24:00", []time.Time{at(6, 0, 0), at(0, 12, 0), at(1, 23, 59)}, []time.Time{at(2, 0, 0)}},
		{"daily 08:00-09:00", []time.Time{at(3, 8, 15), at(0, 8, 59)}, []time.Time{at(3, 9, 0)}},
		{"mon,wed 10:00-11:00", []time.Time{at(1, 10, 0), at(3, 10, 30)}, []time.Time{at(2, 10, 30)}},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			s, err := ParseSchedule(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			for _, tm := range tc.in {
				if !s.Contains(tm, nyc) {
					t.Errorf("%v should be in %q", tm.Format("Mon 15:04"), tc.spec)
				}
			}
			for _, tm := range tc.out {
				if s.Contains(tm, nyc) {
					t.Errorf("%v should not be in %q", tm.Format("Mon 15:04"), tc.spec)
				}
			}
		})
	}
}

func TestScheduleErrors(t *testing.T) {
	for _, spec := range []string{"", "Mon-Fri", "Mon-Fri 7-19", "Mon-Fri 07:00-07:00", "Mon-Fri 24:00-07:00",
		"Mon-Fri 07:60-08:00", "Funday 07:00-08:00", "Mon-Fri 07:00-19:00 extra", "Mon-Fri 07:00-19:00;"} {
		if _, err := ParseSchedule(spec); err == nil {
			t.Errorf("ParseSchedule(%q) accepted", spec)
		}
	}
}

func TestScheduleDST(t *testing.T) {
	s, err := ParseSchedule("Sun 01:00-04:00")
	if err != nil {
		t.Fatal(err)
	}
	// 2026-11-01 is the end of daylight saving time in New York: 06:30 UTC is 01:30 EST.
	if !s.Contains(time.Date(2026, 11, 1, 6, 30, 0, 0, time.UTC), nyc) {
		t.Error("schedule must follow local wall-clock time across the DST change")
	}
}
