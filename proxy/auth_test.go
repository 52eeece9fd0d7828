package proxy

import (
	"bufio"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/smgate/smgate/allowlist"
)

func TestChallengeThenCredentials(t *testing.T) {
	e := newEnv(t, envConfig{})
	url := "http://facebook.com:" + portOf(e.origin.addr) + "/"
	resp, body := e.do(e.client("", "", ""), "GET", url, http.Header{"Accept": {"text/html"}})
	if resp.StatusCode != http.StatusProxyAuthRequired || resp.Header.Get("Proxy-Authenticate") != `Basic realm="smgate"` {
		t.Fatalf("got %d %v", resp.StatusCode, resp.Header)
	}
	if !strings.Contains(body, titleSignIn) || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("407 page: %s", body)
	}
	if resp, _ := e.do(e.client("bjones", "hunter2", ""), "GET", url, nil); resp.StatusCode != 200 {
		t.Fatalf("with credentials: %d", resp.StatusCode)
	}
}

// TestWrongPasswordAfterCachedRight: the cache is keyed by the whole
// credential, so a cached right password does not let a wrong one in.
func TestWrongPasswordAfterCachedRight(t *testing.T) {
	e := newEnv(t, envConfig{})
	for i, c := range []struct {
		pass   string
		status int
	}{{"hunter2", 200}, {"hunter2", 200}, {"wrong", 407}, {"hunter", 407}, {"hunter2x", 407}, {"hunter2", 200}} {
		w := wireCase{user: "bjones", pass: c.pass, method: "GET", target: "http://facebook.com:{H}/"}
		if resp, body, _, _ := e.raw("", e.request(w)); resp.StatusCode != c.status {
			t.Errorf("request %d with %q: got %d, want %d: %s", i, c.pass, resp.StatusCode, c.status, body)
		}
	}
	if n := testutil.ToFloat64(e.srv.m.authFailures.WithLabelValues(authCausePassword)); n != 3 {
		t.Errorf("bad-password failures counted %v, want 3", n)
	}
}

// TestPasswordChangeInvalidatesCache: a reload with a new hash for the user
// makes the cached credential count for nothing.
func TestPasswordChangeInvalidatesCache(t *testing.T) {
	e := newEnv(t, envConfig{})
	w := wireCase{user: "bjones", pass: "hunter2", method: "GET", target: "http://facebook.com:{H}/"}
	if resp, _, _, _ := e.raw("", e.request(w)); resp.StatusCode != 200 {
		t.Fatalf("got %d", resp.StatusCode)
	}
	e.rewritePolicy(t, "directory.toml", "$2a$04$C5oLc9NAnjlp0vVAX0ZD8eK.o1Pl25/NWuaYqS/dF4Pi/pyfucNjC", // hunter2
		"$2a$04$SfYo5PUoV3/StwYo9AehmOny7i6k5m5rvF6JxMr50xVV/R2Vq/FGy") // hoot
	if resp, _, _, _ := e.raw("", e.request(w)); resp.StatusCode != 407 {
		t.Fatalf("old password after the change: got %d", resp.StatusCode)
	}
	w.pass = "hoot"
	if resp, _, _, _ := e.raw("", e.request(w)); resp.StatusCode != 200 {
		t.Fatalf("new password: got %d", resp.StatusCode)
	}
}

func TestFailedSignInsAreRateLimited(t *testing.T) {
	e := newEnv(t, envConfig{})
	w := wireCase{user: "bjones", pass: "nope", method: "GET", target: "http://facebook.com:{H}/"}
	for i := 0; i < failBurstUser; i++ {
		if resp, _, _, _ := e.raw("", e.request(w)); resp.StatusCode != 407 {
			t.Fatalf("failure %d: got %d", i, resp.StatusCode)
		}
	}
	w.pass = "hunter2" // right, but not cached: no bcrypt for a limited user
	resp, body, _, _ := e.raw("127.0.0.4", e.request(w))
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" ||
		!strings.Contains(body, accessLimited) {
		t.Fatalf("limited user: got %d %v %s", resp.StatusCode, resp.Header, body)
	}
	r := e.sink.wait(t, byID(resp.Header.Get(headerRequestID)))
	if r.Reason != string(allowlist.ReasonUnauthenticated) || r.Status != 429 || r.User != "" {
		t.Errorf("record %+v", r)
	}
	// Another user from a fresh address is not limited; the per-address
	// budget holds for everyone behind the flooding address.
	if resp, _, _, _ := e.raw("127.0.0.4", e.request(wireCase{user: "jsmith", pass: "secret", method: "GET", target: "http://facebook.com:{H}/CTDCF"})); resp.StatusCode != 200 {
		t.Fatalf("other user: got %d", resp.StatusCode)
	}
	for i := 0; i < failBurstIP; i++ {
		e.raw("127.0.0.5", e.request(wireCase{user: "u" + string(rune('a'+i)), pass: "x", method: "GET", target: "http://facebook.com:{H}/"}))
	}
	if resp, _, _, _ := e.raw("127.0.0.5", e.request(wireCase{user: "tlee", pass: "roads", method: "GET", target: "http://youtube.com:{H}/CTDOT"})); resp.StatusCode != 429 {
		t.Fatalf("limited address: got %d", resp.StatusCode)
	}
	if n := testutil.ToFloat64(e.srv.m.authFailures.WithLabelValues(authCauseLimited)); n != 2 {
		t.Errorf("rate-limited failures counted %v, want 2", n)
	}
}

