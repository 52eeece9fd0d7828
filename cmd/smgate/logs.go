package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
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
  verify    [--config F | --dir DIR] [--since DATE]: check the hash chain and checkpoint
  prune     [--config F] [--force] [--dry-run]: delete day files past retention
  hold      litigation holds (smgate logs hold -h):
            add --id ID --reason R [--agency A] [--user U] [--from DATE] [--to DATE] [--by NAME]
            list [--format table|json]
            release ID [--by NAME]

DATE is a UTC day, YYYY-MM-DD. smgate logs <command> -h lists its flags.`

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

// logsSetup is what the log commands take from the gateway config. The
// chain key is read only by the commands that need it (key): monitoring
// staff who may read holds.json but not the key can list holds.
type logsSetup struct {
	cfg *allowlist.Config
}

func loadLogsSetup(path string) (*logsSetup, error) {
	cfg, err := allowlist.LoadConfig(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	return &logsSetup{cfg: cfg}, nil
}

// key reads logs.hmac_key_file; nil when none is configured.
func (s *logsSetup) key() ([]byte, error) { return readHMACKey(s.cfg.Logs.HMACKeyFile) }

// openWriter opens the usage log for a command's own record. The gateway
// holds the log while it runs: then the error wraps logs.ErrLocked,
// whether or not this user can read the key, since the command then asks
// the gateway, which needs no key here.
func (s *logsSetup) openWriter(e *env) (*logs.Writer, error) {
	key, err := s.key()
	if err != nil {
		if inUse, _ := logs.InUse(s.cfg.Gateway.DataDir); inUse {
			return nil, fmt.Errorf("open usage log: %w", logs.ErrLocked)
		}
		return nil, err
	}
	w, err := logs.Open(logs.Options{Dir: s.cfg.Logs.Dir, StateDir: s.cfg.Gateway.DataDir,
		Observer: s.cfg.Gateway.Name, HMACKey: key,
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
		return time.Time{}, logsUsagef("--%s %q: %swant a date YYYY-MM-DD", flagName, v, noSuchDate(err))
	}
	return t, nil
}

// noSuchDate returns, for an error of time.Parse, "no such date (day out
// of range); " when the value has the form of a date but names no day of
// the calendar (2026-02-30, 2026-13-01), so that the message does not ask
// for the form it already has; otherwise "".
func noSuchDate(err error) string {
	var pe *time.ParseError
	if errors.As(err, &pe) && strings.HasSuffix(pe.Message, "out of range") {
		return "no such date (" + strings.TrimPrefix(pe.Message, ": ") + "); "
	}
	return ""
}

// noArgs is a usage error for arguments after the flags.
func noArgs(fs interface{ Args() []string }) error {
	if a := fs.Args(); len(a) > 0 {
		return logsUsagef("unexpected argument %q", a[0])
	}
	return nil
}

// whoami names the person at the terminal for admin records, in this
// order: $SUDO_USER (who ran sudo), $USER, the user of the process
// (os/user), its uid.
func whoami() string {
	for _, v := range []string{"SUDO_USER", "USER"} {
		if s := strings.TrimSpace(os.Getenv(v)); s != "" {
			return s
		}
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "uid " + strconv.Itoa(os.Getuid())
}

func runLogsVerify(e *env, args []string) int {
	const name = "logs verify"
	fs := newFlags(e, name, "[--config F | --dir DIR [--key-file F] [--anchors F]] [--since DATE]")
	config := fs.String("config", defaultConfig(), "gateway config `file`: logs.dir, the checkpoint in data_dir and logs.hmac_key_file")
	dir := fs.String("dir", "", "verify the day files in this `directory` instead (a copy, an archive): the chain only, "+
		"not the checkpoint of the live log; the key is --key-file, else the config's when it can be read")
	keyFile := fs.String("key-file", "", "chain key `file` for --dir (overrides the config's logs.hmac_key_file)")
	anchors := fs.String("anchors", "", "prune anchors `file` for --dir: a copy of data_dir/"+logs.AnchorFile+
		" taken with the day files (default: DIR/"+logs.AnchorFile+" when there)")
	since := fs.String("since", "", "verify from this `DATE` (YYYY-MM-DD, UTC) on")
	if c := parseFlags(fs, args); c >= 0 {
		return c
	}
	err := noArgs(fs)
	if err == nil && *keyFile != "" && *dir == "" {
		err = logsUsagef("--key-file goes with --dir (with --config the key is logs.hmac_key_file)")
	}
	if err == nil && *anchors != "" && *dir == "" {
		err = logsUsagef("--anchors goes with --dir (with --config the anchors are in data_dir)")
	}
	if err != nil {
		return logsExit(e, name, err)
	}
	from, err := parseDay("since", *since)
	if err != nil {
		return logsExit(e, name, err)
	}
	o, err := verifyOptions(fs, *config, *dir, *keyFile)
	if err != nil {
		return logsExit(e, name, err)
	}
	o.Since = from
	if *dir != "" {
		o.Anchors, o.OpenStart = dirAnchors(*dir, *anchors)
	}
	res, err := logs.Verify(o)
	var ve *logs.VerifyError
	if errors.As(err, &ve) {
		if o.OpenStart {
			err = fmt.Errorf("%w\n(no prune anchors with this copy: if prune deleted days of it, copy data_dir/%s into %s or give --anchors)",
				err, logs.AnchorFile, o.Dir)
		}
		return logsExit(e, name, fmt.Errorf("FAILED in %s: %w", o.Dir, err))
	}
	if err != nil {
		return logsExit(e, name, err)
	}
	if res.Empty {
		fmt.Fprintf(e.stdout, "ok: no records yet: %s has no day files, and the checkpoint in %s expects none\n", o.Dir, o.StateDir)
		return 0
	}
	fmt.Fprintf(e.stdout, "ok: %d day files, %d records verified in %s\nchain head %s\n",
		res.Files, res.Records, o.Dir, res.Head)
	if res.OpenStart != "" {
		fmt.Fprintf(e.stdout, "not verified: the first record (%s line 1), taken as given: it does not follow from the start "+
			"of the chain and there are no prune anchors with this copy, so what came before it is not known (days pruned, "+
			"or records deleted); to check it, copy data_dir/%s into %s or give --anchors\n", res.OpenStart, logs.AnchorFile, o.Dir)
	}
	if o.StateDir == "" {
		fmt.Fprintln(e.stdout, "chain only: the checkpoint of the live log was not compared (--dir)")
	}
	if len(res.Given) > 0 {
		fmt.Fprintf(e.stdout, "%d prune anchors taken as given (%s): written by an older smgate without the chain value "+
			"their pruned days continued from, so the end of the records before each is not checked\n",
			len(res.Given), strings.Join(res.Given, "; "))
	}
	if res.Unkeyed {
		fmt.Fprintf(e.stdout, "warning: the prune anchors protect nothing without a chain key: their seals are plain SHA-256, "+
			"so whoever can write the anchor file can hide deleted day files behind a forged anchor; set logs.hmac_key_file\n")
	}
	if res.Partial > 0 {
		fmt.Fprintf(e.stdout, "last line incomplete (%d bytes): being written, or torn and cut at the next start\n", res.Partial)
	}
	return 0
}

// dirAnchors returns the anchor file for verify --dir: flag, else the
// copy in dir when there; with none, the chain may start anywhere.
func dirAnchors(dir, flag string) (path string, openStart bool) {
	if flag != "" {
		return flag, false
	}
	path = filepath.Join(dir, logs.AnchorFile)
	if _, err := os.Stat(path); err == nil {
		return path, false
	}
	return "", true
}

// verifyOptions returns what logs verify checks: the log of the config,
// or with dir the day files there, keyed by keyFile, else by the config's
// key when the config can be read (an unreadable default config is no
// error with --dir; one named by --config is).
func verifyOptions(fs *flag.FlagSet, config, dir, keyFile string) (logs.VerifyOptions, error) {
	if dir == "" {
		s, err := loadLogsSetup(config)
		if err != nil {
			return logs.VerifyOptions{}, err
		}
		key, err := s.key()
		return logs.VerifyOptions{Dir: s.cfg.Logs.Dir, StateDir: s.cfg.Gateway.DataDir, HMACKey: key}, err
	}
	o := logs.VerifyOptions{Dir: dir}
	if keyFile != "" {
		key, err := readHMACKey(keyFile)
		o.HMACKey = key
		return o, err
	}
	explicit := false
	fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "config" })
	if _, err := os.Stat(config); err != nil && !explicit && os.Getenv("SMGATE_CONFIG") == "" {
		return o, nil // no gateway config here: an unkeyed chain
	}
	s, err := loadLogsSetup(config)
	if err != nil {
		return o, err
	}
	o.HMACKey, err = s.key()
	return o, err
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
	if err := errors.Join(noArgs(fs), required("by", *by)); err != nil {
		return logsExit(e, name, err)
	}
	s, err := loadLogsSetup(*config)
	if err != nil {
		return logsExit(e, name, err)
	}
	key, err := s.key()
	if err != nil {
		return logsExit(e, name, err)
	}
	o := logs.PruneOptions{Dir: s.cfg.Logs.Dir, StateDir: s.cfg.Gateway.DataDir, HMACKey: key,
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
	if err == nil || len(res.Deleted) > 0 {
		// A prune that stopped before deleting says so on stderr alone.
		printPrune(e.stdout, res, *dryRun)
	}
	if err != nil {
		return logsExit(e, name, err)
	}
	return 0
}

// printPrune prints what prune deleted (with dryRun, would delete) and
// kept for holds.
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

const holdSynopsis = `usage: smgate logs hold <command> [flags]

