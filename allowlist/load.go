package allowlist

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// maxValueErrors bounds the values of one policy file that decodeFile
// reports before it gives up: each costs a decoding of the whole file.
const maxValueErrors = 20

// decodeFile decodes the TOML text src of file into v and returns the line
// index of the text, or the problems: a syntax error (the first the parser
// meets, with its line), or every value of the wrong type (up to
// maxValueErrors, each with its line, entry and key) and every unknown key.
// A value of the wrong type is reported, blanked out (its lines made
// comments, so that every line keeps its number) and the text decoded
// again, as decodeConfig does for the gateway file.
func decodeFile(file string, src []byte, v any) (*lazyLines, Problems) {
	lines := &lazyLines{src: src}
	text := src
	var bad Problems // values of the wrong type found so far
	lastAt := -1     // the line of the last one
	for {
		var probs Problems
		if len(text) >= parallelThreshold {
			probs = decodeChunks(file, text, v, runtime.GOMAXPROCS(0))
		} else {
			probs = decodeOne(file, text, v)
		}
		describeUnknown(probs, lines, v)
		var fatal *Problem
		for _, p := range probs {
			if !p.unknownKey {
				fatal = p
				break
			}
		}
		if fatal == nil {
			if len(bad) > 0 {
				return nil, byLine(append(bad, probs...)) // nothing to validate
			}
			return lines, probs
		}
		if !fatal.valueError && len(bad) > 0 {
			return nil, byLine(bad) // a syntax error of the blanked text, not of the file
		}
		at := locateEntry(fatal, lines.get(), text, v)
		if !fatal.valueError {
			return nil, Problems{fatal}
		}
		if at == lastAt {
			return nil, byLine(bad) // blanking did not get past it
		}
		lastAt = at
		bad = append(bad, fatal)
		blanked, ok := blankValue(text, at)
		if !ok || len(bad) >= maxValueErrors {
			return nil, byLine(bad)
		}
		text = blanked
		reflect.ValueOf(v).Elem().SetZero()
	}
}

// byLine sorts problems in the order of the file, those without a line last.
func byLine(probs Problems) Problems {
	sort.SliceStable(probs, func(i, j int) bool {
		li, lj := probs[i].Line, probs[j].Line
		return li != 0 && (lj == 0 || li < lj)
	})
	return probs
}

// locateEntry completes a problem that the decoder reported with the
// dotted key only ("user.ips"): for a key of an entry of an array of
// tables, the entry by its id and the key within it, and the line. The
// decoder's line is that of the last entry that writes the key, whichever
// entry failed, so a value error is placed by decoding the entries one by
// one; a syntax error's line is right. It returns the line the key's value
// starts on in src, or 0 when it is not found there.
func locateEntry(p *Problem, idx lineIndex, src []byte, v any) int {
	table, rest, ok := strings.Cut(p.Key, ".")
	list := listField(reflect.ValueOf(v), table)
	if !ok || !list.IsValid() {
		if n, ok := idx[p.Key]; ok {
			p.Line = n
		}
		return idx[p.Key]
	}
	i := -1
	if p.valueError {
		i = failingEntry(src, table, list.Type().Elem())
	} else {
		for j := 0; ; j++ {
			n, ok := idx[table+"#"+strconv.Itoa(j)]
			if !ok || n > p.Line {
				break
			}
			i = j
		}
	}
	if i < 0 {
		return 0
	}
	entry := table + "#" + strconv.Itoa(i)
	var id struct {
		ID string `toml:"id"`
	}
	if n, ok := idx[entry+".id"]; ok {
		_, _ = toml.Decode(lineAt(src, n), &id) // no id: the entry is named by position
	}
	p.Entry = entryName(table, i, id.ID)
	p.Key = rest
	n := idx[entry+"."+rest]
	if p.valueError && n > 0 {
		p.Line = n
	}
	return n
}

// failingEntry returns the index of the first entry of the array of tables
// table in src that does not decode into elem, or -1.
func failingEntry(src []byte, table string, elem reflect.Type) int {
	var top map[string]toml.Primitive
	md, err := toml.Decode(string(src), &top)
	if err != nil {
		return -1
	}
	var entries []toml.Primitive
	if md.PrimitiveDecode(top[table], &entries) != nil {
		return -1
	}
	for i, e := range entries {
		if md.PrimitiveDecode(e, reflect.New(elem).Interface()) != nil {
			return i
		}
	}
	return -1
}

