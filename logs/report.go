package logs

import (
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
)

// What a report groups its counts by.
const (
	ByAgency   = "agency"
	ByPlatform = "platform"
	ByUser     = "user"
	ByAccount  = "account"
)

// ReportGroupings lists the values BuildReport takes for by.
var ReportGroupings = []string{ByAgency, ByPlatform, ByUser, ByAccount}

const (
	// topN is how many blocked users and block reasons a report lists per
	// agency.
	topN = 10
	// expiryWindow is how far ahead a report warns of expiring approvals.
	expiryWindow = 30
)

// AccountInfo is an approved agency account of the registry, as a report
// shows it. The logs package does not read the registry; the caller fills
// these in.
type AccountInfo struct {
	ID, Agency, Platform, Handle string
	ExpiresOn                    time.Time // midnight UTC of the date; zero = none
	Status                       string    // "active" or "decommissioned"
}

// Counts are the decisions of one group.
type Counts struct{ Allowed, Blocked int }

// Total returns the number of decisions.
func (c Counts) Total() int { return c.Allowed + c.Blocked }

// Group is one row of the grouped counts; Key is "" for decisions without
// the grouping field (no account, say).
type Group struct {
	Key string
	Counts
}

// Ranked is a value and how often it occurs.
type Ranked struct {
	Key   string
	Count int
}

// AgencyBlocks is what one agency's users were blocked from, and why.
type AgencyBlocks struct {
	Agency  string
	Blocked int
	Users   []Ranked // the most blocked users, at most 10
	Reasons []Ranked // the commonest block reasons, at most 10
}

// AccountUsage is the use of one approved account in the period.
type AccountUsage struct {
	Account AccountInfo
	// Registered is false for an account that requests went through but
	// that is not in the registry given to BuildReport.
	Registered bool
	Allowed    int       // requests allowed through the account
	Users      int       // distinct users among them
	LastUsed   time.Time // zero = not used in the period
}

// Expiry is an approval that expires within 30 days of the report, or has
// expired.
type Expiry struct {
	Account  AccountInfo
	DaysLeft int // 0 or less: expired (expires_on is the first day it is not valid)
}

// Expired reports whether the approval has expired.
func (e Expiry) Expired() bool { return e.DaysLeft <= 0 }

// Report is the usage of social media in a period for monitoring staff:
// the social-media decisions (http_request, connect, dns_query) allowed
// and blocked.
type Report struct {
	Since, Until time.Time // the period asked for; zero = open
	Generated    time.Time
	By           string   // ByAgency, ByPlatform, ByUser or ByAccount
	Gateways     []string // observer.name of the records counted
	First, Last  time.Time
	Total        Counts
	// NotEnforced counts the blocks of Total that report mode let
	// through (smgate.enforced false).
	NotEnforced int
	Groups      []Group        // most decisions first
	Agencies    []AgencyBlocks // by agency id
	Accounts    []AccountUsage // registry order: agency, then id
	Expiring    []Expiry       // soonest first
	// Problems are damaged lines left out of the counts, for the reader.
	Problems []string
	// Unterminated are the last lines without newline left out of the
	// counts (being written, or torn: not verified), for the caller to
	// mention.
	Unterminated []Unterminated
}

// ReasonNotSocial is event.reason of a request or query to a host that is
// no social media: the log holds such records only with
// proxy.log_not_social or dns.log_not_social, and a report, which is
// about social media, leaves them out.
const ReasonNotSocial = "allowed-not-social"

// decisionActions are the event actions that are usage decisions.
var decisionActions = []string{ActionHTTPRequest, ActionConnect, ActionDNSQuery}

// BuildReport counts the decisions in dir that q matches (q.Actions
// defaults to the three decision actions), groups them by by, and lists
// the use and the expiry of accounts as of now. When lines cannot be
// decoded it returns the report of the others and the LineErrors; the
// report lists them too.
func BuildReport(dir string, q Query, by string, accounts []AccountInfo, now time.Time) (*Report, error) {
	if !slices.Contains(ReportGroupings, by) {
		return nil, fmt.Errorf("report by %q: want one of %s", by, strings.Join(ReportGroupings, ", "))
	}
	if len(q.Actions) == 0 {
		q.Actions = decisionActions
	}
	t := newTally(by)
	unterminated, err := Search(dir, q, t.add)
	var le *LineError
	if err != nil && !errors.As(err, &le) {
		return nil, err
	}
	rep := t.report(accounts, now)
	rep.Since, rep.Until, rep.Generated, rep.By = q.Since, q.Until, now, by
	rep.Unterminated = unterminated
	if err != nil {
		rep.Problems = strings.Split(err.Error(), "\n")
	}
	return rep, err
}

