package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/smgate/smgate/logs"
)

// TestChangeRecordedAfterLogOutage: a suspension, a reinstatement and a
// reload made while the usage log cannot be written are in force at once
// and answered 500 saying their records are queued; once the log can be
// written again the records are there, in order, and the chain verifies.
func TestChangeRecordedAfterLogOutage(t *testing.T) {
	path := adminConfig(t, true)
	g, _ := runGateway(t, path)

	// A usage log of its own, with a clock, so that the next day file can
	// be made impossible to create: a directory at its path stops root too.
	dir := t.TempDir()
	day1 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	var now atomic.Pointer[time.Time]
	now.Store(&day1)
	o := logs.Options{Dir: filepath.Join(dir, "logs"), StateDir: filepath.Join(dir, "var"), Observer: "gw-test",
		Now: func() time.Time { return *now.Load() }}
	w, err := logs.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	day2 := day1.AddDate(0, 0, 1)
	now.Store(&day2)
	blocker := filepath.Join(o.Dir, "usage-"+day2.Format(time.DateOnly)+".jsonl")
	if err := os.Mkdir(blocker, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := w.Log(&logs.Record{ID: "first"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err == nil {
		t.Fatal("the usage log is writable; the test needs it broken")
	}

	c := *g
	c.sink, c.writer = w, w
	sum := sha256.Sum256([]byte(testToken))
	a := &admin{g: &c, tokenSum: &sum, requests: mustAdminMetrics(t)}
	srv := httptest.NewServer(a.routes())
	defer srv.Close()
	post := func(p, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, srv.URL+p, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b := make([]byte, 4096)
		n, _ := resp.Body.Read(b)
		return resp.StatusCode, string(b[:n])
	}
	code, body := post("/api/v1/agencies/DOT/suspend", `{"reason":"during the outage","by":"alice"}`)
	if code != http.StatusInternalServerError || !strings.Contains(body, "queued") {
		t.Errorf("suspend while the log is broken: %d %s; want 500 saying the record is queued", code, body)
	}
	if d := decideTLee(g, "www.youtube.com"); d.Allow {
		t.Errorf("the suspension is not in force: %+v", d)
	}
	if code, body := post("/api/v1/agencies/DOT/reinstate", `{"by":"bob"}`); code != http.StatusInternalServerError {
		t.Errorf("reinstate while the log is broken: %d %s", code, body)
	}
	if code, body := post("/api/v1/reload", `{"by":"carol"}`); code != http.StatusOK || !strings.Contains(body, "the reload's usage record is not written yet: it is queued") {
		t.Errorf("reload while the log is broken: %d %s; want 200 warning that its record is queued", code, body)
	}

	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatalf("Flush once the log can be written: %v", err)
	}
	var got []string
	for _, r := range readAdminRecords(t, o.Dir) {
		got = append(got, r.Action+" by "+r.By)
	}
	if s := strings.Join(got, ", "); s != "suspend by alice, reinstate by bob, reload by carol" {
		t.Errorf("records after the outage: %q; want the suspend, the reinstate and the reload", s)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := logs.Verify(logs.VerifyOptions{Dir: o.Dir, StateDir: o.StateDir}); err != nil {
		t.Errorf("verify: %v", err)
	}
}

// TestServeStopReportsLostRecords: a gateway stopped while its usage log
// cannot be written loses the records still queued. serve then fails (the
// exit status says so, not only a line of the operational log) and the
// operational log holds each lost record whole, so that the suspension
// made during the outage is known even though the usage log lacks it.
func TestServeStopReportsLostRecords(t *testing.T) {
	checkGoroutines(t, false)
	path := adminConfig(t, true)
	// A directory where today's day file (and tomorrow's, should the test
	// cross midnight) belongs: no write reaches the usage log.
	logDir := filepath.Join(filepath.Dir(path), "var", "logs")
	now := time.Now()
	for _, d := range []time.Time{now, now.AddDate(0, 0, 1)} {
		if err := os.MkdirAll(filepath.Join(logDir, logs.DayFileName(d)), 0o750); err != nil {
			t.Fatal(err)
		}
	}
	oplog := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan *gateway, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, path, zerolog.New(oplog), ready) }()
	var g *gateway
	select {
	case g = <-ready:
	case err := <-done:
		t.Fatalf("serve stopped before it was ready: %v", err)
	}
	code, body := apiCall(t, g, http.MethodPost, "/api/v1/agencies/DOT/suspend", testToken, `{"reason":"during the outage","by":"alice"}`)
	if code != http.StatusInternalServerError || !strings.Contains(body, "queued") {
		t.Fatalf("suspend while the log is broken: %d %s; want 500 saying the record is queued", code, body)
	}
	cancel()
	err := <-done
	if err == nil || !strings.Contains(err.Error(), "records not written") {
		t.Errorf("serve after losing queued records: %v; want an error saying so", err)
	}
	var lost []string
	for _, l := range oplog.lines(t) {
		if msg, _ := l["message"].(string); !strings.HasPrefix(msg, "usage record lost") {
			continue
		}
		r, _ := l["record"].(map[string]any)
		lost = append(lost, fmt.Sprintf("%v %v %v", r[logs.KeyAction], r[logs.KeyTarget], r[logs.KeyBy]))
	}
	if !slices.Contains(lost, "suspend agency:DOT alice") {
		t.Errorf("lost records in the operational log: %q; want the suspension", lost)
	}
}
