package proxy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// hashOrigin answers every request with the SHA-256 of the body it read
// and its length, and GET .../blob?n=N with N bytes of a fixed pattern.
func hashOrigin(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/blob") {
			n, _ := strconv.Atoi(r.URL.Query().Get("n"))
			if r.URL.Query().Get("chunked") == "" {
				w.Header().Set("Content-Length", strconv.Itoa(n))
			}
			_, _ = io.Copy(w, io.LimitReader(pattern{}, int64(n)))
			return
		}
		h := sha256.New()
		n, _ := io.Copy(h, r.Body)
		fmt.Fprintf(w, "%s %d %s", hex.EncodeToString(h.Sum(nil)), n, r.TransferEncoding)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// pattern is an endless reader of a repeating byte pattern.
type pattern struct{}

func (pattern) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(i * 7)
	}
	return len(p), nil
}

// TestForwardedBodiesIntact: request and answer bodies of every framing
// (length, chunked) and size cross the proxy byte for byte, for an
// allowed social-media user and a site that is not social media.
func TestForwardedBodiesIntact(t *testing.T) {
	e := newEnv(t, envConfig{})
	origin := hashOrigin(t)
	s := e.sideServerEdit(t, func(c string) string {
		return strings.Replace(c, "allowed_ports = [80, 443, ", "allowed_ports = [80, 443, "+portOf(origin)+", ", 1)
	}, nil)
	client := s.client("jsmith", "secret", "")
	for _, host := range []string{"facebook.com", "example.test"} {
		base := "http://" + host + ":" + portOf(origin)
		for _, n := range []int{0, 1, 4096, 3 << 20} {
			body := make([]byte, n)
			_, _ = io.ReadFull(pattern{}, body)
			sum := sha256.Sum256(body)
			for _, chunked := range []bool{false, true} {
				name := fmt.Sprintf("%s %d chunked=%v", host, n, chunked)
				var rd io.Reader = bytes.NewReader(body)
				if chunked {
					rd = io.MultiReader(rd) // hides the length: the client sends chunks
				}
				req, err := http.NewRequest("POST", base+"/CTDCF", rd)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", "application/octet-stream")
				resp, err := client.Do(req)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				want := hex.EncodeToString(sum[:]) + " " + strconv.Itoa(n)
				if err != nil || resp.StatusCode != 200 || !strings.HasPrefix(string(got), want) {
					t.Errorf("%s upload: %d %q %v, want %q", name, resp.StatusCode, got, err, want)
				}

				q := "?n=" + strconv.Itoa(n)
				if chunked {
					q += "&chunked=1"
				}
				resp, err = client.Get(base + "/CTDCF/blob" + q)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				got, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || !bytes.Equal(got, body) {
					t.Errorf("%s download: %d, %d bytes, %v", name, resp.StatusCode, len(got), err)
				}
			}
		}
		resp, err := client.Head(base + "/CTDCF/blob?n=1000")
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.ContentLength != 1000 || len(got) != 0 {
			t.Errorf("%s HEAD: %d, length %d, %d body bytes", host, resp.StatusCode, resp.ContentLength, len(got))
		}
	}
}
