package main

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smgate/smgate/allowlist"
	"github.com/smgate/smgate/logs"
)

// TestReloadWarnsRestartOnlyKeys: a reload applies the gateway file's
// policy keys and says which edited keys need a restart.
func TestReloadWarnsRestartOnlyKeys(t *testing.T) {
	path := adminConfig(t, true)
	g, _ := runGateway(t, path)
	code, body := apiCall(t, g, http.MethodPost, "/api/v1/reload", testToken, "")
	if r := decodeJSON[reloadBody](t, body); code != http.StatusOK || slices.ContainsFunc(r.Warnings, restartWarning) {
		t.Fatalf("reload of unchanged files = %d %s, want no restart warning", code, body)
	}
	editFile(t, path,
		`retention_days = 1095`, `retention_days = 400`,
		`timeout = "2s"`, `timeout = "3s"`,
		`token_file = "admin.token"`, `token_file = "other.token"`)
	code, body = apiCall(t, g, http.MethodPost, "/api/v1/reload", testToken, "")
	r := decodeJSON[reloadBody](t, body)
	var restart []string
	for _, w := range r.Warnings {
		if restartWarning(w) {
			restart = append(restart, w)
		}
	}
	if code != http.StatusOK || len(restart) != 2 || !strings.Contains(restart[0], "resolver.timeout") || !strings.Contains(restart[1], "admin.token_file") {
		t.Errorf("reload after editing retention_days, resolver.timeout and admin.token_file = %d, restart warnings %q; want resolver.timeout and admin.token_file", code, restart)
	}
	if got := g.engine.Config().Logs.RetentionDays; got != 400 {
		t.Errorf("logs.retention_days after the reload = %d, want 400", got)
	}
	// The token read at start still opens the API.
	if code, _ := apiCall(t, g, http.MethodGet, "/api/v1/status", testToken, ""); code != http.StatusOK {
		t.Errorf("status with the token of the start = %d", code)
	}
}

func restartWarning(w string) bool { return strings.Contains(w, "take effect on restart") }

// TestSIGHUPReloads sends SIGHUP to the process as systemctl reload does,
// right after the gateway is ready: the gateway survives it and reloads,
// and the next request is decided on the new policy.
func TestSIGHUPReloads(t *testing.T) {
	e := startOpsGateway(t)
	c := e.client(t)
	const ig = "www.instagram.com"
	if code, reason, _ := e.get(t, c, ig, "/"); code != http.StatusForbidden || reason != string(allowlist.ReasonNoGrant) {
		t.Fatalf("before the reload, GET %s = %d %q", ig, code, reason)
	}
	editFile(t, filepath.Join(filepath.Dir(e.path), "directory.toml"),
		`accounts = ["dot-youtube", "dot-facebook"]`, `accounts = ["dot-youtube", "dot-facebook"]`+"\nplatforms = [\"instagram\"]")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "a reload by SIGHUP in the usage log", func() bool {
		for _, r := range usageRecords(t, e.g) {
			if r.Action == logs.ActionReload && r.By == "SIGHUP" && r.Outcome == logs.OutcomeSuccess {
				return true
			}
		}
		return false
	})
	if code, reason, _ := e.get(t, c, ig, "/"); code != http.StatusOK {
		t.Errorf("after SIGHUP, GET %s = %d %q", ig, code, reason)
	}
}
