package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smgate/smgate/allowlist"
	"github.com/smgate/smgate/logs"
)

// TestBlockPageContent: a blocked plain-HTTP request gets a 403 page, HTML
// for a browser and plain text for curl, that names the platform, says why
// in words, what the policy requires and how to ask for access, and shows
// the request id that is the usage record's event.id.
func TestBlockPageContent(t *testing.T) {
	e := newEnv(t, envConfig{})
	url := "http://www.facebook.com:" + portOf(e.origin.addr) + "/some/page"
	for _, c := range []struct {
		name   string
		accept string
		ctype  string
	}{
		{"browser", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "text/html; charset=utf-8"},
		{"curl", "*/*", "text/plain; charset=utf-8"},
		{"no accept", "", "text/plain; charset=utf-8"},
	} {
		t.Run(c.name, func(t *testing.T) {
			hdr := http.Header{}
			if c.accept != "" {
				hdr.Set("Accept", c.accept)
			}
			resp, body := e.do(e.client("tlee", "roads", ""), "GET", url, hdr)
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("status %d, body %q", resp.StatusCode, body)
			}
			if got := resp.Header.Get("Content-Type"); got != c.ctype {
				t.Errorf("Content-Type %q, want %q", got, c.ctype)
			}
			if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("page may be cached or sniffed: %v", resp.Header)
			}
			id := resp.Header.Get(headerRequestID)
			if id == "" {
				t.Fatal("no request id header")
			}
			if got := resp.Header.Get(headerReason); got != string(allowlist.ReasonNoGrant) {
				t.Errorf("%s = %q", headerReason, got)
			}
			for _, want := range []string{
				"Facebook",         // the platform's display name
				"www.facebook.com", // the host asked for
				escapeFor(c.ctype, allowlist.ReasonNoGrant.Explain()),
				escapeFor(c.ctype, policyRequires),
				escapeFor(c.ctype, accessDefault),
				id,
				string(allowlist.ReasonNoGrant),
				"tlee",                 // signed in as
				"2026-06-03T14:00:00Z", // when
				"gw-test",              // which gateway
			} {
				if !strings.Contains(body, want) {
					t.Errorf("page lacks %q:\n%s", want, body)
				}
			}
			if strings.HasPrefix(c.ctype, "text/html") != strings.Contains(body, "<!DOCTYPE html>") {
				t.Errorf("body is not the %s page:\n%s", c.ctype, body)
			}
			r := e.sink.wait(t, byID(id))
			if r.Action != logs.ActionHTTPRequest || r.Outcome != logs.OutcomeBlocked ||
				r.Reason != string(allowlist.ReasonNoGrant) || r.Status != http.StatusForbidden ||
				r.Platform != "facebook" || r.Domain != "www.facebook.com" || r.Path != "/some/page" ||
				r.User != "tlee" || r.Agency != "DOT" || r.Method != "GET" || r.NotEnforced {
				t.Errorf("record %+v", r)
			}
		})
	}
	if n := len(e.origin.requests()); n != 0 {
		t.Errorf("origin got %d blocked requests", n)
	}
}

// escapeFor returns s as the page of content type ctype shows it.
func escapeFor(ctype, s string) string {
	if strings.HasPrefix(ctype, "text/html") {
		return strings.NewReplacer("'", "&#39;", `"`, "&#34;", "&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
	}
	return s
}

// TestBlockPageAccessAdvice: the "what you can do" text follows the
// reason: sign in, acknowledge the policy, ask the coordinator for access
// when a grant would help, and not when no grant can (a ban, a
// suspension, a port).
func TestBlockPageAccessAdvice(t *testing.T) {
	e := newEnv(t, envConfig{})
	if _, err := e.engine.Suspend(allowlist.ScopePlatform, "instagram", "test", "tester"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.engine.Suspend(allowlist.ScopeAgency, "DOT", "test", "tester"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name       string
		user, pass string
		target     string
		status     int
		title      string
		access     string
	}{
		{"unauthenticated", "", "", "http://facebook.com:{H}/", http.StatusProxyAuthRequired, titleSignIn, accessSignIn},
		{"not acknowledged", "newbie", "fresh", "http://facebook.com:{H}/", http.StatusForbidden, titleBlocked, accessAck},
		{"no grant", "jsmith", "secret", "http://youtube.com:{H}/", http.StatusForbidden, titleBlocked, accessDefault},
		{"banned", "jsmith", "secret", "http://tiktok.com:{H}/", http.StatusForbidden, titleBlocked, accessBanned},
		{"platform suspended", "bjones", "hunter2", "http://instagram.com:{H}/", http.StatusForbidden, titleBlocked, accessSuspended},
		{"agency suspended", "tlee", "roads", "http://youtube.com:{H}/CTDOT", http.StatusForbidden, titleBlocked, accessSuspended},
		{"port", "bjones", "hunter2", "http://facebook.com:8443/", http.StatusForbidden, titleBlocked, accessPort},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, body, _, _ := e.raw("", e.request(wireCase{user: c.user, pass: c.pass, method: "GET", target: c.target}))
			if resp.StatusCode != c.status || !strings.Contains(body, c.title) || !strings.Contains(body, c.access) {
				t.Fatalf("got %d, want %d with %q and %q:\n%s", resp.StatusCode, c.status, c.title, c.access, body)
			}
			if c.access != accessDefault && strings.Contains(body, accessDefault) {
				t.Errorf("page advises requesting access where no grant helps:\n%s", body)
			}
			e.sink.wait(t, byID(resp.Header.Get(headerRequestID)))
		})
	}
}