// tally accumulates the records of a report.
type tally struct {
	by          string
	total       Counts
	notEnforced int
	first, last time.Time
	gateways    map[string]bool
	groups      map[string]*Counts
	agencies    map[string]*agencyTally
	accounts    map[string]*accountTally
}

type agencyTally struct {
	blocked        int
	users, reasons map[string]int
}

type accountTally struct {
	allowed int
	users   map[string]bool
	last    time.Time
}

func newTally(by string) *tally {
	return &tally{
		by: by, gateways: map[string]bool{}, groups: map[string]*Counts{},
		agencies: map[string]*agencyTally{}, accounts: map[string]*accountTally{},
	}
}

// add counts one record; it is Search's callback.
func (t *tally) add(_ []byte, r *Record) error {
	if r.Outcome != OutcomeAllowed && r.Outcome != OutcomeBlocked || r.Reason == ReasonNotSocial {
		return nil
	}
	t.seen(r)
	g := t.groups[t.key(r)]
	if g == nil {
		g = &Counts{}
		t.groups[t.key(r)] = g
	}
	if r.Outcome == OutcomeAllowed {
		g.Allowed++
		t.total.Allowed++
		t.allowedThrough(r)
		return nil
	}
	g.Blocked++
	t.total.Blocked++
	if r.NotEnforced {
		t.notEnforced++
	}
	t.blocked(r)
	return nil
}

func (t *tally) seen(r *Record) {
	if t.first.IsZero() || r.Time.Before(t.first) {
		t.first = r.Time
	}
	if r.Time.After(t.last) {
		t.last = r.Time
	}
	if r.Observer != "" {
		t.gateways[r.Observer] = true
	}
}

// key returns the group of r.
func (t *tally) key(r *Record) string {
	switch t.by {
	case ByPlatform:
		return r.Platform
	case ByUser:
		return r.User
	case ByAccount:
		return r.Account
	}
	return r.Agency
}

func (t *tally) blocked(r *Record) {
	a := t.agencies[r.Agency]
	if a == nil {
		a = &agencyTally{users: map[string]int{}, reasons: map[string]int{}}
		t.agencies[r.Agency] = a
	}
	a.blocked++
	a.users[r.User]++
	a.reasons[r.Reason]++
}

func (t *tally) allowedThrough(r *Record) {
	if r.Account == "" {
		return
	}
	a := t.accounts[r.Account]
	if a == nil {
		a = &accountTally{users: map[string]bool{}}
		t.accounts[r.Account] = a
	}
	a.allowed++
	a.users[r.User] = true
	if r.Time.After(a.last) {
		a.last = r.Time
	}
}

// report turns the tally into a Report.
func (t *tally) report(accounts []AccountInfo, now time.Time) *Report {
	rep := &Report{
		Total: t.total, NotEnforced: t.notEnforced, First: t.first, Last: t.last,
		Gateways: slices.Sorted(maps.Keys(t.gateways)),
		Accounts: t.accountUsage(accounts),
		Expiring: expiringApprovals(accounts, now),
	}
	for k, c := range t.groups {
		rep.Groups = append(rep.Groups, Group{Key: k, Counts: *c})
	}
	slices.SortFunc(rep.Groups, func(a, b Group) int {
		return cmp.Or(cmp.Compare(b.Total(), a.Total()), cmp.Compare(a.Key, b.Key))
	})
	for _, id := range slices.Sorted(maps.Keys(t.agencies)) {
		a := t.agencies[id]
		rep.Agencies = append(rep.Agencies, AgencyBlocks{
			Agency: id, Blocked: a.blocked, Users: topRanked(a.users), Reasons: topRanked(a.reasons),
		})
	}
	return rep
}

// topRanked returns the topN commonest keys of counts, ties by key.
func topRanked(counts map[string]int) []Ranked {
	rs := make([]Ranked, 0, len(counts))
	for k, n := range counts {
		rs = append(rs, Ranked{k, n})
	}
	slices.SortFunc(rs, func(a, b Ranked) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Key, b.Key))
	})
	return rs[:min(len(rs), topN)]
}

