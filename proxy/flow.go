package proxy

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smgate/smgate/allowlist"
	"github.com/smgate/smgate/logs"
)

// flow is one request or tunnel from decision to record.
type flow struct {
	id     string
	start  time.Time
	action string // logs.ActionHTTPRequest or logs.ActionConnect
	method string
	path   string // url.path, plain HTTP only
	client netip.Addr
	req    allowlist.Request
	d      allowlist.Decision
	record bool // a usage record is written for this flow
	retry  time.Duration
	snap   *allowlist.Snapshot // the policy it was decided on, for recheck
	// expired is set when a tunnel is closed at the tunnel lifetime.
	expired atomic.Bool

	// Set once the flow goes upstream.
	dest      netip.AddrPort
	status    int
	srcBytes  int64
	destBytes int64
	message   string

	// cutMu guards cut, the function that ends an open flow (closes the
	// tunnel, cancels the request), cutBy, the reason it was called, and
	// req and connect once the flow is tracked (see adopt).
	cutMu sync.Mutex
	cut   func()
	cutBy allowlist.Reason
	// connect is the request of a tunnel's CONNECT host once the tunnel
	// is decided as the platform of its TLS server name (see adopt).
	connect *allowlist.Request
}

// outcome returns event.outcome of the decision.
func (f *flow) outcome() string {
	if f.d.Allow {
		return logs.OutcomeAllowed
	}
	return logs.OutcomeBlocked
}

// toRecord builds the usage record of the flow, ended at end.
func (f *flow) toRecord(end time.Time) *logs.Record {
	d := &f.d
	r := &logs.Record{
		Time: f.start, ID: f.id, Action: f.action, Outcome: f.outcome(),
		Reason: string(d.Reason), Duration: end.Sub(f.start),
		User: d.User, Roles: d.Roles, Agency: d.Agency, SourceIP: f.client,
		Domain: d.Host, Path: f.path, Method: f.method, Status: f.status,
		DestPort: f.req.Port, ASN: f.req.ASN,
		SrcBytes: f.srcBytes, DestBytes: f.destBytes,
		Platform: d.Platform, Account: d.Account, Role: d.Role,
		Mode: string(allowlist.SourceExplicit), NotEnforced: !d.Allow && !d.Enforced,
		Message: f.message,
	}
	if f.dest.IsValid() {
		r.DestIP, r.DestPort = f.dest.Addr(), f.dest.Port()
	}
	if by := f.cutReason(); by != "" {
		r.Message = "closed by policy change: " + string(by)
	}
	if f.expired.Load() {
		r.Message = "closed at the gateway's tunnel lifetime"
	}
	return r
}

// note adds a remark to the record's message.
func (f *flow) note(msg string) {
	if f.message != "" {
		f.message += "; "
	}
	f.message += msg
}

// requests returns the requests the open flow is decided on: its request,
// and for a tunnel adopted as the platform of its server name, its
// CONNECT host's too. The flow goes on only while every one passes.
func (f *flow) requests() []allowlist.Request {
	f.cutMu.Lock()
	defer f.cutMu.Unlock()
	if f.connect != nil {
		return []allowlist.Request{f.req, *f.connect}
	}
	return []allowlist.Request{f.req}
}

// adopt decides the open flow as r, with d, from now on: a tunnel whose
// TLS server name is another platform than its CONNECT host. The flow is
// recorded. The CONNECT host's request still holds: the tunnel goes to
// its address, so a suspension of its platform still cuts the tunnel.
func (f *flow) adopt(r allowlist.Request, d allowlist.Decision) {
	f.cutMu.Lock()
	if f.connect == nil {
		c := f.req
		f.connect = &c
	}
	f.req = r
	f.cutMu.Unlock()
	f.d, f.record = d, true
}

// setCut installs the function that ends the open flow.
func (f *flow) setCut(fn func()) {
	f.cutMu.Lock()
	f.cut = fn
	f.cutMu.Unlock()
}

// cutFor ends the open flow because the policy now blocks it.
func (f *flow) cutFor(r allowlist.Reason) {
	f.cutMu.Lock()
	fn := f.cut
	if fn != nil && f.cutBy == "" {
		f.cutBy = r
	}
	f.cutMu.Unlock()
	if fn != nil {
		fn()
	}
}

// cutReason returns why the flow was cut, "" when it was not.
func (f *flow) cutReason() allowlist.Reason {
	f.cutMu.Lock()
	defer f.cutMu.Unlock()
	return f.cutBy
}
