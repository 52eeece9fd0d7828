package main

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
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
		{"smgate_reloads_total", map[string]string{"result": "success"}, -1}, // 1, or more when the file watcher
		{"smgate_reloads_total", map[string]string{"result": "failure"}, -1}, // sees the edit too
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
	for _, result := range []string{reloadSuccess, reloadFailure} {
		if v, _ := metricValue(t, g, "smgate_reloads_total", map[string]string{"result": result}); v < 1 {
			t.Errorf("smgate_reloads_total{result=%q} = %v, want 1 or more", result, v)
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

// TestMetricsAfterProxyAndDNSTraffic scrapes /metrics of a whole gateway
// after proxy requests, a tunnel, DNS queries, a suspension and a reload:
// the series a dashboard needs are there with their labels, and README's
// metrics section lists every smgate_ family, and no other.
func TestMetricsAfterProxyAndDNSTraffic(t *testing.T) {
	e := startOpsGateway(t)
	c := e.client(t)
	e.get(t, c, "www.facebook.com", "/CTDOT") // allowed-grant
	e.get(t, c, "www.instagram.com", "/")     // blocked-no-grant
	e.dnsQuery(t, "udp", "www.facebook.com")  // allowed, from the upstream
	e.dnsQuery(t, "udp", "www.facebook.com")  // allowed, from the cache
	e.dnsQuery(t, "tcp", "www.instagram.com") // blocked
	get(t, "http://"+e.g.ls.proxy.Addr().String()+"/not-a-proxy-request")
	code, tn := e.connect(t, "www.youtube.com")
	if code != http.StatusOK {
		t.Fatalf("CONNECT www.youtube.com = %d", code)
	}
	apiCall(t, e.g, "POST", "/api/v1/platforms/tiktok/suspend", testToken, `{"reason":"x"}`)
	apiCall(t, e.g, "POST", "/api/v1/reload", testToken, "")

	mfs := scrape(t, e.g)
	for _, tc := range []struct {
		name   string
		labels map[string]string
		min    float64 // the value, or the sample count of a histogram, is at least this
	}{
		{"smgate_proxy_requests_total", map[string]string{"mode": "explicit", "platform": "facebook", "outcome": "allowed", "reason": "allowed-grant"}, 1},
		{"smgate_proxy_requests_total", map[string]string{"mode": "explicit", "platform": "instagram", "outcome": "blocked", "reason": "blocked-no-grant"}, 1},
		{"smgate_proxy_decision_seconds", nil, 3},
		{"smgate_proxy_upstream_seconds", nil, 2},
		{"smgate_proxy_connections_open", nil, 1},
		{"smgate_proxy_tunnels_open", nil, 1},
		{"smgate_proxy_refused_total", map[string]string{"cause": "not_proxy_request"}, 1},
		{"smgate_proxy_auth_failures_total", map[string]string{"cause": "bad_password"}, 0},
		{"smgate_dns_queries_total", map[string]string{"mode": "dns", "platform": "facebook", "outcome": "allowed", "reason": "allowed-grant"}, 2},
		{"smgate_dns_decision_seconds", nil, 3},
		{"smgate_dns_queries_total", map[string]string{"platform": "instagram", "outcome": "blocked", "reason": "blocked-no-grant"}, 1},
		{"smgate_dns_upstream_seconds", nil, 1},
		{"smgate_dns_cache_hits_total", nil, 1},
		{"smgate_dns_cache_entries", nil, 1},
		{"smgate_logs_records_total", nil, 1},
		{"smgate_logs_commit_seconds", nil, 1},
		{"smgate_logs_queued_records", nil, 0},
		{"smgate_logs_healthy", nil, 1},
		{"smgate_reloads_total", map[string]string{"result": "success"}, 1},
		{"smgate_reloads_total", map[string]string{"result": "failure"}, 0},
		{"smgate_policy_last_reload_success_timestamp_seconds", nil, 1},
		{"smgate_suspensions", map[string]string{"scope": "platform"}, 1},
		{"smgate_admin_requests_total", map[string]string{"route": routeReload, "code": "200"}, 1},
	} {
		v, ok := seriesValue(mfs, tc.name, tc.labels)
		if !ok || v < tc.min {
			t.Errorf("%s%v = %v (present %v), want %v or more", tc.name, tc.labels, v, ok, tc.min)
		}
	}
	if v, _ := seriesValue(mfs, "smgate_dns_queries_total", map[string]string{"platform": "facebook"}); v > 2 {
		t.Errorf("smgate_dns_queries_total{platform=facebook} = %v after two queries", v)
	}

	tn.conn.Close()
	waitFor(t, 10*time.Second, "smgate_proxy_tunnels_open to drop to 0 after the client closed its tunnel", func() bool {
		v, ok := seriesValue(scrape(t, e.g), "smgate_proxy_tunnels_open", nil)
		return ok && v == 0
	})

	documented := readmeMetrics(t)
	for name := range mfs {
		if strings.HasPrefix(name, "smgate_") && !documented[name] {
			t.Errorf("%s is exported but not in README's metrics section", name)
		}
	}
	for name := range documented {
		if _, ok := mfs[name]; !ok {
			t.Errorf("README's metrics section lists %s, which the gateway does not export", name)
		}
	}
}

// scrape fetches /metrics from the admin listener of g and parses it.
func scrape(t *testing.T, g *gateway) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + g.ls.admin.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics = %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return mfs
}

// seriesValue sums the series of name whose labels include labels: the
// value of counters and gauges, the sample count of histograms.
func seriesValue(mfs map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	mf, ok := mfs[name]
	if !ok {
		return 0, false
	}
	var sum float64
	found := false
	for _, m := range mf.GetMetric() {
		if !hasLabels(m, labels) {
			continue
		}
		found = true
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Untyped != nil:
			sum += m.Untyped.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum, found
}

// readmeMetrics returns the smgate_ metric names in README's "## Metrics"
// section.
func readmeMetrics(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "\n## Metrics\n")
	if !ok {
		t.Fatal(`README.md has no "## Metrics" section`)
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	out := map[string]bool{}
	for _, m := range regexp.MustCompile("`(smgate_[a-z_]+)").FindAllStringSubmatch(sec, -1) {
		out[m[1]] = true
	}
	if len(out) == 0 {
		t.Fatal("README's metrics section names no metric")
	}
	return out
}
