package main

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

// TestMetricsAfterTraffic: after suspensions, reloads and admin requests
// the documented series are exported, with low-cardinality labels, and
// everything the gateway registers passes promlint.
func TestMetricsAfterTraffic(t *testing.T) {
	path := adminConfig(t, true)
	g, _ := runGateway(t, path)
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/api/v1/agencies/DOT/suspend", `{"reason":"x"}`},
		{"POST", "/api/v1/platforms/tiktok/suspend", `{"reason":"x"}`},
		{"POST", "/api/v1/agencies/DOT/reinstate", ``},
		{"POST", "/api/v1/agencies/NOPE-123/suspend", `{"reason":"x"}`},
		{"POST", "/api/v1/reload", ``},
		{"GET", "/api/v1/status", ``},
		{"GET", "/healthz", ``},
		{"GET", "/no/such/page", ``},
	} {
		apiCall(t, g, c.method, c.path, testToken, c.body)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(path), "directory.toml"), []byte("[[agency]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	apiCall(t, g, "POST", "/api/v1/reload", testToken, "")
	if err := g.writer.Flush(); err != nil {
		t.Fatal(err)
	}

	st := g.engine.Status()
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64 // -1: present, any value
	}{
		{"smgate_reloads_total", map[string]string{"result": "success"}, 1},
		{"smgate_reloads_total", map[string]string{"result": "failure"}, 1},
		{"smgate_policy_generation", nil, float64(st.Generation)},
		{"smgate_policy_last_reload_success_timestamp_seconds", nil, float64(st.LoadedAt.UnixNano()) / 1e9},
		{"smgate_suspensions", map[string]string{"scope": "agency"}, 0},
		{"smgate_suspensions", map[string]string{"scope": "platform"}, 1},
		{"smgate_suspensions", map[string]string{"scope": "account"}, 0},
		{"smgate_admin_requests_total", map[string]string{"route": routeSuspend, "code": "200"}, 2},
		{"smgate_admin_requests_total", map[string]string{"route": routeSuspend, "code": "404"}, 1},
		{"smgate_admin_requests_total", map[string]string{"route": routeReinstate, "code": "200"}, 1},
		{"smgate_admin_requests_total", map[string]string{"route": routeReload, "code": "422"}, 1},
		{"smgate_admin_requests_total", map[string]string{"route": routeOther, "code": "404"}, 1},
		{"smgate_logs_records_total", nil, -1},
	} {
		got, ok := metricValue(t, g, tc.name, tc.labels)
		if !ok || (tc.want >= 0 && got != tc.want) {
			t.Errorf("%s%v = %v (present %v), want %v", tc.name, tc.labels, got, ok, tc.want)
		}
	}
	checkLabels(t, g)
	code, body := apiCall(t, g, "GET", "/metrics", "", "")
	for _, name := range []string{"smgate_reloads_total", "smgate_policy_generation", "smgate_suspensions", "smgate_admin_requests_total", "smgate_logs_commit_seconds"} {
		if code != http.StatusOK || !strings.Contains(body, name) {
			t.Errorf("/metrics (%d) lacks %s", code, name)
		}
	}
}

// checkLabels fails when a label of an smgate series holds an id, a user
// or a path rather than one of a fixed set of values.
func checkLabels(t *testing.T, g *gateway) {
	t.Helper()
	routes := []string{routeHealthz, routeReadyz, routeMetrics, routeStatus, routeSuspensions, routeReload, routeSuspend, routeReinstate, routeOther}
	mfs, err := g.reg.(prometheus.Gatherer).Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "smgate_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				v := lp.GetValue()
				if strings.Contains(v, "DOT") || strings.Contains(v, "NOPE") || strings.Contains(v, "tiktok") ||
					(lp.GetName() == "route" && !slices.Contains(routes, v)) {
					t.Errorf("%s{%s=%q}: a label holds a high-cardinality value", mf.GetName(), lp.GetName(), v)
				}
			}
		}
	}
}

// TestPromlint lints every metric a running gateway registers.
func TestPromlint(t *testing.T) {
	g, _ := runGateway(t, adminConfig(t, true))
	apiCall(t, g, "GET", "/api/v1/status", testToken, "")
	mfs, err := g.reg.(prometheus.Gatherer).Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}
