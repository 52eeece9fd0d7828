package allowlist

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestValidationErrors breaks the test policy one way at a time and checks
// that the problem names the file, the line, the entry and the key.
func TestValidationErrors(t *testing.T) {
	dir := readTestdata(t, "directory.toml")
	reg := readTestdata(t, "registry.toml")
	plat := readTestdata(t, "platforms.toml")
	gw := readTestdata(t, "smgate.toml")
	tests := []struct {
		name string
		file string
		text string
		want string // file:line: entry: key: message (a substring, file base name)
	}{
		{"unknown key in role", "directory.toml", strings.Replace(dir, `schedule = "Mon-Fri 07:00-19:00"`, `schedul = "Mon-Fri 07:00-19:00"`, 1),
			`directory.toml:14: role "dcf-communications": schedul: unknown key "schedul" (did you mean schedule?)`},
		{"unknown gateway key", "smgate.toml", strings.Replace(gw, `listen = "127.0.0.1:0"`+"\nauth", `listn = "127.0.0.1:0"`+"\nauth", 1),
			`smgate.toml:9: proxy.listn: unknown key "proxy.listn" (did you mean proxy.listen?)`},
		{"duplicate role id", "directory.toml", strings.Replace(dir, `id = "dot-communications"`, `id = "dcf-investigations"`, 1),
			`directory.toml:24: role "dcf-investigations": id: duplicate id: also used by the entry at line 17`},
		{"role grants unknown account", "directory.toml", strings.Replace(dir, `accounts = ["dot-youtube"]`, `accounts = ["dot-tiktok"]`, 1),
			`directory.toml:26: role "dot-communications": accounts: unknown account "dot-tiktok"`},
		{"role grants unknown platform", "directory.toml", strings.Replace(dir, `platforms = ["facebook", "instagram"]`, `platforms = ["facebok"]`, 1),
			`directory.toml:19: role "dcf-investigations": platforms: unknown platform "facebok"`},
		{"role of unknown agency", "directory.toml", strings.Replace(dir, "id = \"dot-communications\"\nagency = \"DOT\"", "id = \"dot-communications\"\nagency = \"DOX\"", 1),
			`directory.toml:25: role "dot-communications": agency: unknown agency "DOX"`},
		{"role grants another agency's account", "directory.toml", strings.Replace(dir, `accounts = ["dot-youtube"]`, `accounts = ["dcf-facebook"]`, 1),
			`role "dot-communications": accounts: account "dcf-facebook" belongs to agency "DCF", not to the role's agency "DOT"`},
		{"unknown action", "directory.toml", strings.Replace(dir, `actions = ["view", "post"]`, `actions = ["view", "tweet"]`, 1),
			`directory.toml:27: role "dot-communications": actions: unknown action "tweet"`},
		{"bad schedule", "directory.toml", strings.Replace(dir, `schedule = "Mon-Fri 07:00-19:00"`, `schedule = "Mon-Fry 07:00-19:00"`, 1),
			`directory.toml:14: role "dcf-communications": schedule: schedule clause "Mon-Fry 07:00-19:00": unknown day "Fry"`},
		{"bad schedule time", "directory.toml", strings.Replace(dir, `schedule = "Mon-Fri 07:00-19:00"`, `schedule = "Mon-Fri 07:00-25:00"`, 1),
			`schedule: schedule clause "Mon-Fri 07:00-25:00": time "25:00"`},
		{"user of unknown agency", "directory.toml", strings.Replace(dir, "id = \"tlee\"\nname = \"Tom Lee\"\nagency = \"DOT\"", "id = \"tlee\"\nname = \"Tom Lee\"\nagency = \"DOTT\"", 1),
			`user "tlee": agency: unknown agency "DOTT"`},
		{"user with unknown role", "directory.toml", strings.Replace(dir, `roles = ["dot-communications"]`, `roles = ["dot-comms"]`, 1),
			`user "tlee": roles: unknown role "dot-comms"`},
		{"bad IP", "directory.toml", strings.Replace(dir, `ips = ["10.30.0.5", "2001:db8::5"]`, `ips = ["10.30.0.500"]`, 1),
			`user "tlee": ips: invalid IP address "10.30.0.500"`},
		{"IP bound to two users", "directory.toml", strings.Replace(dir, `ips = ["10.20.0.17"]`, `ips = ["10.20.0.15"]`, 1),
			`user "newbie": ips: address 10.20.0.15 is also bound to user "jsmith"`},
		{"malformed bcrypt", "directory.toml", strings.Replace(dir, `$2a$04$ivmKAyMJP6OjlAi/yD7NYecjHWIx.Hxkf97nfigIVLY5yFZLfhpXi`, `hunter2`, 1),
			`user "bjones": password_bcrypt: not a bcrypt hash`},
		{"duplicate user", "directory.toml", strings.Replace(dir, `id = "noroles"`, `id = "tlee"`, 1),
			`user "tlee": id: duplicate id`},
		{"account of unknown platform", "registry.toml", strings.Replace(reg, `platform = "youtube"`, `platform = "vimeo"`, 1),
			`registry.toml:38: account "dot-youtube": platform: unknown platform "vimeo"`},
		{"account of unknown agency", "registry.toml", strings.Replace(reg, "agency = \"DOT\"", "agency = \"DMV\"", 1),
			`account "dot-youtube": agency: unknown agency "DMV"`},
		{"expires before approved", "registry.toml", strings.Replace(reg, "expires_on = 2027-03-01", "expires_on = 2026-02-01", 1),
			`registry.toml:43: account "dot-youtube": expires_on: 2026-02-01 is before approved_on 2026-03-01`},
		{"bad date", "registry.toml", strings.Replace(reg, "expires_on = 2027-03-01", `expires_on = "2027-13-01"`, 1),
			`account "dot-youtube": expires_on: invalid date "2027-13-01"`},
		{"date with a zone", "registry.toml", strings.Replace(reg, "expires_on = 2027-03-01", "expires_on = 2027-03-01T00:00:00Z", 1),
			`registry.toml:43: account "dot-youtube": expires_on: invalid date 2027-03-01T00:00:00Z (has a time and a zone)`},
		{"date with an offset", "registry.toml", strings.Replace(reg, "expires_on = 2027-03-01", "expires_on = 2027-03-01 00:00:00-05:00", 1),
			`account "dot-youtube": expires_on: invalid date 2027-03-01T00:00:00-05:00 (has a time and a zone)`},
		{"date with midnight", "registry.toml", strings.Replace(reg, "expires_on = 2027-03-01", "expires_on = 2027-03-01T00:00:00", 1),
			`account "dot-youtube": expires_on: invalid date 2027-03-01T00:00:00 (has a time of day)`},
		{"acknowledged with a zone", "directory.toml", strings.Replace(dir, "acknowledged_on = 2026-01-10", "acknowledged_on = 2026-01-10T00:00:00+14:00", 1),
			`user "jsmith": acknowledged_on: invalid date 2026-01-10T00:00:00+14:00 (has a time and a zone)`},
		{"timezone Local", "smgate.toml", strings.Replace(gw, `America/New_York`, `Local`, 1),
			`smgate.toml:4: gateway.timezone: "Local" is the zone of the machine, not an IANA name`},
		{"bad status", "registry.toml", strings.Replace(reg, `status = "decommissioned"`, `status = "retired"`, 1),
			`account "dcf-old": status: must be "active" or "decommissioned"`},
		{"duplicate account", "registry.toml", strings.Replace(reg, `id = "dcf-x"`, `id = "dcf-facebook"`, 1),
			`account "dcf-facebook": id: duplicate id`},
		{"domain under two platforms", "platforms.toml", strings.Replace(plat, `domains = ["youtube.com", "youtu.be"]`, `domains = ["youtube.com", "youtu.be", "fb.com"]`, 1),
			`platform "youtube": domains: domain "fb.com" is also listed under facebook`},
		{"shared in one platform only", "platforms.toml", strings.Replace(plat, `domains = ["instagram.com", "cdninstagram.com"]`+"\nshared_domains = [\"fbcdn.net\"]", `domains = ["instagram.com", "cdninstagram.com", "fbcdn.net"]`, 1),
			`platform "instagram": domains: domain "fbcdn.net" is also listed under facebook`},
		{"ASN under two platforms", "platforms.toml", strings.Replace(plat, "asns = [13414]", "asns = [13414, 32934]", 1),
			`platform "x": asns: AS32934 is also listed under facebook`},
		{"bad category", "platforms.toml", strings.Replace(plat, `category = "forums"`, `category = "chat"`, 1),
			`platform "buecher": category: unknown category "chat"`},
		{"bad domain", "platforms.toml", strings.Replace(plat, `domains = ["tiktok.com"]`, `domains = ["https://tiktok.com"]`, 1),
			`platform "tiktok": domains: invalid domain "https://tiktok.com"`},
		{"TOML syntax", "registry.toml", strings.Replace(reg, `purpose = "Announcements"`, `purpose = "Announcements`, 1),
			`registry.toml:18: account "dcf-x": purpose: strings cannot contain newlines`},
		{"bad mode", "smgate.toml", strings.Replace(gw, `mode = "enforce"`, `mode = "audit"`, 1),
			`smgate.toml:6: gateway.mode: must be "enforce" or "report", not "audit"`},
		{"bad timezone", "smgate.toml", strings.Replace(gw, `America/New_York`, `America/Hartford`, 1),
			`smgate.toml:4: gateway.timezone: unknown time zone "America/Hartford"`},
		{"bad auth", "smgate.toml", strings.Replace(gw, `auth = ["basic", "ip"]`, `auth = ["basic", "ntlm"]`, 1),
			`smgate.toml:10: proxy.auth: unknown identity source "ntlm"`},
		{"bad duration", "smgate.toml", strings.Replace(gw, "[dns]", "[resolver]\ntimeout = \"2 seconds\"\n\n[dns]", 1),
			`smgate.toml:15: resolver.timeout: invalid duration "2 seconds"`},
		{"bad CIDR", "smgate.toml", strings.Replace(gw, `allowed_ports = [80, 443]`, `allowed_ports = [80, 443]`+"\ndeny_destinations = [\"10.0.0.0/33\"]", 1),
			`invalid CIDR "10.0.0.0/33"`},
		{"negative duration", "smgate.toml", strings.Replace(gw, `allowed_ports = [80, 443]`, `allowed_ports = [80, 443]`+"\nidle_timeout = \"-5s\"", 1),
			`smgate.toml:13: proxy.idle_timeout: invalid duration "-5s": must not be negative`},
		{"string for a number", "smgate.toml", strings.Replace(gw, "[dns]\n", "[dns]\ncache_size = \"big\"\n", 1),
			`smgate.toml:15: dns.cache_size: incompatible types: TOML value has type string; destination has type integer`},
		{"unknown key far from any", "directory.toml", strings.Replace(dir, `schedule = "Mon-Fri 07:00-19:00"`, `shoe_size = 9`, 1),
			`directory.toml:14: role "dcf-communications": shoe_size: unknown key "shoe_size"`},
		{"unknown intercepted platform", "smgate.toml", strings.Replace(gw, "[dns]\n", "[proxy.intercept]\nplatforms = [\"facebok\"]\n\n[dns]\n", 1),
			`smgate.toml:15: proxy.intercept.platforms: unknown platform "facebok"`},
		{"negative cache size", "smgate.toml", strings.Replace(gw, "[dns]\nlisten = \"127.0.0.1:0\"\n", "[dns]\nlisten = \"127.0.0.1:0\"\ncache_size = -1\n", 1),
			`smgate.toml:16: dns.cache_size: must not be negative`},
		{"negative rate limit", "smgate.toml", strings.Replace(gw, "[dns]\nlisten = \"127.0.0.1:0\"\n", "[dns]\nlisten = \"127.0.0.1:0\"\nrate_limit = -1\n", 1),
			`smgate.toml:16: dns.rate_limit: must not be negative`},
		{"upstream on port 0", "smgate.toml", strings.Replace(gw, "[dns]\n", "[resolver]\nupstreams = [\"127.0.0.1:53\", \"127.0.0.1:0\"]\n\n[dns]\n", 1),
			`smgate.toml:15: resolver.upstreams: entry 2 "127.0.0.1:0": port 0 is no resolver's port`},
		{"bad listen", "smgate.toml", strings.Replace(gw, "[dns]\nlisten = \"127.0.0.1:0\"", "[dns]\nlisten = \"127.0.0.1\"", 1),
			`smgate.toml:15: dns.listen: invalid listen address "127.0.0.1": want host:port`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(tc.text, "\n") || tc.text == readTestdata(t, tc.file) {
				t.Fatal("the edit did not apply: fix the test")
			}
			path := copyTestdata(t, map[string]string{tc.file: tc.text})
			_, err := LoadAt(path, monday10)
			if err == nil {
				t.Fatal("Load accepted the broken file")
			}
			if ps := AsProblems(err); len(ps) == 0 {
				t.Fatalf("error is no Problems: %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error does not say %q:\n%v", tc.want, err)
			}
		})
	}
}

