package main

import (
	"bufio"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/smgate/smgate/allowlist"
	"github.com/smgate/smgate/logs"
)

const searchSynopsis = `[--config F | --dir D] [--since T] [--until T] [filters] [--format table|json|csv] [--limit N]

Prints the usage-log records that match every filter given, in the order
written: by time, but a tunnel's record, stamped when it opened, comes
when it closed.
T is a span back from now (24h, 90m, 30d), a date (2026-11-01, UTC; the
whole day: --since from its start, --until to its end) or an RFC 3339 time
(2026-11-01T08:00:00Z). --domain matches the domain and its subdomains,
compared as the gateway writes them (IDNA, lower case).
json prints the lines as stored; csv and table print the main fields.`

// logsUsageError is a bad flag value: exit status 2.
type logsUsageError struct{ msg string }

func (e *logsUsageError) Error() string { return e.msg }

func logsUsagef(format string, args ...any) error {
	return &logsUsageError{fmt.Sprintf(format, args...)}
}

// logsExit reports err on stderr as command name and returns the exit
// status: 2 for a usage error, 1 for any other.
func logsExit(e *env, name string, err error) int {
	fmt.Fprintf(e.stderr, "smgate %s: %v\n", name, err)
	var ue *logsUsageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// searchFlags are the flags of logs search.
type searchFlags struct {
	logFlags
	user, agency, platform, account, domain string
	action, outcome, reason, format         string
	limit                                   int
	configSet                               bool // --config was given
}

// logFlags are the flags that name the log and the period, shared with
// report.
type logFlags struct {
	config, dir  string
	since, until string
}

func (f *logFlags) define(fs *flag.FlagSet, since string) {
	fs.StringVar(&f.config, "config", defaultConfig(), "gateway config `file`, for the log directory")
	fs.StringVar(&f.dir, "dir", "", "log `directory` (overrides --config)")
	fs.StringVar(&f.since, "since", since, "start of the period: 24h, 30d, 2026-11-01 or RFC 3339 `T`")
	fs.StringVar(&f.until, "until", "", "end of the period (exclusive; a date includes its day), same forms as --since")
}

func (f *searchFlags) define(fs *flag.FlagSet) {
	f.logFlags.define(fs, "")
	fs.StringVar(&f.user, "user", "", "user.name")
	fs.StringVar(&f.agency, "agency", "", "organization.id (agency)")
	fs.StringVar(&f.platform, "platform", "", "smgate.platform")
	fs.StringVar(&f.account, "account", "", "smgate.account (approved account id)")
	fs.StringVar(&f.domain, "domain", "", "url.domain: this domain or a subdomain")
	fs.StringVar(&f.action, "action", "", "event.action, comma-separated: "+strings.Join(logActions, ", "))
	fs.StringVar(&f.outcome, "outcome", "", "event.outcome: "+strings.Join(logOutcomes, ", "))
	fs.StringVar(&f.reason, "reason", "", "event.reason code, e.g. blocked-no-grant")
	fs.StringVar(&f.format, "format", "table", "output `format`: table, json or csv")
	fs.IntVar(&f.limit, "limit", 0, "stop after `N` records; 0 = no limit")
}

var (
	logActions = []string{
		logs.ActionHTTPRequest, logs.ActionConnect, logs.ActionDNSQuery, logs.ActionSuspend,
		logs.ActionReinstate, logs.ActionReload, logs.ActionHold, logs.ActionPrune, logs.ActionRepair,
	}
	logOutcomes = []string{logs.OutcomeAllowed, logs.OutcomeBlocked, logs.OutcomeSuccess, logs.OutcomeFailure}
)

func runLogsSearch(e *env, args []string) int {
	var f searchFlags
	fs := newFlags(e, "logs search", searchSynopsis)
	f.define(fs)
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	fs.Visit(func(fl *flag.Flag) { f.configSet = f.configSet || fl.Name == "config" })
	if err := f.run(e, fs.Args(), time.Now()); err != nil {
		return logsExit(e, "logs search", err)
	}
	return 0
}

func (f *searchFlags) run(e *env, args []string, now time.Time) error {
	if len(args) > 0 {
		return logsUsagef("unexpected argument %q", args[0])
	}
	q, err := f.query(now)
	if err != nil {
		return err
	}
	out, err := newSearchOutput(f.format, e.stdout)
	if err != nil {
		return err
	}
	dir, err := f.logDir()
	if err != nil {
		return err
	}
	f.warnUnknown(e)
	n := 0
	unterminated, err := logs.Search(dir, q, func(line []byte, r *logs.Record) error {
		if err := out.write(line, r); err != nil {
			return err
		}
		if n++; n == f.limit {
			return logs.ErrStop
		}
		return nil
	})
	noteUnterminated(e, "logs search", unterminated)
	if err != nil && n == 0 {
		return err // nothing on stdout, not even a header
	}
	return errors.Join(out.flush(), err)
}

// noteUnterminated says on stderr which unterminated last lines a search
// left out, as verify notes them: they are no error.
func noteUnterminated(e *env, name string, us []logs.Unterminated) {
	for _, u := range us {
		fmt.Fprintf(e.stderr, "smgate %s: %s\n", name, u)
	}
}

// warnUnknown warns on stderr about a --reason that is no reason code,
// suggesting the nearest, and about a --user, --agency, --platform or
// --account that the policy of --config does not know, suggesting the id
// that differs only in case: the search is exact, and "TikTok" silently
// matching nothing looks like no use of TikTok. Without --config (only
// --dir) there is no policy to compare with, and a policy that does not
// load leaves the search as it is. (--action and --outcome are refused
// outright: their values are few and fixed.)
func (f *searchFlags) warnUnknown(e *env) {
	if f.reason != "" && !slices.Contains(allowlist.Reasons, allowlist.Reason(f.reason)) {
		hint := ""
		if r, ok := nearestReason(f.reason); ok {
			hint = fmt.Sprintf(" (did you mean %q?)", r)
		}
		fmt.Fprintf(e.stderr, "warning: no reason code %q%s\n", f.reason, hint)
	}
	if f.user == "" && f.agency == "" && f.platform == "" && f.account == "" {
		return
	}
	if f.dir != "" && !f.configSet {
		return
	}
	l, err := allowlist.Load(f.config)
	if err != nil {
		return
	}
	p := l.Policy
	warn := func(what, v, where string, n int, id func(int) string) {
		if v == "" {
			return
		}
		hint := ""
		for i := range n {
			switch {
			case id(i) == v:
				return
			case hint == "" && strings.EqualFold(id(i), v):
				hint = fmt.Sprintf(" (did you mean %q?)", id(i))
			}
		}
		fmt.Fprintf(e.stderr, "warning: no %s %q in the %s%s\n", what, v, where, hint)
	}
	warn("user", f.user, "directory", len(p.Directory.Users), func(i int) string { return p.Directory.Users[i].ID })
	warn("agency", f.agency, "directory", len(p.Directory.Agencies), func(i int) string { return p.Directory.Agencies[i].ID })
	warn("platform", f.platform, "catalogue", len(p.Catalogue.Platforms), func(i int) string { return p.Catalogue.Platforms[i].ID })
	if f.account != allowlist.UnverifiedAccount { // the gateway's own marker, in no registry
		warn("account", f.account, "registry", len(p.Registry.Accounts), func(i int) string { return p.Registry.Accounts[i].ID })
	}
}

// nearestReason returns the reason code nearest to v: the same but for
// case or without its "blocked-"/"allowed-" prefix, else the one within a few edits (a letter or a hyphen missed,
// doubled or swapped), the closest first.
func nearestReason(v string) (allowlist.Reason, bool) {
	const maxEdits = 3
	best, bestD := allowlist.Reason(""), maxEdits+1
	for _, r := range allowlist.Reasons {
		if strings.EqualFold(string(r), v) {
			return r, true
		}
		// The code without its outcome prefix ("no-grant"): the table
		// and the block page are read that way.
		if pre, rest, _ := strings.Cut(string(r), "-"); (pre == "blocked" || pre == "allowed") && strings.EqualFold(rest, v) {
			return r, true
		}
		if d := editDistance(strings.ToLower(v), string(r)); d < bestD {
			best, bestD = r, d
		}
	}
	return best, best != ""
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev, cur := make([]int, len(b)+1), make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// query turns the flags into a Query.
func (f *searchFlags) query(now time.Time) (logs.Query, error) {
	q := logs.Query{
		User: f.user, Agency: f.agency, Platform: f.platform, Account: f.account,
		Domain: searchDomain(f.domain), Outcome: f.outcome, Reason: f.reason,
	}
	var err error
	if q.Since, q.Until, err = f.period(now); err != nil {
		return q, err
	}
	if f.outcome != "" && !slices.Contains(logOutcomes, f.outcome) {
		return q, logsUsagef("--outcome %q: want one of %s", f.outcome, strings.Join(logOutcomes, ", "))
	}
	if f.limit < 0 {
		return q, logsUsagef("--limit %d: want 0 (no limit) or more", f.limit)
	}
	if f.action != "" {
		for _, a := range strings.Split(f.action, ",") {
			if a = strings.TrimSpace(a); !slices.Contains(logActions, a) {
				return q, logsUsagef("--action %q: want one or more of %s", a, strings.Join(logActions, ", "))
			}
			q.Actions = append(q.Actions, a)
		}
	}
	return q, nil
}

// searchDomain returns --domain in the form the gateway records hosts in
// url.domain (IDNA to ASCII, lower case, no trailing dot, an IP literal in
// its canonical form), so that "bücher.de" finds "xn--bcher-kva.de". A
// value that is no host name is searched for as it is.
func searchDomain(d string) string {
	if d == "" {
		return ""
	}
	if name, _, err := allowlist.NormalizeHost(d); err == nil {
		return name
	}
	return d
}

// period parses --since and --until.
func (f *logFlags) period(now time.Time) (since, until time.Time, err error) {
	if since, err = parseWhen("--since", f.since, now, false); err != nil {
		return
	}
	if until, err = parseWhen("--until", f.until, now, true); err != nil {
		return
	}
	if !since.IsZero() && !until.IsZero() && !since.Before(until) {
		err = logsUsagef("--since %s is not before --until %s", f.since, f.until)
	}
	return
}

// parseWhen reads the value of a time flag: empty (no bound), a span back
// from now ("24h", "30d"), a date (UTC; when end is set, the end of that
// day) or an RFC 3339 time.
func parseWhen(flagName, v string, now time.Time, end bool) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if n, ok := strings.CutSuffix(v, "d"); ok {
		if days, err := strconv.Atoi(n); err == nil && days >= 0 {
			return now.AddDate(0, 0, -days), nil
		}
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.DateOnly, v)
	if err == nil {
		if end {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	dateErr := noSuchDate(err)
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	} else if dateErr == "" {
		dateErr = noSuchDate(err) // 2026-02-30T08:00:00Z
	}
	return time.Time{}, logsUsagef("%s %q: %swant a span back from now (24h, 30d), a date (2026-11-01) or an RFC 3339 time (2026-11-01T08:00:00Z)", flagName, v, dateErr)
}

// logDir returns --dir, or the log directory of the --config file.
func (f *logFlags) logDir() (string, error) {
	if f.dir != "" {
		return f.dir, nil
	}
	cfg, err := allowlist.LoadConfig(f.config)
	if err != nil {
		return "", fmt.Errorf("load config (or give the log directory with --dir): %w", err)
	}
	return cfg.Logs.Dir, nil
}

// searchOutput prints the records Search yields. A header goes out with
// the first record, or with flush when there is none, so that a search
// that fails before any record prints nothing.
type searchOutput interface {
	write(line []byte, r *logs.Record) error
	flush() error
}

func newSearchOutput(format string, w io.Writer) (searchOutput, error) {
	switch format {
	case "table":
		return newSearchTable(w), nil
	case "json":
		return &searchJSON{w: bufio.NewWriterSize(w, 64<<10)}, nil
	case "csv":
		return newSearchCSV(w), nil
	}
	return nil, logsUsagef("--format %q: want table, json or csv", format)
}

// searchJSON prints the lines as stored: newline-delimited JSON.
type searchJSON struct{ w *bufio.Writer }

func (o *searchJSON) write(line []byte, _ *logs.Record) error {
	o.w.Write(line)
	return o.w.WriteByte('\n')
}

func (o *searchJSON) flush() error { return o.w.Flush() }

// searchCSVColumns are the columns of --format csv, named by their log keys.
var searchCSVColumns = []string{
	logs.KeyTimestamp, logs.KeyID, logs.KeyAction, logs.KeyOutcome, logs.KeyReason,
	logs.KeyUser, logs.KeyAgency, logs.KeySourceIP, logs.KeyDomain, logs.KeyPath,
	logs.KeyPlatform, logs.KeyAccount, logs.KeyRole, logs.KeyMode,
	// Added after the first release, so at the end: what the origin
	// answered (an allowed request may still have ended in a 502) and, for
	// admin events, who did what to what and why.
	logs.KeyStatus, logs.KeyBy, logs.KeyTarget, logs.KeyMessage,
	// "false" for a block that report mode did not enforce, else empty.
	logs.KeyEnforced,
}

type searchCSV struct {
	w      *csv.Writer
	header bool // written
	row    []string
}

func newSearchCSV(w io.Writer) *searchCSV {
	return &searchCSV{w: csv.NewWriter(w)}
}

func (o *searchCSV) writeHeader() error {
	if o.header {
		return nil
	}
	o.header = true
	return o.w.Write(searchCSVColumns)
}

func (o *searchCSV) write(_ []byte, r *logs.Record) error {
	if err := o.writeHeader(); err != nil {
		return err
	}
	o.row = append(o.row[:0], utcStamp(r.Time, time.RFC3339Nano), r.ID, r.Action, r.Outcome, r.Reason,
		r.User, r.Agency, sourceIP(r), r.Domain, r.Path, r.Platform, r.Account, r.Role, r.Mode,
		statusText(r.Status), r.By, r.Target, r.Message, enforcedText(r))
	for i, v := range o.row {
		o.row[i] = csvSafe(v)
	}
	return o.w.Write(o.row)
}

func (o *searchCSV) flush() error {
	herr := o.writeHeader()
	o.w.Flush()
	return errors.Join(herr, o.w.Error())
}

// enforcedText is the smgate.enforced column: "false" for a decision
// that report mode did not enforce (the request went through), else
// empty.
func enforcedText(r *logs.Record) string {
	if r.NotEnforced {
		return "false"
	}
	return ""
}

// csvSafe keeps a spreadsheet from running a value as a formula: user
// names and paths come from clients, so one starting with = + - @ or a
// control character gets a leading apostrophe.
func csvSafe(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r\n", rune(v[0])) {
		return "'" + v
	}
	return v
}

func utcStamp(t time.Time, layout string) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(layout)
}

