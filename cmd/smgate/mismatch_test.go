package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/smgate/smgate/logs"
)

// TestServeLogMismatch: a usage log whose tail was cut after the gateway
// stopped keeps serve from starting, with an error that says what to do;
// --accept-log-mismatch starts it and the usage log records what was
// accepted.
func TestServeLogMismatch(t *testing.T) {
	path := adminConfig(t, true)
	g, stop := runGateway(t, path)
	for _, step := range []string{"suspend", "reinstate"} {
		body := ""
		if step == "suspend" {
			body = `{"reason": "drill"}`
		}
		if code, b := apiCall(t, g, http.MethodPost, "/api/v1/agencies/DOT/"+step, testToken, body); code != http.StatusOK {
			t.Fatalf("%s: %d %s", step, code, b)
		}
	}
	dir := g.cfg.Logs.Dir
	stop()

	files, _ := filepath.Glob(filepath.Join(dir, "usage-*.jsonl"))
	if len(files) != 1 {
		t.Fatalf("day files %v", files)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(strings.TrimSuffix(string(b), "\n"), "\n")
	if err := os.WriteFile(files[0], []byte(strings.Join(lines[:len(lines)-1], "")), 0o640); err != nil {
		t.Fatal(err)
	}

	code, _, errs := runCmd(t, "", "serve", "--config", path)
	if code != 1 || !strings.Contains(errs, "tail cut") || !strings.Contains(errs, "--accept-log-mismatch") {
		t.Fatalf("serve on a cut log: exit %d\n%s", code, errs)
	}

	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan *gateway, 1), make(chan error, 1)
	go func() { done <- serveWith(ctx, path, zerolog.Nop(), ready, true) }()
	select {
	case g = <-ready:
	case err := <-done:
		t.Fatalf("serve --accept-log-mismatch: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve --accept-log-mismatch was not ready within 30s")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var repairs []string
	_, err = logs.Search(dir, logs.Query{}, func(_ []byte, r *logs.Record) error {
		if r.Action == logs.ActionRepair {
			repairs = append(repairs, r.Message)
			if r.By != whoami() || r.By == "" {
				t.Errorf("repair record by %q, want who started serve (%q)", r.By, whoami())
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(repairs) != 1 || !strings.Contains(repairs[0], "tail cut") {
		t.Errorf("repair records %q, want one saying the tail was cut", repairs)
	}
	// From the accepted state on, the chain and the checkpoint agree again.
	if code, out, errs := runCmd(t, "", "logs", "verify", "--config", path); code != 0 {
		t.Errorf("logs verify after the accepted mismatch: exit %d\n%s%s", code, out, errs)
	}
}
