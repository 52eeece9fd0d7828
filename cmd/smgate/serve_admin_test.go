package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/smgate/smgate/allowlist"
	"github.com/smgate/smgate/logs"
)

func TestReadToken(t *testing.T) {
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		missing bool
		wantErr string
	}{
		{name: "private", content: "abc\n", mode: 0o600},
		{name: "read only", content: "abc", mode: 0o400},
		{name: "group readable", content: "abc", mode: 0o640, wantErr: "must not be readable by group or others"},
		{name: "world readable", content: "abc", mode: 0o644, wantErr: "mode 0644"},
		{name: "empty", content: "", mode: 0o600, wantErr: "is empty"},
		{name: "blank", content: " \n\t\n", mode: 0o600, wantErr: "is empty"},
		{name: "missing", missing: true, wantErr: "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "token")
			if !tc.missing {
				if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, tc.mode); err != nil {
					t.Fatal(err)
				}
			}
			tok, err := readToken(path)
			if tc.wantErr == "" {
				if err != nil || tok != "abc" {
					t.Fatalf("readToken = %q, %v; want abc", tok, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("readToken error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestServeRefusesUnsafeToken: serve does not start with a token file that
// others can read, or an empty one.
func TestServeRefusesUnsafeToken(t *testing.T) {
	for _, tc := range []struct {
		name    string
		content string
		mode    os.FileMode
		wantErr string
	}{
		{"world readable", testToken, 0o644, "must not be readable"},
		{"empty", "", 0o600, "is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := adminConfig(t, true)
			tok := filepath.Join(filepath.Dir(path), "admin.token")
			if err := os.WriteFile(tok, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(tok, tc.mode); err != nil {
				t.Fatal(err)
			}
			err := serve(context.Background(), path, zerolog.Nop(), nil)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("serve = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestAdminUnauthorized: a request without the right token is refused with
// 401 and changes nothing.
func TestAdminUnauthorized(t *testing.T) {
	g, _ := runGateway(t, adminConfig(t, true))
	gen := g.engine.Snapshot().Gen()
	for _, tc := range []struct {
		name, header string
	}{
		{"missing", ""},
		{"wrong token", "Bearer not-the-token"},
		{"token prefix", "Bearer " + testToken[:10]},
		{"token plus", "Bearer " + testToken + "x"},
		{"basic scheme", "Basic " + testToken},
		{"no scheme", testToken},
	} {
		for _, call := range []struct{ method, path, body string }{
			{http.MethodPost, "/api/v1/agencies/DOT/suspend", `{"reason":"x"}`},
			{http.MethodPost, "/api/v1/platforms/facebook/suspend", `{"reason":"x"}`},
			{http.MethodPost, "/api/v1/reload", ""},
			{http.MethodGet, "/api/v1/status", ""},
			{http.MethodGet, "/api/v1/nope", ""},
		} {
			t.Run(tc.name+" "+call.path, func(t *testing.T) {
				req, _ := http.NewRequest(call.method, "http://"+g.ls.admin.Addr().String()+call.path, strings.NewReader(call.body))
				if tc.header != "" {
					req.Header.Set("Authorization", tc.header)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
					t.Errorf("%s %s = %d (WWW-Authenticate %q), want 401 with a challenge", call.method, call.path, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
				}
			})
		}
	}
	if n := len(g.engine.Suspensions()); n != 0 {
		t.Errorf("%d suspensions after refused requests", n)
	}
	if g.engine.Snapshot().Gen() != gen {
		t.Error("a refused request swapped the policy")
	}
	if recs := usageRecords(t, g); len(recs) != 0 {
		t.Errorf("refused requests left usage records: %+v", recs)
	}
	if v, _ := metricValue(t, g, "smgate_admin_requests_total", map[string]string{"route": routeSuspend, "code": "401"}); v < 12 {
		t.Errorf("smgate_admin_requests_total{route=suspend,code=401} = %v, want 12", v)
	}
}

// TestAdminAPIDisabled: without admin.token_file the API answers 404 and
// health and metrics still serve.
func TestAdminAPIDisabled(t *testing.T) {
	g, _ := runGateway(t, adminConfig(t, false))
	code, body := apiCall(t, g, http.MethodGet, "/api/v1/status", testToken, "")
	if code != http.StatusNotFound || !strings.Contains(decodeJSON[errorBody](t, body).Error, "admin.token_file") {
		t.Errorf("/api/v1/status without a token file = %d %s", code, body)
	}
	code, _ = apiCall(t, g, http.MethodPost, "/api/v1/agencies/DOT/suspend", testToken, `{"reason":"x"}`)
	if code != http.StatusNotFound || len(g.engine.Suspensions()) != 0 {
		t.Errorf("suspend without a token file = %d, %d suspensions", code, len(g.engine.Suspensions()))
	}
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		if code, body := apiCall(t, g, http.MethodGet, p, "", ""); code != http.StatusOK {
			t.Errorf("%s = %d %s", p, code, body)
		}
	}
}

// TestAdminSuspendAgency: a suspension over the API blocks the next
// decision, is in the usage log, and is lifted by a reinstate.
func TestAdminSuspendAgency(t *testing.T) {
	g, _ := runGateway(t, adminConfig(t, true))
	if d := decideTLee(g, "www.youtube.com"); !d.Allow {
		t.Fatalf("before the suspension: %+v", d)
	}
	code, body := apiCall(t, g, http.MethodPost, "/api/v1/agencies/DOT/suspend", testToken, `{"reason": "compromised credentials", "by": "secops-alice"}`)
	if code != http.StatusOK {
		t.Fatalf("suspend = %d %s", code, body)
	}
	s := decodeJSON[suspensionBody](t, body).Suspension
	if s.Scope != allowlist.ScopeAgency || s.ID != "DOT" || s.Reason != "compromised credentials" || s.By != "secops-alice" || s.At.IsZero() {
		t.Errorf("suspension = %+v", s)
	}
	// The record is durable when the API answers: read the files as they
	// are, without a flush.
	recs := readAdminRecords(t, g.cfg.Logs.Dir)
	if len(recs) != 1 || recs[0].Action != logs.ActionSuspend || recs[0].Outcome != logs.OutcomeSuccess ||
		recs[0].Target != "agency:DOT" || recs[0].By != "secops-alice" || recs[0].Message != "compromised credentials" || recs[0].Agency != "DOT" {
		t.Fatalf("usage records after the suspend: %+v", recs)
	}
	if d := decideTLee(g, "www.youtube.com"); d.Allow || d.Reason != allowlist.ReasonAgencySuspended {
		t.Errorf("after the suspension: %+v, want blocked-agency-suspended", d)
	}

	code, body = apiCall(t, g, http.MethodPost, "/api/v1/agencies/DOT/suspend", testToken, `{"reason": "again"}`)
	if e := decodeJSON[errorBody](t, body); code != http.StatusConflict || e.Suspension == nil || e.Suspension.Reason != "compromised credentials" {
		t.Errorf("second suspend = %d %s, want 409 with the suspension in force", code, body)
	}
	code, body = apiCall(t, g, http.MethodGet, "/api/v1/suspensions", testToken, "")
	if l := decodeJSON[suspensionsBody](t, body).Suspensions; code != http.StatusOK || len(l) != 1 || l[0].ID != "DOT" {
		t.Errorf("suspensions = %d %s", code, body)
	}
	code, body = apiCall(t, g, http.MethodGet, "/api/v1/status", testToken, "")
	if st := decodeJSON[statusBody](t, body); code != http.StatusOK || st.Gateway != "gw-1" || !st.Ready || !st.UsageLog.Healthy ||
		st.Policy.Suspensions != 1 || len(st.Suspensions) != 1 || st.Listeners["proxy"] == "" || st.Listeners["admin"] == "" {
		t.Errorf("status = %d %s", code, body)
	}

	code, body = apiCall(t, g, http.MethodPost, "/api/v1/agencies/DOT/reinstate", testToken, `{"by": "secops-bob", "reason": "passwords reset"}`)
	if code != http.StatusOK || decodeJSON[suspensionBody](t, body).Suspension.Reason != "compromised credentials" {
		t.Fatalf("reinstate = %d %s", code, body)
	}
	if d := decideTLee(g, "www.youtube.com"); !d.Allow {
		t.Errorf("after the reinstate: %+v", d)
	}
	recs = readAdminRecords(t, g.cfg.Logs.Dir)
	if len(recs) != 2 || recs[1].Action != logs.ActionReinstate || recs[1].Target != "agency:DOT" || recs[1].By != "secops-bob" ||
		recs[1].Message != "passwords reset (suspended for: compromised credentials)" {
		t.Errorf("usage records after the reinstate: %+v", recs)
	}
	if code, body := apiCall(t, g, http.MethodPost, "/api/v1/agencies/DOT/reinstate", testToken, ""); code != http.StatusConflict {
		t.Errorf("reinstate of an agency not suspended = %d %s, want 409", code, body)
	}
}

// TestAdminSuspendScopes suspends a platform and an account.
func TestAdminSuspendScopes(t *testing.T) {
	g, _ := runGateway(t, adminConfig(t, true))
	for _, tc := range []struct {
		path, target string
		host         string
		reason       allowlist.Reason
	}{
		{"/api/v1/platforms/youtube", "platform:youtube", "www.youtube.com", allowlist.ReasonPlatformSuspended},
		{"/api/v1/accounts/dot-facebook", "account:dot-facebook", "www.facebook.com", allowlist.ReasonAccountSuspended},
	} {
		t.Run(tc.target, func(t *testing.T) {
			code, body := apiCall(t, g, http.MethodPost, tc.path+"/suspend", testToken, `{"reason":"incident 42"}`)
			if code != http.StatusOK {
				t.Fatalf("suspend = %d %s", code, body)
			}
			if d := decideTLee(g, tc.host); d.Allow || d.Reason != tc.reason {
				t.Errorf("decision after suspending %s: %+v, want %s", tc.target, d, tc.reason)
			}
			recs := usageRecords(t, g)
			if last := recs[len(recs)-1]; last.Target != tc.target || last.By != defaultAPIBy {
				t.Errorf("last record = %+v", last)
			}
			if code, body := apiCall(t, g, http.MethodPost, tc.path+"/reinstate", testToken, ""); code != http.StatusOK {
				t.Fatalf("reinstate = %d %s", code, body)
			}
			if d := decideTLee(g, tc.host); !d.Allow {
				t.Errorf("decision after reinstating %s: %+v", tc.target, d)
			}
		})
	}
}

// TestAdminBadRequests: every refusal is a JSON error with the right code
// and changes nothing.
func TestAdminBadRequests(t *testing.T) {
	g, _ := runGateway(t, adminConfig(t, true))
	big := `{"reason": "` + strings.Repeat("x", maxBodyBytes) + `"}`
	for _, tc := range []struct {
		name, method, path, body string
		want                     int
		msg                      string
	}{
		{"unknown agency", "POST", "/api/v1/agencies/NOPE/suspend", `{"reason":"x"}`, 404, "not found"},
		{"unknown platform", "POST", "/api/v1/platforms/nope/suspend", `{"reason":"x"}`, 404, "not found"},
		{"unknown account", "POST", "/api/v1/accounts/nope/suspend", `{"reason":"x"}`, 404, "not found"},
		{"unknown scope", "POST", "/api/v1/users/tlee/suspend", `{"reason":"x"}`, 404, "unknown scope"},
		{"singular scope", "POST", "/api/v1/agency/DOT/suspend", `{"reason":"x"}`, 404, "unknown scope"},
		{"reinstate unknown", "POST", "/api/v1/agencies/NOPE/reinstate", ``, 404, "not found"},
		{"reinstate not suspended", "POST", "/api/v1/agencies/DCF/reinstate", ``, 409, "not suspended"},
		{"no reason", "POST", "/api/v1/agencies/DOT/suspend", `{"by":"x"}`, 400, "reason"},
		{"blank reason", "POST", "/api/v1/agencies/DOT/suspend", `{"reason":"  "}`, 400, "reason"},
		{"empty body", "POST", "/api/v1/agencies/DOT/suspend", ``, 400, "empty"},
		{"not JSON", "POST", "/api/v1/agencies/DOT/suspend", `reason=x`, 400, "invalid JSON"},
		{"unknown field", "POST", "/api/v1/agencies/DOT/suspend", `{"reason":"x","until":"never"}`, 400, "unknown field"},
		{"trailing data", "POST", "/api/v1/agencies/DOT/suspend", `{"reason":"x"} {}`, 400, "after the JSON object"},
		{"wrong type", "POST", "/api/v1/agencies/DOT/suspend", `{"reason":1}`, 400, "invalid JSON"},
		{"too large", "POST", "/api/v1/agencies/DOT/suspend", big, 413, "larger than"},
		{"long by", "POST", "/api/v1/agencies/DOT/suspend", `{"reason":"x","by":"` + strings.Repeat("b", maxByLen+1) + `"}`, 400, "by"},
		{"newline in reason", "POST", "/api/v1/agencies/DOT/suspend", `{"reason":"ticket 1\n2026-11-23T20:00:00Z reinstate agency DCF by alice"}`, 400, "control character"},
		{"escape in by", "POST", "/api/v1/agencies/DOT/suspend", `{"reason":"x","by":"bob\u001b[2J"}`, 400, "control character"},
		{"escape in reinstate by", "POST", "/api/v1/agencies/DCF/reinstate", `{"by":"bob\u0000"}`, 400, "control character"},
		{"hold reason on two lines", "POST", "/api/v1/holds", `{"id":"h1","reason":"sub\npoena"}`, 400, "control character"},
		{"hold id dot-dot", "POST", "/api/v1/holds", `{"id":"..","reason":"subpoena"}`, 400, "path element"},
		{"reload unknown field", "POST", "/api/v1/reload", `{"force":true}`, 400, "unknown field"},
		{"GET suspend", "GET", "/api/v1/agencies/DOT/suspend", ``, 405, "not allowed"},
		{"POST status", "POST", "/api/v1/status", ``, 405, "not allowed"},
		{"GET reload", "GET", "/api/v1/reload", ``, 405, "not allowed"},
		{"unknown endpoint", "GET", "/api/v1/nope", ``, 404, "no such endpoint"},
		{"outside the api", "GET", "/nope", ``, 404, "no such endpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := apiCall(t, g, tc.method, tc.path, testToken, tc.body)
			e := decodeJSON[errorBody](t, body)
			if code != tc.want || !strings.Contains(e.Error, tc.msg) {
				t.Errorf("%s %s = %d %q, want %d with %q", tc.method, tc.path, code, e.Error, tc.want, tc.msg)
			}
		})
	}
	if n := len(g.engine.Suspensions()); n != 0 {
		t.Errorf("%d suspensions after bad requests", n)
	}
	if recs := usageRecords(t, g); len(recs) != 0 {
		t.Errorf("bad requests left usage records: %+v", recs)
	}
}

// TestSuspensionSurvivesRestart: a gateway started again on the same
// data_dir enforces the suspension and lists it.
func TestSuspensionSurvivesRestart(t *testing.T) {
	path := adminConfig(t, true)
	g, stop := runGateway(t, path)
	if code, body := apiCall(t, g, http.MethodPost, "/api/v1/agencies/DOT/suspend", testToken, `{"reason":"audit"}`); code != http.StatusOK {
		t.Fatalf("suspend = %d %s", code, body)
	}
	stop()
	g2, _ := runGateway(t, path)
	if l := g2.engine.Suspensions(); len(l) != 1 || l[0].ID != "DOT" || l[0].Reason != "audit" {
		t.Errorf("suspensions after a restart: %+v", l)
	}
	if d := decideTLee(g2, "www.youtube.com"); d.Allow || d.Reason != allowlist.ReasonAgencySuspended {
		t.Errorf("decision after a restart: %+v", d)
	}
	if v, ok := metricValue(t, g2, "smgate_suspensions", map[string]string{"scope": "agency"}); !ok || v != 1 {
		t.Errorf("smgate_suspensions{scope=agency} = %v, %v", v, ok)
	}
}

// TestAdminReload: a broken registry is refused with 422, the old policy
// stays and the failure shows in status and metrics; a reload that adds
// a grant lets the next request through.
func TestAdminReload(t *testing.T) {
	path := adminConfig(t, true)
	g, _ := runGateway(t, path)
	dir := filepath.Dir(path)
	if d := decideTLee(g, "www.instagram.com"); d.Allow || d.Reason != allowlist.ReasonNoGrant {
		t.Fatalf("before the reload: %+v", d)
	}
	good := g.engine.Snapshot()
	regPath := filepath.Join(dir, "registry.toml")
	regGood, _ := os.ReadFile(regPath)
	if err := os.WriteFile(regPath, []byte("[[account]]\nid = \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, body := apiCall(t, g, http.MethodPost, "/api/v1/reload", testToken, `{"by":"ops"}`)
	e := decodeJSON[errorBody](t, body)
	if code != http.StatusUnprocessableEntity || len(e.Problems) == 0 || !strings.Contains(e.Problems[0], "registry.toml") || e.Generation != good.Gen() {
		t.Errorf("reload of a broken registry = %d %s", code, body)
	}
	if g.engine.Snapshot() != good {
		t.Error("a failed reload replaced the policy")
	}
	_, body = apiCall(t, g, http.MethodGet, "/api/v1/status", testToken, "")
	// The file watcher may see the broken file and fail on it too.
	if st := decodeJSON[statusBody](t, body); !strings.Contains(st.Policy.LastError, "registry.toml") || st.Policy.Failures < 1 {
		t.Errorf("status after a failed reload: %s", body)
	}
	if v, _ := metricValue(t, g, "smgate_reloads_total", map[string]string{"result": "failure"}); v < 1 {
		t.Errorf("smgate_reloads_total{result=failure} = %v, want 1 or more", v)
	}

	if err := os.WriteFile(regPath, regGood, 0o600); err != nil {
		t.Fatal(err)
	}
	editFile(t, filepath.Join(dir, "directory.toml"), `accounts = ["dot-youtube", "dot-facebook"]`, `accounts = ["dot-youtube", "dot-facebook"]`+"\nplatforms = [\"instagram\"]")
	code, body = apiCall(t, g, http.MethodPost, "/api/v1/reload", testToken, "")
	if r := decodeJSON[reloadBody](t, body); code != http.StatusOK || r.Generation != g.engine.Snapshot().Gen() || r.Warnings == nil {
		t.Fatalf("reload adding a grant = %d %s", code, body)
	}
	if d := decideTLee(g, "www.instagram.com"); !d.Allow {
		t.Errorf("after a reload adding a grant: %+v", d)
	}
	if st := g.engine.Status(); st.LastError != "" {
		t.Errorf("LastError after a good reload: %q", st.LastError)
	}
	if v, _ := metricValue(t, g, "smgate_reloads_total", map[string]string{"result": "success"}); v < 1 {
		t.Errorf("smgate_reloads_total{result=success} = %v, want 1 or more", v)
	}
	var bys []string
	for _, r := range usageRecords(t, g) {
		if r.By != watchBy {
			bys = append(bys, r.Outcome+" by "+r.By)
		}
	}
	if len(bys) < 2 || bys[0] != "failure by ops" || bys[len(bys)-1] != "success by "+defaultAPIBy {
		t.Errorf("reload records: %v", bys)
	}
}

// failingSink is a usage log that cannot be written.
type failingSink struct{}

func (failingSink) Log(*logs.Record) error { return errors.New("disk full") }
func (failingSink) Healthy() error         { return errors.New("disk full") }

// TestReadyz: readiness needs a writable usage log, every listener and a
// gateway that is not stopping.
func TestReadyz(t *testing.T) {
	path := adminConfig(t, false)
	g, _ := runGateway(t, path)
	for _, tc := range []struct {
		name string
		edit func(g *gateway)
		want int
		msg  string
	}{
		{"ready", func(*gateway) {}, 200, "ready"},
		{"log not writable", func(g *gateway) { g.sink = failingSink{} }, 503, "usage log cannot be written: disk full"},
		{"stopping", func(g *gateway) { g.ops = &ops{}; g.ops.stopping.Store(true) }, 503, "shutting down"},
		{"listener missing", func(g *gateway) { g.ls = &listeners{admin: g.ls.admin} }, 503, "proxy listener is not bound"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := *g
			tc.edit(&c)
			a := &admin{g: &c, requests: mustAdminMetrics(t)}
			srv := httptest.NewServer(a.routes())
			defer srv.Close()
			resp, err := http.Get(srv.URL + "/readyz")
			if err != nil {
				t.Fatal(err)
			}
			b := make([]byte, 512)
			n, _ := resp.Body.Read(b)
			resp.Body.Close()
			if resp.StatusCode != tc.want || !strings.Contains(string(b[:n]), tc.msg) {
				t.Errorf("/readyz = %d %q, want %d with %q", resp.StatusCode, b[:n], tc.want, tc.msg)
			}
		})
	}
}

func mustAdminMetrics(t *testing.T) *prometheus.CounterVec {
	t.Helper()
	c, err := newAdminMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return c
}
