package main

import (
	"net/http"
	"slices"
	"strings"
	"testing"
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
