package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/smgate/smgate/allowlist"
	"github.com/smgate/smgate/logs"
)

// TestSuspensionCutsTunnelAndBlocksTraffic: a suspension over the admin
// API closes the agency's live CONNECT tunnel and its idle keep-alive
// connection, and blocks its next proxy request, its next tunnel and its
// next DNS query; a reinstate lets them through again.
func TestSuspensionCutsTunnelAndBlocksTraffic(t *testing.T) {
	e := startOpsGateway(t)
	c := e.client(t)
	const fb = "www.facebook.com"

	if code, reason, body := e.get(t, c, fb, "/CTDOT"); code != http.StatusOK || body != "origin "+net.JoinHostPort(fb, e.port)+"/CTDOT" {
		t.Fatalf("before the suspension, GET %s/CTDOT = %d %s %q", fb, code, reason, body)
	}
	if r := e.dnsQuery(t, "udp", fb); !answered(r) {
		t.Fatalf("before the suspension, DNS %s = %s", fb, r)
	}
	code, tn := e.connect(t, fb)
	if code != http.StatusOK {
		t.Fatalf("before the suspension, CONNECT %s = %d", fb, code)
	}
	if code, body := tn.roundTrip(t, fb, "/CTDOT"); code != http.StatusOK || !strings.HasSuffix(body, "/CTDOT") {
		t.Fatalf("through the tunnel before the suspension: %d %q", code, body)
	}

	// A keep-alive connection to the proxy, idle after one request.
	keep := e.keepAlive(t)
	if code, body := keep.roundTrip(t, fb, "http://"+net.JoinHostPort(fb, e.port)+"/CTDOT"); code != http.StatusOK {
		t.Fatalf("keep-alive request before the suspension: %d %q", code, body)
	}

	// Readers block on the tunnel and the idle connection until the
	// gateway closes them.
	tunnelCut, keepCut := tn.closed(), keep.closed()
	code, body := apiCall(t, e.g, http.MethodPost, "/api/v1/agencies/DOT/suspend", testToken, `{"reason":"incident 7","by":"secops"}`)
	if code != http.StatusOK {
		t.Fatalf("suspend DOT = %d %s", code, body)
	}
	checkCut(t, "DOT's open tunnel", <-tunnelCut)
	checkCut(t, "DOT's idle keep-alive connection", <-keepCut)

	if code, reason, _ := e.get(t, c, fb, "/CTDOT"); code != http.StatusForbidden || reason != string(allowlist.ReasonAgencySuspended) {
		t.Errorf("after the suspension, GET %s/CTDOT = %d %q, want 403 %s", fb, code, reason, allowlist.ReasonAgencySuspended)
	}
	if code, _ := e.connect(t, fb); code != http.StatusForbidden {
		t.Errorf("after the suspension, CONNECT %s = %d, want 403", fb, code)
	}
	for _, nw := range []string{"udp", "tcp"} {
		if r := e.dnsQuery(t, nw, fb); r.Rcode != dns.RcodeNameError || len(r.Answer) != 0 {
			t.Errorf("after the suspension, DNS over %s %s = %s, want NXDOMAIN", nw, fb, r)
		}
	}

	code, body = apiCall(t, e.g, http.MethodPost, "/api/v1/agencies/DOT/reinstate", testToken, `{"by":"secops"}`)
	if code != http.StatusOK {
		t.Fatalf("reinstate DOT = %d %s", code, body)
	}
	if code, reason, _ := e.get(t, c, fb, "/CTDOT"); code != http.StatusOK {
		t.Errorf("after the reinstate, GET %s/CTDOT = %d %q", fb, code, reason)
	}
	if r := e.dnsQuery(t, "udp", fb); !answered(r) {
		t.Errorf("after the reinstate, DNS %s = %s", fb, r)
	}

	// The usage log has the suspension between allowed and blocked use
	// through both front doors.
	var seq []string
	for _, r := range usageLog(t, e.g) {
		switch {
		case r.Action == logs.ActionSuspend:
			if r.Target != "agency:DOT" || r.By != "secops" || r.Message != "incident 7" {
				t.Errorf("suspend record: %+v", r)
			}
			seq = append(seq, "suspend")
		case r.Action == logs.ActionReinstate:
			seq = append(seq, "reinstate")
		case r.Reason == string(allowlist.ReasonAgencySuspended):
			if r.User != "tlee" || r.Agency != "DOT" {
				t.Errorf("blocked record names %q of %q, want tlee of DOT", r.User, r.Agency)
			}
			seq = append(seq, r.Mode+" "+r.Action+" blocked")
		}
	}
	want := []string{"suspend", "explicit http_request blocked", "explicit connect blocked", "dns dns_query blocked", "dns dns_query blocked", "reinstate"}
	if strings.Join(seq, ", ") != strings.Join(want, ", ") {
		t.Errorf("usage log around the suspension:\n got %v\nwant %v", seq, want)
	}
}