// lineAt returns the n-th (1-based) line of src.
func lineAt(src []byte, n int) string {
	for range n - 1 {
		i := bytes.IndexByte(src, '\n')
		if i < 0 {
			return ""
		}
		src = src[i+1:]
	}
	if i := bytes.IndexByte(src, '\n'); i >= 0 {
		src = src[:i]
	}
	return string(src)
}

// blankValue returns src with the key and value that start on line n made
// a comment, every line of a multi-line array included, or, when line n
// is a table header ("[agency]" where [[agency]] belongs), the table with
// all its keys. It returns false when there is no such line or the value
// is a multi-line string.
func blankValue(src []byte, n int) ([]byte, bool) {
	if n <= 0 {
		return nil, false
	}
	ls := bytes.SplitAfter(src, []byte("\n"))
	if n > len(ls) {
		return nil, false
	}
	table := strings.HasPrefix(strings.TrimSpace(string(ls[n-1])), "[")
	out := make([]byte, 0, len(src)+8)
	depth := 0
	for i, l := range ls {
		t := strings.TrimSpace(string(l))
		blank := i == n-1 || i > n-1 && depth > 0
		if table && i > n-1 && depth == 0 {
			if strings.HasPrefix(t, "[") {
				table = false // the next table
			} else if t != "" && t[0] != '#' {
				blank = true
			}
		}
		if blank {
			if strings.Contains(t, `"""`) || strings.Contains(t, "'''") {
				return nil, false
			}
			if depth > 0 {
				depth += bracketDepth(t)
			} else if _, v, ok := strings.Cut(t, "="); ok {
				depth = bracketDepth(v)
			}
			out = append(out, '#')
		}
		out = append(out, l...)
	}
	return out, true
}

// decodeOne decodes one TOML text into v. Unknown keys come back as
// problems without line (decodeFile finds it); a syntax error and a value
// of the wrong type have their line and dotted key.
func decodeOne(file string, src []byte, v any) Problems {
	md, err := toml.Decode(string(src), v)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return Problems{{File: file, Line: pe.Position.Line, Key: pe.LastKey, Msg: pe.Message}}
		}
		if m := lastKey.FindStringSubmatch(err.Error()); m != nil {
			line, _ := strconv.Atoi(m[1])
			return Problems{{File: file, Line: line, Key: m[2], Msg: m[3], valueError: true}}
		}
		return Problems{{File: file, Msg: err.Error()}}
	}
	return undecoded(file, md)
}

// undecoded returns the keys of md that v has no field for, as problems
// for describeUnknown to complete.
func undecoded(file string, md toml.MetaData) Problems {
	var probs Problems
	for _, k := range md.Undecoded() {
		probs = append(probs, &Problem{File: file, Key: k.String(), Msg: fmt.Sprintf("unknown key %q", k.String()), unknownKey: true})
	}
	return probs
}

// readFile reads path for file decoding, as a problem naming the file.
func readFile(path string) ([]byte, *Problem) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &Problem{File: displayPath(path), Msg: fmt.Sprintf("cannot read: %v", errors.Unwrap(err))}
	}
	return b, nil
}

// displayPath returns path relative to the working directory when it lies
// below it, as an operator would type it, else path.
func displayPath(path string) string {
	wd, err := os.Getwd()
	if err != nil || !filepath.IsAbs(path) || wd == string(filepath.Separator) {
		return path // from /, "etc/smgate/registry.toml" would read as relative to something else
	}
	if rel, err := filepath.Rel(wd, path); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}

// Defaults applied by LoadConfig.
var (
	defaultAllowedPorts = []uint16{80, 443}
	defaultDeny         = []netip.Prefix{
		netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"),
		netip.MustParsePrefix("169.254.0.0/16"), netip.MustParsePrefix("fe80::/10"),
		netip.MustParsePrefix("0.0.0.0/8"), netip.MustParsePrefix("::/128"),
	}
)

// LoadConfig reads the gateway file at path, applies defaults, resolves
// its relative paths against the file's directory and validates it. The
// error is Problems, naming the file, key and line of each problem.
func LoadConfig(path string) (*Config, error) {
	cfg, probs, _ := loadConfig(path)
	if len(probs) > 0 {
		return nil, probs
	}
	return cfg, nil
}

