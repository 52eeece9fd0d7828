package proxy

import (
	"net/http"
	"testing"

	"github.com/smgate/smgate/logs"
)

func TestAllowedHTTP(t *testing.T) {
	e := newEnv(t, envConfig{})
	c := e.client("jsmith", "secret", "")
	resp, body := e.do(c, "GET", "http://facebook.com:"+portOf(e.origin.addr)+"/CTDCF", nil)
	if resp.StatusCode != http.StatusOK || body != "hello from origin /CTDCF" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	reqs := e.origin.requests()
	if len(reqs) != 1 {
		t.Fatalf("origin got %d requests", len(reqs))
	}
	if h := reqs[0].Header.Get("Proxy-Authorization"); h != "" {
		t.Errorf("Proxy-Authorization reached the origin: %q", h)
	}
	r := e.sink.wait(t, func(r *logs.Record) bool { return r.Action == logs.ActionHTTPRequest })
	if r.Reason != "allowed-grant" || r.User != "jsmith" || r.Account != "dcf-facebook" || r.Status != 200 ||
		r.Domain != "facebook.com" || r.Path != "/CTDCF" || r.DestIP.String() != "127.0.0.1" {
		t.Errorf("record %+v", r)
	}
}

// TestRecordLeavesOutPathParameters: url.path is recorded without the
// parameters of its segments (a ";jsessionid=" is a session token, like a
// cookie); the request itself reaches the origin unchanged.
func TestRecordLeavesOutPathParameters(t *testing.T) {
	e := newEnv(t, envConfig{})
	c := e.client("bjones", "hunter2", "")
	resp, body := e.do(c, "GET", "http://facebook.com:"+portOf(e.origin.addr)+"/groups;jsessionid=S3CR3T/posts;v=2", nil)
	if resp.StatusCode != http.StatusOK || body != "hello from origin /groups;jsessionid=S3CR3T/posts;v=2" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	r := e.sink.wait(t, byID(resp.Header.Get(headerRequestID)))
	if r.Path != "/groups/posts" {
		t.Errorf("url.path %q", r.Path)
	}
	for in, want := range map[string]string{"/a": "/a", ";x": "", "/a;x": "/a", "/a;x/b;y=1;z/c": "/a/b/c", "/;/": "//"} {
		if got := recordPath(in); got != want {
			t.Errorf("recordPath(%q) = %q, want %q", in, got, want)
		}
	}
}
