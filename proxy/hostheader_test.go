package proxy

import (
	"strconv"
	"strings"
	"testing"

	"github.com/smgate/smgate/allowlist"
	"github.com/smgate/smgate/logs"
)

// disagreeNote is the record's note for a Host header h that disagrees
// with the request URI.
func disagreeNote(h string) string {
	return "host header " + strconv.Quote(h) + " disagrees with the request URI; decided on the URI"
}

// TestHostHeaderDisagrees sends raw requests whose Host header names
// another host (or port) than the absolute URI: the request is decided on
// the URI, forwarded with the URI's host, and the record and the
// operational log note the disagreement.
func TestHostHeaderDisagrees(t *testing.T) {
	e := newEnv(t, envConfig{})
	h := portOf(e.origin.addr)
	for _, c := range []struct {
		name     string
		uri      string
		header   string
		user     string
		pass     string
		status   int
		reason   allowlist.Reason
		platform string
	}{
		{"social uri, other header", "facebook.com:" + h, "example.test:" + h, "tlee", "roads", 403, allowlist.ReasonNoGrant, "facebook"},
		{"social uri, granted", "facebook.com:" + h, "example.test", "bjones", "hunter2", 200, allowlist.ReasonAllowedGrant, "facebook"},
		{"other port", "facebook.com:" + h, "facebook.com:9999", "bjones", "hunter2", 200, allowlist.ReasonAllowedGrant, "facebook"},
		// Not social media by its URI, so forwarded without credentials;
		// the header names a platform, so the request gets a record.
		{"social header", "example.test:" + h, "www.facebook.com", "", "", 200, allowlist.ReasonAllowedNotSocial, ""},
		{"bypass header", "example.test:" + h, "dns.google", "", "", 200, allowlist.ReasonAllowedNotSocial, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := len(e.origin.requests())
			req := "GET http://" + c.uri + "/CTDCF HTTP/1.1\r\nHost: " + c.header + "\r\n"
			if c.user != "" {
				req += "Proxy-Authorization: " + basic(c.user, c.pass) + "\r\n"
			}
			resp, body, _, _ := e.raw("", req+"\r\n")
			if resp.StatusCode != c.status {
				t.Fatalf("got %d, want %d: %q", resp.StatusCode, c.status, body)
			}
			id := resp.Header.Get(headerRequestID)
			r := e.sink.wait(t, byID(id))
			if r.Reason != string(c.reason) || r.Platform != c.platform || r.Domain != strings.Split(c.uri, ":")[0] ||
				r.Message != disagreeNote(c.header) {
				t.Errorf("record %+v", r)
			}
			if !strings.Contains(e.oplog.String(), `"request_id":"`+id+`"`) ||
				!strings.Contains(e.oplog.String(), `"host_header":`+strconv.Quote(c.header)) {
				t.Errorf("operational log lacks the disagreement of %s:\n%s", id, e.oplog.String())
			}
			reqs := e.origin.requests()
			if c.status != 200 {
				if len(reqs) != before {
					t.Errorf("a blocked request reached the origin")
				}
				return
			}
			if len(reqs) != before+1 || reqs[len(reqs)-1].Host != c.uri {
				t.Errorf("origin got Host %q, want the URI's %q", reqs[len(reqs)-1].Host, c.uri)
			}
		})
	}
}

// TestHostHeaderNotedPerRequest: on one keep-alive connection (a chunked
// POST, a disagreeing GET, an agreeing GET), only the request whose header
// disagrees is noted: the scanner stays in step with the requests.
func TestHostHeaderNotedPerRequest(t *testing.T) {
	e := newEnv(t, envConfig{})
	h := portOf(e.origin.addr)
	auth := "Proxy-Authorization: " + basic("jsmith", "secret") + "\r\n"
	post := "POST http://facebook.com:" + h + "/CTDCF HTTP/1.1\r\nHost: facebook.com:" + h + "\r\n" + auth +
		"Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"3\r\na=b\r\n10\r\nHost: other.test\r\n0\r\n\r\n" // a body that looks like a header line
	bad := "GET http://facebook.com:" + h + "/CTDCF HTTP/1.1\r\nHost: evil.example\r\n" + auth + "\r\n"
	good := "GET http://facebook.com:" + h + "/CTDCF HTTP/1.1\r\nhost: FACEBOOK.com.:" + h + "\r\n" + auth + "\r\n"
	resps := e.pipeline(post + bad + good + post)
	want := []string{"", disagreeNote("evil.example"), "", ""}
	for i, resp := range resps {
		if resp.StatusCode != 200 {
			t.Errorf("request %d: status %d", i, resp.StatusCode)
			continue
		}
		r := e.sink.wait(t, byID(resp.Header.Get(headerRequestID)))
		if r.Message != want[i] || r.Action != logs.ActionHTTPRequest {
			t.Errorf("request %d: record message %q, want %q", i, r.Message, want[i])
		}
	}
}

// TestHostHeaderNoteBounded: a long disagreeing Host header is noted cut
// to 256 bytes, so a client cannot bloat the usage log with it.
func TestHostHeaderNoteBounded(t *testing.T) {
	e := newEnv(t, envConfig{})
	long := strings.Repeat("a", 60) + "." + strings.Repeat("b", 60) + "." + strings.Repeat("c", 60) + "." +
		strings.Repeat("d", 60) + "." + strings.Repeat("e", 60) + ".example"
	req := "GET http://facebook.com:" + portOf(e.origin.addr) + "/ HTTP/1.1\r\nHost: " + long + "\r\nProxy-Authorization: " +
		basic("tlee", "roads") + "\r\n\r\n"
	resp, _, _, _ := e.raw("", req)
	r := e.sink.wait(t, byID(resp.Header.Get(headerRequestID)))
	if r.Message != disagreeNote(long[:256]) {
		t.Errorf("record message %q", r.Message)
	}
}

// TestHostHeaderFolded: a Host header folded onto a continuation line
// (obs-fold, which net/http still joins) is seen as net/http sees it, so
// folding cannot hide a disagreeing header that names a platform.
func TestHostHeaderFolded(t *testing.T) {
	e := newEnv(t, envConfig{})
	uri := "example.test:" + portOf(e.origin.addr)
	resp, body, _, _ := e.raw("", "GET http://"+uri+"/ HTTP/1.1\r\nHost:\r\n www.facebook.com\r\n\r\n")
	if resp.StatusCode != 200 {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	r := e.sink.wait(t, byID(resp.Header.Get(headerRequestID)))
	if r.Message != disagreeNote("www.facebook.com") || r.Reason != string(allowlist.ReasonAllowedNotSocial) {
		t.Errorf("record %+v", r)
	}
}
