package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// TestAdminUnauthorizedLogsShortPath: a request without the token is
// logged with its path cut short, so that whoever reaches the admin
// listener cannot write tens of kilobytes of operational log per request.
func TestAdminUnauthorizedLogsShortPath(t *testing.T) {
	oplog := &syncBuffer{}
	g, _ := runGatewayLog(t, adminConfig(t, true), zerolog.New(oplog))
	const n = 20
	for range n {
		path := "/api/v1/agencies/" + strings.Repeat("D", 40<<10) + "/suspend"
		if code, _ := apiCall(t, g, http.MethodPost, path, "", `{"reason":"x"}`); code != http.StatusUnauthorized {
			t.Fatalf("got %d", code)
		}
	}
	oplog.mu.Lock()
	log := oplog.b.String()
	oplog.mu.Unlock()
	if got := strings.Count(log, "request without a valid token"); got != n {
		t.Fatalf("%d refusals logged, want %d", got, n)
	}
	if len(log) > 64<<10 {
		t.Errorf("%d refused requests wrote %d KiB to the operational log", n, len(log)>>10)
	}
}
