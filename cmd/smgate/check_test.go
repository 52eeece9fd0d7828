package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCmd(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(&env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb}, args)
	return code, out.String(), errb.String()
}

// TestCheckShippedConfigs loads every file in configs/ as an operator
// would: the examples must run as they are.
func TestCheckShippedConfigs(t *testing.T) {
	code, out, errs := runCmd(t, "", "check", "--config", "../../configs/smgate.toml")
	if code != 0 {
		t.Fatalf("check of the shipped configs: exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{"ok", "2 agencies", "3 roles", "4 users", `account "dcf-x": expires_on`} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
}

// copyConfigs copies configs/ into a temporary directory and returns the
// path of its smgate.toml, after replacing old by new in file.
func copyConfigs(t *testing.T, file, old, new string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"smgate.toml", "platforms.toml", "registry.toml", "directory.toml"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "configs", f))
		if err != nil {
			t.Fatal(err)
		}
		if f == file {
			if !bytes.Contains(b, []byte(old)) {
				t.Fatalf("%s does not contain %q", f, old)
			}
			b = bytes.Replace(b, []byte(old), []byte(new), 1)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "smgate.toml")
}

func TestCheckReportsEveryError(t *testing.T) {
	path := copyConfigs(t, "directory.toml", `roles = ["dot-communications"]`, `roles = ["dot-comms"]`+"\nshoe_size = 9")
	code, out, _ := runCmd(t, "", "check", "--config", path)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, out)
	}
	for _, want := range []string{`directory.toml:`, `user "tlee": roles: unknown role "dot-comms"`, `user "tlee": shoe_size: unknown key "shoe_size"`, "2 error(s)"} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
}

// TestCheckReportsEverythingAtOnce: problems of the gateway file, of the
// policy files and of the files the gateway file names come in one run.
func TestCheckReportsEverythingAtOnce(t *testing.T) {
	path := copyConfigs(t, "directory.toml", `roles = ["dot-communications"]`, `roles = ["dot-comms"]`)
	editFile(t, path, `timeout = "2s"`, `timeout = "2"`, `unverified_accounts = "allow"`, "unverified_accounts = \"allow\"\nidle_timeout = \"-5s\"\nbogus = 1",
		`token_file = ""`, `token_file = "admin.token"`)
	code, out, _ := runCmd(t, "", "check", "--config", path)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, out)
	}
	for _, want := range []string{
		`resolver.timeout: invalid duration "2"`,
		`proxy.idle_timeout: invalid duration "-5s": must not be negative`,
		`proxy.bogus: unknown key "proxy.bogus"`,
		`user "tlee": roles: unknown role "dot-comms"`,
		`admin.token_file: stat `,
		"5 error(s)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
}

func TestCheckUsage(t *testing.T) {
	if code, _, errs := runCmd(t, "", "check", "--confg", "x"); code != 2 || !strings.Contains(errs, "flag provided but not defined: -confg") {
		t.Errorf("unknown flag: exit %d, %s", code, errs)
	}
	if code, out, _ := runCmd(t, "", "check", "--config", "/nonexistent/smgate.toml"); code != 1 || !strings.Contains(out, "/nonexistent/smgate.toml: cannot read") {
		t.Errorf("missing file: exit %d, %s", code, out)
	}
	if code, out, _ := runCmd(t, "", "help"); code != 0 || !strings.Contains(out, "check") {
		t.Errorf("help: exit %d, %s", code, out)
	}
	if code, _, errs := runCmd(t, "", "frobnicate"); code != 2 || !strings.Contains(errs, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: exit %d, %s", code, errs)
	}
	if code, _, errs := runCmd(t, "", "check", "-h"); code != 0 || !strings.Contains(errs, "-config") {
		t.Errorf("check -h: exit %d, %s", code, errs)
	}
}

func TestPasswd(t *testing.T) {
	code, out, errs := runCmd(t, "correct horse\n", "passwd", "--cost", "4")
	if code != 0 || !strings.HasPrefix(out, "$2a$04$") {
		t.Fatalf("passwd: exit %d, %q %q", code, out, errs)
	}
	if code, _, errs := runCmd(t, "", "passwd"); code != 1 || !strings.Contains(errs, "empty password") {
		t.Errorf("empty password: exit %d, %s", code, errs)
	}
	if code, _, _ := runCmd(t, "x\n", "passwd", "--cost", "99"); code != 2 {
		t.Errorf("bad cost: exit %d", code)
	}
}

// TestConfigFromEnvironment: $SMGATE_CONFIG is every command's --config
// default, so that an installed gateway's operators need not repeat it.
func TestConfigFromEnvironment(t *testing.T) {
	path := copyConfigs(t, "smgate.toml", `name = "gw-1"`, `name = "gw-from-env"`)
	t.Setenv("SMGATE_CONFIG", path)
	code, out, errs := runCmd(t, "", "check")
	if code != 0 || !strings.Contains(out, `gateway "gw-from-env"`) {
		t.Errorf("check with SMGATE_CONFIG set: exit %d\n%s%s", code, out, errs)
	}
	code, out, _ = runCmd(t, "", "check", "--config", "../../configs/smgate.toml")
	if code != 0 || !strings.Contains(out, `gateway "gw-1"`) {
		t.Errorf("--config does not override SMGATE_CONFIG: exit %d\n%s", code, out)
	}
	t.Setenv("SMGATE_CONFIG", filepath.Join(t.TempDir(), "missing.toml"))
	if code, out, _ := runCmd(t, "", "check"); code != 1 || !strings.Contains(out, "missing.toml") {
		t.Errorf("check with SMGATE_CONFIG naming a missing file: exit %d\n%s", code, out)
	}
}