// TestIdentityIgnoresForwardedFor: X-Forwarded-For and friends never
// stand for the client address that IP bindings use.
func TestIdentityIgnoresForwardedFor(t *testing.T) {
	e := newEnv(t, envConfig{})
	resp, _ := e.do(e.client("", "", ""), "GET", "http://facebook.com:"+portOf(e.origin.addr)+"/",
		http.Header{"X-Forwarded-For": {"127.0.0.3"}, "X-Real-Ip": {"127.0.0.3"}, "Forwarded": {"for=127.0.0.3"}})
	if resp.StatusCode != http.StatusProxyAuthRequired {
		t.Fatalf("got %d", resp.StatusCode)
	}
}

// TestIdentityPerRequest: one keep-alive connection carries two users'
// requests; each is decided as its own user.
func TestIdentityPerRequest(t *testing.T) {
	e := newEnv(t, envConfig{})
	a := wireCase{user: "bjones", pass: "hunter2", method: "GET", target: "http://facebook.com:{H}/"}
	b := wireCase{user: "tlee", pass: "roads", method: "GET", target: "http://facebook.com:{H}/"}
	c := wireCase{method: "GET", target: "http://facebook.com:{H}/"}
	resps := e.pipeline(e.request(a) + e.request(b) + e.request(c) + e.request(a))
	want := []int{200, 403, 407, 200}
	for i, r := range resps {
		if r.StatusCode != want[i] {
			t.Errorf("request %d: got %d, want %d", i, r.StatusCode, want[i])
		}
	}
}

func TestBadCredentialsDoNotMatterOffSocialMedia(t *testing.T) {
	e := newEnv(t, envConfig{})
	w := wireCase{user: "bjones", pass: "wrong", method: "GET", target: "http://example.test:{H}/"}
	if resp, _, _, _ := e.raw("", e.request(w)); resp.StatusCode != 200 {
		t.Fatalf("got %d", resp.StatusCode)
	}
	if n := testutil.ToFloat64(e.srv.m.authFailures.WithLabelValues(authCausePassword)); n != 0 {
		t.Errorf("credentials checked for a site that is not social media")
	}
	if h := e.origin.requests()[0].Header.Get("Proxy-Authorization"); h != "" {
		t.Errorf("Proxy-Authorization reached the origin: %q", h)
	}
}

// TestConcurrentWrongPasswordsStayWithinBudget: wrong passwords sent on
// many connections at once get no more bcrypt runs than the user's budget
// holds; the budget is spent before the check, not after its failure.
func TestConcurrentWrongPasswordsStayWithinBudget(t *testing.T) {
	e := newEnv(t, envConfig{})
	const n = 3 * failBurstUser
	conns := make([]net.Conn, n)
	for i := range conns {
		c, err := net.DialTimeout("tcp", e.proxy, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		conns[i] = c
	}
	for i, c := range conns { // every request is on the wire before any answer is read
		w := wireCase{user: "bjones", pass: "wrong" + strconv.Itoa(i), method: "GET", target: "http://facebook.com:{H}/"}
		if _, err := io.WriteString(c, e.request(w)); err != nil {
			t.Fatal(err)
		}
	}
	got := map[int]int{}
	for _, c := range conns {
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got[resp.StatusCode]++
	}
	if got[407] > failBurstUser || got[407]+got[429] != n {
		t.Errorf("answers %v: want at most %d 407 and the rest 429", got, failBurstUser)
	}
	if runs := testutil.ToFloat64(e.srv.m.authFailures.WithLabelValues(authCausePassword)); runs > failBurstUser {
		t.Errorf("%v wrong passwords checked with bcrypt, budget %d", runs, failBurstUser)
	}
	// A right password checked meanwhile gives its token back: the user's
	// budget is not spent by signing in.
	a, snap := newAuthenticator(1), e.srv.engine.Snapshot()
	h := "Basic " + base64.StdEncoding.EncodeToString([]byte("jsmith:secret"))
	for i := 0; i < 2*failBurstUser; i++ {
		a.cache = newAuthCache(authCacheSize) // every sign-in runs bcrypt
		if user, res, _ := a.check(h, snap, netip.MustParseAddr("127.0.0.9"), testNow); res != authOK || user != "jsmith" {
			t.Fatalf("sign-in %d: %q %v", i, user, res)
		}
	}
}

func TestFailLimiterRefills(t *testing.T) {
	l := newFailLimiter(2, time.Second, 10)
	now := testNow
	for i := 0; i < 2; i++ {
		if ok, _ := l.take("k", now); !ok {
			t.Fatalf("take %d refused", i)
		}
	}
	if ok, wait := l.take("k", now); ok || wait != time.Second {
		t.Fatalf("third take = %v, wait %v", ok, wait)
	}
	l.refund("k", now)
	if ok, _ := l.take("k", now); !ok {
		t.Fatal("refunded token not there")
	}
	if ok, _ := l.take("k", now.Add(time.Second)); !ok {
		t.Fatal("no token back after a second")
	}
	for i := 0; i < 30; i++ {
		l.failed(string(rune('a'+i)), now)
	}
	if len(l.m) > 10 {
		t.Errorf("limiter holds %d keys, max 10", len(l.m))
	}
}