func sourceIP(r *logs.Record) string {
	if !r.SourceIP.IsValid() {
		return ""
	}
	return r.SourceIP.String()
}

// tableFlushRows is how many rows the table aligns at a time, so that a
// search over months does not hold all its output in memory.
const tableFlushRows = 1000

// statusText is an HTTP status for output, "" when the record has none.
func statusText(status int) string {
	if status == 0 {
		return ""
	}
	return strconv.Itoa(status)
}

// searchTable prints aligned columns. STATUS is the origin's HTTP status
// (an allowed request may have ended in a 502). For admin events USER
// shows who acted (smgate.by) and URL what they acted on (smgate.target).
type searchTable struct {
	w      *tabwriter.Writer
	header bool // written
	rows   int
}

func newSearchTable(w io.Writer) *searchTable {
	return &searchTable{w: tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)}
}

func (o *searchTable) writeHeader() error {
	if o.header {
		return nil
	}
	o.header = true
	_, err := io.WriteString(o.w, "TIME\tID\tACTION\tOUTCOME\tSTATUS\tREASON\tUSER\tAGENCY\tPLATFORM\tACCOUNT\tURL\n")
	return err
}

func (o *searchTable) write(_ []byte, r *logs.Record) error {
	if err := o.writeHeader(); err != nil {
		return err
	}
	user, url := r.User, r.Domain+r.Path
	if user == "" {
		user = r.By
	}
	if url == "" {
		url = r.Target
	}
	outcome := r.Outcome
	if r.NotEnforced {
		outcome += "(not-enforced)" // one word, for awk and cut
	}
	cells := []string{utcStamp(r.Time, "2006-01-02T15:04:05Z07:00"), r.ID, r.Action, outcome, statusText(r.Status), r.Reason,
		user, r.Agency, r.Platform, r.Account, url}
	for i, c := range cells {
		cells[i] = termSafe(c)
	}
	if _, err := io.WriteString(o.w, strings.Join(cells, "\t")+"\n"); err != nil {
		return err
	}
	if o.rows++; o.rows%tableFlushRows == 0 {
		return o.w.Flush()
	}
	return nil
}

func (o *searchTable) flush() error {
	return errors.Join(o.writeHeader(), o.w.Flush())
}

// termSafe makes v safe for a terminal: "-" when empty, quoted with
// escapes when it holds a control or other non-printing character (a
// client-chosen user name must not move the cursor or recolour the
// screen).
func termSafe(v string) string {
	if v == "" {
		return "-"
	}
	if strings.IndexFunc(v, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return strconv.Quote(v)
	}
	return v
}
