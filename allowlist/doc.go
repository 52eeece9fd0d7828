// Package allowlist owns smgate's policy model and its only decision: the
// platform catalogue, the registry of approved accounts, the directory of
// agencies, roles and users, suspensions, loading and validating the TOML
// files, and Decide on an immutable Snapshot that a reload swaps atomically.
//
// It imports no net/http, DNS or logging code: front doors turn the wire
// into a Request, call Decide and render the Decision.
package allowlist