// TestBlockPageEscapesHostileNames: names that reach a page are escaped in
// HTML; hostile host names never reach a decision at all.
func TestBlockPageEscapesHostileNames(t *testing.T) {
	e := newEnv(t, envConfig{})
	const hostile = `<script>alert("x")</script> & Co`
	e.rewritePolicy(t, "platforms.toml", `name = "Bücher"`, `name = "Bücher `+strings.ReplaceAll(hostile, `"`, `\"`)+`"`)
	t.Run("platform name", func(t *testing.T) {
		req := "GET http://xn--bcher-kva.example:" + portOf(e.origin.addr) + "/ HTTP/1.1\r\nHost: xn--bcher-kva.example:" +
			portOf(e.origin.addr) + "\r\nProxy-Authorization: " + basic("bjones", "hunter2") + "\r\nAccept: text/html\r\n\r\n"
		resp, body, _, _ := e.raw("", req)
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		if strings.Contains(body, "<script>") || !strings.Contains(body, "Bücher &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co") {
			t.Errorf("platform name not escaped:\n%s", body)
		}
	})
	for _, target := range []string{
		`http://<script>alert(1)<`,
		`http://"onmouseover=alert(1)".facebook.com`,
		`http://<b>.facebook.com`,
		`http://%EF%BC%9Cscript%EF%BC%9E.facebook.com`, // full-width < and >, which IDNA maps to ASCII
	} {
		t.Run(target, func(t *testing.T) {
			req := "GET " + target + "/ HTTP/1.1\r\nHost: example.test\r\nAccept: text/html\r\n\r\n"
			resp, body, _, _ := e.raw("", req)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, explainBadRequest) {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			for _, bad := range []string{"<script", `"onmouseover`, "<b>", "alert"} {
				if strings.Contains(body, bad) {
					t.Errorf("page holds %q:\n%s", bad, body)
				}
			}
		})
	}
	t.Run("connect", func(t *testing.T) {
		resp, body, _, _ := e.raw("", "CONNECT <script>x:443 HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp.StatusCode != http.StatusBadRequest || strings.Contains(body, "<script") {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
	})
}

// TestPageRenderEscapes renders a page whose every field is hostile: the
// HTML form escapes all of them, the text form keeps them as text.
func TestPageRenderEscapes(t *testing.T) {
	const x = `<script>alert('&')</script>`
	p := &page{Status: 403, Title: x, Platform: x, Host: x, Reason: x, Explain: x, Requires: x,
		Access: x, ID: x, User: x, Time: x, Gateway: x}
	html, ctype := p.render(true)
	if ctype != "text/html; charset=utf-8" {
		t.Fatalf("content type %q", ctype)
	}
	if strings.Contains(string(html), "<script>") {
		t.Errorf("HTML page holds a raw field:\n%s", html)
	}
	if n := strings.Count(string(html), "&lt;script&gt;alert(&#39;&amp;&#39;)&lt;/script&gt;"); n < 12 {
		t.Errorf("%d escaped fields in the HTML page, want every one:\n%s", n, html)
	}
	text, ctype := p.render(false)
	if ctype != "text/plain; charset=utf-8" || strings.Count(string(text), x) < 11 {
		t.Errorf("text page %q:\n%s", ctype, text)
	}
}

// TestBlockPageForLargeUpload: a blocked upload gets its block page even
// while the client is still sending a body far larger than the proxy
// reads, with and without Expect: 100-continue; nothing reaches the origin.
func TestBlockPageForLargeUpload(t *testing.T) {
	e := newEnv(t, envConfig{})
	const size = 64 << 20
	for _, expect := range []bool{false, true} {
		c, err := net.Dial("tcp", e.proxy)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		head := "PUT http://facebook.com:" + portOf(e.origin.addr) + "/upload HTTP/1.1\r\nHost: facebook.com:" + portOf(e.origin.addr) +
			"\r\nProxy-Authorization: " + basic("bjones", "hunter2") + "\r\nContent-Type: video/mp4\r\nContent-Length: " + strconv.Itoa(size) + "\r\n"
		if expect {
			head += "Expect: 100-continue\r\n"
		}
		if _, err := io.WriteString(c, head+"\r\n"); err != nil {
			t.Fatal(err)
		}
		if !expect {
			go func() { _, _ = io.Copy(c, io.LimitReader(zeroReader{}, size)) }() // fails once the proxy closes
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("expect %v: %v", expect, err)
		}
		body, err := io.ReadAll(resp.Body)
		c.Close()
		if err != nil || resp.StatusCode != http.StatusForbidden || resp.Header.Get(headerReason) != string(allowlist.ReasonActionNotGranted) ||
			!strings.Contains(string(body), allowlist.ReasonActionNotGranted.Explain()) {
			t.Errorf("expect %v: %d %s %v %q", expect, resp.StatusCode, resp.Header.Get(headerReason), err, body)
		}
	}
	if n := len(e.origin.requests()); n != 0 {
		t.Errorf("origin got %d requests", n)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