// TestValueErrorsNameEntries: values of the wrong type in the policy files
// are all reported, each with the line, the entry and the key, also when
// several entries write the key (the decoder's own line is that of the
// last of them).
func TestValueErrorsNameEntries(t *testing.T) {
	dir := readTestdata(t, "directory.toml")
	dir = strings.Replace(dir, `ips = ["10.20.0.17"]`, `ips = "10.20.0.17"`, 1)
	dir = strings.Replace(dir, `actions = ["view"]`, `actions = "view"`, 1)
	dir = strings.Replace(dir, "id = \"dcf-investigations\"\nagency = \"DCF\"", "id = \"dcf-investigations\"\nagency = [\n  \"DCF\",\n]", 1)
	reg := strings.Replace(readTestdata(t, "registry.toml"), `status = "decommissioned"`, `status = 3`, 1)
	path := copyTestdata(t, map[string]string{"directory.toml": dir, "registry.toml": reg})
	_, err := LoadAt(path, monday10)
	lineOf := func(text, s string) int { return 1 + strings.Count(text[:strings.Index(text, s)], "\n") }
	want := []string{
		fmt.Sprintf(`directory.toml:%d: role "dcf-investigations": agency: incompatible types`, lineOf(dir, "agency = [")),
		fmt.Sprintf(`directory.toml:%d: role "dcf-investigations": actions: incompatible types`, lineOf(dir, `actions = "view"`)),
		fmt.Sprintf(`directory.toml:%d: user "newbie": ips: incompatible types`, lineOf(dir, `ips = "10.20.0.17"`)),
		fmt.Sprintf(`registry.toml:%d: account "dcf-old": status: incompatible types`, lineOf(reg, "status = 3")),
	}
	for _, w := range want {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("problems do not say %q:\n%v", w, err)
		}
	}
	if ps := AsProblems(err); len(ps) != len(want) {
		t.Errorf("got %d problems, want %d:\n%v", len(ps), len(want), err)
	}
}

