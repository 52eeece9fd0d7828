package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smgate/smgate/logs"
)

// logsEnv is a gateway config with its data directory for the log
// commands.
type logsEnv struct {
	config, data, dir string
	key               []byte // the chain key writeDays writes with
}

func newLogsEnv(t *testing.T, extra string) *logsEnv {
	t.Helper()
	root := t.TempDir()
	le := &logsEnv{config: filepath.Join(root, "smgate.toml"), data: filepath.Join(root, "var")}
	le.dir = filepath.Join(le.data, "logs")
	toml := "[gateway]\nname = \"gw-cli\"\ndata_dir = \"var\"\n\n[logs]\n" + extra +
		"\n\n[policy]\nregistry = \"registry.toml\"\ndirectory = \"directory.toml\"\n"
	if err := os.WriteFile(le.config, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	// A directory with agency DCF and user jdoe, for holds on them.
	dir := "[[agency]]\nid = \"DCF\"\nname = \"Department of Children and Families\"\n\n" +
		"[[user]]\nid = \"jdoe\"\nname = \"J Doe\"\nagency = \"DCF\"\nips = [\"10.1.2.3\"]\nacknowledged_on = 2026-01-10\n"
	for name, body := range map[string]string{"directory.toml": dir, "registry.toml": ""} {
		if err := os.WriteFile(filepath.Join(root, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return le
}

// writeDays logs n records on each of the days before today given.
func (le *logsEnv) writeDays(t *testing.T, n int, daysAgo ...int) {
	t.Helper()
	for _, ago := range daysAgo {
		at := time.Now().UTC().AddDate(0, 0, -ago)
		w, err := logs.Open(logs.Options{Dir: le.dir, StateDir: le.data, HMACKey: le.key, Now: func() time.Time { return at }})
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if err := w.Log(&logs.Record{ID: fmt.Sprintf("%d-%d", ago, i), Action: logs.ActionDNSQuery}); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func (le *logsEnv) run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(&env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}, args)
	return code, out.String(), errb.String()
}

// expect runs args and checks the exit code and that each want appears in
// the output (stdout and stderr).
func (le *logsEnv) expect(t *testing.T, wantCode int, want []string, args ...string) string {
	t.Helper()
	code, out, errs := le.run(t, args...)
	all := out + errs
	if code != wantCode {
		t.Errorf("smgate %s: exit %d, want %d\n%s", strings.Join(args, " "), code, wantCode, all)
	}
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("smgate %s: output lacks %q:\n%s", strings.Join(args, " "), w, all)
		}
	}
	return out
}

func dayName(daysAgo int) string {
	return logs.DayFileName(time.Now().UTC().AddDate(0, 0, -daysAgo))
}

func TestLogsUsageErrors(t *testing.T) {
	le := newLogsEnv(t, "")
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"no command", []string{"logs"}, 2, []string{"usage: smgate logs"}},
		{"unknown command", []string{"logs", "nope"}, 2, []string{`unknown command "nope"`}},
		{"help", []string{"logs", "help"}, 0, []string{"verify"}},
		{"unknown flag", []string{"logs", "verify", "--bogus"}, 2, []string{"-bogus"}},
		{"bad since", []string{"logs", "verify", "--config", le.config, "--since", "2025-13-01"}, 2, []string{`--since "2025-13-01"`, "YYYY-MM-DD"}},
		{"extra argument", []string{"logs", "verify", "--config", le.config, "extra"}, 2, []string{`unexpected argument "extra"`}},
		{"prune unknown flag", []string{"logs", "prune", "--yes"}, 2, []string{"-yes"}},
		{"hold no command", []string{"logs", "hold"}, 2, []string{"usage"}},
		{"hold unknown command", []string{"logs", "hold", "drop"}, 2, []string{`unknown command "drop"`}},
		{"hold without id", []string{"logs", "hold", "add", "--config", le.config, "--reason", "r"}, 2, []string{"--id is required"}},
		{"hold without reason", []string{"logs", "hold", "add", "--config", le.config, "--id", "x"}, 2, []string{"--reason is required"}},
		{"hold by nobody", []string{"logs", "hold", "add", "--config", le.config, "--id", "x", "--reason", "r", "--by", ""}, 2, []string{"--by is required"}},
		{"release by nobody", []string{"logs", "hold", "release", "x", "--config", le.config, "--by", " "}, 2, []string{"--by is required"}},
		{"prune by nobody", []string{"logs", "prune", "--config", le.config, "--by", ""}, 2, []string{"--by is required"}},
		{"hold bad from", []string{"logs", "hold", "add", "--config", le.config, "--id", "x", "--reason", "r", "--from", "1/2/2025"}, 2, []string{`--from "1/2/2025"`}},
		{"hold bad to", []string{"logs", "hold", "add", "--config", le.config, "--id", "x", "--reason", "r", "--to", "soon"}, 2, []string{`--to "soon"`}},
		{"hold list bad format", []string{"logs", "hold", "list", "--config", le.config, "--format", "xml"}, 2, []string{`--format "xml"`}},
		{"hold release no id", []string{"logs", "hold", "release", "--config", le.config}, 2, []string{"id of the hold"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			le.expect(t, tt.code, tt.want, tt.args...)
		})
	}
}

