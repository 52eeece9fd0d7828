package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/rs/zerolog"

	"github.com/smgate/smgate/internal/geoip/geoiptest"
	"github.com/smgate/smgate/logs"
)

// facebookASN is Meta's autonomous system, listed for facebook in the
// shipped catalogue.
const facebookASN = 32934

// proxyGatewayConfig copies configs/ for a gateway whose proxy can reach
// origin (a loopback server: only 127.0.0.2 stays denied) and no DNS
// filter; withGeo adds ASN and country databases that place 127.0.0.0/24
// in Meta's network. It returns the gateway file.
func proxyGatewayConfig(t *testing.T, origin string, withGeo bool) string {
	t.Helper()
	_, port, _ := net.SplitHostPort(origin)
	path := adminConfig(t, false)
	editFile(t, path,
		`allowed_ports = [80, 443]`, `allowed_ports = [80, 443, `+port+`]`,
		`deny_destinations = ["127.0.0.0/8", "::1/128", "169.254.0.0/16", "fe80::/10", "0.0.0.0/8"]`, `deny_destinations = ["127.0.0.2/32"]`,
		`[dns]
listen = "127.0.0.1:0"`, `[dns]
listen = ""`)
	if withGeo {
		asn := geoiptest.WriteASN(t, map[string]uint32{"127.0.0.0/24": facebookASN})
		country := geoiptest.WriteCountry(t, map[string]string{"127.0.0.0/24": "US"})
		editFile(t, path, `country_db = ""`, `country_db = "`+country+`"`, `asn_db = ""`, `asn_db = "`+asn+`"`)
	}
	return path
}

// requestRecords returns the http_request records in the usage log of a
// stopped gateway.
func requestRecords(t *testing.T, g *gateway) []logs.Record {
	t.Helper()
	var out []logs.Record
	_, err := logs.Search(g.cfg.Logs.Dir, logs.Query{}, func(_ []byte, r *logs.Record) error {
		if r.Action == logs.ActionHTTPRequest {
			out = append(out, *r)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// proxyClient returns a client that sends every request through the
// gateway's proxy (as tlee, whom the shipped directory binds to 127.0.0.1).
func proxyClient(g *gateway) *http.Client {
	u := &url.URL{Scheme: "http", Host: g.ls.proxy.Addr().String()}
	return &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(u), DisableKeepAlives: true}}
}

// TestServeProxyASN runs the gateway's proxy with an ASN database: an IP
// literal in a platform's network is decided as that platform in every
// spelling, and the record carries the destination's AS and country.
func TestServeProxyASN(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "origin saw %s", r.URL.Path)
	}))
	defer origin.Close()
	_, port, _ := net.SplitHostPort(origin.Listener.Addr().String())
	g, stop := runGateway(t, proxyGatewayConfig(t, origin.Listener.Addr().String(), true))
	c := proxyClient(g)

	// tlee's role grants the DOT Facebook account: its page is allowed.
	for _, host := range []string{"127.0.0.1", "2130706433", "0x7f.1", "[::ffff:127.0.0.1]"} {
		resp, err := c.Get("http://" + host + ":" + port + "/CTDOT")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != "origin saw /CTDOT" {
			t.Errorf("GET %s/CTDOT (Facebook by ASN, granted account): %d %q", host, resp.StatusCode, body)
		}
	}
	// Another agency's page at the same addresses is not granted.
	resp, err := c.Get("http://2130706433:" + port + "/CTDCF")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "Facebook") {
		t.Errorf("GET 2130706433/CTDCF (Facebook by ASN, not granted): %d %q", resp.StatusCode, body)
	}
	stop()

	recs := requestRecords(t, g)
	var allowed, blocked int
	for _, r := range recs {
		if r.Platform != "facebook" || r.User != "tlee" {
			t.Errorf("record %s: platform %q user %q, want facebook and tlee", r.ID, r.Platform, r.User)
		}
		switch r.Outcome {
		case logs.OutcomeAllowed:
			allowed++
			if r.Account != "dot-facebook" || r.ASN != facebookASN || r.Country != "US" || r.DestIP.String() != "127.0.0.1" {
				t.Errorf("allowed record %s: account %q, destination %s AS %d country %q; want dot-facebook, 127.0.0.1, AS %d, US",
					r.ID, r.Account, r.DestIP, r.ASN, r.Country, facebookASN)
			}
		default:
			blocked++
			if r.ASN != facebookASN || r.Reason == "" {
				t.Errorf("blocked record %s: AS %d reason %q", r.ID, r.ASN, r.Reason)
			}
		}
	}
	if allowed != 4 || blocked != 1 {
		t.Errorf("usage log has %d allowed and %d blocked requests, want 4 and 1:\n%+v", allowed, blocked, recs)
	}
}