// TestTableForList: a [table] where an array of tables belongs is one
// problem, not also one unknown key for each of its keys.
func TestTableForList(t *testing.T) {
	dir := strings.Replace(readTestdata(t, "directory.toml"), "[[agency]]", "[agency]", 1)
	dir = strings.ReplaceAll(dir, "[[agency]]", "[[agencyx]]")
	_, err := LoadAt(copyTestdata(t, map[string]string{"directory.toml": dir}), monday10)
	ps := AsProblems(err)
	want := fmt.Sprintf("directory.toml:%d: agency: incompatible types", 1+strings.Count(dir[:strings.Index(dir, "[agency]")], "\n"))
	if len(ps) == 0 || !strings.Contains(ps[0].Error(), want) {
		t.Fatalf("got %v, want first %q", err, want)
	}
	for _, p := range ps[1:] {
		if p.Key == "id" || p.Key == "name" {
			t.Errorf("a key of the table reported on its own: %v", p)
		}
	}
}

// TestValidationReportsAll checks that several mistakes in several files
// are reported together.
func TestValidationReportsAll(t *testing.T) {
	dir := readTestdata(t, "directory.toml")
	dir = strings.Replace(dir, `roles = ["dot-communications"]`, `roles = ["nope"]`, 1)
	dir = strings.Replace(dir, `ips = ["10.20.0.17"]`, `ips = ["bad-ip"]`, 1)
	dir = strings.Replace(dir, `ips = ["10.20.0.18"]`, `ips = ["also-bad"]`, 1)
	reg := strings.Replace(readTestdata(t, "registry.toml"), "expires_on = 2027-03-01", "expires_on = 2026-02-01", 1)
	_, err := LoadAt(copyTestdata(t, map[string]string{"directory.toml": dir, "registry.toml": reg}), monday10)
	ps := AsProblems(err)
	if len(ps) != 4 {
		t.Fatalf("got %d problems, want 4:\n%v", len(ps), err)
	}
}