// DecodeConfig is LoadConfig for a file with problems: it returns the
// config as far as the file could be decoded (defaults applied, paths
// resolved, refused values left out) with the problems as the error, or
// nil when the file cannot be read or is no TOML. smgate check uses it to
// go on checking the files the config names.
func DecodeConfig(path string) (*Config, error) {
	cfg, probs, _ := loadConfig(path)
	if len(probs) > 0 {
		return cfg, probs
	}
	return cfg, nil
}

// loadConfig is LoadConfig returning every problem of the file and, when
// the file could be decoded at all, the config as far as it is valid.
// policyKnown reports whether the policy files it names are known for
// sure, so that they can be validated even when the file has problems.
func loadConfig(path string) (cfg *Config, probs Problems, policyKnown bool) {
	src, p := readFile(path)
	if p != nil {
		return nil, Problems{p}, false
	}
	cfg = &Config{Path: path}
	lines, probs, bad := decodeConfig(path, src, cfg)
	if lines == nil {
		return nil, probs, false
	}
	cfg.lines = lines
	var vprobs Problems
	r := report{file: path, lines: lines, probs: &vprobs}
	cfg.applyDefaults()
	cfg.resolvePaths(filepath.Dir(path))
	cfg.validate(r)
	for _, p := range vprobs {
		if !bad[p.Key] { // a value already refused is not also missing
			probs = append(probs, p)
		}
	}
	probs = byLine(probs)
	policyKnown = cfg.Policy.Registry != "" && cfg.Policy.Directory != ""
	for k := range bad {
		policyKnown = policyKnown && !strings.HasPrefix(k, "policy.")
	}
	return cfg, probs, policyKnown
}

// decodeConfig decodes the gateway file into cfg. The file is small, so a
// value the decoder refuses (a bad duration, a string where a number
// belongs) does not end decoding as it does for the policy files: the key
// is reported, dropped, and the rest decoded again, so that one pass
// reports every such value and every unknown key. It returns the keys it
// dropped, and nil lines only when the file is no TOML at all.
func decodeConfig(file string, src []byte, cfg *Config) (*lazyLines, Problems, map[string]bool) {
	var raw map[string]any
	if _, err := toml.Decode(string(src), &raw); err != nil {
		return nil, decodeOne(file, src, &raw), nil
	}
	lines := &lazyLines{src: src}
	var probs Problems
	bad := map[string]bool{}
	text := string(src)
	for {
		*cfg = Config{Path: cfg.Path}
		md, err := toml.Decode(text, cfg)
		if err == nil {
			unknown := undecoded(file, md)
			describeUnknown(unknown, lines, cfg)
			probs = append(probs, unknown...)
			return lines, probs, bad
		}
		key, msg := valueError(err)
		if key == "" || bad[key] || !deleteKey(raw, key) {
			return nil, append(probs, &Problem{File: file, Key: key, Line: lines.get().line(key), Msg: msg}), bad
		}
		bad[key] = true
		probs = append(probs, &Problem{File: file, Line: lines.get().line(key), Key: key, Msg: msg})
		var b strings.Builder
		if err := toml.NewEncoder(&b).Encode(raw); err != nil {
			return nil, probs, bad
		}
		text = b.String()
	}
}

// lastKey finds the key in the text of BurntSushi/toml's type errors,
// which are not ParseErrors: `toml: line 2 (last key "proxy.listen"): ...`.
var lastKey = regexp.MustCompile(`^toml: (?:line (\d+) )?\(last key "([^"]*)"\): (.*)$`)

// valueError returns the key and message of a decoding error of a value,
// or "" and the error's text when it names no key.
func valueError(err error) (key, msg string) {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return pe.LastKey, pe.Message
	}
	if m := lastKey.FindStringSubmatch(err.Error()); m != nil {
		return m[2], m[3]
	}
	return "", err.Error()
}

// deleteKey removes the dotted key from the decoded tables of raw and
// reports whether it was there.
func deleteKey(raw map[string]any, key string) bool {
	parts := strings.Split(key, ".")
	m := raw
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			return false
		}
		m = next
	}
	if _, ok := m[parts[len(parts)-1]]; !ok {
		return false
	}
	delete(m, parts[len(parts)-1])
	return true
}

