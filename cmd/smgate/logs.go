package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"

	"github.com/smgate/smgate/allowlist"
	"github.com/smgate/smgate/logs"
)

const logsSynopsis = `usage: smgate logs <command> [flags]

commands:
  search    find usage records (smgate logs search -h)
  verify    [--config F] [--since DATE]: check the hash chain and checkpoint
  prune     [--config F] [--force] [--dry-run]: delete day files past retention
  hold      add --id ID --reason R [--agency A] [--user U] [--from DATE] [--to DATE] [--by NAME]
            list [--format table|json]
            release ID [--by NAME]

DATE is a UTC day, YYYY-MM-DD.`

func runLogs(e *env, args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(e.stderr, logsSynopsis)
		return 2
	}
	switch args[0] {
	case "search":
		return runLogsSearch(e, args[1:])
	case "verify":
		return runLogsVerify(e, args[1:])
	case "prune":
		return runLogsPrune(e, args[1:])
	case "hold":
		return runLogsHold(e, args[1:])
	case "help", "-h", "-help", "--help":
		fmt.Fprintln(e.stdout, logsSynopsis)
		return 0
	}
	fmt.Fprintf(e.stderr, "smgate logs: unknown command %q\n\n%s\n", args[0], logsSynopsis)
	return 2
}

// logsSetup is what the log commands take from the gateway config.
type logsSetup struct {
	cfg *allowlist.Config
	key []byte
}

func loadLogsSetup(path string) (*logsSetup, error) {
	cfg, err := allowlist.LoadConfig(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	key, err := readHMACKey(cfg.Logs.HMACKeyFile)
	if err != nil {
		return nil, err
	}
	return &logsSetup{cfg: cfg, key: key}, nil
}

// openWriter opens the usage log for a command's own record. The gateway
// holds the log while it runs.
func (s *logsSetup) openWriter(e *env) (*logs.Writer, error) {
	w, err := logs.Open(logs.Options{Dir: s.cfg.Logs.Dir, StateDir: s.cfg.Gateway.DataDir,
		Observer: s.cfg.Gateway.Name, HMACKey: s.key,
		Logger: zerolog.New(e.stderr).Level(zerolog.WarnLevel).With().Timestamp().Logger()})
	if errors.Is(err, logs.ErrLocked) {
		return nil, fmt.Errorf("%w (is smgate serve running? it prunes daily itself)", err)
	}
	return w, err
}

// parseDay reads a flag's DATE; "" is the zero time.
func parseDay(flagName, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse("2006-01-02", v)
	if err != nil {
		return time.Time{}, logsUsagef("--%s %q: want a date YYYY-MM-DD", flagName, v)
	}
	return t, nil
}

// noArgs is a usage error for arguments after the flags.
func noArgs(fs interface{ Args() []string }) error {
	if a := fs.Args(); len(a) > 0 {
		return logsUsagef("unexpected argument %q", a[0])
	}
	return nil
}

// whoami names the person at the terminal for admin records.
func whoami() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "unknown"
}

func runLogsVerify(e *env, args []string) int {
	const name = "logs verify"
	fs := newFlags(e, name, "[--config F] [--since DATE]")
	config := fs.String("config", defaultConfig(), "gateway config `file`")
	since := fs.String("since", "", "verify from this `DATE` (YYYY-MM-DD, UTC) on")
	if c := parseFlags(fs, args); c >= 0 {
		return c
	}
	if err := noArgs(fs); err != nil {
		return logsExit(e, name, err)
	}
	from, err := parseDay("since", *since)
	if err != nil {
		return logsExit(e, name, err)
	}
	s, err := loadLogsSetup(*config)
	if err != nil {
		return logsExit(e, name, err)
	}
	res, err := logs.Verify(logs.VerifyOptions{Dir: s.cfg.Logs.Dir, StateDir: s.cfg.Gateway.DataDir,
		HMACKey: s.key, Since: from})
	var ve *logs.VerifyError
	if errors.As(err, &ve) {
		return logsExit(e, name, fmt.Errorf("FAILED in %s: %w", s.cfg.Logs.Dir, err))
	}
	if err != nil {
		return logsExit(e, name, err)
	}
	fmt.Fprintf(e.stdout, "ok: %d day files, %d records verified in %s\nchain head %s\n",
		res.Files, res.Records, s.cfg.Logs.Dir, res.Head)
	if res.Partial > 0 {
		fmt.Fprintf(e.stdout, "last line incomplete (%d bytes): being written, or torn and cut at the next start\n", res.Partial)
	}
	return 0
}

