package allowlist

import (
	"net/netip"
	"time"
)

// Action is what a request does on a platform.
type Action string

// The actions a role may grant.
const (
	ActionView    Action = "view"
	ActionPost    Action = "post"
	ActionUpload  Action = "upload"
	ActionMessage Action = "message"
)

// Source says how a request reached the gateway; it is smgate.mode in the
// usage log.
type Source string

// The front doors.
const (
	SourceExplicit    Source = "explicit"
	SourceTransparent Source = "transparent"
	SourceIntercept   Source = "intercept"
	SourceDNS         Source = "dns"
)

// Request is what a front door knows about one request. Decide does not
// keep it or any of its strings.
type Request struct {
	// User is the name the client authenticated as, already verified by
	// the front door (e.g. Basic against the bcrypt hash). Empty means the
	// client presented no credentials; the IP binding is then tried.
	User string
	// ClientIP is the address of the client. The zero value has no binding.
	ClientIP netip.Addr
	// Host is the destination host as seen on the wire, without port. It
	// is normalised by Decide (case, trailing dot, IDNA, IP literals).
	Host string
	// Port is the destination port; 0 means unknown (DNS).
	Port uint16
	// Path is the request path when the front door sees it (plain HTTP or
	// TLS interception); empty means not visible.
	Path string
	// Action is the action of the request; empty means view.
	Action Action
	// Source is the front door.
	Source Source
	// Time is when the request was made; the zero value means time.Now.
	Time time.Time
	// AddrPlatform is the platform id that the front door matched to an IP
	// literal host (addresses recently resolved for platform names); empty
	// when unknown.
	AddrPlatform string
	// ASN is the autonomous system of an IP literal host from the ASN
	// database; 0 when unknown.
	ASN uint32
}

// Decision is the outcome of Decide for one request. The zero value blocks.
type Decision struct {
	// Allow reports whether the request may go through under the policy.
	// In report mode it is still the policy's answer: see Enforced.
	Allow bool
	// Reason is the stable code from DESIGN.md, e.g. "blocked-no-grant".
	Reason Reason
	// Enforced is false in report mode: the front door lets the request
	// through whatever Allow says, and the record is marked not enforced.
	Enforced bool
	// Host is the normalised host (lower case, ASCII, no trailing dot).
	Host string
	// Platform is the platform id; "" when the host is not social media.
	Platform string
	// Account is the approved account id that matched, "unverified" when
	// an account-level grant was applied at platform level, "" otherwise.
	Account string
	// Role is the id of the role whose grant matched.
	Role string
	// Grant names the grant that matched: "account:ID" or "platform:ID".
	Grant string
	// User is the user the request was attributed to, "" when unknown.
	User string
	// Agency is the user's agency id.
	Agency string
	// Roles are the user's role ids. Callers must not modify the slice.
	Roles []string
	// Social reports whether the host belongs to a platform (or a domain
	// shared by platforms), i.e. whether the decision is a usage record.
	Social bool
}

// Pass reports whether the front door should let the request through:
// Allow in enforce mode, always in report mode.
func (d *Decision) Pass() bool { return d.Allow || !d.Enforced }

// UnverifiedAccount is Decision.Account for an account-level grant applied
// without seeing the path.
const UnverifiedAccount = "unverified"
