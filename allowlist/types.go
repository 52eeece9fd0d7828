package allowlist

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Duration is a time.Duration written as a Go duration string ("2s").
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q (want a Go duration such as \"2s\" or \"500ms\")", b)
	}
	if v < 0 {
		return fmt.Errorf("invalid duration %q: must not be negative", b)
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Prefix is an IP prefix written as a CIDR ("10.0.0.0/8") or a single
// address ("10.0.0.1", meaning /32 or /128).
type Prefix struct{ netip.Prefix }

// UnmarshalText parses a CIDR or a single address.
func (p *Prefix) UnmarshalText(b []byte) error {
	s := string(b)
	if strings.Contains(s, "/") {
		v, err := netip.ParsePrefix(s)
		if err != nil {
			return fmt.Errorf("invalid CIDR %q", s)
		}
		p.Prefix = v.Masked()
		return nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return fmt.Errorf("invalid IP address or CIDR %q", s)
	}
	p.Prefix = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
	return nil
}

// MarshalText writes the prefix in CIDR form.
func (p Prefix) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// Addr is an IP address (no prefix) in a directory entry. Decoding never
// fails: an invalid address is kept as Raw with Addr invalid, so that
// validation can report every bad address of a file at once.
type Addr struct {
	netip.Addr
	Raw string
}

// UnmarshalText parses an IPv4 or IPv6 address; IPv4-mapped IPv6 is unmapped.
func (a *Addr) UnmarshalText(b []byte) error {
	a.Raw = string(b)
	v, err := netip.ParseAddr(a.Raw)
	if err != nil || v.Zone() != "" {
		a.Addr = netip.Addr{}
		return nil
	}
	a.Addr = v.Unmap()
	return nil
}

// MarshalText writes the address.
func (a Addr) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// Valid reports whether a is one of the known actions.
func (a Action) Valid() bool {
	switch a {
	case ActionView, ActionPost, ActionUpload, ActionMessage:
		return true
	}
	return false
}

// ActionFor returns the action of an HTTP request from its method and
// Content-Type: GET, HEAD and OPTIONS view; a multipart body or a PUT
// uploads; other methods post.
func ActionFor(method, contentType string) Action {
	switch method {
	case "", "GET", "HEAD", "OPTIONS", "CONNECT":
		return ActionView
	case "PUT":
		return ActionUpload
	}
	if strings.HasPrefix(contentType, "multipart/") {
		return ActionUpload
	}
	return ActionPost
}

// Date is a calendar date (a TOML local date such as 2026-01-15, or the
// same as a string). The zero value means no date.
type Date struct {
	days int32  // days since 1970-01-01 plus dateBias, so that zero means unset
	bad  string // the text of a value that is no date; validation reports it
}

// dateBias is the day number of 1970-01-01 in Date.days: 0000-01-01 is
// day 1, so that every date a TOML file or YYYY-MM-DD can write (years
// 0000 to 9999) is a set Date and zero still means unset. (With a bias
// of one, 1969-12-31 was day 0 and read as no date.)
const dateBias = 719528 + 1

// MakeDate returns the Date of y-m-d.
func MakeDate(y int, m time.Month, d int) Date {
	t := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	return Date{days: int32(t.Unix()/86400) + dateBias}
}

// DateOf returns the calendar date of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return MakeDate(y, m, d)
}

// IsZero reports whether the date is unset.
func (d Date) IsZero() bool { return d.days == 0 }

// Before reports whether d is before e.
func (d Date) Before(e Date) bool { return d.days < e.days }

// After reports whether d is after e.
func (d Date) After(e Date) bool { return d.days > e.days }

// AddDays returns d plus n days.
func (d Date) AddDays(n int) Date { return Date{days: d.days + int32(n)} }

// Time returns midnight UTC of d.
func (d Date) Time() time.Time {
	if d.days == 0 {
		return time.Time{}
	}
	return time.Unix(int64(d.days-dateBias)*86400, 0).UTC()
}

// String returns YYYY-MM-DD, or "" for the zero date.
func (d Date) String() string {
	if d.days == 0 {
		return ""
	}
	return d.Time().Format(time.DateOnly)
}

// Err returns why the decoded value is no date, or nil.
func (d Date) Err() error {
	if d.bad == "" {
		return nil
	}
	return fmt.Errorf("invalid date %s: want a date such as 2026-01-15", d.bad)
}

// UnmarshalTOML takes a TOML local date or a "YYYY-MM-DD" string. It never
// fails: see Err.
func (d *Date) UnmarshalTOML(v any) error {
	*d = Date{}
	switch v := v.(type) {
	case time.Time:
		// Only a TOML local date is a date. A local date-time, even at
		// midnight, and an offset date-time name an instant (of which
		// zone's day?) rather than a day in gateway.timezone. The
		// decoder marks local values with fixed zones of these names.
		switch v.Location().String() {
		case "date-local":
			*d = DateOf(v)
		case "datetime-local":
			d.bad = v.Format("2006-01-02T15:04:05.999999999") + " (has a time of day)"
		default:
			d.bad = v.Format(time.RFC3339Nano) + " (has a time and a zone)"
		}
	case string:
		return d.UnmarshalText([]byte(v))
	default:
		d.bad = fmt.Sprintf("%v", v)
	}
	return nil
}

// UnmarshalText parses YYYY-MM-DD. It never fails: see Err.
func (d *Date) UnmarshalText(b []byte) error {
	t, err := time.Parse(time.DateOnly, string(b))
	if err != nil {
		*d = Date{bad: fmt.Sprintf("%q", b)}
		return nil
	}
	*d = DateOf(t)
	return nil
}

// MarshalText writes YYYY-MM-DD.
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }
