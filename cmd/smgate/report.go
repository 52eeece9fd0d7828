package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/smgate/smgate/allowlist"
	"github.com/smgate/smgate/logs"
)

const reportSynopsis = `[--config F] [--dir D] [--since T] [--until T] [--by agency|platform|user|account] [--format table|csv|html] [--out FILE]

Reports the social-media decisions of a period: allowed and blocked per
group, the most blocked users and block reasons of each agency, the use of
each approved account and the approvals that expire within 30 days. The
accounts come from the registry that --config names. T is a span back from
now (30d, 24h), a date (2026-11-01, UTC) or an RFC 3339 time. html is one
self-contained page that can be mailed.`

// reportFlags are the flags of report.
type reportFlags struct {
	logFlags
	by, format, out  string
	agency, platform string
	configSet        bool // --config was given
}

func (f *reportFlags) define(fs *flag.FlagSet) {
	f.logFlags.define(fs, "30d")
	fs.StringVar(&f.by, "by", logs.ByAgency, "group by: "+strings.Join(logs.ReportGroupings, ", "))
	fs.StringVar(&f.format, "format", "table", "output `format`: table, csv or html")
	fs.StringVar(&f.out, "out", "", "write the report to `FILE` instead of standard output")
	fs.StringVar(&f.agency, "agency", "", "only this agency (organization.id)")
	fs.StringVar(&f.platform, "platform", "", "only this platform (smgate.platform)")
}

func runReport(e *env, args []string) int {
	var f reportFlags
	fs := newFlags(e, "report", reportSynopsis)
	f.define(fs)
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	fs.Visit(func(fl *flag.Flag) { f.configSet = f.configSet || fl.Name == "config" })
	if err := f.run(e, fs.Args(), time.Now()); err != nil {
		return logsExit(e, "report", err)
	}
	return 0
}

func (f *reportFlags) run(e *env, args []string, now time.Time) error {
	if len(args) > 0 {
		return logsUsagef("unexpected argument %q", args[0])
	}
	q := logs.Query{Agency: f.agency, Platform: f.platform}
	// The same warnings as search's: an id in the wrong case counts
	// nothing and reads as no use.
	(&searchFlags{logFlags: f.logFlags, agency: f.agency, platform: f.platform, configSet: f.configSet}).warnUnknown(e)
	var err error
	if q.Since, q.Until, err = f.period(now); err != nil {
		return err
	}
	if !slices.Contains(logs.ReportGroupings, f.by) {
		return logsUsagef("--by %q: want one of %s", f.by, strings.Join(logs.ReportGroupings, ", "))
	}
	write, err := reportWriter(f.format)
	if err != nil {
		return err
	}
	dir, accounts, loc, err := f.source(e)
	if err != nil {
		return err
	}
	// Approvals expire at midnight in gateway.timezone, where the gateway
	// decides them: count the days left from today there, not in the
	// zone of the machine that runs the report.
	rep, err := logs.BuildReport(dir, q, f.by, accounts, now.In(loc))
	if rep == nil {
		return err
	}
	noteUnterminated(e, "report", rep.Unterminated)
	// A report with damaged lines left out is still written; it says so.
	return errors.Join(f.output(e, rep, write), err)
}

// reportWriter returns the renderer of format.
func reportWriter(format string) (func(*logs.Report, io.Writer) error, error) {
	switch format {
	case "table":
		return (*logs.Report).WriteTable, nil
	case "csv":
		return (*logs.Report).WriteCSV, nil
	case "html":
		return (*logs.Report).WriteHTML, nil
	}
	return nil, logsUsagef("--format %q: want table, csv or html", format)
}

// source returns the log directory, the registry's accounts and the
// gateway's time zone, in which approvals expire. With --dir and no
// --config, a missing policy leaves the accounts out, with a note, rather
// than failing the report (the zone is then UTC: it matters only for the
// accounts).
func (f *reportFlags) source(e *env) (string, []logs.AccountInfo, *time.Location, error) {
	loaded, err := allowlist.Load(f.config)
	switch {
	case err == nil && f.dir != "":
		return f.dir, accountInfos(loaded.Policy.Registry.Accounts), loaded.Config.Location(), nil
	case err == nil:
		return loaded.Config.Logs.Dir, accountInfos(loaded.Policy.Registry.Accounts), loaded.Config.Location(), nil
	case f.dir != "" && !f.configSet:
		fmt.Fprintf(e.stderr, "smgate report: no registry, so no account usage or expiring approvals (give --config): %v\n", err)
		return f.dir, nil, time.UTC, nil
	}
	return "", nil, nil, fmt.Errorf("load policy (or give the log directory with --dir): %w", err)
}

// accountInfos converts the registry's accounts for logs, which does not
// know allowlist.
func accountInfos(accounts []allowlist.Account) []logs.AccountInfo {
	out := make([]logs.AccountInfo, len(accounts))
	for i, a := range accounts {
		out[i] = logs.AccountInfo{
			ID: a.ID, Agency: a.Agency, Platform: a.Platform, Handle: a.Handle,
			ExpiresOn: a.ExpiresOn.Time(), Status: a.Status,
		}
	}
	return out
}

// output writes the report to --out or standard output.
func (f *reportFlags) output(e *env, rep *logs.Report, write func(*logs.Report, io.Writer) error) error {
	if f.out == "" {
		return write(rep, e.stdout)
	}
	if err := writeReportFile(f.out, func(w io.Writer) error { return write(rep, w) }); err != nil {
		return err
	}
	// Say where it went: a silent success looks like nothing happened.
	fmt.Fprintf(e.stderr, "wrote %s\n", f.out)
	return nil
}

// writeReportFile writes path through a temporary file in its directory,
// renamed over it when complete, so that a failed report leaves no half
// file for someone to mail.
func writeReportFile(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	if err := errors.Join(write(tmp), tmp.Close()); err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}