// TestCheckFiles: check refuses what serve refuses among the files the
// gateway file names besides the policy, naming the key, the resolved path
// and what a relative path was resolved against.
func TestCheckFiles(t *testing.T) {
	const (
		token = `token_file = "admin.token"`
		key   = `hmac_key_file = "hmac.key"`
		asn   = `asn_db = "/nonexistent/asn.mmdb"`
	)
	tests := []struct {
		name    string
		edits   []string // old, new, ... in smgate.toml
		file    string   // written next to smgate.toml with content and mode
		content string
		mode    os.FileMode
		code    int
		want    []string
	}{
		{name: "token missing", edits: []string{`token_file = ""`, token}, code: 1,
			want: []string{"error: ", "smgate.toml:36: admin.token_file: stat ", "admin.token: no such file or directory (relative to ", "1 error(s)"}},
		{name: "token readable by others", edits: []string{`token_file = ""`, token}, file: "admin.token", content: "0123456789abcdef0123", mode: 0o644, code: 1,
			want: []string{"admin.token_file: ", "has mode 0644", "(chmod 0600) (relative to "}},
		{name: "token empty", edits: []string{`token_file = ""`, token}, file: "admin.token", content: "\n", mode: 0o600, code: 1,
			want: []string{"admin.token_file: ", "admin.token is empty"}},
		{name: "token ok", edits: []string{`token_file = ""`, token}, file: "admin.token", content: "0123456789abcdef0123", mode: 0o600, code: 0,
			want: []string{": ok"}},
		{name: "key missing", edits: []string{`hmac_key_file = ""`, key}, code: 1,
			want: []string{"logs.hmac_key_file: open ", "hmac.key: no such file or directory (relative to "}},
		{name: "key empty", edits: []string{`hmac_key_file = ""`, key}, file: "hmac.key", content: " \n", mode: 0o600, code: 1,
			want: []string{"logs.hmac_key_file: ", "hmac.key is empty"}},
		{name: "key readable by others", edits: []string{`hmac_key_file = ""`, key}, file: "hmac.key", content: "k3y", mode: 0o644, code: 0,
			want: []string{"warning: ", "logs.hmac_key_file: ", "has mode 0644"}},
		{name: "geoip missing", edits: []string{`asn_db = ""`, asn}, code: 1,
			want: []string{"geoip.asn_db: ", "/nonexistent/asn.mmdb"}},
		{name: "no port allowed", edits: []string{`allowed_ports = [80, 443]`, `allowed_ports = []`}, code: 0,
			want: []string{"warning: ", "smgate.toml:15: proxy.allowed_ports: is empty: every social-media request"}},
		{name: "nothing denied", edits: []string{`deny_destinations = ["127.0.0.0/8", "::1/128", "169.254.0.0/16", "fe80::/10", "0.0.0.0/8"]`, `deny_destinations = []`}, code: 0,
			want: []string{"smgate.toml:16: proxy.deny_destinations: does not cover loopback (127.0.0.0/8)", "does not cover IPv6 loopback", "does not cover link-local (169.254.0.0/16)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := copyConfigs(t, "smgate.toml", tc.edits[0], tc.edits[1])
			if tc.file != "" {
				p := filepath.Join(filepath.Dir(path), tc.file)
				if err := os.WriteFile(p, []byte(tc.content), tc.mode); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(p, tc.mode); err != nil { // whatever the umask
					t.Fatal(err)
				}
			}
			code, out, errs := runCmd(t, "", "check", "--config", path)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tc.code, out, errs)
			}
			for _, want := range tc.want {
				if !strings.Contains(out, want) {
					t.Errorf("check output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

// TestCheckRefusesWhatServeRefuses: a gateway file that serve refuses
// (a feature this build lacks, a file it cannot read) fails check too,
// with the line serve prints, so that ExecStartPre=smgate check stops what
// serve would not start; a file serve starts with passes check.
func TestCheckRefusesWhatServeRefuses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edits []string
		want  string // in the problem line; "" when serve starts
	}{
		{"transparent listener", []string{`transparent_listen = ""`, `transparent_listen = "127.0.0.1:13129"`},
			`smgate.toml:12: proxy.transparent_listen: is set to "127.0.0.1:13129", but this build has no transparent mode; leave it empty`},
		{"interception", []string{"enabled = false\nca_cert = \"\"\nca_key = \"\"", "enabled = true\nca_cert = \"ca.pem\"\nca_key = \"ca.key\""},
			"smgate.toml:19: proxy.intercept.enabled: is true, but this build has no TLS interception; set it to false"},
		{"token missing", []string{`token_file = "admin.token"`, `token_file = "missing.token"`}, "smgate.toml:36: admin.token_file: stat "},
		{"starts", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := adminConfig(t, true)
			editFile(t, path, tc.edits...)
			code, out, errs := runCmd(t, "", "check", "--config", path)
			if tc.want == "" {
				if code != 0 {
					t.Fatalf("check: exit %d\n%s%s", code, out, errs)
				}
				_, stop := runGateway(t, path)
				stop()
				return
			}
			var line string
			for l := range strings.Lines(out) {
				if strings.HasPrefix(l, "error: ") && strings.Contains(l, tc.want) {
					line = strings.TrimSuffix(strings.TrimPrefix(l, "error: "), "\n")
				}
			}
			if code != 1 || line == "" {
				t.Fatalf("check: exit %d, want 1 with an error containing %q\n%s%s", code, tc.want, out, errs)
			}
			code, _, serveErrs := runCmd(t, "", "serve", "--config", path)
			if code != 1 || !strings.Contains(serveErrs, line+"\n") {
				t.Errorf("serve: exit %d, want 1 with check's line %q\n%s", code, line, serveErrs)
			}
		})
	}
}