// TestGatewayReportsAll: values the decoder refuses, unknown keys and
// invalid values of the gateway file are reported in one pass, with the
// problems of the policy files it names.
func TestGatewayReportsAll(t *testing.T) {
	gw := readTestdata(t, "smgate.toml")
	gw = strings.Replace(gw, "[dns]\n", "[resolver]\ntimeout = \"2\"\n\n[dns]\n", 1)
	gw = strings.Replace(gw, `allowed_ports = [80, 443]`, "allowed_ports = [80, 443]\nidle_timeout = \"-5s\"\nbogus = 1\nmax_conns = \"many\"", 1)
	gw = strings.Replace(gw, `mode = "enforce"`, `mode = "audit"`, 1)
	dir := strings.Replace(readTestdata(t, "directory.toml"), `roles = ["dot-communications"]`, `roles = ["nope"]`, 1)
	_, err := LoadAt(copyTestdata(t, map[string]string{"smgate.toml": gw, "directory.toml": dir}), monday10)
	want := []string{
		`smgate.toml:6: gateway.mode: must be "enforce" or "report", not "audit"`,
		`smgate.toml:13: proxy.idle_timeout: invalid duration "-5s": must not be negative`,
		`smgate.toml:14: proxy.bogus: unknown key "proxy.bogus"`,
		`smgate.toml:15: proxy.max_conns: incompatible types`,
		`smgate.toml:18: resolver.timeout: invalid duration "2"`,
		`user "tlee": roles: unknown role "nope"`,
	}
	ps := AsProblems(err)
	if len(ps) != len(want) {
		t.Errorf("got %d problems, want %d:\n%v", len(ps), len(want), err)
	}
	for _, w := range want {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("problems do not say %q:\n%v", w, err)
		}
	}
	// A file that is no TOML has one problem, and its policy is unknown.
	_, err = LoadAt(copyTestdata(t, map[string]string{"smgate.toml": gw + "\n[policy\n", "directory.toml": dir}), monday10)
	if ps := AsProblems(err); len(ps) != 1 || !strings.Contains(err.Error(), "smgate.toml:") {
		t.Errorf("syntax error: got %d problems, want 1 naming smgate.toml:\n%v", len(ps), err)
	}
}

