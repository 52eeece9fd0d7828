// Package logs owns the usage log: the Record, its durable writer (group
// commit, hash chain, daily files), verification, retention and litigation
// holds, search and reports. It knows nothing of HTTP or DNS.
package logs

import (
	"net/netip"
	"time"
)

// Event actions (event.action).
const (
	ActionHTTPRequest = "http_request"
	ActionConnect     = "connect"
	ActionDNSQuery    = "dns_query"
	ActionSuspend     = "suspend"
	ActionReinstate   = "reinstate"
	ActionReload      = "reload"
	ActionHold        = "hold"
	ActionPrune       = "prune"
	ActionRepair      = "repair"
)

// Event outcomes (event.outcome).
const (
	OutcomeAllowed = "allowed"
	OutcomeBlocked = "blocked"
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
)

// Record is one usage-log record. Field comments give the JSON name (Elastic
// Common Schema). Zero values are omitted from the line. A Record never
// holds a password, an authorization header, a cookie or a body.
type Record struct {
	Time      time.Time     // @timestamp (set by the writer when zero)
	ID        string        // event.id: request id, also on the block page
	Action    string        // event.action
	Outcome   string        // event.outcome
	Reason    string        // event.reason: the decision's reason code
	Duration  time.Duration // event.duration (nanoseconds)
	Observer  string        // observer.name: the gateway (set by the writer when empty)
	User      string        // user.name
	Roles     []string      // user.roles
	Agency    string        // organization.id
	SourceIP  netip.Addr    // source.ip
	Domain    string        // url.domain
	Path      string        // url.path
	Method    string        // http.request.method
	Status    int           // http.response.status_code
	DestIP    netip.Addr    // destination.ip
	DestPort  uint16        // destination.port
	Country   string        // destination.geo.country_iso_code
	ASN       uint32        // destination.as.number
	SrcBytes  int64         // source.bytes
	DestBytes int64         // destination.bytes
	Platform  string        // smgate.platform
	Account   string        // smgate.account
	Role      string        // smgate.role
	Mode      string        // smgate.mode: explicit, transparent, intercept, dns
	// NotEnforced is smgate.enforced=false: report mode let a blocked
	// request through.
	NotEnforced bool
	Message     string // message: free text for admin events (suspend reason, repair)
	By          string // smgate.by: who performed an admin event
	Target      string // smgate.target: what an admin event acted on, e.g. "agency:DCF"
}

// Sink takes usage records. Log queues r (a sink copies what it keeps: the
// caller may reuse r once Log returns) and returns an error only when the record
// cannot be recorded: the caller then blocks the request with
// blocked-policy-unavailable. Log may wait while the queue is full; it
// never drops a record.
type Sink interface {
	Log(r *Record) error
	// Healthy returns nil when records can be written, or the reason they
	// cannot. Front doors check it before letting social traffic through.
	Healthy() error
}
