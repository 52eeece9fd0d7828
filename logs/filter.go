package logs

import (
	"bytes"
	"slices"
	"strings"
	"time"
)

// Query selects usage-log records for Search and BuildReport. Every field
// that is set must match; the zero Query matches every record.
type Query struct {
	// Since and Until bound @timestamp: Since <= t < Until. A zero bound is
	// open.
	Since, Until time.Time
	User         string // user.name, exactly
	Agency       string // organization.id, exactly
	Platform     string // smgate.platform, exactly
	Account      string // smgate.account, exactly
	// Domain matches a url.domain that is the domain or a subdomain of it:
	// "facebook.com" matches "m.facebook.com" but not "notfacebook.com".
	// It is compared in lower case without a trailing dot, the form in
	// which the gateway writes domains.
	Domain  string
	Outcome string   // event.outcome, exactly
	Reason  string   // event.reason, exactly
	Actions []string // event.action, any of them; empty = every action
}

// filter is a compiled Query: byte needles that a line must contain before
// it is worth decoding, then the exact test on the decoded Record.
//
// The needles are the bytes AppendRecord writes for the wanted values, so
// they are sound for lines in the canonical form the writer produces. A
// line in another form (reordered keys, spaces, gratuitous escapes) may be
// passed over; verify is what rejects such lines.
type filter struct {
	q Query // with Domain normalised
	// primary is the most selective needle, searched across a whole block
	// of lines at once; nil when there is none.
	primary []byte
	needles [][]byte // all must occur; primary is among them
	actions [][]byte // one must occur, when set
	// since and until are the bounds' "YYYY-MM-DDTHH:MM:SS" in UTC, to
	// compare with a line's @timestamp before decoding; nil = no bound.
	since, until []byte
}

// newFilter compiles q.
func newFilter(q Query) *filter {
	q.Domain = normalizeDomain(q.Domain)
	f := &filter{q: q, since: secondBound(q.Since), until: secondBound(q.Until)}
	// Most selective first: the first one becomes primary.
	for _, r := range []Record{
		{User: q.User}, {Account: q.Account}, {Domain: q.Domain},
		{Reason: q.Reason}, {Agency: q.Agency}, {Platform: q.Platform},
		{Outcome: q.Outcome},
	} {
		if n := fieldNeedle(&r); n != nil {
			f.needles = append(f.needles, n)
		}
	}
	for _, a := range q.Actions {
		f.actions = append(f.actions, fieldNeedle(&Record{Action: a}))
	}
	switch {
	case len(f.needles) > 0:
		f.primary = f.needles[0]
	case len(f.actions) == 1:
		f.primary = f.actions[0]
	}
	return f
}

// normalizeDomain lower-cases d and drops a trailing dot.
func normalizeDomain(d string) string {
	return strings.TrimSuffix(strings.ToLower(d), ".")
}

// fieldNeedle returns the bytes AppendRecord writes for the one field set
// in r: `"user.name":"jsmith"`, or nil when r is empty. For a domain it is
// the end of the value instead, `facebook.com"`, which every subdomain's
// field ends with too: escaping works rune by rune and the dot before the
// suffix is ASCII.
func fieldNeedle(r *Record) []byte {
	b := AppendRecord(nil, r)
	if len(b) == len("{}") {
		return nil
	}
	if r.Domain != "" {
		return b[len(`{"`+KeyDomain+`":"`) : len(b)-1]
	}
	return b[1 : len(b)-1]
}

// secondBound returns t in UTC as "YYYY-MM-DDTHH:MM:SS", or nil when t is
// zero or its year has not four digits.
func secondBound(t time.Time) []byte {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	if t.Year() < 0 || t.Year() > 9999 {
		return nil
	}
	return t.AppendFormat(nil, "2006-01-02T15:04:05")
}

// timestampPrefix starts every canonical line that has a time.
const timestampPrefix = `{"` + KeyTimestamp + `":"`

// outOfRange reports whether the @timestamp at the start of line is
// certainly outside [since, until). It compares whole seconds as text, so
// a line in the bounds' own second is left to the exact test.
func (f *filter) outOfRange(line []byte) bool {
	if f.since == nil && f.until == nil {
		return false
	}
	const n = len(timestampPrefix) + len("2006-01-02T15:04:05")
	if len(line) < n || string(line[:len(timestampPrefix)]) != timestampPrefix {
		return false
	}
	ts := line[len(timestampPrefix):n]
	if f.since != nil && bytes.Compare(ts, f.since) < 0 {
		return true
	}
	return f.until != nil && bytes.Compare(ts, f.until) > 0
}

// candidate reports whether line may match: the cheap test before
// decoding. It never rejects a canonical line that match accepts.
func (f *filter) candidate(line []byte) bool {
	if f.outOfRange(line) {
		return false
	}
	for _, n := range f.needles {
		if !bytes.Contains(line, n) {
			return false
		}
	}
	if len(f.actions) == 0 {
		return true
	}
	for _, n := range f.actions {
		if bytes.Contains(line, n) {
			return true
		}
	}
	return false
}

// match reports whether r satisfies the query exactly.
func (f *filter) match(r *Record) bool {
	q := &f.q
	return f.inPeriod(r.Time) &&
		is(q.User, r.User) && is(q.Agency, r.Agency) &&
		is(q.Platform, r.Platform) && is(q.Account, r.Account) &&
		is(q.Outcome, r.Outcome) && is(q.Reason, r.Reason) &&
		inDomain(q.Domain, r.Domain) && f.actionWanted(r.Action)
}

// inPeriod reports whether t is in [Since, Until).
func (f *filter) inPeriod(t time.Time) bool {
	return (f.q.Since.IsZero() || !t.Before(f.q.Since)) &&
		(f.q.Until.IsZero() || t.Before(f.q.Until))
}

// is reports whether got satisfies the wanted value; "" wants anything.
func is(want, got string) bool { return want == "" || want == got }

// inDomain reports whether host is domain or one of its subdomains; ""
// wants anything.
func inDomain(domain, host string) bool {
	if domain == "" || host == domain {
		return true
	}
	return len(host) > len(domain) && host[len(host)-len(domain)-1] == '.' &&
		host[len(host)-len(domain):] == domain
}

// actionWanted reports whether the query wants event.action a.
func (f *filter) actionWanted(a string) bool {
	return len(f.q.Actions) == 0 || slices.Contains(f.q.Actions, a)
}
