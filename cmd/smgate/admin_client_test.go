package main

import (
	"net/http"
	"testing"
)

// TestAdminClientIgnoresProxyEnvironment: the CLI talks to the admin API
// directly. An HTTP_PROXY set in the operator's shell (to reach the
// internet, or the gateway itself) must not receive the request and its
// bearer token: Go exempts only loopback addresses and "localhost" from
// it, not an admin listener on a management network. (A request is not
// sent here: the address is not on this host, and Go reads the proxy
// environment once per process.)
func TestAdminClientIgnoresProxyEnvironment(t *testing.T) {
	path := adminConfig(t, true)
	editFile(t, path, "[admin]\nlisten = \"127.0.0.1:0\"", "[admin]\nlisten = \"192.0.2.10:8088\"")
	c, err := newAdminClient(path)
	if err != nil {
		t.Fatal(err)
	}
	tr, ok := c.hc.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("admin client transport %T: the default one follows HTTP_PROXY", c.hc.Transport)
	}
	if tr.Proxy != nil {
		t.Error("the admin client's transport has a proxy function: requests with the token may go through HTTP_PROXY")
	}
}
