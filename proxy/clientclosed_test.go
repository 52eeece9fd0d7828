package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/smgate/smgate/logs"
)

// TestClientClosedIsNotAnUpstreamFailure: a client that hangs up while the
// origin has not answered yet is recorded as such (499, client_closed),
// not as a 502 of an upstream that failed.
func TestClientClosedIsNotAnUpstreamFailure(t *testing.T) {
	e := newEnv(t, envConfig{})
	hang, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	defer hang.Close()
	go func() {
		for {
			c, err := hang.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
					arrived <- struct{}{}
				}
				<-release // never answers
			}()
		}
	}()
	defer close(release)
	port := portOf(hang.Addr().String())
	s := e.sideServerEdit(t, func(cfg string) string {
		return strings.Replace(cfg, "allowed_ports = [80, 443, ", "allowed_ports = [80, 443, "+port+", ", 1)
	}, nil)

	c, err := net.Dial("tcp", s.proxy)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET http://facebook.com:"+port+"/ HTTP/1.1\r\nHost: facebook.com:"+port+
		"\r\nProxy-Authorization: "+basic("bjones", "hunter2")+"\r\n\r\n")
	<-arrived
	c.Close()

	r := s.sink.wait(t, func(r *logs.Record) bool { return r.Platform == "facebook" && r.DestPort != 0 })
	if r.Status != statusClientClosed || r.Message != "gateway: client_closed" || r.Outcome != logs.OutcomeAllowed {
		t.Errorf("record of a request whose client hung up: status %d, message %q, outcome %s", r.Status, r.Message, r.Outcome)
	}
}