// accountUsage lists the registry's accounts by agency and id, then the
// accounts used that the registry does not have.
func (t *tally) accountUsage(accounts []AccountInfo) []AccountUsage {
	accounts = slices.Clone(accounts)
	slices.SortFunc(accounts, func(a, b AccountInfo) int {
		return cmp.Or(cmp.Compare(a.Agency, b.Agency), cmp.Compare(a.ID, b.ID))
	})
	var out []AccountUsage
	known := map[string]bool{}
	for _, a := range accounts {
		known[a.ID] = true
		out = append(out, t.usage(a, true))
	}
	for _, id := range slices.Sorted(maps.Keys(t.accounts)) {
		if !known[id] {
			out = append(out, t.usage(AccountInfo{ID: id}, false))
		}
	}
	return out
}

func (t *tally) usage(a AccountInfo, registered bool) AccountUsage {
	u := AccountUsage{Account: a, Registered: registered}
	if at := t.accounts[a.ID]; at != nil {
		u.Allowed, u.Users, u.LastUsed = at.allowed, len(at.users), at.last
	}
	return u
}

// expiringApprovals lists the approvals of accounts not decommissioned that expire
// within expiryWindow days of now's date (in now's location), or have.
func expiringApprovals(accounts []AccountInfo, now time.Time) []Expiry {
	y, m, d := now.Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	var out []Expiry
	for _, a := range accounts {
		if a.ExpiresOn.IsZero() || a.Status == "decommissioned" {
			continue
		}
		days := int(a.ExpiresOn.Sub(today).Round(time.Hour) / (24 * time.Hour))
		if days <= expiryWindow {
			out = append(out, Expiry{Account: a, DaysLeft: days})
		}
	}
	slices.SortFunc(out, func(a, b Expiry) int {
		return cmp.Or(cmp.Compare(a.DaysLeft, b.DaysLeft), cmp.Compare(a.Account.ID, b.Account.ID))
	})
	return out
}

// Title returns the report's heading.
func (r *Report) Title() string { return "Social media usage report by " + r.By }

// Period returns the period as "FROM to TO" in UTC; an open start is the
// first record counted and an open end is the time of the report.
func (r *Report) Period() string {
	from, to := r.Since, r.Until
	if from.IsZero() {
		from = r.First
	}
	if to.IsZero() {
		to = r.Generated
	}
	return reportDateTime(from) + " to " + reportDateTime(to)
}

func reportDateTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func reportDate(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.DateOnly)
}

// printable returns s for a terminal or a spreadsheet: "-" when empty,
// quoted with escapes when it holds non-printing characters (user names
// and reasons can come from clients).
func printable(s string) string {
	if s == "" {
		return "-"
	}
	if strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return strconv.Quote(s)
	}
	return s
}

// reportPercent returns part of whole as "12.3%".
func reportPercent(part, whole int) string {
	if whole == 0 {
		return "-"
	}
	return strconv.FormatFloat(100*float64(part)/float64(whole), 'f', 1, 64) + "%"
}

// notEnforcedNote says how many of the blocks report mode let through,
// when any did: "" otherwise.
func (r *Report) notEnforcedNote() string {
	if r.NotEnforced == 0 {
		return ""
	}
	return fmt.Sprintf(", of which %d not enforced (report mode)", r.NotEnforced)
}

// WriteTable writes the report as aligned text tables.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	p := func(format string, args ...any) { fmt.Fprintf(tw, format, args...) }
	p("%s\n\nPeriod:\t%s\nGateways:\t%s\nGenerated:\t%s\nDecisions:\t%d (%d allowed, %d blocked%s)\n",
		r.Title(), r.Period(), printable(strings.Join(r.Gateways, ", ")), reportDateTime(r.Generated),
		r.Total.Total(), r.Total.Allowed, r.Total.Blocked, r.notEnforcedNote())
	for _, pr := range r.Problems {
		p("Left out:\t%s\n", printable(pr))
	}
	p("\nDecisions by %s\n%s\tALLOWED\tBLOCKED\tTOTAL\tBLOCKED %%\n", r.By, strings.ToUpper(r.By))
	for _, g := range r.Groups {
		p("%s\t%d\t%d\t%d\t%s\n", printable(g.Key), g.Allowed, g.Blocked, g.Total(), reportPercent(g.Blocked, g.Total()))
	}
	r.writeBlocksTable(p)
	r.writeAccountsTable(p)
	return tw.Flush()
}

func (r *Report) writeBlocksTable(p func(string, ...any)) {
	p("\nBlocked requests per agency: top %d users and reasons\nAGENCY\tBLOCKED\tUSER\tREASON\n", topN)
	for _, a := range r.Agencies {
		for i := range max(len(a.Users), len(a.Reasons)) {
			agency, blocked := "", ""
			if i == 0 {
				agency, blocked = printable(a.Agency), strconv.Itoa(a.Blocked)
			}
			p("%s\t%s\t%s\t%s\n", agency, blocked, rankedCell(a.Users, i), rankedCell(a.Reasons, i))
		}
	}
}