func runLogsPrune(e *env, args []string) int {
	const name = "logs prune"
	fs := newFlags(e, name, "[--config F] [--force] [--dry-run]")
	config := fs.String("config", defaultConfig(), "gateway config `file`")
	force := fs.Bool("force", false, "delete even when the files to delete fail verification (held days are never deleted)")
	dryRun := fs.Bool("dry-run", false, "print what would be deleted, delete nothing")
	by := fs.String("by", whoami(), "who prunes, for the prune record")
	if c := parseFlags(fs, args); c >= 0 {
		return c
	}
	if err := noArgs(fs); err != nil {
		return logsExit(e, name, err)
	}
	s, err := loadLogsSetup(*config)
	if err != nil {
		return logsExit(e, name, err)
	}
	o := logs.PruneOptions{Dir: s.cfg.Logs.Dir, StateDir: s.cfg.Gateway.DataDir, HMACKey: s.key,
		RetentionDays: s.cfg.Logs.RetentionDays, Force: *force, DryRun: *dryRun, By: *by}
	if !*dryRun {
		if o.Writer, err = s.openWriter(e); err != nil {
			return logsExit(e, name, err)
		}
	}
	res, err := logs.Prune(o)
	if o.Writer != nil {
		err = errors.Join(err, o.Writer.Close())
	}
	printPrune(e.stdout, res, *dryRun)
	if err != nil {
		return logsExit(e, name, err)
	}
	return 0
}

func printPrune(w io.Writer, res logs.PruneResult, dryRun bool) {
	verb := "deleted"
	if dryRun {
		verb = "would delete"
	}
	fmt.Fprintf(w, "%s %d day files\n", verb, len(res.Deleted))
	for _, f := range res.Deleted {
		fmt.Fprintf(w, "  %s\n", f)
	}
	for _, h := range res.Held {
		fmt.Fprintf(w, "kept %s: hold %s\n", h.File, h.Hold)
	}
	if res.Unverified != nil {
		fmt.Fprintf(w, "forced although verification failed: %v\n", res.Unverified)
	}
}

func runLogsHold(e *env, args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(e.stderr, logsSynopsis)
		return 2
	}
	switch args[0] {
	case "add":
		return runHoldAdd(e, args[1:])
	case "list":
		return runHoldList(e, args[1:])
	case "release":
		return runHoldRelease(e, args[1:])
	}
	fmt.Fprintf(e.stderr, "smgate logs hold: unknown command %q (want add, list or release)\n", args[0])
	return 2
}

func runHoldAdd(e *env, args []string) int {
	const name = "logs hold add"
	fs := newFlags(e, name, "--id ID --reason R [--agency A] [--user U] [--from DATE] [--to DATE] [--by NAME]")
	config := fs.String("config", defaultConfig(), "gateway config `file`")
	var h logs.Hold
	fs.StringVar(&h.ID, "id", "", "hold `id`, e.g. the case number (required)")
	fs.StringVar(&h.Reason, "reason", "", "why the records are held (required)")
	fs.StringVar(&h.Agency, "agency", "", "whose records: agency id (the whole day files are kept)")
	fs.StringVar(&h.User, "user", "", "whose records: user name (the whole day files are kept)")
	from := fs.String("from", "", "first held `DATE`; empty = from the first record")
	to := fs.String("to", "", "last held `DATE`; empty = on and on")
	fs.StringVar(&h.CreatedBy, "by", whoami(), "who places the hold")
	if c := parseFlags(fs, args); c >= 0 {
		return c
	}
	err := errors.Join(noArgs(fs), required("id", h.ID), required("reason", h.Reason))
	if err == nil {
		h.From, err = parseDay("from", *from)
	}
	if err == nil {
		h.To, err = parseDay("to", *to)
	}
	if err != nil {
		return logsExit(e, name, err)
	}
	s, err := loadLogsSetup(*config)
	if err != nil {
		return logsExit(e, name, err)
	}
	return addHold(e, s, h)
}

func required(flagName, v string) error {
	if strings.TrimSpace(v) == "" {
		return logsUsagef("--%s is required", flagName)
	}
	return nil
}

