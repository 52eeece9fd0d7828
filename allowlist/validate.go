package allowlist

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/smgate/smgate/configs"
)

// builtinCatalogueName is the file name problems of the built-in catalogue
// are reported under.
const builtinCatalogueName = "built-in platforms.toml"

// Categories are the platform categories a catalogue may use.
var Categories = []string{
	"video-sharing", "microblogging", "blogging", "social-networking",
	"photo-sharing", "social-bookmarking", "communal-knowledge", "forums",
	"messaging",
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// policyFiles holds the decoded policy files and their line indexes.
type policyFiles struct {
	Policy
	plat, reg, dir report
}

// loadPolicy reads and validates the three policy files named by cfg. It
// returns the problems (errors) and warnings; the policy is usable only
// when there are no problems.
func loadPolicy(cfg *Config, now time.Time) (*Policy, Problems, Problems) {
	var probs Problems
	var srcs [3]source
	for i, key := range []string{"policy.platforms", "policy.registry", "policy.directory"} {
		path := []string{cfg.Policy.Platforms, cfg.Policy.Registry, cfg.Policy.Directory}[i]
		srcs[i] = source{name: displayPath(path)}
		if i == 0 && path == "" {
			srcs[i] = source{name: builtinCatalogueName, text: configs.Platforms}
			continue
		}
		var err error
		if srcs[i].text, err = os.ReadFile(path); err != nil {
			// Named by the key of the gateway file, with the path
			// resolved, as the operator has to fix one or the other.
			msg := fmt.Sprintf("cannot read %s: %v", path, errors.Unwrap(err))
			if cfg.Relative(key) {
				msg += fmt.Sprintf(" (relative to %s)", cfg.Path)
			}
			probs = append(probs, &Problem{File: cfg.Path, Line: cfg.Line(key), Key: key, Msg: msg})
		}
	}
	if len(probs) > 0 {
		return nil, probs, nil
	}
	return parsePolicy(cfg, srcs, now)
}

// source is the text of one policy file and the name problems give it.
type source struct {
	name string
	text []byte
}

// parsePolicy decodes and validates the platforms, registry and directory
// texts.
func parsePolicy(cfg *Config, srcs [3]source, now time.Time) (*Policy, Problems, Problems) {
	var probs, warns Problems
	pf := &policyFiles{}
	pf.plat = decodePolicyFile(srcs[0], &pf.Catalogue, &probs)
	pf.reg = decodePolicyFile(srcs[1], &pf.Registry, &probs)
	pf.dir = decodePolicyFile(srcs[2], &pf.Directory, &probs)
	if pf.plat.lines == nil || pf.reg.lines == nil || pf.dir.lines == nil {
		return nil, probs, nil // a syntax or type error: nothing to validate
	}
	pf.validate(cfg, DateOf(now.In(cfg.Location())), &warns)
	probs = append(probs, *pf.plat.probs...)
	probs = append(probs, *pf.reg.probs...)
	probs = append(probs, *pf.dir.probs...)
	if len(probs) > 0 {
		return nil, probs, warns
	}
	return &pf.Policy, nil, warns
}

// decodePolicyFile decodes src into v, adding its problems to probs.
func decodePolicyFile(src source, v any, probs *Problems) report {
	lines, ps := decodeFile(src.name, src.text, v)
	*probs = append(*probs, ps...)
	return report{file: src.name, lines: lines, probs: new(Problems)}
}

func (pf *policyFiles) validate(cfg *Config, today Date, warns *Problems) {
	platforms := pf.validatePlatforms()
	gw := report{file: cfg.Path, lines: cfg.lines, probs: pf.plat.probs}
	for _, id := range cfg.Proxy.Intercept.Platforms {
		if !platforms[id] {
			gw.top("proxy.intercept.platforms", "unknown platform %q (not in the platform catalogue %s)", id, pf.plat.file)
		}
	}
	agencies := pf.validateAgencies()
	accounts := pf.validateAccounts(platforms, agencies, today, warns)
	roles := pf.validateRoles(platforms, agencies, accounts)
	pf.validateUsers(agencies, roles, today, warns)
}

// checkIDs reports entries whose id is missing, malformed or repeated and
// returns the set of ids.
func checkIDs(r report, table string, ids []string) map[string]bool {
	set := make(map[string]bool, len(ids))
	first := make(map[string]int, len(ids))
	for i, id := range ids {
		switch {
		case id == "":
			r.entry(table, i, id, "id", "is missing")
			continue
		case !idPattern.MatchString(id):
			r.entry(table, i, id, "id", "must be 1 to 64 letters, digits, '.', '_' or '-'")
		}
		if j, dup := first[id]; dup {
			r.entry(table, i, id, "id", "duplicate id: also used by the entry at line %d", r.lines.get().entryLine(table, j, "id"))
			continue
		}
		first[id] = i
		set[id] = true
	}
	return set
}

func (pf *policyFiles) validatePlatforms() map[string]bool {
	r := pf.plat
	ids := make([]string, len(pf.Catalogue.Platforms))
	for i, p := range pf.Catalogue.Platforms {
		ids[i] = p.ID
	}
	set := checkIDs(r, "platform", ids)
	type owner struct {
		platform string
		shared   bool
		i        int
	}
	owners := map[string][]owner{}
	for i, p := range pf.Catalogue.Platforms {
		if p.Name == "" {
			r.entry("platform", i, p.ID, "name", "is missing")
		}
		if !contains(Categories, p.Category) {
			r.entry("platform", i, p.ID, "category", "unknown category %q (want one of %s)", p.Category, strings.Join(Categories, ", "))
		}
		if len(p.Domains) == 0 {
			r.entry("platform", i, p.ID, "domains", "lists no domain")
		}
		for _, list := range []struct {
			key    string
			d      []string
			shared bool
		}{{"domains", p.Domains, false}, {"shared_domains", p.SharedDomains, true}} {
			for _, d := range list.d {
				if !validCatalogueDomain(d) {
					r.entry("platform", i, p.ID, list.key, "invalid domain %q (want lower case, no scheme, no leading or trailing dot)", d)
					continue
				}
				owners[d] = append(owners[d], owner{p.ID, list.shared, i})
			}
		}
	}
	for d, os := range owners {
		if len(os) < 2 {
			continue
		}
		for _, o := range os {
			if !o.shared {
				others := []string{}
				for _, x := range os {
					if x.platform != o.platform {
						others = append(others, x.platform)
					}
				}
				if len(others) == 0 {
					r.entry("platform", o.i, o.platform, "domains", "domain %q is listed twice", d)
				} else {
					r.entry("platform", o.i, o.platform, "domains", "domain %q is also listed under %s: list it in shared_domains of every platform that shares it", d, strings.Join(others, ", "))
				}
			}
		}
	}
	pf.checkASNs()
	for _, d := range pf.Catalogue.BypassDomains {
		if !validCatalogueDomain(d) {
			r.top("bypass_domains", "invalid domain %q", d)
		} else if len(owners[d]) > 0 {
			r.top("bypass_domains", "domain %q is also a platform domain", d)
		}
	}
	return set
}

// checkASNs reports an ASN listed under two platforms: an IP literal in
// it could not be told apart.
func (pf *policyFiles) checkASNs() {
	owner := map[uint32]string{}
	for i, p := range pf.Catalogue.Platforms {
		for _, asn := range p.ASNs {
			if o, dup := owner[asn]; dup && o != p.ID {
				pf.plat.entry("platform", i, p.ID, "asns", "AS%d is also listed under %s: an ASN identifies one platform", asn, o)
			}
			owner[asn] = p.ID
		}
	}
}

func validCatalogueDomain(d string) bool {
	n, ip, err := NormalizeHost(d)
	return err == nil && !ip.IsValid() && n == d
}

func (pf *policyFiles) validateAgencies() map[string]bool {
	ids := make([]string, len(pf.Directory.Agencies))
	for i, a := range pf.Directory.Agencies {
		ids[i] = a.ID
		if a.Name == "" {
			pf.dir.entry("agency", i, a.ID, "name", "is missing")
		}
	}
	return checkIDs(pf.dir, "agency", ids)
}

func (pf *policyFiles) validateAccounts(platforms, agencies map[string]bool, today Date, warns *Problems) map[string]*Account {
	r := pf.reg
	ids := make([]string, len(pf.Registry.Accounts))
	for i, a := range pf.Registry.Accounts {
		ids[i] = a.ID
	}
	checkIDs(r, "account", ids)
	byID := make(map[string]*Account, len(ids))
	handles := map[string]string{}
	for i := range pf.Registry.Accounts {
		a := &pf.Registry.Accounts[i]
		if _, dup := byID[a.ID]; !dup {
			byID[a.ID] = a
		}
		bad := func(key, format string, args ...any) { r.entry("account", i, a.ID, key, format, args...) }
		if !platforms[a.Platform] {
			bad("platform", "unknown platform %q (not in the platform catalogue)", a.Platform)
		}
		if !agencies[a.Agency] {
			bad("agency", "unknown agency %q (not in the directory)", a.Agency)
		}
		if a.Handle == "" || strings.ContainsAny(a.Handle, "/?# ") {
			bad("handle", "must be the account's first path segment on the platform, such as \"CTDCF\"; got %q", a.Handle)
		}
		hk := a.Platform + "/" + strings.ToLower(a.Handle)
		if other, dup := handles[hk]; dup {
			bad("handle", "handle %q on %s is also registered as account %q", a.Handle, a.Platform, other)
		}
		handles[hk] = a.ID
		if a.ApprovedBy == "" {
			bad("approved_by", "is missing: who in agency management approved the account")
		}
		pf.validateApproval(i, a, today, warns)
		if a.Status != "active" && a.Status != "decommissioned" {
			bad("status", "must be \"active\" or \"decommissioned\", not %q", a.Status)
		}
	}
	return byID
}

func (pf *policyFiles) validateApproval(i int, a *Account, today Date, warns *Problems) {
	r := pf.reg
	for _, d := range []struct {
		key string
		v   Date
	}{{"approved_on", a.ApprovedOn}, {"expires_on", a.ExpiresOn}} {
		if err := d.v.Err(); err != nil {
			r.entry("account", i, a.ID, d.key, "%v", err)
		} else if d.v.IsZero() {
			r.entry("account", i, a.ID, d.key, "is missing (approvals are renewed every year)")
		}
	}
	if a.ApprovedOn.IsZero() || a.ExpiresOn.IsZero() {
		return
	}
	if a.ExpiresOn.Before(a.ApprovedOn) {
		r.entry("account", i, a.ID, "expires_on", "%s is before approved_on %s", a.ExpiresOn, a.ApprovedOn)
	}
	if a.Status == "active" && a.ApprovedOn.After(today) && a.ExpiresOn.After(a.ApprovedOn) {
		// Decide blocks it until then (blocked-approval-expired), as it
		// does an acknowledgement dated later: say so rather than let a
		// renewal entered early read as in force.
		w := report{file: r.file, lines: r.lines, probs: warns}
		w.entry("account", i, a.ID, "approved_on", "%s is after today: requests through the account are blocked until that day", a.ApprovedOn)
	}
	if a.Status == "active" && !a.ExpiresOn.After(a.ApprovedOn) {
		w := report{file: r.file, lines: r.lines, probs: warns}
		w.entry("account", i, a.ID, "expires_on", "%s is approved_on: the approval is in force on no day (expires_on is the first day it is not)", a.ExpiresOn)
	}
	if yearOn := DateOf(a.ApprovedOn.Time().AddDate(1, 0, 0)); a.Status == "active" && a.ExpiresOn.After(yearOn) {
		// Approvals are renewed every year (from Feb 29, Mar 1 of the
		// next year is still within it).
		w := report{file: r.file, lines: r.lines, probs: warns}
		w.entry("account", i, a.ID, "expires_on", "%s is more than a year after approved_on %s: approvals are renewed every year", a.ExpiresOn, a.ApprovedOn)
	}
	if a.Status == "active" && !a.ExpiresOn.After(today.AddDays(30)) {
		w := report{file: r.file, lines: r.lines, probs: warns}
		if a.ExpiresOn.After(today) {
			w.entry("account", i, a.ID, "expires_on", "approval expires on %s, within 30 days: renew it", a.ExpiresOn)
		} else {
			w.entry("account", i, a.ID, "expires_on", "approval expired on %s: requests through it are blocked until it is renewed", a.ExpiresOn)
		}
	}
}

func (pf *policyFiles) validateRoles(platforms, agencies map[string]bool, accounts map[string]*Account) map[string]*Role {
	r := pf.dir
	ids := make([]string, len(pf.Directory.Roles))
	for i, ro := range pf.Directory.Roles {
		ids[i] = ro.ID
	}
	checkIDs(r, "role", ids)
	byID := make(map[string]*Role, len(ids))
	for i := range pf.Directory.Roles {
		ro := &pf.Directory.Roles[i]
		if _, dup := byID[ro.ID]; !dup {
			byID[ro.ID] = ro
		}
		bad := func(key, format string, args ...any) { r.entry("role", i, ro.ID, key, format, args...) }
		if !agencies[ro.Agency] {
			bad("agency", "unknown agency %q", ro.Agency)
		}
		if len(ro.Accounts) == 0 && len(ro.Platforms) == 0 {
			bad("accounts", "the role grants nothing: list accounts or platforms")
		}
		for _, id := range ro.Accounts {
			a, ok := accounts[id]
			switch {
			case !ok:
				bad("accounts", "unknown account %q (not in the registry)", id)
			case a.Agency != ro.Agency:
				bad("accounts", "account %q belongs to agency %q, not to the role's agency %q", id, a.Agency, ro.Agency)
			}
		}
		for _, id := range ro.Platforms {
			if !platforms[id] {
				bad("platforms", "unknown platform %q", id)
			}
		}
		for _, act := range ro.Actions {
			if !act.Valid() {
				bad("actions", "unknown action %q (want view, post, upload or message)", act)
			}
		}
		if ro.Schedule != "" {
			if _, err := ParseSchedule(ro.Schedule); err != nil {
				bad("schedule", "%v", err)
			}
		}
	}
	return byID
}

func (pf *policyFiles) validateUsers(agencies map[string]bool, roles map[string]*Role, today Date, warns *Problems) {
	r := pf.dir
	ids := make([]string, len(pf.Directory.Users))
	for i, u := range pf.Directory.Users {
		ids[i] = u.ID
	}
	checkIDs(r, "user", ids)
	ipOwner := map[netip.Addr]string{}
	for i := range pf.Directory.Users {
		u := &pf.Directory.Users[i]
		bad := func(key, format string, args ...any) { r.entry("user", i, u.ID, key, format, args...) }
		if !agencies[u.Agency] {
			bad("agency", "unknown agency %q", u.Agency)
		}
		for _, id := range u.Roles {
			ro, ok := roles[id]
			switch {
			case !ok:
				bad("roles", "unknown role %q", id)
			case ro.Agency != u.Agency:
				bad("roles", "role %q belongs to agency %q, not to the user's agency %q", id, ro.Agency, u.Agency)
			}
		}
		if u.PasswordBcrypt != "" {
			if _, err := bcrypt.Cost([]byte(u.PasswordBcrypt)); err != nil {
				bad("password_bcrypt", "not a bcrypt hash (make one with 'smgate passwd')")
			}
		}
		for _, ip := range u.IPs {
			if !ip.IsValid() {
				bad("ips", "invalid IP address %q", ip.Raw)
				continue
			}
			if other, dup := ipOwner[ip.Addr]; dup && other != u.ID {
				bad("ips", "address %s is also bound to user %q: an address identifies one user", ip.Addr, other)
			}
			ipOwner[ip.Addr] = u.ID
		}
		if u.PasswordBcrypt == "" && len(u.IPs) == 0 {
			bad("password_bcrypt", "the user has neither a password nor an IP binding and cannot be identified")
		}
		if err := u.AcknowledgedOn.Err(); err != nil {
			bad("acknowledged_on", "%v", err)
		} else if u.AcknowledgedOn.IsZero() {
			w := report{file: r.file, lines: r.lines, probs: warns}
			w.entry("user", i, u.ID, "acknowledged_on", "the user has not acknowledged the policy: social media is blocked for them until they do")
		} else if u.AcknowledgedOn.After(today) {
			w := report{file: r.file, lines: r.lines, probs: warns}
			w.entry("user", i, u.ID, "acknowledged_on", "%s is after today: social media is blocked for the user until that day", u.AcknowledgedOn)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Summary is what smgate check prints of a loaded policy.
func (p *Policy) Summary() string {
	return fmt.Sprintf("%d platforms, %d accounts, %d agencies, %d roles, %d users",
		len(p.Catalogue.Platforms), len(p.Registry.Accounts), len(p.Directory.Agencies),
		len(p.Directory.Roles), len(p.Directory.Users))
}