func rankedCell(rs []Ranked, i int) string {
	if i >= len(rs) {
		return ""
	}
	return fmt.Sprintf("%s (%d)", printable(rs[i].Key), rs[i].Count)
}

func (r *Report) writeAccountsTable(p func(string, ...any)) {
	p("\nApproved accounts\nACCOUNT\tAGENCY\tPLATFORM\tHANDLE\tSTATUS\tEXPIRES\tALLOWED\tUSERS\tLAST USED\n")
	for _, u := range r.Accounts {
		a := u.Account
		p("%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", printable(a.ID), printable(a.Agency), printable(a.Platform),
			printable(a.Handle), printable(u.Status()), reportDate(a.ExpiresOn), u.Allowed, u.Users, reportDateTime(u.LastUsed))
	}
	p("\nApprovals expiring within %d days, or expired\nACCOUNT\tAGENCY\tPLATFORM\tHANDLE\tEXPIRES\tDAYS LEFT\n", expiryWindow)
	for _, e := range r.Expiring {
		a := e.Account
		p("%s\t%s\t%s\t%s\t%s\t%s\n", printable(a.ID), printable(a.Agency), printable(a.Platform),
			printable(a.Handle), reportDate(a.ExpiresOn), e.Left())
	}
}

// UnverifiedAccount is smgate.account of a request allowed by an
// account-level grant that the gateway could apply only at platform level
// (no TLS interception): no account of the registry.
const UnverifiedAccount = "unverified"

// Status returns the account's registry status, "not in registry", or for
// UnverifiedAccount what it stands for.
func (u AccountUsage) Status() string {
	switch {
	case u.Registered:
		return u.Account.Status
	case u.Account.ID == UnverifiedAccount:
		return "account grant, not verified (no TLS interception)"
	}
	return "not in registry"
}

// Left returns the days left, or "expired".
func (e Expiry) Left() string {
	if e.Expired() {
		return "expired"
	}
	return strconv.Itoa(e.DaysLeft)
}

// reportCSVHeader is the one header of WriteCSV: every row is one fact,
// named by its section, with the columns that apply to it.
var reportCSVHeader = []string{
	"section", "group", "key", "allowed", "blocked", "count", "users", "last_used",
	"platform", "handle", "status", "expires_on", "days_left",
}

// WriteCSV writes the report as one table with a section column, for
// spreadsheets and pivot tables. Sections: total, by_<by>, blocked_user
// and block_reason (group = agency), account, expiring. Values that a
// spreadsheet would run as a formula get a leading apostrophe.
func (r *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	row := func(cells ...string) {
		out := make([]string, len(reportCSVHeader))
		for i, c := range cells {
			out[i] = spreadsheetSafe(c)
		}
		cw.Write(out) // its error is kept for cw.Error
	}
	row(reportCSVHeader...)
	n := strconv.Itoa
	row("total", "", "", n(r.Total.Allowed), n(r.Total.Blocked))
	if r.NotEnforced > 0 {
		row("not_enforced", "", "", "", n(r.NotEnforced))
	}
	for _, g := range r.Groups {
		row("by_"+r.By, "", g.Key, n(g.Allowed), n(g.Blocked))
	}
	for _, a := range r.Agencies {
		for _, u := range a.Users {
			row("blocked_user", a.Agency, u.Key, "", "", n(u.Count))
		}
		for _, re := range a.Reasons {
			row("block_reason", a.Agency, re.Key, "", "", n(re.Count))
		}
	}
	for _, u := range r.Accounts {
		a := u.Account
		row("account", a.Agency, a.ID, n(u.Allowed), "", "", n(u.Users), rfc3339(u.LastUsed),
			a.Platform, a.Handle, u.Status(), csvDate(a.ExpiresOn))
	}
	for _, e := range r.Expiring {
		a := e.Account
		row("expiring", a.Agency, a.ID, "", "", "", "", "", a.Platform, a.Handle, a.Status, csvDate(a.ExpiresOn), n(e.DaysLeft))
	}
	cw.Flush()
	return cw.Error()
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func csvDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.DateOnly)
}

// spreadsheetSafe puts an apostrophe before a value that starts like a
// formula (= + - @) or with a control character.
func spreadsheetSafe(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r\n", rune(v[0])) {
		if _, err := strconv.Atoi(v); err == nil {
			return v // a negative number, such as days left
		}
		return "'" + v
	}
	return v
}