// addHold saves h and records it. A hold protects records, so it is saved
// even when the gateway has the log open; the exit status then says that
// its record is missing.
func addHold(e *env, s *logsSetup, h logs.Hold) int {
	const name = "logs hold add"
	w, werr := s.openWriter(e)
	h, err := logs.NewHoldStore(s.cfg.Gateway.DataDir, nil).Add(h)
	if err != nil {
		if w != nil {
			_ = w.Close()
		}
		return logsExit(e, name, err)
	}
	fmt.Fprintf(e.stdout, "hold %s added: days %s\n", h.ID, holdDays(h))
	if werr != nil {
		return logsExit(e, name, fmt.Errorf("hold %s is in force but not recorded in the usage log: %w", h.ID, werr))
	}
	if err := errors.Join(w.Log(h.Record("add", h.CreatedBy)), w.Close()); err != nil {
		return logsExit(e, name, fmt.Errorf("hold %s is in force but its record failed: %w", h.ID, err))
	}
	return 0
}

func holdDays(h logs.Hold) string {
	day := func(t time.Time, none string) string {
		if t.IsZero() {
			return none
		}
		return t.Format("2006-01-02")
	}
	return day(h.From, "first") + " to " + day(h.To, "last")
}

func runHoldList(e *env, args []string) int {
	const name = "logs hold list"
	fs := newFlags(e, name, "[--config F] [--format table|json]")
	config := fs.String("config", defaultConfig(), "gateway config `file`")
	format := fs.String("format", "table", "table or json")
	if c := parseFlags(fs, args); c >= 0 {
		return c
	}
	err := noArgs(fs)
	if err == nil && *format != "table" && *format != "json" {
		err = logsUsagef("--format %q: want table or json", *format)
	}
	if err != nil {
		return logsExit(e, name, err)
	}
	s, err := loadLogsSetup(*config)
	if err != nil {
		return logsExit(e, name, err)
	}
	holds, err := logs.NewHoldStore(s.cfg.Gateway.DataDir, nil).List()
	if err == nil {
		err = printHolds(e.stdout, holds, *format)
	}
	if err != nil {
		return logsExit(e, name, err)
	}
	return 0
}

func printHolds(w io.Writer, holds []logs.Hold, format string) error {
	if format == "json" {
		if holds == nil {
			holds = []logs.Hold{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(holds)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tDAYS\tAGENCY\tUSER\tCREATED\tBY\tREASON")
	for _, h := range holds {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", h.ID, holdDays(h), dash(h.Agency), dash(h.User),
			h.CreatedAt.UTC().Format(time.RFC3339), dash(h.CreatedBy), h.Reason)
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func runHoldRelease(e *env, args []string) int {
	const name = "logs hold release"
	// The id comes first (hold release ID [flags]); flags may also come
	// first.
	var id string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		id, args = args[0], args[1:]
	}
	fs := newFlags(e, name, "ID [--config F] [--by NAME]")
	config := fs.String("config", defaultConfig(), "gateway config `file`")
	by := fs.String("by", whoami(), "who releases the hold")
	if c := parseFlags(fs, args); c >= 0 {
		return c
	}
	if id == "" && fs.NArg() > 0 {
		id = fs.Arg(0)
	} else if err := noArgs(fs); err != nil {
		return logsExit(e, name, err)
	}
	if id == "" {
		return logsExit(e, name, logsUsagef("give the id of the hold to release"))
	}
	s, err := loadLogsSetup(*config)
	if err != nil {
		return logsExit(e, name, err)
	}
	return releaseHold(e, s, id, *by)
}

// releaseHold deletes the hold and records it. Release lets prune delete
// records, so it is refused when it cannot be recorded.
func releaseHold(e *env, s *logsSetup, id, by string) int {
	const name = "logs hold release"
	w, err := s.openWriter(e)
	if err != nil {
		return logsExit(e, name, fmt.Errorf("hold %s not released: %w", id, err))
	}
	h, err := logs.NewHoldStore(s.cfg.Gateway.DataDir, nil).Release(id)
	if err == nil {
		err = w.Log(h.Record("release", by))
	}
	if err = errors.Join(err, w.Close()); err != nil {
		return logsExit(e, name, err)
	}
	fmt.Fprintf(e.stdout, "hold %s released\n", id)
	return 0
}