// TestUnknownKeyEntries: an unknown key written in several entries is
// reported once for each, naming each entry and its line.
func TestUnknownKeyEntries(t *testing.T) {
	dir := readTestdata(t, "directory.toml")
	dir = strings.Replace(dir, "id = \"dot-communications\"\n", "id = \"dot-communications\"\nactoins = [\"view\"]\n", 1)
	dir = strings.Replace(dir, "id = \"dcf-investigations\"\n", "id = \"dcf-investigations\"\nactoins = [\"view\"]\n", 1)
	_, err := LoadAt(copyTestdata(t, map[string]string{"directory.toml": dir}), monday10)
	for _, w := range []string{
		`directory.toml:18: role "dcf-investigations": actoins: unknown key "actoins" (did you mean actions?)`,
		`directory.toml:26: role "dot-communications": actoins: unknown key "actoins" (did you mean actions?)`,
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("problems do not say %q:\n%v", w, err)
		}
	}
	if ps := AsProblems(err); len(ps) != 2 {
		t.Errorf("got %d problems, want 2:\n%v", len(ps), err)
	}
}

func TestWarnings(t *testing.T) {
	l, err := LoadAt(copyTestdata(t, nil), monday10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range l.Warnings {
		got = append(got, w.Error())
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{
		`account "dcf-x": expires_on: approval expired on 2026-01-01`,
		`user "newbie": acknowledged_on: the user has not acknowledged the policy`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("warnings do not say %q:\n%s", want, all)
		}
	}
	// An approval dated later blocks the account until its day; one
	// that expires on the day it is approved is in force on no day; one
	// longer than a year is not renewed yearly.
	reg := strings.Replace(readTestdata(t, "registry.toml"), "approved_on = 2026-01-15\nexpires_on = 2027-01-15",
		"approved_on = 2026-01-15\nexpires_on = 2026-01-15", 1)
	reg = strings.Replace(reg, "approved_on = 2026-03-01\nexpires_on = 2027-03-01", "approved_on = 2026-03-01\nexpires_on = 2027-03-02", 1)
	l, err = LoadAt(copyTestdata(t, map[string]string{"registry.toml": reg}), monday10.AddDate(0, -10, 0))
	if err != nil {
		t.Fatal(err)
	}
	got = got[:0]
	for _, w := range l.Warnings {
		got = append(got, w.Error())
	}
	all = strings.Join(got, "\n")
	for _, want := range []string{
		`registry.toml:42: account "dot-youtube": approved_on: 2026-03-01 is after today: requests through the account are blocked until that day`,
		`account "dcf-facebook": expires_on: 2026-01-15 is approved_on: the approval is in force on no day`,
		`account "dot-youtube": expires_on: 2027-03-02 is more than a year after approved_on 2026-03-01: approvals are renewed every year`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("warnings do not say %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, "more than a year") && strings.Count(all, "more than a year") != 1 {
		t.Errorf("a yearly approval is called longer than a year:\n%s", all)
	}
	// An approval expiring within 30 days is a warning, not an error.
	l, err = LoadAt(copyTestdata(t, nil), monday10.AddDate(0, 1, 9))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(fmt.Sprint(l.Warnings), `account "dcf-facebook": expires_on: approval expires on 2027-01-15, within 30 days`) {
		t.Errorf("no expiry warning: %v", l.Warnings)
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := copyTestdata(t, nil)
	if err := os.Remove(filepath.Join(filepath.Dir(path), "registry.toml")); err != nil {
		t.Fatal(err)
	}
	_, err := LoadAt(path, monday10)
	// Named by the key that names it, at its line, with the path resolved
	// against the gateway file.
	want := fmt.Sprintf("smgate.toml:22: policy.registry: cannot read %s: no such file or directory (relative to %s)",
		filepath.Join(filepath.Dir(path), "registry.toml"), path)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("missing registry: %v\nwant %q", err, want)
	}
}

// TestProblemsFromRoot: run from /, problems name policy files by their
// absolute path, not as "tmp/.../directory.toml".
func TestProblemsFromRoot(t *testing.T) {
	dir := strings.Replace(readTestdata(t, "directory.toml"), `roles = ["dot-communications"]`, `roles = ["nope"]`, 1)
	path := copyTestdata(t, map[string]string{"directory.toml": dir})
	t.Chdir("/")
	_, err := LoadAt(path, monday10)
	want := filepath.Join(filepath.Dir(path), "directory.toml") + ":"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("got %v, want a problem of %s", err, want)
	}
}

func TestBuiltinCatalogue(t *testing.T) {
	gw := strings.Replace(readTestdata(t, "smgate.toml"), `platforms = "platforms.toml"`, `platforms = ""`, 1)
	l, err := LoadAt(copyTestdata(t, map[string]string{"smgate.toml": gw}), monday10)
	if err != nil {
		t.Fatalf("test policy with the built-in catalogue: %v", err)
	}
	if p, _, _ := l.Snapshot.Lookup("m.facebook.com"); p != "facebook" {
		t.Fatalf("built-in catalogue: m.facebook.com is %q", p)
	}
}

// TestDateBeforeEpoch: every calendar date is a date, 1969-12-31 too (it
// used to collide with the zero value, read as "no date": a user who
// acknowledged then was blocked as not acknowledged, an account approved
// then "missing approved_on").
func TestDateBeforeEpoch(t *testing.T) {
	for _, s := range []string{"1969-12-31", "1969-12-30", "1970-01-01", "0000-01-01", "0000-12-31", "9999-12-31", "2028-02-29"} {
		var d Date
		if err := d.UnmarshalText([]byte(s)); err != nil || d.Err() != nil {
			t.Fatalf("%s: %v %v", s, err, d.Err())
		}
		if d.IsZero() || d.String() != s {
			t.Errorf("%s: IsZero %v, String %q", s, d.IsZero(), d.String())
		}
		if next := d.AddDays(1); !next.After(d) || next.Time().Sub(d.Time()) != 24*time.Hour {
			t.Errorf("%s: next day %s", s, next)
		}
	}
	if got := MakeDate(1969, 12, 31); got.IsZero() || !got.Before(MakeDate(1970, 1, 1)) {
		t.Errorf("MakeDate(1969-12-31) = %v", got)
	}
}
