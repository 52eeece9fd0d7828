package proxy

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smgate/smgate/allowlist"
	"github.com/smgate/smgate/logs"
)

// testClock is a clock that tests move.
type testClock struct{ t atomic.Pointer[time.Time] }

func newTestClock(t time.Time) *testClock {
	c := &testClock{}
	c.set(t)
	return c
}

func (c *testClock) set(t time.Time) { c.t.Store(&t) }
func (c *testClock) now() time.Time  { return *c.t.Load() }

// TestScheduleEndClosesTunnel: a tunnel let through inside a schedule
// window is closed when the window ends (the minute clock re-decides
// open flows), as a suspension would close it, and its record says why.
func TestScheduleEndClosesTunnel(t *testing.T) {
	// owl's role grants YouTube on Sundays 01:00-02:00 in New York (EDT).
	clk := newTestClock(time.Date(2026, 6, 7, 5, 59, 0, 0, time.UTC))
	e := newEnv(t, envConfig{mutate: func(o *Options) { o.Now = clk.now }})
	resp, _, tunnel, _ := e.raw("", e.request(wireCase{user: "owl", pass: "hoot", method: "CONNECT", target: "youtube.com:{T}"}))
	if resp.StatusCode != 200 {
		t.Fatalf("CONNECT inside the window: %d", resp.StatusCode)
	}
	defer tunnel.Close()
	e.srv.redecideOpen(e.engine.Snapshot(), true) // 01:59: still inside
	clk.set(time.Date(2026, 6, 7, 6, 0, 0, 0, time.UTC))
	e.srv.redecideOpen(e.engine.Snapshot(), true) // 02:00: the window has ended
	r := e.sink.wait(t, byID(resp.Header.Get(headerRequestID)))
	if r.Message != "closed by policy change: "+string(allowlist.ReasonOutsideSchedule) {
		t.Errorf("record %+v", r)
	}
	_ = tunnel.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := tunnel.Read(make([]byte, 1)); err == nil {
		t.Errorf("tunnel still open after the window: read %d bytes", n)
	}
}

// suspendingSink suspends Facebook the first time the proxy asks whether
// the log is healthy once armed: between a request's decision and its
// tracking as an open flow.
type suspendingSink struct {
	logs.Sink
	engine *allowlist.Engine
	armed  atomic.Bool
	t      *testing.T
}

func (s *suspendingSink) Healthy() error {
	if s.armed.CompareAndSwap(true, false) {
		if _, err := s.engine.Suspend(allowlist.ScopePlatform, "facebook", "incident", "soc"); err != nil {
			s.t.Error(err)
		}
	}
	return s.Sink.Healthy()
}

// TestSuspensionBetweenDecisionAndTracking: a suspension that lands after
// a plain request was decided but before it was tracked as open is not
// missed: the request is re-decided when it is tracked, and blocked.
func TestSuspensionBetweenDecisionAndTracking(t *testing.T) {
	var sink *suspendingSink
	e := newEnv(t, envConfig{mutate: func(o *Options) {
		sink = &suspendingSink{Sink: o.Sink, engine: o.Engine, t: t}
		o.Sink = sink
	}})
	sink.armed.Store(true)
	resp, body, _, _ := e.raw("", e.request(wireCase{user: "bjones", pass: "hunter2", method: "GET", target: "http://facebook.com:{H}/"}))
	if sink.armed.Load() {
		t.Fatal("the suspension was never made")
	}
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("request decided before the suspension: %d %s", resp.StatusCode, body)
	}
	r := e.sink.wait(t, byID(resp.Header.Get(headerRequestID)))
	if r.Reason != string(allowlist.ReasonPlatformSuspended) || r.Status != http.StatusForbidden {
		t.Errorf("record %+v", r)
	}
	if n := len(e.origin.requests()); n != 0 {
		t.Errorf("the origin got %d requests", n)
	}
}