Litigation holds: while a hold is in force, prune (smgate logs prune and
serve's daily prune) deletes no day file of the days it covers. Holds are
kept in data_dir/holds.json; every add and release is a usage record
(event.action "hold") written before the command answers.

commands:
  add --id ID --reason R [--agency A] [--user U] [--from DATE] [--to DATE] [--by NAME]
  list [--format table|json]
  release ID [--by NAME]

add and release take the usage log's lock to write their record. When
smgate serve holds it, they ask the running gateway instead through its
admin API (admin.listen and admin.token_file of --config), which saves the
hold and writes the record through its own log: run them as root or as the
gateway's user, who can read the token. The lock, not the configuration,
decides which way, so a gateway whose API is disabled is never bypassed:
add and release then change nothing and say why.
list reads data_dir/holds.json, which is replaced atomically.

A hold is saved before it is recorded. When its record cannot be written
the command exits 1, list shows the hold as UNRECORDED, and running the
same add again (same id and terms) records it; it is harmless for a hold
already recorded. A release is recorded first; if it cannot be, the hold
stays in force.

--by defaults to $SUDO_USER, then $USER, then the user the command runs as.
DATE is a UTC day, YYYY-MM-DD. smgate logs hold <command> -h lists its flags.`

func runLogsHold(e *env, args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(e.stderr, holdSynopsis)
		return 2
	}
	switch args[0] {
	case "add":
		return runHoldAdd(e, args[1:])
	case "list":
		return runHoldList(e, args[1:])
	case "release":
		return runHoldRelease(e, args[1:])
	case "help", "-h", "-help", "--help":
		fmt.Fprintln(e.stdout, holdSynopsis)
		return 0
	}
	fmt.Fprintf(e.stderr, "smgate logs hold: unknown command %q (want add, list or release; smgate logs hold -h)\n", args[0])
	return 2
}

func runHoldAdd(e *env, args []string) int {
	const name = "logs hold add"
	fs := newFlags(e, name, "--id ID --reason R [--agency A] [--user U] [--from DATE] [--to DATE] [--by NAME] [--config F]")
	config := fs.String("config", defaultConfig(), "gateway config `file` (data_dir, logs; admin.listen and admin.token_file while serve runs)")
	var h logs.Hold
	fs.StringVar(&h.ID, "id", "", "hold `id`, e.g. the case number (required)")
	fs.StringVar(&h.Reason, "reason", "", "why the records are held (required)")
	fs.StringVar(&h.Agency, "agency", "", "whose records: agency `id` of the directory (the whole day files are kept)")
	fs.StringVar(&h.User, "user", "", "whose records: user `id` of the directory (the whole day files are kept)")
	from := fs.String("from", "", "first held `DATE` (YYYY-MM-DD, a UTC day, as the day files); empty = from the first record")
	to := fs.String("to", "", "last held `DATE` (YYYY-MM-DD, a UTC day, as the day files); empty = open-ended")
	fs.StringVar(&h.CreatedBy, "by", whoami(), "who places the hold ($SUDO_USER, $USER, then the user the command runs as)")
	if c := parseFlags(fs, args); c >= 0 {
		return c
	}
	err := errors.Join(noArgs(fs), required("id", h.ID), required("reason", h.Reason), required("by", h.CreatedBy))
	if err == nil {
		h.From, err = parseDay("from", *from)
	}
	if err == nil {
		h.To, err = parseDay("to", *to)
	}
	if err == nil {
		h.ID, h.Reason = strings.TrimSpace(h.ID), strings.TrimSpace(h.Reason)
		h.Agency, h.User = strings.TrimSpace(h.Agency), strings.TrimSpace(h.User)
		if verr := h.Validate(); verr != nil {
			err = logsUsagef("%v", verr)
		}
	}
	if err != nil {
		return logsExit(e, name, err)
	}
	s, err := loadLogsSetup(*config)
	if err != nil {
		return logsExit(e, name, err)
	}
	return addHold(e, s, *config, h)
}

func required(flagName, v string) error {
	if strings.TrimSpace(v) == "" {
		return logsUsagef("--%s is required", flagName)
	}
	return nil
}

// holdResult says what placeHold did.
type holdResult int

const (
	holdPlaced       holdResult = iota // a new hold, saved and recorded
	holdRecordedLate                   // the same hold was in force unrecorded; recorded now
	holdUnchanged                      // the same hold was in force and recorded
)

func (r holdResult) String() string {
	switch r {
	case holdRecordedLate:
		return "recorded"
	case holdUnchanged:
		return "unchanged"
	}
	return "placed"
}

// errHoldUnrecorded marks a hold saved whose usage record failed.
var errHoldUnrecorded = errors.New("in force but not recorded in the usage log")

// placeHold saves h (logs.HoldStore.Place), then writes its record with
// record, which returns once the record is durable, and marks it
// recorded. A hold in force whose record fails is errHoldUnrecorded;
// placing it again records it. The caller serialises calls.
func placeHold(store *logs.HoldStore, record func(*logs.Record) error, h logs.Hold) (logs.Hold, holdResult, error) {
	saved, created, err := store.Place(h)
	if err != nil {
		return saved, holdPlaced, err
	}
	res := holdPlaced
	switch {
	case !created && !saved.Unrecorded:
		return saved, holdUnchanged, nil
	case !created:
		res = holdRecordedLate
	}
	if err := record(saved.Record("add", saved.CreatedBy)); err != nil {
		return saved, res, fmt.Errorf("hold %s is %w: %w", saved.ID, errHoldUnrecorded, err)
	}
	if err := store.MarkRecorded(saved.ID); err != nil {
		return saved, res, fmt.Errorf("hold %s is in force and recorded, but holds.json still says unrecorded: %w", saved.ID, err)
	}
	saved.Unrecorded = false
	return saved, res, nil
}

// releaseHold records the release of hold id by whom, then deletes it:
// a release that cannot be recorded does not happen. When the holds file
// cannot be changed after the record, a failure record says that the
// hold stays in force. The caller serialises calls.
func releaseHold(store *logs.HoldStore, record func(*logs.Record) error, id, by string) (logs.Hold, error) {
	h, err := store.Get(id)
	if err != nil {
		return h, err
	}
	if err := record(h.Record("release", by)); err != nil {
		return h, fmt.Errorf("hold %s not released, it stays in force: its usage record could not be written: %w", id, err)
	}
	if _, err := store.Release(id); err != nil {
		r := h.Record("release", by)
		r.Outcome = logs.OutcomeFailure
		r.Message = fmt.Sprintf("release hold %s failed after its record: %v; the hold stays in force", id, err)
		return h, errors.Join(fmt.Errorf("hold %s stays in force: its release is recorded but holds.json could not be changed: %w", id, err), record(r))
	}
	return h, nil
}

// checkHoldTargets returns an error naming the agency or user of h that
// the directory of snap does not have.
func checkHoldTargets(h logs.Hold, snap *allowlist.Snapshot) error {
	var unknown []string
	if h.Agency != "" && snap.AgencyName(h.Agency) == "" {
		unknown = append(unknown, fmt.Sprintf("agency %q is not in the directory", h.Agency))
	}
	if h.User != "" && !snap.UserExists(h.User) {
		unknown = append(unknown, fmt.Sprintf("user %q is not in the directory", h.User))
	}
	if len(unknown) == 0 {
		return nil
	}
	return errors.New(strings.Join(unknown, "; "))
}

// writerRecord returns a record function writing through w.
func writerRecord(w *logs.Writer) func(*logs.Record) error {
	return func(r *logs.Record) error {
		if err := w.Log(r); err != nil {
			return err
		}
		return w.Flush()
	}
}

// addHold places h. With the usage log free it works on the files;
// while serve holds the log it asks serve through the admin API.
func addHold(e *env, s *logsSetup, config string, h logs.Hold) int {
	const name = "logs hold add"
	w, werr := s.openWriter(e)
	if errors.Is(werr, logs.ErrLocked) {
		return addHoldAPI(e, config, h)
	}
	if h.Agency != "" || h.User != "" {
		l, err := allowlist.Load(config)
		if err == nil {
			err = checkHoldTargets(h, l.Snapshot)
		} else {
			err = fmt.Errorf("cannot check --agency and --user against the directory: %w", err)
		}
		if err != nil {
			if w != nil {
				_ = w.Close()
			}
			return logsExit(e, name, fmt.Errorf("hold %s not placed: %w", h.ID, err))
		}
	}
	store := logs.NewHoldStore(s.cfg.Gateway.DataDir, nil)
	if werr != nil {
		// A hold protects records: save it even when the log cannot be
		// opened, marked unrecorded, and say so.
		saved, _, err := store.Place(h)
		if err != nil {
			return logsExit(e, name, fmt.Errorf("hold %s not placed: %w", h.ID, err))
		}
		return holdUnrecordedExit(e, name, saved, werr)
	}
	saved, res, err := placeHold(store, writerRecord(w), h)
	err = errors.Join(err, w.Close())
	if errors.Is(err, errHoldUnrecorded) {
		return holdUnrecordedExit(e, name, saved, err)
	}
	if err != nil {
		return logsExit(e, name, err)
	}
	printHoldResult(e, saved, res)
	return 0
}

// addHoldAPI places h through the admin API of the running gateway.
func addHoldAPI(e *env, config string, h logs.Hold) int {
	const name = "logs hold add"
	c, err := newAdminClient(config)
	if err != nil {
		return logsExit(e, name, fmt.Errorf("hold %s not placed: smgate serve holds the usage log and its admin API cannot be used: %w", h.ID, err))
	}
	req := holdRequest{ID: h.ID, Reason: h.Reason, Agency: h.Agency, User: h.User,
		From: dayString(h.From), To: dayString(h.To), By: h.CreatedBy}
	var out holdBody
	status, err := c.send(http.MethodPost, routeHolds, req, &out)
	if err != nil {
		if status == http.StatusInternalServerError && strings.Contains(err.Error(), errHoldUnrecorded.Error()) {
			fmt.Fprintf(e.stderr, "smgate %s: %v\n", name, err)
			fmt.Fprintf(e.stderr, "smgate %s: run the same command again once the gateway's usage log is writable (GET /readyz): it records the hold then\n", name)
			return 1
		}
		return logsExit(e, name, fmt.Errorf("hold %s not placed: %w", h.ID, err))
	}
	res := holdPlaced
	switch out.Result {
	case "recorded":
		res = holdRecordedLate
	case "unchanged":
		res = holdUnchanged
	}
	printHoldResult(e, out.Hold, res)
	return 0
}

func printHoldResult(e *env, h logs.Hold, res holdResult) {
	switch res {
	case holdRecordedLate:
		fmt.Fprintf(e.stdout, "hold %s was in force without its usage record; recorded now: days %s\n", h.ID, h.Days())
	case holdUnchanged:
		fmt.Fprintf(e.stdout, "hold %s is already in force with these terms, and recorded: days %s\n", h.ID, h.Days())
	default:
		fmt.Fprintf(e.stdout, "hold %s added: days %s\n", h.ID, h.Days())
	}
}

// holdUnrecordedExit reports a hold saved without its record and returns
// 1.
func holdUnrecordedExit(e *env, name string, h logs.Hold, why error) int {
	fmt.Fprintf(e.stderr, "smgate %s: hold %s is IN FORCE (days %s) but NOT RECORDED in the usage log: %v\n", name, h.ID, h.Days(), why)
	fmt.Fprintf(e.stderr, "smgate %s: smgate logs hold list shows it as unrecorded; once the usage log can be written, run the same command again (same --id and terms): it records the hold then\n", name)
	return 1
}

func dayString(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02")
}

func runHoldList(e *env, args []string) int {
	const name = "logs hold list"
	fs := newFlags(e, name, "[--config F] [--format table|json]")
	config := fs.String("config", defaultConfig(), "gateway config `file` (data_dir)")
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
	if n := unrecorded(holds); n > 0 && *format == "table" {
		fmt.Fprintf(e.stderr, "%d hold(s) in force but not recorded in the usage log: run the same hold add again to record them\n", n)
	}
	return 0
}

func unrecorded(holds []logs.Hold) int {
	n := 0
	for _, h := range holds {
		if h.Unrecorded {
			n++
		}
	}
	return n
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
	fmt.Fprintln(tw, "ID\tDAYS\tAGENCY\tUSER\tCREATED\tBY\tRECORDED\tREASON")
	for _, h := range holds {
		rec := "yes"
		if h.Unrecorded {
			rec = "UNRECORDED"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", h.ID, h.Days(), dash(h.Agency), dash(h.User),
			h.CreatedAt.UTC().Format(time.RFC3339), dash(h.CreatedBy), rec, h.Reason)
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
	config := fs.String("config", defaultConfig(), "gateway config `file` (data_dir, logs; admin.listen and admin.token_file while serve runs)")
	by := fs.String("by", whoami(), "who releases the hold ($SUDO_USER, $USER, then the user the command runs as)")
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
	if err := required("by", *by); err != nil {
		return logsExit(e, name, err)
	}
	s, err := loadLogsSetup(*config)
	if err != nil {
		return logsExit(e, name, err)
	}
	return releaseHoldCmd(e, s, *config, id, *by)
}

// releaseHoldCmd releases hold id: on the files with the usage log free,
// through the admin API while serve holds it. Release lets prune delete
// records, so it is refused when it cannot be recorded.
func releaseHoldCmd(e *env, s *logsSetup, config, id, by string) int {
	const name = "logs hold release"
	w, err := s.openWriter(e)
	if errors.Is(err, logs.ErrLocked) {
		return releaseHoldAPI(e, config, id, by)
	}
	if err != nil {
		return logsExit(e, name, fmt.Errorf("hold %s not released, it stays in force: %w", id, err))
	}
	_, err = releaseHold(logs.NewHoldStore(s.cfg.Gateway.DataDir, nil), writerRecord(w), id, by)
	if err = errors.Join(err, w.Close()); err != nil {
		return logsExit(e, name, err)
	}
	fmt.Fprintf(e.stdout, "hold %s released\n", id)
	return 0
}

// releaseHoldAPI releases hold id through the admin API of the running
// gateway.
func releaseHoldAPI(e *env, config, id, by string) int {
	const name = "logs hold release"
	c, err := newAdminClient(config)
	if err != nil {
		return logsExit(e, name, fmt.Errorf("hold %s not released, it stays in force: smgate serve holds the usage log and its admin API cannot be used: %w", id, err))
	}
	var out holdBody
	if _, err := c.send(http.MethodPost, "/api/v1/holds/"+url.PathEscape(id)+"/release", byRequest{By: by}, &out); err != nil {
		return logsExit(e, name, err)
	}
	fmt.Fprintf(e.stdout, "hold %s released\n", id)
	return 0
}