// TestServeDrainsOnShutdown ends serve (what SIGTERM does) while a request
// is in flight: the listener stops taking connections at once, and the
// request in flight still completes.
func TestServeDrainsOnShutdown(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, "finished")
	}))
	defer origin.Close()
	path := proxyGatewayConfig(t, origin.Listener.Addr().String(), false)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready, done := make(chan *gateway, 1), make(chan error, 1)
	go func() { done <- serve(ctx, path, zerolog.Nop(), ready) }()
	var g *gateway
	select {
	case g = <-ready:
	case err := <-done:
		t.Fatalf("serve stopped before it was ready: %v", err)
	}
	proxyAddr := g.ls.proxy.Addr().String()

	// A request to a site that is not social media, through the proxy.
	conn, err := net.Dial("tcp", proxyAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET http://%s/slow HTTP/1.1\r\nHost: %s\r\n\r\n", origin.Listener.Addr(), origin.Listener.Addr())
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the request did not reach the origin through the proxy")
	}

	cancel()
	waitFor(t, 10*time.Second, "the proxy to stop accepting", func() bool {
		c, err := net.Dial("tcp", proxyAddr)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	close(release)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the request in flight was cut by the shutdown: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(body) != "finished" {
		t.Errorf("request in flight during shutdown: %d %q", resp.StatusCode, body)
	}
	if resp.Header.Get("Connection") != "close" && !resp.Close {
		t.Error("the response during shutdown does not close the connection")
	}
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
}

// TestServeRefusesWhatIsNotBuilt: a transparent listener or TLS
// interception asked for in the config stops serve with an error naming
// the key, rather than a port nobody serves or account rules silently
// applied at platform level.
func TestServeRefusesWhatIsNotBuilt(t *testing.T) {
	for _, tc := range []struct {
		edits []string
		want  string
	}{
		{[]string{`transparent_listen = ""`, `transparent_listen = "127.0.0.1:0"`}, "proxy.transparent_listen"},
		{[]string{"enabled = false\nca_cert = \"\"\nca_key = \"\"", "enabled = true\nca_cert = \"ca.pem\"\nca_key = \"ca.key\""}, "proxy.intercept.enabled"},
	} {
		path := adminConfig(t, false)
		editFile(t, path, tc.edits...)
		err := serve(context.Background(), path, zerolog.Nop(), nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("serve with %s set: %v; want an error naming it", tc.want, err)
		}
	}
}

// TestServeProxyResolvesThroughTheDNSCache: with the DNS filter running,
// the proxy's name lookups share its cache, so a tunnel or request to a
// name asked before costs no upstream question, whichever front door
// asked first.
func TestServeProxyResolvesThroughTheDNSCache(t *testing.T) {
	e := startOpsGateway(t)
	const fb = "www.facebook.com"
	for range 2 {
		code, tn := e.connect(t, fb)
		if code != http.StatusOK {
			t.Fatalf("CONNECT %s = %d", fb, code)
		}
		if code, body := tn.roundTrip(t, fb, "/CTDOT"); code != http.StatusOK || !strings.HasSuffix(body, "/CTDOT") {
			t.Fatalf("through the tunnel: %d %q", code, body)
		}
	}
	if code, reason, _ := e.get(t, e.client(t), fb, "/CTDOT"); code != http.StatusOK {
		t.Fatalf("GET %s/CTDOT = %d %s", fb, code, reason)
	}
	if r := e.dnsQuery(t, "udp", fb); !answered(r) {
		t.Fatalf("DNS %s = %s", fb, r)
	}
	for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
		if n := e.asked(fb+".", qt); n != 1 {
			t.Errorf("the upstream resolver was asked %s %s %d times, want 1", fb, dns.TypeToString[qt], n)
		}
	}
}
