package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smgate/smgate/allowlist"
	"github.com/smgate/smgate/logs"
)

// holdRecords returns the hold records in the day files of dir, as
// "add ID by WHO" or "release ID by WHO" (with "FAILED" for a failure).
func holdRecords(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, r := range dayRecords(t, dir, func(r *logs.Record) bool { return r.Action == logs.ActionHold }) {
		verb, _, _ := strings.Cut(r.Message, " ")
		s := verb + " " + strings.TrimPrefix(r.Target, "hold:") + " by " + r.By
		if r.Outcome != logs.OutcomeSuccess {
			s += " FAILED"
		}
		out = append(out, s)
	}
	return out
}

// runOK runs smgate args and fails unless it exits code with want in its
// output; it returns stdout.
func runOK(t *testing.T, code int, want string, args ...string) string {
	t.Helper()
	c, out, errs := runCmd(t, "", args...)
	if c != code || !strings.Contains(out+errs, want) {
		t.Fatalf("smgate %s = exit %d\n%s%s\nwant exit %d with %q", strings.Join(args, " "), c, out, errs, code, want)
	}
	return out
}

// TestCLIHoldsWhileGatewayRuns: with serve holding the usage log, hold
// add, list and release go through the admin API; the holds file and the
// usage log have each change, and the log verifies.
func TestCLIHoldsWhileGatewayRuns(t *testing.T) {
	path := adminConfig(t, true)
	g, stop := runGateway(t, path)
	cli := cliConfig(t, path, g.ls.admin.Addr().String())
	t.Setenv("SUDO_USER", "carol")
	store := logs.NewHoldStore(g.cfg.Gateway.DataDir, nil)

	runOK(t, 0, "hold c1 added: days all days (open-ended)",
		"logs", "hold", "add", "--id", "c1", "--reason", "FOIA 1", "--agency", "DOT", "--config", cli)
	h, err := store.Get("c1")
	if err != nil || h.Reason != "FOIA 1" || h.Agency != "DOT" || h.CreatedBy != "carol" || h.Unrecorded {
		t.Fatalf("holds file: %+v, %v", h, err)
	}
	runOK(t, 0, "hold c2 added: days 2026-01-01 to 2026-03-31",
		"logs", "hold", "add", "--id", "c2", "--reason", "subpoena", "--user", "tlee",
		"--from", "2026-01-01", "--to", "2026-03-31", "--by", "counsel", "--config", cli)
	runOK(t, 0, "hold c1 is already in force with these terms, and recorded",
		"logs", "hold", "add", "--id", "c1", "--reason", "FOIA 1", "--agency", "DOT", "--config", cli)
	runOK(t, 1, `already exists with other terms (reason "FOIA 1"`,
		"logs", "hold", "add", "--id", "c1", "--reason", "FOIA 2", "--config", cli)
	runOK(t, 1, `agency "NOPE" is not in the directory (HTTP 400)`,
		"logs", "hold", "add", "--id", "c3", "--reason", "r", "--agency", "NOPE", "--config", cli)
	runOK(t, 1, `user "nobody" is not in the directory`,
		"logs", "hold", "add", "--id", "c3", "--reason", "r", "--user", "nobody", "--config", cli)
	out := runOK(t, 0, "c2", "logs", "hold", "list", "--config", cli)
	for _, want := range []string{"c1", "all days (open-ended)", "DOT", "tlee", "counsel", "FOIA 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("hold list lacks %q:\n%s", want, out)
		}
	}
	runOK(t, 0, "hold c1 released", "logs", "hold", "release", "c1", "--by", "dave", "--config", cli)
	runOK(t, 1, "no such hold (HTTP 404)", "logs", "hold", "release", "c1", "--config", cli)
	if _, err := store.Get("c1"); err == nil {
		t.Error("c1 still in the holds file after its release")
	}
	if err := g.writer.Flush(); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(holdRecords(t, g.cfg.Logs.Dir), ", ")
	if want := "add c1 by carol, add c2 by counsel, release c1 by dave"; got != want {
		t.Errorf("hold records: %s\nwant %s", got, want)
	}
	stop()
	runOK(t, 0, "ok: 1 day files", "logs", "verify", "--config", cli)
	runOK(t, 0, "c2", "logs", "hold", "list", "--config", cli)
}

