package allowlist

import (
	"fmt"
	"strings"
	"time"
)

const minutesPerWeek = 7 * 24 * 60

// Schedule is a set of minutes of the week, in the gateway's time zone.
// It is parsed from clauses separated by ";", each a day list and a time
// list: "Mon-Fri 07:00-19:00", "Mon-Fri 07:00-12:00,13:00-18:00; Sat
// 09:00-13:00", "Fri 22:00-06:00" (overnight: into Saturday), "daily
// 00:00-24:00". Days are Mon..Sun, ranges wrap ("Sat-Mon").
type Schedule struct {
	bits [(minutesPerWeek + 63) / 64]uint64
}

var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday,
	"wed": time.Wednesday, "thu": time.Thursday, "fri": time.Friday,
	"sat": time.Saturday,
}

// ParseSchedule parses a schedule string.
func ParseSchedule(s string) (*Schedule, error) {
	sc := &Schedule{}
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("empty schedule")
	}
	for _, clause := range strings.Split(s, ";") {
		if err := sc.addClause(strings.TrimSpace(clause)); err != nil {
			return nil, err
		}
	}
	return sc, nil
}

func (sc *Schedule) addClause(c string) error {
	f := strings.Fields(c)
	if len(f) != 2 {
		return fmt.Errorf("schedule clause %q: want days and times, such as \"Mon-Fri 07:00-19:00\"", c)
	}
	days, err := parseDays(f[0])
	if err != nil {
		return fmt.Errorf("schedule clause %q: %w", c, err)
	}
	for _, r := range strings.Split(f[1], ",") {
		from, to, err := parseTimeRange(r)
		if err != nil {
			return fmt.Errorf("schedule clause %q: %w", c, err)
		}
		for d := range 7 {
			if days&(1<<d) != 0 {
				sc.addRange(time.Weekday(d), from, to)
			}
		}
	}
	return nil
}

// parseDays returns a bit set of weekdays (bit 0 = Sunday).
func parseDays(s string) (uint8, error) {
	switch strings.ToLower(s) {
	case "daily", "*":
		return 0x7f, nil
	}
	var set uint8
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, ok := dayNames[strings.ToLower(lo)]
		if !ok {
			return 0, fmt.Errorf("unknown day %q (want Mon, Tue, Wed, Thu, Fri, Sat, Sun or daily)", lo)
		}
		b := a
		if isRange {
			if b, ok = dayNames[strings.ToLower(hi)]; !ok {
				return 0, fmt.Errorf("unknown day %q (want Mon, Tue, Wed, Thu, Fri, Sat, Sun or daily)", hi)
			}
		}
		for d := a; ; d = (d + 1) % 7 {
			set |= 1 << d
			if d == b {
				break
			}
		}
	}
	return set, nil
}

// parseTimeRange parses "HH:MM-HH:MM" into minutes of the day; to may be
// 24:00, and to <= from means the range runs past midnight.
func parseTimeRange(s string) (from, to int, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("time range %q: want HH:MM-HH:MM", s)
	}
	if from, err = parseClock(a, false); err != nil {
		return 0, 0, err
	}
	if to, err = parseClock(b, true); err != nil {
		return 0, 0, err
	}
	if from == to {
		return 0, 0, fmt.Errorf("time range %q is empty", s)
	}
	return from, to, nil
}

func parseClock(s string, end bool) (int, error) {
	var h, m int
	if len(s) != 5 || s[2] != ':' {
		return 0, fmt.Errorf("time %q: want HH:MM", s)
	}
	if _, err := fmt.Sscanf(s, "%02d:%02d", &h, &m); err != nil || m > 59 || h > 24 || h == 24 && (m != 0 || !end) {
		return 0, fmt.Errorf("time %q: want HH:MM between 00:00 and 24:00", s)
	}
	return h*60 + m, nil
}

func (sc *Schedule) addRange(d time.Weekday, from, to int) {
	start := int(d)*1440 + from
	n := to - from
	if to <= from {
		n = 1440 - from + to
	}
	for i := range n {
		m := (start + i) % minutesPerWeek
		sc.bits[m/64] |= 1 << (m % 64)
	}
}

// Contains reports whether t, in loc, falls in the schedule. A nil
// schedule contains every time.
func (sc *Schedule) Contains(t time.Time, loc *time.Location) bool {
	if sc == nil {
		return true
	}
	t = t.In(loc)
	h, m, _ := t.Clock()
	i := int(t.Weekday())*1440 + h*60 + m
	return sc.bits[i/64]&(1<<(i%64)) != 0
}