func (c *Config) applyDefaults() {
	if c.Gateway.Name == "" {
		c.Gateway.Name, _ = os.Hostname()
	}
	if c.Gateway.DataDir == "" {
		c.Gateway.DataDir = "./var"
	}
	if c.Gateway.Mode == "" {
		c.Gateway.Mode = ModeEnforce
	}
	if c.Proxy.Auth == nil {
		c.Proxy.Auth = []string{"basic", "ip"}
	}
	if c.Proxy.UnverifiedAccounts == "" {
		c.Proxy.UnverifiedAccounts = "allow"
	}
	if c.Proxy.AllowedPorts == nil {
		c.Proxy.AllowedPorts = defaultAllowedPorts
	}
	if c.Proxy.DenyDestinations == nil {
		for _, p := range defaultDeny {
			c.Proxy.DenyDestinations = append(c.Proxy.DenyDestinations, Prefix{p})
		}
	}
	setDefault(&c.Proxy.MaxConns, 10000)
	setDuration(&c.Proxy.DialTimeout, 10*time.Second)
	setDuration(&c.Proxy.HeaderTimeout, 10*time.Second)
	setDuration(&c.Proxy.IdleTimeout, 120*time.Second)
	if c.DNS.BlockAnswer == "" {
		c.DNS.BlockAnswer = "nxdomain"
	}
	setDefault(&c.DNS.CacheSize, 100000)
	setDuration(&c.Resolver.Timeout, 2*time.Second)
	setDefault(&c.Logs.RetentionDays, 1095)
	setDefault(&c.Logs.QueueSize, 65536)
}

func setDefault(v *int, d int) {
	if *v == 0 {
		*v = d
	}
}

func setDuration(v *Duration, d time.Duration) {
	if v.Duration == 0 {
		v.Duration = d
	}
}

// resolvePaths makes every path of the file absolute, relative to dir,
// and remembers which keys were written as relative paths.
func (c *Config) resolvePaths(dir string) {
	abs := func(key string, p *string) {
		if *p == "" || filepath.IsAbs(*p) {
			return
		}
		if a, err := filepath.Abs(filepath.Join(dir, *p)); err == nil {
			*p = a
			if c.relative == nil {
				c.relative = map[string]bool{}
			}
			c.relative[key] = true
		}
	}
	abs("gateway.data_dir", &c.Gateway.DataDir)
	if c.Logs.Dir == "" {
		c.Logs.Dir = filepath.Join(c.Gateway.DataDir, "logs")
	}
	for _, k := range []struct {
		key string
		p   *string
	}{
		{"logs.dir", &c.Logs.Dir}, {"logs.hmac_key_file", &c.Logs.HMACKeyFile},
		{"admin.token_file", &c.Admin.TokenFile}, {"geoip.country_db", &c.GeoIP.CountryDB},
		{"geoip.asn_db", &c.GeoIP.ASNDB}, {"proxy.intercept.ca_cert", &c.Proxy.Intercept.CACert},
		{"proxy.intercept.ca_key", &c.Proxy.Intercept.CAKey}, {"policy.platforms", &c.Policy.Platforms},
		{"policy.registry", &c.Policy.Registry}, {"policy.directory", &c.Policy.Directory},
	} {
		abs(k.key, k.p)
	}
}

// Line returns the line of the file at Path that sets key
// ("policy.registry"), or 0 when it is not known.
func (c *Config) Line(key string) int { return c.lines.get().line(key) }

// Relative reports whether the path of key ("admin.token_file") was
// written relative to the gateway file, so that a message about it can
// say what it was resolved against.
func (c *Config) Relative(key string) bool { return c.relative[key] }

func (c *Config) validate(r report) {
	c.validateGateway(r)
	c.validateProxy(r)
	c.validateDNS(r)
	for i, u := range c.Resolver.Upstreams {
		err := checkHostPort(u)
		if _, port, _ := net.SplitHostPort(u); err == nil && port == "0" {
			err = fmt.Errorf("port 0 is no resolver's port") // 0 means any port only to listen on
		}
		if err != nil {
			r.top("resolver.upstreams", "entry %d %q: %v", i+1, u, err)
		}
	}
	checkListen(r, "admin.listen", c.Admin.Listen)
	if c.Logs.RetentionDays < 0 {
		r.top("logs.retention_days", "must be a positive number of days, not %d", c.Logs.RetentionDays)
	}
	if c.Logs.QueueSize < 0 {
		r.top("logs.queue_size", "must be positive, not %d", c.Logs.QueueSize)
	}
	if c.Policy.Registry == "" {
		r.top("policy.registry", "is required: the registry of approved accounts")
	}
	if c.Policy.Directory == "" {
		r.top("policy.directory", "is required: the directory of agencies, roles and users")
	}
}

