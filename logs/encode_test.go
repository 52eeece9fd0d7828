package logs

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// fullRecord sets every field of Record.
func fullRecord() Record {
	return Record{
		Time:        time.Date(2025, 3, 4, 5, 6, 7, 890123456, time.UTC),
		ID:          "req-1",
		Action:      ActionHTTPRequest,
		Outcome:     OutcomeBlocked,
		Reason:      "blocked-no-grant",
		Duration:    1500 * time.Microsecond,
		Observer:    "gw-1",
		User:        "jdoe",
		Roles:       []string{"comms", "press"},
		Agency:      "DCF",
		SourceIP:    netip.MustParseAddr("10.1.2.3"),
		Domain:      "www.facebook.com",
		Path:        "/DCF/posts",
		Method:      "POST",
		Status:      403,
		DestIP:      netip.MustParseAddr("2a03:2880::1"),
		DestPort:    443,
		Country:     "US",
		ASN:         32934,
		SrcBytes:    1234,
		DestBytes:   56789,
		Platform:    "facebook",
		Account:     "fb-dcf",
		Role:        "comms",
		Mode:        "intercept",
		NotEnforced: true,
		Message:     "say \"hi\"\n",
		By:          "admin",
		Target:      "agency:DCF",
	}
}

func TestAppendRecordGolden(t *testing.T) {
	r := fullRecord()
	got := AppendRecord(nil, &r)
	path := filepath.Join("testdata", "record.golden.json")
	if *update {
		if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(append(got, '\n'), want) {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestAppendRecordKeyOrder(t *testing.T) {
	r := fullRecord()
	line := string(AppendRecord(nil, &r))
	keys := []string{KeyTimestamp, KeyID, KeyAction, KeyOutcome, KeyReason,
		KeyDuration, KeyObserver, KeyUser, KeyRoles, KeyAgency, KeySourceIP,
		KeyDomain, KeyPath, KeyMethod, KeyStatus, KeyDestIP, KeyDestPort,
		KeyCountry, KeyASN, KeySrcBytes, KeyDestBytes, KeyPlatform,
		KeyAccount, KeyRole, KeyMode, KeyEnforced, KeyMessage, KeyBy, KeyTarget}
	last := -1
	for _, k := range keys {
		i := strings.Index(line, `"`+k+`":`)
		if i <= last {
			t.Fatalf("key %s at %d, after previous at %d: %s", k, i, last, line)
		}
		last = i
	}
}

func TestAppendRecordOmitsZero(t *testing.T) {
	tests := []struct {
		name string
		r    Record
		want string
	}{
		{"empty", Record{}, `{}`},
		{"enforced", Record{ID: "a"}, `{"event.id":"a"}`},
		{"not enforced", Record{NotEnforced: true}, `{"smgate.enforced":false}`},
		{"negative", Record{Status: -1}, `{"http.response.status_code":-1}`},
		{"zone", Record{SourceIP: netip.MustParseAddr("fe80::1%eth0")}, `{"source.ip":"fe80::1%eth0"}`},
		{"local time", Record{Time: time.Date(2025, 1, 1, 0, 0, 0, 0, time.FixedZone("x", 3600))},
			`{"@timestamp":"2024-12-31T23:00:00.000000000Z"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(AppendRecord(nil, &tt.r)); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestAppendRecordEscapes(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"quote", `a"b`, `a\"b`},
		{"backslash", `a\b`, `a\\b`},
		{"newline", "a\nb\r\t", `a\nb\r\t`},
		{"control", "\x00\x1f", `\u0000\u001f`},
		{"invalid utf8", "a\xffb\xc3", "a\ufffdb\ufffd"},
		{"line separator", "a\u2028b\u2029", `a\u2028b\u2029`},
		{"unicode", "café 🙂", "café 🙂"},
		{"html", "<a&b>", "<a&b>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Record{Message: tt.in}
			line := AppendRecord(nil, &r)
			want := `{"message":"` + tt.want + `"}`
			if string(line) != want {
				t.Errorf("got %s, want %s", line, want)
			}
			var m map[string]string
			if err := json.Unmarshal(line, &m); err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			r2, err := DecodeRecord(line)
			if err != nil {
				t.Fatal(err)
			}
			if r2.Message != m["message"] {
				t.Errorf("DecodeRecord reads %q, encoding/json %q", r2.Message, m["message"])
			}
		})
	}
}

func TestDecodeRecordRoundTrip(t *testing.T) {
	r := fullRecord()
	line := AppendRecord(nil, &r)
	got, err := DecodeRecord(line)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Time.Equal(r.Time) {
		t.Errorf("time %v, want %v", got.Time, r.Time)
	}
	got.Time = r.Time
	if !reflect.DeepEqual(got, r) {
		t.Errorf("got %+v\nwant %+v", got, r)
	}
}

func TestDecodeRecordChainedLine(t *testing.T) {
	r := fullRecord()
	line := AppendRecord(nil, &r)
	line = append(line[:len(line)-1], `,"smgate.chain":"00ff","extra":{"a":[1,2.5e3,null,true]}}`+"\n"...)
	got, err := DecodeRecord(line)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != r.ID || got.Target != r.Target {
		t.Errorf("got %+v", got)
	}
}

func TestDecodeRecordLenient(t *testing.T) {
	tests := []struct {
		name, line string
		want       Record
	}{
		{"any order", `{"smgate.target":"t","event.id":"i"}`, Record{ID: "i", Target: "t"}},
		{"null", `{"event.id":null,"user.roles":null,"destination.port":null}`, Record{}},
		{"enforced true", `{"smgate.enforced":true}`, Record{}},
		{"last wins", `{"event.id":"a","event.id":"b"}`, Record{ID: "b"}},
		{"escapes", `{"message":"\u00e9\ud83d\ude42\/\b\f"}`, Record{Message: "é🙂/\b\f"}},
		{"lone surrogate", `{"message":"\ud83dx\ude42"}`, Record{Message: "\ufffdx\ufffd"}},
		{"surrogate pair broken", `{"message":"\ud83d\u0041"}`, Record{Message: "\ufffdA"}},
		{"invalid utf8", "{\"message\":\"a\xffb\"}", Record{Message: "a\ufffdb"}},
		{"spaces", " { \"event.id\" : \"a\" , \"user.roles\" : [ \"x\" , \"y\" ] } \r\n", Record{ID: "a", Roles: []string{"x", "y"}}},
		{"empty roles", `{"user.roles":[]}`, Record{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeRecord([]byte(tt.line))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestDecodeRecordErrors(t *testing.T) {
	tests := []struct{ name, line string }{
		{"empty", ``},
		{"not object", `[]`},
		{"torn", `{"event.id":"a`},
		{"torn after comma", `{"event.id":"a",`},
		{"trailing", `{} {}`},
		{"bad time", `{"@timestamp":"yesterday"}`},
		{"time out of range", `{"@timestamp":"0000-01-01T00:00:00+01:00"}`},
		{"bad ip", `{"source.ip":"1.2.3"}`},
		{"port range", `{"destination.port":65536}`},
		{"negative port", `{"destination.port":-1}`},
		{"float", `{"event.duration":1.5}`},
		{"leading zero", `{"event.duration":01}`},
		{"string for int", `{"event.duration":"1"}`},
		{"int for string", `{"event.id":1}`},
		{"control char", "{\"message\":\"a\nb\"}"},
		{"bad escape", `{"message":"\x"}`},
		{"bad unicode", `{"message":"\u12"}`},
		{"roles not strings", `{"user.roles":[1]}`},
		{"deep", `{"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`},
		{"bad bool", `{"smgate.enforced":"no"}`},
		{"missing colon", `{"event.id" "a"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r, err := DecodeRecord([]byte(tt.line)); err == nil {
				t.Errorf("DecodeRecord(%q) = %+v, want error", tt.line, r)
			}
		})
	}
}

func FuzzDecodeRecord(f *testing.F) {
	r := fullRecord()
	f.Add(AppendRecord(nil, &r))
	f.Add([]byte(`{"message":"\ud83d\u0041","source.ip":"fe80::1%a\"b"}`))
	f.Add([]byte("{\"message\":\"a\xffb\",\"@timestamp\":\"9999-12-31T23:59:59-01:00\"}"))
	f.Add([]byte(`{"x":{"y":[1,-2.5E+3,"z",null]},"smgate.chain":"ab"}`))
	f.Add([]byte(`{"event.id":"a`))
	f.Fuzz(func(t *testing.T, line []byte) {
		r1, err := DecodeRecord(line)
		if err != nil {
			return
		}
		enc1 := AppendRecord(nil, &r1)
		if !json.Valid(enc1) {
			t.Fatalf("invalid JSON %q", enc1)
		}
		r2, err := DecodeRecord(enc1)
		if err != nil {
			t.Fatalf("decode of own encoding %q: %v", enc1, err)
		}
		if enc2 := AppendRecord(nil, &r2); !bytes.Equal(enc1, enc2) {
			t.Fatalf("unstable:\n%s\n%s", enc1, enc2)
		}
	})
}

func TestAppendRecordAllocs(t *testing.T) {
	r := fullRecord()
	r.SourceIP = netip.MustParseAddr("fe80::1%eth0")
	buf := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(100, func() { buf = AppendRecord(buf[:0], &r) }); n != 0 {
		t.Errorf("AppendRecord allocates %v times, want 0", n)
	}
}

// TestTimestampWidth: @timestamp is written with nine fractional digits
// whatever they are, so every line's time has one width; lines written
// with Go's shorter RFC 3339 form (earlier versions) still decode.
func TestTimestampWidth(t *testing.T) {
	for _, ts := range []time.Time{
		time.Date(2026, 11, 23, 14, 5, 9, 0, time.UTC),
		time.Date(2026, 11, 23, 14, 5, 9, 120000000, time.UTC),
		time.Date(2026, 11, 23, 14, 5, 9, 123456789, time.UTC),
		time.Date(2026, 11, 23, 14, 5, 9, 1, time.UTC),
		time.Date(2026, 11, 23, 14, 5, 9, 100, time.UTC),
	} {
		got := string(AppendRecord(nil, &Record{Time: ts}))
		if want := `{"@timestamp":"` + ts.Format("2006-01-02T15:04:05.000000000Z07:00") + `"}`; got != want {
			t.Errorf("%v written as %s, want %s", ts, got, want)
		}
	}
	for _, line := range []string{`{"@timestamp":"2026-11-23T14:05:09Z"}`, `{"@timestamp":"2026-11-23T14:05:09.12Z"}`} {
		r, err := DecodeRecord([]byte(line))
		if err != nil || r.Time.Second() != 9 {
			t.Errorf("%s: %+v, %v", line, r, err)
		}
	}
}
