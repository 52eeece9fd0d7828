package allowlist

// Reason is the stable code of a decision. It appears in the usage log
// (event.reason), on the block page and as a metric label; its spelling
// never changes.
type Reason string

// The reason codes of ../shared/DESIGN.md, plus two suspension scopes.
const (
	ReasonAllowedGrant          Reason = "allowed-grant"
	ReasonAllowedNotSocial      Reason = "allowed-not-social"
	ReasonUnauthenticated       Reason = "blocked-unauthenticated"
	ReasonUnknownUser           Reason = "blocked-unknown-user"
	ReasonIdentityMismatch      Reason = "blocked-identity-mismatch"
	ReasonNoGrant               Reason = "blocked-no-grant"
	ReasonAgencySuspended       Reason = "blocked-agency-suspended"
	ReasonPlatformSuspended     Reason = "blocked-platform-suspended"
	ReasonAccountSuspended      Reason = "blocked-account-suspended"
	ReasonNotAcknowledged       Reason = "blocked-not-acknowledged"
	ReasonApprovalExpired       Reason = "blocked-approval-expired"
	ReasonAccountDecommissioned Reason = "blocked-account-decommissioned"
	ReasonOutsideSchedule       Reason = "blocked-outside-schedule"
	ReasonActionNotGranted      Reason = "blocked-action-not-granted"
	ReasonPort                  Reason = "blocked-port"
	ReasonBypass                Reason = "blocked-bypass"
	ReasonContent               Reason = "blocked-content"
	ReasonPlatformBanned        Reason = "blocked-platform-banned"
	ReasonPolicyUnavailable     Reason = "blocked-policy-unavailable"
)

// Reasons lists every reason code, allowed first.
var Reasons = []Reason{
	ReasonAllowedGrant, ReasonAllowedNotSocial,
	ReasonUnauthenticated, ReasonUnknownUser, ReasonIdentityMismatch,
	ReasonNoGrant, ReasonAgencySuspended, ReasonPlatformSuspended,
	ReasonAccountSuspended, ReasonNotAcknowledged, ReasonApprovalExpired,
	ReasonAccountDecommissioned, ReasonOutsideSchedule,
	ReasonActionNotGranted, ReasonPort, ReasonBypass, ReasonContent,
	ReasonPlatformBanned, ReasonPolicyUnavailable,
}

// Allowed reports whether r is one of the allowing codes.
func (r Reason) Allowed() bool {
	return r == ReasonAllowedGrant || r == ReasonAllowedNotSocial
}

// Explain returns a sentence for staff that says why a request was blocked
// and what the policy requires. It never contains internal error text.
func (r Reason) Explain() string {
	switch r {
	case ReasonAllowedGrant:
		return "Your role grants this use of the platform."
	case ReasonAllowedNotSocial:
		return "This site is not a social media platform."
	case ReasonUnauthenticated:
		return "You must sign in to the gateway before using social media: the policy requires every user to be identified as themselves."
	case ReasonUnknownUser:
		return "Your sign-in name is not in the agency directory of users authorised for social media."
	case ReasonIdentityMismatch:
		return "You signed in as a different user than the one assigned to this computer; shared or borrowed logon IDs are not permitted."
	case ReasonNoGrant:
		return "None of your roles grants this platform or account. Social media on state equipment is for official business only, through accounts approved by agency management."
	case ReasonAgencySuspended:
		return "The central security unit has suspended your agency's use of social media."
	case ReasonPlatformSuspended:
		return "The central security unit has suspended use of this platform."
	case ReasonAccountSuspended:
		return "The central security unit has suspended this agency account."
	case ReasonNotAcknowledged:
		return "You have not yet acknowledged the social media acceptable-use policy."
	case ReasonApprovalExpired:
		return "The agency's approval of this account has expired; approvals must be renewed every year."
	case ReasonAccountDecommissioned:
		return "This agency account has been decommissioned."
	case ReasonOutsideSchedule:
		return "Your role grants this platform only during its scheduled hours."
	case ReasonActionNotGranted:
		return "Your role grants this platform, but not this kind of action (for example posting or uploading)."
	case ReasonPort:
		return "Social media platforms may be reached only on the standard web ports."
	case ReasonBypass:
		return "This connection would bypass the gateway's checks: a social media platform reached by its numeric address without a grant for it, or an encrypted DNS resolver or relay service."
	case ReasonContent:
		return "The content of this request is not permitted by the policy."
	case ReasonPlatformBanned:
		return "The state bans this platform on state equipment; no grant overrides the ban."
	case ReasonPolicyUnavailable:
		return "The gateway cannot check or record this request right now, so it is blocked. Try again later or contact the help desk."
	}
	return "This request is blocked by the social media acceptable-use policy."
}