// TestReloadAddingGrantKeepsConnections: a reload that adds a grant lets
// the next request and query through, and the tunnel and the keep-alive
// connection opened before it still carry traffic after it.
func TestReloadAddingGrantKeepsConnections(t *testing.T) {
	e := startOpsGateway(t)
	c := e.client(t)
	const fb, ig = "www.facebook.com", "www.instagram.com"

	code, tn := e.connect(t, fb)
	if code != http.StatusOK {
		t.Fatalf("CONNECT %s = %d", fb, code)
	}
	if code, _ := tn.roundTrip(t, fb, "/CTDOT"); code != http.StatusOK {
		t.Fatalf("through the tunnel before the reload: %d", code)
	}
	// A keep-alive connection to the proxy, used once before the reload.
	keep := e.keepAlive(t)
	if code, body := keep.roundTrip(t, fb, "http://"+net.JoinHostPort(fb, e.port)+"/CTDOT"); code != http.StatusOK {
		t.Fatalf("keep-alive request before the reload: %d %q", code, body)
	}
	if code, reason, _ := e.get(t, c, ig, "/"); code != http.StatusForbidden || reason != string(allowlist.ReasonNoGrant) {
		t.Fatalf("before the reload, GET %s = %d %q, want 403 %s", ig, code, reason, allowlist.ReasonNoGrant)
	}
	if r := e.dnsQuery(t, "udp", ig); r.Rcode != dns.RcodeNameError {
		t.Fatalf("before the reload, DNS %s = %s, want NXDOMAIN", ig, r)
	}

	editFile(t, filepath.Join(filepath.Dir(e.path), "directory.toml"),
		`accounts = ["dot-youtube", "dot-facebook"]`, `accounts = ["dot-youtube", "dot-facebook"]`+"\nplatforms = [\"instagram\"]")
	gen := e.g.engine.Snapshot().Gen()
	code, body := apiCall(t, e.g, http.MethodPost, "/api/v1/reload", testToken, `{"by":"ops"}`)
	if r := decodeJSON[reloadBody](t, body); code != http.StatusOK || r.Generation <= gen {
		t.Fatalf("reload adding instagram to dot-communications = %d %s", code, body)
	}

	if code, reason, body := e.get(t, c, ig, "/"); code != http.StatusOK || !strings.HasPrefix(body, "origin "+ig) {
		t.Errorf("after the reload, GET %s = %d %q %q", ig, code, reason, body)
	}
	if r := e.dnsQuery(t, "udp", ig); !answered(r) {
		t.Errorf("after the reload, DNS %s = %s", ig, r)
	}
	if code, body := tn.roundTrip(t, fb, "/CTDOT"); code != http.StatusOK || !strings.HasSuffix(body, "/CTDOT") {
		t.Errorf("the tunnel opened before the reload, after it: %d %q", code, body)
	}
	if code, body := keep.roundTrip(t, ig, "http://"+net.JoinHostPort(ig, e.port)+"/"); code != http.StatusOK {
		t.Errorf("the keep-alive connection opened before the reload, after it: %d %q", code, body)
	}
	if v, ok := metricValue(t, e.g, "smgate_proxy_tunnels_open", nil); !ok || v != 1 {
		t.Errorf("smgate_proxy_tunnels_open after the reload = %v (present %v), want 1", v, ok)
	}
}

