package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/smgate/smgate/allowlist"
)

// adminClient calls the admin API of the gateway that a configuration
// file describes.
type adminClient struct {
	base      string // http://host:port
	token     string
	tokenFile string
	hc        *http.Client
}

// newAdminClient reads admin.listen and admin.token_file from the
// gateway configuration at cfgPath.
func newAdminClient(cfgPath string) (*adminClient, error) {
	cfg, err := allowlist.LoadConfig(cfgPath)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", cfgPath, err)
	}
	base, err := adminBaseURL(cfg.Admin.Listen)
	if err != nil {
		return nil, err
	}
	if cfg.Admin.TokenFile == "" {
		return nil, fmt.Errorf("admin.token_file is not set in %s: the admin API is disabled; give --config (or $SMGATE_CONFIG) the file the running gateway was started with", cfgPath)
	}
	b, err := os.ReadFile(cfg.Admin.TokenFile)
	if err != nil {
		return nil, fmt.Errorf("read the admin token (run as root or as the gateway's user): %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return nil, fmt.Errorf("admin.token_file %s is empty", cfg.Admin.TokenFile)
	}
	// Never through HTTP(S)_PROXY: the request carries the token, and the
	// admin listener is on this host or a management network.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	return &adminClient{base: base, token: tok, tokenFile: cfg.Admin.TokenFile, hc: &http.Client{Timeout: 30 * time.Second, Transport: tr}}, nil
}

// adminBaseURL returns the URL to reach a listener on listen: an
// unspecified host (0.0.0.0, ::, empty) is reached on 127.0.0.1.
func adminBaseURL(listen string) (string, error) {
	if listen == "" {
		return "", errors.New("admin.listen is empty: the admin API is disabled")
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("admin.listen %q: %w", listen, err)
	}
	if port == "0" {
		return "", fmt.Errorf("admin.listen %q has no fixed port to reach", listen)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port), nil
}

// post sends body as JSON to path and decodes a 2xx answer into out. An
// error answer becomes an error with the gateway's message.
func (c *adminClient) post(path string, body, out any) error {
	_, err := c.send(http.MethodPost, path, body, out)
	return err
}

// send sends method to path, with body as JSON unless it is nil, and
// decodes a 2xx answer into out. It returns the status (0 when the
// gateway could not be reached); an error answer becomes an error with
// the gateway's message.
func (c *adminClient) send(method, path string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return 0, fmt.Errorf("build request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("cannot reach the admin API at %s: is smgate serve running? (%w)", c.base, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("read the answer of %s: %w", c.base, err)
	}
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, c.answerError(resp.StatusCode, raw)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return resp.StatusCode, fmt.Errorf("decode the answer of %s: %w", c.base, err)
	}
	return resp.StatusCode, nil
}

// answerError turns an error answer of the admin API into an error.
func (c *adminClient) answerError(code int, raw []byte) error {
	var e errorBody
	if json.Unmarshal(raw, &e) != nil || e.Error == "" {
		return fmt.Errorf("admin API at %s answered %d: %s", c.base, code, strings.TrimSpace(string(raw)))
	}
	msg := e.Error
	switch {
	case code == http.StatusUnauthorized:
		msg = fmt.Sprintf("the gateway refused the token in %s: is it the token_file of the running gateway?", c.tokenFile)
	case e.Suspension != nil && code == http.StatusConflict:
		s := e.Suspension
		msg += fmt.Sprintf(" (since %s by %s: %s)", s.At.Local().Format(time.RFC3339), s.By, s.Reason)
	}
	return fmt.Errorf("%s (HTTP %d)", msg, code)
}
