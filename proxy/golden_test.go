package proxy

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden block pages in testdata/golden")

// TestBlockPageGolden compares the pages served over the wire with golden
// files (the request id replaced by REQUEST-ID); go test -run
// TestBlockPageGolden -update rewrites them after a deliberate change.
func TestBlockPageGolden(t *testing.T) {
	e := newEnv(t, envConfig{})
	down := closedPort(t)
	html := "Accept: text/html,*/*;q=0.8\r\n"
	for _, c := range []struct{ name, req string }{
		{"no-grant.html", "GET http://www.facebook.com:{H}/a HTTP/1.1\r\nHost: www.facebook.com:{H}\r\n" + html + "{AUTH tlee roads}\r\n"},
		{"no-grant.txt", "GET http://www.facebook.com:{H}/a HTTP/1.1\r\nHost: www.facebook.com:{H}\r\nAccept: */*\r\n{AUTH tlee roads}\r\n"},
		{"sign-in.html", "GET http://facebook.com:{H}/ HTTP/1.1\r\nHost: facebook.com:{H}\r\n" + html + "\r\n"},
		{"banned-connect.txt", "CONNECT tiktok.com:443 HTTP/1.1\r\nHost: tiktok.com:443\r\n{AUTH jsmith secret}\r\n"},
		{"bad-gateway.html", "GET http://example.test:" + down + "/ HTTP/1.1\r\nHost: example.test:" + down + "\r\n" + html + "\r\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := strings.ReplaceAll(c.req, "{H}", portOf(e.origin.addr))
			for _, u := range [][2]string{{"tlee", "roads"}, {"jsmith", "secret"}} {
				req = strings.ReplaceAll(req, "{AUTH "+u[0]+" "+u[1]+"}", "Proxy-Authorization: "+basic(u[0], u[1])+"\r\n")
			}
			resp, body, conn, _ := e.raw("", req)
			if conn != nil {
				conn.Close()
			}
			id := resp.Header.Get(headerRequestID)
			if id == "" {
				t.Fatalf("no request id: %d %q", resp.StatusCode, body)
			}
			got := strings.ReplaceAll(body, id, "REQUEST-ID")
			path := filepath.Join("testdata", "golden", c.name)
			if *updateGolden {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("page differs from %s:\n%s", path, got)
			}
		})
	}
}