func (c *Config) validateGateway(r report) {
	if c.Gateway.Timezone == "Local" {
		// time.LoadLocation takes it as the zone of the machine (TZ,
		// /etc/localtime): approvals and schedules would move with the
		// host's settings.
		r.top("gateway.timezone", "%q is the zone of the machine, not an IANA name: name the agency's zone, such as \"America/New_York\"", c.Gateway.Timezone)
	} else if _, err := time.LoadLocation(c.Gateway.Timezone); err != nil {
		r.top("gateway.timezone", "unknown time zone %q (want an IANA name such as \"America/New_York\")", c.Gateway.Timezone)
	}
	if c.Gateway.Mode != ModeEnforce && c.Gateway.Mode != ModeReport {
		r.top("gateway.mode", "must be \"enforce\" or \"report\", not %q", c.Gateway.Mode)
	}
}

func (c *Config) validateProxy(r report) {
	checkListen(r, "proxy.listen", c.Proxy.Listen)
	checkListen(r, "proxy.transparent_listen", c.Proxy.TransparentListen)
	if len(c.Proxy.Auth) == 0 {
		r.top("proxy.auth", "must name at least one identity source: \"basic\" or \"ip\"")
	}
	seen := map[string]bool{}
	for _, a := range c.Proxy.Auth {
		if a != "basic" && a != "ip" {
			r.top("proxy.auth", "unknown identity source %q (want \"basic\" or \"ip\")", a)
		}
		if seen[a] {
			r.top("proxy.auth", "identity source %q listed twice", a)
		}
		seen[a] = true
	}
	if u := c.Proxy.UnverifiedAccounts; u != "allow" && u != "block" {
		r.top("proxy.unverified_accounts", "must be \"allow\" or \"block\", not %q", u)
	}
	for _, p := range c.Proxy.AllowedPorts {
		if p == 0 {
			r.top("proxy.allowed_ports", "port 0 is not a port")
		}
	}
	if c.Proxy.MaxConns < 0 {
		r.top("proxy.max_conns", "must be positive, not %d", c.Proxy.MaxConns)
	}
	ic := c.Proxy.Intercept
	if ic.Enabled && (ic.CACert == "" || ic.CAKey == "") {
		r.top("proxy.intercept.enabled", "TLS interception needs proxy.intercept.ca_cert and ca_key")
	}
}

func (c *Config) validateDNS(r report) {
	checkListen(r, "dns.listen", c.DNS.Listen)
	switch c.DNS.BlockAnswer {
	case "nxdomain":
	case "sinkhole":
		if c.DNS.SinkholeIPv4 == "" && c.DNS.SinkholeIPv6 == "" {
			r.top("dns.block_answer", "\"sinkhole\" needs dns.sinkhole_ipv4 or dns.sinkhole_ipv6")
		}
	default:
		r.top("dns.block_answer", "must be \"nxdomain\" or \"sinkhole\", not %q", c.DNS.BlockAnswer)
	}
	for _, k := range []struct {
		key, v string
		v4     bool
	}{{"dns.sinkhole_ipv4", c.DNS.SinkholeIPv4, true}, {"dns.sinkhole_ipv6", c.DNS.SinkholeIPv6, false}} {
		if k.v == "" {
			continue
		}
		if a, err := netip.ParseAddr(k.v); err != nil || a.Is4() != k.v4 {
			r.top(k.key, "invalid address %q", k.v)
		}
	}
	if c.DNS.CacheSize < 0 {
		r.top("dns.cache_size", "must not be negative, not %d", c.DNS.CacheSize)
	}
	if c.DNS.RateLimit < 0 {
		r.top("dns.rate_limit", "must not be negative, not %d (0 = no limit)", c.DNS.RateLimit)
	}
}

func checkListen(r report, key, addr string) {
	if addr == "" {
		return
	}
	if err := checkHostPort(addr); err != nil {
		r.top(key, "invalid listen address %q: %v", addr, err)
	}
}

func checkHostPort(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want host:port")
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || (n == 0 && port != "0") {
		return fmt.Errorf("invalid port %q", port)
	}
	return nil
}

// Location returns the gateway's time zone (validated by LoadConfig).
func (c *Config) Location() *time.Location {
	loc, err := time.LoadLocation(c.Gateway.Timezone)
	if err != nil {
		return time.Local
	}
	return loc
}
