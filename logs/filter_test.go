package logs

import (
	"bytes"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"
)

func TestFieldNeedle(t *testing.T) {
	tests := []struct {
		name string
		r    Record
		want string
	}{
		{"user", Record{User: "jsmith"}, `"user.name":"jsmith"`},
		{"escaped", Record{User: `dom\j"s`}, `"user.name":"dom\\j\"s"`},
		{"line separator", Record{Agency: "a\u2028"}, `"organization.id":"a\u2028"`},
		{"domain is a value suffix", Record{Domain: "facebook.com"}, `facebook.com"`},
		{"empty", Record{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(fieldNeedle(&tt.r)); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestInDomain(t *testing.T) {
	tests := []struct {
		domain, host string
		want         bool
	}{
		{"facebook.com", "facebook.com", true},
		{"facebook.com", "m.facebook.com", true},
		{"facebook.com", "a.b.facebook.com", true},
		{"facebook.com", "notfacebook.com", false},
		{"facebook.com", "facebook.com.evil.net", false},
		{"facebook.com", "com", false},
		{"facebook.com", "", false},
		{"", "anything", true},
		{"com", "x.com", true},
	}
	for _, tt := range tests {
		if got := inDomain(tt.domain, tt.host); got != tt.want {
			t.Errorf("inDomain(%q, %q) = %v, want %v", tt.domain, tt.host, got, tt.want)
		}
	}
}

func TestOutOfRange(t *testing.T) {
	base := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	line := func(ts time.Time) []byte { return AppendRecord(nil, &Record{Time: ts, User: "u"}) }
	tests := []struct {
		name         string
		since, until time.Time
		ts           time.Time
		want         bool
	}{
		{"no bounds", time.Time{}, time.Time{}, base, false},
		{"a second before since", base, time.Time{}, base.Add(-time.Second), true},
		{"same second as since, earlier", base.Add(500 * time.Millisecond), time.Time{}, base.Add(100 * time.Millisecond), false},
		{"after since", base, time.Time{}, base.Add(time.Hour), false},
		{"at until", time.Time{}, base, base, false},
		{"a second after until", time.Time{}, base, base.Add(time.Second), true},
		{"a nanosecond before the next second", time.Time{}, base, base.Add(time.Second - 1), false},
		{"bounds in another zone", base.In(time.FixedZone("X", 3600)), time.Time{}, base.Add(-time.Second), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFilter(Query{Since: tt.since, Until: tt.until})
			if got := f.outOfRange(line(tt.ts)); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	f := newFilter(Query{Since: base})
	for _, l := range []string{"", "{", `{"event.id":"x","@timestamp":"2000-01-01T00:00:00Z"}`, `{"@timestamp":"20"}`} {
		if f.outOfRange([]byte(l)) {
			t.Errorf("outOfRange(%q) = true, want it left to the decoder", l)
		}
	}
}

// Value pools for random records and queries: near misses, escapes,
// non-ASCII, invalid UTF-8.
var (
	poolUsers     = []string{"jsmith", "jsmith2", "Jsmith", `j"smith`, `DOM\jsmith`, "jörg", "a\u2028b", "\xffx", "t\tab", "<b>&", ""}
	poolAgencies  = []string{"DCF", "DC", "DOT", "dcf", ""}
	poolPlatforms = []string{"facebook", "face", "x", `fa"ce`, ""}
	poolAccounts  = []string{"fb-dcf", "fb-dc", "x-dot", ""}
	poolDomains   = []string{"facebook.com", "m.facebook.com", "notfacebook.com", "facebook.com.evil.net", "x.com", "a.x.com", "ex.com", "bücher.de", "m.bücher.de", "a\"b.com", "\u2028.com", "", "com"}
	poolQDomains  = append([]string{"FaceBook.com.", "book.com", "\xff.com"}, poolDomains...)
	poolOutcomes  = []string{OutcomeAllowed, OutcomeBlocked, OutcomeSuccess, "allow", ""}
	poolReasons   = []string{"blocked-no-grant", "blocked-no-grant-x", "allowed-grant", ""}
	poolActions   = []string{ActionHTTPRequest, ActionConnect, ActionDNSQuery, ActionSuspend, "connec"}
)

func pick(rng *rand.Rand, pool []string) string { return pool[rng.IntN(len(pool))] }

// randomTime is within four days from day0, often on a whole second.
func randomTime(rng *rand.Rand) time.Time {
	t := day0.Add(time.Duration(rng.Int64N(int64(4 * 24 * time.Hour))))
	switch rng.IntN(3) {
	case 0:
		t = t.Truncate(time.Second)
	case 1:
		t = t.Truncate(time.Hour)
	}
	return t
}

func randomRecord(rng *rand.Rand) Record {
	return Record{
		Time: randomTime(rng), Action: pick(rng, poolActions), Outcome: pick(rng, poolOutcomes),
		Reason: pick(rng, poolReasons), User: pick(rng, poolUsers), Agency: pick(rng, poolAgencies),
		Domain: pick(rng, poolDomains), Platform: pick(rng, poolPlatforms), Account: pick(rng, poolAccounts),
		// Values that must not be mistaken for the filtered fields.
		Message: pick(rng, poolUsers), Target: pick(rng, poolDomains), Role: pick(rng, poolUsers),
	}
}

// randomQuery sets each field with some probability.
func randomQuery(rng *rand.Rand) Query {
	var q Query
	maybe := func(pool []string) string {
		if rng.IntN(3) == 0 {
			return pick(rng, pool)
		}
		return ""
	}
	q.User, q.Agency, q.Platform = maybe(poolUsers), maybe(poolAgencies), maybe(poolPlatforms)
	q.Account, q.Domain, q.Outcome, q.Reason = maybe(poolAccounts), maybe(poolQDomains), maybe(poolOutcomes), maybe(poolReasons)
	for range rng.IntN(3) {
		q.Actions = append(q.Actions, pick(rng, poolActions))
	}
	if rng.IntN(2) == 0 {
		q.Since = randomTime(rng)
	}
	if rng.IntN(2) == 0 {
		q.Until = randomTime(rng)
	}
	return q
}

// TestPrefilterNeverChangesResults compares Search with decoding every
// line and testing it exactly, on random records and queries.
func TestPrefilterNeverChangesResults(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	recs := make([]Record, 3000)
	for i := range recs {
		recs[i] = randomRecord(rng)
	}
	slices.SortStableFunc(recs, func(a, b Record) int { return a.Time.Compare(b.Time) })
	dir := t.TempDir()
	writeDayFiles(t, dir, recs)
	lines := decodeAllLines(t, dir)
	matched := 0
	for i := range 400 {
		q := randomQuery(rng)
		var want []string
		f := newFilter(q)
		for _, l := range lines {
			if f.match(&l.r) {
				want = append(want, l.line)
			}
		}
		var got []string
		_, err := Search(dir, q, func(line []byte, _ *Record) error {
			got = append(got, string(line))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("query %d %+v: Search found %d records, decoding everything %d", i, q, len(got), len(want))
		}
		matched += len(want)
	}
	if matched == 0 {
		t.Fatal("no query matched anything: the test proves nothing")
	}
}

type decodedLine struct {
	line string
	r    Record
}

// decodeAllLines decodes every line of the daily files of dir, in order.
func decodeAllLines(t *testing.T, dir string) []decodedLine {
	t.Helper()
	files, err := searchDayFiles(dir, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var out []decodedLine
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range bytes.Split(bytes.TrimSuffix(data, newline), newline) {
			r, err := DecodeRecord(l)
			if err != nil {
				t.Fatalf("decode %s: %v", l, err)
			}
			out = append(out, decodedLine{string(l), r})
		}
	}
	return out
}

// FuzzFilterLine checks that the prefilter and the decoder never panic on
// any line, and that the prefilter never rejects a canonical line that the
// exact test accepts.
func FuzzFilterLine(f *testing.F) {
	for _, r := range sampleRecords() {
		f.Add(AppendRecord(nil, &r), r.User, r.Domain, "", int64(0), int64(0))
	}
	f.Add([]byte(`{"@timestamp":"2026-11-01T00:00:00Z","user.name":"j\"s","url.domain":"m.x.com"}`), `j"s`, "x.com", OutcomeBlocked, day0.Unix(), int64(0))
	f.Add([]byte(`{"user.name":"\u006asmith"}`), "jsmith", "", "", int64(0), int64(0))
	f.Add([]byte(`{"@timestamp":"2026-11-01T00:00:00.5Z","@timestamp":"2020-01-01T00:00:00Z"}`), "", "", "", day0.Unix(), int64(0))
	f.Add([]byte("{\"url.domain\":\"\u2028.com\"}\n{"), "", "com", "", int64(0), day0.Unix())
	f.Fuzz(func(t *testing.T, line []byte, user, domain, outcome string, since, until int64) {
		q := Query{User: user, Domain: domain, Outcome: outcome}
		if since != 0 {
			q.Since = time.Unix(since, since%1e9)
		}
		if until != 0 {
			q.Until = time.Unix(until, 0)
		}
		flt := newFilter(q)
		cand := flt.candidate(line)
		s := &lineScan{f: flt, buf: make([]byte, 16), fn: func([]byte, *Record) error { return nil }}
		if err := s.block(line); err != nil {
			t.Fatal(err)
		}
		r, err := DecodeRecord(line)
		if err != nil || !bytes.Equal(AppendRecord(nil, &r), line) {
			return // not canonical: the prefilter may pass it over
		}
		if flt.match(&r) && !cand {
			t.Fatalf("prefilter rejects canonical line %s that matches %+v", line, q)
		}
	})
}
