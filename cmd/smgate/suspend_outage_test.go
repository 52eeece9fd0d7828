package main

import (
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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
	if code, body := post("/api/v1/reload", `{"by":"carol"}`); code != http.StatusOK {
		t.Errorf("reload while the log is broken: %d %s", code, body)
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
