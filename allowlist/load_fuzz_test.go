package allowlist

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParsePolicy feeds arbitrary text as each policy file: loading never
// panics, and a policy it accepts compiles and decides.
func FuzzParsePolicy(f *testing.F) {
	cfg, err := LoadConfig(filepath.Join("testdata", "smgate.toml"))
	if err != nil {
		f.Fatal(err)
	}
	var texts [3][]byte
	for i, name := range []string{"platforms.toml", "registry.toml", "directory.toml"} {
		if texts[i], err = os.ReadFile(filepath.Join("testdata", name)); err != nil {
			f.Fatal(err)
		}
	}
	for i := range 3 {
		f.Add(uint8(i), texts[i])
	}
	f.Add(uint8(2), []byte("[[user]]\nid = \"x\"\nips = [\"1.2.3.4\", \"1.2.3.4\"]\n[[user]]\nid = \"x\""))
	f.Add(uint8(1), []byte("[[account]]\napproved_on = 2026-01-01T10:00:00\nexpires_on = \"soon\""))
	f.Add(uint8(2), []byte("[[role]]\nschedule = \"Mon-Sun 23:59-00:00\"\nactions = [1]"))
	f.Fuzz(func(t *testing.T, which uint8, text []byte) {
		var srcs [3]source
		for i, name := range []string{"platforms.toml", "registry.toml", "directory.toml"} {
			srcs[i] = source{name: name, text: texts[i]}
		}
		srcs[which%3].text = text
		p, probs, _ := parsePolicy(cfg, srcs, monday10)
		if len(probs) > 0 {
			for _, pr := range probs {
				if pr.File == "" || pr.Msg == "" {
					t.Fatalf("problem without file or message: %+v", pr)
				}
			}
			return
		}
		s := compile(cfg, p, nil, monday10)
		for _, h := range []string{"facebook.com", "example.com", "10.0.0.1"} {
			d := s.Decide(&Request{ClientIP: ip("10.20.0.16"), Host: h, Port: 443, Time: monday10})
			if d.Reason == "" {
				t.Fatalf("decision without reason for %s", h)
			}
		}
	})
}

// FuzzDecodeConfig feeds arbitrary text as the gateway file: decoding
// ends, never panics, and every problem names the file and says what is
// wrong; a file it cannot decode has a problem saying so.
func FuzzDecodeConfig(f *testing.F) {
	gw, err := os.ReadFile(filepath.Join("testdata", "smgate.toml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(gw)
	f.Add([]byte("[proxy]\nidle_timeout = \"-5s\"\nbogus = 1\nmax_conns = \"many\"\n[resolver]\ntimeout = \"2\"\n"))
	f.Add([]byte("[proxy.intercept]\nplatforms = 3\n[proxy]\nlisten = 5\ndeny_destinations = [\"x\", 1]\n"))
	f.Add([]byte("proxy = 1\n[\"a.b\"]\nc = 2\n"))
	f.Fuzz(func(t *testing.T, text []byte) {
		cfg := &Config{Path: "smgate.toml"}
		lines, probs, _ := decodeConfig("smgate.toml", text, cfg)
		if lines == nil && len(probs) == 0 {
			t.Fatal("undecodable file without a problem")
		}
		for _, p := range probs {
			if p.File == "" || p.Msg == "" {
				t.Fatalf("problem without file or message: %+v", p)
			}
		}
	})
}
