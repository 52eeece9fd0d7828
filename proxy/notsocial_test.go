package proxy

import (
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/smgate/smgate/allowlist"
	"github.com/smgate/smgate/logs"
)

// TestNotSocial: a host that is no platform is forwarded without asking
// who the client is, for GET and CONNECT; it has no usage record unless
// proxy.log_not_social is on, and then its record says allowed-not-social.
func TestNotSocial(t *testing.T) {
	for _, logIt := range []bool{false, true} {
		name := "not logged"
		if logIt {
			name = "log_not_social"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, envConfig{logNotSocial: logIt})
			for _, c := range []wireCase{
				{method: "GET", target: "http://example.test:{H}/page"},
				{method: "CONNECT", target: "www.example.com:{T}"},
			} {
				resp, body, conn, _ := e.raw("", e.request(c))
				if conn != nil {
					conn.Close()
				}
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("%s %s: got %d %q", c.method, c.target, resp.StatusCode, body)
				}
				if c.method == "GET" && body != "hello from origin /page" {
					t.Errorf("body %q", body)
				}
				id := resp.Header.Get(headerRequestID)
				if !logIt {
					if id != "" {
						t.Errorf("%s: request id %q without a record", c.method, id)
					}
					continue
				}
				r := e.sink.wait(t, byID(id))
				if r.Reason != string(allowlist.ReasonAllowedNotSocial) || r.Outcome != logs.OutcomeAllowed ||
					r.Platform != "" || r.User != "" || r.Status != 200 || r.NotEnforced {
					t.Errorf("%s: record %+v", c.method, r)
				}
			}
			if !logIt && len(e.sink.records()) != 0 {
				t.Errorf("records for hosts that are not social media: %+v", e.sink.records()[0])
			}
			n := testutil.ToFloat64(e.srv.m.requests.WithLabelValues(string(allowlist.SourceExplicit), "", logs.OutcomeAllowed, string(allowlist.ReasonAllowedNotSocial)))
			if n != 2 {
				t.Errorf("allowed-not-social decisions counted %v, want 2", n)
			}
		})
	}
}