// TestCLIHoldsWithoutGateway: with no gateway, the CLI works on the files
// and writes the records itself; a hold whose record cannot be written is
// in force, shown as unrecorded, and recorded by the same command later.
func TestCLIHoldsWithoutGateway(t *testing.T) {
	path := adminConfig(t, false)
	cfg, err := allowlist.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("SUDO_USER", "erin")
	// The log directory cannot be created: a file is in its way.
	if err := os.MkdirAll(cfg.Gateway.DataDir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg.Logs.Dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	add := []string{"logs", "hold", "add", "--id", "lit-9", "--reason", "case 9", "--agency", "DCF", "--from", "2026-02-01", "--config", path}
	runOK(t, 1, "hold lit-9 is IN FORCE (days 2026-02-01 on (open-ended)) but NOT RECORDED", add...)
	runOK(t, 0, "UNRECORDED", "logs", "hold", "list", "--config", path)
	runOK(t, 1, "hold lit-9 not released, it stays in force", "logs", "hold", "release", "lit-9", "--config", path)
	if err := os.Remove(cfg.Logs.Dir); err != nil {
		t.Fatal(err)
	}
	runOK(t, 0, "hold lit-9 was in force without its usage record; recorded now", add...)
	runOK(t, 0, "already in force with these terms, and recorded", add...)
	out := runOK(t, 0, "lit-9", "logs", "hold", "list", "--config", path, "--format", "json")
	if strings.Contains(out, "unrecorded") {
		t.Errorf("still unrecorded:\n%s", out)
	}
	runOK(t, 0, "hold lit-9 released", "logs", "hold", "release", "lit-9", "--config", path)
	if got := strings.Join(holdRecords(t, cfg.Logs.Dir), ", "); got != "add lit-9 by erin, release lit-9 by erin" {
		t.Errorf("hold records: %s", got)
	}
	runOK(t, 0, "ok: 1 day files, 2 records", "logs", "verify", "--config", path)
	runOK(t, 0, "ok: 1 day files, 2 records", "logs", "verify", "--dir", cfg.Logs.Dir)
}

// TestAdminAPIHolds drives the hold endpoints over HTTP.
func TestAdminAPIHolds(t *testing.T) {
	path := adminConfig(t, true)
	g, _ := runGateway(t, path)
	for _, c := range []struct{ method, path string }{
		{http.MethodGet, "/api/v1/holds"}, {http.MethodPost, "/api/v1/holds"}, {http.MethodPost, "/api/v1/holds/x/release"},
	} {
		if code, body := apiCall(t, g, c.method, c.path, "", `{"id":"x","reason":"r"}`); code != http.StatusUnauthorized {
			t.Errorf("%s %s without token: %d %s", c.method, c.path, code, body)
		}
		if code, _ := apiCall(t, g, c.method, c.path, "wrong-token", `{"id":"x","reason":"r"}`); code != http.StatusUnauthorized {
			t.Errorf("%s %s with a wrong token: %d", c.method, c.path, code)
		}
	}
	if code, body := apiCall(t, g, http.MethodGet, "/api/v1/holds", testToken, ""); code != 200 || decodeJSON[holdsBody](t, body).Holds == nil {
		t.Errorf("empty list: %d %s", code, body)
	}
	for _, tc := range []struct {
		name, body string
		code       int
		msg        string
	}{
		{"empty body", "", 400, "request body is empty"},
		{"unknown field", `{"id":"a","reason":"r","agncy":"DCF"}`, 400, "unknown field"},
		{"no id", `{"reason":"r"}`, 400, "needs an id"},
		{"no reason", `{"id":"a","reason":"  "}`, 400, "needs a reason"},
		{"slash in id", `{"id":"a/b","reason":"r"}`, 400, "no slash"},
		{"bad from", `{"id":"a","reason":"r","from":"1/2/2025"}`, 400, `\"from\" \"1/2/2025\": want a date YYYY-MM-DD`},
		{"no such to", `{"id":"a","reason":"r","to":"2025-02-29"}`, 400, `\"to\" \"2025-02-29\": no such date (day out of range); want a date YYYY-MM-DD`},
		{"from after to", `{"id":"a","reason":"r","from":"2025-02-01","to":"2025-01-01"}`, 400, "from 2025-02-01 is after to 2025-01-01"},
		{"unknown agency", `{"id":"a","reason":"r","agency":"NOPE"}`, 400, `agency \"NOPE\" is not in the directory`},
		{"unknown user and agency", `{"id":"a","reason":"r","agency":"X","user":"ghost"}`, 400, `user \"ghost\" is not in the directory`},
		{"placed", `{"id":"h-1","reason":"FOIA 7","agency":"DCF","user":"jsmith","from":"2026-01-01","to":"2026-06-30","by":"frank"}`, 201, `"result": "placed"`},
		{"same again", `{"id":"h-1","reason":"FOIA 7","agency":"DCF","user":"jsmith","from":"2026-01-01","to":"2026-06-30","by":"gina"}`, 200, `"result": "unchanged"`},
		{"other terms", `{"id":"h-1","reason":"FOIA 8"}`, 409, `"reason": "FOIA 7"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := apiCall(t, g, http.MethodPost, "/api/v1/holds", testToken, tc.body)
			if code != tc.code || !strings.Contains(body, tc.msg) {
				t.Errorf("POST %s = %d %s\nwant %d with %s", tc.body, code, body, tc.code, tc.msg)
			}
		})
	}
	code, body := apiCall(t, g, http.MethodGet, "/api/v1/holds", testToken, "")
	hs := decodeJSON[holdsBody](t, body).Holds
	if code != 200 || len(hs) != 1 || hs[0].ID != "h-1" || hs[0].CreatedBy != "frank" || hs[0].Unrecorded {
		t.Fatalf("list: %d %s", code, body)
	}
	if code, body := apiCall(t, g, http.MethodGet, "/api/v1/holds/h-1/release", testToken, ""); code != http.StatusMethodNotAllowed {
		t.Errorf("GET release: %d %s", code, body)
	}
	if code, body := apiCall(t, g, http.MethodPost, "/api/v1/holds/nope/release", testToken, ""); code != 404 || !strings.Contains(body, "no such hold") {
		t.Errorf("release unknown: %d %s", code, body)
	}
	code, body = apiCall(t, g, http.MethodPost, "/api/v1/holds/h-1/release", testToken, `{"by":"henry"}`)
	if b := decodeJSON[holdBody](t, body); code != 200 || b.Result != "released" || b.Hold.ID != "h-1" {
		t.Errorf("release: %d %s", code, body)
	}
	if err := g.writer.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(holdRecords(t, g.cfg.Logs.Dir), ", "); got != "add h-1 by frank, release h-1 by henry" {
		t.Errorf("hold records: %s", got)
	}
}

// TestServePruneReadsHolds: serve's prune keeps the days of the holds in
// the holds file when it runs, whichever way they were placed, and deletes
// them once released.
func TestServePruneReadsHolds(t *testing.T) {
	path := adminConfig(t, true)
	editFile(t, path, "retention_days = 1095", "retention_days = 3")
	cfg, err := allowlist.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	day := func(ago int) time.Time { return time.Now().UTC().AddDate(0, 0, -ago) }
	for _, ago := range []int{9, 8, 7} {
		w, err := logs.Open(logs.Options{Dir: cfg.Logs.Dir, StateDir: cfg.Gateway.DataDir, Now: func() time.Time { return day(ago) }})
		if err != nil {
			t.Fatal(err)
		}
		if err := errors.Join(w.Log(&logs.Record{Action: logs.ActionDNSQuery, ID: fmt.Sprint(ago)}), w.Close()); err != nil {
			t.Fatal(err)
		}
	}
	d8 := day(8).Format("2006-01-02")
	runOK(t, 0, "hold cli-8 added", "logs", "hold", "add", "--id", "cli-8", "--reason", "r", "--from", d8, "--to", d8, "--config", path)

	g, stop := runGateway(t, path)
	cli := cliConfig(t, path, g.ls.admin.Addr().String())
	exists := func(ago int) bool {
		_, err := os.Stat(filepath.Join(cfg.Logs.Dir, logs.DayFileName(day(ago))))
		return err == nil
	}
	pruned := func() bool {
		if err := g.writer.Flush(); err != nil {
			t.Fatal(err)
		}
		return strings.Contains(readLog(t, cfg.Logs.Dir), `"event.action":"prune"`)
	}
	waitFor(t, 10*time.Second, "serve's first prune", pruned)
	if exists(9) || exists(7) || !exists(8) {
		t.Fatalf("after serve's first prune: day 9 %v, 8 %v, 7 %v; want only 8 (held)", exists(9), exists(8), exists(7))
	}
	runOK(t, 0, "hold api-8 added", "logs", "hold", "add", "--id", "api-8", "--reason", "r2", "--to", d8, "--config", cli)
	runOK(t, 0, "hold cli-8 released", "logs", "hold", "release", "cli-8", "--config", cli)
	dailyPrune(g)
	if !exists(8) {
		t.Fatal("serve's prune deleted day 8, held by api-8")
	}
	runOK(t, 0, "hold api-8 released", "logs", "hold", "release", "api-8", "--config", cli)
	dailyPrune(g)
	if exists(8) {
		t.Error("serve's prune kept day 8 after every hold on it was released")
	}
	stop()
	runOK(t, 0, "ok: ", "logs", "verify", "--config", path)
}

// readLog returns every day file of dir, concatenated.
func readLog(t *testing.T, dir string) string {
	t.Helper()
	files, err := logs.DayFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f.Path)
		if errors.Is(err, fs.ErrNotExist) {
			continue // pruned by the running gateway since it was listed
		}
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
	}
	return b.String()
}

// TestHoldHelp: -h of logs and of logs hold and its commands exits 0 with
// the commands or flags.
func TestHoldHelp(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"logs", "-h"}, "hold"},
		{[]string{"logs", "hold", "-h"}, "admin API"},
		{[]string{"logs", "hold", "--help"}, "release ID"},
		{[]string{"logs", "hold", "add", "-h"}, "empty = open-ended"},
		{[]string{"logs", "hold", "list", "-h"}, "-format"},
		{[]string{"logs", "hold", "release", "-h"}, "-by"},
		{[]string{"logs", "verify", "-h"}, "-dir"},
	} {
		runOK(t, 0, tc.want, tc.args...)
	}
}

// unreadableKey makes the file at path a directory, so that reading it as
// the key fails for every user, root included (a 0000 mode stops only
// others), as the key file fails for monitoring staff.
func unreadableKey(t *testing.T, path string) {
	t.Helper()
	if err := os.RemoveAll(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
}

// TestLogsWithoutTheKey: a user who cannot read logs.hmac_key_file (the
// monitoring staff) can list holds, search and report, which do not need
// the key; verify, prune and a hold add that must write its own record
// fail naming the key.
func TestLogsWithoutTheKey(t *testing.T) {
	le := newLogsEnv(t, `hmac_key_file = "hmac.key"`)
	key := filepath.Join(filepath.Dir(le.config), "hmac.key")
	if err := os.WriteFile(key, []byte("k3y-for-the-chain\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	le.expect(t, 0, []string{"hold case-1 added"}, "logs", "hold", "add", "--config", le.config, "--id", "case-1", "--reason", "FOIA", "--agency", "DCF")
	unreadableKey(t, key)

	le.expect(t, 0, []string{"case-1", "DCF", "FOIA"}, "logs", "hold", "list", "--config", le.config)
	out := le.expect(t, 0, nil, "logs", "search", "--config", le.config, "--format", "json")
	if !strings.Contains(out, `"smgate.target":"hold:case-1"`) {
		t.Errorf("search without the key lacks the hold record:\n%s", out)
	}
	le.expect(t, 0, []string{"AGENCY"}, "report", "--config", le.config)
	le.expect(t, 1, []string{"logs.hmac_key_file: ", "is a directory"}, "logs", "verify", "--config", le.config)
	le.expect(t, 1, []string{"logs.hmac_key_file: ", "is a directory"}, "logs", "prune", "--config", le.config)
	le.expect(t, 1, []string{"NOT RECORDED", "logs.hmac_key_file: "}, "logs", "hold", "add", "--config", le.config, "--id", "case-2", "--reason", "r")
}

// TestCLIHoldsWithoutTheKeyWhileGatewayRuns: while serve holds the usage
// log, hold add and release go through the admin API, so a user who
// cannot read the chain key but holds the admin token places and releases
// holds; without the token they fail on the token, not on the key.
func TestCLIHoldsWithoutTheKeyWhileGatewayRuns(t *testing.T) {
	path := adminConfig(t, true)
	key := filepath.Join(filepath.Dir(path), "hmac.key")
	if err := os.WriteFile(key, []byte("k3y-for-the-chain\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	editFile(t, path, `hmac_key_file = ""`, `hmac_key_file = "hmac.key"`)
	g, _ := runGateway(t, path)
	cli := cliConfig(t, path, g.ls.admin.Addr().String())
	editFile(t, cli, `hmac_key_file = "hmac.key"`, `hmac_key_file = "unreadable.key"`)
	unreadableKey(t, filepath.Join(filepath.Dir(path), "unreadable.key"))

	runOK(t, 0, "hold k1 added", "logs", "hold", "add", "--id", "k1", "--reason", "FOIA", "--config", cli)
	runOK(t, 0, "k1", "logs", "hold", "list", "--config", cli)
	runOK(t, 0, "hold k1 released", "logs", "hold", "release", "k1", "--config", cli)

	editFile(t, cli, `token_file = "admin.token"`, `token_file = "missing.token"`)
	for _, args := range [][]string{
		{"logs", "hold", "add", "--id", "k2", "--reason", "r", "--config", cli},
		{"logs", "hold", "release", "k2", "--config", cli},
	} {
		c, out, errs := runCmd(t, "", args...)
		if c != 1 || !strings.Contains(errs, "read the admin token") || strings.Contains(errs, "hmac_key_file") {
			t.Errorf("smgate %s without the token = exit %d\n%s%s\nwant 1 naming the token, not the key", strings.Join(args, " "), c, out, errs)
		}
	}
}