// TestReloadBrokenRegistryKeepsPolicy: a reload with a broken registry is
// refused; the proxy and the DNS filter keep deciding on the last good
// policy, and the failure is in the operational log, the usage log, the
// status and the metrics.
func TestReloadBrokenRegistryKeepsPolicy(t *testing.T) {
	e := startOpsGateway(t)
	c := e.client(t)
	const fb = "www.facebook.com"
	regPath := filepath.Join(filepath.Dir(e.path), "registry.toml")
	if err := os.WriteFile(regPath, []byte("[[account]]\nid = \"dot-facebook\"\nplatform = \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := e.g.engine.Snapshot()
	code, body := apiCall(t, e.g, http.MethodPost, "/api/v1/reload", testToken, `{"by":"ops"}`)
	if er := decodeJSON[errorBody](t, body); code != http.StatusUnprocessableEntity || len(er.Problems) == 0 ||
		!strings.Contains(er.Problems[0], "registry.toml") || er.Generation != good.Gen() {
		t.Errorf("reload with a broken registry = %d %s, want 422 naming registry.toml", code, body)
	}
	if e.g.engine.Snapshot() != good {
		t.Error("a failed reload replaced the policy")
	}
	if code, reason, _ := e.get(t, c, fb, "/CTDOT"); code != http.StatusOK {
		t.Errorf("after the failed reload, GET %s/CTDOT = %d %q: the last good policy grants it", fb, code, reason)
	}
	if r := e.dnsQuery(t, "udp", fb); !answered(r) {
		t.Errorf("after the failed reload, DNS %s = %s", fb, r)
	}
	_, body = apiCall(t, e.g, http.MethodGet, "/api/v1/status", testToken, "")
	// The file watcher may see the broken file too and fail once more.
	if st := decodeJSON[statusBody](t, body); st.Policy.Failures < 1 || !strings.Contains(st.Policy.LastError, "registry.toml") || st.Policy.Generation != good.Gen() {
		t.Errorf("status after the failed reload: %s", body)
	}
	if v, _ := metricValue(t, e.g, "smgate_reloads_total", map[string]string{"result": reloadFailure}); v < 1 {
		t.Errorf("smgate_reloads_total{result=failure} = %v, want 1 or more", v)
	}
	var oplines []string
	for _, l := range e.oplog.lines(t) {
		if l["level"] == "error" && strings.Contains(fmt.Sprint(l["message"]), "reload failed") {
			oplines = append(oplines, fmt.Sprint(l["error"]))
		}
	}
	if len(oplines) == 0 || !strings.Contains(oplines[0], "registry.toml") {
		t.Errorf("operational log errors about the failed reload: %q, want them naming registry.toml", oplines)
	}
	var failed []logs.Record
	for _, r := range usageLog(t, e.g) {
		if r.Action == logs.ActionReload && r.Outcome == logs.OutcomeFailure && r.By == "ops" {
			failed = append(failed, r)
		}
	}
	if len(failed) != 1 || !strings.Contains(failed[0].Message, "registry.toml") {
		t.Errorf("failed reload records by ops: %+v, want one naming registry.toml", failed)
	}
}

// TestTunnelsOfOtherAgenciesSurvive: suspending one agency leaves the
// tunnels of users of other agencies open: DOT's tlee keeps his when DCF
// is suspended.
func TestTunnelsOfOtherAgenciesSurvive(t *testing.T) {
	e := startOpsGateway(t)
	const fb = "www.facebook.com"
	code, tn := e.connect(t, fb)
	if code != http.StatusOK {
		t.Fatalf("CONNECT %s = %d", fb, code)
	}
	code, body := apiCall(t, e.g, http.MethodPost, "/api/v1/agencies/DCF/suspend", testToken, `{"reason":"audit"}`)
	if code != http.StatusOK {
		t.Fatalf("suspend DCF = %d %s", code, body)
	}
	if code, body := tn.roundTrip(t, fb, "/CTDOT"); code != http.StatusOK {
		t.Errorf("DOT's tunnel after DCF's suspension: %d %q", code, body)
	}
}

// TestSuspensionSurvivesRestartAtTheFrontDoors: a gateway started again
// on the same files blocks the suspended agency in the proxy and the DNS
// filter from its first request, and lists the suspension.
func TestSuspensionSurvivesRestartAtTheFrontDoors(t *testing.T) {
	e := startOpsGateway(t)
	const fb = "www.facebook.com"
	if code, body := apiCall(t, e.g, http.MethodPost, "/api/v1/agencies/DOT/suspend", testToken, `{"reason":"audit","by":"secops"}`); code != http.StatusOK {
		t.Fatalf("suspend DOT = %d %s", code, body)
	}
	e.stop()
	e.g, e.stop = runGateway(t, e.path)

	if code, reason, _ := e.get(t, e.client(t), fb, "/CTDOT"); code != http.StatusForbidden || reason != string(allowlist.ReasonAgencySuspended) {
		t.Errorf("after a restart, GET %s/CTDOT = %d %q, want 403 %s", fb, code, reason, allowlist.ReasonAgencySuspended)
	}
	if r := e.dnsQuery(t, "udp", fb); r.Rcode != dns.RcodeNameError {
		t.Errorf("after a restart, DNS %s = %s, want NXDOMAIN", fb, r)
	}
	code, body := apiCall(t, e.g, http.MethodGet, "/api/v1/suspensions", testToken, "")
	if l := decodeJSON[suspensionsBody](t, body).Suspensions; code != http.StatusOK || len(l) != 1 || l[0].ID != "DOT" || l[0].By != "secops" || l[0].Reason != "audit" {
		t.Errorf("suspensions after a restart = %d %s", code, body)
	}
	if v, _ := seriesValue(scrape(t, e.g), "smgate_suspensions", map[string]string{"scope": "agency"}); v != 1 {
		t.Errorf("smgate_suspensions{scope=agency} after a restart = %v, want 1", v)
	}
}

// TestCLISuspensionScopesAtTheFrontDoors: smgate suspend --platform and
// --account, run against the gateway, cut the open tunnels they cover and
// block the next request and query, and leave the rest alone.
func TestCLISuspensionScopesAtTheFrontDoors(t *testing.T) {
	e := startOpsGateway(t)
	cli := cliConfig(t, e.path, e.g.ls.admin.Addr().String())
	c := e.client(t)
	const yt, fb = "www.youtube.com", "www.facebook.com"
	for _, tc := range []struct {
		flag, id             string
		host, page           string
		reason               allowlist.Reason
		otherHost, otherPage string
	}{
		{"--platform", "youtube", yt, "/@CTDOT", allowlist.ReasonPlatformSuspended, fb, "/CTDOT"},
		{"--account", "dot-facebook", fb, "/CTDOT", allowlist.ReasonAccountSuspended, yt, "/@CTDOT"},
	} {
		t.Run(tc.flag, func(t *testing.T) {
			code, tn := e.connect(t, tc.host)
			code2, other := e.connect(t, tc.otherHost)
			if code != http.StatusOK || code2 != http.StatusOK {
				t.Fatalf("CONNECT %s = %d, %s = %d", tc.host, code, tc.otherHost, code2)
			}
			cut := tn.closed()
			if code, out, errs := runCmd(t, "", "suspend", tc.flag, tc.id, "--reason", "incident", "--config", cli); code != 0 {
				t.Fatalf("smgate suspend %s %s: exit %d\n%s%s", tc.flag, tc.id, code, out, errs)
			}
			checkCut(t, "the tunnel to "+tc.host, <-cut)
			if code, reason, _ := e.get(t, c, tc.host, tc.page); code != http.StatusForbidden || reason != string(tc.reason) {
				t.Errorf("GET %s%s = %d %q, want 403 %s", tc.host, tc.page, code, reason, tc.reason)
			}
			if r := e.dnsQuery(t, "udp", tc.host); r.Rcode != dns.RcodeNameError {
				t.Errorf("DNS %s = %s, want NXDOMAIN", tc.host, r)
			}
			if code, body := other.roundTrip(t, tc.otherHost, tc.otherPage); code != http.StatusOK {
				t.Errorf("the tunnel to %s after the suspension: %d %q", tc.otherHost, code, body)
			}
			if code, reason, _ := e.get(t, c, tc.otherHost, tc.otherPage); code != http.StatusOK {
				t.Errorf("GET %s%s = %d %q", tc.otherHost, tc.otherPage, code, reason)
			}
			if code, out, errs := runCmd(t, "", "reinstate", tc.flag, tc.id, "--config", cli); code != 0 {
				t.Fatalf("smgate reinstate %s %s: exit %d\n%s%s", tc.flag, tc.id, code, out, errs)
			}
			if code, reason, _ := e.get(t, c, tc.host, tc.page); code != http.StatusOK {
				t.Errorf("after the reinstate, GET %s%s = %d %q", tc.host, tc.page, code, reason)
			}
		})
	}
}