func TestLogsVerify(t *testing.T) {
	le := newLogsEnv(t, "")
	le.writeDays(t, 3, 1, 0)
	le.expect(t, 0, []string{"ok: 2 day files, 6 records verified"}, "logs", "verify", "--config", le.config)
	since := time.Now().UTC().Format("2006-01-02")
	le.expect(t, 0, []string{"ok: 1 day files, 3 records"}, "logs", "verify", "--config", le.config, "--since", since)

	path := filepath.Join(le.dir, dayName(1))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	lines[1] = strings.Replace(lines[1], `"event.id":"1-1"`, `"event.id":"1-X"`, 1)
	if err := os.WriteFile(path, []byte(strings.Join(lines, "")), 0o640); err != nil {
		t.Fatal(err)
	}
	le.expect(t, 1, []string{dayName(1) + " line 2", "FAILED"}, "logs", "verify", "--config", le.config)
}

func TestLogsVerifyOperationalErrors(t *testing.T) {
	t.Run("missing config", func(t *testing.T) {
		le := newLogsEnv(t, "")
		le.expect(t, 1, []string{"load config", "nope.toml"}, "logs", "verify", "--config", le.config+".nope.toml")
	})
	t.Run("log dir is a file", func(t *testing.T) {
		le := newLogsEnv(t, `dir = "usage"`)
		dir := filepath.Join(filepath.Dir(le.config), "usage")
		if err := os.WriteFile(dir, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		le.expect(t, 1, []string{dir}, "logs", "verify", "--config", le.config)
	})
	t.Run("empty key file", func(t *testing.T) {
		le := newLogsEnv(t, `hmac_key_file = "key"`)
		if err := os.WriteFile(filepath.Join(filepath.Dir(le.config), "key"), []byte("\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		le.expect(t, 1, []string{"hmac_key_file", "is empty"}, "logs", "verify", "--config", le.config)
	})
}

func TestLogsHold(t *testing.T) {
	le := newLogsEnv(t, "")
	c := le.config
	le.expect(t, 0, []string{"hold case-7 added: days 2025-01-01 to 2025-02-01"},
		"logs", "hold", "add", "--config", c, "--id", "case-7", "--reason", "subpoena", "--agency", "DCF",
		"--from", "2025-01-01", "--to", "2025-02-01", "--by", "counsel")
	le.expect(t, 1, []string{"case-7", "already exists with other terms", `reason "subpoena"`},
		"logs", "hold", "add", "--config", c, "--id", "case-7", "--reason", "again")
	le.expect(t, 2, []string{"from 2025-02-01 is after to 2025-01-01"},
		"logs", "hold", "add", "--config", c, "--id", "case-8", "--reason", "r", "--from", "2025-02-01", "--to", "2025-01-01")
	out := le.expect(t, 0, []string{"case-7", "DCF", "subpoena", "counsel"}, "logs", "hold", "list", "--config", c)
	if !strings.HasPrefix(out, "ID") {
		t.Errorf("table without header:\n%s", out)
	}
	out = le.expect(t, 0, nil, "logs", "hold", "list", "--config", c, "--format", "json")
	var holds []logs.Hold
	if err := json.Unmarshal([]byte(out), &holds); err != nil || len(holds) != 1 || holds[0].Agency != "DCF" {
		t.Errorf("json list %s: %+v, %v", out, holds, err)
	}
	le.expect(t, 1, []string{"no such hold"}, "logs", "hold", "release", "nope", "--config", c)
	le.expect(t, 0, []string{"hold case-7 released"}, "logs", "hold", "release", "case-7", "--config", c, "--by", "counsel")
	le.expect(t, 0, []string{"[]"}, "logs", "hold", "list", "--config", c, "--format", "json")
	le.expect(t, 0, []string{"ok: 1 day files, 2 records"}, "logs", "verify", "--config", c)
}

// TestLogsHoldLogLockedNoAPI: another process has the log open and the
// config has no admin API to ask. The hold is not placed (nothing could
// record it) and the message says why; a release is refused too.
func TestLogsHoldLogLockedNoAPI(t *testing.T) {
	le := newLogsEnv(t, "")
	le.writeDays(t, 1, 0)
	w, err := logs.Open(logs.Options{Dir: le.dir, StateDir: le.data})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	le.expect(t, 1, []string{"hold h1 not placed", "admin.listen is empty"},
		"logs", "hold", "add", "--config", le.config, "--id", "h1", "--reason", "r")
	le.expect(t, 0, []string{"ID"}, "logs", "hold", "list", "--config", le.config)
	le.expect(t, 1, []string{"hold h1 not released", "admin.listen is empty"}, "logs", "hold", "release", "h1", "--config", le.config)
	le.expect(t, 1, []string{"smgate serve running"}, "logs", "prune", "--config", le.config)
	if hs, err := logs.NewHoldStore(le.data, nil).List(); err != nil || len(hs) != 0 {
		t.Errorf("holds %+v, %v", hs, err)
	}
}

func TestLogsPrune(t *testing.T) {
	le := newLogsEnv(t, "retention_days = 3")
	le.writeDays(t, 2, 9, 8, 7, 6, 5, 1, 0)
	held := time.Now().UTC().AddDate(0, 0, -8).Format("2006-01-02")
	le.expect(t, 0, nil, "logs", "hold", "add", "--config", le.config, "--id", "h", "--reason", "r",
		"--user", "jdoe", "--from", held, "--to", held)
	le.expect(t, 0, []string{"would delete 4 day files", dayName(9), "kept " + dayName(8) + ": hold h"},
		"logs", "prune", "--config", le.config, "--dry-run")
	if _, err := os.Stat(filepath.Join(le.dir, dayName(9))); err != nil {
		t.Fatalf("dry run deleted: %v", err)
	}
	le.expect(t, 0, []string{"deleted 4 day files", dayName(5)}, "logs", "prune", "--config", le.config, "--force")
	for ago, want := range map[int]bool{9: false, 8: true, 7: false, 6: false, 5: false, 1: true, 0: true} {
		_, err := os.Stat(filepath.Join(le.dir, dayName(ago)))
		if (err == nil) != want {
			t.Errorf("%s exists = %v, want %v", dayName(ago), err == nil, want)
		}
	}
	le.expect(t, 0, []string{"ok: 3 day files"}, "logs", "verify", "--config", le.config)
}

// TestLogsPruneRefused: a prune that verification stops deletes nothing
// and says only that: nothing on stdout claims a deletion, dry run or not.
func TestLogsPruneRefused(t *testing.T) {
	le := newLogsEnv(t, "retention_days = 3")
	le.writeDays(t, 2, 9, 1, 0)
	old := filepath.Join(le.dir, dayName(9))
	b, err := os.ReadFile(old)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(old, bytes.Replace(b, []byte(`"event.id":"9-1"`), []byte(`"event.id":"9-X"`), 1), 0o640); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"logs", "prune", "--config", le.config},
		{"logs", "prune", "--config", le.config, "--dry-run"},
	} {
		code, out, errs := le.run(t, args...)
		if code != 1 || out != "" || !strings.Contains(errs, "nothing deleted, the files to delete do not verify") {
			t.Errorf("smgate %s = exit %d, stdout %q, stderr %q; want 1, nothing on stdout, the refusal on stderr",
				strings.Join(args, " "), code, out, errs)
		}
		if _, err := os.Stat(old); err != nil {
			t.Fatalf("after %s: %v", strings.Join(args, " "), err)
		}
	}
	le.expect(t, 0, []string{"deleted 1 day files", dayName(9), "forced although verification failed"},
		"logs", "prune", "--config", le.config, "--force")
}

// TestLogsVerifyNothingToVerify: a mistyped --dir, a directory without
// day files (the config directory) or a config whose log was never
// opened fails naming the directory; a log opened with nothing written
// yet passes, saying so.
func TestLogsVerifyNothingToVerify(t *testing.T) {
	le := newLogsEnv(t, "")
	missing := filepath.Join(t.TempDir(), "nonexistent")
	configDir := filepath.Dir(le.config)
	le.expect(t, 1, []string{"usage log directory", missing, "no such file or directory"}, "logs", "verify", "--dir", missing)
	le.expect(t, 1, []string{"no usage-log day files in " + configDir + "; is it the log directory?"}, "logs", "verify", "--dir", configDir)
	le.expect(t, 1, []string{"usage log directory", le.dir}, "logs", "verify", "--config", le.config)
	w, err := logs.Open(logs.Options{Dir: le.dir, StateDir: le.data})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	le.expect(t, 0, []string{"ok: no records yet: " + le.dir + " has no day files, and the checkpoint in " + le.data + " expects none"},
		"logs", "verify", "--config", le.config)
	le.expect(t, 1, []string{"no usage-log day files in " + le.dir}, "logs", "verify", "--dir", le.dir)
	for _, args := range [][]string{{"--dir", missing}, {"--dir", configDir}} {
		if code, out, _ := le.run(t, append([]string{"logs", "verify"}, args...)...); code != 1 || strings.Contains(out, "ok") {
			t.Errorf("logs verify %s: exit %d, stdout %q", strings.Join(args, " "), code, out)
		}
	}
}

// heldPruneEnv is a keyed log of 2 records a day for ten days to today,
// pruned with a retention of 3 days and a hold on the day 7 days ago:
// that day is kept before a pruned run of 3 days.
func heldPruneEnv(t *testing.T) *logsEnv {
	t.Helper()
	le := newLogsEnv(t, "retention_days = 3\nhmac_key_file = \"key\"")
	le.key = []byte("chain key")
	if err := os.WriteFile(filepath.Join(filepath.Dir(le.config), "key"), le.key, 0o600); err != nil {
		t.Fatal(err)
	}
	le.writeDays(t, 2, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)
	held := time.Now().UTC().AddDate(0, 0, -7).Format("2006-01-02")
	le.expect(t, 0, nil, "logs", "hold", "add", "--config", le.config, "--id", "h", "--reason", "r",
		"--from", held, "--to", held)
	le.expect(t, 0, []string{"deleted 5 day files", "kept " + dayName(7) + ": hold h"}, "logs", "prune", "--config", le.config)
	out := le.expect(t, 0, []string{"ok: 5 day files"}, "logs", "verify", "--config", le.config)
	if strings.Contains(out, "given") {
		t.Errorf("verify of a log pruned now takes an anchor as given:\n%s", out)
	}
	return le
}

// TestLogsVerifyHeldDay: cutting or deleting the held day kept before a
// pruned run fails verify --config, naming the day file.
func TestLogsVerifyHeldDay(t *testing.T) {
	t.Run("tail cut", func(t *testing.T) {
		le := heldPruneEnv(t)
		path := filepath.Join(le.dir, dayName(7))
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		first, _, _ := bytes.Cut(b, []byte("\n"))
		if err := os.WriteFile(path, append(first, '\n'), 0o640); err != nil {
			t.Fatal(err)
		}
		le.expect(t, 1, []string{"FAILED", dayName(7) + ": ends after 1 records"}, "logs", "verify", "--config", le.config)
	})
	t.Run("deleted", func(t *testing.T) {
		le := heldPruneEnv(t)
		if err := os.Remove(filepath.Join(le.dir, dayName(7))); err != nil {
			t.Fatal(err)
		}
		le.expect(t, 1, []string{"FAILED", dayName(7) + ": missing"}, "logs", "verify", "--config", le.config)
	})
}

// TestLogsVerifyLegacyAnchors: an anchor of an older gateway (day and head
// only) at the start of the log verifies, and verify says that it takes it
// as given; one after a kept day fails, naming it.
func TestLogsVerifyLegacyAnchors(t *testing.T) {
	le := heldPruneEnv(t)
	path := filepath.Join(le.data, logs.AnchorFile)
	legacy := func(i int) {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct{ Anchors []logs.Anchor }
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		doc.Anchors[i] = logs.Anchor{Day: doc.Anchors[i].Day, Head: doc.Anchors[i].Head}
		if b, err = json.Marshal(map[string]any{"anchors": doc.Anchors}); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	legacy(0)
	le.expect(t, 0, []string{"ok: 5 day files", "1 prune anchors taken as given",
		"days up to " + time.Now().UTC().AddDate(0, 0, -8).Format("2006-01-02")},
		"logs", "verify", "--config", le.config)
	legacy(1)
	le.expect(t, 1, []string{"FAILED", "prune anchor of days up to " + time.Now().UTC().AddDate(0, 0, -4).Format("2006-01-02") +
		" has no seal", "cannot be checked"}, "logs", "verify", "--config", le.config)
}

// TestLogsVerifyUnkeyedAnchors: verify warns that the anchors of a log
// without a chain key protect nothing, and still succeeds.
func TestLogsVerifyUnkeyedAnchors(t *testing.T) {
	le := newLogsEnv(t, "retention_days = 3")
	le.writeDays(t, 2, 6, 5, 4, 3, 2, 1, 0)
	out := le.expect(t, 0, []string{"ok: 7 day files"}, "logs", "verify", "--config", le.config)
	if strings.Contains(out, "warning") {
		t.Errorf("verify warns before any prune:\n%s", out)
	}
	le.expect(t, 0, []string{"deleted 3 day files"}, "logs", "prune", "--config", le.config)
	le.expect(t, 0, []string{"ok: 4 day files", "warning: the prune anchors protect nothing without a chain key"},
		"logs", "verify", "--config", le.config)
}

// copyLog copies the day files of le to a new directory, as an archive
// without the data directory.
func copyLog(t *testing.T, le *logsEnv) string {
	t.Helper()
	dir := t.TempDir()
	files, err := logs.DayFiles(le.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f.Name), b, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestLogsVerifyDirPrunedCopy: verify --dir of a copy of a pruned log
// uses the anchors copied with it or named by --anchors; without them it
// passes what it can check and says that the first record is taken as
// given, and still fails, with a hint, on a gap it cannot check.
func TestLogsVerifyDirPrunedCopy(t *testing.T) {
	le := heldPruneEnv(t)
	key := filepath.Join(filepath.Dir(le.config), "key")
	anchors := filepath.Join(le.data, logs.AnchorFile)
	noHold := copyLog(t, le)
	// As if pruned without the hold: the copy starts after the last run.
	if err := os.Remove(filepath.Join(noHold, dayName(7))); err != nil {
		t.Fatal(err)
	}
	out := le.expect(t, 0, []string{"ok: 4 day files, 9 records verified",
		"not verified: the first record (" + dayName(3) + " line 1), taken as given", "--anchors"},
		"logs", "verify", "--dir", noHold, "--key-file", key)
	if strings.Contains(out, "FAILED") {
		t.Errorf("verify --dir without anchors:\n%s", out)
	}
	// With the anchors, the held day is known to be missing.
	le.expect(t, 1, []string{"FAILED", dayName(7) + ": missing"},
		"logs", "verify", "--dir", noHold, "--key-file", key, "--anchors", anchors)

	held := copyLog(t, le)
	le.expect(t, 1, []string{"FAILED", "missing or chain broken", "no prune anchors with this copy", "--anchors"},
		"logs", "verify", "--dir", held, "--key-file", key)
	out = le.expect(t, 0, []string{"ok: 5 day files, 12 records verified"},
		"logs", "verify", "--dir", held, "--key-file", key, "--anchors", anchors)
	if strings.Contains(out, "not verified") {
		t.Errorf("verify --dir --anchors:\n%s", out)
	}
	b, err := os.ReadFile(anchors)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(held, logs.AnchorFile), b, 0o640); err != nil {
		t.Fatal(err)
	}
	le.expect(t, 0, []string{"ok: 5 day files, 12 records verified"}, "logs", "verify", "--dir", held, "--key-file", key)
	if err := os.Remove(filepath.Join(held, dayName(7))); err != nil {
		t.Fatal(err)
	}
	le.expect(t, 1, []string{"FAILED", dayName(7) + ": missing"}, "logs", "verify", "--dir", held, "--key-file", key)
	le.expect(t, 1, []string{"prune anchors", "no such file"},
		"logs", "verify", "--dir", held, "--key-file", key, "--anchors", anchors+".nope")
	le.expect(t, 2, []string{"--anchors goes with --dir"}, "logs", "verify", "--config", le.config, "--anchors", anchors)
}
